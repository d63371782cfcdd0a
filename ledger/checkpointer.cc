#include "ledger/checkpointer.h"

namespace consentd::ledger {

Checkpointer::Checkpointer(Ledger& ledger, CheckpointerOptions options)
    : ledger_(ledger), options_(std::move(options)) {
  Result<StoredCheckpoint> latest = ledger_.LatestCheckpoint();
  if (latest.ok()) signed_size_ = latest->checkpoint.size;
  wanted_size_ = ledger_.Size();
  ledger_.SetCommitListener([this](uint64_t size) {
    std::lock_guard<std::mutex> l(mu_);
    if (size > wanted_size_) wanted_size_ = size;
    cv_.notify_one();
  });
  thread_ = std::thread([this] { Run(); });
}

Checkpointer::~Checkpointer() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
    cv_.notify_one();
  }
  thread_.join();
  ledger_.SetCommitListener(nullptr);
}

uint64_t Checkpointer::signed_size() const {
  std::lock_guard<std::mutex> l(mu_);
  return signed_size_;
}

bool Checkpointer::WaitForSize(uint64_t size, std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> l(mu_);
  return signed_cv_.wait_for(l, timeout, [&] { return signed_size_ >= size; });
}

void Checkpointer::Run() {
  using Clock = std::chrono::steady_clock;
  Clock::time_point last_signed = Clock::now() - options_.min_interval;
  std::unique_lock<std::mutex> l(mu_);
  while (true) {
    cv_.wait(l, [&] { return stop_ || wanted_size_ > signed_size_; });
    if (wanted_size_ <= signed_size_) return;  // stopping with nothing pending
    // Rate limit: wait out the interval (an append after a quiet period is
    // signed at once). On stop, sign what is pending without waiting.
    Clock::time_point due = last_signed + options_.min_interval;
    if (!stop_ && Clock::now() < due) {
      cv_.wait_until(l, due, [&] { return stop_; });
    }
    l.unlock();
    Result<StoredCheckpoint> c = ledger_.SignCheckpoint();
    last_signed = Clock::now();
    l.lock();
    if (c.ok()) {
      if (c->checkpoint.size > signed_size_) signed_size_ = c->checkpoint.size;
      signed_cv_.notify_all();
      if (options_.on_signed) {
        l.unlock();
        options_.on_signed(*c);
        l.lock();
      }
      // Stopping: what was pending is signed. Appends that keep coming must
      // not keep the destructor waiting.
      if (stop_) return;
    } else {
      if (options_.on_error) {
        l.unlock();
        options_.on_error(c.status());
        l.lock();
      }
      if (stop_) return;
      // Retry after the interval rather than spinning.
      cv_.wait_for(l, options_.min_interval, [&] { return stop_; });
      if (stop_) return;
    }
  }
}

}  // namespace consentd::ledger
