// The Wi-Fi driver on synthetic nl80211 replies (tests/fixtures/netlink/,
// built by make_fixtures.py with the kernel's nl80211.h layout).
#include <catch2/catch.hpp>
#include <type_traits>

#include "../map_sink.hpp"
#include "../netlink_replay.hpp"
#include "wifi/nl80211.hpp"
#include "wifi/wifi_driver.hpp"

using namespace classroom::drivers;
using namespace classroom::drivers::wifi;

// Every option is a setting: make() hands them over whole.
static_assert(std::is_same_v<Settings, Options>);

namespace {

// Every message of a fixture, parsed with `parse`.
template <typename Parse>
auto parse_all(const std::string& name, Parse parse) {
  std::vector<uint8_t> bytes = read_fixture(name);
  netlink::MessageReader reader(bytes);
  netlink::Message m;
  std::vector<typename decltype(parse(m))::value_type> out;
  while (reader.next(m))
    if (auto v = parse(m)) out.push_back(*v);
  return std::make_pair(out, std::move(bytes));
}

struct Rig {
  ReplayTransport* t = nullptr;
  std::unique_ptr<WifiDriver> driver;
  MapSink sink;
  explicit Rig(std::vector<std::string> interfaces = {"wlan0"}) {
    auto transport = std::make_unique<ReplayTransport>();
    t = transport.get();
    Options o;
    o.interfaces = std::move(interfaces);
    driver = std::make_unique<WifiDriver>(o, std::move(transport));
  }
};

}  // namespace

TEST_CASE("wifi: interface info from nl80211", "[wifi]") {
  auto [ifaces, bytes] = parse_all("nl80211-interfaces.bin", parse_interface);
  REQUIRE(ifaces.size() == 2);
  CHECK(ifaces[0].ifindex == 3);
  CHECK(ifaces[0].name_view() == "wlan0");
  CHECK(ifaces[0].frequency_mhz == 5180u);
  CHECK(ifaces[0].width == 3u);  // NL80211_CHAN_WIDTH_80
  CHECK(ifaces[0].tx_power_mbm == 2000);
  CHECK_FALSE(ifaces[0].truncated);
  CHECK(ifaces[1].name_view() == "wlan1");
  CHECK_FALSE(ifaces[1].frequency_mhz.has_value());  // not connected
  CHECK_FALSE(ifaces[1].width.has_value());
}

TEST_CASE("wifi: stations from a station dump, missing attributes stay empty", "[wifi]") {
  auto [stations, bytes] = parse_all("nl80211-stations.bin", parse_station);
  REQUIRE(stations.size() == 6);
  CHECK(stations[0].signal_dbm == -40);
  CHECK(stations[0].tx_bitrate_100kbps == 8667u);
  CHECK(stations[0].rx_bitrate_100kbps == 240u);
  CHECK(stations[0].tx_retries == 10u);
  CHECK(stations[0].tx_failed == 1u);
  CHECK(stations[2].tx_bitrate_100kbps == 65u);     // the 16-bit rate
  CHECK(stations[3].tx_bitrate_100kbps == 12010u);  // 32-bit only
  CHECK(stations[4].signal_dbm == -78);
  CHECK_FALSE(stations[4].tx_bitrate_100kbps.has_value());
  CHECK_FALSE(stations[4].tx_retries.has_value());
  CHECK_FALSE(stations[5].signal_dbm.has_value());  // no STA_INFO at all
  for (const auto& s : stations) CHECK_FALSE(s.truncated);
}

TEST_CASE("wifi: a truncated station attribute loses only itself", "[wifi]") {
  auto [stations, bytes] = parse_all("nl80211-stations-truncated.bin", parse_station);
  REQUIRE(stations.size() == 2);
  CHECK_FALSE(stations[0].truncated);
  CHECK(stations[1].truncated);
  CHECK(stations[1].signal_dbm == -70);
  CHECK(stations[1].tx_retries == 6u);
  CHECK_FALSE(stations[1].tx_failed.has_value());  // the cut one
}

TEST_CASE("wifi: the survey of the channel in use", "[wifi]") {
  auto [surveys, bytes] = parse_all("nl80211-survey.bin", parse_survey);
  REQUIRE(surveys.size() == 3);
  CHECK_FALSE(surveys[0].in_use);
  CHECK(surveys[1].in_use);
  CHECK(surveys[1].frequency_mhz == 5180u);
  CHECK(surveys[1].noise_dbm == -95);
  CHECK(surveys[1].active_ms == 10000u);
  CHECK(surveys[1].busy_ms == 2500u);
  CHECK_FALSE(surveys[2].noise_dbm.has_value());
}

TEST_CASE("wifi: channels and widths", "[wifi]") {
  CHECK(channel_of(2412) == 1u);
  CHECK(channel_of(2437) == 6u);
  CHECK(channel_of(2484) == 14u);
  CHECK(channel_of(5180) == 36u);
  CHECK(channel_of(5825) == 165u);
  CHECK(channel_of(5955) == 1u);  // 6 GHz
  CHECK(channel_of(5935) == 2u);
  CHECK(channel_of(60480) == 2u);
  CHECK_FALSE(channel_of(1000).has_value());
  CHECK(width_mhz(0) == 20u);
  CHECK(width_mhz(1) == 20u);
  CHECK(width_mhz(3) == 80u);
  CHECK(width_mhz(5) == 160u);
  CHECK(width_mhz(13) == 320u);
  CHECK_FALSE(width_mhz(99).has_value());
}

TEST_CASE("wifi: the driver publishes load and signal spread, counters survive stations leaving",
          "[wifi]") {
  Rig rig;
  rig.t->script = {read_fixture("ctrl-nl80211.bin"), read_fixture("nl80211-interfaces.bin"),
                   read_fixture("nl80211-stations.bin"), read_fixture("nl80211-survey.bin")};
  CollectResult r = rig.driver->collect(rig.sink);
  CHECK(r.ok);
  CHECK(r.warning.empty());
  CHECK(r.note == "measuring wireless interface wlan0");  // once: this collection only
  const MapSink& s = rig.sink;
  CHECK(s.get<uint64_t>("WiFi/wlan0/Stations") == 6);
  CHECK(s.get<uint64_t>("WiFi/wlan0/Frequency") == 5180);
  CHECK(s.get<uint64_t>("WiFi/wlan0/Channel") == 36);
  CHECK(s.get<uint64_t>("WiFi/wlan0/Channel Width") == 80);
  CHECK(s.get<float>("WiFi/wlan0/Tx Power") == Approx(20.0));
  CHECK(s.get<int64_t>("WiFi/wlan0/Noise") == -95);
  CHECK_FALSE(s.measured("WiFi/wlan0/Channel Busy"));  // needs two samples
  CHECK(s.get<float>("WiFi/wlan0/Signal Min") == -81);
  CHECK(s.get<float>("WiFi/wlan0/Signal P10") == -81);
  CHECK(s.get<float>("WiFi/wlan0/Signal Median") == -62);
  CHECK(s.get<uint64_t>("WiFi/wlan0/Weak Stations") == 2);
  CHECK(s.get<float>("WiFi/wlan0/Tx Bitrate Median") == Approx(650.0));  // (433.3 + 866.7) / 2
  CHECK(s.get<float>("WiFi/wlan0/Rx Bitrate Median") == Approx(39.0));   // (24 + 54) / 2
  CHECK(s.get<uint64_t>("WiFi/wlan0/Tx Retries") == 100);
  CHECK(s.get<uint64_t>("WiFi/wlan0/Tx Failed") == 10);
  CHECK_FALSE(s.has("WiFi/wlan1/Stations"));  // not configured
  CHECK(s.entries.at(s.ids.at("WiFi/wlan0/Signal Min")).unit == "dBm");

  // The family is known now: the next cycle starts with the interface dump.
  rig.t->script = {read_fixture("nl80211-interfaces.bin"),
                   read_fixture("nl80211-stations-later.bin"),
                   read_fixture("nl80211-survey-later.bin")};
  rig.t->requests = 0;
  r = rig.driver->collect(rig.sink);
  CHECK(r.ok);
  CHECK(r.note.empty());
  CHECK(s.get<uint64_t>("WiFi/wlan0/Stations") == 4);
  CHECK(s.get<float>("WiFi/wlan0/Channel Busy") == Approx(50.0));
  CHECK(s.get<int64_t>("WiFi/wlan0/Noise") == -94);
  CHECK(s.get<float>("WiFi/wlan0/Signal Min") == -80);
  CHECK(s.get<float>("WiFi/wlan0/Signal Median") == -58);
  CHECK(s.get<uint64_t>("WiFi/wlan0/Weak Stations") == 1);
  // Station 1 left (its 10 stay), 2: +5, 3 re-associated: +7, 4: +1, 7 new: +3.
  CHECK(s.get<uint64_t>("WiFi/wlan0/Tx Retries") == 116);
  CHECK(s.get<uint64_t>("WiFi/wlan0/Tx Failed") == 13);

  // The same dump again: nothing grew, nothing is counted twice.
  rig.t->requests = 0;
  rig.driver->collect(rig.sink);
  CHECK(s.get<uint64_t>("WiFi/wlan0/Tx Retries") == 116);
  CHECK(s.get<uint64_t>("WiFi/wlan0/Tx Failed") == 13);
}

TEST_CASE("wifi: every wireless interface when none are listed", "[wifi]") {
  Rig rig(std::vector<std::string>{});
  std::vector<uint8_t> empty_dump(read_fixture("nl80211-interfaces.bin"));
  rig.t->script = {read_fixture("ctrl-nl80211.bin"), read_fixture("nl80211-interfaces.bin"),
                   read_fixture("nl80211-stations.bin"), read_fixture("nl80211-survey.bin"),
                   // wlan1: no stations (the DONE of an empty dump), no survey.
                   std::vector<uint8_t>(empty_dump.end() - 20, empty_dump.end()),
                   std::vector<uint8_t>(empty_dump.end() - 20, empty_dump.end())};
  CollectResult r = rig.driver->collect(rig.sink);
  CHECK(r.ok);
  CHECK(r.note == "measuring wireless interface wlan0, wlan1");
  CHECK(rig.sink.get<uint64_t>("WiFi/wlan0/Stations") == 6);
  CHECK(rig.sink.get<uint64_t>("WiFi/wlan1/Stations") == 0);
  CHECK_FALSE(rig.sink.measured("WiFi/wlan1/Frequency"));
  CHECK_FALSE(rig.sink.measured("WiFi/wlan1/Signal Median"));
}

TEST_CASE("wifi: a truncated reply is a warning, the rest counts", "[wifi]") {
  Rig rig;
  rig.t->script = {read_fixture("ctrl-nl80211.bin"), read_fixture("nl80211-interfaces.bin"),
                   read_fixture("nl80211-stations-truncated.bin"),
                   read_fixture("nl80211-survey.bin")};
  CollectResult r = rig.driver->collect(rig.sink);
  CHECK(r.ok);
  CHECK_THAT(r.warning, Catch::Contains("cut-short station reply of wlan0"));
  CHECK(rig.sink.get<uint64_t>("WiFi/wlan0/Stations") == 2);
  CHECK(rig.sink.get<uint64_t>("WiFi/wlan0/Tx Retries") == 11);
  CHECK(rig.sink.get<uint64_t>("WiFi/wlan0/Tx Failed") == 0);
  // No station address in what a technician reads.
  CHECK_THAT(r.warning, !Catch::Contains("02:aa"));
}

TEST_CASE("wifi: without nl80211 the driver says so in the same words and publishes nothing",
          "[wifi]") {
  Rig rig;
  rig.t->script = {read_fixture("ctrl-enoent.bin")};
  std::string note;
  for (int i = 0; i < 3; ++i) {
    CollectResult r = rig.driver->collect(rig.sink);
    CHECK(r.ok);
    CHECK(r.warning.empty());
    if (i > 0) CHECK(r.note == note);  // the scheduler logs it once
    note = r.note;
  }
  CHECK(rig.sink.entries.empty());
  CHECK_THAT(note, Catch::StartsWith("no wireless interface: the kernel has no nl80211"));
}

TEST_CASE("wifi: without a wireless interface the driver says so in the same words", "[wifi]") {
  Rig rig(std::vector<std::string>{});
  std::vector<uint8_t> dump = read_fixture("nl80211-interfaces.bin");
  rig.t->script = {read_fixture("ctrl-nl80211.bin"),
                   std::vector<uint8_t>(dump.end() - 20, dump.end())};
  CollectResult first = rig.driver->collect(rig.sink);
  CHECK(first.ok);
  CHECK(first.note == "no wireless interface; no Wi-Fi metrics until one appears");
  rig.t->script = {std::vector<uint8_t>(dump.end() - 20, dump.end())};
  rig.t->requests = 0;
  for (int i = 0; i < 2; ++i) {
    CollectResult r = rig.driver->collect(rig.sink);
    CHECK(r.ok);
    CHECK(r.note == first.note);
  }
  CHECK(rig.sink.entries.empty());
}
