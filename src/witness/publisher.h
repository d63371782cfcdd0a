// CheckpointPublisher: what the log publishes as its checkpoint, and the
// witness cosigning behind it (c2sp.org/tlog-witness; docs/operations.md
// "Witnesses").
//
// The checkpointer hands every newly signed checkpoint to OnSigned(), which
// only records it and wakes the witness threads: a witness that is down or
// slow never blocks appends or signing. One thread per witness sends
// add-checkpoint with the witness's last cosigned size and a consistency
// proof from it; on 409 it resends from the size the witness reports; on
// 200 it verifies and stores the cosignature. Failures back off
// exponentially (retry_min .. retry_max).
//
// State (in the ledger's database, written through Ledger::Append's
// transaction hook so that it never competes with the ledger's writer):
//   ledger_witnesses(name TEXT PRIMARY KEY, size INTEGER, updated_ms INTEGER)
//   ledger_cosignatures(size INTEGER, witness TEXT, line TEXT, created_ms INTEGER,
//                       PRIMARY KEY(size, witness))
//
// Published checkpoint: with quorum 0, the latest signed checkpoint with
// whatever cosignatures it has; with quorum k, the newest checkpoint that k
// distinct configured witnesses cosigned, with their cosignatures.
//
// Thread-safety: thread-safe. The ledger must outlive the publisher.
#ifndef CONSENTD_WITNESS_PUBLISHER_H_
#define CONSENTD_WITNESS_PUBLISHER_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "ledger/ledger.h"
#include "src/base/clock.h"
#include "src/obs/logger.h"
#include "src/witness/witness_protocol.h"

namespace consentd::witness {

struct PublisherOptions {
  std::vector<WitnessEndpoint> witnesses;
  size_t quorum = 0;  // cosignatures required before a checkpoint is published
  WitnessTransport transport;  // required when there are witnesses
  std::chrono::milliseconds retry_min{500};
  std::chrono::milliseconds retry_max{30000};
  const obs::Logger* logger = nullptr;  // optional
  const Clock* clock = nullptr;         // default: the system clock
};

// The checkpoint the log serves: the signed note with cosignature lines.
struct Published {
  uint64_t size = 0;
  std::string note;
  size_t cosignatures = 0;
};

class CheckpointPublisher {
 public:
  // Creates the tables if missing, loads the witnesses' sizes and recent
  // cosignatures, and starts one thread per witness; the latest stored
  // checkpoint is offered to them at once. kInvalidArgument when the quorum
  // exceeds the number of witnesses or two witnesses share a name.
  static Result<std::unique_ptr<CheckpointPublisher>> Start(ledger::Ledger& ledger, PublisherOptions options);
  ~CheckpointPublisher();  // stops and joins the threads (an in-flight request finishes or times out)
  CheckpointPublisher(const CheckpointPublisher&) = delete;
  CheckpointPublisher& operator=(const CheckpointPublisher&) = delete;

  // Records a newly signed checkpoint; never blocks on a witness.
  void OnSigned(const ledger::StoredCheckpoint& checkpoint);

  // The published checkpoint; kNotFound when none is (yet).
  Result<Published> Current() const;
  // Size of the published checkpoint (0 when none).
  uint64_t published_size() const;
  // Waits until the published size reaches `size`; true when it did.
  bool WaitForPublished(uint64_t size, std::chrono::milliseconds timeout) const;
  // The last size `witness` cosigned (0 when none or unknown).
  uint64_t witness_size(const std::string& witness) const;
  size_t quorum() const { return options_.quorum; }
  const std::vector<WitnessEndpoint>& witnesses() const { return options_.witnesses; }

 private:
  CheckpointPublisher(ledger::Ledger& ledger, PublisherOptions options);
  Status Load();
  void RunWitness(size_t i);
  // One add-checkpoint exchange (with 409 resends) for `cp`; OK when cosigned.
  Status Cosign(size_t i, const ledger::StoredCheckpoint& cp);
  Status Store(const std::string& witness, uint64_t size, const std::string& line_block);
  void RecomputePublishedLocked();
  void Log(bool error, std::string_view event, const nlohmann::json& fields) const;

  ledger::Ledger& ledger_;
  const PublisherOptions options_;
  const Clock* clock_;

  mutable std::mutex mu_;
  mutable std::condition_variable cv_;  // new checkpoint, stop, or publication
  bool stop_ = false;                            // guarded by mu_
  std::optional<ledger::StoredCheckpoint> latest_;  // guarded by mu_
  std::map<std::string, uint64_t> witness_size_;    // guarded by mu_
  // size -> witness -> cosignature lines (joined with "\n"); recent sizes only.
  std::map<uint64_t, std::map<std::string, std::string>> cosignatures_;  // guarded by mu_
  std::optional<Published> published_;               // guarded by mu_
  std::vector<std::thread> threads_;
};

}  // namespace consentd::witness

#endif  // CONSENTD_WITNESS_PUBLISHER_H_
