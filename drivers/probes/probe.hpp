// Connectivity probes: the protocol side. Each kind (icmp, dns, tcp, http,
// throughput) is a non-blocking state machine that a loop drives: it says which
// file descriptors it waits on and until when, and is told what happened. It
// knows its protocol, not Sparkplug; its result is a small struct of values.
// agent/probes/ runs them off the sampling loop (see docs/architecture.md).
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace classroom::drivers::probes {

constexpr int64_t kNever = std::numeric_limits<int64_t>::max();

// A file descriptor to poll, and for what (POLLIN, POLLOUT).
struct Wait {
  int fd;
  short events;
};

// Every time is in milliseconds (Double); a value that was not measured is
// nullopt and is not sent. `error` says why a run failed, escaped, for the log.
struct IcmpResult {
  int sent = 0, received = 0;
  std::optional<double> rtt_min, rtt_avg, rtt_max, jitter;
  std::string error;
  double loss_percent() const { return sent ? 100.0 * (sent - received) / sent : 100.0; }
  bool reachable() const { return received > 0; }
};

struct DnsResult {
  bool success = false;
  std::optional<double> resolve_ms;
  uint64_t answers = 0;
  std::string error;
};

struct TcpResult {
  bool success = false;
  std::optional<double> connect_ms;
  std::string error;
};

struct HttpResult {
  bool success = false;
  std::optional<double> dns_ms, connect_ms, tls_ms, ttfb_ms, total_ms;
  std::optional<uint64_t> status;
  uint64_t bytes = 0;
  std::optional<double> cert_expiry_days;  // https only
  std::string error;
};

struct ThroughputResult {
  bool success = false;
  std::optional<double> download_mbit_s, upload_mbit_s;
  uint64_t bytes = 0;  // downloaded + uploaded
  std::optional<double> duration_s;
  std::string error;
};

using Result = std::variant<IcmpResult, DnsResult, TcpResult, HttpResult, ThroughputResult>;

class Resolver;
class CurlMulti;

// What the probe thread shares with every probe it runs.
struct Context {
  Resolver* resolver = nullptr;
  CurlMulti* curl = nullptr;  // null when no http/throughput probe is configured
};

class Probe {
 public:
  virtual ~Probe() = default;
  // Starts one run at steady time `now_ms`.
  virtual void start(Context& ctx, int64_t now_ms) = 0;
  // Appends the descriptors this run waits on now.
  virtual void wants(std::vector<Wait>& out) const = 0;
  // One of its descriptors is ready (`revents` as poll reports them).
  virtual void on_ready(int fd, short revents, int64_t now_ms) = 0;
  // Time passed: a timeout or the next send may be due.
  virtual void on_time(int64_t now_ms) = 0;
  // The steady time by which on_time must be called (kNever: nothing pending).
  virtual int64_t next_wake() const = 0;
  virtual bool done() const = 0;
  // Ends the run at once (hard deadline, shutdown); what is unanswered failed.
  virtual void abort(std::string_view why, int64_t now_ms) = 0;
  // After done(): the run's values.
  virtual Result result() const = 0;
  // The longest a run may take, from start to its last timeout.
  virtual int64_t budget_ms() const = 0;
};

}  // namespace classroom::drivers::probes
