// Hands events from other threads (Paho's, the signal thread) to the agent's
// loop, which does all the work on one thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <vector>

#include "mqtt/mqtt_client.hpp"

namespace classroom {

class EventQueue {
 public:
  void post(mqtt::Event event) {
    {
      std::lock_guard lock(mutex_);
      events_.push_back(std::move(event));
    }
    cv_.notify_one();
  }
  // Ends the loop's current wait without an event: another stage (the probe
  // runner, finished device polls) has work for the loop.
  void wake() {
    {
      std::lock_guard lock(mutex_);
      woken_ = true;
    }
    cv_.notify_one();
  }
  // Waits up to `timeout_ms` for events (or a wake()) and moves them all into `out`.
  void wait(std::vector<mqtt::Event>& out, int64_t timeout_ms) {
    std::unique_lock lock(mutex_);
    if (events_.empty() && !woken_ && timeout_ms > 0)
      cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                   [&] { return !events_.empty() || woken_; });
    woken_ = false;
    while (!events_.empty()) {
      out.push_back(std::move(events_.front()));
      events_.pop_front();
    }
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<mqtt::Event> events_;
  bool woken_ = false;
};

}  // namespace classroom
