#include "registry.hpp"

#include <vector>

#include "lan/lan_config.hpp"
#include "nat/nat_config.hpp"
#include "network/network_config.hpp"
#include "system/system_config.hpp"
#include "wifi/wifi_config.hpp"

namespace classroom::drivers {
namespace {

using std::chrono::seconds;
constexpr bool kAlways = true;         // runs unless its table says enabled = false
constexpr bool kWithItsTable = false;  // runs when its table is present

// One line per driver: name, when it runs, interval, reader, factory.
const DriverEntry kDrivers[] = {
    {"system", kAlways, seconds(10), &system::read_settings, &system::make},
    {"network", kWithItsTable, seconds(10), &network::read_settings, &network::make},
    {"nat", kWithItsTable, seconds(30), &nat::read_settings, &nat::make},
    {"wifi", kWithItsTable, seconds(30), &wifi::read_settings, &wifi::make},
    {"lan", kWithItsTable, seconds(30), &lan::read_settings, &lan::make},
};

}  // namespace

bool DriverEntry::enabled(const config::Config& cfg) const {
  const config::Source* s = cfg.source(name);
  return s && s->enabled;
}

std::chrono::milliseconds DriverEntry::interval(const config::Config& cfg) const {
  const config::Source* s = cfg.source(name);
  return s ? s->interval : default_interval;
}

std::unique_ptr<Driver> DriverEntry::make(const config::Config& cfg) const {
  static const config::Source kNone;
  const config::Source* s = cfg.source(name);
  return factory(cfg, s ? *s : kNone);
}

std::span<const DriverEntry> registered_drivers() {
  return kDrivers;
}

std::span<const config::SourceReader> source_readers() {
  static const std::vector<config::SourceReader> readers = [] {
    std::vector<config::SourceReader> out;
    for (const DriverEntry& e : kDrivers)
      out.push_back(config::SourceReader{e.name, e.on_without_table, e.default_interval, e.read});
    return out;
  }();
  return readers;
}

}  // namespace classroom::drivers
