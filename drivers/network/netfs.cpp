#include "network/netfs.hpp"

#include <charconv>

namespace classroom::drivers::network {
namespace {

constexpr uint32_t kRtfUp = 0x0001;
constexpr uint32_t kRtfReject = 0x0200;

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

// Reads the next whitespace-separated token and advances `s` past it.
std::string_view next_token(std::string_view& s) {
  size_t i = 0;
  while (i < s.size() && is_space(s[i])) ++i;
  size_t end = i;
  while (end < s.size() && !is_space(s[end])) ++end;
  std::string_view token = s.substr(i, end - i);
  s.remove_prefix(end);
  return token;
}

template <typename T>
bool to_number(std::string_view token, T& out, int base = 10) {
  if (token.empty()) return false;
  auto [ptr, ec] = std::from_chars(token.data(), token.data() + token.size(), out, base);
  return ec == std::errc() && ptr == token.data() + token.size();
}

bool all_zero_hex(std::string_view token, size_t length) {
  if (token.size() != length) return false;
  for (char c : token)
    if (c != '0') return false;
  return true;
}

bool is_hex(std::string_view token, size_t length) {
  if (token.size() != length) return false;
  for (char c : token) {
    const bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    if (!hex) return false;
  }
  return true;
}

// Calls fn(line, complete) for each line; `complete` is false for a last line
// without its newline.
template <typename Fn>
void for_each_line(std::string_view text, Fn fn) {
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    if (nl == std::string_view::npos) {
      fn(text, false);
      return;
    }
    fn(text.substr(0, nl), true);
    text.remove_prefix(nl + 1);
  }
}

void consider(RouteScan& scan, std::string_view iface, uint32_t metric) {
  if (!scan.best || metric < scan.best->metric) scan.best = DefaultRoute{iface, metric};
}

// Matches one "[...]" set at the start of `pattern` against `c`. Returns the
// set's length in the pattern, or 0 when the '[' has no closing ']'.
size_t match_set(std::string_view pattern, char c, bool& matched) {
  size_t i = 1;
  bool negate = false;
  if (i < pattern.size() && (pattern[i] == '!' || pattern[i] == '^')) {
    negate = true;
    ++i;
  }
  bool hit = false;
  bool first = true;
  for (; i < pattern.size(); ++i) {
    const char p = pattern[i];
    if (p == ']' && !first) {
      matched = hit != negate;
      return i + 1;
    }
    first = false;
    if (i + 2 < pattern.size() && pattern[i + 1] == '-' && pattern[i + 2] != ']') {
      if (c >= p && c <= pattern[i + 2]) hit = true;
      i += 2;
    } else if (c == p) {
      hit = true;
    }
  }
  return 0;
}

}  // namespace

bool valid_interface_name(std::string_view name) {
  if (name.empty() || name.size() > 15 || name == "." || name == "..") return false;
  for (char c : name) {
    if (c <= ' ' || c > '~' || c == '/' || c == ':') return false;
  }
  return true;
}

size_t parse_net_dev(std::string_view text, std::vector<NetDevLine>& out) {
  out.clear();
  size_t skipped = 0;
  for_each_line(text, [&](std::string_view line, bool complete) {
    if (trim(line).empty()) return;
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) {
      // "Inter-|   Receive ...|  Transmit" and " face |bytes ...": the header.
      if (line.find('|') == std::string_view::npos) ++skipped;
      return;
    }
    if (!complete) {  // cut off mid-line: its last number may be cut too
      ++skipped;
      return;
    }
    NetDevLine entry;
    entry.name = trim(line.substr(0, colon));
    if (!valid_interface_name(entry.name)) {
      ++skipped;
      return;
    }
    for (const NetDevLine& seen : out) {
      if (seen.name == entry.name) {  // a name twice: garbage, not an interface
        ++skipped;
        return;
      }
    }
    std::string_view rest = line.substr(colon + 1);
    uint64_t v[16];
    for (uint64_t& value : v) {
      if (!to_number(next_token(rest), value)) {
        ++skipped;
        return;
      }
    }
    // Later kernels may add columns: the first 16 keep their meaning.
    LinkCounters& c = entry.counters;
    c.rx_bytes = v[0];
    c.rx_packets = v[1];
    c.rx_errors = v[2];
    c.rx_dropped = v[3];
    c.tx_bytes = v[8];
    c.tx_packets = v[9];
    c.tx_errors = v[10];
    c.tx_dropped = v[11];
    out.push_back(entry);
  });
  return skipped;
}

std::optional<uint64_t> counter_delta(uint64_t before, uint64_t after) {
  if (after >= before) return after - before;
  if (before > UINT32_MAX) {
    const uint64_t wrapped = after - before;  // modulo 2^64
    if (wrapped < (uint64_t{1} << 63)) return wrapped;
    return std::nullopt;
  }
  const uint64_t wrapped = (after - before) & UINT32_MAX;  // modulo 2^32
  if (wrapped < (uint64_t{1} << 31)) return wrapped;
  return std::nullopt;
}

std::optional<uint64_t> traffic_delta(uint64_t bytes_before, uint64_t packets_before,
                                      uint64_t bytes_after, uint64_t packets_after) {
  if (bytes_after < bytes_before && packets_after < packets_before) return std::nullopt;
  if (packets_after < packets_before && !counter_delta(packets_before, packets_after))
    return std::nullopt;
  return counter_delta(bytes_before, bytes_after);
}

std::string_view first_line(std::string_view text) {
  text = text.substr(0, text.find('\n'));
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  return text;
}

bool link_up(std::string_view operstate, std::string_view carrier) {
  operstate = first_line(operstate);
  if (first_line(carrier) != "1") return false;
  return operstate == "up" || operstate == "unknown";
}

std::optional<uint32_t> parse_speed(std::string_view text) {
  int64_t mbits = 0;
  if (!to_number(trim(text), mbits)) return std::nullopt;
  if (mbits <= 0 || mbits > INT32_MAX) return std::nullopt;  // -1: SPEED_UNKNOWN
  return static_cast<uint32_t>(mbits);
}

std::optional<uint32_t> parse_ifindex(std::string_view text) {
  uint32_t index = 0;
  if (!to_number(trim(text), index) || index == 0) return std::nullopt;
  return index;
}

RouteScan parse_ipv4_routes(std::string_view text) {
  RouteScan scan;
  for_each_line(text, [&](std::string_view line, bool complete) {
    if (trim(line).empty()) return;
    std::string_view rest = line;
    const std::string_view iface = next_token(rest);
    if (iface == "Iface") return;  // the header
    const std::string_view dest = next_token(rest), gateway = next_token(rest),
                           flags_text = next_token(rest), refcnt = next_token(rest),
                           use = next_token(rest), metric_text = next_token(rest),
                           mask_text = next_token(rest);
    uint32_t destination = 0, flags = 0, mask = 0;
    int64_t metric = 0;
    if (!complete || !valid_interface_name(iface) || !to_number(dest, destination, 16) ||
        !is_hex(gateway, 8) || !to_number(flags_text, flags, 16) || refcnt.empty() || use.empty() ||
        !to_number(metric_text, metric) || !to_number(mask_text, mask, 16)) {
      // "*" is the kernel's device of an unreachable route: not garbage.
      if (iface != "*") ++scan.skipped;
      return;
    }
    if (destination != 0 || mask != 0 || !(flags & kRtfUp) || (flags & kRtfReject)) return;
    // The kernel prints the priority with %d: a large one shows negative.
    consider(scan, iface, static_cast<uint32_t>(metric));
  });
  return scan;
}

RouteScan parse_ipv6_routes(std::string_view text) {
  RouteScan scan;
  for_each_line(text, [&](std::string_view line, bool complete) {
    if (trim(line).empty()) return;
    std::string_view rest = line;
    const std::string_view dest = next_token(rest), dest_len = next_token(rest),
                           src = next_token(rest), src_len = next_token(rest),
                           next_hop = next_token(rest), metric_text = next_token(rest),
                           refcnt = next_token(rest), use = next_token(rest),
                           flags_text = next_token(rest), iface = next_token(rest);
    uint32_t metric = 0, flags = 0;
    if (!complete || !is_hex(dest, 32) || !is_hex(dest_len, 2) || !is_hex(src, 32) ||
        !is_hex(src_len, 2) || !is_hex(next_hop, 32) || !is_hex(metric_text, 8) ||
        !is_hex(refcnt, 8) || !is_hex(use, 8) || !is_hex(flags_text, 8) ||
        !to_number(metric_text, metric, 16) || !to_number(flags_text, flags, 16) ||
        !valid_interface_name(iface)) {
      ++scan.skipped;
      return;
    }
    if (!all_zero_hex(dest, 32) || dest_len != "00" || !(flags & kRtfUp) || (flags & kRtfReject) ||
        iface == "lo")
      return;
    consider(scan, iface, metric);
  });
  return scan;
}

std::string_view uplink_interface(const RouteScan& v4, const RouteScan& v6) {
  if (v4.best) return v4.best->iface;
  if (v6.best) return v6.best->iface;
  return {};
}

bool glob_match(std::string_view pattern, std::string_view name) {
  size_t p = 0, n = 0;
  size_t star = std::string_view::npos, star_n = 0;  // where to retry after a '*'
  while (n < name.size()) {
    if (p < pattern.size()) {
      const char c = pattern[p];
      if (c == '*') {
        star = p++;
        star_n = n;
        continue;
      }
      if (c == '?') {
        ++p;
        ++n;
        continue;
      }
      if (c == '[') {
        bool matched = false;
        const size_t length = match_set(pattern.substr(p), name[n], matched);
        if (length > 0) {
          if (matched) {
            p += length;
            ++n;
            continue;
          }
        } else if (name[n] == '[') {  // no closing ']': a literal '['
          ++p;
          ++n;
          continue;
        }
      } else if (c == name[n]) {
        ++p;
        ++n;
        continue;
      }
    }
    if (star == std::string_view::npos) return false;
    p = star + 1;
    n = ++star_n;
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

}  // namespace classroom::drivers::network
