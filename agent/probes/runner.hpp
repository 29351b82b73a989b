// The probe runner: a stage of the agent that runs every configured
// connectivity probe on one thread of its own, so that no probe ever delays
// sampling. See docs/architecture.md ("Probes").
//
// - Each probe runs on the wall-clock grid of its interval (throughput: at the
//   moments its plan picks); a failed run is data (Success false, Loss 100 %)
//   and keeps its interval.
// - At most `concurrency` runs are in flight; every run has its protocol
//   timeout and a hard deadline after which it is aborted.
// - Results wait in a queue that the agent's loop drains into the catalog
//   (which only the loop touches); the runner wakes the loop when one arrives.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "catalog/catalog.hpp"
#include "clock.hpp"
#include "config.hpp"

namespace classroom::drivers::probes {
class Probe;
}

namespace classroom::probes {

class Runner {
 public:
  // `wake` is called from the probe thread when results are waiting. Time is
  // the system's clock, or `clock` (which must outlive the probe thread, and
  // the runner; tests pass a fake one and drive the runner with turn()).
  Runner(const config::Probes& cfg, const std::string& state_dir, std::function<void()> wake);
  Runner(const config::Probes& cfg, const std::string& state_dir, std::function<void()> wake,
         const Clock& clock);
  ~Runner();
  Runner(const Runner&) = delete;
  Runner& operator=(const Runner&) = delete;

  // On the loop, before the first birth: declares every probe metric.
  void declare(drivers::MetricSink& sink);
  void start();
  // On the loop: moves finished results into `catalog` (stamped with the time
  // their run started) and logs failures once, and their recovery once.
  // Returns how many results it took.
  size_t drain(Catalog& catalog);
  // A host's Node Control/Probe Now, on the loop: the probe named `name` (or
  // every probe, for "*") runs as soon as a place is free, besides its
  // schedule; one already running or waiting is not run twice, and a
  // throughput probe runs only within its budget (runs a day and bytes a
  // month; its windows do not apply). The probe thread logs what it could
  // not run. Returns how many probes the name matched (0: none has it).
  size_t run_now(std::string_view name);
  // Stops the thread, abandoning runs in flight. Waits at most `bound_ms`;
  // false when the thread did not end in time (it is then left to the exit).
  bool stop(int64_t bound_ms);
  // Instead of start(), on the caller's thread: one turn of the probe loop
  // (start what is due, wait at most `max_wait_ms` for a socket or the next
  // due moment, collect the runs that ended). For tests on a fake clock.
  void turn(int64_t max_wait_ms);
  // For tests, before the first turn(): the probe at `index` (config order,
  // as outcomes()) runs `probe` instead of the one its config made.
  void use_probe(size_t index, std::unique_ptr<drivers::probes::Probe> probe);

  // What the loop knows of each probe, in config order (icmp, dns, tcp, http,
  // throughput): for `classroom-agent once`.
  struct Outcome {
    std::string name, what;
    bool reported = false;  // a result was drained
    std::string error;      // of the last result; empty when it succeeded
  };
  std::vector<Outcome> outcomes() const;
  // On the loop: why the probe at `index` (config order, as outcomes())
  // failed at its last drained run, in the probe's words; empty when it
  // succeeded, has no result yet, or there is no such probe.
  std::string_view last_error(size_t index) const;
  // The longest a run of any probe may take, hard deadline included.
  int64_t longest_run_ms() const;

  static constexpr int64_t kStopBoundMs = 2000;
  static constexpr int64_t kGraceMs = 1000;  // hard deadline past a run's own timeouts

 private:
  struct Engine;
  std::shared_ptr<Engine> engine_;
};

}  // namespace classroom::probes
