// The network parsers on kernel-formatted fixtures, broken ones included.
#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>

#include "network/netfs.hpp"

using namespace classroom::drivers::network;

namespace {
const std::string kFixtures = FIXTURES_DIR;

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

const NetDevLine* find(const std::vector<NetDevLine>& lines, std::string_view name) {
  for (const NetDevLine& l : lines)
    if (l.name == name) return &l;
  return nullptr;
}
}  // namespace

TEST_CASE("net/dev: every interface of a 21-interface gateway, 64-bit counters exact") {
  const std::string text = slurp(kFixtures + "/net-gateway/proc/net/dev");
  std::vector<NetDevLine> lines;
  CHECK(parse_net_dev(text, lines) == 0);
  REQUIRE(lines.size() == 21);
  CHECK(lines[0].name == "lo");
  const NetDevLine* eth0 = find(lines, "eth0");
  REQUIRE(eth0);
  // The name runs into the first number ("eth0:987654321012"): still read.
  CHECK(eth0->counters.rx_bytes == 987654321012ull);
  CHECK(eth0->counters.rx_packets == 712345678ull);
  CHECK(eth0->counters.rx_errors == 3);
  CHECK(eth0->counters.rx_dropped == 1542);
  CHECK(eth0->counters.tx_bytes == 123456789012ull);
  CHECK(eth0->counters.tx_packets == 301234567ull);
  CHECK(eth0->counters.tx_errors == 0);
  CHECK(eth0->counters.tx_dropped == 7);
  CHECK(find(lines, "eth1.10"));
  CHECK(find(lines, "veth-cam1"));

  // The capacity is reused: a second parse into the same vector keeps it.
  const auto* data = lines.data();
  parse_net_dev(text, lines);
  CHECK(lines.data() == data);
}

TEST_CASE("net/dev: a read cut off mid-line loses that line only") {
  const std::string text = slurp(kFixtures + "/net-truncated/proc/net/dev");
  std::vector<NetDevLine> lines;
  CHECK(parse_net_dev(text, lines) == 1);
  CHECK(lines.size() == 8);  // lo .. eth1.10, before the cut in eth1.20
  CHECK_FALSE(find(lines, "eth1.20"));
  REQUIRE(find(lines, "eth1.10"));
  CHECK(find(lines, "eth1.10")->counters.tx_packets == 876543);
}

TEST_CASE("net/dev: garbled lines are skipped and counted, the good one kept") {
  const std::string text = slurp(kFixtures + "/net-broken/proc/net/dev");
  std::vector<NetDevLine> lines;
  // a letter, 15 numbers, a 17-character name, a '/', a repeated name, 2^64,
  // a line without a colon, a negative number
  CHECK(parse_net_dev(text, lines) == 8);
  REQUIRE(lines.size() == 1);
  CHECK(lines[0].name == "eth9");
  CHECK(lines[0].counters.rx_bytes == 1000);
  CHECK(lines[0].counters.tx_packets == 20);
}

TEST_CASE("net/dev: empty and header-only input") {
  std::vector<NetDevLine> lines;
  CHECK(parse_net_dev("", lines) == 0);
  CHECK(lines.empty());
  CHECK(parse_net_dev("Inter-|   Receive |  Transmit\n face |bytes|bytes\n", lines) == 0);
  CHECK(lines.empty());
  CHECK(parse_net_dev(std::string_view("\0\0\0", 3), lines) == 1);
}

TEST_CASE("interface names the agent publishes") {
  CHECK(valid_interface_name("eth0"));
  CHECK(valid_interface_name("br-lan"));
  CHECK(valid_interface_name("eth1.10"));
  CHECK(valid_interface_name("abcdefghijklmno"));  // 15
  CHECK_FALSE(valid_interface_name("abcdefghijklmnop"));
  CHECK_FALSE(valid_interface_name(""));
  CHECK_FALSE(valid_interface_name("a/b"));
  CHECK_FALSE(valid_interface_name("a b"));
  CHECK_FALSE(valid_interface_name("a\nb"));
  CHECK_FALSE(valid_interface_name("caf\xc3\xa9"));
  CHECK_FALSE(valid_interface_name(".."));
}

TEST_CASE("counter deltas: forward, 64-bit wrap, 32-bit wrap, reset") {
  CHECK(counter_delta(100, 250) == 150u);
  CHECK(counter_delta(7, 7) == 0u);
  // A 64-bit counter that wrapped: 1000 before the top, then 500.
  CHECK(counter_delta(UINT64_MAX - 999, 500) == 1500u);
  // A 32-bit driver counter that wrapped (a 32-bit kernel).
  CHECK(counter_delta(UINT32_MAX - 99, 50) == 150u);
  // Reset: back to (near) zero from low in the 32-bit range, or from a 64-bit value.
  CHECK_FALSE(counter_delta(1'000'000, 10));
  CHECK_FALSE(counter_delta(5'000'000'000ull, 1000));
  CHECK_FALSE(counter_delta(UINT64_MAX / 2, 0));
}

TEST_CASE("traffic deltas: bytes and packets both back is a reset") {
  CHECK(traffic_delta(1000, 10, 3000, 12) == 2000u);
  // Bytes wrapped at 32 bits while packets went on: a wrap.
  CHECK(traffic_delta(UINT32_MAX - 99, 5000, 900, 5010) == 1000u);
  // Both went back, even though the byte counter alone would pass for a wrap.
  CHECK_FALSE(traffic_delta(UINT32_MAX - 99, 5000, 900, 3));
  CHECK_FALSE(traffic_delta(123456789, 1000, 0, 0));
  // Packets back by a non-wrap while bytes still grew: not to be trusted.
  CHECK_FALSE(traffic_delta(100, 5'000'000, 200, 10));
}

TEST_CASE("link up: operational state and carrier") {
  CHECK(link_up("up\n", "1\n"));
  CHECK_FALSE(link_up("up\n", "0\n"));
  CHECK_FALSE(link_up("up\n", ""));    // carrier unreadable
  CHECK(link_up("unknown\n", "1\n"));  // tun, WireGuard, 4G modems
  CHECK_FALSE(link_up("unknown\n", "0\n"));
  CHECK_FALSE(link_up("down\n", ""));
  CHECK_FALSE(link_up("lowerlayerdown\n", "0\n"));
  CHECK_FALSE(link_up("dormant\n", "1\n"));
  CHECK_FALSE(link_up("", "1\n"));
  CHECK_FALSE(link_up("upx\n", "1\n"));
}

TEST_CASE("speed and ifindex files") {
  CHECK(parse_speed("1000\n") == 1000u);
  CHECK(parse_speed("10000") == 10000u);
  CHECK_FALSE(parse_speed("-1\n"));  // SPEED_UNKNOWN
  CHECK_FALSE(parse_speed("0\n"));
  CHECK_FALSE(parse_speed(""));
  CHECK_FALSE(parse_speed("fast\n"));
  CHECK_FALSE(parse_speed("99999999999\n"));
  CHECK(parse_ifindex("42\n") == 42u);
  CHECK_FALSE(parse_ifindex("0\n"));
  CHECK_FALSE(parse_ifindex("-3\n"));
  CHECK_FALSE(parse_ifindex("x"));
}

TEST_CASE("routes: the default route with the lowest metric is the uplink") {
  const std::string v4 = slurp(kFixtures + "/net-gateway/proc/net/route");
  const std::string v6 = slurp(kFixtures + "/net-gateway/proc/net/ipv6_route");
  RouteScan a = parse_ipv4_routes(v4);
  CHECK(a.skipped == 0);
  REQUIRE(a.best);
  CHECK(a.best->iface == "eth0");  // metric 100 beats wwan0's 700
  CHECK(a.best->metric == 100);
  RouteScan b = parse_ipv6_routes(v6);
  CHECK(b.skipped == 0);
  REQUIRE(b.best);
  CHECK(b.best->iface == "eth0");  // the catch-all unreachable route on lo is not one
  CHECK(uplink_interface(a, b) == "eth0");
  CHECK(uplink_interface(RouteScan{}, b) == "eth0");
  CHECK(uplink_interface(RouteScan{}, RouteScan{}).empty());

  // The 4G backup takes over when the fixed line's route is withdrawn.
  std::string backup;
  std::istringstream lines(v4);
  for (std::string line; std::getline(lines, line);)
    if (line.rfind("eth0\t00000000", 0) != 0) backup += line + "\n";
  RouteScan c = parse_ipv4_routes(backup);
  REQUIRE(c.best);
  CHECK(c.best->iface == "wwan0");
}

TEST_CASE("routes: this machine's own tables parse without a skipped line") {
  const std::string v4 = slurp("/proc/net/route");
  CHECK(parse_ipv4_routes(v4).skipped == 0);
  std::ifstream v6file("/proc/net/ipv6_route");
  if (v6file) {  // absent only when IPv6 is disabled in the kernel
    std::ostringstream v6;
    v6 << v6file.rdbuf();
    CHECK(parse_ipv6_routes(v6.str()).skipped == 0);
  }
}

TEST_CASE("routes: garbled lines are skipped and counted, a good default still found") {
  // The scans point into the text: keep it.
  const std::string v4 = slurp(kFixtures + "/net-broken/proc/net/route");
  const std::string v6 = slurp(kFixtures + "/net-broken/proc/net/ipv6_route");
  RouteScan a = parse_ipv4_routes(v4);
  CHECK(a.skipped == 3);
  REQUIRE(a.best);
  CHECK(a.best->iface == "eth9");
  CHECK(a.best->metric == 50);
  RouteScan b = parse_ipv6_routes(v6);
  CHECK(b.skipped == 3);  // short fields, a non-hex field, a last line cut off
  REQUIRE(b.best);
  CHECK(b.best->iface == "eth9");

  CHECK_FALSE(parse_ipv4_routes("").best);
  CHECK_FALSE(parse_ipv6_routes("garbage\n").best);
  // Unreachable default route: not the uplink.
  CHECK_FALSE(parse_ipv4_routes("*\t00000000\t00000000\t0201\t0\t0\t0\t00000000\t0\t0\t0\n").best);
  // A route that is not up.
  CHECK_FALSE(
      parse_ipv4_routes("eth0\t00000000\t010200C0\t0002\t0\t0\t0\t00000000\t0\t0\t0\n").best);
}

TEST_CASE("glob patterns for include and exclude") {
  CHECK(glob_match("*", "eth0"));
  CHECK(glob_match("eth*", "eth0"));
  CHECK(glob_match("eth*", "eth"));
  CHECK_FALSE(glob_match("eth*", "veth0"));
  CHECK(glob_match("*eth*", "veth0"));
  CHECK(glob_match("eth?", "eth1"));
  CHECK_FALSE(glob_match("eth?", "eth10"));
  CHECK(glob_match("eth[0-3]", "eth2"));
  CHECK_FALSE(glob_match("eth[0-3]", "eth4"));
  CHECK(glob_match("eth[!0-3]", "eth4"));
  CHECK(glob_match("wlan[01]", "wlan1"));
  CHECK(glob_match("lo", "lo"));
  CHECK_FALSE(glob_match("lo", "lo0"));
  CHECK(glob_match("eth1.*", "eth1.10"));
  CHECK(glob_match("a[b", "a[b"));  // no closing ']': literal
  CHECK(glob_match("*-lan", "br-lan"));
  CHECK(glob_match("**a*b*", "xxaxxb"));
  CHECK_FALSE(glob_match("", "eth0"));
  CHECK(glob_match("", ""));
}
