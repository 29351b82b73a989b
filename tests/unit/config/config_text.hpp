// Shared by the config tests: the smallest valid config, to which a test adds
// the tables it is about, and every error of a load as one text to match.
#pragma once

#include <string>

#include "config.hpp"

namespace classroom::config::testing {

inline const std::string kMinimal = R"(
[identity]
group = "school"
node  = "room-1"
[broker]
servers = ["tcp://127.0.0.1:1883"]
[state]
dir = "/var/lib/classroom-agent"
)";

// kMinimal followed by `extra`, as if read from `path`.
inline LoadResult load_with(const std::string& extra,
                            const std::string& path = "/etc/classroom-agent/agent.toml") {
  return load_string(kMinimal + extra, path);
}

// Every error, one `FILE:LINE:COL: key: message` a line.
inline std::string errors_text(const LoadResult& r) {
  std::string out;
  for (const Error& e : r.errors) out += e.to_string() + "\n";
  return out;
}

}  // namespace classroom::config::testing
