#include "units.hpp"

#include <charconv>
#include <limits>

namespace classroom::config {
namespace {

struct Unit {
  std::string_view name;
  uint64_t factor;
};

constexpr Unit kDurationUnits[] = {
    {"ms", 1}, {"s", 1000}, {"m", 60'000}, {"h", 3'600'000}, {"d", 86'400'000}};
constexpr Unit kSizeUnits[] = {
    {"B", 1},     {"KiB", 1ull << 10}, {"MiB", 1ull << 20}, {"GiB", 1ull << 30},
    {"KB", 1000}, {"MB", 1000'000},    {"GB", 1000'000'000}};

// "123unit" -> 123 * factor of unit; a whole, non-negative number and a known
// unit, nothing else, and no overflow.
template <size_t N>
std::optional<uint64_t> scaled(std::string_view text, const Unit (&units)[N]) {
  uint64_t n = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || ptr == text.data()) return std::nullopt;
  const std::string_view unit(ptr, static_cast<size_t>(text.data() + text.size() - ptr));
  for (const Unit& u : units) {
    if (u.name != unit) continue;
    if (n != 0 && u.factor > std::numeric_limits<uint64_t>::max() / n) return std::nullopt;
    return n * u.factor;
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) {
  auto ms = scaled(text, kDurationUnits);
  if (!ms || *ms > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
  return std::chrono::milliseconds(static_cast<int64_t>(*ms));
}

std::optional<uint64_t> parse_size(std::string_view text) {
  return scaled(text, kSizeUnits);
}

std::string format_duration(std::chrono::milliseconds d) {
  const auto ms = d.count();
  if (ms % 1000 != 0) return std::to_string(ms) + "ms";
  return std::to_string(ms / 1000) + "s";
}

}  // namespace classroom::config
