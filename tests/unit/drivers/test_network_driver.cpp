// The network driver over fixture trees that the tests change between samples:
// rates, wraps, resets, interfaces that vanish, come back and are renamed, the
// uplink switching. Time is a fake monotonic clock.
#include <catch2/catch.hpp>
#include <concepts>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include <type_traits>

#include "../config/config_text.hpp"
#include "../map_sink.hpp"
#include "../temp_dir.hpp"
#include "network/network_config.hpp"
#include "network/network_driver.hpp"

using namespace classroom;
using namespace classroom::drivers::network;
namespace fs = std::filesystem;

namespace {
const std::string kFixtures = FIXTURES_DIR;

struct Dev {
  std::string name;
  LinkCounters c;
};

// A gateway tree the test can change: a copy of net-gateway.
struct Gateway {
  TempDir tmp;
  int64_t now_ns = 1'000'000'000;

  Gateway() { fs::copy(kFixtures + "/net-gateway", tmp.path, fs::copy_options::recursive); }
  std::string proc() const { return tmp.path + "/proc"; }
  std::string sys() const { return tmp.path + "/sys"; }

  Options options(std::vector<std::string> include = {"*"},
                  std::vector<std::string> exclude = {"lo"}) {
    Options o;
    o.proc_root = proc();
    o.sys_root = sys();
    o.include = std::move(include);
    o.exclude = std::move(exclude);
    o.monotonic_ns = [this] { return now_ns; };
    return o;
  }

  // /proc/net/dev as the kernel prints it.
  void write_dev(const std::vector<Dev>& devs) {
    std::ofstream out(proc() + "/net/dev", std::ios::trunc);
    out << "Inter-|   Receive                                                |  Transmit\n"
           " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets "
           "errs drop fifo colls carrier compressed\n";
    for (const Dev& d : devs) {
      char line[512];
      std::snprintf(line, sizeof line,
                    "%6s:%8llu %7llu %4llu %4llu    0     0          0         0 %8llu %7llu "
                    "%4llu %4llu    0     0       0          0\n",
                    d.name.c_str(), (unsigned long long)d.c.rx_bytes,
                    (unsigned long long)d.c.rx_packets, (unsigned long long)d.c.rx_errors,
                    (unsigned long long)d.c.rx_dropped, (unsigned long long)d.c.tx_bytes,
                    (unsigned long long)d.c.tx_packets, (unsigned long long)d.c.tx_errors,
                    (unsigned long long)d.c.tx_dropped);
      out << line;
    }
  }
  // <sys>/class/net/<name>/ with the given ifindex, up, 1000 Mbit/s.
  void add_sys(const std::string& name, int ifindex, const std::string& operstate = "up") {
    const std::string dir = sys() + "/class/net/" + name;
    fs::create_directories(dir);
    std::ofstream(dir + "/ifindex") << ifindex << "\n";
    std::ofstream(dir + "/operstate") << operstate << "\n";
    std::ofstream(dir + "/carrier") << "1\n";
    std::ofstream(dir + "/speed") << "1000\n";
  }
  void write(const std::string& relative, const std::string& text) {
    std::ofstream(tmp.path + "/" + relative, std::ios::trunc) << text;
  }
  void advance_s(double seconds) { now_ns += static_cast<int64_t>(seconds * 1e9); }
};

LinkCounters counters(uint64_t rx_bytes, uint64_t rx_packets, uint64_t tx_bytes,
                      uint64_t tx_packets) {
  LinkCounters c;
  c.rx_bytes = rx_bytes;
  c.rx_packets = rx_packets;
  c.tx_bytes = tx_bytes;
  c.tx_packets = tx_packets;
  return c;
}

// Forgets every value, so that `measured` afterwards means "put in this collection".
void forget_values(MapSink& sink) {
  for (auto& e : sink.entries) e.value = {};
}

const char* const kMeasures[] = {"Rx Bytes",  "Tx Bytes",  "Rx Packets", "Tx Packets",
                                 "Rx Errors", "Tx Errors", "Rx Dropped", "Tx Dropped",
                                 "Rx Rate",   "Tx Rate",   "Link Up",    "Speed"};
}  // namespace

TEST_CASE("network driver: every metric of a 20-interface gateway") {
  Gateway gw;
  NetworkDriver driver(gw.options());
  MapSink sink;
  auto r = driver.collect(sink);
  REQUIRE(r.ok);
  CHECK(r.warning.empty());

  // 21 interfaces, lo excluded by default: 20 published, 12 metrics each, plus the uplink's 2.
  CHECK(sink.entries.size() == 20 * 12 + 2);
  CHECK_FALSE(sink.has("Network/lo/Rx Bytes"));
  for (const char* m : kMeasures) {
    INFO(m);
    CHECK(sink.has(std::string("Network/eth0/") + m));
  }
  CHECK(sink.get<uint64_t>("Network/eth0/Rx Bytes") == 987654321012ull);
  CHECK(sink.get<uint64_t>("Network/eth0/Tx Bytes") == 123456789012ull);
  CHECK(sink.get<uint64_t>("Network/eth0/Rx Packets") == 712345678ull);
  CHECK(sink.get<uint64_t>("Network/eth0/Tx Packets") == 301234567ull);
  CHECK(sink.get<uint64_t>("Network/eth0/Rx Errors") == 3);
  CHECK(sink.get<uint64_t>("Network/eth0/Tx Errors") == 0);
  CHECK(sink.get<uint64_t>("Network/eth0/Rx Dropped") == 1542);
  CHECK(sink.get<uint64_t>("Network/eth0/Tx Dropped") == 7);
  CHECK(sink.at("Network/eth0/Rx Bytes").type == DataType::UInt64);
  CHECK(sink.at("Network/eth0/Rx Bytes").unit == "B");
  CHECK(sink.at("Network/eth0/Rx Rate").type == DataType::Double);
  CHECK(sink.at("Network/eth0/Rx Rate").unit == "bit/s");
  CHECK(sink.at("Network/eth0/Link Up").type == DataType::Boolean);
  CHECK(sink.at("Network/eth0/Speed").unit == "Mbit/s");

  // Rates need two samples.
  CHECK_FALSE(sink.measured("Network/eth0/Rx Rate"));
  CHECK_FALSE(sink.measured("Network/eth0/Tx Rate"));

  // Link Up: operstate up with carrier; "unknown" with carrier (4G, WireGuard).
  CHECK(sink.get<bool>("Network/eth0/Link Up"));
  CHECK(sink.get<bool>("Network/wwan0/Link Up"));
  CHECK(sink.get<bool>("Network/wg0/Link Up"));
  CHECK_FALSE(sink.get<bool>("Network/wlan1/Link Up"));    // down, carrier unreadable
  CHECK_FALSE(sink.get<bool>("Network/eth1.30/Link Up"));  // lowerlayerdown
  CHECK_FALSE(sink.get<bool>("Network/ifb0/Link Up"));

  // Speed where the kernel knows it; -1, an empty or a missing file: no value.
  CHECK(sink.get<uint64_t>("Network/eth0/Speed") == 1000);
  CHECK(sink.get<uint64_t>("Network/eth3/Speed") == 100);
  CHECK(sink.get<uint64_t>("Network/veth-cam0/Speed") == 10000);
  CHECK_FALSE(sink.measured("Network/wwan0/Speed"));   // -1
  CHECK_FALSE(sink.measured("Network/wlan0/Speed"));   // empty
  CHECK_FALSE(sink.measured("Network/br-lan/Speed"));  // no file

  CHECK(sink.get<std::string>("Network/Uplink/Interface") == "eth0");
  CHECK(sink.get<uint64_t>("Network/Uplink/Changes") == 0);
}

TEST_CASE("network driver: rates from deltas, per second of the monotonic clock") {
  Gateway gw;
  gw.write_dev({{"eth0", counters(1000, 10, 5000, 50)}});
  NetworkDriver driver(gw.options());
  MapSink sink;
  REQUIRE(driver.collect(sink).ok);
  CHECK_FALSE(sink.measured("Network/eth0/Rx Rate"));

  // 10 s later: 1 250 000 bytes in (1 Mbit/s), 2 500 000 out (2 Mbit/s).
  gw.advance_s(10);
  gw.write_dev({{"eth0", counters(1'251'000, 1010, 2'505'000, 2050)}});
  const int declared = sink.declarations;
  REQUIRE(driver.collect(sink).ok);
  CHECK(sink.declarations == declared);  // declared once, not per cycle
  CHECK(sink.get<double>("Network/eth0/Rx Rate") == Approx(1'000'000.0));
  CHECK(sink.get<double>("Network/eth0/Tx Rate") == Approx(2'000'000.0));

  // Nothing moved: 0 bit/s.
  gw.advance_s(2.5);
  REQUIRE(driver.collect(sink).ok);
  CHECK(sink.get<double>("Network/eth0/Rx Rate") == 0.0);
}

TEST_CASE("network driver: a 64-bit counter wrap gives the right rate") {
  Gateway gw;
  const uint64_t top = UINT64_MAX - 999;  // 1000 bytes before the wrap
  gw.write_dev({{"eth0", counters(top, 7'000'000'000ull, top, 7'000'000'000ull)}});
  NetworkDriver driver(gw.options());
  MapSink sink;
  REQUIRE(driver.collect(sink).ok);
  gw.advance_s(1);
  gw.write_dev({{"eth0", counters(24'000, 7'000'000'020ull, 1000, 7'000'000'001ull)}});
  REQUIRE(driver.collect(sink).ok);
  CHECK(sink.get<double>("Network/eth0/Rx Rate") == Approx(25'000.0 * 8));
  CHECK(sink.get<double>("Network/eth0/Tx Rate") == Approx(2'000.0 * 8));
  CHECK(sink.get<uint64_t>("Network/eth0/Rx Bytes") == 24'000);
}

TEST_CASE("network driver: a 32-bit driver counter wrap gives the right rate") {
  Gateway gw;
  gw.write_dev({{"eth3", counters(4294967000ull, 3'000'000, 100, 1)}});
  NetworkDriver driver(gw.options());
  MapSink sink;
  REQUIRE(driver.collect(sink).ok);
  gw.advance_s(1);
  gw.write_dev({{"eth3", counters(1000, 3'000'010, 100, 1)}});  // 296 + 1000 bytes
  REQUIRE(driver.collect(sink).ok);
  CHECK(sink.get<double>("Network/eth3/Rx Rate") == Approx(1296.0 * 8));
}

TEST_CASE("network driver: counters that go backwards restart the delta, no absurd rate") {
  Gateway gw;
  gw.write_dev({{"eth0", counters(5'000'000'000ull, 4'000'000, 900'000, 9000)}});
  NetworkDriver driver(gw.options());
  MapSink sink;
  REQUIRE(driver.collect(sink).ok);

  // The driver reset its statistics (a NIC firmware restart): everything near zero.
  gw.advance_s(1);
  gw.write_dev({{"eth0", counters(3000, 3, 1000, 1)}});
  forget_values(sink);
  auto r = driver.collect(sink);
  REQUIRE(r.ok);
  CHECK(sink.get<uint64_t>("Network/eth0/Rx Bytes") == 3000);  // the counters as the kernel says
  CHECK_FALSE(sink.measured("Network/eth0/Rx Rate"));
  CHECK_FALSE(sink.measured("Network/eth0/Tx Rate"));

  // The next sample measures from the reset.
  gw.advance_s(2);
  gw.write_dev({{"eth0", counters(5000, 5, 1500, 2)}});
  REQUIRE(driver.collect(sink).ok);
  CHECK(sink.get<double>("Network/eth0/Rx Rate") == Approx(2000.0 * 8 / 2));
  CHECK(sink.get<double>("Network/eth0/Tx Rate") == Approx(500.0 * 8 / 2));
}

TEST_CASE("network driver: an interface that vanishes stops being sent and comes back") {
  Gateway gw;
  gw.write_dev({{"eth0", counters(1000, 10, 1000, 10)}, {"usb0", counters(50'000, 50, 60, 1)}});
  NetworkDriver driver(gw.options());
  MapSink sink;
  REQUIRE(driver.collect(sink).ok);
  gw.advance_s(1);
  gw.write_dev({{"eth0", counters(2000, 20, 2000, 20)}, {"usb0", counters(60'000, 60, 60, 1)}});
  REQUIRE(driver.collect(sink).ok);
  CHECK(sink.get<double>("Network/usb0/Rx Rate") == Approx(80'000.0));

  // The USB modem is unplugged: its link is reported down once, its rates
  // become null, and nothing else of it is sent.
  gw.advance_s(1);
  gw.write_dev({{"eth0", counters(3000, 30, 3000, 30)}});
  fs::remove_all(gw.sys() + "/class/net/usb0");
  forget_values(sink);
  REQUIRE(driver.collect(sink).ok);
  CHECK(sink.measured("Network/eth0/Rx Bytes"));
  CHECK(sink.has("Network/usb0/Link Up"));
  CHECK(sink.get<bool>("Network/usb0/Link Up") == false);
  CHECK_FALSE(sink.measured("Network/usb0/Rx Rate"));
  CHECK_FALSE(sink.measured("Network/usb0/Rx Bytes"));
  forget_values(sink);
  gw.advance_s(1);
  REQUIRE(driver.collect(sink).ok);
  for (const char* m : kMeasures) {
    INFO(m);
    CHECK_FALSE(sink.measured(std::string("Network/usb0/") + m));
  }

  // Plugged in again: a new device (new ifindex), counters from zero. Its
  // metrics are the same names (no new declaration); the first sample has no
  // rate, the next one does.
  const size_t names = sink.entries.size();
  gw.add_sys("usb0", 40);
  gw.advance_s(1);
  gw.write_dev({{"eth0", counters(3000, 30, 3000, 30)}, {"usb0", counters(500, 5, 100, 1)}});
  forget_values(sink);
  REQUIRE(driver.collect(sink).ok);
  CHECK(sink.entries.size() == names);
  CHECK(sink.get<uint64_t>("Network/usb0/Rx Bytes") == 500);
  CHECK(sink.get<bool>("Network/usb0/Link Up"));
  CHECK_FALSE(sink.measured("Network/usb0/Rx Rate"));
  gw.advance_s(1);
  gw.write_dev({{"eth0", counters(3000, 30, 3000, 30)}, {"usb0", counters(1500, 15, 100, 1)}});
  REQUIRE(driver.collect(sink).ok);
  CHECK(sink.get<double>("Network/usb0/Rx Rate") == Approx(8000.0));
}

TEST_CASE("network driver: an interface recreated under the same name between samples") {
  Gateway gw;
  gw.write_dev({{"tun0", counters(100, 1, 100, 1)}});
  NetworkDriver driver(gw.options());
  MapSink sink;
  REQUIRE(driver.collect(sink).ok);
  // The VPN restarted within one interval: a new tun0 (ifindex 12 -> 77) that
  // has already moved more than the old one had: without the ifindex this
  // would pass for ordinary traffic.
  gw.add_sys("tun0", 77, "unknown");
  gw.advance_s(1);
  gw.write_dev({{"tun0", counters(900, 9, 900, 9)}});
  forget_values(sink);
  REQUIRE(driver.collect(sink).ok);
  CHECK_FALSE(sink.measured("Network/tun0/Rx Rate"));
  gw.advance_s(1);
  gw.write_dev({{"tun0", counters(1900, 19, 900, 9)}});
  REQUIRE(driver.collect(sink).ok);
  CHECK(sink.get<double>("Network/tun0/Rx Rate") == Approx(8000.0));
}

TEST_CASE("network driver: an interface renamed between samples keeps its rate") {
  Gateway gw;
  gw.write_dev({{"eth3", counters(10'000, 100, 20'000, 200)}});
  NetworkDriver driver(gw.options());
  MapSink sink;
  REQUIRE(driver.collect(sink).ok);

  // udev renames eth3 to wan1: same device (ifindex 14), same counters.
  fs::rename(gw.sys() + "/class/net/eth3", gw.sys() + "/class/net/wan1");
  gw.advance_s(1);
  gw.write_dev({{"wan1", counters(11'000, 110, 20'500, 205)}});
  forget_values(sink);
  REQUIRE(driver.collect(sink).ok);
  REQUIRE(sink.has("Network/wan1/Rx Bytes"));  // a new name: declared (a rebirth)
  CHECK(sink.get<uint64_t>("Network/wan1/Rx Bytes") == 11'000);
  CHECK(sink.get<double>("Network/wan1/Rx Rate") == Approx(8000.0));
  CHECK(sink.get<double>("Network/wan1/Tx Rate") == Approx(4000.0));
  CHECK(sink.get<bool>("Network/eth3/Link Up") == false);  // the old name is gone
  CHECK_FALSE(sink.measured("Network/eth3/Rx Bytes"));
}

TEST_CASE("network driver: two interfaces that swap names get no rate from each other") {
  Gateway gw;
  // eth1.20 has moved far more than eth1.30.
  gw.write_dev({{"eth1.20", counters(9'000'000, 9000, 9'000'000, 9000)},
                {"eth1.30", counters(1000, 10, 1000, 10)}});
  NetworkDriver driver(gw.options());
  MapSink sink;
  REQUIRE(driver.collect(sink).ok);
  fs::rename(gw.sys() + "/class/net/eth1.20", gw.sys() + "/class/net/tmp");
  fs::rename(gw.sys() + "/class/net/eth1.30", gw.sys() + "/class/net/eth1.20");
  fs::rename(gw.sys() + "/class/net/tmp", gw.sys() + "/class/net/eth1.30");
  gw.advance_s(1);
  gw.write_dev({{"eth1.20", counters(1100, 11, 1000, 10)},
                {"eth1.30", counters(9'000'100, 9001, 9'000'000, 9000)}});
  forget_values(sink);
  REQUIRE(driver.collect(sink).ok);
  // Compared by name alone, eth1.30 would show 72 Mbit/s and eth1.20 a reset.
  CHECK_FALSE(sink.measured("Network/eth1.20/Rx Rate"));
  CHECK_FALSE(sink.measured("Network/eth1.30/Rx Rate"));
  CHECK(sink.get<uint64_t>("Network/eth1.30/Rx Bytes") == 9'000'100);
}

TEST_CASE("network driver: a new interface is picked up and declared") {
  Gateway gw;
  gw.write_dev({{"eth0", counters(1, 1, 1, 1)}});
  NetworkDriver driver(gw.options());
  MapSink sink;
  REQUIRE(driver.collect(sink).ok);
  CHECK_FALSE(sink.has("Network/veth-new/Rx Bytes"));
  gw.add_sys("veth-new", 99);
  gw.write_dev({{"eth0", counters(1, 1, 1, 1)}, {"veth-new", counters(5, 1, 6, 1)}});
  REQUIRE(driver.collect(sink).ok);
  CHECK(sink.get<uint64_t>("Network/veth-new/Tx Bytes") == 6);
}

TEST_CASE("network driver: include and exclude patterns") {
  Gateway gw;
  NetworkDriver driver(gw.options({"eth*", "wwan0"}, {"eth1.*"}));
  MapSink sink;
  REQUIRE(driver.collect(sink).ok);
  for (const char* name : {"eth0", "eth1", "eth2", "eth3", "wwan0"}) {
    INFO(name);
    CHECK(sink.has(std::string("Network/") + name + "/Rx Bytes"));
  }
  CHECK_FALSE(sink.has("Network/eth1.10/Rx Bytes"));
  CHECK_FALSE(sink.has("Network/br-lan/Rx Bytes"));
  CHECK(sink.entries.size() == 5 * 12 + 2);
  // lo only when asked for.
  Options o = gw.options({"lo"}, {});
  NetworkDriver with_lo(o);
  MapSink sink2;
  REQUIRE(with_lo.collect(sink2).ok);
  CHECK(sink2.get<uint64_t>("Network/lo/Rx Bytes") == 3371);
  CHECK(sink2.get<bool>("Network/lo/Link Up"));
}

TEST_CASE("network driver: at most max_interfaces, the rest named in a warning") {
  Gateway gw;
  Options o = gw.options();
  o.max_interfaces = 4;
  NetworkDriver driver(o);
  MapSink sink;
  auto r = driver.collect(sink);
  REQUIRE(r.ok);
  CHECK(sink.entries.size() == 4 * 12 + 2);
  CHECK_THAT(r.warning, Catch::Contains("16 interfaces over max_interfaces"));
}

// A key added to Settings reaches the driver without make() copying it.
static_assert(std::is_base_of_v<Settings, Options>);
// Made from Settings only when asked, and never compared as if it were them.
static_assert(!std::is_convertible_v<Settings, Options>);
static_assert(!std::equality_comparable<Options>);

TEST_CASE("network driver: make() hands over every key of sources.network") {
  Gateway gw;
  const auto loaded = config::testing::load_with(
      "[host]\nproc = \"" + gw.proc() + "\"\nsys = \"" + gw.sys() +
      "\"\n[sources.network]\ninclude = [\"eth*\"]\nexclude = [\"eth1.*\", \"eth3\"]\n"
      "max_interfaces = 2\n");
  INFO(config::testing::errors_text(loaded));
  REQUIRE(loaded.config);
  auto driver = make(*loaded.config, *loaded.config->source("network"));
  MapSink sink;
  auto r = driver->collect(sink);
  REQUIRE(r.ok);
  // eth0, eth1 and eth2 are selected; two are published, the third is over the cap.
  CHECK(sink.entries.size() == 2 * 12 + 2);
  CHECK_THAT(r.warning, Catch::Contains("1 interfaces over max_interfaces"));
  CHECK_FALSE(sink.has("Network/eth3/Rx Bytes"));
  CHECK_FALSE(sink.has("Network/eth1.10/Rx Bytes"));
  CHECK_FALSE(sink.has("Network/wlan0/Rx Bytes"));
}

TEST_CASE("network driver: the uplink follows the default route and counts switches") {
  Gateway gw;
  NetworkDriver driver(gw.options());
  MapSink sink;
  REQUIRE(driver.collect(sink).ok);
  CHECK(sink.get<std::string>("Network/Uplink/Interface") == "eth0");
  const std::string v4 = gw.tmp.path + "/proc/net/route";
  const std::string header =
      "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n";
  // The fixed line fails: only the 4G default is left, and no IPv6 default.
  gw.write("proc/net/route",
           header + "wwan0\t00000000\t4040400A\t0003\t0\t0\t700\t00000000\t0\t0\t0\n");
  gw.write("proc/net/ipv6_route", "");
  REQUIRE(driver.collect(sink).ok);
  CHECK(sink.get<std::string>("Network/Uplink/Interface") == "wwan0");
  CHECK(sink.get<uint64_t>("Network/Uplink/Changes") == 1);
  REQUIRE(driver.collect(sink).ok);  // no switch, no count
  CHECK(sink.get<uint64_t>("Network/Uplink/Changes") == 1);
  // No default route at all: an empty name, and a switch.
  gw.write("proc/net/route", header);
  REQUIRE(driver.collect(sink).ok);
  CHECK(sink.get<std::string>("Network/Uplink/Interface").empty());
  CHECK(sink.get<uint64_t>("Network/Uplink/Changes") == 2);
  // Back on the fixed line.
  fs::copy_file(kFixtures + "/net-gateway/proc/net/route", v4,
                fs::copy_options::overwrite_existing);
  REQUIRE(driver.collect(sink).ok);
  CHECK(sink.get<std::string>("Network/Uplink/Interface") == "eth0");
  CHECK(sink.get<uint64_t>("Network/Uplink/Changes") == 3);
}

TEST_CASE("network driver: an IPv6-only uplink, and a kernel without IPv6") {
  Gateway gw;
  gw.write("proc/net/route",
           "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n");
  NetworkDriver driver(gw.options());
  MapSink sink;
  auto r = driver.collect(sink);
  REQUIRE(r.ok);
  CHECK(r.warning.empty());
  CHECK(sink.get<std::string>("Network/Uplink/Interface") == "eth0");  // from ipv6_route
  fs::remove(gw.proc() + "/net/ipv6_route");
  r = driver.collect(sink);
  CHECK(r.warning.empty());  // IPv6 disabled is no fault
  CHECK(sink.get<std::string>("Network/Uplink/Interface").empty());
}

TEST_CASE("network driver: broken files cost their lines, not the sample") {
  TempDir tmp;
  fs::copy(kFixtures + "/net-broken", tmp.path, fs::copy_options::recursive);
  Options o;
  o.proc_root = tmp.path + "/proc";
  o.sys_root = tmp.path + "/sys";
  NetworkDriver driver(o);
  MapSink sink;
  auto r = driver.collect(sink);
  REQUIRE(r.ok);
  CHECK_THAT(r.warning, Catch::Contains("8 malformed lines in net/dev"));
  CHECK_THAT(r.warning, Catch::Contains("3 unreadable lines in net/route"));
  CHECK(sink.get<uint64_t>("Network/eth9/Rx Bytes") == 1000);
  CHECK(sink.get<bool>("Network/eth9/Link Up"));
  CHECK_FALSE(sink.measured("Network/eth9/Speed"));  // "garbage"
  CHECK(sink.get<std::string>("Network/Uplink/Interface") == "eth9");
  // Without an IPv4 default route the IPv6 table is read, garbled lines and all.
  std::ofstream(tmp.path + "/proc/net/route", std::ios::trunc) << "garbage\n";
  r = driver.collect(sink);
  REQUIRE(r.ok);
  CHECK_THAT(r.warning, Catch::Contains("1 unreadable lines in net/route"));
  CHECK_THAT(r.warning, Catch::Contains("3 unreadable lines in net/ipv6_route"));
  CHECK(sink.get<std::string>("Network/Uplink/Interface") == "eth9");

  // A truncated net/dev: the complete lines still count.
  Gateway gw;
  fs::copy_file(kFixtures + "/net-truncated/proc/net/dev", gw.proc() + "/net/dev",
                fs::copy_options::overwrite_existing);
  NetworkDriver truncated(gw.options());
  MapSink sink2;
  r = truncated.collect(sink2);
  REQUIRE(r.ok);
  CHECK_THAT(r.warning, Catch::Contains("1 malformed lines in net/dev"));
  CHECK(sink2.measured("Network/eth1.10/Rx Bytes"));
  CHECK_FALSE(sink2.has("Network/eth1.20/Rx Bytes"));
}

TEST_CASE("network driver: no net/dev at all fails with the path") {
  Options o;
  o.proc_root = "/nonexistent-proc";
  o.sys_root = "/nonexistent-sys";
  NetworkDriver driver(o);
  MapSink sink;
  auto r = driver.collect(sink);
  CHECK_FALSE(r.ok);
  CHECK_THAT(r.error, Catch::Contains("/nonexistent-proc/net/dev"));
}

TEST_CASE("network driver: the live /proc and /sys of this machine") {
  Options o;
  NetworkDriver driver(o);
  MapSink sink;
  auto r = driver.collect(sink);
  REQUIRE(r.ok);
  CHECK(r.warning.empty());
  CHECK_FALSE(sink.has("Network/lo/Rx Bytes"));
  CHECK(sink.has("Network/Uplink/Interface"));
  REQUIRE(driver.collect(sink).ok);
  int rates = 0;
  for (const auto& e : sink.entries)
    if (e.name.size() > 8 && e.name.substr(e.name.size() - 8) == "/Rx Rate" &&
        std::holds_alternative<double>(e.value))
      ++rates;
  CHECK(rates > 0);
}

TEST_CASE("network driver: interface selection") {
  Options o;
  o.include = {"*"};
  o.exclude = {"lo", "veth*"};
  CHECK(selected(o, "eth0"));
  CHECK_FALSE(selected(o, "lo"));
  CHECK_FALSE(selected(o, "veth12ab"));
  o.include = {};
  CHECK_FALSE(selected(o, "eth0"));
}
