// SNMP devices of the node against a real snmpd (Debian's net-snmp) that the
// test starts on a free loopback UDP port with a config it writes: a v2c
// community, SNMPv3 users with SHA/AES, fixed UPS-MIB values (override), and
// the IF-MIB rows of the machine's own interfaces. What the agent publishes is
// compared with what snmpget/snmpwalk (Debian's snmp package) read themselves.
// What snmpd cannot serve (lost datagrams, counters that go back, thousands of
// interfaces) comes from a scripted agent of the tests' own, snmp_responder.py.
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <catch2/catch.hpp>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "harness.hpp"
#include "probe_rig.hpp"
#include "snmp/snmp_poller.hpp"
#include "snmp_responder.hpp"

using namespace harness;

namespace {

int free_udp_port() {
  int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

std::string run(const std::string& command) {
  std::string out;
  FILE* p = ::popen(command.c_str(), "r");
  if (!p) return out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  ::pclose(p);
  return out;
}

void write_secret(const std::string& path, const std::string& secret) {
  write_file(path, secret + "\n");
  ::chmod(path.c_str(), 0600);
}

constexpr const char* kCommunity = "room6a-community";
constexpr const char* kAuth = "auth-secret-6a";
constexpr const char* kPriv = "priv-secret-6a";

// snmpd -f in the foreground, logging to a file, with only the test's config;
// on loopback, or on `ip` in the network namespace `netns` (whose interfaces
// it then serves).
class Snmpd {
 public:
  // `extra`: more snmpd.conf lines (override OID TYPE VALUE: any value at any OID).
  explicit Snmpd(std::string netns = "", std::string ip = "127.0.0.1", std::string extra = "")
      : netns_(std::move(netns)), ip_(std::move(ip)), port_(free_udp_port()) {
    std::filesystem::create_directories(dir_.path + "/persist");
    write_file(dir_.path + "/snmpd.conf",
               std::string("rocommunity ") + kCommunity + " " +
                   (netns_.empty() ? "127.0.0.1" : "default") + "\n" + "rocommunity6 " +
                   kCommunity + " ::1\n" + "createUser monitor SHA \"" + kAuth + "\" AES \"" +
                   kPriv + "\"\n" + "createUser other SHA \"" + kAuth + "\" AES \"" + kPriv +
                   "\"\n" +
                   "rouser monitor priv\nrouser other priv\n"
                   "sysName switch-6a.school\nsysDescr Test switch \"6A\"\n"
                   // UPS-MIB (RFC 1628): on battery, 87 %, 42 min, 229 V, 31 %.
                   "override 1.3.6.1.2.1.33.1.4.1.0 integer 5\n"
                   "override 1.3.6.1.2.1.33.1.2.4.0 integer 87\n"
                   "override 1.3.6.1.2.1.33.1.2.3.0 integer 42\n"
                   "override 1.3.6.1.2.1.33.1.3.3.1.3.1 integer 229\n"
                   "override 1.3.6.1.2.1.33.1.4.4.1.5.1 integer 31\n" +
                   extra);
  }
  ~Snmpd() { stop(); }
  void start() {
    std::vector<std::string> argv{"/usr/sbin/snmpd",        "-f", "-Lo", "-C", "-c",
                                  dir_.path + "/snmpd.conf"};
    if (netns_.empty()) {
      argv.push_back("udp:127.0.0.1:" + std::to_string(port_) +
                     ",udp6:[::1]:" + std::to_string(port_));
    } else {
      argv.push_back("udp:" + ip_ + ":" + std::to_string(port_));
      argv.insert(argv.begin(), {"ip", "netns", "exec", netns_});
    }
    process_ = std::make_unique<Process>(
        argv, dir_.path + "/snmpd.log",
        std::vector<std::string>{"SNMP_PERSISTENT_DIR=" + dir_.path + "/persist", "MIBS="});
    REQUIRE(wait_until([&] { return !get("1.3.6.1.2.1.1.3.0").empty(); }, 20s));
  }
  void stop() {
    if (!process_) return;
    process_->signal(SIGTERM);
    process_->wait_exit(10s);
    process_.reset();
  }
  int port() const { return port_; }
  std::string address() const { return ip_ + ":" + std::to_string(port_); }
  std::string cli(const std::string& tool) const {
    return "SNMP_PERSISTENT_DIR=" + dir_.path + "/cli MIBS= " + tool + " -v2c -c " + kCommunity +
           " -t 1 -r 1 -On -Oq -Oe -Ot " + address() + " ";
  }
  // snmpget's value of one OID ("" when it does not answer).
  std::string get(const std::string& oid) const {
    std::string out = run(cli("snmpget") + oid + " 2>/dev/null");
    const size_t space = out.find(' ');
    if (space == std::string::npos) return "";
    std::string v = out.substr(space + 1);
    while (!v.empty() && (v.back() == '\n' || v.back() == ' ')) v.pop_back();
    if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
    return v;
  }
  // snmpwalk of a column: row index -> value.
  std::map<uint32_t, std::string> walk(const std::string& column) const {
    std::map<uint32_t, std::string> rows;
    std::istringstream in(run(cli("snmpwalk") + column + " 2>/dev/null"));
    std::string line;
    while (std::getline(in, line)) {
      const size_t space = line.find(' ');
      if (space == std::string::npos || line.rfind("." + column + ".", 0) != 0) continue;
      const std::string oid = line.substr(0, space);
      std::string v = line.substr(space + 1);
      if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
      rows[static_cast<uint32_t>(std::stoul(oid.substr(oid.rfind('.') + 1)))] = v;
    }
    return rows;
  }

 private:
  TempDir dir_;
  std::string netns_, ip_;
  int port_;
  std::unique_ptr<Process> process_;
};

// A [[devices.snmp]] table for a responder (community "public").
std::string responder_device(const std::string& name, const Responder& r, const TempDir& dir,
                             const std::string& keys = "") {
  write_secret(dir.path + "/public", "public");
  return "[[devices.snmp]]\nname = \"" + name + "\"\naddress = \"" + r.address() +
         "\"\ncommunity_file = \"" + dir.path +
         "/public\"\ninterval = \"1s\"\ntimeout = \"300ms\"\nretries = 1\n"
         "profiles = [\"interfaces\"]\n" +
         keys;
}

void must(const std::string& cmd) {
  auto [rc, out] = run_shell(cmd);
  INFO(cmd << "\n" << out);
  REQUIRE(rc == 0);
}

// A switch with many ports: a network namespace with `ports` interfaces,
// reached over a veth pair on addresses of this run (198.18.0.0/15, the
// range set aside for tests).
struct BigSwitch {
  NetNs ns;
  std::string host = "cb" + std::to_string(::getpid()) + "h";
  std::string host_ip, switch_ip;
  explicit BigSwitch(int ports) {
    const int id = ::getpid();
    const std::string net = "198." + std::to_string(18 + ((id >> 14) & 1)) + "." +
                            std::to_string((id >> 6) & 255) + ".";
    host_ip = net + std::to_string((id & 63) * 4 + 1);
    switch_ip = net + std::to_string((id & 63) * 4 + 2);
    const std::string peer = "cb" + std::to_string(id) + "p";
    must("ip link add " + host + " type veth peer name " + peer + " netns " + ns.name());
    must("ip addr add " + host_ip + "/30 dev " + host + " && ip link set " + host + " up");
    must("ip -n " + ns.name() + " addr add " + switch_ip + "/30 dev " + peer + " && ip -n " +
         ns.name() + " link set " + peer + " up");
    std::string batch;  // veth pairs inside the namespace (no dummy module needed)
    for (int i = 0; i < ports; i += 2)
      batch += "link add port" + std::to_string(i) + " type veth peer name port" +
               std::to_string(i + 1) + "\n";
    write_file(dir.path + "/links", batch);
    must("ip -n " + ns.name() + " -batch " + dir.path + "/links");
  }
  ~BigSwitch() { run_shell("ip link del " + host); }
  TempDir dir;
};

const Payload::Metric* metric(const Payload& p, const std::string& name) {
  for (const auto& m : p.metrics())
    if (m.name() == name) return &m;
  return nullptr;
}

std::vector<Message> on_topic(Subscriber& sub, const std::string& topic) {
  std::vector<Message> out;
  for (Message& m : sub.messages())
    if (m.topic == topic) out.push_back(std::move(m));
  return out;
}

// Every value `name` of `device` took, in its DBIRTHs and DDATA, in order.
std::vector<Payload::Metric> series(Subscriber& sub, const std::string& device,
                                    const std::string& name) {
  std::vector<Payload::Metric> out;
  std::optional<uint64_t> alias;
  for (const Message& m : sub.messages()) {
    if (m.topic.size() < device.size() + 1 ||
        m.topic.compare(m.topic.size() - device.size() - 1, std::string::npos, "/" + device) != 0)
      continue;
    if (m.type() == "DBIRTH") alias = alias_in_birth(m.decoded, name);
    if (m.type() != "DBIRTH" && m.type() != "DDATA") continue;
    for (const auto& metric : m.decoded.metrics())
      if (metric.name() == name || (alias && !metric.has_name() && metric.alias() == *alias))
        if (!metric.is_null()) out.push_back(metric);
  }
  return out;
}

}  // namespace

TEST_CASE("SNMP devices: DBIRTH with what snmpd serves, DDEATH when it stops, DBIRTH on return") {
  const std::string interop = SOURCE_DIR "/tests/interop";
  // tests/tools/install-deps.sh installs snmpd, snmp, node and the reference codec.
  REQUIRE(std::filesystem::exists("/usr/sbin/snmpd"));
  REQUIRE(::system("command -v snmpwalk >/dev/null 2>&1 && command -v node >/dev/null 2>&1") == 0);
  BrokerRig broker_rig;
  auto& [broker, sub, dir] = broker_rig;
  Snmpd snmpd;
  snmpd.start();
  write_secret(dir.path + "/community", kCommunity);
  write_secret(dir.path + "/auth", kAuth);
  write_secret(dir.path + "/priv", kPriv);

  Process decoder(
      {"node", interop + "/device_decoder.js", broker.url(), "switch-6a,ap-6a", "2", "1"},
      dir.path + "/decoder.log");
  REQUIRE(wait_until(
      [&] { return read_file(dir.path + "/decoder.log").find("subscribed") != std::string::npos; },
      20s));

  const std::string hc_in = "1.3.6.1.2.1.31.1.1.1.6";
  const auto in_before = snmpd.walk(hc_in);
  REQUIRE_FALSE(in_before.empty());

  AgentOptions o;
  o.url = broker.url();
  o.extra = "[[devices.snmp]]\nname = \"switch-6a\"\naddress = \"" + snmpd.address() +
            "\"\nversion = \"2c\"\ncommunity_file = \"" + dir.path +
            "/community\"\ninterval = \"1s\"\ntimeout = \"400ms\"\nretries = 1\n"
            "profiles = [\"system\", \"interfaces\", \"host\", \"ups\"]\n"
            "[[devices.snmp]]\nname = \"ap-6a\"\naddress = \"" +
            snmpd.address() +
            "\"\nversion = \"3\"\nuser = \"monitor\"\nauth_protocol = \"SHA\"\n"
            "auth_password_file = \"" +
            dir.path +
            "/auth\"\npriv_protocol = \"AES\"\n"
            "priv_password_file = \"" +
            dir.path +
            "/priv\"\ninterval = \"1s\"\n"
            "timeout = \"400ms\"\nretries = 1\nprofiles = [\"system\"]\n";
  Agent agent(dir.path + "/agent", o);
  agent.start();
  LogOnFailure show_log(agent);
  const std::string sw_birth = "spBv1.0/school-test/DBIRTH/room-1/switch-6a";
  const std::string ap_birth = "spBv1.0/school-test/DBIRTH/room-1/ap-6a";
  REQUIRE(wait_until(
      [&] { return !on_topic(sub, sw_birth).empty() && !on_topic(sub, ap_birth).empty(); }, 30s));
  const auto in_after = snmpd.walk(hc_in);

  // The switch (v2c): every profile, values as snmpget and snmpwalk read them.
  const Payload sw = on_topic(sub, sw_birth)[0].decoded;
  INFO("DBIRTH has " << sw.metrics_size() << " metrics");
  REQUIRE(metric(sw, "System/Name"));
  CHECK(metric(sw, "System/Name")->string_value() == snmpd.get("1.3.6.1.2.1.1.5.0"));
  CHECK(metric(sw, "System/Name")->string_value() == "switch-6a.school");
  CHECK(metric(sw, "System/Description")->string_value() == "Test switch \"6A\"");
  REQUIRE(metric(sw, "System/Uptime"));
  CHECK(metric(sw, "System/Uptime")->double_value() > 0);
  CHECK(metric(sw, "System/Uptime")->double_value() <=
        std::stod(snmpd.get("1.3.6.1.2.1.1.3.0")) / 100.0);
  CHECK(metric(sw, "UPS/On Battery")->boolean_value() ==
        (snmpd.get("1.3.6.1.2.1.33.1.4.1.0") == "5"));
  CHECK(metric(sw, "UPS/On Battery")->boolean_value());
  CHECK(metric(sw, "UPS/Battery Charge")->float_value() == 87.0f);
  CHECK(metric(sw, "UPS/Runtime Remaining")->long_value() == 42 * 60);
  CHECK(metric(sw, "UPS/Input Voltage")->float_value() == 229.0f);
  CHECK(metric(sw, "UPS/Load")->float_value() == 31.0f);
  CHECK(metric(sw, "UPS/Load")->properties().values(0).string_value() == "%");
  // HOST-RESOURCES-MIB memory: used / size of the hrStorageRam row, as snmpwalk reads it.
  const auto types = snmpd.walk("1.3.6.1.2.1.25.2.3.1.2");
  const auto sizes = snmpd.walk("1.3.6.1.2.1.25.2.3.1.5");
  const auto used = snmpd.walk("1.3.6.1.2.1.25.2.3.1.6");
  for (const auto& [row, type] : types)
    if (type == ".1.3.6.1.2.1.25.2.1.2") {
      const double expected = 100.0 * std::stod(used.at(row)) / std::stod(sizes.at(row));
      REQUIRE(metric(sw, "Memory/Used"));
      CHECK(std::abs(metric(sw, "Memory/Used")->float_value() - expected) < 5.0);
    }
  // Every IF-MIB row, named by ifName; counters between two snmpwalks around it.
  const auto names = snmpd.walk("1.3.6.1.2.1.31.1.1.1.1");
  const auto oper = snmpd.walk("1.3.6.1.2.1.2.2.1.8");
  const auto speed = snmpd.walk("1.3.6.1.2.1.31.1.1.1.15");
  REQUIRE_FALSE(names.empty());
  for (const auto& [row, name] : names) {
    INFO("interface " << name);
    const std::string base = "Interfaces/" + name + "/";
    const auto* rx = metric(sw, base + "Rx Bytes");
    REQUIRE(rx);
    CHECK(rx->datatype() == 8);
    CHECK(rx->long_value() >= std::stoull(in_before.at(row)));
    CHECK(rx->long_value() <= std::stoull(in_after.at(row)));
    REQUIRE(metric(sw, base + "Oper Up"));
    CHECK(metric(sw, base + "Oper Up")->boolean_value() == (oper.at(row) == "1"));
    CHECK(metric(sw, base + "Speed")->long_value() == std::stoull(speed.at(row)));
    for (const char* m :
         {"Tx Bytes", "Rx Rate", "Tx Rate", "Rx Errors", "Tx Errors", "Rx Discards", "Tx Discards"})
      CHECK(metric(sw, base + m));
  }
  // The AP (v3, SHA/AES): its own DBIRTH, system profile only.
  const Payload ap = on_topic(sub, ap_birth)[0].decoded;
  CHECK(metric(ap, "System/Name")->string_value() == "switch-6a.school");
  CHECK_FALSE(metric(ap, "UPS/Load"));
  // DDATA follows by alias: the rates once there are two polls.
  REQUIRE(wait_until(
      [&] { return !on_topic(sub, "spBv1.0/school-test/DDATA/room-1/switch-6a").empty(); }, 10s));

  // snmpd stops: each device gets its DDEATH after retries + 1 = 2 unanswered
  // polls: within (retries + 2) x interval + timeout = 3.4 s, plus slack for a
  // loaded test machine.
  const int64_t stopped = now_ms();
  snmpd.stop();
  const std::string sw_death = "spBv1.0/school-test/DDEATH/room-1/switch-6a";
  const std::string ap_death = "spBv1.0/school-test/DDEATH/room-1/ap-6a";
  REQUIRE(wait_until(
      [&] { return !on_topic(sub, sw_death).empty() && !on_topic(sub, ap_death).empty(); }, 20s));
  const int64_t died =
      std::max(on_topic(sub, sw_death)[0].received_ms, on_topic(sub, ap_death)[0].received_ms);
  CHECK(died - stopped <= 3400 + 2000);
  CHECK_THAT(agent.log(), Catch::Contains("device switch-6a at " + snmpd.address() +
                                          ": no answer (wrong community or host down?), 2 polls "
                                          "in a row; offline (DDEATH)"));
  CHECK_THAT(agent.log(), Catch::Contains("device ap-6a at " + snmpd.address() + ": no answer"));
  // No DDATA of a dead device.
  const size_t ddata_at_death = on_topic(sub, "spBv1.0/school-test/DDATA/room-1/switch-6a").size();

  snmpd.start();
  REQUIRE(wait_until(
      [&] { return on_topic(sub, sw_birth).size() >= 2 && on_topic(sub, ap_birth).size() >= 2; },
      20s));
  CHECK_THAT(agent.log(), Catch::Contains("device switch-6a at " + snmpd.address() + " answers"));
  // The order on the wire: ... DDEATH, then the new DBIRTH, then DDATA again.
  std::vector<std::string> sw_kinds;
  for (const Message& m : sub.messages())
    if (m.topic.size() > 10 && m.topic.substr(m.topic.size() - 10) == "/switch-6a")
      sw_kinds.push_back(m.type());
  const auto death_at = std::find(sw_kinds.begin(), sw_kinds.end(), "DDEATH");
  REQUIRE(death_at != sw_kinds.end());
  CHECK(*(death_at + 1) == "DBIRTH");
  CHECK(std::count(sw_kinds.begin(), death_at, "DDATA") == static_cast<long>(ddata_at_death));

  auto status = decoder.wait_exit(40s);
  INFO(read_file(dir.path + "/decoder.log"));
  REQUIRE(status);
  CHECK(*status == 0);
  // Secrets never reach the log.
  CHECK(agent.log().find(kCommunity) == std::string::npos);
  CHECK(agent.log().find(kAuth) == std::string::npos);
  CHECK(agent.log().find(kPriv) == std::string::npos);
}

TEST_CASE("SNMP devices: a wrong v3 password, an unknown user and a wrong community are named") {
  BrokerRig broker_rig;
  auto& [broker, sub, dir] = broker_rig;
  Snmpd snmpd;
  snmpd.start();
  write_secret(dir.path + "/wrong", "not-the-password");
  write_secret(dir.path + "/priv", kPriv);
  AgentOptions o;
  o.url = broker.url();
  auto device = [&](const std::string& name, const std::string& keys) {
    return "[[devices.snmp]]\nname = \"" + name + "\"\naddress = \"" + snmpd.address() +
           "\"\ninterval = \"1s\"\ntimeout = \"300ms\"\nretries = 0\nprofiles = [\"system\"]\n" +
           keys;
  };
  o.extra =
      device("ap-wrong", "version = \"3\"\nuser = \"other\"\nauth_password_file = \"" + dir.path +
                             "/wrong\"\npriv_protocol = \"AES\"\n" + "priv_password_file = \"" +
                             dir.path + "/priv\"\n") +
      device("ap-nobody", "version = \"3\"\nuser = \"nobody\"\nauth_password_file = \"" + dir.path +
                              "/wrong\"\n") +
      device("switch-comm", "version = \"2c\"\ncommunity_file = \"" + dir.path + "/wrong\"\n");
  Agent agent(dir.path + "/agent", o);
  agent.start();
  LogOnFailure show_log(agent);
  const std::string at = " at " + snmpd.address() + ": ";
  REQUIRE(wait_until(
      [&] {
        const std::string log = agent.log();
        return log.find("device ap-wrong" + at) != std::string::npos &&
               log.find("device ap-nobody" + at) != std::string::npos &&
               log.find("device switch-comm" + at) != std::string::npos;
      },
      20s));
  const std::string log = agent.log();
  CHECK_THAT(log, Catch::Contains("device ap-wrong" + at +
                                  "authentication failed: wrong auth password or auth protocol "
                                  "(usmStatsWrongDigests); offline until it answers"));
  CHECK_THAT(log, Catch::Contains("device ap-nobody" + at +
                                  "unknown SNMPv3 user (usmStatsUnknownUserNames)"));
  CHECK_THAT(log, Catch::Contains("device switch-comm" + at +
                                  "no answer (wrong community or host down?)"));
  CHECK(log.find("not-the-password") == std::string::npos);
  // Said once, not on every poll.
  REQUIRE(sub.wait_for("NDATA", 4, 20s));
  const std::string later = agent.log();
  size_t count = 0;
  for (size_t p = later.find("device ap-wrong" + at + "authentication failed");
       p != std::string::npos;
       p = later.find("device ap-wrong" + at + "authentication failed", p + 1))
    ++count;
  CHECK(count == 1);
  for (const Message& m : sub.messages()) CHECK(m.type() != "DBIRTH");
}

TEST_CASE("SNMP devices: after a broker outage a device's batches and its death replay in order") {
  BrokerRig broker_rig;
  auto& [broker, sub, dir] = broker_rig;
  Snmpd snmpd;
  snmpd.start();
  write_secret(dir.path + "/community", kCommunity);
  AgentOptions o;
  o.url = broker.url();
  o.extra = "[[devices.snmp]]\nname = \"switch-6a\"\naddress = \"" + snmpd.address() +
            "\"\ncommunity_file = \"" + dir.path +
            "/community\"\ninterval = \"1s\"\ntimeout = \"300ms\"\nretries = 0\n"
            "profiles = [\"system\"]\n";
  Agent agent(dir.path + "/agent", o);
  agent.start();
  LogOnFailure show_log(agent);
  const std::string topic_end = "/room-1/switch-6a";
  REQUIRE(wait_until(
      [&] { return !on_topic(sub, "spBv1.0/school-test/DDATA" + topic_end).empty(); }, 30s));

  broker.stop();
  const uint64_t down = static_cast<uint64_t>(now_ms());
  REQUIRE(wait_until([&] { return agent.log().find("lost broker") != std::string::npos; }, 10s));
  // The device goes on answering into the spool, then goes away while the
  // broker is still down: its DDEATH is stored behind its data.
  std::this_thread::sleep_for(std::chrono::seconds(3));
  snmpd.stop();
  REQUIRE(
      wait_until([&] { return agent.log().find("offline (DDEATH)") != std::string::npos; }, 10s));
  broker.start();
  REQUIRE(wait_until(
      [&] { return !on_topic(sub, "spBv1.0/school-test/DDEATH" + topic_end).empty(); }, 30s));

  // After the new NBIRTH: the device (offline now) is born for its history,
  // its batches come as historical DDATA in order, then its DDEATH.
  std::vector<Message> after;
  bool reborn = false;
  int nbirths = 0;
  for (Message& m : sub.messages()) {
    if (m.type() == "NBIRTH") reborn = ++nbirths == 2;
    if (reborn && m.topic.size() > topic_end.size() &&
        m.topic.compare(m.topic.size() - topic_end.size(), topic_end.size(), topic_end) == 0)
      after.push_back(std::move(m));
  }
  REQUIRE(after.size() >= 3);
  CHECK(after.front().type() == "DBIRTH");
  CHECK(after.back().type() == "DDEATH");
  const auto alias = alias_in_birth(after.front().decoded, "System/Uptime");
  REQUIRE(alias);
  double last_uptime = 0;
  int historical = 0;
  for (size_t i = 1; i + 1 < after.size(); ++i) {
    INFO("message " << i << " " << after[i].topic);
    REQUIRE(after[i].type() == "DDATA");
    for (const auto& m : after[i].decoded.metrics()) {
      CHECK(m.is_historical());
      // (unconfirmed batches from before the outage come again too)
      CHECK(m.timestamp() >= down - 10000);
      if (m.alias() == *alias) {
        CHECK(m.double_value() > last_uptime);  // oldest first
        last_uptime = m.double_value();
        ++historical;
      }
    }
  }
  CHECK(historical >= 2);
  // The DDEATH carries the time the device was given up, during the outage.
  const uint64_t death_ts = after.back().decoded.timestamp();
  CHECK(death_ts > down);
  CHECK(death_ts < static_cast<uint64_t>(after.back().received_ms));
}

TEST_CASE("SNMP devices: once polls and prints every device, over IPv4 and IPv6") {
  TempDir dir;
  Snmpd snmpd;
  snmpd.start();
  write_secret(dir.path + "/community", kCommunity);
  write_secret(dir.path + "/auth", kAuth);
  write_secret(dir.path + "/priv", kPriv);
  write_file(dir.path + "/agent.toml",
             "[identity]\ngroup = \"g\"\nnode = \"n\"\n[broker]\nservers = "
             "[\"tcp://127.0.0.1:1\"]\n[state]\ndir = \"state\"\n"
             "[[devices.snmp]]\nname = \"switch-6a\"\naddress = \"[::1]:" +
                 std::to_string(snmpd.port()) +
                 "\"\ncommunity_file = \"community\"\ntimeout = \"500ms\"\n"
                 "profiles = [\"system\", \"ups\"]\n"
                 "[[devices.snmp]]\nname = \"ap-6a\"\naddress = \"" +
                 snmpd.address() +
                 "\"\nversion = \"3\"\nuser = \"monitor\"\nauth_password_file = \"auth\"\n"
                 "priv_protocol = \"AES\"\npriv_password_file = \"priv\"\n"
                 "profiles = [\"system\"]\n");
  Process once({AGENT_BINARY, "once", "-c", dir.path + "/agent.toml"}, dir.path + "/once.out");
  const auto status = once.wait_exit(30s);
  const std::string out = read_file(dir.path + "/once.out");
  INFO(out);
  REQUIRE(status);
  CHECK(*status == 0);
  CHECK_THAT(out, Catch::Contains("# device switch-6a at [::1]:" + std::to_string(snmpd.port()) +
                                  ": online"));
  CHECK_THAT(out, Catch::Contains("switch-6a: System/Name = switch-6a.school\n"));
  CHECK_THAT(out, Catch::Contains("switch-6a: UPS/Runtime Remaining = 2520 s\n"));
  CHECK_THAT(out, Catch::Contains("# device ap-6a at " + snmpd.address() + ": online"));
  CHECK_THAT(out, Catch::Contains("ap-6a: System/Description = Test switch \"6A\"\n"));
  CHECK_THAT(out, Catch::Contains("System/CPU/Usage = "));  // the node's own, as before
}

TEST_CASE("SNMP devices: 20 silent devices do not delay the gateway's own samples") {
  BrokerRig broker_rig;
  auto& [broker, sub, dir] = broker_rig;
  const SilentPort dead(SOCK_DGRAM);
  const std::string silent = "127.0.0.1:" + std::to_string(dead.port());
  write_secret(dir.path + "/community", kCommunity);
  write_secret(dir.path + "/auth", kAuth);
  AgentOptions o;
  o.url = broker.url();
  o.interval = "200ms";
  for (int i = 0; i < 20; ++i)
    // v3: each one's engine discovery waits for its timeout too.
    o.extra += "[[devices.snmp]]\nname = \"dead-" + std::to_string(i) + "\"\naddress = \"" +
               silent + "\"\n" +
               (i % 2 ? "community_file = \"" + dir.path + "/community\"\n"
                      : "version = \"3\"\nuser = \"u\"\nauth_password_file = \"" + dir.path +
                            "/auth\"\n") +
               "interval = \"2s\"\ntimeout = \"900ms\"\nretries = 0\nprofiles = [\"system\"]\n";
  Agent agent(dir.path + "/agent", o);
  agent.start();
  LogOnFailure show_log(agent);
  REQUIRE(sub.wait_for("NBIRTH", 1, 20s));
  const auto alias = alias_in_birth(sub.of_type("NBIRTH")[0].decoded, "System/Uptime");
  REQUIRE(alias);
  // 30 samples at 200 ms (6 s: three rounds of 20 unanswered polls).
  REQUIRE(sub.wait_for("NDATA", 30, 30s));
  std::vector<uint64_t> stamps;
  for (const Message& m : sub.of_type("NDATA"))
    if (const auto* up = find_metric(m.decoded, "", *alias)) stamps.push_back(up->timestamp());
  REQUIRE(stamps.size() >= 25);
  uint64_t gap = 0;
  for (size_t i = 1; i < stamps.size(); ++i) gap = std::max(gap, stamps[i] - stamps[i - 1]);
  INFO("largest gap between samples: " << gap << " ms");
  CHECK(gap <= 400);  // every 200 ms grid point sampled, none skipped
  CHECK_THAT(agent.log(), Catch::Contains("device dead-1 at " + silent + ": no answer"));
  CHECK_THAT(agent.log(), Catch::Contains("device dead-0 at " + silent + ": no answer"));
}

TEST_CASE("SNMP devices: a reload that drops a profile: one DBIRTH without it, same aliases") {
  REQUIRE(std::filesystem::exists("/usr/sbin/snmpd"));
  BrokerRig broker_rig;
  auto& [broker, sub, dir] = broker_rig;
  Snmpd snmpd;
  snmpd.start();
  write_secret(dir.path + "/community", kCommunity);
  AgentOptions o;
  o.url = broker.url();
  const std::string device = "[[devices.snmp]]\nname = \"switch-6a\"\naddress = \"" +
                             snmpd.address() + "\"\nversion = \"2c\"\ncommunity_file = \"" +
                             dir.path +
                             "/community\"\ninterval = \"1s\"\ntimeout = \"400ms\"\nretries = 1\n";
  o.extra = device + "profiles = [\"system\", \"ups\"]\n";
  Agent agent(dir.path + "/agent", o);
  agent.start();
  LogOnFailure show_log(agent);
  const std::string dbirth = "spBv1.0/school-test/DBIRTH/room-1/switch-6a";
  const std::string ddata = "spBv1.0/school-test/DDATA/room-1/switch-6a";
  // Born, and publishing (sysUpTime moves on every poll).
  REQUIRE(wait_until([&] { return on_topic(sub, ddata).size() >= 2; }, 30s));
  const Payload first = on_topic(sub, dbirth)[0].decoded;
  REQUIRE(metric(first, "UPS/Load"));
  REQUIRE(metric(first, "System/Uptime"));
  REQUIRE(sub.of_type("NBIRTH").size() == 1);
  const uint64_t session = bdseq(sub.of_type("NBIRTH")[0].decoded);

  // The admin removes the UPS profile and reloads.
  write_file(agent.config_path(),
             read_file(agent.config_path())
                 .replace(read_file(agent.config_path()).find("profiles = [\"system\", \"ups\"]"),
                          std::string("profiles = [\"system\", \"ups\"]").size(),
                          "profiles = [\"system\"]"));
  agent.signal(SIGHUP);
  REQUIRE(wait_until([&] { return on_topic(sub, dbirth).size() >= 2; }, 20s));
  // Two more polls' data after the new birth.
  const auto data_after_birth = [&] {
    size_t births = 0, n = 0;
    for (const Message& m : sub.messages()) {
      if (m.topic == dbirth) ++births;
      if (m.topic == ddata && births >= 2) ++n;
    }
    return n;
  };
  REQUIRE(wait_until([&] { return data_after_birth() >= 2; }, 20s));

  const Payload second = on_topic(sub, dbirth)[1].decoded;
  CHECK(on_topic(sub, dbirth).size() == 2);  // one DBIRTH for the reload
  // The UPS metrics are gone, everything else is there under its old alias.
  size_t kept = 0;
  for (const auto& m : first.metrics()) {
    INFO(m.name());
    const bool ups = m.name().rfind("UPS/", 0) == 0;
    if (ups) {
      CHECK_FALSE(metric(second, m.name()));
    } else {
      REQUIRE(metric(second, m.name()));
      CHECK(metric(second, m.name())->alias() == m.alias());
      ++kept;
    }
  }
  CHECK(kept == 4);  // System/Uptime, Name, Description, Device Control/Rebirth
  CHECK(second.metrics_size() == static_cast<int>(kept));
  std::set<uint64_t> born;
  for (const auto& m : second.metrics()) born.insert(m.alias());
  // The DDATA after it names kept metrics only.
  size_t births = 0, checked = 0;
  for (const Message& m : sub.messages()) {
    if (m.topic == dbirth) ++births;
    if (m.topic != ddata || births < 2) continue;
    for (const auto& metric : m.decoded.metrics()) {
      INFO("DDATA seq " << m.decoded.seq() << " alias " << metric.alias());
      CHECK(born.count(metric.alias()) == 1);
      ++checked;
    }
  }
  CHECK(checked >= 2);
  // Nothing else changed: the same session, no new NBIRTH, the device never died.
  CHECK(sub.of_type("NBIRTH").size() == 1);
  CHECK(bdseq(sub.of_type("NBIRTH")[0].decoded) == session);
  CHECK(sub.of_type("NDEATH").empty());
  CHECK(on_topic(sub, "spBv1.0/school-test/DDEATH/room-1/switch-6a").empty());
  CHECK_THAT(agent.log(), Catch::Contains("device switch-6a at " + snmpd.address() +
                                          ": 5 metrics no longer published"));
  CHECK_THAT(agent.log(), Catch::Contains("reloaded: 1 source, 1 device"));
}

TEST_CASE("SNMP devices: a 32-bit counter reset is no wrap, HC counters that come and go") {
  BrokerRig broker_rig;
  auto& [broker, sub, dir] = broker_rig;
  // A 1 Gbit/s port without HC counters whose ifInOctets goes back to 100 at
  // the third poll (a reset, sysUpTime goes on): as a wrap, 18 Gbit/s.
  Responder reset(
      R"({"interfaces": 1, "hc": false, "speed_mbps": 1000,
          "octets": [1999900000, 2000000000, 100, 100100, 200100]})");
  // ifHCInOctets answers on every other poll; the 32-bit counter always.
  Responder flaky(
      R"({"interfaces": 1, "hc": [true, false, true, false, true, false],
          "octets": [5000000000, 5000001000, 5000002000, 5000003000, 5000004000, 5000005000]})");
  AgentOptions o;
  o.url = broker.url();
  o.extra = responder_device("reset", reset, dir) + responder_device("flaky", flaky, dir);
  Agent agent(dir.path + "/agent", o);
  agent.start();
  LogOnFailure show_log(agent);
  REQUIRE(wait_until([&] { return reset.polls() >= 6 && flaky.polls() >= 6; }, 40s));
  REQUIRE(wait_until([&] { return series(sub, "flaky", "Interfaces/port1/Rx Bytes").size() >= 3; },
                     10s));

  const auto bytes = series(sub, "reset", "Interfaces/port1/Rx Bytes");
  std::vector<uint64_t> totals;
  std::string shown;
  for (const auto& m : bytes) {
    totals.push_back(m.long_value());
    shown += std::to_string(m.long_value()) + " ";
  }
  INFO("Rx Bytes published: " << shown);
  // The total restarts with the device's counter, as after a reboot.
  CHECK(std::find(totals.begin(), totals.end(), 100ull) != totals.end());
  const auto rates = series(sub, "reset", "Interfaces/port1/Rx Rate");
  REQUIRE_FALSE(rates.empty());
  for (const auto& r : rates) CHECK(r.double_value() < 1e9);  // never above the link's speed

  // Rx Bytes of the flaky device stays one series: the 64-bit one it started with.
  const auto hc = series(sub, "flaky", "Interfaces/port1/Rx Bytes");
  for (const auto& m : hc) CHECK(m.long_value() >= 5'000'000'000ull);
  // And gives a rate, over the two intervals since its last reading.
  const auto hc_rates = series(sub, "flaky", "Interfaces/port1/Rx Rate");
  REQUIRE_FALSE(hc_rates.empty());
  for (const auto& r : hc_rates) CHECK(r.double_value() > 0);
  CHECK_THAT(agent.log(), Catch::Contains("device flaky at " + flaky.address() +
                                          ": 2 octet counter(s) not answered in the width"));
}

TEST_CASE("SNMP devices: a walk resends a lost request, a device that answers partly stays") {
  BrokerRig broker_rig;
  auto& [broker, sub, dir] = broker_rig;
  // 200 interfaces (128 rows walked): 14 requests a poll. `lossy` loses the third datagram of
  // every poll; `stalls` answers its first two polls, then only the first two
  // requests of each poll.
  Responder lossy(R"({"interfaces": 200, "drop": [3]})");
  Responder stalls(R"({"interfaces": 200, "drop_from": [0, 0, 3]})");
  AgentOptions o;
  o.url = broker.url();
  o.extra = responder_device("lossy", lossy, dir) + responder_device("stalls", stalls, dir);
  Agent agent(dir.path + "/agent", o);
  agent.start();
  LogOnFailure show_log(agent);
  REQUIRE(wait_until([&] { return lossy.polls() >= 6 && stalls.polls() >= 6; }, 40s));
  REQUIRE(wait_until(
      [&] {
        return agent.log().find("device stalls at " + stalls.address() + ": answers partly") !=
               std::string::npos;
      },
      10s));
  // Both were born and neither died: one lost datagram is not a dead device.
  CHECK(on_topic(sub, "spBv1.0/school-test/DBIRTH/room-1/lossy").size() == 1);
  CHECK(on_topic(sub, "spBv1.0/school-test/DBIRTH/room-1/stalls").size() == 1);
  CHECK(sub.of_type("DDEATH").empty());
  // The lossy device's data flows on every poll (Rx Bytes grows on each).
  CHECK(series(sub, "lossy", "Interfaces/port64/Rx Bytes").size() >= 4);
  // Told apart from a device that does not answer: after retries = 1, the
  // third request went out twice and was lost twice.
  const std::string log = agent.log();
  CHECK_THAT(log, Catch::Contains("device stalls at " + stalls.address() +
                                  ": answers partly: 2 of 4 requests lost; this poll's values "
                                  "are dropped"));
  CHECK(log.find("no answer") == std::string::npos);
  // Said once, not on every poll.
  CHECK(log.find("answers partly", log.find("answers partly") + 1) == std::string::npos);
}

TEST_CASE("SNMP devices: max_interfaces bounds the birth, a renumbering device is born once") {
  BrokerRig broker_rig;
  auto& [broker, sub, dir] = broker_rig;
  Responder big(R"({"interfaces": 2000})");
  // Every poll moves all 50 interfaces to new ifIndexes, under the same names.
  Responder renumber(R"({"interfaces": 50, "renumber": 1000})");
  AgentOptions o;
  o.url = broker.url();
  o.extra = responder_device("big", big, dir) + responder_device("renumber", renumber, dir);
  Agent agent(dir.path + "/agent", o);
  agent.start();
  LogOnFailure show_log(agent);
  REQUIRE(wait_until([&] { return big.polls() >= 4 && renumber.polls() >= 6; }, 40s));
  REQUIRE(wait_until(
      [&] { return series(sub, "renumber", "Interfaces/port50/Rx Bytes").size() >= 4; }, 10s));

  const auto big_births = on_topic(sub, "spBv1.0/school-test/DBIRTH/room-1/big");
  REQUIRE(big_births.size() == 1);
  CHECK(big_births[0].decoded.metrics_size() == 64 * 10 + 1);  // + Device Control/Rebirth
  CHECK(metric(big_births[0].decoded, "Interfaces/port64/Rx Bytes"));
  CHECK_FALSE(metric(big_births[0].decoded, "Interfaces/port65/Rx Bytes"));
  const std::string over =
      "1936 interfaces not published (max_interfaces = 64): port65, port66, port67, ...";
  const std::string log = agent.log();
  CHECK_THAT(log, Catch::Contains("device big at " + big.address() + ": " + over));
  CHECK(log.find(over, log.find(over) + 1) == std::string::npos);  // once
  auto [rc, status] = run_shell(std::string(AGENT_BINARY) + " status -c " + agent.config_path());
  INFO(status);
  CHECK_THAT(status, Catch::Contains("big at " + big.address() + ": online (last poll: " + over));

  // The renumbering device: one DBIRTH, 50 interfaces, data under the same aliases.
  const auto births = on_topic(sub, "spBv1.0/school-test/DBIRTH/room-1/renumber");
  CHECK(births.size() == 1);
  CHECK(births[0].decoded.metrics_size() == 50 * 10 + 1);
  CHECK(sub.of_type("NBIRTH").size() == 1);
}

TEST_CASE("SNMP devices: the broker's limit from its CONNACK and what it keeps out in status") {
  // Mosquitto states its max_packet_size in the MQTT 5 CONNACK: the agent
  // knows the limit before it sends anything, so the broker never has to
  // close the connection. A device whose DBIRTH is over it stays unborn, and
  // its batches, not sent, are a problem that status tells in plain words.
  Mosquitto broker("max_packet_size 100000\n");
  Subscriber sub(broker.url());
  TempDir dir;
  Responder big(R"({"interfaces": 200})");  // a DBIRTH of some 130 KB
  Responder small(R"({"interfaces": 2})");
  AgentOptions o;
  o.url = broker.url();
  o.extra = responder_device("big", big, dir, "max_interfaces = 256\n") +
            responder_device("small", small, dir);
  Agent agent(dir.path + "/agent", o);
  agent.start();
  LogOnFailure show_log(agent);
  REQUIRE(wait_until(
      [&] {
        return agent.log().find("I uplink: broker " + broker.url() +
                                " takes packets of up to 100000 bytes") != std::string::npos;
      },
      20s));
  REQUIRE(wait_until(
      [&] {
        return agent.log().find("not publishing the birth of device big: ") != std::string::npos;
      },
      20s));
  const std::string small_data = "spBv1.0/school-test/DDATA/room-1/small";
  REQUIRE(
      wait_until([&] { return big.polls() >= 4 && on_topic(sub, small_data).size() >= 3; }, 30s));
  CHECK_THAT(agent.log(), Catch::Contains("over the 100000 bytes the broker takes (its Maximum "
                                          "Packet Size); device big stays unborn"));

  // status: the limit and where it comes from; the batches not sent, why,
  // the limit and what to do, as a problem (exit 1).
  auto [rc, out] = run_shell(std::string(AGENT_BINARY) + " status -c " + agent.config_path());
  INFO(out);
  CHECK(rc == 1);
  CHECK_THAT(out, Catch::Contains("\n          takes packets of up to 100000 bytes (its Maximum "
                                  "Packet Size)\n"));
  const std::regex problem(
      "Status    DEGRADED: .*[0-9]+ batch(es)? not sent: of a device whose birth is over the "
      "broker's limit of 100000 bytes \\(its Maximum Packet Size\\); publish fewer of its "
      "interfaces \\(include/exclude\\) or profiles, or raise the broker's limit\n");
  CHECK(std::regex_search(out, problem));
  CHECK(std::regex_search(out, std::regex("Delivery  .*; [0-9]+ BATCH(ES)? NOT SENT: of a device "
                                          "whose birth is over the broker's limit of 100000 "
                                          "bytes \\(its Maximum Packet Size\\);")));
  auto [jrc, json] =
      run_shell(std::string(AGENT_BINARY) + " status --json -c " + agent.config_path());
  INFO(json);
  CHECK(jrc == 1);
  CHECK_THAT(json, Catch::Contains("\"packet_limit\":100000,"));
  CHECK_THAT(json, Catch::Contains("\"packet_limit_source\":\"its Maximum Packet Size\","));
  CHECK(std::regex_search(json, std::regex("\"refused_batches\":[1-9][0-9]*,\"refused_data\":0,")));

  // Nothing too large was ever sent: one connection, never closed by the
  // broker, one session (one bdSeq), no DBIRTH or DDATA of the big device.
  const std::string log = agent.log();
  CHECK(log.find("lost broker") == std::string::npos);
  CHECK(log.find("refused a packet") == std::string::npos);
  const std::string broker_log = broker.log();
  INFO(broker_log);
  size_t agent_connections = 0;
  for (size_t p = broker_log.find(" as school-test-room-1 "); p != std::string::npos;
       p = broker_log.find(" as school-test-room-1 ", p + 1))
    ++agent_connections;
  CHECK(agent_connections == 1);
  CHECK(broker_log.find("Client school-test-room-1 disconnected") == std::string::npos);
  CHECK(broker_log.find("school-test-room-1 closed its connection") == std::string::npos);
  const auto births = sub.of_type("NBIRTH");
  REQUIRE_FALSE(births.empty());
  for (const auto& b : births) CHECK(bdseq(b.decoded) == bdseq(births[0].decoded));
  CHECK(on_topic(sub, "spBv1.0/school-test/DBIRTH/room-1/big").empty());
  CHECK(on_topic(sub, "spBv1.0/school-test/DDATA/room-1/big").empty());
}

TEST_CASE("SNMP devices: interfaces that vanish retire after 3 polls, same aliases on return") {
  BrokerRig broker_rig;
  auto& [broker, sub, dir] = broker_rig;
  // 20 interfaces, 10 of them gone from the third poll to the ninth.
  Responder shrink(R"({"interfaces": [20, 20, 10, 10, 10, 10, 10, 10, 10, 20]})");
  AgentOptions o;
  o.url = broker.url();
  o.extra = responder_device("shrink", shrink, dir);
  Agent agent(dir.path + "/agent", o);
  agent.start();
  LogOnFailure show_log(agent);
  const std::string topic = "spBv1.0/school-test/DBIRTH/room-1/shrink";
  REQUIRE(wait_until([&] { return on_topic(sub, topic).size() >= 3; }, 40s));
  const auto births = on_topic(sub, topic);
  const Payload& first = births[0].decoded;
  const Payload& smaller = births[1].decoded;
  const Payload& back = births[2].decoded;
  CHECK(first.metrics_size() == 200 + 1);  // + Device Control/Rebirth
  CHECK(smaller.metrics_size() == 100 + 1);
  CHECK_FALSE(metric(smaller, "Interfaces/port11/Rx Bytes"));
  CHECK(back.metrics_size() == 200 + 1);
  for (const auto& m : first.metrics()) {
    INFO(m.name());
    REQUIRE(metric(back, m.name()));
    CHECK(metric(back, m.name())->alias() == m.alias());
    if (metric(smaller, m.name())) CHECK(metric(smaller, m.name())->alias() == m.alias());
  }
  CHECK_THAT(agent.log(), Catch::Contains("device shrink at " + shrink.address() +
                                          ": 100 metrics retired: interfaces gone for 3 polls"));
  CHECK(on_topic(sub, "spBv1.0/school-test/DDEATH/room-1/shrink").empty());
}

TEST_CASE("SNMP devices: a v3 password fixed in its file is used at the reload, no restart") {
  BrokerRig broker_rig;
  auto& [broker, sub, dir] = broker_rig;
  Snmpd snmpd;
  snmpd.start();
  write_secret(dir.path + "/auth", "not-the-password");
  write_secret(dir.path + "/priv", kPriv);
  AgentOptions o;
  o.url = broker.url();
  o.extra =
      "[[devices.snmp]]\nname = \"ap-6a\"\naddress = \"" + snmpd.address() +
      "\"\nversion = \"3\"\nuser = \"monitor\"\nauth_password_file = \"" + dir.path +
      "/auth\"\npriv_protocol = \"AES\"\npriv_password_file = \"" + dir.path +
      "/priv\"\ninterval = \"1s\"\ntimeout = \"400ms\"\nretries = 0\nprofiles = [\"system\"]\n";
  Agent agent(dir.path + "/agent", o);
  agent.start();
  LogOnFailure show_log(agent);
  const std::string failed =
      "device ap-6a at " + snmpd.address() + ": authentication failed: wrong auth password";
  REQUIRE(wait_until([&] { return agent.log().find(failed) != std::string::npos; }, 20s));

  // The technician puts the right password in the file and reloads.
  write_secret(dir.path + "/auth", kAuth);
  const int64_t reloaded = now_ms();
  agent.signal(SIGHUP);
  const std::string dbirth = "spBv1.0/school-test/DBIRTH/room-1/ap-6a";
  REQUIRE(wait_until([&] { return !on_topic(sub, dbirth).empty(); }, 15s));
  // The next poll after the reload: within its interval and timeout, and slack.
  CHECK(on_topic(sub, dbirth)[0].received_ms - reloaded < 3000);
  CHECK(metric(on_topic(sub, dbirth)[0].decoded, "System/Name")->string_value() ==
        "switch-6a.school");
  CHECK_THAT(agent.log(), Catch::Contains("device ap-6a at " + snmpd.address() + " answers"));
  CHECK(agent.running());
}

TEST_CASE("SNMP devices: two devices with one v3 user on one engine each use their own password") {
  BrokerRig broker_rig;
  auto& [broker, sub, dir] = broker_rig;
  Snmpd snmpd;
  snmpd.start();
  write_secret(dir.path + "/auth", kAuth);
  write_secret(dir.path + "/wrong", "not-the-password");
  write_secret(dir.path + "/priv", kPriv);
  AgentOptions o;
  o.url = broker.url();
  // The same snmpd (one engine), the same user; one of them by its host name.
  auto device = [&](const std::string& name, const std::string& address, const std::string& auth) {
    return "[[devices.snmp]]\nname = \"" + name + "\"\naddress = \"" + address +
           "\"\nversion = \"3\"\nuser = \"monitor\"\nauth_password_file = \"" + dir.path + "/" +
           auth + "\"\npriv_protocol = \"AES\"\npriv_password_file = \"" + dir.path +
           "/priv\"\ninterval = \"1s\"\ntimeout = \"400ms\"\nretries = 0\n"
           "profiles = [\"system\"]\n";
  };
  o.extra = device("ap-right", "localhost:" + std::to_string(snmpd.port()), "auth") +
            device("ap-wrong", snmpd.address(), "wrong");
  Agent agent(dir.path + "/agent", o);
  agent.start();
  LogOnFailure show_log(agent);
  const std::string right_birth = "spBv1.0/school-test/DBIRTH/room-1/ap-right";
  const std::string right_data = "spBv1.0/school-test/DDATA/room-1/ap-right";
  REQUIRE(wait_until([&] { return !on_topic(sub, right_birth).empty(); }, 20s));
  // Several rounds in which both are polled, in either order.
  REQUIRE(wait_until([&] { return on_topic(sub, right_data).size() >= 4; }, 20s));
  CHECK_THAT(agent.log(), Catch::Contains("device ap-wrong at " + snmpd.address() +
                                          ": authentication failed: wrong auth password"));
  CHECK(on_topic(sub, "spBv1.0/school-test/DBIRTH/room-1/ap-wrong").empty());
  CHECK(on_topic(sub, "spBv1.0/school-test/DDATA/room-1/ap-wrong").empty());
  CHECK(on_topic(sub, "spBv1.0/school-test/DDEATH/room-1/ap-right").empty());
}

TEST_CASE("SNMP devices: a DBIRTH over the broker's packet limit is not sent, the rest goes on") {
  INFO("needs root (CI runs as root): the test creates a network namespace and a veth pair");
  // Mosquitto takes packets of 100000 bytes at most, and says so in its MQTT 5
  // CONNACK: the agent knows the limit before it sends anything.
  Mosquitto broker("max_packet_size 100000\n");
  Subscriber sub(broker.url());
  TempDir dir;
  BigSwitch big_switch(200);  // a DBIRTH of about 130 KB
  Snmpd snmpd(big_switch.ns.name(), big_switch.switch_ip);
  snmpd.start();
  write_secret(dir.path + "/community", kCommunity);
  auto device = [&](const std::string& name, const std::string& profiles) {
    return "[[devices.snmp]]\nname = \"" + name + "\"\naddress = \"" + snmpd.address() +
           "\"\nversion = \"2c\"\ncommunity_file = \"" + dir.path +
           "/community\"\ninterval = \"2s\"\ntimeout = \"1s\"\nmax_interfaces = 256\n"
           "profiles = [" +
           profiles + "]\n";
  };
  AgentOptions o;
  o.url = broker.url();
  o.extra =
      device("switch-big", "\"system\", \"interfaces\"") + device("switch-small", "\"system\"");
  Agent agent(dir.path + "/agent", o);
  agent.start();
  LogOnFailure show_log(agent);

  // The big one is not born, and says so once, with its size, the limit and what to do.
  const std::regex refused(
      "E uplink: not publishing the birth of device switch-big: ([0-9]+) bytes, over the "
      "([0-9]+) bytes the broker takes \\(([^)]+)\\); device switch-big stays unborn and its "
      "data is not published until it publishes fewer metrics \\(its include/exclude, fewer "
      "profiles\\)");
  std::smatch m;
  std::string log;
  REQUIRE(wait_until(
      [&] {
        log = agent.log();
        return std::regex_search(log, m, refused);
      },
      30s));
  const std::string size = m[1], limit = m[2], source = m[3];
  CHECK(std::stoul(size) > 100000);
  CHECK(std::stoul(limit) < std::stoul(size));
  CHECK(source == "its Maximum Packet Size");  // from the CONNACK: nothing too large was sent
  CHECK(log.find("lost broker") == std::string::npos);
  // The node and the small device are born and publish, in one session from now on.
  const std::string small_data = "spBv1.0/school-test/DDATA/room-1/switch-small";
  const size_t small = on_topic(sub, small_data).size(), ndata = sub.of_type("NDATA").size();
  // One session: the node may be born again in it (tests beside this one add
  // interfaces to the machine, which the network source publishes), but
  // with the same bdSeq: no new CONNECT.
  // The session that refused the DBIRTH (the last one the log had connected
  // by then): wait for its NBIRTH, which the subscriber may not have yet.
  static const std::regex connected(R"(connected to \S+ as \S+ \(bdSeq (\d+)\))");
  uint64_t session = UINT64_MAX;
  for (std::sregex_iterator it(log.begin(), log.end(), connected), end; it != end; ++it)
    session = std::stoull((*it)[1]);
  REQUIRE(session != UINT64_MAX);
  REQUIRE(wait_until(
      [&] {
        const auto births = sub.of_type("NBIRTH");
        return !births.empty() && bdseq(births.back().decoded) == session;
      },
      10s));
  const size_t births = sub.of_type("NBIRTH").size();
  const size_t big_births = on_topic(sub, "spBv1.0/school-test/DBIRTH/room-1/switch-big").size();
  REQUIRE(wait_until([&] { return on_topic(sub, small_data).size() >= small + 2; }, 20s));
  REQUIRE(sub.wait_for("NDATA", ndata + 2, 10s));
  const auto all_births = sub.of_type("NBIRTH");
  for (size_t i = births; i < all_births.size(); ++i)
    CHECK(bdseq(all_births[i].decoded) == session);
  CHECK(on_topic(sub, "spBv1.0/school-test/DBIRTH/room-1/switch-big").size() == big_births);
  CHECK(agent.log().find(" not publishing the birth of device switch-big") ==
        agent.log().rfind(" not publishing the birth of device switch-big"));

  // status names it: exit 1, the device's size, the limit and what to do.
  auto [rc, out] = run_shell(std::string(AGENT_BINARY) + " status -c " + agent.config_path());
  INFO(out);
  CHECK(rc == 1);
  CHECK_THAT(out, Catch::Contains("device switch-big not published: its DBIRTH is too big"));
  CHECK_THAT(out,
             Catch::Contains("switch-big at " + snmpd.address() +
                             ": online; device NOT PUBLISHED: its birth is " + size +
                             " bytes, over the " + limit + " bytes the broker takes (" + source +
                             "): publish fewer interfaces (its include/exclude) or fewer "
                             "profiles\n"));
}

// ---- SNMP profiles written as tables ----
namespace {

// The built-in profiles' OIDs with known values, as the vendors' MIBs lay
// them out (drivers/snmp/profiles.toml): a scripted agent's "objects".
// apc-ups serves its battery temperature as text (a wrong type) and no input
// voltage (an OID the device does not serve).
const char* kBuiltinObjects = R"(
 "1.3.6.1.4.1.318.1.1.1.4.1.1.0": ["INTEGER", 3],
 "1.3.6.1.4.1.318.1.1.1.2.2.1.0": ["Gauge32", 87],
 "1.3.6.1.4.1.318.1.1.1.2.2.2.0": ["STRING", "hot"],
 "1.3.6.1.4.1.318.1.1.1.2.2.3.0": ["TimeTicks", 252000],
 "1.3.6.1.4.1.318.1.1.1.2.2.4.0": ["INTEGER", 2],
 "1.3.6.1.4.1.318.1.1.1.4.2.3.0": ["Gauge32", 31],
 "1.3.6.1.4.1.41112.1.6.1.2.1.4.1": ["INTEGER", 6],
 "1.3.6.1.4.1.41112.1.6.1.2.1.4.2": ["INTEGER", 36],
 "1.3.6.1.4.1.41112.1.6.1.2.1.6.1": ["STRING", "School"],
 "1.3.6.1.4.1.41112.1.6.1.2.1.6.2": ["STRING", "School"],
 "1.3.6.1.4.1.41112.1.6.1.2.1.7.1": ["STRING", "ath0"],
 "1.3.6.1.4.1.41112.1.6.1.2.1.7.2": ["STRING", "ath1"],
 "1.3.6.1.4.1.41112.1.6.1.2.1.8.1": ["INTEGER", 12],
 "1.3.6.1.4.1.41112.1.6.1.2.1.8.2": ["INTEGER", 7],
 "1.3.6.1.4.1.41112.1.6.1.2.1.9.1": ["STRING", "ng"],
 "1.3.6.1.4.1.41112.1.6.1.2.1.9.2": ["STRING", "na"],
 "1.3.6.1.4.1.41112.1.6.1.2.1.21.1": ["INTEGER", 20],
 "1.3.6.1.4.1.41112.1.6.1.2.1.21.2": ["INTEGER", 23],
 "1.3.6.1.4.1.41112.1.6.1.2.1.22.1": ["INTEGER", 1],
 "1.3.6.1.4.1.41112.1.6.1.2.1.22.2": ["INTEGER", 2],
 "1.3.6.1.2.1.105.1.3.1.1.2.1": ["Gauge32", 370],
 "1.3.6.1.2.1.105.1.3.1.1.3.1": ["INTEGER", 1],
 "1.3.6.1.2.1.105.1.3.1.1.4.1": ["Gauge32", 16],
 "1.3.6.1.2.1.105.1.1.1.3.1.1": ["INTEGER", 1],
 "1.3.6.1.2.1.105.1.1.1.3.1.2": ["INTEGER", 1],
 "1.3.6.1.2.1.105.1.1.1.3.1.3": ["INTEGER", 2],
 "1.3.6.1.2.1.105.1.1.1.6.1.1": ["INTEGER", 3],
 "1.3.6.1.2.1.105.1.1.1.6.1.2": ["INTEGER", 2],
 "1.3.6.1.2.1.105.1.1.1.6.1.3": ["INTEGER", 4],
 "1.0.8802.1.1.2.1.4.1.1.8.3400.5.1": ["STRING", "eth0"],
 "1.0.8802.1.1.2.1.4.1.1.8.3500.7.1": ["STRING", "Gi1/0/48"],
 "1.0.8802.1.1.2.1.4.1.1.9.3400.5.1": ["STRING", "ap-6a-101"],
 "1.0.8802.1.1.2.1.4.1.1.9.3500.7.1": ["STRING", "sw-core"],
 "1.3.6.1.2.1.17.4.3.1.2.0.17.34.51.68.1": ["INTEGER", 3],
 "1.3.6.1.2.1.17.4.3.1.2.0.17.34.51.68.2": ["INTEGER", 3],
 "1.3.6.1.2.1.17.4.3.1.2.0.17.34.51.68.3": ["INTEGER", 3],
 "1.3.6.1.2.1.17.4.3.1.2.0.17.34.51.68.4": ["INTEGER", 7],
 "1.3.6.1.2.1.17.4.3.1.2.0.17.34.51.68.5": ["INTEGER", 7],
 "1.3.6.1.2.1.47.1.1.1.1.7.1001": ["STRING", "CPU Temp"],
 "1.3.6.1.2.1.47.1.1.1.1.7.1002": ["STRING", "Fan 1"],
 "1.3.6.1.2.1.99.1.1.1.1.1001": ["INTEGER", 8],
 "1.3.6.1.2.1.99.1.1.1.1.1002": ["INTEGER", 10],
 "1.3.6.1.2.1.99.1.1.1.2.1001": ["INTEGER", 9],
 "1.3.6.1.2.1.99.1.1.1.2.1002": ["INTEGER", 9],
 "1.3.6.1.2.1.99.1.1.1.3.1001": ["INTEGER", 1],
 "1.3.6.1.2.1.99.1.1.1.3.1002": ["INTEGER", 0],
 "1.3.6.1.2.1.99.1.1.1.4.1001": ["INTEGER", 415],
 "1.3.6.1.2.1.99.1.1.1.4.1002": ["INTEGER", 4200],
 "1.3.6.1.2.1.99.1.1.1.5.1001": ["INTEGER", 1],
 "1.3.6.1.2.1.99.1.1.1.5.1002": ["INTEGER", 1],
 "1.3.6.1.4.1.14988.1.1.1.3.1.4.1": ["STRING", "School"],
 "1.3.6.1.4.1.14988.1.1.1.3.1.4.2": ["STRING", "School"],
 "1.3.6.1.4.1.14988.1.1.1.3.1.6.1": ["Counter32", 5],
 "1.3.6.1.4.1.14988.1.1.1.3.1.6.2": ["Counter32", 9],
 "1.3.6.1.4.1.14988.1.1.1.3.1.7.1": ["INTEGER", 2412],
 "1.3.6.1.4.1.14988.1.1.1.3.1.7.2": ["INTEGER", 5180],
 "1.3.6.1.4.1.14988.1.1.1.3.1.8.1": ["STRING", "2ghz-b/g/n"],
 "1.3.6.1.4.1.14988.1.1.1.3.1.8.2": ["STRING", "5ghz-a/n/ac"],
 "1.3.6.1.4.1.14988.1.1.3.8.0": ["INTEGER", 240],
 "1.3.6.1.4.1.14988.1.1.3.10.0": ["INTEGER", 385],
 "1.3.6.1.4.1.14988.1.1.3.11.0": ["INTEGER", 412],
 "1.3.6.1.4.1.14988.1.1.3.100.1.2.1": ["STRING", "board-temperature1"],
 "1.3.6.1.4.1.14988.1.1.3.100.1.2.2": ["STRING", "psu1-voltage"],
 "1.3.6.1.4.1.14988.1.1.3.100.1.3.1": ["INTEGER", 37],
 "1.3.6.1.4.1.14988.1.1.3.100.1.3.2": ["INTEGER", 243],
 "1.3.6.1.4.1.14988.1.1.3.100.1.4.1": ["INTEGER", 1],
 "1.3.6.1.4.1.14988.1.1.3.100.1.4.2": ["INTEGER", 3],
 "1.3.6.1.2.1.17.7.1.2.2.1.2.1.0.17.34.51.68.1": ["INTEGER", 3],
 "1.3.6.1.2.1.17.7.1.2.2.1.2.10.0.17.34.51.68.2": ["INTEGER", 3],
 "1.3.6.1.2.1.17.7.1.2.2.1.2.10.0.17.34.51.68.3": ["INTEGER", 5]
)";

// A [[devices.snmp]] table for a responder with these `profiles`.
std::string profile_device(const std::string& name, const Responder& r, const TempDir& dir,
                           const std::string& profiles, const std::string& keys = "") {
  write_secret(dir.path + "/public", "public");
  return "[[devices.snmp]]\nname = \"" + name + "\"\naddress = \"" + r.address() +
         "\"\ncommunity_file = \"" + dir.path +
         "/public\"\ninterval = \"1s\"\ntimeout = \"300ms\"\nretries = 1\nprofiles = " + profiles +
         "\n" + keys;
}

}  // namespace

TEST_CASE("SNMP profiles: every built-in profile from a scripted agent and the reference codec") {
  const std::string interop = SOURCE_DIR "/tests/interop";
  BrokerRig broker_rig;
  auto& [broker, sub, dir] = broker_rig;
  // Two interfaces: ifName port1 and port2 label MikroTik's access points.
  Responder agent_of_both(std::string(R"({"interfaces": 2, "objects": {)") + kBuiltinObjects +
                          "}}");
  Process decoder({"node", interop + "/device_decoder.js", broker.url(), "ap-6a,mt-6a", "1", "0"},
                  dir.path + "/decoder.log");
  REQUIRE(wait_until(
      [&] { return read_file(dir.path + "/decoder.log").find("subscribed") != std::string::npos; },
      20s));
  AgentOptions o;
  o.url = broker.url();
  o.extra = profile_device("ap-6a", agent_of_both, dir,
                           R"(["system", "unifi-ap", "apc-ups", "poe", "lldp", "bridge", )"
                           R"("entity-sensor"])") +
            profile_device("mt-6a", agent_of_both, dir, R"(["system", "mikrotik", "q-bridge"])");
  Agent agent(dir.path + "/agent", o);
  agent.start();
  LogOnFailure show_log(agent);
  const std::string ap_birth = "spBv1.0/school-test/DBIRTH/room-1/ap-6a";
  const std::string mt_birth = "spBv1.0/school-test/DBIRTH/room-1/mt-6a";
  REQUIRE(wait_until(
      [&] { return !on_topic(sub, ap_birth).empty() && !on_topic(sub, mt_birth).empty(); }, 30s));
  const Payload ap = on_topic(sub, ap_birth)[0].decoded;
  const Payload mt = on_topic(sub, mt_birth)[0].decoded;
  auto has = [](const Payload& p, const std::string& name) {
    INFO(name);
    REQUIRE(metric(p, name));
    return metric(p, name);
  };
  // apc-ups: under the ups profile's names and types.
  CHECK(has(ap, "UPS/On Battery")->boolean_value());
  CHECK(has(ap, "UPS/Output Status")->long_value() == 3);
  CHECK(has(ap, "UPS/Battery Charge")->float_value() == 87.0f);
  CHECK(has(ap, "UPS/Battery Charge")->datatype() == 9);  // Float, as the ups profile's
  CHECK(has(ap, "UPS/Battery Charge")->properties().values(0).string_value() == "%");
  CHECK(has(ap, "UPS/Runtime Remaining")->long_value() == 2520);  // 252000 ticks
  CHECK(has(ap, "UPS/Replace Battery")->boolean_value());
  CHECK(has(ap, "UPS/Load")->float_value() == 31.0f);
  CHECK(has(ap, "UPS/Battery Temperature")->is_null());  // served as text: skipped
  CHECK(has(ap, "UPS/Input Voltage")->is_null());        // not served
  // unifi-ap: per VAP, and summed.
  CHECK(has(ap, "WiFi/Clients")->long_value() == 19);
  CHECK(has(ap, "WiFi/VAPs/ath0/Clients")->long_value() == 12);
  CHECK(has(ap, "WiFi/VAPs/ath1/Channel")->long_value() == 36);
  CHECK(has(ap, "WiFi/VAPs/ath1/Radio")->string_value() == "na");
  CHECK(has(ap, "WiFi/VAPs/ath0/SSID")->string_value() == "School");
  CHECK(has(ap, "WiFi/VAPs/ath1/Tx Power")->long_value() == 23);
  CHECK(has(ap, "WiFi/VAPs/ath1/Tx Power")->datatype() == 4);  // Int64
  CHECK(has(ap, "WiFi/VAPs/ath0/Up")->boolean_value());
  CHECK_FALSE(has(ap, "WiFi/VAPs/ath1/Up")->boolean_value());
  // poe: the PSE's budget, and per port whether it delivers power.
  CHECK(has(ap, "PoE/Power")->long_value() == 370);
  CHECK(has(ap, "PoE/Power Used")->long_value() == 16);
  CHECK(has(ap, "PoE/PSE/1/On")->boolean_value());
  CHECK(has(ap, "PoE/Ports/1.1/Delivering")->boolean_value());
  CHECK_FALSE(has(ap, "PoE/Ports/1.2/Delivering")->boolean_value());
  CHECK(has(ap, "PoE/Ports/1.3/Detection Status")->long_value() == 4);  // fault
  CHECK_FALSE(has(ap, "PoE/Ports/1.3/Enabled")->boolean_value());
  // lldp: per local port, the neighbour's name.
  CHECK(has(ap, "LLDP/5/Neighbour")->string_value() == "ap-6a-101");
  CHECK(has(ap, "LLDP/7/Neighbour Port")->string_value() == "Gi1/0/48");
  // bridge: MAC addresses counted per port; no address anywhere.
  CHECK(has(ap, "Bridge/Ports/3/MAC Addresses")->long_value() == 3);
  CHECK(has(ap, "Bridge/Ports/7/MAC Addresses")->long_value() == 2);
  for (const auto& m : ap.metrics()) {
    INFO(m.name());
    CHECK(m.name().find("17.34.51") == std::string::npos);
  }
  // entity-sensor: scaled by the row's own scale and precision.
  CHECK(has(ap, "Sensors/CPU Temp/Value")->double_value() == Approx(41.5));
  CHECK(has(ap, "Sensors/CPU Temp/Type")->long_value() == 8);
  CHECK(has(ap, "Sensors/Fan 1/Value")->double_value() == Approx(4200));
  CHECK(has(ap, "Sensors/Fan 1/OK")->boolean_value());
  // mikrotik: access points named by their interface, health in tenths.
  CHECK(has(mt, "WiFi/APs/port1/Clients")->long_value() == 5);
  CHECK(has(mt, "WiFi/APs/port2/Frequency")->long_value() == 5180);
  CHECK(has(mt, "WiFi/APs/port2/Band")->string_value() == "5ghz-a/n/ac");
  CHECK(has(mt, "WiFi/Clients")->long_value() == 14);
  CHECK(has(mt, "Health/Temperature")->float_value() == Approx(38.5f));
  CHECK(has(mt, "Health/CPU Temperature")->float_value() == Approx(41.2f));
  CHECK(has(mt, "Health/Voltage")->float_value() == Approx(24.0f));
  CHECK(has(mt, "Health/Gauges/board-temperature1/Value")->double_value() == Approx(37));
  CHECK(has(mt, "Health/Gauges/psu1-voltage/Value")->double_value() == Approx(24.3));
  CHECK(has(mt, "Bridge/VLAN Ports/3/MAC Addresses")->long_value() == 2);
  CHECK(has(mt, "Bridge/VLAN Ports/5/MAC Addresses")->long_value() == 1);
  // What was skipped is said once, naming the OID.
  CHECK_THAT(agent.log(), Catch::Contains("device ap-6a at " + agent_of_both.address() +
                                          ": 1 value of another type skipped, such as "
                                          "1.3.6.1.4.1.318.1.1.1.2.2.2.0 is text that is not a "
                                          "number, not Float"));
  // The reference codec decodes every birth and the data after it.
  auto status = decoder.wait_exit(40s);
  INFO(read_file(dir.path + "/decoder.log"));
  REQUIRE(status);
  CHECK(*status == 0);
}

TEST_CASE("SNMP profiles: a profile from the config with counters and a table past max_rows") {
  const std::string interop = SOURCE_DIR "/tests/interop";
  BrokerRig broker_rig;
  auto& [broker, sub, dir] = broker_rig;
  // A 32-bit counter that wraps between the second and third poll; five radios
  // (max_rows 3); radio 2's noise served as text; no firmware scalar.
  Responder device(R"({"interfaces": 0, "objects": {
    "1.3.6.1.4.1.99999.1.4.0": ["Counter32", [4294966000, 4294967000, 704, 1704, 2704, 3704]],
    "1.3.6.1.4.1.99999.1.3.1.2.1": ["STRING", "radio/2g"],
    "1.3.6.1.4.1.99999.1.3.1.2.2": ["STRING", "radio 5g"],
    "1.3.6.1.4.1.99999.1.3.1.2.3": ["STRING", "radio/2g"],
    "1.3.6.1.4.1.99999.1.3.1.2.4": ["STRING", "spare"],
    "1.3.6.1.4.1.99999.1.3.1.2.5": ["STRING", "spare2"],
    "1.3.6.1.4.1.99999.1.3.1.8.1": ["Gauge32", 11],
    "1.3.6.1.4.1.99999.1.3.1.8.2": ["Gauge32", 4],
    "1.3.6.1.4.1.99999.1.3.1.8.3": ["Gauge32", 2],
    "1.3.6.1.4.1.99999.1.3.1.8.4": ["Gauge32", 100],
    "1.3.6.1.4.1.99999.1.3.1.8.5": ["Gauge32", 100],
    "1.3.6.1.4.1.99999.1.3.1.9.1": ["INTEGER", -92],
    "1.3.6.1.4.1.99999.1.3.1.9.2": ["STRING", "n/a"],
    "1.3.6.1.4.1.99999.1.3.1.9.3": ["INTEGER", -95]
  }})");
  const std::string profile = R"([[snmp.profiles]]
name = "ruijie-ap"
[[snmp.profiles.scalars]]
name = "Radio/Rx Octets"
oid = "1.3.6.1.4.1.99999.1.4.0"
type = "UInt64"
unit = "B"
counter = true
[[snmp.profiles.scalars]]
name = "Firmware"
oid = "1.3.6.1.4.1.99999.1.1.0"
type = "String"
[[snmp.profiles.tables]]
name = "Radios"
label_oid = "1.3.6.1.4.1.99999.1.3.1.2"
max_rows = 3
[[snmp.profiles.tables.columns]]
name = "Clients"
oid = "1.3.6.1.4.1.99999.1.3.1.8"
type = "UInt64"
sum = "WiFi/Clients"
[[snmp.profiles.tables.columns]]
name = "Noise"
oid = "1.3.6.1.4.1.99999.1.3.1.9"
type = "Int64"
unit = "dBm"
)";
  Process decoder({"node", interop + "/device_decoder.js", broker.url(), "ruijie-6a", "1", "0"},
                  dir.path + "/decoder.log");
  REQUIRE(wait_until(
      [&] { return read_file(dir.path + "/decoder.log").find("subscribed") != std::string::npos; },
      20s));
  AgentOptions o;
  o.url = broker.url();
  // max_metrics 100: ruijie-ap (up to 2 + 2 + 1 + 3 x 2 = 11) fits, poe (up to 410) does not.
  o.extra = profile + profile_device("ruijie-6a", device, dir, R"(["system", "ruijie-ap", "poe"])",
                                     "max_metrics = 100\n");
  Agent agent(dir.path + "/agent", o);
  agent.start();
  LogOnFailure show_log(agent);
  const std::string birth = "spBv1.0/school-test/DBIRTH/room-1/ruijie-6a";
  REQUIRE(wait_until([&] { return !on_topic(sub, birth).empty(); }, 30s));
  const Payload b = on_topic(sub, birth)[0].decoded;
  REQUIRE(metric(b, "Radios/radio_2g/Clients"));
  CHECK(metric(b, "Radios/radio_2g/Clients")->long_value() == 11);
  CHECK(metric(b, "Radios/radio 5g/Clients")->long_value() == 4);
  REQUIRE(metric(b, "Radios/3/Clients"));  // the second "radio/2g": by its index
  CHECK(metric(b, "Radios/3/Noise")->long_value() == static_cast<uint64_t>(int64_t{-95}));
  CHECK(metric(b, "Radios/radio 5g/Noise")->is_null());              // "n/a": skipped
  CHECK_FALSE(metric(b, "Radios/spare/Clients"));                    // past max_rows
  CHECK(metric(b, "WiFi/Clients")->long_value() == 17);              // of the published rows
  CHECK(metric(b, "Radio/Rx Octets")->long_value() >= 4294966000u);  // the poll before the birth
  CHECK(metric(b, "Radio/Rx Octets Rate")->properties().values(0).string_value() == "B/s");
  CHECK(metric(b, "Firmware")->is_null());
  CHECK_FALSE(metric(b, "PoE/Power"));  // poe was left out
  // The rate beside the total: 1000 octets a poll, across the wrap too. (A
  // birth's values come again in the DDATA after it: one value a poll.)
  auto per_poll = [&](const std::string& name) {
    std::map<uint64_t, Payload::Metric> by_time;
    for (const auto& m : series(sub, "ruijie-6a", name)) by_time[m.timestamp()] = m;
    return by_time;
  };
  REQUIRE(wait_until([&] { return per_poll("Radio/Rx Octets").size() >= 4; }, 20s));
  const auto totals = per_poll("Radio/Rx Octets");
  const auto rates = per_poll("Radio/Rx Octets Rate");
  std::vector<std::pair<uint64_t, uint64_t>> seen(totals.size());  // time, total
  std::transform(totals.begin(), totals.end(), seen.begin(), [](const auto& t) {
    return std::pair{t.first, t.second.long_value()};
  });
  CHECK(seen.back().second > uint64_t{1} << 32);  // past the 32-bit wrap: 296 + 704 on it
  double rate = -1;  // report by exception: a rate that did not change is not sent again
  for (size_t i = 1; i < seen.size(); ++i) {
    INFO("poll " << i);
    CHECK(seen[i].second - seen[i - 1].second == 1000);
    if (rates.count(seen[i].first)) rate = rates.at(seen[i].first).double_value();
    const double dt = static_cast<double>(seen[i].first - seen[i - 1].first) / 1000.0;
    CHECK(rate == Approx(1000.0 / dt));
  }
  // Said once each, however many polls: the left-out profile, the rows past
  // max_rows, the skipped value; status names them.
  const std::string log = agent.log();
  auto count = [&](const std::string& what) {
    size_t n = 0;
    for (size_t p = log.find(what); p != std::string::npos; p = log.find(what, p + 1)) ++n;
    return n;
  };
  CHECK(count("device ruijie-6a at " + device.address() +
              ": profile poe (up to 410 metrics) left out: the device would publish more than "
              "max_metrics = 100 metrics") == 1);
  CHECK(count("table Radios: more than 3 rows; the first 3 by index are published (max_rows)") ==
        1);
  CHECK(count("1 value of another type skipped, such as 1.3.6.1.4.1.99999.1.3.1.9 is text that "
              "is not a number, not Int64") == 1);
  auto [rc, out] = run_shell(std::string(AGENT_BINARY) + " status -c " + agent.config_path());
  INFO(out);
  CHECK_THAT(out, Catch::Contains("table Radios: more than 3 rows"));
  CHECK_THAT(out, Catch::Contains("profile poe (up to 410 metrics) left out"));
  auto status = decoder.wait_exit(40s);
  INFO(read_file(dir.path + "/decoder.log"));
  REQUIRE(status);
  CHECK(*status == 0);

  // `once` shows a technician what the device answers, and what it does not serve.
  write_file(dir.path + "/once.toml",
             "[identity]\ngroup = \"g\"\nnode = \"n\"\n[broker]\nservers = "
             "[\"tcp://127.0.0.1:1\"]\n[state]\ndir = \"state\"\n" +
                 profile + profile_device("ruijie-6a", device, dir, R"(["ruijie-ap"])"));
  Process once({AGENT_BINARY, "once", "-c", dir.path + "/once.toml"}, dir.path + "/once.out");
  const auto done = once.wait_exit(30s);
  const std::string shown = read_file(dir.path + "/once.out");
  INFO(shown);
  REQUIRE(done);
  CHECK(*done == 0);
  CHECK_THAT(shown, Catch::Contains("ruijie-6a: Radios/radio_2g/Clients = 11\n"));
  CHECK_THAT(shown, Catch::Contains("ruijie-6a: Radios/3/Noise = -95 dBm\n"));
  CHECK_THAT(shown, Catch::Contains("ruijie-6a: WiFi/Clients = 17\n"));
  CHECK_THAT(shown, Catch::Contains("# device ruijie-6a: not served: 1.3.6.1.4.1.99999.1.1.0 "
                                    "(Firmware)\n"));
  CHECK_THAT(shown, Catch::Contains("# device ruijie-6a: table Radios: more than 3 rows"));
}

TEST_CASE("SNMP profiles: apc-ups from Debian's snmpd as snmpget reads it") {
  REQUIRE(std::filesystem::exists("/usr/sbin/snmpd"));
  // PowerNet-MIB values at their OIDs (snmpd's override has no TimeTicks:
  // the runtime is a Gauge32 of ticks here, scaled all the same).
  Snmpd snmpd("", "127.0.0.1",
              "override 1.3.6.1.4.1.318.1.1.1.4.1.1.0 integer 2\n"
              "override 1.3.6.1.4.1.318.1.1.1.2.2.1.0 uinteger 64\n"
              "override 1.3.6.1.4.1.318.1.1.1.2.2.2.0 uinteger 29\n"
              "override 1.3.6.1.4.1.318.1.1.1.2.2.3.0 uinteger 90000\n"
              "override 1.3.6.1.4.1.318.1.1.1.2.2.4.0 integer 1\n"
              "override 1.3.6.1.4.1.318.1.1.1.3.2.1.0 uinteger 231\n"
              "override 1.3.6.1.4.1.318.1.1.1.4.2.3.0 uinteger 18\n");
  snmpd.start();
  REQUIRE(snmpd.get("1.3.6.1.4.1.318.1.1.1.2.2.1.0") == "64");
  TempDir dir;
  write_secret(dir.path + "/community", kCommunity);
  write_file(dir.path + "/agent.toml",
             "[identity]\ngroup = \"g\"\nnode = \"n\"\n[broker]\nservers = "
             "[\"tcp://127.0.0.1:1\"]\n[state]\ndir = \"state\"\n"
             "[[devices.snmp]]\nname = \"ups-6a\"\naddress = \"" +
                 snmpd.address() +
                 "\"\ncommunity_file = \"community\"\ntimeout = \"500ms\"\n"
                 "profiles = [\"system\", \"apc-ups\"]\n");
  Process once({AGENT_BINARY, "once", "-c", dir.path + "/agent.toml"}, dir.path + "/once.out");
  const auto status = once.wait_exit(30s);
  const std::string out = read_file(dir.path + "/once.out");
  INFO(out);
  REQUIRE(status);
  CHECK(*status == 0);
  CHECK_THAT(out, Catch::Contains("ups-6a: UPS/On Battery = false\n"));  // onLine(2)
  CHECK_THAT(out, Catch::Contains("ups-6a: UPS/Battery Charge = " +
                                  snmpd.get("1.3.6.1.4.1.318.1.1.1.2.2.1.0") + ".00 %\n"));
  CHECK_THAT(out, Catch::Contains("ups-6a: UPS/Battery Temperature = 29.00 °C\n"));
  CHECK_THAT(out, Catch::Contains("ups-6a: UPS/Runtime Remaining = 900 s\n"));
  CHECK_THAT(out, Catch::Contains("ups-6a: UPS/Replace Battery = false\n"));
  CHECK_THAT(out, Catch::Contains("ups-6a: UPS/Input Voltage = 231.00 V\n"));
  CHECK_THAT(out, Catch::Contains("ups-6a: UPS/Load = 18.00 %\n"));
  CHECK(out.find("not served") == std::string::npos);
}

TEST_CASE("SNMP profiles: auto picks by sysObjectID and by what the device answers") {
  const std::string interop = SOURCE_DIR "/tests/interop";
  BrokerRig broker_rig;
  auto& [broker, sub, dir] = broker_rig;
  // A UniFi access point (sysObjectID under enterprise 41112) that answers
  // LLDP-MIB and ENTITY-SENSOR-MIB too, and neither PowerNet-MIB nor
  // POWER-ETHERNET-MIB nor BRIDGE-MIB.
  std::string objects = R"("1.3.6.1.2.1.1.2.0": ["OID", "1.3.6.1.4.1.41112.1.6"])";
  std::istringstream lines(kBuiltinObjects);
  for (std::string line; std::getline(lines, line);)
    if (line.find("41112") != std::string::npos || line.find("8802") != std::string::npos ||
        line.find(".99.1.1.1.") != std::string::npos ||
        line.find(".47.1.1.1.") != std::string::npos)
      objects += ",\n" + line.substr(0, line.find_last_of(']') + 1);
  Responder ap(R"({"interfaces": 0, "objects": {)" + objects + "}}");
  Process decoder({"node", interop + "/device_decoder.js", broker.url(), "ap-6a", "1", "0"},
                  dir.path + "/decoder.log");
  REQUIRE(wait_until(
      [&] { return read_file(dir.path + "/decoder.log").find("subscribed") != std::string::npos; },
      20s));
  AgentOptions o;
  o.url = broker.url();
  o.extra = profile_device("ap-6a", ap, dir, R"(["system", "auto"])");
  Agent agent(dir.path + "/agent", o);
  agent.start();
  LogOnFailure show_log(agent);
  const std::string birth = "spBv1.0/school-test/DBIRTH/room-1/ap-6a";
  REQUIRE(wait_until([&] { return !on_topic(sub, birth).empty() && ap.polls() >= 3; }, 30s));
  const Payload b = on_topic(sub, birth)[0].decoded;
  REQUIRE(metric(b, "WiFi/Clients"));
  CHECK(metric(b, "WiFi/Clients")->long_value() == 19);
  REQUIRE(metric(b, "LLDP/5/Neighbour"));
  CHECK(metric(b, "LLDP/5/Neighbour")->string_value() == "ap-6a-101");
  REQUIRE(metric(b, "Sensors/CPU Temp/Value"));
  CHECK(metric(b, "Sensors/CPU Temp/Value")->double_value() == Approx(41.5));
  for (const auto& m : b.metrics()) {
    INFO(m.name());
    CHECK(m.name().rfind("UPS/", 0) != 0);  // neither APC's
    CHECK(m.name().rfind("PoE/", 0) != 0);  // nor what it does not answer
    CHECK(m.name().rfind("Bridge/", 0) != 0);
    CHECK(m.name().rfind("Health/", 0) != 0);  // nor MikroTik's
  }
  CHECK_THAT(agent.log(), Catch::Contains("device ap-6a at " + ap.address() +
                                          ": auto: sysObjectID 1.3.6.1.4.1.41112.1.6 (enterprise "
                                          "41112); picked unifi-ap (its enterprise), lldp "
                                          "(answered), entity-sensor (answered)"));
  // sysObjectID is read once: the first poll asks every candidate's scalars,
  // the next ones only sysUpTime, sysName and sysDescr (unifi-ap, lldp and
  // entity-sensor have tables only).
  const std::string log = ap.log();
  INFO(log);
  CHECK_THAT(log, Catch::Contains("poll 0: a GET of 14 OIDs"));
  CHECK_THAT(log, Catch::Contains("poll 1: a GET of 3 OIDs"));
  CHECK_THAT(log, Catch::Contains("poll 2: a GET of 3 OIDs"));
  auto status = decoder.wait_exit(40s);
  INFO(read_file(dir.path + "/decoder.log"));
  REQUIRE(status);
  CHECK(*status == 0);
}

TEST_CASE(
    "SNMP devices: Device Control/Rebirth is in each DBIRTH and its DCMD gives that DBIRTH alone") {
  BrokerRig broker_rig;
  auto& [broker, sub, dir] = broker_rig;
  Responder a(R"({"interfaces": 2})"), b(R"({"interfaces": 2})");
  AgentOptions o;
  o.url = broker.url();
  o.extra = responder_device("switch-6a", a, dir) + responder_device("ap-6a", b, dir);
  Agent agent(dir.path + "/agent", o);
  agent.start();
  LogOnFailure show_log(agent);
  const std::string sw_birth = "spBv1.0/school-test/DBIRTH/room-1/switch-6a";
  const std::string ap_birth = "spBv1.0/school-test/DBIRTH/room-1/ap-6a";
  const std::string ap_data = "spBv1.0/school-test/DDATA/room-1/ap-6a";
  REQUIRE(wait_until(
      [&] {
        return !on_topic(sub, sw_birth).empty() && !on_topic(sub, ap_birth).empty() &&
               !on_topic(sub, ap_data).empty();
      },
      30s));
  // In each DBIRTH: Boolean, false, with an alias of its own; the reference
  // codec reads it so.
  const Message first = on_topic(sub, sw_birth)[0];
  const auto* rebirth = metric(first.decoded, "Device Control/Rebirth");
  REQUIRE(rebirth);
  CHECK(rebirth->datatype() == 11);
  CHECK_FALSE(rebirth->boolean_value());
  const auto ap_alias =
      alias_in_birth(on_topic(sub, ap_birth)[0].decoded, "Device Control/Rebirth");
  REQUIRE(ap_alias);
  CHECK(*ap_alias != rebirth->alias());
  const std::string interop = SOURCE_DIR "/tests/interop";
  write_file(dir.path + "/dbirth.bin", first.payload);
  auto [rc, out] =
      run_shell("node " + interop + "/reference_decoder.js --decode " + dir.path + "/dbirth.bin");
  INFO(out);
  CHECK(rc == 0);
  CHECK_THAT(out, Catch::Contains("Device Control/Rebirth\tBoolean\tfalse\n"));

  // As Tahu's host sends it (by name, no datatype): that device's DBIRTH alone.
  sub.publish("spBv1.0/school-test/DCMD/room-1/switch-6a",
              command("Device Control/Rebirth", true).SerializeAsString());
  REQUIRE(wait_until([&] { return on_topic(sub, sw_birth).size() == 2; }, 10s));
  // By the birth's alias with its datatype, to the other device.
  sub.publish("spBv1.0/school-test/DCMD/room-1/ap-6a",
              command("", true, 11, *ap_alias).SerializeAsString());
  REQUIRE(wait_until([&] { return on_topic(sub, ap_birth).size() == 2; }, 10s));
  // A second later (two polls of the AP since its birth), what is not a
  // device's rebirth is refused; a good command after them answers last.
  const size_t births_seen = sub.messages().size();
  REQUIRE(wait_until(
      [&] {
        size_t n = 0;
        const auto all = sub.messages();
        for (size_t i = births_seen; i < all.size(); ++i) n += all[i].topic == ap_data;
        return n >= 2;
      },
      10s));
  sub.publish("spBv1.0/school-test/DCMD/room-1/switch-6a", rebirth_command().SerializeAsString());
  sub.publish("spBv1.0/school-test/DCMD/room-1/ghost",
              command("Device Control/Rebirth", true).SerializeAsString());
  sub.publish("spBv1.0/school-test/DCMD/room-1/switch-6a",
              command("Device Control/Rebirth", std::string("yes")).SerializeAsString());
  sub.publish("spBv1.0/school-test/DCMD/room-1/ap-6a",
              command("Device Control/Rebirth", true).SerializeAsString());
  REQUIRE(wait_until([&] { return on_topic(sub, ap_birth).size() == 3; }, 10s));
  CHECK(on_topic(sub, sw_birth).size() == 2);
  CHECK(sub.of_type("NBIRTH").size() == 1);  // never the node's birth
  CHECK(sub.of_type("DDEATH").empty());
  CHECK(sub.of_type("NDEATH").empty());
  // One seq for the node and its devices, +1 a message, births included.
  std::optional<uint64_t> seq;
  for (const Message& m : sub.messages()) {
    // NDEATH, and the test's own commands (the subscriber sees them too), carry no seq.
    if (m.type() == "NDEATH" || m.type() == "NCMD" || m.type() == "DCMD") continue;
    INFO(m.topic << " seq " << m.decoded.seq());
    if (m.type() == "NBIRTH") {
      CHECK(m.decoded.seq() == 0);
    } else if (seq) {
      CHECK(m.decoded.seq() == (*seq + 1) % 256);
    }
    seq = m.decoded.seq();
  }
  const std::string log = agent.log();
  CHECK_THAT(log,
             Catch::Contains("published a new DBIRTH of device switch-6a (rebirth requested)"));
  CHECK_THAT(log, Catch::Contains("ignored a malformed command on "
                                  "spBv1.0/school-test/DCMD/room-1/switch-6a: \"Node "
                                  "Control/Rebirth\" is not a command of device switch-6a"));
  CHECK_THAT(log, Catch::Contains("ignored a command on spBv1.0/school-test/DCMD/room-1/ghost: "
                                  "this node has no device \"ghost\""));
  CHECK_THAT(log, Catch::Contains("Device Control/Rebirth without a Boolean value"));
}

namespace {

// What the responder logged of each poll's GETBULKs: per poll, per request,
// its max-repetitions, its columns and whether it was answered tooBig.
struct Bulk {
  long repetitions = 0;
  size_t columns = 0;
  bool too_big = false;
};
std::vector<std::vector<Bulk>> bulks_by_poll(const Responder& r) {
  std::vector<std::vector<Bulk>> polls;
  std::istringstream in(r.log());
  const std::regex bulk("bulk: max-repetitions (\\d+) of (\\d+) columns -> (tooBig|\\d+ values)");
  std::smatch m;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("poll ", 0) == 0) polls.emplace_back();
    if (!polls.empty() && std::regex_search(line, m, bulk))
      polls.back().push_back({std::stol(m[1]), std::stoul(m[2]), m[3] == "tooBig"});
  }
  return polls;
}

}  // namespace

TEST_CASE(
    "SNMP devices: GETBULK max-repetitions shrinks on tooBig and loss and grows for long tables") {
  BrokerRig broker_rig;
  auto& [broker, sub, dir] = broker_rig;
  // 200 interfaces, of which a poll reads 128 rows (2 x max_interfaces) of
  // 13 columns. `small` answers tooBig past 1,500 bytes; `lossy` loses the
  // third datagram of each poll (its second GETBULK); `long` answers all.
  Responder small(R"({"interfaces": 200, "max_size": 1500})");
  Responder lossy(R"({"interfaces": 200, "drop": [3]})");
  Responder longer(R"({"interfaces": 200})");
  AgentOptions o;
  o.url = broker.url();
  o.extra = responder_device("small", small, dir) + responder_device("lossy", lossy, dir) +
            responder_device("long", longer, dir);
  Agent agent(dir.path + "/agent", o);
  agent.start();
  LogOnFailure show_log(agent);
  REQUIRE(wait_until(
      [&] { return small.polls() >= 4 && lossy.polls() >= 4 && longer.polls() >= 4; }, 40s));
  REQUIRE(wait_until(
      [&] {
        return series(sub, "small", "Interfaces/port64/Rx Bytes").size() >= 3 &&
               series(sub, "lossy", "Interfaces/port64/Rx Bytes").size() >= 3 &&
               series(sub, "long", "Interfaces/port64/Rx Bytes").size() >= 3;
      },
      20s));
  CHECK(sub.of_type("DDEATH").empty());

  // Every finished poll reads its 128 rows and not one more: the rows asked
  // of the answered requests add up to what the columns need.
  for (const Responder* r : {&small, &longer}) {
    const auto polls = bulks_by_poll(*r);
    REQUIRE(polls.size() >= 4);
    for (size_t p = 0; p + 1 < polls.size(); ++p) {
      long rows = 0;
      for (const Bulk& b : polls[p])
        if (!b.too_big) rows += b.repetitions;
      INFO("poll " << p);
      CHECK(rows == 128);
    }
  }
  // `small`: tooBig in its first poll only, the size that fits kept after.
  const auto small_polls = bulks_by_poll(small);
  size_t too_big_first = 0, too_big_later = 0;
  for (size_t p = 0; p < small_polls.size(); ++p)
    for (const Bulk& b : small_polls[p]) (p == 0 ? too_big_first : too_big_later) += b.too_big;
  CHECK(too_big_first >= 1);
  CHECK(too_big_later == 0);
  CHECK(small_polls[1].front().repetitions < 10);
  // `long`: a long table is asked in larger requests than the first, within
  // the bound (at most 256 values an answer).
  long most = 0;
  for (const auto& poll : bulks_by_poll(longer))
    for (const Bulk& b : poll) {
      most = std::max(most, b.repetitions);
      CHECK(b.repetitions * static_cast<long>(b.columns) <= 256);
    }
  CHECK(most > 10);
  // `lossy`: the request after the lost one asks fewer rows than the one
  // before it (the responder logs only answered requests).
  const auto lossy_polls = bulks_by_poll(lossy);
  REQUIRE(lossy_polls.size() >= 2);
  REQUIRE(lossy_polls[1].size() >= 2);
  CHECK(lossy_polls[1][1].repetitions < lossy_polls[1][0].repetitions);
}

TEST_CASE("SNMP devices: one slow device does not delay the polls of 19 others") {
  BrokerRig broker_rig;
  auto& [broker, sub, dir] = broker_rig;
  // 19 devices at one responder; the slow one answers each request after
  // 200 ms (its timeout: 250 ms, a quarter of its interval with retries = 1):
  // its walk of 200 interfaces takes some 3 s, three of its 1 s intervals.
  Responder fast(R"({"interfaces": 4})");
  Responder slow(R"({"interfaces": 200, "delay_ms": 200})");
  AgentOptions o;
  o.url = broker.url();
  o.extra = responder_device("slow", slow, dir);
  for (int i = 0; i < 19; ++i) o.extra += responder_device("fast-" + std::to_string(i), fast, dir);
  Agent agent(dir.path + "/agent", o);
  agent.start();
  LogOnFailure show_log(agent);
  // Three slow walks: some 9 s in which the others poll every second.
  REQUIRE(wait_until([&] { return slow.polls() >= 4; }, 40s));
  REQUIRE(wait_until([&] { return series(sub, "slow", "Interfaces/port64/Rx Bytes").size() >= 2; },
                     20s));
  for (int i = 0; i < 19; ++i) {
    const std::string name = "fast-" + std::to_string(i);
    // Rx Bytes changes at every poll (the responder counts them): one value a
    // poll, stamped with the poll's start.
    const auto values = series(sub, name, "Interfaces/port1/Rx Bytes");
    INFO(name << ": " << values.size() << " values");
    REQUIRE(values.size() >= 8);
    uint64_t gap = 0;
    for (size_t k = 1; k < values.size(); ++k)
      gap = std::max(gap, values[k].timestamp() - values[k - 1].timestamp());
    INFO("largest gap between its polls: " << gap << " ms");
    CHECK(gap <= 1300);  // on its 1 s grid, none skipped or late
  }
  CHECK(sub.of_type("DDEATH").empty());
}

TEST_CASE("SNMP poller: polls after a device's first make room for its last walk") {
  // Not for every row the plan allows: room for 128 rows of every column,
  // made at every poll, was some 130 KiB for this four-interface device,
  // past malloc's mmap threshold, so mapped and unmapped at every poll.
  namespace snmp = classroom::drivers::snmp;
  Responder device(R"({"interfaces": 4})");
  snmp::Target target;
  target.name = "switch";
  target.host = "127.0.0.1";
  target.port = std::stoi(device.address().substr(device.address().rfind(':') + 1));
  target.community = "public";
  target.plan = snmp::plan_for(snmp::Profiles{}, 64);
  const size_t allowed = target.plan.columns.size() * target.plan.max_rows;
  snmp::Poller poller({target}, 1, [] {});
  auto poll = [&] {
    poller.request(0);
    std::vector<snmp::PollResult> got;
    REQUIRE(wait_until(
        [&] {
          poller.take(got);
          return !got.empty();
        },
        10s));
    REQUIRE(got.front().status == snmp::PollResult::Status::ok);
    return std::move(got.front());
  };
  const snmp::PollResult first = poll();
  INFO(first.vars.size() << " values in a poll; the plan allows " << allowed << " in its walk");
  REQUIRE(first.vars.size() < allowed / 4);  // a small device, as most are
  for (int i = 0; i < 3; ++i) {
    const snmp::PollResult next = poll();
    CHECK(next.vars.size() == first.vars.size());
    // The scalars, then room for as many values as the last walk and 16 more.
    CHECK(next.vars.capacity() <= next.vars.size() + 16);
  }
}
