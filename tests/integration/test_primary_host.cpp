// Sparkplug Primary Host: the agent births only while the host
// application's STATE says online, leaves a server whose host went offline,
// and loses nothing meanwhile. The test plays the host: it publishes STATE
// (retained or not) and counts what arrives.
#include <catch2/catch.hpp>
#include <csignal>
#include <map>
#include <regex>
#include <string>

#include "harness.hpp"

using namespace harness;

namespace {

const std::string kAgent = AGENT_BINARY;
const std::string kHost = "district-scada";
const std::string kStateTopic = "spBv1.0/STATE/" + kHost;

// The host application's STATE body (Sparkplug 3.0).
std::string state(bool online, int64_t timestamp) {
  return std::string("{\"online\": ") + (online ? "true" : "false") +
         ", \"timestamp\": " + std::to_string(timestamp) + "}";
}

AgentOptions host_options(const std::string& url, const std::string& more = "") {
  AgentOptions o;
  o.url = url;
  o.interval = "200ms";
  o.extra_broker = "primary_host = \"" + kHost + "\"\n" + more;
  return o;
}

int count(const std::string& text, const std::string& needle) {
  int n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

// The agent said it waits for the host on a connection, `n` times so far.
bool waited(const Agent& agent, int n) {
  return count(agent.log(), "waiting for primary host " + kHost + ":") >= n;
}

// The batches waiting in the spool, from the last STATUS= line systemd got.
uint64_t status_backlog(NotifySocket& notify, std::string* line = nullptr) {
  static const std::regex waiting("STATUS=(.*), ([0-9]+) batch(es)? waiting");
  const auto all = notify.received();
  for (auto it = all.rbegin(); it != all.rend(); ++it) {
    std::smatch m;
    if (std::regex_search(*it, m, waiting)) {
      if (line) *line = *it;
      return std::stoull(m[2]);
    }
  }
  return 0;
}

// The largest step between consecutive sample times from the first one to `to`.
int64_t largest_gap(const std::map<uint64_t, bool>& samples, uint64_t to) {
  int64_t gap = 0;
  std::optional<uint64_t> prev;
  for (auto& [ts, historical] : samples) {
    if (ts > to) break;
    if (prev) gap = std::max<int64_t>(gap, static_cast<int64_t>(ts - *prev));
    prev = ts;
  }
  return gap;
}

// A host that is away, then back: `retained` STATE (a broker that keeps it),
// or not (a cluster whose retained store is per node: the agent only learns
// what is published while it is subscribed).
void host_outage(bool retained) {
  Mosquitto broker;
  Subscriber host(broker.url());  // the host application: it sees every message
  TempDir dir;
  NotifySocket notify;
  Agent agent(dir.path, host_options(broker.url()));
  agent.start({"NOTIFY_SOCKET=" + notify.path()});
  LogOnFailure show_log(agent);

  // No STATE yet: connected, subscribed, waiting. Nothing is delivered, and
  // `status` says so.
  REQUIRE(wait_until([&] { return waited(agent, 1); }, 15s));
  auto [rc, out] = run_shell(kAgent + " status -c " + agent.config_path());
  CHECK(rc != 0);
  CHECK_THAT(out, Catch::Contains("DEGRADED: waiting for primary host " + kHost));
  CHECK_THAT(out, Catch::Contains("WAITING FOR PRIMARY HOST " + kHost + ": offline since "));
  CHECK_THAT(out, Catch::Contains("no STATE received"));
  // systemd's STATUS= too, with the backlog growing behind it.
  std::string line;
  REQUIRE(wait_until([&] { return status_backlog(notify, &line) >= 5; }, 15s));
  CHECK_THAT(line, Catch::Contains("STATUS=waiting for primary host " + kHost + " on " +
                                   broker.url() + ": offline since "));
  CHECK(host.of_type("NBIRTH").empty());
  CHECK(host.of_type("NDATA").empty());

  // The host comes online: the birth, then what was sampled meanwhile, as history.
  const int64_t online1 = now_ms();
  host.publish(kStateTopic, state(true, online1), 1, retained);
  REQUIRE(host.wait_for("NBIRTH", 1, 10s));
  REQUIRE(wait_until(
      [&] {
        const auto s = uptime_samples(host.messages());
        return !s.empty() && s.rbegin()->first > uint64_t(online1 + 1000);
      },
      15s));

  // The host goes away: its Will carries the timestamp of its birth.
  const int64_t down = now_ms();
  host.publish(kStateTopic, state(false, online1), 1, retained);
  REQUIRE(host.wait_for("NDEATH", 1, 10s));
  // Back on the server, the agent waits again: offline (retained), or no STATE at all.
  REQUIRE(wait_until([&] { return waited(agent, 2); }, 15s));
  // (A retained STATE arrives just after the SUBACK: status shows it then.)
  const std::string said = retained ? "offline (STATE timestamp " + std::to_string(online1) + ")"
                                    : std::string("no STATE received");
  const bool shown = wait_until(
      [&] {
        std::tie(rc, out) = run_shell(kAgent + " status -c " + agent.config_path());
        return rc != 0 && out.find("WAITING FOR PRIMARY HOST " + kHost) != std::string::npos &&
               out.find(said) != std::string::npos;
      },
      5s);
  {
    INFO(out);
    CHECK(shown);
  }
  // The outage lasts until the backlog holds a few seconds of samples.
  REQUIRE(wait_until([&] { return status_backlog(notify) >= 10 && now_ms() - down >= 2000; }, 20s));

  const int64_t up = now_ms();
  host.publish(kStateTopic, state(true, up), 1, retained);
  REQUIRE(host.wait_for("NBIRTH", 2, 10s));
  const bool complete = wait_until(
      [&] {
        auto s = uptime_samples(host.messages());
        return !s.empty() && s.rbegin()->first > uint64_t(up + 1000) &&
               largest_gap(s, up + 1000) <= 300;
      },
      20s);
  const auto samples = uptime_samples(host.messages());
  INFO("largest gap " << largest_gap(samples, up + 1000) << " ms");
  // 0 samples lost: one every 200 ms from the first to after the recovery.
  REQUIRE(complete);

  // Births only while the host is online, and no data between the NDEATH and
  // the next birth.
  const auto all = host.messages();
  int64_t ndeath_at = 0, birth2_at = 0;
  int births = 0;
  for (const Message& m : all) {
    const std::string type = m.type();
    if (type == "NBIRTH") {
      ++births;
      CHECK((m.received_ms >= online1 && (m.received_ms < down || m.received_ms >= up)));
      if (ndeath_at && !birth2_at) birth2_at = m.received_ms;
    }
    if (type == "NDEATH" && !ndeath_at) ndeath_at = m.received_ms;
    if (type == "NDATA" && ndeath_at && !birth2_at) FAIL("NDATA between the NDEATH and the birth");
  }
  CHECK(births == 2);
  REQUIRE(ndeath_at > 0);
  REQUIRE(birth2_at > 0);
  // Sampled while no host was online: delivered later, as history.
  int before = 0, during = 0;
  for (auto& [ts, historical] : samples) {
    if (int64_t(ts) + 300 < online1) {
      ++before;
      CHECK(historical);
    }
    if (int64_t(ts) > ndeath_at + 300 && int64_t(ts) + 300 < up) {
      ++during;
      CHECK(historical);
    }
  }
  CHECK(before >= 3);
  CHECK(during >= (up - ndeath_at) / 200 - 4);
  CHECK_FALSE(samples.rbegin()->second);  // live again
}

}  // namespace

TEST_CASE("Primary host: births wait for STATE online and a host outage loses nothing (retained)") {
  host_outage(true);
}

TEST_CASE("Primary host: the same when STATE is not retained (per-node retained store)") {
  host_outage(false);
}

TEST_CASE(
    "Primary host: online false moves the agent to the next server and a stale Will does not") {
  Mosquitto a, b;
  Subscriber host_a(a.url()), host_b(b.url());
  // The host is online on both servers, with a timestamp per server.
  const int64_t ta = now_ms(), tb = ta + 7;
  host_a.publish(kStateTopic, state(true, ta), 1, true);
  host_b.publish(kStateTopic, state(true, tb), 1, true);
  TempDir dir;
  AgentOptions o = host_options(b.url());
  o.first_server = a.url();
  Agent agent(dir.path, o);
  agent.start();
  LogOnFailure show_log(agent);
  REQUIRE(host_a.wait_for("NBIRTH", 1, 10s));
  REQUIRE(host_a.wait_for("NDATA", 2, 10s));

  // A Will of an earlier session of the host, delivered late: older than the
  // online STATE in force, so ignored.
  host_a.publish(kStateTopic, state(false, ta - 60'000), 1, false);
  REQUIRE(wait_until(
      [&] {
        return agent.log().find("ignored a stale STATE of primary host " + kHost) !=
               std::string::npos;
      },
      10s));
  const size_t ndata = host_a.of_type("NDATA").size();
  REQUIRE(host_a.wait_for("NDATA", ndata + 3, 10s));
  CHECK(host_a.of_type("NDEATH").empty());

  // The host loses server A (its Will there, retained): NDEATH, next server.
  const int64_t down = now_ms();
  host_a.publish(kStateTopic, state(false, ta), 1, true);
  REQUIRE(host_a.wait_for("NDEATH", 1, 10s));
  REQUIRE(host_b.wait_for("NBIRTH", 1, 15s));
  REQUIRE(host_b.wait_for("NDATA", 3, 10s));
  for (const Message& m : host_a.of_type("NBIRTH")) CHECK(m.received_ms < down);
  CHECK(bdseq(host_b.of_type("NBIRTH")[0].decoded) > bdseq(host_a.of_type("NBIRTH")[0].decoded));
  CHECK_THAT(agent.log(),
             Catch::Contains("primary host " + kHost + " is offline (STATE timestamp " +
                             std::to_string(ta) + ")"));
  // Nothing lost in the move: A's and B's data together have every sample.
  auto samples = uptime_samples(host_a.messages());
  for (auto& s : uptime_samples(host_b.messages())) samples.insert(s);
  const uint64_t until = samples.rbegin()->first - 1000;
  REQUIRE(wait_until(
      [&] {
        samples = uptime_samples(host_a.messages());
        for (auto& s : uptime_samples(host_b.messages())) samples.insert(s);
        return largest_gap(samples, until) <= 300;
      },
      15s));
}

TEST_CASE("Primary host: a host that never says online is waited for primary_host_wait") {
  Mosquitto a, b;
  Subscriber host_b(b.url());
  host_b.publish(kStateTopic, state(true, now_ms()), 1, true);  // none on A
  TempDir dir;
  AgentOptions o = host_options(b.url(), "primary_host_wait = \"1s\"\n");
  o.first_server = a.url();
  Agent agent(dir.path, o);
  Subscriber watch_a(a.url());
  agent.start();
  LogOnFailure show_log(agent);
  REQUIRE(host_b.wait_for("NBIRTH", 1, 15s));
  CHECK(watch_a.of_type("NBIRTH").empty());
  const std::string log = agent.log();
  CHECK_THAT(log, Catch::Contains("waiting for primary host " + kHost +
                                  " (at most 1 s, then the next server)"));
  CHECK_THAT(log, Catch::Contains("did not say online within 1 s (primary_host_wait)"));
}

TEST_CASE("Primary host: malformed STATE payloads are logged escaped and change nothing") {
  Mosquitto broker;
  Subscriber host(broker.url());
  host.publish(kStateTopic, state(true, now_ms()), 1, true);
  TempDir dir;
  Agent agent(dir.path, host_options(broker.url()));
  agent.start();
  LogOnFailure show_log(agent);
  REQUIRE(host.wait_for("NDATA", 2, 15s));

  // Eight: the 1st (a terminal escape), 2nd (10 KB), 4th and 8th are logged.
  const std::vector<std::string> bad = {
      std::string("\x1b[31m{\"online\": false}\x00\xff", 24),
      "{\"online\": false, \"pad\": \"" + std::string(10'000, 'x') + "\"}",
      "OFFLINE, maybe",
      "{\"online\": \"no\", \"timestamp\": 1}",
      "{\"online\": false, \"timestamp\": -5}",
      "{\"online\": false, \"timestamp\": 1e3}",
      "null",
      "",
  };
  for (const std::string& body : bad) host.publish(kStateTopic, body, 1, false);
  REQUIRE(wait_until([&] { return agent.log().find("; 8 so far): expected") != std::string::npos; },
                     10s));
  CHECK(count(agent.log(), "ignored a malformed STATE of primary host " + kHost) == 4);
  const size_t ndata = host.of_type("NDATA").size();
  REQUIRE(host.wait_for("NDATA", ndata + 2, 10s));  // still delivering
  CHECK(agent.running());
  CHECK(host.of_type("NDEATH").empty());
  const std::string log = agent.log();
  CHECK_THAT(log, Catch::Contains("\\x1b[31m{\"online\": false}\\x00\\xff"));
  CHECK(log.find('\x1b') == std::string::npos);
  CHECK(log.find('\0') == std::string::npos);
  CHECK_THAT(log, Catch::Contains("(10028 bytes: "));
}

// ---- Primary Host: a retained STATE, a reload naming a host, a host offline everywhere ----

TEST_CASE("Primary host review: a retained online STATE births with no wait and no warning") {
  Mosquitto broker;
  Subscriber host(broker.url());
  host.publish(kStateTopic, state(true, now_ms()), 1, true);
  TempDir dir;
  Agent agent(dir.path, host_options(broker.url()));
  agent.start();
  LogOnFailure show_log(agent);
  REQUIRE(host.wait_for("NBIRTH", 1, 15s));
  REQUIRE(host.wait_for("NDATA", 2, 10s));
  // The host is online and its STATE retained: nothing to wait for, nothing to warn of.
  const std::string log = agent.log();
  CHECK(log.find("waiting for primary host") == std::string::npos);
  CHECK(log.find("W uplink:") == std::string::npos);
}

TEST_CASE("Primary host review: a reload that names a primary host is applied") {
  Mosquitto broker;
  Subscriber host(broker.url());
  TempDir dir;
  AgentOptions o;
  o.url = broker.url();
  o.interval = "200ms";
  Agent agent(dir.path, o);
  agent.start();
  LogOnFailure show_log(agent);
  REQUIRE(host.wait_for("NDATA", 2, 15s));
  // The admin names the district's host application, which has said nothing yet.
  std::string cfg = read_file(agent.config_path());
  const std::string anchor = "retry_max = \"1s\"\n";
  REQUIRE(cfg.find(anchor) != std::string::npos);
  cfg.replace(cfg.find(anchor), anchor.size(), anchor + "primary_host = \"" + kHost + "\"\n");
  write_file(agent.config_path(), cfg);
  agent.signal(SIGHUP);
  REQUIRE(wait_until([&] { return agent.log().find("reloaded") != std::string::npos; }, 10s));
  // No STATE says the host is online: the node must stop and wait for it.
  CHECK(wait_until([&] { return waited(agent, 1); }, 10s));
  auto [rc, out] = run_shell(kAgent + " status -c " + agent.config_path());
  CHECK_THAT(out, Catch::Contains("primary host " + kHost));
}

TEST_CASE("Primary host review: a host offline on every server is not a broker unreachable") {
  Mosquitto a, b;
  Subscriber host_a(a.url()), host_b(b.url());
  const int64_t t = now_ms();
  host_a.publish(kStateTopic, state(false, t), 1, true);
  host_b.publish(kStateTopic, state(false, t), 1, true);
  TempDir dir;
  AgentOptions o = host_options(b.url());
  o.first_server = a.url();
  Agent agent(dir.path, o);
  agent.start();
  LogOnFailure show_log(agent);
  // The agent walks both servers: each is reachable, the host is offline on both.
  REQUIRE(wait_until([&] { return count(agent.log(), "trying the next server") >= 3; }, 20s));
  std::string out;
  const bool misreported = wait_until(
      [&] {
        out = run_shell(kAgent + " status -c " + agent.config_path()).second;
        return out.find("broker unreachable") != std::string::npos;
      },
      5s);
  INFO(out);
  CHECK_FALSE(misreported);
}
