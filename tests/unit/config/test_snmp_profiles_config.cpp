// [[snmp.profiles]]: profiles a user writes, the built-in ones read
// by the same code, and every mistake named with its file, line, column and key.
#include <sys/stat.h>
#include <catch2/catch.hpp>
#include <fstream>

#include "../temp_dir.hpp"
#include "config.hpp"
#include "config_text.hpp"

using namespace classroom::config;

namespace {

std::string base(const TempDir& dir) {
  std::ofstream(dir / "c") << "public\n";
  ::chmod((dir / "c").c_str(), 0600);
  return "[identity]\ngroup = \"g\"\nnode = \"n\"\n[broker]\nservers = [\"tcp://127.0.0.1:1883\"]\n"
         "[state]\ndir = \"" +
         dir.path + "\"\n";
}

std::string device(const std::string& name, const std::string& profiles,
                   const std::string& more = "") {
  return "[[devices.snmp]]\nname = \"" + name +
         "\"\naddress = \"10.0.6.2\"\ncommunity_file = \"c\"\nprofiles = " + profiles + "\n" + more;
}

std::string errors(const LoadResult& r) {
  std::string s;
  for (const Error& e : r.errors) s += e.to_string() + "\n";
  return s;
}

// The issue's example profile.
const char* kRuijie = R"([[snmp.profiles]]
name = "ruijie-ap"
[[snmp.profiles.scalars]]
name = "WiFi/Clients"
oid = "1.3.6.1.4.1.99999.1.2.0"
type = "UInt64"
unit = ""
scale = 1.0
[[snmp.profiles.scalars]]
name = "Radio/Rx Octets"
oid = ".1.3.6.1.4.1.99999.1.4.0"
type = "UInt64"
unit = "B"
counter = true
[[snmp.profiles.tables]]
name = "Radios"
label_oid = "1.3.6.1.4.1.99999.1.3.1.2"
max_rows = 4
[[snmp.profiles.tables.columns]]
name = "Clients"
oid = "1.3.6.1.4.1.99999.1.3.1.8"
type = "UInt64"
sum = "WiFi/Radio Clients"
[[snmp.profiles.tables.columns]]
name = "Noise"
oid = "1.3.6.1.4.1.99999.1.3.1.9"
type = "Int64"
unit = "dBm"
[[snmp.profiles.tables.columns]]
name = "Enabled"
oid = "1.3.6.1.4.1.99999.1.3.1.10"
type = "Boolean"
true_values = [1, 3]
)";

const SnmpProfile* builtin(const std::string& name) {
  for (const SnmpProfile& p : builtin_snmp_profiles().profiles)
    if (p.name == name) return &p;
  return nullptr;
}

}  // namespace

TEST_CASE("built-in SNMP profiles: the file in the source tree reads without an error") {
  const BuiltinSnmpProfiles& b = builtin_snmp_profiles();
  std::string all;
  for (const Error& e : b.errors) all += e.to_string() + "\n";
  INFO(all);
  CHECK(b.errors.empty());
  for (const char* name :
       {"apc-ups", "poe", "unifi-ap", "mikrotik", "lldp", "bridge", "q-bridge", "entity-sensor"}) {
    INFO(name);
    CHECK(builtin(name));
  }
  // A few OIDs as the MIBs give them (the integration tests serve them all).
  const SnmpProfile* apc = builtin("apc-ups");
  REQUIRE(apc);
  bool runtime = false;
  for (const SnmpObject& s : apc->scalars)
    if (s.name == "UPS/Runtime Remaining") {
      runtime = true;
      CHECK(s.oid == std::vector<uint32_t>{1, 3, 6, 1, 4, 1, 318, 1, 1, 1, 2, 2, 3, 0});
      CHECK(s.scale == Approx(0.01));  // TimeTicks: 1/100 s
      CHECK(s.unit == "s");
    }
  CHECK(runtime);
  const SnmpProfile* unifi = builtin("unifi-ap");
  REQUIRE(unifi);
  REQUIRE(unifi->tables.size() == 1);
  CHECK(unifi->tables[0].columns[0].oid ==
        std::vector<uint32_t>{1, 3, 6, 1, 4, 1, 41112, 1, 6, 1, 2, 1, 8});
  CHECK(unifi->tables[0].columns[0].sum == "WiFi/Clients");
  const SnmpProfile* bridge = builtin("bridge");
  REQUIRE(bridge);
  CHECK(bridge->tables[0].count == "MAC Addresses");
  CHECK(bridge->tables[0].columns.empty());  // the addresses are never read as values
}

TEST_CASE(
    "snmp profiles config: the issue's profile loads and a device lists it with built-in ones") {
  TempDir dir;
  const std::string text =
      base(dir) + kRuijie +
      device("ap-6a", R"(["system", "ruijie-ap", "poe"])", "max_metrics = 500\n");
  LoadResult r = testing::load_text(text, dir / "agent.toml");
  INFO(errors(r));
  REQUIRE(r.config);
  REQUIRE(r.config->snmp.profiles.size() == 1);
  const SnmpProfile& p = r.config->snmp.profiles[0];
  CHECK(p.name == "ruijie-ap");
  REQUIRE(p.scalars.size() == 2);
  CHECK(p.scalars[0].type == SnmpObject::Type::uint64);
  CHECK(p.scalars[1].oid == std::vector<uint32_t>{1, 3, 6, 1, 4, 1, 99999, 1, 4, 0});
  CHECK(p.scalars[1].counter);
  REQUIRE(p.tables.size() == 1);
  CHECK(p.tables[0].max_rows == 4);
  CHECK(p.tables[0].label_oid == std::vector<uint32_t>{1, 3, 6, 1, 4, 1, 99999, 1, 3, 1, 2});
  REQUIRE(p.tables[0].columns.size() == 3);
  CHECK(p.tables[0].columns[1].type == SnmpObject::Type::int64);
  CHECK(p.tables[0].columns[2].true_values == std::vector<int64_t>{1, 3});
  const SnmpDevice& d = r.config->devices.snmp[0];
  CHECK(d.system);
  CHECK_FALSE(d.interfaces);
  REQUIRE(d.table_profiles.size() == 2);
  CHECK(d.table_profiles[0]->name == "ruijie-ap");  // in the order listed
  CHECK(d.table_profiles[1]->name == "poe");
  CHECK(d.max_metrics == 500);
  // Without the key: 2000.
  LoadResult plain =
      testing::load_text(base(dir) + device("sw", R"(["system"])"), dir / "agent.toml");
  REQUIRE(plain.config);
  CHECK(plain.config->devices.snmp[0].max_metrics == 2000);
  CHECK(plain.config->devices.snmp[0].table_profiles.empty());
}

TEST_CASE("snmp profiles config: every mistake in a profile is named with its line and key") {
  TempDir dir;
  const std::string text = base(dir) + R"([[snmp.profiles]]
name = "bad"
[[snmp.profiles.scalars]]
name = "A/B"
oid = "1.3.6.1.x.2"
type = "UInt64"
[[snmp.profiles.scalars]]
name = "A/C"
oid = "1.3.6.1.2.0"
type = "Integer"
[[snmp.profiles.scalars]]
name = "A//D"
oid = "1.3.6.1.2.0"
type = "Int64"
counter = true
[[snmp.profiles.scalars]]
name = "A/E"
oid = "1.3.6.1.3.0"
type = "UInt64"
[[snmp.profiles.scalars]]
name = "A/E"
oid = "1.3.6.1.4.0"
type = "String"
true_values = [2]
[[snmp.profiles.tables]]
name = "T"
label_oid = "1.3.6.1.5.1.2"
label_index = 1
max_rows = 0
[[snmp.profiles.tables.columns]]
name = "S"
oid = "1.3.6.1.5.1.3"
type = "String"
sum = "T Sum"
[[snmp.profiles.tables.columns]]
name = "S"
oid = "1.3.6.1.5.1.4"
type = "UInt64"
[[snmp.profiles.tables.columns.scale_by]]
oid = "1.3.6.1.5.1.5"
factors = { "x" = 1 }
[[snmp.profiles.tables]]
name = "Counted"
count = "Things"
[[snmp.profiles.tables.columns]]
name = "V"
oid = "1.3.6.1.6.1.3"
type = "UInt64"
[[snmp.profiles]]
name = "bad"
[[snmp.profiles.scalars]]
name = "X"
oid = "3.1"
type = "UInt64"
[[snmp.profiles]]
name = "ups"
[[snmp.profiles.scalars]]
name = "X"
oid = "1.3"
type = "UInt64"
[[snmp.profiles]]
name = "apc-ups"
[[snmp.profiles.scalars]]
name = "X"
oid = "1.3"
type = "UInt64"
[[snmp.profiles]]
name = "empty"
)";
  LoadResult r = testing::load_text(text, dir / "agent.toml");
  const std::string all = errors(r);
  INFO(all);
  CHECK_FALSE(r.config);
  const std::string f = dir / "agent.toml";
  // file:line:col: key: message
  CHECK_THAT(all, Catch::Contains(f + ":12:7: snmp.profiles[0].scalars[0].oid: \"1.3.6.1.x.2\" is "
                                      "not an OID"));
  CHECK_THAT(all,
             Catch::Contains(f + ":17:8: snmp.profiles[0].scalars[1].type: \"Integer\" is not "
                                 "a type; use UInt64, Int64, Float, Double, Boolean or String"));
  CHECK_THAT(all, Catch::Contains("snmp.profiles[0].scalars[2].name: \"A//D\" has an empty level"));
  CHECK_THAT(all,
             Catch::Contains(
                 "snmp.profiles[0].scalars[2].counter: a counter is a UInt64 (type = \"UInt64\")"));
  CHECK_THAT(all, Catch::Contains("snmp.profiles[0].scalars[4].true_values: only for type = "
                                  "\"Boolean\""));
  CHECK_THAT(all, Catch::Contains("snmp.profiles[0].tables[0].label_index: set either label_oid or "
                                  "label_index, not both"));
  CHECK_THAT(all, Catch::Contains("snmp.profiles[0].tables[0].max_rows: 0 is out of range; allowed "
                                  "1 to 10000"));
  CHECK_THAT(all, Catch::Contains("snmp.profiles[0].tables[0].columns[0].sum: only a column of "
                                  "numbers that is not a counter is summed"));
  CHECK_THAT(all, Catch::Contains("snmp.profiles[0].tables[0].columns[1].name: \"S\" names another "
                                  "column already"));
  CHECK_THAT(all, Catch::Contains("snmp.profiles[0].tables[0].columns[1].scale_by[0].factors.x: "
                                  "expected a whole number as the key"));
  CHECK_THAT(all, Catch::Contains("snmp.profiles[0].tables[0].columns[1].scale_by[0]: scale_by is "
                                  "only for a column of type Float or Double"));
  CHECK_THAT(all, Catch::Contains("snmp.profiles[0].tables[1].columns: a table with count has no "
                                  "columns"));
  CHECK_THAT(all, Catch::Contains("snmp.profiles[0].tables[1].count: rows are counted per value of "
                                  "label_oid"));
  CHECK_THAT(all, Catch::Contains("snmp.profiles[1].name: \"bad\" names another profile already"));
  CHECK_THAT(all, Catch::Contains("snmp.profiles[1].scalars[0].oid: \"3.1\" is not an OID"));
  CHECK_THAT(all,
             Catch::Contains("snmp.profiles[2].name: \"ups\" is a profile of the agent's own"));
  CHECK_THAT(all, Catch::Contains("snmp.profiles[3].name: \"apc-ups\" is a built-in profile"));
  CHECK_THAT(all, Catch::Contains("snmp.profiles[4]: a profile needs at least one"));
}

TEST_CASE("snmp profiles config: a profile publishing one name twice is refused") {
  TempDir dir;
  const std::string text = base(dir) + R"([[snmp.profiles]]
name = "twice"
[[snmp.profiles.scalars]]
name = "Radios/All"
oid = "1.3.6.1.4.1.9.1.0"
type = "UInt64"
[[snmp.profiles.scalars]]
name = "Octets"
oid = "1.3.6.1.4.1.9.2.0"
type = "UInt64"
counter = true
[[snmp.profiles.scalars]]
name = "Octets Rate"
oid = "1.3.6.1.4.1.9.3.0"
type = "Double"
[[snmp.profiles.tables]]
name = "Radios"
[[snmp.profiles.tables.columns]]
name = "Clients"
oid = "1.3.6.1.4.1.9.4.1.2"
type = "UInt64"
)";
  LoadResult r = testing::load_text(text, dir / "agent.toml");
  const std::string all = errors(r);
  INFO(all);
  CHECK_FALSE(r.config);
  CHECK_THAT(all, Catch::Contains(":20:8: snmp.profiles[0].scalars[2].name: metrics of \"Octets "
                                  "Rate\" and of \"Octets Rate\" would have the same names"));
  CHECK_THAT(all,
             Catch::Contains("snmp.profiles[0].tables[0].name: metrics of table \"Radios\" and "
                             "of \"Radios/All\" would have the same names"));
}

TEST_CASE(
    "snmp profiles config: a device naming an unknown profile or one twice or two that clash") {
  TempDir dir;
  const std::string text = base(dir) + kRuijie + device("a", R"(["system", "ruijie", "system"])") +
                           device("b", R"(["ups", "apc-ups"])") +
                           device("c", R"(["unifi-ap", "mikrotik"])") +
                           device("d", R"(["interfaces", "ruijie-ap"])", "max_metrics = 5\n");
  LoadResult r = testing::load_text(text, dir / "agent.toml");
  const std::string all = errors(r);
  INFO(all);
  CHECK_FALSE(r.config);
  CHECK_THAT(all,
             Catch::Contains("devices.snmp[0].profiles[1]: \"ruijie\" is not a profile; known: "
                             "system, interfaces, host, ups, auto, apc-ups"));
  CHECK_THAT(all, Catch::Contains("ruijie-ap\n"));  // the config's own are listed too
  CHECK_THAT(all, Catch::Contains("devices.snmp[0].profiles[2]: \"system\" is listed twice"));
  CHECK_THAT(all, Catch::Contains("devices.snmp[1].profiles[1]: profiles \"ups\" and \"apc-ups\" "
                                  "would both publish \"UPS/On Battery\""));
  CHECK_THAT(all, Catch::Contains("devices.snmp[2].profiles[1]: profiles \"unifi-ap\" and "
                                  "\"mikrotik\" would both publish \"WiFi/Clients\""));
  CHECK_THAT(all, Catch::Contains(
                      "devices.snmp[3].max_metrics: expected a whole number from 10 to 100000"));
  // Each error points into the file: line and column of the list element.
  for (const Error& e : r.errors) {
    INFO(e.to_string());
    CHECK(e.line > 0);
    CHECK(e.column > 0);
  }
}

TEST_CASE("snmp profiles config: OIDs and metric names") {
  CHECK(parse_oid("1.3.6.1.2.1.1.3.0") == std::vector<uint32_t>{1, 3, 6, 1, 2, 1, 1, 3, 0});
  CHECK(parse_oid(".1.0.8802.1.1.2") == std::vector<uint32_t>{1, 0, 8802, 1, 1, 2});
  CHECK(parse_oid("1.3.6.1.4294967295").size() == 5);
  for (const char* bad :
       {"", ".", "1", "3.6.1", "1.3.", "1..3", "1.3.6.1.4294967296", "1.3.a", " 1.3", "iso.3.6"})
    CHECK(parse_oid(bad).empty());
  std::string long_oid = "1.3";
  for (int i = 0; i < 126; ++i) long_oid += ".1";
  CHECK(parse_oid(long_oid).size() == 128);
  CHECK(parse_oid(long_oid + ".1").empty());
  CHECK(check_metric_name("WiFi/Clients").empty());
  CHECK(check_metric_name("UPS/Battery Temperature").empty());
  CHECK(check_metric_name("Tr\xc6\xb0\xe1\xbb\x9dng/Clients").empty());
  for (const char* bad : {"", "/A", "A/", "A//B", "A/ B", "A+B", "A#", "A\tB", "A/\xff"})
    CHECK_FALSE(check_metric_name(bad).empty());
  CHECK_FALSE(check_metric_name(std::string(201, 'a')).empty());
}

TEST_CASE("snmp profiles config: auto may add what fits but no name a listed profile publishes") {
  TempDir dir;
  std::string ruijie = kRuijie;
  ruijie.insert(ruijie.find("\n[[snmp.profiles.scalars]]"), "\nenterprise = 4881");
  const std::string text =
      base(dir) + ruijie + device("sw", R"(["system", "auto", "ups", "lldp"])");
  LoadResult r = testing::load_text(text, dir / "agent.toml");
  INFO(errors(r));
  REQUIRE(r.config);
  const SnmpDevice& d = r.config->devices.snmp[0];
  CHECK(d.auto_profiles);
  CHECK(d.ups);
  REQUIRE(d.table_profiles.size() == 1);  // lldp, listed
  std::vector<std::string> names;
  for (const auto& p : d.auto_candidates) names.push_back(p->name);
  // Not apc-ups (ups publishes its names), not lldp (listed), not q-bridge
  // (not for auto); the config's own with an enterprise.
  CHECK(names == std::vector<std::string>{"poe", "unifi-ap", "mikrotik", "bridge", "entity-sensor",
                                          "ruijie-ap"});
  REQUIRE(d.auto_clashes.size() == names.size());
  CHECK(d.auto_clashes[2] == std::vector<size_t>{1});     // mikrotik: WiFi/Clients as unifi-ap
  CHECK(d.auto_clashes[5] == std::vector<size_t>{1, 2});  // its WiFi/Clients too
  CHECK(r.config->snmp.profiles[0].enterprise == 4881);
}
