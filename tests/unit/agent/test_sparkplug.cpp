#include <catch2/catch.hpp>
#include <filesystem>
#include <limits>

#include "../../integration/harness.hpp"
#include "../temp_dir.hpp"
#include "session/bdseq_store.hpp"
#include "session/sparkplug.hpp"

using namespace classroom;
using namespace classroom::sparkplug;

namespace {

// Encodes `value` as `type`, serializes, parses and decodes it again.
Value round_trip(DataType type, const Value& value) {
  Payload p;
  PbMetric* m = p.add_metrics();
  m->set_datatype(static_cast<uint32_t>(type));
  set_value(*m, type, value);
  std::string bytes;
  REQUIRE(p.SerializeToString(&bytes));
  Payload q;
  REQUIRE(q.ParseFromString(bytes));
  return get_value(q.metrics(0), type);
}

const PbMetric* find(const Payload& p, const std::string& name) {
  for (const PbMetric& m : p.metrics())
    if (m.name() == name) return &m;
  return nullptr;
}

}  // namespace

TEST_CASE("codec: every datatype round-trips, extremes included") {
  using L = std::numeric_limits<int64_t>;
  struct Case {
    DataType type;
    Value value;
  };
  const Case cases[] = {
      {DataType::Int8, int64_t{-128}},
      {DataType::Int8, int64_t{127}},
      {DataType::Int16, int64_t{-32768}},
      {DataType::Int16, int64_t{32767}},
      {DataType::Int32, int64_t{-2147483648LL}},
      {DataType::Int32, int64_t{2147483647}},
      {DataType::Int64, int64_t{L::min()}},
      {DataType::Int64, int64_t{L::max()}},
      {DataType::UInt8, uint64_t{255}},
      {DataType::UInt16, uint64_t{65535}},
      {DataType::UInt32, uint64_t{4294967295u}},
      {DataType::UInt64, uint64_t{~0ull}},
      {DataType::Float, 3.25f},
      {DataType::Double, -1e300},
      {DataType::Boolean, true},
      {DataType::Boolean, false},
      {DataType::String, std::string("Phòng 6A")},
      {DataType::Text, std::string("long text")},
      {DataType::UUID, std::string("123e4567-e89b-12d3-a456-426614174000")},
      {DataType::DateTime, uint64_t{1'795'894'585'182}},
      {DataType::Bytes, std::string("\x00\x01\xff", 3)},
  };
  for (const Case& c : cases) {
    INFO(to_string(c.type) << " " << format_value(c.value));
    CHECK(round_trip(c.type, c.value) == c.value);
  }
}

TEST_CASE("codec: signed 8/16/32-bit values are sign-extended into int_value") {
  PbMetric m;
  set_value(m, DataType::Int8, int64_t{-1});
  CHECK(m.int_value() == 0xFFFFFFFFu);
  set_value(m, DataType::Int16, int64_t{-2});
  CHECK(m.int_value() == 0xFFFFFFFEu);
}

TEST_CASE("codec: no value is is_null, without a value field") {
  PbMetric m;
  set_value(m, DataType::Float, Value{});
  CHECK(m.is_null());
  CHECK(m.value_case() == PbMetric::VALUE_NOT_SET);
  CHECK(std::holds_alternative<std::monostate>(get_value(m, DataType::Float)));
}

TEST_CASE("topics") {
  Topics t("school-a", "room-6a");
  CHECK(t.nbirth == "spBv1.0/school-a/NBIRTH/room-6a");
  CHECK(t.ndeath == "spBv1.0/school-a/NDEATH/room-6a");
  CHECK(t.ndata == "spBv1.0/school-a/NDATA/room-6a");
  CHECK(t.ncmd == "spBv1.0/school-a/NCMD/room-6a");
}

TEST_CASE("seq wraps 255 -> 0 and a birth restarts it") {
  Sequence s;
  CHECK(s.birth() == 0);
  for (uint64_t i = 1; i <= 255; ++i) REQUIRE(s.next() == i);
  CHECK(s.next() == 0);
  CHECK(s.next() == 1);
  CHECK(s.birth() == 0);
  CHECK(s.next() == 1);
  CHECK(next_bdseq(254) == 255);
  CHECK(next_bdseq(255) == 0);
}

TEST_CASE("NDEATH carries only bdSeq (Int64) and no seq") {
  Payload p;
  build_death(p, 42, 1000);
  REQUIRE(p.metrics_size() == 1);
  CHECK(p.metrics(0).name() == "bdSeq");
  CHECK(p.metrics(0).datatype() == 4);
  CHECK(p.metrics(0).long_value() == 42);
  CHECK_FALSE(p.has_seq());
}

TEST_CASE("NBIRTH: seq 0, bdSeq, Rebirth, every metric with alias, type, time, unit if any") {
  Catalog c;
  MetricId load = c.declare("System/Load/1m", DataType::Float, "");
  c.declare("System/CPU/Usage", DataType::Float, "%");  // no value yet
  c.set_time(5000);
  c.put(load, 0.5f);
  Payload p;
  build_birth(p, c, 7, 6000);
  CHECK(p.seq() == 0);
  CHECK(p.timestamp() == 6000);
  const PbMetric* bd = find(p, "bdSeq");
  REQUIRE(bd);
  CHECK(bd->long_value() == 7);
  const PbMetric* rebirth = find(p, "Node Control/Rebirth");
  REQUIRE(rebirth);
  CHECK(rebirth->datatype() == 11);
  CHECK_FALSE(rebirth->boolean_value());
  // By name alone (tck-id-operational-behavior-data-commands-rebirth-name-aliases).
  CHECK_FALSE(rebirth->has_alias());
  CHECK(c.at(load).alias != kRebirthAlias);
  const PbMetric* m = find(p, "System/Load/1m");
  REQUIRE(m);
  CHECK(m->alias() == c.at(load).alias);
  CHECK(m->datatype() == 9);
  CHECK(m->timestamp() == 5000);
  CHECK(m->float_value() == 0.5f);
  CHECK_FALSE(m->has_properties());  // no unit: no engUnit, not an empty one
  const PbMetric* cpu = find(p, "System/CPU/Usage");
  REQUIRE(cpu);
  CHECK(cpu->is_null());
  REQUIRE(cpu->properties().keys_size() == 1);
  CHECK(cpu->properties().keys(0) == "engUnit");
  CHECK(cpu->properties().values(0).string_value() == "%");
  CHECK(cpu->timestamp() == 6000);
}

TEST_CASE("a spool record becomes alias-only NDATA") {
  Catalog c;
  MetricId up = c.declare("System/Uptime", DataType::Double, "s");
  c.set_time(1234);
  c.put(up, 10.5);
  Payload record;
  std::vector<MetricId> ids{up};
  build_record(record, c, ids, 1234);
  REQUIRE(record.metrics(0).name() == "System/Uptime");
  const uint64_t gen = c.generation();
  record_to_data(record, c, false);
  const PbMetric& m = record.metrics(0);
  CHECK_FALSE(m.has_name());
  CHECK(m.datatype() == 10);  // kept: the reference decoder needs it
  CHECK(m.alias() == c.at(up).alias);
  CHECK(m.timestamp() == 1234);
  CHECK(m.double_value() == 10.5);
  CHECK_FALSE(m.is_historical());
  CHECK(c.generation() == gen);
}

TEST_CASE("metric datatypes: only those every decoder reads, narrow whole numbers widen") {
  // The reference JavaScript codec reads UInt32 from long_value: a metric can
  // not be declared with it (nor another narrow integer; that does not compile).
  for (DataType t : {DataType::Int8, DataType::Int16, DataType::Int32, DataType::UInt8,
                     DataType::UInt16, DataType::UInt32})
    CHECK_FALSE(decodes_everywhere(t));
  for (DataType t : {DataType::Int64, DataType::UInt64, DataType::Float, DataType::Double,
                     DataType::Boolean, DataType::String})
    CHECK(decodes_everywhere(t));
  CHECK(DataType(MetricType::published_as(DataType::UInt32)) == DataType::UInt64);
  CHECK(DataType(MetricType::published_as(DataType::UInt8)) == DataType::UInt64);
  CHECK(DataType(MetricType::published_as(DataType::Int32)) == DataType::Int64);
  CHECK(DataType(MetricType::published_as(DataType::Double)) == DataType::Double);
  for (uint32_t t = 0; t < 40; ++t)
    CHECK(decodes_everywhere(MetricType::published_as(static_cast<DataType>(t))));
}

TEST_CASE("a record of an earlier version with a UInt32 value is sent as the birth's UInt64") {
  // Written before UInt32 metrics became UInt64: the value in int_value.
  Payload record;
  PbMetric* old = record.add_metrics();
  old->set_name("WiFi/wlan0/Stations");
  old->set_timestamp(99);
  old->set_datatype(static_cast<uint32_t>(DataType::UInt32));
  old->set_int_value(23);
  PbMetric* gone = record.add_metrics();  // a metric this run does not have
  gone->set_name("LAN/br0/Devices");
  gone->set_datatype(static_cast<uint32_t>(DataType::UInt32));
  gone->set_int_value(7);
  Catalog now;
  const MetricId stations = now.declare("WiFi/wlan0/Stations", DataType::UInt64, "");
  record_to_data(record, now, true);
  const PbMetric& m = record.metrics(0);
  CHECK(m.alias() == now.at(stations).alias);
  CHECK(m.datatype() == static_cast<uint32_t>(DataType::UInt64));
  CHECK(m.long_value() == 23);
  CHECK_FALSE(m.has_int_value());
  const auto devices = now.find("LAN/br0/Devices");
  REQUIRE(devices);
  CHECK(now.at(*devices).type == DataType::UInt64);  // declared as it is published now
  CHECK(record.metrics(1).datatype() == static_cast<uint32_t>(DataType::UInt64));
  CHECK(record.metrics(1).long_value() == 7);
}

TEST_CASE("a record from an earlier run declares its unknown metrics and is historical") {
  Catalog before;
  MetricId t = before.declare("System/Temperature/usb", DataType::Float, "°C");
  before.set_time(99);
  before.put(t, 40.0f);
  Payload record;
  std::vector<MetricId> ids{t};
  build_record(record, before, ids, 99);

  Catalog now;  // a later run that has no such sensor
  const uint64_t gen = now.generation();
  record_to_data(record, now, true);
  CHECK(now.generation() == gen + 1);  // the caller must rebirth first
  REQUIRE(now.find("System/Temperature/usb"));
  CHECK(record.metrics(0).is_historical());
  CHECK(record.metrics(0).timestamp() == 99);
  CHECK(record.metrics(0).alias() == now.at(*now.find("System/Temperature/usb")).alias);
}

TEST_CASE("bdSeq persists: each take is the last + 1, wrapping, across restarts") {
  TempDir dir;
  uint64_t v = 99;
  {
    BdSeqStore store(dir / "bdseq");
    REQUIRE(store.take(v));
    CHECK(v == 0);  // a fresh gateway
    REQUIRE(store.take(v));
    CHECK(v == 1);
  }
  BdSeqStore restarted(dir / "bdseq");
  REQUIRE(restarted.take(v));
  CHECK(v == 2);
  for (int i = 0; i < 253; ++i) REQUIRE(restarted.take(v));
  CHECK(v == 255);
  REQUIRE(restarted.take(v));
  CHECK(v == 0);
}

TEST_CASE(
    "bdSeq: counted in memory when the file cannot be written and a connect never sent gives "
    "it back") {
  TempDir dir;
  std::filesystem::create_directories(dir / "bdseq");  // no file can replace it
  BdSeqStore store(dir / "bdseq");
  uint64_t v = 99;
  CHECK_FALSE(store.take(v));
  CHECK(v == 0);
  CHECK_THAT(store.error(), Catch::StartsWith("cannot save it in " + dir / "bdseq" + ": "));
  CHECK_FALSE(store.take(v));
  CHECK(v == 1);
  store.give_back();  // that CONNECT never left
  CHECK_FALSE(store.take(v));
  CHECK(v == 1);
  CHECK_FALSE(store.take(v));
  CHECK(v == 2);
  // Writable again: saved, and the error is gone.
  std::filesystem::remove(dir / "bdseq");
  REQUIRE(store.take(v));
  CHECK(v == 3);
  CHECK(store.error().empty());
  CHECK(store.peek() == 4);
}

TEST_CASE("bdSeq: a corrupt file starts again at 0") {
  TempDir dir;
  FILE* f = std::fopen((dir / "bdseq").c_str(), "w");
  std::fputs("garbage", f);
  std::fclose(f);
  BdSeqStore store(dir / "bdseq");
  uint64_t v = 9;
  REQUIRE(store.take(v));
  CHECK(v == 0);
}

TEST_CASE("devices: topics, DBIRTH with the device's metrics only, DDEATH with seq") {
  Topics t("school-a", "room-6a");
  CHECK(t.device("DBIRTH", "switch-6a") == "spBv1.0/school-a/DBIRTH/room-6a/switch-6a");
  CHECK(t.device("DDATA", "ap 6a") == "spBv1.0/school-a/DDATA/room-6a/ap 6a");
  Catalog c;
  c.declare("System/Uptime", DataType::Double, "s");
  const DeviceId sw = c.add_device("switch-6a");
  CHECK(c.add_device("switch-6a") == sw);
  CHECK_FALSE(c.online(sw));
  const MetricId up = c.declare(sw, "System/Uptime", DataType::Double, "s");
  c.set_time(500);
  c.put(up, 12.5);
  Payload birth;
  build_device_birth(birth, c, sw, 7, 600);
  CHECK(birth.seq() == 7);
  CHECK(birth.timestamp() == 600);
  REQUIRE(birth.metrics_size() == 1);
  CHECK(birth.metrics(0).name() == "System/Uptime");
  CHECK(birth.metrics(0).alias() == c.at(up).alias);
  CHECK(birth.metrics(0).double_value() == 12.5);
  CHECK(birth.metrics(0).timestamp() == 500);
  Payload node;
  build_birth(node, c, 0, 600);
  CHECK(node.metrics_size() == 3);  // bdSeq, Rebirth, the node's uptime only
  Payload death;
  build_device_death(death, 8, 700);
  CHECK(death.seq() == 8);
  CHECK(death.timestamp() == 700);
  CHECK(death.metrics_size() == 0);
}

TEST_CASE("devices: a spool record says its owner, old records are the node's") {
  Catalog c;
  const MetricId n = c.declare("A", DataType::UInt64, "");
  const DeviceId sw = c.add_device("switch 6a");
  const MetricId d = c.declare(sw, "A", DataType::UInt64, "");
  c.put(n, uint64_t{1});
  c.put(d, uint64_t{2});
  Payload record;
  std::vector<MetricId> ids{d};
  build_record(record, c, ids, 10, sw);
  Payload parsed;
  REQUIRE(parsed.ParseFromString(record.SerializeAsString()));
  RecordKind k = record_kind(parsed);
  CHECK(k.kind == RecordKind::device_data);
  CHECK(k.device == "switch 6a");
  // In another run the device may have another id: the name finds it.
  Catalog later;
  const DeviceId other = later.add_device("x");
  const DeviceId again = later.add_device(k.device);
  CHECK(again != other);
  record_to_data(parsed, later, again, true);
  CHECK_FALSE(parsed.has_uuid());
  CHECK(later.find(again, "A"));
  CHECK_FALSE(later.find("A"));

  ids = {n};
  build_record(record, c, ids, 10);
  CHECK(record_kind(record).kind == RecordKind::node_data);
  CHECK_FALSE(record.has_uuid());

  build_presence_record(record, "switch 6a", false, 20);
  k = record_kind(record);
  CHECK(k.kind == RecordKind::device_death);
  CHECK(k.device == "switch 6a");
  build_presence_record(record, "ap", true, 20);
  CHECK(record_kind(record).kind == RecordKind::device_birth);
  record.set_uuid("something else");
  CHECK(record_kind(record).kind == RecordKind::unknown);
  record.set_uuid("DDATA ");  // no device name
  CHECK(record_kind(record).kind == RecordKind::unknown);
}
