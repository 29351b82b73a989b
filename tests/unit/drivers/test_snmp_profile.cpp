// The SNMP profiles written as tables, on variable bindings: types, scales,
// counters with wraps and reboots, tables with labels, limits, sums, counted
// rows and per-row factors, and what a device does not serve.
#include <algorithm>
#include <catch2/catch.hpp>

#include "../map_sink.hpp"
#include "config.hpp"
#include "snmp/snmp_profile.hpp"

using namespace classroom;
using namespace classroom::drivers::snmp;

namespace {

using T = SnmpValue::Type;

VarBind vb(const std::string& oid, T type, uint64_t u, const std::string& s = "") {
  VarBind v{parse_oid(oid), {type, 0, u, s}};
  REQUIRE_FALSE(v.oid.empty());
  return v;
}
VarBind integer(const std::string& oid, int64_t i) {
  return {parse_oid(oid), {T::integer, i, 0, {}}};
}
VarBind text(const std::string& oid, const std::string& s) {
  return vb(oid, T::octets, 0, s);
}

ObjectSpec object(const std::string& name, const std::string& oid, ValueType type,
                  const std::string& unit = "") {
  ObjectSpec o;
  o.name = name;
  o.oid = parse_oid(oid);
  o.type = type;
  o.unit = unit;
  return o;
}

void clear_values(MapSink& sink) {
  for (auto& e : sink.entries) e.value = {};
}

}  // namespace

TEST_CASE("snmp profile: scalars of every type and scale and what the device does not serve") {
  ProfileSpec p;
  p.name = "ups-like";
  p.scalars.push_back(object("UPS/Battery Charge", "1.3.6.1.4.1.9.1.0", ValueType::float32, "%"));
  p.scalars.push_back(object("UPS/Runtime Remaining", "1.3.6.1.4.1.9.2.0", ValueType::uint64, "s"));
  p.scalars.back().scale = 0.01;  // TimeTicks
  p.scalars.push_back(object("UPS/On Battery", "1.3.6.1.4.1.9.3.0", ValueType::boolean));
  p.scalars.back().true_values = {3};
  p.scalars.push_back(object("UPS/Model", "1.3.6.1.4.1.9.4.0", ValueType::string));
  p.scalars.push_back(object("UPS/Offset", "1.3.6.1.4.1.9.5.0", ValueType::int64, "mV"));
  p.scalars.push_back(object("UPS/Load", "1.3.6.1.4.1.9.6.0", ValueType::float64, "%"));
  p.scalars.push_back(object("UPS/Absent", "1.3.6.1.4.1.9.7.0", ValueType::uint64));
  ProfileModel model({p});
  MapSink sink;
  std::string warning;
  const std::vector<VarBind> vars{
      vb("1.3.6.1.4.1.9.1.0", T::gauge32, 87),
      vb("1.3.6.1.4.1.9.2.0", T::timeticks, 252099),
      integer("1.3.6.1.4.1.9.3.0", 3),
      text("1.3.6.1.4.1.9.4.0", "Smart-UPS 750\x01"),
      integer("1.3.6.1.4.1.9.5.0", -12),
      text("1.3.6.1.4.1.9.6.0", "31.5"),  // a number served as text
      vb("1.3.6.1.4.1.9.7.0", T::missing, 0),
  };
  model.apply(vars, 1000, false, sink, warning);
  CHECK(warning.empty());
  CHECK(sink.get<float>("UPS/Battery Charge") == 87.0f);
  CHECK(sink.at("UPS/Battery Charge").type == DataType::Float);
  CHECK(sink.at("UPS/Battery Charge").unit == "%");
  CHECK(sink.get<uint64_t>("UPS/Runtime Remaining") == 2521);  // 2520.99 s, rounded
  CHECK(sink.get<bool>("UPS/On Battery"));
  CHECK(sink.get<std::string>("UPS/Model") == "Smart-UPS 750?");
  CHECK(sink.get<int64_t>("UPS/Offset") == -12);
  CHECK(sink.get<double>("UPS/Load") == Approx(31.5));
  CHECK(sink.has("UPS/Absent"));  // declared: is_null in the birth
  CHECK_FALSE(sink.measured("UPS/Absent"));
  REQUIRE(model.not_served().size() == 1);
  CHECK(model.not_served()[0] == "1.3.6.1.4.1.9.7.0 (UPS/Absent)");

  // Wrong types: not published, said in the warning; a device with none of
  // the profile's OIDs is said too.
  clear_values(sink);
  warning.clear();
  model.apply(
      {text("1.3.6.1.4.1.9.1.0", "full"), integer("1.3.6.1.4.1.9.2.0", -5),
       vb("1.3.6.1.4.1.9.3.0", T::object_id, 0, "1.3.6"), vb("1.3.6.1.4.1.9.4.0", T::other, 0)},
      2000, false, sink, warning);
  for (const char* m :
       {"UPS/Battery Charge", "UPS/Runtime Remaining", "UPS/On Battery", "UPS/Model"})
    CHECK_FALSE(sink.measured(m));
  CHECK_THAT(warning, Catch::Contains("4 values of another type skipped, such as "
                                      "1.3.6.1.4.1.9.1.0 is text that is not a number, not Float"));
  warning.clear();
  model.apply({}, 3000, false, sink, warning);
  CHECK_THAT(warning, Catch::Contains("profile ups-like: the device serves none of its OIDs"));
  CHECK(model.not_served().size() == 7);
}

TEST_CASE("snmp profile: a counter gets a rate and wraps at 32 bits and restarts with the device") {
  ProfileSpec p;
  p.name = "c";
  p.scalars.push_back(object("Radio/Rx", "1.3.6.1.4.1.9.1.0", ValueType::uint64, "B"));
  p.scalars.back().counter = true;
  p.scalars.push_back(object("Radio/Big", "1.3.6.1.4.1.9.2.0", ValueType::uint64, "B"));
  p.scalars.back().counter = true;
  ProfileModel model({p});
  MapSink sink;
  std::string w;
  auto poll = [&](uint64_t c32, uint64_t c64, int64_t ms, bool restart = false) {
    clear_values(sink);
    model.apply(
        {vb("1.3.6.1.4.1.9.1.0", T::counter32, c32), vb("1.3.6.1.4.1.9.2.0", T::counter64, c64)},
        ms, restart, sink, w);
  };
  poll(4'294'967'000, 1'000, 10'000);
  CHECK(sink.get<uint64_t>("Radio/Rx") == 4'294'967'000);
  CHECK(sink.at("Radio/Rx Rate").type == DataType::Double);
  CHECK(sink.at("Radio/Rx Rate").unit == "B/s");
  CHECK_FALSE(sink.measured("Radio/Rx Rate"));  // one reading
  poll(704, 3'000, 20'000);                     // wrapped: 296 + 704 = 1000 in 10 s
  CHECK(sink.get<uint64_t>("Radio/Rx") == 4'294'967'000 + 1000);
  CHECK(sink.get<double>("Radio/Rx Rate") == Approx(100.0));
  CHECK(sink.get<double>("Radio/Big Rate") == Approx(200.0));
  poll(2'000, 2'000, 30'000);  // a 64-bit counter that goes back: a reset, no rate
  CHECK(sink.get<uint64_t>("Radio/Big") == 2'000);
  CHECK_FALSE(sink.measured("Radio/Big Rate"));
  CHECK(sink.get<uint64_t>("Radio/Rx") == 4'294'967'000 + 2296);
  poll(5, 5, 40'000, true);  // the device rebooted: no rate across it
  CHECK(sink.get<uint64_t>("Radio/Rx") == 5);
  CHECK_FALSE(sink.measured("Radio/Rx Rate"));
  poll(1005, 505, 50'000);
  CHECK(sink.get<double>("Radio/Rx Rate") == Approx(100.0));
  CHECK(w.empty());
}

TEST_CASE("snmp profile: a table with labels and a sum and max_rows and rows that go away") {
  ProfileSpec p;
  p.name = "ap";
  TableSpec t;
  t.name = "WiFi/VAPs";
  t.label_oid = parse_oid("1.3.6.1.4.1.9.1.1.7");
  t.max_rows = 3;
  t.columns.push_back(object("Clients", "1.3.6.1.4.1.9.1.1.8", ValueType::uint64));
  t.columns.back().sum = "WiFi/Clients";
  t.columns.push_back(object("Channel", "1.3.6.1.4.1.9.1.1.4", ValueType::uint64));
  p.tables.push_back(t);
  ProfileModel model({p});
  MapSink sink;
  std::vector<VarBind> vars;
  // Four rows (one past max_rows): labels with '/', a duplicate, unprintable text.
  const std::vector<std::pair<uint32_t, std::string>> rows{
      {1, "ath0"}, {2, "vap/5g"}, {5, "ath0"}, {9, "\x01"}};
  for (const auto& [index, label] : rows) {
    vars.push_back(text("1.3.6.1.4.1.9.1.1.7." + std::to_string(index), label));
    vars.push_back(integer("1.3.6.1.4.1.9.1.1.8." + std::to_string(index), index * 10));
    vars.push_back(integer("1.3.6.1.4.1.9.1.1.4." + std::to_string(index), 36));
  }
  std::string w;
  model.apply(vars, 1000, false, sink, w);
  CHECK(sink.get<uint64_t>("WiFi/VAPs/ath0/Clients") == 10);
  CHECK(sink.get<uint64_t>("WiFi/VAPs/vap_5g/Clients") == 20);
  CHECK(sink.get<uint64_t>("WiFi/VAPs/5/Clients") == 50);  // the second "ath0": by its index
  CHECK(sink.get<uint64_t>("WiFi/VAPs/ath0/Channel") == 36);
  CHECK_FALSE(sink.has("WiFi/VAPs/9/Clients"));     // past max_rows
  CHECK(sink.get<uint64_t>("WiFi/Clients") == 80);  // the sum of the published rows
  CHECK_THAT(w, Catch::Contains("table WiFi/VAPs: more than 3 rows; the first 3 by index are "
                                "published (max_rows)"));
  CHECK(model.over_limit() ==
        "table WiFi/VAPs: more than 3 rows; the first 3 by index are "
        "published (max_rows)");
  CHECK(model.not_served().empty());
  // Row 2 goes away: no value, then retired after kRetireAfter polls.
  std::vector<VarBind> fewer;
  for (const VarBind& v : vars)
    if (v.oid.back() != 2 && v.oid.back() != 9) fewer.push_back(v);
  for (int i = 1; i <= ProfileModel::kRetireAfter; ++i) {
    clear_values(sink);
    w.clear();
    model.apply(fewer, 1000 + i * 1000, false, sink, w);
    CHECK_FALSE(sink.measured("WiFi/VAPs/vap_5g/Clients"));
    CHECK(model.retired() == (i == ProfileModel::kRetireAfter));
  }
  CHECK(sink.get<uint64_t>("WiFi/Clients") == 60);
  CHECK(model.over_limit().empty());
  MapSink again;
  model.declare_all(again);
  CHECK(again.has("WiFi/VAPs/ath0/Clients"));
  CHECK(again.has("WiFi/VAPs/5/Channel"));
  CHECK(again.has("WiFi/Clients"));
  CHECK_FALSE(again.has("WiFi/VAPs/vap_5g/Clients"));
}

TEST_CASE("snmp profile: a label from a part of the index and a column the device lacks") {
  ProfileSpec p;
  p.name = "lldp";
  TableSpec t;
  t.name = "LLDP";
  t.label_index = 2;
  t.columns.push_back(object("Neighbour", "1.0.8802.1.1.2.1.4.1.1.9", ValueType::string));
  t.columns.push_back(object("Neighbour Port", "1.0.8802.1.1.2.1.4.1.1.8", ValueType::string));
  p.tables.push_back(t);
  ProfileModel model({p});
  MapSink sink;
  std::string w;
  model.apply({text("1.0.8802.1.1.2.1.4.1.1.9.3400.5.1", "ap-6a"),
               text("1.0.8802.1.1.2.1.4.1.1.9.3500.7.2", "sw-core")},
              1000, false, sink, w);
  CHECK(sink.get<std::string>("LLDP/5/Neighbour") == "ap-6a");
  CHECK(sink.get<std::string>("LLDP/7/Neighbour") == "sw-core");
  REQUIRE(model.not_served().size() == 1);
  CHECK(model.not_served()[0] == "1.0.8802.1.1.2.1.4.1.1.8 (LLDP/.../Neighbour Port)");
}

TEST_CASE("snmp profile: rows counted per label (never their index) within max_labels") {
  ProfileSpec p;
  p.name = "bridge";
  TableSpec t;
  t.name = "Bridge/Ports";
  t.label_oid = parse_oid("1.3.6.1.2.1.17.4.3.1.2");
  t.count = "MAC Addresses";
  t.max_rows = 6;
  t.max_labels = 2;
  p.tables.push_back(t);
  ProfileModel model({p});
  MapSink sink;
  std::string w;
  // Index: the MAC address (6 numbers); value: the port.
  auto fdb = [](int mac, int port) {
    return integer("1.3.6.1.2.1.17.4.3.1.2.0.17.34.51.68." + std::to_string(mac), port);
  };
  model.apply({fdb(1, 3), fdb(2, 3), fdb(3, 3), fdb(4, 7), fdb(5, 9)}, 1000, false, sink, w);
  CHECK(sink.get<uint64_t>("Bridge/Ports/3/MAC Addresses") == 3);
  CHECK(sink.get<uint64_t>("Bridge/Ports/7/MAC Addresses") == 1);
  CHECK_FALSE(sink.has("Bridge/Ports/9/MAC Addresses"));
  CHECK_THAT(w, Catch::Contains("table Bridge/Ports: 1 label not published (max_labels = 2)"));
  for (const auto& e : sink.entries) {
    INFO(e.name);
    CHECK(e.name.find("17.34.51") == std::string::npos);  // no address in any name
  }
  // Port 7 empties: 0, then retired.
  w.clear();
  model.apply({fdb(1, 3)}, 2000, false, sink, w);
  CHECK(sink.get<uint64_t>("Bridge/Ports/3/MAC Addresses") == 1);
  CHECK(sink.get<uint64_t>("Bridge/Ports/7/MAC Addresses") == 0);
  CHECK(w.empty());
  for (int i = 0; i < ProfileModel::kRetireAfter - 1; ++i)
    model.apply({fdb(1, 3)}, 3000, false, sink, w);
  CHECK(model.retired());
  // More rows than max_rows: counted are the first.
  w.clear();
  std::vector<VarBind> many;
  for (int mac = 0; mac < 7; ++mac) many.push_back(fdb(mac, 3));
  model.apply(many, 4000, false, sink, w);
  CHECK(sink.get<uint64_t>("Bridge/Ports/3/MAC Addresses") == 6);
  CHECK_THAT(w, Catch::Contains("table Bridge/Ports: more than 6 rows; counted are the first 6"));
}

TEST_CASE("snmp profile: per-row factors from other columns as ENTITY-SENSOR-MIB needs") {
  const auto& builtin = classroom::config::builtin_snmp_profiles().profiles;
  const auto it = std::find_if(builtin.begin(), builtin.end(),
                               [](const auto& b) { return b.name == "entity-sensor"; });
  REQUIRE(it != builtin.end());
  // The built-in profile, as the runner makes it.
  ProfileSpec p;
  p.name = it->name;
  TableSpec t;
  t.name = it->tables[0].name;
  t.label_oid = it->tables[0].label_oid;
  t.max_rows = it->tables[0].max_rows;
  for (const auto& c : it->tables[0].columns) {
    ObjectSpec o =
        object(c.name, "1.3",
               c.type == classroom::config::SnmpObject::Type::float64   ? ValueType::float64
               : c.type == classroom::config::SnmpObject::Type::boolean ? ValueType::boolean
                                                                        : ValueType::uint64);
    o.oid = c.oid;
    o.true_values = c.true_values;
    for (const auto& b : c.scale_by) o.scale_by.push_back({b.oid, b.factors});
    t.columns.push_back(o);
  }
  p.tables.push_back(t);
  ProfileModel model({p});
  MapSink sink;
  std::string w;
  const std::string s = "1.3.6.1.2.1.99.1.1.1.";
  model.apply({text("1.3.6.1.2.1.47.1.1.1.1.7.1001", "CPU Temp"), integer(s + "1.1001", 8),
               integer(s + "2.1001", 9), integer(s + "3.1001", 1), integer(s + "4.1001", 415),
               integer(s + "5.1001", 1), text("1.3.6.1.2.1.47.1.1.1.1.7.1002", "PSU 1/Fan"),
               integer(s + "1.1002", 10), integer(s + "2.1002", 10), integer(s + "3.1002", 0),
               integer(s + "4.1002", 7), integer(s + "5.1002", 2),
               // A scale the profile does not know (yocto): skipped, said.
               integer(s + "1.1003", 4), integer(s + "2.1003", 1), integer(s + "3.1003", 0),
               integer(s + "4.1003", 5)},
              1000, false, sink, w);
  CHECK(sink.get<double>("Sensors/CPU Temp/Value") == Approx(41.5));  // 415 x 1 x 10^-1
  CHECK(sink.get<uint64_t>("Sensors/CPU Temp/Type") == 8);            // celsius
  CHECK(sink.get<bool>("Sensors/CPU Temp/OK"));
  CHECK(sink.get<double>("Sensors/PSU 1_Fan/Value") == Approx(7000));  // kilo: 7 x 10^3
  CHECK_FALSE(sink.get<bool>("Sensors/PSU 1_Fan/OK"));
  CHECK_FALSE(sink.measured("Sensors/1003/Value"));
  CHECK(sink.get<uint64_t>("Sensors/1003/Type") == 4);
  CHECK_THAT(w, Catch::Contains("1 value without a known factor skipped, such as "
                                "1.3.6.1.2.1.99.1.1.1.4.1003 (1.3.6.1.2.1.99.1.1.1.2 is 1)"));
}

TEST_CASE("snmp profile: the poll plan and the metric budget") {
  ProfileSpec p;
  p.name = "x";
  p.scalars.push_back(object("A", "1.3.6.1.4.1.9.1.0", ValueType::uint64));
  p.scalars.back().counter = true;
  TableSpec t;
  t.name = "T";
  t.label_oid = parse_oid("1.3.6.1.2.1.31.1.1.1.1");  // ifName, as mikrotik's
  t.max_rows = 10;
  t.columns.push_back(object("C", "1.3.6.1.4.1.9.2.1.2", ValueType::uint64));
  t.columns.back().sum = "S";
  t.columns.push_back(object("D", "1.3.6.1.4.1.9.2.1.3", ValueType::uint64));
  t.columns.back().counter = true;
  p.tables.push_back(t);
  CHECK(max_metrics_of(p) == 2 + 1 + 10 * 3);
  CHECK(max_metrics_of(Profiles{true, true, true, true}, 64) == 3 + 640 + 2 + 5);
  PollPlan plan = plan_for(Profiles{false, true, false, false}, 64);
  const size_t before = plan.columns.size();
  add_to_plan(p, plan);
  add_to_plan(p, plan);  // twice: nothing added twice
  CHECK(std::count(plan.gets.begin(), plan.gets.end(), parse_oid("1.3.6.1.4.1.9.1.0")) == 1);
  CHECK(plan.columns.size() == before + 2);  // ifName was there already
  for (size_t c = 0; c < plan.columns.size(); ++c) {
    INFO(format_oid(plan.columns[c]));
    if (plan.columns[c] == parse_oid("1.3.6.1.2.1.31.1.1.1.1"))
      CHECK(plan.rows_of(c) == kLabelRows);  // a label column may live in a longer table
    else if (plan.columns[c] == parse_oid("1.3.6.1.4.1.9.2.1.2") ||
             plan.columns[c] == parse_oid("1.3.6.1.4.1.9.2.1.3"))
      CHECK(plan.rows_of(c) == 11);  // one past max_rows
    else
      CHECK(plan.rows_of(c) == 128);  // the interfaces' own
  }
}

TEST_CASE("snmp profile: the config's names of the profiles in code are what the model declares") {
  for (const char* name : {"system", "host", "ups"}) {
    INFO(name);
    Profiles p{false, false, false, false};
    p.system = std::string(name) == "system";
    p.host = std::string(name) == "host";
    p.ups = std::string(name) == "ups";
    ModelOptions o;
    o.profiles = p;
    DeviceModel model(o);
    MapSink sink;
    model.apply({}, 1000, sink);
    std::vector<std::string> declared;
    for (const auto& e : sink.entries) declared.push_back(e.name);
    CHECK(declared == classroom::config::snmp_code_profile_metrics(name));
  }
  CHECK(classroom::config::snmp_code_profile_metrics("interfaces") ==
        std::vector<std::string>{"Interfaces/"});
}

TEST_CASE("snmp profile: auto picks the vendor's profile and those the device answers") {
  auto table = [](const std::string& name, const std::string& column) {
    ProfileSpec p;
    p.name = name;
    TableSpec t;
    t.name = name;
    t.columns.push_back(object("C", column, ValueType::uint64));
    p.tables.push_back(t);
    return p;
  };
  ProfileSpec apc;
  apc.name = "apc-ups";
  apc.enterprise = 318;
  apc.scalars.push_back(object("UPS/Load", "1.3.6.1.4.1.318.1.1.1.4.2.3.0", ValueType::float32));
  ProfileSpec unifi = table("unifi-ap", "1.3.6.1.4.1.41112.1.6.1.2.1.8");
  unifi.enterprise = 41112;
  ProfileSpec mikrotik = table("mikrotik", "1.3.6.1.4.1.14988.1.1.1.3.1.6");
  mikrotik.enterprise = 14988;
  mikrotik.auto_if_served = true;  // say it also fit by what it answers
  ProfileSpec poe = table("poe", "1.3.6.1.2.1.105.1.1.1.6");
  poe.auto_if_served = true;
  ProfileSpec lldp = table("lldp", "1.0.8802.1.1.2.1.4.1.1.9");
  lldp.auto_if_served = true;
  const std::vector<ProfileSpec> candidates{apc, unifi, mikrotik, poe, lldp};
  // mikrotik would publish what unifi-ap does.
  const std::vector<std::vector<size_t>> clashes{{}, {}, {1}, {}, {}};
  std::string why;
  auto picked = choose_auto(
      candidates, clashes,
      {vb("1.3.6.1.2.1.1.2.0", T::object_id, 0, "1.3.6.1.4.1.41112.1.6"),
       integer("1.3.6.1.2.1.105.1.1.1.6.1.1", 3), integer("1.3.6.1.4.1.14988.1.1.1.3.1.6.1", 2),
       vb("1.0.8802.1.1.2.1.4.1.1.9.1.2.3", T::missing, 0)},
      why);
  CHECK(picked == std::vector<size_t>{1, 3});
  CHECK(why ==
        "sysObjectID 1.3.6.1.4.1.41112.1.6 (enterprise 41112); picked unifi-ap (its "
        "enterprise), poe (answered)");
  // An APC: its own profile, by its enterprise only (it answers nothing here).
  picked = choose_auto(candidates, clashes,
                       {vb("1.3.6.1.2.1.1.2.0", T::object_id, 0, "1.3.6.1.4.1.318.1.3.27")}, why);
  CHECK(picked == std::vector<size_t>{0});
  // No sysObjectID, nothing answered.
  picked = choose_auto(candidates, clashes, {}, why);
  CHECK(picked.empty());
  CHECK(why == "no sysObjectID; picked none");
}
