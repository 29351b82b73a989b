// Parsing of the human units used in the config file: durations and sizes.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace classroom::config {

// "250ms", "10s", "5m", "1h", "1d" -> milliseconds. A bare number is rejected
// (ambiguous). Returns nullopt on anything else.
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);

// "512KiB", "64MiB", "1GiB", "4096B", also "KB/MB/GB" (powers of 1000).
std::optional<uint64_t> parse_size(std::string_view text);

// 10000ms -> "10s", 90000 -> "90s", 250 -> "250ms": for messages.
std::string format_duration(std::chrono::milliseconds d);

}  // namespace classroom::config
