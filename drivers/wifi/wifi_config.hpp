// [sources.wifi]: the access point's radios and stations over nl80211. Runs
// when its table is present (and does not say `enabled = false`). Its
// settings, their reader, and the driver made of them (registered in
// registry.cpp).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "config.hpp"
#include "driver.hpp"
#include "section.hpp"

namespace classroom::drivers::wifi {

struct Settings {
  std::vector<std::string> interfaces;  // empty: every wireless interface
  int weak_signal = -75;                // dBm: a station under it is weak
  bool operator==(const Settings&) const = default;
};

std::shared_ptr<const config::SourceSettings> read_settings(config::Section& s, bool enabled);
std::unique_ptr<Driver> make(const config::Config& cfg, const config::Source& source);

}  // namespace classroom::drivers::wifi
