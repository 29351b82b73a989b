// DNS: how long a query takes, and whether it gives an answer. c-ares builds
// and parses the messages (see docs/architecture.md for why not our own code).
// NXDOMAIN, SERVFAIL, a refusal and a timeout are told apart in `error`.
#pragma once

#include "probes/probe.hpp"
#include "probes/resolver.hpp"

namespace classroom::drivers::probes {

struct DnsOptions {
  std::string query;
  std::string server;  // "IP", "IP:port", "[v6]:port"; empty: the system's
  bool aaaa = false;
  int64_t timeout_ms = 2000;
};

class DnsProbe final : public Probe {
 public:
  explicit DnsProbe(DnsOptions o) : o_(std::move(o)) {}
  ~DnsProbe() override;
  void start(Context& ctx, int64_t now_ms) override;
  void wants(std::vector<Wait>& out) const override;
  void on_ready(int fd, short revents, int64_t now_ms) override;
  void on_time(int64_t now_ms) override;
  int64_t next_wake() const override;
  bool done() const override { return done_; }
  void abort(std::string_view why, int64_t now_ms) override;
  Result result() const override { return r_; }
  int64_t budget_ms() const override { return o_.timeout_ms; }

 private:
  static void on_answer(void* arg, int status, int timeouts, unsigned char* abuf, int alen);
  void finish(std::string error);

  DnsOptions o_;
  DnsResult r_;
  std::unique_ptr<AresChannel> channel_;
  int64_t started_ns_ = 0, deadline_ = 0;
  bool done_ = true;
};

// The number of A (or AAAA) records in a DNS answer, or nullopt when c-ares
// cannot parse it. Outside input: bounded, never trusted.
std::optional<uint64_t> count_answers(const unsigned char* abuf, int alen, bool aaaa);

}  // namespace classroom::drivers::probes
