// A Sparkplug host application's STATE message (spBv1.0/STATE/<host_id>):
// Sparkplug 3.0's JSON body {"online": true|false, "timestamp": <ms>}, and the
// plain "ONLINE"/"OFFLINE" of Sparkplug 2.x hosts. Pure: bytes in, a value or
// nothing out, so the agent (Primary Host) and the console (fleet) read it
// alike and a fuzzer can feed it anything.
#pragma once

#include <cstdint>
#include <optional>
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
constexpr size_t kMaxHostStateBytes = 4096;

// Whether `next` supersedes `current` (Sparkplug 3.0): an offline state older
// than the last one seen is a stale Will and is ignored; anything else wins.
bool supersedes(const HostState& next, const std::optional<HostState>& current);

}  // namespace classroom::sparkplug
