#include "console/pacing.hpp"

#include <algorithm>

#include "console/watch.hpp"

namespace classroom::console {

bool Rebirths::maybe_ask(Connection& c, const Topic& t) {
  const int64_t now = clock_.steady_ms();
  if (now / 1000 != second_) {
    second_ = now / 1000;
    this_second_ = 0;
  }
  const std::string key = t.group + "/" + t.node;
  auto it = asked_.find(key);
  if (it != asked_.end() && now - it->second < kEveryMs) return false;
  if (this_second_ >= kPerSecond || asked_.size() >= kMaxNodes) return false;
  if (!c.publish("spBv1.0/" + t.group + "/NCMD/" + t.node,
                 rebirth_request(static_cast<uint64_t>(clock_.wall_ms()))))
    return false;
  asked_[key] = now;
  ++this_second_;
  ++sent_;
  return true;
}

Redraw::Redraw(const Clock& clock, bool tty, int64_t refresh_ms, int64_t wait_ms)
    : clock_(clock),
      tty_(tty),
      refresh_ms_(refresh_ms),
      wait_ms_(wait_ms),
      start_(clock.steady_ms()),
      next_frame_(start_) {}

bool Redraw::frame_due() {
  const int64_t now = clock_.steady_ms();
  if (!tty_ || now < next_frame_) return false;
  next_frame_ = now + refresh_ms_;
  return true;
}

bool Redraw::listened() const {
  return !tty_ && clock_.steady_ms() >= due();
}

int64_t Redraw::wait_ms(int64_t cap_ms) const {
  return std::max<int64_t>(0, std::min<int64_t>(due() - clock_.steady_ms(), cap_ms));
}

int64_t Redraw::burst_end() const {
  return std::min(clock_.steady_ms() + kMaxBusyMs, due());
}

}  // namespace classroom::console
