#include <catch2/catch.hpp>

#include "adapters/webhook_common.h"
#include "adapters/webhook_mailchimp.h"
#include "tests/adapters/webhook_test_util.h"

namespace consentd::adapters {
namespace {

using testing::Payload;
using testing::Post;

WebhookRequest WithSecret(const std::string& body, const std::string& secret, const std::string& method = "POST") {
  WebhookRequest r = Post(body, {{"Content-Type", "application/x-www-form-urlencoded"}});
  r.method = method;
  r.path_secret = secret;
  return r;
}

TEST_CASE("Mailchimp accepts the URL secret, answers its GET validation, and rejects others", "[webhook][mailchimp]") {
  std::string body = Payload("mailchimp/subscribe.form");
  CHECK(VerifyMailchimp(WithSecret(body, "mc-secret-123"), "mc-secret-123").ok());
  CHECK(VerifyMailchimp(WithSecret("", "mc-secret-123", "GET"), "mc-secret-123").result == Verdict::Result::kPing);
  CHECK(VerifyMailchimp(WithSecret("", "nope", "GET"), "mc-secret-123").code == "bad_signature");
  CHECK(VerifyMailchimp(WithSecret(body, "mc-secret-12"), "mc-secret-123").code == "bad_signature");
  CHECK(VerifyMailchimp(WithSecret(body, "mc-secret-1234"), "mc-secret-123").code == "bad_signature");
  CHECK(VerifyMailchimp(WithSecret(body, ""), "mc-secret-123").code == "missing_signature");
  CHECK(VerifyMailchimp(WithSecret(body, "x"), "").code == "no_secret_configured");
}

TEST_CASE("Mailchimp form fields decode", "[webhook][mailchimp]") {
  auto f = ParseForm("a=1&b%5Bc%5D=x+y%40z&empty=");
  REQUIRE(f);
  CHECK(f->at("a") == "1");
  CHECK(f->at("b[c]") == "x y@z");
  CHECK(f->at("empty").empty());
  CHECK(!ParseForm("a=%zz"));
  CHECK(!ParseForm("=1"));
  CHECK(!ParseForm("a=%4"));
}

TEST_CASE("Mailchimp deliveries map to consent, links and ignores", "[webhook][mailchimp]") {
  std::string sub = Payload("mailchimp/subscribe.form");
  Result<WebhookBatch> b = MapMailchimp(WithSecret(sub, "s"), "a1b2c3d4e5");
  REQUIRE(b.ok());
  CHECK(b->events[0].kind == IngestKind::kConsent);
  CHECK(b->events[0].decision == domain::Decision::kGranted);
  CHECK(b->events[0].occurred_at_ms == 1238103357000);  // 2009-03-26 21:35:57 UTC
  CHECK(b->events[0].identifiers[0].value == "api@mailchimp.com");
  CHECK(b->events[0].dedupe_key.rfind("sha256:", 0) == 0);

  std::string unsub = Payload("mailchimp/unsubscribe.form");
  b = MapMailchimp(WithSecret(unsub, "s"), "a1b2c3d4e5");
  REQUIRE(b.ok());
  CHECK(b->events[0].decision == domain::Decision::kWithdrawn);
  CHECK(b->events[0].method == domain::ConsentMethod::kWebhook);

  std::string abuse = Payload("mailchimp/cleaned_abuse.form");
  b = MapMailchimp(WithSecret(abuse, "s"), "a1b2c3d4e5");
  REQUIRE(b.ok());
  CHECK(b->events[0].kind == IngestKind::kConsent);
  CHECK(b->events[0].method == domain::ConsentMethod::kSpamComplaint);

  std::string cleaned = Payload("mailchimp/cleaned.form");
  b = MapMailchimp(WithSecret(cleaned, "s"), "a1b2c3d4e5");
  REQUIRE(b.ok());
  CHECK(b->events[0].note == "bounce_is_not_a_decision");

  std::string up = Payload("mailchimp/upemail.form");
  b = MapMailchimp(WithSecret(up, "s"), "a1b2c3d4e5");
  REQUIRE(b.ok());
  CHECK(b->events[0].kind == IngestKind::kLink);
  CHECK(b->events[0].identifiers.size() == 2);

  std::string profile = Payload("mailchimp/profile.form");
  b = MapMailchimp(WithSecret(profile, "s"), "a1b2c3d4e5");
  REQUIRE(b.ok());
  CHECK(b->events[0].kind == IngestKind::kIgnored);

  b = MapMailchimp(WithSecret(sub, "s"), "otherlist");
  REQUIRE(b.ok());
  CHECK(b->events[0].note == "other_list");
}

TEST_CASE("Mailchimp malformed forms are errors", "[webhook][mailchimp]") {
  for (std::string body : {"", "fired_at=2009-03-26+21%3A35%3A57", "type=subscribe&data%5Bemail%5D=%G1",
                           "type=subscribe&fired_at=yesterday&data%5Bemail%5D=a%40b.example",
                           "type=subscribe&fired_at=2009-03-26+21%3A35%3A57"}) {
    CHECK(MapMailchimp(WithSecret(body, "s"), "").status().code() == StatusCode::kInvalidArgument);
  }
}

}  // namespace
}  // namespace consentd::adapters
