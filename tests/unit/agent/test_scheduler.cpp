#include <catch2/catch.hpp>

#include "../log_capture.hpp"
#include "scheduler/scheduler.hpp"

using namespace classroom;
using drivers::CollectResult;

namespace {
// Advances the fake clock to the next due time and runs what is due.
void step(FakeClock& clock, Scheduler& s) {
  const int64_t due = s.next_due();
  if (due > clock.wall_ms()) clock.advance(due - clock.wall_ms());
  s.run_due();
}
}  // namespace

TEST_CASE("scheduler: first run at once, then on the wall-clock grid") {
  FakeClock clock(1'700'000'003'250);  // 3.25 s past a 10 s boundary
  Scheduler s(clock);
  std::vector<int64_t> runs;
  s.add("system", 10'000, [&](int64_t now) {
    runs.push_back(now);
    return CollectResult::success();
  });
  step(clock, s);
  step(clock, s);
  step(clock, s);
  REQUIRE(runs.size() == 3);
  CHECK(runs[0] == 1'700'000'003'250);
  CHECK(runs[1] == 1'700'000'010'000);
  CHECK(runs[2] == 1'700'000'020'000);
}

TEST_CASE("scheduler: no drift over a day even when collections take time") {
  FakeClock clock(1'700'000'000'000);
  Scheduler s(clock);
  std::vector<int64_t> runs;
  s.add("system", 10'000, [&](int64_t now) {
    runs.push_back(now);
    clock.advance(37);  // each collection costs 37 ms
    return CollectResult::success();
  });
  for (int i = 0; i < 8640; ++i) step(clock, s);
  REQUIRE(runs.size() == 8640);
  for (size_t i = 1; i < runs.size(); ++i) REQUIRE(runs[i] % 10'000 == 0);
  CHECK(runs.back() == 1'700'000'000'000 + 8639ll * 10'000);
}

TEST_CASE("scheduler: tasks of different intervals") {
  FakeClock clock(1'700'000'000'000);
  Scheduler s(clock);
  int fast = 0, slow = 0;
  s.add("fast", 1000, [&](int64_t) {
    ++fast;
    return CollectResult::success();
  });
  s.add("slow", 5000, [&](int64_t) {
    ++slow;
    return CollectResult::success();
  });
  while (clock.wall_ms() < 1'700'000'010'000) step(clock, s);
  CHECK(fast == 11);
  CHECK(slow == 3);
}

TEST_CASE("scheduler: a failing task backs off, then recovers on its grid") {
  LogCapture logs;
  FakeClock clock(1'700'000'000'000);
  Scheduler s(clock);
  bool healthy = false;
  std::vector<int64_t> runs;
  s.add("flaky", 1000, [&](int64_t now) {
    runs.push_back(now);
    return healthy ? CollectResult::success() : CollectResult::failure("cannot read");
  });
  for (int i = 0; i < 7; ++i) step(clock, s);
  // Intervals double: 2, 4, 8, 16, then stay at 16 (the cap).
  REQUIRE(runs.size() == 7);
  CHECK(runs[1] - runs[0] == 2000);
  CHECK(runs[2] - runs[1] == 4000);
  CHECK(runs[3] - runs[2] == 8000);
  CHECK(runs[4] - runs[3] == 16000);
  CHECK(runs[5] - runs[4] == 16000);
  CHECK(s.tasks()[0].failures == 7);
  healthy = true;
  step(clock, s);
  CHECK(s.tasks()[0].failures == 0);
  step(clock, s);
  CHECK(runs[8] - runs[7] == 1000);
  CHECK(runs[8] % 1000 == 0);
  // Seven failures, one line; the recovery, one line.
  CHECK(logs.count("source flaky failing: cannot read") == 1);
  CHECK(logs.count("source flaky recovered after 7 failed attempts") == 1);
}

TEST_CASE("scheduler: a partial reading is logged when it starts and when it clears") {
  LogCapture logs;
  FakeClock clock(1'700'000'000'000);
  Scheduler s(clock);
  int run = 0;
  s.add("system", 1000, [&](int64_t) {
    ++run;
    CollectResult r;
    if (run >= 3 && run <= 6) r.warning = "skipped load (loadavg)";
    return r;
  });
  for (int i = 0; i < 10; ++i) step(clock, s);
  CHECK(logs.count("source system: skipped load (loadavg)") == 1);
  CHECK(logs.count("source system: every metric read again") == 1);
}

TEST_CASE("scheduler: notes are logged once each and a note says why a warning ended") {
  LogCapture logs;
  FakeClock clock(1'700'000'000'000);
  Scheduler s(clock);
  int run = 0;
  s.add("system", 1000, [&](int64_t) {
    ++run;
    CollectResult r;
    if (run <= 3) r.note = "no wireless interface";  // lasting: said once
    if (run >= 4 && run <= 6) r.warning = "the clock is not synchronised";
    if (run == 7) r.note = "the clock is synchronised again";  // said in one collection
    return r;
  });
  for (int i = 0; i < 10; ++i) step(clock, s);
  CHECK(logs.count("source system: no wireless interface") == 1);
  CHECK(logs.count("source system: the clock is not synchronised") == 1);
  CHECK(logs.count("source system: the clock is synchronised again") == 1);
  CHECK(logs.count("every metric read again") == 0);
}

TEST_CASE("scheduler: a backwards wall-clock step re-aligns instead of stalling") {
  FakeClock clock(1'700'000'000'000);
  Scheduler s(clock);
  int runs = 0;
  s.add("system", 10'000, [&](int64_t) {
    ++runs;
    return CollectResult::success();
  });
  step(clock, s);
  clock.set_wall(1'600'000'000'000);  // NTP fixes a clock that was years ahead
  s.run_due();
  CHECK(s.next_due() == 1'600'000'010'000);
  step(clock, s);
  CHECK(runs == 2);
}

TEST_CASE("scheduler: a forward step runs once, not a burst of missed slots") {
  FakeClock clock(1'700'000'000'000);
  Scheduler s(clock);
  int runs = 0;
  s.add("system", 10'000, [&](int64_t) {
    ++runs;
    return CollectResult::success();
  });
  step(clock, s);
  clock.advance(3'600'000);  // the machine was suspended for an hour
  s.run_due();
  s.run_due();
  CHECK(runs == 2);
}

TEST_CASE("next_aligned") {
  CHECK(next_aligned(0, 1000) == 1000);
  CHECK(next_aligned(999, 1000) == 1000);
  CHECK(next_aligned(1000, 1000) == 2000);
}
