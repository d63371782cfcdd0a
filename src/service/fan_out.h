// FanOut: the seam between the services that change what consentd knows of a
// subject (consent, erasure, webhook ingest) and propagation (the outbox and
// its dispatcher, src/propagation). A service calls Enqueue inside the write
// transaction of the ledger entry that records the change, so that the entry,
// the state it changes and the outbox rows it causes commit together or not
// at all (architecture.md, invariant 2).
//
// Echo suppression starts here: a service calls Enqueue only when the
// subject's effective state for the purpose really changed, and the
// implementation never sends a change back to the system that reported it
// (`origin_system`).
//
// Thread-safety: implementations must be thread-safe; Enqueue runs on the
// writer thread that owns `db` at that moment.
#ifndef CONSENTD_SERVICE_FAN_OUT_H_
#define CONSENTD_SERVICE_FAN_OUT_H_

#include <cstdint>
#include <span>
#include <string>

#include "src/base/status.h"
#include "src/domain/consent.h"
#include "src/domain/sid.h"

struct sqlite3;

namespace consentd::service {

enum class ChangeKind {
  kConsent,  // a purpose's effective decision changed: tell the systems that receive the purpose
  kErasure,  // erase the subject: tell every system that may hold it
};

// One change to propagate. Holds pseudonyms and policy keys only: the
// personal data a delivery needs is read from the vault at delivery time,
// so that shredding a subject also empties its pending deliveries.
struct Change {
  ChangeKind kind = ChangeKind::kConsent;
  domain::Sid sid;             // the subject (its root after merges)
  uint64_t seq = 0;            // the ledger entry that records the change
  std::string purpose;         // kConsent: the policy purpose key
  domain::Decision decision = domain::Decision::kWithdrawn;  // kConsent: the new effective decision
  int64_t occurred_at_ms = 0;  // when the change happened at its source
  std::string origin_system;   // the policy system id that reported it; empty for API, import, officer
  std::string request_id;      // kErasure: the erasure request it belongs to
  // kErasure: when set, only this policy system hears of it (an erasure
  // re-sent to a system that tried to re-create an erased person).
  std::string target_system;
};

class FanOut {
 public:
  virtual ~FanOut() = default;

  // Writes, on `db` and inside the caller's open write transaction, one
  // outbox row per system that must hear of `change` (as the policy routes
  // purposes to systems; never `change.origin_system`). OK when the rows
  // are written (possibly none). A non-OK status makes the caller's hook
  // fail, which rolls the whole transaction back. Must not begin, commit or
  // roll back transactions.
  virtual Status Enqueue(sqlite3* db, const Change& change) = 0;
  // Enqueue of each change, with the same rows, for writers that record
  // many changes in one transaction (imports, bulk requests): an
  // implementation overrides it to prepare its statements once, and may
  // write the rows of different subjects in another order than the
  // changes' (the rows of one subject keep the changes' order). An error
  // fails the caller's hook like Enqueue's.
  virtual Status EnqueueMany(sqlite3* db, std::span<const Change> changes) {
    for (const Change& c : changes) {
      Status s = Enqueue(db, c);
      if (!s.ok()) return s;
    }
    return Status::Ok();
  }
};

}  // namespace consentd::service

#endif  // CONSENTD_SERVICE_FAN_OUT_H_
