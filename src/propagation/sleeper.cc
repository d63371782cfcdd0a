#include "src/propagation/sleeper.h"

#include <chrono>

namespace consentd::propagation {

bool RealSleeper::SleepUntil(int64_t deadline_ms) {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    if (cancelled_) return false;
    const int64_t left = deadline_ms - clock_.NowMillis();
    if (left <= 0) return true;
    cv_.wait_for(lock, std::chrono::milliseconds(left));
  }
}

void RealSleeper::Cancel() {
  std::lock_guard<std::mutex> lock(mu_);
  cancelled_ = true;
  cv_.notify_all();
}

bool RealSleeper::cancelled() const {
  std::lock_guard<std::mutex> lock(mu_);
  return cancelled_;
}

bool FakeSleeper::SleepUntil(int64_t deadline_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  if (cancelled_) return false;
  const int64_t now = clock_.NowMillis();
  if (deadline_ms > now) {
    slept_ms_ += deadline_ms - now;
    clock_.Set(deadline_ms);
  }
  return true;
}

void FakeSleeper::Cancel() {
  std::lock_guard<std::mutex> lock(mu_);
  cancelled_ = true;
}

bool FakeSleeper::cancelled() const {
  std::lock_guard<std::mutex> lock(mu_);
  return cancelled_;
}

int64_t FakeSleeper::slept_ms() const {
  std::lock_guard<std::mutex> lock(mu_);
  return slept_ms_;
}

}  // namespace consentd::propagation
