#include "system/system_driver.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "system/clock.hpp"
#include "system/machine.hpp"

namespace classroom::drivers::system {
namespace {

// Lists the entries of `dir` whose names start with `prefix`, sorted.
std::vector<std::string> list_dir(const std::string& dir, std::string_view prefix) {
  std::vector<std::string> names;
  DIR* d = opendir(dir.c_str());
  if (!d) return names;
  while (dirent* e = readdir(d)) {
    std::string_view name(e->d_name);
    if (name.substr(0, prefix.size()) == prefix) names.emplace_back(name);
  }
  closedir(d);
  // Natural order, so thermal_zone10 comes after thermal_zone9.
  std::sort(names.begin(), names.end(), [](const std::string& a, const std::string& b) {
    return a.size() != b.size() ? a.size() < b.size() : a < b;
  });
  return names;
}

std::string read_small(const std::string& path) {
  std::string text;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return text;
  char buf[256];
  ssize_t n = ::read(fd, buf, sizeof buf);
  ::close(fd);
  if (n > 0) text.assign(buf, static_cast<size_t>(n));
  return std::string(first_line(text));
}

// Metric names use '/' as the level separator: keep it out of labels.
std::string clean_label(std::string s) {
  std::replace(s.begin(), s.end(), '/', '-');
  return s;
}

}  // namespace

std::string mount_label(const std::string& mount) {
  if (mount == "/") return "Root";
  std::string label = mount;
  while (!label.empty() && label.front() == '/') label.erase(label.begin());
  while (!label.empty() && label.back() == '/') label.pop_back();
  return label;
}

SystemDriver::SystemDriver(Options options) : options_(std::move(options)) {
  const std::string& proc = options_.proc_root;
  path_stat_ = proc + "/stat";
  path_loadavg_ = proc + "/loadavg";
  path_meminfo_ = proc + "/meminfo";
  path_uptime_ = proc + "/uptime";
  path_self_stat_ = proc + "/self/stat";
  path_self_status_ = proc + "/self/status";
  problems_.reserve(256);
  ticks_per_second_ = sysconf(_SC_CLK_TCK);
  if (ticks_per_second_ <= 0) ticks_per_second_ = 100;
}

void SystemDriver::skipped(const char* what) {
  if (!problems_.empty()) problems_ += ", ";
  problems_ += what;
}

void SystemDriver::declare(MetricSink& sink) {
  cpu_usage_ = sink.declare("System/CPU/Usage", DataType::Float, "%");
  load1_ = sink.declare("System/Load/1m", DataType::Float, "");
  load5_ = sink.declare("System/Load/5m", DataType::Float, "");
  load15_ = sink.declare("System/Load/15m", DataType::Float, "");
  mem_total_ = sink.declare("System/Memory/Total", DataType::UInt64, "B");
  mem_available_ = sink.declare("System/Memory/Available", DataType::UInt64, "B");
  mem_used_ = sink.declare("System/Memory/Used", DataType::Float, "%");
  swap_used_ = sink.declare("System/Swap/Used", DataType::Float, "%");
  uptime_ = sink.declare("System/Uptime", DataType::Double, "s");
  agent_rss_ = sink.declare("Agent/Memory/RSS", DataType::UInt64, "B");
  agent_cpu_ = sink.declare("Agent/CPU/Usage", DataType::Float, "%");
  agent_cpu_time_ = sink.declare("Agent/CPU/Time", DataType::Double, "s");
  if (options_.properties) {
    make_ = sink.declare("Properties/Hardware Make", DataType::String, "");
    model_ = sink.declare("Properties/Hardware Model", DataType::String, "");
    os_ = sink.declare("Properties/OS", DataType::String, "");
    os_version_ = sink.declare("Properties/OS Version", DataType::String, "");
    agent_version_ = sink.declare("Properties/Agent Version", DataType::String, "");
  }
  if (options_.clock) {  // is the clock synchronised (adjtimex)
    clock_synced_ = sink.declare("System/Clock/Synchronized", DataType::Boolean, "");
    clock_max_error_ = sink.declare("System/Clock/Max Error", DataType::Double, "ms");
  }
  for (const std::string& mount : options_.mounts) {
    std::string base = "Disk/" + mount_label(mount) + "/";
    disks_.push_back(Disk{mount, sink.declare(base + "Used", DataType::Float, "%"),
                          sink.declare(base + "Free", DataType::UInt64, "B")});
  }
  discover_sensors(sink);
}

void SystemDriver::discover_sensors(MetricSink& sink) {
  std::vector<std::string> seen;
  auto add = [&](std::string label, std::string path) {
    label = clean_label(std::move(label));
    // Two zones of the same type ("acpitz" twice) get their index appended.
    std::string name = label;
    for (int n = 2; std::find(seen.begin(), seen.end(), name) != seen.end(); ++n)
      name = label + " " + std::to_string(n);
    seen.push_back(name);
    sensors_.push_back(
        Sensor{std::move(path), sink.declare("System/Temperature/" + name, DataType::Float, "°C")});
  };

  const std::string thermal = options_.sys_root + "/class/thermal";
  for (const std::string& zone : list_dir(thermal, "thermal_zone")) {
    std::string dir = thermal + "/" + zone;
    std::string type = read_small(dir + "/type");
    add(type.empty() ? zone : type, dir + "/temp");
  }
  const std::string hwmon = options_.sys_root + "/class/hwmon";
  for (const std::string& mon : list_dir(hwmon, "hwmon")) {
    std::string dir = hwmon + "/" + mon;
    std::string chip = read_small(dir + "/name");
    if (chip.empty()) chip = mon;
    for (const std::string& file : list_dir(dir, "temp")) {
      const std::string_view suffix = "_input";
      if (file.size() <= suffix.size() ||
          file.compare(file.size() - suffix.size(), suffix.size(), suffix) != 0)
        continue;
      std::string sensor = file.substr(0, file.size() - suffix.size());  // "temp1"
      std::string label = read_small(dir + "/" + sensor + "_label");
      add(chip + " " + (label.empty() ? sensor : label), dir + "/" + file);
    }
  }
}

// Once per driver: what the machine is does not change while it runs (a
// reload builds a new driver, which reads it again). What it does not say
// stays null in the birth.
void SystemDriver::put_properties(MetricSink& sink) {
  const MachineInfo m = read_machine_info(options_.sys_root, options_.os_release);
  auto put = [&](MetricId id, const std::string& value) {
    if (!value.empty()) sink.put(id, value);
  };
  put(make_, m.make);
  put(model_, m.model);
  put(os_, m.os);
  put(os_version_, m.os_version);
  put(agent_version_, options_.agent_version);
}

CollectResult SystemDriver::collect(MetricSink& sink) {
  if (!declared_) {
    declare(sink);
    if (options_.properties) put_properties(sink);
    declared_ = true;
  }
  problems_.clear();
  const std::optional<CpuTimes> cpu = read_parsed(path_stat_, parse_proc_stat);
  // In this order, which is the order of what the warning says was skipped.
  int read_ok = put_cpu(sink, cpu);
  read_ok += put_load(sink);
  read_ok += put_memory(sink);
  read_ok += put_uptime(sink);
  put_temperatures(sink);
  put_disks(sink);
  put_self(sink, cpu);
  if (cpu) last_cpu_ = cpu;
  std::string clock_note;
  if (options_.clock && options_.clock_reader) put_clock(sink, clock_note);

  if (read_ok == 0)
    return CollectResult::failure("cannot read " + options_.proc_root +
                                  " (stat, loadavg, meminfo, uptime)");
  CollectResult r;
  r.warning = clock_warning_;
  if (!problems_.empty()) r.warning += (r.warning.empty() ? "skipped " : "; skipped ") + problems_;
  r.note = std::move(clock_note);
  return r;
}

// Each put_ step puts what it could read and says what it skipped; those
// returning bool say whether their file could be read (the collection fails
// when none of them could).
bool SystemDriver::put_cpu(MetricSink& sink, const std::optional<CpuTimes>& cpu) {
  if (!cpu) {
    skipped("CPU usage (stat)");
    return false;
  }
  if (last_cpu_) {
    if (auto pct = busy_percent(*last_cpu_, *cpu)) sink.put(cpu_usage_, static_cast<float>(*pct));
  }
  return true;
}

bool SystemDriver::put_load(MetricSink& sink) {
  auto load = read_parsed(path_loadavg_, parse_loadavg);
  if (!load) {
    skipped("load (loadavg)");
    return false;
  }
  sink.put(load1_, static_cast<float>(load->one));
  sink.put(load5_, static_cast<float>(load->five));
  sink.put(load15_, static_cast<float>(load->fifteen));
  return true;
}

bool SystemDriver::put_memory(MetricSink& sink) {
  bool ok = false;
  const MemInfo mem = read(path_meminfo_) ? parse_meminfo(buffer_.view()) : MemInfo{};
  if (mem.total) sink.put(mem_total_, *mem.total);
  if (mem.available) sink.put(mem_available_, *mem.available);
  if (mem.total && mem.available && *mem.total > 0 && *mem.available <= *mem.total) {
    ok = true;
    sink.put(mem_used_,
             static_cast<float>(100.0 * static_cast<double>(*mem.total - *mem.available) /
                                static_cast<double>(*mem.total)));
  } else {
    skipped("memory (meminfo)");
  }
  if (mem.swap_total && mem.swap_free && *mem.swap_free <= *mem.swap_total) {
    double pct = *mem.swap_total == 0
                     ? 0.0
                     : 100.0 * static_cast<double>(*mem.swap_total - *mem.swap_free) /
                           static_cast<double>(*mem.swap_total);
    sink.put(swap_used_, static_cast<float>(pct));
  } else {
    skipped("swap (meminfo)");
  }
  return ok;
}

bool SystemDriver::put_uptime(MetricSink& sink) {
  auto up = read_parsed(path_uptime_, parse_uptime);
  if (!up) {
    skipped("uptime");
    return false;
  }
  sink.put(uptime_, *up);
  return true;
}

void SystemDriver::put_temperatures(MetricSink& sink) {
  for (const Sensor& s : sensors_) {
    if (auto c = read_parsed(s.path, parse_millidegrees)) sink.put(s.id, static_cast<float>(*c));
    // A sensor that reads nothing (a sleeping device) is common: no complaint.
  }
}

void SystemDriver::put_disks(MetricSink& sink) {
  for (const Disk& d : disks_) {
    struct statvfs st {};
    if (::statvfs(d.mount.c_str(), &st) != 0 || st.f_blocks == 0) {
      skipped("disk");
      continue;
    }
    const uint64_t frsize = st.f_frsize ? st.f_frsize : st.f_bsize;
    const uint64_t used = st.f_blocks - st.f_bfree;
    const uint64_t usable = used + st.f_bavail;  // as df: reserved blocks excluded
    if (usable > 0)
      sink.put(d.used,
               static_cast<float>(100.0 * static_cast<double>(used) / static_cast<double>(usable)));
    sink.put(d.free, static_cast<uint64_t>(st.f_bavail) * frsize);
  }
}

// The agent's own footprint: its RSS and CPU time, and its share of the
// machine's CPU over the same interval as System/CPU/Usage.
void SystemDriver::put_self(MetricSink& sink, const std::optional<CpuTimes>& cpu) {
  if (auto rss = read_parsed(path_self_status_, parse_status_rss)) sink.put(agent_rss_, *rss);
  if (auto ticks = read_parsed(path_self_stat_, parse_pid_stat_cpu)) {
    sink.put(agent_cpu_time_, static_cast<double>(*ticks) / static_cast<double>(ticks_per_second_));
    // Share of the whole machine's CPU time over the same interval as System/CPU/Usage.
    if (last_self_ticks_ && last_cpu_ && cpu && cpu->total > last_cpu_->total &&
        *ticks >= *last_self_ticks_) {
      double pct = 100.0 * static_cast<double>(*ticks - *last_self_ticks_) /
                   static_cast<double>(cpu->total - last_cpu_->total);
      sink.put(agent_cpu_, static_cast<float>(std::min(pct, 100.0)));
    }
    last_self_ticks_ = *ticks;
  }
}

// The clock (adjtimex): synchronised or not, and its error; the warning of
// an unsynchronised episode, and the note that it ended (`note`).
void SystemDriver::put_clock(MetricSink& sink, std::string& note) {
  auto c = options_.clock_reader();
  if (!c) return;
  sink.put(clock_synced_, c->synchronized);
  clock_synchronized_ = c->synchronized;
  sink.put(clock_max_error_, c->max_error_ms);
  // The warning's text is fixed when the episode starts, so the scheduler
  // logs it once; the note says once that it ended (no allocation between).
  if (!c->synchronized && clock_warning_.empty()) {
    char text[600];
    std::snprintf(
        text, sizeof text,
        "the system clock is not synchronised to any time source (the kernel's NTP status "
        "says unsynchronised; it may be off by up to %.0f s): the timestamp of every metric "
        "this agent publishes may be wrong. Check time synchronisation on this gateway: "
        "`timedatectl status` should say \"System clock synchronized: yes\"; if not, enable "
        "systemd-timesyncd (or chrony, ntpd) and make sure it reaches an NTP server (UDP "
        "port 123, the servers in /etc/systemd/timesyncd.conf)",
        c->max_error_ms / 1000.0);
    clock_warning_ = text;
  } else if (c->synchronized && !clock_warning_.empty()) {
    char text[160];
    std::snprintf(text, sizeof text,
                  "the system clock is synchronised again (max error %.0f ms): timestamps "
                  "are right from here on",
                  c->max_error_ms);
    note = text;
    clock_warning_.clear();
  }
}

}  // namespace classroom::drivers::system
