// The agent on a real RabbitMQ 3.10 (tests/fleet/cluster.sh): a broker of
// MQTT 3.1.1 only, that closes the connection on a QoS 1 SUBSCRIBE whose
// queue lives on a lost cluster node, and that turns spBv1.0/ into spBv1/0/
// unless mqtt.sparkplug is set (docs/fleet-sizing.md). Hidden
// ([.rabbitmq]): they need Debian's rabbitmq-server (tests/tools/install-deps.sh
// --fleet) and take 15 to 40 s each; ctest runs them with
// -DCLASSROOM_FLEET_CLUSTER=ON, as the fleet run on the cluster.
#include <catch2/catch.hpp>
#include <cstdlib>

#include "harness.hpp"

using namespace harness;

namespace {

// A cluster of `nodes` in its own temp dir, stopped (and the dir removed)
// however the test ends.
class Cluster {
 public:
  explicit Cluster(int nodes, const std::string& extra_conf = "") {
    env_ = "FLEET_CLUSTER_DIR=" + dir_.path + "/broker FLEET_RABBIT_CONF='" + extra_conf + "' ";
    auto [rc, out] = run_shell(env_ + script() + " start --nodes " + std::to_string(nodes));
    INFO(out);
    REQUIRE(rc == 0);
    for (size_t at = 0; at < out.size();) {
      size_t end = out.find_first_of(",\n", at);
      if (end == std::string::npos) end = out.size();
      if (out.compare(at, 6, "tcp://") == 0) servers.push_back(out.substr(at, end - at));
      at = end + 1;
    }
    REQUIRE(servers.size() == static_cast<size_t>(nodes));
  }
  ~Cluster() { run_shell(env_ + script() + " stop"); }
  void kill(int n) {
    REQUIRE(run_shell(env_ + script() + " kill " + std::to_string(n)).first == 0);
  }
  std::vector<std::string> servers;

 private:
  static std::string script() {
    return std::string("bash ") + SOURCE_DIR + "/tests/fleet/cluster.sh";
  }
  TempDir dir_;
  std::string env_;
};

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

std::string port_of(const std::string& server) {
  return server.substr(server.rfind(':') + 1);
}

}  // namespace

TEST_CASE("RabbitMQ refuses MQTT 5 and mangles spBv1.0 without mqtt.sparkplug", "[.rabbitmq]") {
  Cluster cluster(1, "mqtt.sparkplug = false");
  TempDir dir;
  AgentOptions o;
  o.url = cluster.servers[0];
  Agent agent(dir.path, o);
  const int64_t started = now_ms();
  agent.start();
  LogOnFailure show_log(agent);
  REQUIRE(wait_until(
      [&] { return agent.log().find("connected to " + o.url + " as") != std::string::npos; }, 20s));
  // MQTT 5 refused, MQTT 3.1.1 at once: no backoff on the way.
  CHECK(now_ms() - started < 8000);
  CHECK_THAT(agent.log(), Catch::Contains("broker " + o.url + " refused MQTT 5 (") &&
                              Catch::Contains("connecting to it in MQTT 3.1.1 now"));
  CHECK(count(agent.log(), "refused MQTT 5") == 1);
  CHECK_THAT(agent.log(), !Catch::Contains("unreachable"));

  // A command sent to the node comes back on spBv1/0/...: said once, with the
  // setting that keeps the topic.
  const std::string pub = "mosquitto_pub -V mqttv311 -h 127.0.0.1 -p " + port_of(o.url) +
                          " -t spBv1.0/school-test/NCMD/room-1 -m x";
  REQUIRE(run_shell(pub).first == 0);
  REQUIRE(wait_until([&] { return agent.log().find("mqtt.sparkplug = true") != std::string::npos; },
                     10s));
  REQUIRE(run_shell(pub).first == 0);
  REQUIRE(run_shell(pub).first == 0);
  CHECK_FALSE(wait_until([&] { return count(agent.log(), "mqtt.sparkplug = true") > 1; }, 2s));
  CHECK_THAT(agent.log(), Catch::Contains("ignored a message on spBv1/0/school-test/NCMD/room-1"));
}

TEST_CASE("RabbitMQ cluster: the agent is online on a surviving node within retry_max",
          "[.rabbitmq]") {
  Cluster cluster(3);
  TempDir dir;
  AgentOptions o;
  o.first_server = cluster.servers[0];
  o.url = cluster.servers[1];
  Agent agent(dir.path, o);
  // The agent's own backoff (retry_min 1 s), and a retry_max to be within.
  std::string config = read_file(agent.config_path());
  for (auto [from, to] :
       {std::pair<std::string, std::string>{"retry_min = \"200ms\"", "retry_min = \"1s\""},
        {"retry_max = \"1s\"", "retry_max = \"10s\""},
        {"\"" + o.url + "\"]", "\"" + o.url + "\", \"" + cluster.servers[2] + "\"]"}}) {
    const size_t at = config.find(from);
    REQUIRE(at != std::string::npos);
    config.replace(at, from.size(), to);
  }
  write_file(agent.config_path(), config);
  agent.start();
  LogOnFailure show_log(agent);
  REQUIRE(wait_until(
      [&] { return count(agent.log(), "connected to " + cluster.servers[0] + " as") == 1; }, 30s));
  const int64_t killed = now_ms();
  cluster.kill(1);
  REQUIRE(wait_until(
      [&] {
        const std::string log = agent.log();
        return log.find("connected to " + cluster.servers[1] + " as") != std::string::npos ||
               log.find("connected to " + cluster.servers[2] + " as") != std::string::npos;
      },
      30s));
  const int64_t back_ms = now_ms() - killed;
  INFO("online again " << back_ms << " ms after the node was lost");
  CHECK(back_ms < 10'000);  // retry_max
  CHECK_THAT(agent.log(), Catch::Contains("closed the connection on the QoS 1 subscription"));
  const std::string json =
      run_shell(std::string(AGENT_BINARY) + " status --json -c " + agent.config_path()).second;
  INFO(json);
  CHECK_THAT(json, Catch::Contains("\"state\":\"online\""));
  CHECK_THAT(json, Catch::Contains("subscribed at QoS 0"));
}
