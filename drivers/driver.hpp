// The one interface every metric source implements, and the sink it writes to.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "metric.hpp"

namespace classroom::drivers {

// Where a driver puts what it measured. The agent implements it (the catalog);
// tests implement it with a map.
class MetricSink {
 public:
  virtual ~MetricSink() = default;
  // Makes a metric known (idempotent): the same name always returns the same id.
  // A name seen for the first time while the agent is online causes a Sparkplug
  // rebirth, so declare metrics once and keep the id; do not declare per cycle.
  // `unit` is the engUnit of the birth; "" for none (the property is left out).
  virtual MetricId declare(std::string_view name, MetricType type, std::string_view unit) = 0;
  // Records a value measured in the current collection. The agent stamps it with
  // the collection's capture time.
  virtual void put(MetricId id, Value value) = 0;
};

// The result of one collection. A driver that could read some metrics but not
// others still returns ok (best effort per metric) and says what it skipped in
// `warning`; it fails only when it could read nothing at all. The scheduler logs
// a warning or an error once when it appears and once when it clears.
struct CollectResult {
  bool ok = true;
  std::string error;    // when !ok: what failed, for the technician's log
  std::string warning;  // when ok: what was skipped this time
  // When ok: a fact about this machine worth one info line, not a fault (a
  // kernel feature the source needs is absent, so it has nothing to publish).
  // Logged once when it appears or changes.
  std::string note;

  static CollectResult success() { return {}; }
  static CollectResult failure(std::string why) { return {false, std::move(why), {}, {}}; }
};

class Driver {
 public:
  virtual ~Driver() = default;
  // Reads the source once and puts every value it could get into `sink`.
  virtual CollectResult collect(MetricSink& sink) = 0;
};

}  // namespace classroom::drivers
