// The table of metric sources the agent knows: for each, its [sources.<name>]
// table's reader and the factory of its driver. Adding a driver: its folder
// (with its settings, reader and make in <name>_config.*), its files in
// CMakeLists.txt, and one line in registry.cpp.
#pragma once

#include <chrono>
#include <memory>
#include <span>
#include <string_view>

#include "config.hpp"
#include "driver.hpp"

namespace classroom::drivers {

struct DriverEntry {
  std::string_view name;                       // the [sources.<name>] table
  bool on_without_table;                       // runs when the file has no such table
  std::chrono::milliseconds default_interval;  // when the table sets none
  // Reads its table's own keys (the config reads enabled and interval).
  std::shared_ptr<const config::SourceSettings> (*read)(config::Section&, bool enabled);
  std::unique_ptr<Driver> (*factory)(const config::Config&, const config::Source&);

  // As the loaded config says.
  bool enabled(const config::Config& cfg) const;
  std::chrono::milliseconds interval(const config::Config& cfg) const;
  std::unique_ptr<Driver> make(const config::Config& cfg) const;
};

std::span<const DriverEntry> registered_drivers();

// The readers of every registered source's table, for config::load_file.
std::span<const config::SourceReader> source_readers();

}  // namespace classroom::drivers
