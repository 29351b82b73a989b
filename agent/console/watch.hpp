// The operator's two commands at the broker: `classroom-agent tail` (decoded
// Sparkplug, line by line) and `classroom-agent fleet` (a live table of every
// node). Both subscribe through mqtt::Client (the agent's Paho wrapper, so
// its connection settings, TLS included, are the agent's), reconnect on their
// own, and hand messages to the pure decoder (decoder.hpp), formatter
// (format.hpp) and fleet table (fleet.hpp).
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "config.hpp"
#include "console/fleet.hpp"
#include "console/format.hpp"
#include "mqtt/mqtt_client.hpp"

namespace classroom::console {

struct WatchOptions {
  std::vector<std::string> servers;  // tried in order
  // Credentials, keepalive, timeouts (and the TLS settings once the client has
  // them) for every connection; server, client_id and the Will are set per
  // attempt. Filled by broker_settings() from a config, or defaults.
  mqtt::ConnectRequest connection;
  Filter filter;
  bool rebirth = false;  // ask a node whose birth was missed for one (NCMD)
  // The largest message taken (--max-message): a bigger one is dropped and
  // said once per node on stderr. Its payload never reaches the decoder.
  size_t max_message = kDefaultMaxMessage;
  static constexpr size_t kDefaultMaxMessage = 1u << 20;
  static constexpr size_t kMinMaxMessage = 1u << 10, kMaxMaxMessage = 256u << 20;

  // tail
  bool json = false;
  bool with_time = false;
  uint64_t count = 0;  // stop after this many messages printed (0: never)

  // fleet
  Fleet::Sort sort = Fleet::Sort::name;
  int64_t stale_ms = 60'000;
  int64_t refresh_ms = 1'000;  // on a terminal
  int64_t wait_ms = 5'000;     // not a terminal: listen this long, then one snapshot
};

// The one place where a config's [broker] settings become the console's
// connection settings (servers, user name, password, TLS, keepalive,
// timeouts, protocol).
void broker_settings(const config::Broker& broker, WatchOptions& options);

// Runs until SIGINT or SIGTERM (or `count` messages). Exit status 0; 1 when
// stdout fails for another reason than a closed pipe.
int run_tail(const WatchOptions& options);
// On a terminal: a table redrawn in place every refresh_ms until SIGINT or
// SIGTERM (exit 0). Otherwise: listens wait_ms, prints one snapshot, and exits
// 0, or 1 when no broker could be reached.
int run_fleet(const WatchOptions& options);

}  // namespace classroom::console
