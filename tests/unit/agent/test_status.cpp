// `classroom-agent status`: what the snapshot says in text and
// JSON, and the server filled from the real uplink, spool and scheduler,
// asked over its socket by the real client.
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <thread>

#include "../../support/fake_mqtt_client.hpp"
#include "../log_capture.hpp"
#include "../temp_dir.hpp"
#include "devices/device_runner.hpp"
#include "scheduler/scheduler.hpp"
#include "session/uplink.hpp"
#include "status/client.hpp"
#include "status/status_server.hpp"

using namespace classroom;
using namespace classroom::status;

namespace {

constexpr int64_t kNow = 1'764'400'000'000;  // 2025-11-29T07:06:40Z

Snapshot degraded_snapshot() {
  Snapshot s;
  s.as_of_ms = kNow;
  s.group = "school-a";
  s.node = "room-6a";
  s.version = "0.9.0";
  s.pid = 4242;
  s.started_ms = kNow - (3 * 3600 + 12 * 60) * 1000;
  s.broker = BrokerState::unreachable;
  s.server = "tcp://10.0.0.5:1883";
  s.broker_since_ms = kNow - 300'000;
  s.broker_error = "Connection refused";
  s.failed_attempts = 7;
  s.next_attempt_ms = kNow + 11'500;
  s.next_server = "tcp://10.0.0.6:1883";
  s.last_publish_ms = kNow - 301'000;
  s.last_confirmed_ms = kNow - 302'000;
  s.pending = 112;
  s.spool_bytes = 19 * 1024 + 5;
  s.oldest_age_s = 300;
  s.dropped = 3;
  s.last_drop_ms = kNow - 60'000;
  SourceStatus ok{"system", 10'000, 0, kNow - 2000, 0, "", ""};
  SourceStatus bad{"lan", 30'000, 4, kNow - 360'000, kNow - 240'000, "cannot read /proc/net/arp",
                   ""};
  s.sources = {ok, bad};
  s.devices = {
      DeviceStatus{"switch-6a", "10.0.6.2", true, true, ""},
      DeviceStatus{"ap-6a", "10.0.6.3", true, false, "no answer (wrong community or host down?)"}};
  ProbeStatus gw;
  gw.name = "Gateway";
  gw.kind = "icmp";
  gw.last_run_ms = kNow - 20'000;
  gw.ok = true;
  gw.has_value = true;
  gw.value = 12.34;
  gw.measure = "RTT Avg";
  gw.unit = "ms";
  ProbeStatus portal;
  portal.name = "Portal";
  portal.kind = "http";
  s.probes = {gw, portal};
  s.clock = ClockState::unsynchronized;
  return s;
}

}  // namespace

TEST_CASE("status: the text says what is wrong in plain words") {
  const Snapshot s = degraded_snapshot();
  const std::string text = render_text(s, kNow);
  INFO(text);
  CHECK_THAT(text, Catch::StartsWith("classroom-agent 0.9.0, school-a/room-6a (pid 4242), up "
                                     "3 h 12 min\n"));
  CHECK_THAT(text, Catch::Contains("Status    DEGRADED: broker unreachable; source lan failing; "
                                   "device ap-6a offline; spool dropping batches\n"));
  CHECK_THAT(text, Catch::Contains("Broker    UNREACHABLE since 2025-11-29T07:01:40Z (5 min): "
                                   "tcp://10.0.0.5:1883: Connection refused\n"));
  CHECK_THAT(text, Catch::Contains("          7 failed attempts; next attempt in 12 s to "
                                   "tcp://10.0.0.6:1883\n"));
  CHECK_THAT(text, Catch::Contains("Delivery  last publish 5 min ago, last confirmed by the "
                                   "broker 5 min ago\n"));
  CHECK_THAT(text, Catch::Contains("Spool     112 batches waiting, 19 KiB on disk, oldest 5 min, 3 "
                                   "dropped (last 60 s ago)\n"));
  CHECK_THAT(text, Catch::Contains("Sources   system  ok, last run 2 s ago\n"));
  CHECK_THAT(text, Catch::Contains("          lan     FAILING since 2025-11-29T07:02:40Z (4 runs): "
                                   "cannot read /proc/net/arp; last success 6 min ago\n"));
  CHECK_THAT(text, Catch::Contains("Devices   1 online, 1 offline\n"));
  CHECK_THAT(text, Catch::Contains("          ap-6a at 10.0.6.3: OFFLINE: no answer (wrong "
                                   "community or host down?)\n"));
  CHECK_THAT(text, Catch::Contains("Probes    Gateway (icmp): ok, RTT Avg 12.3 ms, 20 s ago\n"));
  CHECK_THAT(text, Catch::Contains("          Portal (http): no result yet\n"));
  CHECK_THAT(text, Catch::EndsWith("Clock     NOT synchronized (timestamps may be wrong; check "
                                   "NTP)\n"));
}

TEST_CASE("status: a failed probe says why in text and JSON") {
  Snapshot s = degraded_snapshot();
  ProbeStatus& portal = s.probes[1];
  portal.last_run_ms = kNow - 5'000;
  portal.ok = false;
  // As the probe worded it for the log: escaped there already, so a
  // backslash is shown as it is, and a raw control byte is still escaped.
  portal.error = "HTTP 503 from http://portal.test/ \\x1b\x01";
  const std::string text = render_text(s, kNow);
  INFO(text);
  CHECK_THAT(text, Catch::Contains("          Portal (http): FAILED (HTTP 503 from "
                                   "http://portal.test/ \\x1b\\x01), 5 s ago\n"));
  const std::string json = render_json(s, kNow);
  INFO(json);
  CHECK_THAT(json, Catch::Contains("\"state\":\"failed\""));
  CHECK_THAT(json, Catch::Contains("\"error\":\"HTTP 503 from http://portal.test/ "));
  // A probe that succeeded has no error.
  CHECK_THAT(json, Catch::Contains("\"unit\":\"ms\",\"error\":null}"));
}

TEST_CASE("status: all well, online") {
  Snapshot s = degraded_snapshot();
  s.broker = BrokerState::online;
  s.broker_since_ms = kNow - 90'000;
  s.bdseq = 4;
  s.sources.resize(1);
  s.devices.resize(1);
  s.last_drop_ms = kNow - kRecentMs;  // long enough ago
  s.clock = ClockState::synchronized;
  // Two batches just published, their receipt still to come: on their way.
  s.pending = 2;
  s.sent_unconfirmed = 2;
  s.oldest_age_s = 0;
  CHECK(problems(s, kNow).empty());
  const std::string text = render_text(s, kNow);
  INFO(text);
  CHECK_THAT(text, Catch::Contains("Status    OK\n"));
  CHECK_THAT(text, Catch::Contains("Broker    online to tcp://10.0.0.5:1883 since "
                                   "2025-11-29T07:05:10Z (90 s), bdSeq 4\n"));
  CHECK_THAT(text, Catch::Contains("Clock     synchronized\n"));
  CHECK_THAT(text, Catch::Contains(
                       "Spool     0 batches waiting (2 sent, not yet confirmed), 19 KiB on disk, "
                       "oldest 0 s, 3 dropped"));
  const std::string json = render_json(s, kNow);
  CHECK_THAT(json, Catch::StartsWith("{\"state\":\"ok\",\"problems\":[],"));
  CHECK_THAT(json, Catch::Contains("\"pending\":2,\"sent_unconfirmed\":2,"));
}

TEST_CASE("status: never OK while nothing reaches the broker, or the loop stands still") {
  Snapshot s = degraded_snapshot();
  s.broker = BrokerState::online;
  s.broker_since_ms = kNow - 90'000;
  s.sources.resize(1);  // system, every 10 s
  s.devices.resize(1);
  s.last_drop_ms = 0;
  REQUIRE(problems(s, kNow).empty());

  // Published, not confirmed: fine for a round trip, a problem past 15 s.
  s.unconfirmed_since_ms = kNow - kUnconfirmedMs;
  CHECK(problems(s, kNow).empty());
  s.unconfirmed_since_ms = kNow - 40'000;
  CHECK(problems(s, kNow) == std::vector<std::string>{"nothing confirmed by the broker for 40 s"});
  CHECK_THAT(render_text(s, kNow), Catch::Contains("; NOTHING CONFIRMED for 40 s\n"));
  s.unconfirmed_since_ms = 0;

  // A snapshot the loop has not refreshed for 3 intervals of its fastest source.
  CHECK(problems(s, kNow + 30'000).empty());
  CHECK(problems(s, kNow + 31'000) ==
        std::vector<std::string>{"the agent's loop has not run for 31 s"});
  s.sources[0].interval_ms = 500;  // or 10 s, whichever is longer
  CHECK(problems(s, kNow + 10'000).empty());
  CHECK(problems(s, kNow + 11'000) ==
        std::vector<std::string>{"the agent's loop has not run for 11 s"});
  CHECK_THAT(render_json(s, kNow + 11'000),
             Catch::StartsWith("{\"state\":\"degraded\",\"problems\":[\"the agent's loop has "
                               "not run for 11 s\"],"));

  // Births over the broker's packet limit: named, with the size, the limit and what to do.
  s.packet_limit = 100'000;
  s.packet_limit_source = "its Maximum Packet Size";
  s.devices[0].birth_refused_size = 131'072;
  s.node_birth_refused_size = 100'500;
  s.refused_batches = 12;
  s.refused_data = 10;
  s.last_refused_ms = kNow - 5000;
  const std::string refused =
      "12 batches not sent: 10 over the broker's limit of 100000 bytes (its Maximum Packet Size), "
      "2 of a device whose birth is over it; publish fewer metrics at once (fewer sources, "
      "probes, interfaces or profiles), or raise the broker's limit";
  CHECK(problems(s, kNow) ==
        std::vector<std::string>{"node not published: its NBIRTH is too big",
                                 "device switch-6a not published: its DBIRTH is too big", refused});
  const std::string text = render_text(s, kNow);
  INFO(text);
  CHECK_THAT(text, Catch::Contains("; 12 BATCHES NOT SENT: 10 over the broker's limit of 100000 "
                                   "bytes (its Maximum Packet Size), 2 of a device whose birth is "
                                   "over it; publish fewer metrics at once (fewer sources, probes, "
                                   "interfaces or profiles), or raise the broker's limit (last 5 s "
                                   "ago)\n"));
  CHECK_THAT(text, Catch::Contains("\n          takes packets of up to 100000 bytes (its Maximum "
                                   "Packet Size)\n"));
  CHECK_THAT(text, Catch::Contains("\nBirth     node room-6a NOT PUBLISHED: its birth is 100500 "
                                   "bytes, over the 100000 bytes the broker takes (its Maximum "
                                   "Packet Size): publish fewer metrics (fewer sources, probes or "
                                   "interfaces)\n"));
  CHECK_THAT(text, Catch::Contains("          switch-6a at 10.0.6.2: online; device NOT "
                                   "PUBLISHED: its birth is 131072 bytes, over the 100000 bytes "
                                   "the broker takes (its Maximum Packet Size): publish fewer "
                                   "interfaces (its include/exclude) or fewer profiles\n"));
  const std::string json = render_json(s, kNow);
  CHECK_THAT(json, Catch::Contains("\"packet_limit\":100000,\"node_birth_refused_size\":100500,"
                                   "\"packet_limit_source\":\"its Maximum Packet Size\","
                                   "\"refused_batches\":12,\"refused_data\":10,\"last_refused\":"
                                   "\"2025-11-29T07:06:35Z\","));
  CHECK_THAT(json, Catch::Contains("\"" + refused + "\""));

  // Only data of a device not born; then only data over the limit, with a
  // limit of the agent's own (a broker that states none).
  s.devices[0].birth_refused_size = 0;
  s.node_birth_refused_size = 0;
  s.refused_data = 0;
  CHECK(problems(s, kNow) ==
        std::vector<std::string>{
            "12 batches not sent: of a device whose birth is over the broker's limit of 100000 "
            "bytes (its Maximum Packet Size); publish fewer of its interfaces (include/exclude) "
            "or profiles, or raise the broker's limit"});
  s.refused_batches = 1;
  s.refused_data = 1;
  s.packet_limit = 262'144;
  s.packet_limit_source = "the broker states no limit: [broker] max_packet_size";
  CHECK(problems(s, kNow) ==
        std::vector<std::string>{
            "1 batch not sent: over the broker's limit of 262144 bytes (the broker states no "
            "limit: [broker] max_packet_size); publish fewer metrics at once (fewer sources, "
            "probes, interfaces or profiles), or raise [broker] max_packet_size if the broker "
            "takes more"});
  // Long ago: no longer a problem, still said on the Delivery line.
  s.last_refused_ms = kNow - kRecentMs;
  CHECK(problems(s, kNow).empty());
  CHECK_THAT(render_text(s, kNow), Catch::Contains("; 1 BATCH NOT SENT: over the broker's limit"));
}

TEST_CASE("status: waiting for the primary host is never OK and says since when") {
  Snapshot s = degraded_snapshot();
  s.sources.resize(1);
  s.devices.resize(1);
  s.last_drop_ms = 0;
  s.broker = BrokerState::online;
  s.primary_host = "district-scada";
  REQUIRE(problems(s, kNow).empty());
  CHECK_THAT(render_json(s, kNow),
             Catch::Contains("\"primary_host\":{\"id\":\"district-scada\",\"online\":true,"
                             "\"offline_since\":null,"));

  s.broker = BrokerState::waiting_host;
  s.broker_since_ms = kNow - 130'000;
  s.host_offline_since_ms = kNow - 130'000;
  s.bdseq = 7;
  s.host_state = "offline (STATE timestamp 1764390000000)";
  s.host_connected = true;
  CHECK(problems(s, kNow) == std::vector<std::string>{"waiting for primary host district-scada"});
  const std::string text = render_text(s, kNow);
  INFO(text);
  CHECK_THAT(text,
             Catch::Contains("Status    DEGRADED: waiting for primary host district-scada\n"));
  CHECK_THAT(text, Catch::Contains("Broker    connected to tcp://10.0.0.5:1883, bdSeq 7; WAITING "
                                   "FOR PRIMARY HOST district-scada: offline since "
                                   "2025-11-29T07:04:30Z (2 min), offline (STATE timestamp "
                                   "1764390000000)\n"
                                   "          no birth and no data until its STATE says online; "
                                   "samples wait in the spool\n"));
  const std::string json = render_json(s, kNow);
  CHECK_THAT(json, Catch::StartsWith("{\"state\":\"degraded\",\"problems\":[\"waiting for "
                                     "primary host district-scada\"],"));
  CHECK_THAT(json, Catch::Contains("\"broker\":{\"state\":\"waiting for primary host\","));
  CHECK_THAT(json, Catch::Contains("\"error\":null,"));  // the last one is not the story now
  CHECK_THAT(json, Catch::Contains("\"primary_host\":{\"id\":\"district-scada\",\"online\":"
                                   "false,\"offline_since\":\"2025-11-29T07:04:30Z\",\"state\":"
                                   "\"offline (STATE timestamp 1764390000000)\"}"));

  // Between servers, after leaving one for the host: still the host's wait,
  // not a broker unreachable.
  s.host_connected = false;
  s.broker_error = "primary host district-scada is offline (STATE timestamp 1764390000000)";
  CHECK(problems(s, kNow) == std::vector<std::string>{"waiting for primary host district-scada"});
  const std::string between = render_text(s, kNow);
  INFO(between);
  CHECK_THAT(between, Catch::Contains("Broker    WAITING FOR PRIMARY HOST district-scada: offline "
                                      "since 2025-11-29T07:04:30Z (2 min); left "
                                      "tcp://10.0.0.5:1883: primary host district-scada is "
                                      "offline (STATE timestamp 1764390000000); next attempt in "
                                      "12 s to tcp://10.0.0.6:1883\n"));
}

TEST_CASE("status: the JSON carries the same facts") {
  const std::string json = render_json(degraded_snapshot(), kNow);
  INFO(json);
  CHECK_THAT(json, Catch::StartsWith(
                       "{\"state\":\"degraded\",\"problems\":[\"broker unreachable\",\"source lan "
                       "failing\",\"device ap-6a offline\",\"spool dropping batches\"],"));
  CHECK_THAT(json, Catch::Contains("\"broker\":{\"state\":\"unreachable\",\"server\":\"tcp://"
                                   "10.0.0.5:1883\",\"since\":\"2025-11-29T07:01:40Z\",\"error\":"
                                   "\"Connection refused\",\"failed_attempts\":7,"
                                   "\"next_attempt_in_s\":12,\"next_server\":\"tcp://10.0.0.6:"
                                   "1883\",\"bdseq\":0,\"bdseq_error\":null,"
                                   "\"commands_available\":true,\"commands_problem\":null,"
                                   "\"primary_host\":null}"));
  CHECK_THAT(json,
             Catch::Contains("\"spool\":{\"open\":true,\"pending\":112,\"sent_unconfirmed\":0,"
                             "\"bytes\":19461,"
                             "\"oldest_age_s\":300,\"dropped\":3,"));
  CHECK_THAT(json, Catch::Contains("{\"name\":\"lan\",\"state\":\"failing\",\"interval_s\":30,"
                                   "\"last_success\":\"2025-11-29T07:00:40Z\","
                                   "\"last_success_age_s\":360,\"failing_since\":"
                                   "\"2025-11-29T07:02:40Z\",\"failures\":4,\"error\":\"cannot "
                                   "read /proc/net/arp\",\"warning\":null}"));
  CHECK_THAT(json, Catch::Contains("{\"name\":\"Gateway\",\"kind\":\"icmp\",\"state\":\"ok\","));
  CHECK_THAT(json, Catch::Contains("\"clock_synchronized\":false}"));
  CHECK_THAT(json, Catch::EndsWith("}\n"));
}

TEST_CASE("status: text from outside is escaped in both forms") {
  Snapshot s = degraded_snapshot();
  s.broker_error = "refused\n2026-01-01T00:00:00Z E forged \"quoted\" \x1b[31m back\\slash";
  const std::string text = render_text(s, kNow);
  CHECK(text.find("forged") != std::string::npos);
  CHECK(text.find('\x1b') == std::string::npos);
  // An error is shown as the log shows it: controls escaped, a backslash as it is.
  CHECK_THAT(text, Catch::Contains("refused\\n2026-01-01T00:00:00Z E forged \"quoted\" "
                                   "\\x1b[31m back\\slash\n"));
  const std::string json = render_json(s, kNow);
  CHECK_THAT(json, Catch::Contains("\"error\":\"refused\\\\n2026-01-01T00:00:00Z E forged "
                                   "\\\"quoted\\\" \\\\x1b[31m back\\\\slash\""));
  CHECK(json.find('\n') == json.size() - 1);
}

TEST_CASE("status: an error escaped for the log is not escaped again, in text nor JSON") {
  Snapshot s = degraded_snapshot();
  // As a driver words it for the log: the byte 0xff already escaped.
  s.sources[1].error = "bad byte \\xff in \"arp\"";
  s.devices[1].problem = "answer with \\x00 inside";
  const std::string text = render_text(s, kNow);
  CHECK_THAT(text, Catch::Contains("): bad byte \\xff in \"arp\""));
  CHECK_THAT(text, Catch::Contains("OFFLINE: answer with \\x00 inside"));
  // JSON: one backslash, encoded as two; the problem phrases are not escaped twice either.
  const std::string json = render_json(s, kNow);
  CHECK_THAT(json, Catch::Contains("\"error\":\"bad byte \\\\xff in \\\"arp\\\"\""));
  CHECK_THAT(json, Catch::Contains("\"problem\":\"answer with \\\\x00 inside\""));
}

TEST_CASE("status: a name with a backslash appears once in the JSON's problems") {
  Snapshot s = degraded_snapshot();
  s.sources[1].name = "la\\n";
  const std::string json = render_json(s, kNow);
  // The name escaped once (\\ for its backslash), then encoded for JSON.
  CHECK_THAT(json, Catch::Contains("\"source la\\\\\\\\n failing\""));
}

namespace {

struct StatusRig {
  TempDir dir;
  FakeClock clock{kNow};
  test_support::FakeClient client;
  Catalog catalog;
  Spool spool;
  Uplink uplink;
  Scheduler scheduler{clock};
  std::vector<config::SnmpDevice> no_devices;
  DeviceRunner devices{no_devices, catalog, [] {}};
  config::Config cfg;
  bool lan_ok = false;

  StatusRig()
      : spool(SpoolOptions{dir / "spool", 1 << 20, 0, false, 1000}, clock),
        uplink(options(), client, catalog, spool, clock) {
    REQUIRE(spool.open().empty());
    cfg.identity = {"school", "room"};
    cfg.status.socket = dir / "status.sock";
    scheduler.add("system", 1000, [](int64_t) { return drivers::CollectResult{}; });
    scheduler.add("lan", 1000, [this](int64_t) {
      drivers::CollectResult r;
      r.ok = lan_ok;
      if (!lan_ok) r.error = "cannot read /fixtures/broken/net/arp";
      return r;
    });
  }
  UplinkOptions options() {
    UplinkOptions o;
    o.group = "school";
    o.node = "room";
    o.servers = {"tcp://a:1883", "tcp://b:1883"};
    o.client_id = "school-room";
    o.receipt_topic = "classroom-agent/school/room/receipt";
    o.bdseq_path = dir / "bdseq";
    return o;
  }
  Inputs inputs() { return Inputs{uplink, spool, scheduler, devices, catalog, 0, std::nullopt}; }
  std::pair<int, std::string> ask_text() {
    std::ostringstream out, err;
    const int rc = status::ask(cfg.status.socket, false, out, err);
    return {rc, out.str() + err.str()};
  }
};

}  // namespace

TEST_CASE("status server: filled from the uplink, spool and scheduler, asked over its socket") {
  LogCapture logs;
  StatusRig rig;
  Server server(rig.cfg, rig.clock);
  REQUIRE(server.serving());
  struct stat st {};
  REQUIRE(::stat(rig.cfg.status.socket.c_str(), &st) == 0);
  CHECK(S_ISSOCK(st.st_mode));
  CHECK((st.st_mode & 07777) == 0600);  // no group named: the agent's user and root only

  // Before the loop's first turn: starting.
  auto [rc0, text0] = rig.ask_text();
  CHECK(rc0 == kExitDegraded);
  CHECK_THAT(text0, Catch::Contains("starting"));

  // The first attempt fails: refused.
  rig.uplink.poll();
  rig.uplink.handle({mqtt::Event::Kind::connect_failed,
                     "Connection refused",
                     rig.client.connects.back().attempt,
                     {},
                     {}});
  rig.scheduler.run_due();
  server.update(rig.inputs());
  const Snapshot& s = server.filled();
  CHECK(s.broker == BrokerState::unreachable);
  CHECK(s.server == "tcp://a:1883");
  CHECK(s.next_server == "tcp://b:1883");
  CHECK(s.broker_error == "Connection refused");
  CHECK(s.broker_since_ms == kNow);
  CHECK(s.next_attempt_ms > kNow);
  REQUIRE(s.sources.size() == 2);
  CHECK(s.sources[1].name == "lan");
  CHECK(s.sources[1].failures == 1);
  CHECK(s.sources[1].error == "cannot read /fixtures/broken/net/arp");
  CHECK(s.sources[0].last_success_ms == kNow);

  auto [rc1, text1] = rig.ask_text();
  INFO(text1);
  CHECK(rc1 == kExitDegraded);
  CHECK_THAT(text1, Catch::Contains("DEGRADED: broker unreachable; source lan failing"));
  CHECK_THAT(text1, Catch::Contains("UNREACHABLE since 2025-11-29T07:06:40Z"));
  CHECK_THAT(text1, Catch::Contains("Connection refused"));
  CHECK_THAT(text1, Catch::Contains("cannot read /fixtures/broken/net/arp"));

  // Online, the source recovered: all well.
  rig.clock.advance(5000);
  rig.uplink.poll();
  rig.uplink.handle({mqtt::Event::Kind::connected, {}, rig.client.connects.back().attempt, {}, {}});
  for (int ack = 0; ack < 2; ++ack)  // SUBACKs of NCMD and DCMD
    rig.uplink.handle({mqtt::Event::Kind::subscribed, {}, 0, {}, {}});
  rig.lan_ok = true;
  rig.scheduler.run_due();
  server.update(rig.inputs());
  auto [rc2, text2] = rig.ask_text();
  INFO(text2);
  CHECK(rc2 == kExitOk);
  CHECK_THAT(text2, Catch::Contains("Status    OK"));
  CHECK_THAT(text2, Catch::Contains("Broker    online to tcp://b:1883 since 2025-11-29T07:06:45Z"));

  // JSON through the same socket.
  std::ostringstream out, err;
  CHECK(status::ask(rig.cfg.status.socket, true, out, err) == kExitOk);
  CHECK_THAT(out.str(), Catch::StartsWith("{\"state\":\"ok\","));
}

TEST_CASE("status server: sources and clock come from typed task kinds and the clock reading") {
  LogCapture logs;
  StatusRig rig;
  // A device poll is known by its kind, whatever its name says; the agent's
  // own metrics are a source.
  rig.scheduler.add(
      "switch-6a", 1000, [](int64_t) { return drivers::CollectResult{}; }, Scheduler::Kind::device);
  rig.scheduler.add(
      "device agent", 1000, [](int64_t) { return drivers::CollectResult{}; },
      Scheduler::Kind::self);
  rig.scheduler.run_due();
  Inputs in = rig.inputs();

  Server server(rig.cfg, rig.clock);
  REQUIRE(server.serving());
  server.update(in);
  const Snapshot& s = server.filled();
  REQUIRE(s.sources.size() == 3);
  CHECK(s.sources[0].name == "system");
  CHECK(s.sources[1].name == "lan");
  CHECK(s.sources[2].name == "device agent");
  CHECK(s.clock == ClockState::unknown);

  in.clock_synchronized = false;
  rig.clock.advance(Server::kFillEveryMs);
  server.update(in);
  CHECK(s.clock == ClockState::unsynchronized);

  in.clock_synchronized = true;
  rig.clock.advance(Server::kFillEveryMs);
  server.update(in);
  CHECK(s.clock == ClockState::synchronized);
}

TEST_CASE(
    "status server: the loop hands over the snapshot without waiting, at most once a second") {
  LogCapture logs;
  StatusRig rig;
  Server server(rig.cfg, rig.clock);
  REQUIRE(server.serving());
  rig.scheduler.run_due();
  server.update(rig.inputs());
  const int64_t first = server.filled().as_of_ms;
  // Nothing changed and under a second: not filled again.
  rig.clock.advance(500);
  server.update(rig.inputs());
  CHECK(server.filled().as_of_ms == first);
  // The uplink's state changed: filled at once.
  rig.uplink.poll();
  rig.uplink.handle({mqtt::Event::Kind::connect_failed,
                     "no answer within 2 s",
                     rig.client.connects.back().attempt,
                     {},
                     {}});
  server.update(rig.inputs());
  CHECK(server.filled().as_of_ms == first + 500);
  rig.clock.advance(1000);
  server.update(rig.inputs());
  CHECK(server.filled().as_of_ms == first + 1500);
}

TEST_CASE("status client: not running is exit 2 with how to start it") {
  TempDir dir;
  std::ostringstream out, err;
  CHECK(status::ask(dir / "none.sock", false, out, err) == kExitNotRunning);
  CHECK_THAT(err.str(), Catch::Contains("classroom-agent is not running, or runs without its "
                                        "status socket (there is none at " +
                                        dir / "none.sock"));
  CHECK_THAT(err.str(), Catch::Contains("sudo systemctl start classroom-agent"));

  // A socket left by an agent that was killed: nobody listens.
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::string stale = dir / "stale.sock";
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", stale.c_str());
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  ::close(fd);
  std::ostringstream out2, err2;
  CHECK(status::ask(stale, true, out2, err2) == kExitNotRunning);
  CHECK_THAT(err2.str(), Catch::Contains("it was stopped hard or crashed"));
  CHECK_THAT(out2.str(), Catch::StartsWith("{\"state\":\"not running\",\"error\":"));
}

TEST_CASE("status server: replaces a stale socket, refuses to steal a live one") {
  LogCapture logs;
  StatusRig rig;
  {
    Server first(rig.cfg, rig.clock);
    REQUIRE(first.serving());
    Server second(rig.cfg, rig.clock);
    CHECK_FALSE(second.serving());
    CHECK(logs.count("another process answers on " + rig.cfg.status.socket) == 1);
  }
  // The first one removed its socket on the way out (the second did not touch it).
  CHECK_FALSE(std::filesystem::exists(rig.cfg.status.socket));
  // A stale one (left by a killed agent) is replaced.
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", rig.cfg.status.socket.c_str());
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  ::close(fd);
  Server third(rig.cfg, rig.clock);
  CHECK(third.serving());
  auto [rc, text] = rig.ask_text();
  CHECK(rc == kExitDegraded);  // starting
}

TEST_CASE("status client: what answers on the socket is printed escaped") {
  // Whoever can replace the socket answers: it sends terminal escapes.
  TempDir dir;
  const std::string path = dir / "forged.sock";
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(::listen(fd, 4) == 0);
  auto serve = [fd](const std::string& reply) {
    return std::thread([fd, reply] {
      const int c = ::accept(fd, nullptr, nullptr);
      char buf[64];
      (void)::recv(c, buf, sizeof buf, 0);
      (void)::send(c, reply.data(), reply.size(), MSG_NOSIGNAL);
      ::close(c);
    });
  };
  std::thread t = serve(std::string(kProtocolHeader) +
                        "ok\nStatus    OK\x1b]0;owned\x07\nBroker    \x9b"
                        "31m red \\x41\n");
  std::ostringstream out, err;
  CHECK(status::ask(path, false, out, err) == kExitOk);
  t.join();
  CHECK(out.str().find('\x1b') == std::string::npos);
  CHECK(out.str().find('\x07') == std::string::npos);
  // Lines stay lines; an escape the agent made (\x41) is shown as it was sent.
  CHECK(out.str() == "Status    OK\\x1b]0;owned\\x07\nBroker    \\x9b31m red \\x41\n");

  // The refusal of a request is printed escaped too.
  t = serve(std::string(kProtocolHeader) + "error\n\x1b[2Jwiped\n");
  std::ostringstream out2, err2;
  CHECK(status::ask(path, false, out2, err2) == kExitUnknown);
  t.join();
  CHECK(err2.str() == "the agent refused the request: \\x1b[2Jwiped\n");
  ::close(fd);
}

// Online, births and data going out, and the broker refused the
// subscription to commands: said in the text and the JSON, and not OK.
TEST_CASE("status: commands unavailable while online are said in text and JSON") {
  Snapshot s = degraded_snapshot();
  s.broker = BrokerState::online;
  s.commands_unavailable = true;
  s.commands_problem =
      "broker tcp://10.0.0.5:1883 refused the subscription to spBv1.0/school-a/NCMD/room-6a "
      "(broker refused the subscription (SUBACK 0x80))";
  const std::string text = render_text(s, kNow);
  INFO(text);
  CHECK_THAT(text, Catch::Contains("COMMANDS UNAVAILABLE: broker tcp://10.0.0.5:1883 refused the "
                                   "subscription to spBv1.0/school-a/NCMD/room-6a"));
  const std::string json = render_json(s, kNow);
  INFO(json);
  CHECK_THAT(json, Catch::Contains("\"commands unavailable\""));
  CHECK_THAT(json, Catch::Contains("\"commands_available\":false,\"commands_problem\":\"broker "
                                   "tcp://10.0.0.5:1883 refused the subscription"));
  s.commands_unavailable = false;
  s.commands_problem.clear();
  CHECK_THAT(render_text(s, kNow), !Catch::Contains("COMMANDS"));
  CHECK_THAT(render_json(s, kNow), Catch::Contains("\"commands_available\":true"));
}

TEST_CASE("status server: its thread writes a folded log line's count when the window ends") {
  StatusRig rig;
  // The log on the real clock, to a file, folding for 1 s.
  const std::string path = rig.dir / "agent.log";
  log::set_level(log::Level::info);
  REQUIRE(log::open_file({path, 1 << 20, 3, 1000}) == "");
  struct CloseLog {
    ~CloseLog() { log::close_file(); }
  } close_log;
  Server server(rig.cfg, rig.clock);
  REQUIRE(server.serving());
  constexpr log::Logger lg("uplink");
  lg.warning("ignored a malformed command");
  // The serving thread asleep with nothing folded: asked once, then every
  // thread but this one sleeping.
  REQUIRE(rig.ask_text().first == kExitDegraded);  // answered (nothing was sent yet)
  auto others_asleep = [] {
    for (const auto& t : std::filesystem::directory_iterator("/proc/self/task")) {
      if (t.path().filename() == std::to_string(::gettid())) continue;
      std::ifstream in(t.path() / "stat");
      std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      const size_t paren = stat.rfind(')');
      if (paren == std::string::npos || stat.compare(paren + 2, 1, "S") != 0) return false;
    }
    return true;
  };
  const auto asleep_by = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!others_asleep() && std::chrono::steady_clock::now() < asleep_by)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  REQUIRE(others_asleep());
  lg.warning("ignored a malformed command");  // folded: only that thread can write its count now
  auto count_written = [&] {
    std::ifstream in(path);
    std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return all.find("[repeated 1 more time in") != std::string::npos;
  };
  // Without a wake the thread would sleep its idle minute.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!count_written() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  CHECK(count_written());
}
