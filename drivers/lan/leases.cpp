#include "lan/leases.hpp"

#include <arpa/inet.h>
#include <algorithm>
#include <charconv>
#include <cstring>

namespace classroom::drivers::lan {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

// Calls f(line, number) for every line of `text`.
template <typename F>
void for_each_line(std::string_view text, F f) {
  uint64_t number = 0;
  while (!text.empty()) {
    const size_t end = text.find('\n');
    ++number;
    f(text.substr(0, end), number);
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
}

// Splits on any of `separators` into at most N fields; returns how many
// (N + 1 when there were more).
template <size_t N>
size_t split(std::string_view s, std::string_view separators, bool skip_empty,
             std::array<std::string_view, N>& out) {
  size_t n = 0;
  for (;;) {
    const size_t end = s.find_first_of(separators);
    std::string_view field = s.substr(0, end);
    if (!(skip_empty && field.empty())) {
      if (n == N) return N + 1;
      out[n++] = field;
    }
    if (end == std::string_view::npos) break;
    s.remove_prefix(end + 1);
  }
  return n;
}

bool parse_u64(std::string_view s, uint64_t& out) {
  if (s.empty()) return false;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size();
}

// An IPv4 (stored v4-mapped) or IPv6 address.
bool parse_address(std::string_view s, std::array<uint8_t, 16>& out) {
  char text[INET6_ADDRSTRLEN + 1];
  if (s.empty() || s.size() >= sizeof text) return false;
  std::memcpy(text, s.data(), s.size());
  text[s.size()] = '\0';
  out.fill(0);
  if (s.find(':') == std::string_view::npos) {
    out[10] = out[11] = 0xff;
    return inet_pton(AF_INET, text, out.data() + 12) == 1;
  }
  return inet_pton(AF_INET6, text, out.data()) == 1;
}

int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void garbled(LeaseCount& c, uint64_t line) {
  if (c.garbled++ == 0) c.first_garbled_line = line;
}

}  // namespace

bool parse_isc_time(std::string_view date, std::string_view time, int64_t& out) {
  std::array<std::string_view, 3> d, t;
  if (split(date, "/", false, d) != 3 || split(time, ":", false, t) != 3) return false;
  uint64_t y, mo, da, h, mi, se;
  if (!parse_u64(d[0], y) || !parse_u64(d[1], mo) || !parse_u64(d[2], da) || !parse_u64(t[0], h) ||
      !parse_u64(t[1], mi) || !parse_u64(t[2], se))
    return false;
  if (y < 1970 || y > 9999 || mo < 1 || mo > 12 || da < 1 || da > 31 || h > 23 || mi > 59 ||
      se > 60)
    return false;
  out = days_from_civil(static_cast<int64_t>(y), static_cast<unsigned>(mo),
                        static_cast<unsigned>(da)) *
            86400 +
        static_cast<int64_t>(h * 3600 + mi * 60 + se);
  return true;
}

LeaseParser::LeaseParser() {
  seen_.reserve(1024);
}

LeaseCount LeaseParser::count(LeaseFormat format, std::string_view text, int64_t now) {
  seen_.clear();
  switch (format) {
    case LeaseFormat::dnsmasq:
      return dnsmasq(text, now);
    case LeaseFormat::isc:
      return isc(text, now);
    case LeaseFormat::kea:
      return kea(text, now);
  }
  return {};
}

uint64_t LeaseParser::count_last_per_address() {
  std::sort(seen_.begin(), seen_.end(), [](const Seen& a, const Seen& b) {
    return a.address != b.address ? a.address < b.address : a.order < b.order;
  });
  uint64_t active = 0;
  for (size_t i = 0; i < seen_.size(); ++i) {
    const bool last = i + 1 == seen_.size() || seen_[i + 1].address != seen_[i].address;
    if (last && seen_[i].active) ++active;
  }
  return active;
}

LeaseCount LeaseParser::dnsmasq(std::string_view text, int64_t now) {
  LeaseCount c;
  uint32_t order = 0;
  for_each_line(text, [&](std::string_view line, uint64_t number) {
    line = trim(line);
    if (line.empty()) return;
    std::array<std::string_view, 5> f;
    const size_t n = split(line, " \t", true, f);
    if (n >= 1 && f[0] == "duid") return;  // the server's DUID, before the IPv6 leases
    uint64_t expiry = 0;
    Seen s{};
    if (n < 4 || n > 5 || !parse_u64(f[0], expiry) || !parse_address(f[2], s.address)) {
      garbled(c, number);
      return;
    }
    s.order = order++;
    s.active = expiry == 0 || static_cast<int64_t>(expiry) > now;
    seen_.push_back(s);
  });
  c.active = count_last_per_address();
  return c;
}

namespace {

// The top-level `lease` block of an ISC dhcpd.leases file being read.
struct IscLease {
  uint64_t line = 0;  // where it starts
  bool bad = false;   // something unreadable in it
  bool state_active = false, have_state = false, never = false, have_ends = false;
  int64_t ends = 0;

  // One statement directly in the block; only `binding state` and `ends` matter.
  void statement(std::string_view text) {
    const size_t semicolon = text.find(';');
    const std::string_view st = trim(text.substr(0, semicolon));
    if (st.substr(0, 14) == "binding state ") {
      if (semicolon == std::string_view::npos) bad = true;
      have_state = true;
      state_active = trim(st.substr(14)) == "active";
    } else if (st.substr(0, 5) == "ends ") {
      if (semicolon == std::string_view::npos)
        bad = true;
      else
        read_ends(st.substr(5));
    }
  }
  // `ends never`, `ends epoch N` or `ends W YYYY/MM/DD HH:MM:SS`.
  void read_ends(std::string_view value) {
    std::array<std::string_view, 3> f;
    const size_t n = split(value, " \t", true, f);
    uint64_t epoch = 0;
    if (n == 1 && f[0] == "never") {
      never = have_ends = true;
    } else if (n == 2 && f[0] == "epoch" && parse_u64(f[1], epoch)) {
      ends = static_cast<int64_t>(epoch);
      have_ends = true;
    } else if (n == 3 && f[0].size() == 1 && parse_isc_time(f[1], f[2], ends)) {
      have_ends = true;
    } else {
      bad = true;
    }
  }
  bool active(int64_t now) const {
    return have_state && state_active && (never || (have_ends && ends > now));
  }
};

}  // namespace

LeaseCount LeaseParser::isc(std::string_view text, int64_t now) {
  LeaseCount c;
  int depth = 0;          // nesting of the block we are in
  bool in_lease = false;  // inside a top-level `lease` block
  IscLease lease;
  uint32_t order = 0;
  Seen s{};

  for_each_line(text, [&](std::string_view line, uint64_t number) {
    line = trim(line);
    if (line.empty() || line.front() == '#') return;
    if (!in_lease) {
      if (depth == 0 && line.substr(0, 6) == "lease " && line.back() == '{') {
        in_lease = true;
        depth = 1;
        lease = IscLease{};
        lease.line = number;
        lease.bad = !parse_address(trim(line.substr(6, line.size() - 7)), s.address);
        return;
      }
      if (line.back() == '{')
        ++depth;
      else if (line.front() == '}' && depth > 0)
        --depth;
      return;
    }
    if (line.back() == '{') {
      ++depth;
      return;
    }
    if (line.front() == '}') {
      if (--depth > 0) return;
      in_lease = false;
      if (lease.bad) {
        garbled(c, lease.line);
        return;
      }
      s.order = order++;
      s.active = lease.active(now);
      seen_.push_back(s);
      return;
    }
    if (depth == 1) lease.statement(line);
  });
  if (in_lease) garbled(c, lease.line);  // cut off in the middle of a block
  c.active = count_last_per_address();
  return c;
}

LeaseCount LeaseParser::kea(std::string_view text, int64_t now) {
  LeaseCount c;
  constexpr size_t kMaxColumns = 32;
  size_t address = kMaxColumns, lifetime = kMaxColumns, expire = kMaxColumns, state = kMaxColumns;
  bool have_header = false;
  uint32_t order = 0;
  for_each_line(text, [&](std::string_view line, uint64_t number) {
    line = trim(line);
    if (line.empty()) return;
    std::array<std::string_view, kMaxColumns> f;
    const size_t n = split(line, ",", false, f);
    if (n >= 1 && f[0] == "address") {  // the header (again after a rewrite)
      for (size_t i = 0; i < std::min(n, kMaxColumns); ++i) {
        if (f[i] == "address") address = i;
        if (f[i] == "valid_lifetime") lifetime = i;
        if (f[i] == "expire") expire = i;
        if (f[i] == "state") state = i;
      }
      have_header = address < kMaxColumns && expire < kMaxColumns && lifetime < kMaxColumns;
      return;
    }
    Seen s{};
    uint64_t exp = 0, valid = 0, st = 0;
    const size_t needed =
        std::max({address, expire, lifetime, state == kMaxColumns ? 0 : state}) + 1;
    if (!have_header || n > kMaxColumns || n < needed || !parse_address(f[address], s.address) ||
        !parse_u64(f[expire], exp) || !parse_u64(f[lifetime], valid) ||
        (state < kMaxColumns && !parse_u64(f[state], st))) {
      garbled(c, number);
      return;
    }
    s.order = order++;
    // State 0 is "default" (leased); 1 declined, 2 expired-reclaimed, 3 released.
    // A row with valid_lifetime 0 records a deleted lease.
    s.active = st == 0 && valid > 0 && static_cast<int64_t>(exp) > now;
    seen_.push_back(s);
  });
  c.active = count_last_per_address();
  return c;
}

}  // namespace classroom::drivers::lan
