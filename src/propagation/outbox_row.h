// OutboxRow: one delivery of one change to one system, as stored in the
// `outbox` table (docs/propagation.md), and the names of its states and
// results. Holds pseudonyms, policy keys, codes and references only: the
// personal data a delivery needs is read from the vault when it is sent.
//
// Thread-safety: value types; the functions are pure.
#ifndef CONSENTD_PROPAGATION_OUTBOX_ROW_H_
#define CONSENTD_PROPAGATION_OUTBOX_ROW_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "src/domain/consent.h"
#include "src/domain/sid.h"
#include "src/service/delivery_listener.h"
#include "src/service/fan_out.h"

namespace consentd::propagation {

// The life of a row:
//   pending --claim--> in_flight --2xx--> done
//                         |  \--202 job--> accepted --confirm polls--> done
//                         |--retry later--> pending (next_attempt_ms later)
//                         \--permanent, attempts or age exhausted--> dead
//   dead --replay--> pending;  dead --discard--> discarded
// done, dead and discarded are final for ordering: a later row of the same
// subject and system is eligible once every earlier row is in one of them.
enum class RowState { kPending, kInFlight, kAccepted, kDone, kDead, kDiscarded };

std::string_view RowStateName(RowState s);  // "pending", "in_flight", ...
std::optional<RowState> ParseRowState(std::string_view name);
bool IsFinal(RowState s);  // done, dead, discarded

std::string_view DeliveryResultName(service::DeliveryResult r);  // "confirmed", "already_done", "failed", "discarded"
std::string_view ChangeKindName(service::ChangeKind k);          // "consent", "erasure"
std::optional<service::ChangeKind> ParseChangeKind(std::string_view name);
// The adapter operation of a change: "set_consent" or "erase".
std::string_view OperationName(service::ChangeKind k);

struct OutboxRow {
  int64_t id = 0;
  std::string system;  // policy system id
  domain::Sid sid;
  service::ChangeKind kind = service::ChangeKind::kConsent;
  uint64_t cause_seq = 0;
  std::string purpose;  // kConsent
  domain::Decision decision = domain::Decision::kWithdrawn;  // kConsent
  int64_t occurred_at_ms = 0;
  std::string request_id;       // kErasure
  std::string idempotency_key;  // IdempotencyKey(cause_seq, system)
  RowState state = RowState::kPending;
  int32_t attempts = 0;       // delivery attempts (not confirm polls)
  int32_t polls = 0;          // Confirm() calls after an accepted job
  int64_t next_attempt_ms = 0;
  int64_t created_ms = 0;     // when the cause's transaction wrote the row
  int64_t updated_ms = 0;
  int64_t acked_ms = 0;       // the first 2xx (done or accepted); 0 before
  int32_t last_status = 0;    // HTTP status of the last response; 0 for none
  std::string last_code;      // machine code of the last attempt, e.g. "http_503"
  std::string reference;      // the system's reference (job id), when it gave one
  std::string result;         // final rows: DeliveryResultName of the recorded outcome
  uint64_t outcome_seq = 0;   // final rows: the "delivery.outcome" entry
};

// "cd-<seq>-<16 hex of SHA-256(system)>": stable for one cause entry and one
// system, so every attempt (and a replay) of a delivery carries the same key,
// and within [A-Za-z0-9_-]{1,64}.
std::string IdempotencyKey(uint64_t cause_seq, std::string_view system);

// Keeps `code` to [A-Za-z0-9_.:-] and 64 bytes (other bytes become '_');
// "unknown" when empty. Codes come from adapters and downstream bodies;
// this bounds what reaches the outbox, logs and the ledger.
std::string SanitizeCode(std::string_view code);
// Keeps a system's reference when it is 1..128 bytes of
// [A-Za-z0-9_.:/=+@-]; "" otherwise (a reference is an id, never text).
std::string SanitizeReference(std::string_view reference);

}  // namespace consentd::propagation

#endif  // CONSENTD_PROPAGATION_OUTBOX_ROW_H_
