// The SNMP profiles written as tables (the config's [[snmp.profiles]] and the
// built-in ones in profiles.toml): scalars and table columns that become a
// device's metrics, with the interfaces profile's rules for what comes from
// the device (labels as interface names, counters with their wraps and
// resets, rows retired after a few polls, every table bounded). Pure, as
// snmp_model: no network, tested on variable bindings.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "config.hpp"
#include "driver.hpp"
#include "snmp_model.hpp"

namespace classroom::drivers::snmp {

enum class ValueType { uint64, int64, float32, float64, boolean, string };

// Per row, a factor chosen by the value of another column of the row
// (ENTITY-SENSOR-MIB's scale and precision, MIKROTIK-MIB's gauge unit).
struct ScaleBy {
  Oid oid;
  std::vector<std::pair<int64_t, double>> factors;
};

// One OBJECT-TYPE: a scalar (its OID ends in .0 or an instance), or a column.
struct ObjectSpec {
  std::string name;  // a scalar's metric name; a column's last name part
  Oid oid;
  ValueType type = ValueType::uint64;
  std::string unit;
  double scale = 1.0;
  bool counter = false;                 // a rate ("<name> Rate", <unit>/s) beside the total
  std::vector<int64_t> true_values{1};  // Boolean: the values that mean true
  std::string sum;                      // a column: the sum of its rows, under this name
  std::vector<ScaleBy> scale_by;
};

struct TableSpec {
  std::string name;          // "<name>/<row label>/<column name>"
  Oid label_oid;             // a column (of this table or one with the same index) naming each row
  uint32_t label_index = 0;  // or that part of the row's index (1: the first); 0: the index
  size_t max_rows = 64;      // rows read and published at most
  std::string count;         // set: the rows are counted per label ("<name>/<label>/<count>")
  size_t max_labels = 64;    // with count: labels published at most
  std::vector<ObjectSpec> columns;
};

struct ProfileSpec {
  std::string name;
  std::vector<ObjectSpec> scalars;
  std::vector<TableSpec> tables;
  uint32_t enterprise = 0;      // "auto": a device whose sysObjectID is under 1.3.6.1.4.1.<this>
  bool auto_if_served = false;  // "auto": a device that answers any of its OIDs
};

// A profile as devices hold it: one copy, whatever the number of devices
// that poll it (the built-in profiles under twenty devices' "auto").
using SharedSpec = std::shared_ptr<const ProfileSpec>;

// A profile of the config (or the built-in ones) as the model reads it.
ProfileSpec profile_spec(const config::SnmpProfile& profile);

// SNMPv2-MIB sysObjectID.0: the vendor's OID of the device, read by "auto".
inline const Oid kSysObjectId{1, 3, 6, 1, 2, 1, 1, 2, 0};

// What "auto" picks from a device's first answer (`vars`, of a poll that
// asked sysObjectID and every candidate's OIDs): the candidates of its
// enterprise, and those it answers any OID of, in order, never one that
// `clashes` (per candidate: the earlier ones it would publish a name of) with
// one picked before. `why` says what was read and picked, for the log.
std::vector<size_t> choose_auto(const std::vector<ProfileSpec>& candidates,
                                const std::vector<std::vector<size_t>>& clashes,
                                const std::vector<VarBind>& vars, std::string& why);
std::vector<size_t> choose_auto(const std::vector<SharedSpec>& candidates,
                                const std::vector<std::vector<size_t>>& clashes,
                                const std::vector<VarBind>& vars, std::string& why);

// A label column often lives in another table than the rows it names
// (ifName, entPhysicalName): it is walked this far (or max_rows, if more).
constexpr size_t kLabelRows = 1024;

// The most metrics a profile can publish at once: its share of the DBIRTH.
size_t max_metrics_of(const ProfileSpec& profile);
// The same for the profiles written in code.
size_t max_metrics_of(const Profiles& profiles, size_t max_interfaces);

// Adds what `profile` asks to `plan`: its scalars to the GET, its columns to
// the walk, each column read one row past max_rows (to tell that there are
// more). A column already there keeps the larger limit.
void add_to_plan(const ProfileSpec& profile, PollPlan& plan);

// One device's state for its profiles written as tables, across polls.
class ProfileModel {
 public:
  explicit ProfileModel(std::vector<SharedSpec> profiles);
  explicit ProfileModel(std::vector<ProfileSpec> profiles);

  // Applies one answered poll taken at `now_ms`; `restart`: the device
  // rebooted (counters start again). What was skipped goes to `warning`.
  void apply(const std::vector<VarBind>& vars, int64_t now_ms, bool restart, MetricSink& sink,
             std::string& warning);
  // True when the last poll retired rows (gone for kRetireAfter polls);
  // declare_all() then names what is still published.
  bool retired() const { return retired_; }
  void declare_all(MetricSink& sink);
  // The OIDs the last poll found no value at: "OID (metric name)", in the
  // profiles' order (for `once`, where a technician writes a profile).
  const std::vector<std::string>& not_served() const { return not_served_; }
  // "" or what `status` says of rows and labels past their limits.
  const std::string& over_limit() const { return over_limit_; }
  size_t size() const { return profiles_.size(); }

  static constexpr int kRetireAfter = DeviceModel::kRetireAfter;
  static constexpr size_t kNamesPerRow = DeviceModel::kNamesPerInterface;

 private:
  // The metrics of one value: 8 bytes, its counter's state apart (Rate),
  // only where the spec says counter.
  struct Cell {
    MetricId id = 0, rate = 0;
  };
  struct Rate {
    Counter counter;
    int64_t last_ms = 0;
  };
  struct Row {
    std::string label;
    std::vector<Cell> cells;  // per column
    std::vector<Rate> rates;  // per counter column, in column order
    int absent = 0;
  };
  struct Group {  // a label of a counted table
    MetricId id = 0;
    int absent = 0;
  };
  struct Table {
    std::map<Oid, Row> rows;  // by index
    std::map<std::string, Group> groups;
    // Every label published since the start: hashes, sorted (as
    // DeviceModel's interface names), not the names again.
    std::vector<uint64_t> names_ever;
    std::vector<MetricId> sums;  // per column; 0 where it has none
    std::vector<bool> has_sum;
  };
  struct Profile {
    SharedSpec spec;
    std::vector<Cell> scalars;
    std::vector<Rate> rates;  // per counter scalar, in order
    std::vector<Table> tables;
    bool declared = false;
  };
  // What one poll skipped, said in the warning.
  struct Problems {
    size_t wrong = 0, unscaled = 0, duplicates = 0;
    std::string wrong_example, unscaled_example;
    std::vector<std::string> limits;  // rows, labels past their limits
  };

  void declare_fixed(Profile& p, MetricSink& sink);
  void declare_row(const TableSpec& spec, Row& row, MetricSink& sink);
  void put(const Cell& cell, Rate* rate, const ObjectSpec& spec, const SnmpValue& v, double factor,
           int64_t now_ms, MetricSink& sink, Problems& problems, const Oid& oid);
  // Whether `label` was ever published in `t` (by its hash); note_name
  // adds it.
  static bool known_name(Table& t, std::string_view label);
  static void note_name(Table& t, std::string_view label);
  void apply_table(const TableSpec& spec, Table& t, const std::vector<VarBind>& vars,
                   int64_t now_ms, MetricSink& sink, Problems& problems, bool& served);
  void apply_count(const TableSpec& spec, Table& t, const std::vector<VarBind>& vars,
                   MetricSink& sink, Problems& problems, bool& served);

  std::vector<Profile> profiles_;
  bool retired_ = false;
  std::vector<std::string> not_served_;
  std::string over_limit_;
};

}  // namespace classroom::drivers::snmp
