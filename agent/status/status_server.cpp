#include "status/status_server.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <variant>
#include <vector>

#include "catalog/catalog.hpp"
#include "devices/device_runner.hpp"
#include "log.hpp"
#include "printable.hpp"
#include "probes/runner.hpp"
#include "scheduler/scheduler.hpp"
#include "session/uplink.hpp"
#include "spool/spool.hpp"
#include "version.hpp"

namespace classroom::status {
namespace {

constexpr log::Logger lg("status");

bool fill_address(sockaddr_un& addr, const std::string& path) {
  addr = sockaddr_un{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) return false;
  std::memcpy(addr.sun_path, path.data(), path.size());
  return true;
}

// The socket at `path` belongs to `gid`. A socket is created with the
// agent's own group, so that group needs no chown (which the shipped unit's
// system call filter refuses).
bool give_to_group(const std::string& path, gid_t gid) {
  if (gid == ::getegid()) return true;
  return ::chown(path.c_str(), static_cast<uid_t>(-1), gid) == 0;
}

bool is_member(gid_t gid) {
  if (gid == ::getegid()) return true;
  const int n = ::getgroups(0, nullptr);
  std::vector<gid_t> groups(n > 0 ? static_cast<size_t>(n) : 0);
  if (n > 0 && ::getgroups(n, groups.data()) != n) return false;
  return std::find(groups.begin(), groups.end(), gid) != groups.end();
}

}  // namespace

const char* group_refusal_cause(gid_t gid) {
  if (!is_member(gid))
    return "the agent's user must be a member of it (SupplementaryGroups= in a drop-in)";
  return "the agent's user is a member, so chown itself is refused: under systemd, a "
         "drop-in with SystemCallFilter=@chown allows it";
}

namespace {

// True when a process accepts connections on `path`.
bool someone_answers(const std::string& path) {
  sockaddr_un addr;
  if (!fill_address(addr, path)) return false;
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return false;
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 ||
                  errno == EAGAIN;  // a full backlog: someone listens
  ::close(fd);
  return ok;
}

bool as_double(const Value& v, double& out) {
  if (const auto* b = std::get_if<bool>(&v))
    out = *b ? 1 : 0;
  else if (const auto* i = std::get_if<int64_t>(&v))
    out = static_cast<double>(*i);
  else if (const auto* u = std::get_if<uint64_t>(&v))
    out = static_cast<double>(*u);
  else if (const auto* f = std::get_if<float>(&v))
    out = *f;
  else if (const auto* d = std::get_if<double>(&v))
    out = *d;
  else
    return false;
  return true;
}

int64_t steady_now() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000;
}

}  // namespace

Server::Server(const config::Config& cfg, const Clock& clock) : clock_(clock) {
  local_.group = cfg.identity.group;
  local_.node = cfg.identity.node;
  local_.version = kVersion;
  local_.pid = ::getpid();
  local_.started_ms = clock.wall_ms();
  set_probes(cfg.probes);

  if (!cfg.status.enabled) {
    lg.info("no status socket ([status] enabled = false)");
    return;
  }
  open_socket(cfg.status);
  if (listen_fd_ < 0) return;
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) {
    lg.warning("no status socket: eventfd: %s", std::strerror(errno));
    ::close(listen_fd_);
    listen_fd_ = -1;
    ::unlink(path_.c_str());
    return;
  }
  thread_ = std::thread([this] { serve(); });
  // The serving thread sleeps until a client or its stop; a line folded in
  // the log meanwhile wakes it, so that its count is written when due.
  log::set_fold_listener([](void* server) { static_cast<Server*>(server)->wake(); }, this);
  wake();  // and a line folded before the listener was set is seen now
}

void Server::wake() const {
  const uint64_t one = 1;
  ssize_t ignored = ::write(wake_fd_, &one, sizeof one);
  (void)ignored;
}

Server::~Server() {
  log::clear_fold_listener(this);
  if (thread_.joinable()) {
    stopping_.store(true);
    wake();
    thread_.join();
  }
  if (wake_fd_ >= 0) ::close(wake_fd_);
  if (listen_fd_ >= 0) {
    ::close(listen_fd_);
    // Only our own socket: another agent may have taken the path since.
    struct stat st {};
    if (::lstat(path_.c_str(), &st) == 0 && st.st_dev == dev_ && st.st_ino == ino_)
      ::unlink(path_.c_str());
  }
}

void Server::set_probes(const config::Probes& probes) {
  local_.probes.clear();
  probe_refs_.clear();
  // Their result metrics are found in the catalog once declared.
  auto add = [&](const std::string& name, const char* kind, const char* ok, const char* measure) {
    ProbeStatus p;
    p.name = name;
    p.kind = kind;
    p.measure = measure;
    p.error.reserve(ProbeStatus::kMaxErrorShown);  // filled without allocating
    local_.probes.push_back(std::move(p));
    const std::string base = "Connectivity/" + name + "/";
    probe_refs_.push_back(ProbeRef{base + ok, base + measure});
  };
  for (const auto& p : probes.icmp) add(p.name, "icmp", "Reachable", "RTT Avg");
  for (const auto& p : probes.dns) add(p.name, "dns", "Success", "Resolve Time");
  for (const auto& p : probes.tcp) add(p.name, "tcp", "Success", "Connect Time");
  for (const auto& p : probes.http) add(p.name, "http", "Success", "Total Time");
  for (const auto& p : probes.throughput) add(p.name, "throughput", "Success", "Download Rate");
  next_fill_ms_ = 0;  // shown at the next turn
}

// The socket's directory: the unit's RuntimeDirectory; an agent started by
// hand makes it (only the last part of the path, mode 0755 as the unit's), so
// that `classroom-agent status` in another terminal finds it there.
bool Server::make_socket_dir(const std::filesystem::path& dir) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return true;
    lg.warning("no status socket: %s is not a directory; set [status] socket", dir.c_str());
    return false;
  }
  if (::mkdir(dir.c_str(), 0755) != 0 || ::chmod(dir.c_str(), 0755) != 0) {
    lg.warning(
        "no status socket: cannot create %s: %s (the systemd unit creates /run/classroom-agent; "
        "elsewhere create the directory or set [status] socket); `classroom-agent status` cannot "
        "ask this agent",
        dir.c_str(), std::strerror(errno));
    return false;
  }
  lg.info("status socket: created %s (mode 0755)", dir.c_str());
  return true;
}

void Server::open_socket(const config::Status& cfg) {
  path_ = cfg.socket;
  const std::filesystem::path dir = std::filesystem::path(path_).parent_path();
  if (!make_socket_dir(dir)) return;
  struct stat st {};
  if (::lstat(path_.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      lg.warning("no status socket: %s exists and is not a socket; remove it", path_.c_str());
      return;
    }
    if (someone_answers(path_)) {
      lg.warning(
          "no status socket: another process answers on %s (another agent with the "
          "same [status] socket?)",
          path_.c_str());
      return;
    }
    // A socket left by an agent that was killed: replaced below.
  }
  // Bound in a directory only the agent can enter, given its mode and group,
  // then renamed into place: it is never reachable with looser permissions.
  std::string tmp_dir = dir.string() + "/.sXXXXXX";
  if (!::mkdtemp(tmp_dir.data())) {
    lg.warning("no status socket: cannot create a directory in %s: %s", dir.c_str(),
               std::strerror(errno));
    return;
  }
  const std::string tmp = tmp_dir + "/s";
  sockaddr_un addr;
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  auto fail = [&](const char* what) {
    lg.warning("no status socket at %s: %s: %s", path_.c_str(), what, std::strerror(errno));
    if (fd >= 0) ::close(fd);
    ::unlink(tmp.c_str());
    ::rmdir(tmp_dir.c_str());
  };
  if (fd < 0) return fail("socket");
  if (!fill_address(addr, tmp)) {
    errno = ENAMETOOLONG;
    return fail("the path of its temporary name is too long");
  }
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return fail("bind");
  mode_t mode = 0600;
  if (cfg.gid >= 0) {
    if (give_to_group(tmp, static_cast<gid_t>(cfg.gid))) {
      mode = 0660;
    } else {
      const int err = errno;
      lg.warning(
          "status socket: cannot give it to group %s (%s): %s; only root and the "
          "agent's user may ask",
          text::printable(cfg.group).c_str(), std::strerror(err),
          group_refusal_cause(static_cast<gid_t>(cfg.gid)));
    }
  }
  if (::chmod(tmp.c_str(), mode) != 0) return fail("chmod");
  if (::listen(fd, 16) != 0) return fail("listen");
  if (::rename(tmp.c_str(), path_.c_str()) != 0) return fail("rename");
  ::rmdir(tmp_dir.c_str());
  if (::lstat(path_.c_str(), &st) == 0) {
    dev_ = st.st_dev;
    ino_ = st.st_ino;
  }
  listen_fd_ = fd;
  lg.info("status socket %s (mode %04o%s%s)", path_.c_str(), mode, mode == 0660 ? ", group " : "",
          mode == 0660 ? cfg.group.c_str() : "");
}

void Server::update(const Inputs& in) {
  log::tick();  // folded log lines: written once their window has passed
  if (!serving()) return;
  const int64_t now = clock_.steady_ms();
  // A confirmation from the broker counts too: in steady state it is the
  // last thing that happens before the loop sleeps until the next sample.
  if (now >= next_fill_ms_ || in.uplink.changes() != seen_changes_ ||
      in.scheduler.runs() != seen_runs_ || in.uplink.last_confirmed_ms() != seen_confirmed_) {
    fill(in);
    next_fill_ms_ = now + kFillEveryMs;
    seen_changes_ = in.uplink.changes();
    seen_runs_ = in.scheduler.runs();
    seen_confirmed_ = in.uplink.last_confirmed_ms();
    unpublished_ = true;
  }
  if (!unpublished_) return;
  // Never wait: when the server thread is reading the snapshot, hand it over
  // on the next turn.
  if (mutex_.try_lock()) {
    shared_ = local_;  // assignment reuses every string's and vector's room
    mutex_.unlock();
    unpublished_ = false;
  }
}

void Server::fill(const Inputs& in) {
  Snapshot& s = local_;
  const int64_t wall = clock_.wall_ms(), steady = clock_.steady_ms();
  s.as_of_ms = wall;
  fill_broker(s, in.uplink, wall, steady);
  fill_delivery(s, in.uplink);
  fill_spool(s, in, wall);
  fill_sources(s, in.scheduler);
  fill_devices(s, in);
  fill_probes(s, in.catalog, in.probes);
  s.clock = !in.clock_synchronized   ? ClockState::unknown
            : *in.clock_synchronized ? ClockState::synchronized
                                     : ClockState::unsynchronized;
}

// The connection: its state and since when, the server it is (or was)
// about, the next attempt, the primary host.
void Server::fill_broker(Snapshot& s, const Uplink& u, int64_t wall, int64_t steady) {
  s.host_connected = u.waiting_for_host();
  if (u.host_away()) {
    s.broker = BrokerState::waiting_host;
    s.broker_since_ms = u.host_offline_since_ms();
  } else if (u.online()) {
    s.broker = BrokerState::online;
    s.broker_since_ms = u.online_since_ms();
  } else if (u.offline_since_ms() > 0) {
    s.broker = BrokerState::unreachable;
    s.broker_since_ms = u.offline_since_ms();
  } else {
    s.broker = BrokerState::connecting;
    s.broker_since_ms = s.started_ms;
  }
  // Unreachable, or left for the primary host: the server it was about.
  const bool left_for_host =
      s.broker == BrokerState::waiting_host && !s.host_connected && u.next_attempt_steady_ms() > 0;
  if ((s.broker == BrokerState::unreachable || left_for_host) && !u.last_error_server().empty())
    s.server = u.last_error_server();
  else
    s.server = u.current_server();
  s.broker_error = u.last_error();
  s.failed_attempts = u.failed_attempts();
  const int64_t next = u.next_attempt_steady_ms();
  s.next_attempt_ms = next > 0 ? wall + std::max<int64_t>(0, next - steady) : 0;
  s.next_server = u.current_server();
  s.bdseq = u.bdseq();
  s.primary_host = u.primary_host();
  s.host_offline_since_ms = u.host_offline_since_ms();
  // Rebuilt in place: a fill runs with every sample, and allocates nothing once warm.
  if (const auto& h = u.host_state(); !h) {
    s.host_state.assign("no STATE received");
  } else {
    s.host_state.assign(h->online ? "online" : "offline");
    if (h->timestamp) {
      char stamp[48];
      std::snprintf(stamp, sizeof stamp, " (STATE timestamp %" PRIu64 ")", *h->timestamp);
      s.host_state.append(stamp);
    }
  }
}

// What was published and confirmed, and what the broker's limit refused.
void Server::fill_delivery(Snapshot& s, const Uplink& u) {
  s.bdseq_error = u.bdseq_error();
  s.commands_unavailable = u.commands_unavailable();
  s.commands_problem = u.commands_problem();
  s.last_publish_ms = u.last_publish_ms();
  s.last_confirmed_ms = u.last_confirmed_ms();
  s.unconfirmed_since_ms = u.unconfirmed_since_ms();
  s.packet_limit = u.packet_limit();
  s.packet_limit_source = u.packet_limit_source();
  s.node_birth_refused_size = u.refused_birth_size(kNode);
  s.refused_batches = u.refused_batches();
  s.refused_data = u.refused_data();
  s.last_refused_ms = u.last_refused_ms();
}

void Server::fill_spool(Snapshot& s, const Inputs& in, int64_t wall) {
  s.spool_open = in.spool.is_open();
  const SpoolStats st = in.spool.stats();
  s.pending = st.pending;
  s.sent_unconfirmed = st.pending - std::min(st.pending, in.uplink.waiting(kUnconfirmedMs));
  s.spool_bytes = st.bytes;
  s.oldest_age_s = st.oldest_ts_ms
                       ? static_cast<uint64_t>(std::max<int64_t>(0, wall - st.oldest_ts_ms) / 1000)
                       : 0;
  s.dropped = st.dropped + in.unspooled_lost;
  if (s.dropped > last_dropped_) s.last_drop_ms = wall;
  last_dropped_ = s.dropped;
  s.lost = st.lost;
  s.write_errors = st.write_errors;
  if (s.write_errors > last_write_errors_) s.last_write_error_ms = wall;
  last_write_errors_ = s.write_errors;
}

// Sources: the scheduler's tasks but the device polls (shown as devices).
void Server::fill_sources(Snapshot& s, const Scheduler& scheduler) {
  size_t n = 0;
  for (const Scheduler::TaskState& t : scheduler.tasks()) {
    if (t.kind == Scheduler::Kind::device) continue;
    if (n == s.sources.size()) s.sources.emplace_back();  // the first fills only
    SourceStatus& src = s.sources[n++];
    src.name = t.name;
    src.interval_ms = t.interval_ms;
    src.failures = t.failures;
    src.last_success_ms = t.last_success_ms;
    src.failing_since_ms = t.failing_since_ms;
    src.error = t.last_error;
    src.warning = t.last_warning;
  }
  s.sources.resize(n);
}

void Server::fill_devices(Snapshot& s, const Inputs& in) {
  s.devices.resize(in.devices.size());
  for (size_t i = 0; i < in.devices.size(); ++i) {
    DeviceStatus& d = s.devices[i];
    d.name = in.devices.name(i);
    d.address = in.devices.address(i);
    d.polled = in.devices.polls(i) > 0;
    d.online = in.devices.online(i);
    d.problem = in.devices.problem(i);
    d.birth_refused_size = in.uplink.refused_birth_size(in.devices.id(i));
  }
}

// Each configured probe's Success and main value, from the catalog (the
// metric ids are looked up once, when the probe first has a result), and why
// it failed, from the runner.
void Server::fill_probes(Snapshot& s, const Catalog& catalog, const probes::Runner* runner) {
  for (size_t i = 0; i < probe_refs_.size(); ++i) {
    ProbeRef& ref = probe_refs_[i];
    ProbeStatus& p = s.probes[i];
    if (!ref.resolved) {
      const auto ok = catalog.find(ref.ok_name);
      if (!ok) continue;
      ref.ok_id = *ok;
      if (const auto v = catalog.find(ref.value_name)) {
        ref.value_id = *v;
        ref.has_value_id = true;
        p.unit = catalog.at(*v).unit;
      }
      ref.resolved = true;
    }
    const CatalogEntry& ok = catalog.at(ref.ok_id);
    double flag = 0;
    if (!as_double(ok.value, flag)) continue;  // no result yet
    p.ok = flag != 0;
    p.last_run_ms = ok.ts_ms;
    p.has_value = ref.has_value_id && as_double(catalog.at(ref.value_id).value, p.value) &&
                  std::isfinite(p.value);
    std::string_view why = runner && !p.ok ? runner->last_error(i) : std::string_view();
    const bool cut = why.size() > ProbeStatus::kMaxErrorShown;
    if (cut) {  // on a character's first byte, and said so
      size_t n = ProbeStatus::kMaxErrorShown - 3;
      while (n > 0 && (static_cast<unsigned char>(why[n]) & 0xC0) == 0x80) --n;
      why = why.substr(0, n);
    }
    p.error.assign(why);  // within its reserved room: no allocation
    if (cut) p.error += "...";
  }
}

std::string Server::answer(std::string_view request) {
  if (request != "text" && request != "json" && !request.empty())
    return std::string(kProtocolHeader) +
           "error\nunknown request; send a line \"text\" or \"json\"\n";
  {
    std::lock_guard lock(mutex_);
    copy_ = shared_;
  }
  const int64_t now = clock_.wall_ms();
  const char* state = copy_.as_of_ms == 0            ? "starting"
                      : problems(copy_, now).empty() ? "ok"
                                                     : "degraded";
  std::string reply = std::string(kProtocolHeader) + state + "\n";
  reply += request == "json" ? render_json(copy_, now) : render_text(copy_, now);
  return reply;
}

struct Server::Conn {
  int fd = -1;
  int64_t accepted_ms = 0;
  int64_t deadline_ms = 0;
  char request[Server::kMaxRequest];
  size_t request_len = 0;
  bool writing = false;
  std::string reply;
  size_t sent = 0;
};

// Reads what a client has sent; once its request is whole (a line, its
// end, or too long), the answer is made. False when the connection failed.
bool Server::take_request(Conn& c) {
  const ssize_t n =
      ::recv(c.fd, c.request + c.request_len, sizeof c.request - c.request_len, MSG_DONTWAIT);
  if (n > 0) c.request_len += static_cast<size_t>(n);
  const void* nl = std::memchr(c.request, '\n', c.request_len);
  if (!nl && n != 0 && c.request_len < sizeof c.request)
    return n > 0 || errno == EAGAIN || errno == EINTR;
  if (!nl && n != 0) {
    c.reply = std::string(kProtocolHeader) + "error\nrequest too long\n";
  } else {
    size_t len = nl ? static_cast<size_t>(static_cast<const char*>(nl) - c.request) : c.request_len;
    if (len > 0 && c.request[len - 1] == '\r') --len;
    c.reply = answer(std::string_view(c.request, len));
  }
  c.writing = true;
  ::shutdown(c.fd, SHUT_RD);
  return true;
}

void Server::drop_closed(std::vector<Conn>& conns) {
  conns.erase(std::remove_if(conns.begin(), conns.end(), [](const Conn& c) { return c.fd < 0; }),
              conns.end());
}

// A client that has not asked within kAskWithinMs may be closed for a new
// one; a real client asks at once.
bool Server::closable(const Conn& c, int64_t now) {
  return !c.writing && now - c.accepted_ms >= kAskWithinMs;
}

// Full: a request that has arrived is taken first, then the oldest client
// that has still sent none in its time makes room. So clients that connect
// and say nothing, however many and however fast, cannot push out a real
// one. Answers being written stay. False when none can go yet.
bool Server::make_room(std::vector<Conn>& conns, int64_t now) {
  for (Conn& c : conns)
    if (!c.writing && !take_request(c)) c.fd = (::close(c.fd), -1);
  drop_closed(conns);
  if (conns.size() < kMaxClients) return true;
  auto idle =
      std::find_if(conns.begin(), conns.end(), [&](const Conn& c) { return closable(c, now); });
  if (idle == conns.end()) return false;
  ::close(idle->fd);
  conns.erase(idle);
  return true;
}

// Each connection: read the request line, answer, close; or time out.
void Server::serve_client(Conn& c, short ev, int64_t now) {
  bool done = now >= c.deadline_ms || (ev & (POLLERR | POLLNVAL));
  if (!done && !c.writing && (ev & (POLLIN | POLLHUP))) {
    done = !take_request(c);
  } else if (!done && c.writing && (ev & (POLLOUT | POLLHUP))) {
    const ssize_t n =
        ::send(c.fd, c.reply.data() + c.sent, c.reply.size() - c.sent, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n > 0) c.sent += static_cast<size_t>(n);
    if (c.sent == c.reply.size() || (n < 0 && errno != EAGAIN && errno != EINTR)) done = true;
  }
  if (done) c.fd = (::close(c.fd), -1);
}

// New clients, while there is room or an idle one to close for them.
void Server::accept_clients(std::vector<Conn>& conns, int64_t now) {
  for (;;) {
    if (conns.size() == kMaxClients && !make_room(conns, now)) break;
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) break;
    Conn c;
    c.fd = fd;
    c.accepted_ms = now;
    c.deadline_ms = now + kClientTimeoutMs;
    conns.push_back(std::move(c));
  }
}

void Server::serve() {
  std::vector<Conn> conns;
  conns.reserve(kMaxClients);
  std::vector<pollfd> fds;
  for (;;) {
    // Folded log lines are written when their window ends.
    const int64_t fold_due = log::tick();
    fds.clear();
    fds.push_back(pollfd{wake_fd_, POLLIN, 0});
    int64_t now = steady_now();
    // A new client is taken while there is room, or an idle one to close for it.
    const bool can_take =
        conns.size() < kMaxClients ||
        std::any_of(conns.begin(), conns.end(), [&](const Conn& c) { return closable(c, now); });
    fds.push_back(pollfd{listen_fd_, static_cast<short>(can_take ? POLLIN : 0), 0});
    int64_t wait = fold_due >= 0 ? std::min(fold_due, kIdleWaitMs) : kIdleWaitMs;
    for (const Conn& c : conns) {
      fds.push_back(pollfd{c.fd, static_cast<short>(c.writing ? POLLOUT : POLLIN), 0});
      wait = std::min(wait, std::max<int64_t>(0, c.deadline_ms - now));
      if (!c.writing && !can_take)  // when it may be closed for a waiting one
        wait = std::min(wait, std::max<int64_t>(0, c.accepted_ms + kAskWithinMs - now));
    }
    if (::poll(fds.data(), fds.size(), static_cast<int>(wait)) < 0 && errno != EINTR) {
      lg.error("status socket: poll: %s; no more answers", std::strerror(errno));
      break;
    }
    if (fds[0].revents) {  // stop, or a line folded: tick again
      uint64_t count = 0;
      ssize_t ignored = ::read(wake_fd_, &count, sizeof count);
      (void)ignored;
      if (stopping_.load()) break;
    }
    now = steady_now();
    for (size_t i = 0; i < conns.size(); ++i) serve_client(conns[i], fds[2 + i].revents, now);
    drop_closed(conns);
    if (fds[1].revents & POLLIN) accept_clients(conns, now);
  }
  for (Conn& c : conns) ::close(c.fd);
}

}  // namespace classroom::status
