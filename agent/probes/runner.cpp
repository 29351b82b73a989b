#include "probes/runner.hpp"

#include <malloc.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <algorithm>
#include <atomic>
#include <cctype>
#include <cinttypes>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "clock.hpp"
#include "log.hpp"
#include "printable.hpp"
#include "probes/curl_api.hpp"
#include "probes/curl_multi.hpp"
#include "probes/dns.hpp"
#include "probes/http.hpp"
#include "probes/icmp.hpp"
#include "probes/report.hpp"
#include "probes/resolver.hpp"
#include "probes/tcp.hpp"
#include "probes/throughput.hpp"
#include "probes/throughput_plan.hpp"
#include "scheduler/scheduler.hpp"

namespace classroom::probes {
namespace {

constexpr log::Logger lg("probes");
using namespace drivers::probes;

// What kind of failure an error is: its words, with every number (an elapsed
// time, bytes received so far, an address) replaced by '#'. A probe that fails
// the same way each run is logged once, not once per run; "" when it succeeded.
std::string failure_kind(const std::string& error) {
  std::string kind;
  kind.reserve(error.size());
  for (char c : error) {
    const bool digit = c >= '0' && c <= '9';
    if (!digit)
      kind += c;
    else if (kind.empty() || kind.back() != '#')
      kind += '#';
  }
  return kind;
}

}  // namespace

struct Runner::Engine {
  struct Entry {
    std::string name, what;
    Kind kind;
    bool https = false;
    int64_t interval_ms = 0;
    std::unique_ptr<Probe> probe;
    std::unique_ptr<ThroughputPlan> plan;
    ThroughputProbe* throughput = nullptr;
    // The probe thread's.
    int64_t next_due = 0;
    bool pending = false, active = false;
    int64_t hard_deadline = 0, started_wall = 0;
    std::string skip_reason;
    // The loop's.
    ProbeMetrics metrics;
    std::string last_error;
    std::string last_kind;  // failure_kind(last_error)
    bool reported = false;
  };
  struct Report {
    size_t index;
    int64_t wall_ms;
    std::optional<Result> result;
    std::optional<double> budget_used;
  };

  explicit Engine(const Clock& c) : clock(c) {}

  const Clock& clock;
  int concurrency = 4;
  bool needs_curl = false;
  std::vector<Entry> entries;

  std::mutex mutex;
  std::condition_variable exited_cv;
  bool exited = false;
  std::vector<Report> reports;
  std::vector<size_t> run_now;  // Probe Now: entries asked to run at once
  std::function<void()> wake;
  std::atomic<bool> stopping{false};
  bool started = false;
  int event_fd = -1;
  bool trim_pending = false;  // the probe thread's

  // What the probe thread's loop owns while it turns: the resolver and curl
  // every probe shares, and the poll set rebuilt on each turn.
  struct Loop {
    enum Owner : int { kWake = -3, kResolver = -2, kCurl = -1 };
    Resolver resolver;
    std::unique_ptr<CurlMulti> curl;
    Context ctx;
    std::vector<Wait> waits;
    std::vector<pollfd> fds;
    std::vector<int> owners;  // entry index, or one of Owner
  };
  std::unique_ptr<Loop> loop;

  ~Engine() {
    close_loop();
    if (event_fd >= 0) ::close(event_fd);
  }

  void post(Report r) {
    std::function<void()> w;
    {
      std::lock_guard lock(mutex);
      reports.push_back(std::move(r));
      w = wake;
    }
    if (w) w();
  }

  void run();
  void open_loop();
  void turn(int64_t max_wait_ms);
  void close_loop();
  void take_run_now(int64_t now_wall);
  void mark_due(int64_t now_wall);
  void start_pending(Context& ctx, int64_t now_wall, int64_t now);
  int64_t gather_waits(int64_t now_wall, int64_t now);
  void dispatch_ready(int64_t now);
  void check_timeouts(int64_t now);
  void finish_done(int64_t now_wall);
  void trim_when_idle();
};

namespace {
// Never destroyed: a probe thread left running at exit may still read it.
const Clock& system_clock() {
  static const SystemClock* clock = new SystemClock;
  return *clock;
}
}  // namespace

Runner::Runner(const config::Probes& cfg, const std::string& state_dir, std::function<void()> wake)
    : Runner(cfg, state_dir, std::move(wake), system_clock()) {}

Runner::Runner(const config::Probes& cfg, const std::string& state_dir, std::function<void()> wake,
               const Clock& clock)
    : engine_(std::make_shared<Engine>(clock)) {
  Engine& e = *engine_;
  e.wake = std::move(wake);
  e.concurrency = cfg.concurrency;
  e.needs_curl = cfg.needs_curl();
  e.event_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  auto add = [&](const std::string& name, Kind kind, std::string what, int64_t interval,
                 std::unique_ptr<Probe> probe) -> Engine::Entry& {
    Engine::Entry& x = e.entries.emplace_back();
    x.name = name;
    x.kind = kind;
    x.what = std::move(what);
    x.interval_ms = interval;
    x.probe = std::move(probe);
    return x;
  };
  for (const auto& p : cfg.icmp)
    add(p.name, Kind::icmp, "ping " + p.target, p.interval.count(),
        std::make_unique<IcmpProbe>(
            IcmpOptions{p.target, p.count, p.spacing.count(), p.timeout.count()}));
  for (const auto& p : cfg.dns)
    add(p.name, Kind::dns, "DNS " + p.query, p.interval.count(),
        std::make_unique<DnsProbe>(DnsOptions{p.query, p.server, p.aaaa, p.timeout.count()}));
  for (const auto& p : cfg.tcp)
    add(p.name, Kind::tcp, "TCP " + p.host + ":" + std::to_string(p.port), p.interval.count(),
        std::make_unique<TcpProbe>(TcpOptions{p.host, p.port, p.timeout.count()}));
  for (const auto& p : cfg.http) {
    auto& x =
        add(p.name, Kind::http, p.url, p.interval.count(),
            std::make_unique<HttpProbe>(HttpOptions{p.url, p.timeout.count(), p.expected_status,
                                                    p.proxy, p.ca_file, p.insecure}));
    x.https = p.url.rfind("https://", 0) == 0;
    if (p.insecure)
      lg.warning(
          "probe %s: certificate verification is OFF (insecure = true): anyone on the "
          "path to %s can pose as it",
          text::printable(p.name, 200).c_str(), text::printable(p.url, 200).c_str());
  }
  for (const auto& p : cfg.throughput) {
    auto probe = std::make_unique<ThroughputProbe>(
        ThroughputOptions{p.url, p.upload_url, p.ca_file, p.max_bytes, p.max_time.count()});
    ThroughputProbe* raw = probe.get();
    auto& x = add(p.name, Kind::throughput, "throughput " + p.url, 0, std::move(probe));
    x.throughput = raw;
    PlanOptions po;
    po.windows = p.windows;
    po.per_day = p.per_day;
    po.monthly_budget = p.monthly_budget;
    po.run_bytes = raw->max_run_bytes();
    if (!state_dir.empty()) {
      std::error_code ec;
      std::filesystem::create_directories(state_dir + "/probes", ec);
      po.state_path = plan_state_path(state_dir, p.name);
    }
    x.plan = std::make_unique<ThroughputPlan>(std::move(po));
    if (std::string err = x.plan->load(); !err.empty())
      lg.warning("probe %s: %s", text::printable(p.name, 200).c_str(), err.c_str());
  }
}

Runner::~Runner() {
  stop(kStopBoundMs);
}

void Runner::declare(drivers::MetricSink& sink) {
  for (size_t i = 0; i < engine_->entries.size(); ++i) {
    Engine::Entry& x = engine_->entries[i];
    x.metrics.declare(sink, x.kind, x.name, x.https);
    if (x.plan) x.metrics.put_budget_used(sink, x.plan->used_percent(engine_->clock.wall_ms()));
  }
}

void Runner::start() {
  std::shared_ptr<Engine> e = engine_;
  e->started = true;
  lg.info("%zu probe%s, at most %d at a time%s", e->entries.size(),
          e->entries.size() == 1 ? "" : "s", e->concurrency,
          e->needs_curl ? "" : " (libcurl not loaded: no http or throughput probe)");
  std::thread([e] { e->run(); }).detach();
}

bool Runner::stop(int64_t bound_ms) {
  Engine& e = *engine_;
  {
    std::lock_guard lock(e.mutex);
    e.wake = nullptr;
  }
  if (e.stopping.exchange(true) || !e.started) return true;
  const uint64_t one = 1;
  ssize_t ignored = ::write(e.event_fd, &one, sizeof one);
  (void)ignored;
  std::unique_lock lock(e.mutex);
  // The thread holds the engine too: if it does not end in time, the process's
  // exit ends it, and nothing it touches is freed under it.
  const bool ended =
      e.exited_cv.wait_for(lock, std::chrono::milliseconds(bound_ms), [&] { return e.exited; });
  if (!ended) lg.warning("probe thread did not stop within %" PRId64 " ms; leaving it", bound_ms);
  return ended;
}

size_t Runner::run_now(std::string_view name) {
  Engine& e = *engine_;
  size_t matched = 0;
  {
    std::lock_guard lock(e.mutex);
    for (size_t i = 0; i < e.entries.size(); ++i)
      if (name == "*" || e.entries[i].name == name) {
        e.run_now.push_back(i);
        ++matched;
      }
  }
  if (matched) {
    const uint64_t one = 1;
    ssize_t ignored = ::write(e.event_fd, &one, sizeof one);  // wakes the probe thread
    (void)ignored;
  }
  return matched;
}

// On the probe thread: the probes a host asked to run now wait for a place
// as a scheduled run does. A throughput probe's budget (runs a day, bytes a
// month) is checked as for a planned run; after the run it plans its next.
void Runner::Engine::take_run_now(int64_t now_wall) {
  std::vector<size_t> asked;
  {
    std::lock_guard lock(mutex);
    asked.swap(run_now);
  }
  for (size_t i : asked) {
    Entry& x = entries[i];
    if (x.pending || x.active) {
      lg.info("probe %s: running or waiting already; Probe Now adds no run",
              text::printable(x.name, 200).c_str());
      continue;
    }
    if (x.plan) {
      std::string why;
      if (!x.plan->may_run(now_wall, why)) {
        lg.warning("probe %s: not run now as a host asked: %s",
                   text::printable(x.name, 200).c_str(), why.c_str());
        x.next_due = x.plan->next_run(now_wall);
        continue;
      }
      x.next_due = INT64_MAX;  // planned again when it ends
    }
    x.pending = true;
  }
}

size_t Runner::drain(Catalog& catalog) {
  std::vector<Engine::Report> got;
  {
    std::lock_guard lock(engine_->mutex);
    got.swap(engine_->reports);
  }
  for (const Engine::Report& r : got) {
    Engine::Entry& x = engine_->entries[r.index];
    catalog.set_time(r.wall_ms);
    if (r.budget_used) x.metrics.put_budget_used(catalog, *r.budget_used);
    if (!r.result) continue;
    x.metrics.put(catalog, *r.result);
    x.reported = true;
    const std::string error = std::visit([](const auto& v) { return v.error; }, *r.result);
    std::string kind = failure_kind(error);
    if (!error.empty() && kind != x.last_kind) {
      lg.warning("probe %s (%s): %s; measuring again %s", text::printable(x.name, 200).c_str(),
                 text::printable(x.what, 200).c_str(), error.c_str(),
                 x.kind == Kind::throughput
                     ? "at the next planned moment"
                     : ("every " + std::to_string(x.interval_ms / 1000) + " s").c_str());
    } else if (error.empty() && !x.last_error.empty()) {
      lg.info("probe %s (%s): answering again", text::printable(x.name, 200).c_str(),
              text::printable(x.what, 200).c_str());
    }
    x.last_error = error;
    x.last_kind = std::move(kind);
  }
  return got.size();
}

std::vector<Runner::Outcome> Runner::outcomes() const {
  std::vector<Outcome> out;
  for (const Engine::Entry& x : engine_->entries)
    out.push_back(Outcome{x.name, x.what, x.reported, x.last_error});
  return out;
}

std::string_view Runner::last_error(size_t index) const {
  return index < engine_->entries.size() ? std::string_view(engine_->entries[index].last_error)
                                         : std::string_view();
}

void Runner::turn(int64_t max_wait_ms) {
  Engine& e = *engine_;
  if (!e.loop) e.open_loop();
  e.turn(max_wait_ms);
}

void Runner::use_probe(size_t index, std::unique_ptr<drivers::probes::Probe> probe) {
  // Not while the probe thread reads the entries; a throughput entry keeps a
  // typed pointer to its own probe, which this would leave dangling.
  Engine::Entry& x = engine_->entries.at(index);
  if (engine_->started || x.kind == Kind::throughput || !probe)
    throw std::logic_error("use_probe: before start(), a non-throughput probe, not null");
  x.probe = std::move(probe);
}

int64_t Runner::longest_run_ms() const {
  int64_t longest = 0;
  for (const Engine::Entry& x : engine_->entries)
    longest = std::max(longest, x.probe->budget_ms() + kGraceMs);
  return longest;
}

// Marks pending every probe whose moment has come: on its interval's grid, or
// (throughput) at the moment its plan picked, within its budget.
void Runner::Engine::mark_due(int64_t now_wall) {
  for (Entry& x : entries) {
    if (x.plan) {
      if (x.next_due == 0) x.next_due = x.plan->next_run(now_wall);
      if (now_wall < x.next_due || x.pending || x.active) continue;
      std::string why;
      if (!x.plan->may_run(now_wall, why)) {
        if (why != x.skip_reason)
          lg.info("probe %s: not run: %s", text::printable(x.name, 200).c_str(), why.c_str());
        x.skip_reason = why;
        x.next_due = x.plan->next_run(now_wall);
        continue;
      }
      x.skip_reason.clear();
      x.pending = true;
      x.next_due = INT64_MAX;  // planned again when it ends
      continue;
    }
    // A wall-clock step backwards: re-align instead of waiting it out.
    if (x.next_due - now_wall > x.interval_ms) x.next_due = next_aligned(now_wall, x.interval_ms);
    if (now_wall < x.next_due) continue;
    if (x.pending || x.active) {
      lg.debug("probe %s: still running at its next slot; this slot is skipped",
               text::printable(x.name, 200).c_str());
    } else {
      x.pending = true;
    }
    x.next_due = next_aligned(now_wall, x.interval_ms);
  }
}

// Starts pending runs, in config order, while fewer than `concurrency` are in flight.
void Runner::Engine::start_pending(Context& ctx, int64_t now_wall, int64_t now) {
  int active = 0;
  for (const Entry& x : entries) active += x.active;
  for (Entry& x : entries) {
    if (active >= concurrency) break;
    if (!x.pending) continue;
    x.pending = false;
    x.active = true;
    ++active;
    x.started_wall = now_wall;
    x.hard_deadline = now + x.probe->budget_ms() + kGraceMs;
    x.probe->start(ctx, now);
  }
}

void Runner::Engine::finish_done(int64_t now_wall) {
  for (size_t i = 0; i < entries.size(); ++i) {
    Entry& x = entries[i];
    if (!x.active || !x.probe->done()) continue;
    x.active = false;
    Report r{i, x.started_wall, x.probe->result(), std::nullopt};
    if (x.plan) {
      const auto& t = std::get<ThroughputResult>(*r.result);
      if (std::string err = x.plan->record(x.started_wall, t.bytes); !err.empty())
        lg.warning("probe %s: %s; the budget count may be lost at a restart",
                   text::printable(x.name, 200).c_str(), err.c_str());
      r.budget_used = x.plan->used_percent(now_wall);
      x.next_due = x.plan->next_run(now_wall);
    }
    post(std::move(r));
    trim_pending = true;
  }
}

void Runner::Engine::run() {
  open_loop();
  while (!stopping.load()) turn(60'000);
  close_loop();
  std::lock_guard lock(mutex);
  exited = true;
  exited_cv.notify_all();
}

void Runner::Engine::open_loop() {
  loop = std::make_unique<Loop>();
  if (needs_curl) {
    loop->curl = std::make_unique<CurlMulti>();
    std::string why;
    if (!load_curl(&why)) why += "; ";
    if (!loop->curl->ok())
      lg.error("cannot start libcurl (%shttp and throughput probes fail)", why.c_str());
  }
  loop->ctx = Context{&loop->resolver, loop->curl.get()};
  for (Entry& x : entries)
    if (!x.plan) x.next_due = clock.wall_ms();  // first run at once, then on the grid
}

// One turn: start what is due, wait (at most `max_wait_ms`) for a socket or
// the next moment something is due, hand each probe what happened, collect
// the runs that ended.
void Runner::Engine::turn(int64_t max_wait_ms) {
  const int64_t now_wall = clock.wall_ms(), now = clock.steady_ms();
  take_run_now(now_wall);
  mark_due(now_wall);
  start_pending(loop->ctx, now_wall, now);
  finish_done(now_wall);  // a run can end inside start() (a refused socket)

  const int64_t wake_at = gather_waits(now_wall, now);
  const int timeout = static_cast<int>(std::clamp<int64_t>(wake_at - now, 0, max_wait_ms));
  const int n = ::poll(loop->fds.data(), loop->fds.size(), timeout);
  const int64_t after = clock.steady_ms();
  if (n > 0) dispatch_ready(after);
  check_timeouts(after);
  finish_done(clock.wall_ms());
  trim_when_idle();
}

// Builds the poll set (the wake-up eventfd, the resolver, curl, every run in
// flight) and returns the steady time by which the loop must turn again.
int64_t Runner::Engine::gather_waits(int64_t now_wall, int64_t now) {
  Loop& l = *loop;
  l.fds.clear();
  l.owners.clear();
  auto add = [&](int owner) {
    for (const Wait& w : l.waits) {
      l.fds.push_back(pollfd{w.fd, w.events, 0});
      l.owners.push_back(owner);
    }
    l.waits.clear();
  };
  l.waits.push_back(Wait{event_fd, POLLIN});
  add(Loop::kWake);
  l.resolver.wants(l.waits);
  add(Loop::kResolver);
  if (l.curl) {
    l.curl->wants(l.waits);
    add(Loop::kCurl);
  }
  int64_t wake_at = now + 60'000;
  wake_at = std::min(wake_at, l.resolver.next_wake(now));
  if (l.curl) wake_at = std::min(wake_at, l.curl->next_wake());
  for (size_t i = 0; i < entries.size(); ++i) {
    Entry& x = entries[i];
    if (x.active) {
      x.probe->wants(l.waits);
      add(static_cast<int>(i));
      wake_at = std::min({wake_at, x.probe->next_wake(), x.hard_deadline});
    } else if (!x.pending && x.next_due != INT64_MAX) {
      wake_at = std::min(wake_at, now + std::max<int64_t>(0, x.next_due - now_wall));
    }
  }
  return wake_at;
}

// Hands each ready descriptor to its owner.
void Runner::Engine::dispatch_ready(int64_t now) {
  Loop& l = *loop;
  for (size_t k = 0; k < l.fds.size(); ++k) {
    const pollfd& fd = l.fds[k];
    if (!fd.revents) continue;
    if (l.owners[k] == Loop::kWake) {
      uint64_t v;
      ssize_t ignored = ::read(event_fd, &v, sizeof v);
      (void)ignored;
    } else if (l.owners[k] == Loop::kResolver) {
      l.resolver.on_ready(fd.fd, fd.revents);
    } else if (l.owners[k] == Loop::kCurl) {
      l.curl->on_ready(fd.fd, fd.revents);
    } else if (Entry& x = entries[static_cast<size_t>(l.owners[k])]; x.active) {
      x.probe->on_ready(fd.fd, fd.revents, now);
    }
  }
}

// Time passed: protocol timeouts, and the hard deadline of a run that
// outlives its own timeouts.
void Runner::Engine::check_timeouts(int64_t now) {
  loop->resolver.on_time();
  if (loop->curl) loop->curl->on_time(now);
  for (Entry& x : entries) {
    if (!x.active || x.probe->done()) continue;
    x.probe->on_time(now);
    if (!x.probe->done() && now >= x.hard_deadline)
      x.probe->abort("no result within its timeout + " + std::to_string(kGraceMs / 1000) +
                         " s (hard deadline)",
                     now);
  }
}

// Every run of this round has ended: the memory its transfers, sockets and
// resolver tables took goes back to the system, so that the thread costs
// what it keeps between runs, not its busiest moment (docs/performance.md,
// "Figures").
void Runner::Engine::trim_when_idle() {
  if (trim_pending && std::none_of(entries.begin(), entries.end(),
                                   [](const Entry& x) { return x.active || x.pending; })) {
    ::malloc_trim(0);
    trim_pending = false;
  }
}

// Stopping: runs in flight are abandoned, not waited for.
void Runner::Engine::close_loop() {
  if (!loop) return;
  for (Entry& x : entries)
    if (x.active) x.probe->abort("the agent is stopping", clock.steady_ms());
  for (Entry& x : entries) x.probe.reset();  // before the resolver and curl they use
  loop.reset();
}

}  // namespace classroom::probes
