// Commands a host sends (NCMD, DCMD): listed in the births, read whole or
// refused whole, every refusal with an escaped, bounded reason.
#include <catch2/catch.hpp>
#include <string>

#include "../../support/commands.hpp"
#include "session/commands.hpp"
#include "session/sparkplug.hpp"

using namespace classroom;
using harness::command;

namespace {

// A node with its commands, a measurement, and a device with its Rebirth.
struct Node {
  Catalog catalog;
  MetricId scan_rate, usage;
  DeviceId sw;
  Node() {
    scan_rate = commands::declare_node(catalog, 10'000);
    usage = catalog.declare("System/CPU/Usage", DataType::Double, "%");
    sw = catalog.add_device("switch-6a");
    commands::declare_device(catalog, sw);
  }
  uint64_t alias(DeviceId owner, std::string_view name) const {
    return catalog.at(*catalog.find(owner, name)).alias;
  }
  std::optional<commands::Command> parse(const harness::Payload& p, DeviceId owner = kNode) {
    error.clear();
    return commands::parse(p.SerializeAsString(), owner, catalog, error);
  }
  std::string error;
};

const sparkplug::PbMetric* find(const sparkplug::Payload& p, const std::string& name) {
  for (const sparkplug::PbMetric& m : p.metrics())
    if (m.name() == name) return &m;
  return nullptr;
}

}  // namespace

TEST_CASE("commands: listed in the NBIRTH and DBIRTH with name and alias and datatype and value") {
  Node n;
  sparkplug::Payload birth;
  sparkplug::build_birth(birth, n.catalog, 3, 1000);
  struct Want {
    std::string name;
    DataType type;
  };
  for (const Want& w : {Want{"Node Control/Rebirth", DataType::Boolean},
                        Want{"Node Control/Next Server", DataType::Boolean},
                        Want{"Node Control/Scan Rate", DataType::Int64},
                        Want{"Node Control/Probe Now", DataType::String},
                        Want{"Node Control/Reload", DataType::Boolean}}) {
    INFO(w.name);
    const sparkplug::PbMetric* m = find(birth, w.name);
    REQUIRE(m);
    CHECK(m->datatype() == static_cast<uint32_t>(w.type));
    // Every command by its alias too, but Rebirth: by name alone, as the spec
    // wants (tck-id-operational-behavior-data-commands-rebirth-name-aliases).
    CHECK(m->has_alias() == (w.name != "Node Control/Rebirth"));
    CHECK(m->timestamp() == 1000);
    CHECK_FALSE(m->is_null());
  }
  CHECK(find(birth, "Node Control/Scan Rate")->long_value() == 10'000);
  CHECK(find(birth, "Node Control/Next Server")->has_boolean_value());
  CHECK_FALSE(find(birth, "Node Control/Next Server")->boolean_value());
  CHECK(find(birth, "Node Control/Probe Now")->string_value().empty());
  CHECK(find(birth, "Device Control/Rebirth") == nullptr);  // the device's own

  sparkplug::Payload dbirth;
  sparkplug::build_device_birth(dbirth, n.catalog, n.sw, 4, 1000);
  const sparkplug::PbMetric* rebirth = find(dbirth, "Device Control/Rebirth");
  REQUIRE(rebirth);
  CHECK(rebirth->datatype() == static_cast<uint32_t>(DataType::Boolean));
  CHECK_FALSE(rebirth->boolean_value());
  CHECK(rebirth->alias() != find(birth, "Node Control/Reload")->alias());
  // Declared as they are, they are no change to report.
  CHECK(n.catalog.changed().empty());
}

TEST_CASE("commands: a reload never retires them and declaring them again changes nothing") {
  Node n;
  const uint64_t generation = n.catalog.generation(kNode);
  n.catalog.mark_unseen(kNode);
  n.catalog.mark_unseen(n.sw);
  CHECK(n.catalog.retire_unseen(kNode) == 1);  // the measurement only
  CHECK(n.catalog.retire_unseen(n.sw) == 0);
  CHECK_FALSE(n.catalog.at(n.scan_rate).retired);
  CHECK(commands::declare_node(n.catalog, 5000) == n.scan_rate);
  commands::declare_device(n.catalog, n.sw);
  CHECK(n.catalog.generation(kNode) == generation + 1);  // the retirement alone
  CHECK(std::get<int64_t>(n.catalog.at(n.scan_rate).value) == 10'000);
}

TEST_CASE("commands: each one by name or by its alias with its datatype or none") {
  Node n;
  for (bool by_alias : {false, true}) {
    for (bool typed : {false, true}) {
      INFO((by_alias ? "by alias" : "by name") << (typed ? ", with datatype" : ", no datatype"));
      auto ask = [&](const std::string& name, const harness::CommandValue& v, DataType type,
                     DeviceId owner = kNode) {
        harness::Payload p = command(name, v);
        sparkplug::PbMetric& m = *p.mutable_metrics(0);
        if (by_alias) {
          m.clear_name();
          m.set_alias(name == "Node Control/Rebirth" ? kRebirthAlias : n.alias(owner, name));
        }
        if (typed) m.set_datatype(static_cast<uint32_t>(type));
        auto cmd = n.parse(p, owner);
        INFO(n.error);
        REQUIRE(cmd);
        REQUIRE(cmd->actions.size() == 1);
        CHECK(cmd->owner == owner);
        return cmd->actions[0];
      };
      commands::Action a = ask("Node Control/Rebirth", true, DataType::Boolean);
      CHECK((a.kind == commands::Kind::rebirth && a.yes));
      a = ask("Node Control/Next Server", true, DataType::Boolean);
      CHECK((a.kind == commands::Kind::next_server && a.yes));
      a = ask("Node Control/Reload", false, DataType::Boolean);
      CHECK((a.kind == commands::Kind::reload && !a.yes));
      a = ask("Node Control/Scan Rate", int64_t{2500}, DataType::Int64);
      CHECK((a.kind == commands::Kind::scan_rate && a.scan_rate_ms == 2500));
      a = ask("Node Control/Probe Now", std::string("dns-1"), DataType::String);
      CHECK((a.kind == commands::Kind::probe_now && a.probe == "dns-1"));
      a = ask("Device Control/Rebirth", true, DataType::Boolean, n.sw);
      CHECK((a.kind == commands::Kind::device_rebirth && a.yes));
    }
  }
  // The bounds of the Scan Rate are in.
  CHECK(n.parse(command("Node Control/Scan Rate", int64_t{1000})));
  CHECK(n.parse(command("Node Control/Scan Rate", int64_t{3'600'000})));
  // A Boolean a host encodes as a number: non-zero is true.
  sparkplug::Payload as_number = command("Node Control/Next Server", true);
  as_number.mutable_metrics(0)->set_long_value(1);
  auto cmd = n.parse(as_number);
  REQUIRE(cmd);
  CHECK(cmd->actions[0].yes);
  // Several in one command, in order.
  sparkplug::Payload two = command("Node Control/Scan Rate", int64_t{5000});
  *two.add_metrics() = command("Node Control/Rebirth", true).metrics(0);
  cmd = n.parse(two);
  REQUIRE(cmd);
  REQUIRE(cmd->actions.size() == 2);
  CHECK(cmd->actions[0].kind == commands::Kind::scan_rate);
  CHECK(cmd->actions[1].kind == commands::Kind::rebirth);
}

TEST_CASE("commands: malformed ones are refused whole each with its reason") {
  Node n;
  struct Case {
    std::string what;
    sparkplug::Payload payload;
    DeviceId owner;
    std::string reason;
  };
  sparkplug::Payload null_value = command("Node Control/Reload", true);
  null_value.mutable_metrics(0)->clear_boolean_value();
  null_value.mutable_metrics(0)->set_is_null(true);
  sparkplug::Payload good_and_bad = command("Node Control/Rebirth", true);
  *good_and_bad.add_metrics() = command("Node Control/Reboot", true).metrics(0);
  sparkplug::Payload nine;
  for (int i = 0; i < 9; ++i)
    *nine.add_metrics() = command("Node Control/Rebirth", true).metrics(0);
  const std::vector<Case> cases = {
      {"wrong datatype", command("Node Control/Scan Rate", int64_t{5000}, 12), kNode,
       "Node Control/Scan Rate with datatype 12; it takes Int64 (4) or none"},
      {"wrong value type", command("Node Control/Scan Rate", std::string("5000")), kNode,
       "Node Control/Scan Rate without an Int64 value"},
      {"a Boolean as a string", command("Node Control/Rebirth", std::string("true")), kNode,
       "Node Control/Rebirth without a Boolean value"},
      {"no value", null_value, kNode, "Node Control/Reload without a Boolean value"},
      {"Scan Rate under 1 s", command("Node Control/Scan Rate", int64_t{999}), kNode,
       "Node Control/Scan Rate = 999 ms: out of range (1000 to 3600000 ms)"},
      {"Scan Rate over 1 h", command("Node Control/Scan Rate", int64_t{3'600'001}), kNode,
       "out of range"},
      {"a negative Scan Rate", command("Node Control/Scan Rate", int64_t{-5}), kNode,
       "Node Control/Scan Rate = -5 ms: out of range"},
      {"no probe name", command("Node Control/Probe Now", std::string()), kNode,
       "Node Control/Probe Now with a name of 0 bytes; a probe's name has 1 to 64"},
      {"a probe name too long", command("Node Control/Probe Now", std::string(65, 'p')), kNode,
       "with a name of 65 bytes"},
      {"unknown metric", command("Node Control/Reboot", true), kNode,
       "\"Node Control/Reboot\" is not a command of this node"},
      {"unknown alias", command("", true, std::nullopt, 999), kNode,
       "alias 999 is not a command of this node"},
      {"a measurement", command("System/CPU/Usage", true), kNode,
       "\"System/CPU/Usage\" is a measurement of this node, not a command"},
      {"a measurement by alias", command("", true, std::nullopt, n.catalog.at(n.usage).alias),
       kNode, "is a measurement of this node, not a command"},
      {"a device's command to the node", command("Device Control/Rebirth", true), kNode,
       "\"Device Control/Rebirth\" is not a command of this node"},
      {"the node's command to a device", command("Node Control/Rebirth", true), n.sw,
       "\"Node Control/Rebirth\" is not a command of device switch-6a"},
      {"the node's alias to a device", command("", true, std::nullopt, kRebirthAlias), n.sw,
       "alias 1 is not a command of device switch-6a"},
      {"one good, one unknown", good_and_bad, kNode, "\"Node Control/Reboot\" is not a command"},
      {"too many metrics", nine, kNode, "9 metrics; a command has at most 8"},
  };
  for (const Case& c : cases) {
    INFO(c.what);
    CHECK_FALSE(n.parse(c.payload, c.owner));
    CHECK_THAT(n.error, Catch::Contains(c.reason));
  }
  std::string error;
  CHECK_FALSE(commands::parse(std::string("\xff\xff\xff garbage", 11), kNode, n.catalog, error));
  CHECK(error == "not a Sparkplug B payload (11 bytes)");
  // Oversized: refused before it is decoded.
  sparkplug::Payload big = command("Node Control/Probe Now", std::string(5000, 'x'));
  CHECK_FALSE(commands::parse(big.SerializeAsString(), kNode, n.catalog, error));
  CHECK_THAT(error, Catch::Matches("a command of 50[0-9][0-9] bytes; one has at most 4096"));
}

TEST_CASE("commands: an empty command is told apart from a malformed one") {
  Node n;
  std::string error;
  auto none = commands::parse("", kNode, n.catalog, error);
  REQUIRE(none);
  CHECK(none->empty);
  sparkplug::Payload p;
  p.set_timestamp(1);
  auto no_metrics = n.parse(p);
  REQUIRE(no_metrics);
  CHECK(no_metrics->empty);
  CHECK(no_metrics->actions.empty());
}

TEST_CASE("commands: names from the broker are shown escaped and bounded") {
  Node n;
  for (const std::string& name :
       {std::string("x\n2026-01-01T00:00:00.000Z E agent: FORGED"), std::string(10'000, 'y'),
        std::string("a\x1b[2Jb"), std::string("\xff\xfe not UTF-8")}) {
    CHECK_FALSE(n.parse(command(name, true)));
    INFO(n.error);
    CHECK(n.error.size() < 200);
    for (char c : n.error) CHECK(static_cast<unsigned char>(c) >= 0x20);
  }
  CHECK_FALSE(n.parse(command("a\x1b[2Jb", true)));
  CHECK(n.error == "\"a\\x1b[2Jb\" is not a command of this node");
  // What an accepted Probe Now names is shown escaped too.
  auto cmd = n.parse(command("Node Control/Probe Now", std::string("p\n\x1b")));
  REQUIRE(cmd);
  CHECK(commands::describe(cmd->actions[0]) == "Node Control/Probe Now = \"p\\n\\x1b\"");
}

TEST_CASE("commands: the topic says the owner and a device the node does not have is refused") {
  Node n;
  const sparkplug::Topics topics("school", "room");
  std::string error;
  CHECK(commands::owner_of("spBv1.0/school/NCMD/room", topics, n.catalog, error) == kNode);
  CHECK(commands::owner_of("spBv1.0/school/DCMD/room/switch-6a", topics, n.catalog, error) == n.sw);
  CHECK_FALSE(commands::owner_of("spBv1.0/school/DCMD/room/ap-\n6a", topics, n.catalog, error));
  CHECK(error == "this node has no device \"ap-\\n6a\"");
  for (const char* other : {"spBv1.0/school/DCMD/room/", "spBv1.0/school/DCMD/room/a/b",
                            "spBv1.0/school/NCMD/room2", "spBv1.0/school/DCMD/room2/switch-6a",
                            "spBv1.0/other/NCMD/room", "classroom-agent/school/room/receipt"}) {
    INFO(other);
    error.assign(3, 'x');  // (a literal here trips GCC 12's -Wrestrict)
    CHECK_FALSE(commands::owner_of(other, topics, n.catalog, error));
    CHECK(error.empty());  // not a command: nothing to refuse
  }
}

TEST_CASE("commands: the rate limit lets a burst through and then the rate") {
  commands::RateLimit limit(10, 20);
  int taken = 0;
  for (int i = 0; i < 100; ++i) taken += limit.take(1000);
  CHECK(taken == 20);
  CHECK_FALSE(limit.take(1050));  // half a command's worth
  CHECK(limit.take(1100));        // 100 ms: one more
  CHECK_FALSE(limit.take(1100));
  taken = 0;
  for (int i = 0; i < 100; ++i) taken += limit.take(1100 + 10'000);  // refilled, to the burst
  CHECK(taken == 20);
}
