// Any bytes as an NCMD from the broker: parsed or refused with a reason.
#include <cstddef>
#include <cstdint>
#include <string>

#include "session/sparkplug.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string error;
  auto cmd = classroom::sparkplug::parse_command(
      std::string_view(reinterpret_cast<const char*>(data), size), error);
  if (!cmd && error.empty()) __builtin_trap();
  // What reaches a log line is escaped and bounded, whatever the broker sent.
  const std::string& shown = cmd ? cmd->unsupported : error;
  if (shown.size() > 512) __builtin_trap();
  for (char c : shown)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) __builtin_trap();
  return 0;
}
