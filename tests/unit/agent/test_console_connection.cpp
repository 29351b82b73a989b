// The console's connection (tail, fleet) on a fake MQTT client and a fake
// clock: server rotation, the answer deadline, the backoff and its reset.
#include <catch2/catch.hpp>

#include <memory>
#include <string>
#include <vector>

#include "../../support/fake_mqtt_client.hpp"
#include "console/watch.hpp"

using namespace classroom;
using classroom::test_support::FakeClient;
using K = mqtt::Event::Kind;

namespace {

mqtt::Event event(K kind, uint64_t tag = 0, std::string text = {}) {
  mqtt::Event e{};
  e.kind = kind;
  e.tag = tag;
  e.text = std::move(text);
  return e;
}

struct Rig {
  FakeClock clock;
  FakeClient client;
  console::WatchOptions options;
  std::vector<mqtt::Event> out;

  Rig() {
    options.servers = {"tcp://a:1883", "tcp://b:1883"};
    options.connection.connect_timeout_s = 10;
  }
  std::unique_ptr<console::Connection> connection;

  // A console on `subscription`, its loop turned once: the first attempt made.
  console::Connection& start(const char* subscription = "spBv1.0/#") {
    connection =
        std::make_unique<console::Connection>(options, subscription, "test-console", client, clock);
    poll(*connection);
    REQUIRE(client.connects.size() == 1);
    return *connection;
  }
  void poll(console::Connection& c) {
    out.clear();
    c.poll(0, out);
  }
  uint64_t last_tag() const { return client.connects.back().attempt; }
  // The broker refuses the attempt under way.
  void fail(console::Connection& c, const char* why) {
    c.deliver(event(K::connect_failed, last_tag(), why));
    poll(c);
  }
  // Time passes, and the console's loop turns.
  void wait(console::Connection& c, int64_t ms) {
    clock.advance(ms);
    poll(c);
  }
};

}  // namespace

TEST_CASE("console connection: a failed attempt tries the next server after 1 s",
          "[console][reconnect]") {
  Rig rig;
  console::Connection& c = rig.start();
  CHECK(rig.client.connects[0].server == "tcp://a:1883");
  CHECK(rig.client.connects[0].client_id == "test-console");
  CHECK(rig.client.connects[0].will_topic.empty());  // a console has no Will
  CHECK(c.status() == "connecting to tcp://a:1883");

  rig.fail(c, "connection refused");
  CHECK(c.status() ==
        "broker tcp://a:1883 unreachable (connection refused); retrying tcp://b:1883 in 1 s");
  rig.wait(c, 999);
  CHECK(rig.client.connects.size() == 1);  // not before the backoff is over
  rig.wait(c, 1);
  REQUIRE(rig.client.connects.size() == 2);
  CHECK(rig.client.connects[1].server == "tcp://b:1883");

  // The second failure waits twice as long, and goes back to the first server.
  rig.fail(c, "no route to host");
  CHECK(c.retry_at() == rig.clock.steady_ms() + 2'000);
  rig.wait(c, 2'000);
  REQUIRE(rig.client.connects.size() == 3);
  CHECK(rig.client.connects[2].server == "tcp://a:1883");
}

TEST_CASE("console connection: no answer by the deadline abandons the attempt",
          "[console][reconnect]") {
  Rig rig;
  console::Connection& c = rig.start();
  const uint64_t abandoned_tag = rig.last_tag();
  // connect_timeout (10 s) and 2 s for the broker to answer.
  CHECK(c.deadline() == rig.clock.steady_ms() + 12'000);
  rig.wait(c, 11'999);
  CHECK(rig.client.abandoned == 0);
  rig.wait(c, 1);
  CHECK(rig.client.abandoned == 1);
  CHECK(c.status().find("no MQTT answer in time") != std::string::npos);
  CHECK(c.status().find("retrying tcp://b:1883 in 1 s") != std::string::npos);

  // The abandoned attempt's late CONNACK is not taken for the next one's.
  c.deliver(event(K::connected, abandoned_tag));
  rig.poll(c);
  CHECK(rig.client.subscriptions.empty());
  rig.wait(c, 1'000);
  REQUIRE(rig.client.connects.size() == 2);
  CHECK(rig.client.connects[1].server == "tcp://b:1883");
  CHECK(rig.last_tag() != abandoned_tag);
}

TEST_CASE("console connection: subscribed resets the backoff and a loss retries the same server",
          "[console][reconnect]") {
  Rig rig;
  console::Connection& c = rig.start("spBv1.0/g/#");
  // Two failures first: the wait has grown to 2 s.
  rig.fail(c, "refused");
  rig.wait(c, 1'000);
  rig.fail(c, "refused");
  rig.wait(c, 2'000);
  REQUIRE(rig.client.connects.size() == 3);
  CHECK(rig.client.connects[2].server == "tcp://a:1883");

  c.deliver(event(K::connected, rig.last_tag()));
  rig.poll(c);
  REQUIRE(rig.client.subscriptions == std::vector<std::string>{"spBv1.0/g/#"});
  CHECK_FALSE(c.subscribed());
  CHECK_FALSE(c.publish("spBv1.0/g/NCMD/n", "x"));  // not before the SUBACK
  mqtt::Event suback = event(K::subscribed);
  suback.topic = "spBv1.0/g/#";
  c.deliver(suback);
  rig.poll(c);
  CHECK(c.subscribed());
  CHECK(c.ever_subscribed());
  CHECK(c.status() == "subscribed to spBv1.0/g/# on tcp://a:1883 (MQTT 3.1.1)");

  // Messages are handed over; the connection's own events are not.
  mqtt::Event m = event(K::message);
  m.topic = "spBv1.0/g/NDATA/n";
  m.payload = "p";
  c.deliver(m);
  rig.poll(c);
  REQUIRE(rig.out.size() == 1);
  CHECK(rig.out[0].topic == "spBv1.0/g/NDATA/n");
  CHECK(c.publish("spBv1.0/g/NCMD/n", "x"));
  REQUIRE(rig.client.published.size() == 1);
  CHECK(rig.client.published[0].qos == 0);

  // A loss: the same server again, after the shortest wait.
  c.deliver(event(K::connection_lost, 0, "keepalive timeout"));
  rig.poll(c);
  CHECK_FALSE(c.subscribed());
  CHECK(c.status() ==
        "lost broker tcp://a:1883 (keepalive timeout); retrying tcp://a:1883 in 0.5 s");
  rig.wait(c, 500);
  REQUIRE(rig.client.connects.size() == 4);
  CHECK(rig.client.connects[3].server == "tcp://a:1883");
  // The count started again: the next failure waits 1 s, not 4 s.
  rig.fail(c, "refused");
  CHECK(c.retry_at() == rig.clock.steady_ms() + 1'000);
  CHECK(c.server() == "tcp://b:1883");
}

TEST_CASE("console connection: a refused subscription is a failed attempt",
          "[console][reconnect]") {
  Rig rig;
  console::Connection& c = rig.start();
  c.deliver(event(K::connected, rig.last_tag()));
  rig.poll(c);
  mqtt::Event refused = event(K::subscribe_failed, 0, "not authorized");
  refused.topic = "spBv1.0/#";
  c.deliver(refused);
  rig.poll(c);
  CHECK(rig.client.disconnects == 1);
  CHECK_FALSE(c.ever_subscribed());
  CHECK(c.status() ==
        "broker tcp://a:1883 unreachable (the broker refused the subscription to spBv1.0/#: "
        "not authorized); retrying tcp://b:1883 in 1 s");
}

TEST_CASE("console connection: a broker that refused MQTT 5 is tried again at once in 3.1.1",
          "[console][reconnect]") {
  Rig rig;
  console::Connection& c = rig.start();
  mqtt::Event refused = event(K::connect_failed, rig.last_tag(), "unsupported protocol version");
  refused.retry_v311 = true;
  c.deliver(refused);
  rig.poll(c);
  // The same server, on the same turn: no backoff, no "unreachable".
  REQUIRE(rig.client.connects.size() == 2);
  CHECK(rig.client.connects[1].server == "tcp://a:1883");
  CHECK(c.status() == "connecting to tcp://a:1883");
  c.deliver(event(K::connected, rig.last_tag()));
  rig.poll(c);
  c.deliver(event(K::subscribed));
  rig.poll(c);
  CHECK(c.status().find("subscribed to spBv1.0/# on tcp://a:1883") == 0);
}
