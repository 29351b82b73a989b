#include "procfs.hpp"

#include <charconv>
#include <cstdlib>

namespace classroom::drivers::system {
namespace {

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

std::string_view skip_spaces(std::string_view s) {
  size_t i = 0;
  while (i < s.size() && is_space(s[i])) ++i;
  return s.substr(i);
}

// Reads the next whitespace-separated token and advances `s` past it.
std::string_view next_token(std::string_view& s) {
  s = skip_spaces(s);
  size_t end = 0;
  while (end < s.size() && !is_space(s[end])) ++end;
  std::string_view token = s.substr(0, end);
  s.remove_prefix(end);
  return token;
}

bool to_u64(std::string_view token, uint64_t& out) {
  if (token.empty()) return false;
  auto [ptr, ec] = std::from_chars(token.data(), token.data() + token.size(), out);
  return ec == std::errc() && ptr == token.data() + token.size();
}

bool to_i64(std::string_view token, int64_t& out) {
  if (token.empty()) return false;
  auto [ptr, ec] = std::from_chars(token.data(), token.data() + token.size(), out);
  return ec == std::errc() && ptr == token.data() + token.size();
}

// Decimal like "12345.67" without locale; std::from_chars for double is in GCC 12.
bool to_double(std::string_view token, double& out) {
  if (token.empty()) return false;
  auto [ptr, ec] = std::from_chars(token.data(), token.data() + token.size(), out);
  return ec == std::errc() && ptr == token.data() + token.size();
}

// Calls fn(line) for each line of text.
template <typename Fn>
void for_each_line(std::string_view text, Fn fn) {
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    fn(line);
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
}

}  // namespace

std::optional<CpuTimes> parse_proc_stat(std::string_view text) {
  std::optional<CpuTimes> result;
  for_each_line(text, [&](std::string_view line) {
    if (result || line.substr(0, 4) != "cpu ") return;
    line.remove_prefix(4);
    // user nice system idle iowait irq softirq steal [guest guest_nice]; the
    // first four exist on every kernel, later ones may be missing.
    uint64_t v[8] = {};
    int n = 0;
    for (; n < 8; ++n) {
      std::string_view token = next_token(line);
      if (token.empty()) break;
      if (!to_u64(token, v[n])) return;  // a garbled line is no reading at all
    }
    if (n < 4) return;
    // Sums that do not fit are no reading either (a kernel's tick counters
    // never come near it; a wrap would make busy exceed total).
    CpuTimes t{};
    for (int i : {0, 1, 2, 5, 6, 7})
      if (__builtin_add_overflow(t.busy, v[i], &t.busy)) return;
    if (__builtin_add_overflow(t.busy, v[3], &t.total) ||
        __builtin_add_overflow(t.total, v[4], &t.total))
      return;
    result = t;
  });
  return result;
}

std::optional<double> busy_percent(const CpuTimes& before, const CpuTimes& after) {
  if (after.total <= before.total || after.busy < before.busy) return std::nullopt;
  const double total = static_cast<double>(after.total - before.total);
  const double busy = static_cast<double>(after.busy - before.busy);
  double pct = busy / total * 100.0;
  return pct > 100.0 ? 100.0 : pct;
}

std::optional<LoadAvg> parse_loadavg(std::string_view text) {
  LoadAvg l;
  if (!to_double(next_token(text), l.one) || !to_double(next_token(text), l.five) ||
      !to_double(next_token(text), l.fifteen))
    return std::nullopt;
  return l;
}

MemInfo parse_meminfo(std::string_view text) {
  MemInfo m;
  for_each_line(text, [&](std::string_view line) {
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) return;
    std::string_view key = line.substr(0, colon);
    std::string_view rest = line.substr(colon + 1);
    std::optional<uint64_t>* field = nullptr;
    if (key == "MemTotal")
      field = &m.total;
    else if (key == "MemAvailable")
      field = &m.available;
    else if (key == "SwapTotal")
      field = &m.swap_total;
    else if (key == "SwapFree")
      field = &m.swap_free;
    if (!field) return;
    uint64_t kib = 0;
    if (!to_u64(next_token(rest), kib)) return;
    std::string_view unit = next_token(rest);
    if (unit != "kB") return;
    *field = kib * 1024;
  });
  return m;
}

std::optional<double> parse_uptime(std::string_view text) {
  double up = 0;
  if (!to_double(next_token(text), up) || up < 0) return std::nullopt;
  return up;
}

std::optional<double> parse_millidegrees(std::string_view text) {
  int64_t milli = 0;
  if (!to_i64(next_token(text), milli)) return std::nullopt;
  // Sensors report -273 C or absurd values when absent or broken.
  if (milli < -100'000 || milli > 250'000) return std::nullopt;
  return static_cast<double>(milli) / 1000.0;
}

std::optional<uint64_t> parse_pid_stat_cpu(std::string_view text) {
  // "pid (comm) state ppid ..." where comm may hold spaces and parentheses:
  // fields are counted from the last ')'.
  size_t close = text.rfind(')');
  if (close == std::string_view::npos) return std::nullopt;
  std::string_view rest = text.substr(close + 1);
  // After ')': state(3) ppid(4) pgrp(5) session(6) tty(7) tpgid(8) flags(9)
  // minflt(10) cminflt(11) majflt(12) cmajflt(13) utime(14) stime(15).
  for (int field = 3; field < 14; ++field) {
    if (next_token(rest).empty()) return std::nullopt;
  }
  uint64_t utime = 0, stime = 0;
  if (!to_u64(next_token(rest), utime) || !to_u64(next_token(rest), stime)) return std::nullopt;
  return utime + stime;
}

std::optional<uint64_t> parse_status_rss(std::string_view text) {
  std::optional<uint64_t> rss;
  for_each_line(text, [&](std::string_view line) {
    if (rss || line.substr(0, 6) != "VmRSS:") return;
    line.remove_prefix(6);
    uint64_t kib = 0;
    if (to_u64(next_token(line), kib) && next_token(line) == "kB") rss = kib * 1024;
  });
  return rss;
}

std::string_view first_line(std::string_view text) {
  std::string_view line = text.substr(0, text.find('\n'));
  while (!line.empty() && is_space(line.back())) line.remove_suffix(1);
  return line;
}

}  // namespace classroom::drivers::system
