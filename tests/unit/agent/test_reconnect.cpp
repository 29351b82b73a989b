// The connection loop's shared part (agent/mqtt/reconnect.hpp) on a fake
// clock: which server, the attempt's tag and deadline, when to try again.
#include <catch2/catch.hpp>

#include "mqtt/reconnect.hpp"

using namespace classroom;

namespace {
mqtt::Reconnect three_servers(const Clock& clock) {
  return mqtt::Reconnect({"tcp://a:1883", "tcp://b:1883", "tcp://c:1883"}, Backoff(1'000, 8'000),
                         clock);
}
}  // namespace

TEST_CASE("reconnect: each failed attempt goes to the next server in turn", "[reconnect]") {
  FakeClock clock;
  mqtt::Reconnect r = three_servers(clock);
  CHECK(r.server() == "tcp://a:1883");
  CHECK(r.next_server() == "tcp://b:1883");
  r.failed(true);
  CHECK(r.server() == "tcp://b:1883");
  r.failed(true);
  CHECK(r.server() == "tcp://c:1883");
  CHECK(r.next_server() == "tcp://a:1883");
  r.failed(true);
  CHECK(r.server() == "tcp://a:1883");
  CHECK(r.server_index() == 0);
  // A connection that worked, lost: the same server again.
  r.failed(false);
  CHECK(r.server() == "tcp://a:1883");
}

TEST_CASE("reconnect: an attempt has a tag of its own and a deadline", "[reconnect]") {
  FakeClock clock;
  mqtt::Reconnect r = three_servers(clock);
  const uint64_t first = r.begin(12'000);
  CHECK(r.current(first));
  CHECK(r.deadline() == clock.steady_ms() + 12'000);
  clock.advance(11'999);
  CHECK_FALSE(r.overdue());
  clock.advance(1);
  CHECK(r.overdue());
  const uint64_t second = r.begin(12'000);
  CHECK(second != first);
  CHECK_FALSE(r.current(first));  // a late answer to the abandoned attempt
  CHECK(r.current(second));
  CHECK(r.attempt() == second);
  CHECK_FALSE(r.overdue());
}

TEST_CASE("reconnect: failures double the wait and a working connection resets it", "[reconnect]") {
  FakeClock clock;
  mqtt::Reconnect r = three_servers(clock);
  CHECK(r.due());  // the first attempt at once
  CHECK(r.failed(true) == 2'000);
  CHECK(r.failures() == 1);
  CHECK(r.retry_at() == clock.steady_ms() + 2'000);
  CHECK_FALSE(r.due());
  clock.advance(2'000);
  CHECK(r.due());
  CHECK(r.failed(true) == 4'000);
  CHECK(r.failed(true) == 8'000);
  CHECK(r.failed(true) == 8'000);  // the cap
  CHECK(r.failures() == 4);
  r.succeeded();
  CHECK(r.failures() == 0);
  CHECK(r.failed(true) == 2'000);  // from the start again
  // The loss of a connection that worked waits the shortest delay and
  // counts no failure.
  CHECK(r.failed(false) == 1'000);
  CHECK(r.failures() == 0);
  r.retry_now();
  CHECK(r.due());
}
