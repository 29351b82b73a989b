#include "lan/neighbours.hpp"

#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>
#include <algorithm>

namespace classroom::drivers::lan {

std::optional<Neighbour> parse_neighbour(const netlink::Message& message) {
  if (message.type != RTM_NEWNEIGH) return std::nullopt;
  auto h = netlink::family_header<ndmsg>(message);
  if (!h || (h->ndm_family != AF_INET && h->ndm_family != AF_INET6)) return std::nullopt;
  if (h->ndm_flags & NTF_PROXY) return std::nullopt;
  netlink::AttrTable<NDA_LLADDR + 1> attrs(netlink::attributes_after(message, sizeof(ndmsg)));
  netlink::Bytes ll = attrs[NDA_LLADDR];
  Neighbour n;
  n.truncated = attrs.truncated();
  if (ll.empty() || ll.size() > n.lladdr.size()) return std::nullopt;
  n.ifindex = static_cast<uint32_t>(h->ndm_ifindex);
  n.family = h->ndm_family;
  n.state = h->ndm_state;
  std::copy(ll.begin(), ll.end(), n.lladdr.begin());
  n.lladdr_len = static_cast<uint8_t>(ll.size());
  return n;
}

bool counts_as_device(uint16_t state) {
  return (state & (NUD_REACHABLE | NUD_STALE | NUD_DELAY | NUD_PROBE)) != 0;
}

bool is_reachable(uint16_t state) {
  return (state & NUD_REACHABLE) != 0;
}

std::optional<uint32_t> parse_default_route(const netlink::Message& message) {
  if (message.type != RTM_NEWROUTE) return std::nullopt;
  auto h = netlink::family_header<rtmsg>(message);
  if (!h || h->rtm_dst_len != 0 || h->rtm_type != RTN_UNICAST) return std::nullopt;
  if (h->rtm_family != AF_INET && h->rtm_family != AF_INET6) return std::nullopt;
  netlink::AttrTable<RTA_TABLE + 1> attrs(netlink::attributes_after(message, sizeof(rtmsg)));
  uint32_t table = h->rtm_table;
  if (auto t = netlink::get<uint32_t>(attrs[RTA_TABLE])) table = *t;
  if (table != RT_TABLE_MAIN) return std::nullopt;
  auto oif = netlink::get<uint32_t>(attrs[RTA_OIF]);
  if (!oif || *oif == 0) return std::nullopt;
  return *oif;
}

}  // namespace classroom::drivers::lan
