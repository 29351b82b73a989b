// The kernel's view of the system clock's discipline (adjtimex, read only):
// is it synchronised to a time source (NTP, chrony, systemd-timesyncd), and how
// far off may it be? Every timestamp the agent publishes depends on it.
#pragma once

#include <optional>

namespace classroom::drivers::system {

struct ClockStatus {
  bool synchronized = false;
  double max_error_ms = 0;  // the kernel's bound on the clock's error
};

// Pure: from adjtimex's return value (the clock state), its status bits and
// maxerror (microseconds).
ClockStatus clock_status(int state, int status_bits, long maxerror_us);

// Asks the kernel (adjtimex with no changes); nullopt when it cannot.
std::optional<ClockStatus> read_clock();

}  // namespace classroom::drivers::system
