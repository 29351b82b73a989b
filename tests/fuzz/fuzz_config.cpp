// Any bytes as a config file: errors, never a crash.
#include <cstddef>
#include <cstdint>
#include <string>

#include "config.hpp"
#include "registry.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto r = classroom::config::load_string(std::string(reinterpret_cast<const char*>(data), size),
                                          "fuzz.toml", classroom::drivers::source_readers());
  if (!r.config && r.errors.empty()) __builtin_trap();  // a refusal must say why
  return 0;
}
