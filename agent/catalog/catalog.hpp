// The catalog: every metric the node and its devices publish, its owner (the
// node or one Sparkplug device), datatype, unit, alias and latest value. A new
// name bumps its owner's generation(): the session must rebirth before data
// that uses it. It is the MetricSink that the node's drivers write into;
// DeviceSink is the one a device's poller writes into.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "driver.hpp"
#include "metric.hpp"

namespace classroom {

// Who owns a metric: 0 is the edge node itself, 1.. a device of the node.
using DeviceId = uint32_t;
inline constexpr DeviceId kNode = 0;

// Alias 1 is kept for Node Control/Rebirth, which the session adds to every
// NBIRTH by name alone (the spec forbids it an alias there); an NCMD that
// names alias 1 (as agents before 0.2 advertised it) is still a rebirth
// request. The catalog's metrics start at 2.
inline constexpr uint64_t kRebirthAlias = 1;
inline constexpr uint64_t kFirstMetricAlias = 2;

// A metric's unit: one of the few texts units are, kept once for the whole
// process (thousands of SNMP metrics share "B", "bit/s" and "%"); an entry
// holds its 2-byte number, not a std::string of its own. Reads as a const
// std::string&. The texts come from the config and the drivers: a few dozen.
class Unit {
 public:
  Unit() = default;
  // The unit `text`, kept from now on (thread-safe). Past 65,535 distinct
  // texts a unit is none (said once in the log).
  static Unit of(std::string_view text);
  const std::string& str() const;
  operator const std::string&() const { return str(); }
  bool empty() const { return index_ == 0; }
  friend bool operator==(const Unit& a, std::string_view b) { return a.str() == b; }
  friend std::ostream& operator<<(std::ostream& o, const Unit& u) { return o << u.str(); }

 private:
  explicit Unit(uint16_t index) : index_(index) {}
  uint16_t index_ = 0;  // 0: none
};

// A metric's name, in the catalog's pool of names (chunks filled in order,
// never moved): no heap block of its own per name. Reads as a string_view;
// valid as long as the catalog.
class MetricName {
 public:
  std::string_view view() const { return {data_, size_}; }
  operator std::string_view() const { return view(); }
  const char* data() const { return data_; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  friend bool operator==(const MetricName& a, std::string_view b) { return a.view() == b; }
  friend std::ostream& operator<<(std::ostream& o, const MetricName& n) { return o << n.view(); }

 private:
  friend class Catalog;
  char* data_ = nullptr;
  uint32_t size_ = 0;
  uint32_t capacity_ = 0;  // what the slot's next name may reuse
};

// 80 bytes (64-bit): a device's thousands of metrics are mostly this (members ordered
// so that none pads).
struct CatalogEntry {
  Value value;  // latest value (monostate until measured)
  MetricName name;
  int64_t ts_ms = 0;  // when it was captured
  DataType type;
  uint32_t alias;  // unique across the node and all its devices
  DeviceId owner = kNode;
  Unit unit;
  // No source publishes it since a reload: left out of births, and back (with
  // the same alias) when a source declares it again.
  bool retired = false;
  // A command a host may send (Node Control/..., Device Control/...): in its
  // owner's birth with its datatype, declared by the agent itself, so a
  // reload never retires it (session/commands.hpp).
  bool control = false;
};

class Catalog final : public drivers::MetricSink {
 public:
  Catalog();
  // Entries point at the names in names_, and the pool's fill level belongs
  // to its chunks: neither copied nor moved (a moved-from catalog would
  // write into a chunk it no longer has).
  Catalog(const Catalog&) = delete;
  Catalog& operator=(const Catalog&) = delete;
  Catalog(Catalog&&) = delete;
  Catalog& operator=(Catalog&&) = delete;

  // A node metric (MetricSink).
  MetricId declare(std::string_view name, MetricType type, std::string_view unit) override;
  // A metric of `owner`: names are per owner (two switches both have
  // Interfaces/1/Rx Bytes); aliases are unique across all of them.
  MetricId declare(DeviceId owner, std::string_view name, MetricType type, std::string_view unit);
  void put(MetricId id, Value value) override;
  // A command of `owner` (CatalogEntry::control), with the value its birth
  // shows (`initial`, not reported as a change). Idempotent.
  MetricId declare_control(DeviceId owner, std::string_view name, MetricType type,
                           std::string_view unit, Value initial);

  // The capture time stamped on values put from now on.
  void set_time(int64_t ts_ms) { now_ms_ = ts_ms; }

  // Metrics whose value changed since clear_changed() (report by exception).
  const std::vector<MetricId>& changed() const { return changed_; }
  void clear_changed();

  std::optional<MetricId> find(std::string_view name) const { return find(kNode, name); }
  std::optional<MetricId> find(DeviceId owner, std::string_view name) const;
  // The metric of `owner` that has `alias` in its births (none when retired).
  std::optional<MetricId> find_alias(DeviceId owner, uint64_t alias) const;
  const CatalogEntry& at(MetricId id) const { return entries_[id]; }
  size_t size() const { return entries_.size(); }
  // Increases whenever the metric set of `owner` changes: a metric declared
  // for the first time, brought back, or retired.
  uint64_t generation(DeviceId owner = kNode) const { return owners_[owner].generation; }
  // Increases only when the set grows (a metric declared for the first time,
  // or a retired one brought back): a birth that lacks a metric. A change of
  // generation without one of additions means metrics were only retired.
  uint64_t additions(DeviceId owner = kNode) const { return owners_[owner].additions; }

  // A reload (SIGHUP) that changes the sources: mark every metric of `owner`
  // unseen, let the new sources declare theirs (and take their first values),
  // then retire the ones none declared (commands, which the agent declares,
  // stay). Both bump the generation when the
  // metric set changed, so the session rebirths once with the new set. The
  // node does both within the reload; a device between the reload and its
  // first answered poll under the new config (devices/device_runner.cpp).
  void mark_unseen(DeviceId owner);
  size_t retire_unseen(DeviceId owner);

  // Keeps at most `n` retired metrics of `owner` (default: every one): past
  // that, the longest retired are forgotten (no longer found by name, their
  // value freed) and their slot (alias, name buffer, index node) goes to the
  // next new metric of the same owner. A device that renumbers its
  // interfaces forever then costs its published metrics and `n` more, not
  // every name it ever had, and its churn allocates nothing. A forgotten
  // metric that comes back is a new metric (a new alias, a rebirth).
  void set_retired_limit(DeviceId owner, size_t n);
  // Retired metrics `owner` keeps (their aliases wait for their return).
  size_t retired_count(DeviceId owner) const { return owners_[owner].retired.size(); }

  // Devices: a Sparkplug device_id each, offline until set_online(true).
  DeviceId add_device(std::string_view name);  // idempotent
  std::optional<DeviceId> find_device(std::string_view name) const;
  // Owners, the node included: device ids are 1 .. owner_count() - 1.
  size_t owner_count() const { return owners_.size(); }
  const std::string& device_name(DeviceId d) const { return owners_[d].name; }
  bool online(DeviceId d) const { return owners_[d].online; }
  void set_online(DeviceId d, bool online) { owners_[d].online = online; }
  // Number of metrics `owner` has (retired ones not counted).
  size_t metric_count(DeviceId owner) const { return owners_[owner].metrics; }

 private:
  struct Owner {
    std::string name;  // "" for the node
    bool online = true;
    uint64_t generation = 0;
    uint64_t additions = 0;
    size_t metrics = 0;
    // Its metrics by name: an open-addressed hash table of ids (kFree where
    // none), the names themselves only in the entries. A device's thousands
    // of table rows cost 4 to 8 bytes each here, not a tree node and a
    // second copy of the name.
    std::vector<MetricId> by_name;
    size_t indexed = 0;  // ids in by_name
    size_t retired_limit = SIZE_MAX;
    std::vector<MetricId> retired;  // kept retired metrics, the longest retired first
    std::vector<MetricId> free;     // slots of forgotten metrics, for its next new ones
  };
  static constexpr MetricId kFree = UINT32_MAX;
  // The slot of `name` in o.by_name: its id, or the kFree slot it would take.
  size_t slot_of(const Owner& o, std::string_view name) const;
  void index(Owner& o, MetricId id);
  void unindex(Owner& o, MetricId id);
  void forget_excess(Owner& o);
  // Gives `n` the text `name`, in its own room when it fits (a forgotten
  // metric's slot), else in the pool.
  void assign_name(MetricName& n, std::string_view name);
  std::vector<CatalogEntry> entries_;
  // The pool of names: chunks of kNameChunk bytes, filled in order; a name
  // longer than a quarter of one has a block of its own.
  static constexpr size_t kNameChunk = 16 * 1024;
  std::vector<std::unique_ptr<char[]>> names_;
  size_t name_chunk_used_ = kNameChunk;  // in names_.back()
  std::vector<std::unique_ptr<char[]>> long_names_;
  std::vector<Owner> owners_;
  std::vector<MetricId> changed_;
  std::vector<bool> is_changed_;
  std::vector<bool> seen_;  // declared since mark_unseen()
  int64_t now_ms_ = 0;
};

// The MetricSink of one device: what a device poller declares and puts lands
// under that device in the catalog.
class DeviceSink final : public drivers::MetricSink {
 public:
  DeviceSink(Catalog& catalog, DeviceId device) : catalog_(catalog), device_(device) {}
  MetricId declare(std::string_view name, MetricType type, std::string_view unit) override {
    return catalog_.declare(device_, name, type, unit);
  }
  void put(MetricId id, Value value) override { catalog_.put(id, std::move(value)); }

 private:
  Catalog& catalog_;
  DeviceId device_;
};

}  // namespace classroom
