#include "units.hpp"

#include <charconv>
#include <limits>

namespace classroom::config {
namespace {

// Splits "123unit" into its number and unit. Only non-negative integers.
bool split_number(std::string_view text, uint64_t& number, std::string_view& unit) {
  const char* begin = text.data();
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(begin, end, number);
  if (ec != std::errc() || ptr == begin) return false;
  unit = std::string_view(ptr, static_cast<size_t>(end - ptr));
  return true;
}

bool multiply(uint64_t a, uint64_t b, uint64_t& out) {
  if (a != 0 && b > std::numeric_limits<uint64_t>::max() / a) return false;
  out = a * b;
  return true;
}

}  // namespace

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) {
  uint64_t n = 0;
  std::string_view unit;
  if (!split_number(text, n, unit)) return std::nullopt;
  uint64_t factor = 0;
  if (unit == "ms")
    factor = 1;
  else if (unit == "s")
    factor = 1000;
  else if (unit == "m")
    factor = 60'000;
  else if (unit == "h")
    factor = 3'600'000;
  else if (unit == "d")
    factor = 86'400'000;
  else
    return std::nullopt;
  uint64_t ms = 0;
  if (!multiply(n, factor, ms) || ms > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
    return std::nullopt;
  return std::chrono::milliseconds(static_cast<int64_t>(ms));
}

std::optional<uint64_t> parse_size(std::string_view text) {
  uint64_t n = 0;
  std::string_view unit;
  if (!split_number(text, n, unit)) return std::nullopt;
  uint64_t factor = 0;
  if (unit == "B")
    factor = 1;
  else if (unit == "KiB")
    factor = 1ull << 10;
  else if (unit == "MiB")
    factor = 1ull << 20;
  else if (unit == "GiB")
    factor = 1ull << 30;
  else if (unit == "KB")
    factor = 1000;
  else if (unit == "MB")
    factor = 1000'000;
  else if (unit == "GB")
    factor = 1000'000'000;
  else
    return std::nullopt;
  uint64_t bytes = 0;
  if (!multiply(n, factor, bytes)) return std::nullopt;
  return bytes;
}

std::string format_duration(std::chrono::milliseconds d) {
  const auto ms = d.count();
  if (ms % 1000 != 0) return std::to_string(ms) + "ms";
  return std::to_string(ms / 1000) + "s";
}

}  // namespace classroom::config
