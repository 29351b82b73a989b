// Shared by the config tests: loading as the agent does, the smallest valid
// config, to which a test adds the tables it is about, and every error of a
// load as one text to match.
#pragma once

#include <string>

#include "config.hpp"
#include "registry.hpp"

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

// A config read as the agent reads it: every [sources.<name>] table by its
// registered driver's reader.
inline LoadResult load_text(const std::string& text, const std::string& path) {
  return load_string(text, path, drivers::source_readers());
}
inline LoadResult load_path(const std::string& path) {
  return load_file(path, drivers::source_readers());
}

// kMinimal followed by `extra`, as if read from `path`.
inline LoadResult load_with(const std::string& extra,
                            const std::string& path = "/etc/classroom-agent/agent.toml") {
  return load_text(kMinimal + extra, path);
}

// Every error, one `FILE:LINE:COL: key: message` a line.
inline std::string errors_text(const LoadResult& r) {
  std::string out;
  for (const Error& e : r.errors) out += e.to_string() + "\n";
  return out;
}

}  // namespace classroom::config::testing
