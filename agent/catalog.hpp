// The catalog: every metric the node publishes, its datatype, unit, alias and
// latest value. A new name bumps generation(): the session must rebirth before
// data that uses it. It is the MetricSink that drivers write into.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "driver.hpp"
#include "metric.hpp"

namespace classroom {

struct CatalogEntry {
  std::string name;
  DataType type;
  std::string unit;
  uint64_t alias;
  Value value;        // latest value (monostate until measured)
  int64_t ts_ms = 0;  // when it was captured
};

class Catalog final : public drivers::MetricSink {
 public:
  MetricId declare(std::string_view name, DataType type, std::string_view unit) override;
  void put(MetricId id, Value value) override;

  // The capture time stamped on values put from now on.
  void set_time(int64_t ts_ms) { now_ms_ = ts_ms; }

  // Metrics whose value changed since clear_changed() (report by exception).
  const std::vector<MetricId>& changed() const { return changed_; }
  void clear_changed();

  std::optional<MetricId> find(std::string_view name) const;
  const CatalogEntry& at(MetricId id) const { return entries_[id]; }
  size_t size() const { return entries_.size(); }
  // Increases whenever a metric is declared for the first time.
  uint64_t generation() const { return generation_; }

 private:
  std::vector<CatalogEntry> entries_;
  std::map<std::string, MetricId, std::less<>> by_name_;
  std::vector<MetricId> changed_;
  std::vector<bool> is_changed_;
  int64_t now_ms_ = 0;
  uint64_t generation_ = 0;
};

}  // namespace classroom
