// sd_notify(3) without libsystemd: one datagram to $NOTIFY_SOCKET. Does nothing
// when the agent does not run under systemd.
#pragma once

#include <string_view>

namespace classroom {
void notify_systemd(std::string_view state);
}
