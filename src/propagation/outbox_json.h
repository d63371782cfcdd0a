// JSON views of outbox rows and system statuses, shared by the operator API
// (src/api/propagation_routes.h) and `consentctl dlq|system`. They hold
// what the rows hold: pseudonyms, policy keys, codes and references, never
// personal data.
//
// Thread-safety: pure functions.
#ifndef CONSENTD_PROPAGATION_OUTBOX_JSON_H_
#define CONSENTD_PROPAGATION_OUTBOX_JSON_H_

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "src/propagation/outbox.h"

namespace consentd::propagation {

// {"id","system","sid","kind","op","cause_seq",["purpose","decision"],["request_id"],
//  "idempotency_key","state","attempts","polls","next_attempt_at","created_at",
//  "updated_at",["acked_at"],"last_status","last_code",["reference"],["result","outcome_seq"]}
nlohmann::json RowJson(const OutboxRow& row);

// {"system","paused",["paused_at"],"queue_depth","oldest_pending_age_seconds","dead"}
nlohmann::json SystemStatusJson(const SystemStatus& status, int64_t now_ms);

// True for a syntactically valid policy system id ([a-z0-9][a-z0-9_.-]{0,63}).
bool IsSystemId(std::string_view id);

}  // namespace consentd::propagation

#endif  // CONSENTD_PROPAGATION_OUTBOX_JSON_H_
