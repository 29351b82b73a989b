// `classroom-agent status`: asks the running agent on its status socket and
// prints the answer. Exit status: 0 all well, 1 degraded, 2 not running,
// 3 cannot tell (no permission, no answer in time, a broken config).
#pragma once

#include <ostream>
#include <string>

namespace classroom::status {

constexpr int kExitOk = 0;
constexpr int kExitDegraded = 1;
constexpr int kExitNotRunning = 2;
constexpr int kExitUnknown = 3;

// How long the client waits to connect, and for the whole answer.
constexpr int kClientWaitMs = 3000;

// Asks the agent whose socket is `socket_path`.
int ask(const std::string& socket_path, bool json, std::ostream& out, std::ostream& err);

// The whole command: finds the socket in `config_path` (only its [status]
// table is read, so a technician needs no access to the secrets the rest
// names; an unreadable file falls back to the default socket, with a note),
// then asks.
int status_command(const std::string& config_path, bool json, std::ostream& out, std::ostream& err);

}  // namespace classroom::status
