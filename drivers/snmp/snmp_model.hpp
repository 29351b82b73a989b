// What an SNMP agent's answers mean: the OIDs each profile asks for, and the
// pure code that turns one poll's variable bindings into a device's metrics
// (counters, rates, wraps, reboots). No network and no net-snmp here: tested
// on fixtures.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "driver.hpp"

namespace classroom::drivers::snmp {

using Oid = std::vector<uint32_t>;

struct SnmpValue {
  enum class Type {
    integer,
    counter32,
    gauge32,
    timeticks,
    counter64,
    octets,
    object_id,  // s: dotted text
    other,
    missing
  };
  Type type = Type::missing;
  int64_t i = 0;   // integer
  uint64_t u = 0;  // counter32, gauge32, timeticks, counter64
  std::string s;   // octets
};

struct VarBind {
  Oid oid;
  SnmpValue value;
};

// True for a number: INTEGER, Counter32, Gauge32, TimeTicks, Counter64.
bool is_number(const SnmpValue& v);
// Its value; a negative INTEGER is 0 unsigned.
uint64_t as_unsigned(const SnmpValue& v);
int64_t as_signed(const SnmpValue& v);

struct Profiles {
  bool system = true, interfaces = true, host = false, ups = false;
};

// What one poll asks: scalars to GET (one request) and table columns to walk
// (GETBULK, all columns side by side), each at most `max_rows` rows (0: all),
// so that a device with thousands of interfaces costs what the published
// ones need.
struct PollPlan {
  std::vector<Oid> gets;
  std::vector<Oid> columns;
  size_t max_rows = 0;
  // Per column, where set (the profiles written as tables, snmp_profile.hpp):
  // its own limit instead of max_rows (0: all).
  std::vector<size_t> column_rows;
  size_t rows_of(size_t column) const {
    return column < column_rows.size() ? column_rows[column] : max_rows;
  }
};
// `max_interfaces` 0: every row.
PollPlan plan_for(const Profiles& profiles, size_t max_interfaces = 0);

// "1.3.6.1.2.1.1.3.0" -> Oid; empty on a malformed text.
Oid parse_oid(std::string_view text);
std::string format_oid(const Oid& oid);
// True when `oid` lies strictly below `root`.
bool oid_below(const Oid& oid, const Oid& root);

// Device text (sysName, sysDescr, ifName) made safe to publish and log: the
// escaper's metric_text policy (text::Policy), at most `max` bytes.
std::string sanitize_text(std::string_view text, size_t max);

// A metric name component from device text (a row's label): `text` when it
// is 1 to 64 bytes of printable ASCII without + and # and without blanks at
// either end, with '/' made '_' (one level of the metric tree); else `fallback`.
std::string metric_label(std::string_view text, std::string_view fallback);

// The metric name component for an interface: its ifName (or ifDescr), or
// "if<ifIndex>" when that is empty, longer than 64 bytes or holds anything
// but printable ASCII without + and #; '/' becomes '_' (Gi1/0/1 -> Gi1_0_1),
// so that the name stays one level of the metric tree.
std::string interface_name(std::string_view if_name, uint32_t if_index);

// fnmatch-style globs (* ? [..]) on interface names.
bool interface_selected(std::string_view name, const std::vector<std::string>& include,
                        const std::vector<std::string>& exclude);

// A counter as published: a 64-bit HC counter as it is; a 32-bit one extended
// past its wrap (2^32) by the agent. A rate needs two readings. A counter that
// goes back is a reset (the total restarts from the device's value, no delta):
// always for 64 bits; for 32 bits when the wrap would mean more than
// `max_delta`, what the link could carry since the last reading.
class Counter {
 public:
  // The largest increase taken for a wrap where the link's speed is unknown.
  static constexpr uint64_t kUnknownMaxDelta = uint64_t{1} << 31;
  // Takes a reading; `bits` 32 or 64. Returns the published total.
  uint64_t update(uint64_t raw, int bits, uint64_t max_delta = kUnknownMaxDelta);
  // Forgets the last reading (a device reboot restarts the counters).
  void reset() { have_ = false; }
  // Increase since the reading before, valid after the second update.
  bool has_delta() const { return has_delta_; }
  uint64_t delta() const { return delta_; }

 private:
  // 32 bytes (six of them per interface, one per counter column of a row).
  uint64_t raw_ = 0, total_ = 0, delta_ = 0;
  int bits_ = 0;
  bool have_ = false, has_delta_ = false;
};

struct ModelOptions {
  Profiles profiles;
  std::vector<std::string> include, exclude;
  size_t max_interfaces = 64;  // published at most; the rest named in over_limit()
};

// One device's state across polls.
class DeviceModel {
 public:
  explicit DeviceModel(ModelOptions options) : opt_(std::move(options)) {}

  // Applies one answered poll taken at `now_ms` to `sink`; declares metrics the
  // first time they appear (a new interface: a new name, hence a rebirth).
  CollectResult apply(const std::vector<VarBind>& vars, int64_t now_ms, MetricSink& sink);

  // For the log: what the device says it is (sanitized).
  const std::string& sys_name() const { return sys_name_; }
  // Interfaces published (present, or gone for fewer than kRetireAfter polls).
  size_t interface_count() const { return interfaces_.size(); }
  // True when the last poll saw sysUpTime go back (the device rebooted).
  bool rebooted() const { return rebooted_; }

  // An interface missing from this many polls in a row is retired: its
  // metrics leave the device's birth (aliases kept: it may come back).
  static constexpr int kRetireAfter = 3;
  // Distinct interface names published since the start, at most this many
  // times max_interfaces: a device that renumbers unnamed interfaces forever
  // stops there instead of a rebirth every few polls.
  static constexpr size_t kNamesPerInterface = 4;
  // Metrics declared per interface.
  static constexpr size_t kMetricsPerInterface = 10;
  // Retired metrics the catalog keeps for a device (Catalog::set_retired_limit):
  // those of a quarter of max_interfaces retired interfaces, at least 4, so
  // that the last ones to go come back under their aliases, while memory stays
  // what the published interfaces need.
  static size_t retired_metrics_kept(size_t max_interfaces) {
    return kMetricsPerInterface * std::max<size_t>(4, max_interfaces / 4);
  }
  // True when the last poll retired interfaces; declare_all() then names
  // what the device still publishes, so that the catalog retires the rest.
  bool retired() const { return retired_; }
  void declare_all(MetricSink& sink);
  // "" or what the log and status say of the interfaces not published for
  // max_interfaces; it changes only when their number does.
  const std::string& over_limit() const { return over_limit_; }

 private:
  // An octet counter (Rx or Tx Bytes) and what its rate needs.
  struct Octets {
    Counter counter;
    // 32 or 64, chosen at the first reading and kept until the device
    // reboots: a device whose HC counters answer on some polls only must not
    // switch Rx Bytes between two series.
    int bits = 0;
    int64_t last_ms = 0;  // when it was last read
  };
  struct Interface {
    std::string name;
    MetricId rx_bytes, tx_bytes, rx_rate, tx_rate, rx_errors, tx_errors, rx_discards, tx_discards,
        oper_up, speed;
    Octets rx, tx;
    Counter rx_err, tx_err, rx_disc, tx_disc;
    int absent = 0;  // polls in a row without it
  };
  void declare_fixed(MetricSink& sink);
  static void declare(Interface& f, MetricSink& sink);
  void age(const std::map<uint32_t, bool>& rows);
  Interface* add_interface(uint32_t index, std::string name, std::map<std::string, uint32_t>& taken,
                           MetricSink& sink);
  void note_over_limit(size_t beyond, const std::vector<std::string>& names);
  void apply_interfaces(const std::vector<VarBind>& vars, int64_t now_ms, MetricSink& sink,
                        bool restart, std::string& warning);
  void apply_host(const std::vector<VarBind>& vars, MetricSink& sink, std::string& warning);
  void apply_ups(const std::vector<VarBind>& vars, MetricSink& sink, std::string& warning);

  ModelOptions opt_;
  bool declared_ = false;
  MetricId uptime_ = 0, name_ = 0, descr_ = 0;
  MetricId cpu_ = 0, memory_ = 0;
  MetricId on_battery_ = 0, charge_ = 0, runtime_ = 0, voltage_ = 0, load_ = 0;
  bool have_uptime_ = false;
  uint64_t last_uptime_ = 0;
  bool rebooted_ = false;
  std::string sys_name_;
  std::map<uint32_t, Interface> interfaces_;  // by ifIndex
  // Nodes of retired interfaces, reused by new ones (at most max_interfaces).
  std::vector<std::map<uint32_t, Interface>::node_type> spare_;
  std::vector<uint64_t> names_ever_;  // every interface name declared: hashes, sorted
  bool retired_ = false;
  size_t over_count_ = 0;
  std::string over_limit_;
};

}  // namespace classroom::drivers::snmp
