// TCP connect: how long the three-way handshake to host:port takes.
#pragma once

#include "probes/probe.hpp"
#include "probes/resolver.hpp"

namespace classroom::drivers::probes {

struct TcpOptions {
  std::string host;
  int port = 0;
  int64_t timeout_ms = 3000;  // resolution and connect together
};

class TcpProbe final : public Probe {
 public:
  explicit TcpProbe(TcpOptions o) : o_(std::move(o)) {}
  ~TcpProbe() override;
  void start(Context& ctx, int64_t now_ms) override;
  void wants(std::vector<Wait>& out) const override;
  void on_ready(int fd, short revents, int64_t now_ms) override;
  void on_time(int64_t now_ms) override;
  int64_t next_wake() const override { return done_ ? kNever : deadline_; }
  bool done() const override { return done_; }
  void abort(std::string_view why, int64_t now_ms) override;
  Result result() const override { return r_; }
  int64_t budget_ms() const override { return o_.timeout_ms; }

 private:
  void connect_to(const Address& a, int64_t now_ms);
  void finish(std::string error);
  void close_fd();

  TcpOptions o_;
  TcpResult r_;
  Context* ctx_ = nullptr;
  uint64_t resolve_id_ = 0;
  bool resolving_ = false;
  int fd_ = -1;
  int64_t started_ms_ = 0, deadline_ = 0;
  int64_t connect_ns_ = 0;
  bool done_ = true;
};

// Monotonic time in nanoseconds: RTTs and connect times finer than the loop's ms.
int64_t steady_ns();
// errno of a failed connect in words a technician can act on.
std::string connect_error(int err);

}  // namespace classroom::drivers::probes
