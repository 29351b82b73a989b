// The probe runner on a fake clock, driven turn by turn on the test's thread.
// The probes are real: TCP connects and DNS queries to sockets of the test's
// own on 127.0.0.1, so what is asserted is what the runner made them do.
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "../log_capture.hpp"
#include "catalog/catalog.hpp"
#include "clock.hpp"
#include "probes/probe.hpp"
#include "probes/runner.hpp"

using namespace classroom;
using namespace std::chrono_literals;

namespace {

constexpr int64_t kStart = 1'700'000'000'000;  // on the grid of every interval below

// A socket of the test's own on 127.0.0.1 (TCP or UDP), on a port the kernel picks.
struct LoopbackSocket {
  int fd = -1;
  int port = 0;
  explicit LoopbackSocket(int type) {
    fd = ::socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    socklen_t len = sizeof a;
    REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
    port = ntohs(a.sin_port);
  }
  ~LoopbackSocket() { ::close(fd); }
  LoopbackSocket(const LoopbackSocket&) = delete;
  LoopbackSocket& operator=(const LoopbackSocket&) = delete;

  void listen() { REQUIRE(::listen(fd, 16) == 0); }
  // TCP: connections accepted so far (each closed at once).
  int accept_all() {
    int n = 0;
    for (int c; (c = ::accept(fd, nullptr, nullptr)) >= 0; ++n) ::close(c);
    return n;
  }
  // UDP: the question name of each DNS query received so far ("a.test"); never answered.
  std::vector<std::string> queries() {
    std::vector<std::string> names;
    unsigned char buf[512];
    for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 12;) {
      std::string name;
      for (size_t at = 12; at < static_cast<size_t>(n) && buf[at] != 0; at += buf[at] + 1u) {
        if (!name.empty()) name += '.';
        name.append(reinterpret_cast<const char*>(buf + at + 1),
                    std::min<size_t>(buf[at], static_cast<size_t>(n) - at - 1));
      }
      names.push_back(name);
    }
    return names;
  }
};

// Turns the runner (each turn waits at most 20 ms for a socket) until `done`
// holds; false when it does not within 5 s.
bool turn_until(probes::Runner& runner, const std::function<bool()>& done) {
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (std::chrono::steady_clock::now() < deadline) {
    runner.turn(20);
    if (done()) return true;
  }
  return false;
}

const CatalogEntry& metric(const Catalog& catalog, const std::string& name) {
  const auto id = catalog.find(name);
  REQUIRE(id);
  return catalog.at(*id);
}

config::TcpProbe tcp(std::string name, int port, std::chrono::milliseconds interval) {
  return config::TcpProbe{std::move(name), "127.0.0.1", port, 3000ms, interval};
}

config::DnsProbe dns(const std::string& name, int port) {
  // A timeout no real clock reaches during the test: only the fake one ends it.
  return config::DnsProbe{name,  name + ".test", "127.0.0.1:" + std::to_string(port),
                          false, 30'000ms,       60'000ms};
}

// A probe whose run never ends by itself: it waits on nothing and has no
// timeout of its own, so only the runner's hard deadline ends it. Its result
// is a TCP probe's, failed for the reason it was aborted.
struct WedgedProbe final : drivers::probes::Probe {
  static constexpr int64_t kBudgetMs = 3000;
  int& starts;
  bool ended = false;
  std::string why;

  explicit WedgedProbe(int& s) : starts(s) {}
  void start(drivers::probes::Context&, int64_t) override {
    ++starts;
    ended = false;
    why.clear();
  }
  void wants(std::vector<drivers::probes::Wait>&) const override {}
  void on_ready(int, short, int64_t) override {}
  void on_time(int64_t) override {}
  int64_t next_wake() const override { return drivers::probes::kNever; }
  bool done() const override { return ended; }
  void abort(std::string_view reason, int64_t) override {
    ended = true;
    why = std::string(reason);
  }
  drivers::probes::Result result() const override {
    drivers::probes::TcpResult r;
    r.error = why;
    return r;
  }
  int64_t budget_ms() const override { return kBudgetMs; }
};

}  // namespace

TEST_CASE("probe runner: a probe runs at once and then on its interval's grid") {
  LogCapture logs;
  FakeClock clock{kStart};
  LoopbackSocket server(SOCK_STREAM);
  server.listen();
  config::Probes cfg;
  cfg.tcp = {tcp("web", server.port, 10s)};
  probes::Runner runner(
      cfg, "", [] {}, clock);
  Catalog catalog;
  runner.declare(catalog);

  int runs = 0;
  size_t results = 0;
  auto result_count = [&](size_t n) {
    return [&, n] {
      results += runner.drain(catalog);
      runs += server.accept_all();
      return results >= n;
    };
  };
  REQUIRE(turn_until(runner, result_count(1)));
  CHECK(runs == 1);
  CHECK(std::get<bool>(metric(catalog, "Connectivity/web/Success").value));
  CHECK(metric(catalog, "Connectivity/web/Success").ts_ms == kStart);  // stamped with its start
  CHECK(std::holds_alternative<double>(metric(catalog, "Connectivity/web/Connect Time").value));

  // Not again before its next slot, however often the loop turns.
  clock.advance(9'999);
  for (int i = 0; i < 5; ++i) runner.turn(0);
  CHECK(runner.drain(catalog) == 0);
  CHECK(server.accept_all() == 0);

  clock.advance(1);
  REQUIRE(turn_until(runner, result_count(2)));
  CHECK(runs == 2);
  CHECK(metric(catalog, "Connectivity/web/Success").ts_ms == kStart + 10'000);

  // A wall-clock jump over several slots runs it once, on the grid again.
  clock.advance(35'000);
  REQUIRE(turn_until(runner, result_count(3)));
  CHECK(runs == 3);
  CHECK(metric(catalog, "Connectivity/web/Success").ts_ms == kStart + 45'000);
  clock.advance(4'999);
  for (int i = 0; i < 5; ++i) runner.turn(0);
  CHECK(runner.drain(catalog) == 0);
  clock.advance(1);
  REQUIRE(turn_until(runner, result_count(4)));
  CHECK(metric(catalog, "Connectivity/web/Success").ts_ms == kStart + 50'000);
}

TEST_CASE("probe runner: at most concurrency runs at once and a silent server times out") {
  LogCapture logs;
  FakeClock clock{kStart};
  LoopbackSocket silent(SOCK_DGRAM);  // receives queries, answers none
  config::Probes cfg;
  cfg.concurrency = 1;
  cfg.dns = {dns("first", silent.port), dns("second", silent.port)};
  probes::Runner runner(
      cfg, "", [] {}, clock);
  Catalog catalog;
  runner.declare(catalog);

  std::vector<std::string> asked;
  auto asked_for = [&](size_t n) {
    return [&, n] {
      for (std::string& q : silent.queries()) asked.push_back(std::move(q));
      return asked.size() >= n;
    };
  };
  REQUIRE(turn_until(runner, asked_for(1)));
  CHECK(asked == std::vector<std::string>{"first.test"});

  // The first run is in flight until its timeout: the second waits for its place.
  clock.advance(30'000);
  for (int i = 0; i < 5; ++i) runner.turn(0);
  asked_for(2)();
  CHECK(asked.size() == 1);
  CHECK(runner.drain(catalog) == 0);
  CHECK_FALSE(runner.outcomes()[0].reported);

  // Past its timeout (and c-ares's margin) the first has failed, as data; the
  // second starts in the place it freed.
  clock.advance(200);
  size_t results = 0;
  REQUIRE(turn_until(runner, [&] {
    results += runner.drain(catalog);
    return results >= 1 && asked_for(2)();
  }));
  CHECK(results == 1);
  CHECK(asked == std::vector<std::string>{"first.test", "second.test"});
  CHECK(metric(catalog, "Connectivity/first/Success").value == Value(false));
  CHECK(metric(catalog, "Connectivity/first/Success").ts_ms == kStart);
  const std::vector<probes::Runner::Outcome> o = runner.outcomes();
  REQUIRE(o.size() == 2);
  CHECK(o[0].reported);
  CHECK_THAT(o[0].error,
             Catch::StartsWith("timeout: no answer within 30000 ms for \"first.test\""));
  CHECK_FALSE(o[1].reported);
  CHECK(logs.count("probe first (DNS first.test): timeout: no answer within 30000 ms") == 1);

  // The second times out on the same terms, 30.2 s after it started.
  clock.advance(30'199);
  for (int i = 0; i < 5; ++i) runner.turn(0);
  CHECK(runner.drain(catalog) == 0);
  clock.advance(1);
  REQUIRE(turn_until(runner, [&] { return runner.drain(catalog) == 1; }));
  CHECK(metric(catalog, "Connectivity/second/Success").value == Value(false));
  CHECK(metric(catalog, "Connectivity/second/Success").ts_ms == kStart + 30'200);
}

TEST_CASE("probe runner: a failure is logged once and its recovery once") {
  LogCapture logs;
  FakeClock clock{kStart};
  LoopbackSocket server(SOCK_STREAM);  // bound, not listening yet: refused
  config::Probes cfg;
  cfg.tcp = {tcp("gate", server.port, 1s)};
  probes::Runner runner(
      cfg, "", [] {}, clock);
  Catalog catalog;
  runner.declare(catalog);
  auto one_result = [&] { return runner.drain(catalog) == 1; };

  for (int i = 0; i < 3; ++i) {
    REQUIRE(turn_until(runner, one_result));
    CHECK(metric(catalog, "Connectivity/gate/Success").value == Value(false));
    CHECK(metric(catalog, "Connectivity/gate/Success").ts_ms == kStart + i * 1000);
    clock.advance(1000);
  }
  CHECK(logs.count("probe gate (TCP 127.0.0.1:" + std::to_string(server.port) +
                   "): connection refused (nothing listens there); measuring again every 1 s") ==
        1);
  CHECK(runner.outcomes()[0].error == "connection refused (nothing listens there)");

  server.listen();
  REQUIRE(turn_until(runner, one_result));
  CHECK(metric(catalog, "Connectivity/gate/Success").value == Value(true));
  clock.advance(1000);
  REQUIRE(turn_until(runner, one_result));
  CHECK(logs.count("probe gate (TCP 127.0.0.1:" + std::to_string(server.port) +
                   "): answering again") == 1);
  CHECK(runner.outcomes()[0].error.empty());
}

TEST_CASE("probe runner: Probe Now runs a probe between its slots, once") {
  LogCapture logs;
  FakeClock clock{kStart};
  LoopbackSocket server(SOCK_STREAM);
  server.listen();
  config::Probes cfg;
  cfg.tcp = {tcp("web", server.port, 60s), tcp("other", server.port, 60s)};
  probes::Runner runner(
      cfg, "", [] {}, clock);
  Catalog catalog;
  runner.declare(catalog);
  size_t results = 0;
  REQUIRE(turn_until(runner, [&] { return (results += runner.drain(catalog)) == 2; }));
  CHECK(server.accept_all() == 2);

  clock.advance(5000);
  CHECK(runner.run_now("nothing") == 0);
  CHECK(runner.run_now("web") == 1);
  CHECK(runner.run_now("web") == 1);  // asked twice before it ran: one run
  REQUIRE(turn_until(runner, [&] { return runner.drain(catalog) == 1; }));
  CHECK(metric(catalog, "Connectivity/web/Success").ts_ms == kStart + 5000);
  CHECK(metric(catalog, "Connectivity/other/Success").ts_ms == kStart);
  CHECK(logs.count("probe web: running or waiting already; Probe Now adds no run") == 1);
  for (int i = 0; i < 5; ++i) runner.turn(0);
  CHECK(runner.drain(catalog) == 0);
  CHECK(server.accept_all() == 1);
}

TEST_CASE("probe runner: a run that never ends is abandoned at its hard deadline") {
  LogCapture logs;
  FakeClock clock{kStart};
  config::Probes cfg;
  cfg.tcp = {tcp("stuck", 9, 10s)};  // its probe is replaced: nothing connects
  probes::Runner runner(
      cfg, "", [] {}, clock);
  int starts = 0;
  runner.use_probe(0, std::make_unique<WedgedProbe>(starts));
  Catalog catalog;
  runner.declare(catalog);
  const int64_t deadline = WedgedProbe::kBudgetMs + probes::Runner::kGraceMs;
  CHECK(runner.longest_run_ms() == deadline);

  runner.turn(0);
  REQUIRE(starts == 1);
  clock.advance(deadline - 1);
  for (int i = 0; i < 5; ++i) runner.turn(0);
  CHECK(runner.drain(catalog) == 0);
  CHECK_FALSE(runner.outcomes()[0].reported);

  // At its deadline the run is abandoned: a failure, with its cause, stamped
  // with the time it started.
  clock.advance(1);
  runner.turn(0);
  REQUIRE(runner.drain(catalog) == 1);
  CHECK(metric(catalog, "Connectivity/stuck/Success").value == Value(false));
  CHECK(metric(catalog, "Connectivity/stuck/Success").ts_ms == kStart);
  const std::string cause = "no result within its timeout + 1 s (hard deadline)";
  CHECK(runner.outcomes()[0].reported);
  CHECK(runner.outcomes()[0].error == cause);
  const std::string logged =
      "probe stuck (TCP 127.0.0.1:9): " + cause + "; measuring again every 10 s";
  CHECK(logs.count(logged) == 1);

  // The next run starts at its slot as if nothing had happened, and ends the
  // same way at its own deadline (logged once: the same failure).
  clock.advance(10'000 - deadline - 1);
  for (int i = 0; i < 5; ++i) runner.turn(0);
  CHECK(starts == 1);
  clock.advance(1);
  runner.turn(0);
  CHECK(starts == 2);
  clock.advance(deadline - 1);
  runner.turn(0);
  CHECK(runner.drain(catalog) == 0);
  clock.advance(1);
  runner.turn(0);
  REQUIRE(runner.drain(catalog) == 1);
  CHECK(metric(catalog, "Connectivity/stuck/Success").ts_ms == kStart + 10'000);
  CHECK(runner.outcomes()[0].error == cause);
  CHECK(logs.count(logged) == 1);
}
