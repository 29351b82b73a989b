// The gateway's own health: CPU, load, memory, swap, uptime, temperatures, disks,
// and the agent's own footprint. Reads below configurable /proc and /sys roots.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "driver.hpp"
#include "file_buffer.hpp"
#include "system/clock.hpp"
#include "system/procfs.hpp"

namespace classroom::drivers::system {

// What [sources.system] sets (read in system_config.cpp).
struct Settings {
  std::vector<std::string> mounts{"/"};  // file systems measured: absolute paths
  bool operator==(const Settings&) const = default;
};

// The settings, and what make() adds from [host] and the build.
struct Options : WithSettings<Settings> {
  using WithSettings::WithSettings;
  std::string proc_root = "/proc";
  std::string sys_root = "/sys";
  bool clock = false;  // System/Clock/... from adjtimex: on for the live /proc
  // Where the clock's state comes from: the kernel (tests pass their own).
  std::optional<ClockStatus> (*clock_reader)() = read_clock;
  // Properties/... (hardware, OS, agent version), put once: on for the live
  // machine. The hardware is read below sys_root, the OS from the first
  // os-release file that can be read.
  bool properties = false;
  std::vector<std::string> os_release{"/etc/os-release", "/usr/lib/os-release"};
  std::string agent_version;
};

// "Disk/<label>/...": "/" is "Root", "/var/lib" is "var/lib".
std::string mount_label(const std::string& mount);

class SystemDriver final : public Driver {
 public:
  explicit SystemDriver(Options options);
  CollectResult collect(MetricSink& sink) override;
  // The clock's state at the last collection that read it (System/Clock/
  // Synchronized): empty when this driver does not read the clock, or has not yet.
  std::optional<bool> clock_synchronized() const { return clock_synchronized_; }

 private:
  struct Sensor {
    std::string path;  // file holding millidegrees
    MetricId id = 0;
  };
  struct Disk {
    std::string mount;
    MetricId used = 0, free = 0;
  };

  void declare(MetricSink& sink);
  void put_properties(MetricSink& sink);
  void discover_sensors(MetricSink& sink);
  // Reads `path` into buffer_; false when it cannot be read, is empty or is
  // larger than any /proc file this driver knows.
  bool read(const std::string& path) {
    return buffer_.read(path.c_str()) == FileBuffer::Status::ok && !buffer_.view().empty();
  }
  // Reads `path` and parses it; empty when the file cannot be read or parsed.
  template <typename Parse>
  auto read_parsed(const std::string& path, Parse parse) -> decltype(parse(std::string_view{})) {
    if (!read(path)) return {};
    return parse(buffer_.view());
  }
  void skipped(const char* what);
  // The steps of collect().
  bool put_cpu(MetricSink& sink, const std::optional<CpuTimes>& cpu);
  bool put_load(MetricSink& sink);
  bool put_memory(MetricSink& sink);
  bool put_uptime(MetricSink& sink);
  void put_temperatures(MetricSink& sink);
  void put_disks(MetricSink& sink);
  void put_self(MetricSink& sink, const std::optional<CpuTimes>& cpu);
  void put_clock(MetricSink& sink, std::string& note);

  Options options_;
  std::string path_stat_, path_loadavg_, path_meminfo_, path_uptime_, path_self_stat_,
      path_self_status_;
  FileBuffer buffer_{16 * 1024, 1 << 20};  // reused for every file: no allocation per sample
  std::string problems_;                   // what this collection could not read
  bool declared_ = false;

  MetricId cpu_usage_ = 0, load1_ = 0, load5_ = 0, load15_ = 0, mem_total_ = 0, mem_available_ = 0,
           mem_used_ = 0, swap_used_ = 0, uptime_ = 0, agent_rss_ = 0, agent_cpu_ = 0,
           agent_cpu_time_ = 0;
  MetricId clock_synced_ = 0, clock_max_error_ = 0;
  std::optional<bool> clock_synchronized_;
  MetricId make_ = 0, model_ = 0, os_ = 0, os_version_ = 0, agent_version_ = 0;
  // While the clock is unsynchronised: the warning, worded when it began.
  std::string clock_warning_;
  std::vector<Sensor> sensors_;
  std::vector<Disk> disks_;

  std::optional<CpuTimes> last_cpu_;
  std::optional<uint64_t> last_self_ticks_;
  long ticks_per_second_;
};

}  // namespace classroom::drivers::system
