// The daemon: wires config, drivers, scheduler, catalog, spool and uplink, and
// runs the loop (one thread does all the work; Paho's threads only post events).
#pragma once

#include <cstdint>
#include <functional>
#include <ostream>

#include "config.hpp"

namespace classroom {

// What a developer or a test may ask of `run` on its command line (options
// hidden from --help); never read from the environment or the config.
struct RunDiagnostics {
  // The loop's first turn blocks this long, as a stuck loop would: how the
  // tests show that systemd's watchdog and `status` notice a loop that stops.
  int64_t stall_loop_ms = 0;
};

// `classroom-agent run`: runs until SIGTERM/SIGINT. Returns the exit code.
int run_agent(const config::Config& cfg, const RunDiagnostics& diagnostics = {});

// `classroom-agent once`: collects every enabled source (twice, half a second
// apart, so rates such as CPU usage have a value) and prints
// `name = value unit`, one metric per line. Returns the exit code.
int collect_once(const config::Config& cfg, std::ostream& out);

}  // namespace classroom
