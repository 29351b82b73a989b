#include "probes/tcp.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cerrno>
#include <cstring>
#include <ctime>

namespace classroom::drivers::probes {

int64_t steady_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1'000'000'000LL + ts.tv_nsec;
}

std::string connect_error(int err) {
  switch (err) {
    case ECONNREFUSED:
      return "connection refused (nothing listens there)";
    case EHOSTUNREACH:
      return "host unreachable";
    case ENETUNREACH:
      return "network unreachable (no route)";
    case ETIMEDOUT:
      return "connection timed out";
    default:
      return std::strerror(err);
  }
}

TcpProbe::~TcpProbe() {
  close_fd();
  if (resolving_ && ctx_) ctx_->resolver->cancel(resolve_id_);
}

void TcpProbe::close_fd() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

void TcpProbe::start(Context& ctx, int64_t now_ms) {
  ctx_ = &ctx;
  r_ = TcpResult{};
  done_ = false;
  started_ms_ = now_ms;
  deadline_ = now_ms + o_.timeout_ms;
  resolving_ = true;
  resolve_id_ = ctx.resolver->resolve(o_.host, [this](std::vector<Address> a, std::string error) {
    resolving_ = false;
    if (!error.empty()) return finish(error);
    Address addr = a.front();
    connect_to(addr, started_ms_);
  });
}

void TcpProbe::connect_to(const Address& a, int64_t) {
  Address addr = a;
  if (addr.family() == AF_INET)
    reinterpret_cast<sockaddr_in*>(&addr.addr)->sin_port = htons(static_cast<uint16_t>(o_.port));
  else
    reinterpret_cast<sockaddr_in6*>(&addr.addr)->sin6_port = htons(static_cast<uint16_t>(o_.port));
  fd_ = ::socket(addr.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return finish(std::string("cannot create a socket: ") + std::strerror(errno));
  connect_ns_ = steady_ns();
  if (::connect(fd_, reinterpret_cast<const sockaddr*>(&addr.addr), addr.len) == 0) {
    r_.connect_ms = static_cast<double>(steady_ns() - connect_ns_) / 1e6;
    r_.success = true;
    return finish("");
  }
  if (errno != EINPROGRESS) return finish(connect_error(errno));
}

void TcpProbe::wants(std::vector<Wait>& out) const {
  if (!done_ && fd_ >= 0) out.push_back(Wait{fd_, POLLOUT});
}

void TcpProbe::on_ready(int fd, short, int64_t) {
  if (done_ || fd != fd_) return;
  const int64_t t = steady_ns();
  int err = 0;
  socklen_t len = sizeof err;
  if (::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
  if (err != 0) return finish(connect_error(err));
  r_.connect_ms = static_cast<double>(t - connect_ns_) / 1e6;
  r_.success = true;
  finish("");
}

void TcpProbe::on_time(int64_t now_ms) {
  if (!done_ && now_ms >= deadline_)
    abort("no answer within " + std::to_string(o_.timeout_ms) + " ms (firewall or host down?)",
          now_ms);
}

void TcpProbe::abort(std::string_view why, int64_t) {
  if (done_) return;
  if (resolving_) ctx_->resolver->cancel(resolve_id_);
  resolving_ = false;
  finish(std::string(why));
}

void TcpProbe::finish(std::string error) {
  close_fd();
  r_.error = std::move(error);
  if (!r_.error.empty()) r_.success = false;
  done_ = true;
}

}  // namespace classroom::drivers::probes
