// The webhook endpoints against the REAL consentd (tests/ingest/ingest_harness):
// verification (401 and nothing recorded), limits (413, 400, 404), every
// system's recorded payloads, replays, bursts of duplicates, reordering,
// access requests, and the erasure seam (503 until src/erasure lands).
#include <catch2/catch.hpp>

#include <atomic>
#include <map>
#include <mutex>
#include <fstream>
#include <sstream>
#include <thread>

#include "adapters/webhook_common.h"
#include "src/base/bytes.h"
#include "tests/adapters/webhook_test_util.h"
#include "tests/ingest/ingest_harness.h"

namespace consentd::testing {
namespace {

using adapters::testing::Payload;

// Everything that a rejected delivery must leave untouched.
struct Recorded {
  long long ledger, deliveries, consent_events, access_requests;
  bool operator==(const Recorded&) const = default;
};

Recorded Snapshot(const IngestHarness& h) {
  return {h.LedgerSize(), h.Count("webhook_deliveries"), h.Count("consent_events"), h.Count("access_requests")};
}

nlohmann::json Body(const httplib::Result& r) { return r ? ParseJson(r->body) : nlohmann::json(); }

// The "outcome" of event i of a 200 answer.
std::string Outcome(const httplib::Result& r, size_t i = 0) {
  nlohmann::json j = Body(r);
  if (!j.contains("events") || j["events"].size() <= i) return "none";
  return j["events"][i].value("outcome", "none");
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST_CASE("Deliveries with bad or missing signatures answer 401 problem+json and record nothing", "[ingest]") {
  auto h = IngestHarness::Start();
  const Recorded before = Snapshot(*h);
  std::string redact = Payload("shopify/customers_redact.json");
  std::string update = Payload("shopify/customers_update.json");

  // Shopify: wrong secret, the previous secret after its window, a forged
  // MAC, the body re-encoded, and no signature at all.
  auto r = h->Shopify("shopify-main", "customers/update", update, "w-1", "wrong-secret");
  REQUIRE(r);
  CHECK(r->status == 401);
  CHECK(r->get_header_value("Content-Type") == "application/problem+json");
  CHECK(Body(r)["detail"] == "bad_signature");
  r = h->Shopify("shopify-old", "customers/update", update, "w-2", kShopifyOldPrevious);
  CHECK(r->status == 401);
  httplib::Headers forged = {{"X-Shopify-Topic", "customers/update"},
                             {"X-Shopify-Hmac-Sha256", "MpWzhAO7C8qeFDpZzIpB90On3gnIAlu2sTQPLxPqzUg="},
                             {"X-Shopify-Webhook-Id", "w-3"}};
  CHECK(h->Post("/v1/webhooks/shopify/shopify-main", update, forged)->status == 401);
  nlohmann::json reencoded = nlohmann::json::parse(update);
  httplib::Headers signed_original = {
      {"X-Shopify-Topic", "customers/update"},
      {"X-Shopify-Hmac-Sha256", Base64Encode(AsBytes(adapters::HmacSha256(kShopifySecret, update)))},
      {"X-Shopify-Webhook-Id", "w-4"}};
  CHECK(h->Post("/v1/webhooks/shopify/shopify-main", reencoded.dump(2), signed_original)->status == 401);
  CHECK(h->Post("/v1/webhooks/shopify/shopify-main", update, {{"X-Shopify-Topic", "customers/update"}})->status ==
        401);
  // Truncated signature.
  httplib::Headers truncated = signed_original;
  truncated.erase("X-Shopify-Hmac-Sha256");
  truncated.emplace("X-Shopify-Hmac-Sha256",
                    Base64Encode(AsBytes(adapters::HmacSha256(kShopifySecret, update))).substr(0, 30));
  CHECK(h->Post("/v1/webhooks/shopify/shopify-main", update, truncated)->status == 401);

  // The other systems: wrong secrets and missing signatures.
  std::string woo = Payload("woocommerce/customer_updated.json");
  CHECK(h->WooCommerce("customer.updated", woo, "d-1", "not-the-secret")->status == 401);
  CHECK(h->Post("/v1/webhooks/woocommerce/woo", woo, {{"X-WC-Webhook-Topic", "customer.updated"}})->status == 401);
  std::string hub = Payload("hubspot/contact_property_change.json");
  CHECK(h->HubSpot(hub, "another-client-secret")->status == 401);
  // HubSpot's documented v3 example is five minutes old long ago.
  httplib::Headers stale = {{"X-HubSpot-Signature-v3", "DxmVAjFNa2xfF3YgQjdZP6TNcok9k1oaH7UXombPtvw="},
                            {"X-HubSpot-Request-Timestamp", "1564113600000"}};
  auto s = h->Post("/v1/webhooks/hubspot/hubspot", Payload("hubspot/contact_creation.json"), stale);
  CHECK(s->status == 401);
  CHECK(Body(s)["detail"] == "timestamp_outside_window");
  std::string kl = Payload("klaviyo/events.json");
  CHECK(h->Klaviyo(kl, "wrong_secret_16ch")->status == 401);
  std::string mc = Payload("mailchimp/unsubscribe.form");
  CHECK(h->Mailchimp(mc, "mc-secret-12")->status == 401);
  CHECK(h->Post("/v1/webhooks/mailchimp/mailchimp", mc, {}, "application/x-www-form-urlencoded")->status == 401);
  std::string custom = Payload("consentd/consent_updated.json");
  CHECK(h->Custom(custom, "other")->status == 401);
  CHECK(h->Post("/v1/webhooks/webhook/custom", custom, {})->status == 401);

  CHECK(Snapshot(*h) == before);
  // No bearer token is asked for, and none helps.
  auto bearer = h->Post("/v1/webhooks/shopify/shopify-main", update, Bearer(h->officer()));
  CHECK(bearer->status == 401);
  CHECK(bearer->get_header_value("WWW-Authenticate").empty());
}

TEST_CASE("Oversized, malformed and unknown-instance deliveries answer 413, 400 and 404 without touching the ledger",
          "[ingest]") {
  auto h = IngestHarness::Start({{"max_body_bytes", 65536}});
  const Recorded before = Snapshot(*h);
  std::string big(70000, 'x');
  auto r = h->Shopify("shopify-main", "customers/update", big, "w-big");
  REQUIRE(r);
  CHECK(r->status == 413);
  std::string junk = "{\"id\":";
  r = h->Shopify("shopify-main", "customers/update", junk, "w-junk");
  CHECK(r->status == 400);
  CHECK(r->get_header_value("Content-Type") == "application/problem+json");
  // Signed, but without the webhook id dedupe needs.
  std::string update = Payload("shopify/customers_update.json");
  r = h->Shopify("shopify-main", "customers/update", update, "");
  CHECK(r->status == 400);
  CHECK(h->HubSpot("{\"not\":\"an array\"}")->status == 400);
  CHECK(h->Mailchimp("type=subscribe&data%5Bemail%5D=%ZZ")->status == 400);
  CHECK(h->Custom("{\"id\":\"x\"}")->status == 400);
  CHECK(h->Shopify("nope", "customers/update", update, "w-5")->status == 404);
  CHECK(h->Post("/v1/webhooks/hubspot/shopify-main", update, {})->status == 404);  // kind mismatch
  CHECK(h->Post("/v1/webhooks/salesforce/shopify-main", update, {})->status == 404);
  CHECK(Snapshot(*h) == before);
}

TEST_CASE("Shopify payloads become consent entries with the system as source, replays change nothing", "[ingest]") {
  auto h = IngestHarness::Start();
  const long long ledger0 = h->LedgerSize();
  std::string create = Payload("shopify/customers_create.json");
  auto r = h->Shopify("shopify-main", "customers/create", create, "w-create");
  REQUIRE(r);
  REQUIRE(r->status == 200);
  CHECK(Outcome(r, 0) == "apply");
  CHECK(Body(r)["events"][0]["purpose"] == "email_marketing");
  CHECK(Outcome(r, 1) == "ignored:state_not_subscribed");
  CHECK(h->State("email=bob.norman@example.com", "email_marketing") == "granted");
  const long long ledger1 = h->LedgerSize();
  CHECK(ledger1 > ledger0);
  CHECK(h->Count("consent_events") == 1);
  // One outbox row per OTHER system that receives email_marketing.
  CHECK(h->Count("outbox") == 6);
  CHECK(h->Count("outbox", "system = 'shopify-main'") == 0);

  // The same delivery again (Shopify retries reuse the webhook id).
  r = h->Shopify("shopify-main", "customers/create", create, "w-create");
  CHECK(r->status == 200);
  CHECK(Outcome(r, 0) == "replayed");
  CHECK(h->LedgerSize() == ledger1);
  CHECK(h->Count("outbox") == 6);

  // The update withdraws email and grants SMS, each at its own consent time.
  std::string update = Payload("shopify/customers_update.json");
  r = h->Shopify("shopify-main", "customers/update", update, "w-update");
  CHECK(Outcome(r, 0) == "apply");
  CHECK(Outcome(r, 1) == "apply");
  CHECK(h->State("email=bob.norman@example.com", "email_marketing") == "withdrawn");
  CHECK(h->State("phone=%2B16135551111", "sms_marketing") == "granted");
  // Email withdrawn: the six others again; SMS granted: Klaviyo, the only
  // other system that receives it.
  CHECK(h->Count("outbox") == 13);
  CHECK(h->Count("outbox", "system = 'shopify-main'") == 0);
  nlohmann::json q = ParseJson(
      h->service().Client()->Get("/v1/consents?email=bob.norman@example.com&purpose=email_marketing",
                                 Bearer(h->marketing()))->body);
  CHECK(q["source"]["system"] == "shopify-main");
  CHECK(q["source"]["method"] == "webhook");
  CHECK(q["since"] == "2024-04-02T16:00:00.000Z");

  // The previous secret is accepted within its rotation window.
  std::string api25 = Payload("shopify/customers_update_2025_01.json");
  r = h->Shopify("shopify-main", "customers/update", api25, "w-2025", kShopifyPrevious, "2025-01");
  CHECK(r->status == 200);
  CHECK(Body(r)["events"][0]["kind"] == "link");
}

TEST_CASE("An older unsubscribe arriving after a newer subscribe is recorded as stale, the newest event wins",
          "[ingest]") {
  auto h = IngestHarness::Start();
  std::string newer = Payload("shopify/customers_marketing_consent_update.json");  // subscribed at 08:05
  std::string older =
      "{\"id\":706405506930370084,\"phone\":\"+16135551111\",\"sms_marketing_consent\":{\"state\":\"unsubscribed\","
      "\"opt_in_level\":\"single_opt_in\",\"consent_updated_at\":\"2025-02-10T08:00:00-05:00\"}}";
  auto r = h->Shopify("shopify-main", "customers_marketing_consent/update", newer, "w-new", kShopifySecret, "2025-01");
  CHECK(Outcome(r) == "apply");
  const long long entries = h->Count("consent_events");
  const long long rows = h->Count("outbox");
  r = h->Shopify("shopify-main", "customers_marketing_consent/update", older, "w-old", kShopifySecret, "2025-01");
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(Outcome(r) == "stale");
  CHECK(h->Count("consent_events") == entries + 1);  // recorded, not applied
  CHECK(h->Count("outbox") == rows);                 // nothing fans out
  CHECK(h->State("phone=%2B16135551111", "sms_marketing") == "granted");
}

TEST_CASE("A burst of concurrent duplicate deliveries is applied once", "[ingest]") {
  auto h = IngestHarness::Start();
  std::string unsub = Payload("mailchimp/unsubscribe.form");
  std::mutex mu;
  std::map<std::string, int> outcomes;
  std::vector<std::thread> senders;
  for (int i = 0; i < 16; ++i) {
    senders.emplace_back([&] {
      auto r = h->Mailchimp(unsub);
      // A sender retries a delivery whose connection failed (see
      // docs/benchmarks.md "Ingest": rare transport errors under load).
      for (int retry = 0; !r && retry < 3; ++retry) r = h->Mailchimp(unsub);
      std::lock_guard<std::mutex> l(mu);
      ++outcomes[r && r->status == 200 ? Outcome(r) : "error"];
    });
  }
  for (auto& t : senders) t.join();
  INFO("outcomes: apply " << outcomes["apply"] << ", replayed " << outcomes["replayed"] << ", duplicate "
                          << outcomes["duplicate"] << ", error " << outcomes["error"]);
  CHECK(outcomes["apply"] == 1);
  CHECK(outcomes["replayed"] + outcomes["duplicate"] == 15);
  CHECK(h->Count("consent_events") == 1);
  CHECK(h->State("email=api@mailchimp.com", "email_marketing") == "withdrawn");
  const long long ledger = h->LedgerSize();
  auto r = h->Mailchimp(unsub);
  CHECK(Outcome(r) == "replayed");
  CHECK(h->LedgerSize() == ledger);
}

TEST_CASE("WooCommerce payloads, its ping and its deletions", "[ingest]") {
  auto h = IngestHarness::Start();
  const Recorded before = Snapshot(*h);
  auto ping = h->Post("/v1/webhooks/woocommerce/woo", "webhook_id=17", {}, "application/x-www-form-urlencoded");
  REQUIRE(ping);
  CHECK(ping->status == 200);
  CHECK(Snapshot(*h) == before);

  auto r = h->WooCommerce("customer.created", Payload("woocommerce/customer_created.json"), "d-created");
  CHECK(Outcome(r) == "apply");
  CHECK(h->State("email=john.doe@example.com", "email_marketing") == "granted");
  r = h->WooCommerce("customer.updated", Payload("woocommerce/customer_updated.json"), "d-updated");
  CHECK(Outcome(r) == "apply");
  CHECK(h->State("email=john.doe@example.com", "email_marketing") == "withdrawn");
  r = h->WooCommerce("customer.deleted", Payload("woocommerce/customer_deleted.json"), "d-deleted");
  CHECK(Outcome(r) == "ignored:record_deleted");
  CHECK(h->State("email=john.doe@example.com", "email_marketing") == "withdrawn");
}

TEST_CASE("HubSpot events: withdrawals apply, a grant it may not make is recorded as not authorized", "[ingest]") {
  auto h = IngestHarness::Start();
  // The contact is known by email first (so that its id links to it).
  std::string link = "[{\"eventId\":1,\"occurredAt\":1717430300000,\"subscriptionType\":\"contact.propertyChange\","
                     "\"objectId\":123,\"propertyName\":\"email\",\"propertyValue\":\"jane.roe@example.com\"}]";
  std::string custom = "{\"id\":\"evt_jane\",\"type\":\"consent.updated\",\"occurred_at\":\"2024-06-01T00:00:00Z\","
                       "\"identifiers\":[{\"kind\":\"email\",\"value\":\"jane.roe@example.com\"}],"
                       "\"purpose\":\"email_marketing\",\"decision\":\"granted\"}";
  CHECK(Outcome(h->Custom(custom)) == "apply");
  CHECK(Outcome(h->HubSpot(link)) == "linked");
  auto r = h->HubSpot(Payload("hubspot/contact_property_change.json"));
  REQUIRE(r);
  REQUIRE(r->status == 200);
  CHECK(Outcome(r, 0) == "apply");      // hs_email_optout true
  CHECK(Outcome(r, 1) == "no_change");  // the subscription's own opt-out, a second later
  CHECK(Outcome(r, 2) == "already_linked");
  CHECK(Outcome(r, 3) == "ignored:unmapped_property");
  CHECK(h->State("email=jane.roe@example.com", "email_marketing") == "withdrawn");
  std::string grant = "[{\"eventId\":9,\"occurredAt\":1717430900000,\"subscriptionType\":\"contact.propertyChange\","
                      "\"objectId\":123,\"propertyName\":\"hs_email_optout\",\"propertyValue\":\"false\"}]";
  CHECK(Outcome(h->HubSpot(grant)) == "not_authorized");
  CHECK(h->State("email=jane.roe@example.com", "email_marketing") == "withdrawn");
  // Deletions in the CRM are not erasure requests.
  CHECK(Outcome(h->HubSpot(Payload("hubspot/contact_deletion.json"))) == "ignored:record_deleted");
}

TEST_CASE("Klaviyo and Mailchimp topics end in the newest genuine decision", "[ingest]") {
  auto h = IngestHarness::Start();
  auto r = h->Klaviyo(Payload("klaviyo/events.json"));
  REQUIRE(r);
  REQUIRE(r->status == 200);
  nlohmann::json ev = Body(r)["events"];
  REQUIRE(ev.size() == 7);
  CHECK(ev[0]["outcome"] == "apply");
  CHECK(ev[1]["outcome"] == "apply");
  CHECK(ev[2]["outcome"] == "no_change");  // spam complaint after the unsubscribe
  CHECK(ev[3]["outcome"] == "apply");
  CHECK(ev[4]["outcome"] == "apply");
  CHECK(ev[5]["outcome"] == "ignored:bounce_is_not_a_decision");
  CHECK(ev[6]["outcome"] == "linked");
  CHECK(h->State("email=sarah.mason@example.com", "email_marketing") == "withdrawn");
  CHECK(h->State("email=sarah.m@example.net", "email_marketing") == "withdrawn");
  CHECK(h->State("phone=%2B15005550006", "sms_marketing") == "withdrawn");

  CHECK(h->Count("outbox", "system = 'klaviyo'") == 0);  // never back to the reporter
  const long long rows = h->Count("outbox");
  CHECK(Outcome(h->Mailchimp(Payload("mailchimp/subscribe.form"))) == "not_authorized");  // may only withdraw
  CHECK(h->Count("outbox") == rows);
  CHECK(Outcome(h->Mailchimp(Payload("mailchimp/unsubscribe.form"))) == "apply");
  CHECK(Outcome(h->Mailchimp(Payload("mailchimp/cleaned.form"))) == "ignored:bounce_is_not_a_decision");
  CHECK(Outcome(h->Mailchimp(Payload("mailchimp/upemail.form"))) == "linked");
  CHECK(h->State("email=api%2Bnew@mailchimp.com", "email_marketing") == "withdrawn");
  // Mailchimp's GET validation, with the secret in the query or the path.
  auto c = h->service().Client();
  CHECK(c->Get((std::string("/v1/webhooks/mailchimp/mailchimp?secret=") + kMailchimpSecret).c_str())->status == 200);
  CHECK(c->Get((std::string("/v1/webhooks/mailchimp/mailchimp/") + kMailchimpSecret).c_str())->status == 200);
  CHECK(c->Get("/v1/webhooks/mailchimp/mailchimp?secret=nope")->status == 401);
  auto path = h->Post(std::string("/v1/webhooks/mailchimp/mailchimp/") + kMailchimpSecret,
                      Payload("mailchimp/cleaned_abuse.form"), {}, "application/x-www-form-urlencoded");
  CHECK(Outcome(path) == "no_change");
}

TEST_CASE("Access requests and shop redactions are recorded for the officer without personal data", "[ingest]") {
  auto h = IngestHarness::Start();
  // The customer is known (so the request names its pseudonym).
  std::string known = "{\"id\":\"evt_john\",\"type\":\"consent.updated\",\"occurred_at\":\"2024-06-01T00:00:00Z\","
                      "\"identifiers\":[{\"kind\":\"email\",\"value\":\"john@example.com\"}],"
                      "\"purpose\":\"email_marketing\",\"decision\":\"granted\"}";
  REQUIRE(Outcome(h->Custom(known)) == "apply");
  const long long ledger0 = h->LedgerSize();
  auto r = h->Shopify("shopify-main", "customers/data_request", Payload("shopify/customers_data_request.json"), "w-dr");
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(Outcome(r) == "recorded");
  r = h->Shopify("shopify-main", "shop/redact", Payload("shopify/shop_redact.json"), "w-sr");
  CHECK(Outcome(r) == "recorded");
  CHECK(h->LedgerSize() == ledger0 + 2);
  CHECK(Outcome(h->Shopify("shopify-main", "customers/data_request", Payload("shopify/customers_data_request.json"),
                           "w-dr")) == "replayed");
  CHECK(h->LedgerSize() == ledger0 + 2);

  auto list = h->service().Client()->Get("/v1/access-requests", Bearer(h->officer()));
  REQUIRE(list);
  REQUIRE(list->status == 200);
  nlohmann::json reqs = ParseJson(list->body)["requests"];
  REQUIRE(reqs.size() == 2);
  CHECK(reqs[1]["kind"] == "access");
  CHECK(reqs[1]["reference"] == "9999");
  CHECK(reqs[1]["system"] == "shopify-main");
  CHECK(reqs[1]["sid"].is_string());
  CHECK(reqs[0]["kind"] == "shop_redact");
  CHECK(reqs[0]["sid"].is_null());
  CHECK(h->service().Client()->Get("/v1/access-requests", Bearer(h->marketing()))->status == 403);
  CHECK(h->service().Client()->Get("/v1/access-requests")->status == 401);
  // Neither the ledger nor the logs nor the database files hold the address.
  h->service().Stop();
  for (const char* suffix : {"", "-wal"}) {
    std::string bytes = ReadAll(h->service().database_path() + suffix);
    CHECK(bytes.find("john@example.com") == std::string::npos);
    CHECK(bytes.find("555-625-1199") == std::string::npos);
  }
  CHECK(h->service().Output().find("john@example.com") == std::string::npos);
}

TEST_CASE("Redact and privacy-deletion webhooks file verified erasure requests once", "[ingest]") {
  auto h = IngestHarness::Start();
  std::string known = "{\"id\":\"evt_john\",\"type\":\"consent.updated\",\"occurred_at\":\"2024-06-01T00:00:00Z\","
                      "\"identifiers\":[{\"kind\":\"email\",\"value\":\"john@example.com\"}],"
                      "\"purpose\":\"email_marketing\",\"decision\":\"granted\"}";
  REQUIRE(Outcome(h->Custom(known)) == "apply");
  const long long ledger0 = h->LedgerSize();
  auto r = h->Shopify("shopify-main", "customers/redact", Payload("shopify/customers_redact.json"), "w-redact");
  REQUIRE(r);
  REQUIRE(r->status == 200);
  CHECK(Outcome(r) == "filed");
  CHECK(Body(r)["events"][0]["seq"].is_number());
  const long long ledger1 = h->LedgerSize();
  CHECK(ledger1 > ledger0);
  // Shopify's retry of the same delivery files nothing more.
  r = h->Shopify("shopify-main", "customers/redact", Payload("shopify/customers_redact.json"), "w-redact");
  CHECK(Outcome(r) == "replayed");
  CHECK(h->LedgerSize() == ledger1);
  // A second source for the same person links to the open request.
  std::string again = "{\"id\":\"evt_erase\",\"type\":\"erasure.requested\",\"occurred_at\":\"2024-06-02T00:00:00Z\","
                      "\"identifiers\":[{\"kind\":\"email\",\"value\":\"john@example.com\"}]}";
  CHECK(Outcome(h->Custom(again)) == "linked_to_open");
  auto list = h->service().Client()->Get("/v1/erasure-requests", Bearer(h->officer()));
  REQUIRE(list);
  CHECK(list->status == 200);
  CHECK(list->body.find("webhook:shopify-main") != std::string::npos);
  CHECK(list->body.find("john@example.com") == std::string::npos);
}

}  // namespace
}  // namespace consentd::testing
