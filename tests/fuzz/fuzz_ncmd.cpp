// Any bytes as an NCMD or a DCMD from the broker: taken, or refused with a reason.
#include <cstddef>
#include <cstdint>
#include <string>

#include "session/commands.hpp"

namespace {

using namespace classroom;

// A node with its commands, one measurement and a device with its Rebirth.
// Made once, never destroyed (a catalog is neither copied nor moved).
const Catalog& catalog() {
  static const Catalog* const c = [] {
    auto* out = new Catalog;
    commands::declare_node(*out, 10'000);
    out->declare(kNode, "System/CPU/Usage", DataType::Double, "%");
    commands::declare_device(*out, out->add_device("switch-6a"));
    return out;
  }();
  return *c;
}

// What reaches a log line is escaped and bounded, whatever the broker sent.
void check_shown(const std::string& shown) {
  if (shown.size() > 512) __builtin_trap();
  for (char c : shown)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  for (DeviceId owner : {kNode, DeviceId{1}}) {
    std::string error;
    auto cmd = commands::parse(bytes, owner, catalog(), error);
    if (!cmd) {
      if (error.empty()) __builtin_trap();
      check_shown(error);
      continue;
    }
    if (cmd->actions.size() > static_cast<size_t>(commands::kMaxMetrics)) __builtin_trap();
    for (const commands::Action& a : cmd->actions) check_shown(commands::describe(a));
  }
  return 0;
}
