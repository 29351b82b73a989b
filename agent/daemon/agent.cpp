#include "daemon/agent.hpp"

#include <malloc.h>
#include <pthread.h>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <condition_variable>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>

#include "batch/batcher.hpp"
#include "catalog/catalog.hpp"
#include "common/clock.hpp"
#include "common/log.hpp"
#include "daemon/event_queue.hpp"
#include "daemon/state_lock.hpp"
#include "daemon/systemd_notify.hpp"
#include "devices/device_runner.hpp"
#include "mqtt/mqtt_client.hpp"
#include "probes/runner.hpp"
#include "registry.hpp"
#include "scheduler/scheduler.hpp"
#include "session/sparkplug.hpp"
#include "session/uplink.hpp"
#include "spool/spool.hpp"
#include "status/status_server.hpp"

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
      lost_ = sink.declare("Agent/Spool/Lost Batches", DataType::UInt64, "");
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
    sink.put(lost_, s.lost);
    return {};
  }

 private:
  Spool& spool_;
  const Clock& clock_;
  const uint64_t& unspooled_lost_;
  bool declared_ = false;
  MetricId pending_ = 0, bytes_ = 0, dropped_ = 0, oldest_ = 0, corrupt_ = 0, write_errors_ = 0,
           lost_ = 0;
};

// Every signal whose default action ends the process and that someone may
// send on purpose or by mistake (a shell's kill, logrotate's HUP, a package
// script's USR1, a real-time signal). All are blocked in every thread and taken
// by one thread with sigwait: TERM and INT stop the agent cleanly, the others
// are logged and change nothing. SIGPIPE is ignored instead (a write to a
// closed socket raises it in the writing thread). Faults (SEGV, BUS, FPE, ILL,
// ABRT, TRAP, SYS) keep their default: they mean a bug, and a core dump is
// what helps then.
sigset_t handled_signals() {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGALRM, SIGVTALRM, SIGPROF,
                  SIGIO, SIGPWR, SIGSTKFLT, SIGXCPU, SIGXFSZ})
    sigaddset(&set, sig);
  for (int sig = SIGRTMIN; sig <= SIGRTMAX; ++sig) sigaddset(&set, sig);
  return set;
}

std::string signal_name(int sig) {
  if (sig >= SIGRTMIN && sig <= SIGRTMAX) {
    if (sig == SIGRTMIN) return "SIGRTMIN";
    if (sig == SIGRTMAX) return "SIGRTMAX";
    return "SIGRTMIN+" + std::to_string(sig - SIGRTMIN);
  }
  if (const char* abbrev = sigabbrev_np(sig)) return std::string("SIG") + abbrev;
  return "signal " + std::to_string(sig);
}

// The signal thread: returns once it has asked the loop to stop.
void take_signals(const sigset_t& signals, EventQueue& queue) {
  for (;;) {
    int sig = 0;
    if (sigwait(&signals, &sig) != 0) continue;
    const std::string name = signal_name(sig);
    if (sig == SIGTERM || sig == SIGINT) {
      queue.post(mqtt::Event{mqtt::Event::Kind::stop, name, 0, {}, {}});
      return;
    }
    if (sig == SIGHUP)
      lg.info("SIGHUP received: reload is not supported yet; carrying on");
    else
      lg.info("%s received: ignored (SIGTERM or SIGINT stop the agent)", name.c_str());
  }
}

// glibc keeps freed blocks for reuse, and raises its mmap threshold to the
// size of the largest block freed, so one burst of big allocations (a flood
// of big messages, a long backlog) would stay in the process for good. With
// fixed thresholds, blocks of 64 KiB and more are mapped and unmapped on
// free, and a free heap top over 128 KiB goes back to the system.
void return_freed_memory() {
  mallopt(M_MMAP_THRESHOLD, 64 * 1024);
  mallopt(M_TRIM_THRESHOLD, 128 * 1024);
}

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

}  // namespace

int run_agent(const config::Config& cfg) {
  // Before anything else, so that no signal can end the agent from here on
  // without its NDEATH and a spool sync.
  const sigset_t signals = handled_signals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);  // a closed socket is an error code, not a death
  return_freed_memory();

  log::set_level(to_log_level(cfg.log.level));
  if (!cfg.log.file.empty()) {  // issue 13: a rotating file where there is no journald
    const log::FileOptions lf{cfg.log.file, cfg.log.max_bytes, cfg.log.keep, cfg.log.fold.count()};
    if (std::string err = log::open_file(lf); !err.empty())
      lg.error("%s; logging to stderr", err.c_str());
  }

  StateLock lock(cfg.state.dir);
  if (!lock.acquired()) {
    lg.error("%s", lock.error().c_str());
    return 1;
  }
  if (!lock.error().empty())
    lg.warning("%s; running without the state dir lock", lock.error().c_str());

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
  // The school's SNMP devices: polled off the loop, applied on it.
  DeviceRunner devices(cfg.devices.snmp, catalog, [&queue] { queue.wake(); });
  devices.schedule(scheduler);
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

  std::thread signal_thread([&queue, signals] { take_signals(signals, queue); });
  status::Server status_server(cfg, clock);  // issue 13: `classroom-agent status`

  lg.info("started: %zu source%s, %zu device%s, group %s, node %s, spool %s (max %" PRIu64
          " KiB, sync %s)",
          sources.size(), sources.size() == 1 ? "" : "s", devices.size(),
          devices.size() == 1 ? "" : "s", cfg.identity.group.c_str(), cfg.identity.node.c_str(),
          so.dir.c_str(), so.max_bytes >> 10,
          cfg.spool.sync_always ? "always" : (std::to_string(so.sync_interval_ms) + " ms").c_str());
  notify_systemd("READY=1");
  // systemd's watchdog: pinged from this loop only, so a loop that stops
  // turning is noticed and restarted, not a thread that merely lives.
  const int64_t watchdog_ms = systemd_watchdog_interval_ms();
  int64_t watchdog_at = clock.steady_ms();
  // Test hook: the loop's first turn blocks this long, as a stuck loop would.
  int64_t test_stall_ms = 0;
  if (const char* stall = std::getenv("CLASSROOM_TEST_STALL_LOOP_MS"))
    test_stall_ms = std::atoll(stall);
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
    if (watchdog_ms > 0) wake = std::min(wake, watchdog_at);
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
    if (devices.apply(&batcher) > 0 || ran > 0) batcher.flush();
    uplink_wake = uplink.poll();
    spool_wake = spool.maintain();
    status_server.update({uplink, spool, scheduler, devices, catalog, batcher.lost()});  // issue 13
    if (watchdog_ms > 0 && clock.steady_ms() >= watchdog_at) {
      notify_systemd("WATCHDOG=1");
      watchdog_at = clock.steady_ms() + watchdog_ms;
    }
    if (test_stall_ms > 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(test_stall_ms));
      test_stall_ms = 0;
    }
  }

  notify_systemd("STOPPING=1");
  // A hung probe does not hold the shutdown: the runner waits a bounded time.
  if (probe_runner) probe_runner->stop(probes::Runner::kStopBoundMs);  // issue 9
  batcher.flush();
  uplink.shutdown();
  spool.sync_all();
  signal_thread.join();
  lg.info("stopped");
  log::close_file();  // issue 13: writes what is still folded
  return 0;
}

int collect_once(const config::Config& cfg, std::ostream& out) {
  Catalog catalog;
  SystemClock clock;
  std::vector<EnabledDriver> sources = make_drivers(cfg);
  int failed = 0;
  // Devices are polled (twice, too) beside the node's own sources.
  std::mutex mutex;
  std::condition_variable polled;
  DeviceRunner devices(cfg.devices.snmp, catalog, [&] {
    std::lock_guard lock(mutex);
    polled.notify_all();
  });
  int64_t device_wait_ms = 0;
  for (const config::SnmpDevice& d : cfg.devices.snmp)
    device_wait_ms = std::max<int64_t>(device_wait_ms, 4 * d.timeout.count() + 5000);
  for (int pass = 0; pass < 2; ++pass) {
    if (pass == 1) std::this_thread::sleep_for(std::chrono::milliseconds(500));
    if (devices.size()) devices.request_all();
    catalog.set_time(clock.wall_ms());
    for (EnabledDriver& d : sources) {
      drivers::CollectResult r = d.driver->collect(catalog);
      if (pass == 1 && !r.ok) {
        ++failed;
        out << "# source " << d.name << " failed: " << r.error << "\n";
      } else if (pass == 1 && !r.warning.empty()) {
        out << "# source " << d.name << ": " << r.warning << "\n";
      }
      if (pass == 1 && r.ok && !r.note.empty())
        out << "# source " << d.name << ": " << r.note << "\n";
    }
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(device_wait_ms);
    auto all_polled = [&] {
      for (size_t i = 0; i < devices.size(); ++i)
        if (devices.polls(i) < static_cast<size_t>(pass + 1)) return false;
      return true;
    };
    while (!all_polled() && std::chrono::steady_clock::now() < deadline) {
      {
        std::unique_lock lock(mutex);
        polled.wait_for(lock, std::chrono::milliseconds(100));
      }
      devices.apply(nullptr);
    }
  }
  auto print = [&](DeviceId owner, const std::string& prefix) {
    for (MetricId id = 0; id < catalog.size(); ++id) {
      const CatalogEntry& e = catalog.at(id);
      if (e.owner != owner) continue;
      out << prefix << e.name << " = " << format_value(e.value);
      if (!e.unit.empty()) out << " " << e.unit;
      out << "\n";
    }
  };
  print(kNode, "");
  out << "# Agent/Spool/... metrics come from the running agent's spool: see its NBIRTH/NDATA\n";
  for (size_t i = 0; i < devices.size(); ++i) {
    const config::SnmpDevice& c = cfg.devices.snmp[i];
    if (devices.polls(i) == 0) {
      out << "# device " << c.name << " at " << c.address << ": no result in time\n";
      ++failed;
    } else if (!devices.last_problem(i).empty()) {
      out << "# device " << c.name << " at " << c.address << ": " << devices.last_problem(i)
          << "\n";
      ++failed;
    } else {
      out << "# device " << c.name << " at " << c.address << ": online\n";
    }
    print(devices.id(i), c.name + ": ");
  }
  return failed ? 1 : 0;
}

}  // namespace classroom
