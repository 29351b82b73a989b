#include "agent.hpp"

#include <pthread.h>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <csignal>
#include <thread>

#include "catalog.hpp"
#include "clock.hpp"
#include "event_queue.hpp"
#include "log.hpp"
#include "mqtt_client.hpp"
#include "probes/runner.hpp"
#include "registry.hpp"
#include "scheduler.hpp"
#include "sparkplug.hpp"
#include "spool.hpp"
#include "state_lock.hpp"
#include "systemd_notify.hpp"
#include "uplink.hpp"

namespace classroom {
namespace {

constexpr log::Logger lg("agent");
constexpr int64_t kSpoolReopenMs = 5000;

log::Level to_log_level(config::LogLevel l) {
  switch (l) {
    case config::LogLevel::debug:
      return log::Level::debug;
    case config::LogLevel::info:
      return log::Level::info;
    case config::LogLevel::warning:
      return log::Level::warning;
    case config::LogLevel::error:
      return log::Level::error;
  }
  return log::Level::info;
}

// The agent's own health as metrics: what the spool holds and has lost.
class SelfMetrics final : public drivers::Driver {
 public:
  SelfMetrics(Spool& spool, const Clock& clock, const uint64_t& unspooled_lost)
      : spool_(spool), clock_(clock), unspooled_lost_(unspooled_lost) {}

  drivers::CollectResult collect(drivers::MetricSink& sink) override {
    if (!declared_) {
      pending_ = sink.declare("Agent/Spool/Pending Batches", DataType::UInt64, "");
      bytes_ = sink.declare("Agent/Spool/Bytes", DataType::UInt64, "B");
      dropped_ = sink.declare("Agent/Spool/Dropped Batches", DataType::UInt64, "");
      oldest_ = sink.declare("Agent/Spool/Oldest Age", DataType::UInt64, "s");
      corrupt_ = sink.declare("Agent/Spool/Corrupt Records", DataType::UInt64, "");
      write_errors_ = sink.declare("Agent/Spool/Write Errors", DataType::UInt64, "");
      declared_ = true;
    }
    SpoolStats s = spool_.stats();
    sink.put(pending_, s.pending);
    sink.put(bytes_, s.bytes);
    sink.put(dropped_, s.dropped + unspooled_lost_);
    const int64_t age = s.oldest_ts_ms ? (clock_.wall_ms() - s.oldest_ts_ms) / 1000 : 0;
    sink.put(oldest_, static_cast<uint64_t>(std::max<int64_t>(0, age)));
    sink.put(corrupt_, s.corrupt);
    sink.put(write_errors_, s.write_errors);
    return {};
  }

 private:
  Spool& spool_;
  const Clock& clock_;
  const uint64_t& unspooled_lost_;
  bool declared_ = false;
  MetricId pending_ = 0, bytes_ = 0, dropped_ = 0, oldest_ = 0, corrupt_ = 0, write_errors_ = 0;
};

struct EnabledDriver {
  std::string_view name;
  int64_t interval_ms;
  std::unique_ptr<drivers::Driver> driver;
};

std::vector<EnabledDriver> make_drivers(const config::Config& cfg) {
  std::vector<EnabledDriver> out;
  for (const drivers::DriverEntry& e : drivers::registered_drivers()) {
    if (!e.enabled(cfg)) continue;
    out.push_back(EnabledDriver{e.name, e.interval(cfg).count(), e.make(cfg)});
  }
  return out;
}

// Turns what changed in the catalog into one batch and hands it to the spool.
class Batcher {
 public:
  Batcher(Catalog& catalog, Spool& spool, Uplink& uplink, const Clock& clock)
      : catalog_(catalog), spool_(spool), uplink_(uplink), clock_(clock) {
    bytes_.reserve(4096);
  }

  void flush() {
    if (catalog_.changed().empty()) return;
    const int64_t ts = clock_.wall_ms();
    sparkplug::build_record(payload_, catalog_, catalog_.changed(), ts);
    catalog_.clear_changed();
    payload_.SerializeToString(&bytes_);
    error_.clear();
    if (spool_.is_open() && spool_.append(bytes_, ts, &error_) != 0) {
      if (failing_) lg.info("spool writable again; batches are stored before sending");
      failing_ = false;
      return;
    }
    // The spool cannot take it (disk full, read-only): send it now if online.
    const bool sent = uplink_.publish_unspooled(bytes_);
    if (!sent) ++lost_;
    if (!failing_)
      lg.error("cannot store batches (%s); %s until the spool recovers",
               error_.empty() ? "the spool is not open" : error_.c_str(),
               sent ? "sending them without a backlog" : "batches are lost while offline");
    failing_ = true;
  }

  const uint64_t& lost() const { return lost_; }

 private:
  Catalog& catalog_;
  Spool& spool_;
  Uplink& uplink_;
  const Clock& clock_;
  sparkplug::Payload payload_;
  std::string bytes_;
  std::string error_;
  bool failing_ = false;
  uint64_t lost_ = 0;
};

}  // namespace

int run_agent(const config::Config& cfg) {
  log::set_level(to_log_level(cfg.log.level));

  StateLock lock(cfg.state.dir);
  if (!lock.acquired()) {
    lg.error("%s", lock.error().c_str());
    return 1;
  }
  if (!lock.error().empty())
    lg.warning("%s; running without the state dir lock", lock.error().c_str());

  // Signals are taken by one thread with sigwait; every other thread (Paho's
  // included, created later) inherits the blocked mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  SystemClock clock;
  EventQueue queue;
  Catalog catalog;

  SpoolOptions so;
  so.dir = cfg.state.dir + "/spool";
  so.max_bytes = cfg.spool.max_bytes;
  so.sync_always = cfg.spool.sync_always;
  so.sync_interval_ms = cfg.spool.sync_interval.count();
  Spool spool(so, clock);
  int64_t spool_retry_at = 0;
  if (std::string err = spool.open(); !err.empty()) {
    lg.error("cannot open the spool: %s; retrying every %" PRId64 " s", err.c_str(),
             kSpoolReopenMs / 1000);
    spool_retry_at = clock.steady_ms() + kSpoolReopenMs;
  }

  auto client = mqtt::make_paho_client(cfg.broker.servers.front(), cfg.broker.client_id,
                                       [&queue](mqtt::Event e) { queue.post(std::move(e)); });
  UplinkOptions uo;
  uo.group = cfg.identity.group;
  uo.node = cfg.identity.node;
  uo.servers = cfg.broker.servers;
  uo.client_id = cfg.broker.client_id;
  uo.username = cfg.broker.username;
  uo.password = cfg.broker.password;
  uo.keepalive_ms = cfg.broker.keepalive.count();
  uo.connect_timeout_ms = cfg.broker.connect_timeout.count();
  uo.retry_min_ms = cfg.broker.retry_min.count();
  uo.retry_max_ms = cfg.broker.retry_max.count();
  uo.receipt_topic = cfg.broker.receipt_topic;
  uo.replay_rate = cfg.spool.replay_rate;
  uo.bdseq_path = cfg.state.dir + "/bdseq";
  Uplink uplink(uo, *client, catalog, spool, clock);
  Batcher batcher(catalog, spool, uplink, clock);

  Scheduler scheduler(clock);
  std::vector<EnabledDriver> sources = make_drivers(cfg);
  int64_t self_interval = 10'000;
  for (EnabledDriver& d : sources) {
    self_interval = std::min(self_interval, d.interval_ms);
    drivers::Driver* driver = d.driver.get();
    scheduler.add(std::string(d.name), d.interval_ms, [&catalog, driver](int64_t now) {
      catalog.set_time(now);
      return driver->collect(catalog);
    });
  }
  SelfMetrics self(spool, clock, batcher.lost());
  scheduler.add("agent", self_interval, [&catalog, &self](int64_t now) {
    catalog.set_time(now);
    return self.collect(catalog);
  });

  // ---- probes (issue 9): their own thread; results come back through the loop ----
  std::unique_ptr<probes::Runner> probe_runner;
  if (cfg.probes.any()) {
    probe_runner =
        std::make_unique<probes::Runner>(cfg.probes, cfg.state.dir, [&queue] { queue.wake(); });
    probe_runner->declare(catalog);
  }
  // ---- end of probes ----

  std::thread signal_thread([&queue, signals] {
    int sig = 0;
    sigwait(&signals, &sig);
    queue.post(
        mqtt::Event{mqtt::Event::Kind::stop, sig == SIGINT ? "SIGINT" : "SIGTERM", 0, {}, {}});
  });

  lg.info("started: %zu source%s, group %s, node %s, spool %s (max %" PRIu64 " KiB, sync %s)",
          sources.size(), sources.size() == 1 ? "" : "s", cfg.identity.group.c_str(),
          cfg.identity.node.c_str(), so.dir.c_str(), so.max_bytes >> 10,
          cfg.spool.sync_always ? "always" : (std::to_string(so.sync_interval_ms) + " ms").c_str());
  notify_systemd("READY=1");
  if (probe_runner) probe_runner->start();  // issue 9

  // The first connection attempt starts before the first sample, so that a
  // normal start publishes its first batch as live data, not as history.
  int64_t uplink_wake = uplink.poll(), spool_wake = 0;
  std::vector<mqtt::Event> events;
  bool running = true;
  while (running) {
    const int64_t now = clock.steady_ms();
    int64_t wake = std::min(uplink_wake, spool_wake);
    const int64_t due_in = scheduler.next_due() - clock.wall_ms();
    wake = std::min(wake, now + std::max<int64_t>(0, due_in));
    if (!spool.is_open()) wake = std::min(wake, spool_retry_at);
    events.clear();
    queue.wait(events, wake - now);
    for (const mqtt::Event& e : events) {
      if (e.kind == mqtt::Event::Kind::stop) {
        lg.info("%s received: stopping", e.text.c_str());
        running = false;
      } else {
        uplink.handle(e);
      }
    }
    if (!running) break;

    if (!spool.is_open() && clock.steady_ms() >= spool_retry_at) {
      if (std::string err = spool.open(); err.empty())
        lg.info("spool open again at %s", so.dir.c_str());
      else
        spool_retry_at = clock.steady_ms() + kSpoolReopenMs;
    }
    int ran = scheduler.run_due();
    if (probe_runner) ran += static_cast<int>(probe_runner->drain(catalog));  // issue 9
    if (ran > 0) batcher.flush();
    uplink_wake = uplink.poll();
    spool_wake = spool.maintain();
  }

  notify_systemd("STOPPING=1");
  // A hung probe does not hold the shutdown: the runner waits a bounded time.
  if (probe_runner) probe_runner->stop(probes::Runner::kStopBoundMs);  // issue 9
  batcher.flush();
  uplink.shutdown();
  spool.sync_all();
  signal_thread.join();
  lg.info("stopped");
  return 0;
}

int collect_once(const config::Config& cfg, std::ostream& out) {
  Catalog catalog;
  SystemClock clock;
  std::vector<EnabledDriver> sources = make_drivers(cfg);
  int failed = 0;
  for (int pass = 0; pass < 2; ++pass) {
    if (pass == 1) std::this_thread::sleep_for(std::chrono::milliseconds(500));
    catalog.set_time(clock.wall_ms());
    for (EnabledDriver& d : sources) {
      drivers::CollectResult r = d.driver->collect(catalog);
      if (pass == 1 && !r.ok) {
        ++failed;
        out << "# source " << d.name << " failed: " << r.error << "\n";
      } else if (pass == 1 && !r.warning.empty()) {
        out << "# source " << d.name << ": " << r.warning << "\n";
      }
    }
  }
  for (MetricId id = 0; id < catalog.size(); ++id) {
    const CatalogEntry& e = catalog.at(id);
    out << e.name << " = " << format_value(e.value);
    if (!e.unit.empty()) out << " " << e.unit;
    out << "\n";
  }
  out << "# Agent/Spool/... metrics come from the running agent's spool: see its NBIRTH/NDATA\n";
  return failed ? 1 : 0;
}

}  // namespace classroom
