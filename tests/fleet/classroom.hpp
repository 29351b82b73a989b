// The metric set of one simulated classroom gateway: the names, datatypes and
// units of the shipped config's sources (system, network with five
// interfaces, nat, wifi with two radios, lan, three probes) and the agent's
// spool metrics, about 150 in all, with values that move as a classroom's do:
// counters grow, rates follow them, gauges wander within their bounds, station
// and device counts change now and then, properties never. Each source is a
// drivers::Driver, so the gateway's Scheduler runs them at their intervals
// into its Catalog, exactly as the agent runs its real drivers.
//
// One metric is the simulator's own: Simulator/Sample/Number (UInt64), +1 at
// every run of the fastest source. Every batch carries it, so a subscriber can
// tell which batch of which gateway it has seen and find the holes.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "driver.hpp"
#include "spool/spool.hpp"

namespace classroom::fleet {

inline constexpr const char* kSampleMetric = "Simulator/Sample/Number";

// One simulated source: its name and how many base intervals it runs at
// (system and network every interval, nat, wifi and lan every third, the
// probes every sixth: 10 s, 30 s and 60 s in the shipped config).
struct SourceInfo {
  const char* name;
  int interval_factor;
};
const std::vector<SourceInfo>& sources();

// Metrics in the set, all sources together.
size_t metric_count();

// A gateway's sources: the drivers, and the state of their values.
class Classroom {
 public:
  // `seed` makes each gateway's values its own; `spool` feeds the Agent/Spool metrics.
  Classroom(uint64_t seed, Spool& spool);
  ~Classroom();
  Classroom(const Classroom&) = delete;
  Classroom& operator=(const Classroom&) = delete;

  // The driver of sources()[i].
  drivers::Driver& source(size_t i);
  // Samples taken so far: the value Simulator/Sample/Number last had.
  uint64_t samples() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace classroom::fleet
