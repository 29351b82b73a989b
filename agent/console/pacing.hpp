// What the console does when, on an injected Clock (SystemClock when it runs,
// FakeClock in its unit tests): how often it asks nodes for a rebirth, and
// when fleet redraws its table.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>

#include "clock.hpp"
#include "console/decoder.hpp"

namespace classroom::console {

class Connection;

// Asks nodes whose birth was missed for one (NCMD Node Control/Rebirth), when
// the operator allowed it: a node at most once per kEveryMs, and at most
// kPerSecond requests a second. At most kMaxNodes nodes are remembered; past
// that, no other node is asked.
class Rebirths {
 public:
  explicit Rebirths(const Clock& clock) : clock_(clock) {}

  // True when a request was sent now (over `c`, which must be subscribed).
  bool maybe_ask(Connection& c, const Topic& t);
  uint64_t sent() const { return sent_; }

  static constexpr int64_t kEveryMs = 60'000;
  static constexpr int kPerSecond = 20;
  static constexpr size_t kMaxNodes = 200'000;

 private:
  const Clock& clock_;
  std::unordered_map<std::string, int64_t> asked_;  // "<group>/<node>" -> steady time
  int64_t second_ = 0;
  int this_second_ = 0;
  uint64_t sent_ = 0;
};

// When fleet shows its table. On a terminal: a frame at once, then one every
// `refresh_ms`; between frames it takes messages, but a burst of them never
// holds a frame back for longer than kMaxBusyMs. Not a terminal: no frame; it
// listens `wait_ms` from its start, then prints one snapshot.
class Redraw {
 public:
  Redraw(const Clock& clock, bool tty, int64_t refresh_ms, int64_t wait_ms);

  // A terminal's frame is due now: true once per period, and the next is then
  // due `refresh_ms` from now. Always false when not a terminal.
  bool frame_due();
  // Not a terminal: it has listened long enough (never, on a terminal).
  bool listened() const;
  // How long to wait for messages now: until the next frame (or the end of
  // listening), at most `cap_ms`, never negative.
  int64_t wait_ms(int64_t cap_ms) const;
  // The steady time at which a burst of messages that begins now stops being
  // taken: kMaxBusyMs from now, or the next frame (or the end) if sooner.
  int64_t burst_end() const;
  // The steady time is before `t`.
  bool before(int64_t t) const { return clock_.steady_ms() < t; }
  // Since the start (the snapshot's "messages in ... s").
  int64_t elapsed_ms() const { return clock_.steady_ms() - start_; }

  static constexpr int64_t kMaxBusyMs = 50;

 private:
  // The next frame (terminal), or the end of listening.
  int64_t due() const { return tty_ ? next_frame_ : start_ + wait_ms_; }

  const Clock& clock_;
  const bool tty_;
  const int64_t refresh_ms_, wait_ms_;
  const int64_t start_;
  int64_t next_frame_;
};

}  // namespace classroom::console
