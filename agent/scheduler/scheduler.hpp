// The scheduler owns sampling time. Each task runs at its own interval, aligned
// to the wall clock (a 10 s task runs at :00, :10, :20 ...), so samples of many
// gateways line up and nothing drifts over hours. A failing task is backed off
// (interval doubled up to 16x), logged once, and logged again when it recovers.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "clock.hpp"
#include "driver.hpp"

namespace classroom {

class Scheduler {
 public:
  using Job = std::function<drivers::CollectResult(int64_t wall_ms)>;
  // What a task samples: a metric source of the node, an SNMP device's poll
  // (shown by `status` as a device, not a source), or the agent's own metrics.
  enum class Kind { source, device, self };

  explicit Scheduler(const Clock& clock) : clock_(clock) {}

  // Adds a task; its first run is due at once (to declare its metrics before the
  // first birth), then on the grid of its interval. Returns its index in tasks().
  size_t add(std::string name, int64_t interval_ms, Job job, Kind kind = Kind::source);
  // A new interval for task `task` (a host's Node Control/Scan Rate): its next
  // run is on the new grid, so a shorter interval takes effect at once.
  void set_interval(size_t task, int64_t interval_ms);

  // Wall-clock time at which the next task is due.
  int64_t next_due() const;

  // Runs every task that is due at the clock's current time; returns how many ran.
  int run_due();

  struct TaskState {
    std::string name;
    Kind kind;
    int64_t interval_ms;
    int64_t next_due_ms;
    int failures;  // consecutive
    std::string last_error, last_warning, last_note;
    // Wall-clock ms of the last run that succeeded, and of the first failure
    // of the current streak (0: none), for `classroom-agent status`.
    int64_t last_success_ms = 0;
    int64_t failing_since_ms = 0;
  };
  const std::vector<TaskState>& tasks() const { return states_; }
  // Runs so far (every task): moves whenever a result may have changed.
  uint64_t runs() const { return runs_; }

  static constexpr int kMaxBackoffFactor = 16;

 private:
  void schedule_next(TaskState& t, int64_t now);

  const Clock& clock_;
  std::vector<TaskState> states_;
  std::vector<Job> jobs_;
  uint64_t runs_ = 0;
};

// The first point of the `interval` grid strictly after `now`.
int64_t next_aligned(int64_t now_ms, int64_t interval_ms);

}  // namespace classroom
