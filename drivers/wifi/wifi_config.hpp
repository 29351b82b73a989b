// [sources.wifi]: the access point's radios and stations over nl80211. Runs
// when its table is present (and does not say `enabled = false`). The reader
// of its settings, and the driver made of them (registered in registry.cpp).
// `Settings` is in wifi_driver.hpp: they are the driver's whole `Options`.
#pragma once

#include <memory>

#include "config.hpp"
#include "driver.hpp"
#include "section.hpp"
#include "wifi/wifi_driver.hpp"

namespace classroom::drivers::wifi {

std::shared_ptr<const config::SourceSettings> read_settings(config::Section& s, bool enabled);
std::unique_ptr<Driver> make(const config::Config& cfg, const config::Source& source);

}  // namespace classroom::drivers::wifi
