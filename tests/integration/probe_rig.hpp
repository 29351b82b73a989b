// What the probe tests start for real: HTTP(S) servers (probe_server.py),
// dnsmasq, network namespaces with an ICMP responder of our own, and a loop
// that drives one probe to its end. Everything is unique per run (pid in every
// name) and removed when the test ends, failed or not.
#pragma once

#include <atomic>
#include <string>
#include <thread>

#include "harness.hpp"
#include "probes/probe.hpp"

namespace harness {

// A server process that writes its port to a file once it listens.
class PortServer {
 public:
  PortServer(std::vector<std::string> argv_after_port_file, const std::string& name);
  ~PortServer();
  int port() const { return port_; }

 private:
  TempDir dir_;
  std::unique_ptr<Process> process_;
  int port_ = 0;
};

// python3 probe_server.py http|https on loopback.
std::unique_ptr<PortServer> http_server(const std::string& cert = "", const std::string& key = "");

// A self-signed certificate made with openssl for `san` ("IP:127.0.0.1",
// "DNS:other.test"), valid `days`.
struct Certificate {
  Certificate(const std::string& san, int days);
  TempDir dir;
  std::string cert, key;
};

// dnsmasq on a loopback port: known.test A 10.1.2.3, two.test A 10.1.2.4 and
// 10.1.2.5, nx.test NXDOMAIN; .test is local (other types: no data), no upstream.
class Dnsmasq {
 public:
  Dnsmasq();
  ~Dnsmasq();
  int port() const { return port_; }

 private:
  TempDir dir_;
  int port_;
  std::unique_ptr<Process> process_;
};

// A UDP port that is bound but never answers (a DNS server that hangs).
class SilentUdpPort {
 public:
  SilentUdpPort();
  ~SilentUdpPort();
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

// A network namespace of this test run, lo up, removed at the end.
class NetNs {
 public:
  NetNs();
  ~NetNs();
  const std::string& name() const { return name_; }
  void sysctl(const std::string& key_value);  // "net.ipv4.icmp_echo_ignore_all=1"
  // Runs `fn` on a thread that has entered the namespace (sockets it creates,
  // and threads it starts, live there) and waits for it.
  void run_inside(const std::function<void()>& fn);

 private:
  std::string name_;
};

// Answers ICMP echo requests in a namespace (kernel replies turned off there)
// after base_ms, +jitter_ms and -jitter_ms in turn; every `late_every`-th
// request is answered only after late_ms (past the probe's timeout). For every
// request it also sends at once a reply with another identifier (another
// process's echo), which must never count.
class IcmpResponder {
 public:
  IcmpResponder(NetNs& ns, int base_ms, int jitter_ms, int late_every, int late_ms);
  ~IcmpResponder();
  int requests() const { return requests_.load(); }

 private:
  void loop();
  int fd_ = -1;
  int base_ms_, jitter_ms_, late_every_, late_ms_;
  std::atomic<bool> stop_{false};
  std::atomic<int> requests_{0};
  std::thread thread_;
};

// Drives one probe to its end the way the runner does (its own resolver and
// curl multi); aborts it after `limit_ms`.
classroom::drivers::probes::Result drive(classroom::drivers::probes::Probe& probe,
                                         int64_t limit_ms = 30'000);

}  // namespace harness
