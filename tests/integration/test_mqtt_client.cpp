// The one class that wraps Paho (agent/mqtt/mqtt_client.cpp) against a real
// Mosquitto: what an ended session leaves with the broker.
#include <MQTTAsync.h>
#include <catch2/catch.hpp>

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <vector>

#include "harness.hpp"
#include "mqtt/mqtt_client.hpp"
#include "session/sparkplug.hpp"

using namespace harness;
using namespace std::chrono_literals;
namespace mqtt = classroom::mqtt;

namespace {

// What the client reports, from Paho's threads.
struct Events {
  std::mutex mutex;
  std::vector<mqtt::Event> got;
  mqtt::EventSink sink() {
    return [this](mqtt::Event e) {
      std::lock_guard lock(mutex);
      got.push_back(std::move(e));
    };
  }
  bool has(mqtt::Event::Kind kind, uint64_t tag) {
    std::lock_guard lock(mutex);
    for (const mqtt::Event& e : got)
      if (e.kind == kind && e.tag == tag) return true;
    return false;
  }
};

// Connects `client` as `id` with a Will (an NDEATH) on spBv1.0/retire/NDEATH/<id>.
void connect(mqtt::Client& client, Events& events, const Mosquitto& broker, const std::string& id,
             uint64_t attempt) {
  mqtt::ConnectRequest r;
  r.server = broker.url();
  r.client_id = id;
  r.will_topic = "spBv1.0/retire/NDEATH/" + id;
  classroom::sparkplug::Payload death;
  classroom::sparkplug::build_death(death, attempt, 1000);
  r.will_payload = death.SerializeAsString();
  r.attempt = attempt;
  std::string error;
  REQUIRE(client.connect(r, error));
  REQUIRE(wait_until([&] { return events.has(mqtt::Event::Kind::connected, attempt); }, 10s));
}

// The broker stops answering with a QoS 1 message in flight: a DISCONNECT
// asked for now waits for its PUBACK (up to a second) before it goes.
void hold_a_message(mqtt::Client& client, Mosquitto& broker) {
  broker.freeze();
  std::string error;
  REQUIRE(client.publish("retire/held", "in flight", 1, 99, error));
}

}  // namespace

TEST_CASE("MQTT client: sessions ended in quick succession each have the broker send the Will") {
  // end_with_will() sends DISCONNECT 0x04 ("with Will") from the old client
  // without waiting. Destroyed before that DISCONNECT has gone, Paho's
  // destroy would end the session with a DISCONNECT of reason 0, and the
  // broker would drop the Will: hosts would never hear that the session died.
  Mosquitto broker;
  Subscriber sub(broker.url());
  Events events;
  auto client = mqtt::make_paho_client(broker.url(), "retire", events.sink());
  connect(*client, events, broker, "retire", 1);
  hold_a_message(*client, broker);

  SECTION("the next session ends at once") {
    // A broker that refuses a receipt, a rebirth of identity, a host's
    // next-server command: the new client's session ends within the second.
    client->end_with_will();
    client->end_with_will();
  }
  SECTION("the client goes right after") {
    // A reload that replaces the session: the DISCONNECT goes out first,
    // within a bound.
    client->end_with_will();
    const auto before = std::chrono::steady_clock::now();
    client.reset();
    CHECK(std::chrono::steady_clock::now() - before < 5s);
  }
  broker.thaw();
  CHECK(wait_until([&] { return !sub.of_type("NDEATH").empty(); }, 10s));
  const auto deaths = sub.of_type("NDEATH");
  CHECK(deaths.size() == 1);
  for (const Message& d : deaths) CHECK(d.topic == "spBv1.0/retire/NDEATH/retire");
}

namespace {

// Paho's trace lines below errors, from the callback Paho hands every line
// that passes its level.
std::atomic<int> paho_trace_lines{0};
void count_paho_trace(enum MQTTASYNC_TRACE_LEVELS level, char*) {
  if (level < MQTTASYNC_TRACE_ERROR) ++paho_trace_lines;
}

// What Paho traces of a session through the agent's client: connect, one
// QoS 1 message acknowledged, the client's end. Counted from once the client
// exists: making the first client prints Paho's banner (its version, the
// system's), which goes to the callback whatever the level, once.
int traced_session(const Mosquitto& broker, uint64_t attempt) {
  Events events;
  auto client = mqtt::make_paho_client(broker.url(), "quiet", events.sink());
  paho_trace_lines = 0;
  connect(*client, events, broker, "quiet", attempt);
  std::string error;
  REQUIRE(client->publish("quiet/data", "a sample", 1, 7, error));
  REQUIRE(wait_until([&] { return events.has(mqtt::Event::Kind::delivered, 7); }, 10s));
  client.reset();
  return paho_trace_lines;
}

}  // namespace

TEST_CASE("MQTT client: Paho traces nothing below errors once quieted") {
  // At its default level Paho C records every function entry and exit of
  // its threads in its trace ring (128 KB of heap nobody reads,
  // docs/performance.md) and formats a line for every packet. Its callback
  // is given each line that passes the level.
  struct Restored {  // whatever ends the test
    ~Restored() {
      ::unsetenv("MQTT_C_CLIENT_TRACE");
      ::unsetenv("MQTT_C_CLIENT_TRACE_LEVEL");
      ::MQTTAsync_setTraceCallback(nullptr);
    }
  } restored;
  ::unsetenv("MQTT_C_CLIENT_TRACE");  // Paho's own switches, read at its start
  ::unsetenv("MQTT_C_CLIENT_TRACE_LEVEL");
  Mosquitto broker;
  ::MQTTAsync_setTraceCallback(count_paho_trace);
  INFO("Paho's default level traces a session, each call and each packet");
  CHECK(traced_session(broker, 1) > 100);

  mqtt::quiet_paho_trace();
  CHECK(traced_session(broker, 2) == 0);

  TempDir dir;  // someone debugging Paho, its trace to a file
  ::setenv("MQTT_C_CLIENT_TRACE", (dir.path + "/paho.trace").c_str(), 1);
  ::MQTTAsync_setTraceLevel(MQTTASYNC_TRACE_MINIMUM);
  mqtt::quiet_paho_trace();
  INFO("with MQTT_C_CLIENT_TRACE set, Paho's level stays");
  CHECK(traced_session(broker, 3) > 100);
}
