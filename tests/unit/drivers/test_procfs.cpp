#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>

#include "system/procfs.hpp"

using namespace classroom::drivers::system;

namespace {
std::string fixture(const std::string& path) {
  std::ifstream in(std::string(FIXTURES_DIR) + "/" + path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}
}  // namespace

TEST_CASE("/proc/stat: aggregate CPU times") {
  auto t = parse_proc_stat(fixture("proc-synthetic-4cpu/stat"));
  REQUIRE(t);
  CHECK(t->busy == 89345u + 120 + 35567 + 0 + 1322 + 0);
  CHECK(t->total == t->busy + 5604421 + 2873);
  REQUIRE(parse_proc_stat(fixture("proc-x86/stat")));
  // Old kernels have only four columns.
  auto old = parse_proc_stat("cpu  10 0 10 80\n");
  REQUIRE(old);
  CHECK(old->total == 100);
  CHECK_FALSE(parse_proc_stat(fixture("proc-broken/stat")));
  CHECK_FALSE(parse_proc_stat(fixture("proc-truncated/stat")));
  CHECK_FALSE(parse_proc_stat(""));
  // Counters whose sum does not fit 64 bits are no reading (found by fuzz_procfs).
  CHECK_FALSE(parse_proc_stat("cpu  18446744073709551615 1 0 0\n"));
  CHECK_FALSE(parse_proc_stat("cpu  18446744073709551615 0 0 1\n"));
  CHECK(parse_proc_stat("cpu  18446744073709551614 0 0 1\n"));
}

TEST_CASE("CPU usage between two samples") {
  auto a = parse_proc_stat(fixture("proc-synthetic-4cpu/stat"));
  auto b = parse_proc_stat(fixture("proc-synthetic-4cpu-later/stat"));
  REQUIRE((a && b));
  auto pct = busy_percent(*a, *b);
  REQUIRE(pct);
  CHECK(*pct == Approx(25.0));
  CHECK_FALSE(busy_percent(*a, *a));  // no time passed
  CHECK_FALSE(busy_percent(*b, *a));  // counters went backwards
}

TEST_CASE("/proc/loadavg") {
  auto l = parse_loadavg(fixture("proc-synthetic-4cpu/loadavg"));
  REQUIRE(l);
  CHECK(l->one == Approx(0.52));
  CHECK(l->five == Approx(0.58));
  CHECK(l->fifteen == Approx(0.59));
  CHECK(parse_loadavg(fixture("proc-x86/loadavg")));
  CHECK_FALSE(parse_loadavg(fixture("proc-broken/loadavg")));
  CHECK_FALSE(parse_loadavg(fixture("proc-truncated/loadavg")));
}

TEST_CASE("/proc/meminfo: each field on its own") {
  MemInfo m = parse_meminfo(fixture("proc-synthetic-4cpu/meminfo"));
  CHECK(m.total == 3884344ull * 1024);
  CHECK(m.available == 3324160ull * 1024);
  CHECK(m.swap_total == 102396ull * 1024);
  CHECK(m.swap_free == 76796ull * 1024);
  MemInfo x86 = parse_meminfo(fixture("proc-x86/meminfo"));
  CHECK(x86.total);
  CHECK(x86.available);
  // A broken line costs that value only.
  MemInfo broken = parse_meminfo(fixture("proc-broken/meminfo"));
  CHECK(broken.total == 3884344ull * 1024);
  CHECK_FALSE(broken.available);
  CHECK(broken.swap_total == 0u);
  CHECK_FALSE(broken.swap_free);
  MemInfo cut = parse_meminfo(fixture("proc-truncated/meminfo"));
  CHECK(cut.total);
  CHECK_FALSE(cut.available);
}

TEST_CASE("/proc/uptime") {
  CHECK(parse_uptime(fixture("proc-synthetic-4cpu/uptime")) == Approx(14063.82));
  CHECK(parse_uptime(fixture("proc-x86/uptime")));
  CHECK_FALSE(parse_uptime(fixture("proc-truncated/uptime")));
  CHECK_FALSE(parse_uptime("-5 3"));
}

TEST_CASE("sysfs temperatures in millidegrees") {
  CHECK(parse_millidegrees("45000\n") == Approx(45.0));
  CHECK(parse_millidegrees("-5500") == Approx(-5.5));
  CHECK_FALSE(parse_millidegrees("-273000\n"));  // a sensor that is not there
  CHECK_FALSE(parse_millidegrees(""));
  CHECK_FALSE(parse_millidegrees("hot"));
}

TEST_CASE("/proc/self/stat and status") {
  CHECK(parse_pid_stat_cpu(fixture("proc-synthetic-4cpu/self/stat")) == 37u + 12u);
  CHECK(parse_pid_stat_cpu(fixture("proc-x86/self/stat")));
  // A command name with spaces and parentheses does not shift the fields.
  CHECK(parse_pid_stat_cpu("7 (a) b (c) S 1 7 7 0 -1 0 0 0 0 0 5 6 0 0") == 11u);
  CHECK_FALSE(parse_pid_stat_cpu(fixture("proc-broken/self/stat")));
  CHECK_FALSE(parse_pid_stat_cpu(fixture("proc-truncated/self/stat")));
  CHECK(parse_status_rss(fixture("proc-synthetic-4cpu/self/status")) == 4040ull * 1024);
  CHECK(parse_status_rss(fixture("proc-x86/self/status")));
  CHECK_FALSE(parse_status_rss(fixture("proc-broken/self/status")));
}
