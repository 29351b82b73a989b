// The Sparkplug session of the node: birth, data, receipts, replay, backoff,
// and what the broker will not take.
#include <catch2/catch.hpp>
#include <functional>

#include "../../support/commands.hpp"
#include "../../support/uplink_rig.hpp"
#include "../log_capture.hpp"
#include "config.hpp"

using namespace classroom;
using namespace classroom::test_support;
using K = mqtt::Event::Kind;

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

TEST_CASE("uplink: batches sent and awaiting their receipt are not waiting") {
  Rig rig;
  constexpr int64_t kLate = 15'000;
  rig.sample();  // taken offline: backlog
  CHECK(rig.uplink.waiting(kLate) == 1);
  rig.come_online();
  rig.sample();
  rig.sample();
  CHECK(rig.uplink.waiting(kLate) == 3);  // online, nothing sent yet
  rig.clock.advance(1000);                // the replay's rate lets the backlog's one go
  rig.uplink.poll();
  CHECK(rig.spool.stats().pending == 3);
  CHECK(rig.uplink.waiting(kLate) == 0);  // one replayed, two live: all on their way
  rig.ack_receipts();
  CHECK(rig.spool.stats().pending == 0);
  CHECK(rig.uplink.waiting(kLate) == 0);
  rig.sample();
  CHECK(rig.uplink.waiting(kLate) == 1);
  rig.uplink.poll();
  CHECK(rig.uplink.waiting(kLate) == 0);
  // A broker that takes data and acknowledges nothing: once confirmations
  // are late, what is sent waits again (before the receipt ends the session).
  rig.clock.advance(kLate + 1);
  CHECK(rig.uplink.online());
  CHECK(rig.uplink.waiting(kLate) == 1);
  // The connection lost before the receipt: the batch waits.
  rig.uplink.handle({K::connection_lost, "keepalive timeout", 0, {}, {}});
  CHECK(rig.spool.stats().pending == 1);
  CHECK(rig.uplink.waiting(kLate) == 1);
}

TEST_CASE("uplink: waiting counts records so dropped ones and the replay's gaps are not") {
  Rig rig(/*replay_rate=*/1);
  constexpr int64_t kLate = 15'000;
  for (int i = 0; i < 5; ++i) rig.sample();  // a backlog of 5, ids 1-5
  rig.come_online();
  rig.sample();  // live, id 6
  rig.clock.advance(1000);
  rig.uplink.poll();  // the live one and the backlog's first (1 a second)
  CHECK(rig.spool.stats().pending == 6);
  CHECK(rig.uplink.waiting(kLate) == 4);  // ids 2-5
  // Live data confirmed while the backlog is not: the spool keeps all (one
  // committed position), but the confirmed ones are not waiting.
  rig.ack_receipts();
  CHECK(rig.spool.stats().pending == 5);
  CHECK(rig.uplink.waiting(kLate) == 4);
  // The oldest records dropped (a full spool): neither pending nor waiting.
  rig.spool.commit(3);
  CHECK(rig.spool.stats().pending == 3);  // ids 4, 5 and the live 6
  CHECK(rig.uplink.waiting(kLate) == 2);
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

// A broker that refuses the QoS 1 subscription to commands (an ACL,
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

// The uplink's options come from the config in one place, and a
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
