// AccessRequests: the access requests (Shopify customers/data_request, a
// signed webhook's access.requested) and shop redactions (Shopify
// shop/redact) that verified sources file, kept for the privacy officer to
// act on (GET /v1/access-requests). Recording one appends a ledger entry
// ("access_request.received" or "shop_redact.received": request id, system,
// pseudonym; no personal data), its row, and the webhook delivery row, in
// ONE durable transaction. docs/webhooks.md "Access requests".
//
// Thread-safety: thread-safe.
#ifndef CONSENTD_INGEST_ACCESS_REQUESTS_H_
#define CONSENTD_INGEST_ACCESS_REQUESTS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "src/base/clock.h"
#include "src/base/result.h"
#include "src/domain/sid.h"
#include "src/ingest/delivery_log.h"
#include "src/vault/ledger_writer.h"
#include "src/vault/sqlite_database.h"

struct sqlite3;

namespace consentd::ingest {

struct AccessRequest {
  std::string id;           // "ar-<16 hex>"
  std::string kind;         // "access" or "shop_redact"
  std::string system;       // the policy system id that sent it
  std::optional<domain::Sid> sid;  // the subject, when the identifiers matched one
  std::string reference;    // the system's own request id (e.g. Shopify data_request.id); no personal data
  int64_t received_ms = 0;
  uint64_t seq = 0;         // its ledger entry
};

class AccessRequests {
 public:
  static Status EnsureSchema(sqlite3* db);

  AccessRequests(vault::LedgerWriter& writer, vault::Database& db, const Clock& clock)
      : writer_(writer), db_(db), clock_(clock) {}

  // Records `request` (id, received_ms and seq are assigned) with
  // `delivery` (its seq filled in). kAlreadyExists when the delivery was
  // recorded before: nothing is written.
  Result<AccessRequest> Record(AccessRequest request, DeliveryRow delivery);

  // Newest first, at most `limit`.
  Result<std::vector<AccessRequest>> List(size_t limit);

 private:
  vault::LedgerWriter& writer_;
  vault::Database& db_;
  const Clock& clock_;
};

}  // namespace consentd::ingest

#endif  // CONSENTD_INGEST_ACCESS_REQUESTS_H_
