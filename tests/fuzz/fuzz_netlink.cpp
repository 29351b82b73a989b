// Any bytes as a netlink reply: the message and attribute walkers, and every
// nl80211 and rtnetlink parser the Wi-Fi and LAN drivers use on each message.
#include <cstddef>
#include <cstdint>

#include "lan/neighbours.hpp"
#include "netlink/netlink.hpp"
#include "wifi/nl80211.hpp"

using namespace classroom::drivers;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  netlink::MessageReader reader(netlink::Bytes(data, size));
  netlink::Message m;
  while (reader.next(m)) {
    if (m.payload.data() < data || m.payload.data() + m.payload.size() > data + size)
      __builtin_trap();
    if (auto i = wifi::parse_interface(m)) {
      if (i->name_view().size() >= i->name.size()) __builtin_trap();
      if (i->frequency_mhz) wifi::channel_of(*i->frequency_mhz);
      if (i->width) wifi::width_mhz(*i->width);
    }
    wifi::parse_station(m);
    wifi::parse_survey(m);
    if (auto n = lan::parse_neighbour(m); n && n->lladdr_len > n->lladdr.size()) __builtin_trap();
    lan::parse_default_route(m);
    netlink::AttrReader attrs(m.payload);
    netlink::Attr a;
    while (attrs.next(a))
      if (a.payload.data() + a.payload.size() > data + size) __builtin_trap();
  }
  return 0;
}
