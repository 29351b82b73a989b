// Any bytes as the content of each /proc or /sys file the system driver reads.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "system/procfs.hpp"

using namespace classroom::drivers::system;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto cpu = parse_proc_stat(text);
  if (cpu && cpu->busy > cpu->total) __builtin_trap();
  if (cpu) busy_percent(*cpu, *cpu);
  parse_loadavg(text);
  parse_meminfo(text);
  parse_uptime(text);
  parse_millidegrees(text);
  parse_pid_stat_cpu(text);
  parse_status_rss(text);
  first_line(text);
  return 0;
}
