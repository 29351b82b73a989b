// The classroom LAN as the real agent sees it: a veth pair into a network
// namespace this test creates, neighbour entries it adds on the host end, and
// what the agent publishes to a real Mosquitto. No MAC or IP the test used may
// appear in any payload or in the agent's log; with the inventory on, only
// their HMACs (computed here with python3's hmac, not with the agent's code).
#include <arpa/inet.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <map>

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

// A veth pair: the host end stays here (the agent's classroom interface), the
// peer goes into a namespace of its own with IPv6 off, so it sends nothing
// that would add neighbours the test did not make. Removed on every exit.
struct Veth {
  std::string ns, host, peer;
  Veth() {
    const std::string id = std::to_string(::getpid());
    ns = "ca" + id + "n";
    host = "ca" + id + "l";
    peer = "ca" + id + "p";
    must("ip netns add " + ns);
    must("ip netns exec " + ns +
         " sysctl -qw net.ipv6.conf.all.disable_ipv6=1 "
         "net.ipv6.conf.default.disable_ipv6=1");
    must("ip link add " + host + " type veth peer name " + peer);
    must("ip link set " + peer + " netns " + ns);
    must("ip -n " + ns + " link set " + peer + " up");
    must("ip link set " + host + " up");
    // Entries stay REACHABLE for the test's length instead of 15-45 s.
    must("sysctl -qw net.ipv4.neigh." + host + ".base_reachable_time_ms=600000 net.ipv6.neigh." +
         host + ".base_reachable_time_ms=600000");
  }
  ~Veth() {
    sh("ip link del " + host);
    sh("ip netns del " + ns);
  }
};

struct Device {
  std::string mac, ip, nud;
};

// Every device address the test uses, unique per run.
struct Addresses {
  std::string mac1, mac2, mac3, mac4;
  std::vector<Device> entries;
  std::vector<std::string> ips;
  Addresses() {
    const int id = ::getpid();
    char m[32];
    auto mac = [&](int n) {
      std::snprintf(m, sizeof m, "02:ca:%02x:%02x:00:%02x", (id >> 8) & 255, id & 255, n);
      return std::string(m);
    };
    const std::string v4 =
        "10." + std::to_string((id >> 8) & 255) + "." + std::to_string(id & 255) + ".";
    char v6[64];
    std::snprintf(v6, sizeof v6, "fd00:ca:%x::", id & 0xffff);
    mac1 = mac(1), mac2 = mac(2), mac3 = mac(3), mac4 = mac(4);
    entries = {{mac1, v4 + "11", "reachable"},
               {mac2, v4 + "12", "stale"},
               {mac1, std::string(v6) + "11", "stale"},  // the same device over IPv6
               {mac3, std::string(v6) + "13", "reachable"},
               {mac4, v4 + "14", "permanent"}};  // static: not a device
    for (const auto& e : entries) ips.push_back(e.ip);
  }
};

void add_neighbours(const Veth& veth, const Addresses& a) {
  for (const Device& d : a.entries)
    must("ip neigh replace " + d.ip + " lladdr " + d.mac + " dev " + veth.host + " nud " + d.nud);
}

// The latest value of `name` in what the subscriber got (NBIRTH by name, NDATA by alias).
std::optional<Payload::Metric> latest(Subscriber& sub, const std::string& name) {
  std::optional<Payload::Metric> value;
  std::optional<uint64_t> alias;
  for (const Message& m : sub.messages()) {
    if (!m.is_sparkplug) continue;
    if (m.type() == "NBIRTH") {
      alias = alias_in_birth(m.decoded, name);
      if (auto* x = find_metric(m.decoded, name, 0); x && !x->is_null()) value = *x;
    } else if (m.type() == "NDATA" && alias) {
      for (const auto& x : m.decoded.metrics())
        if (x.alias() == *alias) value = x;
    }
  }
  return value;
}

// The forms an address could take in a payload: text in both cases, bare hex, raw bytes.
std::vector<std::string> forms_of_mac(const std::string& mac) {
  std::string upper = mac, bare, raw;
  for (char& c : upper) c = static_cast<char>(std::toupper(c));
  for (char c : mac)
    if (c != ':') bare += c;
  for (size_t i = 0; i + 1 < bare.size(); i += 2)
    raw += static_cast<char>(std::stoi(bare.substr(i, 2), nullptr, 16));
  return {mac, upper, bare, raw};
}
std::vector<std::string> forms_of_ip(const std::string& ip) {
  unsigned char raw[16];
  std::vector<std::string> forms{ip};
  if (::inet_pton(AF_INET, ip.c_str(), raw) == 1)
    forms.emplace_back(reinterpret_cast<char*>(raw), 4);
  if (::inet_pton(AF_INET6, ip.c_str(), raw) == 1)
    forms.emplace_back(reinterpret_cast<char*>(raw), 16);
  return forms;
}

// Fails for every form of every address found in `bytes`.
void find_none(const std::string& bytes, const Addresses& a, const std::string& where) {
  std::vector<std::string> needles;
  for (const std::string& mac : {a.mac1, a.mac2, a.mac3, a.mac4})
    for (auto& f : forms_of_mac(mac)) needles.push_back(f);
  for (const std::string& ip : a.ips)
    for (auto& f : forms_of_ip(ip)) needles.push_back(f);
  for (const std::string& n : needles) {
    INFO(where << " holds a client address (" << n.size() << " bytes)");
    CHECK(bytes.find(n) == std::string::npos);
  }
}

std::string hmac16(const std::string& secret_file, const std::string& mac) {
  auto [rc, out] =
      sh("python3 -c 'import hmac, hashlib, sys; "
         "k = open(sys.argv[1], \"rb\").read().rstrip(b\"\\r\\n \\t\"); "
         "print(hmac.new(k, sys.argv[2].encode(), hashlib.sha256).hexdigest()[:16])' " +
         secret_file + " " + mac);
  REQUIRE(rc == 0);
  return out.substr(0, 16);
}

}  // namespace

TEST_CASE("lan: devices on a classroom interface, and no address leaves the gateway") {
  INFO("needs root (CI runs as root): the test creates a network namespace and a veth pair");
  REQUIRE(::geteuid() == 0);
  Veth veth;
  Addresses addresses;
  add_neighbours(veth, addresses);

  BrokerRig rig;
  AgentOptions o = rig.options();
  o.extra = "[sources.lan]\ninterval = \"500ms\"\ninterfaces = [\"" + veth.host + "\"]\n";
  Agent agent(rig.dir.path + "/agent", o);
  agent.start();
  LogOnFailure show_log(agent);

  const std::string devices = "LAN/" + veth.host + "/Devices";
  const std::string reachable = "LAN/" + veth.host + "/Devices Reachable";
  auto value_is = [&](const std::string& name, uint64_t want) {
    auto v = latest(rig.sub, name);
    return v && v->long_value() == want;
  };
  // Two devices over IPv4 and IPv6 plus one over IPv6: 3; the static entry is not one.
  REQUIRE(wait_until([&] { return value_is(devices, 3) && value_is(reachable, 2); }, 20s));
  CHECK(latest(rig.sub, devices)->datatype() == 8);  // UInt64: every decoder reads it

  // A device leaves (its entry fails), another turns stale.
  must("ip neigh del " + addresses.entries[1].ip + " dev " + veth.host);
  must("ip neigh replace " + addresses.entries[3].ip + " lladdr " + addresses.mac3 + " dev " +
       veth.host + " nud stale");
  REQUIRE(wait_until([&] { return value_is(devices, 2) && value_is(reachable, 1); }, 20s));

  agent.signal(SIGTERM);
  REQUIRE(agent.wait_exit(10s) == 0);
  std::string all;
  for (const Message& m : rig.sub.messages()) all += m.topic + "\n" + m.payload;
  REQUIRE(!all.empty());
  find_none(all, addresses, "a published message");
  find_none(agent.log(), addresses, "the agent's log");
}

TEST_CASE("lan: the opt-in inventory publishes only HMACs of the devices") {
  INFO("needs root (CI runs as root): the test creates a network namespace and a veth pair");
  REQUIRE(::geteuid() == 0);
  Veth veth;
  Addresses addresses;
  add_neighbours(veth, addresses);

  BrokerRig rig;
  const std::string secret = rig.dir.path + "/site.secret";
  write_file(secret, "a-site-secret-for-room-1-" + std::to_string(::getpid()) + "\n");
  REQUIRE(::chmod(secret.c_str(), 0600) == 0);

  AgentOptions o;
  o.url = rig.broker.url();
  o.extra = "[sources.lan]\ninterval = \"500ms\"\ninterfaces = [\"" + veth.host +
            "\"]\ninventory = true\ninventory_secret_file = \"" + secret + "\"\n";
  Agent agent(rig.dir.path + "/agent", o);
  agent.start();
  LogOnFailure show_log(agent);

  // Sorted by key, each with its device's best state.
  std::map<std::string, std::string> expected{{hmac16(secret, addresses.mac1), "reachable"},
                                              {hmac16(secret, addresses.mac2), "stale"},
                                              {hmac16(secret, addresses.mac3), "reachable"}};
  std::string want;
  for (const auto& [key, state] : expected) want += (want.empty() ? "" : " ") + key + ":" + state;
  const std::string name = "LAN/" + veth.host + "/Inventory";
  REQUIRE(wait_until(
      [&] {
        auto v = latest(rig.sub, name);
        return v && v->string_value() == want;
      },
      20s));
  CHECK(latest(rig.sub, "LAN/" + veth.host + "/Devices")->long_value() == 3);

  agent.signal(SIGTERM);
  REQUIRE(agent.wait_exit(10s) == 0);
  std::string all;
  for (const Message& m : rig.sub.messages()) all += m.topic + "\n" + m.payload;
  find_none(all, addresses, "a published message");
  find_none(agent.log(), addresses, "the agent's log");
  CHECK(all.find(hmac16(secret, addresses.mac4)) == std::string::npos);  // permanent: not a device
}

TEST_CASE("lan: the inventory refuses a secret others can read, naming the fix") {
  TempDir dir;
  const std::string secret = dir.path + "/site.secret";
  write_file(secret, "0123456789abcdef0123456789abcdef\n");
  REQUIRE(::chmod(secret.c_str(), 0644) == 0);
  const std::string config = dir.path + "/agent.toml";
  write_file(
      config,
      "[identity]\ngroup = \"a\"\nnode = \"b\"\n[broker]\nservers = [\"tcp://127.0.0.1:1\"]\n"
      "[state]\ndir = \"" +
          dir.path + "/state\"\n[sources.lan]\ninventory = true\ninventory_secret_file = \"" +
          secret + "\"\n");
  for (const char* command : {"check-config", "run"}) {
    auto [rc, out] = sh(std::string(AGENT_BINARY) + " " + command + " -c " + config);
    INFO(out);
    CHECK(rc == 2);
    CHECK_THAT(out, Catch::Contains("sources.lan.inventory_secret_file: " + secret));
    CHECK_THAT(out, Catch::Contains("chmod 600 " + secret));
    CHECK_THAT(out, Catch::Contains("nothing was started"));
  }
}

TEST_CASE("cli: once shows the LAN's lease counts and says once that there is no radio") {
  TempDir dir;
  const std::string config = dir.path + "/agent.toml";
  write_file(config, read_file(SOURCE_DIR "/config/agent.toml") +
                         "[[sources.lan.dhcp]]\nname = \"classroom\"\nfile = \"" FIXTURES_DIR
                         "/leases/dhcpd-garbled.leases\"\nformat = \"isc\"\npool_size = 200\n");
  auto [rc, out] = sh(std::string(AGENT_BINARY) + " once -c " + config);
  INFO(out);
  CHECK(rc == 0);
  // The fixture's leases ended in 2024 but one that never ends; 3 blocks are garbled.
  CHECK_THAT(out, Catch::Contains("DHCP/classroom/Active Leases = 1\n"));
  CHECK_THAT(out, Catch::Contains("DHCP/classroom/Pool Used = 0.50 %\n"));
  CHECK_THAT(out, Catch::Contains("DHCP/classroom/Garbled Lines = 3\n"));
  CHECK_THAT(out, Catch::Contains("# source lan: 3 unreadable lease blocks skipped in"));
  CHECK_THAT(out, !Catch::Contains("10.1.0."));
  std::error_code ec;
  const bool radio = std::filesystem::exists("/sys/class/ieee80211", ec) &&
                     !std::filesystem::is_empty("/sys/class/ieee80211", ec);
  if (radio) {
    CHECK_THAT(out, Catch::Contains("WiFi/"));
  } else {
    size_t said = 0;
    for (size_t at = out.find("no wireless interface"); at != std::string::npos;
         at = out.find("no wireless interface", at + 1))
      ++said;
    CHECK(said == 1);
    CHECK_THAT(out, Catch::Contains("# source wifi: no wireless interface"));
    CHECK_THAT(out, !Catch::Contains("WiFi/"));
  }
}
