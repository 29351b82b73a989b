// Benchmarks (not tests): spool append and replay throughput, and how fast a
// day's backlog drains to a broker through the agent's uplink, next to a plain
// Paho publish loop sending the same payloads in the same run.
// Usage: spool_bench [tcp://127.0.0.1:PORT]   (tests/perf/bench.sh starts a broker)
#include <mqtt/async_client.h>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "catalog/catalog.hpp"
#include "daemon/event_queue.hpp"
#include "log.hpp"
#include "session/sparkplug.hpp"
#include "session/uplink.hpp"
#include "spool/spool.hpp"
#include "system/system_driver.hpp"

using namespace classroom;
using Steady = std::chrono::steady_clock;

namespace {

double seconds_since(Steady::time_point t) {
  return std::chrono::duration<double>(Steady::now() - t).count();
}

struct Dir {
  Dir() {
    std::string tmpl = "/tmp/classroom-bench-XXXXXX";
    path = mkdtemp(tmpl.data());
  }
  ~Dir() { std::filesystem::remove_all(path); }
  std::string path;
};

// Real batches: the system driver on this machine, as the agent builds them
// (the first one carries every metric, later ones only what changed).
std::vector<std::string> real_batches(size_t n) {
  Catalog catalog;
  drivers::system::SystemDriver driver(drivers::system::Options{});
  sparkplug::Payload record;
  std::vector<std::string> out;
  SystemClock clock;
  for (size_t i = 0; i < 3; ++i) {
    // Apart in time, so that later batches change as much as a real cycle does.
    if (i > 0) std::this_thread::sleep_for(std::chrono::milliseconds(300));
    catalog.set_time(clock.wall_ms());
    driver.collect(catalog);
    sparkplug::build_record(record, catalog, catalog.changed(), clock.wall_ms());
    catalog.clear_changed();
    out.push_back(record.SerializeAsString());
  }
  while (out.size() < n) out.push_back(out[1 + out.size() % 2]);
  return out;
}

void bench_append(const std::vector<std::string>& batches, bool always, size_t n) {
  Dir dir;
  SystemClock clock;
  Spool spool(SpoolOptions{dir.path, 1ull << 30, 0, always, 1000}, clock);
  spool.open();
  size_t bytes = 0;
  auto t = Steady::now();
  for (size_t i = 0; i < n; ++i) {
    spool.append(batches[i], 0);
    bytes += batches[i].size();
    if (!always && i % 1000 == 0) spool.maintain();
  }
  spool.sync_all();
  const double s = seconds_since(t);
  std::printf("  append, sync %-8s %7zu batches  %9.0f batches/s  %6.1f MB/s\n",
              always ? "always" : "1s", n, n / s, bytes / s / 1e6);
}

void bench_replay(const std::vector<std::string>& batches) {
  Dir dir;
  SystemClock clock;
  Spool spool(SpoolOptions{dir.path, 1ull << 30, 0, false, 1000}, clock);
  spool.open();
  for (const auto& b : batches) spool.append(b, 0);
  spool.sync_all();
  Spool::Cursor c{1, 0, 0};
  Spool::Record r;
  size_t n = 0;
  auto t = Steady::now();
  while (spool.read(c, UINT64_MAX, r)) ++n;
  const double s = seconds_since(t);
  std::printf("  replay (read)         %7zu batches  %9.0f batches/s\n", n, n / s);
}

// The agent's own path: spool -> uplink (rebirth, alias conversion, receipts)
// -> Paho, until the broker has confirmed every batch.
double drain_with_uplink(const std::string& url, const std::vector<std::string>& day) {
  Dir dir;
  SystemClock clock;
  Spool spool(SpoolOptions{dir.path + "/spool", 1ull << 30, 0, false, 1000}, clock);
  spool.open();
  for (const auto& b : day) spool.append(b, 0);
  EventQueue queue;
  Catalog catalog;
  auto client = classroom::mqtt::make_paho_client(
      url, "bench-uplink", [&](classroom::mqtt::Event e) { queue.post(std::move(e)); });
  UplinkOptions o;
  o.group = "bench";
  o.node = "drain";
  o.servers = {url};
  o.client_id = "bench-uplink";
  o.receipt_topic = "classroom-agent/bench/drain/receipt";
  o.replay_rate = 1e9;  // as fast as it goes
  o.bdseq_path = dir.path + "/bdseq";
  Uplink uplink(o, *client, catalog, spool, clock);
  std::vector<classroom::mqtt::Event> events;
  int64_t wake = 0;
  auto t = Steady::now();
  while (spool.committed() < day.size()) {
    events.clear();
    queue.wait(events, std::max<int64_t>(0, wake - clock.steady_ms()));
    for (const auto& e : events) uplink.handle(e);
    wake = uplink.poll();
    if (seconds_since(t) > 120) {
      std::printf("  uplink drain did not finish in 120 s\n");
      break;
    }
  }
  const double s = seconds_since(t);
  uplink.shutdown();
  return s;
}

// The floor: the same payloads published by a bare Paho loop at QoS 0, then
// one QoS 1 message waited for.
double drain_with_plain_paho(const std::string& url, const std::vector<std::string>& day) {
  ::mqtt::async_client cli(url, "bench-plain", ::mqtt::create_options(MQTTVERSION_DEFAULT, 10'000),
                           static_cast<::mqtt::iclient_persistence*>(nullptr));
  ::mqtt::connect_options opts;
  opts.set_clean_session(true);
  cli.connect(opts)->wait();
  auto t = Steady::now();
  for (const auto& b : day) cli.publish("spBv1.0/bench/NDATA/plain", b.data(), b.size(), 0, false);
  cli.publish("bench/plain/receipt", "x", 1, 1, false)->wait();
  const double s = seconds_since(t);
  cli.disconnect()->wait();
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  log::set_level(log::Level::error);
  const size_t n = 20000;
  auto batches = real_batches(n);
  size_t bytes = 0;
  for (const auto& b : batches) bytes += b.size();
  std::printf("spool benchmark: real system-driver batches, %zu B on average\n", bytes / n);
  bench_append(batches, false, n);
  bench_append(batches, true, 2000);
  bench_replay(batches);
  if (argc < 2) {
    std::printf("(no broker given: skipping the drain comparison; tests/perf/bench.sh runs it)\n");
    return 0;
  }
  const std::string url = argv[1];
  std::vector<std::string> day(batches.begin(), batches.begin() + 8640);  // 10 s interval
  const double plain = drain_with_plain_paho(url, day);
  const double agent = drain_with_uplink(url, day);
  std::printf("a day's backlog (8640 batches) to %s:\n", url.c_str());
  std::printf("  plain Paho loop      %6.2f s  %8.0f messages/s\n", plain, 8640 / plain);
  std::printf(
      "  agent uplink         %6.2f s  %8.0f messages/s  (at replay_rate unlimited; "
      "the default 50/s takes %.0f min)\n",
      agent, 8640 / agent, 8640 / 50.0 / 60);
  return 0;
}
