// The Sparkplug session of the real binary against a real Mosquitto.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <atomic>
#include <catch2/catch.hpp>
#include <csignal>
#include <filesystem>
#include <map>
#include <optional>
#include <regex>
#include <sstream>
#include <thread>
#include <vector>

#include "catalog/catalog.hpp"
#include "harness.hpp"
#include "probes/report.hpp"
#include "session/commands.hpp"
#include "session/sparkplug.hpp"
#include "snmp/snmp_model.hpp"

using namespace harness;

namespace {

using Rig = BrokerRig;

std::string ncmd_rebirth(bool value = true, std::optional<uint32_t> datatype = 11,
                         std::optional<uint64_t> alias = std::nullopt) {
  return rebirth_command(value, datatype, alias).SerializeAsString();
}

// `sig` ends the agent as an intentional shutdown should: exit 0, and its
// own NDEATH with the bdSeq of its birth.
void stops_cleanly(Rig& rig, Agent& agent, int sig) {
  agent.signal(sig);
  auto status = agent.wait_exit(10s);
  REQUIRE(status);
  CHECK(*status == 0);
  REQUIRE(rig.sub.wait_for("NDEATH", 1, 10s));
  CHECK(bdseq(rig.sub.of_type("NDEATH")[0].decoded) == bdseq(rig.sub.of_type("NBIRTH")[0].decoded));
  CHECK_THAT(agent.log(), Catch::Contains("published NDEATH"));
}

}  // namespace

TEST_CASE("NBIRTH then NDATA arrive, decode, carry ms UTC timestamps and increasing seq") {
  Rig rig;
  Agent agent(rig.dir.path, rig.options());
  const int64_t started = now_ms();
  agent.start();
  LogOnFailure show_log(agent);
  REQUIRE(rig.sub.wait_for("NDATA", 4, 20s));
  const int64_t seen = now_ms();

  auto births = rig.sub.of_type("NBIRTH");
  REQUIRE(births.size() == 1);
  REQUIRE(births[0].is_sparkplug);
  const Payload& birth = births[0].decoded;
  CHECK(births[0].topic == "spBv1.0/school-test/NBIRTH/room-1");
  CHECK(birth.seq() == 0);
  CHECK(bdseq(birth) == 0);
  const auto* rebirth = find_metric(birth, "Node Control/Rebirth", 0);
  REQUIRE(rebirth);
  CHECK(rebirth->datatype() == 11);
  CHECK_FALSE(rebirth->boolean_value());
  // Every metric of the node: name, alias, datatype, timestamp, and its unit
  // where it has one (an empty engUnit is left out).
  int described = 0;
  for (const auto& m : birth.metrics()) {
    if (m.name() == "bdSeq" || m.name() == "Node Control/Rebirth") continue;
    INFO(m.name());
    CHECK(m.alias() != 0);
    CHECK(m.datatype() != 0);
    CHECK(m.timestamp() >= static_cast<uint64_t>(started - 1000));
    CHECK(m.timestamp() <= static_cast<uint64_t>(seen + 1000));
    if (m.has_properties()) {
      REQUIRE(m.properties().keys_size() == 1);
      CHECK(m.properties().keys(0) == "engUnit");
      CHECK_FALSE(m.properties().values(0).string_value().empty());
    }
    ++described;
  }
  CHECK(described >= 12);
  auto uptime = alias_in_birth(birth, "System/Uptime");
  REQUIRE(uptime);
  CHECK(find_metric(birth, "System/Uptime", 0)->properties().values(0).string_value() == "s");

  auto data = rig.sub.of_type("NDATA");
  for (size_t i = 0; i < data.size(); ++i) {
    REQUIRE(data[i].is_sparkplug);
    CHECK(data[i].decoded.seq() == i + 1);
    for (const auto& m : data[i].decoded.metrics()) {
      CHECK_FALSE(m.has_name());  // alias only
      CHECK(m.alias() != 0);
      // Milliseconds since the epoch, UTC: within the test's own wall-clock window.
      CHECK(m.timestamp() >= static_cast<uint64_t>(started - 1000));
      CHECK(m.timestamp() <= static_cast<uint64_t>(now_ms() + 1000));
    }
  }
  // The uptime changes every cycle, so every NDATA reports it.
  CHECK(find_metric(data.back().decoded, "", *uptime));
}

TEST_CASE(
    "SIGKILL: the broker publishes the NDEATH with the birth's bdSeq, a restart births with bdSeq "
    "+ 1") {
  Rig rig;
  Agent agent(rig.dir.path, rig.options());
  agent.start();
  LogOnFailure show_log(agent);
  REQUIRE(rig.sub.wait_for("NBIRTH", 1, 20s));
  const uint64_t born = bdseq(rig.sub.of_type("NBIRTH")[0].decoded);
  agent.signal(SIGKILL);
  REQUIRE(agent.wait_exit(5s));
  REQUIRE(rig.sub.wait_for("NDEATH", 1, 10s));
  auto death = rig.sub.of_type("NDEATH")[0];
  CHECK(death.topic == "spBv1.0/school-test/NDEATH/room-1");
  CHECK(bdseq(death.decoded) == born);
  CHECK_FALSE(death.decoded.has_seq());

  agent.start();
  REQUIRE(rig.sub.wait_for("NBIRTH", 2, 20s));
  CHECK(bdseq(rig.sub.of_type("NBIRTH")[1].decoded) == born + 1);
}

TEST_CASE("SIGTERM: the agent publishes its own NDEATH and exits 0") {
  Rig rig;
  Agent agent(rig.dir.path, rig.options());
  agent.start();
  LogOnFailure show_log(agent);
  REQUIRE(rig.sub.wait_for("NDATA", 1, 20s));
  stops_cleanly(rig, agent, SIGTERM);
}

TEST_CASE("MQTT 5: the DISCONNECT after the NDEATH asks for the Will, so the broker sends it too") {
  Rig rig;
  Agent agent(rig.dir.path, rig.options());
  agent.start();
  LogOnFailure show_log(agent);
  REQUIRE(rig.sub.wait_for("NDATA", 1, 20s));
  stops_cleanly(rig, agent, SIGTERM);
  // Reason 0x04 "disconnect with Will message": Mosquitto publishes the Will,
  // the NDEATH of the same bdSeq, after the agent's own (a plain DISCONNECT,
  // reason 0, discards it).
  REQUIRE(rig.sub.wait_for("NDEATH", 2, 10s));
  const auto deaths = rig.sub.of_type("NDEATH");
  CHECK(deaths.size() == 2);
  for (const Message& d : deaths)
    CHECK(bdseq(d.decoded) == bdseq(rig.sub.of_type("NBIRTH")[0].decoded));
}

TEST_CASE("systemd: READY=1, a STATUS= line that follows the broker, STOPPING=1 (Type=notify)") {
  Rig rig;
  NotifySocket notify;
  Agent agent(rig.dir.path, rig.options());
  agent.start({"NOTIFY_SOCKET=" + notify.path()});
  LogOnFailure show_log(agent);
  REQUIRE(wait_until([&] { return !notify.received().empty(); }, 10s));
  CHECK(notify.received().front() == "READY=1");
  auto has = [&](const std::string& text) {
    for (const std::string& d : notify.received())
      if (d.find(text) != std::string::npos) return true;
    return false;
  };
  // What `systemctl status` shows: where it is connected, and the backlog.
  REQUIRE(wait_until(
      [&] { return has("STATUS=online to " + rig.broker.url() + ", 0 batches waiting"); }, 10s));
  // The broker goes away: the line says so, with the reason, and the backlog grows.
  rig.broker.stop();
  CHECK(wait_until(
      [&] {
        for (const std::string& d : notify.received())
          if (d.rfind("STATUS=broker " + rig.broker.url() + " unreachable (", 0) == 0 &&
              d.find(" waiting") != std::string::npos && d.find(", 0 batches") == std::string::npos)
            return true;
        return false;
      },
      10s));
  agent.signal(SIGTERM);
  REQUIRE(agent.wait_exit(10s) == 0);
  CHECK(notify.received().back() == "STOPPING=1");
  // No watchdog pings: systemd did not ask for them (no WATCHDOG_USEC).
  CHECK_FALSE(has("WATCHDOG=1"));
}

TEST_CASE("systemd watchdog: WATCHDOG=1 from the loop, missed while the loop is stuck") {
  Rig rig;
  NotifySocket notify;
  Agent agent(rig.dir.path, rig.options());
  // WatchdogSec=1s: a ping every 500 ms. The diagnostic option blocks the
  // loop's first turn for 3 s, as a stuck loop would: systemd would kill it then.
  agent.start({"NOTIFY_SOCKET=" + notify.path(), "WATCHDOG_USEC=1000000"},
              {"--diagnostic-stall-loop-ms", "3000"});
  LogOnFailure show_log(agent);
  std::vector<int64_t> pings;
  REQUIRE(wait_until(
      [&] {
        pings.clear();
        for (const auto& d : notify.received_timed())
          if (d.text == "WATCHDOG=1") pings.push_back(d.at_ms);
        return pings.size() >= 8;
      },
      20s));
  // The first ping, then nothing during the stall, then steady pings again.
  CHECK(pings[1] - pings[0] >= 2900);
  for (size_t i = 2; i < pings.size(); ++i) {
    INFO("ping " << i);
    CHECK(pings[i] - pings[i - 1] < 1000);
  }
  agent.signal(SIGTERM);
  REQUIRE(agent.wait_exit(10s) == 0);
}

TEST_CASE("NCMD Rebirth: a new NBIRTH with the same bdSeq, without reconnecting") {
  Rig rig;
  Agent agent(rig.dir.path, rig.options());
  agent.start();
  LogOnFailure show_log(agent);
  REQUIRE(rig.sub.wait_for("NDATA", 1, 20s));
  rig.sub.publish("spBv1.0/school-test/NCMD/room-1", ncmd_rebirth());
  REQUIRE(rig.sub.wait_for("NBIRTH", 2, 10s));
  auto births = rig.sub.of_type("NBIRTH");
  CHECK(bdseq(births[1].decoded) == bdseq(births[0].decoded));
  CHECK(births[1].decoded.seq() == 0);
  CHECK(rig.sub.of_type("NDEATH").empty());
  // Data goes on after the rebirth, seq restarting at 1: the first NDATA after
  // the second NBIRTH carries seq 1.
  auto ndata_after_rebirth = [&]() -> std::optional<Message> {
    int births_seen = 0;
    for (const Message& m : rig.sub.messages()) {
      if (m.type() == "NBIRTH") ++births_seen;
      if (births_seen == 2 && m.type() == "NDATA") return m;
    }
    return std::nullopt;
  };
  REQUIRE(wait_until([&] { return ndata_after_rebirth().has_value(); }, 10s));
  const Message first = *ndata_after_rebirth();
  REQUIRE(first.is_sparkplug);
  CHECK(first.decoded.seq() == 1);
}

TEST_CASE(
    "NCMD Rebirth as hosts send it: no datatype or by the legacy alias 1, a burst gives one "
    "birth") {
  Rig rig;
  Agent agent(rig.dir.path, rig.options());
  agent.start();
  LogOnFailure show_log(agent);
  REQUIRE(rig.sub.wait_for("NDATA", 1, 20s));
  // By name alone in the birth: the spec forbids it an alias
  // (tck-id-operational-behavior-data-commands-rebirth-name-aliases).
  CHECK_FALSE(alias_in_birth(rig.sub.of_type("NBIRTH")[0].decoded, "Node Control/Rebirth"));
  const std::string ncmd = "spBv1.0/school-test/NCMD/room-1";
  // Three requests at once, without a datatype as Tahu's host sends them.
  for (int i = 0; i < 3; ++i) rig.sub.publish(ncmd, ncmd_rebirth(true, std::nullopt));
  REQUIRE(rig.sub.wait_for("NBIRTH", 2, 10s));
  const uint64_t second = rig.sub.of_type("NBIRTH")[1].decoded.timestamp();
  // Data stamped a second after that birth: the burst is over for the agent.
  auto data_after = [&](uint64_t ts) {
    for (const Message& m : rig.sub.of_type("NDATA"))
      if (m.decoded.timestamp() >= ts) return true;
    return false;
  };
  REQUIRE(wait_until([&] { return data_after(second + 1000); }, 10s));
  // By alias 1, which earlier versions of the agent gave it in the birth (a
  // host may have learnt it), without a name or datatype.
  rig.sub.publish(ncmd, ncmd_rebirth(true, std::nullopt, classroom::kRebirthAlias));
  REQUIRE(rig.sub.wait_for("NBIRTH", 3, 10s));
  const uint64_t third = rig.sub.of_type("NBIRTH")[2].decoded.timestamp();
  REQUIRE(wait_until([&] { return data_after(third + 1); }, 10s));
  CHECK(rig.sub.of_type("NBIRTH").size() == 3);  // the burst gave one
  CHECK(rig.sub.of_type("NDEATH").empty());
}

TEST_CASE("a second agent on the same state dir is refused, in words, and the first goes on") {
  Rig rig;
  Agent first(rig.dir.path, rig.options());
  first.start();
  LogOnFailure show_log(first);
  REQUIRE(rig.sub.wait_for("NBIRTH", 1, 20s));
  Agent second(rig.dir.path, rig.options());  // same config, same state dir
  second.start();
  auto status = second.wait_exit(10s);
  REQUIRE(status);
  CHECK(*status == 1);
  CHECK_THAT(second.log(), Catch::Contains("another classroom-agent (pid ") &&
                               Catch::Contains("is using the state dir"));
  CHECK(rig.sub.of_type("NBIRTH").size() == 1);  // no second session, no new bdSeq
  const size_t before = rig.sub.of_type("NDATA").size();
  REQUIRE(rig.sub.wait_for("NDATA", before + 2, 10s));
}

TEST_CASE("a malformed NCMD is logged and ignored") {
  Rig rig;
  Agent agent(rig.dir.path, rig.options());
  agent.start();
  LogOnFailure show_log(agent);
  REQUIRE(rig.sub.wait_for("NDATA", 1, 20s));
  rig.sub.publish("spBv1.0/school-test/NCMD/room-1", std::string("\xff\x01garbage", 9));
  REQUIRE(wait_until(
      [&] { return agent.log().find("ignored a malformed command") != std::string::npos; }, 10s));
  const size_t before = rig.sub.of_type("NDATA").size();
  REQUIRE(rig.sub.wait_for("NDATA", before + 2, 10s));
  CHECK(rig.sub.of_type("NBIRTH").size() == 1);
}

TEST_CASE("the broker stops and starts again: the agent reconnects and rebirths by itself") {
  Rig rig;
  Agent agent(rig.dir.path, rig.options());
  agent.start();
  LogOnFailure show_log(agent);
  REQUIRE(rig.sub.wait_for("NBIRTH", 1, 20s));
  const uint64_t first = bdseq(rig.sub.of_type("NBIRTH")[0].decoded);
  rig.broker.stop();
  REQUIRE(wait_until([&] { return agent.log().find("lost broker") != std::string::npos; }, 10s));
  rig.broker.start();
  REQUIRE(rig.sub.wait_for("NBIRTH", 2, 20s));
  // A new CONNECT, so a new bdSeq (one per attempt during the outage).
  CHECK(bdseq(rig.sub.of_type("NBIRTH")[1].decoded) != first);
  const size_t before = rig.sub.of_type("NDATA").size();
  REQUIRE(rig.sub.wait_for("NDATA", before + 1, 10s));
}

TEST_CASE("the broker's DISCONNECT: lost broker with its reason, and a new session") {
  // Mosquitto answers a packet over its max_packet_size with an MQTT 5
  // DISCONNECT (reason 0x95) and closes the connection. The only packet the
  // agent does not measure is its receipt: a receipt topic of 30000 bytes
  // makes every receipt such a packet.
  Mosquitto broker("max_packet_size 20000\n");
  Subscriber sub(broker.url());
  TempDir dir;
  AgentOptions o;
  o.url = broker.url();
  o.extra_broker = "receipt_topic = \"" + std::string(30000, 'r') + "\"\n";
  Agent agent(dir.path, o);
  agent.start();
  LogOnFailure show_log(agent);
  REQUIRE(sub.wait_for("NBIRTH", 1, 20s));
  REQUIRE(wait_until(
      [&] {
        return agent.log().find("lost broker " + broker.url() +
                                " (broker sent DISCONNECT: broker says a packet is too large); "
                                "reconnecting in ") != std::string::npos;
      },
      10s));
  REQUIRE(sub.wait_for("NBIRTH", 2, 20s));
  CHECK(bdseq(sub.of_type("NBIRTH")[1].decoded) != bdseq(sub.of_type("NBIRTH")[0].decoded));
}

TEST_CASE("a first server that accepts TCP but never answers MQTT: the agent moves on") {
  Rig rig;
  SilentPort silent;  // listens, never speaks
  AgentOptions o = rig.options();
  o.first_server = "tcp://127.0.0.1:" + std::to_string(silent.port());
  o.extra_broker = "connect_timeout = \"1s\"\n";
  Agent agent(rig.dir.path, o);
  agent.start();
  LogOnFailure show_log(agent);
  REQUIRE(rig.sub.wait_for("NBIRTH", 1, 20s));
  CHECK_THAT(agent.log(), Catch::Contains("no MQTT answer within 3 s"));
}

TEST_CASE("a dead first server: the agent moves on to the next one") {
  Rig rig;
  AgentOptions o = rig.options();
  o.first_server = "tcp://127.0.0.1:" + std::to_string(free_port());  // nothing listens
  Agent agent(rig.dir.path, o);
  agent.start();
  LogOnFailure show_log(agent);
  REQUIRE(rig.sub.wait_for("NBIRTH", 1, 20s));
  CHECK_THAT(agent.log(),
             Catch::Contains("broker " + o.first_server +
                             " unreachable (connection refused (no broker listening on port"));
}

TEST_CASE("the Sparkplug reference decoder (sparkplug-payload) reads birth and data") {
  const std::string dir = SOURCE_DIR "/tests/interop";
  // tests/tools/install-deps.sh (run by tests/run.sh and .ci/run) installs both.
  REQUIRE(::system("command -v node >/dev/null 2>&1") == 0);
  REQUIRE(std::filesystem::exists(dir + "/node_modules/sparkplug-payload"));
  Rig rig;
  Process decoder({"node", dir + "/reference_decoder.js", rig.broker.url(), "3"},
                  rig.dir.path + "/decoder.log");
  // The agent starts once the decoder has subscribed, so it sees the birth.
  REQUIRE(wait_until(
      [&] {
        return read_file(rig.dir.path + "/decoder.log").find("subscribed") != std::string::npos;
      },
      20s));
  Agent agent(rig.dir.path, rig.options());
  agent.start();
  auto status = decoder.wait_exit(40s);
  INFO(read_file(rig.dir.path + "/decoder.log"));
  REQUIRE(status);
  CHECK(*status == 0);
}

TEST_CASE(
    "the reference codec reads every metric datatype, probe kind and SNMP profile with its value") {
  using classroom::DataType;
  using classroom::Value;
  // An edge value of each datatype a metric can be declared with, as the
  // codec's String() shows it (whole numbers of 64 bits arrive as Long).
  struct Edge {
    Value value;
    std::string shown;
  };
  auto edge = [](DataType t) -> std::optional<Edge> {
    switch (t) {
      case DataType::Int64:
        return Edge{int64_t{-4611686018427387904}, "-4611686018427387904"};
      case DataType::UInt64:
        return Edge{uint64_t{18446744073709551615u}, "18446744073709551615"};
      case DataType::DateTime:
        return Edge{uint64_t{1764763200123}, "1764763200123"};
      case DataType::Float:
        return Edge{0.1f, "0.10000000149011612"};
      case DataType::Double:
        return Edge{-1234.5678901234, "-1234.5678901234"};
      case DataType::Boolean:
        return Edge{true, "true"};
      case DataType::String:
      case DataType::Text:
        return Edge{std::string("Zo\xc3\xab 6A"), "Zo\xc3\xab 6A"};
      default:
        return std::nullopt;
    }
  };
  classroom::Catalog catalog;
  for (uint32_t t = 0; t < 40; ++t) {
    const auto type = static_cast<DataType>(t);
    if (!classroom::decodes_everywhere(type)) continue;
    INFO("datatype " << t);
    REQUIRE(edge(type));  // a datatype newly allowed needs its edge value here
    catalog.declare("Types/" + std::string(classroom::to_string(type)),
                    classroom::MetricType::published_as(type), "");
  }
  // Every probe kind's metrics, as the agent declares them.
  namespace probes = classroom::drivers::probes;
  probes::ProbeMetrics icmp, dns, tcp, http, throughput;
  icmp.declare(catalog, probes::Kind::icmp, "ping");
  dns.declare(catalog, probes::Kind::dns, "dns");
  tcp.declare(catalog, probes::Kind::tcp, "tcp");
  http.declare(catalog, probes::Kind::http, "web", true);
  throughput.declare(catalog, probes::Kind::throughput, "speed");
  // Every SNMP profile's metrics, under a device as its poller declares them.
  namespace snmp = classroom::drivers::snmp;
  const classroom::DeviceId device = catalog.add_device("ups-6a");
  classroom::DeviceSink device_sink(catalog, device);
  snmp::ModelOptions all_profiles;
  all_profiles.profiles = snmp::Profiles{true, true, true, true};
  snmp::DeviceModel(all_profiles).apply({}, now_ms(), device_sink);
  REQUIRE(catalog.metric_count(device) >= 8);
  // The commands hosts may send, in the NBIRTH and in every DBIRTH.
  classroom::commands::declare_node(catalog, 10'000);
  classroom::commands::declare_device(catalog, device);
  for (classroom::MetricId id = 0; id < catalog.size(); ++id)
    catalog.put(id, edge(catalog.at(id).type)->value);

  classroom::sparkplug::Payload nbirth, dbirth;
  classroom::sparkplug::build_birth(nbirth, catalog, 3, now_ms());
  classroom::sparkplug::build_device_birth(dbirth, catalog, device, 1, now_ms());
  TempDir dir;
  std::map<std::string, std::string> shown;  // name -> "type\tvalue"
  for (const auto& [file, birth] : {std::pair{"/nbirth", &nbirth}, std::pair{"/dbirth", &dbirth}}) {
    write_file(dir.path + file, birth->SerializeAsString());
    auto [status, out] = run_shell(
        "node " SOURCE_DIR "/tests/interop/reference_decoder.js --decode " + dir.path + file);
    INFO(out);
    REQUIRE(status == 0);
    std::istringstream lines(out);
    for (std::string line; std::getline(lines, line);)
      if (auto tab = line.find('\t'); tab != std::string::npos)
        shown[line.substr(0, tab)] = line.substr(tab + 1);
  }
  for (classroom::MetricId id = 0; id < catalog.size(); ++id) {
    const classroom::CatalogEntry& e = catalog.at(id);
    INFO(e.name);
    CHECK(shown[std::string(e.name)] ==
          std::string(classroom::to_string(e.type)) + "\t" + edge(e.type)->shown);
  }
  CHECK(shown.size() == catalog.size() + 2);  // and bdSeq, Node Control/Rebirth
}

TEST_CASE("signals an admin or a script may send do not stop the agent, SIGTERM still does") {
  Rig rig;
  Agent agent(rig.dir.path, rig.options());
  agent.start();
  LogOnFailure show_log(agent);
  REQUIRE(rig.sub.wait_for("NDATA", 1, 20s));
  // Each of these ends a process that does not handle it (their default action
  // is to terminate, some with a core dump).
  const std::vector<std::pair<int, std::string>> signals = {
      {SIGHUP, "SIGHUP"},    {SIGUSR1, "SIGUSR1"},     {SIGUSR2, "SIGUSR2"},
      {SIGALRM, "SIGALRM"},  {SIGVTALRM, "SIGVTALRM"}, {SIGPROF, "SIGPROF"},
      {SIGIO, "SIGPOLL"},    {SIGPWR, "SIGPWR"},       {SIGSTKFLT, "SIGSTKFLT"},
      {SIGQUIT, "SIGQUIT"},  {SIGRTMIN, "SIGRTMIN"},   {SIGRTMIN + 3, "SIGRTMIN+3"},
      {SIGRTMAX, "SIGRTMAX"}};
  for (const auto& [sig, name] : signals) {
    INFO(name);
    agent.signal(sig);
    REQUIRE(
        wait_until([&] { return agent.log().find(name + " received") != std::string::npos; }, 10s));
    REQUIRE(agent.running());
  }
  agent.signal(SIGPIPE);  // ignored outright
  // SIGHUP re-reads the config: unchanged here, so the same session goes on.
  CHECK_THAT(agent.log(), Catch::Contains("SIGHUP received: reading the config again"));
  CHECK_THAT(agent.log(), Catch::Contains("SIGUSR1 received: ignored"));
  // Still publishing, in the same session.
  const size_t before = rig.sub.of_type("NDATA").size();
  REQUIRE(rig.sub.wait_for("NDATA", before + 2, 10s));
  CHECK(agent.running());
  CHECK(rig.sub.of_type("NBIRTH").size() == 1);
  CHECK(rig.sub.of_type("NDEATH").empty());

  stops_cleanly(rig, agent, SIGTERM);
}

TEST_CASE("SIGINT stops the agent cleanly too") {
  Rig rig;
  Agent agent(rig.dir.path, rig.options());
  agent.start();
  LogOnFailure show_log(agent);
  REQUIRE(rig.sub.wait_for("NDATA", 1, 20s));
  agent.signal(SIGINT);
  REQUIRE(agent.wait_exit(10s) == 0);
  REQUIRE(rig.sub.wait_for("NDEATH", 1, 10s));
  CHECK_THAT(agent.log(), Catch::Contains("SIGINT received: stopping"));
}

TEST_CASE("a hostile NCMD cannot forge a log line, a journald priority or a terminal escape") {
  Rig rig;
  Agent agent(rig.dir.path, rig.options());
  agent.start();
  LogOnFailure show_log(agent);
  REQUIRE(rig.sub.wait_for("NDATA", 1, 20s));
  // Each refused whole for its first unknown name, so one name a command.
  for (const std::string& name :
       {std::string("x\n2026-01-01T00:00:00.000Z E agent: FORGED LINE"),
        std::string("\n<3>journal priority"), std::string("\x1b[2J\x1b]0;title\x07"),
        std::string("bad \xff\xfe utf-8\r"), std::string(20'000, 'n')})
    rig.sub.publish("spBv1.0/school-test/NCMD/room-1", command(name, true).SerializeAsString());
  REQUIRE(wait_until(
      [&] {
        const std::string log = agent.log();
        size_t n = 0;
        for (size_t at = log.find("ignored a malformed command"); at != std::string::npos;
             at = log.find("ignored a malformed command", at + 1))
          ++n;
        return n == 5;
      },
      10s));
  const std::string log = agent.log();
  const std::regex line_start(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z [DIWE] [a-z]+: .*)");
  std::istringstream lines(log);
  for (std::string line; std::getline(lines, line);) {
    INFO(line);
    CHECK(std::regex_match(line, line_start));
    CHECK(line.size() < 2048);
    for (char c : line) CHECK((static_cast<unsigned char>(c) >= 0x20 && c != 0x7f));
  }
  CHECK_THAT(log, Catch::Contains("x\\n2026-01-01T00:00:00.000Z E agent: FORGED LINE"));
  CHECK_THAT(log, Catch::Contains("\\n<3>journal priority"));
  CHECK_THAT(log, Catch::Contains("\\x1b[2J"));
  CHECK_THAT(log, Catch::Contains("bad \\xff\\xfe utf-8\\r"));
  // The agent goes on.
  const size_t before = rig.sub.of_type("NDATA").size();
  REQUIRE(rig.sub.wait_for("NDATA", before + 1, 10s));
}

TEST_CASE("a flood of big NCMDs costs no memory beyond the budget, and the agent goes on") {
  Rig rig;
  AgentOptions o = rig.options();
  o.interval = "200ms";
  Agent agent(rig.dir.path, o);
  agent.start();
  LogOnFailure show_log(agent);
  REQUIRE(rig.sub.wait_for("NDATA", 3, 20s));
  const uint64_t before_kib = private_dirty_kib(agent.pid());
  REQUIRE(before_kib > 0);
  // Ten 5 MB commands: a rebirth request padded with a huge unsupported metric.
  Payload p = rebirth_command();
  p.add_metrics()->set_name(std::string(5 << 20, 'z'));
  const std::string big = p.SerializeAsString();
  for (int i = 0; i < 10; ++i) rig.sub.publish("spBv1.0/school-test/NCMD/room-1", big);
  // A small command after them still works: the session was not disturbed.
  rig.sub.publish("spBv1.0/school-test/NCMD/room-1", ncmd_rebirth());
  REQUIRE(rig.sub.wait_for("NBIRTH", 2, 20s));
  const size_t ndata = rig.sub.of_type("NDATA").size();
  REQUIRE(rig.sub.wait_for("NDATA", ndata + 3, 10s));
  uint64_t after_kib = 0;
  const bool within = wait_until(
      [&] {
        after_kib = private_dirty_kib(agent.pid());
        return after_kib > 0 && after_kib <= 2048;
      },
      10s);
  INFO("private dirty before " << before_kib << " KiB, after " << after_kib << " KiB");
  CHECK(within);
  // Only the small rebirth request got through: one new birth, not eleven.
  CHECK(rig.sub.of_type("NBIRTH").size() == 2);
}

namespace {

// A broker of MQTT 3.1.1 only, in front of the real one: it answers an MQTT 5
// CONNECT as a 3.1.1 broker must (CONNACK "unacceptable protocol version", then
// it closes), or with `silent` closes without a word as RabbitMQ 3.10 does,
// and passes any other connection through to Mosquitto.
class V311OnlyProxy {
 public:
  explicit V311OnlyProxy(int upstream, bool silent = false) : upstream_(upstream), silent_(silent) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    ::listen(listen_fd_, 8);
    socklen_t len = sizeof addr;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
  }
  ~V311OnlyProxy() {
    stop_ = true;
    ::shutdown(listen_fd_, SHUT_RDWR);
    acceptor_.join();
    for (std::thread& t : pumps_) t.join();
    ::close(listen_fd_);
  }
  int port() const { return port_; }
  int refused() const { return refused_; }

 private:
  void accept_loop() {
    for (;;) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) {
        if (stop_) return;
        continue;
      }
      int client = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (client < 0) return;
      pumps_.emplace_back([this, client] { serve(client); });
    }
  }
  void serve(int client) {
    // CONNECT: fixed header, remaining length (1 to 4 bytes), "\0\4MQTT", level.
    char head[12];
    size_t got = 0, level_at = 0;
    auto read_one = [&] {
      return got < sizeof head && ::recv(client, head + got, 1, 0) == 1 && ++got;
    };
    bool ok = read_one();
    while (ok && read_one() && (head[got - 1] & 0x80) && got < 5) {
    }
    level_at = got + 6;
    while (ok && got <= level_at && read_one()) {
    }
    if (got > level_at && head[level_at] == 5) {
      const char connack[] = {0x20, 0x02, 0x00, 0x01};
      if (!silent_) ::send(client, connack, sizeof connack, MSG_NOSIGNAL);
      ++refused_;
      ::close(client);
      return;
    }
    int up = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(upstream_));
    if (::connect(up, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
      ::send(up, head, got, MSG_NOSIGNAL);
      pollfd fds[2] = {{client, POLLIN, 0}, {up, POLLIN, 0}};
      char buf[65536];
      while (!stop_) {
        if (::poll(fds, 2, 100) < 0) break;
        bool closed = false;
        for (int i = 0; i < 2 && !closed; ++i) {
          if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
          ssize_t n = ::recv(fds[i].fd, buf, sizeof buf, 0);
          if (n <= 0 || ::send(fds[1 - i].fd, buf, static_cast<size_t>(n), MSG_NOSIGNAL) != n)
            closed = true;
        }
        if (closed) break;
      }
    }
    ::close(up);
    ::close(client);
  }

  int upstream_;
  bool silent_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> refused_{0};
  std::thread acceptor_;
  std::vector<std::thread> pumps_;
};

}  // namespace

TEST_CASE("a broker of MQTT 3.1.1 only: the agent falls back and its session works") {
  Rig rig;
  V311OnlyProxy proxy(rig.broker.port());
  AgentOptions o = rig.options();
  o.url = "tcp://127.0.0.1:" + std::to_string(proxy.port());
  Agent agent(rig.dir.path, o);
  agent.start();
  LogOnFailure show_log(agent);
  REQUIRE(rig.sub.wait_for("NDATA", 2, 20s));
  CHECK(proxy.refused() >= 1);
  CHECK_THAT(agent.log(), Catch::Contains("refused MQTT 5 (broker refused the connection: "
                                          "unacceptable protocol version): connecting to it in "
                                          "MQTT 3.1.1 now"));
  // Rebirth by NCMD, and the agent's own NDEATH, work over 3.1.1 too.
  rig.sub.publish("spBv1.0/school-test/NCMD/room-1", ncmd_rebirth());
  REQUIRE(rig.sub.wait_for("NBIRTH", 2, 10s));
  agent.signal(SIGTERM);
  REQUIRE(agent.wait_exit(10s) == 0);
  REQUIRE(rig.sub.wait_for("NDEATH", 1, 10s));
}

// A server that refuses MQTT 5 (a CONNACK that says so, or the
// connection closed on the CONNECT as RabbitMQ 3.10 does) is asked again at
// once in MQTT 3.1.1, not after a backoff on the next server of the list.
TEST_CASE("MQTT 5 refused by the first of two servers: MQTT 3.1.1 on it at once") {
  for (const bool silent : {false, true}) {
    DYNAMIC_SECTION((silent ? "connection closed on the CONNECT" : "CONNACK refusal")) {
      Rig rig;
      V311OnlyProxy proxy(rig.broker.port(), silent);
      const std::string proxy_url = "tcp://127.0.0.1:" + std::to_string(proxy.port());
      AgentOptions o = rig.options();
      o.first_server = proxy_url;  // then the broker itself
      Agent agent(rig.dir.path, o);
      agent.start();
      LogOnFailure show_log(agent);
      REQUIRE(rig.sub.wait_for("NBIRTH", 1, 20s));
      CHECK(proxy.refused() == 1);
      CHECK_THAT(agent.log(),
                 Catch::Contains("broker " + proxy_url + " refused MQTT 5 (") &&
                     Catch::Contains("connecting to it in MQTT 3.1.1 now") &&
                     Catch::Contains("connected to " + proxy_url + " as school-test/room-1"));
      CHECK_THAT(agent.log(), !Catch::Contains("unreachable"));
    }
  }
}

// [broker] protocol = "3.1.1" never tries MQTT 5; a closed port is then
// "connection refused", as with MQTT 5, not Paho's placeholder reason 255.
TEST_CASE("protocol 3.1.1 never tries MQTT 5 and a closed port reads connection refused") {
  Rig rig;
  V311OnlyProxy proxy(rig.broker.port());
  AgentOptions o = rig.options();
  o.first_server = "tcp://127.0.0.1:" + std::to_string(free_port());  // nothing listens
  o.url = "tcp://127.0.0.1:" + std::to_string(proxy.port());
  o.extra_broker = "protocol = \"3.1.1\"\n";
  Agent agent(rig.dir.path, o);
  agent.start();
  LogOnFailure show_log(agent);
  REQUIRE(rig.sub.wait_for("NDATA", 1, 20s));
  CHECK(proxy.refused() == 0);
  CHECK_THAT(agent.log(), Catch::Contains("broker " + o.first_server +
                                          " unreachable (connection refused (no broker listening"));
  CHECK_THAT(agent.log(), !Catch::Contains("reason code 255"));
}

// protocol = "5": a server of MQTT 3.1.1 only stays refused, and says why.
TEST_CASE("protocol 5 does not fall back to MQTT 3.1.1") {
  Rig rig;
  V311OnlyProxy proxy(rig.broker.port());
  AgentOptions o = rig.options();
  o.url = "tcp://127.0.0.1:" + std::to_string(proxy.port());
  o.extra_broker = "protocol = \"5\"\n";
  Agent agent(rig.dir.path, o);
  agent.start();
  LogOnFailure show_log(agent);
  REQUIRE(wait_until([&] { return proxy.refused() >= 3; }, 20s));
  CHECK(rig.sub.of_type("NBIRTH").empty());
  CHECK_THAT(agent.log(), Catch::Contains("unreachable (broker refused the connection: "
                                          "unacceptable protocol version)"));
  CHECK_THAT(agent.log(), !Catch::Contains("3.1.1"));
}

TEST_CASE("bdSeq that cannot be saved: every session still gets a new one, refused attempts none") {
  Rig rig;
  AgentOptions o = rig.options();
  Agent agent(rig.dir.path, o);
  // What stands where the file goes cannot be replaced by a file, not even by root.
  std::filesystem::create_directories(rig.dir.path + "/state/bdseq");
  agent.start();
  LogOnFailure show_log(agent);
  REQUIRE(rig.sub.wait_for("NBIRTH", 1, 20s));
  // Two more sessions, with refused attempts (no CONNECT sent) in between.
  auto refused = [&] {
    const std::string log = agent.log();
    size_t n = 0;
    for (size_t at = log.find("(connection refused"); at != std::string::npos;
         at = log.find("(connection refused", at + 1))
      ++n;
    return n;
  };
  for (size_t session = 2; session <= 3; ++session) {
    const size_t before = refused();
    rig.broker.stop();
    REQUIRE(wait_until([&] { return refused() >= before + 2; }, 15s));
    rig.broker.start();
    REQUIRE(rig.sub.wait_for("NBIRTH", session, 20s));
  }
  const auto births = rig.sub.of_type("NBIRTH");
  CHECK(bdseq(births[0].decoded) == 0);
  CHECK(bdseq(births[1].decoded) == 1);
  CHECK(bdseq(births[2].decoded) == 2);
  // Said once, with its cause, and shown by status.
  const std::string log = agent.log();
  const std::string said = "cannot save it in " + rig.dir.path + "/state/bdseq: ";
  CHECK(log.find(said) != std::string::npos);
  CHECK(log.find(said) == log.rfind(said));
  auto [rc, out] = run_shell(std::string(AGENT_BINARY) + " status -c " + agent.config_path());
  CHECK_THAT(out, Catch::Contains("bdSeq 2: " + said));
}

// ---- Where the agent broke the spec, proven against a real broker ----

namespace {

// Batches waiting in the agent's spool, as `classroom-agent status --json` says (-1: no answer).
int64_t spool_pending(const Agent& agent) {
  auto [rc, out] =
      run_shell(std::string(AGENT_BINARY) + " status --json -c " + agent.config_path());
  std::smatch m;
  if (!std::regex_search(out, m, std::regex(R"re("pending":\s*(\d+))re"))) return -1;
  return std::stoll(m[1]);
}

}  // namespace

TEST_CASE("a late CONNACK: data after the NBIRTH holds no value older than the birth's unflagged") {
  Rig rig;
  Agent agent(rig.dir.path, rig.options());  // 500 ms
  // The broker takes the TCP connection (the kernel does) but answers nothing:
  // the agent's CONNECT waits while it samples into the spool.
  rig.broker.freeze();
  struct Thaw {
    Mosquitto& b;
    ~Thaw() { b.thaw(); }
  } thaw{rig.broker};
  agent.start();
  LogOnFailure show_log(agent);
  REQUIRE(wait_until([&] { return agent.log().find("connecting to") != std::string::npos; }, 10s));
  // Samples of some 2.5 s wait for the CONNACK (the connect deadline is 12 s).
  REQUIRE(wait_until([&] { return spool_pending(agent) >= 5; }, 10s));
  rig.broker.thaw();
  REQUIRE(rig.sub.wait_for("NDATA", 6, 20s));
  REQUIRE(rig.sub.of_type("NBIRTH").size() == 1);
  const Payload birth = rig.sub.of_type("NBIRTH")[0].decoded;
  std::map<uint64_t, uint64_t> born_at;  // alias -> the birth's timestamp of its value
  for (const auto& m : birth.metrics())
    if (m.has_alias()) born_at[m.alias()] = m.timestamp();
  // tck-id-operational-behavior-data-publish-nbirth-order: after the birth,
  // values go forward in time unless flagged historical.
  std::map<uint64_t, uint64_t> last_live;
  size_t historical = 0, live = 0;
  for (const Message& msg : rig.sub.of_type("NDATA"))
    for (const auto& m : msg.decoded.metrics()) {
      INFO("alias " << m.alias() << " at " << m.timestamp() << ", seq " << msg.decoded.seq());
      REQUIRE(born_at.count(m.alias()) == 1);
      if (m.is_historical()) {
        ++historical;
        continue;
      }
      ++live;
      CHECK(m.timestamp() >= born_at[m.alias()]);
      CHECK(m.timestamp() >= last_live[m.alias()]);
      last_live[m.alias()] = m.timestamp();
    }
  // The samples taken while the CONNACK was late did arrive, as history.
  CHECK(historical >= 4);
  CHECK(live >= 1);
}

TEST_CASE(
    "a publish the broker refuses ends the session with the agent's own NDEATH and the Will") {
  // Receipts (classroom-agent/...) are not allowed: Mosquitto answers their
  // PUBACK with reason 0x87 (not authorized), which ends the session. (With
  // the harness's max_queued_messages 0, Mosquitto 2.0.11 also drops the
  // connection right after such a PUBACK: then nothing but the Will can say
  // the node is dead, and the agent rightly sends no NDEATH of its own.)
  TempDir acl;
  write_file(acl.path + "/acl", "topic readwrite spBv1.0/#\n");
  Mosquitto broker("acl_file " + acl.path + "/acl\nmax_queued_messages 1000\n");
  Subscriber sub(broker.url());
  TempDir dir;
  AgentOptions o;
  o.url = broker.url();
  Agent agent(dir.path, o);
  agent.start();
  LogOnFailure show_log(agent);
  REQUIRE(sub.wait_for("NDEATH", 2, 20s));
  const Payload birth = sub.of_type("NBIRTH").at(0).decoded;
  // The first session's two deaths: the agent's own, sent when it ended the
  // session (stamped after its birth), then the Will the broker publishes for
  // the DISCONNECT with reason 0x04 (stamped at the CONNECT, before the birth).
  std::vector<Payload> deaths;
  for (const Message& m : sub.of_type("NDEATH"))
    if (bdseq(m.decoded) == bdseq(birth)) deaths.push_back(m.decoded);
  REQUIRE(deaths.size() == 2);
  CHECK(deaths[0].timestamp() >= birth.timestamp());
  CHECK(deaths[1].timestamp() < birth.timestamp());
  CHECK_THAT(agent.log(), Catch::Contains("lost broker " + broker.url() +
                                          " (the broker refused delivery receipt 1: "));
  // The next session begins with the next bdSeq.
  REQUIRE(sub.wait_for("NBIRTH", 2, 20s));
  CHECK(bdseq(sub.of_type("NBIRTH")[1].decoded) == (bdseq(birth) + 1) % 256);
}

namespace {

// Mosquitto's dynamic security plugin, with anonymous clients in a group
// whose role denies (or not) the subscription to the agent's NCMD topic: a
// broker that answers that SUBSCRIBE with a refusal (SUBACK 0x80 in MQTT
// 3.1.1, 0x87 in MQTT 5), as an ACL or a cluster that lost the subscription's
// queue does.
std::string dynsec_json(bool deny_ncmd) {
  return std::string(R"({"defaultACLAccess":{"publishClientSend":true,"publishClientReceive":true,)"
                     R"("subscribe":true,"unsubscribe":true},"clients":[],)"
                     R"("groups":[{"groupname":"anonymous","roles":[{"rolename":"edge"}]}],)"
                     R"("roles":[{"rolename":"edge","acls":[)") +
         (deny_ncmd ? R"({"acltype":"subscribeLiteral","topic":"spBv1.0/school-test/NCMD/room-1",)"
                      R"("priority":0,"allow":false})"
                    : "") +
         R"(]}],"anonymousGroup":"anonymous"})";
}

std::string status_of(const Agent& agent) {
  return run_shell(std::string(AGENT_BINARY) + " status --json -c " + agent.config_path()).second;
}

}  // namespace

// A refused subscription never keeps a node from publishing.
TEST_CASE("a broker that refuses the NCMD subscription still gets births and data") {
  TempDir conf;
  const std::string dynsec = conf.path + "/dynsec.json";
  write_file(dynsec, dynsec_json(true));
  // Debian's mosquitto package ships the plugin in its multiarch dir.
  auto [found, plugin] = run_shell("ls /usr/lib/*/mosquitto_dynamic_security.so | head -1");
  while (!plugin.empty() && plugin.back() == '\n') plugin.pop_back();
  INFO(plugin);
  REQUIRE((found == 0 && !plugin.empty()));
  Mosquitto broker("plugin " + plugin + "\nplugin_opt_config_file " + dynsec + "\nlog_type all\n");
  Subscriber sub(broker.url());
  TempDir dir;
  AgentOptions o;
  o.url = broker.url();
  Agent agent(dir.path, o);
  agent.start();
  LogOnFailure show_log(agent);
  REQUIRE(sub.wait_for("NBIRTH", 1, 20s));
  REQUIRE(sub.wait_for("NDATA", 2, 20s));
  // Said once, with the broker's words, however often it is asked again.
  REQUIRE(wait_until([&] { return agent.log().find("asking again") != std::string::npos; }, 10s));
  std::string json;
  REQUIRE(wait_until(
      [&] {
        json = status_of(agent);
        return json.find("\"commands_available\":false") != std::string::npos;
      },
      10s));
  INFO(json);
  CHECK_THAT(json, Catch::Contains("\"commands unavailable\""));
  CHECK_THAT(json, Catch::Contains("refused the subscription to spBv1.0/school-test/NCMD/room-1"));
  const std::string text =
      run_shell(std::string(AGENT_BINARY) + " status -c " + agent.config_path()).second;
  CHECK_THAT(text, Catch::Contains("COMMANDS UNAVAILABLE: broker " + broker.url() +
                                   " refused the subscription to spBv1.0/school-test/NCMD/room-1"));
  // Asked again with the backoff (0.2, 0.4, 0.8 s ...): the broker saw it thrice.
  REQUIRE(wait_until(
      [&] {
        const std::string log = broker.log();
        const std::string asked = "spBv1.0/school-test/NCMD/room-1 (QoS 1)";
        size_t n = 0;
        for (size_t at = log.find(asked); at != std::string::npos; at = log.find(asked, at + 1))
          ++n;
        return n >= 3;
      },
      15s));
  CHECK(sub.of_type("NBIRTH").size() == 1);  // one session throughout
  const std::string log = agent.log();
  CHECK(log.find("publishing without commands") == log.rfind("publishing without commands"));

  // The broker takes the subscription again (its ACL changed, a restart):
  // commands come, and status says nothing more of them.
  broker.stop();
  write_file(dynsec, dynsec_json(false));
  broker.start();
  REQUIRE(sub.wait_for("NBIRTH", 2, 30s));
  REQUIRE(wait_until(
      [&] {
        json = status_of(agent);
        return json.find("\"commands_available\":true") != std::string::npos;
      },
      10s));
  CHECK_THAT(json, Catch::Contains("\"commands_problem\":null"));
  CHECK_THAT(agent.log(), Catch::Contains("commands available again"));
  sub.publish("spBv1.0/school-test/NCMD/room-1", ncmd_rebirth());
  REQUIRE(sub.wait_for("NBIRTH", 3, 10s));
}
