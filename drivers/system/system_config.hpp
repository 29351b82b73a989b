// [sources.system]: the machine itself (CPU, memory, disks, clock,
// properties). Runs unless its table says `enabled = false`. Its settings,
// their reader, and the driver made of them (registered in registry.cpp).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "config.hpp"
#include "driver.hpp"
#include "section.hpp"

namespace classroom::drivers::system {

struct Settings {
  std::vector<std::string> mounts{"/"};  // file systems measured: absolute paths
  bool operator==(const Settings&) const = default;
};

std::shared_ptr<const config::SourceSettings> read_settings(config::Section& s, bool enabled);
std::unique_ptr<Driver> make(const config::Config& cfg, const config::Source& source);

}  // namespace classroom::drivers::system
