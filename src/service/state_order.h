// Beats: which of two consent states of one subject group wins (a subject
// and the subjects merged into it each keep their own state row; queries
// answer with the winner). Shared by ConsentService's reads and the bulk
// check (bulk_check.h).
//
// Thread-safety: a pure function.
#ifndef CONSENTD_SERVICE_STATE_ORDER_H_
#define CONSENTD_SERVICE_STATE_ORDER_H_

#include "src/domain/consent.h"

namespace consentd::service {

// True when `a` wins over `b`: newest first, then higher rank, then the
// opt-out (policies/conflict.h), then the later ledger entry.
inline bool Beats(const domain::ConsentState& a, const domain::ConsentState& b) {
  if (a.occurred_at_ms != b.occurred_at_ms) return a.occurred_at_ms > b.occurred_at_ms;
  if (a.source_rank != b.source_rank) return a.source_rank > b.source_rank;
  if (a.decision != b.decision) return a.decision == domain::Decision::kWithdrawn;
  return a.ledger_seq > b.ledger_seq;
}

}  // namespace consentd::service

#endif  // CONSENTD_SERVICE_STATE_ORDER_H_
