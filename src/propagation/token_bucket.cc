#include "src/propagation/token_bucket.h"

#include <algorithm>
#include <cmath>

namespace consentd::propagation {

TokenBucket::TokenBucket(double requests_per_second, int32_t burst, const Clock& clock, Sleeper& sleeper)
    : interval_ms_(1000.0 / std::max(requests_per_second, 1e-6)),
      tolerance_ms_((std::max(burst, 1) - 1) * (1000.0 / std::max(requests_per_second, 1e-6))),
      clock_(clock),
      sleeper_(sleeper) {}

bool TokenBucket::Acquire() {
  double start;
  const double now = static_cast<double>(clock_.NowMillis());
  {
    std::lock_guard<std::mutex> lock(mu_);
    const double t = std::max(now, paused_until_ms_);
    const double tat = std::max(tat_ms_, t);
    start = std::max(t, tat - tolerance_ms_);
    tat_ms_ = tat + interval_ms_;
  }
  if (start <= now) return true;
  waits_.fetch_add(1);
  waited_ms_.fetch_add(static_cast<uint64_t>(start - now));
  if (wait_counter_ != nullptr) wait_counter_->Add();
  // Round up: waking a millisecond early would send before the slot.
  return sleeper_.SleepUntil(static_cast<int64_t>(std::ceil(start)));
}

int64_t TokenBucket::NextFreeMillis() const {
  const double now = static_cast<double>(clock_.NowMillis());
  std::lock_guard<std::mutex> lock(mu_);
  const double t = std::max(now, paused_until_ms_);
  return static_cast<int64_t>(std::ceil(std::max(t, std::max(tat_ms_, t) - tolerance_ms_)));
}

void TokenBucket::PauseUntil(int64_t until_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  const double until = static_cast<double>(until_ms);
  if (until <= paused_until_ms_) return;
  paused_until_ms_ = until;
  tat_ms_ = std::max(tat_ms_, until + tolerance_ms_);
}

}  // namespace consentd::propagation
