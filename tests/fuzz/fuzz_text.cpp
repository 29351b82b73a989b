// Any bytes through every policy of the one escaper (agent/common/printable.hpp): the
// result is well-formed UTF-8 with nothing a log line or a terminal would act
// on, within the policy's bound, and escape_into() never writes past its cap.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "printable.hpp"

using namespace classroom;
using text::Policy;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  // The first byte chooses the bound, the rest is the text.
  const size_t max = data[0];
  const std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);
  for (Policy p : {Policy::log, Policy::terminal, Policy::metric_text, Policy::metric_name}) {
    const std::string out = text::printable(in, max, p);
    if (!text::valid_utf8(out) || text::has_unprintable(out)) __builtin_trap();
    for (char c : out)
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) __builtin_trap();
    const bool replaces = p == Policy::metric_text || p == Policy::metric_name;
    if (replaces && out.size() > max) __builtin_trap();  // a published bound is exact
    if (p == Policy::metric_name)
      for (char c : out)
        if (c == '/' || c == ' ' || static_cast<unsigned char>(c) > 0x7e) __builtin_trap();
    if (in.size() <= max && out.find("... (") != std::string::npos && !replaces &&
        in.find("... (") == std::string_view::npos)
      __builtin_trap();  // nothing cut, nothing said to be cut
  }
  char buf[256];
  size_t consumed = 0;
  const size_t written = text::escape_into(in, buf, max, consumed);
  if (written > max || consumed > in.size()) __builtin_trap();
  if (!text::valid_utf8(std::string_view(buf, written))) __builtin_trap();
  return 0;
}
