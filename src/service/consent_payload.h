// ConsentPayload: the JSON payload of a "consent.recorded" ledger entry:
// pseudonym, purpose, decision, times, source, outcome, rule, policy
// version, legal basis, notice, language, jurisdiction and the commitment to
// the sealed evidence. Never an identifier, the evidence or free text (the
// event's formats were validated before).
//
// The bytes are nlohmann::json's dump() of that object (keys sorted, no
// spaces): entries written before and after this builder existed read the
// same. Plain printable-ASCII values (every validated event) are written
// directly, without building a JSON tree (imports write one per event);
// anything else goes through nlohmann::json, which escapes it.
//
// Thread-safety: a pure function.
#ifndef CONSENTD_SERVICE_CONSENT_PAYLOAD_H_
#define CONSENTD_SERVICE_CONSENT_PAYLOAD_H_

#include <optional>
#include <string>
#include <string_view>

#include "policies/conflict.h"
#include "policies/policy_set.h"
#include "src/domain/sid.h"
#include "src/service/consent_service.h"
#include "src/vault/vault.h"

namespace consentd::service {

// REQUIRES: `purpose` is a purpose of `policy`.
std::string ConsentPayload(const domain::Sid& sid, const ConsentEvent& e, std::string_view purpose,
                           const policies::ConflictDecision& decision, const policies::PolicySet& policy,
                           const std::optional<vault::SealedRecord>& sealed);

// The same through nlohmann::json always (the reference the direct path
// must equal; tests compare the two).
std::string ConsentPayloadViaJson(const domain::Sid& sid, const ConsentEvent& e, std::string_view purpose,
                                  const policies::ConflictDecision& decision, const policies::PolicySet& policy,
                                  const std::optional<vault::SealedRecord>& sealed);

}  // namespace consentd::service

#endif  // CONSENTD_SERVICE_CONSENT_PAYLOAD_H_
