#include "wifi/nl80211.hpp"

#include <linux/genetlink.h>
#include <linux/nl80211.h>
#include <algorithm>

namespace classroom::drivers::wifi {
namespace {

using netlink::AttrTable;
using netlink::Bytes;
using netlink::get;

Bytes genl_attributes(const netlink::Message& message) {
  return netlink::attributes_after(message, sizeof(genlmsghdr));
}

// The bitrate in a nested rate info: the 32-bit one when present (rates over
// 6.5 Gbit/s do not fit the 16-bit one), else the 16-bit one.
std::optional<uint32_t> bitrate(Bytes nested, bool& truncated) {
  AttrTable<NL80211_RATE_INFO_BITRATE32 + 1> rate(nested);
  truncated = truncated || rate.truncated();
  if (auto v = get<uint32_t>(rate[NL80211_RATE_INFO_BITRATE32])) return *v;
  if (auto v = get<uint16_t>(rate[NL80211_RATE_INFO_BITRATE])) return *v;
  return std::nullopt;
}

}  // namespace

std::string_view InterfaceInfo::name_view() const {
  return std::string_view(name.data(), std::find(name.begin(), name.end(), '\0') - name.begin());
}

std::optional<InterfaceInfo> parse_interface(const netlink::Message& message) {
  AttrTable<NL80211_ATTR_CHANNEL_WIDTH + 1> attrs(genl_attributes(message));
  InterfaceInfo info;
  info.truncated = attrs.truncated();
  auto ifindex = get<uint32_t>(attrs[NL80211_ATTR_IFINDEX]);
  std::string_view name = netlink::get_string(attrs[NL80211_ATTR_IFNAME]);
  if (!ifindex || name.empty() || name.size() >= info.name.size()) return std::nullopt;
  info.ifindex = *ifindex;
  std::copy(name.begin(), name.end(), info.name.begin());
  info.iftype = get<uint32_t>(attrs[NL80211_ATTR_IFTYPE]);
  info.frequency_mhz = get<uint32_t>(attrs[NL80211_ATTR_WIPHY_FREQ]);
  info.width = get<uint32_t>(attrs[NL80211_ATTR_CHANNEL_WIDTH]);
  if (auto p = get<uint32_t>(attrs[NL80211_ATTR_WIPHY_TX_POWER_LEVEL]))
    info.tx_power_mbm = static_cast<int32_t>(*p);
  return info;
}

std::optional<StationInfo> parse_station(const netlink::Message& message) {
  AttrTable<NL80211_ATTR_STA_INFO + 1> attrs(genl_attributes(message));
  Bytes mac = attrs[NL80211_ATTR_MAC];
  if (mac.size() != 6) return std::nullopt;
  StationInfo s;
  s.truncated = attrs.truncated();
  std::copy(mac.begin(), mac.end(), s.mac.begin());
  if (!attrs.has(NL80211_ATTR_STA_INFO)) return s;
  AttrTable<NL80211_STA_INFO_RX_BITRATE + 1> info(attrs[NL80211_ATTR_STA_INFO]);
  s.truncated = s.truncated || info.truncated();
  if (auto v = get<uint8_t>(info[NL80211_STA_INFO_SIGNAL])) s.signal_dbm = static_cast<int8_t>(*v);
  if (info.has(NL80211_STA_INFO_TX_BITRATE))
    s.tx_bitrate_100kbps = bitrate(info[NL80211_STA_INFO_TX_BITRATE], s.truncated);
  if (info.has(NL80211_STA_INFO_RX_BITRATE))
    s.rx_bitrate_100kbps = bitrate(info[NL80211_STA_INFO_RX_BITRATE], s.truncated);
  s.tx_retries = get<uint32_t>(info[NL80211_STA_INFO_TX_RETRIES]);
  s.tx_failed = get<uint32_t>(info[NL80211_STA_INFO_TX_FAILED]);
  return s;
}

std::optional<SurveyInfo> parse_survey(const netlink::Message& message) {
  AttrTable<NL80211_ATTR_SURVEY_INFO + 1> attrs(genl_attributes(message));
  if (!attrs.has(NL80211_ATTR_SURVEY_INFO)) return std::nullopt;
  AttrTable<NL80211_SURVEY_INFO_TIME_BUSY + 1> info(attrs[NL80211_ATTR_SURVEY_INFO]);
  SurveyInfo s;
  s.truncated = attrs.truncated() || info.truncated();
  s.frequency_mhz = get<uint32_t>(info[NL80211_SURVEY_INFO_FREQUENCY]);
  if (auto v = get<uint8_t>(info[NL80211_SURVEY_INFO_NOISE])) s.noise_dbm = static_cast<int8_t>(*v);
  s.in_use = info.has(NL80211_SURVEY_INFO_IN_USE);
  // TIME and TIME_BUSY (u64, ms) share their numbers with the older
  // CHANNEL_TIME and CHANNEL_TIME_BUSY.
  s.active_ms = get<uint64_t>(info[NL80211_SURVEY_INFO_TIME]);
  s.busy_ms = get<uint64_t>(info[NL80211_SURVEY_INFO_TIME_BUSY]);
  return s;
}

std::optional<uint32_t> channel_of(uint32_t f) {
  if (f == 2484) return 14;
  if (f >= 2412 && f < 2484) return (f - 2407) / 5;
  if (f == 5935) return 2;  // the 6 GHz band's odd one out
  if (f > 5950 && f <= 7115) return (f - 5950) / 5;
  if (f >= 4910 && f <= 4980) return (f - 4000) / 5;
  if (f >= 5150 && f < 5950) return (f - 5000) / 5;
  if (f >= 58320 && f <= 70200) return (f - 56160) / 2160;
  return std::nullopt;
}

std::optional<uint32_t> width_mhz(uint32_t w) {
  switch (w) {
    case NL80211_CHAN_WIDTH_20_NOHT:
    case NL80211_CHAN_WIDTH_20:
      return 20;
    case NL80211_CHAN_WIDTH_40:
      return 40;
    case NL80211_CHAN_WIDTH_80:
      return 80;
    case NL80211_CHAN_WIDTH_80P80:
    case NL80211_CHAN_WIDTH_160:
      return 160;
    case NL80211_CHAN_WIDTH_5:
      return 5;
    case NL80211_CHAN_WIDTH_10:
      return 10;
    case NL80211_CHAN_WIDTH_320:
      return 320;
    default:
      return std::nullopt;
  }
}

}  // namespace classroom::drivers::wifi
