// StateFromRow: a consent_state row read into a ConsentState. Every query
// of the projection selects its six columns in this order:
//   decision, occurred_ms, source_system, source_rank, method, seq
// starting at some column; this is the one place that decodes them.
//
// Thread-safety: a pure function of the statement's current row.
#ifndef CONSENTD_SERVICE_STATE_ROW_H_
#define CONSENTD_SERVICE_STATE_ROW_H_

#include "src/base/result.h"
#include "src/domain/consent.h"
#include "src/vault/sqlite_database.h"

namespace consentd::service {

// The state in columns first..first+5 of q's current row. kCorruption for
// a method name this build does not know.
Result<domain::ConsentState> StateFromRow(const vault::Stmt& q, int first);

}  // namespace consentd::service

#endif  // CONSENTD_SERVICE_STATE_ROW_H_
