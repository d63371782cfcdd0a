// TokenBucket: the rate limit of one downstream system (policy
// rate_limit: requests_per_second, burst). Every HTTP request to the system
// takes one token; a caller without a token waits (through the Sleeper)
// for its turn. Implemented as GCRA (virtual scheduling): callers reserve
// their slot under the lock and then sleep outside it, so concurrent
// workers are spaced exactly 1/rate apart once the burst is spent.
//
// PauseUntil parks the whole bucket (a 429 with Retry-After, a throttle
// hint) and forfeits the burst, so the system is not hammered after the
// pause either.
//
// Thread-safety: thread-safe.
#ifndef CONSENTD_PROPAGATION_TOKEN_BUCKET_H_
#define CONSENTD_PROPAGATION_TOKEN_BUCKET_H_

#include <atomic>
#include <cstdint>
#include <mutex>

#include "src/base/clock.h"
#include "src/obs/metrics.h"
#include "src/propagation/sleeper.h"

namespace consentd::propagation {

class TokenBucket {
 public:
  // REQUIRES: requests_per_second > 0, burst >= 1. `clock` and `sleeper`
  // must outlive the bucket.
  TokenBucket(double requests_per_second, int32_t burst, const Clock& clock, Sleeper& sleeper);

  // Takes a token, waiting for it when needed. False when the sleeper was
  // cancelled (shutting down); the token is then not used.
  bool Acquire();
  // The time (Unix ms) at which a token would be granted if asked now,
  // without taking it.
  int64_t NextFreeMillis() const;
  // No token before `until_ms`, and no burst right after it.
  void PauseUntil(int64_t until_ms);

  // Acquire calls that had to wait, and the total wait.
  uint64_t waits() const { return waits_.load(); }
  uint64_t waited_ms() const { return waited_ms_.load(); }
  // Also counts waits in `counter` (a metric); may be null.
  void SetWaitCounter(obs::Counter* counter) { wait_counter_ = counter; }

 private:
  const double interval_ms_;   // 1000 / rate
  const double tolerance_ms_;  // (burst - 1) * interval
  const Clock& clock_;
  Sleeper& sleeper_;
  mutable std::mutex mu_;
  double tat_ms_ = 0;          // theoretical arrival time of the next request; guarded by mu_
  double paused_until_ms_ = 0; // guarded by mu_
  std::atomic<uint64_t> waits_{0};
  std::atomic<uint64_t> waited_ms_{0};
  obs::Counter* wait_counter_ = nullptr;
};

}  // namespace consentd::propagation

#endif  // CONSENTD_PROPAGATION_TOKEN_BUCKET_H_
