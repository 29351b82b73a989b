// Pure parsers for the kernel's text files under /proc and /sys. Each takes the
// file's text and returns what it could read; a malformed line costs only the
// values on it. Tested on captured fixtures in tests/fixtures/.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace classroom::drivers::system {

// Aggregate CPU time from the first "cpu " line of /proc/stat, in clock ticks.
struct CpuTimes {
  uint64_t busy = 0;   // user + nice + system + irq + softirq + steal
  uint64_t total = 0;  // busy + idle + iowait
};
std::optional<CpuTimes> parse_proc_stat(std::string_view text);

// Percent of `total` spent busy between two readings; nullopt if no time passed
// or the counters went backwards (a reset).
std::optional<double> busy_percent(const CpuTimes& before, const CpuTimes& after);

struct LoadAvg {
  double one = 0, five = 0, fifteen = 0;
};
std::optional<LoadAvg> parse_loadavg(std::string_view text);

// /proc/meminfo, in bytes. Each field is read on its own.
struct MemInfo {
  std::optional<uint64_t> total, available, swap_total, swap_free;
};
MemInfo parse_meminfo(std::string_view text);

// /proc/uptime: seconds since boot.
std::optional<double> parse_uptime(std::string_view text);

// A sysfs temperature file (thermal_zone*/temp, hwmon*/temp*_input): millidegrees
// Celsius as an integer -> degrees Celsius.
std::optional<double> parse_millidegrees(std::string_view text);

// /proc/<pid>/stat: user + system CPU time of the process, in clock ticks.
std::optional<uint64_t> parse_pid_stat_cpu(std::string_view text);

// /proc/<pid>/status: VmRSS in bytes.
std::optional<uint64_t> parse_status_rss(std::string_view text);

// The first line of a text file, without trailing white space (sysfs "type",
// "name", "temp1_label" files).
std::string_view first_line(std::string_view text);

}  // namespace classroom::drivers::system
