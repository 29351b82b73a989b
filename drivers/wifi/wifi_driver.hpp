// Wi-Fi load and signal spread per wireless interface, over nl80211: the
// interface's channel and power, the survey of the channel in use, and the
// associated stations' signal, bitrates and retry counters. Station addresses
// stay inside the agent (they key the counters); only counts and
// distributions are published.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "driver.hpp"
#include "netlink/netlink.hpp"
#include "wifi/nl80211.hpp"

namespace classroom::drivers::wifi {

// What [sources.wifi] sets (read in wifi_config.cpp).
struct Settings {
  std::vector<std::string> interfaces;  // empty: every wireless interface
  int weak_signal = -75;                // dBm: a station under it counts as weak
  bool operator==(const Settings&) const = default;
};

// Every option is a setting (the transport is the constructor's); an option
// that is not one would make this a struct deriving from Settings.
using Options = Settings;

class WifiDriver final : public Driver {
 public:
  // `transport`: the generic netlink socket; nullptr opens the kernel's.
  explicit WifiDriver(Options options, std::unique_ptr<netlink::Transport> transport = nullptr);
  CollectResult collect(MetricSink& sink) override;

 private:
  struct Counters {
    std::array<uint8_t, 6> mac{};
    std::optional<uint32_t> retries, failed;
  };
  struct Iface {
    uint32_t ifindex = 0;
    std::string name;
    bool seen = false;  // in this cycle's interface dump
    MetricId stations = 0, frequency = 0, channel = 0, width = 0, busy = 0, noise = 0, tx_power = 0,
             signal_min = 0, signal_p10 = 0, signal_median = 0, tx_rate = 0, rx_rate = 0, weak = 0,
             retries = 0, failed = 0;
    // Per-station counters of the last sample, sorted by address.
    std::vector<Counters> last;
    bool have_baseline = false;
    uint64_t retries_total = 0, failed_total = 0;
    std::optional<uint64_t> last_active_ms, last_busy_ms;
    uint32_t last_survey_mhz = 0;
  };

  bool wanted(std::string_view name) const;
  Iface& iface_for(const InterfaceInfo& info, MetricSink& sink);
  void sample(Iface& iface, const InterfaceInfo& info, MetricSink& sink);
  void sample_stations(Iface& iface, MetricSink& sink);
  void sum_retries(Iface& iface, MetricSink& sink);
  // The survey of the channel in use: noise, and busy time since the last sample.
  void sample_survey(Iface& iface, MetricSink& sink);
  void note(const char* what, const Iface& iface);

  Options options_;
  std::unique_ptr<netlink::Client> client_;
  int open_error_ = 0;
  int family_ = 0;
  std::vector<InterfaceInfo> found_;
  std::vector<std::unique_ptr<Iface>> ifaces_;
  // Scratch space reused every cycle (no allocation once warm).
  std::vector<Counters> current_;
  std::vector<float> signals_, tx_rates_, rx_rates_;
  std::string problems_;
  std::string started_;  // interfaces first measured in this collection
};

}  // namespace classroom::drivers::wifi
