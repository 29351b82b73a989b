// Exponential backoff, the one rule for waiting after failures: the delay
// after `failures` failures in a row is `first_ms` doubled per failure, up to
// `max_ms`, optionally spread by +-`jitter` so that many gateways that failed
// together do not come back in the same second. It is arithmetic only: the
// caller adds the delay to its own clock's time (steady for a connection,
// wall-clock grid for the scheduler), so tests need no clock to check it.
//
//   the uplink:      retry_min x 2^failures up to retry_max, +-20 %
//   the console:     500 ms x 2^failures up to 10 s
//   the scheduler:   interval x 2^failures up to 16 x interval
#pragma once

#include <cstdint>
#include <random>

namespace classroom {

class Backoff {
 public:
  // `first_ms` (at least 1) the delay after no failure, `max_ms` (at least
  // first_ms) the longest; `jitter` a fraction in [0, 1) (0.2: +-20 %) drawn
  // from a generator seeded with `seed`.
  Backoff(int64_t first_ms, int64_t max_ms, double jitter = 0, uint32_t seed = 1);

  // The delay after `failures` (>= 0) failures in a row: first_ms x 2^failures,
  // at most max_ms, times a draw in [1 - jitter, 1 + jitter]; never below
  // first_ms / 2 nor above max_ms. Without jitter, the same number for the
  // same `failures`.
  int64_t delay(int failures);

  int64_t first_ms() const { return first_ms_; }
  int64_t max_ms() const { return max_ms_; }

 private:
  int64_t first_ms_, max_ms_;
  double jitter_;
  std::minstd_rand random_;
};

}  // namespace classroom
