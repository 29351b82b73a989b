// What the integration tests start for real: a Mosquitto broker on a free
// loopback port, the classroom-agent binary, and a subscriber that decodes
// every Sparkplug message with the project's .proto. Waiting is always for a
// condition, with a deadline.
#pragma once

#include <sys/socket.h>
#include <sys/types.h>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "../support/commands.hpp"
#include "sparkplug_b.pb.h"

namespace harness {

using Payload = org::eclipse::tahu::protobuf::Payload;
using namespace std::chrono_literals;

int64_t now_ms();
int free_port();
std::string read_file(const std::string& path);
void write_file(const std::string& path, const std::string& text);

// Runs `cmd` with sh; returns its exit status and its output (stdout and
// stderr together), or -1 when it could not be started.
std::pair<int, std::string> run_shell(const std::string& cmd);

// Polls `condition` until it holds or `timeout` passes.
bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout);

struct TempDir {
  TempDir();
  ~TempDir();
  std::string path;
};

class Process {
 public:
  Process(std::vector<std::string> argv, std::string log_path, std::vector<std::string> env = {});
  ~Process();
  void signal(int sig);
  // Waits for the process to end; returns its exit status (or 128 + signal).
  std::optional<int> wait_exit(std::chrono::milliseconds timeout);
  bool running();
  pid_t pid() const { return pid_; }
  // Its peak resident memory (KiB, from wait4), once it has exited; else 0.
  long max_rss_kib() const { return max_rss_kib_; }

 private:
  pid_t pid_ = -1;
  std::optional<int> status_;
  long max_rss_kib_ = 0;
};

class Mosquitto {
 public:
  // `extra`: more mosquitto.conf lines, such as a TLS listener of the test's own.
  explicit Mosquitto(const std::string& extra = "");
  ~Mosquitto();
  void start();  // returns once it runs and its port accepts connections
  void stop();   // SIGTERM; the broker saves its persistent sessions
  // SIGSTOP / SIGCONT: a broker that keeps its connections open but handles
  // nothing (thaw it before the test ends).
  void freeze();
  void thaw();
  int port() const { return port_; }
  std::string url() const { return "tcp://127.0.0.1:" + std::to_string(port_); }
  // What the broker logged (connections, disconnections and why).
  std::string log() const;

 private:
  TempDir dir_;
  int port_;
  std::unique_ptr<Process> process_;
};

struct Message {
  std::string topic;
  std::string payload;
  Payload decoded;
  bool is_sparkplug = false;
  int64_t received_ms = 0;
  std::string type() const;  // NBIRTH, NDATA, NDEATH, ... or "" outside spBv1.0
};

// Subscribes to spBv1.0/# with a persistent session (QoS 1, and the broker is
// told to queue QoS 0 for it), so it misses nothing across a broker restart.
class Subscriber {
 public:
  explicit Subscriber(const std::string& url);
  ~Subscriber();
  std::vector<Message> messages();
  std::vector<Message> of_type(const std::string& type);
  // Waits until at least `n` messages of `type` arrived.
  bool wait_for(const std::string& type, size_t n, std::chrono::milliseconds timeout);
  // `retain`: the broker keeps it for later subscribers (a host's STATE).
  void publish(const std::string& topic, const std::string& payload, int qos = 1,
               bool retain = false);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// A running agent with its own config and state dir.
struct AgentOptions {
  std::string url;
  std::string first_server;  // tried before url when set
  std::string group = "school-test";
  std::string node = "room-1";
  std::string interval = "500ms";
  std::string sync = "1s";
  std::string max_bytes = "64MiB";
  std::string replay_rate = "200";
  std::string extra;         // appended TOML
  std::string extra_broker;  // more keys for [broker]
  // More keys for [log] and [status]; every agent has its own
  // status socket, <dir>/status.sock, unless extra_status sets one.
  std::string extra_log;
  std::string extra_status;
  std::vector<std::string> wrapper;  // runs the agent: e.g. {NO_CHOWN_BINARY}
};

// A loopback port that accepts connections (the kernel completes the TCP
// handshake) but never reads or answers: a hung or wrong service. With
// SOCK_DGRAM, a UDP port that takes every datagram and never answers: a dead
// SNMP agent.
class SilentPort {
 public:
  explicit SilentPort(int type = SOCK_STREAM);
  ~SilentPort();
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

class Agent {
 public:
  Agent(const std::string& state_dir, const AgentOptions& options);
  ~Agent();
  // `env`: extra NAME=value variables for the agent; `run_args`: options of
  // `run` after its -c (--diagnostic-stall-loop-ms MS, for instance).
  void start(std::vector<std::string> env = {}, std::vector<std::string> run_args = {});
  void signal(int sig);
  std::optional<int> wait_exit(std::chrono::milliseconds timeout);
  std::string log() const;
  std::string config_path() const { return config_; }
  std::string status_socket() const { return dir_ + "/status.sock"; }
  pid_t pid() const { return process_ ? process_->pid() : -1; }
  bool running() { return process_ && process_->running(); }

 private:
  std::string dir_, config_, log_;
  std::vector<std::string> wrapper_;
  std::unique_ptr<Process> process_;
};

// What most agent tests start with: a broker, a subscriber to everything
// Sparkplug on it, a temporary dir, and agent options pointed at the broker.
struct BrokerRig {
  Mosquitto broker;
  Subscriber sub{broker.url()};
  TempDir dir;
  AgentOptions options() const {
    AgentOptions o;
    o.url = broker.url();
    return o;
  }
};

// Prints the agent's log to stderr when a REQUIRE fails in its scope (Catch's
// INFO would capture the log as it was when declared, usually empty).
class LogOnFailure {
 public:
  explicit LogOnFailure(const Agent& agent) : agent_(agent) {}
  ~LogOnFailure();

 private:
  const Agent& agent_;
  int exceptions_ = std::uncaught_exceptions();
};

// A datagram socket standing in for systemd's $NOTIFY_SOCKET.
class NotifySocket {
 public:
  NotifySocket();
  ~NotifySocket();
  std::string path() const { return path_; }
  // Every datagram received so far, in order.
  std::vector<std::string> received();
  // The same, with when each was read (ms since the epoch; read every 10 ms
  // or better while polled).
  struct Timed {
    int64_t at_ms;
    std::string text;
  };
  std::vector<Timed> received_timed();

 private:
  TempDir dir_;
  std::string path_;
  int fd_ = -1;
  std::vector<Timed> got_;
};

// Value of the metric with `alias` (or name) in a payload, as a double; nullopt if absent.
const Payload::Metric* find_metric(const Payload& p, const std::string& name, uint64_t alias);
// The alias of `name` in a birth.
std::optional<uint64_t> alias_in_birth(const Payload& birth, const std::string& name);
uint64_t bdseq(const Payload& p);
// Capture time -> historical flag of every System/Uptime value in the NDATA of
// `messages` (that metric changes every cycle; a value that arrived twice is
// historical only when both arrivals were). Aliases come from the birth
// before each NDATA.
std::map<uint64_t, bool> uptime_samples(const std::vector<Message>& messages);

// Private_Dirty of a process in KiB, from /proc/<pid>/smaps_rollup (0 if unreadable).
uint64_t private_dirty_kib(pid_t pid);

}  // namespace harness
