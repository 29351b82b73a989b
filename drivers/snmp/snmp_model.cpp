#include "snmp_model.hpp"

#include <fnmatch.h>
#include <optional>

#include "config.hpp"
#include "printable.hpp"

namespace classroom::drivers::snmp {
namespace {

// SNMPv2-MIB system group (scalars, .0 instances).
const Oid kSysDescr{1, 3, 6, 1, 2, 1, 1, 1, 0};
const Oid kSysUpTime{1, 3, 6, 1, 2, 1, 1, 3, 0};
const Oid kSysName{1, 3, 6, 1, 2, 1, 1, 5, 0};
// IF-MIB: ifNumber, then ifTable and ifXTable columns, indexed by ifIndex.
const Oid kIfNumber{1, 3, 6, 1, 2, 1, 2, 1, 0};
const Oid kIfDescr{1, 3, 6, 1, 2, 1, 2, 2, 1, 2};
const Oid kIfSpeed{1, 3, 6, 1, 2, 1, 2, 2, 1, 5};
const Oid kIfOperStatus{1, 3, 6, 1, 2, 1, 2, 2, 1, 8};
const Oid kIfInOctets{1, 3, 6, 1, 2, 1, 2, 2, 1, 10};
const Oid kIfInDiscards{1, 3, 6, 1, 2, 1, 2, 2, 1, 13};
const Oid kIfInErrors{1, 3, 6, 1, 2, 1, 2, 2, 1, 14};
const Oid kIfOutOctets{1, 3, 6, 1, 2, 1, 2, 2, 1, 16};
const Oid kIfOutDiscards{1, 3, 6, 1, 2, 1, 2, 2, 1, 19};
const Oid kIfOutErrors{1, 3, 6, 1, 2, 1, 2, 2, 1, 20};
const Oid kIfName{1, 3, 6, 1, 2, 1, 31, 1, 1, 1, 1};
const Oid kIfHCInOctets{1, 3, 6, 1, 2, 1, 31, 1, 1, 1, 6};
const Oid kIfHCOutOctets{1, 3, 6, 1, 2, 1, 31, 1, 1, 1, 10};
const Oid kIfHighSpeed{1, 3, 6, 1, 2, 1, 31, 1, 1, 1, 15};
// HOST-RESOURCES-MIB.
const Oid kHrProcessorLoad{1, 3, 6, 1, 2, 1, 25, 3, 3, 1, 2};
const Oid kHrStorageType{1, 3, 6, 1, 2, 1, 25, 2, 3, 1, 2};
const Oid kHrStorageUnits{1, 3, 6, 1, 2, 1, 25, 2, 3, 1, 4};
const Oid kHrStorageSize{1, 3, 6, 1, 2, 1, 25, 2, 3, 1, 5};
const Oid kHrStorageUsed{1, 3, 6, 1, 2, 1, 25, 2, 3, 1, 6};
const Oid kHrStorageRam{1, 3, 6, 1, 2, 1, 25, 2, 1, 2};
// UPS-MIB (RFC 1628).
const Oid kUpsMinutesRemaining{1, 3, 6, 1, 2, 1, 33, 1, 2, 3, 0};
const Oid kUpsChargeRemaining{1, 3, 6, 1, 2, 1, 33, 1, 2, 4, 0};
const Oid kUpsOutputSource{1, 3, 6, 1, 2, 1, 33, 1, 4, 1, 0};
const Oid kUpsInputVoltage{1, 3, 6, 1, 2, 1, 33, 1, 3, 3, 1, 3};
const Oid kUpsOutputPercentLoad{1, 3, 6, 1, 2, 1, 33, 1, 4, 4, 1, 5};
constexpr int64_t kUpsSourceBattery = 5;

// The value of a scalar in the poll, or nullptr.
const SnmpValue* scalar(const std::vector<VarBind>& vars, const Oid& oid) {
  for (const VarBind& v : vars)
    if (v.oid == oid && v.value.type != SnmpValue::Type::missing) return &v.value;
  return nullptr;
}

// The single-sub-identifier row index of `oid` under column `root`.
std::optional<uint32_t> row_of(const Oid& oid, const Oid& root) {
  if (oid.size() != root.size() + 1) return std::nullopt;
  for (size_t i = 0; i < root.size(); ++i)
    if (oid[i] != root[i]) return std::nullopt;
  return oid.back();
}

// A whole column, by row index.
std::map<uint32_t, const SnmpValue*> column(const std::vector<VarBind>& vars, const Oid& root) {
  std::map<uint32_t, const SnmpValue*> out;
  for (const VarBind& v : vars)
    if (v.value.type != SnmpValue::Type::missing)
      if (auto row = row_of(v.oid, root)) out[*row] = &v.value;
  return out;
}

// A link's speed in bit/s: ifHighSpeed (Mbit/s) where it is set, else
// ifSpeed; 0 when unknown.
uint64_t link_speed(const SnmpValue* high_speed, const SnmpValue* speed) {
  if (high_speed && as_unsigned(*high_speed) > 0) return as_unsigned(*high_speed) * 1'000'000;
  return speed ? as_unsigned(*speed) : 0;
}

// The most octets a link of `bps` can carry in `dt` seconds, twice over: the
// device's clock and ours do not tick together.
uint64_t max_octets(uint64_t bps, double dt) {
  if (bps == 0 || dt <= 0) return Counter::kUnknownMaxDelta;
  return static_cast<uint64_t>(static_cast<double>(bps) / 8.0 * dt * 2.0);
}

}  // namespace

bool is_number(const SnmpValue& v) {
  using T = SnmpValue::Type;
  return v.type == T::integer || v.type == T::counter32 || v.type == T::gauge32 ||
         v.type == T::timeticks || v.type == T::counter64;
}
uint64_t as_unsigned(const SnmpValue& v) {
  if (v.type == SnmpValue::Type::integer) return v.i < 0 ? 0 : static_cast<uint64_t>(v.i);
  return v.u;
}
int64_t as_signed(const SnmpValue& v) {
  if (v.type == SnmpValue::Type::integer) return v.i;
  return static_cast<int64_t>(v.u);
}

PollPlan plan_for(const Profiles& p, size_t max_interfaces) {
  PollPlan plan;
  // Twice the published interfaces: room for renamed, renumbered and
  // excluded ones, while the names beyond the limit can still be told.
  plan.max_rows = 2 * max_interfaces;
  plan.gets.push_back(kSysUpTime);  // always: a reboot restarts the counters
  if (p.system) {
    plan.gets.push_back(kSysName);
    plan.gets.push_back(kSysDescr);
  }
  if (p.interfaces) {
    plan.gets.push_back(kIfNumber);  // how many there are, walked or not
    for (const Oid* o : {&kIfName, &kIfDescr, &kIfOperStatus, &kIfSpeed, &kIfHighSpeed,
                         &kIfHCInOctets, &kIfHCOutOctets, &kIfInOctets, &kIfOutOctets, &kIfInErrors,
                         &kIfOutErrors, &kIfInDiscards, &kIfOutDiscards})
      plan.columns.push_back(*o);
  }
  if (p.host) {
    for (const Oid* o :
         {&kHrProcessorLoad, &kHrStorageType, &kHrStorageUnits, &kHrStorageSize, &kHrStorageUsed})
      plan.columns.push_back(*o);
  }
  if (p.ups) {
    plan.gets.push_back(kUpsOutputSource);
    plan.gets.push_back(kUpsChargeRemaining);
    plan.gets.push_back(kUpsMinutesRemaining);
    plan.columns.push_back(kUpsInputVoltage);
    plan.columns.push_back(kUpsOutputPercentLoad);
  }
  return plan;
}

Oid parse_oid(std::string_view text) {
  return config::parse_oid(text);
}

std::string format_oid(const Oid& oid) {
  std::string s;
  for (uint32_t n : oid) s += (s.empty() ? "" : ".") + std::to_string(n);
  return s;
}

bool oid_below(const Oid& oid, const Oid& root) {
  if (oid.size() <= root.size()) return false;
  for (size_t i = 0; i < root.size(); ++i)
    if (oid[i] != root[i]) return false;
  return true;
}

std::string sanitize_text(std::string_view text, size_t max) {
  return text::printable(text, max, text::Policy::metric_text);
}

std::string metric_label(std::string_view text, std::string_view fallback) {
  bool ok = !text.empty() && text.size() <= 64;
  for (char c : text) ok = ok && c >= 0x20 && c < 0x7f && c != '+' && c != '#';
  // Leading or trailing blanks would make names that look alike.
  if (!ok || text.front() == ' ' || text.back() == ' ') return std::string(fallback);
  std::string name(text);
  for (char& c : name)
    if (c == '/') c = '_';
  return name;
}

std::string interface_name(std::string_view if_name, uint32_t if_index) {
  return metric_label(if_name, "if" + std::to_string(if_index));
}

bool interface_selected(std::string_view name, const std::vector<std::string>& include,
                        const std::vector<std::string>& exclude) {
  const std::string n(name);
  auto matches = [&](const std::vector<std::string>& globs) {
    for (const std::string& g : globs)
      if (fnmatch(g.c_str(), n.c_str(), 0) == 0) return true;
    return false;
  };
  if (!include.empty() && !matches(include)) return false;
  return !matches(exclude);
}

uint64_t Counter::update(uint64_t raw, int bits, uint64_t max_delta) {
  has_delta_ = false;
  if (!have_ || bits != bits_) {
    total_ = raw;
  } else if (raw >= raw_) {
    delta_ = raw - raw_;
    total_ += delta_;
    has_delta_ = true;
  } else if (bits == 32 && (uint64_t{1} << 32) - raw_ + raw <= max_delta) {
    // A 32-bit counter wrapped (once: an interval must be shorter than a wrap).
    delta_ = (uint64_t{1} << 32) - raw_ + raw;
    total_ += delta_;
    has_delta_ = true;
  } else {
    // Reset, not a wrap: a 64-bit counter that went back, or a 32-bit one
    // whose wrap would be more than the link could have carried.
    total_ = raw;
  }
  have_ = true;
  raw_ = raw;
  bits_ = bits;
  return total_;
}

void DeviceModel::declare_fixed(MetricSink& sink) {
  const Profiles& p = opt_.profiles;
  if (p.system) {
    uptime_ = sink.declare("System/Uptime", DataType::Double, "s");
    name_ = sink.declare("System/Name", DataType::String, "");
    descr_ = sink.declare("System/Description", DataType::String, "");
  }
  if (p.host) {
    cpu_ = sink.declare("CPU/Usage", DataType::Float, "%");
    memory_ = sink.declare("Memory/Used", DataType::Float, "%");
  }
  if (p.ups) {
    on_battery_ = sink.declare("UPS/On Battery", DataType::Boolean, "");
    charge_ = sink.declare("UPS/Battery Charge", DataType::Float, "%");
    // UInt64, not UInt32: the reference codec reads UInt32 from long_value,
    // the spec from int_value; UInt64 is long_value for both.
    runtime_ = sink.declare("UPS/Runtime Remaining", DataType::UInt64, "s");
    voltage_ = sink.declare("UPS/Input Voltage", DataType::Float, "V");
    load_ = sink.declare("UPS/Load", DataType::Float, "%");
  }
}

void DeviceModel::declare(Interface& f, MetricSink& sink) {
  const std::string base = "Interfaces/" + f.name + "/";
  f.rx_bytes = sink.declare(base + "Rx Bytes", DataType::UInt64, "B");
  f.tx_bytes = sink.declare(base + "Tx Bytes", DataType::UInt64, "B");
  f.rx_rate = sink.declare(base + "Rx Rate", DataType::Double, "bit/s");
  f.tx_rate = sink.declare(base + "Tx Rate", DataType::Double, "bit/s");
  f.rx_errors = sink.declare(base + "Rx Errors", DataType::UInt64, "");
  f.tx_errors = sink.declare(base + "Tx Errors", DataType::UInt64, "");
  f.rx_discards = sink.declare(base + "Rx Discards", DataType::UInt64, "");
  f.tx_discards = sink.declare(base + "Tx Discards", DataType::UInt64, "");
  f.oper_up = sink.declare(base + "Oper Up", DataType::Boolean, "");
  f.speed = sink.declare(base + "Speed", DataType::UInt64, "Mbit/s");
}

void DeviceModel::declare_all(MetricSink& sink) {
  declare_fixed(sink);
  for (auto& [index, f] : interfaces_) declare(f, sink);
}

void DeviceModel::age(const std::map<uint32_t, bool>& rows) {
  retired_ = false;
  for (auto it = interfaces_.begin(); it != interfaces_.end();) {
    it->second.absent = rows.count(it->first) ? 0 : it->second.absent + 1;
    if (it->second.absent < kRetireAfter) {
      ++it;
      continue;
    }
    // Its node is kept for the next new interface: a device that renumbers
    // allocates nothing, so it leaves no pinned pages between the walks.
    auto next = std::next(it);
    spare_.push_back(interfaces_.extract(it));
    it = next;
    retired_ = true;
  }
}

// A new interface under `name`: one that went away and came back under a new
// ifIndex (renumbered) keeps its metrics; a new name is declared while
// max_interfaces allows. Null when it is not published.
DeviceModel::Interface* DeviceModel::add_interface(uint32_t index, std::string name,
                                                   std::map<std::string, uint32_t>& taken,
                                                   MetricSink& sink) {
  if (auto t = taken.find(name); t != taken.end()) {
    auto old = interfaces_.find(t->second);
    if (old != interfaces_.end() && old->second.absent > 0) {
      auto node = interfaces_.extract(old);
      node.key() = index;
      Interface& f = node.mapped();
      f.rx = f.tx = Octets{};  // another row: its counters are not the old ones
      for (Counter* c : {&f.rx_err, &f.tx_err, &f.rx_disc, &f.tx_disc}) c->reset();
      f.absent = 0;
      taken[name] = index;
      return &interfaces_.insert(std::move(node)).position->second;
    }
    name = "if" + std::to_string(index);  // two interfaces with one name
  }
  // A poll that retired interfaces declares none: the runner retires the old
  // ones in the catalog first, which gives their slots to the new ones at the
  // next poll, so a device that renumbers never holds both at once.
  if (retired_) return nullptr;
  // Names by their hash, in one block reserved once: nothing allocated per
  // new name (a collision would only let one more name in).
  const size_t cap = kNamesPerInterface * opt_.max_interfaces;
  if (names_ever_.capacity() == 0) names_ever_.reserve(std::min<size_t>(cap, 4096));
  const uint64_t hash = std::hash<std::string_view>{}(name);
  const auto at = std::lower_bound(names_ever_.begin(), names_ever_.end(), hash);
  const bool known = at != names_ever_.end() && *at == hash;
  if (interfaces_.size() >= opt_.max_interfaces || (!known && names_ever_.size() >= cap))
    return nullptr;
  if (!known) names_ever_.insert(at, hash);
  taken[name] = index;
  if (spare_.empty()) {
    Interface f;
    f.name = std::move(name);
    declare(f, sink);
    return &interfaces_.emplace(index, std::move(f)).first->second;
  }
  auto node = std::move(spare_.back());  // a retired interface's node and name buffer
  spare_.pop_back();
  node.key() = index;
  Interface& f = node.mapped();
  std::string buffer = std::move(f.name);
  f = Interface{};
  f.name = std::move(buffer);
  f.name.assign(name);
  declare(f, sink);
  return &interfaces_.insert(std::move(node)).position->second;
}

void DeviceModel::note_over_limit(size_t beyond, const std::vector<std::string>& names) {
  if (beyond == over_count_) return;
  over_count_ = beyond;
  over_limit_.clear();
  if (beyond == 0) return;
  over_limit_ = std::to_string(beyond) + " interface" + (beyond == 1 ? "" : "s") +
                " not published (max_interfaces = " + std::to_string(opt_.max_interfaces) + ")";
  for (size_t i = 0; i < names.size(); ++i) over_limit_ += (i ? ", " : ": ") + names[i];
  if (beyond > names.size()) over_limit_ += names.empty() ? "" : ", ...";
}

CollectResult DeviceModel::apply(const std::vector<VarBind>& vars, int64_t now_ms,
                                 MetricSink& sink) {
  const Profiles& p = opt_.profiles;
  if (!declared_) {
    declare_fixed(sink);
    declared_ = true;
  }
  std::string warning;
  rebooted_ = false;
  if (const SnmpValue* up = scalar(vars, kSysUpTime); up && is_number(*up)) {
    const uint64_t ticks = as_unsigned(*up);
    rebooted_ = have_uptime_ && ticks < last_uptime_;
    have_uptime_ = true;
    last_uptime_ = ticks;
    if (p.system) sink.put(uptime_, static_cast<double>(ticks) / 100.0);
  } else if (p.system) {
    warning = "no sysUpTime";
  }
  if (p.system) {
    if (const SnmpValue* v = scalar(vars, kSysName); v && v->type == SnmpValue::Type::octets) {
      sys_name_ = sanitize_text(v->s, 255);
      sink.put(name_, sys_name_);
    }
    if (const SnmpValue* v = scalar(vars, kSysDescr); v && v->type == SnmpValue::Type::octets)
      sink.put(descr_, sanitize_text(v->s, 255));
  }
  if (p.interfaces) apply_interfaces(vars, now_ms, sink, rebooted_, warning);
  if (p.host) apply_host(vars, sink, warning);
  if (p.ups) apply_ups(vars, sink, warning);
  CollectResult r;
  r.warning = std::move(warning);
  return r;
}

void DeviceModel::apply_interfaces(const std::vector<VarBind>& vars, int64_t now_ms,
                                   MetricSink& sink, bool restart, std::string& warning) {
  const auto names = column(vars, kIfName);
  const auto descrs = column(vars, kIfDescr);
  const auto oper = column(vars, kIfOperStatus);
  const auto speed = column(vars, kIfSpeed);
  const auto high_speed = column(vars, kIfHighSpeed);
  const auto hc_in = column(vars, kIfHCInOctets);
  const auto hc_out = column(vars, kIfHCOutOctets);
  const auto in = column(vars, kIfInOctets);
  const auto out = column(vars, kIfOutOctets);
  const auto in_err = column(vars, kIfInErrors);
  const auto out_err = column(vars, kIfOutErrors);
  const auto in_disc = column(vars, kIfInDiscards);
  const auto out_disc = column(vars, kIfOutDiscards);

  // Every row any column mentions.
  std::map<uint32_t, bool> rows;
  for (const auto* col : {&names, &descrs, &oper, &hc_in, &in})
    for (const auto& [index, value] : *col) rows[index] = true;
  age(rows);
  if (rows.empty()) {
    if (!warning.empty()) warning += "; ";
    warning += "no IF-MIB interfaces";
    return;
  }
  auto find = [](const std::map<uint32_t, const SnmpValue*>& col, uint32_t row) {
    auto it = col.find(row);
    return it != col.end() && is_number(*it->second) ? it->second : nullptr;
  };
  size_t width_gaps = 0;                  // octet counters missing in their width
  std::map<std::string, uint32_t> taken;  // name -> ifIndex, for duplicates
  for (const auto& [kv, iface] : interfaces_) taken[iface.name] = kv;
  size_t beyond = 0;  // selected, not published: max_interfaces
  std::vector<std::string> beyond_names;
  for (const auto& [index, unused] : rows) {
    (void)unused;
    auto it = interfaces_.find(index);
    Interface* fp = it == interfaces_.end() ? nullptr : &it->second;
    if (!fp) {
      std::string_view raw;
      if (auto n = names.find(index);
          n != names.end() && n->second->type == SnmpValue::Type::octets)
        raw = n->second->s;
      if (raw.empty())
        if (auto d = descrs.find(index);
            d != descrs.end() && d->second->type == SnmpValue::Type::octets)
          raw = d->second->s;
      std::string name = interface_name(raw, index);
      if (!interface_selected(raw, opt_.include, opt_.exclude) &&
          !interface_selected(name, opt_.include, opt_.exclude))
        continue;
      fp = add_interface(index, name, taken, sink);
      if (!fp) {
        if (retired_) continue;  // new ones wait for the next poll
        if (++beyond <= 3) beyond_names.push_back(std::move(name));
        continue;
      }
    }
    Interface& f = *fp;
    if (restart) {
      for (Counter* c : {&f.rx_err, &f.tx_err, &f.rx_disc, &f.tx_disc}) c->reset();
      f.rx = f.tx = Octets{};
    }
    const uint64_t bps = link_speed(find(high_speed, index), find(speed, index));
    auto octets = [&](Octets& o, const SnmpValue* hc, const SnmpValue* low, MetricId bytes,
                      MetricId rate) {
      if (o.bits == 0 && (hc || low)) o.bits = hc ? 64 : 32;
      const SnmpValue* v = o.bits == 64 ? hc : low;
      if (!v) {
        if (hc || low) ++width_gaps;
        return;
      }
      // Since this counter's last reading, which a skipped poll makes longer.
      const double dt = o.last_ms ? static_cast<double>(now_ms - o.last_ms) / 1000.0 : 0;
      sink.put(bytes, o.counter.update(as_unsigned(*v), o.bits, max_octets(bps, dt)));
      if (o.counter.has_delta() && dt > 0)
        sink.put(rate, static_cast<double>(o.counter.delta()) * 8.0 / dt);
      o.last_ms = now_ms;
    };
    octets(f.rx, find(hc_in, index), find(in, index), f.rx_bytes, f.rx_rate);
    octets(f.tx, find(hc_out, index), find(out, index), f.tx_bytes, f.tx_rate);
    auto counter = [&](Counter& c, const SnmpValue* v, MetricId id) {
      if (v) sink.put(id, c.update(as_unsigned(*v), 32));
    };
    counter(f.rx_err, find(in_err, index), f.rx_errors);
    counter(f.tx_err, find(out_err, index), f.tx_errors);
    counter(f.rx_disc, find(in_disc, index), f.rx_discards);
    counter(f.tx_disc, find(out_disc, index), f.tx_discards);
    if (const SnmpValue* v = find(oper, index)) sink.put(f.oper_up, as_signed(*v) == 1);
    if (bps > 0 || find(speed, index)) sink.put(f.speed, bps / 1'000'000);
  }
  // A walk cut at plan_for's max_rows: the rows past it (by ifNumber) count
  // as not published.
  if (const SnmpValue* n = scalar(vars, kIfNumber);
      n && is_number(*n) && rows.size() >= 2 * opt_.max_interfaces)
    if (const uint64_t all = as_unsigned(*n); all > rows.size()) beyond += all - rows.size();
  if (!retired_) note_over_limit(beyond, beyond_names);  // else: as counted at the poll before
  if (!over_limit_.empty()) {
    if (!warning.empty()) warning += "; ";
    warning += over_limit_;
  }
  if (width_gaps > 0) {
    if (!warning.empty()) warning += "; ";
    warning += std::to_string(width_gaps) +
               " octet counter(s) not answered in the width they started with (skipped)";
  }
}

void DeviceModel::apply_host(const std::vector<VarBind>& vars, MetricSink& sink,
                             std::string& warning) {
  const auto load = column(vars, kHrProcessorLoad);
  uint64_t sum = 0, n = 0;
  for (const auto& [row, v] : load)
    if (is_number(*v)) {
      sum += std::min<uint64_t>(as_unsigned(*v), 100);
      ++n;
    }
  if (n) sink.put(cpu_, static_cast<float>(static_cast<double>(sum) / static_cast<double>(n)));
  const auto type = column(vars, kHrStorageType);
  const auto units = column(vars, kHrStorageUnits);
  const auto size = column(vars, kHrStorageSize);
  const auto used = column(vars, kHrStorageUsed);
  bool memory = false;
  for (const auto& [row, t] : type) {
    // hrStorageType is an OID; the poller keeps it as its dotted text.
    if (t->type != SnmpValue::Type::object_id || parse_oid(t->s) != kHrStorageRam) continue;
    auto s = size.find(row);
    auto u = used.find(row);
    auto a = units.find(row);
    if (s == size.end() || u == used.end() || a == units.end()) continue;
    const uint64_t total = as_unsigned(*s->second);
    if (total == 0) continue;
    sink.put(memory_, static_cast<float>(100.0 * static_cast<double>(as_unsigned(*u->second)) /
                                         static_cast<double>(total)));
    memory = true;
    break;
  }
  if (!n || !memory) {
    if (!warning.empty()) warning += "; ";
    warning += !n && !memory ? "no HOST-RESOURCES-MIB answers"
               : !n          ? "no hrProcessorLoad"
                             : "no hrStorageRam row";
  }
}

void DeviceModel::apply_ups(const std::vector<VarBind>& vars, MetricSink& sink,
                            std::string& warning) {
  bool any = false;
  if (const SnmpValue* v = scalar(vars, kUpsOutputSource); v && is_number(*v)) {
    sink.put(on_battery_, as_signed(*v) == kUpsSourceBattery);
    any = true;
  }
  if (const SnmpValue* v = scalar(vars, kUpsChargeRemaining); v && is_number(*v)) {
    sink.put(charge_, static_cast<float>(as_unsigned(*v)));
    any = true;
  }
  if (const SnmpValue* v = scalar(vars, kUpsMinutesRemaining); v && is_number(*v)) {
    sink.put(runtime_, as_unsigned(*v) * 60);
    any = true;
  }
  // Input line 1 and output line 1 (a classroom UPS is single-phase).
  const auto voltage = column(vars, kUpsInputVoltage);
  if (!voltage.empty() && is_number(*voltage.begin()->second)) {
    sink.put(voltage_, static_cast<float>(as_unsigned(*voltage.begin()->second)));
    any = true;
  }
  const auto load = column(vars, kUpsOutputPercentLoad);
  if (!load.empty() && is_number(*load.begin()->second)) {
    sink.put(load_, static_cast<float>(as_unsigned(*load.begin()->second)));
    any = true;
  }
  if (!any) {
    if (!warning.empty()) warning += "; ";
    warning += "no UPS-MIB answers (not a UPS, or its agent lacks RFC 1628?)";
  }
}

}  // namespace classroom::drivers::snmp
