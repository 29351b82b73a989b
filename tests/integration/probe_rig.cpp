#include "probe_rig.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>
#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstring>
#include <deque>
#include <filesystem>

#include "probes/curl_multi.hpp"
#include "probes/resolver.hpp"
#include "probes/tcp.hpp"

namespace harness {
namespace {

int sh(const std::string& cmd) {
  return std::system((cmd + " >/dev/null 2>&1").c_str());
}

std::string python() {
  // Debian's python3 (the system one), not a user's pyenv shim.
  return std::filesystem::exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
}

uint16_t checksum(const uint8_t* data, size_t len) {
  uint32_t sum = 0;
  for (size_t i = 0; i + 1 < len; i += 2) sum += static_cast<uint32_t>(data[i] << 8 | data[i + 1]);
  if (len & 1) sum += static_cast<uint32_t>(data[len - 1] << 8);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

int unique_counter() {
  static std::atomic<int> n{0};
  return n++;
}

}  // namespace

PortServer::PortServer(std::vector<std::string> args, const std::string& name) {
  const std::string port_file = dir_.path + "/port";
  std::vector<std::string> argv{python(),
                                std::string(SOURCE_DIR) + "/tests/integration/probe_server.py"};
  argv.push_back(args.at(0));
  argv.push_back(port_file);
  argv.insert(argv.end(), args.begin() + 1, args.end());
  process_ = std::make_unique<Process>(argv, dir_.path + "/" + name + ".log");
  if (!wait_until([&] { return std::filesystem::exists(port_file); }, 10s))
    throw std::runtime_error(name +
                             " did not start: " + read_file(dir_.path + "/" + name + ".log"));
  port_ = std::stoi(read_file(port_file));
}
PortServer::~PortServer() {
  process_->signal(SIGKILL);
  process_->wait_exit(5s);
}

std::unique_ptr<PortServer> http_server(const std::string& cert, const std::string& key) {
  if (cert.empty()) return std::make_unique<PortServer>(std::vector<std::string>{"http"}, "http");
  return std::make_unique<PortServer>(std::vector<std::string>{"http", cert, key}, "https");
}

Certificate::Certificate(const std::string& san, int days) {
  cert = dir.path + "/cert.pem";
  key = dir.path + "/key.pem";
  const std::string cmd =
      "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout " + key +
      " -out " + cert + " -days " + std::to_string(days) +
      " -subj /CN=probe-test -addext subjectAltName=" + san;
  if (sh(cmd) != 0) throw std::runtime_error("openssl could not make a certificate: " + cmd);
}

Dnsmasq::Dnsmasq() : port_(free_port()) {
  process_ = std::make_unique<Process>(
      std::vector<std::string>{
          "dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts",
          "--bind-interfaces", "--listen-address=127.0.0.1", "--port=" + std::to_string(port_),
          "--pid-file=", "--user=root", "--address=/known.test/10.1.2.3",
          "--host-record=two.test,10.1.2.4", "--host-record=two.test,10.1.2.5",
          "--address=/nx.test/", "--local=/test/", "--log-facility=" + dir_.path + "/dnsmasq.log"},
      dir_.path + "/dnsmasq.out");
  // Ready when it answers over TCP on its port.
  if (!wait_until(
          [&] {
            int fd = ::socket(AF_INET, SOCK_STREAM, 0);
            sockaddr_in a{};
            a.sin_family = AF_INET;
            a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            a.sin_port = htons(static_cast<uint16_t>(port_));
            const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
            ::close(fd);
            return ok;
          },
          10s))
    throw std::runtime_error("dnsmasq did not start: " + read_file(dir_.path + "/dnsmasq.out"));
}
Dnsmasq::~Dnsmasq() {
  process_->signal(SIGTERM);
  process_->wait_exit(5s);
}

SilentUdpPort::SilentUdpPort() {
  fd_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
  port_ = ntohs(a.sin_port);
}
SilentUdpPort::~SilentUdpPort() {
  ::close(fd_);
}

NetNs::NetNs() : name_("cp" + std::to_string(::getpid()) + "n" + std::to_string(unique_counter())) {
  if (sh("ip netns add " + name_) != 0)
    throw std::runtime_error("cannot create network namespace " + name_ +
                             " (the probe tests need root, as in CI)");
  sh("ip -n " + name_ + " link set lo up");
}
NetNs::~NetNs() {
  sh("ip netns del " + name_);
}
void NetNs::sysctl(const std::string& kv) {
  if (sh("ip netns exec " + name_ + " sysctl -qw '" + kv + "'") != 0)
    throw std::runtime_error("cannot set " + kv + " in " + name_);
}
void NetNs::run_inside(const std::function<void()>& fn) {
  std::exception_ptr error;
  std::thread t([&] {
    try {
      int fd = ::open(("/var/run/netns/" + name_).c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0 || ::setns(fd, CLONE_NEWNET) != 0)
        throw std::runtime_error("cannot enter network namespace " + name_);
      ::close(fd);
      fn();
    } catch (...) {
      error = std::current_exception();
    }
  });
  t.join();
  if (error) std::rethrow_exception(error);
}

IcmpResponder::IcmpResponder(NetNs& ns, int base_ms, int jitter_ms, int late_every, int late_ms)
    : base_ms_(base_ms), jitter_ms_(jitter_ms), late_every_(late_every), late_ms_(late_ms) {
  ns.sysctl("net.ipv4.icmp_echo_ignore_all=1");
  ns.run_inside([&] { fd_ = ::socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP); });
  if (fd_ < 0) throw std::runtime_error("cannot open a raw ICMP socket for the responder");
  thread_ = std::thread([this] { loop(); });
}
IcmpResponder::~IcmpResponder() {
  stop_ = true;
  thread_.join();
  ::close(fd_);
}

void IcmpResponder::loop() {
  using clock = std::chrono::steady_clock;
  struct Due {
    clock::time_point at;
    std::vector<uint8_t> packet;
    sockaddr_in to;
  };
  std::deque<Due> due;
  int answered = 0;
  while (!stop_) {
    int timeout = 20;
    if (!due.empty())
      timeout = static_cast<int>(std::clamp<int64_t>(
          std::chrono::duration_cast<std::chrono::milliseconds>(due.front().at - clock::now())
              .count(),
          0, 20));
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, timeout) > 0) {
      uint8_t buf[1500];
      sockaddr_in from{};
      socklen_t fl = sizeof from;
      ssize_t n = ::recvfrom(fd_, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &fl);
      if (n > 20) {
        const size_t ihl = static_cast<size_t>(buf[0] & 0x0f) * 4;
        if (ihl + 8 <= static_cast<size_t>(n) && buf[ihl] == ICMP_ECHO) {
          const int k = ++requests_;
          std::vector<uint8_t> reply(buf + ihl, buf + n);
          reply[0] = ICMP_ECHOREPLY;
          reply[2] = reply[3] = 0;
          // Another process's echo: same sequence and payload, another identifier.
          std::vector<uint8_t> other = reply;
          other[5] ^= 0x5a;
          uint16_t sum = checksum(other.data(), other.size());
          other[2] = static_cast<uint8_t>(sum >> 8);
          other[3] = static_cast<uint8_t>(sum);
          ::sendto(fd_, other.data(), other.size(), 0, reinterpret_cast<sockaddr*>(&from), fl);
          sum = checksum(reply.data(), reply.size());
          reply[2] = static_cast<uint8_t>(sum >> 8);
          reply[3] = static_cast<uint8_t>(sum);
          int delay;
          if (late_every_ && k % late_every_ == 0) {
            delay = late_ms_;
          } else {
            delay = base_ms_ + (answered % 2 ? jitter_ms_ : -jitter_ms_);
            ++answered;
          }
          Due d{clock::now() + std::chrono::milliseconds(delay), std::move(reply), from};
          auto at = std::upper_bound(due.begin(), due.end(), d.at,
                                     [](auto t, const Due& x) { return t < x.at; });
          due.insert(at, std::move(d));
        }
      }
    }
    while (!due.empty() && due.front().at <= clock::now()) {
      Due& d = due.front();
      ::sendto(fd_, d.packet.data(), d.packet.size(), 0, reinterpret_cast<sockaddr*>(&d.to),
               sizeof d.to);
      due.pop_front();
    }
  }
}

classroom::drivers::probes::Result drive(classroom::drivers::probes::Probe& probe,
                                         int64_t limit_ms) {
  using namespace classroom::drivers::probes;
  auto now = [] { return steady_ns() / 1'000'000; };
  Resolver resolver;
  CurlMulti curl;
  Context ctx{&resolver, &curl};
  const int64_t start = now();
  probe.start(ctx, start);
  std::vector<Wait> waits;
  std::vector<pollfd> fds;
  while (!probe.done()) {
    waits.clear();
    resolver.wants(waits);
    curl.wants(waits);
    probe.wants(waits);
    fds.clear();
    for (const Wait& w : waits) fds.push_back(pollfd{w.fd, w.events, 0});
    const int64_t t = now();
    int64_t wake =
        std::min({probe.next_wake(), resolver.next_wake(t), curl.next_wake(), start + limit_ms});
    ::poll(fds.data(), fds.size(), static_cast<int>(std::clamp<int64_t>(wake - t, 0, 1000)));
    for (const pollfd& p : fds) {
      if (!p.revents) continue;
      resolver.on_ready(p.fd, p.revents);
      curl.on_ready(p.fd, p.revents);
      probe.on_ready(p.fd, p.revents, now());
    }
    resolver.on_time();
    curl.on_time(now());
    probe.on_time(now());
    if (!probe.done() && now() - start > limit_ms) probe.abort("test limit", now());
  }
  return probe.result();
}

}  // namespace harness
