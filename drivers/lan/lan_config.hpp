// [sources.lan]: devices on the classroom side and the DHCP pools. Runs when
// its table is present (and does not say `enabled = false`). Its settings,
// their reader, and the driver made of them (registered in registry.cpp).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "config.hpp"
#include "driver.hpp"
#include "lan/lan_driver.hpp"
#include "section.hpp"

namespace classroom::drivers::lan {

struct Settings {
  std::vector<std::string> interfaces;  // empty: every interface without a default route
  bool inventory = false;               // publish HMAC-keyed devices
  std::string inventory_secret_file;    // absolute (a relative one is made so)
  std::vector<DhcpOptions> dhcp;        // [[sources.lan.dhcp]]; files made absolute
  bool operator==(const Settings&) const = default;
};

std::shared_ptr<const config::SourceSettings> read_settings(config::Section& s, bool enabled);
std::unique_ptr<Driver> make(const config::Config& cfg, const config::Source& source);

}  // namespace classroom::drivers::lan
