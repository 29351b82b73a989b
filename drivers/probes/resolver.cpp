#include "probes/resolver.hpp"

#include <ares.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <cstring>

#include "printable.hpp"
#include "probes/ares_api.hpp"

namespace classroom::drivers::probes {

AresChannel::AresChannel() = default;
AresChannel::~AresChannel() {
  if (channel_) ares_api().destroy(channel_);
}

std::string AresChannel::init(const std::string& servers, int timeout_ms, int tries,
                              bool every_rcode) {
  if (channel_) ares_api().destroy(channel_);
  channel_ = nullptr;
  std::string error;
  if (!load_ares(&error)) return error;
  ares_options opts{};
  opts.timeout = timeout_ms;
  opts.tries = tries;
  int mask = ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES;
  if (every_rcode) {
    opts.flags = ARES_FLAG_NOCHECKRESP;
    mask |= ARES_OPT_FLAGS;
  }
  if (int rc = ares_api().init_options(&channel_, &opts, mask); rc != ARES_SUCCESS) {
    channel_ = nullptr;
    return std::string("cannot start a resolver: ") + ares_api().strerror(rc);
  }
  if (!servers.empty()) {
    if (int rc = ares_api().set_servers_ports_csv(channel_, servers.c_str()); rc != ARES_SUCCESS)
      return "bad DNS server \"" + text::printable(servers, 200) + "\": " + ares_api().strerror(rc);
  }
  return "";
}

void AresChannel::wants(std::vector<Wait>& out) const {
  if (!channel_) return;
  ares_socket_t socks[ARES_GETSOCK_MAXNUM];
  const int bits = ares_api().getsock(channel_, socks, ARES_GETSOCK_MAXNUM);
  for (int i = 0; i < ARES_GETSOCK_MAXNUM; ++i) {
    short ev = 0;
    if (ARES_GETSOCK_READABLE(bits, i)) ev |= POLLIN;
    if (ARES_GETSOCK_WRITABLE(bits, i)) ev |= POLLOUT;
    if (ev) out.push_back(Wait{socks[i], ev});
  }
}

void AresChannel::on_ready(int fd, short revents) {
  if (!channel_) return;
  const bool err = revents & (POLLERR | POLLHUP);
  ares_api().process_fd(channel_, (revents & POLLIN) || err ? fd : ARES_SOCKET_BAD,
                        (revents & POLLOUT) || err ? fd : ARES_SOCKET_BAD);
}

void AresChannel::on_time() {
  if (channel_) ares_api().process_fd(channel_, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
}

int64_t AresChannel::next_wake(int64_t now_ms) const {
  if (!channel_) return kNever;
  timeval tv{};
  if (!ares_api().timeout(channel_, nullptr, &tv)) return kNever;
  return now_ms + tv.tv_sec * 1000 + (tv.tv_usec + 999) / 1000;
}

void AresChannel::reset() {
  if (channel_) ares_api().cancel(channel_);
}

void AresChannel::close() {
  if (channel_) ares_api().destroy(channel_);
  channel_ = nullptr;
}

std::optional<Address> numeric_address(const std::string& host) {
  Address a;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&a.addr);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&a.addr);
  if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    a.len = sizeof(sockaddr_in);
    return a;
  }
  if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    a.len = sizeof(sockaddr_in6);
    return a;
  }
  return std::nullopt;
}

std::string to_string(const Address& a) {
  char buf[INET6_ADDRSTRLEN] = "?";
  if (a.family() == AF_INET)
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&a.addr)->sin_addr, buf, sizeof buf);
  else if (a.family() == AF_INET6)
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&a.addr)->sin6_addr, buf,
              sizeof buf);
  return buf;
}

struct Resolver::Pending {
  Resolver* self;
  uint64_t id;
};

Resolver::Resolver() = default;
Resolver::~Resolver() {
  pending_.clear();  // no callback runs during destruction
}

uint64_t Resolver::resolve(const std::string& host, Done done) {
  const uint64_t id = next_id_++;
  if (auto a = numeric_address(host)) {
    done({*a}, "");
    return id;
  }
  if (!channel_.open()) {
    if (std::string error = channel_.init("", 2000, 2); !error.empty()) {
      channel_.close();
      done({}, error);
      return id;
    }
  }
  pending_.emplace(id, std::move(done));
  ares_addrinfo_hints hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  ++depth_;  // an answer from /etc/hosts comes back inside this call
  ares_api().getaddrinfo(channel_.get(), host.c_str(), nullptr, &hints, &Resolver::on_result,
                         new Pending{this, id});
  --depth_;
  close_if_idle();
  return id;
}

void Resolver::cancel(uint64_t id) {
  pending_.erase(id);
  close_if_idle();
}

void Resolver::on_ready(int fd, short revents) {
  ++depth_;
  channel_.on_ready(fd, revents);
  --depth_;
  close_if_idle();
}

void Resolver::on_time() {
  if (!channel_.open()) return;
  ++depth_;
  channel_.on_time();
  --depth_;
  close_if_idle();
}

void Resolver::close_if_idle() {
  // Cancelled queries may still be in flight: destroying the channel ends them
  // (their Pending is freed by on_result with ARES_EDESTRUCTION).
  if (depth_ == 0 && pending_.empty() && channel_.open()) channel_.close();
}

void Resolver::on_result(void* arg, int status, int, ares_addrinfo* info) {
  std::unique_ptr<Pending> p(static_cast<Pending*>(arg));
  std::vector<Address> out;
  if (status == ARES_SUCCESS && info) {
    // IPv4 first, then IPv6: a gateway's IPv6 is more often half-configured.
    for (int family : {AF_INET, AF_INET6}) {
      for (ares_addrinfo_node* n = info->nodes; n; n = n->ai_next) {
        if (n->ai_family != family || !n->ai_addr ||
            n->ai_addrlen > static_cast<ares_socklen_t>(sizeof(sockaddr_storage)))
          continue;
        Address a;
        std::memcpy(&a.addr, n->ai_addr, n->ai_addrlen);
        a.len = static_cast<socklen_t>(n->ai_addrlen);
        out.push_back(a);
      }
    }
  }
  if (info) ares_api().freeaddrinfo(info);
  if (status == ARES_EDESTRUCTION) return;  // the resolver is going away
  auto it = p->self->pending_.find(p->id);
  if (it == p->self->pending_.end()) return;  // cancelled
  Done done = std::move(it->second);
  p->self->pending_.erase(it);
  std::string error;
  if (status == ARES_ENOTFOUND)
    error = "no such host name";
  else if (status != ARES_SUCCESS)
    error = std::string("cannot resolve the host name: ") + ares_api().strerror(status);
  else if (out.empty())
    error = "the host name has no address";
  done(std::move(out), std::move(error));
}

}  // namespace classroom::drivers::probes
