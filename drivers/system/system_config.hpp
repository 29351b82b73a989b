// [sources.system]: the machine itself (CPU, memory, disks, clock,
// properties). Runs unless its table says `enabled = false`. The reader of
// its settings, and the driver made of them (registered in registry.cpp).
// `Settings` is in system_driver.hpp: the driver's `Options` derive from it.
#pragma once

#include <memory>

#include "config.hpp"
#include "driver.hpp"
#include "section.hpp"
#include "system/system_driver.hpp"

namespace classroom::drivers::system {

std::shared_ptr<const config::SourceSettings> read_settings(config::Section& s, bool enabled);
std::unique_ptr<Driver> make(const config::Config& cfg, const config::Source& source);

}  // namespace classroom::drivers::system
