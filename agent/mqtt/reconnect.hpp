// The part of keeping an MQTT connection up that the agent's session (Uplink)
// and the operator's console (console::Connection) share: the servers, and
// which one is tried now; the tag of the attempt under way, so that the
// answer of an abandoned attempt is told apart; the deadline by which the
// broker must have answered (Paho says nothing when a port takes TCP but
// never speaks MQTT); and when to try again, with the backoff, on an
// injected Clock.
//
//   begin()  --answer-->  (the user's states: subscribing, online ...)
//     |  no answer by deadline(): overdue()
//     v
//   failed(next_server)  -> next server (or the same one), retry_at()
//   succeeded()          -> the next failure waits the shortest delay again
//
// A failure moves to the next server and counts one more failure (the delay
// doubles); the loss of a connection that worked keeps the server and starts
// the count afresh. What the connection is doing (connecting, subscribing,
// online ...) stays with each user: their states differ (the session waits
// for a primary host; the console has one subscription).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "backoff.hpp"
#include "clock.hpp"

namespace classroom::mqtt {

class Reconnect {
 public:
  // `servers` (at least one) tried in order; the delay after a failure comes
  // from `backoff`; times are `clock`'s steady milliseconds.
  Reconnect(std::vector<std::string> servers, Backoff backoff, const Clock& clock);

  // The server being tried or connected to, or the one to try next.
  const std::string& server() const { return servers_[index_]; }
  size_t server_index() const { return index_; }
  // The one after it (itself when there is one server).
  const std::string& next_server() const { return servers_[(index_ + 1) % servers_.size()]; }

  // An attempt begins now: a new tag for its CONNECT, and the broker must
  // have answered within `answer_ms`.
  uint64_t begin(int64_t answer_ms);
  // The tag of the latest attempt: events of any other are an abandoned one's.
  uint64_t attempt() const { return attempt_; }
  bool current(uint64_t tag) const { return tag == attempt_; }
  int64_t deadline() const { return deadline_; }
  bool overdue() const { return clock_.steady_ms() >= deadline_; }

  // The attempt failed, or the connection was lost. `next_server`: one more
  // failure, and the next server of the list; else (a connection that
  // worked, lost) the same server and no failure counted. Returns the delay
  // until the next attempt (retry_at()).
  int64_t failed(bool next_server);
  // The connection works: the next failure waits the shortest delay again.
  void succeeded() { failures_ = 0; }
  // The next attempt at once (the same server again in another protocol).
  void retry_now() { retry_at_ = clock_.steady_ms(); }
  bool due() const { return clock_.steady_ms() >= retry_at_; }
  int64_t retry_at() const { return retry_at_; }
  // Failed attempts in a row since the last connection that worked.
  int failures() const { return failures_; }

  // The backoff itself, for other retries of the same connection (a refused
  // subscription asked again): one jitter for all of them.
  Backoff& backoff() { return backoff_; }

 private:
  std::vector<std::string> servers_;
  Backoff backoff_;
  const Clock& clock_;
  size_t index_ = 0;
  uint64_t attempt_ = 0;
  int64_t deadline_ = 0;
  int64_t retry_at_ = 0;
  int failures_ = 0;
};

}  // namespace classroom::mqtt
