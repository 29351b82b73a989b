// Pure parsers for the kernel's view of network interfaces and routes:
// <proc>/net/dev, <proc>/net/route, <proc>/net/ipv6_route and the one-value
// files of <sys>/class/net/<if>/. Each takes the file's text; a malformed line
// costs only itself. Tested on fixture trees in tests/fixtures/net-*.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace classroom::drivers::network {

// The counters of one interface as /proc/net/dev prints them. The kernel
// prints 64-bit values (rtnl_link_stats64) on every architecture, but a driver
// may keep 32-bit counters underneath (unsigned long on a 32-bit kernel).
struct LinkCounters {
  uint64_t rx_bytes = 0, rx_packets = 0, rx_errors = 0, rx_dropped = 0;
  uint64_t tx_bytes = 0, tx_packets = 0, tx_errors = 0, tx_dropped = 0;
};

struct NetDevLine {
  std::string_view name;  // points into the parsed text
  LinkCounters counters;
};

// A name the agent can publish: 1 to 15 bytes (IFNAMSIZ - 1), printable ASCII,
// no '/' (the metric level separator), no space or ':'.
bool valid_interface_name(std::string_view name);

// Parses /proc/net/dev into `out` (cleared first; its capacity is reused, so a
// warm parse allocates nothing). Returns how many lines it skipped: a line with
// fewer than 16 numbers, a number that is not one, a line cut off without its
// newline (a truncated read), or a name that valid_interface_name() refuses.
// The two header lines are recognised and not counted.
size_t parse_net_dev(std::string_view text, std::vector<NetDevLine>& out);

// How much a counter moved between two readings. A counter that went backwards
// has either wrapped or been reset. It is taken as wrapped when the modular
// difference is under half the counter's range: 64 bits when `before` already
// needed more than 32, else 32 bits (a 32-bit driver counter). Otherwise it was
// reset: nullopt, and the caller restarts from `after`.
std::optional<uint64_t> counter_delta(uint64_t before, uint64_t after);

// Bytes moved in one direction. A reset zeroes bytes and packets together, a
// wrap moves only the byte counter (packets wrap thousands of times later), so
// both going backwards is a reset whatever the modular arithmetic says.
std::optional<uint64_t> traffic_delta(uint64_t bytes_before, uint64_t packets_before,
                                      uint64_t bytes_after, uint64_t packets_after);

// Link Up from <sys>/class/net/<if>/operstate and carrier (their text; empty
// when unreadable, as carrier is on an interface that is administratively
// down). Up means operstate "up" with carrier 1, or operstate "unknown" with
// carrier 1: drivers that do not track an operational state (tun, WireGuard,
// some 4G modems) say "unknown", and carrier is then the kernel's only word.
bool link_up(std::string_view operstate, std::string_view carrier);

// <sys>/class/net/<if>/speed in Mbit/s; nullopt for -1 (unknown), 0, garbage.
std::optional<uint32_t> parse_speed(std::string_view text);

// <sys>/class/net/<if>/ifindex: the kernel's identity of the interface, kept
// across a rename and new when an interface is created again.
std::optional<uint32_t> parse_ifindex(std::string_view text);

struct DefaultRoute {
  std::string_view iface;  // points into the parsed text
  uint32_t metric = 0;
};
struct RouteScan {
  std::optional<DefaultRoute> best;  // the usable default route with the lowest metric
  size_t skipped = 0;                // lines that could not be read
};

// /proc/net/route: the IPv4 default route (destination and mask 0, flag RTF_UP,
// not RTF_REJECT) with the lowest metric.
RouteScan parse_ipv4_routes(std::string_view text);
// /proc/net/ipv6_route: the IPv6 default route (::/0, RTF_UP, not RTF_REJECT,
// not through "lo", where the kernel parks its catch-all unreachable route).
RouteScan parse_ipv6_routes(std::string_view text);

// The interface that carries traffic to the Internet: the IPv4 default route's,
// else the IPv6 one's, else empty.
std::string_view uplink_interface(const RouteScan& v4, const RouteScan& v6);

// Shell-style pattern: '*' any run, '?' one character, "[abc]", "[a-z]",
// "[!a-z]" a set. A '[' without its ']' matches itself.
bool glob_match(std::string_view pattern, std::string_view name);

// The first line of a sysfs/proc one-value file, without trailing white space.
std::string_view first_line(std::string_view text);

}  // namespace classroom::drivers::network
