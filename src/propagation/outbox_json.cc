#include "src/propagation/outbox_json.h"

#include "src/base/time_format.h"

namespace consentd::propagation {

nlohmann::json RowJson(const OutboxRow& r) {
  nlohmann::json j = {{"id", r.id},
                      {"system", r.system},
                      {"sid", r.sid.ToHex()},
                      {"kind", std::string(ChangeKindName(r.kind))},
                      {"op", std::string(OperationName(r.kind))},
                      {"cause_seq", r.cause_seq}};
  if (r.kind == service::ChangeKind::kConsent) {
    j["purpose"] = r.purpose;
    j["decision"] = r.decision == domain::Decision::kGranted ? "granted" : "withdrawn";
  }
  if (!r.request_id.empty()) j["request_id"] = r.request_id;
  j["idempotency_key"] = r.idempotency_key;
  j["state"] = std::string(RowStateName(r.state));
  j["attempts"] = r.attempts;
  j["polls"] = r.polls;
  j["next_attempt_at"] = FormatTimestampMillis(r.next_attempt_ms);
  j["created_at"] = FormatTimestampMillis(r.created_ms);
  j["updated_at"] = FormatTimestampMillis(r.updated_ms);
  if (r.acked_ms > 0) j["acked_at"] = FormatTimestampMillis(r.acked_ms);
  j["last_status"] = r.last_status;
  j["last_code"] = r.last_code;
  if (!r.reference.empty()) j["reference"] = r.reference;
  if (!r.result.empty()) {
    j["result"] = r.result;
    j["outcome_seq"] = r.outcome_seq;
  }
  return j;
}

nlohmann::json SystemStatusJson(const SystemStatus& s, int64_t now_ms) {
  nlohmann::json j = {{"system", s.system}, {"paused", s.paused}};
  if (s.paused && s.paused_ms > 0) j["paused_at"] = FormatTimestampMillis(s.paused_ms);
  j["queue_depth"] = s.queue_depth;
  j["oldest_pending_age_seconds"] =
      s.oldest_pending_created_ms > 0 ? static_cast<double>(now_ms - s.oldest_pending_created_ms) / 1000.0 : 0.0;
  j["dead"] = s.dead;
  return j;
}

bool IsSystemId(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (size_t i = 0; i < id.size(); ++i) {
    char c = id[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (i > 0 && (c == '_' || c == '.' || c == '-'));
    if (!ok) return false;
  }
  return true;
}

}  // namespace consentd::propagation
