// How long one sampling cycle of the network and nat drivers takes: on the
// 20-interface gateway fixture (the files a gateway's kernel would serve) and
// on this machine's live /proc and /sys. Run by tests/perf/bench.sh.
// Usage: network_bench FIXTURES_DIR [CYCLES]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <ctime>

#include "catalog/catalog.hpp"
#include "nat/nat_driver.hpp"
#include "network/network_driver.hpp"
#include "system/system_driver.hpp"

using namespace classroom;
using Clock = std::chrono::steady_clock;

namespace {

double thread_cpu_us() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e6 + static_cast<double>(ts.tv_nsec) / 1e3;
}

// Times `cycles` calls of each driver's collect() into one catalog. Wall time
// suffers from other work on the machine; the thread's CPU time (user + kernel,
// where the reading of /proc and /sys is spent) does not.
void run(const char* label, std::vector<drivers::Driver*> drivers, int cycles) {
  Catalog catalog;
  for (int i = 0; i < 5; ++i) {  // warm: declarations, buffers
    for (drivers::Driver* d : drivers) d->collect(catalog);
    catalog.clear_changed();
  }
  std::vector<double> us;
  us.reserve(static_cast<size_t>(cycles));
  const double cpu_start = thread_cpu_us();
  for (int i = 0; i < cycles; ++i) {
    const auto start = Clock::now();
    for (drivers::Driver* d : drivers) d->collect(catalog);
    us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
    catalog.clear_changed();
  }
  const double cpu = (thread_cpu_us() - cpu_start) / cycles;
  std::sort(us.begin(), us.end());
  size_t interfaces = 0;
  for (MetricId id = 0; id < catalog.size(); ++id) {
    const std::string_view name = catalog.at(id).name;
    if (name.ends_with("/Rx Bytes")) ++interfaces;
  }
  std::printf(
      "%-34s %2zu interfaces: CPU %.0f us per cycle; wall median %.0f us, p99 %.0f us (%d "
      "cycles)\n",
      label, interfaces, cpu, us[us.size() / 2], us[us.size() * 99 / 100], cycles);
}

void run_network(const char* label, const std::string& proc, const std::string& sys, int cycles) {
  drivers::network::Options o;
  o.proc_root = proc;
  o.sys_root = sys;
  drivers::network::NetworkDriver network(o);
  drivers::nat::Options n;
  n.proc_root = proc;
  drivers::nat::NatDriver nat(n);
  run(label, {&network, &nat}, cycles);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s FIXTURES_DIR [CYCLES]\n", argv[0]);
    return 2;
  }
  const std::string fixtures = argv[1];
  const int cycles = argc > 2 ? std::atoi(argv[2]) : 2000;
  run_network("network+nat, gateway fixture", fixtures + "/net-gateway/proc",
              fixtures + "/net-gateway/sys", cycles);
  run_network("network+nat, this machine", "/proc", "/sys", cycles);
  // For scale: the system driver on this machine, as the default config runs it.
  drivers::system::Options so;
  drivers::system::SystemDriver system(so);
  run("system, this machine", {&system}, cycles);
  return 0;
}
