// Connectivity probes against servers whose behaviour the test controls: HTTP
// and HTTPS (python3), DNS (dnsmasq), TCP listeners, an ICMP responder of our
// own in a network namespace. Only loopback and namespaces this run created.
#include <arpa/inet.h>
#include <linux/capability.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <map>
#include <vector>

#include "catalog/catalog.hpp"
#include "log.hpp"
#include "probe_rig.hpp"
#include "probes/dns.hpp"
#include "probes/http.hpp"
#include "probes/icmp.hpp"
#include "probes/runner.hpp"
#include "probes/tcp.hpp"
#include "probes/throughput.hpp"

using namespace harness;
using namespace classroom;
using namespace classroom::drivers::probes;
using namespace std::chrono_literals;

namespace {

// The runner's log, to check what a technician reads.
struct LogFile {
  LogFile() : file(std::tmpfile()), previous(log::level()) {
    log::set_fd(fileno(file));
    log::set_level(log::Level::info);
  }
  ~LogFile() {
    log::set_fd(2);
    log::set_level(previous);
    std::fclose(file);
  }
  std::string text() const {
    std::string out;
    std::rewind(file);
    char buf[4096];
    for (size_t n; (n = std::fread(buf, 1, sizeof buf, file)) > 0;) out.append(buf, n);
    return out;
  }
  std::FILE* file;
  log::Level previous;
};

// A runner with a catalog, drained as the agent's loop would.
struct RunnerRig {
  explicit RunnerRig(const config::Probes& cfg) : runner(cfg, "", [] {}) {
    runner.declare(catalog);
  }
  const Value& value(const std::string& name) {
    auto id = catalog.find(name);
    if (!id) throw std::runtime_error("no metric " + name);
    return catalog.at(*id).value;
  }
  bool measured(const std::string& name) {
    return !std::holds_alternative<std::monostate>(value(name));
  }
  double number(const std::string& name) { return std::get<double>(value(name)); }
  bool flag(const std::string& name) { return std::get<bool>(value(name)); }
  // Waits until `metric` of every probe named in `names` has a value.
  bool wait_all(const std::vector<std::string>& names, const std::string& metric,
                std::chrono::milliseconds timeout) {
    return wait_until(
        [&] {
          runner.drain(catalog);
          for (const auto& n : names)
            if (!measured("Connectivity/" + n + "/" + metric)) return false;
          return true;
        },
        timeout);
  }
  Catalog catalog;
  probes::Runner runner;
};

config::HttpProbe http(const std::string& name, const std::string& url) {
  config::HttpProbe p;
  p.name = name;
  p.url = url;
  p.timeout = 3s;
  p.interval = 60s;
  return p;
}

}  // namespace

TEST_CASE("TCP: a listener answers, a closed port is refused, both are data", "[probes]") {
  SilentPort listener;  // the kernel completes the handshake
  const int closed = free_port();
  config::Probes cfg;
  cfg.tcp.push_back({"Open", "127.0.0.1", listener.port(), 2s, 60s});
  cfg.tcp.push_back({"Closed", "127.0.0.1", closed, 2s, 60s});
  cfg.tcp.push_back({"By Name", "localhost", listener.port(), 2s, 60s});
  LogFile log;
  RunnerRig rig(cfg);
  rig.runner.start();
  REQUIRE(rig.wait_all({"Open", "Closed", "By Name"}, "Success", 10s));
  CHECK(rig.flag("Connectivity/Open/Success"));
  CHECK(rig.number("Connectivity/Open/Connect Time") < 100);
  CHECK(rig.flag("Connectivity/By Name/Success"));
  CHECK_FALSE(rig.flag("Connectivity/Closed/Success"));
  CHECK_FALSE(rig.measured("Connectivity/Closed/Connect Time"));
  rig.runner.stop(2000);
  CHECK(log.text().find("probe Closed (TCP 127.0.0.1:" + std::to_string(closed) +
                        "): connection refused") != std::string::npos);
}

TEST_CASE("HTTP and HTTPS: phases, status, delay, certificates, a silent server", "[probes]") {
  Certificate good("IP:127.0.0.1", 30);
  Certificate other("DNS:other.test", 30);
  auto plain = http_server();
  auto tls = http_server(good.cert, good.key);
  auto wrong = http_server(other.cert, other.key);
  SilentPort silent;
  const std::string h = "http://127.0.0.1:" + std::to_string(plain->port());
  const std::string s = "https://127.0.0.1:" + std::to_string(tls->port());

  config::Probes cfg;
  cfg.concurrency = 8;
  cfg.http.push_back(http("Plain", h + "/ok"));
  cfg.http.push_back(http("Slow", h + "/delay?ms=400"));
  cfg.http.push_back(http("Missing", h + "/status?code=404"));
  auto expect = http("Expect 204", h + "/status?code=204");
  expect.expected_status = 204;
  cfg.http.push_back(expect);
  auto secure = http("Secure", s + "/ok");
  secure.ca_file = good.cert;
  cfg.http.push_back(secure);
  auto mismatch = http("Wrong Name", "https://127.0.0.1:" + std::to_string(wrong->port()) + "/ok");
  mismatch.ca_file = other.cert;
  cfg.http.push_back(mismatch);
  auto hang = http("Hang", "http://127.0.0.1:" + std::to_string(silent.port()) + "/");
  hang.timeout = 1s;
  cfg.http.push_back(hang);

  LogFile log;
  RunnerRig rig(cfg);
  const auto started = std::chrono::steady_clock::now();
  rig.runner.start();
  REQUIRE(rig.wait_all({"Plain", "Slow", "Missing", "Expect 204", "Secure", "Wrong Name", "Hang"},
                       "Success", 15s));
  // The silent server costs its timeout, not more.
  CHECK((std::chrono::steady_clock::now() - started < 5s));

  CHECK(rig.flag("Connectivity/Plain/Success"));
  CHECK(std::get<uint64_t>(rig.value("Connectivity/Plain/Status Code")) == 200);
  CHECK(std::get<uint64_t>(rig.value("Connectivity/Plain/Bytes")) == 5);
  CHECK(rig.number("Connectivity/Plain/TLS Time") == 0.0);
  CHECK(rig.number("Connectivity/Plain/Total Time") < 400);
  CHECK(rig.number("Connectivity/Plain/Connect Time") >= 0);

  // The server waits 400 ms before its answer: that is the time to first byte.
  CHECK(rig.number("Connectivity/Slow/TTFB") >= 400);
  CHECK(rig.number("Connectivity/Slow/TTFB") < 400 + 300);
  CHECK(rig.number("Connectivity/Slow/Total Time") >= rig.number("Connectivity/Slow/TTFB"));

  CHECK_FALSE(rig.flag("Connectivity/Missing/Success"));
  CHECK(std::get<uint64_t>(rig.value("Connectivity/Missing/Status Code")) == 404);
  CHECK(rig.flag("Connectivity/Expect 204/Success"));

  CHECK(rig.flag("Connectivity/Secure/Success"));
  CHECK(rig.number("Connectivity/Secure/TLS Time") > 0);
  // A certificate made for 30 days, a moment ago.
  CHECK(rig.number("Connectivity/Secure/Cert Expiry Days") > 29.9);
  CHECK(rig.number("Connectivity/Secure/Cert Expiry Days") <= 30.0);

  CHECK_FALSE(rig.flag("Connectivity/Wrong Name/Success"));
  CHECK_FALSE(rig.measured("Connectivity/Wrong Name/Status Code"));
  CHECK_FALSE(rig.flag("Connectivity/Hang/Success"));
  CHECK_FALSE(rig.measured("Connectivity/Hang/Total Time"));
  rig.runner.stop(2000);
  const std::string text = log.text();
  INFO(text);
  CHECK(text.find("probe Wrong Name") != std::string::npos);
  CHECK(text.find("subject name") != std::string::npos);  // curl: no name matches
  CHECK(text.find("probe Hang") != std::string::npos);
  CHECK(text.find("Timeout was reached") != std::string::npos);
  CHECK(text.find("probe Missing") != std::string::npos);
  CHECK(text.find("status 404, expected 2xx or 3xx") != std::string::npos);
}

// How often `what` occurs in `text`.
static size_t count_of(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST_CASE("a probe failing the same way each run is logged once, and once when it answers again",
          "[probes]") {
  // Every run times out, and curl's words carry the elapsed milliseconds.
  SilentPort silent;
  auto hang = http("Hang", "http://127.0.0.1:" + std::to_string(silent.port()) + "/");
  hang.timeout = 1s;
  hang.interval = 1s;
  // Refused until the test listens on its port.
  const int later_port = free_port();
  config::Probes cfg;
  cfg.concurrency = 2;
  cfg.http.push_back(hang);
  cfg.tcp.push_back({"Later", "127.0.0.1", later_port, 500ms, 1s});
  LogFile log;
  RunnerRig rig(cfg);
  rig.runner.start();
  int64_t last_ts = 0;
  int hang_runs = 0;
  auto hang_ran = [&] {
    rig.runner.drain(rig.catalog);
    const int64_t ts = rig.catalog.at(*rig.catalog.find("Connectivity/Hang/Success")).ts_ms;
    if (rig.measured("Connectivity/Hang/Success") && ts != last_ts) ++hang_runs, last_ts = ts;
    return hang_runs;
  };
  REQUIRE(wait_until([&] { return hang_ran() >= 4; }, 15s));
  REQUIRE_FALSE(rig.flag("Connectivity/Later/Success"));

  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(later_port));
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(::listen(fd, 16) == 0);
  REQUIRE(wait_until(
      [&] {
        hang_ran();
        return rig.flag("Connectivity/Later/Success");
      },
      10s));
  rig.runner.stop(2000);
  ::close(fd);
  const std::string text = log.text();
  INFO(text);
  CHECK(count_of(text, " W probes: probe Hang (") == 1);
  CHECK(count_of(text, "Timeout was reached") == 1);
  CHECK(count_of(text, " W probes: probe Later (") == 1);
  CHECK(count_of(text, " I probes: probe Later (TCP 127.0.0.1:" + std::to_string(later_port) +
                           "): answering again") == 1);
}

TEST_CASE("insecure = true is logged at warning on every start", "[probes]") {
  config::Probes cfg;
  auto p = http("Lax", "https://127.0.0.1:1/");
  p.insecure = true;
  cfg.http.push_back(p);
  LogFile log;
  probes::Runner runner(cfg, "", [] {});
  CHECK(log.text().find(" W probes: probe Lax: certificate verification is OFF") !=
        std::string::npos);
}

TEST_CASE("DNS: an answer, NXDOMAIN, SERVFAIL and a timeout, told apart", "[probes]") {
  Dnsmasq dns;
  SilentUdpPort silent;
  PortServer servfail({"dns-servfail"}, "servfail");
  const std::string server = "127.0.0.1:" + std::to_string(dns.port());
  config::Probes cfg;
  cfg.concurrency = 8;
  cfg.dns.push_back({"Known", "known.test", server, false, 2s, 60s});
  cfg.dns.push_back({"Two", "two.test", server, false, 2s, 60s});
  cfg.dns.push_back({"No Such", "missing.nx.test", server, false, 2s, 60s});
  cfg.dns.push_back({"No AAAA", "two.test", server, true, 2s, 60s});
  cfg.dns.push_back(
      {"Fail", "any.test", "127.0.0.1:" + std::to_string(servfail.port()), false, 2s, 60s});
  cfg.dns.push_back(
      {"Silent", "known.test", "127.0.0.1:" + std::to_string(silent.port()), false, 500ms, 60s});
  LogFile log;
  RunnerRig rig(cfg);
  rig.runner.start();
  REQUIRE(rig.wait_all({"Known", "Two", "No Such", "No AAAA", "Fail", "Silent"}, "Success", 10s));
  CHECK(rig.flag("Connectivity/Known/Success"));
  CHECK(std::get<uint64_t>(rig.value("Connectivity/Known/Answers")) == 1);
  CHECK(rig.number("Connectivity/Known/Resolve Time") < 200);
  CHECK(std::get<uint64_t>(rig.value("Connectivity/Two/Answers")) == 2);
  CHECK_FALSE(rig.flag("Connectivity/No Such/Success"));
  CHECK_FALSE(rig.flag("Connectivity/No AAAA/Success"));
  CHECK_FALSE(rig.flag("Connectivity/Fail/Success"));
  CHECK_FALSE(rig.flag("Connectivity/Silent/Success"));
  CHECK_FALSE(rig.measured("Connectivity/Silent/Resolve Time"));
  rig.runner.stop(2000);
  const std::string text = log.text();
  INFO(text);
  CHECK(text.find("probe No Such (DNS missing.nx.test): NXDOMAIN") != std::string::npos);
  CHECK(text.find("probe Fail (DNS any.test): SERVFAIL") != std::string::npos);
  CHECK(text.find("probe Silent (DNS known.test): timeout: no answer within 500 ms") !=
        std::string::npos);
  CHECK(text.find("probe No AAAA (DNS two.test): no AAAA record") != std::string::npos);
}

TEST_CASE("ICMP: RTT, jitter and loss match a responder with known delay, jitter and loss",
          "[probes][netns]") {
  NetNs ns;
  // 60 ms +/- 15 ms in turn; every 5th request answered after 800 ms, past the
  // 500 ms timeout (a late reply never counts); each request also gets an
  // instant reply with another identifier (another process's echo).
  IcmpResponder responder(ns, 60, 15, 5, 800);
  config::Probes cfg;
  cfg.icmp.push_back({"Gateway", "127.0.0.1", 20, 50ms, 500ms, 60s});
  cfg.icmp.push_back({"Nowhere", "10.99.99.99", 3, 50ms, 300ms, 60s});  // no route
  LogFile log;
  RunnerRig rig(cfg);
  ns.run_inside([&] { rig.runner.start(); });  // the probe thread lives in the namespace
  REQUIRE(rig.wait_all({"Gateway", "Nowhere"}, "Loss", 15s));
  // Expected: loss 20 % exactly, RTT avg 60 ms, jitter 30 ms (consecutive
  // replies differ by 2 x 15 ms), min 45 ms. Tolerance 10 ms: scheduling on a
  // shared 2-core machine delays a reply now and then (never makes it early).
  CHECK(rig.number("Connectivity/Gateway/Loss") == 20.0);
  CHECK(rig.number("Connectivity/Gateway/RTT Avg") == Approx(60).margin(10));
  CHECK(rig.number("Connectivity/Gateway/Jitter") == Approx(30).margin(10));
  CHECK(rig.number("Connectivity/Gateway/RTT Min") == Approx(45).margin(10));
  CHECK(rig.number("Connectivity/Gateway/RTT Max") >= 74);
  CHECK(rig.flag("Connectivity/Gateway/Reachable"));
  CHECK(responder.requests() == 20);

  CHECK(rig.number("Connectivity/Nowhere/Loss") == 100.0);
  CHECK_FALSE(rig.flag("Connectivity/Nowhere/Reachable"));
  CHECK_FALSE(rig.measured("Connectivity/Nowhere/RTT Avg"));
  rig.runner.stop(2000);
  CHECK(log.text().find("probe Nowhere (ping 10.99.99.99): network unreachable") !=
        std::string::npos);
}

TEST_CASE("ICMP: IPv6, the datagram socket where allowed, a clear message where nothing is",
          "[probes][netns]") {
  NetNs ns;
  // Kernel echo replies stay on here. Raw socket (root has CAP_NET_RAW; the
  // namespace's ping_group_range is the kernel's default "1 0", nobody).
  ns.run_inside([&] {
    IcmpProbe v6({"::1", 3, 20, 500});
    auto r = std::get<IcmpResult>(drive(v6));
    CHECK(r.error.empty());
    CHECK(r.received == 3);
    CHECK(v6.socket_kind() == IcmpSocket::raw);
  });
  ns.sysctl("net.ipv4.ping_group_range=0 0");
  ns.run_inside([&] {
    for (const char* target : {"127.0.0.1", "::1"}) {
      IcmpProbe p({target, 3, 20, 500});
      auto r = std::get<IcmpResult>(drive(p));
      INFO(target << ": " << r.error);
      CHECK(r.received == 3);
      CHECK(p.socket_kind() == IcmpSocket::datagram);
    }
  });
  ns.sysctl("net.ipv4.ping_group_range=1 0");
  ns.run_inside([&] {
    // This thread only: no CAP_NET_RAW (capabilities are per thread).
    __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[2]{};
    REQUIRE(syscall(SYS_capget, &hdr, data) == 0);
    data[CAP_NET_RAW / 32].effective &= ~(1u << (CAP_NET_RAW % 32));
    REQUIRE(syscall(SYS_capset, &hdr, data) == 0);
    IcmpProbe p({"127.0.0.1", 1, 20, 200});
    auto r = std::get<IcmpResult>(drive(p));
    CHECK(r.received == 0);
    CHECK(r.loss_percent() == 100.0);
    CHECK(r.error.find("ping_group_range is \"1 0\"") != std::string::npos);
    CHECK(r.error.find("CAP_NET_RAW") != std::string::npos);
  });
}

TEST_CASE("throughput: the rate of a server that sends at a known rate", "[probes]") {
  auto server = http_server();
  const std::string base = "http://127.0.0.1:" + std::to_string(server->port());
  // 1 MB at 500 kB/s: 2 s, 4 Mbit/s.
  ThroughputProbe down(
      {base + "/bytes?n=1000000&rate=500000", base + "/upload", "", 1'000'000, 10'000});
  auto r = std::get<ThroughputResult>(drive(down));
  INFO(r.error);
  REQUIRE(r.success);
  CHECK(*r.download_mbit_s == Approx(4.0).epsilon(0.15));
  CHECK(r.bytes == 2'000'000);  // down and up
  REQUIRE(r.upload_mbit_s);
  CHECK(*r.upload_mbit_s > 0);
  CHECK(*r.duration_s >= 2.0);

  // max_bytes stops a larger file; max_time stops a slow one: both are results.
  ThroughputProbe capped({base + "/bytes?n=5000000&rate=5000000", "", "", 300'000, 10'000});
  auto c = std::get<ThroughputResult>(drive(capped));
  INFO(c.error);
  CHECK(c.success);
  CHECK(c.bytes == 300'000);
  ThroughputProbe slow({base + "/bytes?n=5000000&rate=200000", "", "", 5'000'000, 1'000});
  auto t = std::get<ThroughputResult>(drive(slow));
  INFO(t.error);
  CHECK(t.success);
  CHECK(*t.download_mbit_s == Approx(1.6).epsilon(0.2));
  CHECK(*t.duration_s < 1.5);
}

TEST_CASE("the agent keeps its 1 s grid while a probe hangs, and stops without waiting for it",
          "[probes]") {
  BrokerRig broker_rig;
  auto& [broker, sub, dir] = broker_rig;
  SilentPort silent;
  AgentOptions o;
  o.url = broker.url();
  o.interval = "1s";
  o.extra = "[[probes.http]]\nname = \"Hung\"\nurl = \"http://127.0.0.1:" +
            std::to_string(silent.port()) +
            "/\"\ntimeout = \"4s\"\ninterval = \"5s\"\n"
            "[[probes.tcp]]\nname = \"Hung TCP\"\ntarget = \"127.0.0.1:" +
            std::to_string(silent.port()) + "\"\ninterval = \"5s\"\n";
  Agent agent(dir.path, o);
  agent.start();
  LogOnFailure show(agent);
  // Wait for the hung probe's failure to be published.
  uint64_t alias = 0;
  REQUIRE(wait_until(
      [&] {
        auto births = sub.of_type("NBIRTH");
        if (births.empty()) return false;
        alias = alias_in_birth(births.back().decoded, "Connectivity/Hung/Success").value_or(0);
        for (const auto& m : sub.of_type("NDATA"))
          if (const auto* x = find_metric(m.decoded, "", alias); x && alias && !x->boolean_value())
            return true;
        return false;
      },
      20s));
  const auto births = sub.of_type("NBIRTH");
  const auto up = alias_in_birth(births.back().decoded, "System/Uptime");
  REQUIRE(up);
  // The first sample is taken at the start (to declare the metrics), the
  // others on the grid. A loop that waited on the hung probe would take no
  // sample for up to its 4 s timeout; a loaded machine may delay one by a
  // fraction of a second, so the check is on gaps and on most samples.
  const uint64_t first = find_metric(births.front().decoded, "System/Uptime", 0)->timestamp();
  std::vector<uint64_t> stamps;
  for (const auto& m : sub.of_type("NDATA"))
    if (const auto* x = find_metric(m.decoded, "", *up); x && x->timestamp() != first)
      stamps.push_back(x->timestamp());
  std::sort(stamps.begin(), stamps.end());
  REQUIRE(stamps.size() >= 4);
  size_t on_grid = 0;
  for (size_t i = 0; i < stamps.size(); ++i) {
    INFO("sample at " << stamps[i]);
    if (stamps[i] % 1000 <= 100) ++on_grid;  // no later than its slot by more than 100 ms
    if (i > 0) CHECK(stamps[i] - stamps[i - 1] <= 2000);
  }
  CHECK(on_grid * 4 >= stamps.size() * 3);
  CHECK(agent.log().find("probe Hung (http://127.0.0.1:") != std::string::npos);

  // SIGTERM while the next run hangs: the agent does not wait for it.
  REQUIRE(wait_until([&] { return agent.log().find("probe Hung") != std::string::npos; }, 5s));
  const auto t0 = std::chrono::steady_clock::now();
  agent.signal(SIGTERM);
  REQUIRE(agent.wait_exit(10s) == 0);
  CHECK((std::chrono::steady_clock::now() - t0 < 4s));
}

namespace {

// The last value of `name` the subscriber saw: in a birth, or by alias in a
// data message after that birth. Null values are skipped.
std::optional<Payload::Metric> latest(Subscriber& sub, const std::string& name) {
  std::optional<Payload::Metric> last;
  uint64_t alias = 0;
  for (const auto& m : sub.messages()) {
    const std::string type = m.type();
    const Payload::Metric* x = nullptr;
    if (type == "NBIRTH") {
      alias = alias_in_birth(m.decoded, name).value_or(0);
      x = find_metric(m.decoded, name, 0);
    } else if (type == "NDATA" && alias) {
      x = find_metric(m.decoded, "", alias);
    }
    if (x && !x->is_null()) last = *x;
  }
  return last;
}

// A POSIX TZ whose local time is `local_s` seconds after midnight at wall
// time `wall_s` (seconds): "TST-hh:mm:ss" is east of UTC.
std::string tz_at(int64_t wall_s, int64_t local_s) {
  int64_t offset = ((local_s - wall_s) % 86400 + 86400) % 86400;
  if (offset > 43200) offset -= 86400;
  const int64_t a = offset < 0 ? -offset : offset;
  char tz[48];
  std::snprintf(tz, sizeof tz, "TST%c%02d:%02d:%02d", offset < 0 ? '+' : '-',
                static_cast<int>(a / 3600), static_cast<int>(a / 60 % 60),
                static_cast<int>(a % 60));
  return tz;
}

int64_t wall_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

TEST_CASE("throughput in the running agent: a window that covers now, budget kept across a restart",
          "[probes]") {
  BrokerRig broker_rig;
  auto& [broker, sub, dir] = broker_rig;
  auto server = http_server();
  // 1 000 000 bytes at 500 000 B/s: 2 s, 4 Mbit/s.
  const std::string url =
      "http://127.0.0.1:" + std::to_string(server->port()) + "/bytes?n=1000000&rate=500000";
  auto options = [&](int per_day) {
    AgentOptions o;
    o.url = broker.url();
    o.interval = "1s";
    o.extra = "[[probes.throughput]]\nname = \"Uplink\"\nurl = \"" + url +
              "\"\nmax_bytes = \"1000000B\"\nmax_time = \"10s\"\n"
              "windows = [\"Mon-Sun 11:59-12:00\"]\nper_day = " +
              std::to_string(per_day) + "\nmonthly_budget = \"10MiB\"\n";
    return o;
  };
  // The agent's local time (its TZ, no test hook) starts 8 s before the end
  // of the one-minute window: the random moment comes within 8 s.
  const int64_t t0 = wall_seconds();
  const std::string tz = tz_at(t0, 11 * 3600 + 59 * 60 + 52);
  // One run, then 1 000 000 + 65 536 (headers, TLS) of 10 MiB are used.
  const double one_run = 100.0 * (1'000'000 + 65'536) / (10 << 20);
  {
    Agent agent(dir.path, options(1));
    agent.start({"TZ=" + tz});
    LogOnFailure show(agent);
    REQUIRE(wait_until([&] { return latest(sub, "Connectivity/Uplink/Download Rate").has_value(); },
                       25s));
    REQUIRE(wait_until(
        [&] {
          auto b = latest(sub, "Connectivity/Uplink/Budget Used");
          return b && b->double_value() > 0;
        },
        5s));
    CHECK(latest(sub, "Connectivity/Uplink/Download Rate")->double_value() ==
          Approx(4.0).epsilon(0.15));
    CHECK(latest(sub, "Connectivity/Uplink/Bytes")->long_value() == 1'000'000);
    CHECK(latest(sub, "Connectivity/Uplink/Duration")->double_value() >= 1.9);
    CHECK(latest(sub, "Connectivity/Uplink/Duration")->double_value() < 4.0);
    CHECK(latest(sub, "Connectivity/Uplink/Success")->boolean_value());
    CHECK(latest(sub, "Connectivity/Uplink/Budget Used")->double_value() ==
          Approx(one_run).epsilon(1e-6));
    agent.signal(SIGTERM);
    REQUIRE(agent.wait_exit(10s) == 0);
  }
  // The counters are in the state dir.
  bool found = false;
  for (const auto& e : std::filesystem::directory_iterator(dir.path + "/state/probes"))
    found |= e.path().extension() == ".throughput";
  REQUIRE(found);

  // Restarted at the same local moment of the same day (the wall clock went
  // on; the TZ goes back by as much), allowed a second run today: the birth
  // carries the month's budget used so far, and the second run adds to it.
  const size_t births = sub.of_type("NBIRTH").size();
  const std::string tz2 = tz_at(wall_seconds(), 11 * 3600 + 59 * 60 + 52);
  Agent again(dir.path, options(2));
  again.start({"TZ=" + tz2});
  LogOnFailure show(again);
  REQUIRE(wait_until([&] { return sub.of_type("NBIRTH").size() > births; }, 10s));
  CHECK(latest(sub, "Connectivity/Uplink/Budget Used")->double_value() ==
        Approx(one_run).epsilon(1e-6));
  REQUIRE(wait_until(
      [&] {
        auto b = latest(sub, "Connectivity/Uplink/Budget Used");
        return b && b->double_value() > one_run * 1.5;
      },
      25s));
  CHECK(latest(sub, "Connectivity/Uplink/Budget Used")->double_value() ==
        Approx(2 * one_run).epsilon(1e-6));
  CHECK(latest(sub, "Connectivity/Uplink/Download Rate")->double_value() ==
        Approx(4.0).epsilon(0.15));
  again.signal(SIGTERM);
  REQUIRE(again.wait_exit(10s) == 0);
}

TEST_CASE("once runs every probe once, bounded by its timeout, and prints the results",
          "[probes]") {
  SilentPort silent;
  const int closed = free_port();
  auto server = http_server();
  Dnsmasq dns;
  TempDir dir;
  AgentOptions o;
  o.url = "tcp://127.0.0.1:1";  // once needs no broker
  o.extra =
      "[[probes.tcp]]\nname = \"Open\"\ntarget = \"127.0.0.1:" + std::to_string(silent.port()) +
      "\"\n"
      "[[probes.tcp]]\nname = \"Closed\"\ntarget = \"127.0.0.1:" +
      std::to_string(closed) +
      "\"\n"
      "[[probes.http]]\nname = \"Portal\"\nurl = \"http://127.0.0.1:" +
      std::to_string(server->port()) +
      "/ok\"\n"
      "[[probes.http]]\nname = \"Hung\"\nurl = \"http://127.0.0.1:" +
      std::to_string(silent.port()) +
      "/\"\ntimeout = \"1s\"\n"
      "[[probes.dns]]\nname = \"Known\"\nquery = \"known.test\"\nserver = \"127.0.0.1:" +
      std::to_string(dns.port()) +
      "\"\n"
      "[[probes.throughput]]\nname = \"Uplink\"\nurl = \"http://127.0.0.1:" +
      std::to_string(server->port()) +
      "/bytes?n=1000&rate=1000000\"\nwindows = [\"Mon-Sun 00:00-24:00\"]\n";
  Agent agent(dir.path, o);  // writes the config; never started
  const auto t0 = std::chrono::steady_clock::now();
  auto [rc, out] = run_shell(std::string(AGENT_BINARY) + " once -c " + agent.config_path());
  const auto took = std::chrono::steady_clock::now() - t0;
  INFO(out);
  CHECK(rc == 0);  // a probe's failure is data, not a failure of once
  // The hung server costs its 1 s timeout, not more (and the sources' 0.5 s).
  CHECK((took < 4s));
  CHECK(out.find("System/Uptime = ") != std::string::npos);
  CHECK(out.find("Connectivity/Open/Success = true\n") != std::string::npos);
  CHECK(out.find("Connectivity/Open/Connect Time = ") != std::string::npos);
  CHECK(out.find("# probe Open (TCP 127.0.0.1:" + std::to_string(silent.port()) + "): ok\n") !=
        std::string::npos);
  CHECK(out.find("Connectivity/Closed/Success = false\n") != std::string::npos);
  CHECK(out.find("# probe Closed (TCP 127.0.0.1:" + std::to_string(closed) +
                 "): connection refused") != std::string::npos);
  CHECK(out.find("Connectivity/Portal/Status Code = 200\n") != std::string::npos);
  CHECK(out.find("Connectivity/Portal/Bytes = 5 B\n") != std::string::npos);
  CHECK(out.find("Connectivity/Hung/Success = false\n") != std::string::npos);
  CHECK(out.find("# probe Hung (http://127.0.0.1:") != std::string::npos);
  CHECK(out.find("Timeout was reached") != std::string::npos);
  CHECK(out.find("Connectivity/Known/Answers = 1\n") != std::string::npos);
  CHECK(out.find("# probe Uplink (throughput http://127.0.0.1:") != std::string::npos);
  CHECK(out.find("not run by once") != std::string::npos);
  CHECK(out.find("0.0 % of this month's budget used") != std::string::npos);
  CHECK(out.find("Connectivity/Uplink/") == std::string::npos);  // not run: nothing to print
}

TEST_CASE("a failing probe keeps its interval, and runs wait for a free place", "[probes]") {
  const int closed = free_port();
  SilentPort silent;
  config::Probes cfg;
  cfg.concurrency = 1;
  // Refused at once, every second: failure is data, not a reason to back off.
  cfg.tcp.push_back({"Refused", "127.0.0.1", closed, 500ms, 1s});
  // Two runs that each hang for their 1 s timeout, one place: one after the other.
  auto first = http("Hang 1", "http://127.0.0.1:" + std::to_string(silent.port()) + "/");
  first.timeout = 1s;
  auto second = first;
  second.name = "Hang 2";
  cfg.http.push_back(first);
  cfg.http.push_back(second);
  RunnerRig rig(cfg);
  std::map<std::string, std::vector<std::chrono::steady_clock::time_point>> results;
  const auto t0 = std::chrono::steady_clock::now();
  rig.runner.start();
  // Each drained result, by probe, at the moment the loop took it.
  auto take = [&] {
    Catalog& c = rig.catalog;
    std::vector<std::pair<std::string, int64_t>> before;
    for (const char* n : {"Refused", "Hang 1", "Hang 2"})
      before.emplace_back(n, c.at(*c.find(std::string("Connectivity/") + n + "/Success")).ts_ms);
    rig.runner.drain(c);
    for (const auto& [n, ts] : before)
      if (c.at(*c.find("Connectivity/" + n + "/Success")).ts_ms != ts)
        results[n].push_back(std::chrono::steady_clock::now());
  };
  REQUIRE(wait_until(
      [&] {
        take();
        return results["Refused"].size() >= 4 && results["Hang 2"].size() >= 1;
      },
      10s));
  rig.runner.stop(2000);
  CHECK_FALSE(rig.flag("Connectivity/Refused/Success"));
  // Four refused runs within 4.5 s: every second (a slot may wait for the
  // place a hung run holds), no backoff (a doubling one: 0, 1, 3, 7 s).
  CHECK((results["Refused"][3] - t0 < 4500ms));
  // With one place, the second hung run started only when the first ended
  // (the TCP probe's short runs share the place too).
  REQUIRE(results["Hang 1"].size() >= 1);
  CHECK((results["Hang 2"][0] - results["Hang 1"][0] >= 900ms));
}

// ---- Node Control/Probe Now: a host asks for a run at once ----

TEST_CASE("Probe Now runs a probe at once by name or all with * and an unknown name is refused",
          "[probes]") {
  BrokerRig broker_rig;
  auto& [broker, sub, dir] = broker_rig;
  auto open = std::make_unique<SilentPort>();  // takes TCP connections, says nothing
  const int port = open->port();
  AgentOptions o;
  o.url = broker.url();
  // Every hour: only its first run (at the start) comes by itself in this test.
  o.extra = "[[probes.tcp]]\nname = \"Gateway\"\ntarget = \"127.0.0.1:" + std::to_string(port) +
            "\"\ninterval = \"1h\"\ntimeout = \"1s\"\n";
  Agent agent(dir.path, o);
  agent.start();
  LogOnFailure show(agent);
  const std::string ncmd = "spBv1.0/school-test/NCMD/room-1";
  REQUIRE(wait_until(
      [&] {
        auto s = latest(sub, "Connectivity/Gateway/Success");
        return s && s->boolean_value();
      },
      20s));
  // The port closes: only a new run can tell.
  open.reset();
  sub.publish(ncmd, command("Node Control/Probe Now", std::string("Gateway")).SerializeAsString());
  REQUIRE(wait_until(
      [&] {
        auto s = latest(sub, "Connectivity/Gateway/Success");
        return s && !s->boolean_value();
      },
      5s));
  // The port listens again (a listener of the test's own); "*" runs every probe.
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(::listen(fd, 4) == 0);
  sub.publish(ncmd, command("Node Control/Probe Now", std::string("*")).SerializeAsString());
  const bool answered = wait_until(
      [&] {
        auto s = latest(sub, "Connectivity/Gateway/Success");
        return s && s->boolean_value();
      },
      5s);
  ::close(fd);
  REQUIRE(answered);
  // A name no probe has: refused, said once.
  sub.publish(ncmd, command("Node Control/Probe Now", std::string("Nothing")).SerializeAsString());
  REQUIRE(wait_until(
      [&] {
        return agent.log().find(
                   "refused the command Node Control/Probe Now = \"Nothing\": no "
                   "probe has that name") != std::string::npos;
      },
      5s));
  const std::string log = agent.log();
  CHECK_THAT(log,
             Catch::Contains("command Node Control/Probe Now = \"Gateway\": 1 probe to run now"));
  CHECK_THAT(log, Catch::Contains("command Node Control/Probe Now = \"*\": 1 probe to run now"));
  CHECK(sub.of_type("NBIRTH").size() == 1);
}

TEST_CASE("Probe Now runs a throughput probe outside its window only within its budget",
          "[probes]") {
  BrokerRig broker_rig;
  auto& [broker, sub, dir] = broker_rig;
  auto server = http_server();
  AgentOptions o;
  o.url = broker.url();
  o.interval = "1s";
  // 100 000 bytes at 1 000 000 B/s; a window hours away; one run a day.
  o.extra = "[[probes.throughput]]\nname = \"Uplink\"\nurl = \"http://127.0.0.1:" +
            std::to_string(server->port()) +
            "/bytes?n=100000&rate=1000000\"\nmax_bytes = \"100000B\"\nmax_time = \"10s\"\n"
            "windows = [\"Mon-Sun 03:00-03:01\"]\nper_day = 1\nmonthly_budget = \"10MiB\"\n";
  Agent agent(dir.path, o);
  agent.start({"TZ=" + tz_at(wall_seconds(), 12 * 3600)});  // local noon
  LogOnFailure show(agent);
  REQUIRE(sub.wait_for("NDATA", 1, 20s));
  CHECK(latest(sub, "Connectivity/Uplink/Budget Used")->double_value() == 0.0);
  CHECK_FALSE(latest(sub, "Connectivity/Uplink/Download Rate"));  // not its time
  const std::string ncmd = "spBv1.0/school-test/NCMD/room-1";
  sub.publish(ncmd, command("Node Control/Probe Now", std::string("Uplink")).SerializeAsString());
  REQUIRE(wait_until(
      [&] {
        auto b = latest(sub, "Connectivity/Uplink/Budget Used");
        return b && b->double_value() > 0;
      },
      15s));
  REQUIRE(latest(sub, "Connectivity/Uplink/Bytes"));
  CHECK(latest(sub, "Connectivity/Uplink/Bytes")->long_value() == 100'000);
  CHECK(latest(sub, "Connectivity/Uplink/Success")->boolean_value());
  const double used = latest(sub, "Connectivity/Uplink/Budget Used")->double_value();
  // A second one today is over per_day: refused by the probe thread, said why.
  sub.publish(ncmd, command("Node Control/Probe Now", std::string("Uplink")).SerializeAsString());
  REQUIRE(wait_until(
      [&] {
        return agent.log().find(
                   "probe Uplink: not run now as a host asked: already ran 1 time "
                   "today") != std::string::npos;
      },
      10s));
  const size_t data = sub.of_type("NDATA").size();
  REQUIRE(sub.wait_for("NDATA", data + 2, 10s));
  CHECK(latest(sub, "Connectivity/Uplink/Budget Used")->double_value() == used);
}
