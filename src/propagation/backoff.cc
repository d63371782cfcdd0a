#include "src/propagation/backoff.h"

#include <algorithm>
#include <memory>

namespace consentd::propagation {

UniformSource RandomUniform() {
  struct State {
    std::mutex mu;
    std::mt19937_64 rng{std::random_device{}()};
  };
  auto state = std::make_shared<State>();
  return [state] {
    std::lock_guard<std::mutex> lock(state->mu);
    return std::uniform_real_distribution<double>(0.0, 1.0)(state->rng);
  };
}

int64_t BackoffDelay(const BackoffPolicy& policy, int32_t attempt, double uniform,
                     std::optional<int64_t> retry_after_ms) {
  const int32_t shift = std::clamp(attempt - 1, 0, 40);
  int64_t ceiling = policy.cap_ms;
  if (shift < 40 && policy.base_ms <= (policy.cap_ms >> shift)) ceiling = policy.base_ms << shift;
  ceiling = std::min(ceiling, policy.cap_ms);
  const double u = std::clamp(uniform, 0.0, 1.0);
  int64_t delay = static_cast<int64_t>(u * static_cast<double>(ceiling));
  if (retry_after_ms) delay = std::max(delay, *retry_after_ms);
  return std::max<int64_t>(delay, 0);
}

}  // namespace consentd::propagation
