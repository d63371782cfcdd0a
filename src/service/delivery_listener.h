// DeliveryListener: told of the final outcome of every delivery (a row of
// the outbox that reached a final state), inside the transaction that writes
// the outcome's ledger entry. The erasure service implements it to track a
// request's per-system progress and to complete it; propagation calls it.
//
// Thread-safety: implementations must be thread-safe.
#ifndef CONSENTD_SERVICE_DELIVERY_LISTENER_H_
#define CONSENTD_SERVICE_DELIVERY_LISTENER_H_

#include <cstdint>
#include <string>

#include "src/base/status.h"
#include "src/domain/sid.h"
#include "src/service/fan_out.h"

struct sqlite3;

namespace consentd::service {

enum class DeliveryResult {
  kConfirmed,    // the system applied the change (for asynchronous APIs: its job finished)
  kAlreadyDone,  // the system already had it (404 on a delete, 409 already scheduled)
  kFailed,       // failed permanently, or moved to the dead letters (attempts or age exhausted)
  kDiscarded,    // an operator discarded the dead letter
};

struct DeliveryOutcome {
  uint64_t outbox_id = 0;
  std::string system;        // policy system id
  ChangeKind kind = ChangeKind::kConsent;
  domain::Sid sid;
  uint64_t cause_seq = 0;    // the ledger entry that caused the delivery
  uint64_t outcome_seq = 0;  // the ledger entry that records this outcome
  std::string request_id;    // kErasure: the erasure request
  DeliveryResult result = DeliveryResult::kConfirmed;
  std::string reference;     // the system's own reference (job id, request id), when it returned one
  std::string detail;        // machine code of the last response, e.g. "http_404"; never personal data
  int64_t time_ms = 0;       // when the outcome was observed
};

class DeliveryListener {
 public:
  virtual ~DeliveryListener() = default;
  // Runs on `db` inside the transaction that appends entry
  // `outcome.outcome_seq`; a non-OK status rolls it back (the delivery stays
  // in its previous state and is retried). Must not begin, commit or roll
  // back transactions.
  virtual Status OnDeliveryOutcome(sqlite3* db, const DeliveryOutcome& outcome) = 0;
};

}  // namespace consentd::service

#endif  // CONSENTD_SERVICE_DELIVERY_LISTENER_H_
