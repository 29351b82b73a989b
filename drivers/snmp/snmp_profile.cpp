#include "snmp_profile.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <limits>
#include <string_view>

namespace classroom::drivers::snmp {
namespace {

MetricType metric_type(ValueType t) {
  switch (t) {
    case ValueType::uint64:
      return DataType::UInt64;
    case ValueType::int64:
      return DataType::Int64;
    case ValueType::float32:
      return DataType::Float;
    case ValueType::float64:
      return DataType::Double;
    case ValueType::boolean:
      return DataType::Boolean;
    case ValueType::string:
      break;
  }
  return DataType::String;
}

const char* type_name(ValueType t) {
  switch (t) {
    case ValueType::uint64:
      return "UInt64";
    case ValueType::int64:
      return "Int64";
    case ValueType::float32:
      return "Float";
    case ValueType::float64:
      return "Double";
    case ValueType::boolean:
      return "Boolean";
    case ValueType::string:
      break;
  }
  return "String";
}

const char* snmp_type_name(SnmpValue::Type t) {
  using T = SnmpValue::Type;
  switch (t) {
    case T::integer:
      return "INTEGER";
    case T::counter32:
      return "Counter32";
    case T::gauge32:
      return "Gauge32";
    case T::timeticks:
      return "TimeTicks";
    case T::counter64:
      return "Counter64";
    case T::octets:
      return "OCTET STRING";
    case T::object_id:
      return "OBJECT IDENTIFIER";
    case T::other:
    case T::missing:
      break;
  }
  return "another type";
}

// A number as the device gave it: an SNMP number, or text that is one (some
// agents serve numbers as strings).
struct Number {
  bool ok = false;
  bool integral = false;  // u and i are exact
  bool negative = false;
  uint64_t u = 0;
  int64_t i = 0;
  double d = 0;
};

Number number_of(const SnmpValue& v) {
  Number n;
  if (v.type == SnmpValue::Type::integer) {
    n.ok = n.integral = true;
    n.i = v.i;
    n.negative = v.i < 0;
    n.u = n.negative ? 0 : static_cast<uint64_t>(v.i);
    n.d = static_cast<double>(v.i);
  } else if (is_number(v)) {
    n.ok = n.integral = true;
    n.u = v.u;
    n.i = static_cast<int64_t>(std::min<uint64_t>(v.u, std::numeric_limits<int64_t>::max()));
    n.d = static_cast<double>(v.u);
  } else if (v.type == SnmpValue::Type::octets && !v.s.empty() && v.s.size() <= 64) {
    std::string text = v.s;
    while (!text.empty() && (text.back() == ' ' || text.back() == '\n')) text.pop_back();
    char* end = nullptr;
    errno = 0;
    const double d = std::strtod(text.c_str(), &end);
    if (text.empty() || *end != '\0' || errno == ERANGE || !std::isfinite(d)) return n;
    n.ok = true;
    n.d = d;
    n.negative = d < 0;
  }
  return n;
}

uint64_t to_unsigned(double d) {
  if (!(d > 0)) return 0;
  if (d >= 18446744073709551615.0) return std::numeric_limits<uint64_t>::max();
  return static_cast<uint64_t>(std::round(d));
}

int64_t to_signed(double d) {
  if (d >= 9223372036854775807.0) return std::numeric_limits<int64_t>::max();
  if (d <= -9223372036854775808.0) return std::numeric_limits<int64_t>::min();
  return std::llround(d);
}

// The value at `oid` exactly, or null.
const SnmpValue* scalar_at(const std::vector<VarBind>& vars, const Oid& oid) {
  for (const VarBind& v : vars)
    if (v.oid == oid && v.value.type != SnmpValue::Type::missing) return &v.value;
  return nullptr;
}

// A whole column by row index (the OID past the column's own).
std::map<Oid, const SnmpValue*> rows_at(const std::vector<VarBind>& vars, const Oid& column) {
  std::map<Oid, const SnmpValue*> out;
  for (const VarBind& v : vars)
    if (v.value.type != SnmpValue::Type::missing && oid_below(v.oid, column))
      out[Oid(v.oid.begin() + static_cast<std::ptrdiff_t>(column.size()), v.oid.end())] = &v.value;
  return out;
}

// Device text naming a row: an OCTET STRING as it is, a number in decimal.
std::string label_text(const SnmpValue& v) {
  if (v.type == SnmpValue::Type::octets) return v.s;
  if (v.type == SnmpValue::Type::integer) return std::to_string(v.i);
  if (is_number(v)) return std::to_string(v.u);
  return "";
}

std::string describe_missing(const Oid& oid, const std::string& name) {
  return format_oid(oid) + " (" + name + ")";
}

void add_column(PollPlan& plan, const Oid& oid, size_t rows) {
  plan.column_rows.resize(plan.columns.size(), plan.max_rows);
  for (size_t c = 0; c < plan.columns.size(); ++c)
    if (plan.columns[c] == oid) {
      // 0 reads every row: it stays the larger.
      if (plan.column_rows[c] != 0) plan.column_rows[c] = std::max(plan.column_rows[c], rows);
      return;
    }
  plan.columns.push_back(oid);
  plan.column_rows.push_back(rows);
}

void join(std::string& into, const std::string& what) {
  if (what.empty()) return;
  if (!into.empty()) into += "; ";
  into += what;
}

ObjectSpec object_spec(const config::SnmpObject& o) {
  using T = config::SnmpObject::Type;
  using V = ValueType;
  ObjectSpec s;
  s.name = o.name;
  s.oid = o.oid;
  s.type = o.type == T::uint64    ? V::uint64
           : o.type == T::int64   ? V::int64
           : o.type == T::float32 ? V::float32
           : o.type == T::float64 ? V::float64
           : o.type == T::boolean ? V::boolean
                                  : V::string;
  s.unit = o.unit;
  s.scale = o.scale;
  s.counter = o.counter;
  s.true_values = o.true_values;
  s.sum = o.sum;
  for (const config::SnmpScaleBy& b : o.scale_by) s.scale_by.push_back({b.oid, b.factors});
  return s;
}

}  // namespace

ProfileSpec profile_spec(const config::SnmpProfile& p) {
  ProfileSpec spec;
  spec.name = p.name;
  spec.enterprise = p.enterprise;
  spec.auto_if_served = p.auto_if_served;
  for (const config::SnmpObject& o : p.scalars) spec.scalars.push_back(object_spec(o));
  for (const config::SnmpTable& t : p.tables) {
    TableSpec table;
    table.name = t.name;
    table.label_oid = t.label_oid;
    table.label_index = t.label_index;
    table.max_rows = t.max_rows;
    table.count = t.count;
    table.max_labels = t.max_labels;
    for (const config::SnmpObject& c : t.columns) table.columns.push_back(object_spec(c));
    spec.tables.push_back(std::move(table));
  }
  return spec;
}

size_t max_metrics_of(const ProfileSpec& p) {
  size_t n = 0;
  for (const ObjectSpec& s : p.scalars) n += s.counter ? 2 : 1;
  for (const TableSpec& t : p.tables) {
    if (!t.count.empty()) {
      n += t.max_labels;
      continue;
    }
    size_t per_row = 0;
    for (const ObjectSpec& c : t.columns) {
      per_row += c.counter ? 2 : 1;
      if (!c.sum.empty()) ++n;
    }
    n += per_row * t.max_rows;
  }
  return n;
}

size_t max_metrics_of(const Profiles& p, size_t max_interfaces) {
  // As DeviceModel declares them: 3 system, 10 per interface, 2 host, 5 ups.
  return (p.system ? 3 : 0) + (p.interfaces ? 10 * max_interfaces : 0) + (p.host ? 2 : 0) +
         (p.ups ? 5 : 0);
}

void add_to_plan(const ProfileSpec& p, PollPlan& plan) {
  for (const ObjectSpec& s : p.scalars)
    if (std::find(plan.gets.begin(), plan.gets.end(), s.oid) == plan.gets.end())
      plan.gets.push_back(s.oid);
  for (const TableSpec& t : p.tables) {
    const size_t rows = t.max_rows + 1;  // one more: there are more than max_rows
    if (!t.label_oid.empty())
      add_column(plan, t.label_oid, t.count.empty() ? std::max(rows, kLabelRows) : rows);
    for (const ObjectSpec& c : t.columns) {
      add_column(plan, c.oid, rows);
      for (const ScaleBy& b : c.scale_by) add_column(plan, b.oid, rows);
    }
  }
}

namespace {

std::vector<size_t> choose(const std::vector<const ProfileSpec*>& candidates,
                           const std::vector<std::vector<size_t>>& clashes,
                           const std::vector<VarBind>& vars, std::string& why) {
  uint32_t enterprise = 0;
  const Oid kEnterprises{1, 3, 6, 1, 4, 1};
  const SnmpValue* id = scalar_at(vars, kSysObjectId);
  if (id && id->type == SnmpValue::Type::object_id) {
    const Oid oid = parse_oid(id->s);
    if (oid_below(oid, kEnterprises)) enterprise = oid[kEnterprises.size()];
    why = "sysObjectID " + format_oid(oid) +
          (enterprise ? " (enterprise " + std::to_string(enterprise) + ")" : std::string());
  } else {
    why = "no sysObjectID";
  }
  auto answers = [&](const ProfileSpec& p) {
    for (const VarBind& v : vars) {
      if (v.value.type == SnmpValue::Type::missing) continue;
      for (const ObjectSpec& s : p.scalars)
        if (v.oid == s.oid) return true;
      for (const TableSpec& t : p.tables) {
        if (!t.count.empty() && oid_below(v.oid, t.label_oid)) return true;
        for (const ObjectSpec& c : t.columns)
          if (oid_below(v.oid, c.oid)) return true;
      }
    }
    return false;
  };
  std::vector<size_t> picked;
  std::string said;
  for (size_t k = 0; k < candidates.size(); ++k) {
    const ProfileSpec& p = *candidates[k];
    const bool vendor = enterprise && p.enterprise == enterprise;
    if (!vendor && !(p.auto_if_served && answers(p))) continue;
    bool clash = false;
    if (k < clashes.size())
      for (size_t other : clashes[k])
        clash = clash || std::find(picked.begin(), picked.end(), other) != picked.end();
    if (clash) continue;
    picked.push_back(k);
    said += (said.empty() ? "" : ", ") + p.name + (vendor ? " (its enterprise)" : " (answered)");
  }
  why += "; picked " + (said.empty() ? std::string("none") : said);
  return picked;
}

}  // namespace

std::vector<size_t> choose_auto(const std::vector<ProfileSpec>& candidates,
                                const std::vector<std::vector<size_t>>& clashes,
                                const std::vector<VarBind>& vars, std::string& why) {
  std::vector<const ProfileSpec*> of;
  for (const ProfileSpec& p : candidates) of.push_back(&p);
  return choose(of, clashes, vars, why);
}

std::vector<size_t> choose_auto(const std::vector<SharedSpec>& candidates,
                                const std::vector<std::vector<size_t>>& clashes,
                                const std::vector<VarBind>& vars, std::string& why) {
  std::vector<const ProfileSpec*> of;
  for (const SharedSpec& p : candidates) of.push_back(p.get());
  return choose(of, clashes, vars, why);
}

namespace {

size_t counters_in(const std::vector<ObjectSpec>& objects) {
  return static_cast<size_t>(
      std::count_if(objects.begin(), objects.end(), [](const ObjectSpec& o) { return o.counter; }));
}

}  // namespace

ProfileModel::ProfileModel(std::vector<SharedSpec> profiles) {
  profiles_.reserve(profiles.size());
  for (SharedSpec& shared : profiles) {
    if (!shared) continue;
    const ProfileSpec& spec = *shared;
    Profile p;
    p.scalars.resize(spec.scalars.size());
    p.rates.resize(counters_in(spec.scalars));
    p.tables.resize(spec.tables.size());
    for (size_t k = 0; k < spec.tables.size(); ++k) {
      p.tables[k].sums.assign(spec.tables[k].columns.size(), 0);
      p.tables[k].has_sum.assign(spec.tables[k].columns.size(), false);
    }
    p.spec = std::move(shared);
    profiles_.push_back(std::move(p));
  }
}

ProfileModel::ProfileModel(std::vector<ProfileSpec> profiles)
    : ProfileModel([&] {
        std::vector<SharedSpec> shared;
        for (ProfileSpec& p : profiles)
          shared.push_back(std::make_shared<ProfileSpec>(std::move(p)));
        return shared;
      }()) {}

bool ProfileModel::known_name(Table& t, std::string_view label) {
  const uint64_t hash = std::hash<std::string_view>{}(label);
  return std::binary_search(t.names_ever.begin(), t.names_ever.end(), hash);
}

void ProfileModel::note_name(Table& t, std::string_view label) {
  const uint64_t hash = std::hash<std::string_view>{}(label);
  const auto at = std::lower_bound(t.names_ever.begin(), t.names_ever.end(), hash);
  if (at == t.names_ever.end() || *at != hash) t.names_ever.insert(at, hash);
}

void ProfileModel::declare_fixed(Profile& p, MetricSink& sink) {
  for (size_t k = 0; k < p.spec->scalars.size(); ++k) {
    const ObjectSpec& s = p.spec->scalars[k];
    p.scalars[k].id = sink.declare(s.name, metric_type(s.type), s.unit);
    if (s.counter)
      p.scalars[k].rate = sink.declare(s.name + " Rate", DataType::Double, s.unit + "/s");
  }
  for (size_t k = 0; k < p.spec->tables.size(); ++k) {
    const TableSpec& t = p.spec->tables[k];
    for (size_t c = 0; c < t.columns.size(); ++c)
      if (!t.columns[c].sum.empty()) {
        p.tables[k].sums[c] =
            sink.declare(t.columns[c].sum, metric_type(t.columns[c].type), t.columns[c].unit);
        p.tables[k].has_sum[c] = true;
      }
  }
  p.declared = true;
}

void ProfileModel::declare_row(const TableSpec& spec, Row& row, MetricSink& sink) {
  row.cells.resize(spec.columns.size());
  row.rates.resize(counters_in(spec.columns));
  const std::string base = spec.name + "/" + row.label + "/";
  for (size_t c = 0; c < spec.columns.size(); ++c) {
    const ObjectSpec& col = spec.columns[c];
    row.cells[c].id = sink.declare(base + col.name, metric_type(col.type), col.unit);
    if (col.counter)
      row.cells[c].rate =
          sink.declare(base + col.name + " Rate", DataType::Double, col.unit + "/s");
  }
}

void ProfileModel::declare_all(MetricSink& sink) {
  for (Profile& p : profiles_) {
    declare_fixed(p, sink);
    for (size_t k = 0; k < p.spec->tables.size(); ++k) {
      const TableSpec& spec = p.spec->tables[k];
      Table& t = p.tables[k];
      for (auto& [index, row] : t.rows) declare_row(spec, row, sink);
      for (auto& [label, group] : t.groups)
        group.id = sink.declare(spec.name + "/" + label + "/" + spec.count, DataType::UInt64, "");
    }
  }
}

// One value, as its spec says; the value published (monostate when none).
void ProfileModel::put(const Cell& cell, Rate* rate, const ObjectSpec& spec, const SnmpValue& v,
                       double factor, int64_t now_ms, MetricSink& sink, Problems& problems,
                       const Oid& oid) {
  auto wrong = [&](const std::string& what) {
    if (problems.wrong++ == 0)
      problems.wrong_example = format_oid(oid) + " is " + what + ", not " + type_name(spec.type);
  };
  if (spec.type == ValueType::string) {
    if (v.type == SnmpValue::Type::octets)
      sink.put(cell.id, sanitize_text(v.s, 255));
    else if (v.type == SnmpValue::Type::object_id)
      sink.put(cell.id, v.s);
    else if (is_number(v))
      sink.put(cell.id, label_text(v));
    else
      wrong(snmp_type_name(v.type));
    return;
  }
  const Number n = number_of(v);
  if (!n.ok) {
    wrong(v.type == SnmpValue::Type::octets ? "text that is not a number" : snmp_type_name(v.type));
    return;
  }
  const double scale = spec.scale * factor;
  switch (spec.type) {
    case ValueType::boolean: {
      if (!n.integral && n.d != std::floor(n.d)) return wrong("not a whole number");
      const int64_t value = n.integral ? n.i : static_cast<int64_t>(n.d);
      sink.put(cell.id, std::find(spec.true_values.begin(), spec.true_values.end(), value) !=
                            spec.true_values.end());
      return;
    }
    case ValueType::uint64: {
      if (n.negative) return wrong("negative");
      if (spec.counter && rate) {
        if (!n.integral) return wrong(snmp_type_name(v.type));
        const int bits = v.type == SnmpValue::Type::counter64 ? 64 : 32;
        const uint64_t total = rate->counter.update(n.u, bits);
        sink.put(cell.id, scale == 1.0 ? total : to_unsigned(static_cast<double>(total) * scale));
        const double dt = rate->last_ms ? static_cast<double>(now_ms - rate->last_ms) / 1000.0 : 0;
        if (rate->counter.has_delta() && dt > 0)
          sink.put(cell.rate, static_cast<double>(rate->counter.delta()) * scale / dt);
        rate->last_ms = now_ms;
        return;
      }
      sink.put(cell.id, n.integral && scale == 1.0 ? n.u : to_unsigned(n.d * scale));
      return;
    }
    case ValueType::int64:
      sink.put(cell.id, n.integral && scale == 1.0 ? n.i : to_signed(n.d * scale));
      return;
    case ValueType::float32:
      sink.put(cell.id, static_cast<float>(n.d * scale));
      return;
    case ValueType::float64:
      sink.put(cell.id, n.d * scale);
      return;
    case ValueType::string:
      break;
  }
}

void ProfileModel::apply(const std::vector<VarBind>& vars, int64_t now_ms, bool restart,
                         MetricSink& sink, std::string& warning) {
  retired_ = false;
  not_served_.clear();
  Problems problems;
  std::string said;
  for (Profile& p : profiles_) {
    if (!p.declared) declare_fixed(p, sink);
    if (restart) {
      // The device rebooted: its counters start again, no rate across it.
      for (Rate& r : p.rates) r = Rate{};
      for (Table& t : p.tables)
        for (auto& [index, row] : t.rows)
          for (Rate& r : row.rates) r = Rate{};
    }
    bool served = false;
    size_t r = 0;  // the next counter's Rate
    for (size_t k = 0; k < p.spec->scalars.size(); ++k) {
      const ObjectSpec& s = p.spec->scalars[k];
      Rate* rate = s.counter && r < p.rates.size() ? &p.rates[r++] : nullptr;
      const SnmpValue* v = scalar_at(vars, s.oid);
      if (!v) {
        not_served_.push_back(describe_missing(s.oid, s.name));
        continue;
      }
      served = true;
      put(p.scalars[k], rate, s, *v, 1.0, now_ms, sink, problems, s.oid);
    }
    for (size_t k = 0; k < p.spec->tables.size(); ++k) {
      const TableSpec& spec = p.spec->tables[k];
      if (spec.count.empty())
        apply_table(spec, p.tables[k], vars, now_ms, sink, problems, served);
      else
        apply_count(spec, p.tables[k], vars, sink, problems, served);
    }
    if (!served)
      join(said,
           "profile " + p.spec->name + ": the device serves none of its OIDs (`once` lists them)");
  }
  std::string limits;
  for (const std::string& l : problems.limits) join(limits, l);
  over_limit_ = limits;
  join(said, limits);
  if (problems.wrong)
    join(said, std::to_string(problems.wrong) + " value" + (problems.wrong == 1 ? "" : "s") +
                   " of another type skipped, such as " + problems.wrong_example);
  if (problems.unscaled)
    join(said, std::to_string(problems.unscaled) + " value" + (problems.unscaled == 1 ? "" : "s") +
                   " without a known factor skipped, such as " + problems.unscaled_example);
  if (problems.duplicates)
    join(said, std::to_string(problems.duplicates) + " row" +
                   (problems.duplicates == 1 ? "" : "s") +
                   " whose label and index are both taken skipped");
  join(warning, said);
}

void ProfileModel::apply_table(const TableSpec& spec, Table& t, const std::vector<VarBind>& vars,
                               int64_t now_ms, MetricSink& sink, Problems& problems, bool& served) {
  std::vector<std::map<Oid, const SnmpValue*>> cols(spec.columns.size());
  std::map<Oid, bool> present;  // every row index a column has
  for (size_t c = 0; c < spec.columns.size(); ++c) {
    cols[c] = rows_at(vars, spec.columns[c].oid);
    if (cols[c].empty())
      not_served_.push_back(
          describe_missing(spec.columns[c].oid, spec.name + "/.../" + spec.columns[c].name));
    for (const auto& [index, v] : cols[c]) present[index] = true;
  }
  // The first max_rows rows by index; the walk read one more to tell.
  size_t beyond = 0;
  for (auto it = present.begin(); it != present.end();) {
    if (static_cast<size_t>(std::distance(present.begin(), it)) < spec.max_rows) {
      ++it;
      continue;
    }
    beyond += static_cast<size_t>(std::distance(it, present.end()));
    present.erase(it, present.end());
    break;
  }
  // Rows gone for kRetireAfter polls leave the birth.
  for (auto it = t.rows.begin(); it != t.rows.end();) {
    it->second.absent = present.count(it->first) ? 0 : it->second.absent + 1;
    if (it->second.absent < kRetireAfter) {
      ++it;
    } else {
      it = t.rows.erase(it);
      retired_ = true;
    }
  }
  if (present.empty()) return;
  served = true;
  const auto labels =
      spec.label_oid.empty() ? std::map<Oid, const SnmpValue*>{} : rows_at(vars, spec.label_oid);
  std::vector<std::vector<std::map<Oid, const SnmpValue*>>> factors(spec.columns.size());
  for (size_t c = 0; c < spec.columns.size(); ++c)
    for (const ScaleBy& by : spec.columns[c].scale_by) factors[c].push_back(rows_at(vars, by.oid));
  std::map<std::string, bool> taken;
  for (const auto& [index, row] : t.rows) taken[row.label] = true;
  std::vector<uint64_t> u_sum(spec.columns.size(), 0);
  std::vector<int64_t> i_sum(spec.columns.size(), 0);
  std::vector<double> d_sum(spec.columns.size(), 0);
  std::vector<bool> summed(spec.columns.size(), false);
  for (const auto& [index, unused] : present) {
    (void)unused;
    auto it = t.rows.find(index);
    if (it == t.rows.end()) {
      const std::string fallback = format_oid(index);
      std::string raw;
      if (auto l = labels.find(index); l != labels.end())
        raw = label_text(*l->second);
      else if (spec.label_index && spec.label_index <= index.size())
        raw = std::to_string(index[spec.label_index - 1]);
      std::string label = metric_label(raw, fallback);
      if (taken.count(label)) label = fallback;  // two rows with one label
      if (taken.count(label)) {
        ++problems.duplicates;
        continue;
      }
      const bool known = known_name(t, label);
      if (!known && t.names_ever.size() >= kNamesPerRow * spec.max_rows) {
        ++beyond;
        continue;
      }
      note_name(t, label);
      taken[label] = true;
      Row row;
      row.label = std::move(label);
      declare_row(spec, row, sink);
      it = t.rows.emplace(index, std::move(row)).first;
    }
    Row& row = it->second;
    size_t r = 0;  // the next counter column's Rate
    for (size_t c = 0; c < spec.columns.size(); ++c) {
      const ObjectSpec& col = spec.columns[c];
      Rate* rate = col.counter && r < row.rates.size() ? &row.rates[r++] : nullptr;
      auto v = cols[c].find(index);
      if (v == cols[c].end()) continue;
      double factor = 1.0;
      bool scaled = true;
      for (size_t b = 0; b < col.scale_by.size(); ++b) {
        const ScaleBy& by = col.scale_by[b];
        const auto at = factors[c][b].find(index);
        const SnmpValue* f = at == factors[c][b].end() ? nullptr : at->second;
        const Number n = f ? number_of(*f) : Number{};
        auto known = std::find_if(by.factors.begin(), by.factors.end(),
                                  [&](const auto& kv) { return n.integral && kv.first == n.i; });
        if (known == by.factors.end()) {
          if (problems.unscaled++ == 0)
            problems.unscaled_example =
                format_oid(col.oid) + "." + format_oid(index) + " (" + format_oid(by.oid) + " is " +
                (f && n.integral ? std::to_string(n.i) : std::string("absent")) + ")";
          scaled = false;
          break;
        }
        factor *= known->second;
      }
      if (!scaled) continue;
      const size_t wrong_before = problems.wrong;
      put(row.cells[c], rate, col, *v->second, factor, now_ms, sink, problems, col.oid);
      if (col.sum.empty() || problems.wrong != wrong_before) continue;
      // The sum of what was published (scaled as each value).
      const Number n = number_of(*v->second);
      if (!n.ok) continue;
      const double scale = col.scale * factor;
      summed[c] = true;
      if (col.type == ValueType::uint64)
        u_sum[c] += n.integral && scale == 1.0 ? n.u : to_unsigned(n.d * scale);
      else if (col.type == ValueType::int64)
        i_sum[c] += n.integral && scale == 1.0 ? n.i : to_signed(n.d * scale);
      else
        d_sum[c] += n.d * scale;
    }
  }
  for (size_t c = 0; c < spec.columns.size(); ++c) {
    if (!t.has_sum[c] || !summed[c]) continue;
    const ValueType type = spec.columns[c].type;
    if (type == ValueType::uint64)
      sink.put(t.sums[c], u_sum[c]);
    else if (type == ValueType::int64)
      sink.put(t.sums[c], i_sum[c]);
    else if (type == ValueType::float32)
      sink.put(t.sums[c], static_cast<float>(d_sum[c]));
    else
      sink.put(t.sums[c], d_sum[c]);
  }
  if (beyond > 0)
    problems.limits.push_back("table " + spec.name + ": more than " +
                              std::to_string(spec.max_rows) + " rows; the first " +
                              std::to_string(spec.max_rows) + " by index are published (max_rows)");
}

void ProfileModel::apply_count(const TableSpec& spec, Table& t, const std::vector<VarBind>& vars,
                               MetricSink& sink, Problems& problems, bool& served) {
  const auto labels = rows_at(vars, spec.label_oid);
  std::map<std::string, uint64_t> counts;
  size_t n = 0;
  for (const auto& [index, v] : labels) {
    if (n++ >= spec.max_rows) break;
    const std::string text = label_text(*v);
    counts[metric_label(text, "other")] += 1;
  }
  if (labels.size() > spec.max_rows)
    problems.limits.push_back("table " + spec.name + ": more than " +
                              std::to_string(spec.max_rows) + " rows; counted are the first " +
                              std::to_string(spec.max_rows) + " (max_rows)");
  if (labels.empty()) not_served_.push_back(describe_missing(spec.label_oid, spec.name));
  // Labels without rows count 0, and leave the birth after kRetireAfter polls.
  for (auto it = t.groups.begin(); it != t.groups.end();) {
    if (counts.count(it->first)) {
      it->second.absent = 0;
      ++it;
      continue;
    }
    if (++it->second.absent >= kRetireAfter) {
      it = t.groups.erase(it);
      retired_ = true;
      continue;
    }
    sink.put(it->second.id, uint64_t{0});
    ++it;
  }
  if (labels.empty()) return;
  served = true;
  size_t dropped = 0;
  for (const auto& [label, count] : counts) {
    auto it = t.groups.find(label);
    if (it == t.groups.end()) {
      const bool known = known_name(t, label);
      if (t.groups.size() >= spec.max_labels ||
          (!known && t.names_ever.size() >= kNamesPerRow * spec.max_labels)) {
        ++dropped;
        continue;
      }
      note_name(t, label);
      Group g;
      g.id = sink.declare(spec.name + "/" + label + "/" + spec.count, DataType::UInt64, "");
      it = t.groups.emplace(label, g).first;
    }
    sink.put(it->second.id, count);
  }
  if (dropped > 0)
    problems.limits.push_back("table " + spec.name + ": " + std::to_string(dropped) + " label" +
                              (dropped == 1 ? "" : "s") + " not published (max_labels = " +
                              std::to_string(spec.max_labels) + ")");
}

}  // namespace classroom::drivers::snmp
