// [sources.nat]: connection-tracking (NAT) table pressure. Runs when its
// table is present (and does not say `enabled = false`). It has no keys of
// its own; the driver is made from [host] (registered in registry.cpp).
#pragma once

#include <memory>

#include "config.hpp"
#include "driver.hpp"
#include "section.hpp"

namespace classroom::drivers::nat {

std::shared_ptr<const config::SourceSettings> read_settings(config::Section& s, bool enabled);
std::unique_ptr<Driver> make(const config::Config& cfg, const config::Source& source);

}  // namespace classroom::drivers::nat
