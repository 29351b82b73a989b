// The table of metric sources the agent knows. Adding a driver: its folder, and
// one line in registry.cpp.
#pragma once

#include <chrono>
#include <memory>
#include <span>
#include <string_view>

#include "config.hpp"
#include "driver.hpp"

namespace classroom::drivers {

struct DriverEntry {
  std::string_view name;  // the [sources.<name>] table
  bool (*enabled)(const config::Config&);
  std::chrono::milliseconds (*interval)(const config::Config&);
  std::unique_ptr<Driver> (*make)(const config::Config&);
};

std::span<const DriverEntry> registered_drivers();

namespace system {
std::unique_ptr<Driver> make(const config::Config& cfg);
}
namespace network {
std::unique_ptr<Driver> make(const config::Config& cfg);
}
namespace nat {
std::unique_ptr<Driver> make(const config::Config& cfg);
}
namespace wifi {
std::unique_ptr<Driver> make(const config::Config& cfg);
}
namespace lan {
std::unique_ptr<Driver> make(const config::Config& cfg);
}

}  // namespace classroom::drivers
