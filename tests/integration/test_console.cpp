// The operator's commands against a real Mosquitto with real agents:
// `classroom-agent tail` (decoded lines, filters, JSON, rebirth requests) and
// `classroom-agent fleet` (in a real terminal: tmux; and as a snapshot).
#include <mqtt/async_client.h>
#include <unistd.h>
#include <catch2/catch.hpp>
#include <csignal>
#include <cstdio>
#include <regex>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "catalog/catalog.hpp"
#include "harness.hpp"
#include "session/sparkplug.hpp"

using namespace harness;

namespace {

// A console command running with its stdout and stderr in a file.
struct Console {
  TempDir dir;
  std::string out = dir.path + "/out";
  Process process;
  explicit Console(std::vector<std::string> args)
      : process(
            [&] {
              args.insert(args.begin(), AGENT_BINARY);
              return args;
            }(),
            dir.path + "/out") {}
  ~Console() {
    process.signal(SIGTERM);
    process.wait_exit(5s);
  }
  std::string text() const { return read_file(out); }
  bool wait_for(const std::string& s, std::chrono::milliseconds timeout) const {
    return wait_until([&] { return text().find(s) != std::string::npos; }, timeout);
  }
  bool wait_for(const std::regex& re, std::chrono::milliseconds timeout) const {
    return wait_until([&] { return std::regex_search(text(), re); }, timeout);
  }
  // Lines of stdout (not the "classroom-agent: " notes of stderr).
  std::vector<std::string> lines() const {
    std::vector<std::string> out;
    std::istringstream in(text());
    for (std::string l; std::getline(in, l);)
      if (l.rfind("classroom-agent: ", 0) != 0) out.push_back(l);
    return out;
  }
};

// A tmux server of its own, killed whatever happens; its socket lives in the
// test's own temp dir (unique per run), so nothing is left behind.
struct Tmux {
  TempDir dir;
  std::string socket = dir.path + "/tmux";
  explicit Tmux(const std::string& command, int width = 200, int height = 40) {
    auto [rc, out] =
        run_shell("tmux -S " + socket + " -f /dev/null new-session -d -x " + std::to_string(width) +
                  " -y " + std::to_string(height) + " '" + command + "'");
    if (rc != 0) throw std::runtime_error("tmux did not start: " + out);
  }
  ~Tmux() { run_shell("tmux -S " + socket + " kill-server"); }
  // What a person sees in the pane now.
  std::string screen() const { return run_shell("tmux -S " + socket + " capture-pane -p").second; }
  bool wait_for(const std::regex& re, std::chrono::milliseconds timeout, std::string& seen) const {
    return wait_until(
        [&] {
          seen = screen();
          return std::regex_search(seen, re);
        },
        timeout);
  }
};

// The fields of a fleet row: NODE STATE SINCE BDSEQ LAST CPU RTT LOSS WIFI SPOOL.
std::vector<std::string> row_of(const std::string& screen, const std::string& node) {
  std::istringstream in(screen);
  for (std::string l; std::getline(in, l);) {
    if (l.rfind(node + " ", 0) != 0) continue;
    std::istringstream words(l);
    std::vector<std::string> fields;
    for (std::string w; words >> w;) fields.push_back(w);
    return fields;
  }
  return {};
}

}  // namespace

TEST_CASE("tail prints decoded lines with aliases resolved from the birth, filters and --json") {
  Mosquitto broker;
  TempDir dir;
  Console all({"tail", "--server", broker.url()});
  Console cpu_of_room1(
      {"tail", "--server", broker.url(), "--node", "room-1", "--metric", "System/CPU/*"});
  Console json({"tail", "--server", broker.url(), "--json", "--group", "school-test"});
  for (Console* c : {&all, &cpu_of_room1, &json})
    REQUIRE(c->wait_for("subscribed to spBv1.0/", 10s));

  AgentOptions o1, o2;
  o1.url = o2.url = broker.url();
  o2.node = "room-2";
  Agent room1(dir.path + "/1", o1), room2(dir.path + "/2", o2);
  LogOnFailure log1(room1);
  room1.start();
  room2.start();

  // The agent's NDATA carries aliases, not names: the name comes from the birth.
  REQUIRE(all.wait_for(std::regex("school-test/room-1 NBIRTH seq 0  bdSeq = 0\n"), 15s));
  REQUIRE(all.wait_for(
      std::regex("school-test/room-1 NDATA seq [0-9]+  System/CPU/Usage = [0-9.e+-]+ %\n"), 15s));
  REQUIRE(all.wait_for(std::regex("school-test/room-2 NDATA seq [0-9]+  System/"), 15s));
  CHECK(all.text().find("name unknown") == std::string::npos);

  // Filters: room-1's CPU metrics only.
  REQUIRE(
      cpu_of_room1.wait_for(std::regex("school-test/room-1 NDATA seq [0-9]+  System/CPU/"), 15s));
  for (const std::string& l : cpu_of_room1.lines()) {
    INFO(l);
    CHECK(std::regex_match(l, std::regex("school-test/room-1 N(BIRTH|DATA) seq [0-9]+  "
                                         "System/CPU/[A-Za-z ]+ = .*")));
  }

  // --json: one object per line, every line parses.
  REQUIRE(json.wait_for("\"type\":\"NDATA\"", 15s));
  room1.signal(SIGTERM);
  REQUIRE(room1.wait_exit(10s));
  REQUIRE(json.wait_for("\"type\":\"NDEATH\"", 10s));
  json.process.signal(SIGTERM);
  REQUIRE(json.process.wait_exit(5s) == 0);
  const std::string check =
      "python3 -c 'import json,sys\n"
      "n=0\n"
      "for line in open(sys.argv[1]):\n"
      "  if line.startswith(\"classroom-agent: \"): continue\n"
      "  o=json.loads(line); n+=1\n"
      "  assert o[\"group\"]==\"school-test\"\n"
      "  if o[\"type\"]==\"NDATA\" and o[\"node\"]==\"room-1\":\n"
      "    for m in o[\"metrics\"]:\n"
      "      if m[\"name\"]==\"System/CPU/Usage\": print(\"cpu\", m[\"datatype\"], m[\"unit\"])\n"
      "  if o[\"type\"]==\"NDEATH\": print(\"death\", o[\"node\"], o[\"metrics\"][0][\"value\"])\n"
      "print(\"objects\", n)' " +
      json.out;
  auto [rc, parsed] = run_shell(check);
  INFO(parsed);
  REQUIRE(rc == 0);
  CHECK(parsed.find("cpu Float %") != std::string::npos);
  CHECK(parsed.find("death room-1 0") != std::string::npos);
}

TEST_CASE("tail asks a node whose birth it missed for a rebirth, only with --rebirth") {
  Mosquitto broker;
  TempDir dir;
  Subscriber sub(broker.url());
  AgentOptions o;
  o.url = broker.url();
  Agent agent(dir.path, o);
  LogOnFailure log(agent);
  agent.start();
  REQUIRE(sub.wait_for("NDATA", 1, 15s));

  // Started after the birth: names unknown, and no NCMD without the flag.
  Console plain({"tail", "--server", broker.url()});
  REQUIRE(plain.wait_for("(name unknown: birth not seen)", 15s));
  CHECK(sub.of_type("NCMD").empty());

  Console asking({"tail", "--server", broker.url(), "--rebirth"});
  REQUIRE(asking.wait_for("asked school-test/room-1 for a rebirth", 15s));
  REQUIRE(sub.wait_for("NCMD", 1, 5s));
  REQUIRE(asking.wait_for(std::regex("school-test/room-1 NBIRTH seq 0  bdSeq = 0\n"), 15s));
  // After the new birth, data by alias resolves.
  REQUIRE(wait_until(
      [&] {
        const std::string t = asking.text();
        const size_t birth = t.find("NBIRTH seq 0");
        return birth != std::string::npos && t.find("NDATA seq", birth) != std::string::npos &&
               // Uptime changes every sample (report by exception sends only changes).
               t.find("  System/Uptime = ", t.find("NDATA seq", birth)) != std::string::npos;
      },
      15s));
  CHECK_THAT(agent.log(), Catch::Contains("rebirth requested by a host application"));
  // Once per node: data keeps flowing, no second request within the minute.
  REQUIRE(sub.wait_for("NDATA", sub.of_type("NDATA").size() + 3, 10s));
  CHECK(sub.of_type("NCMD").size() == 1);
}

TEST_CASE("fleet in a terminal: a killed agent goes offline from its Will, a restart comes back") {
  Mosquitto broker;
  TempDir dir;
  Tmux tmux(std::string(AGENT_BINARY) + " fleet --server " + broker.url() +
            " --refresh 200ms --stale 30s");
  std::string seen;
  REQUIRE(tmux.wait_for(std::regex("subscribed to spBv1.0/#"), 10s, seen));

  AgentOptions o1, o2;
  o1.url = o2.url = broker.url();
  o2.node = "room-2";
  Agent room1(dir.path + "/1", o1), room2(dir.path + "/2", o2);
  LogOnFailure log1(room1);
  room1.start();
  room2.start();
  REQUIRE(tmux.wait_for(std::regex("2 nodes: 2 online, 0 offline"), 15s, seen));
  INFO(seen);
  auto r1 = row_of(seen, "school-test/room-1");
  REQUIRE(r1.size() == 10);
  CHECK(r1[1] == "online");
  CHECK(r1[3] == "0");  // bdSeq
  // The CPU column fills once the agent has two samples.
  REQUIRE(tmux.wait_for(
      std::regex("school-test/room-1 +online +[0-9.ms]+ +0 +[0-9.ms]+ +[0-9]+\\.[0-9]"), 15s,
      seen));

  // SIGKILL: no NDEATH of its own; the broker publishes the Will.
  room1.signal(SIGKILL);
  REQUIRE(room1.wait_exit(5s));
  REQUIRE(tmux.wait_for(std::regex("2 nodes: 1 online, 1 offline"), 15s, seen));
  r1 = row_of(seen, "school-test/room-1");
  REQUIRE(r1.size() == 10);
  CHECK(r1[1] == "OFFLINE");
  CHECK(r1[3] == "0");
  CHECK(row_of(seen, "school-test/room-2")[1] == "online");

  // Restarted on the same state dir: the next bdSeq.
  room1.start();
  REQUIRE(tmux.wait_for(std::regex("school-test/room-1 +online +[0-9.ms]+ +1 "), 15s, seen));
  CHECK(seen.find("2 nodes: 2 online, 0 offline") != std::string::npos);
  // What a person sees: the column names, no escape codes left as text.
  CHECK(seen.find("NODE") != std::string::npos);
  CHECK(seen.find("BDSEQ") != std::string::npos);
  CHECK(seen.find('\x1b') == std::string::npos);
  CHECK(seen.find("[?1049") == std::string::npos);
}

TEST_CASE("fleet prints one snapshot when stdout is not a terminal, exit 1 without a broker") {
  Mosquitto broker;
  TempDir dir;
  Subscriber sub(broker.url());
  AgentOptions o;
  o.url = broker.url();
  Agent agent(dir.path, o);
  LogOnFailure log(agent);
  agent.start();
  REQUIRE(sub.wait_for("NDATA", 1, 15s));

  // Its birth was before: data only ("online?"), then with --rebirth, born.
  Console plain({"fleet", "--server", broker.url(), "--wait", "2s"});
  REQUIRE(plain.process.wait_exit(15s) == 0);
  Console born({"fleet", "--server", broker.url(), "--wait", "3s", "--rebirth"});
  REQUIRE(born.process.wait_exit(15s) == 0);
  INFO(plain.text() + born.text());
  CHECK(plain.text().find('\x1b') == std::string::npos);
  const auto p = row_of(plain.text(), "school-test/room-1");
  REQUIRE(p.size() == 10);
  CHECK(p[1] == "online?");
  CHECK(p[3] == "-");
  const auto b = row_of(born.text(), "school-test/room-1");
  REQUIRE(b.size() == 10);
  CHECK(b[1] == "online");
  CHECK(b[3] == "0");
  CHECK(born.text().find("1 node: 1 online") != std::string::npos);

  // Nothing listens there: a plain reason, exit 1.
  Console none(
      {"fleet", "--server", "tcp://127.0.0.1:" + std::to_string(free_port()), "--wait", "2s"});
  REQUIRE(none.process.wait_exit(15s) == 1);
  CHECK(none.text().find("unreachable") != std::string::npos);
  CHECK(none.text().find("0 nodes") != std::string::npos);
}

TEST_CASE("fleet stays responsive with 5,000 nodes publishing births and data", "[serial]") {
  constexpr int kNodes = 5000;
  Mosquitto broker;
  Tmux tmux(std::string(AGENT_BINARY) + " fleet --server " + broker.url() +
                " --refresh 250ms --sort state",
            200, 40);
  std::string seen;
  REQUIRE(tmux.wait_for(std::regex("subscribed to spBv1.0/#"), 10s, seen));

  // Births and data as the agent builds them, from one fast publisher.
  classroom::Catalog catalog;
  const auto cpu = catalog.declare("System/CPU/Usage", classroom::DataType::Float, "%");
  const auto pending =
      catalog.declare("Agent/Spool/Pending Batches", classroom::DataType::UInt64, "");
  catalog.put(cpu, 12.5f);
  catalog.put(pending, uint64_t{0});
  classroom::sparkplug::Payload birth, data;
  classroom::sparkplug::build_birth(birth, catalog, 3, now_ms());
  const classroom::MetricId ids[] = {cpu, pending};
  classroom::sparkplug::build_record(data, catalog, ids, now_ms());
  classroom::sparkplug::record_to_data(data, catalog, false);
  data.set_seq(1);
  const std::string birth_bytes = birth.SerializeAsString(), data_bytes = data.SerializeAsString();

  // Paho queues at most 100 commands unless told otherwise.
  mqtt::async_client pub(broker.url(), "fleet-load-" + std::to_string(::getpid()),
                         mqtt::create_options(MQTTVERSION_3_1_1, 20'000),
                         static_cast<mqtt::iclient_persistence*>(nullptr));
  pub.connect()->wait();
  const int64_t start = now_ms();
  mqtt::delivery_token_ptr last;
  for (int i = 0; i < kNodes; ++i) {
    const std::string node = "room-" + std::to_string(i);
    pub.publish("spBv1.0/load/NBIRTH/" + node, birth_bytes.data(), birth_bytes.size(), 0, false);
    last =
        pub.publish("spBv1.0/load/NDATA/" + node, data_bytes.data(), data_bytes.size(), 0, false);
    if (i % 500 == 499) last->wait();
  }
  last->wait();
  const int64_t published = now_ms();
  // Every node online on the screen within the deadline, the table still redrawn.
  const bool all = tmux.wait_for(std::regex("5000 nodes: 5000 online, 0 offline"), 10s, seen);
  const int64_t shown = now_ms();
  INFO(seen);
  REQUIRE(all);
  std::fprintf(stderr,
               "fleet: %d nodes (births and data) published in %lld ms; all %d online on the "
               "terminal %lld ms after the last publish\n",
               kNodes, static_cast<long long>(published - start), kNodes,
               static_cast<long long>(shown - published));
  CHECK(shown - published < 5000);
  // Rows are the nodes' own, with their bdSeq and CPU.
  CHECK(std::regex_search(seen,
                          std::regex("load/room-[0-9]+ +online +[0-9.]+s +3 +[0-9.]+s +12\\.5")));
  CHECK(seen.find("more rows below") != std::string::npos);
  pub.disconnect()->wait();
}

// The operator's tools at a nation's size. 50,000 nodes
// (2,500 schools of 20, as tests/fleet/simulate names them) publish a birth
// with the fleet's key metrics and 40 more; three consoles watch. fleet sees
// them all, fleet --group sees a district, tail's filter prints nothing. The
// first node's Will is lost (birth, then nothing, never an NDEATH): SILENT
// after --stale. Messages over --max-message are said once per node (over
// MQTT 3.1.1: an MQTT 5 broker drops them unseen).
TEST_CASE("fleet and tail hold only what they show under 50000 births", "[serial]") {
  constexpr int kNodes = 50'000, kPerSchool = 20, kFiller = 40;
  constexpr int64_t kStaleMs = 20'000, kWaitMs = 40'000;
  Mosquitto broker;
  auto topic = [](int i, const char* type) {
    char t[64];
    std::snprintf(t, sizeof t, "spBv1.0/sim-%04d/%s/room-%02d", i / kPerSchool + 1, type,
                  i % kPerSchool + 1);
    return std::string(t);
  };

  classroom::Catalog catalog;
  const auto cpu = catalog.declare("System/CPU/Usage", classroom::DataType::Float, "%");
  catalog.put(cpu, 12.5f);
  for (const char* name :
       {"Agent/Spool/Pending Batches", "WiFi/wlan0/Stations", "WiFi/wlan1/Stations"})
    catalog.put(catalog.declare(name, classroom::DataType::UInt64, ""), uint64_t{3});
  for (const char* name : {"Connectivity/icmp/RTT Avg", "Connectivity/icmp/Loss"})
    catalog.put(catalog.declare(name, classroom::DataType::Double, "ms"), 4.0);
  for (int i = 0; i < kFiller; ++i)
    catalog.put(catalog.declare("Network/Interface " + std::to_string(i) + "/Receive Bytes/Rate",
                                classroom::DataType::Double, "B/s"),
                double(i));
  classroom::sparkplug::Payload birth, data, big;
  classroom::sparkplug::build_birth(birth, catalog, 5, now_ms());
  const classroom::MetricId ids[] = {cpu};
  classroom::sparkplug::build_record(data, catalog, ids, now_ms());
  classroom::sparkplug::record_to_data(data, catalog, false);
  big = data;
  big.mutable_metrics(0)->set_string_value(std::string(20'000, 'x'));  // 20 KB: over 16 KiB
  const std::string birth_bytes = birth.SerializeAsString(), data_bytes = data.SerializeAsString(),
                    big_bytes = big.SerializeAsString();

  const std::string url = broker.url(), stale = std::to_string(kStaleMs / 1000) + "s",
                    wait = std::to_string(kWaitMs / 1000) + "s";
  Console all({"fleet", "--server", url, "--wait", wait, "--stale", stale, "--sort", "state"});
  // The two with 16 KiB speak MQTT 3.1.1 (the -c config's protocol): an MQTT 5
  // broker would drop the big messages for them unseen, nothing to say per node.
  TempDir config_dir;
  AgentOptions v311;
  v311.url = url;
  v311.extra_broker = "protocol = \"3.1.1\"\n";
  const Agent v311_config(config_dir.path, v311);  // never started: its config is the -c
  const std::string config = v311_config.config_path();
  Console district({"fleet", "-c", config, "--wait", wait, "--stale", stale, "--sort", "state",
                    "--group", "sim-00*", "--max-message", "16KiB"});
  // A glob: tail subscribes to spBv1.0/# and sees all 50,000 births.
  Console nothing({"tail", "-c", config, "--group", "sim-0001*", "--node", "room-02", "--metric",
                   "Nothing/*", "--max-message", "16KiB"});
  const int64_t started = now_ms();
  for (Console* c : {&all, &district, &nothing}) REQUIRE(c->wait_for("subscribed to", 10s));

  mqtt::async_client pub(url, "fleet-nation-" + std::to_string(::getpid()),
                         mqtt::create_options(MQTTVERSION_3_1_1, 20'000),
                         static_cast<mqtt::iclient_persistence*>(nullptr));
  pub.connect()->wait();
  auto publish_all = [&](const char* type, const std::string& payload, int from) {
    mqtt::delivery_token_ptr last;
    for (int i = from; i < kNodes; ++i) {
      last = pub.publish(topic(i, type), payload.data(), payload.size(), 0, false);
      if (i % 1000 == 999) last->wait();
    }
    last->wait();
  };
  // Node 0 first: its birth, then its Will is lost with its broker.
  pub.publish(topic(0, "NBIRTH"), birth_bytes.data(), birth_bytes.size(), 0, false)->wait();
  const int64_t lost_at = now_ms();
  publish_all("NBIRTH", birth_bytes, 1);
  const int64_t births_done = now_ms();
  // The others speak again late enough to be fresh at the snapshot (taken
  // kWaitMs after the start), while node 0 is stale by then.
  wait_until([&] { return now_ms() >= started + kWaitMs - kStaleMs + 3000; }, 30s);
  const int64_t data_at = now_ms();
  publish_all("NDATA", data_bytes, 1);
  // Too big for the district and tail (16 KiB), not for `all` (1 MiB): room-02
  // twice, room-03 once, and a node whose id turns text right to left.
  for (const std::string& t : {topic(1, "NDATA"), topic(1, "NDATA"), topic(2, "NDATA"),
                               std::string("spBv1.0/sim-0001/NDATA/evil\u202Eroom")})
    pub.publish(t, big_bytes.data(), big_bytes.size(), 0, false)->wait();
  const int64_t data_done = now_ms();
  pub.disconnect()->wait();
  std::fprintf(stderr,
               "console: %d births (%zu bytes each) published in %lld ms, data in %lld ms\n",
               kNodes, birth_bytes.size(), static_cast<long long>(births_done - lost_at),
               static_cast<long long>(data_done - data_at));
  // The snapshot is taken kWaitMs after the start: node 0 must be stale by
  // then, the others not. A machine too slow for that fails here, saying so.
  INFO("started " << started << ", node 0 born " << lost_at << ", data " << data_at << "-"
                  << data_done);
  REQUIRE(lost_at + kStaleMs < started + kWaitMs - 1000);
  REQUIRE(data_done < started + kWaitMs - 1000);
  REQUIRE(data_at + kStaleMs > started + kWaitMs + 2000);

  for (Console* c : {&all, &district}) REQUIRE(c->process.wait_exit(kWaitMs * 1ms + 15s) == 0);
  nothing.process.signal(SIGTERM);
  REQUIRE(nothing.process.wait_exit(10s) == 0);

  const std::string a = all.text(), d = district.text(), t = nothing.text();
  const long a_kib = all.process.max_rss_kib(), d_kib = district.process.max_rss_kib(),
             t_kib = nothing.process.max_rss_kib();
  std::fprintf(stderr, "console: peak RSS fleet %ld KiB, fleet --group %ld KiB, tail %ld KiB\n",
               a_kib, d_kib, t_kib);
  INFO(a.substr(0, 2000));
  INFO(d.substr(0, 2000));
  INFO(t.substr(0, 2000));
  // Every node of the nation, the lost one SILENT, first (sorted by state);
  // the escaped node's 20 KB message is taken by `all` (no birth: online?).
  CHECK_THAT(a, Catch::Contains("50001 nodes: 49999 online, 0 offline, 1 silent, 1 without birth"));
  CHECK(std::regex_search(a, std::regex("\nsim-0001/room-01 +SILENT +[0-9.ms]+ +5 ")));
  CHECK(std::regex_search(
      a, std::regex(
             "\nsim-2500/room-20 +online +[0-9.ms]+ +5 +[0-9.ms]+ +12\\.5 +4\\.0 +4\\.0 +6 +3")));
  // The district: sim-0001 ... sim-0099, nothing else, and no 20 KB message.
  CHECK_THAT(d, Catch::Contains("1980 nodes: 1979 online, 0 offline, 1 silent, 0 without birth"));
  CHECK(std::regex_search(d, std::regex("\nsim-0001/room-01 +SILENT ")));
  CHECK(d.find("sim-0100/") == std::string::npos);
  CHECK(d.find("sim-0099/room-20 ") != std::string::npos);
  // Said once per node, names escaped; nothing else of them.
  auto count = [](const std::string& text, const std::string& what) {
    size_t n = 0;
    for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
  };
  const std::string over = "bytes, over the 16 KiB limit (--max-message); dropped";
  CHECK(count(d, "node sim-0001/room-02: NDATA of ") == 1);
  CHECK(count(d, "node sim-0001/room-03: NDATA of ") == 1);
  CHECK(count(d, "node sim-0001/evil\\u202") == 1);  // a right-to-left override, escaped
  CHECK(count(d, over) == 3);
  CHECK(d.find("\u202E") == std::string::npos);
  CHECK(count(a, over) == 0);
  // tail printed nothing, and said only what concerns room-02.
  CHECK(nothing.lines().empty());
  CHECK(count(t, "node sim-0001/room-02: NDATA of ") == 1);
  CHECK(count(t, over) == 1);
  // Memory: what is shown, not what was sent (50,000 births of 47 metrics
  // are 2.35 million aliases: the decoder of before kept every one).
  CHECK(a_kib < 120 * 1024);
  CHECK(d_kib < 60 * 1024);
  CHECK(t_kib < 40 * 1024);
}

TEST_CASE("tail and fleet refuse a bad broker address, a bad duration and a missing config") {
  const std::string agent = AGENT_BINARY;
  auto [rc, out] = run_shell(agent + " tail --server 'http://x\\n'");
  CHECK(rc == 64);
  CHECK_THAT(out, Catch::Contains(
                      "is not a broker address; use ssl://HOST:8883 (TLS) or tcp://HOST:1883"));
  // The same check as the config's `servers`: a bad port is caught here, not
  // by a connection that never comes.
  std::tie(rc, out) = run_shell(agent + " tail --server tcp://127.0.0.1:99999");
  CHECK(rc == 64);
  CHECK_THAT(out, Catch::Contains("--server \"tcp://127.0.0.1:99999\" has a bad port"));
  std::tie(rc, out) = run_shell(agent + " fleet --server tcp://127.0.0.1:1 --stale soon");
  CHECK(rc == 64);
  CHECK_THAT(out, Catch::Contains("--stale \"soon\" is not a duration"));
  for (const char* size : {"12", "512B", "1GiB", "lots"}) {
    std::tie(rc, out) =
        run_shell(agent + " fleet --server tcp://127.0.0.1:1 --max-message " + size);
    CHECK(rc == 64);
    CHECK_THAT(out, Catch::Contains("is not a size from 1KiB to 256MiB"));
  }
  std::tie(rc, out) = run_shell(agent + " fleet --server tcp://127.0.0.1:1 --sort size");
  CHECK(rc == 64);
  std::tie(rc, out) = run_shell(agent + " tail --server tcp://127.0.0.1:1 -c /x.toml");
  CHECK(rc == 64);  // one or the other
  TempDir dir;
  std::tie(rc, out) = run_shell(agent + " tail -c " + dir.path + "/missing.toml");
  CHECK(rc == 2);
  CHECK_THAT(out, Catch::Contains("name a broker with --server tcp://HOST:PORT instead"));
  std::tie(rc, out) = run_shell(agent + " --help");
  CHECK_THAT(out, Catch::Contains("tail") && Catch::Contains("fleet"));
}

// --max-message above the 64 KiB the agent's MQTT client takes for
// the agent. A 200 KB message reaches tail (decoded) with the default 1 MiB,
// over MQTT 5 and over MQTT 3.1.1 (`[broker] protocol` of the -c config).
// With --max-message 100KiB: over MQTT 5 the broker is told (Maximum Packet
// Size) and drops it for that console, which never sees it and says so only
// at subscription; over MQTT 3.1.1 it arrives, the client drops it, and the
// console says it once per node (tail and fleet).
TEST_CASE("tail and fleet take messages up to --max-message above 64 KiB") {
  Mosquitto broker;
  TempDir dir;
  const std::string url = broker.url();
  AgentOptions o;
  o.url = url;
  o.extra_broker = "protocol = \"3.1.1\"\n";
  const Agent v311(dir.path + "/v311", o);  // never started: its config is the consoles' -c
  const std::string config = v311.config_path();
  Console v5_default({"tail", "--server", url});
  Console v5_small({"tail", "--server", url, "--max-message", "100KiB"});
  Console v311_default({"tail", "-c", config});
  Console v311_small({"tail", "-c", config, "--max-message", "100KiB"});
  Console fleet_small({"fleet", "-c", config, "--max-message", "100KiB", "--wait", "10s"});
  const int64_t started = now_ms();
  for (Console* c : {&v5_default, &v5_small, &v311_default, &v311_small, &fleet_small})
    REQUIRE(c->wait_for("subscribed to spBv1.0/#", 10s));
  // What each console can know of what it will not see.
  CHECK_THAT(v5_default.text(),
             Catch::Contains("(MQTT 5: the broker drops messages over 1 MiB for this console "
                             "unseen; --max-message)"));
  CHECK_THAT(v5_small.text(), Catch::Contains("(MQTT 5: the broker drops messages over 100 KiB"));
  CHECK_THAT(v311_small.text(), Catch::Contains("on " + url + " (MQTT 3.1.1)"));

  classroom::Catalog catalog;
  const auto blob = catalog.declare("Test/Blob", classroom::DataType::String, "");
  catalog.put(blob, std::string("small"));
  classroom::sparkplug::Payload birth, big, after;
  classroom::sparkplug::build_birth(birth, catalog, 0, now_ms());
  const classroom::MetricId ids[] = {blob};
  catalog.put(blob, std::string(200'000, 'x'));  // 200 KB: over 100 KiB and over 64 KiB
  classroom::sparkplug::build_record(big, catalog, ids, now_ms());
  classroom::sparkplug::record_to_data(big, catalog, false);
  catalog.put(blob, std::string("after"));
  classroom::sparkplug::build_record(after, catalog, ids, now_ms());
  classroom::sparkplug::record_to_data(after, catalog, false);
  const std::string birth_bytes = birth.SerializeAsString(), big_bytes = big.SerializeAsString(),
                    after_bytes = after.SerializeAsString();
  REQUIRE(big_bytes.size() > 200'000);

  mqtt::async_client pub(url, "max-message-" + std::to_string(::getpid()),
                         mqtt::create_options(MQTTVERSION_3_1_1, 100),
                         static_cast<mqtt::iclient_persistence*>(nullptr));
  pub.connect()->wait();
  auto publish = [&](const std::string& node, const char* type, const std::string& payload) {
    pub.publish("spBv1.0/max-test/" + std::string(type) + "/" + node, payload.data(),
                payload.size(), 0, false)
        ->wait();
  };
  // In order on one connection: once "after" has arrived, the big ones came
  // before it, or never will.
  for (const char* node : {"room-a", "room-b"}) publish(node, "NBIRTH", birth_bytes);
  for (const char* node : {"room-a", "room-a", "room-b"}) publish(node, "NDATA", big_bytes);
  for (const char* node : {"room-a", "room-b"}) publish(node, "NDATA", after_bytes);
  pub.disconnect()->wait();
  REQUIRE(now_ms() < started + 9'000);  // before fleet's snapshot

  auto count = [](const std::string& text, const std::string& what) {
    size_t n = 0;
    for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
  };
  const std::regex after_b("max-test/room-b NDATA( seq [0-9]+)?  Test/Blob = after\n");
  // A decoded big message: its line, the value cut for the screen.
  auto big_lines = [](const std::string& text, const std::string& node) {
    const std::regex line("max-test/" + node + " NDATA( seq [0-9]+)?  Test/Blob = x{100}");
    return std::distance(std::sregex_iterator(text.begin(), text.end(), line),
                         std::sregex_iterator());
  };
  const std::string over = "bytes, over the 100 KiB limit (--max-message); dropped";
  for (Console* c : {&v5_default, &v5_small, &v311_default, &v311_small})
    REQUIRE(c->wait_for(after_b, 10s));
  const std::string v5d = v5_default.text(), v5s = v5_small.text(), v3d = v311_default.text(),
                    v3s = v311_small.text();
  INFO(v5d.substr(0, 3000));
  INFO(v5s.substr(0, 3000));
  INFO(v3d.substr(0, 3000));
  INFO(v3s.substr(0, 3000));
  // The default 1 MiB: every big message decoded, over either version.
  for (const std::string& t : {v5d, v3d}) {
    CHECK(big_lines(t, "room-a") == 2);
    CHECK(big_lines(t, "room-b") == 1);
    CHECK(count(t, "--max-message); dropped") == 0);
  }
  // 100 KiB over MQTT 5: Mosquitto drops them for this client; nothing
  // arrives, so nothing more can be said than the subscription line did.
  CHECK(v5s.find(std::string(100, 'x')) == std::string::npos);
  CHECK(count(v5s, "--max-message); dropped") == 0);
  // 100 KiB over MQTT 3.1.1: they arrive, are dropped undecoded, and are
  // said once per node.
  CHECK(v3s.find(std::string(100, 'x')) == std::string::npos);
  CHECK(count(v3s, "node max-test/room-a: NDATA of " + std::to_string(big_bytes.size()) + " " +
                       over) == 1);
  CHECK(count(v3s, "node max-test/room-b: NDATA of ") == 1);
  CHECK(count(v3s, over) == 2);

  REQUIRE(fleet_small.process.wait_exit(20s) == 0);
  const std::string f = fleet_small.text();
  INFO(f.substr(0, 3000));
  CHECK(count(f, "node max-test/room-a: NDATA of ") == 1);
  CHECK(count(f, "node max-test/room-b: NDATA of ") == 1);
  CHECK(count(f, over) == 2);
  CHECK_THAT(f, Catch::Contains("; 3 over --max-message"));
  CHECK_THAT(f, Catch::Contains("2 nodes: 2 online"));
}
