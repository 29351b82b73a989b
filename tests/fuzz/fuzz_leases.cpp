// Any bytes as a DHCP lease file, in each of the three formats.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "lan/leases.hpp"

using namespace classroom::drivers::lan;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static LeaseParser parser;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  for (LeaseFormat f : {LeaseFormat::dnsmasq, LeaseFormat::isc, LeaseFormat::kea}) {
    LeaseCount c = parser.count(f, text, 1704110400);
    // Every lease and every garbled line is at least one byte of input.
    if (c.active > size + 1 || c.garbled > size + 1) __builtin_trap();
    if ((c.garbled == 0) != (c.first_garbled_line == 0)) __builtin_trap();
  }
  return 0;
}
