// The daemon: wires config, drivers, scheduler, catalog, spool and uplink, and
// runs the loop (one thread does all the work; Paho's threads only post events).
#pragma once

#include <functional>
#include <ostream>

#include "config.hpp"

namespace classroom {

// `classroom-agent run`: runs until SIGTERM/SIGINT. Returns the exit code.
int run_agent(const config::Config& cfg);

// `classroom-agent once`: collects every enabled source (twice, half a second
// apart, so rates such as CPU usage have a value) and prints
// `name = value unit`, one metric per line. Returns the exit code.
int collect_once(const config::Config& cfg, std::ostream& out);

}  // namespace classroom
