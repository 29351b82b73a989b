// Any bytes as the content of each file the network and nat drivers read:
// /proc/net/dev, route, ipv6_route, the sysfs one-value files, the conntrack
// counters; and as include/exclude patterns.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "nat/nat_driver.hpp"
#include "network/netfs.hpp"

using namespace classroom::drivers;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  static std::vector<network::NetDevLine> lines;
  const size_t skipped = network::parse_net_dev(text, lines);
  for (const network::NetDevLine& l : lines) {
    // Every name handed out is one the agent may publish, inside the text.
    if (!network::valid_interface_name(l.name)) __builtin_trap();
    if (l.name.data() < text.data() || l.name.data() + l.name.size() > text.data() + text.size())
      __builtin_trap();
  }
  if (skipped > size) __builtin_trap();
  for (auto scan : {network::parse_ipv4_routes(text), network::parse_ipv6_routes(text)}) {
    if (scan.best && !network::valid_interface_name(scan.best->iface)) __builtin_trap();
  }
  network::link_up(text, text);
  network::parse_speed(text);
  network::parse_ifindex(text);
  nat::parse_sysctl_number(text);
  // The first half as a pattern, the rest as a name.
  network::glob_match(text.substr(0, size / 2), text.substr(size / 2));
  if (size >= 16) {
    uint64_t a, b;
    __builtin_memcpy(&a, data, 8);
    __builtin_memcpy(&b, data + 8, 8);
    if (auto d = network::counter_delta(a, b); d && b >= a && *d != b - a) __builtin_trap();
  }
  return 0;
}
