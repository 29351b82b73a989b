// The operator's console (agent/console/): the decoder on real and hostile
// payloads, the lines and JSON that tail prints, the fleet table, and (on a
// fake clock) the rebirth requests' limits and fleet's redraw cadence.
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "../../support/fake_mqtt_client.hpp"
#include "catalog/catalog.hpp"
#include "clock.hpp"
#include "console/decoder.hpp"
#include "console/fleet.hpp"
#include "console/format.hpp"
#include "console/pacing.hpp"
#include "console/watch.hpp"
#include "session/commands.hpp"
#include "session/sparkplug.hpp"

using namespace classroom;
using namespace classroom::console;

namespace {

const std::string kBirthTopic = "spBv1.0/school-a/NBIRTH/room-6a";
const std::string kDataTopic = "spBv1.0/school-a/NDATA/room-6a";
const std::string kDeathTopic = "spBv1.0/school-a/NDEATH/room-6a";

// A node as the agent describes it: the agent's own codec builds the payloads.
struct AgentNode {
  Catalog catalog;
  MetricId cpu = catalog.declare("System/CPU/Usage", DataType::Float, "%");
  MetricId iface = catalog.declare("System/Uplink/Interface", DataType::String, "");
  MetricId pending = catalog.declare("Agent/Spool/Pending Batches", DataType::UInt64, "");
  MetricId rtt = catalog.declare("Connectivity/dns-a/RTT Avg", DataType::Double, "ms");
  MetricId loss = catalog.declare("Connectivity/dns-a/Loss", DataType::Double, "%");
  MetricId wifi0 = catalog.declare("WiFi/wlan0/Stations", DataType::UInt64, "");
  MetricId weak0 = catalog.declare("WiFi/wlan0/Weak Stations", DataType::UInt64, "");
  MetricId wifi1 = catalog.declare("WiFi/wlan1/Stations", DataType::UInt64, "");

  std::string birth(uint64_t bdseq) {
    sparkplug::Payload p;
    sparkplug::build_birth(p, catalog, bdseq, 1000);
    return p.SerializeAsString();
  }
  std::string data(std::vector<MetricId> ids, uint64_t seq, bool historical = false) {
    sparkplug::Payload p;
    sparkplug::build_record(p, catalog, ids, 2000);
    sparkplug::record_to_data(p, catalog, historical);
    p.set_seq(seq);
    return p.SerializeAsString();
  }
  static std::string death(uint64_t bdseq) {
    sparkplug::Payload p;
    sparkplug::build_death(p, bdseq, 3000);
    return p.SerializeAsString();
  }
};

std::string lines_of(const Decoded& d, const Filter& f = {}) {
  std::string out;
  format_lines(d, f, 0, false, out);
  return out;
}

bool has_control(const std::string& s) {
  for (size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if ((c < 0x20 && !(c == '\n' && (i + 1 == s.size() || s[i + 1] != '\n'))) || c == 0x7f)
      return true;
  }
  return false;
}

// A console subscribed to spBv1.0/# over the fake MQTT client, on a fake clock.
struct SubscribedConsole {
  FakeClock clock;
  test_support::FakeClient client;
  WatchOptions options;
  std::unique_ptr<Connection> connection;

  SubscribedConsole() {
    options.servers = {"tcp://a:1883"};
    connection = std::make_unique<Connection>(options, "spBv1.0/#", "test-console", client, clock);
    turn();
    REQUIRE(client.connects.size() == 1);
    mqtt::Event e{};
    e.kind = mqtt::Event::Kind::connected;
    e.tag = client.connects.back().attempt;
    connection->deliver(e);
    turn();
    e.kind = mqtt::Event::Kind::subscribed;
    connection->deliver(e);
    turn();
    REQUIRE(connection->subscribed());
  }
  void turn() {
    std::vector<mqtt::Event> out;
    connection->poll(0, out);
  }
};

Topic topic(const std::string& text) {
  std::string why;
  auto t = parse_topic(text, why);
  REQUIRE(t);
  return *t;
}

}  // namespace

TEST_CASE("console: topics are parsed or refused with a reason", "[console]") {
  std::string why;
  auto t = parse_topic("spBv1.0/school-a/DDATA/room-6a/switch-6a", why);
  REQUIRE(t);
  CHECK(t->type == MessageType::ddata);
  CHECK(t->path() == "school-a/room-6a/switch-6a");
  auto s = parse_topic("spBv1.0/STATE/scada-1", why);
  REQUIRE(s);
  CHECK(s->type == MessageType::state);
  CHECK(s->node == "scada-1");
  for (const char* bad :
       {"spBv1.0/school-a/NDATA", "spBv1.0/school-a/NDATA/", "spBv1.0//NDATA/room",
        "spBv1.0/school-a/NDATA/room/dev", "spBv1.0/school-a/DDATA/room",
        "spBv1.0/school-a/XDATA/room", "spBv1.0/g/NDATA/n/d/e", "spAv1.0/g/NDATA/n", "", "spBv1.0/",
        "spBv1.0/STATE/", "spBv1.0/g/NDATA/#"}) {
    why.clear();
    INFO(bad);
    CHECK_FALSE(parse_topic(bad, why));
    CHECK_FALSE(why.empty());
  }
  CHECK_FALSE(parse_topic("spBv1.0/" + std::string(300, 'g') + "/NDATA/n", why));
}

TEST_CASE("console: aliases resolve from the birth, as tail prints them", "[console]") {
  AgentNode node;
  node.catalog.set_time(2000);
  node.catalog.put(node.cpu, 12.5f);
  node.catalog.put(node.iface, std::string("eth0"));
  Decoder decoder;
  const Decoded birth = decoder.decode(kBirthTopic, node.birth(7));
  REQUIRE(birth.error.empty());
  CHECK(birth.bdseq == 7u);
  CHECK(lines_of(birth).find("school-a/room-6a NBIRTH seq 0  bdSeq = 7\n") != std::string::npos);

  const Decoded data = decoder.decode(kDataTopic, node.data({node.cpu, node.iface}, 12));
  CHECK_FALSE(data.birth_missing);
  REQUIRE(data.metrics.size() == 2);
  CHECK(data.metrics[0].has_alias);
  CHECK(lines_of(data) ==
        "school-a/room-6a NDATA seq 12  System/CPU/Usage = 12.5 %\n"
        "school-a/room-6a NDATA seq 12  System/Uplink/Interface = eth0\n");

  // Without its name and datatype (other Sparkplug nodes send aliases only).
  sparkplug::Payload bare;
  bare.set_seq(13);
  auto* m = bare.add_metrics();
  m->set_alias(node.catalog.at(node.cpu).alias);
  m->set_float_value(3.5f);
  CHECK(lines_of(decoder.decode(kDataTopic, bare.SerializeAsString())) ==
        "school-a/room-6a NDATA seq 13  System/CPU/Usage = 3.5 %\n");

  // Historical data says so, with its capture time.
  const Decoded old = decoder.decode(kDataTopic, node.data({node.cpu}, 14, true));
  CHECK(lines_of(old).find("= 12.5 % [historical, 1970-01-01T00:00:02.000Z]") != std::string::npos);
}

TEST_CASE("console: data without a birth is marked, and names stay unknown", "[console]") {
  AgentNode node;
  node.catalog.put(node.cpu, 1.0f);
  Decoder decoder;
  const Decoded d = decoder.decode(kDataTopic, node.data({node.cpu}, 3));
  CHECK(d.birth_missing);
  // The agent's NDATA carries the datatype; the name is known only from a birth.
  CHECK(lines_of(d) == "school-a/room-6a NDATA seq 3  alias " +
                           std::to_string(node.catalog.at(node.cpu).alias) +
                           " = 1 (name unknown: birth not seen)\n");
  // A birth, then an alias the birth did not define.
  decoder.decode(kBirthTopic, node.birth(0));
  sparkplug::Payload p;
  p.add_metrics()->set_alias(999);
  CHECK(decoder.decode(kDataTopic, p.SerializeAsString()).birth_missing);
}

TEST_CASE("console: devices resolve from their DBIRTH, an NBIRTH forgets them", "[console]") {
  Catalog c;
  const DeviceId sw = c.add_device("switch-6a");
  const MetricId up = c.declare(sw, "Interfaces/1/Oper Status", DataType::Int64, "");
  c.put(up, int64_t{-3});  // a signed value
  sparkplug::Payload nb, db, dd;
  sparkplug::build_birth(nb, c, 1, 10);
  sparkplug::build_device_birth(db, c, sw, 1, 10);
  const MetricId ids[] = {up};
  sparkplug::build_record(dd, c, ids, 20, sw);
  sparkplug::record_to_data(dd, c, sw, false);
  dd.set_seq(2);
  Decoder decoder;
  decoder.decode(kBirthTopic, nb.SerializeAsString());
  decoder.decode("spBv1.0/school-a/DBIRTH/room-6a/switch-6a", db.SerializeAsString());
  const std::string ddata = "spBv1.0/school-a/DDATA/room-6a/switch-6a";
  const Decoded d = decoder.decode(ddata, dd.SerializeAsString());
  CHECK_FALSE(d.birth_missing);
  CHECK(lines_of(d) == "school-a/room-6a/switch-6a DDATA seq 2  Interfaces/1/Oper Status = -3\n");
  decoder.decode(kBirthTopic, nb.SerializeAsString());  // a new session of the node
  CHECK(decoder.decode(ddata, dd.SerializeAsString()).birth_missing);
}

TEST_CASE("console: hostile payloads are refused or escaped, never trusted", "[console]") {
  Decoder decoder(Limits{2, 2, 3, 64, 5});
  // Not protobuf at all, a truncated one, and nothing.
  for (std::string bad : {std::string("\xff\xff\xff\xff\xff", 5), std::string("\x12\x40\x0a", 3),
                          std::string("\x0a\x05", 2)}) {
    const Decoded d = decoder.decode(kDataTopic, bad);
    CHECK_FALSE(d.error.empty());
    CHECK(lines_of(d) == "school-a/room-6a NDATA  not a Sparkplug B payload (" +
                             std::to_string(bad.size()) + " bytes)\n");
  }
  CHECK(lines_of(decoder.decode(kDataTopic, "")) == "school-a/room-6a NDATA\n");

  // A birth whose names and values try to forge lines and drive the terminal.
  sparkplug::Payload p;
  p.set_seq(0);
  auto add = [&](const std::string& name, uint64_t alias, const std::string& value) {
    auto* m = p.add_metrics();
    m->set_name(name);
    m->set_alias(alias);
    m->set_datatype(12);
    m->set_string_value(value);
  };
  add("Evil\nschool-x/room-1 NDATA seq 1  fake = 1", 1, "v\x1b]0;pwned\x07");
  add(std::string("bidi\xe2\x80\xae") + "name", 2, std::string("bad\xc0\xafutf8"));
  add(std::string(500, 'n'), 3, std::string(100'000, 'x'));
  add("over the alias limit", 4, "x");
  add("cut", 5, "x");
  add("past the metric limit", 6, "x");
  const Decoded d = decoder.decode(kBirthTopic, p.SerializeAsString());
  CHECK(d.metrics.size() == 5);
  CHECK(d.metrics_cut == 1);
  CHECK(d.metrics[2].name.size() == 64);  // names are kept cut
  CHECK(decoder.not_remembered() == 2);   // aliases 4 and 5: past 3 per owner
  const std::string out = lines_of(d);
  CHECK_FALSE(has_control(out));
  CHECK(out.find("Evil\\nschool-x/room-1 NDATA seq 1  fake = 1 = v\\x1b]0;pwned\\x07") !=
        std::string::npos);
  CHECK(out.find("bidi\\u202ename = bad\\xc0\\xafutf8") != std::string::npos);
  CHECK(out.find("... and 1 more metrics not shown") != std::string::npos);
  for (const std::string& line : std::vector<std::string>{out}) CHECK(line.size() < 4096);
  std::string json;
  REQUIRE(format_json(d, {}, 0, json));
  CHECK_FALSE(has_control(json));
  CHECK(json.find("\"name\":\"Evil\\nschool-x") != std::string::npos);
  CHECK(json.find("\"value\":\"v\\u001b]0;pwned\\u0007\"") != std::string::npos);
  CHECK(json.find("\"name\":\"bidi\\u202ename\",\"alias\":2,\"datatype\":\"String\","
                  "\"value\":\"bad\\ufffd\\ufffdutf8\"") != std::string::npos);

  // Tables are bounded: a third node is decoded, but not remembered.
  Decoder small(Limits{2, 1, 10, 64, 10});
  AgentNode n;
  for (const char* name : {"a", "b", "c"})
    small.decode(std::string("spBv1.0/g/NBIRTH/") + name, n.birth(0));
  CHECK(small.nodes() == 2);
  CHECK(small.not_remembered() == 1);
  CHECK(small.decode("spBv1.0/g/NDATA/c", n.data({n.cpu}, 1)).birth_missing);
}

TEST_CASE("console: every datatype and odd value is shown for what it is", "[console]") {
  sparkplug::Payload p;
  auto add = [&](const char* name, uint32_t type) {
    auto* m = p.add_metrics();
    m->set_name(name);
    m->set_datatype(type);
    return m;
  };
  add("i8", 1)->set_int_value(0xffffff80u);
  add("i64", 4)->set_long_value(static_cast<uint64_t>(-5));
  add("u64", 8)->set_long_value(~0ull);
  add("f", 9)->set_float_value(0.1f);
  add("nan", 10)->set_double_value(std::numeric_limits<double>::quiet_NaN());
  add("b", 11)->set_boolean_value(false);
  add("bytes", 17)->set_bytes_value(std::string(17, '\0'));
  add("null", 10)->set_is_null(true);
  add("none", 10);
  add("dataset", 16)->mutable_dataset_value();
  Decoder decoder;
  const Decoded d = decoder.decode(kDataTopic, p.SerializeAsString());
  std::vector<std::string> shown;
  for (const DecodedMetric& m : d.metrics) shown.push_back(m.name + "=" + value_text(m));
  CHECK(shown == std::vector<std::string>{"i8=-128", "i64=-5", "u64=18446744073709551615", "f=0.1",
                                          "nan=nan", "b=false", "bytes=(17 bytes)", "null=null",
                                          "none=(no value)", "dataset=(data set)"});
  std::string json;
  REQUIRE(format_json(d, {}, 0, json));
  CHECK(json.find("\"name\":\"nan\",\"datatype\":\"Double\",\"value\":\"nan\"") !=
        std::string::npos);
  CHECK(json.find("\"name\":\"u64\",\"datatype\":\"UInt64\",\"value\":18446744073709551615") !=
        std::string::npos);
  CHECK(json.find("\"value\":null,\"kind\":\"17 bytes\"") != std::string::npos);
}

TEST_CASE("console: filters by group, node, device and metric glob", "[console]") {
  AgentNode node;
  node.catalog.put(node.cpu, 12.5f);
  node.catalog.put(node.pending, uint64_t{4});
  Decoder decoder;
  decoder.decode(kBirthTopic, node.birth(0));
  const Decoded d = decoder.decode(kDataTopic, node.data({node.cpu, node.pending}, 1));
  Filter f;
  f.metrics = {"System/CPU/*"};
  CHECK(lines_of(d, f) == "school-a/room-6a NDATA seq 1  System/CPU/Usage = 12.5 %\n");
  f.metrics = {"*Pending*", "nothing"};
  CHECK(lines_of(d, f) == "school-a/room-6a NDATA seq 1  Agent/Spool/Pending Batches = 4\n");
  f.metrics = {"Net*"};
  CHECK(lines_of(d, f).empty());
  std::string json;
  CHECK_FALSE(format_json(d, f, 0, json));
  Filter g;
  g.groups = {"school-?"};
  g.nodes = {"room-6*"};
  CHECK_FALSE(lines_of(d, g).empty());
  g.nodes = {"room-7*"};
  CHECK(lines_of(d, g).empty());
  Filter dev;
  dev.devices = {"*"};
  CHECK(lines_of(d, dev).empty());  // a device filter passes device messages only
  CHECK(Filter{}.subscription() == "spBv1.0/#");
  CHECK(Filter{{"school-a"}, {}, {}, {}}.subscription() == "spBv1.0/school-a/#");
  CHECK(Filter{{"school-*"}, {}, {}, {}}.subscription() == "spBv1.0/#");
  CHECK(Filter{{"a", "b"}, {}, {}, {}}.subscription() == "spBv1.0/#");
  CHECK_FALSE(glob_matches("System/*", std::string("System/\0x", 9)));
}

TEST_CASE("console: the rebirth request is an NCMD the agent obeys", "[console]") {
  std::string error;
  Catalog catalog;
  auto cmd = commands::parse(rebirth_request(1234), kNode, catalog, error);
  REQUIRE(cmd);
  REQUIRE(cmd->actions.size() == 1);
  CHECK(cmd->actions[0].kind == commands::Kind::rebirth);
  CHECK(cmd->actions[0].yes);
}

TEST_CASE("console: fleet states from births, deaths and silence", "[console]") {
  AgentNode node;
  node.catalog.put(node.cpu, 12.5f);
  node.catalog.put(node.pending, uint64_t{3});
  node.catalog.put(node.rtt, 18.25);
  node.catalog.put(node.loss, 0.0);
  node.catalog.put(node.wifi0, uint64_t{14});
  node.catalog.put(node.weak0, uint64_t{2});
  node.catalog.put(node.wifi1, uint64_t{5});
  Decoder decoder;
  Fleet fleet;
  const int64_t t0 = 1'800'000'000'000;
  fleet.observe(decoder.decode(kBirthTopic, node.birth(4)), t0);
  const FleetRow* row = fleet.find("school-a", "room-6a");
  REQUIRE(row);
  CHECK(row->state == NodeState::online);
  CHECK(row->bdseq == 4u);
  CHECK(row->cpu == Approx(12.5));
  CHECK(row->spool == 3u);
  CHECK(row->rtt == Approx(18.25));
  CHECK(row->probe == "dns-a");
  CHECK(row->stations.size() == 2);  // wlan0 and wlan1; Weak Stations are not stations

  // A late Will of an older session changes nothing.
  fleet.observe(decoder.decode(kDeathTopic, AgentNode::death(3)), t0 + 1000);
  CHECK(row->state == NodeState::online);
  CHECK(row->deaths_ignored == 1);

  // Silent after the threshold, offline from the matching death.
  CHECK(Fleet::silent(*row, t0 + 61'001, 60'000));
  CHECK_FALSE(Fleet::silent(*row, t0 + 59'000, 60'000));
  fleet.observe(decoder.decode("spBv1.0/school-b/NBIRTH/room-1", node.birth(0)), t0);
  fleet.observe(decoder.decode("spBv1.0/school-b/NDATA/room-9", node.data({node.cpu}, 5)), t0);
  fleet.observe(decoder.decode(kDeathTopic, AgentNode::death(4)), t0 + 2000);
  CHECK(row->state == NodeState::offline);
  CHECK(row->since_ms == t0 + 2000);

  RenderOptions o;
  o.now_ms = t0 + 5000;
  o.sort = Fleet::Sort::name;
  const auto lines = render(fleet, o);
  REQUIRE(lines.size() == 5);
  CHECK(lines[0] ==
        "08:00:05Z  3 nodes: 1 online, 1 offline, 0 silent, 1 without birth; sorted by name");
  CHECK(lines[1].rfind("NODE", 0) == 0);
  CHECK(lines[2] ==
        "school-a/room-6a  OFFLINE     3.0s     4    3.0s   12.5     18.2    0.0    19       3");
  CHECK(lines[3].rfind("school-b/room-1   online      5.0s     0    5.0s   12.5", 0) == 0);
  // Data without a birth: aliases only, so no names and no key metrics yet.
  CHECK(lines[4].rfind("school-b/room-9   online?     5.0s     -    5.0s      -", 0) == 0);

  o.sort = Fleet::Sort::state;
  o.now_ms = t0 + 70'000;
  const auto by_state = render(fleet, o);
  CHECK(by_state[2].rfind("school-a/room-6a  OFFLINE", 0) == 0);
  CHECK(by_state[3].rfind("school-b/room-1   SILENT", 0) == 0);
  CHECK(by_state[0].find("0 online, 1 offline, 2 silent") != std::string::npos);

  // A terminal shows what fits, and says how much more there is.
  o.max_lines = 4;
  o.width = 30;
  const auto cut = render(fleet, o);
  REQUIRE(cut.size() == 4);
  CHECK(cut[3].rfind("... 2 more rows below", 0) == 0);
  for (size_t i = 0; i < 3; ++i) CHECK(cut[i].size() <= 30);
}

TEST_CASE("console: fleet devices go offline with their node", "[console]") {
  Catalog c;
  const DeviceId sw = c.add_device("switch-6a");
  c.put(c.declare(sw, "CPU/Usage", DataType::Float, "%"), 7.0f);
  sparkplug::Payload nb, db;
  sparkplug::build_birth(nb, c, 2, 10);
  sparkplug::build_device_birth(db, c, sw, 1, 10);
  Decoder decoder;
  Fleet fleet;
  fleet.observe(decoder.decode(kBirthTopic, nb.SerializeAsString()), 100);
  fleet.observe(decoder.decode("spBv1.0/school-a/DBIRTH/room-6a/switch-6a", db.SerializeAsString()),
                100);
  const FleetRow* dev = fleet.find("school-a", "room-6a", "switch-6a");
  REQUIRE(dev);
  CHECK(dev->state == NodeState::online);
  CHECK(dev->cpu == Approx(7.0));
  CHECK(fleet.counts(100, 60'000).devices_online == 1);
  fleet.observe(decoder.decode(kDeathTopic, AgentNode::death(2)), 200);
  CHECK(dev->state == NodeState::offline);
  const auto lines = render(fleet, RenderOptions{Fleet::Sort::name, 300, 60'000, 0, 0, false, ""});
  REQUIRE(lines.size() == 4);
  CHECK(lines[3].rfind("  switch-6a       OFFLINE", 0) == 0);
}

TEST_CASE("console: JSON strings are valid whatever the bytes", "[console]") {
  std::string out;
  append_json_string(out, std::string("a\"b\\c\n\x01\x7f\xc3\xa9\xe2\x80\xa8\xff", 14));
  CHECK(out == "\"a\\\"b\\\\c\\n\\u0001\\u007f\xc3\xa9\\u2028\\ufffd\"");
  CHECK(age_text(4200) == "4.2s");
  CHECK(age_text(302'000) == "5m02s");
  CHECK(age_text(3'780'000) == "1h03m");
  CHECK(age_text(-5) == "0.0s");
  CHECK(iso_time(1'800'000'005'123) == "2027-01-15T08:00:05.123Z");
}

TEST_CASE("console: fleet never shows a replayed value as a node's current one", "[console]") {
  AgentNode node;
  node.catalog.put(node.cpu, 12.5f);
  node.catalog.put(node.pending, uint64_t{0});
  Decoder decoder;
  Fleet fleet;
  const int64_t t0 = 1'800'000'000'000;
  fleet.observe(decoder.decode(kBirthTopic, node.birth(1)), t0);
  // The backlog of an outage arrives after the birth: the past, not now.
  node.catalog.put(node.cpu, 97.0f);
  node.catalog.put(node.pending, uint64_t{812});
  fleet.observe(decoder.decode(kDataTopic, node.data({node.cpu, node.pending}, 1, true)), t0 + 10);
  const FleetRow* row = fleet.find("school-a", "room-6a");
  REQUIRE(row);
  CHECK(row->cpu == Approx(12.5));
  CHECK(row->spool == 0u);
  CHECK(row->last_ms == t0 + 10);  // still a sign of life
  // Live data is.
  node.catalog.put(node.cpu, 30.0f);
  fleet.observe(decoder.decode(kDataTopic, node.data({node.cpu}, 2)), t0 + 20);
  CHECK(row->cpu == Approx(30.0));
}

TEST_CASE("console: fleet shows each host application's STATE in its header", "[console]") {
  Decoder decoder;
  Fleet fleet;
  const int64_t t0 = 1'800'000'000'000;
  auto state = [&](const std::string& host, const std::string& body, int64_t at) {
    fleet.observe(decoder.decode("spBv1.0/STATE/" + host, body), at);
  };
  RenderOptions o;
  o.now_ms = t0 + 65'000;
  CHECK(render(fleet, o)[0].find("host") == std::string::npos);  // none seen: nothing said

  state("scada", R"({"online": true, "timestamp": 1000})", t0);
  state("historian", "OFFLINE", t0 + 5000);  // a Sparkplug 2.x host
  state("bad\x1b[2Jhost", "{\"online\": maybe}", t0);
  // A stale Will (offline, older than the state in force) is ignored.
  state("scada", R"({"timestamp": 900, "online": false})", t0 + 60'000);
  const std::string header = render(fleet, o)[0];
  CHECK_THAT(header, Catch::Contains("host scada online 1m05s"));
  CHECK_THAT(header, Catch::Contains("host historian OFFLINE 1m00s"));
  CHECK_THAT(header, Catch::Contains("state unreadable"));
  CHECK_FALSE(has_control(header));
  // A newer offline state counts, and the table still lists no host as a node.
  state("scada", R"({"online":false,"timestamp":2000})", t0 + 61'000);
  CHECK_THAT(render(fleet, o)[0], Catch::Contains("host scada OFFLINE 4.0s"));
  CHECK(fleet.counts(o.now_ms, o.stale_ms).nodes == 0);
  // Bounded: hosts beyond the limit are counted, not kept.
  for (size_t i = 0; i < Fleet::kMaxHosts; ++i) state("h" + std::to_string(i), "ONLINE", t0);
  CHECK(fleet.hosts().size() == Fleet::kMaxHosts);
  CHECK(fleet.not_tracked() == 3);
}

TEST_CASE("console: a decoder keeps aliases only for what its user shows", "[console]") {
  AgentNode node;
  node.catalog.set_time(2000);
  node.catalog.put(node.cpu, 12.5f);
  node.catalog.put(node.iface, std::string("eth0"));
  node.catalog.put(node.wifi0, uint64_t{7});
  const std::string birth = node.birth(3);
  const size_t all_metrics = node.catalog.size();

  // fleet's interest: the table's metrics only, and only those decoded.
  Interest fleet;
  fleet.metric = [](std::string_view n) { return Fleet::shows_metric(n); };
  fleet.only_these = true;
  Decoder shown({}, fleet);
  Decoder everything;
  const Decoded b = shown.decode(kBirthTopic, birth);
  everything.decode(kBirthTopic, birth);
  // CPU, spool, RTT, loss, two radios' stations; not the interface or weak stations.
  CHECK(shown.aliases() == 6);
  CHECK(everything.aliases() == all_metrics);
  CHECK(b.bdseq == 3u);
  for (const DecodedMetric& m : b.metrics)
    CHECK((Fleet::shows_metric(m.name) || m.name == "bdSeq"));
  const Decoded d = shown.decode(kDataTopic, node.data({node.cpu, node.iface, node.wifi0}, 1));
  CHECK_FALSE(d.birth_missing);  // the interface's alias is of no interest, not unknown
  REQUIRE(d.metrics.size() == 2);
  CHECK(d.metrics[0].name == "System/CPU/Usage");
  CHECK(value_text(d.metrics[0]) == "12.5");
  CHECK(d.metrics[1].name == "WiFi/wlan0/Stations");

  // tail --group other: nothing of school-a is kept, and it is not missing a birth.
  Filter other;
  other.groups = {"other*"};
  Interest by_group;
  by_group.owner = [&](const Topic& t) { return other.node_passes(t); };
  Decoder filtered({}, by_group);
  filtered.decode(kBirthTopic, birth);
  CHECK(filtered.nodes() == 0);
  CHECK(filtered.aliases() == 0);
  CHECK_FALSE(filtered.decode(kDataTopic, node.data({node.cpu}, 1)).birth_missing);
  filtered.decode("spBv1.0/other-1/NBIRTH/room-6a", birth);
  CHECK(filtered.nodes() == 1);
  CHECK(filtered.aliases() == all_metrics);
  CHECK(
      filtered.decode("spBv1.0/other-1/NDATA/room-6a", node.data({node.cpu}, 1)).metrics[0].name ==
      "System/CPU/Usage");
}

TEST_CASE("console: an alias defined twice in a birth takes its last definition", "[console]") {
  org::eclipse::tahu::protobuf::Payload p;
  for (const char* name : {"first", "second"}) {
    auto* m = p.add_metrics();
    m->set_name(name);
    m->set_alias(5);
    m->set_datatype(8);
    m->set_long_value(1);
  }
  Decoder decoder;
  decoder.decode(kBirthTopic, p.SerializeAsString());
  CHECK(decoder.aliases() == 1);
  org::eclipse::tahu::protobuf::Payload data;
  auto* m = data.add_metrics();
  m->set_alias(5);
  m->set_long_value(2);
  CHECK(decoder.decode(kDataTopic, data.SerializeAsString()).metrics[0].name == "second");
}

TEST_CASE("console: fleet of 50000 nodes filtered by group and drawn within a second",
          "[console]") {
  Fleet fleet;
  Decoder decoder;
  AgentNode node;
  node.catalog.set_time(2000);
  node.catalog.put(node.cpu, 3.0f);
  const std::string birth = node.birth(1);
  constexpr int kNodes = 50'000;
  Filter district;
  district.groups = {"sim-00*"};
  char group[16], name[16];
  for (int i = 0; i < kNodes; ++i) {
    std::snprintf(group, sizeof group, "sim-%04d", i / 20 + 1);
    std::snprintf(name, sizeof name, "room-%02d", i % 20 + 1);
    std::string why;
    auto t = parse_topic(std::string("spBv1.0/") + group + "/NBIRTH/" + name, why);
    if (!t) FAIL(why);
    if (!district.topic_passes(*t)) continue;
    // The first node's Will is lost: it falls silent; the rest keep talking.
    fleet.observe(decoder.decode(*t, birth), i == 0 ? 0 : 50'000);
  }
  // sim-0001 ... sim-0099: 99 schools of 20.
  CHECK(fleet.counts(60'000, 30'000).nodes == 99 * 20);
  CHECK(fleet.counts(60'000, 30'000).silent == 1);
  const FleetRow* lost = fleet.find("sim-0001", "room-01");
  REQUIRE(lost);
  CHECK(Fleet::silent(*lost, 60'000, 30'000));

  Fleet all;
  for (int i = 0; i < kNodes; ++i) {
    std::snprintf(group, sizeof group, "sim-%04d", i / 20 + 1);
    std::snprintf(name, sizeof name, "room-%02d", i % 20 + 1);
    all.observe(decoder.decode(std::string("spBv1.0/") + group + "/NBIRTH/" + name, birth),
                i % 1000 == 0 ? 0 : 50'000);
  }
  for (Fleet::Sort sort : {Fleet::Sort::name, Fleet::Sort::state, Fleet::Sort::age}) {
    RenderOptions o;
    o.sort = sort;
    o.now_ms = 60'000;
    o.stale_ms = 30'000;
    o.max_lines = 60;
    o.width = 200;
    const auto start = std::chrono::steady_clock::now();
    const auto lines = render(all, o);
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - start)
                        .count();
    INFO("render took " << ms << " ms");
#if defined(__SANITIZE_ADDRESS__) || !defined(NDEBUG)
    CHECK(ms < 10'000);  // sanitizers and -O0 are many times slower: the figure is for a release
#else
    CHECK(ms < 1000);
#endif
    REQUIRE(lines.size() == 60);
    CHECK(lines[0].find("50000 nodes: 49950 online, 0 offline, 50 silent") != std::string::npos);
    if (sort == Fleet::Sort::state) CHECK(lines[2].find("SILENT") != std::string::npos);
    if (sort == Fleet::Sort::name) CHECK(lines[2].rfind("sim-0001/room-01 ", 0) == 0);
  }
}

TEST_CASE("console: a node is asked for a rebirth at most once a minute", "[console]") {
  SubscribedConsole console;
  Rebirths rebirths(console.clock);
  const Topic room = topic(kDataTopic);
  const uint64_t asked_at = static_cast<uint64_t>(console.clock.wall_ms());
  CHECK(rebirths.maybe_ask(*console.connection, room));
  // Asked again within the limit: no second request.
  console.clock.advance(Rebirths::kEveryMs - 1);
  CHECK_FALSE(rebirths.maybe_ask(*console.connection, room));
  REQUIRE(console.client.published.size() == 1);
  CHECK(console.client.published[0].topic == "spBv1.0/school-a/NCMD/room-6a");
  const auto requests = console.client.decoded("NCMD");
  REQUIRE(requests.size() == 1);
  CHECK(requests[0].timestamp() == asked_at);  // the wall clock's time
  CHECK(rebirths.sent() == 1);

  // Once the limit has passed: another.
  console.clock.advance(1);
  CHECK(rebirths.maybe_ask(*console.connection, room));
  CHECK(console.client.published.size() == 2);
  CHECK(rebirths.sent() == 2);

  // A request that could not be sent does not count: the next try sends it.
  const Topic other = topic("spBv1.0/school-a/NDATA/room-7b");
  console.client.refuse_publish = true;
  CHECK_FALSE(rebirths.maybe_ask(*console.connection, other));
  console.client.refuse_publish = false;
  CHECK(rebirths.maybe_ask(*console.connection, other));
  CHECK(rebirths.sent() == 3);
}

TEST_CASE("console: rebirth requests are at most 20 a second", "[console]") {
  SubscribedConsole console;
  Rebirths rebirths(console.clock);
  auto node = [](int i) { return topic("spBv1.0/g/NDATA/n" + std::to_string(i)); };
  for (int i = 0; i < Rebirths::kPerSecond; ++i)
    CHECK(rebirths.maybe_ask(*console.connection, node(i)));
  const Topic late = node(Rebirths::kPerSecond);
  console.clock.advance(999);
  CHECK_FALSE(rebirths.maybe_ask(*console.connection, late));
  CHECK(console.client.published.size() == static_cast<size_t>(Rebirths::kPerSecond));
  console.clock.advance(1);  // the next second
  CHECK(rebirths.maybe_ask(*console.connection, late));
  CHECK(rebirths.sent() == static_cast<uint64_t>(Rebirths::kPerSecond) + 1);
}

TEST_CASE("console: fleet redraws its table once per refresh period", "[console]") {
  FakeClock clock;
  Redraw redraw(clock, true, 1000, 5000);
  CHECK(redraw.frame_due());  // the first frame at once
  CHECK_FALSE(redraw.frame_due());
  // No frame before the period is over, however often the loop asks.
  clock.advance(999);
  for (int i = 0; i < 3; ++i) CHECK_FALSE(redraw.frame_due());
  CHECK(redraw.wait_ms(200) == 1);
  // One when it is.
  clock.advance(1);
  CHECK(redraw.frame_due());
  CHECK_FALSE(redraw.frame_due());
  // A late frame: the next is a period after it.
  clock.advance(1500);
  CHECK(redraw.frame_due());
  clock.advance(999);
  CHECK_FALSE(redraw.frame_due());
  clock.advance(1);
  CHECK(redraw.frame_due());
  CHECK_FALSE(redraw.listened());  // a terminal's table runs until a signal

  // Between frames: messages are awaited at most up to the cap, and a burst
  // of them is taken for kMaxBusyMs at most, never past the next frame.
  CHECK(redraw.wait_ms(200) == 200);
  CHECK(redraw.burst_end() == clock.steady_ms() + Redraw::kMaxBusyMs);
  CHECK(redraw.before(redraw.burst_end()));
  clock.advance(980);
  CHECK(redraw.wait_ms(200) == 20);
  CHECK(redraw.burst_end() == clock.steady_ms() + 20);
  clock.advance(20);
  CHECK_FALSE(redraw.before(clock.steady_ms()));
  CHECK(redraw.wait_ms(200) == 0);
  CHECK(redraw.frame_due());
}

TEST_CASE("console: fleet not on a terminal listens for wait_ms then stops", "[console]") {
  FakeClock clock;
  Redraw redraw(clock, false, 1000, 5000);
  CHECK_FALSE(redraw.frame_due());  // no frame: one snapshot at the end
  clock.advance(4999);
  CHECK_FALSE(redraw.frame_due());
  CHECK_FALSE(redraw.listened());
  CHECK(redraw.wait_ms(200) == 1);
  clock.advance(1);
  CHECK(redraw.listened());
  CHECK(redraw.wait_ms(200) == 0);
  CHECK(redraw.elapsed_ms() == 5000);
}
