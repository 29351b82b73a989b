#include <catch2/catch.hpp>
#include <functional>

#include "../../integration/harness.hpp"
#include "../log_capture.hpp"
#include "../temp_dir.hpp"
#include "batch/batcher.hpp"
#include "config.hpp"
#include "session/uplink.hpp"

using namespace classroom;
using K = mqtt::Event::Kind;

namespace {

struct Published {
  std::string topic;
  std::string payload;
  int qos;
  uint64_t tag;
};

// Records what the uplink asks of MQTT; the test plays the broker's answers.
struct FakeClient final : mqtt::Client {
  std::vector<mqtt::ConnectRequest> connects;
  std::vector<std::string> subscriptions;
  std::vector<int> subscription_qos;  // of each in subscriptions
  std::vector<Published> published;
  int disconnects = 0;
  bool refuse_publish = false;
  std::string refuse_topic;  // refuses publishes to topics that contain it

  bool connect(const mqtt::ConnectRequest& r, std::string&) override {
    connects.push_back(r);
    return true;
  }
  bool subscribe(const std::string& topic, int qos, std::string&) override {
    subscriptions.push_back(topic);
    subscription_qos.push_back(qos);
    return true;
  }
  bool publish(const std::string& topic, std::string_view payload, int qos, uint64_t tag,
               std::string& error) override {
    if (refuse_publish || (!refuse_topic.empty() && topic.find(refuse_topic) != topic.npos)) {
      error = "disconnected";
      return false;
    }
    published.push_back({topic, std::string(payload), qos, tag});
    return true;
  }
  bool publish_and_wait(const std::string& topic, std::string_view payload, int) override {
    published.push_back({topic, std::string(payload), 1, 0});
    return true;
  }
  void disconnect(int) override { ++disconnects; }
  void disconnect_with_will(int) override {
    ++disconnects;
    ++disconnects_with_will;
  }
  int disconnects_with_will = 0;
  void abandon() override { ++abandoned; }
  int abandoned = 0;
  // A session ended without waiting: counted with the DISCONNECTs that ask
  // for the Will, and as a client dropped.
  void end_with_will() override {
    ++disconnects_with_will;
    ++abandoned;
  }

  std::vector<sparkplug::Payload> decoded(const std::string& type) const {
    std::vector<sparkplug::Payload> out;
    for (const Published& p : published)
      if (p.topic.find("/" + type + "/") != std::string::npos) {
        sparkplug::Payload payload;
        REQUIRE(payload.ParseFromString(p.payload));
        out.push_back(payload);
      }
    return out;
  }
  const Published* last_receipt() const {
    for (auto it = published.rbegin(); it != published.rend(); ++it)
      if (it->qos == 1) return &*it;
    return nullptr;
  }
};

uint64_t bdseq_of(const sparkplug::Payload& p) {
  for (const auto& m : p.metrics())
    if (m.name() == "bdSeq") return m.long_value();
  FAIL("no bdSeq");
  return 0;
}

struct Rig {
  TempDir dir;
  FakeClock clock;
  FakeClient client;
  Catalog catalog;
  Spool spool;
  Uplink uplink;
  MetricId counter;
  uint64_t value = 0;

  explicit Rig(double replay_rate = 1000, std::vector<std::string> servers = {"tcp://a:1883"},
               std::string primary_host = "", int64_t primary_host_wait_ms = 0)
      : spool(SpoolOptions{dir / "spool", 1 << 20, 0, false, 1000}, clock),
        uplink(
            options(replay_rate, std::move(servers), std::move(primary_host), primary_host_wait_ms),
            client, catalog, spool, clock) {
    REQUIRE(spool.open().empty());
    counter = catalog.declare("Test/Counter", DataType::UInt64, "");
  }
  UplinkOptions options(double rate, std::vector<std::string> servers,
                        std::string primary_host = "", int64_t primary_host_wait_ms = 0) {
    UplinkOptions o;
    o.primary_host = std::move(primary_host);
    o.primary_host_wait_ms = primary_host_wait_ms;
    o.group = "school";
    o.node = "room";
    o.servers = std::move(servers);
    o.client_id = "school-room";
    o.receipt_topic = "classroom-agent/school/room/receipt";
    o.replay_rate = rate;
    o.retry_min_ms = 1000;
    o.retry_max_ms = 60'000;
    o.bdseq_path = dir / "bdseq";
    return o;
  }
  // One sample: the counter goes up, and the batch goes into the spool.
  uint64_t sample() {
    catalog.set_time(clock.wall_ms());
    catalog.put(counter, ++value);
    sparkplug::Payload record;
    sparkplug::build_record(record, catalog, catalog.changed(), clock.wall_ms());
    catalog.clear_changed();
    return spool.append(record.SerializeAsString(), clock.wall_ms());
  }
  void come_online() {
    uplink.poll();
    uplink.handle({K::connected, {}, client.connects.back().attempt, {}, {}});
    for (int ack = 0; ack < 2; ++ack)  // SUBACKs of NCMD and DCMD
      uplink.handle({K::subscribed, {}, 0, {}, {}});
    REQUIRE(uplink.online());
  }
  // The SUBACKs of NCMD, DCMD and the primary host's STATE.
  void ack_subscriptions() {
    for (int ack = 0; ack < 3; ++ack) uplink.handle({K::subscribed, {}, 0, {}, {}});
  }
  // Connected and subscribed to the commands and the primary host's STATE:
  // waiting for it.
  void connect_to_wait() {
    uplink.poll();
    uplink.handle({K::connected, {}, client.connects.back().attempt, {}, {}});
    ack_subscriptions();
    REQUIRE(uplink.waiting_for_host());
  }
  void host_state(const std::string& body) {
    mqtt::Event e{K::message, {}, 0, "spBv1.0/STATE/scada", body};
    uplink.handle(e);
  }
  size_t count(const std::string& type) const { return decoded_count(client, type); }
  static size_t decoded_count(const FakeClient& c, const std::string& type) {
    size_t n = 0;
    for (const Published& p : c.published) n += p.topic.find("/" + type + "/") != p.topic.npos;
    return n;
  }
  void ack_receipts() {
    for (const Published& p : client.published)
      if (p.qos == 1 && p.tag) uplink.handle({K::delivered, {}, p.tag, {}, {}});
  }
  // Counter values in the NDATA published so far, with their historical flags.
  std::vector<std::pair<uint64_t, bool>> counter_values() const {
    std::vector<std::pair<uint64_t, bool>> out;
    const uint64_t alias = catalog.at(counter).alias;
    for (const auto& p : client.decoded("NDATA"))
      for (const auto& m : p.metrics())
        if (m.alias() == alias) out.emplace_back(m.long_value(), m.is_historical());
    return out;
  }
};

}  // namespace

TEST_CASE("uplink: Will, subscribe before birth, birth, then alias-only data") {
  Rig rig;
  rig.uplink.poll();
  REQUIRE(rig.client.connects.size() == 1);
  const mqtt::ConnectRequest& req = rig.client.connects[0];
  CHECK(req.will_topic == "spBv1.0/school/NDEATH/room");
  sparkplug::Payload will;
  REQUIRE(will.ParseFromString(req.will_payload));
  CHECK(bdseq_of(will) == 0);

  rig.uplink.handle({K::connected, {}, req.attempt, {}, {}});
  // The node's commands, and every device's (tck-id-message-flow-edge-node-ncmd-subscribe,
  // tck-id-message-flow-device-dcmd-subscribe).
  CHECK(rig.client.subscriptions ==
        std::vector<std::string>{"spBv1.0/school/NCMD/room", "spBv1.0/school/DCMD/room/+"});
  CHECK(rig.client.published.empty());  // nothing before the SUBACKs
  rig.uplink.handle({K::subscribed, {}, 0, {}, {}});
  rig.uplink.poll();
  CHECK_FALSE(rig.uplink.online());  // the DCMD one still awaited
  CHECK(rig.client.published.empty());
  rig.uplink.handle({K::subscribed, {}, 0, {}, {}});
  rig.sample();
  rig.uplink.poll();
  REQUIRE(rig.client.published.size() >= 2);
  CHECK(rig.client.published[0].topic == "spBv1.0/school/NBIRTH/room");
  CHECK(rig.client.published[0].qos == 0);
  auto births = rig.client.decoded("NBIRTH");
  CHECK(births[0].seq() == 0);
  CHECK(bdseq_of(births[0]) == 0);
  auto data = rig.client.decoded("NDATA");
  REQUIRE(data.size() == 1);
  CHECK(data[0].seq() == 1);
  CHECK_FALSE(data[0].metrics(0).has_name());
  CHECK(data[0].metrics(0).alias() == rig.catalog.at(rig.counter).alias);
  CHECK_FALSE(data[0].metrics(0).is_historical());
}

TEST_CASE("uplink: batches taken while the successful attempt was under way are live") {
  Rig rig;
  rig.sample();       // before the attempt: backlog
  rig.uplink.poll();  // the attempt starts
  rig.sample();       // during it: live
  rig.uplink.handle({K::connected, {}, rig.client.connects.back().attempt, {}, {}});
  for (int ack = 0; ack < 2; ++ack)  // SUBACKs of NCMD and DCMD
    rig.uplink.handle({K::subscribed, {}, 0, {}, {}});
  rig.clock.advance(1000);
  rig.uplink.poll();
  auto values = rig.counter_values();
  REQUIRE(values.size() == 2);
  CHECK(values[0] == std::pair<uint64_t, bool>{2, false});
  CHECK(values[1] == std::pair<uint64_t, bool>{1, true});
}

TEST_CASE("uplink: the spool forgets a batch only when a later receipt is acknowledged") {
  Rig rig;
  rig.come_online();
  for (int i = 0; i < 3; ++i) rig.sample();
  rig.uplink.poll();
  const Published* receipt = rig.client.last_receipt();
  REQUIRE(receipt);
  CHECK(receipt->topic == "classroom-agent/school/room/receipt");
  CHECK(rig.spool.committed() == 0);
  rig.uplink.handle({K::delivered, {}, receipt->tag, {}, {}});
  CHECK(rig.spool.committed() == 3);
}

TEST_CASE("uplink: seq increments per message and wraps at 256") {
  Rig rig;
  rig.come_online();
  for (int i = 0; i < 300; ++i) {
    rig.sample();
    rig.uplink.poll();
    rig.ack_receipts();
  }
  auto data = rig.client.decoded("NDATA");
  REQUIRE(data.size() == 300);
  for (size_t i = 0; i < data.size(); ++i) REQUIRE(data[i].seq() == (i + 1) % 256);
}

TEST_CASE("uplink: after a lost connection, unconfirmed batches come again as history") {
  Rig rig;
  rig.come_online();
  rig.sample();
  rig.uplink.poll();
  rig.ack_receipts();  // 1 confirmed
  rig.sample();
  rig.uplink.poll();  // 2 sent, not confirmed
  rig.uplink.handle({K::connection_lost, "keepalive timeout", 0, {}, {}});
  CHECK_FALSE(rig.uplink.online());
  rig.sample();  // 3 taken while offline
  rig.clock.advance(60'000);
  rig.client.published.clear();
  rig.come_online();
  REQUIRE(rig.client.connects.size() == 2);
  sparkplug::Payload will;
  REQUIRE(will.ParseFromString(rig.client.connects[1].will_payload));
  CHECK(bdseq_of(will) == 1);  // a new CONNECT, a new bdSeq
  rig.sample();                // 4 live
  rig.clock.advance(1000);
  rig.uplink.poll();
  auto values = rig.counter_values();
  // Live first, then the backlog oldest first, flagged historical.
  REQUIRE(values.size() == 3);
  CHECK(values[0] == std::pair<uint64_t, bool>{4, false});
  CHECK(values[1] == std::pair<uint64_t, bool>{2, true});
  CHECK(values[2] == std::pair<uint64_t, bool>{3, true});
  CHECK(bdseq_of(rig.client.decoded("NBIRTH")[0]) == 1);
}

TEST_CASE("uplink: the backlog is replayed at the configured rate, live data is not held") {
  Rig rig(10);  // 10 messages per second
  for (int i = 0; i < 100; ++i) rig.sample();
  rig.come_online();
  rig.uplink.poll();
  CHECK(rig.counter_values().size() <= 1);
  rig.clock.advance(1000);
  rig.uplink.poll();
  auto values = rig.counter_values();
  CHECK(values.size() >= 9);
  CHECK(values.size() <= 11);
  rig.sample();  // live, while 90 wait
  rig.uplink.poll();
  CHECK(rig.counter_values().back() == std::pair<uint64_t, bool>{101, false});
  // The uplink asks to be woken for the next token, not in a minute.
  CHECK(rig.uplink.poll() <= rig.clock.steady_ms() + 100);
  for (int s = 0; s < 12; ++s) {
    rig.clock.advance(1000);
    rig.uplink.poll();
    rig.ack_receipts();
  }
  CHECK(rig.counter_values().size() == 101);
  CHECK(rig.spool.committed() == 101);
}

TEST_CASE("uplink: connect failures rotate servers and back off with jitter, capped") {
  Rig rig(1000, {"tcp://a:1883", "tcp://b:1883"});
  std::vector<int64_t> delays;
  for (int i = 0; i < 10; ++i) {
    const int64_t before = rig.clock.steady_ms();
    rig.uplink.poll();
    REQUIRE(rig.client.connects.size() == static_cast<size_t>(i + 1));
    rig.uplink.handle(
        {K::connect_failed, "connection refused", rig.client.connects.back().attempt, {}, {}});
    const int64_t next = rig.uplink.poll();
    delays.push_back(next - before);
    rig.clock.advance(next - before);
  }
  CHECK(rig.client.connects[0].server == "tcp://a:1883");
  CHECK(rig.client.connects[1].server == "tcp://b:1883");
  CHECK(rig.client.connects[2].server == "tcp://a:1883");
  CHECK(delays[0] >= 1600);  // 2 s +-20 %
  CHECK(delays[0] <= 2400);
  CHECK(delays[3] >= 12800);   // 16 s +-20 %
  CHECK(delays[9] <= 60'000);  // capped
  CHECK(delays[9] >= 48'000);
  // Every attempt had its own bdSeq.
  sparkplug::Payload will;
  REQUIRE(will.ParseFromString(rig.client.connects[9].will_payload));
  CHECK(bdseq_of(will) == 9);
}

TEST_CASE("uplink: an attempt whose TCP connect failed sent no CONNECT and uses no bdSeq") {
  Rig rig(1000);
  auto will_bdseq = [&] {
    sparkplug::Payload will;
    REQUIRE(will.ParseFromString(rig.client.connects.back().will_payload));
    return bdseq_of(will);
  };
  auto fail_attempt = [&](bool nothing_sent) {
    mqtt::Event e{K::connect_failed, "refused", rig.client.connects.back().attempt, {}, {}};
    e.nothing_sent = nothing_sent;
    rig.uplink.handle(e);
    rig.clock.advance(rig.uplink.poll() - rig.clock.steady_ms());
  };
  rig.uplink.poll();
  CHECK(will_bdseq() == 0);
  fail_attempt(true);  // refused: the broker never saw this Will
  rig.uplink.poll();
  REQUIRE(rig.client.connects.size() == 2);
  CHECK(will_bdseq() == 0);
  fail_attempt(false);  // the CONNECT went out (refused by the broker, or no answer)
  rig.uplink.poll();
  REQUIRE(rig.client.connects.size() == 3);
  CHECK(will_bdseq() == 1);
}

TEST_CASE("uplink: NCMD Rebirth gives a new NBIRTH with the same bdSeq, no reconnect") {
  Rig rig;
  rig.come_online();
  rig.uplink.poll();
  rig.uplink.handle({K::message,
                     {},
                     0,
                     "spBv1.0/school/NCMD/room",
                     harness::rebirth_command().SerializeAsString()});
  rig.sample();
  rig.uplink.poll();
  auto births = rig.client.decoded("NBIRTH");
  REQUIRE(births.size() == 2);
  CHECK(bdseq_of(births[1]) == bdseq_of(births[0]));
  CHECK(births[1].seq() == 0);
  CHECK(rig.client.connects.size() == 1);
  CHECK(rig.client.decoded("NDATA").back().seq() == 1);
}

TEST_CASE(
    "uplink: Rebirth without a datatype or by alias, and a burst of requests gives one birth") {
  Rig rig;
  rig.come_online();
  rig.uplink.poll();
  const std::string topic = "spBv1.0/school/NCMD/room";
  auto ask = [&](const sparkplug::Payload& cmd) {
    rig.uplink.handle({K::message, {}, 0, topic, cmd.SerializeAsString()});
    rig.uplink.poll();
  };
  // As Tahu's host sends it: no datatype. Then three more within the second,
  // by name and by the birth's alias, each handled before the next arrives.
  ask(harness::rebirth_command(true, std::nullopt));
  REQUIRE(rig.client.decoded("NBIRTH").size() == 2);
  rig.clock.advance(300);
  ask(harness::rebirth_command(true, std::nullopt, kRebirthAlias));
  rig.clock.advance(300);
  ask(harness::rebirth_command());
  rig.clock.advance(300);
  ask(harness::rebirth_command(true, 11, kRebirthAlias));
  CHECK(rig.client.decoded("NBIRTH").size() == 2);
  // A request a second after the last rebirth is a new one, by alias too.
  rig.clock.advance(1000);
  ask(harness::rebirth_command(true, std::nullopt, kRebirthAlias));
  CHECK(rig.client.decoded("NBIRTH").size() == 3);
  CHECK(rig.client.connects.size() == 1);
}

TEST_CASE("uplink: a session ended by a refused publish sends the NDEATH and has the Will sent") {
  Rig rig;
  rig.come_online();
  rig.sample();
  rig.uplink.poll();
  const uint64_t born = bdseq_of(rig.client.decoded("NBIRTH").at(0));
  rig.client.refuse_topic = "/NDATA/";
  rig.sample();
  rig.uplink.poll();
  CHECK_FALSE(rig.uplink.online());
  // The connection still took the NDEATH; and the DISCONNECT asks the broker
  // for the Will, for when it does not.
  auto deaths = rig.client.decoded("NDEATH");
  REQUIRE(deaths.size() == 1);
  CHECK(bdseq_of(deaths[0]) == born);
  CHECK(rig.client.disconnects_with_will == 1);
  // An intentional stop ends the same way.
  Rig stop;
  stop.come_online();
  stop.uplink.poll();
  stop.uplink.shutdown();
  CHECK(stop.client.decoded("NDEATH").size() == 1);
  CHECK(stop.client.disconnects_with_will == 1);
}

TEST_CASE("uplink: samples older than the birth (a late CONNACK) are sent as historical") {
  Rig rig;
  rig.uplink.poll();  // CONNECT sent; the CONNACK takes its time
  rig.sample();
  rig.clock.advance(3000);
  rig.sample();  // the newest value when the session comes online
  rig.uplink.handle({K::connected, {}, rig.client.connects.back().attempt, {}, {}});
  for (int ack = 0; ack < 2; ++ack)  // SUBACKs of NCMD and DCMD
    rig.uplink.handle({K::subscribed, {}, 0, {}, {}});
  rig.clock.advance(10);
  rig.uplink.poll();
  rig.clock.advance(1000);
  rig.sample();
  rig.uplink.poll();
  const auto births = rig.client.decoded("NBIRTH");
  REQUIRE(births.size() == 1);
  // The birth shows 2; the 1 taken before it is history, 2 and 3 are live.
  CHECK(rig.counter_values() ==
        std::vector<std::pair<uint64_t, bool>>{{1, true}, {2, false}, {3, false}});
  uint64_t born_ts = 0;
  for (const auto& m : births[0].metrics())
    if (m.name() == "Test/Counter") born_ts = m.timestamp();
  for (const auto& p : rig.client.decoded("NDATA"))
    for (const auto& m : p.metrics())
      if (!m.is_historical()) CHECK(m.timestamp() >= born_ts);
}

TEST_CASE("uplink: a malformed NCMD is ignored") {
  Rig rig;
  rig.come_online();
  rig.uplink.poll();
  rig.uplink.handle({K::message, {}, 0, "spBv1.0/school/NCMD/room", "\xff\xfe not protobuf"});
  rig.uplink.handle({K::message, {}, 0, "spBv1.0/school/NCMD/room", ""});
  rig.uplink.poll();
  CHECK(rig.client.decoded("NBIRTH").size() == 1);
  CHECK(rig.uplink.online());
}

TEST_CASE("uplink: empty, unsupported and mistyped NCMDs are each logged for what they are") {
  Rig rig;
  rig.come_online();
  rig.uplink.poll();
  LogCapture logs;
  const std::string topic = "spBv1.0/school/NCMD/room";
  rig.uplink.handle({K::message, {}, 0, topic, ""});
  CHECK(logs.count("ignored an empty command on " + topic) == 1);

  sparkplug::Payload reboot;
  reboot.add_metrics()->set_name("Node Control/Reboot");
  rig.uplink.handle({K::message, {}, 0, topic, reboot.SerializeAsString()});
  CHECK(logs.count("ignored a malformed command on " + topic +
                   ": \"Node Control/Reboot\" is not a command of this node") == 1);

  const sparkplug::Payload mistyped =
      harness::rebirth_command(true, static_cast<uint32_t>(DataType::Int32));
  rig.uplink.handle({K::message, {}, 0, topic, mistyped.SerializeAsString()});
  CHECK(logs.count("ignored a malformed command on " + topic +
                   ": Node Control/Rebirth with datatype 3; it takes Boolean (11) or none") == 1);
  rig.sample();
  rig.uplink.poll();
  CHECK(rig.client.decoded("NBIRTH").size() == 1);  // no rebirth from a mistyped request
  CHECK(rig.uplink.online());
}

TEST_CASE("uplink: a new metric triggers a rebirth before the data that carries it") {
  Rig rig;
  rig.come_online();
  rig.sample();
  rig.uplink.poll();
  MetricId fresh = rig.catalog.declare("Network/wlan0/Rx Bytes", DataType::UInt64, "B");
  rig.catalog.set_time(rig.clock.wall_ms());
  rig.catalog.put(fresh, uint64_t{5});
  sparkplug::Payload record;
  sparkplug::build_record(record, rig.catalog, rig.catalog.changed(), rig.clock.wall_ms());
  rig.catalog.clear_changed();
  rig.spool.append(record.SerializeAsString(), rig.clock.wall_ms());
  rig.uplink.poll();
  REQUIRE(rig.client.published.size() >= 4);
  // Order: NBIRTH, NDATA, (receipt), NBIRTH with the new metric, NDATA.
  std::vector<std::string> kinds;
  for (const auto& p : rig.client.published)
    if (p.qos == 0) kinds.push_back(p.topic.substr(p.topic.find('/', 8) + 1, 5));
  CHECK(kinds == std::vector<std::string>{"NBIRT", "NDATA", "NBIRT", "NDATA"});
  auto births = rig.client.decoded("NBIRTH");
  REQUIRE(births.size() == 2);
  bool found = false;
  for (const auto& m : births[1].metrics()) found = found || m.name() == "Network/wlan0/Rx Bytes";
  CHECK(found);
}

TEST_CASE("uplink: a failed publish drops the session, nothing unconfirmed is lost") {
  Rig rig;
  rig.come_online();
  rig.sample();
  rig.client.refuse_publish = true;
  rig.uplink.poll();
  CHECK_FALSE(rig.uplink.online());
  rig.client.refuse_publish = false;
  rig.clock.advance(5000);
  rig.come_online();
  rig.clock.advance(1000);
  rig.uplink.poll();
  auto values = rig.counter_values();
  REQUIRE(values.size() == 1);
  CHECK(values[0] == std::pair<uint64_t, bool>{1, true});
}

TEST_CASE("uplink: shutdown publishes the NDEATH with the session's bdSeq") {
  Rig rig;
  rig.come_online();
  rig.uplink.poll();
  rig.uplink.shutdown();
  auto deaths = rig.client.decoded("NDEATH");
  REQUIRE(deaths.size() == 1);
  CHECK(bdseq_of(deaths[0]) == 0);
  CHECK(rig.client.disconnects == 1);
}

TEST_CASE("uplink: an attempt with no MQTT answer is abandoned at its deadline") {
  Rig rig;
  // The loop is asked to come back at the deadline, not a minute later.
  CHECK(rig.uplink.poll() == rig.clock.steady_ms() + 12'000);
  REQUIRE(rig.client.connects.size() == 1);
  const uint64_t first = rig.client.connects[0].attempt;
  // connect_timeout (10 s) + 2 s grace, then the uplink gives up by itself.
  CHECK(rig.uplink.poll() == rig.clock.steady_ms() + 12'000);
  rig.clock.advance(12'000);
  rig.uplink.poll();
  CHECK(rig.client.abandoned == 1);  // the attempt in progress is dropped
  CHECK_FALSE(rig.uplink.online());
  rig.clock.advance(60'000);
  rig.uplink.poll();
  REQUIRE(rig.client.connects.size() == 2);
  // A late answer to the abandoned attempt changes nothing...
  rig.uplink.handle({K::connected, {}, first, {}, {}});
  CHECK(rig.client.subscriptions.empty());
  rig.uplink.handle({K::connect_failed, "late", first, {}, {}});
  // ...the current attempt goes on.
  rig.uplink.handle({K::connected, {}, rig.client.connects[1].attempt, {}, {}});
  CHECK(rig.client.subscriptions.size() == 2);
}

// ---- Devices: DBIRTH, DDATA, DDEATH in the node's session ----
namespace {

// The node's Rig with devices, fed through the real Batcher.
struct DeviceRig : Rig {
  Batcher batcher{catalog, spool, uplink, clock};
  DeviceId add(const std::string& name) { return catalog.add_device(name); }
  MetricId metric(DeviceId d, const std::string& name) {
    return catalog.declare(d, name, DataType::UInt64, "B");
  }
  void put(MetricId id, uint64_t v) {
    catalog.set_time(clock.wall_ms());
    catalog.put(id, v);
  }
  void flush() { batcher.flush(); }
  // Sparkplug messages (QoS 0) as "TYPE[/device]", in publish order.
  std::vector<std::string> kinds() const {
    std::vector<std::string> out;
    for (const Published& p : client.published) {
      if (p.qos != 0) continue;
      std::string rest = p.topic.substr(std::string("spBv1.0/school/").size());
      std::string type = rest.substr(0, rest.find('/'));
      const size_t node_end = rest.find('/', type.size() + 1);
      out.push_back(node_end == std::string::npos ? type : type + "/" + rest.substr(node_end + 1));
    }
    return out;
  }
  std::vector<sparkplug::Payload> on(const std::string& topic) const {
    std::vector<sparkplug::Payload> out;
    for (const Published& p : client.published)
      if (p.topic == topic) {
        sparkplug::Payload payload;
        REQUIRE(payload.ParseFromString(p.payload));
        out.push_back(payload);
      }
    return out;
  }
};

const sparkplug::PbMetric* named(const sparkplug::Payload& p, const std::string& name) {
  for (const auto& m : p.metrics())
    if (m.name() == name) return &m;
  return nullptr;
}

}  // namespace

TEST_CASE("uplink devices: DBIRTH after the NBIRTH, DDATA by alias, one seq for all") {
  DeviceRig rig;
  const DeviceId sw = rig.add("switch-6a");
  const MetricId rx = rig.metric(sw, "Interfaces/1/Rx Bytes");
  rig.batcher.presence(sw, true);
  rig.put(rx, 100);
  rig.flush();
  rig.come_online();
  rig.sample();
  rig.uplink.poll();
  auto kinds = rig.kinds();
  REQUIRE(kinds.size() >= 3);
  CHECK(kinds[0] == "NBIRTH");
  CHECK(kinds[1] == "DBIRTH/switch-6a");
  auto births = rig.on("spBv1.0/school/DBIRTH/room/switch-6a");
  REQUIRE(births.size() == 1);
  CHECK(births[0].seq() == 1);
  const auto* m = named(births[0], "Interfaces/1/Rx Bytes");
  REQUIRE(m);
  CHECK(m->alias() == rig.catalog.at(rx).alias);
  CHECK(m->long_value() == 100);
  CHECK(m->properties().values(0).string_value() == "B");
  CHECK_FALSE(named(births[0], "bdSeq"));         // the node's, not the device's
  CHECK_FALSE(named(births[0], "Test/Counter"));  // a node metric
  CHECK_FALSE(named(rig.client.decoded("NBIRTH")[0], "Interfaces/1/Rx Bytes"));

  // Interleave node and device data past 255: seq is one counter, 255 -> 0.
  for (int i = 0; i < 300; ++i) {
    rig.put(rx, 200 + static_cast<uint64_t>(i));
    rig.flush();
    rig.sample();
    rig.clock.advance(10);
    rig.uplink.poll();
    rig.ack_receipts();
  }
  uint64_t expected = 0;
  size_t ddata = 0;
  for (const Published& p : rig.client.published) {
    if (p.qos != 0) continue;
    sparkplug::Payload payload;
    REQUIRE(payload.ParseFromString(p.payload));
    INFO(p.topic);
    REQUIRE(payload.seq() == expected);
    expected = (expected + 1) % 256;
    if (p.topic == "spBv1.0/school/DDATA/room/switch-6a") {
      ++ddata;
      REQUIRE(payload.metrics_size() == 1);
      CHECK_FALSE(payload.metrics(0).has_name());
      CHECK(payload.metrics(0).alias() == rig.catalog.at(rx).alias);
      CHECK_FALSE(payload.has_uuid());  // the spool's owner tag stays home
    }
  }
  CHECK(ddata == 301);
  CHECK(expected == (2 + 301 + 301) % 256);
}

TEST_CASE("uplink devices: aliases are unique across the node and devices with the same names") {
  DeviceRig rig;
  const DeviceId a = rig.add("switch-6a"), b = rig.add("ap-6a");
  const MetricId ma = rig.metric(a, "System/Uptime"), mb = rig.metric(b, "System/Uptime");
  const MetricId node = *rig.catalog.find("Test/Counter");
  CHECK(ma != mb);
  CHECK(rig.catalog.at(ma).alias != rig.catalog.at(mb).alias);
  CHECK(rig.catalog.at(ma).alias != rig.catalog.at(node).alias);
  CHECK(rig.catalog.find(a, "System/Uptime") == ma);
  CHECK(rig.catalog.find(b, "System/Uptime") == mb);
  CHECK_FALSE(rig.catalog.find("System/Uptime"));  // not the node's
  rig.batcher.presence(a, true);
  rig.batcher.presence(b, true);
  rig.put(ma, 1);
  rig.put(mb, 2);
  rig.flush();
  rig.come_online();
  rig.clock.advance(1000);
  rig.uplink.poll();
  auto da = rig.on("spBv1.0/school/DDATA/room/switch-6a");
  auto db = rig.on("spBv1.0/school/DDATA/room/ap-6a");
  REQUIRE(da.size() == 1);
  REQUIRE(db.size() == 1);
  CHECK(da[0].metrics(0).alias() == rig.catalog.at(ma).alias);
  CHECK(da[0].metrics(0).long_value() == 1);
  CHECK(db[0].metrics(0).alias() == rig.catalog.at(mb).alias);
  CHECK(db[0].metrics(0).long_value() == 2);
}

TEST_CASE("uplink devices: a rebirth re-sends the DBIRTH of every online device") {
  DeviceRig rig;
  const DeviceId a = rig.add("switch-6a"), b = rig.add("ap-6a"), c = rig.add("ups-6a");
  rig.metric(a, "X");
  rig.metric(b, "X");
  rig.metric(c, "X");
  rig.batcher.presence(a, true);
  rig.batcher.presence(b, true);  // c never answered: offline
  rig.come_online();
  rig.uplink.poll();
  rig.uplink.handle({K::message,
                     {},
                     0,
                     "spBv1.0/school/NCMD/room",
                     harness::rebirth_command().SerializeAsString()});
  rig.sample();
  rig.uplink.poll();
  CHECK(rig.kinds() == std::vector<std::string>{"NBIRTH", "DBIRTH/switch-6a", "DBIRTH/ap-6a",
                                                "NBIRTH", "DBIRTH/switch-6a", "DBIRTH/ap-6a",
                                                "NDATA"});
  auto second = rig.on("spBv1.0/school/DBIRTH/room/switch-6a")[1];
  CHECK(second.seq() == 1);  // after the new NBIRTH's 0
}

TEST_CASE("uplink devices: DDEATH after the device's last data, DBIRTH when it answers again") {
  DeviceRig rig;
  const DeviceId sw = rig.add("switch-6a");
  const MetricId up = rig.metric(sw, "System/Uptime");
  rig.batcher.presence(sw, true);
  rig.put(up, 1);
  rig.flush();
  rig.come_online();
  rig.clock.advance(1000);
  rig.uplink.poll();
  rig.put(up, 2);
  rig.flush();
  rig.clock.advance(1000);
  const int64_t died = rig.clock.wall_ms();
  rig.batcher.presence(sw, false);  // retries + 1 polls unanswered
  CHECK_FALSE(rig.catalog.online(sw));
  rig.uplink.poll();
  rig.clock.advance(1000);
  rig.batcher.presence(sw, true);
  rig.put(up, 3);
  rig.flush();
  rig.uplink.poll();
  CHECK(rig.kinds() == std::vector<std::string>{"NBIRTH", "DBIRTH/switch-6a", "DDATA/switch-6a",
                                                "DDATA/switch-6a", "DDEATH/switch-6a",
                                                "DBIRTH/switch-6a", "DDATA/switch-6a"});
  auto deaths = rig.on("spBv1.0/school/DDEATH/room/switch-6a");
  REQUIRE(deaths.size() == 1);
  CHECK(deaths[0].timestamp() == static_cast<uint64_t>(died));
  CHECK(deaths[0].metrics_size() == 0);
  CHECK(deaths[0].seq() == 4);
  // The new birth has the value it answered with.
  auto births = rig.on("spBv1.0/school/DBIRTH/room/switch-6a");
  REQUIRE(births.size() == 2);
  CHECK(named(births[1], "System/Uptime")->long_value() == 3);
}

TEST_CASE("uplink devices: after an outage, device batches replay as history under their device") {
  DeviceRig rig;
  const DeviceId sw = rig.add("switch-6a"), ap = rig.add("ap-6a");
  const MetricId sw_up = rig.metric(sw, "System/Uptime");
  const MetricId ap_up = rig.metric(ap, "System/Uptime");
  rig.batcher.presence(sw, true);
  rig.batcher.presence(ap, true);
  // The broker is away: the switch reports twice, the AP once and then dies.
  rig.put(sw_up, 10);
  rig.put(ap_up, 20);
  rig.flush();
  rig.sample();
  rig.put(sw_up, 11);
  rig.flush();
  rig.batcher.presence(ap, false);
  rig.come_online();
  rig.put(sw_up, 12);  // live
  rig.flush();
  rig.clock.advance(1000);
  rig.uplink.poll();
  rig.clock.advance(1000);
  rig.uplink.poll();
  // The birth knows the switch only (the AP is offline now); live first, then
  // the backlog in its order; the AP is born for its history and dies again
  // at the point its presence record says.
  CHECK(rig.kinds() == std::vector<std::string>{"NBIRTH", "DBIRTH/switch-6a", "DDATA/switch-6a",
                                                "DDATA/switch-6a", "DBIRTH/ap-6a", "DDATA/ap-6a",
                                                "NDATA", "DDATA/switch-6a", "DDEATH/ap-6a"});
  auto sw_data = rig.on("spBv1.0/school/DDATA/room/switch-6a");
  REQUIRE(sw_data.size() == 3);
  CHECK(sw_data[0].metrics(0).long_value() == 12);
  CHECK_FALSE(sw_data[0].metrics(0).is_historical());
  CHECK(sw_data[1].metrics(0).long_value() == 10);
  CHECK(sw_data[1].metrics(0).is_historical());
  CHECK(sw_data[2].metrics(0).long_value() == 11);
  CHECK(sw_data[2].metrics(0).is_historical());
  auto ap_data = rig.on("spBv1.0/school/DDATA/room/ap-6a");
  REQUIRE(ap_data.size() == 1);
  CHECK(ap_data[0].metrics(0).alias() == rig.catalog.at(ap_up).alias);
  CHECK(ap_data[0].metrics(0).long_value() == 20);
  CHECK(ap_data[0].metrics(0).is_historical());
  rig.ack_receipts();
  CHECK(rig.spool.committed() == rig.spool.next_id() - 1);
}

TEST_CASE("uplink devices: a past death in the backlog does not kill a device online now") {
  DeviceRig rig;
  const DeviceId sw = rig.add("switch-6a");
  const MetricId up = rig.metric(sw, "System/Uptime");
  rig.batcher.presence(sw, true);
  rig.put(up, 1);
  rig.flush();
  rig.batcher.presence(sw, false);
  rig.batcher.presence(sw, true);
  rig.put(up, 2);
  rig.flush();
  rig.come_online();
  rig.clock.advance(1000);
  rig.uplink.poll();
  CHECK(rig.kinds() == std::vector<std::string>{"NBIRTH", "DBIRTH/switch-6a", "DDATA/switch-6a",
                                                "DDATA/switch-6a"});
  auto data = rig.on("spBv1.0/school/DDATA/room/switch-6a");
  CHECK(data[0].metrics(0).is_historical());
  CHECK(data[1].metrics(0).is_historical());
}

TEST_CASE("uplink devices: a record of the previous version (no owner) replays as NDATA") {
  DeviceRig rig;
  // Bytes as the previous version wrote them: a Payload with a named metric, no uuid.
  sparkplug::Payload old;
  old.set_timestamp(1000);
  auto* m = old.add_metrics();
  m->set_name("Test/Counter");
  m->set_timestamp(1000);
  m->set_datatype(8);
  m->set_long_value(77);
  rig.spool.append(old.SerializeAsString(), 1000);
  rig.come_online();
  rig.clock.advance(1000);
  rig.uplink.poll();
  auto values = rig.counter_values();
  REQUIRE(values.size() == 1);
  CHECK(values[0] == std::pair<uint64_t, bool>{77, true});
}

TEST_CASE("uplink devices: metrics retired by a reload: that device's DBIRTH alone, same aliases") {
  DeviceRig rig;
  const DeviceId sw = rig.add("switch-6a"), ap = rig.add("ap-6a");
  const MetricId up = rig.metric(sw, "System/Uptime");
  const MetricId load = rig.metric(sw, "UPS/Load");
  const MetricId ap_up = rig.metric(ap, "System/Uptime");
  rig.batcher.presence(sw, true);
  rig.batcher.presence(ap, true);
  rig.put(up, 1);
  rig.put(load, 31);
  rig.put(ap_up, 7);
  rig.flush();
  rig.come_online();
  rig.clock.advance(1000);
  rig.uplink.poll();
  const uint64_t bdseq = bdseq_of(rig.client.decoded("NBIRTH")[0]);

  // A reload drops the switch's UPS profile: its first poll declares the uptime only.
  rig.catalog.mark_unseen(sw);
  rig.catalog.declare(sw, "System/Uptime", DataType::UInt64, "B");
  rig.put(up, 2);
  rig.put(load, 32);  // a value put before the retirement
  REQUIRE(rig.catalog.retire_unseen(sw) == 1);
  rig.put(ap_up, 8);
  rig.flush();
  rig.clock.advance(1000);
  rig.uplink.poll();
  CHECK(rig.kinds() == std::vector<std::string>{
                           "NBIRTH", "DBIRTH/switch-6a", "DBIRTH/ap-6a", "DDATA/switch-6a",
                           "DDATA/ap-6a", "DBIRTH/switch-6a", "DDATA/switch-6a", "DDATA/ap-6a"});
  auto births = rig.on("spBv1.0/school/DBIRTH/room/switch-6a");
  REQUIRE(births.size() == 2);
  CHECK_FALSE(named(births[1], "UPS/Load"));
  REQUIRE(named(births[1], "System/Uptime"));
  CHECK(named(births[1], "System/Uptime")->alias() == named(births[0], "System/Uptime")->alias());
  CHECK(named(births[1], "System/Uptime")->long_value() == 2);
  CHECK(births[1].seq() == 5);  // the node's one counter goes on: no NBIRTH
  // The data after it names the kept alias only.
  auto data = rig.on("spBv1.0/school/DDATA/room/switch-6a");
  REQUIRE(data.size() == 2);
  REQUIRE(data[1].metrics_size() == 1);
  CHECK(data[1].metrics(0).alias() == rig.catalog.at(up).alias);
  CHECK(rig.client.decoded("NBIRTH").size() == 1);
  CHECK(bdseq_of(rig.client.decoded("NBIRTH")[0]) == bdseq);

  // Later polls: no more births.
  rig.put(up, 3);
  rig.flush();
  rig.clock.advance(1000);
  rig.uplink.poll();
  CHECK(rig.on("spBv1.0/school/DBIRTH/room/switch-6a").size() == 2);
}

TEST_CASE("uplink devices: a spooled batch naming a retired device metric is still sent") {
  DeviceRig rig;
  const DeviceId sw = rig.add("switch-6a");
  const MetricId up = rig.metric(sw, "System/Uptime");
  const MetricId load = rig.metric(sw, "UPS/Load");
  rig.batcher.presence(sw, true);
  // The broker is away while the switch reports its UPS load ...
  rig.put(up, 1);
  rig.put(load, 31);
  rig.flush();
  // ... and a reload drops the UPS profile before it is back.
  rig.catalog.mark_unseen(sw);
  rig.catalog.declare(sw, "System/Uptime", DataType::UInt64, "B");
  REQUIRE(rig.catalog.retire_unseen(sw) == 1);
  rig.come_online();
  rig.clock.advance(1000);
  rig.uplink.poll();
  // The birth lacks it; the backlog brings it back (same alias) with a full
  // rebirth before the data that names it: nothing lost, no unknown alias.
  CHECK(rig.kinds() == std::vector<std::string>{"NBIRTH", "DBIRTH/switch-6a", "NBIRTH",
                                                "DBIRTH/switch-6a", "DDATA/switch-6a"});
  auto births = rig.on("spBv1.0/school/DBIRTH/room/switch-6a");
  REQUIRE(births.size() == 2);
  CHECK_FALSE(named(births[0], "UPS/Load"));
  REQUIRE(named(births[1], "UPS/Load"));
  CHECK(named(births[1], "UPS/Load")->alias() == rig.catalog.at(load).alias);
  auto data = rig.on("spBv1.0/school/DDATA/room/switch-6a");
  REQUIRE(data.size() == 1);
  bool sent = false;
  for (const auto& m : data[0].metrics())
    sent = sent ||
           (m.alias() == rig.catalog.at(load).alias && m.long_value() == 31 && m.is_historical());
  CHECK(sent);
  rig.ack_receipts();
  CHECK(rig.spool.committed() == rig.spool.next_id() - 1);
}

// ---- What the broker will not take, and deliveries that stop ----

TEST_CASE("uplink devices: a DBIRTH over the broker's limit is not sent, the rest goes on") {
  LogCapture log;
  DeviceRig rig;
  const DeviceId big = rig.add("switch-big"), small = rig.add("ups-small");
  std::vector<MetricId> ports;
  for (int i = 0; i < 200; ++i)
    ports.push_back(rig.metric(big, "Interfaces/port-" + std::to_string(i) + "/Rx Bytes"));
  const MetricId charge = rig.metric(small, "UPS/Charge");
  rig.batcher.presence(big, true);
  rig.batcher.presence(small, true);
  for (MetricId p : ports) rig.put(p, 1);
  rig.put(charge, 87);
  rig.flush();
  // The broker states its Maximum Packet Size in the CONNACK.
  rig.uplink.poll();
  mqtt::Event connack{K::connected, {}, rig.client.connects.back().attempt, {}, {}};
  connack.max_packet_size = 4000;
  connack.mqtt5 = true;
  rig.uplink.handle(connack);
  for (int ack = 0; ack < 2; ++ack)  // SUBACKs of NCMD and DCMD
    rig.uplink.handle({K::subscribed, {}, 0, {}, {}});
  REQUIRE(rig.uplink.online());
  CHECK(rig.uplink.packet_limit() == 4000);
  CHECK(rig.uplink.packet_limit_source() == "its Maximum Packet Size");
  for (int round = 0; round < 3; ++round) {
    for (MetricId p : ports) rig.put(p, 2 + static_cast<uint64_t>(round));
    rig.put(charge, 88 + static_cast<uint64_t>(round));
    rig.flush();
    rig.sample();
    rig.clock.advance(1000);
    rig.uplink.poll();
    rig.ack_receipts();
  }
  for (const Published& p : rig.client.published)
    CHECK(mqtt::publish_packet_size(p.topic.size(), p.payload.size(), p.qos, true) <= 4000);
  const auto kinds = rig.kinds();
  CHECK(std::count(kinds.begin(), kinds.end(), "NBIRTH") == 1);
  CHECK(std::count(kinds.begin(), kinds.end(), "DBIRTH/ups-small") == 1);
  CHECK(std::count(kinds.begin(), kinds.end(), "DDATA/ups-small") == 4);
  CHECK(std::count(kinds.begin(), kinds.end(), "NDATA") == 3);
  CHECK(std::count(kinds.begin(), kinds.end(), "DBIRTH/switch-big") == 0);
  CHECK(std::count(kinds.begin(), kinds.end(), "DDATA/switch-big") == 0);
  // One seq for what was sent: no gap where the birth was refused.
  uint64_t expected = 0;
  for (const Published& p : rig.client.published) {
    if (p.qos != 0) continue;
    sparkplug::Payload payload;
    REQUIRE(payload.ParseFromString(p.payload));
    CHECK(payload.seq() == expected++);
  }
  const uint64_t size = rig.uplink.refused_birth_size(big);
  CHECK(size > 4000);
  CHECK(rig.uplink.refused_birth_size(small) == 0);
  CHECK(rig.uplink.refused_birth_size(kNode) == 0);
  CHECK(rig.uplink.refused_batches() == 4);  // its batches: before the connection, and 3
  CHECK(rig.uplink.refused_data() == 0);     // none for its own size
  CHECK(rig.uplink.last_refused_ms() > 0);
  // Said once, with the size, the limit and what to do.
  CHECK(log.count("not publishing the birth of device switch-big: " + std::to_string(size) +
                  " bytes, over the 4000 bytes the broker takes (its Maximum Packet Size)") == 1);
  CHECK(log.count("its include/exclude, fewer profiles") == 1);
  // The spool is not held up by what cannot be sent.
  CHECK(rig.spool.committed() == rig.spool.next_id() - 1);
}

TEST_CASE("uplink: data over the broker's limit is not sent and is counted with its time") {
  LogCapture log;
  Rig rig;
  const MetricId text = rig.catalog.declare("Test/Text", DataType::String, "");
  rig.catalog.put(text, std::string("short"));
  rig.uplink.poll();
  mqtt::Event connack{K::connected, {}, rig.client.connects.back().attempt, {}, {}};
  connack.max_packet_size = 1000;
  connack.mqtt5 = true;
  rig.uplink.handle(connack);
  for (int ack = 0; ack < 2; ++ack)  // SUBACKs of NCMD and DCMD
    rig.uplink.handle({K::subscribed, {}, 0, {}, {}});
  rig.sample();
  rig.uplink.poll();
  REQUIRE(rig.client.decoded("NBIRTH").size() == 1);
  REQUIRE(rig.client.decoded("NDATA").size() == 1);
  CHECK(rig.uplink.last_refused_ms() == 0);
  // A value of 3000 bytes: the birth had it short, its NDATA is over the limit.
  rig.clock.advance(1000);
  rig.catalog.put(text, std::string(3000, 'x'));
  rig.sample();
  const int64_t refused_at = rig.clock.wall_ms();
  rig.uplink.poll();
  CHECK(rig.uplink.refused_batches() == 1);
  CHECK(rig.uplink.refused_data() == 1);
  CHECK(rig.uplink.last_refused_ms() == refused_at);
  CHECK(log.count("over the 1000 bytes the broker takes (1 such records so far)") == 1);
  // The session goes on: the next batch is sent, nothing over the limit ever is.
  rig.clock.advance(1000);
  rig.sample();
  rig.uplink.poll();
  CHECK(rig.client.decoded("NDATA").size() == 2);
  CHECK(rig.uplink.online());
  for (const Published& p : rig.client.published)
    CHECK(mqtt::publish_packet_size(p.topic.size(), p.payload.size(), p.qos, true) <= 1000);
  // Not held up by it: confirmed with what follows.
  rig.clock.advance(6000);
  rig.uplink.poll();
  rig.ack_receipts();
  CHECK(rig.spool.committed() == rig.spool.next_id() - 1);
}

TEST_CASE("uplink: a broker that states no limit: [broker] max_packet_size, NBIRTH too") {
  LogCapture log;
  Rig rig;
  for (int i = 0; i < 100; ++i)
    rig.catalog.declare("Test/Metric " + std::to_string(i), DataType::UInt64, "");
  UplinkOptions o = rig.options(1000, {"tcp://a:1883"});
  o.max_packet_size = 2000;
  Uplink uplink(o, rig.client, rig.catalog, rig.spool, rig.clock);
  uplink.poll();
  uplink.handle({K::connected, {}, rig.client.connects.back().attempt, {}, {}});
  for (int ack = 0; ack < 2; ++ack)  // SUBACKs of NCMD and DCMD
    uplink.handle({K::subscribed, {}, 0, {}, {}});
  rig.sample();
  const int64_t now = rig.clock.steady_ms();
  // Nothing is sent without its birth, and the loop is not kept spinning.
  CHECK(uplink.poll() > now);
  CHECK(uplink.online());
  CHECK(rig.client.published.empty());
  CHECK(uplink.refused_birth_size(kNode) > 2000);
  CHECK(uplink.packet_limit_source() == "the broker states no limit: [broker] max_packet_size");
  rig.sample();
  uplink.poll();
  CHECK(log.count("not publishing the birth of node room: ") == 1);
  CHECK(log.count("(the broker states no limit: [broker] max_packet_size)") == 1);
}

TEST_CASE("uplink: a receipt the broker does not acknowledge in time ends the session") {
  LogCapture log;
  Rig rig;
  rig.come_online();
  rig.sample();
  rig.uplink.poll();
  REQUIRE(rig.client.last_receipt());
  const int64_t unconfirmed_since = rig.clock.wall_ms();
  CHECK(rig.uplink.unconfirmed_since_ms() == unconfirmed_since);
  rig.clock.advance(29'000);
  rig.uplink.poll();
  CHECK(rig.uplink.online());
  rig.clock.advance(1000);  // keepalive: 30 s
  rig.uplink.poll();
  CHECK_FALSE(rig.uplink.online());
  CHECK(rig.client.abandoned == 1);  // dropped without waiting on the network
  // Nothing was confirmed since then, whatever session comes next: status
  // goes on counting from the first unconfirmed publish.
  CHECK(rig.uplink.unconfirmed_since_ms() == unconfirmed_since);
  CHECK(log.count("lost broker tcp://a:1883 (no delivery receipt acknowledged for 30 s); "
                  "reconnecting in ") == 1);
  // The batch comes again in the next session, as history.
  rig.clock.advance(5000);
  rig.come_online();
  rig.clock.advance(1000);
  rig.uplink.poll();
  CHECK(rig.counter_values() == std::vector<std::pair<uint64_t, bool>>{{1, false}, {1, true}});
}

TEST_CASE("uplink: a receipt the broker refuses ends the session") {
  LogCapture log;
  Rig rig;
  rig.come_online();
  rig.sample();
  rig.uplink.poll();
  const uint64_t tag = rig.client.last_receipt()->tag;
  rig.uplink.handle({K::publish_failed, "broker says this client is not authorized", tag, {}, {}});
  CHECK_FALSE(rig.uplink.online());
  CHECK(log.count("lost broker tcp://a:1883 (the broker refused delivery receipt " +
                  std::to_string(tag) + ": broker says this client is not authorized)") == 1);
}

TEST_CASE("uplink: the broker's DISCONNECT is a lost connection, with its reason") {
  LogCapture log;
  Rig rig;
  rig.come_online();
  rig.uplink.handle(
      {K::connection_lost, "broker sent DISCONNECT: broker says a packet is too large", 0, {}, {}});
  CHECK_FALSE(rig.uplink.online());
  CHECK(rig.uplink.last_error() == "broker sent DISCONNECT: broker says a packet is too large");
  CHECK(log.count("lost broker tcp://a:1883 (broker sent DISCONNECT: broker says a packet is too "
                  "large); reconnecting in ") == 1);
}

TEST_CASE("mqtt: the PUBLISH packet size a broker's limit is compared with") {
  // Type byte, remaining length, topic length and topic, payload.
  CHECK(mqtt::publish_packet_size(5, 10, 0, false) == 1 + 1 + 2 + 5 + 10);
  CHECK(mqtt::publish_packet_size(5, 10, 1, false) == 1 + 1 + 2 + 5 + 2 + 10);
  CHECK(mqtt::publish_packet_size(5, 10, 0, true) == 1 + 1 + 2 + 5 + 1 + 10);
  CHECK(mqtt::publish_packet_size(0, 125, 0, false) == 1 + 1 + 127);
  CHECK(mqtt::publish_packet_size(0, 126, 0, false) == 1 + 2 + 128);
  CHECK(mqtt::publish_packet_size(10, 130'000, 0, true) == 1 + 3 + 2 + 10 + 1 + 130'000);
}

TEST_CASE("uplink devices: a broker that closes the session for a packet too large: learned") {
  LogCapture log;
  DeviceRig rig;
  const DeviceId big = rig.add("switch-big");
  for (int i = 0; i < 200; ++i)
    rig.put(rig.metric(big, "Interfaces/port-" + std::to_string(i) + "/Rx Bytes"), 1);
  rig.batcher.presence(big, true);
  rig.flush();
  rig.come_online();  // no limit stated: [broker] max_packet_size (256 KiB) lets it go
  rig.uplink.poll();
  REQUIRE(rig.on("spBv1.0/school/DBIRTH/room/switch-big").size() == 1);
  size_t sent = 0;
  for (const Published& p : rig.client.published)
    if (p.topic == "spBv1.0/school/DBIRTH/room/switch-big") sent = p.payload.size();
  // The broker's DISCONNECT, reason 0x95: packet too large.
  rig.uplink.handle({K::connection_lost,
                     "broker sent DISCONNECT: broker says a packet is too large",
                     0x95,
                     {},
                     {}});
  CHECK_FALSE(rig.uplink.online());
  CHECK(log.count("W uplink: broker tcp://a:1883 refused a packet of ") == 1);
  // The next session keeps under it: the device stays unborn, visibly.
  rig.clock.advance(5000);
  rig.come_online();
  rig.uplink.poll();
  CHECK(rig.on("spBv1.0/school/DBIRTH/room/switch-big").size() == 1);
  CHECK(rig.uplink.packet_limit() < sent + 100);
  CHECK(rig.uplink.refused_birth_size(big) > rig.uplink.packet_limit());
  CHECK_THAT(rig.uplink.packet_limit_source(), Catch::StartsWith("it refused a packet of "));
  CHECK(log.count("not publishing the birth of device switch-big: ") == 1);
}

// ---- Primary Host (issue 19) ----

TEST_CASE("uplink: with a primary host no birth before its STATE says online") {
  Rig rig(1000, {"tcp://a:1883"}, "scada");
  rig.uplink.poll();
  rig.uplink.handle({K::connected, {}, rig.client.connects.back().attempt, {}, {}});
  // Every subscription before anything else (QoS 1 for the STATE too).
  CHECK(rig.client.subscriptions == std::vector<std::string>{"spBv1.0/school/NCMD/room",
                                                             "spBv1.0/school/DCMD/room/+",
                                                             "spBv1.0/STATE/scada"});
  rig.uplink.handle({K::subscribed, {}, 0, {}, {}});
  rig.uplink.handle({K::subscribed, {}, 0, {}, {}});
  CHECK_FALSE(rig.uplink.waiting_for_host());  // two SUBACKs of three
  rig.uplink.handle({K::subscribed, {}, 0, {}, {}});
  REQUIRE(rig.uplink.waiting_for_host());
  CHECK_FALSE(rig.uplink.online());
  CHECK_FALSE(rig.uplink.delivering());  // a full spool drops the oldest, as offline
  CHECK(rig.uplink.host_offline_since_ms() == rig.clock.wall_ms());
  std::string said;
  rig.uplink.describe(said);
  CHECK_THAT(said, Catch::StartsWith("waiting for primary host scada on tcp://a:1883: "
                                     "offline since "));
  // Sampled while waiting: kept, nothing published.
  rig.sample();
  rig.clock.advance(1000);
  rig.uplink.poll();
  rig.sample();
  rig.uplink.poll();
  CHECK(rig.client.published.empty());
  CHECK_FALSE(rig.uplink.publish_unspooled("x"));

  rig.clock.advance(1000);
  rig.host_state(R"({"online": true, "timestamp": 1700000000000})");
  REQUIRE(rig.uplink.online());
  CHECK(rig.uplink.host_offline_since_ms() == 0);
  rig.sample();  // live
  rig.uplink.poll();
  REQUIRE_FALSE(rig.client.published.empty());
  CHECK(rig.client.published[0].topic == "spBv1.0/school/NBIRTH/room");
  rig.clock.advance(1000);  // the backlog at replay_rate
  rig.uplink.poll();
  // Live first; what was sampled while the host was away comes as history.
  auto values = rig.counter_values();
  REQUIRE(values.size() == 3);
  CHECK(values[0] == std::pair<uint64_t, bool>{3, false});
  CHECK(values[1] == std::pair<uint64_t, bool>{1, true});
  CHECK(values[2] == std::pair<uint64_t, bool>{2, true});
}

TEST_CASE("uplink: a retained online STATE that comes before the last SUBACK births at once") {
  Rig rig(1000, {"tcp://a:1883"}, "scada");
  rig.uplink.poll();
  rig.uplink.handle({K::connected, {}, rig.client.connects.back().attempt, {}, {}});
  rig.uplink.handle({K::subscribed, {}, 0, {}, {}});
  rig.uplink.handle({K::subscribed, {}, 0, {}, {}});
  rig.host_state(R"({"online":true,"timestamp":5})");
  CHECK_FALSE(rig.uplink.online());  // not before every SUBACK
  rig.uplink.handle({K::subscribed, {}, 0, {}, {}});
  REQUIRE(rig.uplink.online());
  rig.uplink.poll();
  CHECK(rig.count("NBIRTH") == 1);
}

TEST_CASE("uplink: a valid offline STATE ends the session and the next server is tried") {
  LogCapture log;
  Rig rig(1000, {"tcp://a:1883", "tcp://b:1883"}, "scada");
  rig.uplink.poll();
  rig.uplink.handle({K::connected, {}, rig.client.connects.back().attempt, {}, {}});
  rig.ack_subscriptions();
  rig.host_state(R"({"online":true,"timestamp":2000})");
  REQUIRE(rig.uplink.online());
  rig.sample();
  rig.uplink.poll();
  REQUIRE(rig.count("NBIRTH") == 1);

  // A stale Will (older than the online state in force) is ignored.
  rig.host_state(R"({"online":false,"timestamp":1999})");
  CHECK(rig.uplink.online());
  CHECK(rig.count("NDEATH") == 0);
  CHECK(log.count("ignored a stale STATE of primary host scada") == 1);
  // So is an online one that is older.
  rig.host_state(R"({"online":true,"timestamp":1000})");
  CHECK(log.count("ignored a stale STATE of primary host scada") == 2);

  // The Will of the host's session (same timestamp): NDEATH, disconnect, next server.
  rig.host_state(R"({"online":false,"timestamp":2000})");
  CHECK_FALSE(rig.uplink.online());
  CHECK_FALSE(rig.uplink.waiting_for_host());
  CHECK(rig.count("NDEATH") == 1);
  CHECK(rig.client.disconnects_with_will == 1);
  CHECK(rig.uplink.current_server() == "tcp://b:1883");
  CHECK(rig.uplink.host_offline_since_ms() == rig.clock.wall_ms());
  CHECK_THAT(log.text(), Catch::Contains("primary host scada is offline (STATE timestamp 2000)"));
  // The new connection forgets the timestamps of the old server's host
  // session: an older online STATE there is the latest there.
  rig.clock.advance(60'000);
  rig.uplink.poll();
  REQUIRE(rig.client.connects.size() == 2);
  CHECK(rig.client.connects[1].server == "tcp://b:1883");
  rig.uplink.handle({K::connected, {}, rig.client.connects.back().attempt, {}, {}});
  rig.ack_subscriptions();
  REQUIRE(rig.uplink.waiting_for_host());
  rig.host_state(R"({"online":true,"timestamp":1500})");
  CHECK(rig.uplink.online());
}

TEST_CASE("uplink: an offline STATE while waiting walks to the next server but not with one") {
  SECTION("two servers: the host may be on the other one") {
    Rig rig(1000, {"tcp://a:1883", "tcp://b:1883"}, "scada");
    rig.uplink.poll();
    rig.uplink.handle({K::connected, {}, rig.client.connects.back().attempt, {}, {}});
    rig.uplink.handle({K::subscribed, {}, 0, {}, {}});
    rig.uplink.handle({K::subscribed, {}, 0, {}, {}});
    rig.host_state(R"({"online":false,"timestamp":7})");  // retained, before the last SUBACK
    rig.uplink.handle({K::subscribed, {}, 0, {}, {}});
    CHECK_FALSE(rig.uplink.waiting_for_host());
    CHECK(rig.client.disconnects_with_will == 1);
    CHECK(rig.uplink.current_server() == "tcp://b:1883");
    CHECK(rig.count("NBIRTH") == 0);
  }
  SECTION("one server: reconnecting would find the same STATE so it waits there") {
    Rig rig(1000, {"tcp://a:1883"}, "scada");
    rig.connect_to_wait();
    rig.host_state(R"({"online":false,"timestamp":7})");
    CHECK(rig.uplink.waiting_for_host());
    CHECK(rig.client.disconnects_with_will == 0);
    rig.host_state(R"({"online":true,"timestamp":8})");
    CHECK(rig.uplink.online());
  }
}

TEST_CASE("uplink: primary_host_wait bounds the wait then the next server is tried") {
  Rig rig(1000, {"tcp://a:1883", "tcp://b:1883"}, "scada", 5000);
  rig.connect_to_wait();
  // Wakes to say it waits (no retained STATE came), then for the deadline.
  CHECK(rig.uplink.poll() == rig.clock.steady_ms() + 1000);
  rig.clock.advance(1000);
  CHECK(rig.uplink.poll() == rig.clock.steady_ms() + 4000);
  rig.clock.advance(3999);
  rig.uplink.poll();
  CHECK(rig.uplink.waiting_for_host());
  rig.clock.advance(1);
  rig.uplink.poll();
  CHECK_FALSE(rig.uplink.waiting_for_host());
  CHECK(rig.client.disconnects_with_will == 1);
  CHECK(rig.uplink.current_server() == "tcp://b:1883");
  CHECK_THAT(rig.uplink.last_error(), Catch::Contains("did not say online within 5 s"));
  CHECK(rig.count("NBIRTH") == 0);
}

TEST_CASE("uplink: a malformed STATE is logged escaped and changes nothing") {
  LogCapture log;
  Rig rig(1000, {"tcp://a:1883", "tcp://b:1883"}, "scada");
  rig.connect_to_wait();
  for (const std::string& bad :
       {std::string("OFFLINE?"),
        std::string("{\"online\":false,\"pad\":\"") + std::string(5000, 'a') + "\"}",
        std::string("{\"timestamp\":5}"), std::string("\x1b[2J\n{\"online\":false}\x01\xff"),
        std::string("{\"online\":\"no\"}")})
    rig.host_state(bad);
  CHECK(rig.uplink.waiting_for_host());
  CHECK(rig.client.disconnects_with_will == 0);
  // The 1st, 2nd and 4th (the escape) are logged, with their count.
  CHECK(log.count("ignored a malformed STATE of primary host scada") == 3);
  CHECK(log.count("; 4 so far): expected") == 1);
  const std::string text = log.text();
  CHECK_THAT(text, Catch::Contains("\\x1b[2J\\n{"));
  CHECK(text.find('\x1b') == std::string::npos);
  CHECK(text.find('\x01') == std::string::npos);
  CHECK_THAT(text, Catch::Contains("(5025 bytes"));
  // A flood: 1005 in all give 10 lines (the 1st, 2nd, 4th ... 512th).
  for (int i = 0; i < 1000; ++i) rig.host_state("OFFLINE?");
  CHECK(log.count("ignored a malformed STATE of primary host scada") == 10);
  CHECK(log.count("; 512 so far): expected") == 1);
  rig.host_state(R"({"online":true,"timestamp":1})");
  CHECK(rig.uplink.online());
}

TEST_CASE("uplink: without a primary host the STATE topic is neither subscribed nor heeded") {
  Rig rig;
  rig.come_online();
  CHECK(rig.client.subscriptions ==
        std::vector<std::string>{"spBv1.0/school/NCMD/room", "spBv1.0/school/DCMD/room/+"});
  rig.host_state(R"({"online":false,"timestamp":9})");
  CHECK(rig.uplink.online());
}

// ---- Commands from hosts (issue 19): the session's part ----

TEST_CASE("uplink commands: Next Server ends the session with its NDEATH for the next server") {
  Rig rig(1000, {"tcp://a:1883", "tcp://b:1883"});
  commands::declare_node(rig.catalog, 10'000);
  rig.come_online();
  rig.sample();
  rig.uplink.poll();
  const uint64_t born = bdseq_of(rig.client.decoded("NBIRTH").at(0));
  LogCapture logs;
  const std::string topic = "spBv1.0/school/NCMD/room";
  // false asks for nothing.
  rig.uplink.handle({K::message,
                     {},
                     0,
                     topic,
                     harness::command("Node Control/Next Server", false).SerializeAsString()});
  CHECK(rig.uplink.online());
  CHECK(logs.count("Node Control/Next Server = false: nothing to do") == 1);
  // By the birth's alias, as a host that uses aliases sends it.
  const uint64_t alias = rig.catalog.at(*rig.catalog.find("Node Control/Next Server")).alias;
  rig.uplink.handle({K::message,
                     {},
                     0,
                     topic,
                     harness::command("", true, std::nullopt, alias).SerializeAsString()});
  CHECK_FALSE(rig.uplink.online());
  auto deaths = rig.client.decoded("NDEATH");
  REQUIRE(deaths.size() == 1);
  CHECK(bdseq_of(deaths[0]) == born);
  CHECK(rig.client.disconnects_with_will == 1);
  CHECK(logs.count("Node Control/Next Server = true: ending this session for tcp://b:1883") == 1);
  // The next attempt, after a backoff, goes to the next server with a new bdSeq.
  rig.clock.advance(60'000);
  rig.uplink.poll();
  REQUIRE(rig.client.connects.size() == 2);
  CHECK(rig.client.connects[1].server == "tcp://b:1883");
  sparkplug::Payload will;
  REQUIRE(will.ParseFromString(rig.client.connects[1].will_payload));
  CHECK(bdseq_of(will) == born + 1);
}

TEST_CASE("uplink commands: Scan Rate and Probe Now and Reload go to the daemon in order") {
  Rig rig;
  commands::declare_node(rig.catalog, 10'000);
  rig.come_online();
  rig.uplink.poll();
  sparkplug::Payload p = harness::command("Node Control/Scan Rate", int64_t{5000});
  *p.add_metrics() = harness::command("Node Control/Probe Now", std::string("*")).metrics(0);
  *p.add_metrics() = harness::command("Node Control/Reload", true).metrics(0);
  rig.uplink.handle({K::message, {}, 0, "spBv1.0/school/NCMD/room", p.SerializeAsString()});
  std::vector<commands::Action> got;
  rig.uplink.take_commands(got);
  REQUIRE(got.size() == 3);
  CHECK(got[0].kind == commands::Kind::scan_rate);
  CHECK(got[0].scan_rate_ms == 5000);
  CHECK(got[1].kind == commands::Kind::probe_now);
  CHECK(got[1].probe == "*");
  CHECK(got[2].kind == commands::Kind::reload);
  rig.uplink.take_commands(got);
  CHECK(got.empty());
  CHECK(rig.client.decoded("NBIRTH").size() == 1);  // none of them is a birth
}

TEST_CASE("uplink commands: Device Control/Rebirth gives that device's DBIRTH alone") {
  DeviceRig rig;
  const DeviceId a = rig.add("switch-6a"), b = rig.add("ap-6a"), c = rig.add("ups-6a");
  for (DeviceId d : {a, b, c}) {
    rig.metric(d, "X");
    commands::declare_device(rig.catalog, d);
  }
  rig.batcher.presence(a, true);
  rig.batcher.presence(b, true);  // c never answered: offline
  rig.come_online();
  rig.uplink.poll();
  LogCapture logs;
  auto ask = [&](const std::string& device, const harness::Payload& cmd) {
    rig.uplink.handle(
        {K::message, {}, 0, "spBv1.0/school/DCMD/room/" + device, cmd.SerializeAsString()});
    rig.uplink.poll();
  };
  const harness::Payload rebirth = harness::command("Device Control/Rebirth", true);
  ask("switch-6a", rebirth);
  // A burst within the second: the DBIRTH just published answers it.
  rig.clock.advance(300);
  ask("switch-6a", rebirth);
  // By its alias, for the other device.
  ask("ap-6a",
      harness::command("", true, std::nullopt,
                       rig.catalog.at(*rig.catalog.find(b, "Device Control/Rebirth")).alias));
  // An offline device is born when it answers; one the node does not have is refused.
  ask("ups-6a", rebirth);
  ask("printer-6a", rebirth);
  // The node's own Rebirth is not a device's command.
  ask("switch-6a", harness::rebirth_command());
  rig.sample();
  rig.uplink.poll();
  CHECK(rig.kinds() == std::vector<std::string>{"NBIRTH", "DBIRTH/switch-6a", "DBIRTH/ap-6a",
                                                "DBIRTH/switch-6a", "DBIRTH/ap-6a", "NDATA"});
  const auto second = rig.on("spBv1.0/school/DBIRTH/room/switch-6a").at(1);
  CHECK(second.seq() == 3);  // the node's seq goes on: no new NBIRTH
  CHECK(named(second, "Device Control/Rebirth"));
  CHECK(logs.count("published a new DBIRTH of device switch-6a (rebirth requested)") == 1);
  CHECK(logs.count("rebirth of device switch-6a requested again within 1 s") == 1);
  CHECK(logs.count("device ups-6a is offline; its DBIRTH comes when it answers") == 1);
  CHECK(logs.count("ignored a command on spBv1.0/school/DCMD/room/printer-6a: this node has no "
                   "device \"printer-6a\"") == 1);
  CHECK(logs.count("\"Node Control/Rebirth\" is not a command of device switch-6a") == 1);
  // A second later it is a new request.
  rig.clock.advance(1000);
  ask("switch-6a", rebirth);
  CHECK(rig.on("spBv1.0/school/DBIRTH/room/switch-6a").size() == 3);
}

TEST_CASE("uplink commands: a flood is dropped unread past the rate with one birth logged once") {
  Rig rig;
  rig.come_online();
  rig.uplink.poll();
  LogCapture logs;
  const std::string cmd = harness::rebirth_command().SerializeAsString();
  for (int i = 0; i < 5000; ++i) {
    rig.uplink.handle({K::message, {}, 0, "spBv1.0/school/NCMD/room", cmd});
    if (i % 100 == 0) rig.uplink.poll();
  }
  rig.uplink.poll();
  CHECK(rig.client.decoded("NBIRTH").size() == 2);
  CHECK(logs.count("ignoring commands: more than 5 a second") == 1);
  CHECK(logs.count("rebirth requested again within 1 s") == 19);  // the burst, less the first
  // While the flood goes on, one now and then is taken, and nothing more is said.
  for (int i = 0; i < 30; ++i) {
    rig.clock.advance(100);
    rig.uplink.handle({K::message, {}, 0, "spBv1.0/school/NCMD/room", cmd});
    rig.uplink.handle({K::message, {}, 0, "spBv1.0/school/NCMD/room", cmd});
    rig.uplink.poll();
  }
  CHECK(logs.count("ignoring commands") == 1);
  CHECK(logs.count("taking commands again") == 0);
  CHECK(rig.client.decoded("NBIRTH").size() <= 2 + 3);  // one a second at most
  // Once hosts slow down, commands are taken again, and the count is said once.
  const size_t births = rig.client.decoded("NBIRTH").size();
  rig.clock.advance(2000);
  rig.uplink.handle({K::message, {}, 0, "spBv1.0/school/NCMD/room", cmd});
  rig.uplink.poll();
  CHECK(logs.count("taking commands again; ") == 1);
  CHECK(rig.client.decoded("NBIRTH").size() == births + 1);
}

// ---- review (fix/review) ----

TEST_CASE("uplink review: back from a host outage the node delivers at once") {
  Rig rig(1000, {"tcp://a:1883"}, "scada");
  rig.connect_to_wait();
  rig.host_state(R"({"online":true,"timestamp":2000})");
  REQUIRE(rig.uplink.online());
  rig.sample();
  rig.uplink.poll();  // NDATA and a receipt, not yet acknowledged
  REQUIRE(rig.uplink.unconfirmed_since_ms() > 0);
  rig.host_state(R"({"online":false,"timestamp":2000})");
  REQUIRE_FALSE(rig.uplink.online());
  // The host is away for a minute; the broker is fine all along.
  rig.clock.advance(5000);
  rig.connect_to_wait();
  rig.clock.advance(60'000);
  rig.host_state(R"({"online":true,"timestamp":3000})");
  REQUIRE(rig.uplink.online());
  // Born again, nothing sent yet: the broker has not failed to confirm anything.
  CHECK(rig.uplink.delivering());
  CHECK(rig.uplink.unconfirmed_since_ms() == 0);
}

TEST_CASE("uplink review: walking servers where the host is offline warns once") {
  LogCapture log;
  Rig rig(1000, {"tcp://a:1883", "tcp://b:1883"}, "scada");
  for (int i = 0; i < 30; ++i) {
    rig.clock.advance(120'000);  // past any backoff
    rig.connect_to_wait();
    rig.host_state(R"({"online":false,"timestamp":7})");  // retained, after the SUBACK
    REQUIRE_FALSE(rig.uplink.waiting_for_host());
  }
  INFO(log.text());
  CHECK(log.count("W uplink:") <= 2);
}

TEST_CASE("uplink review: a retained STATE just after the last SUBACK is the subscription's") {
  SECTION("online: born at once, nothing said of a wait, the first batch live") {
    LogCapture log;
    Rig rig(1000, {"tcp://a:1883"}, "scada");
    rig.uplink.poll();
    rig.sample();  // taken after the CONNECT: live, as without a primary host
    rig.uplink.handle({K::connected, {}, rig.client.connects.back().attempt, {}, {}});
    rig.ack_subscriptions();
    rig.clock.advance(5);
    rig.host_state(R"({"online":true,"timestamp":5})");  // Mosquitto: after the SUBACK
    REQUIRE(rig.uplink.online());
    rig.uplink.poll();
    CHECK(log.count("waiting for primary host") == 0);
    CHECK(log.count("W uplink:") == 0);
    auto values = rig.counter_values();
    REQUIRE(values.size() == 1);
    CHECK(values[0] == std::pair<uint64_t, bool>{1, false});
  }
  SECTION("none: the wait is said once the grace has passed") {
    LogCapture log;
    Rig rig(1000, {"tcp://a:1883"}, "scada");
    rig.connect_to_wait();
    CHECK(rig.uplink.poll() <= rig.clock.steady_ms() + 1000);  // wakes to say it
    CHECK(log.count("waiting for primary host scada") == 0);
    rig.clock.advance(1000);
    rig.uplink.poll();
    CHECK(log.count("W uplink: connected to tcp://a:1883 (bdSeq 0), waiting for primary host "
                    "scada: it is not known here") == 1);
    rig.uplink.poll();
    CHECK(log.count("waiting for primary host scada") == 1);
  }
  SECTION("offline, one server: the wait is said at once, with the STATE") {
    LogCapture log;
    Rig rig(1000, {"tcp://a:1883"}, "scada");
    rig.connect_to_wait();
    rig.host_state(R"({"online":false,"timestamp":7})");
    CHECK(log.count("waiting for primary host scada: it is offline (STATE timestamp 7)") == 1);
    CHECK(log.count("still waiting") == 0);
  }
}

// Issue 21: a broker that refuses the QoS 1 subscription to commands (an ACL,
// or a cluster whose queue for it lives on a lost node) still gets the
// node's births and data; the subscription is asked again with the backoff,
// said once, and status shows it until the broker takes it.
TEST_CASE("uplink: a refused command subscription does not keep the node from publishing") {
  LogCapture log;
  Rig rig;
  rig.uplink.poll();
  rig.uplink.handle({K::connected, {}, rig.client.connects.back().attempt, {}, {}});
  const std::string ncmd = "spBv1.0/school/NCMD/room", dcmd = "spBv1.0/school/DCMD/room/+";
  mqtt::Event ok{K::subscribed, {}, 0, dcmd, {}};
  mqtt::Event refused{
      K::subscribe_failed, "broker refused the subscription (SUBACK 0x80)", 0, ncmd, {}};
  rig.uplink.handle(refused);
  rig.uplink.handle(ok);
  REQUIRE(rig.uplink.online());
  CHECK(rig.uplink.commands_unavailable());
  CHECK_THAT(rig.uplink.commands_problem(), Catch::Contains(ncmd) && Catch::Contains("0x80"));
  rig.uplink.poll();
  CHECK(rig.count("NBIRTH") == 1);
  rig.sample();
  rig.uplink.poll();
  CHECK(rig.count("NDATA") == 1);
  rig.sample();
  rig.uplink.poll();
  CHECK(rig.count("NDATA") == 2);

  // Asked again after retry_min (+-20 %), refused again: not said again.
  const size_t asked = rig.client.subscriptions.size();
  rig.clock.advance(700);
  rig.uplink.poll();
  CHECK(rig.client.subscriptions.size() == asked);
  rig.clock.advance(600);
  rig.uplink.poll();
  REQUIRE(rig.client.subscriptions.size() == asked + 1);
  CHECK(rig.client.subscriptions.back() == ncmd);
  CHECK(rig.client.subscription_qos.back() == 1);
  rig.uplink.handle(refused);
  CHECK(rig.uplink.commands_unavailable());
  // The backoff doubles: nothing asked within 1.5 s, then within 2.5 s.
  rig.clock.advance(1500);
  rig.uplink.poll();
  CHECK(rig.client.subscriptions.size() == asked + 1);
  rig.clock.advance(1000);
  rig.uplink.poll();
  REQUIRE(rig.client.subscriptions.size() == asked + 2);
  rig.uplink.handle({K::subscribed, {}, 0, ncmd, {}});
  CHECK_FALSE(rig.uplink.commands_unavailable());
  CHECK(rig.uplink.commands_problem().empty());
  CHECK(rig.uplink.online());
  CHECK(rig.count("NBIRTH") == 1);  // the session went on throughout
  const std::string text = log.text();
  size_t said = 0;
  for (size_t at = text.find("publishing without commands"); at != std::string::npos;
       at = text.find("publishing without commands", at + 1))
    ++said;
  CHECK(said == 1);
  CHECK_THAT(text, Catch::Contains("commands available again"));
}

// RabbitMQ 3.10 closes the connection on a QoS 1 SUBSCRIBE whose queue lives
// on a lost cluster node: the same server again, subscribing at QoS 0, is a
// session that births and takes commands.
TEST_CASE("uplink: a server that closes the connection on the QoS 1 subscription gets QoS 0") {
  LogCapture log;
  Rig rig(1000, {"tcp://a:1883", "tcp://b:1883"});
  rig.uplink.poll();
  rig.uplink.handle({K::connected, {}, rig.client.connects.back().attempt, {}, {}});
  CHECK(rig.client.subscription_qos == std::vector<int>{1, 1});
  rig.uplink.handle({K::connection_lost, "connection closed", 0, {}, {}});
  CHECK_FALSE(rig.uplink.online());
  CHECK_THAT(log.text(), Catch::Contains("closed the connection on the QoS 1 subscription"));
  rig.clock.advance(1300);  // retry_min, +-20 %
  rig.uplink.poll();
  REQUIRE(rig.client.connects.size() == 2);
  CHECK(rig.client.connects.back().server == "tcp://a:1883");
  rig.uplink.handle({K::connected, {}, rig.client.connects.back().attempt, {}, {}});
  CHECK(rig.client.subscription_qos == std::vector<int>{1, 1, 0, 0});
  rig.uplink.handle({K::subscribed, {}, 0, {}, {}});
  rig.uplink.handle({K::subscribed, {}, 0, {}, {}});
  REQUIRE(rig.uplink.online());
  CHECK_FALSE(rig.uplink.commands_unavailable());
  CHECK_THAT(rig.uplink.commands_problem(), Catch::Contains("QoS 0"));
  rig.uplink.poll();
  CHECK(rig.count("NBIRTH") == 1);
  // When that session ends, the next one there asks for QoS 1 again.
  rig.uplink.handle({K::connection_lost, "connection closed", 0, {}, {}});
  rig.clock.advance(1300);
  rig.uplink.poll();
  rig.uplink.handle({K::connected, {}, rig.client.connects.back().attempt, {}, {}});
  CHECK(rig.client.subscription_qos.back() == 1);
}

// A broker of MQTT 3.1.1 only: the same server again at once (the client
// speaks 3.1.1 to it from then on), not the next server after a backoff.
TEST_CASE("uplink: a server that refused MQTT 5 is tried again at once in MQTT 3.1.1") {
  LogCapture log;
  Rig rig(1000, {"tcp://a:1883", "tcp://b:1883"});
  rig.uplink.poll();
  REQUIRE(rig.client.connects.size() == 1);
  CHECK(rig.client.connects[0].protocol == mqtt::Protocol::automatic);
  mqtt::Event refused{K::connect_failed,
                      "the connection was closed on an MQTT 5 CONNECT",
                      rig.client.connects.back().attempt,
                      {},
                      {}};
  refused.retry_v311 = true;
  rig.uplink.handle(refused);
  rig.uplink.poll();  // no time passed
  REQUIRE(rig.client.connects.size() == 2);
  CHECK(rig.client.connects[1].server == "tcp://a:1883");
  CHECK_THAT(log.text(), Catch::Contains("in MQTT 3.1.1 now"));
  CHECK(rig.uplink.failed_attempts() == 0);
}

// RabbitMQ without mqtt.sparkplug = true turns spBv1.0/ into spBv1/0/: said
// once, with the broker setting that keeps the topic, and escaped.
TEST_CASE("uplink: a message on a mangled Sparkplug topic is said once with the broker setting") {
  LogCapture log;
  Rig rig;
  rig.come_online();
  rig.uplink.handle({K::message, {}, 0, "spBv1/0/school/NCMD/room\x1b[2J", "x"});
  rig.uplink.handle({K::message, {}, 0, "spBv1/0/school/NCMD/room", "x"});
  const std::string text = log.text();
  CHECK_THAT(text, Catch::Contains("mqtt.sparkplug = true"));
  CHECK(text.find("mqtt.sparkplug") == text.rfind("mqtt.sparkplug"));
  CHECK(text.find('\x1b') == std::string::npos);
}

// Issue 22: the uplink's options come from the config in one place, and a
// reload compares two of them whole: every session key counts, where the
// password came from does not.
TEST_CASE("uplink options: one mapping from the config and reload compares them whole") {
  config::Config base;
  base.identity = {"school", "room"};
  base.broker.servers = {"tcp://a:1883"};
  base.broker.client_id = "school-room";
  base.state.dir = "/var/lib/classroom-agent";
  const UplinkOptions uo = uplink_options(base);
  CHECK(uo.group == "school");
  CHECK(uo.bdseq_path == "/var/lib/classroom-agent/bdseq");
  CHECK(uo.protocol == mqtt::Protocol::automatic);
  CHECK(uplink_options(base) == uo);

  config::Config same = base;
  same.broker.password_file = "/etc/classroom-agent/password";  // the same password
  CHECK(uplink_options(same) == uo);

  std::vector<std::function<void(config::Config&)>> changes = {
      [](config::Config& c) { c.identity.node = "room-2"; },
      [](config::Config& c) { c.broker.servers.push_back("tcp://b:1883"); },
      [](config::Config& c) { c.broker.password = "secret"; },
      [](config::Config& c) { c.broker.tls.verify = false; },
      [](config::Config& c) { c.broker.keepalive = std::chrono::seconds(60); },
      [](config::Config& c) { c.broker.retry_max = std::chrono::seconds(10); },
      [](config::Config& c) { c.broker.max_packet_size = 1 << 20; },
      [](config::Config& c) { c.broker.primary_host = "scada"; },
      [](config::Config& c) { c.broker.primary_host_wait = std::chrono::seconds(30); },
      [](config::Config& c) { c.broker.protocol = config::Broker::Protocol::v311; },
      [](config::Config& c) { c.spool.replay_rate = 10; },
  };
  for (size_t i = 0; i < changes.size(); ++i) {
    config::Config changed = base;
    changes[i](changed);
    INFO("change " << i);
    CHECK_FALSE(uplink_options(changed) == uo);
  }
  config::Config v5 = base;
  v5.broker.protocol = config::Broker::Protocol::v5;
  CHECK(uplink_options(v5).protocol == mqtt::Protocol::v5);
}
