// Time as the agent sees it. Everything that schedules or backs off takes a
// Clock&, so tests drive it with FakeClock instead of sleeping.
#pragma once

#include <chrono>
#include <cstdint>

namespace classroom {

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall clock: milliseconds since the Unix epoch, UTC (Sparkplug timestamps,
  // alignment of sampling to the wall clock).
  virtual int64_t wall_ms() const = 0;
  // Monotonic milliseconds from an arbitrary origin (timeouts, rates, backoff).
  virtual int64_t steady_ms() const = 0;
};

class SystemClock final : public Clock {
 public:
  int64_t wall_ms() const override {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
  }
  int64_t steady_ms() const override {
    using namespace std::chrono;
    return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
  }
};

// A clock that moves only when told to.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(int64_t wall_ms = 1'700'000'000'000) : wall_(wall_ms) {}
  int64_t wall_ms() const override { return wall_; }
  int64_t steady_ms() const override { return steady_; }
  void advance(int64_t ms) {
    wall_ += ms;
    steady_ += ms;
  }
  // A wall-clock step (NTP correcting a gateway without an RTC): steady time
  // does not move.
  void set_wall(int64_t ms) { wall_ = ms; }

 private:
  int64_t wall_;
  int64_t steady_ = 0;
};

}  // namespace classroom
