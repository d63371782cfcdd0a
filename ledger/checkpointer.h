// Checkpointer: signs a new checkpoint when the ledger has grown, at most
// `max_delay` after an append and at most once per `min_interval`
// (docs/ledger-format.md §6). Runs one background thread.
//
// Thread-safety: thread-safe. The ledger must outlive the checkpointer.
#ifndef CONSENTD_LEDGER_CHECKPOINTER_H_
#define CONSENTD_LEDGER_CHECKPOINTER_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>

#include "ledger/ledger.h"

namespace consentd::ledger {

struct CheckpointerOptions {
  // Sign no more often than this; the first append after a quiet period is
  // signed at once, later ones wait for the interval. Default: at most one
  // second between an append and a checkpoint covering it.
  std::chrono::milliseconds min_interval{1000};
  // Called after each checkpoint is stored (for witnesses and metrics).
  std::function<void(const StoredCheckpoint&)> on_signed;
  // Called when signing fails (the checkpointer retries at the next interval).
  std::function<void(const Status&)> on_error;
};

class Checkpointer {
 public:
  // Starts the thread. Installs itself as the ledger's commit listener.
  Checkpointer(Ledger& ledger, CheckpointerOptions options);
  // Stops the thread after signing whatever is pending.
  ~Checkpointer();
  Checkpointer(const Checkpointer&) = delete;
  Checkpointer& operator=(const Checkpointer&) = delete;

  // Blocks until a checkpoint covering at least `size` entries is stored, or
  // `timeout` passes. Returns true when covered.
  bool WaitForSize(uint64_t size, std::chrono::milliseconds timeout);

  // Size of the latest checkpoint this checkpointer knows of.
  uint64_t signed_size() const;

 private:
  void Run();

  Ledger& ledger_;
  const CheckpointerOptions options_;

  mutable std::mutex mu_;
  std::condition_variable cv_;       // wakes the thread
  std::condition_variable signed_cv_;  // wakes WaitForSize
  uint64_t wanted_size_ = 0;    // guarded by mu_
  uint64_t signed_size_ = 0;    // guarded by mu_
  bool stop_ = false;           // guarded by mu_
  std::thread thread_;
};

}  // namespace consentd::ledger

#endif  // CONSENTD_LEDGER_CHECKPOINTER_H_
