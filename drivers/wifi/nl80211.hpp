// What the Wi-Fi driver reads from nl80211 replies: pure functions over one
// reply message each (interface, station, survey), tested on messages built
// byte by byte as the kernel builds them. Anything absent stays empty.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

#include "netlink/netlink.hpp"

namespace classroom::drivers::wifi {

// NL80211_CMD_NEW_INTERFACE (the reply to GET_INTERFACE).
struct InterfaceInfo {
  uint32_t ifindex = 0;
  std::array<char, 16> name{};  // IFNAMSIZ, NUL-terminated
  std::optional<uint32_t> iftype;
  std::optional<uint32_t> frequency_mhz;  // only while the interface is operating
  std::optional<uint32_t> width;          // enum nl80211_chan_width
  std::optional<int32_t> tx_power_mbm;    // 1/100 dBm
  bool truncated = false;                 // an attribute was cut short
  std::string_view name_view() const;
};
// nullopt when the message has no interface index or name.
std::optional<InterfaceInfo> parse_interface(const netlink::Message& message);

// NL80211_CMD_NEW_STATION (one station of a GET_STATION dump).
struct StationInfo {
  std::array<uint8_t, 6> mac{};  // stays inside the agent: never published or logged
  std::optional<int8_t> signal_dbm;
  std::optional<uint32_t> tx_bitrate_100kbps;
  std::optional<uint32_t> rx_bitrate_100kbps;
  std::optional<uint32_t> tx_retries;
  std::optional<uint32_t> tx_failed;
  bool truncated = false;
};
// nullopt when the message has no station address.
std::optional<StationInfo> parse_station(const netlink::Message& message);

// NL80211_CMD_NEW_SURVEY_RESULTS (one channel of a GET_SURVEY dump).
struct SurveyInfo {
  std::optional<uint32_t> frequency_mhz;
  std::optional<int8_t> noise_dbm;
  bool in_use = false;
  std::optional<uint64_t> active_ms;  // time the radio was on this channel
  std::optional<uint64_t> busy_ms;    // of which the channel was sensed busy
  bool truncated = false;
};
// nullopt when the message has no survey info.
std::optional<SurveyInfo> parse_survey(const netlink::Message& message);

// IEEE 802.11 channel number of a centre frequency (2.4, 5, 6 and 60 GHz bands).
std::optional<uint32_t> channel_of(uint32_t frequency_mhz);
// MHz of an nl80211_chan_width value (20 for both 20 MHz kinds).
std::optional<uint32_t> width_mhz(uint32_t chan_width);

}  // namespace classroom::drivers::wifi
