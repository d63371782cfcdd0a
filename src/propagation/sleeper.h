// Sleeper: how the dispatcher waits for a moment of its clock, so that unit
// tests run without real waiting. RealSleeper waits on a condition variable
// against the system clock and can be woken; FakeSleeper moves a FakeClock
// forward to the deadline at once.
//
// Thread-safety: implementations are thread-safe.
#ifndef CONSENTD_PROPAGATION_SLEEPER_H_
#define CONSENTD_PROPAGATION_SLEEPER_H_

#include <condition_variable>
#include <cstdint>
#include <mutex>

#include "src/base/clock.h"

namespace consentd::propagation {

class Sleeper {
 public:
  virtual ~Sleeper() = default;
  // Returns once clock.NowMillis() >= deadline_ms, or earlier when woken by
  // Cancel(). False when cancelled (the caller should stop).
  virtual bool SleepUntil(int64_t deadline_ms) = 0;
  // Wakes every sleeper and makes later sleeps return false at once.
  virtual void Cancel() = 0;
  virtual bool cancelled() const = 0;
};

class RealSleeper final : public Sleeper {
 public:
  explicit RealSleeper(const Clock& clock) : clock_(clock) {}
  bool SleepUntil(int64_t deadline_ms) override;
  void Cancel() override;
  bool cancelled() const override;

 private:
  const Clock& clock_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool cancelled_ = false;  // guarded by mu_
};

class FakeSleeper final : public Sleeper {
 public:
  explicit FakeSleeper(FakeClock& clock) : clock_(clock) {}
  bool SleepUntil(int64_t deadline_ms) override;
  void Cancel() override;
  bool cancelled() const override;
  int64_t slept_ms() const;  // total time skipped

 private:
  FakeClock& clock_;
  mutable std::mutex mu_;
  bool cancelled_ = false;  // guarded by mu_
  int64_t slept_ms_ = 0;    // guarded by mu_
};

}  // namespace consentd::propagation

#endif  // CONSENTD_PROPAGATION_SLEEPER_H_
