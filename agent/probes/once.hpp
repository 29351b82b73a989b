// `classroom-agent once` runs every configured probe once, beside the sources:
// on the probe thread, as the running agent does, all at the same time, each
// bounded by its own timeouts (and the runner's hard deadline). Throughput
// probes are not run: one run spends up to max_bytes of a metered uplink's
// monthly budget, and the budget file belongs to the running agent; their
// budget used so far is printed instead.
#pragma once

#include <memory>
#include <ostream>
#include <string>

#include "catalog/catalog.hpp"
#include "config.hpp"

namespace classroom::probes {

class Runner;

class OnceRun {
 public:
  // Starts every probe but throughput at once (nothing when none is configured).
  OnceRun(const config::Probes& cfg, const std::string& state_dir);
  ~OnceRun();
  OnceRun(const OnceRun&) = delete;
  OnceRun& operator=(const OnceRun&) = delete;
  // Waits until every run has a result (at most the longest run's hard
  // deadline), puts the results into `catalog` and prints one "# probe" line
  // per probe: "ok", why it failed, or why it did not run.
  void finish(Catalog& catalog, std::ostream& out);

 private:
  struct Wait;
  config::Probes cfg_;
  std::string state_dir_;
  std::shared_ptr<Wait> wait_;
  std::unique_ptr<Runner> runner_;
};

}  // namespace classroom::probes
