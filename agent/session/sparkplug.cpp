#include "session/sparkplug.hpp"

namespace classroom::sparkplug {
namespace {

constexpr size_t kNameReserve = 96;

// The engUnit property; none for a metric without a unit.
void set_unit(PbMetric& metric, const std::string& unit) {
  if (unit.empty()) return;
  auto* props = metric.mutable_properties();
  props->add_keys("engUnit");
  auto* v = props->add_values();
  v->set_type(static_cast<uint32_t>(DataType::String));
  v->set_string_value(unit);
}

// Every metric `owner` has, described for a birth.
void add_owned_metrics(Payload& out, const Catalog& catalog, DeviceId owner, int64_t ts_ms) {
  for (MetricId id = 0; id < catalog.size(); ++id) {
    const CatalogEntry& e = catalog.at(id);
    if (e.owner != owner || e.retired) continue;
    PbMetric* m = out.add_metrics();
    m->set_name(e.name.data(), e.name.size());
    m->set_alias(e.alias);
    m->set_timestamp(static_cast<uint64_t>(e.ts_ms ? e.ts_ms : ts_ms));
    m->set_datatype(static_cast<uint32_t>(e.type));
    set_value(*m, e.type, e.value);
    set_unit(*m, e.unit);
  }
}

// A record of an earlier version may hold a metric in a type the catalog no
// longer publishes (UInt32, now UInt64): the value moves to the birth's type.
void publish_as(PbMetric& m, DataType type) {
  const auto was = static_cast<DataType>(m.datatype());
  if (was == type) return;
  const Value value = get_value(m, was);
  m.set_datatype(static_cast<uint32_t>(type));
  set_value(m, type, value);
}

// The owner and kind of a spool record, in its uuid (see build_record).
constexpr std::string_view kDataPrefix = "DDATA ";
constexpr std::string_view kBirthPrefix = "DBIRTH ";
constexpr std::string_view kDeathPrefix = "DDEATH ";

}  // namespace

Topics::Topics(const std::string& group, const std::string& node)
    : nbirth("spBv1.0/" + group + "/NBIRTH/" + node),
      ndeath("spBv1.0/" + group + "/NDEATH/" + node),
      ndata("spBv1.0/" + group + "/NDATA/" + node),
      ncmd("spBv1.0/" + group + "/NCMD/" + node),
      dcmd("spBv1.0/" + group + "/DCMD/" + node + "/+"),
      group_(group),
      node_(node) {}

std::string Topics::device(std::string_view type, std::string_view device) const {
  std::string t = "spBv1.0/" + group_ + "/";
  t.append(type).append("/").append(node_).append("/").append(device);
  return t;
}

void set_value(PbMetric& metric, DataType type, const Value& value) {
  if (std::holds_alternative<std::monostate>(value) || !value_fits(type, value)) {
    metric.clear_value();
    metric.set_is_null(true);
    return;
  }
  metric.clear_is_null();
  switch (type) {
    case DataType::Int8:
    case DataType::Int16:
    case DataType::Int32:
      // Signed values are sign-extended into the 32 bits of int_value.
      metric.set_int_value(static_cast<uint32_t>(static_cast<int32_t>(std::get<int64_t>(value))));
      break;
    case DataType::UInt8:
    case DataType::UInt16:
    case DataType::UInt32:
      metric.set_int_value(static_cast<uint32_t>(std::get<uint64_t>(value)));
      break;
    case DataType::Int64:
      metric.set_long_value(static_cast<uint64_t>(std::get<int64_t>(value)));
      break;
    case DataType::UInt64:
    case DataType::DateTime:
      metric.set_long_value(std::get<uint64_t>(value));
      break;
    case DataType::Float:
      metric.set_float_value(std::get<float>(value));
      break;
    case DataType::Double:
      metric.set_double_value(std::get<double>(value));
      break;
    case DataType::Boolean:
      metric.set_boolean_value(std::get<bool>(value));
      break;
    case DataType::String:
    case DataType::Text:
    case DataType::UUID:
      metric.set_string_value(std::get<std::string>(value));
      break;
    case DataType::Bytes:
      metric.set_bytes_value(std::get<std::string>(value));
      break;
  }
}

Value get_value(const PbMetric& m, DataType type) {
  if (m.is_null()) return {};
  switch (type) {
    case DataType::Int8:
      if (m.has_int_value()) return static_cast<int64_t>(static_cast<int8_t>(m.int_value()));
      break;
    case DataType::Int16:
      if (m.has_int_value()) return static_cast<int64_t>(static_cast<int16_t>(m.int_value()));
      break;
    case DataType::Int32:
      if (m.has_int_value()) return static_cast<int64_t>(static_cast<int32_t>(m.int_value()));
      break;
    case DataType::UInt8:
    case DataType::UInt16:
    case DataType::UInt32:
      if (m.has_int_value()) return static_cast<uint64_t>(m.int_value());
      break;
    case DataType::Int64:
      if (m.has_long_value()) return static_cast<int64_t>(m.long_value());
      break;
    case DataType::UInt64:
    case DataType::DateTime:
      if (m.has_long_value()) return static_cast<uint64_t>(m.long_value());
      break;
    case DataType::Float:
      if (m.has_float_value()) return m.float_value();
      break;
    case DataType::Double:
      if (m.has_double_value()) return m.double_value();
      break;
    case DataType::Boolean:
      if (m.has_boolean_value()) return m.boolean_value();
      break;
    case DataType::String:
    case DataType::Text:
    case DataType::UUID:
      if (m.has_string_value()) return m.string_value();
      break;
    case DataType::Bytes:
      if (m.has_bytes_value()) return m.bytes_value();
      break;
  }
  return {};
}

void build_death(Payload& out, uint64_t bdseq, int64_t ts_ms) {
  out.Clear();
  out.set_timestamp(static_cast<uint64_t>(ts_ms));
  PbMetric* m = out.add_metrics();
  m->set_name(std::string(kBdSeqMetric));
  m->set_timestamp(static_cast<uint64_t>(ts_ms));
  m->set_datatype(static_cast<uint32_t>(DataType::Int64));
  m->set_long_value(bdseq);
}

void build_birth(Payload& out, const Catalog& catalog, uint64_t bdseq, int64_t ts_ms) {
  out.Clear();
  out.set_timestamp(static_cast<uint64_t>(ts_ms));
  out.set_seq(0);
  PbMetric* m = out.add_metrics();
  m->set_name(std::string(kBdSeqMetric));
  m->set_timestamp(static_cast<uint64_t>(ts_ms));
  m->set_datatype(static_cast<uint32_t>(DataType::Int64));
  m->set_long_value(bdseq);

  m = out.add_metrics();
  // By name only (tck-id-operational-behavior-data-commands-rebirth-name-aliases):
  // a host that knows no alias yet must be able to ask for a rebirth.
  m->set_name(std::string(kRebirthMetric));
  m->set_timestamp(static_cast<uint64_t>(ts_ms));
  m->set_datatype(static_cast<uint32_t>(DataType::Boolean));
  m->set_boolean_value(false);

  add_owned_metrics(out, catalog, kNode, ts_ms);
}

void build_device_birth(Payload& out, const Catalog& catalog, DeviceId device, uint64_t seq,
                        int64_t ts_ms) {
  out.Clear();
  out.set_timestamp(static_cast<uint64_t>(ts_ms));
  out.set_seq(seq);
  add_owned_metrics(out, catalog, device, ts_ms);
}

void build_device_death(Payload& out, uint64_t seq, int64_t ts_ms) {
  out.Clear();
  out.set_timestamp(static_cast<uint64_t>(ts_ms));
  out.set_seq(seq);
}

void build_presence_record(Payload& out, std::string_view device, bool online, int64_t ts_ms) {
  out.Clear();
  out.set_timestamp(static_cast<uint64_t>(ts_ms));
  std::string* uuid = out.mutable_uuid();
  uuid->assign(online ? kBirthPrefix : kDeathPrefix);
  uuid->append(device);
}

RecordKind record_kind(const Payload& record) {
  if (!record.has_uuid() || record.uuid().empty()) return {};
  std::string_view u = record.uuid();
  auto starts = [&](std::string_view p) {
    return u.size() > p.size() && u.substr(0, p.size()) == p;
  };
  if (starts(kDataPrefix)) return {RecordKind::device_data, u.substr(kDataPrefix.size())};
  if (starts(kBirthPrefix)) return {RecordKind::device_birth, u.substr(kBirthPrefix.size())};
  if (starts(kDeathPrefix)) return {RecordKind::device_death, u.substr(kDeathPrefix.size())};
  return {RecordKind::unknown, {}};
}

void build_record(Payload& out, const Catalog& catalog, std::span<const MetricId> ids,
                  int64_t ts_ms, DeviceId owner) {
  out.Clear();
  out.set_timestamp(static_cast<uint64_t>(ts_ms));
  if (owner != kNode) {
    std::string* uuid = out.mutable_uuid();  // reuses its buffer
    uuid->assign(kDataPrefix);
    uuid->append(catalog.device_name(owner));
  }
  for (MetricId id : ids) {
    const CatalogEntry& e = catalog.at(id);
    PbMetric* m = out.add_metrics();  // reuses the metrics of the last batch
    // Room for any name once, so a longer name in a reused slot does not
    // allocate on a later cycle.
    std::string* name = m->mutable_name();
    // Not on an arena (a device's record, freed once encoded): there the
    // message is not reused, and the reserve would be a heap block a name.
    if (!out.GetArena() && name->capacity() < kNameReserve) name->reserve(kNameReserve);
    name->assign(e.name);
    m->set_timestamp(static_cast<uint64_t>(e.ts_ms));
    m->set_datatype(static_cast<uint32_t>(e.type));
    set_value(*m, e.type, e.value);
  }
}

void record_to_data(Payload& record, Catalog& catalog, bool historical) {
  record_to_data(record, catalog, kNode, historical);
}

void record_to_data(Payload& record, Catalog& catalog, DeviceId owner, bool historical) {
  record.clear_uuid();
  for (PbMetric& m : *record.mutable_metrics()) {
    if (m.has_name()) {
      MetricId id;
      if (auto found = catalog.find(owner, m.name()); found && !catalog.at(*found).retired) {
        id = *found;
      } else {
        // Or one a reload retired: declaring it again puts it back in the
        // birth (same alias), and the uplink rebirths before sending this.
        // A metric from an earlier run that this run has not (yet) measured.
        id = catalog.declare(owner, m.name(),
                             MetricType::published_as(static_cast<DataType>(m.datatype())), "");
      }
      m.set_alias(catalog.at(id).alias);
      publish_as(m, catalog.at(id).type);
      // The name goes, the datatype stays: Sparkplug only recommends leaving it
      // out, and the reference decoder (sparkplug-payload, in Node-RED and
      // others) cannot read a value without it. It costs two bytes a metric.
      m.clear_name();
    }
    if (historical) m.set_is_historical(true);
  }
}

}  // namespace classroom::sparkplug
