// Backoff: when to try a delivery again. Exponential backoff with full
// jitter (a uniform delay in [0, min(cap, base * 2^(attempt-1))]), never
// earlier than the system asked for (Retry-After or its throttle hint).
//
// Thread-safety: BackoffDelay is pure; UniformSource implementations are
// thread-safe.
#ifndef CONSENTD_PROPAGATION_BACKOFF_H_
#define CONSENTD_PROPAGATION_BACKOFF_H_

#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <random>

namespace consentd::propagation {

struct BackoffPolicy {
  int64_t base_ms = 1000;
  int64_t cap_ms = 15 * 60 * 1000;
};

// A number in [0, 1); injected so that tests fix the jitter.
using UniformSource = std::function<double()>;

// A thread-safe source seeded from std::random_device.
UniformSource RandomUniform();

// The delay before attempt `attempt` + 1, after `attempt` (>= 1) failed
// attempts. `retry_after_ms`, when set, is a floor.
int64_t BackoffDelay(const BackoffPolicy& policy, int32_t attempt, double uniform,
                     std::optional<int64_t> retry_after_ms);

}  // namespace consentd::propagation

#endif  // CONSENTD_PROPAGATION_BACKOFF_H_
