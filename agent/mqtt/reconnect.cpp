#include "mqtt/reconnect.hpp"

#include <utility>

namespace classroom::mqtt {

Reconnect::Reconnect(std::vector<std::string> servers, Backoff backoff, const Clock& clock)
    : servers_(std::move(servers)), backoff_(std::move(backoff)), clock_(clock) {
  if (servers_.empty()) servers_.emplace_back();  // the config requires one; never index nothing
}

uint64_t Reconnect::begin(int64_t answer_ms) {
  deadline_ = clock_.steady_ms() + answer_ms;
  return ++attempt_;
}

int64_t Reconnect::failed(bool next_server) {
  if (next_server) {
    ++failures_;
    index_ = (index_ + 1) % servers_.size();
  } else {
    failures_ = 0;
  }
  const int64_t delay = backoff_.delay(failures_);
  retry_at_ = clock_.steady_ms() + delay;
  return delay;
}

}  // namespace classroom::mqtt
