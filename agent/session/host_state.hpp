// A Sparkplug host application's STATE message (spBv1.0/STATE/<host_id>):
// Sparkplug 3.0's JSON body {"online": true|false, "timestamp": <ms>}, and the
// plain "ONLINE"/"OFFLINE" of Sparkplug 2.x hosts. Pure: bytes in, a value or
// nothing out, so the agent (Primary Host) and the console (fleet) read it
// alike and a fuzzer can feed it anything.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace classroom::sparkplug {

struct HostState {
  bool online = false;
  std::optional<uint64_t> timestamp;  // ms since the epoch; none in a 2.x body
};

// The state, or nothing when the body is neither form: a JSON object with a
// Boolean "online" (other members are skipped, "timestamp" must be a whole
// number) or exactly ONLINE / OFFLINE. Bodies over kMaxBytes are refused.
std::optional<HostState> parse_host_state(std::string_view body);
// The topic a host publishes its STATE on: spBv1.0/STATE/<host_id>.
inline std::string state_topic(std::string_view host_id) {
  return "spBv1.0/STATE/" + std::string(host_id);
}
constexpr size_t kMaxHostStateBytes = 4096;

// Whether `next` supersedes `current` (Sparkplug 3.0): a state whose timestamp
// is older than the last one seen is ignored. An offline one is a stale Will of
// an earlier session of the host
// (tck-id-operational-behavior-edge-node-termination-host-offline-timestamp);
// an online one is not the latest state either
// (tck-id-message-flow-edge-node-birth-publish-phid-wait-timestamp: "greater
// than or equal to the previous STATE message timestamp"). When either has no
// timestamp (a 2.x body), the newer message wins.
bool supersedes(const HostState& next, const std::optional<HostState>& current);

}  // namespace classroom::sparkplug
