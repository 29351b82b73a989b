#include "catalog/catalog.hpp"

namespace classroom {

Catalog::Catalog() {
  owners_.emplace_back();  // kNode
}

MetricId Catalog::declare(std::string_view name, DataType type, std::string_view unit) {
  return declare(kNode, name, type, unit);
}

MetricId Catalog::declare(DeviceId owner, std::string_view name, DataType type,
                          std::string_view unit) {
  Owner& o = owners_.at(owner);
  if (auto it = o.by_name.find(name); it != o.by_name.end()) return it->second;
  const auto id = static_cast<MetricId>(entries_.size());
  // Alias 0 is left unused so that a zero alias on the wire is always a bug.
  entries_.push_back(
      CatalogEntry{std::string(name), type, std::string(unit), id + 1ull, {}, 0, owner});
  o.by_name.emplace(std::string(name), id);
  is_changed_.push_back(false);
  ++o.generation;
  ++o.metrics;
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

std::optional<MetricId> Catalog::find(DeviceId owner, std::string_view name) const {
  if (owner >= owners_.size()) return std::nullopt;
  const Owner& o = owners_[owner];
  if (auto it = o.by_name.find(name); it != o.by_name.end()) return it->second;
  return std::nullopt;
}

DeviceId Catalog::add_device(std::string_view name) {
  if (auto d = find_device(name)) return *d;
  Owner o;
  o.name = std::string(name);
  o.online = false;
  owners_.push_back(std::move(o));
  return static_cast<DeviceId>(owners_.size() - 1);
}

std::optional<DeviceId> Catalog::find_device(std::string_view name) const {
  for (size_t d = 1; d < owners_.size(); ++d)
    if (owners_[d].name == name) return static_cast<DeviceId>(d);
  return std::nullopt;
}

}  // namespace classroom
