// Name resolution without blocking the probe thread: c-ares channels whose
// sockets and timeouts join the thread's poll. A numeric address is resolved at
// once; a host name through the system's resolvers (/etc/resolv.conf,
// /etc/hosts), asynchronously.
#pragma once

#include <sys/socket.h>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "probes/probe.hpp"

struct ares_channeldata;
struct ares_addrinfo;

namespace classroom::drivers::probes {

// One c-ares channel and its place in a poll loop.
class AresChannel {
 public:
  // `servers`: "IP", "IP:port", "[v6]:port" (empty: the system's); timeout per try.
  AresChannel();
  ~AresChannel();
  AresChannel(const AresChannel&) = delete;
  AresChannel& operator=(const AresChannel&) = delete;
  // Empty on success, else why. `every_rcode`: SERVFAIL and REFUSED answers
  // reach the callback as such (the DNS probe tells them apart) instead of
  // making c-ares move on to the next server.
  std::string init(const std::string& servers, int timeout_ms, int tries, bool every_rcode = false);
  ares_channeldata* get() const { return channel_; }
  void wants(std::vector<Wait>& out) const;
  void on_ready(int fd, short revents);
  void on_time();
  int64_t next_wake(int64_t now_ms) const;
  // Fails every query in flight (their callbacks run with ARES_ECANCELLED).
  void reset();
  // Destroys the channel (callbacks in flight run with ARES_EDESTRUCTION).
  void close();
  bool open() const { return channel_ != nullptr; }

 private:
  ares_channeldata* channel_ = nullptr;
};

struct Address {
  sockaddr_storage addr{};
  socklen_t len = 0;
  int family() const { return addr.ss_family; }
};

// Parses a numeric IPv4/IPv6 address (no port). nullopt when it is a name.
std::optional<Address> numeric_address(const std::string& host);
std::string to_string(const Address& a);

// The channel is opened for the first host name and closed again when no
// query is in flight (c-ares keeps some 70 KiB of tables per channel; most
// targets are numeric): each opening reads /etc/resolv.conf and /etc/hosts
// afresh.
class Resolver {
 public:
  using Done = std::function<void(std::vector<Address> addresses, std::string error)>;
  Resolver();
  ~Resolver();
  // Resolves `host` (AF_UNSPEC: both families, IPv4 first). `done` runs on the
  // probe thread, from on_ready/on_time, or at once for a numeric address.
  // Returns an id for cancel().
  uint64_t resolve(const std::string& host, Done done);
  // The callback of `id` will not run.
  void cancel(uint64_t id);
  void wants(std::vector<Wait>& out) const { channel_.wants(out); }
  void on_ready(int fd, short revents);
  void on_time();
  int64_t next_wake(int64_t now_ms) const { return channel_.next_wake(now_ms); }
  bool channel_open() const { return channel_.open(); }

 private:
  struct Pending;
  static void on_result(void* arg, int status, int timeouts, ::ares_addrinfo* info);
  void close_if_idle();
  AresChannel channel_;
  uint64_t next_id_ = 1;
  int depth_ = 0;  // > 0 while c-ares runs (its callbacks may call in)
  std::map<uint64_t, Done> pending_;
};

}  // namespace classroom::drivers::probes
