// ConsentPayload: the direct builder writes exactly the bytes of
// nlohmann::json's dump() (the format entries had before it), for every
// combination of optional members, and falls back to nlohmann::json for any
// value that needs escaping.
#include "src/service/consent_payload.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

namespace consentd::service {
namespace {

policies::PolicySet Policy() {
  policies::PolicySet p;
  policies::Purpose email;
  email.key = "email_marketing";
  email.legal_basis = policies::LegalBasis::kConsent;
  p.purposes[email.key] = email;
  policies::Purpose ads;
  ads.key = "personalised_ads";
  ads.legal_basis = policies::LegalBasis::kLegitimateInterest;
  p.purposes[ads.key] = ads;
  p.version = "sha256:" + std::string(64, 'a');
  return p;
}

ConsentEvent Event() {
  ConsentEvent e;
  e.purpose = "email_marketing";
  e.decision = domain::Decision::kWithdrawn;
  e.occurred_at_ms = 1717200000123;
  e.source = {"klaviyo", domain::ConsentMethod::kImport};
  return e;
}

policies::ConflictDecision Decision(policies::ConflictOutcome o, std::string_view reason) {
  policies::ConflictDecision d;
  d.outcome = o;
  d.reason = reason;
  return d;
}

TEST_CASE("ConsentPayload writes nlohmann::json's bytes for every combination of optional members") {
  const policies::PolicySet policy = Policy();
  const domain::Sid sid = domain::Sid::Random();
  vault::SealedRecord sealed;
  sealed.commitment.fill(0xab);
  int cases = 0;
  for (int mask = 0; mask < 64; ++mask) {
    ConsentEvent e = Event();
    if (mask & 1) e.notice_id = "privacy-2024";
    if (mask & 2) e.notice_version = "v3";
    if (mask & 4) e.language = "de-CH";
    if (mask & 8) e.jurisdiction = "gdpr";
    if (mask & 16) e.legal_basis = "contract";
    const std::optional<vault::SealedRecord> ev = (mask & 32) ? std::optional(sealed) : std::nullopt;
    for (const char* purpose : {"email_marketing", "personalised_ads"}) {
      for (auto d : {Decision(policies::ConflictOutcome::kApply, "newer"),
                     Decision(policies::ConflictOutcome::kStale, "older_than_current")}) {
        const std::string direct = ConsentPayload(sid, e, purpose, d, policy, ev);
        INFO("mask " << mask << " purpose " << purpose);
        CHECK(direct == ConsentPayloadViaJson(sid, e, purpose, d, policy, ev));
        CHECK(nlohmann::json::parse(direct).dump() == direct);
        ++cases;
      }
    }
  }
  CHECK(cases == 256);
}

TEST_CASE("ConsentPayload escapes like nlohmann::json when a value is not plain ASCII") {
  const policies::PolicySet policy = Policy();
  const domain::Sid sid = domain::Sid::Random();
  const auto d = Decision(policies::ConflictOutcome::kApply, "newer");
  for (std::string odd : {std::string("sh\"op"), std::string("back\\slash"), std::string("tab\there"),
                          std::string("caf\xc3\xa9"), std::string("nul\x01")}) {
    ConsentEvent e = Event();
    e.source.system = odd;
    e.jurisdiction = odd;
    const std::string direct = ConsentPayload(sid, e, "email_marketing", d, policy, std::nullopt);
    CHECK(direct == ConsentPayloadViaJson(sid, e, "email_marketing", d, policy, std::nullopt));
    CHECK(nlohmann::json::parse(direct)["source"]["system"] == odd);
  }
}

}  // namespace
}  // namespace consentd::service
