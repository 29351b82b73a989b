#include "probes/icmp.hpp"

#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <random>

#include "probes/tcp.hpp"

namespace classroom::drivers::probes {
namespace {

constexpr size_t kPacket = 8 + 16;  // header, cookie, run nonce

uint16_t checksum(const uint8_t* data, size_t len) {
  uint32_t sum = 0;
  for (size_t i = 0; i + 1 < len; i += 2) sum += static_cast<uint32_t>(data[i] << 8 | data[i + 1]);
  if (len & 1) sum += static_cast<uint32_t>(data[len - 1] << 8);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

uint64_t random64() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  return rng();
}

std::string ping_group_range() {
  std::ifstream in("/proc/sys/net/ipv4/ping_group_range");
  std::string a, b;
  in >> a >> b;
  return in ? a + " " + b : "unknown";
}

bool same_host(const sockaddr_storage& a, const Address& b) {
  if (a.ss_family != b.family()) return false;
  if (a.ss_family == AF_INET)
    return reinterpret_cast<const sockaddr_in&>(a).sin_addr.s_addr ==
           reinterpret_cast<const sockaddr_in*>(&b.addr)->sin_addr.s_addr;
  return std::memcmp(&reinterpret_cast<const sockaddr_in6&>(a).sin6_addr,
                     &reinterpret_cast<const sockaddr_in6*>(&b.addr)->sin6_addr,
                     sizeof(in6_addr)) == 0;
}

}  // namespace

bool parse_echo_reply(const uint8_t* data, size_t len, bool ipv6, bool raw_ipv4, EchoReply& out) {
  if (raw_ipv4) {
    if (len < 20) return false;
    const size_t ihl = static_cast<size_t>(data[0] & 0x0f) * 4;
    if ((data[0] >> 4) != 4 || ihl < 20 || ihl > len) return false;
    data += ihl;
    len -= ihl;
  }
  if (len < kPacket) return false;
  const uint8_t reply_type = ipv6 ? ICMP6_ECHO_REPLY : ICMP_ECHOREPLY;
  if (data[0] != reply_type || data[1] != 0) return false;
  out.ident = static_cast<uint16_t>(data[4] << 8 | data[5]);
  out.seq = static_cast<uint16_t>(data[6] << 8 | data[7]);
  std::memcpy(&out.cookie, data + 8, sizeof out.cookie);
  return true;
}

IcmpProbe::IcmpProbe(IcmpOptions o) : o_(std::move(o)) {
  if (o_.count < 1) o_.count = 1;
  if (o_.count > kMaxCount) o_.count = kMaxCount;
}

IcmpProbe::~IcmpProbe() {
  if (fd_ >= 0) ::close(fd_);
  if (resolving_ && ctx_) ctx_->resolver->cancel(resolve_id_);
}

void IcmpProbe::start(Context& ctx, int64_t now_ms) {
  ctx_ = &ctx;
  done_ = false;
  sent_ = 0;
  error_.clear();
  send_error_.clear();
  rtt_ms_.fill(-1);
  kind_ = IcmpSocket::none;
  resolving_ = true;
  first_send_ms_ = now_ms;
  resolve_id_ = ctx.resolver->resolve(o_.target, [this](std::vector<Address> a, std::string e) {
    resolving_ = false;
    if (!e.empty()) return finish(e);
    begin(a.front(), first_send_ms_);
  });
}

void IcmpProbe::begin(const Address& target, int64_t now_ms) {
  target_ = target;
  const bool v6 = target.family() == AF_INET6;
  const int proto = v6 ? static_cast<int>(IPPROTO_ICMPV6) : static_cast<int>(IPPROTO_ICMP);
  // Unprivileged first: it needs no capability and the kernel routes replies
  // to this socket only.
  fd_ = ::socket(target.family(), SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
  if (fd_ >= 0) {
    kind_ = IcmpSocket::datagram;
    sockaddr_storage local{};
    local.ss_family = static_cast<sa_family_t>(target.family());
    socklen_t len = v6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
    // The kernel's identifier is the socket's "port": bind to get it.
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&local), len) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&local), &len) != 0) {
      ::close(fd_);
      fd_ = -1;
    } else {
      ident_ = ntohs(v6 ? reinterpret_cast<sockaddr_in6&>(local).sin6_port
                        : reinterpret_cast<sockaddr_in&>(local).sin_port);
    }
  }
  const int dgram_errno = errno;
  if (fd_ < 0) {
    fd_ = ::socket(target.family(), SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
    if (fd_ < 0) {
      const int raw_errno = errno;
      if (raw_errno == EPERM || raw_errno == EACCES || dgram_errno == EACCES)
        return finish(
            "cannot send ICMP: unprivileged ping is not allowed for this group "
            "(net.ipv4.ping_group_range is \"" +
            ping_group_range() +
            "\") and the agent has no CAP_NET_RAW; widen ping_group_range or grant "
            "CAP_NET_RAW");
      return finish(std::string("cannot open an ICMP socket: ") + std::strerror(raw_errno));
    }
    kind_ = IcmpSocket::raw;
    ident_ = static_cast<uint16_t>(random64());
    if (v6) {
      icmp6_filter filter;
      ICMP6_FILTER_SETBLOCKALL(&filter);
      ICMP6_FILTER_SETPASS(ICMP6_ECHO_REPLY, &filter);
      ::setsockopt(fd_, IPPROTO_ICMPV6, ICMP6_FILTER, &filter, sizeof filter);
    }
  }
  seq_base_ = static_cast<uint16_t>(random64());
  cookie_ = random64();
  first_send_ms_ = now_ms;
  send_due(now_ms);
}

void IcmpProbe::send_due(int64_t now_ms) {
  const bool v6 = target_.family() == AF_INET6;
  while (sent_ < o_.count && now_ms >= first_send_ms_ + sent_ * o_.spacing_ms) {
    uint8_t pkt[kPacket] = {};
    pkt[0] = v6 ? ICMP6_ECHO_REQUEST : ICMP_ECHO;
    const uint16_t seq = static_cast<uint16_t>(seq_base_ + sent_);
    pkt[4] = static_cast<uint8_t>(ident_ >> 8);
    pkt[5] = static_cast<uint8_t>(ident_);
    pkt[6] = static_cast<uint8_t>(seq >> 8);
    pkt[7] = static_cast<uint8_t>(seq);
    std::memcpy(pkt + 8, &cookie_, sizeof cookie_);
    if (!v6) {
      const uint16_t sum = checksum(pkt, sizeof pkt);
      pkt[2] = static_cast<uint8_t>(sum >> 8);
      pkt[3] = static_cast<uint8_t>(sum);
    }  // ICMPv6: the kernel computes the checksum (it covers the IPv6 pseudo-header)
    sent_ns_[static_cast<size_t>(sent_)] = steady_ns();
    last_send_ms_ = now_ms;
    if (::sendto(fd_, pkt, sizeof pkt, 0, reinterpret_cast<const sockaddr*>(&target_.addr),
                 target_.len) < 0 &&
        send_error_.empty())
      send_error_ = connect_error(errno);
    ++sent_;
  }
}

void IcmpProbe::receive() {
  const bool v6 = target_.family() == AF_INET6;
  uint8_t buf[1500];
  for (;;) {
    sockaddr_storage from{};
    socklen_t fl = sizeof from;
    const ssize_t n = ::recvfrom(fd_, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &fl);
    const int64_t t = steady_ns();
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      if (errno == EINTR) continue;
      // An ICMP error for one of ours (host unreachable): the echo is lost.
      if (send_error_.empty()) send_error_ = connect_error(errno);
      continue;
    }
    EchoReply reply{};
    if (!parse_echo_reply(buf, static_cast<size_t>(n), v6, !v6 && kind_ == IcmpSocket::raw, reply))
      continue;
    // Another process's echo, a reply of an earlier run, a forged one: not ours.
    if (reply.ident != ident_ || reply.cookie != cookie_ || !same_host(from, target_)) continue;
    const int index = static_cast<uint16_t>(reply.seq - seq_base_);
    if (index >= sent_ || rtt_ms_[static_cast<size_t>(index)] >= 0) continue;  // unknown, duplicate
    const double rtt = static_cast<double>(t - sent_ns_[static_cast<size_t>(index)]) / 1e6;
    if (rtt > static_cast<double>(o_.timeout_ms)) continue;  // late: lost
    rtt_ms_[static_cast<size_t>(index)] = rtt;
  }
}

void IcmpProbe::wants(std::vector<Wait>& out) const {
  if (!done_ && fd_ >= 0) out.push_back(Wait{fd_, POLLIN});
}

void IcmpProbe::on_ready(int fd, short, int64_t now_ms) {
  if (done_ || fd != fd_) return;
  receive();
  on_time(now_ms);
}

void IcmpProbe::on_time(int64_t now_ms) {
  if (done_ || resolving_ || fd_ < 0) return;
  send_due(now_ms);
  int answered = 0;
  for (int i = 0; i < sent_; ++i) answered += rtt_ms_[static_cast<size_t>(i)] >= 0;
  if (sent_ == o_.count && (answered == sent_ || now_ms >= last_send_ms_ + o_.timeout_ms))
    finish("");
}

int64_t IcmpProbe::next_wake() const {
  if (done_ || resolving_) return kNever;
  if (sent_ < o_.count) return first_send_ms_ + sent_ * o_.spacing_ms;
  return last_send_ms_ + o_.timeout_ms;
}

void IcmpProbe::abort(std::string_view why, int64_t) {
  if (done_) return;
  if (resolving_) ctx_->resolver->cancel(resolve_id_);
  resolving_ = false;
  finish(std::string(why));
}

void IcmpProbe::finish(std::string error) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  error_ = std::move(error);
  done_ = true;
}

Result IcmpProbe::result() const {
  IcmpResult r;
  // Every echo a run meant to send counts: one never sent is lost too.
  r.sent = o_.count;
  double sum = 0, jitter_sum = 0, prev = -1;
  int jitter_n = 0;
  for (int i = 0; i < sent_; ++i) {
    const double rtt = rtt_ms_[static_cast<size_t>(i)];
    if (rtt < 0) continue;
    ++r.received;
    sum += rtt;
    r.rtt_min = r.rtt_min ? std::min(*r.rtt_min, rtt) : rtt;
    r.rtt_max = r.rtt_max ? std::max(*r.rtt_max, rtt) : rtt;
    if (prev >= 0) {
      jitter_sum += rtt > prev ? rtt - prev : prev - rtt;
      ++jitter_n;
    }
    prev = rtt;
  }
  if (r.received) r.rtt_avg = sum / r.received;
  if (jitter_n) r.jitter = jitter_sum / jitter_n;
  r.error = error_;
  if (r.error.empty() && r.received == 0)
    r.error = send_error_.empty() ? "no echo reply from " + to_string(target_)
                                  : send_error_ + " (" + to_string(target_) + ")";
  return r;
}

}  // namespace classroom::drivers::probes
