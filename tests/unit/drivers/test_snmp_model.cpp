// The SNMP device model on fixtures: what snmpd answered, counters that wrap,
// a device that reboots, tables with 1,000 interfaces or missing columns.
#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>

#include "../map_sink.hpp"
#include "snmp/snmp_model.hpp"

using namespace classroom;
using namespace classroom::drivers::snmp;

namespace {

// Parses `snmpwalk -On -Ot -Oe` lines: ".1.3... = Counter32: 5".
std::vector<VarBind> parse_walk(const std::string& text) {
  std::vector<VarBind> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    const size_t eq = line.find(" = ");
    if (eq == std::string::npos) continue;
    VarBind vb;
    vb.oid = parse_oid(line.substr(0, eq));
    REQUIRE_FALSE(vb.oid.empty());
    std::string rest = line.substr(eq + 3);
    const size_t colon = rest.find(": ");
    const std::string type = rest.substr(0, colon);
    std::string value = rest.substr(colon + 2);
    using T = SnmpValue::Type;
    if (type == "STRING") {
      vb.value.type = T::octets;
      vb.value.s = value.substr(1, value.size() - 2);
    } else if (type == "INTEGER") {
      vb.value.type = T::integer;
      vb.value.i = std::stoll(value);
    } else if (type == "OID") {
      vb.value.type = T::object_id;
      vb.value.s = value.substr(1);
    } else {
      vb.value.type = type == "Counter32"   ? T::counter32
                      : type == "Counter64" ? T::counter64
                      : type == "Gauge32"   ? T::gauge32
                      : type == "Timeticks" ? T::timeticks
                                            : T::other;
      vb.value.u = std::stoull(value);
    }
    out.push_back(std::move(vb));
  }
  return out;
}

std::string fixture(const std::string& name) {
  std::ifstream in(std::string(FIXTURES_DIR) + "/snmp/" + name);
  REQUIRE(in);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

VarBind counter32(const std::string& oid, uint64_t v) {
  return {parse_oid(oid), {SnmpValue::Type::counter32, 0, v, {}}};
}
VarBind counter64(const std::string& oid, uint64_t v) {
  return {parse_oid(oid), {SnmpValue::Type::counter64, 0, v, {}}};
}
VarBind integer(const std::string& oid, int64_t v) {
  return {parse_oid(oid), {SnmpValue::Type::integer, v, 0, {}}};
}
VarBind octets(const std::string& oid, const std::string& s) {
  return {parse_oid(oid), {SnmpValue::Type::octets, 0, 0, s}};
}
VarBind ticks(uint64_t v) {
  return {parse_oid("1.3.6.1.2.1.1.3.0"), {SnmpValue::Type::timeticks, 0, v, {}}};
}

// Forgets the values (keeps the declarations), to see what one poll puts.
void clear_values(MapSink& sink) {
  for (auto& e : sink.entries) e.value = {};
}

ModelOptions options(Profiles p) {
  ModelOptions o;
  o.profiles = p;
  return o;
}

}  // namespace

TEST_CASE("snmp model: a net-snmp agent's answers become the system and interface metrics") {
  const auto vars = parse_walk(fixture("netsnmp-linux.walk"));
  DeviceModel model(options({true, true, true, false}));
  MapSink sink;
  auto r = model.apply(vars, 1000, sink);
  CHECK(r.ok);
  CHECK(sink.get<double>("System/Uptime") == Approx(660.39));
  CHECK(sink.get<std::string>("System/Name") == "test-switch-6a");
  CHECK(sink.get<std::string>("System/Description") == "Test switch for classroom-agent");
  CHECK(sink.at("System/Uptime").unit == "s");
  CHECK(model.interface_count() == 4);
  CHECK(sink.get<uint64_t>("Interfaces/lo/Rx Bytes") == 746389783);
  CHECK(sink.get<uint64_t>("Interfaces/eth0/Rx Bytes") == 540539225);
  CHECK(sink.get<bool>("Interfaces/lo/Oper Up"));
  CHECK_FALSE(sink.get<bool>("Interfaces/ifb0/Oper Up"));
  CHECK(sink.get<uint64_t>("Interfaces/lo/Speed") == 10);  // ifHighSpeed, Mbit/s
  CHECK(sink.at("Interfaces/lo/Rx Rate").unit == "bit/s");
  CHECK_FALSE(sink.measured("Interfaces/lo/Rx Rate"));  // one reading: no rate yet
  CHECK(sink.at("Interfaces/lo/Rx Bytes").type == DataType::UInt64);
  CHECK(sink.at("Interfaces/lo/Oper Up").type == DataType::Boolean);
  // hrStorageRam: used / size.
  CHECK(sink.measured("Memory/Used"));
  CHECK(sink.get<float>("Memory/Used") > 0.0f);
  CHECK(sink.get<float>("Memory/Used") < 100.0f);
  // This agent has no hrProcessorLoad rows: said, not invented.
  CHECK_FALSE(sink.measured("CPU/Usage"));
  CHECK_THAT(r.warning, Catch::Contains("hrProcessorLoad"));
}

TEST_CASE("snmp model: rates from two polls, a 32-bit counter that wraps, a reboot restarts") {
  DeviceModel model(options({true, true, false, false}));
  MapSink sink;
  const std::string in32 = "1.3.6.1.2.1.2.2.1.10.7", out32 = "1.3.6.1.2.1.2.2.1.16.7";
  const std::string name = "1.3.6.1.2.1.2.2.1.2.7";  // ifDescr only: no ifXTable
  auto poll = [&](uint64_t up, uint64_t in, uint64_t out, int64_t at) {
    clear_values(sink);
    return model.apply({ticks(up), octets(name, "port 7"), counter32(in32, in),
                        counter32(out32, out), integer("1.3.6.1.2.1.2.2.1.8.7", 1)},
                       at, sink);
  };
  poll(100, 4'294'967'000, 1000, 10'000);
  CHECK(sink.get<uint64_t>("Interfaces/port 7/Rx Bytes") == 4'294'967'000);
  // 10 s later the 32-bit counter wrapped: 296 + 1000 octets, not -4 GB.
  poll(1100, 1000, 2000, 20'000);
  CHECK(sink.get<uint64_t>("Interfaces/port 7/Rx Bytes") == 4'294'967'000 + 1296);
  CHECK(sink.get<double>("Interfaces/port 7/Rx Rate") == Approx(1296 * 8 / 10.0));
  CHECK(sink.get<double>("Interfaces/port 7/Tx Rate") == Approx(1000 * 8 / 10.0));
  CHECK_FALSE(model.rebooted());
  // The device reboots: sysUpTime drops, counters start again; no rate from
  // the old readings, the totals follow the device's.
  poll(50, 300, 400, 30'000);
  CHECK(model.rebooted());
  CHECK(sink.get<uint64_t>("Interfaces/port 7/Rx Bytes") == 300);
  CHECK_FALSE(sink.measured("Interfaces/port 7/Rx Rate"));
  poll(1050, 1300, 400, 40'000);
  CHECK_FALSE(model.rebooted());
  CHECK(sink.get<double>("Interfaces/port 7/Rx Rate") == Approx(800.0));
  CHECK(sink.get<double>("Interfaces/port 7/Tx Rate") == Approx(0.0));
}

TEST_CASE("snmp model: HC counters win over 32-bit ones and are never wrapped") {
  DeviceModel model(options({false, true, false, false}));
  MapSink sink;
  const uint64_t big = 0x1'0000'0000ull * 5;
  model.apply({octets("1.3.6.1.2.1.31.1.1.1.1.3", "ge-0/0/1"),
               counter64("1.3.6.1.2.1.31.1.1.1.6.3", big), counter32("1.3.6.1.2.1.2.2.1.10.3", 9)},
              0, sink);
  // '/' would add a level to the metric tree: it becomes '_'.
  CHECK(sink.get<uint64_t>("Interfaces/ge-0_0_1/Rx Bytes") == big);
  model.apply(
      {octets("1.3.6.1.2.1.31.1.1.1.1.3", "ge-0/0/1"), counter64("1.3.6.1.2.1.31.1.1.1.6.3", 10)},
      1000, sink);
  // A 64-bit counter that goes back was reset, not wrapped.
  CHECK(sink.get<uint64_t>("Interfaces/ge-0_0_1/Rx Bytes") == 10);
}

TEST_CASE("snmp model: a 32-bit counter that goes back more than the link could carry is reset") {
  Counter c;
  c.update(4'000'000'000, 32);
  // 1 GB more at most: 2^32 - 4e9 + 100e6 = 395 MB is a wrap.
  c.update(100'000'000, 32, 1'000'000'000);
  CHECK(c.has_delta());
  CHECK(c.delta() == 394'967'296);
  // 10 MB at most: the same going back is a reset, not a wrap.
  Counter r;
  r.update(4'000'000'000, 32);
  CHECK(r.update(100'000'000, 32, 10'000'000) == 100'000'000);
  CHECK_FALSE(r.has_delta());
  CHECK(r.update(100'000'500, 32, 10'000'000) == 100'000'500);
  CHECK(r.delta() == 500);
  // Speed unknown: a wrap is at most 2^31.
  Counter u;
  u.update(1'000'000'000, 32);
  CHECK(u.update(5, 32) == 5);
  CHECK_FALSE(u.has_delta());

  // On a 1 Gbit/s port polled every second: a reset without a reboot (sysUpTime
  // goes on) gives no rate, not 17 Gbit/s; a true wrap still does.
  DeviceModel model(options({false, true, false, false}));
  MapSink sink;
  const std::string in = "1.3.6.1.2.1.2.2.1.10.1";
  auto poll = [&](uint64_t up, uint64_t value, int64_t at) {
    clear_values(sink);
    model.apply({ticks(up),
                 octets("1.3.6.1.2.1.31.1.1.1.1.1", "ge1"),
                 {parse_oid("1.3.6.1.2.1.31.1.1.1.15.1"), {SnmpValue::Type::gauge32, 0, 1000, {}}},
                 counter32(in, value)},
                at, sink);
  };
  poll(100, 4'000'000'000, 10'000);
  poll(200, 2'000'000'000, 11'000);
  CHECK_FALSE(model.rebooted());
  CHECK(sink.get<uint64_t>("Interfaces/ge1/Rx Bytes") == 2'000'000'000);
  CHECK_FALSE(sink.measured("Interfaces/ge1/Rx Rate"));
  poll(300, 2'000'125'000, 12'000);
  CHECK(sink.get<double>("Interfaces/ge1/Rx Rate") == Approx(1'000'000.0));
  poll(400, 4'294'000'000, 21'000);  // 9 s at 1.9 Gbit/s: below 2 x link speed
  poll(500, 100'000'000, 22'000);    // 101 MB in 1 s: a wrap at 808 Mbit/s
  CHECK(sink.get<uint64_t>("Interfaces/ge1/Rx Bytes") == 4'294'000'000ull + 967'296 + 100'000'000);
  CHECK(sink.get<double>("Interfaces/ge1/Rx Rate") == Approx((967'296.0 + 100'000'000) * 8));
}

TEST_CASE("snmp model: an interface keeps the counter width it started with until a reboot") {
  DeviceModel model(options({false, true, false, false}));
  MapSink sink;
  const uint64_t big = 5'000'000'000;
  auto poll = [&](uint64_t up, bool hc, uint64_t value, int64_t at) {
    clear_values(sink);
    std::vector<VarBind> vars{ticks(up), octets("1.3.6.1.2.1.31.1.1.1.1.4", "ge4"),
                              counter32("1.3.6.1.2.1.2.2.1.10.4", value & 0xffffffffu)};
    if (hc) vars.push_back(counter64("1.3.6.1.2.1.31.1.1.1.6.4", value));
    return model.apply(vars, at, sink);
  };
  poll(100, true, big, 10'000);
  CHECK(sink.get<uint64_t>("Interfaces/ge4/Rx Bytes") == big);
  // ifHCInOctets does not answer this time: no value, rather than the 32-bit series.
  auto r = poll(200, false, big + 1000, 20'000);
  CHECK_FALSE(sink.measured("Interfaces/ge4/Rx Bytes"));
  CHECK_THAT(r.warning, Catch::Contains("1 octet counter(s) not answered in the width"));
  // Back: the same series, a rate over both intervals.
  r = poll(300, true, big + 2000, 30'000);
  CHECK(r.warning.empty());
  CHECK(sink.get<uint64_t>("Interfaces/ge4/Rx Bytes") == big + 2000);
  CHECK(sink.get<double>("Interfaces/ge4/Rx Rate") == Approx(2000 * 8 / 20.0));
  // After a reboot the width is chosen again: 32 bits now, kept when HC returns.
  poll(10, false, 700, 40'000);
  CHECK(model.rebooted());
  CHECK(sink.get<uint64_t>("Interfaces/ge4/Rx Bytes") == 700);
  poll(110, true, (uint64_t{1} << 32) + 900, 50'000);
  CHECK(sink.get<uint64_t>("Interfaces/ge4/Rx Bytes") == 900);
  CHECK(sink.get<double>("Interfaces/ge4/Rx Rate") == Approx(200 * 8 / 10.0));
}

TEST_CASE("snmp model: 1,000 interfaces, with globs") {
  std::vector<VarBind> vars{ticks(1)};
  for (uint32_t i = 1; i <= 1000; ++i) {
    const std::string ix = std::to_string(i);
    vars.push_back(octets("1.3.6.1.2.1.31.1.1.1.1." + ix, "port" + ix));
    vars.push_back(counter64("1.3.6.1.2.1.31.1.1.1.6." + ix, i * 10));
    vars.push_back(integer("1.3.6.1.2.1.2.2.1.8." + ix, i % 2 ? 1 : 2));
  }
  ModelOptions every = options({false, true, false, false});
  every.max_interfaces = 1024;
  DeviceModel all(every);
  MapSink sink;
  all.apply(vars, 0, sink);
  CHECK(all.interface_count() == 1000);
  CHECK(sink.entries.size() == 10'000);
  CHECK(sink.get<uint64_t>("Interfaces/port999/Rx Bytes") == 9990);
  CHECK(sink.get<bool>("Interfaces/port999/Oper Up"));
  CHECK_FALSE(sink.get<bool>("Interfaces/port1000/Oper Up"));
  // Declared once: a second poll declares nothing new.
  const int declared = sink.declarations;
  all.apply(vars, 1000, sink);
  CHECK(sink.declarations == declared);

  ModelOptions some = options({false, true, false, false});
  some.include = {"port1?"};
  some.exclude = {"port13"};
  DeviceModel few(some);
  MapSink s2;
  few.apply(vars, 0, s2);
  CHECK(few.interface_count() == 9);  // port10..port19 without port13
  CHECK(s2.has("Interfaces/port12/Rx Bytes"));
  CHECK_FALSE(s2.has("Interfaces/port13/Rx Bytes"));
  CHECK_FALSE(s2.has("Interfaces/port1/Rx Bytes"));
}

namespace {
// One poll of `n` interfaces named port<i> (or unnamed) from ifIndex `first`.
std::vector<VarBind> table(uint32_t first, uint32_t n, bool named = true, uint64_t up = 1) {
  std::vector<VarBind> vars{ticks(up), integer("1.3.6.1.2.1.2.1.0", n)};
  for (uint32_t i = 0; i < n; ++i) {
    const std::string ix = std::to_string(first + i);
    if (named)
      vars.push_back(octets("1.3.6.1.2.1.31.1.1.1.1." + ix, "port" + std::to_string(i + 1)));
    vars.push_back(counter64("1.3.6.1.2.1.31.1.1.1.6." + ix, 1000 * up));
    vars.push_back(integer("1.3.6.1.2.1.2.2.1.8." + ix, 1));
  }
  return vars;
}
}  // namespace

TEST_CASE("snmp model: max_interfaces publishes the first ones and names the rest once") {
  ModelOptions o = options({false, true, false, false});
  o.max_interfaces = 64;
  DeviceModel model(o);
  MapSink sink;
  auto r = model.apply(table(1, 100), 0, sink);
  CHECK(model.interface_count() == 64);
  CHECK(sink.entries.size() == 640);
  CHECK(sink.has("Interfaces/port64/Rx Bytes"));
  CHECK_FALSE(sink.has("Interfaces/port65/Rx Bytes"));
  CHECK(model.over_limit() ==
        "36 interfaces not published (max_interfaces = 64): port65, port66, port67, ...");
  CHECK_THAT(r.warning, Catch::Contains(model.over_limit()));
  // The walk stopped early (ifNumber says 15,000): those count too.
  auto vars = table(1, 128);
  vars[1] = integer("1.3.6.1.2.1.2.1.0", 15'000);
  model.apply(vars, 1000, sink);
  CHECK(model.over_limit() ==
        "14936 interfaces not published (max_interfaces = 64): port65, port66, port67, ...");
  CHECK(sink.entries.size() == 640);
  CHECK(plan_for({false, true, false, false}, 64).max_rows == 128);
  CHECK(plan_for({false, true, false, false}).max_rows == 0);
}

TEST_CASE(
    "snmp model: interfaces gone for three polls retire, renumbered ones keep their metrics") {
  ModelOptions o = options({false, true, false, false});
  DeviceModel model(o);
  MapSink sink;
  model.apply(table(1, 3), 0, sink);
  const int declared = sink.declarations;
  // port3 goes away: kept for two polls, retired at the third.
  for (int poll = 1; poll <= 2; ++poll) {
    model.apply(table(1, 2), poll * 1000, sink);
    CHECK_FALSE(model.retired());
    CHECK(model.interface_count() == 3);
  }
  model.apply(table(1, 2), 3000, sink);
  CHECK(model.retired());
  CHECK(model.interface_count() == 2);
  MapSink now;
  model.declare_all(now);
  CHECK(now.entries.size() == 20);
  CHECK_FALSE(now.has("Interfaces/port3/Rx Bytes"));
  model.apply(table(1, 2), 4000, sink);
  CHECK_FALSE(model.retired());  // once
  // It comes back: the same name (so the same alias in the catalog).
  model.apply(table(1, 3), 5000, sink);
  CHECK(model.interface_count() == 3);
  CHECK(sink.ids.size() == 30);

  // Every poll under new ifIndexes, the same names: nothing new declared,
  // nothing retired, values under the old names.
  const int before = sink.declarations;
  for (uint32_t poll = 1; poll <= 10; ++poll) {
    model.apply(table(1000 * poll, 3, true, 10 + poll), 10'000 + poll * 1000, sink);
    CHECK_FALSE(model.retired());
  }
  CHECK(model.interface_count() == 3);
  CHECK(sink.declarations == before);
  CHECK(sink.get<uint64_t>("Interfaces/port3/Rx Bytes") == 1000 * 20);
  CHECK(declared == 30);
}

TEST_CASE("snmp model: unnamed interfaces renumbered forever stay within bounds") {
  ModelOptions o = options({false, true, false, false});
  o.max_interfaces = 4;
  DeviceModel model(o);
  MapSink sink;
  for (uint32_t poll = 1; poll <= 50; ++poll) {
    model.apply(table(100 * poll, 10, false, poll), poll * 1000, sink);
    CHECK(model.interface_count() <= 4);
  }
  // New names stop at kNamesPerInterface x max_interfaces.
  CHECK(sink.ids.size() == 10 * DeviceModel::kNamesPerInterface * 4);
  CHECK_FALSE(model.over_limit().empty());
}

TEST_CASE("snmp model: a poll that retires interfaces declares new ones only at the next poll") {
  // So that the catalog retires the old ones first and gives their slots to
  // the new ones: a renumbering device never holds both sets.
  ModelOptions o = options({false, true, false, false});
  o.max_interfaces = 4;
  DeviceModel model(o);
  MapSink sink;
  model.apply(table(1, 4, false), 0, sink);
  CHECK(sink.ids.size() == 40);
  for (int poll = 1; poll <= 2; ++poll) {
    model.apply(table(100, 4, false, poll), poll * 1000, sink);
    CHECK(model.interface_count() == 4);  // the old ones, absent
  }
  const std::string before = model.over_limit();
  model.apply(table(100, 4, false, 3), 3000, sink);
  CHECK(model.retired());
  CHECK(model.interface_count() == 0);
  CHECK(sink.ids.size() == 40);         // nothing declared in the same poll
  CHECK(model.over_limit() == before);  // nor counted as over the limit
  MapSink now;
  model.declare_all(now);
  CHECK(now.entries.empty());
  model.apply(table(100, 4, false, 4), 4000, sink);
  CHECK_FALSE(model.retired());
  CHECK(model.interface_count() == 4);
  CHECK(sink.has("Interfaces/if100/Rx Bytes"));
  CHECK(sink.ids.size() == 80);
  CHECK(DeviceModel::retired_metrics_kept(64) == 160);
  CHECK(DeviceModel::retired_metrics_kept(4) == 40);
}

TEST_CASE("snmp model: missing columns leave their metrics without a value") {
  DeviceModel model(options({true, true, false, false}));
  MapSink sink;
  // No ifXTable, no error or discard columns, no ifOperStatus, no sysName.
  auto r = model.apply(
      {ticks(5), octets("1.3.6.1.2.1.2.2.1.2.2", "eth1"), counter32("1.3.6.1.2.1.2.2.1.10.2", 77)},
      0, sink);
  CHECK(r.ok);
  CHECK(sink.get<uint64_t>("Interfaces/eth1/Rx Bytes") == 77);
  CHECK(sink.has("Interfaces/eth1/Rx Errors"));
  CHECK_FALSE(sink.measured("Interfaces/eth1/Rx Errors"));
  CHECK_FALSE(sink.measured("Interfaces/eth1/Oper Up"));
  CHECK_FALSE(sink.measured("Interfaces/eth1/Tx Bytes"));
  CHECK_FALSE(sink.measured("System/Name"));
  // A table with no rows at all: said in the warning.
  DeviceModel empty(options({false, true, false, false}));
  MapSink s2;
  CHECK_THAT(empty.apply({ticks(5)}, 0, s2).warning, Catch::Contains("no IF-MIB interfaces"));
  // A value of an unexpected type is not used.
  DeviceModel odd(options({true, false, false, false}));
  MapSink s3;
  odd.apply({integer("1.3.6.1.2.1.1.5.0", 5), ticks(7)}, 0, s3);
  CHECK_FALSE(s3.measured("System/Name"));
}

TEST_CASE("snmp model: the UPS-MIB") {
  DeviceModel model(options({false, false, false, true}));
  MapSink sink;
  auto r = model.apply(parse_walk(fixture("ups-rfc1628.walk")), 0, sink);
  CHECK(r.warning.empty());
  CHECK_FALSE(sink.get<bool>("UPS/On Battery"));  // normal(3)
  CHECK(sink.get<float>("UPS/Battery Charge") == 100.0f);
  CHECK(sink.get<uint64_t>("UPS/Runtime Remaining") == 55 * 60);
  CHECK(sink.get<float>("UPS/Input Voltage") == 231.0f);
  CHECK(sink.get<float>("UPS/Load") == 18.0f);
  CHECK(sink.at("UPS/Input Voltage").unit == "V");
  DeviceModel none(options({false, false, false, true}));
  MapSink s2;
  CHECK_THAT(none.apply({ticks(1)}, 0, s2).warning, Catch::Contains("no UPS-MIB"));
}

TEST_CASE("snmp model: device text is bounded and made safe, interface names validated") {
  CHECK(sanitize_text("plain", 255) == "plain");
  CHECK(sanitize_text("Phòng 6A", 255) == "Phòng 6A");  // valid UTF-8 stays
  CHECK(sanitize_text(std::string("a\nb\x1b[31m\xff", 9), 255) == "a?b?[31m?");
  CHECK(sanitize_text(std::string(1000, 'x'), 255).size() == 255);
  CHECK(sanitize_text("ééé", 5) == "éé");  // never cut inside a character
  CHECK(interface_name("eth0", 1) == "eth0");
  CHECK(interface_name("Gi1/0/1", 2) == "Gi1_0_1");
  CHECK(interface_name("", 3) == "if3");
  CHECK(interface_name("bad\nname", 4) == "if4");
  CHECK(interface_name("a+b", 5) == "if5");
  CHECK(interface_name("x#", 6) == "if6");
  CHECK(interface_name(std::string(65, 'a'), 7) == "if7");
  CHECK(interface_name(" lead", 8) == "if8");
  // Two interfaces with one name: the second goes by its index.
  DeviceModel model(options({false, true, false, false}));
  MapSink sink;
  model.apply(
      {octets("1.3.6.1.2.1.31.1.1.1.1.1", "dup"), octets("1.3.6.1.2.1.31.1.1.1.1.2", "dup")}, 0,
      sink);
  CHECK(sink.has("Interfaces/dup/Rx Bytes"));
  CHECK(sink.has("Interfaces/if2/Rx Bytes"));
}

TEST_CASE("snmp model: OIDs and the poll plan") {
  CHECK(parse_oid(".1.3.6.1") == Oid{1, 3, 6, 1});
  CHECK(parse_oid("1.3.x").empty());
  CHECK(parse_oid("1..3").empty());
  CHECK(parse_oid("1.99999999999").empty());
  CHECK(format_oid({1, 3, 6}) == "1.3.6");
  CHECK(oid_below({1, 3, 6, 1}, {1, 3, 6}));
  CHECK_FALSE(oid_below({1, 3, 6}, {1, 3, 6}));
  CHECK_FALSE(oid_below({1, 3, 7, 1}, {1, 3, 6}));
  PollPlan plan = plan_for({false, false, false, false});
  CHECK(plan.gets.size() == 1);  // sysUpTime, for reboots
  plan = plan_for({true, true, true, true});
  CHECK(plan.columns.size() == 13 + 5 + 2);
}
