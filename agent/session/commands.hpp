// Commands a host application sends (NCMD to the node, DCMD to one of its
// devices): which ones the agent takes, how they are listed in the births, and
// how a command is read and checked. Pure: no MQTT, no clock of its own; the
// uplink acts on the session's commands, the daemon on the pipeline's.
//
//   Node Control/Rebirth      Boolean  a full birth (NBIRTH, every DBIRTH); alias 1
//   Node Control/Next Server  Boolean  NDEATH, disconnect, the next of [broker] servers
//   Node Control/Scan Rate    Int64 ms the node's sampling interval, 1 s to 1 h, until
//                                      the next reload or restart (its value is data)
//   Node Control/Probe Now    String   run the probe of that name (or "*": all) now
//   Node Control/Reload       Boolean  read the config file again, as SIGHUP
//   Device Control/Rebirth    Boolean  that device's DBIRTH alone
//
// No command runs a program, names a path or changes the config file. A
// command is taken whole or not at all: anything malformed in it (not
// Sparkplug B, too big, too many metrics, a name or alias that is not a
// command of its owner, another datatype, a value of another type or out of
// range) refuses all of it, with one reason fit for the log.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "catalog/catalog.hpp"
#include "session/sparkplug.hpp"

namespace classroom::commands {

inline constexpr std::string_view kNextServer = "Node Control/Next Server";
inline constexpr std::string_view kScanRate = "Node Control/Scan Rate";
inline constexpr std::string_view kProbeNow = "Node Control/Probe Now";
inline constexpr std::string_view kReload = "Node Control/Reload";
inline constexpr std::string_view kDeviceRebirth = "Device Control/Rebirth";

inline constexpr int64_t kScanRateMinMs = 1'000;
inline constexpr int64_t kScanRateMaxMs = 3'600'000;
// A command is a few dozen bytes: more is refused before it is decoded.
inline constexpr size_t kMaxBytes = 4096;
inline constexpr int kMaxMetrics = 8;
// Probe names are at most 64 bytes (config).
inline constexpr size_t kMaxProbeName = 64;

// Declares the node's commands (Next Server, Scan Rate, Probe Now, Reload;
// the Rebirth is the NBIRTH's own) with the values their birth shows; returns
// the Scan Rate's id, whose value the daemon keeps current.
MetricId declare_node(Catalog& catalog, int64_t scan_rate_ms);
// Declares Device Control/Rebirth for `device`.
void declare_device(Catalog& catalog, DeviceId device);

enum class Kind { rebirth, next_server, scan_rate, probe_now, reload, device_rebirth };

struct Action {
  Kind kind = Kind::rebirth;
  bool yes = false;          // Booleans: false asks for nothing
  int64_t scan_rate_ms = 0;  // scan_rate
  std::string probe;         // probe_now: a probe's name, or "*"
};

struct Command {
  DeviceId owner = kNode;  // a DCMD's device
  bool empty = false;      // no bytes, or no metrics: nothing asked
  std::vector<Action> actions;
};

// The owner a command topic addresses: the node for its NCMD topic, a device
// of the catalog for spBv1.0/<group>/DCMD/<node>/<device>; nullopt with
// `error` for a device the node does not have, with `error` empty for a topic
// that is no command of this node's.
std::optional<DeviceId> owner_of(std::string_view topic, const sparkplug::Topics& topics,
                                 const Catalog& catalog, std::string& error);

// Reads a command for `owner`; nullopt with `error` when it is malformed.
// `error` holds no unescaped text from the payload.
std::optional<Command> parse(std::string_view bytes, DeviceId owner, const Catalog& catalog,
                             std::string& error);

// What an action asks, for a log line: "Node Control/Scan Rate = 5000 ms",
// "Node Control/Probe Now = \"dns-1\"" (escaped).
std::string describe(const Action& action);

// Commands a second: a token bucket, so that a flood of commands (however
// fast) costs the loop one comparison each and never a birth storm.
class RateLimit {
 public:
  RateLimit(double per_second, double burst) : rate_(per_second), burst_(burst), tokens_(burst) {}
  // Takes one command at steady time `now_ms`; false when over the rate.
  bool take(int64_t now_ms);

 private:
  double rate_, burst_, tokens_;
  int64_t at_ms_ = INT64_MIN;
};

}  // namespace classroom::commands
