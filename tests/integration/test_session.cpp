// The Sparkplug session of the real binary against a real Mosquitto.
#include <catch2/catch.hpp>
#include <csignal>
#include <filesystem>

#include "harness.hpp"

using namespace harness;

namespace {

struct Rig {
  Mosquitto broker;
  Subscriber sub{broker.url()};
  TempDir dir;
  AgentOptions options() const {
    AgentOptions o;
    o.url = broker.url();
    return o;
  }
};

std::string ncmd_rebirth() {
  Payload p;
  auto* m = p.add_metrics();
  m->set_name("Node Control/Rebirth");
  m->set_datatype(11);
  m->set_boolean_value(true);
  return p.SerializeAsString();
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
  // Every metric of the node: name, alias, datatype, timestamp, and its unit.
  int described = 0;
  for (const auto& m : birth.metrics()) {
    if (m.name() == "bdSeq" || m.name() == "Node Control/Rebirth") continue;
    INFO(m.name());
    CHECK(m.alias() != 0);
    CHECK(m.datatype() != 0);
    CHECK(m.timestamp() >= static_cast<uint64_t>(started - 1000));
    CHECK(m.timestamp() <= static_cast<uint64_t>(seen + 1000));
    REQUIRE(m.properties().keys_size() == 1);
    CHECK(m.properties().keys(0) == "engUnit");
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
  agent.signal(SIGTERM);
  auto status = agent.wait_exit(10s);
  REQUIRE(status);
  CHECK(*status == 0);
  REQUIRE(rig.sub.wait_for("NDEATH", 1, 10s));
  CHECK(bdseq(rig.sub.of_type("NDEATH")[0].decoded) == bdseq(rig.sub.of_type("NBIRTH")[0].decoded));
  CHECK_THAT(agent.log(), Catch::Contains("published NDEATH"));
}

TEST_CASE("systemd: READY=1 once running, STOPPING=1 on SIGTERM (Type=notify)") {
  Rig rig;
  NotifySocket notify;
  Agent agent(rig.dir.path, rig.options());
  agent.start({"NOTIFY_SOCKET=" + notify.path()});
  LogOnFailure show_log(agent);
  REQUIRE(wait_until([&] { return !notify.received().empty(); }, 10s));
  CHECK(notify.received().front() == "READY=1");
  agent.signal(SIGTERM);
  REQUIRE(agent.wait_exit(10s) == 0);
  // No watchdog pings: systemd did not ask for them (no WATCHDOG_USEC).
  CHECK(notify.received() == std::vector<std::string>{"READY=1", "STOPPING=1"});
}

TEST_CASE("systemd watchdog: WATCHDOG=1 from the loop, missed while the loop is stuck") {
  Rig rig;
  NotifySocket notify;
  Agent agent(rig.dir.path, rig.options());
  // WatchdogSec=1s: a ping every 500 ms. The test hook blocks the loop's first
  // turn for 3 s, as a stuck loop would: systemd would kill it then.
  agent.start({"NOTIFY_SOCKET=" + notify.path(), "WATCHDOG_USEC=1000000",
               "CLASSROOM_TEST_STALL_LOOP_MS=3000"});
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
  // Data goes on after the rebirth, seq restarting at 1.
  const size_t before = rig.sub.of_type("NDATA").size();
  REQUIRE(rig.sub.wait_for("NDATA", before + 1, 10s));
  auto all = rig.sub.messages();
  for (size_t i = 0; i + 1 < all.size(); ++i)
    if (all[i].type() == "NBIRTH" && i > 0 && all[i + 1].type() == "NDATA")
      CHECK(all[i + 1].decoded.seq() == 1);
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
             Catch::Contains("broker " + o.first_server + " unreachable (Connection refused)"));
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
