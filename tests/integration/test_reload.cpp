// SIGHUP re-reads the config: a valid change is applied with a
// rebirth and no gap in the data, a broken file changes nothing, a new
// identity gets a clean new session; and SIGTERM ends the agent within the
// unit's stop timeout even with the broker unreachable and a probe hanging,
// and both stay within 2 s while SNMPv3 devices do not answer.
#include <sys/stat.h>
#include <algorithm>
#include <catch2/catch.hpp>
#include <csignal>
#include <filesystem>
#include <set>
#include <string>

#include "harness.hpp"

using namespace harness;

namespace {

using Rig = BrokerRig;

bool has_metric_prefix(const Payload& birth, const std::string& prefix) {
  for (const auto& m : birth.metrics())
    if (m.name().rfind(prefix, 0) == 0) return true;
  return false;
}

// The longest time between two consecutive node messages (births and data).
int64_t longest_gap_ms(Subscriber& sub, const std::string& node) {
  int64_t last = 0, gap = 0;
  for (const Message& m : sub.messages()) {
    if (m.topic.find("/" + node) == std::string::npos || m.type() == "NDEATH") continue;
    if (last) gap = std::max(gap, m.received_ms - last);
    last = m.received_ms;
  }
  return gap;
}

}  // namespace

TEST_CASE("SIGHUP with a new source: a rebirth with the new metrics, same session, no gap") {
  Rig rig;
  Agent agent(rig.dir.path, rig.options());
  agent.start();
  LogOnFailure show(agent);
  REQUIRE(rig.sub.wait_for("NDATA", 2, 20s));
  const Payload first = rig.sub.of_type("NBIRTH")[0].decoded;
  REQUIRE_FALSE(has_metric_prefix(first, "Network/"));

  // The admin adds the network source (loopback included, so this machine has one).
  write_file(agent.config_path(), read_file(agent.config_path()) +
                                      "[sources.network]\ninterval = \"500ms\"\nexclude = []\n");
  agent.signal(SIGHUP);
  REQUIRE(rig.sub.wait_for("NBIRTH", 2, 10s));
  const Payload second = rig.sub.of_type("NBIRTH")[1].decoded;
  CHECK(has_metric_prefix(second, "Network/lo/"));
  // The same session (bdSeq) and the same aliases for what was there before.
  CHECK(bdseq(second) == bdseq(first));
  CHECK(alias_in_birth(second, "System/Uptime") == alias_in_birth(first, "System/Uptime"));
  CHECK(rig.sub.of_type("NDEATH").empty());
  // Data keeps flowing on its 500 ms grid: no gap of more than 3 intervals.
  const size_t data = rig.sub.of_type("NDATA").size();
  REQUIRE(rig.sub.wait_for("NDATA", data + 3, 10s));
  CHECK(longest_gap_ms(rig.sub, "room-1") < 1500);
  CHECK_THAT(agent.log(), Catch::Contains("reloaded: 2 sources"));

  // And back: the removed source's metrics leave the next birth.
  write_file(agent.config_path(),
             read_file(agent.config_path())
                 .substr(0, read_file(agent.config_path()).find("[sources.network]")));
  agent.signal(SIGHUP);
  REQUIRE(rig.sub.wait_for("NBIRTH", 3, 10s));
  CHECK_FALSE(has_metric_prefix(rig.sub.of_type("NBIRTH")[2].decoded, "Network/"));
  CHECK(rig.sub.of_type("NBIRTH").size() == 3);  // one rebirth per reload
  CHECK_THAT(agent.log(), Catch::Contains("metrics no longer published"));
}

TEST_CASE("SIGHUP with a broken config: errors logged, data keeps flowing unchanged") {
  Rig rig;
  Agent agent(rig.dir.path, rig.options());
  agent.start();
  LogOnFailure show(agent);
  REQUIRE(rig.sub.wait_for("NDATA", 2, 20s));
  const std::string good = read_file(agent.config_path());
  write_file(agent.config_path(), good + "[sourcez.system]\ninterval = \"1s\"\n");
  agent.signal(SIGHUP);
  REQUIRE(wait_until([&] { return agent.log().find("reload refused") != std::string::npos; }, 10s));
  CHECK_THAT(agent.log(), Catch::Contains("reload refused: 1 problem in " + agent.config_path() +
                                          "; still running with the config read before"));
  // The mistakes, with where they are, for the technician.
  CHECK_THAT(agent.log(),
             Catch::Contains("reload: " + agent.config_path() + ":" +
                             std::to_string(1 + std::count(good.begin(), good.end(), '\n')) +
                             ":2: sourcez: unknown key"));
  const size_t data = rig.sub.of_type("NDATA").size();
  REQUIRE(rig.sub.wait_for("NDATA", data + 3, 10s));
  CHECK(rig.sub.of_type("NBIRTH").size() == 1);
  CHECK(rig.sub.of_type("NDEATH").empty());
  CHECK(agent.running());
}

TEST_CASE("SIGHUP with a new node name: the old session ends, a clean new one begins") {
  Rig rig;
  Agent agent(rig.dir.path, rig.options());
  agent.start();
  LogOnFailure show(agent);
  REQUIRE(rig.sub.wait_for("NBIRTH", 1, 20s));
  std::string text = read_file(agent.config_path());
  text.replace(text.find("node = \"room-1\""), 15, "node = \"room-9\"");
  write_file(agent.config_path(), text);
  agent.signal(SIGHUP);
  REQUIRE(wait_until(
      [&] {
        bool death = false, birth = false;
        for (const Message& m : rig.sub.messages()) {
          death = death || m.topic == "spBv1.0/school-test/NDEATH/room-1";
          birth = birth || m.topic == "spBv1.0/school-test/NBIRTH/room-9";
        }
        return death && birth;
      },
      15s));
  CHECK_THAT(agent.log(), Catch::Contains("identity or broker changed"));
  // The old session said goodbye itself (not only through its Will).
  CHECK_THAT(agent.log(), Catch::Contains("published NDEATH (bdSeq 0)"));
}

TEST_CASE("SIGTERM ends the agent in time with the broker unreachable and a probe hanging") {
  TempDir dir;
  SilentPort broker, service;  // both accept and never answer
  AgentOptions o;
  o.url = "tcp://127.0.0.1:" + std::to_string(broker.port());
  o.extra = "[[probes.http]]\nname = \"Hung\"\nurl = \"http://127.0.0.1:" +
            std::to_string(service.port()) + "/\"\ninterval = \"90s\"\ntimeout = \"60s\"\n";
  Agent agent(dir.path, o);
  agent.start();
  LogOnFailure show(agent);
  REQUIRE(wait_until([&] { return agent.log().find("started") != std::string::npos; }, 10s));
  // Let the probe be under way and the connect attempt hang.
  REQUIRE(wait_until([&] { return agent.log().find("connecting to") != std::string::npos; }, 10s));
  const int64_t asked = now_ms();
  agent.signal(SIGTERM);
  auto status = agent.wait_exit(14s);  // systemd's TimeoutStopSec is 15 s
  REQUIRE(status);
  CHECK(*status == 0);
  CHECK(now_ms() - asked < 8000);
  CHECK_THAT(agent.log(), Catch::Contains("stopped"));
}

TEST_CASE(
    "a reload that removes a source during an outage: the backlog never names an alias the birth "
    "lacks") {
  Rig rig;
  AgentOptions o = rig.options();
  o.extra = "[sources.network]\ninterval = \"500ms\"\nexclude = []\n";
  Agent agent(rig.dir.path, o);
  agent.start();
  LogOnFailure show(agent);
  REQUIRE(rig.sub.wait_for("NDATA", 2, 20s));
  rig.broker.stop();
  REQUIRE(wait_until([&] { return agent.log().find("lost broker") != std::string::npos; }, 10s));
  // Batches with System/... metrics (uptime changes every sample) wait in the
  // spool; then the system source goes (the network source stays).
  // Three failed attempts: a second or more of outage, samples every 500 ms.
  auto attempts = [&] {
    const std::string log = agent.log();
    size_t n = 0;
    for (size_t at = log.find("unreachable"); at != std::string::npos;
         at = log.find("unreachable", at + 1))
      ++n;
    return n;
  };
  REQUIRE(wait_until([&] { return attempts() >= 3; }, 15s));
  std::string text = read_file(agent.config_path());
  text.replace(text.find("[sources.system]\n"), 17, "[sources.system]\nenabled = false\n");
  write_file(agent.config_path(), text);
  agent.signal(SIGHUP);
  REQUIRE(wait_until([&] { return agent.log().find("reloaded") != std::string::npos; }, 10s));
  rig.broker.start();
  const size_t births = rig.sub.of_type("NBIRTH").size();
  REQUIRE(rig.sub.wait_for("NBIRTH", births + 1, 20s));
  const size_t data = rig.sub.of_type("NDATA").size();
  REQUIRE(rig.sub.wait_for("NDATA", data + 4, 20s));
  // Every NDATA names only aliases of the birth before it; and the backlog
  // did carry the removed source's metrics (else this proves nothing).
  std::set<uint64_t> born, retired;
  const std::vector<Message> all_births = rig.sub.of_type("NBIRTH");
  for (const auto& metric : all_births[0].decoded.metrics())
    if (metric.name().rfind("System/", 0) == 0) retired.insert(metric.alias());
  size_t checked = 0, retired_history = 0;
  for (const Message& m : rig.sub.messages()) {
    if (!m.is_sparkplug) continue;
    if (m.type() == "NBIRTH") {
      born.clear();
      for (const auto& metric : m.decoded.metrics()) born.insert(metric.alias());
    } else if (m.type() == "NDATA") {
      for (const auto& metric : m.decoded.metrics()) {
        INFO("NDATA seq " << m.decoded.seq() << " alias " << metric.alias());
        CHECK(born.count(metric.alias()) == 1);
        ++checked;
        if (metric.is_historical() && retired.count(metric.alias())) ++retired_history;
      }
    }
  }
  CHECK(checked > 0);
  CHECK(retired_history > 0);
}

TEST_CASE("three silent SNMPv3 devices (timeout 10s) hold neither a reload nor SIGTERM") {
  Rig rig;
  TempDir secrets;
  const SilentPort dead(SOCK_DGRAM);  // takes every request, answers none
  const std::string auth = secrets.path + "/auth";
  write_file(auth, "auth-secret-6a\n");
  ::chmod(auth.c_str(), 0600);
  AgentOptions o = rig.options();
  for (int i = 0; i < 3; ++i)
    o.extra += "[[devices.snmp]]\nname = \"dead-" + std::to_string(i) +
               "\"\naddress = \"127.0.0.1:" + std::to_string(dead.port()) +
               "\"\nversion = \"3\"\nuser = \"monitor\"\nauth_password_file = \"" + auth +
               "\"\ninterval = \"30s\"\ntimeout = \"10s\"\nretries = 1\nprofiles = [\"system\"]\n";
  Agent agent(rig.dir.path, o);
  agent.start();
  LogOnFailure show(agent);
  // The first polls start with the agent: each waits up to 10 s for its engine.
  REQUIRE(rig.sub.wait_for("NDATA", 2, 20s));

  // A reload replaces the devices' poller while those polls wait.
  write_file(agent.config_path(), read_file(agent.config_path())
                                      .replace(read_file(agent.config_path()).find("retries = 1"),
                                               std::string("retries = 1").size(), "retries = 2"));
  agent.signal(SIGHUP);
  REQUIRE(wait_until([&] { return agent.log().find("reloaded:") != std::string::npos; }, 30s));
  const size_t data = rig.sub.of_type("NDATA").size();
  REQUIRE(rig.sub.wait_for("NDATA", data + 3, 10s));
  CHECK(longest_gap_ms(rig.sub, "room-1") < 2000);  // 500 ms grid: a few intervals at most

  // SIGTERM while the new poller's polls wait in turn.
  const int64_t asked = now_ms();
  agent.signal(SIGTERM);
  auto status = agent.wait_exit(40s);
  REQUIRE(status);
  CHECK(*status == 0);
  CHECK(now_ms() - asked < 2000);
  CHECK_THAT(agent.log(), Catch::Contains("stopped"));
}

TEST_CASE(
    "SIGHUP: [log] file and [status] wait for a restart and say so and added probes show in "
    "status") {
  Rig rig;
  Agent agent(rig.dir.path, rig.options());
  agent.start();
  LogOnFailure show(agent);
  REQUIRE(rig.sub.wait_for("NDATA", 2, 20s));
  const std::string old_socket = agent.status_socket();
  // Asks the socket the agent started with, whatever the edited file says.
  write_file(rig.dir.path + "/ask-old.toml", "[status]\nsocket = \"" + old_socket + "\"\n");
  auto ask_old = [&] {
    return run_shell(std::string(AGENT_BINARY) + " status -c " + rig.dir.path + "/ask-old.toml");
  };
  REQUIRE(wait_until([&] { return ask_old().first == 0; }, 10s));

  std::string config = read_file(agent.config_path());
  const std::string level = "level = \"debug\"\n";
  REQUIRE(config.find(level) != std::string::npos);
  config.replace(config.find(level), level.size(),
                 level + "file = \"" + rig.dir.path + "/later.log\"\n");
  const std::string socket_line = "socket = \"" + old_socket + "\"\n";
  REQUIRE(config.find(socket_line) != std::string::npos);
  config.replace(config.find(socket_line), socket_line.size(),
                 "socket = \"" + rig.dir.path + "/other.sock\"\n");
  SilentPort listener;
  config +=
      "[[probes.tcp]]\nname = \"Added\"\ntarget = \"127.0.0.1:" + std::to_string(listener.port()) +
      "\"\ninterval = \"1s\"\n";
  write_file(agent.config_path(), config);
  agent.signal(SIGHUP);
  REQUIRE(
      wait_until([&] { return agent.log().find("I agent: reloaded") != std::string::npos; }, 10s));
  CHECK_THAT(agent.log(), Catch::Contains("W agent: reload: [log] file, max_bytes, keep and fold "
                                          "change at the next restart (level changes now)"));
  CHECK_THAT(agent.log(), Catch::Contains("W agent: reload: [status] changes take effect at the "
                                          "next restart; still answering " +
                                          old_socket));
  CHECK_FALSE(std::filesystem::exists(rig.dir.path + "/later.log"));
  CHECK_FALSE(std::filesystem::exists(rig.dir.path + "/other.sock"));
  // The probe the reload added is shown, with its result once it has one.
  std::string out;
  REQUIRE(wait_until(
      [&] {
        out = ask_old().second;
        return out.find("Added (tcp): ok") != std::string::npos;
      },
      10s));
  CHECK_THAT(agent.log(), Catch::Contains("I agent: started:"));  // the log still goes to stderr
}
