// The one interface every metric source implements, and the sink it writes to.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>

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
// `warning`; it fails only when it could read nothing at all. Drivers never log:
// they say everything here, and the scheduler logs an error or a warning once
// when it appears or changes and once when it clears, and a note once when it
// appears or changes.
struct CollectResult {
  bool ok = true;
  std::string error;  // when !ok: what failed, for the technician's log
  // When ok: a condition that lasts (what was skipped this time, a clock that is
  // not synchronised). Return the same words for as long as it lasts.
  std::string warning;
  // When ok: a fact worth one info line, not a fault. Either lasting (a kernel
  // feature the source needs is absent, so it has nothing to publish) or said in
  // the one collection where it happened (an interface is measured from now on;
  // a warning ended, when the scheduler's "every metric read again" would not
  // say why).
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

// The head of a driver's Options: its Settings (what its [sources.X] table
// sets), taken whole so that make() cannot drop one, and only when asked
// (explicit). No ==: the settings' own would ignore what the driver adds.
//   struct Options : WithSettings<Settings> { using WithSettings::WithSettings; ... };
template <class Settings>
struct WithSettings : Settings {
  explicit WithSettings(Settings settings = {}) : Settings(std::move(settings)) {}
  bool operator==(const WithSettings&) const = delete;
};

}  // namespace classroom::drivers
