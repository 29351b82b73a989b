// [sources.network]: interfaces and the uplink. Runs when its table is
// present (and does not say `enabled = false`). The reader of its settings,
// and the driver made of them (registered in registry.cpp). `Settings` is in
// network_driver.hpp: the driver's `Options` derive from it.
#pragma once

#include <memory>

#include "config.hpp"
#include "driver.hpp"
#include "network/network_driver.hpp"
#include "section.hpp"

namespace classroom::drivers::network {

std::shared_ptr<const config::SourceSettings> read_settings(config::Section& s, bool enabled);
std::unique_ptr<Driver> make(const config::Config& cfg, const config::Source& source);

}  // namespace classroom::drivers::network
