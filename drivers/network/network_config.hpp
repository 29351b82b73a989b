// [sources.network]: interfaces and the uplink. Runs when its table is
// present (and does not say `enabled = false`). Its settings, their reader,
// and the driver made of them (registered in registry.cpp).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "config.hpp"
#include "driver.hpp"
#include "section.hpp"

namespace classroom::drivers::network {

struct Settings {
  std::vector<std::string> include{"*"};  // glob patterns of interface names
  std::vector<std::string> exclude{"lo"};
  uint64_t max_interfaces = 64;
  bool operator==(const Settings&) const = default;
};

std::shared_ptr<const config::SourceSettings> read_settings(config::Section& s, bool enabled);
std::unique_ptr<Driver> make(const config::Config& cfg, const config::Source& source);

}  // namespace classroom::drivers::network
