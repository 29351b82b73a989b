// What the LAN driver reads from rtnetlink replies: one neighbour entry
// (RTM_NEWNEIGH) or one route (RTM_NEWROUTE) per message. Pure functions,
// tested on messages built byte by byte as the kernel builds them.
#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include "netlink/netlink.hpp"

namespace classroom::drivers::lan {

struct Neighbour {
  uint32_t ifindex = 0;
  uint8_t family = 0;                // AF_INET or AF_INET6
  uint16_t state = 0;                // NUD_* bits
  std::array<uint8_t, 20> lladdr{};  // link-layer address: stays inside the agent
  uint8_t lladdr_len = 0;
  bool truncated = false;
};
// An IPv4 or IPv6 neighbour entry with a link-layer address; nullopt for
// anything else (another family, a proxy entry, no address yet).
std::optional<Neighbour> parse_neighbour(const netlink::Message& message);

// A device in the room: an entry the kernel has seen alive recently
// (REACHABLE, STALE, DELAY, PROBE). PERMANENT (static) and NOARP entries,
// INCOMPLETE and FAILED ones are not devices.
bool counts_as_device(uint16_t state);
bool is_reachable(uint16_t state);

// The outgoing interface of a default route (0.0.0.0/0 or ::/0) of the main
// table; nullopt for any other route.
std::optional<uint32_t> parse_default_route(const netlink::Message& message);

}  // namespace classroom::drivers::lan
