// TokenBucket with a fake clock: burst, spacing, pauses.
#include <catch2/catch.hpp>

#include "src/propagation/token_bucket.h"

namespace consentd::propagation {
namespace {

TEST_CASE("a bucket grants its burst at once, then one token per interval") {
  FakeClock clock;
  FakeSleeper sleeper(clock);
  TokenBucket b(10, 3, clock, sleeper);  // 100 ms apart, burst 3
  const int64_t t0 = clock.NowMillis();
  for (int i = 0; i < 3; ++i) REQUIRE(b.Acquire());
  CHECK(clock.NowMillis() == t0);
  CHECK(b.waits() == 0);
  REQUIRE(b.Acquire());
  CHECK(clock.NowMillis() == t0 + 100);
  REQUIRE(b.Acquire());
  CHECK(clock.NowMillis() == t0 + 200);
  CHECK(b.waits() == 2);
  // Idle time refills up to the burst, not beyond.
  clock.Advance(10000);
  const int64_t t1 = clock.NowMillis();
  for (int i = 0; i < 4; ++i) REQUIRE(b.Acquire());
  CHECK(clock.NowMillis() == t1 + 100);
}

TEST_CASE("over any window a bucket never grants more than burst + rate * window") {
  FakeClock clock;
  FakeSleeper sleeper(clock);
  TokenBucket b(7, 4, clock, sleeper);
  const int64_t t0 = clock.NowMillis();
  for (int i = 0; i < 74; ++i) REQUIRE(b.Acquire());
  // 4 at once, then 70 more at 7/s: 10 s.
  CHECK(clock.NowMillis() - t0 >= 10000);
  CHECK(clock.NowMillis() - t0 <= 10001);
}

TEST_CASE("a paused bucket grants nothing before the pause ends and no burst after it") {
  FakeClock clock;
  FakeSleeper sleeper(clock);
  TokenBucket b(10, 5, clock, sleeper);
  const int64_t t0 = clock.NowMillis();
  b.PauseUntil(t0 + 2000);
  CHECK(b.NextFreeMillis() == t0 + 2000);
  REQUIRE(b.Acquire());
  CHECK(clock.NowMillis() == t0 + 2000);
  REQUIRE(b.Acquire());
  CHECK(clock.NowMillis() == t0 + 2100);
  b.PauseUntil(t0 + 1000);  // an earlier pause changes nothing
  CHECK(b.NextFreeMillis() == t0 + 2200);
}

TEST_CASE("a cancelled sleeper makes a waiting Acquire return false") {
  FakeClock clock;
  FakeSleeper sleeper(clock);
  TokenBucket b(1, 1, clock, sleeper);
  REQUIRE(b.Acquire());
  sleeper.Cancel();
  CHECK_FALSE(b.Acquire());
}

}  // namespace
}  // namespace consentd::propagation
