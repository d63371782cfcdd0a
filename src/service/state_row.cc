#include "src/service/state_row.h"

namespace consentd::service {

Result<domain::ConsentState> StateFromRow(const vault::Stmt& q, int first) {
  domain::ConsentState st;
  st.decision = q.Int(first) ? domain::Decision::kGranted : domain::Decision::kWithdrawn;
  st.occurred_at_ms = q.Int(first + 1);
  st.source_system = q.Text(first + 2);
  st.source_rank = static_cast<int32_t>(q.Int(first + 3));
  Result<domain::ConsentMethod> m = domain::ParseConsentMethod(q.Text(first + 4));
  if (!m.ok()) return Status::Corruption("consent_state: unknown method");
  st.method = *m;
  st.ledger_seq = static_cast<uint64_t>(q.Int(first + 5));
  return st;
}

}  // namespace consentd::service
