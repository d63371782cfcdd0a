#include "src/service/consent_payload.h"

#include <nlohmann/json.hpp>

#include "src/base/bytes.h"
#include "src/base/json_text.h"
#include "src/base/time_format.h"

namespace consentd::service {
namespace {

// Appends "key":"value" (a comma first unless it opens the object).
void Member(std::string* out, std::string_view key, std::string_view value) {
  if (out->back() != '{') out->push_back(',');
  out->push_back('"');
  out->append(key);
  out->append("\":\"");
  out->append(value);
  out->push_back('"');
}

}  // namespace

std::string ConsentPayloadViaJson(const domain::Sid& sid, const ConsentEvent& e, std::string_view purpose,
                                  const policies::ConflictDecision& decision, const policies::PolicySet& policy,
                                  const std::optional<vault::SealedRecord>& sealed) {
  using nlohmann::json;
  const policies::Purpose* p = policy.FindPurpose(purpose);
  json payload = {
      {"sid", sid.ToHex()},
      {"purpose", std::string(purpose)},
      {"decision", std::string(domain::DecisionName(e.decision))},
      {"occurred_at", FormatTimestampMillis(e.occurred_at_ms)},
      {"source", {{"system", e.source.system}, {"method", std::string(domain::ConsentMethodName(e.source.method))}}},
      {"outcome", std::string(policies::ConflictOutcomeName(decision.outcome))},
      {"reason", std::string(decision.reason)},
      {"rule", std::string(decision.rule)},
      {"policy", policy.version},
      {"legal_basis", e.legal_basis.empty() ? std::string(policies::LegalBasisName(p->legal_basis)) : e.legal_basis},
  };
  if (!e.notice_id.empty()) payload["notice"] = {{"id", e.notice_id}, {"version", e.notice_version}};
  if (!e.language.empty()) payload["language"] = e.language;
  if (!e.jurisdiction.empty()) payload["jurisdiction"] = e.jurisdiction;
  if (sealed) payload["evidence"] = HexEncode(AsBytes(sealed->commitment));
  return payload.dump();
}

std::string ConsentPayload(const domain::Sid& sid, const ConsentEvent& e, std::string_view purpose,
                           const policies::ConflictDecision& decision, const policies::PolicySet& policy,
                           const std::optional<vault::SealedRecord>& sealed) {
  const policies::Purpose* p = policy.FindPurpose(purpose);
  const std::string occurred_at = FormatTimestampMillis(e.occurred_at_ms);
  const std::string_view legal_basis =
      e.legal_basis.empty() ? policies::LegalBasisName(p->legal_basis) : std::string_view(e.legal_basis);
  const std::string_view method = domain::ConsentMethodName(e.source.method);
  for (std::string_view v : {purpose, std::string_view(e.source.system), legal_basis, method,
                             std::string_view(e.notice_id), std::string_view(e.notice_version),
                             std::string_view(e.language), std::string_view(e.jurisdiction),
                             std::string_view(policy.version), decision.reason, decision.rule,
                             std::string_view(occurred_at)}) {
    if (!IsPlainJsonText(v)) return ConsentPayloadViaJson(sid, e, purpose, decision, policy, sealed);
  }
  // Members in nlohmann::json's (std::map's) key order.
  std::string out;
  out.reserve(384);
  out.push_back('{');
  Member(&out, "decision", domain::DecisionName(e.decision));
  if (sealed) Member(&out, "evidence", HexEncode(AsBytes(sealed->commitment)));
  if (!e.jurisdiction.empty()) Member(&out, "jurisdiction", e.jurisdiction);
  if (!e.language.empty()) Member(&out, "language", e.language);
  Member(&out, "legal_basis", legal_basis);
  if (!e.notice_id.empty()) {
    out.append(",\"notice\":{");
    Member(&out, "id", e.notice_id);
    Member(&out, "version", e.notice_version);
    out.push_back('}');
  }
  Member(&out, "occurred_at", occurred_at);
  Member(&out, "outcome", policies::ConflictOutcomeName(decision.outcome));
  Member(&out, "policy", policy.version);
  Member(&out, "purpose", purpose);
  Member(&out, "reason", decision.reason);
  Member(&out, "rule", decision.rule);
  Member(&out, "sid", sid.ToHex());
  out.append(",\"source\":{");
  Member(&out, "method", method);
  Member(&out, "system", e.source.system);
  out.append("}}");
  return out;
}

}  // namespace consentd::service
