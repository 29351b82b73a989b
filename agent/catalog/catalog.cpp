#include "catalog/catalog.hpp"

namespace classroom {

Catalog::Catalog() {
  owners_.emplace_back();  // kNode
}

MetricId Catalog::declare(std::string_view name, MetricType type, std::string_view unit) {
  return declare(kNode, name, type, unit);
}

MetricId Catalog::declare(DeviceId owner, std::string_view name, MetricType type,
                          std::string_view unit) {
  Owner& o = owners_.at(owner);
  if (auto it = o.by_name.find(name); it != o.by_name.end()) {
    const MetricId id = it->second;
    seen_[id] = true;
    if (entries_[id].retired) {  // a source publishes it again
      entries_[id].retired = false;
      ++o.generation;
      ++o.additions;
      ++o.metrics;
    }
    return id;
  }
  const auto id = static_cast<MetricId>(entries_.size());
  // Alias 0 is left unused so that a zero alias on the wire is always a bug.
  entries_.push_back(CatalogEntry{
      std::string(name), type, std::string(unit), kFirstMetricAlias + id, {}, 0, owner});
  o.by_name.emplace(std::string(name), id);
  is_changed_.push_back(false);
  seen_.push_back(true);
  ++o.generation;
  ++o.additions;
  ++o.metrics;
  return id;
}

MetricId Catalog::declare_control(DeviceId owner, std::string_view name, MetricType type,
                                  std::string_view unit, Value initial) {
  const bool fresh = !find(owner, name);
  const MetricId id = declare(owner, name, type, unit);
  CatalogEntry& e = entries_[id];
  e.control = true;
  if (fresh && value_fits(e.type, initial)) e.value = std::move(initial);
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

void Catalog::mark_unseen(DeviceId owner) {
  for (MetricId id = 0; id < entries_.size(); ++id)
    if (entries_[id].owner == owner) seen_[id] = false;
}

size_t Catalog::retire_unseen(DeviceId owner) {
  size_t retired = 0;
  for (MetricId id = 0; id < entries_.size(); ++id) {
    CatalogEntry& e = entries_[id];
    if (e.owner != owner || e.retired || e.control || seen_[id]) continue;
    e.retired = true;
    --owners_[owner].metrics;
    ++retired;
  }
  if (retired) {
    ++owners_[owner].generation;
    // A retired metric is not in the birth: no data may name its alias.
    std::erase_if(changed_, [this](MetricId id) {
      if (!entries_[id].retired) return false;
      is_changed_[id] = false;
      return true;
    });
  }
  return retired;
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

std::optional<MetricId> Catalog::find_alias(DeviceId owner, uint64_t alias) const {
  if (alias < kFirstMetricAlias || alias - kFirstMetricAlias >= entries_.size())
    return std::nullopt;
  const auto id = static_cast<MetricId>(alias - kFirstMetricAlias);
  const CatalogEntry& e = entries_[id];
  if (e.owner != owner || e.retired) return std::nullopt;
  return id;
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
