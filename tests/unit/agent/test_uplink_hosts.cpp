// The session and host applications: Primary Host (STATE) and commands.
#include <catch2/catch.hpp>

#include "../../support/commands.hpp"
#include "../../support/uplink_rig.hpp"
#include "../log_capture.hpp"

using namespace classroom;
using namespace classroom::test_support;
using K = mqtt::Event::Kind;

// ---- Primary Host ----

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

// ---- Commands from hosts: the session's part ----

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

// ---- Primary Host: returning hosts, server walks, STATE timing ----

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
