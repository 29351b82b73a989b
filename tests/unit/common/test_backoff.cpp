// The one backoff (agent/common/backoff.hpp), with each of its users' settings.
#include <catch2/catch.hpp>

#include "backoff.hpp"

using namespace classroom;

TEST_CASE("backoff: doubles per failure up to its maximum", "[backoff]") {
  Backoff b(500, 10'000);  // the console's
  CHECK(b.delay(0) == 500);
  CHECK(b.delay(1) == 1'000);
  CHECK(b.delay(2) == 2'000);
  CHECK(b.delay(4) == 8'000);
  CHECK(b.delay(5) == 10'000);
  CHECK(b.delay(6) == 10'000);
  CHECK(b.delay(1'000'000) == 10'000);  // no overflow however long the outage
  CHECK(b.delay(-3) == 500);            // a count below zero is none
  CHECK(b.delay(1) == 1'000);           // no jitter: the same every time
}

TEST_CASE("backoff: the scheduler's factor is 2x 4x 8x then 16x its interval", "[backoff]") {
  const int64_t interval = 30'000;
  Backoff b(interval, 16 * interval);
  int64_t expected[] = {1, 2, 4, 8, 16, 16, 16};
  for (int failures = 0; failures < 7; ++failures)
    CHECK(b.delay(failures) == expected[failures] * interval);
}

TEST_CASE("backoff: jitter spreads each delay within 20 percent and under the cap", "[backoff]") {
  Backoff b(1'000, 60'000, 0.2, 42);
  int64_t lowest = INT64_MAX, highest = 0;
  for (int i = 0; i < 2'000; ++i) {
    const int64_t d = b.delay(2);  // 4 s +-20 %
    REQUIRE(d >= 3'200);
    REQUIRE(d <= 4'800);
    lowest = std::min(lowest, d);
    highest = std::max(highest, d);
  }
  // Spread over the range, not one value: gateways do not come back together.
  CHECK(lowest < 3'400);
  CHECK(highest > 4'600);
  for (int i = 0; i < 200; ++i) {
    const int64_t capped = b.delay(20);  // 60 s +-20 %, never over the cap
    REQUIRE(capped >= 48'000);
    REQUIRE(capped <= 60'000);
  }
}

TEST_CASE("backoff: the same seed draws the same delays", "[backoff]") {
  Backoff a(1'000, 60'000, 0.2, 7), b(1'000, 60'000, 0.2, 7), c(1'000, 60'000, 0.2, 8);
  bool differs = false;
  for (int i = 0; i < 20; ++i) {
    const int64_t da = a.delay(3);
    CHECK(da == b.delay(3));
    differs = differs || da != c.delay(3);
  }
  CHECK(differs);
}

TEST_CASE("backoff: settings out of range are made sane", "[backoff]") {
  Backoff b(0, -5);  // at least 1 ms, and a maximum no lower than that
  CHECK(b.first_ms() == 1);
  CHECK(b.max_ms() == 1);
  CHECK(b.delay(10) == 1);
}
