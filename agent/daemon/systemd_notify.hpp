// sd_notify(3) without libsystemd: one datagram to $NOTIFY_SOCKET. Does nothing
// when the agent does not run under systemd.
#pragma once

#include <string_view>

#include <cstdint>

namespace classroom {
void notify_systemd(std::string_view state);

// How often to send WATCHDOG=1: half of $WATCHDOG_USEC when systemd asked this
// process ($WATCHDOG_PID unset or ours) for watchdog pings, else 0.
int64_t systemd_watchdog_interval_ms();
}  // namespace classroom
