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
#include "clock.hpp"
#include "daemon/event_queue.hpp"
#include "daemon/state_lock.hpp"
#include "daemon/systemd_notify.hpp"
#include "devices/device_runner.hpp"
#include "log.hpp"
#include "mqtt/mqtt_client.hpp"
#include "printable.hpp"
#include "probes/once.hpp"
#include "probes/runner.hpp"
#include "registry.hpp"
#include "scheduler/scheduler.hpp"
#include "session/commands.hpp"
#include "session/sparkplug.hpp"
#include "session/uplink.hpp"
#include "spool/spool.hpp"
#include "status/status_server.hpp"
#include "system/system_driver.hpp"

namespace classroom {
namespace {

constexpr log::Logger lg("agent");
constexpr int64_t kSpoolReopenMs = 5000;
constexpr int64_t kStatusEveryMs = 1000;
constexpr int64_t kSelfIntervalMs = 10'000;  // the agent's own metrics, at most
// Reload requests within this long of one a command caused are answered by it.
constexpr int64_t kReloadCoalesceMs = 1000;
constexpr int64_t kTrimEveryMs = 60'000;  // malloc_trim: 5 s after start, then every minute  //
                                          // systemd's STATUS= line, at most this often

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
    if (sig == SIGHUP) {
      lg.info("SIGHUP received: reading the config again");
      queue.post(mqtt::Event{mqtt::Event::Kind::reload, name, 0, {}, {}});
    } else {
      lg.info("%s received: ignored (SIGTERM or SIGINT stop the agent)", name.c_str());
    }
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

// The running agent. What a reload may replace is split in two: the session
// (MQTT client, uplink, batcher: a new one only when identity or broker
// change) and the pipeline (sources, devices, probes: rebuilt on any valid
// reload). The state dir lock, the catalog (so aliases stay stable) and the
// spool live as long as the process.
class Daemon {
 public:
  Daemon(const config::Config& cfg, EventQueue& queue, const RunDiagnostics& diagnostics)
      : cfg_(cfg), queue_(queue), diagnostics_(diagnostics) {}

  int run();

 private:
  struct Session {
    std::unique_ptr<mqtt::Client> client;
    std::unique_ptr<Uplink> uplink;
    std::unique_ptr<Batcher> batcher;
  };
  struct Pipeline {
    explicit Pipeline(const Clock& clock) : scheduler(clock) {}
    Scheduler scheduler;
    std::vector<EnabledDriver> sources;
    // The scheduler's tasks of the node's own sources and of the agent's
    // metrics: what Node Control/Scan Rate sets.
    std::vector<size_t> node_tasks;
    size_t self_task = 0;
    std::unique_ptr<DeviceRunner> devices;
    std::unique_ptr<SelfMetrics> self;
    std::unique_ptr<probes::Runner> probes;
    // The system source, when enabled: the clock's state for `status`.
    const drivers::system::SystemDriver* system = nullptr;
  };

  void open_session();
  void build_pipeline();
  void stop_pipeline();
  void reload();
  // The steps of reload().
  void reload_unchanged();
  void leave_old_sources(const config::Config& next);
  void switch_config(config::Config&& next, bool new_session);
  void start_new_sources(bool new_session);
  void keep_until_restart(config::Config& next) const;
  void log_started(const char* how);
  void update_status();
  bool apply_command(const commands::Action& action);
  void set_scan_rate(int64_t ms, const std::string& what);
  void apply_scan_rate(int64_t ms);
  void probe_now(const std::string& name, const std::string& what);

  // The steps of run(), and the times its loop keeps (steady ms).
  struct LoopTimes {
    int64_t spool_retry_at = 0;
    int64_t watchdog_ms = 0, watchdog_at = 0;
    int64_t stall_ms = 0;
    int64_t uplink_wake = 0, spool_wake = 0;
    int64_t status_due = 0, trim_at = 0;
  };
  void open_spool(LoopTimes& t);
  int64_t next_wake(const LoopTimes& t, int64_t now) const;
  bool take_events(const std::vector<mqtt::Event>& events, bool& reload_asked);
  void reopen_spool(LoopTimes& t);
  void sample_and_send(LoopTimes& t);
  void keep_house(LoopTimes& t);
  void shut_down();

  config::Config cfg_;
  EventQueue& queue_;
  const RunDiagnostics diagnostics_;
  SystemClock clock_;
  Catalog catalog_;
  std::unique_ptr<Spool> spool_;
  SpoolOptions spool_options_;
  Session session_;
  std::unique_ptr<Pipeline> pipeline_;
  std::unique_ptr<status::Server> status_server_;  // `classroom-agent status`
  std::string status_, sent_status_;               // systemd's STATUS= line, reused
  uint64_t session_count_ = 0;                     // sessions opened so far
  // Node Control/Scan Rate: the node's sampling interval, the config's
  // (the shortest of its sources) until a host sets one, until the next reload.
  MetricId scan_rate_id_ = 0;
  int64_t configured_scan_rate_ms_ = 0;
  int64_t host_scan_rate_ms_ = 0;              // set by a host (0: the config's intervals)
  int64_t reload_command_at_ = INT64_MIN / 2;  // steady ms of the last reload
  std::vector<commands::Action> commands_;     // reused
};

// systemd's STATUS= line, which `systemctl status` shows: the broker and the
// backlog, e.g. "online to ssl://broker:8883, 0 batches waiting". Sent only
// when it changed. Waiting: not on its way (Uplink::waiting): a batch sent
// and awaiting its receipt is not, so a healthy agent says 0 whenever it is
// checked; once nothing has been confirmed for as long as `status` allows,
// every batch the spool holds is waiting again.
void Daemon::update_status() {
  if (!notify_socket_set()) return;
  session_.uplink->describe(status_);
  const uint64_t waiting = session_.uplink->waiting(status::kUnconfirmedMs);
  status_.append(", ")
      .append(std::to_string(waiting))
      .append(waiting == 1 ? " batch" : " batches")
      .append(" waiting");
  if (!spool_->is_open()) status_.append(", spool unavailable");
  if (status_ == sent_status_) return;
  sent_status_ = status_;
  notify_systemd(("STATUS=" + text::printable(status_, 200)).c_str());
}

void Daemon::open_session() {
  // Events are stamped with the session they belong to: after a reload that
  // replaced the session, the old client's late events are dropped.
  const uint64_t session = ++session_count_;
  session_.client = mqtt::make_paho_client(cfg_.broker.servers.front(), cfg_.broker.client_id,
                                           [this, session](mqtt::Event e) {
                                             e.session = session;
                                             queue_.post(std::move(e));
                                           });
  session_.uplink =
      std::make_unique<Uplink>(uplink_options(cfg_), *session_.client, catalog_, *spool_, clock_);
  session_.batcher = std::make_unique<Batcher>(catalog_, *spool_, *session_.uplink, clock_);
}

void Daemon::build_pipeline() {
  pipeline_ = std::make_unique<Pipeline>(clock_);
  Pipeline& p = *pipeline_;
  p.sources = make_drivers(cfg_);
  int64_t shortest = INT64_MAX;
  for (EnabledDriver& d : p.sources) {
    shortest = std::min(shortest, d.interval_ms);
    drivers::Driver* driver = d.driver.get();
    if (const auto* sys = dynamic_cast<const drivers::system::SystemDriver*>(driver))
      p.system = sys;
    p.node_tasks.push_back(
        p.scheduler.add(std::string(d.name), d.interval_ms, [this, driver](int64_t now) {
          catalog_.set_time(now);
          return driver->collect(catalog_);
        }));
  }
  // The commands hosts may send; a reload forgets a Scan Rate a host set.
  configured_scan_rate_ms_ = shortest == INT64_MAX ? kSelfIntervalMs : shortest;
  host_scan_rate_ms_ = 0;
  scan_rate_id_ = commands::declare_node(catalog_, configured_scan_rate_ms_);
  catalog_.set_time(clock_.wall_ms());
  catalog_.put(scan_rate_id_, configured_scan_rate_ms_);
  // The school's SNMP devices: polled off the loop, applied on it.
  p.devices =
      std::make_unique<DeviceRunner>(cfg_.devices.snmp, catalog_, [this] { queue_.wake(); });
  for (size_t i = 0; i < p.devices->size(); ++i)
    commands::declare_device(catalog_, p.devices->id(i));
  p.devices->schedule(p.scheduler);
  p.self = std::make_unique<SelfMetrics>(*spool_, clock_, session_.batcher->lost());
  p.self_task = p.scheduler.add(
      "agent", std::min(kSelfIntervalMs, configured_scan_rate_ms_),
      [this](int64_t now) {
        catalog_.set_time(now);
        return pipeline_->self->collect(catalog_);
      },
      Scheduler::Kind::self);
  // Probes: their own thread; results come back through the loop.
  if (cfg_.probes.any()) {
    p.probes =
        std::make_unique<probes::Runner>(cfg_.probes, cfg_.state.dir, [this] { queue_.wake(); });
    p.probes->declare(catalog_);
  }
}

// Bounded: a hung probe is abandoned after Runner::kStopBoundMs; the device
// poller's thread never waits inside a call, so it ends at once.
void Daemon::stop_pipeline() {
  if (!pipeline_) return;
  if (pipeline_->probes) pipeline_->probes->stop(probes::Runner::kStopBoundMs);
  pipeline_.reset();
}

// A host's command for the pipeline (the session's own are the uplink's).
// True for a reload, which the loop then does as for SIGHUP.
bool Daemon::apply_command(const commands::Action& a) {
  const std::string what = commands::describe(a);
  switch (a.kind) {
    case commands::Kind::scan_rate:
      set_scan_rate(a.scan_rate_ms, what);
      return false;
    case commands::Kind::probe_now:
      probe_now(a.probe, what);
      return false;
    case commands::Kind::reload:
      if (!a.yes) {
        lg.info("command %s: nothing to do", what.c_str());
      } else if (clock_.steady_ms() - reload_command_at_ < kReloadCoalesceMs) {
        lg.info("reload requested again within %.0f s: the reload just done answers it",
                kReloadCoalesceMs / 1000.0);
      } else {
        lg.info("command %s: reading the config again, as for SIGHUP", what.c_str());
        reload_command_at_ = clock_.steady_ms();
        return true;
      }
      return false;
    case commands::Kind::rebirth:
    case commands::Kind::next_server:
    case commands::Kind::device_rebirth:
      return false;
  }
  return false;
}

// Node Control/Scan Rate: every source of the node, and the agent's own
// metrics (at most every 10 s), sample at `ms` until the next reload or
// restart; the new value goes out as data at once.
void Daemon::set_scan_rate(int64_t ms, const std::string& what) {
  if (ms == host_scan_rate_ms_) {
    lg.info("command %s: the node samples at that interval already", what.c_str());
    return;
  }
  apply_scan_rate(ms);
  const Pipeline& p = *pipeline_;
  lg.info(
      "command %s: %zu source%s of the node sample every %.3g s until the next reload or "
      "restart",
      what.c_str(), p.node_tasks.size(), p.node_tasks.size() == 1 ? "" : "s",
      static_cast<double>(ms) / 1000.0);
}

// `ms`: every node source at that interval; 0: each at its config's again.
void Daemon::apply_scan_rate(int64_t ms) {
  Pipeline& p = *pipeline_;
  for (size_t i = 0; i < p.node_tasks.size(); ++i)
    p.scheduler.set_interval(p.node_tasks[i], ms ? ms : p.sources[i].interval_ms);
  const int64_t rate = ms ? ms : configured_scan_rate_ms_;
  p.scheduler.set_interval(p.self_task, std::min(kSelfIntervalMs, rate));
  host_scan_rate_ms_ = ms;
  catalog_.set_time(clock_.wall_ms());
  catalog_.put(scan_rate_id_, rate);
  session_.batcher->flush();
}

// Node Control/Probe Now: the probe thread runs it as soon as it can (and
// logs what it cannot run: a throughput probe past its budget).
void Daemon::probe_now(const std::string& name, const std::string& what) {
  const size_t n = pipeline_->probes ? pipeline_->probes->run_now(name) : 0;
  if (n == 0) {
    lg.warning("refused the command %s: %s", what.c_str(),
               pipeline_->probes ? "no probe has that name" : "no probe is configured");
    return;
  }
  lg.info("command %s: %zu probe%s to run now", what.c_str(), n, n == 1 ? "" : "s");
}

void Daemon::log_started(const char* how) {
  lg.info("%s: %zu source%s, %zu device%s, %s probes, group %s, node %s, spool %s (max %" PRIu64
          " KiB, sync %s)",
          how, pipeline_->sources.size(), pipeline_->sources.size() == 1 ? "" : "s",
          pipeline_->devices->size(), pipeline_->devices->size() == 1 ? "" : "s",
          pipeline_->probes ? "with" : "no", cfg_.identity.group.c_str(),
          cfg_.identity.node.c_str(), spool_options_.dir.c_str(), spool_options_.max_bytes >> 10,
          cfg_.spool.sync_always
              ? "always"
              : (std::to_string(spool_options_.sync_interval_ms) + " ms").c_str());
}

// What a reload cannot change in a running process (the state dir and its
// lock, the spool, the log file, the status socket) stays as it was, and the
// log says so for each that the new file changes.
void Daemon::keep_until_restart(config::Config& next) const {
  if (next.state.dir != cfg_.state.dir)
    lg.warning("reload: state.dir changes at the next restart; still using %s",
               cfg_.state.dir.c_str());
  if (next.spool.max_bytes != cfg_.spool.max_bytes ||
      next.spool.sync_always != cfg_.spool.sync_always ||
      next.spool.sync_interval != cfg_.spool.sync_interval)
    lg.warning("reload: [spool] changes take effect at the next restart");
  const config::Log &was = cfg_.log, &now = next.log;
  if (now.file != was.file || now.max_bytes != was.max_bytes || now.keep != was.keep ||
      now.fold != was.fold)
    lg.warning(
        "reload: [log] file, max_bytes, keep and fold change at the next restart (level "
        "changes now)");
  if (next.status != cfg_.status)
    lg.warning("reload: [status] changes take effect at the next restart; still answering %s",
               cfg_.status.enabled ? cfg_.status.socket.c_str() : "on no socket");
  next.state = cfg_.state;
  next.spool.max_bytes = cfg_.spool.max_bytes;
  next.spool.sync_always = cfg_.spool.sync_always;
  next.spool.sync_interval = cfg_.spool.sync_interval;
  next.log.file = was.file;
  next.log.max_bytes = was.max_bytes;
  next.log.keep = was.keep;
  next.log.fold = was.fold;
  next.status = cfg_.status;
}

// SIGHUP: the config file is read again. A file with mistakes changes
// nothing (its errors are logged); a valid one replaces the sources, devices
// and probes, keeping the spool, the catalog's aliases and, when identity and
// broker are the same, the session (the new metric set brings a rebirth).
void Daemon::reload() {
  notify_systemd("RELOADING=1");
  config::LoadResult result = config::load_file(cfg_.path, drivers::source_readers());
  if (!result.config) {
    for (const config::Error& e : result.errors) lg.error("reload: %s", e.to_string().c_str());
    lg.error("reload refused: %zu problem%s in %s; still running with the config read before",
             result.errors.size(), result.errors.size() == 1 ? "" : "s", cfg_.path.c_str());
    notify_systemd("READY=1");
    return;
  }
  config::Config next = std::move(*result.config);
  if (next == cfg_) {
    reload_unchanged();
    notify_systemd("READY=1");
    return;
  }
  for (const std::string& w : next.warnings) lg.warning("%s", w.c_str());
  // The state dir and its lock, and the spool, are the process's own.
  // What follows waits on threads (probes, device polls, an old session's
  // goodbye): a few seconds at most, each bounded. The watchdog hears from
  // the loop before and after.
  if (systemd_watchdog_interval_ms() > 0) notify_systemd("WATCHDOG=1");
  keep_until_restart(next);

  // The session's options, built as the session was (uplink_options()), and
  // compared whole: a new session when any of them changed.
  const bool new_session = !(uplink_options(next) == uplink_options(cfg_));

  leave_old_sources(next);
  switch_config(std::move(next), new_session);
  start_new_sources(new_session);
  notify_systemd("READY=1");
}

// logrotate's HUP, or a `systemctl reload` after an edit undone: running
// probes, rates and counters are left alone. (Renewed TLS files at the
// same paths are read at the next connection.)
void Daemon::reload_unchanged() {
  lg.info("reload: %s is unchanged; nothing to do", cfg_.path.c_str());
  if (host_scan_rate_ms_ != 0) {
    lg.info("reload: the node samples at its config's intervals again (a host had set %.3g s)",
            static_cast<double>(host_scan_rate_ms_) / 1000.0);
    apply_scan_rate(0);
  }
}

// What the old sources measured goes out under the old metric set; devices
// that the new config no longer lists leave with their DDEATH.
void Daemon::leave_old_sources(const config::Config& next) {
  session_.batcher->flush();
  for (size_t i = 0; i < pipeline_->devices->size(); ++i) {
    const DeviceId id = pipeline_->devices->id(i);
    bool kept = false;
    for (const config::SnmpDevice& d : next.devices.snmp)
      kept = kept || d.name == catalog_.device_name(id);
    if (!kept && catalog_.online(id)) session_.batcher->presence(id, false);
  }
  stop_pipeline();
}

// The new config replaces the old; a new session when identity or broker changed.
void Daemon::switch_config(config::Config&& next, bool new_session) {
  if (new_session) {
    lg.info("reload: identity or broker changed: ending this session for a new one");
    session_.uplink->shutdown();
    session_ = Session{};
  }
  cfg_ = std::move(next);
  log::set_level(to_log_level(cfg_.log.level));
  if (new_session) {
    open_session();
    status_server_.reset();  // it shows the identity: a new one for the new
    status_server_ = std::make_unique<status::Server>(cfg_, clock_);
  }
  status_server_->set_probes(cfg_.probes);
}

// The new sources declare their metrics and take a first sample now; the
// node's metrics that none of them declares leave the birth. One rebirth.
// A device's are polled off the loop: the new DeviceRunner marks them
// unseen, and retires what the device's first answer under the new config
// does not declare; that device alone is born again (DBIRTH).
void Daemon::start_new_sources(bool new_session) {
  catalog_.mark_unseen(kNode);
  build_pipeline();
  pipeline_->scheduler.run_due();
  const size_t retired = catalog_.retire_unseen(kNode);
  if (pipeline_->probes) pipeline_->probes->start();
  session_.batcher->flush();
  log_started(new_session ? "reloaded with a new session" : "reloaded");
  if (systemd_watchdog_interval_ms() > 0) notify_systemd("WATCHDOG=1");
  if (retired)
    lg.info("reload: %zu metric%s no longer published", retired, retired == 1 ? "" : "s");
}

int Daemon::run() {
  StateLock lock(cfg_.state.dir);
  if (!lock.acquired()) {
    lg.error("%s", lock.error().c_str());
    return 1;
  }
  if (!lock.error().empty())
    lg.warning("%s; running without the state dir lock", lock.error().c_str());

  LoopTimes t;
  open_spool(t);
  open_session();
  build_pipeline();
  status_server_ = std::make_unique<status::Server>(cfg_, clock_);
  log_started("started");
  notify_systemd("READY=1");
  // systemd's watchdog: pinged from this loop only, so a loop that stops
  // turning is noticed and restarted, not a thread that merely lives.
  t.watchdog_ms = systemd_watchdog_interval_ms();
  t.watchdog_at = clock_.steady_ms();
  // `run --diagnostic-stall-loop-ms`: the loop's first turn blocks this long.
  t.stall_ms = diagnostics_.stall_loop_ms;
  if (pipeline_->probes) pipeline_->probes->start();

  // The first connection attempt starts before the first sample, so that a
  // normal start publishes its first batch as live data, not as history.
  t.uplink_wake = session_.uplink->poll();
  t.trim_at = clock_.steady_ms() + kTrimEveryMs / 12;
  std::vector<mqtt::Event> events;
  for (;;) {
    events.clear();
    const int64_t now = clock_.steady_ms();
    queue_.wait(events, next_wake(t, now) - now);
    bool reload_asked = false;
    if (!take_events(events, reload_asked)) break;
    // What hosts asked of the pipeline (Scan Rate, Probe Now, Reload).
    session_.uplink->take_commands(commands_);
    for (const commands::Action& a : commands_) reload_asked = apply_command(a) || reload_asked;
    if (reload_asked) {
      reload();
      reload_command_at_ = clock_.steady_ms();  // Reload commands just after it: answered
    }
    reopen_spool(t);
    sample_and_send(t);
    keep_house(t);
  }
  shut_down();
  return 0;
}

// The spool, in the state dir; when it cannot be opened the agent runs on,
// publishing directly, and tries again every kSpoolReopenMs.
void Daemon::open_spool(LoopTimes& t) {
  spool_options_.dir = cfg_.state.dir + "/spool";
  spool_options_.max_bytes = cfg_.spool.max_bytes;
  spool_options_.sync_always = cfg_.spool.sync_always;
  spool_options_.sync_interval_ms = cfg_.spool.sync_interval.count();
  spool_ = std::make_unique<Spool>(spool_options_, clock_);
  if (std::string err = spool_->open(); !err.empty()) {
    lg.error("cannot open the spool: %s; retrying every %" PRId64 " s", err.c_str(),
             kSpoolReopenMs / 1000);
    t.spool_retry_at = clock_.steady_ms() + kSpoolReopenMs;
  }
}

// The steady time by which the loop must turn: the uplink's, the spool's,
// the next sample, a spool reopen, the watchdog.
int64_t Daemon::next_wake(const LoopTimes& t, int64_t now) const {
  int64_t wake = std::min(t.uplink_wake, t.spool_wake);
  const int64_t due_in = pipeline_->scheduler.next_due() - clock_.wall_ms();
  wake = std::min(wake, now + std::max<int64_t>(0, due_in));
  if (!spool_->is_open()) wake = std::min(wake, t.spool_retry_at);
  if (t.watchdog_ms > 0) wake = std::min(wake, t.watchdog_at);
  return wake;
}

// Hands the session's events to the uplink; notes a reload asked by signal.
// False when the agent is to stop.
bool Daemon::take_events(const std::vector<mqtt::Event>& events, bool& reload_asked) {
  bool running = true;
  for (const mqtt::Event& e : events) {
    if (e.kind == mqtt::Event::Kind::stop) {
      lg.info("%s received: stopping", e.text.c_str());
      running = false;
    } else if (e.kind == mqtt::Event::Kind::reload) {
      reload_asked = true;  // several SIGHUPs at once: one reload
    } else if (e.session == session_count_) {
      session_.uplink->handle(e);
    }
  }
  return running;
}

void Daemon::reopen_spool(LoopTimes& t) {
  if (spool_->is_open() || clock_.steady_ms() < t.spool_retry_at) return;
  if (std::string err = spool_->open(); err.empty())
    lg.info("spool open again at %s", spool_options_.dir.c_str());
  else
    t.spool_retry_at = clock_.steady_ms() + kSpoolReopenMs;
}

// Samples what is due, takes the probes' and devices' results, sends, and
// shows the result to `status`.
void Daemon::sample_and_send(LoopTimes& t) {
  Pipeline& p = *pipeline_;
  int ran = p.scheduler.run_due();
  if (p.probes) ran += static_cast<int>(p.probes->drain(catalog_));
  if (p.devices->apply(session_.batcher.get()) > 0 || ran > 0) session_.batcher->flush();
  t.uplink_wake = session_.uplink->poll();
  t.spool_wake = spool_->maintain();
  status_server_->update(
      {*session_.uplink, *spool_, p.scheduler, *p.devices, catalog_, session_.batcher->lost(),
       p.system ? p.system->clock_synchronized() : std::nullopt, p.probes.get()});
}

// Memory given back, systemd's STATUS= line and watchdog.
void Daemon::keep_house(LoopTimes& t) {
  if (t.trim_at <= clock_.steady_ms()) {
    // Freed pages in the middle of the heap (the config's parse, births,
    // a backlog's replay) stay private dirty until trimmed: give them back.
    ::malloc_trim(0);
    t.trim_at = clock_.steady_ms() + kTrimEveryMs;
  }
  if (t.status_due <= clock_.steady_ms()) {
    update_status();
    t.status_due = clock_.steady_ms() + kStatusEveryMs;
  }
  if (t.watchdog_ms > 0 && clock_.steady_ms() >= t.watchdog_at) {
    notify_systemd("WATCHDOG=1");
    t.watchdog_at = clock_.steady_ms() + t.watchdog_ms;
  }
  if (t.stall_ms > 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(t.stall_ms));
    t.stall_ms = 0;
  }
}

// Every step is bounded, so the agent ends well within systemd's stop
// timeout even with the broker gone or a probe hanging: the probe runner is
// abandoned after 2 s, the NDEATH waits 2 s for its acknowledgement, the
// disconnect 2 s.
void Daemon::shut_down() {
  notify_systemd("STOPPING=1");
  if (pipeline_->probes) pipeline_->probes->stop(probes::Runner::kStopBoundMs);
  session_.batcher->flush();
  session_.uplink->shutdown();
  spool_->sync_all();
  status_server_.reset();  // removes the socket: "not running" from now on
  pipeline_.reset();
  session_ = Session{};
  lg.info("stopped");
}

}  // namespace

int run_agent(const config::Config& cfg, const RunDiagnostics& diagnostics) {
  // Before anything else, so that no signal can end the agent from here on
  // without its NDEATH and a spool sync.
  const sigset_t signals = handled_signals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);  // a closed socket is an error code, not a death
  return_freed_memory();

  log::set_level(to_log_level(cfg.log.level));
  if (!cfg.log.file.empty()) {  // a rotating file where there is no journald
    const log::FileOptions lf{cfg.log.file, cfg.log.max_bytes, cfg.log.keep, cfg.log.fold.count()};
    if (std::string err = log::open_file(lf); !err.empty())
      lg.error("%s; logging to stderr", err.c_str());
  }
  // An inline password, TLS without verification: said on every start.
  for (const std::string& w : cfg.warnings) lg.warning("%s", w.c_str());

  EventQueue queue;
  std::thread signal_thread([&queue, signals] { take_signals(signals, queue); });
  int status = Daemon(cfg, queue, diagnostics).run();
  if (status != 0) {
    // Could not start: the signal thread still waits for its TERM or INT.
    pthread_kill(signal_thread.native_handle(), SIGTERM);
  }
  signal_thread.join();
  log::close_file();  // writes what is still folded
  return status;
}

namespace {

// One pass over the node's own sources; what failed or warned is said on the
// second pass only. Returns the sources that failed.
int collect_sources(std::vector<EnabledDriver>& sources, Catalog& catalog, int pass,
                    std::ostream& out) {
  int failed = 0;
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
  return failed;
}

// Waits until every device has answered this pass, or the deadline.
void wait_for_devices(DeviceRunner& devices, std::mutex& mutex, std::condition_variable& polled,
                      int pass, int64_t device_wait_ms) {
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

// The metrics of one owner (the node, or a device), one a line.
void print_metrics(const Catalog& catalog, DeviceId owner, const std::string& prefix,
                   std::ostream& out) {
  for (MetricId id = 0; id < catalog.size(); ++id) {
    const CatalogEntry& e = catalog.at(id);
    if (e.owner != owner) continue;
    out << prefix << e.name << " = " << format_value(e.value);
    if (!e.unit.empty()) out << " " << e.unit;
    out << "\n";
  }
}

// One device's result and metrics. Returns 1 when it failed, else 0.
int report_device(const DeviceRunner& devices, size_t i, const config::SnmpDevice& c,
                  const Catalog& catalog, std::ostream& out) {
  int failed = 0;
  if (devices.polls(i) == 0) {
    out << "# device " << c.name << " at " << c.address << ": no result in time\n";
    ++failed;
  } else if (!devices.last_problem(i).empty()) {
    out << "# device " << c.name << " at " << c.address << ": " << devices.last_problem(i) << "\n";
    ++failed;
  } else {
    out << "# device " << c.name << " at " << c.address << ": online\n";
  }
  // What a technician writing a profile needs to see: what was skipped, and
  // which of the profiles' OIDs the device does not serve.
  if (!devices.auto_note(i).empty())
    out << "# device " << c.name << ": " << devices.auto_note(i) << "\n";
  if (!devices.left_out(i).empty())
    out << "# device " << c.name << ": " << devices.left_out(i) << "\n";
  if (devices.polls(i) > 0 && devices.last_problem(i).empty()) {
    if (!devices.warning(i).empty())
      out << "# device " << c.name << ": " << text::printable(devices.warning(i), 1000) << "\n";
    const auto& missing = devices.not_served(i);
    for (size_t k = 0; k < missing.size() && k < 100; ++k)
      out << "# device " << c.name << ": not served: " << missing[k] << "\n";
    if (missing.size() > 100)
      out << "# device " << c.name << ": not served: " << missing.size() - 100 << " more\n";
  }
  print_metrics(catalog, devices.id(i), c.name + ": ", out);
  return failed;
}

}  // namespace

int collect_once(const config::Config& cfg, std::ostream& out) {
  Catalog catalog;
  SystemClock clock;
  std::vector<EnabledDriver> sources = make_drivers(cfg);
  int failed = 0;
  probes::OnceRun probe_once(cfg.probes, cfg.state.dir);  // every probe once, meanwhile
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
    failed += collect_sources(sources, catalog, pass, out);
    wait_for_devices(devices, mutex, polled, pass, device_wait_ms);
  }
  probe_once.finish(catalog, out);  // waits at most the probes' timeouts
  print_metrics(catalog, kNode, "", out);
  out << "# Agent/Spool/... metrics come from the running agent's spool: see its NBIRTH/NDATA\n";
  for (size_t i = 0; i < devices.size(); ++i)
    failed += report_device(devices, i, cfg.devices.snmp[i], catalog, out);
  return failed ? 1 : 0;
}

}  // namespace classroom
