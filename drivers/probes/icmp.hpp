// ICMP echo (ping), IPv4 and IPv6: loss, round-trip times and jitter.
// An unprivileged ICMP datagram socket where net.ipv4.ping_group_range allows
// the agent's group; a raw socket (CAP_NET_RAW) otherwise. Replies count only
// when they carry this run's identifier, one of its sequence numbers and its
// random cookie, come from the target, and arrive within the timeout.
#pragma once

#include <array>

#include "probes/probe.hpp"
#include "probes/resolver.hpp"

namespace classroom::drivers::probes {

struct IcmpOptions {
  std::string target;
  int count = 5;
  int64_t spacing_ms = 200;
  int64_t timeout_ms = 1000;  // per echo, from its send
};

// Which kind of socket a run used (for tests and the log).
enum class IcmpSocket { none, datagram, raw };

class IcmpProbe final : public Probe {
 public:
  explicit IcmpProbe(IcmpOptions o);
  ~IcmpProbe() override;
  void start(Context& ctx, int64_t now_ms) override;
  void wants(std::vector<Wait>& out) const override;
  void on_ready(int fd, short revents, int64_t now_ms) override;
  void on_time(int64_t now_ms) override;
  int64_t next_wake() const override;
  bool done() const override { return done_; }
  void abort(std::string_view why, int64_t now_ms) override;
  Result result() const override;
  int64_t budget_ms() const override {
    return 2000 + o_.spacing_ms * (o_.count - 1) + o_.timeout_ms;  // 2 s to resolve
  }
  IcmpSocket socket_kind() const { return kind_; }

 private:
  static constexpr int kMaxCount = 100;
  void begin(const Address& target, int64_t now_ms);
  void send_due(int64_t now_ms);
  void receive();
  void finish(std::string error);

  IcmpOptions o_;
  Context* ctx_ = nullptr;
  bool resolving_ = false;
  uint64_t resolve_id_ = 0;
  Address target_;
  int fd_ = -1;
  IcmpSocket kind_ = IcmpSocket::none;
  uint16_t ident_ = 0, seq_base_ = 0;
  uint64_t cookie_ = 0;
  int sent_ = 0;
  int64_t first_send_ms_ = 0, last_send_ms_ = 0;
  std::array<int64_t, kMaxCount> sent_ns_{};
  std::array<double, kMaxCount> rtt_ms_{};  // < 0: no (valid) reply
  std::string error_;
  std::string send_error_;
  bool done_ = true;
};

// For tests: the reply fields a run checks, from one received ICMP(v6) packet
// (`raw_ipv4`: the packet starts with an IPv4 header). False when it is not an
// echo reply or is too short.
struct EchoReply {
  uint16_t ident, seq;
  uint64_t cookie;
};
bool parse_echo_reply(const uint8_t* data, size_t len, bool ipv6, bool raw_ipv4, EchoReply& out);

}  // namespace classroom::drivers::probes
