#include "catalog.hpp"

namespace classroom {

MetricId Catalog::declare(std::string_view name, DataType type, std::string_view unit) {
  if (auto it = by_name_.find(name); it != by_name_.end()) return it->second;
  const auto id = static_cast<MetricId>(entries_.size());
  // Alias 0 is left unused so that a zero alias on the wire is always a bug.
  entries_.push_back(CatalogEntry{std::string(name), type, std::string(unit), id + 1ull, {}, 0});
  by_name_.emplace(std::string(name), id);
  is_changed_.push_back(false);
  ++generation_;
  return id;
}

void Catalog::put(MetricId id, Value value) {
  if (id >= entries_.size()) return;
  CatalogEntry& e = entries_[id];
  if (!value_fits(e.type, value)) return;  // a driver bug must not corrupt the wire
  e.ts_ms = now_ms_;
  if (e.value == value) return;
  e.value = std::move(value);
  if (!is_changed_[id]) {
    is_changed_[id] = true;
    changed_.push_back(id);
  }
}

void Catalog::clear_changed() {
  for (MetricId id : changed_) is_changed_[id] = false;
  changed_.clear();
}

std::optional<MetricId> Catalog::find(std::string_view name) const {
  if (auto it = by_name_.find(name); it != by_name_.end()) return it->second;
  return std::nullopt;
}

}  // namespace classroom
