// When a throughput probe may run, on a fake clock: windows (local time, here
// UTC), the per-day limit, the monthly budget, a restart in the middle of a
// month and a month boundary.
#include <catch2/catch.hpp>
#include <set>

#include "../temp_dir.hpp"
#include "clock.hpp"
#include "probes/throughput_plan.hpp"

using namespace classroom;
using namespace classroom::probes;

namespace {

std::tm utc(int64_t s) {
  std::tm t{};
  const time_t v = static_cast<time_t>(s);
  gmtime_r(&v, &t);
  return t;
}

// Wall ms of a UTC date and time.
int64_t at(int y, int mo, int d, int h, int mi) {
  std::tm t{};
  t.tm_year = y - 1900;
  t.tm_mon = mo - 1;
  t.tm_mday = d;
  t.tm_hour = h;
  t.tm_min = mi;
  return static_cast<int64_t>(timegm(&t)) * 1000;
}

PlanOptions options(const std::string& path = "") {
  PlanOptions o;
  o.windows = {*config::parse_window("Mon-Fri 07:30-11:30"),
               *config::parse_window("Mon-Fri 13:30-17:00")};
  o.per_day = 2;
  o.monthly_budget = 100u << 20;
  o.run_bytes = 10u << 20;
  o.state_path = path;
  return o;
}

bool in_windows(int64_t ms) {
  std::tm t = utc(ms / 1000);
  const int wd = (t.tm_wday + 6) % 7, m = t.tm_hour * 60 + t.tm_min;
  return wd < 5 && ((m >= 450 && m < 690) || (m >= 810 && m < 1020));
}

}  // namespace

TEST_CASE("runs are planned at random moments inside the windows only", "[probes]") {
  // 2026-03-02 is a Monday.
  FakeClock clock(at(2026, 3, 2, 6, 0));
  ThroughputPlan plan(options(), utc, 42);
  std::set<int64_t> seen;
  for (int day = 0; day < 14; ++day) {
    const int64_t next = plan.next_run(clock.wall_ms());
    CHECK(next >= clock.wall_ms());
    CHECK(in_windows(next));
    seen.insert(next % 86'400'000);
    clock.set_wall(next);
    std::string why;
    REQUIRE(plan.may_run(clock.wall_ms(), why));
    plan.record(clock.wall_ms(), 1u << 20);
    clock.set_wall(at(2026, 3, 2, 6, 0) + (day + 1) * 86'400'000LL);
  }
  CHECK(seen.size() > 5);  // not always the same moment
}

TEST_CASE("a weekend has no window: the next run is on Monday", "[probes]") {
  ThroughputPlan plan(options(), utc, 1);
  const int64_t sat = at(2026, 3, 7, 9, 0);  // Saturday
  const int64_t next = plan.next_run(sat);
  CHECK(next >= at(2026, 3, 9, 7, 30));
  CHECK(next < at(2026, 3, 9, 17, 0));
}

TEST_CASE("at most per_day runs a day", "[probes]") {
  FakeClock clock(at(2026, 3, 3, 7, 0));  // Tuesday
  ThroughputPlan plan(options(), utc, 7);
  for (int i = 0; i < 2; ++i) {
    clock.set_wall(plan.next_run(clock.wall_ms()));
    CHECK(utc(clock.wall_ms() / 1000).tm_mday == 3);
    std::string why;
    REQUIRE(plan.may_run(clock.wall_ms(), why));
    plan.record(clock.wall_ms(), 1000);
  }
  CHECK(plan.runs_today(clock.wall_ms()) == 2);
  std::string why;
  CHECK_FALSE(plan.may_run(clock.wall_ms(), why));
  CHECK(why.find("already ran 2 times today") != std::string::npos);
  const int64_t next = plan.next_run(clock.wall_ms());
  CHECK(utc(next / 1000).tm_mday == 4);  // tomorrow
  CHECK(in_windows(next));
  CHECK(plan.runs_today(next) == 0);
}

TEST_CASE("the monthly budget is never overspent, survives a restart, resets with the month",
          "[probes]") {
  TempDir dir;
  const std::string path = dir / "uplink.throughput";
  PlanOptions o = options(path);
  o.per_day = 48;
  int64_t now = at(2026, 3, 2, 8, 0);
  uint64_t spent = 0;
  int runs = 0;
  {
    ThroughputPlan plan(o, utc, 3);
    REQUIRE(plan.load().empty());
    std::string why;
    // Each run takes the most it may: the budget must stop them in time.
    while (plan.may_run(now, why)) {
      plan.record(now, o.run_bytes);
      spent += o.run_bytes + ThroughputPlan::kOverheadBytes;
      ++runs;
      now += 60'000;
    }
    CHECK(why.find("monthly budget is spent") != std::string::npos);
    CHECK(plan.used_bytes(now) == spent);
    CHECK(spent <= o.monthly_budget);
    CHECK(runs == 9);  // 9 x (10 MiB + 64 KiB) <= 100 MiB < 10 x
    CHECK(plan.used_percent(now) == Approx(100.0 * spent / o.monthly_budget));
  }
  // A restart in the middle of the month: nothing forgotten.
  now = at(2026, 3, 17, 9, 0);
  {
    ThroughputPlan plan(o, utc, 4);
    REQUIRE(plan.load().empty());
    CHECK(plan.used_bytes(now) == spent);
    std::string why;
    CHECK_FALSE(plan.may_run(now, why));
  }
  // A new month: the budget is whole again (and the file says so after a run).
  now = at(2026, 4, 1, 8, 0);  // Wednesday
  {
    ThroughputPlan plan(o, utc, 5);
    REQUIRE(plan.load().empty());
    CHECK(plan.used_bytes(now) == 0);
    CHECK(plan.used_percent(now) == 0.0);
    std::string why;
    REQUIRE(plan.may_run(now, why));
    plan.record(now, 1000);
  }
  ThroughputPlan again(o, utc, 6);
  REQUIRE(again.load().empty());
  CHECK(again.used_bytes(now) == 1000 + ThroughputPlan::kOverheadBytes);
}

TEST_CASE("a month boundary in the middle of a run's day resets the budget", "[probes]") {
  PlanOptions o = options();
  o.per_day = 48;
  ThroughputPlan plan(o, utc, 9);
  const int64_t last_day = at(2026, 3, 31, 16, 0);
  std::string why;
  while (plan.may_run(last_day, why)) plan.record(last_day, o.run_bytes);
  CHECK_FALSE(plan.may_run(last_day, why));
  // The plan's next moment is in April, and there it may run.
  const int64_t next = plan.next_run(last_day);
  CHECK(next >= at(2026, 4, 1, 7, 30));
  CHECK(plan.may_run(next, why));
}

TEST_CASE("an unreadable state file is reported, and counting starts from zero", "[probes]") {
  TempDir dir;
  const std::string path = dir / "bad.throughput";
  {
    std::FILE* f = std::fopen(path.c_str(), "w");
    std::fputs("month x\nused -5\n", f);
    std::fclose(f);
  }
  ThroughputPlan plan(options(path), utc, 1);
  CHECK(plan.load().find("cannot read") != std::string::npos);
  CHECK(plan.used_bytes(at(2026, 3, 2, 8, 0)) == 0);
}
