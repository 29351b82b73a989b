// When a throughput probe may run: at a random moment inside the school-hours
// windows (local time), at most `per_day` times a day, and never past the
// monthly budget. The bytes used this month and the runs of today are kept in
// the state dir, so a restart neither forgets nor repeats them.
#pragma once

#include <cstdint>
#include <ctime>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "config.hpp"

namespace classroom::probes {

struct PlanOptions {
  std::vector<config::Window> windows;
  int per_day = 1;
  uint64_t monthly_budget = 1ull << 30;
  uint64_t run_bytes = 0;  // the most one run can transfer
  std::string state_path;  // empty: nothing persisted
};

// Where a throughput probe's counters live: <state_dir>/probes/<name>-<hash>.throughput
// (readable, and unique for a unique name).
std::string plan_state_path(const std::string& state_dir, const std::string& probe_name);

// Wall seconds -> broken-down local time (localtime_r; tests pass gmtime_r).
using LocalTime = std::function<std::tm(int64_t wall_s)>;
std::tm system_local_time(int64_t wall_s);

class ThroughputPlan {
 public:
  // Headers and TLS are not in a run's byte count: this much is reserved for them.
  static constexpr uint64_t kOverheadBytes = 64 << 10;

  ThroughputPlan(PlanOptions o, LocalTime local = system_local_time, uint64_t seed = 0);
  // Reads the persisted counters; empty on success or when there are none yet.
  std::string load();
  // The wall time (ms) of the next planned run, planning one if needed.
  int64_t next_run(int64_t now_ms);
  // May a run start now? When not, `why` says so and the plan moves on.
  bool may_run(int64_t now_ms, std::string& why);
  // A run that started at `now_ms` transferred `bytes`: counted and saved.
  // Returns an error text when it cannot be saved.
  std::string record(int64_t now_ms, uint64_t bytes);
  double used_percent(int64_t now_ms);
  uint64_t used_bytes(int64_t now_ms);
  int runs_today(int64_t now_ms);

 private:
  void roll(int64_t now_ms);  // a new day or month resets its counter
  int64_t plan_from(int64_t now_ms, bool skip_today);
  std::string save() const;

  PlanOptions o_;
  LocalTime local_;
  std::mt19937_64 rng_;
  int month_ = 0;  // yyyymm of `used_`
  uint64_t used_ = 0;
  int day_ = 0;  // yyyymmdd of `runs_`
  int runs_ = 0;
  int64_t planned_ = -1;
};

}  // namespace classroom::probes
