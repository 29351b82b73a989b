#include "catalog/catalog.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <deque>
#include <functional>
#include <mutex>
#include <unordered_map>

#include "log.hpp"

namespace classroom {
namespace {

constexpr log::Logger lg("agent");

// Every unit text of the process, by number (0 is none): 256 pages of 256,
// each allocated when first needed. A number is only ever read after the
// thread that reads it got it from Unit::of (under the lock) or from a
// catalog handed over with a lock of its own: the pointers need none.
struct UnitTable {
  std::mutex lock;
  std::deque<std::string> texts;  // never moved
  std::unordered_map<std::string_view, uint16_t> numbers;
  std::array<std::unique_ptr<std::array<const std::string*, 256>>, 256> pages;
  bool full_said = false;
};

UnitTable& units() {
  static UnitTable* table = new UnitTable;  // never destroyed: units outlive any catalog
  return *table;
}

}  // namespace

Unit Unit::of(std::string_view text) {
  if (text.empty()) return Unit{};
  UnitTable& t = units();
  std::lock_guard guard(t.lock);
  if (auto it = t.numbers.find(text); it != t.numbers.end()) return Unit(it->second);
  const size_t number = t.texts.size() + 1;
  if (number > UINT16_MAX) {
    if (!t.full_said)
      lg.error("more than %u distinct units: the new ones are published without a unit",
               unsigned{UINT16_MAX});
    t.full_said = true;
    return Unit{};
  }
  const std::string& kept = t.texts.emplace_back(text);
  auto& page = t.pages[number >> 8];
  if (!page) page = std::make_unique<std::array<const std::string*, 256>>();
  (*page)[number & 0xff] = &kept;
  t.numbers.emplace(kept, static_cast<uint16_t>(number));
  return Unit(static_cast<uint16_t>(number));
}

const std::string& Unit::str() const {
  static const std::string none;
  if (index_ == 0) return none;
  return *(*units().pages[index_ >> 8])[index_ & 0xff];
}

Catalog::Catalog() {
  owners_.emplace_back();  // kNode
}

MetricId Catalog::declare(std::string_view name, MetricType type, std::string_view unit) {
  return declare(kNode, name, type, unit);
}

MetricId Catalog::declare(DeviceId owner, std::string_view name, MetricType type,
                          std::string_view unit) {
  Owner& o = owners_.at(owner);
  if (auto found = find(owner, name)) {
    const MetricId id = *found;
    seen_[id] = true;
    if (entries_[id].retired) {  // a source publishes it again
      entries_[id].retired = false;
      std::erase(o.retired, id);
      ++o.generation;
      ++o.additions;
      ++o.metrics;
    }
    return id;
  }
  MetricId id;
  if (!o.free.empty()) {  // the slot of a forgotten metric of this owner, its memory reused
    id = o.free.back();
    o.free.pop_back();
    CatalogEntry& e = entries_[id];
    assign_name(e.name, name);
    e.type = type;
    e.unit = Unit::of(unit);
    e.value = Value{};
    e.ts_ms = 0;
    e.retired = false;
    seen_[id] = true;
    index(o, id);
  } else {
    id = static_cast<MetricId>(entries_.size());
    // Alias 0 is left unused so that a zero alias on the wire is always a bug.
    CatalogEntry& e = entries_.emplace_back();
    assign_name(e.name, name);
    e.type = type;
    e.alias = static_cast<uint32_t>(kFirstMetricAlias + id);
    e.owner = owner;
    e.unit = Unit::of(unit);
    index(o, id);
    is_changed_.push_back(false);
    seen_.push_back(true);
  }
  ++o.generation;
  ++o.additions;
  ++o.metrics;
  return id;
}

void Catalog::assign_name(MetricName& n, std::string_view name) {
  if (name.size() > n.capacity_) {
    // Room for a little more, so that a slot whose names grow by a digit
    // does not take room again each time.
    const size_t room = n.capacity_ == 0 ? name.size() : (name.size() + 15) & ~size_t{15};
    if (room > kNameChunk / 4) {
      n.data_ = long_names_.emplace_back(std::make_unique<char[]>(room)).get();
    } else {
      if (name_chunk_used_ + room > kNameChunk) {
        names_.push_back(std::make_unique<char[]>(kNameChunk));
        name_chunk_used_ = 0;
      }
      n.data_ = names_.back().get() + name_chunk_used_;
      name_chunk_used_ += room;
    }
    n.capacity_ = static_cast<uint32_t>(room);
  }
  if (!name.empty()) std::memcpy(n.data_, name.data(), name.size());
  n.size_ = static_cast<uint32_t>(name.size());
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
    owners_[owner].retired.push_back(id);
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
    forget_excess(owners_[owner]);
  }
  return retired;
}

void Catalog::set_retired_limit(DeviceId owner, size_t n) {
  Owner& o = owners_.at(owner);
  o.retired_limit = n;
  forget_excess(o);
}

void Catalog::forget_excess(Owner& o) {
  if (o.retired.size() <= o.retired_limit) return;
  const size_t forget = o.retired.size() - o.retired_limit;
  for (size_t i = 0; i < forget; ++i) {
    const MetricId id = o.retired[i];
    CatalogEntry& e = entries_[id];
    unindex(o, id);
    e.name.size_ = 0;  // keeps its room for the slot's next metric
    e.unit = Unit{};
    e.value = Value{};
    e.ts_ms = 0;
    o.free.push_back(id);
  }
  o.retired.erase(o.retired.begin(), o.retired.begin() + static_cast<std::ptrdiff_t>(forget));
}

void Catalog::clear_changed() {
  for (MetricId id : changed_) is_changed_[id] = false;
  changed_.clear();
}

std::optional<MetricId> Catalog::find(DeviceId owner, std::string_view name) const {
  if (owner >= owners_.size()) return std::nullopt;
  const Owner& o = owners_[owner];
  if (o.by_name.empty()) return std::nullopt;
  const MetricId id = o.by_name[slot_of(o, name)];
  if (id == kFree) return std::nullopt;
  return id;
}

// Linear probing in a table at most half full: a lookup reads a slot or two.
size_t Catalog::slot_of(const Owner& o, std::string_view name) const {
  const size_t mask = o.by_name.size() - 1;
  for (size_t i = std::hash<std::string_view>{}(name)&mask;; i = (i + 1) & mask) {
    const MetricId id = o.by_name[i];
    if (id == kFree || entries_[id].name == name) return i;
  }
}

void Catalog::index(Owner& o, MetricId id) {
  if ((o.indexed + 1) * 2 > o.by_name.size()) {
    std::vector<MetricId> old(std::max<size_t>(16, o.by_name.size() * 2), kFree);
    old.swap(o.by_name);
    for (MetricId k : old)
      if (k != kFree) o.by_name[slot_of(o, entries_[k].name)] = k;
  }
  o.by_name[slot_of(o, entries_[id].name)] = id;
  ++o.indexed;
}

// Takes `id` out, moving back the ids after it that probed past its slot, so
// that no lookup stops early at the hole (no tombstones).
void Catalog::unindex(Owner& o, MetricId id) {
  if (o.by_name.empty()) return;
  size_t hole = slot_of(o, entries_[id].name);
  if (o.by_name[hole] != id) return;
  const size_t mask = o.by_name.size() - 1;
  o.by_name[hole] = kFree;
  --o.indexed;
  for (size_t j = (hole + 1) & mask; o.by_name[j] != kFree; j = (j + 1) & mask) {
    const size_t home = std::hash<std::string_view>{}(entries_[o.by_name[j]].name) & mask;
    // It stays where it is when its home lies cyclically in (hole, j].
    const bool stays = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
    if (stays) continue;
    o.by_name[hole] = o.by_name[j];
    o.by_name[j] = kFree;
    hole = j;
  }
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
