#include "system/clock.hpp"

#include <sys/timex.h>

namespace classroom::drivers::system {

ClockStatus clock_status(int state, int status_bits, long maxerror_us) {
  ClockStatus s;
  // TIME_ERROR, or STA_UNSYNC set: no time source disciplines the clock.
  s.synchronized = state != TIME_ERROR && !(status_bits & STA_UNSYNC);
  s.max_error_ms = static_cast<double>(maxerror_us < 0 ? 0 : maxerror_us) / 1000.0;
  return s;
}

std::optional<ClockStatus> read_clock() {
  timex tx{};
  tx.modes = 0;  // read only: needs no privilege
  const int state = ::adjtimex(&tx);
  if (state < 0) return std::nullopt;
  return clock_status(state, tx.status, tx.maxerror);
}

}  // namespace classroom::drivers::system
