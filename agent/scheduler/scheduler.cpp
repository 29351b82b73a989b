#include "scheduler/scheduler.hpp"

#include <algorithm>
#include <limits>

#include "backoff.hpp"
#include "log.hpp"

namespace classroom {
namespace {
constexpr log::Logger lg("scheduler");

// How long a task waits after `failures` failures in a row: its interval
// doubled per failure, up to kMaxBackoffFactor times it.
int64_t backoff_ms(int64_t interval_ms, int failures) {
  return Backoff(interval_ms, Scheduler::kMaxBackoffFactor * interval_ms).delay(failures);
}
}  // namespace

int64_t next_aligned(int64_t now_ms, int64_t interval_ms) {
  int64_t base = now_ms - (now_ms % interval_ms);
  if (now_ms < 0 && now_ms % interval_ms != 0) base -= interval_ms;
  return base + interval_ms;
}

size_t Scheduler::add(std::string name, int64_t interval_ms, Job job, Kind kind) {
  states_.push_back(TaskState{std::move(name),
                              kind,
                              std::max<int64_t>(interval_ms, 1),
                              clock_.wall_ms(),
                              0,
                              {},
                              {},
                              {},
                              0,
                              0});
  jobs_.push_back(std::move(job));
  return states_.size() - 1;
}

void Scheduler::set_interval(size_t task, int64_t interval_ms) {
  TaskState& t = states_.at(task);
  t.interval_ms = std::max<int64_t>(interval_ms, 1);
  schedule_next(t, clock_.wall_ms());
}

int64_t Scheduler::next_due() const {
  int64_t due = std::numeric_limits<int64_t>::max();
  for (const TaskState& t : states_) due = std::min(due, t.next_due_ms);
  return due;
}

void Scheduler::schedule_next(TaskState& t, int64_t now) {
  // Backoff multiplies the interval by 2^failures, capped; the run stays on the
  // task's own grid so a recovered task is aligned again at once.
  const int64_t wait = backoff_ms(t.interval_ms, t.failures);
  t.next_due_ms = next_aligned(now + wait - t.interval_ms, t.interval_ms);
}

int Scheduler::run_due() {
  int ran = 0;
  for (size_t i = 0; i < states_.size(); ++i) {
    TaskState& t = states_[i];
    const int64_t now = clock_.wall_ms();
    // The wall clock stepped backwards (NTP on a board without RTC): re-align
    // instead of waiting out the step.
    if (t.next_due_ms - now > kMaxBackoffFactor * t.interval_ms)
      t.next_due_ms = next_aligned(now, t.interval_ms);
    if (now < t.next_due_ms) continue;

    drivers::CollectResult r = jobs_[i](now);
    ++ran;
    ++runs_;
    if (!r.ok) {
      ++t.failures;
      if (t.failures == 1) t.failing_since_ms = now;
      if (t.failures == 1 || r.error != t.last_error) {
        lg.warning("source %s failing: %s; retrying every %lld s until it recovers", t.name.c_str(),
                   r.error.c_str(),
                   static_cast<long long>(backoff_ms(t.interval_ms, t.failures) / 1000));
      }
      t.last_error = r.error;
    } else {
      if (t.failures > 0)
        lg.info("source %s recovered after %d failed attempt%s", t.name.c_str(), t.failures,
                t.failures == 1 ? "" : "s");
      t.failures = 0;
      t.failing_since_ms = 0;
      t.last_success_ms = now;
      t.last_error.clear();
      if (r.warning != t.last_warning) {
        if (!r.warning.empty())
          lg.warning("source %s: %s", t.name.c_str(), r.warning.c_str());
        else if (r.note.empty())  // a note, when there is one, says what ended
          lg.info("source %s: every metric read again", t.name.c_str());
        t.last_warning = r.warning;
      }
      if (r.note != t.last_note) {
        if (!r.note.empty()) lg.info("source %s: %s", t.name.c_str(), r.note.c_str());
        t.last_note = r.note;
      }
    }
    schedule_next(t, clock_.wall_ms());
  }
  return ran;
}

}  // namespace classroom
