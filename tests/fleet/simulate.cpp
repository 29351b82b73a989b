// tests/fleet/simulate: N virtual classroom gateways in one process, each the
// agent's own session code (Catalog, Scheduler, Batcher, Spool, Uplink over
// mqtt::Client on Paho, the real Sparkplug encoding) with its own MQTT
// connection, client id, Will, bdSeq, spool and metric set. One thread turns
// every gateway's loop, as agent/daemon/agent.cpp turns the agent's. See
// tests/fleet/README.md.
#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <dirent.h>
#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <queue>
#include <string>
#include <vector>

#include "batch/batcher.hpp"
#include "catalog/catalog.hpp"
#include "clock.hpp"
#include "config.hpp"
#include "daemon/event_queue.hpp"
#include "fleet/checker.hpp"
#include "fleet/classroom.hpp"
#include "log.hpp"
#include "mqtt/mqtt_client.hpp"
#include "scheduler/scheduler.hpp"
#include "session/uplink.hpp"
#include "spool/spool.hpp"
#include "units.hpp"

namespace classroom::fleet {
namespace {

// Short: after a single broker comes back, the checker must be subscribed again
// before the gateways (their first retries are 1, 2, 4, 8 s apart).
constexpr int64_t kSubscriberRetryMs = 100;

// ---------------------------------------------------------------- options --

struct Command {
  int64_t at_ms;
  std::string shell;
  bool after_online = false;  // at_ms counts from the moment all were online first
};

struct Options {
  size_t gateways = 100;
  std::vector<std::string> servers{"tcp://127.0.0.1:1883"};
  int64_t interval_ms = 10'000;
  int64_t duration_ms = 120'000;
  std::string prefix = "sim";
  size_t per_group = 20;
  bool json = false;
  int64_t ramp_ms = -1;  // -1: min(interval, 10 s)
  int64_t drain_ms = 60'000;
  bool check = true;
  std::string state_dir;  // "" = /dev/shm, else $TMPDIR
  uint64_t spool_bytes = 1 << 20;
  std::vector<Command> commands;
  log::Level log_level = log::Level::error;
  // The agent's [broker] defaults unless given.
  config::Broker broker;
};

[[noreturn]] void usage(const char* why) {
  if (why) std::fprintf(stderr, "simulate: %s\n", why);
  std::fprintf(
      stderr,
      "usage: simulate --gateways N --servers tcp://H:P[,tcp://H:P...] [--interval 10s]\n"
      "                [--duration 120s] [--group-prefix sim] [--json]\n"
      "  --per-school N       gateways per group (20)\n"
      "  --ramp DURATION      start the gateways over this long (min(interval, 10s))\n"
      "  --drain DURATION     after --duration, wait this long at most for every sample\n"
      "                       to be confirmed and seen (60s)\n"
      "  --at DURATION=CMD    run CMD with /bin/sh at that time after the start (repeatable;\n"
      "                       e.g. --at '30s=tests/fleet/cluster.sh kill 1'); online+DURATION:\n"
      "                       that long after every gateway was online for the first time\n"
      "  --no-check           no subscribers: samples are not checked for holes\n"
      "  --state-dir DIR      where the gateways' spools and bdSeq live (/dev/shm)\n"
      "  --spool-max SIZE     each gateway's [spool] max_bytes (1MiB)\n"
      "  --retry-min D, --retry-max D, --keepalive D, --connect-timeout D\n"
      "                       the [broker] keys (the agent's defaults)\n"
      "  --log LEVEL          the agent library's log on stderr: debug, info, warning,\n"
      "                       error (error)\n");
  std::exit(2);
}

int64_t duration_arg(const char* name, const std::string& text) {
  auto d = config::parse_duration(text);
  if (!d) usage((std::string(name) + ": not a duration: " + text).c_str());
  return d->count();
}

Options parse_options(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage((a + " needs a value").c_str());
      return argv[++i];
    };
    if (a == "--gateways") {
      o.gateways = std::strtoul(value().c_str(), nullptr, 10);
    } else if (a == "--servers") {
      o.servers.clear();
      const std::string list = value();
      for (size_t from = 0; from <= list.size();) {
        size_t comma = list.find(',', from);
        if (comma == std::string::npos) comma = list.size();
        if (comma > from) o.servers.push_back(list.substr(from, comma - from));
        from = comma + 1;
      }
    } else if (a == "--interval") {
      o.interval_ms = duration_arg("--interval", value());
    } else if (a == "--duration") {
      o.duration_ms = duration_arg("--duration", value());
    } else if (a == "--group-prefix") {
      o.prefix = value();
    } else if (a == "--per-school") {
      o.per_group = std::strtoul(value().c_str(), nullptr, 10);
    } else if (a == "--json") {
      o.json = true;
    } else if (a == "--ramp") {
      o.ramp_ms = duration_arg("--ramp", value());
    } else if (a == "--drain") {
      o.drain_ms = duration_arg("--drain", value());
    } else if (a == "--at") {
      const std::string v = value();
      const size_t eq = v.find('=');
      if (eq == std::string::npos) usage("--at: DURATION=COMMAND");
      std::string when = v.substr(0, eq);
      const bool after_online = when.rfind("online+", 0) == 0;
      if (after_online) when.erase(0, 7);
      o.commands.push_back({duration_arg("--at", when), v.substr(eq + 1), after_online});
    } else if (a == "--no-check") {
      o.check = false;
    } else if (a == "--state-dir") {
      o.state_dir = value();
    } else if (a == "--spool-max") {
      auto s = config::parse_size(value());
      if (!s || *s < (64u << 10)) usage("--spool-max: a size of at least 64KiB");
      o.spool_bytes = *s;
    } else if (a == "--retry-min") {
      o.broker.retry_min = std::chrono::milliseconds(duration_arg("--retry-min", value()));
    } else if (a == "--retry-max") {
      o.broker.retry_max = std::chrono::milliseconds(duration_arg("--retry-max", value()));
    } else if (a == "--keepalive") {
      o.broker.keepalive = std::chrono::milliseconds(duration_arg("--keepalive", value()));
    } else if (a == "--connect-timeout") {
      o.broker.connect_timeout =
          std::chrono::milliseconds(duration_arg("--connect-timeout", value()));
    } else if (a == "--log") {
      const std::string l = value();
      if (l == "debug")
        o.log_level = log::Level::debug;
      else if (l == "info")
        o.log_level = log::Level::info;
      else if (l == "warning")
        o.log_level = log::Level::warning;
      else if (l == "error")
        o.log_level = log::Level::error;
      else
        usage("--log: debug, info, warning or error");
    } else if (a == "--help" || a == "-h") {
      usage(nullptr);
    } else {
      usage(("unknown argument " + a).c_str());
    }
  }
  if (o.gateways == 0) usage("--gateways: at least 1");
  if (o.servers.empty()) usage("--servers: at least one server");
  for (const std::string& s : o.servers)
    if (s.rfind("tcp://", 0) != 0) usage(("--servers: tcp:// only: " + s).c_str());
  if (o.per_group == 0 || o.per_group > 99) usage("--per-school: 1 to 99");
  if (o.interval_ms < 1000) usage("--interval: at least 1s");
  if (o.broker.retry_max < o.broker.retry_min) usage("--retry-max is less than --retry-min");
  if (o.ramp_ms < 0) o.ramp_ms = std::min<int64_t>(o.interval_ms, 10'000);
  return o;
}

// ------------------------------------------------------------- counting --

// What every gateway sent, counted at the one door it goes through.
struct Counters {
  uint64_t births = 0, data = 0, receipts = 0, deaths = 0, other = 0;
  uint64_t bytes = 0;  // MQTT PUBLISH packets, as the broker receives them
  uint64_t attempts = 0, sessions = 0, lost = 0;
};

// The agent's mqtt::Client, with the PUBLISH packets counted on their way out.
class CountingClient final : public mqtt::Client {
 public:
  // `on_session`: a CONNACK was accepted (the uplink subscribes to its NCMD
  // right after it, and only then).
  CountingClient(Counters& counters, const bool& mqtt5, std::function<void()> on_session)
      : c_(counters), mqtt5_(mqtt5), on_session_(std::move(on_session)) {}
  void attach(std::unique_ptr<mqtt::Client> inner) { inner_ = std::move(inner); }

  bool connect(const mqtt::ConnectRequest& r, std::string& error) override {
    ++c_.attempts;
    return inner_->connect(r, error);
  }
  bool subscribe(const std::string& topic, int qos, std::string& error) override {
    if (topic.find("/NCMD/") != std::string::npos) on_session_();
    return inner_->subscribe(topic, qos, error);
  }
  bool publish(const std::string& topic, std::string_view payload, int qos, uint64_t tag,
               std::string& error) override {
    if (!inner_->publish(topic, payload, qos, tag, error)) return false;
    count(topic, payload.size(), qos);
    return true;
  }
  bool publish_and_wait(const std::string& topic, std::string_view payload,
                        int timeout_ms) override {
    count(topic, payload.size(), 1);
    return inner_->publish_and_wait(topic, payload, timeout_ms);
  }
  void disconnect(int timeout_ms) override { inner_->disconnect(timeout_ms); }
  void disconnect_with_will(int timeout_ms) override { inner_->disconnect_with_will(timeout_ms); }
  void abandon() override { inner_->abandon(); }
  void end_with_will() override { inner_->end_with_will(); }

 private:
  void count(const std::string& topic, size_t payload, int qos) {
    c_.bytes += mqtt::publish_packet_size(topic.size(), payload, qos, mqtt5_);
    if (topic.find("/NDATA/") != std::string::npos)
      ++c_.data;
    else if (topic.find("/NBIRTH/") != std::string::npos)
      ++c_.births;
    else if (topic.find("/NDEATH/") != std::string::npos)
      ++c_.deaths;
    else if (topic.rfind("spBv1.0/", 0) != 0)
      ++c_.receipts;
    else
      ++c_.other;
  }
  Counters& c_;
  const bool& mqtt5_;
  std::function<void()> on_session_;
  std::unique_ptr<mqtt::Client> inner_;
};

// ------------------------------------------------------------- gateways --

struct Gateway {
  size_t index = 0;
  bool mqtt5 = false;
  std::unique_ptr<Spool> spool;
  Catalog catalog;
  std::unique_ptr<CountingClient> client;
  std::unique_ptr<Uplink> uplink;
  std::unique_ptr<Batcher> batcher;
  std::unique_ptr<Scheduler> scheduler;  // made when the gateway starts
  std::unique_ptr<Classroom> classroom;
  int64_t start_at = 0;  // steady
  int64_t wake = 0;      // steady; the heap entry that counts
  bool online = false;
  bool touched = false;  // an event arrived: serviced this turn
  uint64_t sessions = 0;
};

struct Subscriber {
  std::string server;
  std::unique_ptr<mqtt::Client> client;
  enum class State { idle, connecting, subscribing, ready } state = State::idle;
  int pending = 0;
  int64_t retry_at = 0;
  uint64_t attempt = 0;
  bool ever_ready = false;
};

// A time from one moment to every gateway online again.
struct Storm {
  int64_t start_ms = 0;  // since the run's start
  uint64_t gateways_lost = 0;
  int64_t all_online_after_ms = -1;  // -1: not within the run
  uint64_t peak_connects = 0;        // CONNACKs in the busiest second
  uint64_t connects = 0;
};

struct Child {
  pid_t pid;
  Command command;
  int64_t started_ms;
};

class Simulation {
 public:
  explicit Simulation(Options o) : opt_(std::move(o)), counters_{} {}
  int run();

 private:
  void make_gateway(size_t i);
  void start_gateway(Gateway& g);
  void service(Gateway& g, int64_t now, int64_t wall);
  void schedule(Gateway& g, int64_t at);
  void handle_subscriber(size_t i, const mqtt::Event& e);
  void poll_subscribers(int64_t now);
  void note_online(Gateway& g, int64_t now);
  void note_connect(int64_t now);
  void run_commands(int64_t now);
  void reap_children(bool wait);
  bool drained() const;
  void report(int64_t end_ms);
  uint64_t online_count() const { return online_; }

  Options opt_;
  SystemClock clock_;
  EventQueue queue_;
  Counters counters_;
  std::string dir_;
  std::vector<std::unique_ptr<Gateway>> gws_;
  std::vector<Subscriber> subs_;
  std::unique_ptr<SeriesChecker> checker_;
  using Due = std::pair<int64_t, size_t>;
  std::priority_queue<Due, std::vector<Due>, std::greater<Due>> heap_;
  std::vector<size_t> touched_;
  int64_t t0_ = 0;  // steady, the run's start
  bool sampling_ = true;
  uint64_t online_ = 0;
  bool all_online_once_ = false;
  int64_t all_online_first_ms_ = -1;
  Storm start_storm_;
  std::vector<Storm> storms_;
  Storm* storm_ = nullptr;  // the one under way (or start_storm_)
  int64_t connect_second_ = -1;
  uint64_t connects_this_second_ = 0;
  std::vector<bool> command_done_;
  int64_t command_due(const Command& c) const;
  std::vector<Child> children_;
  std::vector<std::string> command_log_;
  // Resources.
  uint64_t rss_base_kib_ = 0, rss_online_kib_ = 0;
  size_t fds_peak_ = 0;
  struct rusage usage_start_ {};
};

// Milliseconds as seconds; -1 (never) stays -1.
double seconds_or_never(int64_t ms) {
  return ms < 0 ? -1.0 : static_cast<double>(ms) / 1000.0;
}

uint64_t status_kib(const char* field) {
  FILE* f = std::fopen("/proc/self/status", "r");
  if (!f) return 0;
  char line[256];
  uint64_t v = 0;
  const size_t n = std::strlen(field);
  while (std::fgets(line, sizeof line, f))
    if (std::strncmp(line, field, n) == 0 && line[n] == ':')
      v = std::strtoull(line + n + 1, nullptr, 10);
  std::fclose(f);
  return v;
}

size_t open_fds() {
  size_t n = 0;
  if (DIR* d = opendir("/proc/self/fd")) {
    while (readdir(d)) ++n;
    closedir(d);
  }
  return n > 2 ? n - 3 : 0;  // ., .. and the directory itself
}

void Simulation::make_gateway(size_t i) {
  auto g = std::make_unique<Gateway>();
  g->index = i;
  Gateway& gw = *g;
  const std::string group = group_name(opt_.prefix, i, opt_.per_group);
  const std::string node = node_name(i, opt_.per_group);
  const std::string dir = dir_ + "/" + group + "-" + node;
  ::mkdir(dir.c_str(), 0700);
  SpoolOptions so;
  so.dir = dir + "/spool";
  so.max_bytes = opt_.spool_bytes;
  so.sync_interval_ms = 1000;  // the shipped config's sync = "1s"
  gw.spool = std::make_unique<Spool>(so, clock_);
  if (std::string err = gw.spool->open(); !err.empty()) {
    std::fprintf(stderr, "simulate: spool of %s/%s: %s\n", group.c_str(), node.c_str(),
                 err.c_str());
    std::exit(1);
  }
  // As Daemon::open_session: the gateway's own client, its events stamped
  // with the gateway they belong to.
  const std::string client_id = group + "-" + node;
  gw.client = std::make_unique<CountingClient>(counters_, gw.mqtt5, [this, &gw] {
    ++gw.sessions;
    note_connect(clock_.steady_ms());
  });
  // Each gateway's list starts at its own server: the fleet is spread over the cluster.
  std::vector<std::string> servers;
  for (size_t k = 0; k < opt_.servers.size(); ++k)
    servers.push_back(opt_.servers[(i + k) % opt_.servers.size()]);
  const uint64_t session = i + 1;
  gw.client->attach(
      mqtt::make_paho_client(servers.front(), client_id, [this, session](mqtt::Event e) {
        e.session = session;
        queue_.post(std::move(e));
      }));
  // The agent's own mapping from its config, with this gateway's identity.
  config::Config cfg;
  cfg.identity.group = group;
  cfg.identity.node = node;
  cfg.broker = opt_.broker;
  cfg.broker.servers = servers;
  cfg.broker.client_id = client_id;
  cfg.broker.receipt_topic = "classroom-agent/" + group + "/" + node + "/receipt";
  cfg.state.dir = dir;
  const UplinkOptions uo = uplink_options(cfg);
  gw.uplink = std::make_unique<Uplink>(uo, *gw.client, gw.catalog, *gw.spool, clock_);
  gw.batcher = std::make_unique<Batcher>(gw.catalog, *gw.spool, *gw.uplink, clock_);
  gw.classroom = std::make_unique<Classroom>(i + 1, *gw.spool);
  gws_.push_back(std::move(g));
}

// The gateway's sources go on its scheduler, at their intervals on the wall
// clock's grid, as Daemon::build_pipeline does with the real drivers.
void Simulation::start_gateway(Gateway& g) {
  g.scheduler = std::make_unique<Scheduler>(clock_);
  const auto& infos = sources();
  for (size_t s = 0; s < infos.size(); ++s) {
    drivers::Driver* d = &g.classroom->source(s);
    Gateway* gw = &g;
    g.scheduler->add(infos[s].name, opt_.interval_ms * infos[s].interval_factor,
                     [gw, d](int64_t now) {
                       gw->catalog.set_time(now);
                       return d->collect(gw->catalog);
                     });
  }
}

void Simulation::schedule(Gateway& g, int64_t at) {
  g.wake = at;
  heap_.push({at, g.index});
}

// One turn of the agent's loop for one gateway (agent.cpp, Daemon::run).
void Simulation::service(Gateway& g, int64_t now, int64_t wall) {
  if (!g.scheduler) {
    if (now < g.start_at) return schedule(g, g.start_at);
    start_gateway(g);
  }
  if (sampling_ && g.scheduler->next_due() <= wall && g.scheduler->run_due() > 0)
    g.batcher->flush();
  const int64_t uplink_wake = g.uplink->poll();
  const int64_t spool_wake = g.spool->maintain();
  int64_t wake = std::min(uplink_wake, spool_wake);
  if (sampling_) wake = std::min(wake, now + std::max<int64_t>(0, g.scheduler->next_due() - wall));
  note_online(g, now);
  schedule(g, std::max(wake, now));
}

void Simulation::note_online(Gateway& g, int64_t now) {
  const bool online = g.uplink->online();
  if (online == g.online) return;
  g.online = online;
  if (online) {
    ++online_;
    if (online_ == gws_.size() && storm_) {
      storm_->all_online_after_ms = now - t0_ - storm_->start_ms;
      if (!all_online_once_) all_online_first_ms_ = now - t0_;
      all_online_once_ = true;
      storm_ = nullptr;
    }
  } else {
    --online_;
    ++counters_.lost;
    if (!storm_ && all_online_once_) {
      storms_.push_back(Storm{});
      storm_ = &storms_.back();
      storm_->start_ms = now - t0_;
    }
    if (storm_) ++storm_->gateways_lost;
  }
}

void Simulation::note_connect(int64_t now) {
  ++counters_.sessions;
  if (!storm_) return;
  ++storm_->connects;
  const int64_t second = (now - t0_) / 1000;
  if (second != connect_second_) {
    connect_second_ = second;
    connects_this_second_ = 0;
  }
  storm_->peak_connects = std::max(storm_->peak_connects, ++connects_this_second_);
}

// ---------------------------------------------------------- subscribers --

void Simulation::handle_subscriber(size_t i, const mqtt::Event& e) {
  Subscriber& s = subs_[i];
  using K = mqtt::Event::Kind;
  const int64_t now = clock_.steady_ms();
  switch (e.kind) {
    case K::connected: {
      if (s.state != Subscriber::State::connecting || e.tag != s.attempt) return;
      s.state = Subscriber::State::subscribing;
      s.pending = 0;
      std::string error;
      for (const char* t : {"spBv1.0/+/NBIRTH/+", "spBv1.0/+/NDATA/+", "spBv1.0/+/NDEATH/+"}) {
        if (!s.client->subscribe(t, 0, error)) {
          s.client->abandon();
          s.state = Subscriber::State::idle;
          s.retry_at = now + kSubscriberRetryMs;
          return;
        }
        ++s.pending;
      }
      return;
    }
    case K::subscribed:
      if (s.state == Subscriber::State::subscribing && --s.pending == 0) {
        s.state = Subscriber::State::ready;
        s.ever_ready = true;
      }
      return;
    case K::connect_failed:
      if (e.tag != s.attempt) return;
      [[fallthrough]];
    case K::subscribe_failed:
    case K::connection_lost:
      if (s.state == Subscriber::State::idle) return;
      if (s.state != Subscriber::State::connecting) s.client->abandon();
      s.state = Subscriber::State::idle;
      s.retry_at = now + kSubscriberRetryMs;
      return;
    case K::message:
      checker_->on_message(i, e.topic, e.payload);
      return;
    default:
      return;
  }
}

void Simulation::poll_subscribers(int64_t now) {
  for (Subscriber& s : subs_) {
    if (s.state != Subscriber::State::idle || now < s.retry_at) continue;
    mqtt::ConnectRequest r;
    r.server = s.server;
    r.client_id = opt_.prefix + "-checker-" + std::to_string(&s - subs_.data() + 1);
    r.keepalive_s = 10;
    r.connect_timeout_s = 5;
    r.attempt = ++s.attempt;
    std::string error;
    s.state = Subscriber::State::connecting;
    if (!s.client->connect(r, error)) {
      s.state = Subscriber::State::idle;
      s.retry_at = now + kSubscriberRetryMs;
    }
  }
}

// ------------------------------------------------------------- commands --

// Steady time at which `c` runs (INT64_MAX: not known yet).
int64_t Simulation::command_due(const Command& c) const {
  if (!c.after_online) return t0_ + c.at_ms;
  return all_online_first_ms_ < 0 ? INT64_MAX : t0_ + all_online_first_ms_ + c.at_ms;
}

void Simulation::run_commands(int64_t now) {
  for (size_t k = 0; k < opt_.commands.size(); ++k) {
    const Command& c = opt_.commands[k];
    if (command_done_[k] || command_due(c) > now) continue;
    command_done_[k] = true;
    const char* argv[] = {"/bin/sh", "-c", c.shell.c_str(), nullptr};
    pid_t pid = 0;
    // Its output goes to our stderr; it never holds up the loop.
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, 2, 1);
    const int rc = posix_spawn(&pid, "/bin/sh", &fa, nullptr, const_cast<char**>(argv), environ);
    posix_spawn_file_actions_destroy(&fa);
    char line[64];
    std::snprintf(line, sizeof line, "%.1fs: ", static_cast<double>(now - t0_) / 1000);
    if (rc != 0) {
      command_log_.push_back(line + c.shell + ": cannot run: " + std::strerror(rc));
      continue;
    }
    children_.push_back({pid, c, now});
  }
}

void Simulation::reap_children(bool wait) {
  for (auto it = children_.begin(); it != children_.end();) {
    int status = 0;
    const pid_t r = ::waitpid(it->pid, &status, wait ? 0 : WNOHANG);
    if (r == 0) {
      ++it;
      continue;
    }
    char line[96];
    std::snprintf(line, sizeof line, "%.1fs: ", static_cast<double>(it->started_ms - t0_) / 1000);
    std::string s = line + it->command.shell;
    const double took = static_cast<double>(clock_.steady_ms() - it->started_ms) / 1000;
    std::snprintf(line, sizeof line, " (exit %d, %.1f s)",
                  WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), took);
    command_log_.push_back(s + line);
    it = children_.erase(it);
  }
}

// ----------------------------------------------------------------- loop --

bool Simulation::drained() const {
  uint64_t taken = 0;
  for (const auto& g : gws_) {
    if (g->spool->committed() + 1 < g->spool->next_id()) return false;
    taken += g->classroom->samples();
  }
  return !checker_ || checker_->seen() >= taken;
}

int Simulation::run() {
  // Thousands of sockets and spool files: the soft limit up to the hard one.
  struct rlimit rl {};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  getrlimit(RLIMIT_NOFILE, &rl);
  const uint64_t fds_needed = opt_.gateways * 3 + opt_.servers.size() + 64;
  if (rl.rlim_cur < fds_needed)
    std::fprintf(stderr,
                 "simulate: warning: %" PRIu64 " file descriptors allowed, about %" PRIu64
                 " needed (ulimit -Hn)\n",
                 static_cast<uint64_t>(rl.rlim_cur), fds_needed);
  std::signal(SIGPIPE, SIG_IGN);
  log::set_level(opt_.log_level);

  std::string base = opt_.state_dir;
  if (base.empty()) {
    struct stat st {};
    base = ::stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) ? "/dev/shm"
           : std::getenv("TMPDIR")                             ? std::getenv("TMPDIR")
                                                               : "/tmp";
  }
  std::string templ = base + "/classroom-fleet-XXXXXX";
  if (!::mkdtemp(templ.data())) {
    std::fprintf(stderr, "simulate: cannot make a dir in %s: %s\n", base.c_str(),
                 std::strerror(errno));
    return 1;
  }
  dir_ = templ;

  // The host side first, so that no gateway's first sample goes unseen.
  if (opt_.check) {
    checker_ = std::make_unique<SeriesChecker>(opt_.prefix, opt_.per_group, opt_.gateways,
                                               opt_.servers.size());
    for (size_t i = 0; i < opt_.servers.size(); ++i) {
      Subscriber s;
      s.server = opt_.servers[i];
      const uint64_t session = opt_.gateways + 1 + i;
      s.client = mqtt::make_paho_client(s.server, opt_.prefix + "-checker-" + std::to_string(i + 1),
                                        [this, session](mqtt::Event e) {
                                          e.session = session;
                                          queue_.post(std::move(e));
                                        });
      subs_.push_back(std::move(s));
    }
    const int64_t deadline = clock_.steady_ms() + 30'000;
    std::vector<mqtt::Event> events;
    while (clock_.steady_ms() < deadline) {
      poll_subscribers(clock_.steady_ms());
      bool all = true;
      for (const Subscriber& s : subs_) all = all && s.state == Subscriber::State::ready;
      if (all) break;
      events.clear();
      queue_.wait(events, 100);
      for (const mqtt::Event& e : events)
        if (e.session > opt_.gateways) handle_subscriber(e.session - opt_.gateways - 1, e);
    }
    for (const Subscriber& s : subs_)
      if (s.state != Subscriber::State::ready) {
        std::fprintf(stderr, "simulate: the checker cannot subscribe on %s\n", s.server.c_str());
        std::filesystem::remove_all(dir_);
        return 1;
      }
  }

  rss_base_kib_ = status_kib("VmRSS");
  gws_.reserve(opt_.gateways);
  for (size_t i = 0; i < opt_.gateways; ++i) make_gateway(i);
  getrusage(RUSAGE_SELF, &usage_start_);
  t0_ = clock_.steady_ms();
  storm_ = &start_storm_;
  command_done_.assign(opt_.commands.size(), false);
  for (auto& g : gws_) {
    g->start_at = t0_ + static_cast<int64_t>(static_cast<double>(opt_.ramp_ms) *
                                             static_cast<double>(g->index) /
                                             static_cast<double>(opt_.gateways));
    schedule(*g, g->start_at);
  }
  const int64_t end_sampling = t0_ + opt_.duration_ms;
  int64_t drain_until = 0;
  int64_t last_fd_check = 0;
  std::vector<mqtt::Event> events;
  for (;;) {
    int64_t now = clock_.steady_ms();
    if (sampling_ && now >= end_sampling) {
      sampling_ = false;  // the sources stop; the spools empty
      drain_until = now + opt_.drain_ms;
    }
    if (!sampling_ && (drained() || now >= drain_until)) break;
    int64_t wake = heap_.empty() ? now + 1000 : heap_.top().first;
    if (sampling_)
      wake = std::min(wake, end_sampling);
    else
      wake = std::min(wake, now + 200);
    for (size_t k = 0; k < opt_.commands.size(); ++k)
      if (!command_done_[k]) wake = std::min(wake, command_due(opt_.commands[k]));
    for (const Subscriber& s : subs_)
      if (s.state == Subscriber::State::idle) wake = std::min(wake, s.retry_at);
    if (!children_.empty()) wake = std::min(wake, now + 200);
    events.clear();
    queue_.wait(events, wake - now);
    now = clock_.steady_ms();
    for (const mqtt::Event& e : events) {
      if (e.session > opt_.gateways) {
        handle_subscriber(e.session - opt_.gateways - 1, e);
        continue;
      }
      Gateway& g = *gws_[e.session - 1];
      if (e.kind == mqtt::Event::Kind::connected) g.mqtt5 = e.mqtt5;
      g.uplink->handle(e);
      if (!g.touched) {
        g.touched = true;
        touched_.push_back(g.index);
      }
    }
    const int64_t wall = clock_.wall_ms();
    for (size_t i : touched_) {
      gws_[i]->touched = false;
      service(*gws_[i], now, wall);
    }
    touched_.clear();
    while (!heap_.empty() && heap_.top().first <= now) {
      const auto [at, i] = heap_.top();
      heap_.pop();
      if (gws_[i]->wake != at) continue;  // rescheduled since
      service(*gws_[i], now, wall);
    }
    poll_subscribers(now);
    run_commands(now);
    if (!children_.empty()) reap_children(false);
    if (now - last_fd_check >= 1000) {
      last_fd_check = now;
      fds_peak_ = std::max(fds_peak_, open_fds());
      if (all_online_once_ && rss_online_kib_ == 0) rss_online_kib_ = status_kib("VmRSS");
    }
  }
  report(clock_.steady_ms());

  // The agent's own goodbye: NDEATH and DISCONNECT, each bounded.
  for (auto& g : gws_) g->uplink->shutdown();
  gws_.clear();
  subs_.clear();
  reap_children(true);
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
  return 0;
}

// --------------------------------------------------------------- report --

void Simulation::report(int64_t end) {
  std::vector<uint64_t> taken;
  uint64_t samples = 0, confirmed = 0, pending = 0, dropped = 0;
  for (const auto& g : gws_) {
    taken.push_back(g->classroom->samples());
    samples += g->classroom->samples();
    const SpoolStats st = g->spool->stats();
    confirmed += g->spool->committed();
    pending += st.pending;
    dropped += st.dropped + st.lost;
  }
  // Spooled: every batch went through the spool (ids 1..next_id-1).
  uint64_t spooled = 0;
  for (const auto& g : gws_) spooled += g->spool->next_id() - 1;
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  auto secs = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  const double cpu = secs(ru.ru_utime) + secs(ru.ru_stime) - secs(usage_start_.ru_utime) -
                     secs(usage_start_.ru_stime);
  const double elapsed = static_cast<double>(end - t0_) / 1000;
  const uint64_t rss_online = rss_online_kib_ ? rss_online_kib_ : status_kib("VmRSS");
  const double per_gw_kib =
      static_cast<double>(rss_online > rss_base_kib_ ? rss_online - rss_base_kib_ : 0) /
      static_cast<double>(gws_.size());
  SeriesChecker::Totals t;
  if (checker_) t = checker_->totals(taken);
  const uint64_t deaths_seen = t.deaths;
  uint64_t worst_storm = 0;
  bool storm_unfinished = false;
  for (const Storm& s : storms_) {
    if (s.all_online_after_ms < 0) storm_unfinished = true;
    worst_storm = std::max<uint64_t>(
        worst_storm, static_cast<uint64_t>(std::max<int64_t>(0, s.all_online_after_ms)));
  }
  uint64_t extra_sessions = 0;
  for (const auto& g : gws_) extra_sessions += g->sessions > 0 ? g->sessions - 1 : 0;
  const double sampled_s =
      static_cast<double>(std::min<int64_t>(end - t0_, opt_.duration_ms)) / 1000;

  if (opt_.json) {
    std::printf(
        "{\"gateways\": %zu, \"servers\": %zu, \"interval_s\": %.1f, \"duration_s\": %.1f, "
        "\"elapsed_s\": %.1f, \"metrics_per_gateway\": %zu, ",
        gws_.size(), opt_.servers.size(), opt_.interval_ms / 1000.0, opt_.duration_ms / 1000.0,
        elapsed, metric_count());
    std::printf(
        "\"online_at_end\": %" PRIu64 ", \"births\": %" PRIu64 ", \"data_messages\": %" PRIu64
        ", \"receipts\": %" PRIu64 ", \"bytes_sent\": %" PRIu64 ", ",
        online_count(), counters_.births, counters_.data, counters_.receipts, counters_.bytes);
    std::printf(
        "\"messages_per_s\": %.1f, \"bytes_per_s\": %.0f, ",
        static_cast<double>(counters_.births + counters_.data + counters_.receipts) / sampled_s,
        static_cast<double>(counters_.bytes) / sampled_s);
    std::printf("\"samples_taken\": %" PRIu64 ", \"samples_spooled\": %" PRIu64
                ", \"samples_confirmed\": %" PRIu64 ", \"samples_pending\": %" PRIu64
                ", \"samples_dropped\": %" PRIu64 ", ",
                samples, spooled, confirmed, pending, dropped);
    if (checker_)
      std::printf("\"samples_delivered\": %" PRIu64 ", \"delivered_live\": %" PRIu64
                  ", \"delivered_historical\": %" PRIu64 ", \"duplicates\": %" PRIu64
                  ", \"samples_lost\": %" PRIu64 ", \"gateways_with_holes\": %" PRIu64
                  ", \"deaths_seen\": %" PRIu64 ", \"births_seen\": %" PRIu64 ", ",
                  t.seen, t.live, t.historical, t.duplicates, t.holes, t.gateways_with_holes,
                  deaths_seen, t.births);
    std::printf("\"connect_attempts\": %" PRIu64 ", \"sessions\": %" PRIu64
                ", \"reconnects\": %" PRIu64 ", \"connections_lost\": %" PRIu64 ", ",
                counters_.attempts, counters_.sessions, extra_sessions, counters_.lost);
    std::printf("\"start_all_online_s\": %.1f, \"start_peak_connects_per_s\": %" PRIu64 ", ",
                seconds_or_never(start_storm_.all_online_after_ms), start_storm_.peak_connects);
    std::printf("\"losses\": [");
    for (size_t i = 0; i < storms_.size(); ++i)
      std::printf("%s{\"at_s\": %.1f, \"gateways_lost\": %" PRIu64
                  ", \"all_online_after_s\": %.1f, \"peak_connects_per_s\": %" PRIu64 "}",
                  i ? ", " : "", storms_[i].start_ms / 1000.0, storms_[i].gateways_lost,
                  seconds_or_never(storms_[i].all_online_after_ms), storms_[i].peak_connects);
    std::printf("], \"recovery_s\": %.1f, ",
                storms_.empty() || storm_unfinished ? -1.0 : worst_storm / 1000.0);
    std::printf("\"cpu_s\": %.2f, \"rss_base_kib\": %" PRIu64 ", \"rss_online_kib\": %" PRIu64
                ", \"rss_peak_kib\": %" PRIu64 ", \"kib_per_gateway\": %.1f, \"fds_peak\": %zu, ",
                cpu, rss_base_kib_, rss_online, status_kib("VmHWM"), per_gw_kib, fds_peak_);
    std::printf("\"commands\": [");
    for (size_t i = 0; i < command_log_.size(); ++i) {
      std::string esc;
      for (char c : command_log_[i]) {
        if (c == '"' || c == '\\') esc += '\\';
        if (static_cast<unsigned char>(c) >= 0x20) esc += c;
      }
      std::printf("%s\"%s\"", i ? ", " : "", esc.c_str());
    }
    std::printf("]}\n");
    return;
  }
  std::printf(
      "simulate: %zu gateways (%zu metrics each) on %zu server%s, every %.0f s for %.0f s\n",
      gws_.size(), metric_count(), opt_.servers.size(), opt_.servers.size() == 1 ? "" : "s",
      opt_.interval_ms / 1000.0, opt_.duration_ms / 1000.0);
  std::printf("  online at the end    %" PRIu64 " of %zu\n", online_count(), gws_.size());
  std::printf("  births               %" PRIu64 "\n", counters_.births);
  std::printf("  data messages        %" PRIu64 " (and %" PRIu64 " delivery receipts)\n",
              counters_.data, counters_.receipts);
  std::printf(
      "  bytes sent           %" PRIu64 " (%.0f B/s, %.1f messages/s)\n", counters_.bytes,
      static_cast<double>(counters_.bytes) / sampled_s,
      static_cast<double>(counters_.births + counters_.data + counters_.receipts) / sampled_s);
  std::printf("  samples spooled      %" PRIu64 " (taken %" PRIu64
              ", confirmed by the broker %" PRIu64 ", still pending %" PRIu64 ", dropped %" PRIu64
              ")\n",
              spooled, samples, confirmed, pending, dropped);
  if (checker_) {
    std::printf("  samples delivered    %" PRIu64 " (%" PRIu64 " live, %" PRIu64
                " historical; %" PRIu64 " duplicates)\n",
                t.seen, t.live, t.historical, t.duplicates);
    std::printf("  samples lost         %" PRIu64 " (%" PRIu64 " gateways with holes)%s%s\n",
                t.holes, t.gateways_with_holes, t.first_holes.empty() ? "" : ": ",
                t.first_holes.c_str());
    std::printf("  NDEATHs seen         %" PRIu64 "\n", deaths_seen);
  } else {
    std::printf("  samples delivered    not checked (--no-check)\n");
  }
  std::printf("  reconnects           %" PRIu64 " (%" PRIu64 " connections lost, %" PRIu64
              " connect attempts)\n",
              extra_sessions, counters_.lost, counters_.attempts);
  if (start_storm_.all_online_after_ms >= 0)
    std::printf("  start                all online after %.1f s (peak %" PRIu64 " connects/s)\n",
                start_storm_.all_online_after_ms / 1000.0, start_storm_.peak_connects);
  else
    std::printf("  start                never all online\n");
  for (const Storm& s : storms_) {
    if (s.all_online_after_ms >= 0)
      std::printf(
          "  loss at %6.1f s     %" PRIu64
          " gateways offline; all online again after %.1f s (peak %" PRIu64 " connects/s)\n",
          s.start_ms / 1000.0, s.gateways_lost, s.all_online_after_ms / 1000.0, s.peak_connects);
    else
      std::printf("  loss at %6.1f s     %" PRIu64
                  " gateways offline; not all online again by the end\n",
                  s.start_ms / 1000.0, s.gateways_lost);
  }
  for (const std::string& c : command_log_) std::printf("  command              %s\n", c.c_str());
  std::printf("  simulator            %.1f s CPU, RSS %" PRIu64
              " KiB (%.1f KiB a gateway), %zu fds at most\n",
              cpu, rss_online, per_gw_kib, fds_peak_);
}

}  // namespace
}  // namespace classroom::fleet

int main(int argc, char** argv) {
  using namespace classroom::fleet;
  Options o = parse_options(argc, argv);
  return Simulation(std::move(o)).run();
}
