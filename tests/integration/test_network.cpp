// The network and nat sources against traffic the test makes itself: a veth
// pair from this namespace into a network namespace the test creates, with
// addresses from a private /30 that only these two ends use. The real agent
// publishes to the harness Mosquitto; the test checks the counters move by
// exactly what it sent, the rates by that much, and Link Up with the link.
//
// Nothing else crosses the pair: IPv6 is disabled on both ends before they come
// up (no DAD, router or MLD messages) and each end has a permanent neighbour
// entry for the other (no ARP), so every byte counted is one the test sent.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <random>
#include <set>
#include <thread>

#include "harness.hpp"

using namespace harness;

namespace {

std::pair<int, std::string> sh(const std::string& cmd) {
  return run_shell(cmd);
}

void must(const std::string& cmd) {
  auto [rc, out] = sh(cmd);
  INFO(cmd << "\n" << out);
  REQUIRE(rc == 0);
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

void require_root() {
  INFO("needs root: it creates a network namespace and a veth pair (CI runs as root)");
  REQUIRE(::geteuid() == 0);
}

// A veth pair: `host` in this namespace, `peer` in the namespace `ns`, both
// named after this process (unique among tests running at the same time) and
// removed when the rig goes, however the test ends.
class VethRig {
 public:
  VethRig() {
    static int serial = 0;
    const std::string id = std::to_string(::getpid()) + static_cast<char>('a' + serial++ % 26);
    ns = "cn" + id;
    host = "ch" + id;
    peer = "cp" + id;
    std::random_device rd;
    const unsigned second = 64 + rd() % 128, third = rd() % 256, fourth = (rd() % 64) * 4;
    const std::string net = "10." + std::to_string(second) + "." + std::to_string(third) + ".";
    host_ip = net + std::to_string(fourth + 1);
    peer_ip = net + std::to_string(fourth + 2);
  }
  ~VethRig() {
    sh("ip netns del " + ns);
    sh("ip link del " + host);  // gone with the namespace already, unless that failed
  }

  void create() {
    must("ip netns add " + ns);
    must("ip link add " + host + " type veth peer name " + peer + " netns " + ns);
    must("echo 1 > /proc/sys/net/ipv6/conf/" + host + "/disable_ipv6");
    must("ip netns exec " + ns + " sh -c 'echo 1 > /proc/sys/net/ipv6/conf/" + peer +
         "/disable_ipv6'");
    must("ip addr add " + host_ip + "/30 dev " + host);
    must("ip -n " + ns + " addr add " + peer_ip + "/30 dev " + peer);
    const std::string host_mac = trim(read_file("/sys/class/net/" + host + "/address"));
    const std::string peer_mac =
        trim(sh("ip netns exec " + ns + " cat /sys/class/net/" + peer + "/address").second);
    must("ip neigh add " + peer_ip + " lladdr " + peer_mac + " dev " + host + " nud permanent");
    must("ip -n " + ns + " neigh add " + host_ip + " lladdr " + host_mac + " dev " + peer +
         " nud permanent");
    must("ip link set " + host + " up");
    must("ip -n " + ns + " link set " + peer + " up");
    REQUIRE(wait_until(
        [&] { return trim(read_file("/sys/class/net/" + host + "/operstate")) == "up"; }, 5s));
  }

  // A UDP socket bound to ip:port inside the namespace (a socket stays in the
  // namespace it was created in; the thread that creates it switches, nothing else).
  int ns_udp_socket(const std::string& ip, int port) {
    int fd = -1;
    std::thread([&] {
      int nsfd = ::open(("/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC);
      if (nsfd < 0) return;
      if (::setns(nsfd, CLONE_NEWNET) == 0) fd = udp_socket(ip, port);
      ::close(nsfd);
    }).join();
    REQUIRE(fd >= 0);
    return fd;
  }

  static int udp_socket(const std::string& ip, int port) {
    int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    sockaddr_in addr = address(ip, port);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ::close(fd);
      return -1;
    }
    timeval tv{2, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
  }

  static sockaddr_in address(const std::string& ip, int port) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    ::inet_pton(AF_INET, ip.c_str(), &addr.sin_addr);
    return addr;
  }

  uint64_t host_stat(const std::string& counter) const {
    return std::stoull(read_file("/sys/class/net/" + host + "/statistics/" + counter));
  }

  std::string ns, host, peer, host_ip, peer_ip;
};

struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

// Sends `count` datagrams of `size` payload bytes from `from` to ip:port;
// then receives them on `to` and returns how many arrived.
int send_and_receive(int from, int to, const std::string& ip, int port, int count, size_t size) {
  const std::string payload(size, 'x');
  sockaddr_in dest = VethRig::address(ip, port);
  for (int i = 0; i < count; ++i)
    ::sendto(from, payload.data(), payload.size(), 0, reinterpret_cast<sockaddr*>(&dest),
             sizeof dest);
  char buf[2048];
  int got = 0;
  while (got < count && ::recv(to, buf, sizeof buf, 0) == static_cast<ssize_t>(size)) ++got;
  return got;
}

// Every value of a metric published so far, in order: from the births (by
// name) and from data (by the alias the latest birth gave it).
struct Sample {
  Payload::Metric metric;
  size_t message;  // index among all messages: values in one NDATA share it
};
std::vector<Sample> history(Subscriber& sub, const std::string& name) {
  std::vector<Sample> out;
  std::optional<uint64_t> alias;
  const std::vector<Message> messages = sub.messages();
  for (size_t i = 0; i < messages.size(); ++i) {
    const Message& msg = messages[i];
    if (!msg.is_sparkplug) continue;
    const std::string type = msg.type();
    if (type == "NBIRTH") {
      alias = alias_in_birth(msg.decoded, name);
      if (const auto* m = find_metric(msg.decoded, name, 0)) out.push_back({*m, i});
    } else if (type == "NDATA" && alias) {
      for (const auto& m : msg.decoded.metrics())
        if (m.alias() == *alias) out.push_back({m, i});
    }
  }
  return out;
}

std::optional<Payload::Metric> latest(Subscriber& sub, const std::string& name) {
  auto h = history(sub, name);
  if (h.empty() || h.back().metric.is_null()) return std::nullopt;
  return h.back().metric;
}

std::optional<uint64_t> latest_u64(Subscriber& sub, const std::string& name) {
  auto m = latest(sub, name);
  if (!m) return std::nullopt;
  return m->long_value();
}

std::optional<bool> latest_bool(Subscriber& sub, const std::string& name) {
  auto m = latest(sub, name);
  if (!m) return std::nullopt;
  return m->boolean_value();
}

// "NAME = VALUE" from the output of `classroom-agent once`.
std::optional<std::string> once_value(const std::string& out, const std::string& name) {
  const std::string key = "\n" + name + " = ";
  const size_t at = ("\n" + out).find(key);
  if (at == std::string::npos) return std::nullopt;
  const size_t start = at + key.size() - 1;
  return out.substr(start, out.find('\n', start) - start);
}

}  // namespace

TEST_CASE(
    "network: published counters move by exactly the traffic sent, rates and Link Up follow") {
  require_root();
  VethRig rig;
  rig.create();
  BrokerRig broker_rig;
  auto& [broker, sub, dir] = broker_rig;
  AgentOptions o;
  o.url = broker.url();
  o.interval = "1s";
  o.extra = "[sources.network]\ninterval = \"1s\"\ninclude = [\"" + rig.host +
            "\"]\n[sources.nat]\ninterval = \"1s\"\n";
  Agent agent(dir.path, o);
  agent.start();
  LogOnFailure show_log(agent);
  const std::string m = "Network/" + rig.host + "/";

  // The agent sees the fresh link, and what it publishes is what the kernel counts.
  REQUIRE(wait_until(
      [&] {
        return latest_bool(sub, m + "Link Up") == true &&
               latest_u64(sub, m + "Tx Bytes") == rig.host_stat("tx_bytes") &&
               latest_u64(sub, m + "Rx Bytes") == rig.host_stat("rx_bytes");
      },
      15s));
  // Past the first sample (taken at start, off the 1 s grid) and on the grid.
  REQUIRE(sub.wait_for("NDATA", 2, 10s));
  const uint64_t tx_bytes = *latest_u64(sub, m + "Tx Bytes"),
                 tx_packets = *latest_u64(sub, m + "Tx Packets"),
                 rx_bytes = *latest_u64(sub, m + "Rx Bytes"),
                 rx_packets = *latest_u64(sub, m + "Rx Packets");
  // Only the interfaces asked for, and the speed veth reports.
  CHECK_FALSE(latest(sub, "Network/lo/Rx Bytes"));
  REQUIRE(latest(sub, m + "Speed"));
  CHECK(latest(sub, m + "Speed")->long_value() == 10000);
  CHECK(latest_u64(sub, m + "Rx Errors") == 0u);

  // 50 datagrams of 1000 bytes out, 30 of 600 bytes in. On the wire each is
  // 14 (Ethernet) + 20 (IPv4) + 8 (UDP) bytes more.
  const int port = 20000 + ::getpid() % 20000;
  Fd in_ns{rig.ns_udp_socket(rig.peer_ip, port)};
  Fd on_host{VethRig::udp_socket(rig.host_ip, port)};
  REQUIRE(on_host.fd >= 0);
  REQUIRE(send_and_receive(on_host.fd, in_ns.fd, rig.peer_ip, port, 50, 1000) == 50);
  REQUIRE(send_and_receive(in_ns.fd, on_host.fd, rig.host_ip, port, 30, 600) == 30);
  const uint64_t sent_bytes = 50 * (1000 + 42), received_bytes = 30 * (600 + 42);

  REQUIRE(wait_until(
      [&] {
        return latest_u64(sub, m + "Tx Bytes") == tx_bytes + sent_bytes &&
               latest_u64(sub, m + "Tx Packets") == tx_packets + 50 &&
               latest_u64(sub, m + "Rx Bytes") == rx_bytes + received_bytes &&
               latest_u64(sub, m + "Rx Packets") == rx_packets + 30;
      },
      10s));
  // And the kernel agrees: nothing but the test's datagrams crossed the pair.
  CHECK(rig.host_stat("tx_bytes") == tx_bytes + sent_bytes);
  CHECK(rig.host_stat("rx_bytes") == rx_bytes + received_bytes);

  // The rates: traffic stopped, so a later sample says 0 bit/s.
  REQUIRE(wait_until(
      [&] {
        auto tx = latest(sub, m + "Tx Rate"), rx = latest(sub, m + "Rx Rate");
        return tx && rx && tx->double_value() == 0 && rx->double_value() == 0;
      },
      10s));
  // Each sample in which the byte counter moved carries, in the same NDATA,
  // the rate of that move over the time since the previous sample: the 1 s
  // interval, or less when the previous value is the agent's first sample
  // (taken at start, off the grid). Tolerance 10 %: the driver divides by the
  // time between its own two reads, which the scheduler's wake-up jitter on a
  // busy 2-core machine moves by tens of milliseconds.
  for (const char* dir : {"Tx", "Rx"}) {
    INFO(dir);
    const auto bytes = history(sub, m + dir + " Bytes");
    const auto rates = history(sub, m + dir + " Rate");
    uint64_t accounted = 0;
    for (size_t k = 1; k < bytes.size(); ++k) {
      const uint64_t moved = bytes[k].metric.long_value() - bytes[k - 1].metric.long_value();
      if (moved == 0) continue;
      accounted += moved;
      const Sample* rate = nullptr;
      for (const Sample& r : rates)
        if (r.message == bytes[k].message) rate = &r;
      REQUIRE(rate);
      const int64_t since = static_cast<int64_t>(bytes[k].metric.timestamp()) -
                            static_cast<int64_t>(bytes[k - 1].metric.timestamp());
      const double seconds = static_cast<double>(std::min<int64_t>(since, 1000)) / 1000.0;
      const double expected = static_cast<double>(moved) * 8.0 / seconds;
      INFO("moved " << moved << " B at " << bytes[k].metric.timestamp() << " (previous sample "
                    << bytes[k - 1].metric.timestamp() << "), rate " << rate->metric.double_value()
                    << " bit/s");
      CHECK(std::fabs(rate->metric.double_value() - expected) <= 0.10 * expected);
    }
    CHECK(accounted == (std::string(dir) == "Tx" ? sent_bytes : received_bytes));
  }

  // The link goes down and comes back; Link Up follows.
  must("ip link set " + rig.host + " down");
  REQUIRE(wait_until([&] { return latest_bool(sub, m + "Link Up") == false; }, 10s));
  must("ip link set " + rig.host + " up");
  REQUIRE(wait_until([&] { return latest_bool(sub, m + "Link Up") == true; }, 10s));

  // NAT in the agent's namespace: what the kernel's files say, and a
  // consistent share. (The host namespace tracks flows only if something
  // there hooks conntrack; the flows test below makes its own.)
  const std::string max_file = "/proc/sys/net/netfilter/nf_conntrack_max";
  if (std::filesystem::exists(max_file)) {
    const uint64_t max = std::stoull(read_file(max_file));
    REQUIRE(wait_until([&] { return latest_u64(sub, "NAT/Conntrack Max") == max; }, 10s));
    auto entries = latest_u64(sub, "NAT/Conntrack Entries");
    auto used = latest(sub, "NAT/Conntrack Used");
    REQUIRE(entries);
    REQUIRE(used);
    CHECK(used->float_value() ==
          Approx(100.0 * static_cast<double>(*entries) / static_cast<double>(max)).margin(0.01));
  } else {
    REQUIRE(wait_until(
        [&] {
          return agent.log().find("connection tracking is not available") != std::string::npos;
        },
        10s));
    CHECK_FALSE(latest(sub, "NAT/Conntrack Entries"));
  }
}

TEST_CASE("network: an interface that appears is born, one that goes stops being sent") {
  require_root();
  BrokerRig broker_rig;
  auto& [broker, sub, dir] = broker_rig;
  auto rig = std::make_unique<VethRig>();
  AgentOptions o;
  o.url = broker.url();
  o.interval = "1s";
  o.extra = "[sources.network]\ninterval = \"500ms\"\ninclude = [\"" + rig->host + "\"]\n";
  Agent agent(dir.path, o);
  agent.start();
  LogOnFailure show_log(agent);
  REQUIRE(sub.wait_for("NBIRTH", 1, 15s));
  const std::string m = "Network/" + rig->host + "/";
  CHECK_FALSE(latest(sub, m + "Rx Bytes"));

  // The interface appears: a rebirth declares it, then its values flow.
  rig->create();
  REQUIRE(wait_until([&] { return latest_bool(sub, m + "Link Up") == true; }, 10s));
  CHECK(sub.of_type("NBIRTH").size() >= 2);
  CHECK(alias_in_birth(sub.of_type("NBIRTH").back().decoded, m + "Tx Bytes"));

  // It goes: Link Up false once, the rates null, and nothing more of it.
  rig.reset();
  REQUIRE(wait_until([&] { return latest_bool(sub, m + "Link Up") == false; }, 10s));
  const size_t seen = sub.messages().size();
  REQUIRE(wait_until([&] { return sub.messages().size() >= seen + 3; }, 10s));  // more NDATA
  auto tx = history(sub, m + "Tx Bytes");
  for (const Sample& s : tx) CHECK(s.message < seen);
}

TEST_CASE("nat: conntrack entries follow the flows the test creates in its own namespace") {
  require_root();
  auto [has_nft, where] = sh("command -v nft");
  INFO(
      "nft (Debian package nftables, tests/tools/install-deps.sh) hooks conntrack in the "
      "test's namespace");
  REQUIRE(has_nft == 0);
  VethRig rig;
  rig.create();
  // A rule that matches on conntrack state makes the kernel track this
  // namespace's flows (and only this namespace's).
  must(
      "printf 'table inet classroom {\\n chain in {\\n  type filter hook input priority 0; "
      "policy accept;\\n  ct state new counter\\n }\\n}\\n' | ip netns exec " +
      rig.ns + " nft -f -");
  must("ip -n " + rig.ns + " route add default via " + rig.host_ip);

  // The real agent, as `once`, inside the namespace.
  TempDir dir;
  write_file(dir.path + "/agent.toml",
             "[identity]\ngroup = \"a\"\nnode = \"b\"\n[broker]\nservers = [\"tcp://h:1\"]\n"
             "[state]\ndir = \"" +
                 dir.path +
                 "/state\"\n[sources.system]\nenabled = false\n"
                 "[sources.network]\n[sources.nat]\n");
  auto once = [&] {
    auto [rc, out] =
        sh("ip netns exec " + rig.ns + " " AGENT_BINARY " once -c " + dir.path + "/agent.toml");
    INFO(out);
    REQUIRE(rc == 0);
    return out;
  };
  std::string out = once();
  INFO(out);
  CHECK(once_value(out, "NAT/Conntrack Entries") == "0");
  const std::string max =
      trim(sh("ip netns exec " + rig.ns + " cat /proc/sys/net/netfilter/nf_conntrack_max").second);
  CHECK(once_value(out, "NAT/Conntrack Max") == max);
  CHECK(once_value(out, "NAT/Conntrack Used") == "0.00 %");
  // The namespace's own view: its end of the pair, its default route.
  CHECK(once_value(out, "Network/Uplink/Interface") == rig.peer);
  CHECK(once_value(out, "Network/" + rig.peer + "/Link Up") == "true");
  CHECK_FALSE(once_value(out, "Network/lo/Rx Bytes"));

  // 12 flows: one datagram each from its own source port.
  const int port = 20000 + ::getpid() % 20000;
  Fd in_ns{rig.ns_udp_socket(rig.peer_ip, port)};
  for (int i = 0; i < 12; ++i) {
    Fd from{VethRig::udp_socket(rig.host_ip, 0)};
    REQUIRE(from.fd >= 0);
    REQUIRE(send_and_receive(from.fd, in_ns.fd, rig.peer_ip, port, 1, 100) == 1);
  }
  out = once();
  INFO(out);
  CHECK(once_value(out, "NAT/Conntrack Entries") == "12");
  char used[32];
  std::snprintf(used, sizeof used, "%.2f %%", 100.0 * 12 / std::stod(max));
  CHECK(once_value(out, "NAT/Conntrack Used") == std::string(used));
  CHECK(once_value(out, "Network/" + rig.peer + "/Rx Packets") == "12");
  CHECK(once_value(out, "Network/" + rig.peer + "/Rx Bytes") ==
        std::to_string(12 * (100 + 42)) + " B");
}

TEST_CASE("cli: once with the shipped config shows the network and nat metrics") {
  // Other tests on this machine add and remove interfaces: check the ones
  // that were there before and after.
  auto interfaces = [] {
    std::set<std::string> names;
    for (const auto& entry : std::filesystem::directory_iterator("/sys/class/net"))
      names.insert(entry.path().filename());
    return names;
  };
  const std::set<std::string> before = interfaces();
  auto [rc, out] = sh(AGENT_BINARY " once -c " SOURCE_DIR "/config/agent.toml");
  const std::set<std::string> after = interfaces();
  INFO(out);
  CHECK(rc == 0);
  CHECK(once_value(out, "Network/Uplink/Interface"));
  CHECK(once_value(out, "Network/Uplink/Changes") == "0");
  CHECK_FALSE(once_value(out, "Network/lo/Rx Bytes"));  // excluded by default
  int checked = 0;
  for (const std::string& name : before) {
    if (name == "lo" || !after.count(name)) continue;
    INFO(name);
    CHECK(once_value(out, "Network/" + name + "/Rx Bytes"));
    CHECK(once_value(out, "Network/" + name + "/Tx Rate"));
    CHECK(once_value(out, "Network/" + name + "/Link Up"));
    ++checked;
  }
  CHECK(checked > 0);
  if (std::filesystem::exists("/proc/sys/net/netfilter/nf_conntrack_max"))
    CHECK(once_value(out, "NAT/Conntrack Max") ==
          trim(read_file("/proc/sys/net/netfilter/nf_conntrack_max")));
  else
    CHECK_THAT(out, Catch::Contains("# source nat: connection tracking is not available"));
}

TEST_CASE("cli: once on the captured 20-interface gateway") {
  TempDir dir;
  write_file(dir.path + "/gw.toml",
             "[identity]\ngroup = \"a\"\nnode = \"b\"\n[broker]\nservers = [\"tcp://h:1\"]\n"
             "[state]\ndir = \"/tmp/x\"\n[host]\nproc = \"" FIXTURES_DIR
             "/net-gateway/proc\"\nsys = \"" FIXTURES_DIR
             "/net-gateway/sys\"\n[sources.system]\nenabled = false\n"
             "[sources.network]\nexclude = [\"lo\", \"veth*\"]\n[sources.nat]\n");
  auto [rc, out] = sh(AGENT_BINARY " once -c " + dir.path + "/gw.toml");
  INFO(out);
  CHECK(rc == 0);
  CHECK(once_value(out, "Network/eth0/Rx Bytes") == "987654321012 B");
  CHECK(once_value(out, "Network/eth0/Speed") == "1000 Mbit/s");
  CHECK(once_value(out, "Network/eth0/Rx Rate") == "0.00 bit/s");  // files that do not move
  CHECK(once_value(out, "Network/wwan0/Link Up") == "true");
  CHECK(once_value(out, "Network/wlan1/Link Up") == "false");
  CHECK(once_value(out, "Network/wwan0/Speed") == "(null) Mbit/s");  // -1: unknown
  CHECK_FALSE(once_value(out, "Network/veth-cam0/Rx Bytes"));
  CHECK(once_value(out, "Network/Uplink/Interface") == "eth0");
  CHECK(once_value(out, "NAT/Conntrack Entries") == "1234");
  CHECK(once_value(out, "NAT/Conntrack Used") == "0.47 %");
}
