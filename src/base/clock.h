// Clock: the source of wall-clock time, injected so that tests control it.
//
// Thread-safety: implementations must be thread-safe.
#ifndef CONSENTD_BASE_CLOCK_H_
#define CONSENTD_BASE_CLOCK_H_

#include <atomic>
#include <cstdint>

namespace consentd {

class Clock {
 public:
  virtual ~Clock() = default;
  // Milliseconds since the Unix epoch, UTC.
  virtual int64_t NowMillis() const = 0;
};

// The system's real-time clock.
class SystemClock final : public Clock {
 public:
  int64_t NowMillis() const override;
  // A process-wide instance.
  static const SystemClock& Get();
};

// A clock that tests set and advance by hand.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(int64_t start_millis = 1'700'000'000'000) : now_(start_millis) {}
  int64_t NowMillis() const override { return now_.load(); }
  void Set(int64_t millis) { now_.store(millis); }
  void Advance(int64_t millis) { now_.fetch_add(millis); }

 private:
  std::atomic<int64_t> now_;
};

}  // namespace consentd

#endif  // CONSENTD_BASE_CLOCK_H_
