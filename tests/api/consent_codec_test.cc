// The text encoder of bulk-check answers must print exactly what the JSON
// object encoder prints, so the two routes that answer consent queries agree
// byte for byte.
#include "src/api/consent_codec.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

namespace consentd::api {
namespace {

std::string ViaObject(const service::ConsentAnswer& a) {
  nlohmann::json j = EncodeAnswer("email_marketing", a);
  j.erase("purpose");
  return j.dump();
}

std::string ViaText(const service::ConsentAnswer& a) {
  std::string out;
  AppendAnswerWithoutPurpose(a, &out);
  return out;
}

TEST_CASE("The bulk-check text encoder prints the same bytes as the answer object", "[api][codec]") {
  std::vector<service::ConsentAnswer> answers;
  service::ConsentAnswer def;  // no decision: the default, denied
  answers.push_back(def);
  def.allowed = true;  // a default that allows (e.g. a legitimate-interest purpose)
  answers.push_back(def);
  for (auto decision : {domain::Decision::kGranted, domain::Decision::kWithdrawn}) {
    // Plain names take the encoder's fast path; quotes, backslashes, control
    // characters, DEL and UTF-8 go through nlohmann's printer.
    for (const char* system : {"shopify-main", "", "odd\"system\\\x01", "syst\xc3\xa8me", "del\x7f", "a/b <c>&'"}) {
      service::ConsentAnswer a;
      a.allowed = decision == domain::Decision::kGranted;
      a.known_subject = true;
      a.from_default = false;
      domain::ConsentState s;
      s.decision = decision;
      s.occurred_at_ms = 1732406400123;
      s.source_system = system;
      s.method = domain::ConsentMethod::kUnsubscribeLink;
      a.state = s;
      answers.push_back(a);
    }
  }
  for (const service::ConsentAnswer& a : answers) {
    INFO(ViaObject(a));
    CHECK(ViaText(a) == ViaObject(a));
    CHECK(nlohmann::json::accept(ViaText(a)));
    // With the purpose, as GET /v1/consents answers.
    for (const char* purpose : {"email_marketing", "odd\"purpose", "purpos\xc3\xa9"}) {
      std::string text;
      AppendAnswer(purpose, a, &text);
      CHECK(text == EncodeAnswer(purpose, a).dump());
    }
  }
}

}  // namespace
}  // namespace consentd::api
