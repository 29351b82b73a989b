#include "backoff.hpp"

#include <algorithm>
#include <cmath>

namespace classroom {

Backoff::Backoff(int64_t first_ms, int64_t max_ms, double jitter, uint32_t seed)
    : first_ms_(std::max<int64_t>(first_ms, 1)),
      max_ms_(std::max(max_ms, first_ms_)),
      jitter_(std::clamp(jitter, 0.0, 0.99)),
      random_(seed) {}

int64_t Backoff::delay(int failures) {
  // In double: 2^30 times any interval still fits, and the cap comes after.
  double delay = static_cast<double>(first_ms_) * std::pow(2.0, std::clamp(failures, 0, 30));
  delay = std::min(delay, static_cast<double>(max_ms_));
  if (jitter_ > 0) {
    std::uniform_real_distribution<double> spread(1.0 - jitter_, 1.0 + jitter_);
    delay *= spread(random_);
  }
  return std::clamp<int64_t>(static_cast<int64_t>(delay), first_ms_ / 2, max_ms_);
}

}  // namespace classroom
