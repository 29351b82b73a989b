// A gateway without the package of a library the agent loads with dlopen
// (net-snmp for devices, libcurl for HTTP probes, c-ares for DNS probes):
// `run --diagnostic-missing-library SONAME` makes the real dlopen of that
// library fail, as it does where the package is not installed. What needs it
// fails with the cause said once in the log, and `status` shows it (a device
// with its cause, a probe as failed); the rest of the agent keeps publishing.
#include <catch2/catch.hpp>
#include <csignal>
#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "harness.hpp"
#include "probe_rig.hpp"
#include "snmp_responder.hpp"

using namespace harness;

namespace {

// Lines of the agent's log at info level or above (the debug level tells
// every retry) that contain `what`.
size_t logged(const std::string& log, const std::string& what) {
  size_t n = 0, begin = 0;
  for (size_t end; (end = log.find('\n', begin)) != std::string::npos; begin = end + 1) {
    const std::string line = log.substr(begin, end - begin);
    if (line.find(what) != std::string::npos && line.find("Z D ") == std::string::npos) ++n;
  }
  return n;
}

// `classroom-agent status`: its exit status and its answer.
std::pair<int, std::string> status_of(const Agent& agent) {
  return run_shell(std::string(AGENT_BINARY) + " status -c " + agent.config_path());
}

}  // namespace

TEST_CASE(
    "missing libraries: without net-snmp a device fails with the cause and the node goes on") {
  BrokerRig rig;
  Responder responder(R"({"interfaces": 2})");
  write_file(rig.dir.path + "/public", "public\n");
  std::filesystem::permissions(rig.dir.path + "/public", std::filesystem::perms::owner_read |
                                                             std::filesystem::perms::owner_write);
  AgentOptions o = rig.options();
  o.extra = "[[devices.snmp]]\nname = \"switch\"\naddress = \"" + responder.address() +
            "\"\ncommunity_file = \"" + rig.dir.path +
            "/public\"\ninterval = \"1s\"\ntimeout = \"300ms\"\nretries = 1\n";
  Agent agent(rig.dir.path + "/agent", o);
  agent.start({}, {"--diagnostic-missing-library", "libnetsnmp.so.40"});
  LogOnFailure show_log(agent);

  const std::string cause = "cannot load libnetsnmp.so.40 (install libsnmp40): ";
  REQUIRE(wait_until([&] { return agent.log().find(cause) != std::string::npos; }, 20s));
  // status names the device failing and why (exit 1: degraded).
  std::pair<int, std::string> status;
  REQUIRE(wait_until(
      [&] {
        status = status_of(agent);
        return status.second.find("switch at " + responder.address()) != std::string::npos &&
               status.second.find(cause) != std::string::npos;
      },
      10s));
  INFO(status.second);
  CHECK(status.first == 1);
  CHECK_THAT(status.second, Catch::Contains("DEGRADED: device switch offline"));

  // The node publishes on: more NDATA after the failure than a few device polls take.
  const size_t before = rig.sub.of_type("NDATA").size();
  REQUIRE(rig.sub.wait_for("NDATA", before + 8, 20s));
  CHECK(agent.running());
  const std::string log = agent.log();
  CHECK_THAT(log, Catch::Contains("device switch at " + responder.address() + ": " + cause));
  CHECK(logged(log, cause) == 1);  // once, not on every poll
  CHECK(rig.sub.of_type("NBIRTH").size() == 1);
  CHECK(rig.sub.of_type("DBIRTH").empty());
  CHECK(responder.polls() == 0);  // nothing was sent without the library

  agent.signal(SIGTERM);
  const auto exit_status = agent.wait_exit(20s);
  REQUIRE(exit_status);
  CHECK(*exit_status == 0);
}

TEST_CASE(
    "missing libraries: without libcurl and c-ares HTTP and DNS probes fail and TCP goes on") {
  BrokerRig rig;
  auto web = http_server();
  Dnsmasq dns;
  const std::string port = std::to_string(web->port());
  AgentOptions o = rig.options();
  o.extra = "[[probes.http]]\nname = \"Web\"\nurl = \"http://127.0.0.1:" + port +
            "/\"\ninterval = \"1s\"\ntimeout = \"500ms\"\n"
            "[[probes.dns]]\nname = \"Names\"\nquery = \"known.test\"\nserver = \"127.0.0.1:" +
            std::to_string(dns.port()) +
            "\"\ninterval = \"1s\"\ntimeout = \"500ms\"\n"
            "[[probes.tcp]]\nname = \"Web TCP\"\ntarget = \"127.0.0.1:" +
            port + "\"\ninterval = \"1s\"\ntimeout = \"500ms\"\n";
  Agent agent(rig.dir.path + "/agent", o);
  agent.start({}, {"--diagnostic-missing-library", "libcurl.so.4", "--diagnostic-missing-library",
                   "libcares.so.2"});
  LogOnFailure show_log(agent);

  const std::string curl_cause = "cannot load libcurl.so.4 (install libcurl4): ";
  const std::string ares_cause = "cannot load libcares.so.2 (install libc-ares2): ";
  // status: each probe's outcome with its cause; the TCP probe needs
  // neither library and succeeds.
  REQUIRE(wait_until(
      [&] {
        const std::string status = status_of(agent).second;
        return status.find("Web (http): FAILED (" + curl_cause) != std::string::npos &&
               status.find("Names (dns): FAILED (" + ares_cause) != std::string::npos &&
               status.find("Web TCP (tcp): ok") != std::string::npos;
      },
      20s));
  const size_t before = rig.sub.of_type("NDATA").size();
  REQUIRE(rig.sub.wait_for("NDATA", before + 8, 20s));
  CHECK(agent.running());
  const std::string log = agent.log();
  // Once at the start for libcurl, once for each probe that needs a library.
  CHECK(logged(log, "E probes: cannot start libcurl (" + curl_cause) == 1);
  CHECK(logged(log, "W probes: probe Web (http://127.0.0.1:" + port + "/): " + curl_cause) == 1);
  CHECK(logged(log, curl_cause) == 2);
  CHECK(logged(log, "W probes: probe Names (DNS known.test): " + ares_cause) == 1);
  CHECK(logged(log, ares_cause) == 1);
  // The probes' data: Success false for HTTP and DNS, true for TCP, in the NDATA.
  std::map<std::string, bool> seen;
  std::map<std::string, uint64_t> aliases;
  for (const Message& m : rig.sub.messages()) {
    if (m.type() == "NBIRTH")
      for (const std::string name : {"Web", "Names", "Web TCP"})
        if (auto a = alias_in_birth(m.decoded, "Connectivity/" + name + "/Success"))
          aliases[name] = *a;
    if (m.type() != "NDATA") continue;
    for (const auto& [name, alias] : aliases)
      if (const Payload::Metric* s =
              find_metric(m.decoded, "Connectivity/" + name + "/Success", alias))
        seen[name] = seen[name] || s->boolean_value();
  }
  REQUIRE(seen.size() == 3);
  CHECK_FALSE(seen["Web"]);
  CHECK_FALSE(seen["Names"]);
  CHECK(seen["Web TCP"]);

  agent.signal(SIGTERM);
  const auto exit_status = agent.wait_exit(20s);
  REQUIRE(exit_status);
  CHECK(*exit_status == 0);
}
