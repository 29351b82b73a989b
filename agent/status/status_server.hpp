// The status stage: the loop fills a Snapshot (cheaply: at most once a second,
// or when the uplink's state changed or a source ran; no allocation once
// warm), and a thread of its own answers `classroom-agent status` on a UNIX
// stream socket with it. The loop never waits on the socket: it hands the
// snapshot over with a try_lock, and tries again on its next turn when the
// server thread holds the lock.
//
// The socket ([status] socket, by default /run/classroom-agent/status.sock;
// its directory is made when missing) is mode 0600, or 0660 with [status] group; it is bound in a
// private directory and renamed into place, so it is never reachable with looser permissions.
// Bounds, so that a local client can neither stall nor exhaust the agent: at
// most kMaxClients connections at once (when full, requests that have arrived
// are answered first, and a new one closes the oldest that has not sent its
// request within kAskWithinMs), a request of at most kMaxRequest bytes, and
// kClientTimeoutMs from accept to the last byte of the answer.
//
// Protocol: the client sends one line, "text" or "json" (an empty line:
// text), and reads to the end. The answer's first line is
// "classroom-agent-status 1 STATE" (STATE: ok, degraded, starting, or error
// for a request it does not know), the rest the snapshot rendered.
#pragma once

#include <sys/types.h>
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "clock.hpp"
#include "config.hpp"
#include "status/snapshot.hpp"

namespace classroom {
class Uplink;
class Spool;
class Scheduler;
class DeviceRunner;
class Catalog;
namespace probes {
class Runner;
}
}  // namespace classroom

namespace classroom::status {

// What the loop reads a snapshot from.
struct Inputs {
  const Uplink& uplink;
  Spool& spool;
  const Scheduler& scheduler;
  const DeviceRunner& devices;
  const Catalog& catalog;
  uint64_t unspooled_lost;  // batches neither stored nor published (the batcher's count)
  // The system clock's last reading by the system source (adjtimex): empty
  // when that source does not read it (disabled, a captured /proc) or has not yet.
  std::optional<bool> clock_synchronized;
  // The probe runner, for why each probe failed; null when none runs.
  const probes::Runner* probes = nullptr;
};

constexpr const char* kProtocolHeader = "classroom-agent-status 1 ";

// Why the socket could not be given to [status] group `gid` (chown failed):
// the agent's user is not a member, or it is and chown itself is refused (a
// system call filter).
const char* group_refusal_cause(gid_t gid);

class Server {
 public:
  static constexpr size_t kMaxClients = 8;
  static constexpr size_t kMaxRequest = 64;
  static constexpr int64_t kClientTimeoutMs = 2000;
  // The serving thread sleeps this long at most with no client and nothing
  // folded in the log.
  static constexpr int64_t kIdleWaitMs = 60'000;
  static constexpr int64_t kAskWithinMs = 100;  // before it may be closed for a new client
  static constexpr int64_t kFillEveryMs = 1000;

  // Opens the socket and starts the thread; when it cannot (no directory for
  // it, another agent answers there), logs why once and serves nothing.
  Server(const config::Config& cfg, const Clock& clock);
  ~Server();  // stops the thread, removes the socket
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  bool serving() const { return listen_fd_ >= 0; }

  // The probes to show, in config order; a reload calls it with the new ones.
  void set_probes(const config::Probes& probes);

  // On the loop, every turn. Never waits.
  void update(const Inputs& in);

  // For tests: the snapshot as the loop last filled it (the loop's copy).
  const Snapshot& filled() const { return local_; }

 private:
  struct ProbeRef {
    std::string ok_name, value_name;  // "Connectivity/<name>/Success", ".../RTT Avg"
    bool resolved = false;
    uint32_t ok_id = 0, value_id = 0;
    bool has_value_id = false;
  };
  void fill(const Inputs& in);
  void fill_broker(Snapshot& s, const Uplink& u, int64_t wall, int64_t steady);
  void fill_delivery(Snapshot& s, const Uplink& u);
  void fill_spool(Snapshot& s, const Inputs& in, int64_t wall);
  void fill_sources(Snapshot& s, const Scheduler& scheduler);
  void fill_devices(Snapshot& s, const Inputs& in);
  void fill_probes(Snapshot& s, const Catalog& catalog, const probes::Runner* runner);
  void open_socket(const config::Status& cfg);
  static bool make_socket_dir(const std::filesystem::path& dir);
  // A client's connection, in serve().
  struct Conn;
  void serve();
  void wake() const;  // the serving thread looks again (at its stop, the log)
  // The steps of serve().
  bool take_request(Conn& c);
  static void drop_closed(std::vector<Conn>& conns);
  static bool closable(const Conn& c, int64_t now);
  bool make_room(std::vector<Conn>& conns, int64_t now);
  void serve_client(Conn& c, short ev, int64_t now);
  void accept_clients(std::vector<Conn>& conns, int64_t now);
  std::string answer(std::string_view request);

  const Clock& clock_;
  std::string path_;
  int listen_fd_ = -1;
  int wake_fd_ = -1;  // an eventfd: the stop (with stopping_), or a line folded
  std::atomic<bool> stopping_{false};
  dev_t dev_ = 0;
  ino_t ino_ = 0;
  std::thread thread_;

  // The loop's side.
  Snapshot local_;
  int64_t next_fill_ms_ = 0;
  uint64_t seen_changes_ = UINT64_MAX, seen_runs_ = UINT64_MAX;
  int64_t seen_confirmed_ = -1;
  bool unpublished_ = false;
  uint64_t last_dropped_ = 0, last_write_errors_ = 0;
  std::vector<ProbeRef> probe_refs_;

  // Shared with the server thread.
  std::mutex mutex_;
  Snapshot shared_;
  // The server thread's own copy, rendered outside the lock.
  Snapshot copy_;
};

}  // namespace classroom::status
