#include "registry.hpp"

namespace classroom::drivers {
namespace {

// One line per driver: name, enabled?, interval, factory.
const DriverEntry kDrivers[] = {
    {"system", [](const config::Config& c) { return c.sources.system.enabled; },
     [](const config::Config& c) { return c.sources.system.interval; }, &system::make},
    {"network", [](const config::Config& c) { return c.sources.network.enabled; },
     [](const config::Config& c) { return c.sources.network.interval; }, &network::make},
    {"nat", [](const config::Config& c) { return c.sources.nat.enabled; },
     [](const config::Config& c) { return c.sources.nat.interval; }, &nat::make},
    {"wifi", [](const config::Config& c) { return c.sources.wifi.enabled; },
     [](const config::Config& c) { return c.sources.wifi.interval; }, &wifi::make},
    {"lan", [](const config::Config& c) { return c.sources.lan.enabled; },
     [](const config::Config& c) { return c.sources.lan.interval; }, &lan::make},
};

}  // namespace

std::span<const DriverEntry> registered_drivers() {
  return kDrivers;
}

}  // namespace classroom::drivers
