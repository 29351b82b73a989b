// sd_notify(3) without libsystemd: one datagram to $NOTIFY_SOCKET. Does nothing
// when the agent does not run under systemd.
#pragma once

#include <string_view>

#include <cstdint>

namespace classroom {
void notify_systemd(std::string_view state);
// True when systemd (or a test standing in for it) listens: $NOTIFY_SOCKET is set.
bool notify_socket_set();

// How often to send WATCHDOG=1: half of $WATCHDOG_USEC when systemd asked this
// process ($WATCHDOG_PID unset or ours) for watchdog pings, else 0.
int64_t systemd_watchdog_interval_ms();
}  // namespace classroom
