// End to end with every kind of downstream system (issues 5 and 7): the REAL
// consentd and consentctl (ServiceHarness) with a policy of six systems,
// shopify, woocommerce, hubspot, salesforce, klaviyo and mailchimp, each
// served by its own consentd-emulator process on 127.0.0.1
// (EmulatorProcess), reached through the real adapters over HTTP with
// credentials read from files in the key directory.
//
//   1. A consent opt-in and opt-out filed over POST /v1/consents reaches
//      every system, each in its own vocabulary; then an erasure filed and
//      verified over the API erases the customer in every system, completes,
//      and its certificate verifies offline; then a signed Shopify
//      customers/create webhook carrying the erased email is answered 200 and
//      re-creates nothing (blocked and recorded; the erasure is queued again
//      for Shopify only), nor does an import row with it; the data
//      directory holds no raw email; the ledger verifies.
//   2. Under 429 + Retry-After storms, 5xx, dropped connections and expired
//      tokens, several subjects' flip-flopping consents converge in every
//      system, and the systems that keep a write history (HubSpot,
//      Salesforce) saw each subject's changes in ledger order; an erasure
//      under the same faults completes everywhere.
//   3. With Shopify's erasure_confirmation "on_accept", an accepted Shopify
//      erasure request counts as done before Shopify has erased.
//
// After the erasure, the erasure service may send the erasure again to the
// system that re-created the person (the tombstone policy): the test allows
// that one erase row and nothing else.
//
// UNCONFIRMED behaviours relied on are the emulators' (tests/emulators/*.cc
// headers list them): Shopify completes customerRequestDataErasure at the
// first request after erasure_delay_ms (0 here) and the adapter's
// "customer_gone" confirmation sees it; Klaviyo's deletion job answers 202
// without a pollable id; HubSpot blocklists a GDPR-deleted address;
// Mailchimp accepts "pending" for a member in compliance state; Salesforce
// clears an expired session at the OAuth refresh. HubSpot and the others
// cannot refresh a token: an expired token there is a permanent failure (dead
// letter), so only Salesforce gets that fault.
#include <sqlite3.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "adapters/webhook_common.h"
#include "src/base/bytes.h"
#include "src/base/time_format.h"
#include "tests/api/service_harness.h"
#include "tests/emulators/emulator_process.h"
#include "tests/e2e/six_systems_fleet.h"
#include "tests/erasure/canary_scan.h"

namespace consentd::e2e {
namespace {

using consentd::emulators::EmulatorProcess;
using consentd::testing::Bearer;
using consentd::testing::CommandResult;
using consentd::testing::Consentctl;
using consentd::testing::ParseJson;
using consentd::testing::ServiceHarness;
using consentd::testing::TempDir;
using nlohmann::json;
using SteadyClock = std::chrono::steady_clock;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Finds the element of `array` whose `key` equals `value` (null if none).
json Find(const json& array, const std::string& key, const json& value) {
  if (!array.is_array()) return nullptr;
  for (const json& e : array) {
    if (e.contains(key) && e[key] == value) return e;
  }
  return nullptr;
}

// The consent each system holds for `email`, in the system's own words
// (null when the system has no record).
struct SystemView {
  json shopify, woocommerce, hubspot, salesforce, klaviyo, mailchimp;
};

SystemView ViewOf(const Fleet& f, const std::string& email) {
  SystemView v;
  {
    const json s = f.emu.at("shopify")->State();
    json c = Find(s["customers"], "email", email);
    v.shopify = c.is_null() ? json(nullptr) : c["email_marketing_consent"];
  }
  {
    const json s = f.emu.at("woocommerce")->State();
    json c = Find(s["customers"], "email", email);
    v.woocommerce = c.is_null() ? json(nullptr) : Find(c["meta_data"], "key", "_consentd_email_marketing");
    if (!v.woocommerce.is_null()) v.woocommerce = v.woocommerce["value"];
  }
  {
    const json s = f.emu.at("hubspot")->State();
    if (s["subscriptions"].contains(email)) v.hubspot = s["subscriptions"][email].value(kHubSpotSubscription, json());
  }
  {
    const json s = f.emu.at("salesforce")->State();
    json c = Find(s["records"]["Contact"], "Email", email);
    v.salesforce = c.is_null() ? json(nullptr) : c["HasOptedOutOfEmail"];
  }
  {
    const json s = f.KlaviyoSettled();
    json p = Find(s["profiles"], "email", email);
    v.klaviyo = p.is_null() ? json(nullptr) : json{{"email", p["subscriptions"]["email"]}, {"suppression", p["suppression"]}};
  }
  {
    const json s = f.emu.at("mailchimp")->State();
    json m = Find(s["members"], "email_address", email);
    v.mailchimp = m.is_null() ? json(nullptr) : m["status"];
  }
  return v;
}

// consentd with that policy, the credential files and two tokens.
struct Consentd {
  TempDir policy_dir;
  std::unique_ptr<ServiceHarness> h;
  std::string officer;
  std::string admin;

  Consentd(const Fleet& fleet, const json& options) {
    consentd::testing::HarnessOptions o;
    o.config_overrides["policies"] = json::array({WritePolicy(policy_dir.path(), fleet, options)});
    o.config_overrides["propagation"] = {{"backoff_base_ms", 20},
                                         {"backoff_cap_ms", 300},
                                         {"max_attempts", 1000},
                                         {"confirm_interval_ms", 100},
                                         {"poll_interval_ms", 50}};
    h = ServiceHarness::Create(o);
    WriteCredentials(h->key_dir());
    officer = h->CreateToken("officer", "officer");
    admin = h->CreateToken("admin", "admin");
    REQUIRE(h->Start());
  }

  void Consent(const std::string& email, bool granted, int64_t occurred_s) {
    json body = {{"identifiers", json::array({{{"kind", "email"}, {"value", email}}})},
                 {"purpose", "email_marketing"},
                 {"decision", granted ? "granted" : "withdrawn"},
                 {"occurred_at", FormatTimestampMillis(occurred_s * 1000)},
                 {"source", {{"method", "preference_centre"}}}};
    auto r = h->Client()->Post("/v1/consents", Bearer(officer), body.dump(), "application/json");
    REQUIRE(r);
    INFO(r->body);
    REQUIRE(r->status == 201);
  }

  // Per system: {queue_depth, dead}.
  std::map<std::string, std::pair<int64_t, int64_t>> Systems() const {
    std::map<std::string, std::pair<int64_t, int64_t>> out;
    auto r = h->Client()->Get("/v1/admin/systems", Bearer(admin));
    if (!r || r->status != 200) return out;
    const json body = ParseJson(r->body);  // alive while iterating
    if (!body.is_object() || !body.contains("systems")) return out;
    for (const json& s : body["systems"]) {
      out[s["system"].get<std::string>()] = {s["queue_depth"].get<int64_t>(), s["dead"].get<int64_t>()};
    }
    return out;
  }

  // True once no system has a queued, in-flight or unconfirmed row.
  bool WaitDrained(int seconds) const {
    const auto deadline = SteadyClock::now() + std::chrono::seconds(seconds);
    while (SteadyClock::now() < deadline) {
      auto st = Systems();
      bool done = st.size() == kSystems.size();
      for (const auto& [id, s] : st) done = done && s.first == 0;
      if (done) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    for (const auto& [id, s] : Systems()) UNSCOPED_INFO(id << ": queue " << s.first << ", dead " << s.second);
    return false;
  }

  // The outbox rows with an id above `after`, oldest first (one page).
  json OutboxAfter(int64_t after) const {
    auto r = h->Client()->Get(("/v1/admin/outbox?limit=1000&after=" + std::to_string(after)).c_str(), Bearer(admin));
    REQUIRE(r);
    INFO(r->body);
    REQUIRE(r->status == 200);
    return ParseJson(r->body)["rows"];
  }

  // Rows of `table` (read-only connection beside the running consentd).
  long long Count(const std::string& table) const {
    sqlite3* db = nullptr;
    long long n = -1;
    if (sqlite3_open_v2(h->database_path().c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
      sqlite3_busy_timeout(db, 5000);
      sqlite3_stmt* st = nullptr;
      if (sqlite3_prepare_v2(db, ("SELECT COUNT(*) FROM " + table).c_str(), -1, &st, nullptr) == SQLITE_OK &&
          sqlite3_step(st) == SQLITE_ROW) {
        n = sqlite3_column_int64(st, 0);
      }
      sqlite3_finalize(st);
    }
    sqlite3_close(db);
    return n;
  }

  // Files an erasure request for `email` over the API; returns its id.
  std::string FileErasure(const std::string& email, bool verified) const {
    json file = {{"identifiers", json::array({{{"kind", "email"}, {"value", email}}})},
                 {"channel", "email"},
                 {"jurisdiction", "gdpr"},
                 {"verified", verified}};
    auto filed = h->Client()->Post("/v1/erasure-requests", Bearer(officer), file.dump(), "application/json");
    REQUIRE(filed);
    INFO(filed->body);
    REQUIRE(filed->status == 201);
    return ParseJson(filed->body)["id"];
  }

  // Polls the erasure request until it is closed and shredded.
  json WaitClosed(const std::string& id, int seconds) const {
    const auto deadline = SteadyClock::now() + std::chrono::seconds(seconds);
    json r;
    while (SteadyClock::now() < deadline) {
      auto res = h->Client()->Get(("/v1/erasure-requests/" + id).c_str(), Bearer(officer));
      if (res && res->status == 200) {
        r = ParseJson(res->body);
        if (r.contains("shredded_at") && !r["shredded_at"].get<std::string>().empty()) return r;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    FAIL("erasure request did not close: " << r.dump());
    return r;
  }

  // A customers/create webhook as Shopify signs it.
  httplib::Result ShopifyWebhook(const std::string& topic, const std::string& body, const std::string& webhook_id,
                                 const std::string& api_version) const {
    httplib::Headers headers = {
        {"X-Shopify-Topic", topic},
        {"X-Shopify-Hmac-Sha256", Base64Encode(AsBytes(adapters::HmacSha256(kShopifyWebhookSecret, body)))},
        {"X-Shopify-Shop-Domain", kShopDomain},
        {"X-Shopify-API-Version", api_version},
        {"X-Shopify-Webhook-Id", webhook_id},
        {"X-Shopify-Triggered-At", FormatTimestampMillis(NowMs())}};
    return h->Client()->Post("/v1/webhooks/shopify/shopify", headers, body, "application/json");
  }
};

// Ledger entries of `kind` in the exported ledger (consentd stopped).
size_t LedgerCount(const ServiceHarness& h, const TempDir& out, const std::string& kind) {
  const std::string file = out.path() + "/ledger-" + kind + ".jsonl";
  CommandResult e = Consentctl({"ledger", "export", "--data-dir", h.data_dir(), "--out", file});
  REQUIRE(e.exit_code == 0);
  std::ifstream in(file);
  std::string line;
  size_t n = 0;
  while (std::getline(in, line)) n += line.find("\"kind\":\"" + kind + "\"") != std::string::npos;
  return n;
}

TEST_CASE("A consent opt-in and opt-out reach all six systems, an erasure empties them and is certified, and a "
          "recreating Shopify webhook is blocked",
          "[integration][e2e]") {
  const auto t0 = SteadyClock::now();
  Fleet fleet;
  const std::string email = "ada.e2e-six@example.org";
  fleet.SeedCustomer(email);
  // The options this issue added, end to end: Shopify's opt-in level and
  // Klaviyo's suppression on withdrawal.
  Consentd svc(fleet, {{"shopify", {{"opt_in_level", "CONFIRMED_OPT_IN"}}},
                       {"klaviyo", {{"suppress_on_email_withdrawal", true}}}});

  // --- a. consent -----------------------------------------------------------
  svc.Consent(email, true, 1767225600);  // 2026-01-01
  REQUIRE(svc.WaitDrained(30));
  SystemView in = ViewOf(fleet, email);
  INFO("after opt-in: shopify " << in.shopify << " woo " << in.woocommerce << " hubspot " << in.hubspot
                                << " salesforce " << in.salesforce << " klaviyo " << in.klaviyo << " mailchimp "
                                << in.mailchimp);
  CHECK(in.shopify["state"] == "subscribed");
  CHECK(in.shopify["opt_in_level"] == "confirmed_opt_in");  // the emulator's state spells levels as REST does
  CHECK(in.woocommerce == "granted");
  CHECK(in.hubspot == "SUBSCRIBED");
  CHECK(in.salesforce == false);
  CHECK(in.klaviyo["email"] == "SUBSCRIBED");
  CHECK(in.mailchimp == "subscribed");

  svc.Consent(email, false, 1767225660);
  REQUIRE(svc.WaitDrained(30));
  SystemView out = ViewOf(fleet, email);
  INFO("after opt-out: shopify " << out.shopify << " woo " << out.woocommerce << " hubspot " << out.hubspot
                                 << " salesforce " << out.salesforce << " klaviyo " << out.klaviyo << " mailchimp "
                                 << out.mailchimp);
  CHECK(out.shopify["state"] == "unsubscribed");
  CHECK(out.woocommerce == "withdrawn");
  CHECK(out.hubspot == "NOT_SUBSCRIBED");
  CHECK(out.salesforce == true);
  CHECK(out.klaviyo["email"] == "UNSUBSCRIBED");
  CHECK(out.klaviyo["suppression"] == "USER_SUPPRESSED");
  CHECK(out.mailchimp == "unsubscribed");
  for (const auto& [id, s] : svc.Systems()) {
    INFO(id);
    CHECK(s.second == 0);  // no dead letters
  }

  // --- c. erasure -----------------------------------------------------------
  const std::string request = svc.FileErasure(email, false);
  auto verified = svc.h->Client()->Post(("/v1/erasure-requests/" + request + "/verify").c_str(), Bearer(svc.officer),
                                        "{}", "application/json");
  REQUIRE(verified);
  REQUIRE(verified->status == 200);
  const json closed = svc.WaitClosed(request, 40);
  INFO(closed.dump());
  CHECK(closed["state"] == "completed");
  REQUIRE(closed["systems"].size() == kSystems.size());
  for (const json& s : closed["systems"]) {
    INFO(s.dump());
    CHECK(s["status"] == "confirmed");
  }
  {
    const json shop = fleet.emu["shopify"]->State();
    CHECK(Find(shop["customers"], "email", email).is_null());
    CHECK(Find(shop["erasure_requests"], "customer_id", fleet.shopify_id[email])["status"] == "completed");
    CHECK(shop["erased"] == json::array({fleet.shopify_id[email]}));
    const json woo = fleet.emu["woocommerce"]->State();
    CHECK(Find(woo["customers"], "email", email).is_null());
    CHECK(woo["deleted"] == json::array({fleet.woo_id[email]}));  // DELETE ?force=true (trash is a 501)
    const json hub = fleet.emu["hubspot"]->State();
    CHECK(Find(hub["contacts"], "email", email).is_null());
    CHECK(hub["gdpr_delete_requests"] == 1);
    CHECK(hub["blocklist"] == json::array({email}));
    const json sf = fleet.emu["salesforce"]->State();
    CHECK(Find(sf["records"]["Contact"], "Email", email).is_null());
    CHECK(sf["deleted"]["Contact"].size() == 1);
    const json kl = fleet.KlaviyoSettled();
    CHECK(Find(kl["profiles"], "email", email).is_null());
    CHECK(kl["deleted_profiles"].size() == 1);  // a data-privacy deletion job ran
    const json mc = fleet.emu["mailchimp"]->State();
    CHECK(Find(mc["members"], "email_address", email).is_null());
    CHECK(mc["forgotten"].size() == 1);  // delete-permanent
  }
  // The certificate, verified offline by consentctl with the served key.
  auto cert = svc.h->Client()->Get(("/v1/erasure-requests/" + request + "/certificate").c_str(), Bearer(svc.officer));
  REQUIRE(cert);
  REQUIRE(cert->status == 200);
  TempDir work;
  std::ofstream(work.path() + "/cert.json") << cert->body;
  CommandResult vk = Consentctl({"ledger", "verifier-key", "--data-dir", svc.h->data_dir()});
  REQUIRE(vk.exit_code == 0);
  const std::string verifier_key = vk.out.substr(0, vk.out.find('\n'));
  CommandResult cv = Consentctl({"certificate", "verify", work.path() + "/cert.json", "--verifier-key", verifier_key});
  INFO(cv.out << cv.err);
  CHECK(cv.exit_code == 0);
  CHECK_THAT(cv.out, Catch::StartsWith("OK: request " + request + " (completed)"));

  // --- d. return --------------------------------------------------------------
  // The erased customer signs up again at the store: Shopify reports the new
  // customer, with the erased email, in both payload generations (consent in
  // the payload before 2025-01, a link of ids from 2025-01).
  const long long subjects = svc.Count("identity_subjects");
  const long long identifiers = svc.Count("identity_identifiers");
  const long long consents = svc.Count("consent_events");
  const long long outbox = svc.Count("outbox");
  REQUIRE(outbox > 0);
  const json before = svc.OutboxAfter(0);
  REQUIRE(before.size() == static_cast<size_t>(outbox));
  const int64_t last_outbox_id = before.back()["id"].get<int64_t>();
  const std::string now = FormatTimestampMillis(NowMs() - 1000);
  const json customer = {{"id", 7700000000001},
                         {"email", email},
                         {"phone", nullptr},
                         {"created_at", now},
                         {"updated_at", now},
                         {"email_marketing_consent",
                          {{"state", "subscribed"}, {"opt_in_level", "single_opt_in"}, {"consent_updated_at", now}}},
                         {"admin_graphql_api_id", "gid://shopify/Customer/7700000000001"}};
  // The 2025-01 link first: the erasure is queued again for Shopify by that
  // one; the 2024-10 consent within the re-send interval adds nothing.
  for (const std::string& version : {std::string("2025-01"), std::string("2024-10")}) {
    INFO("X-Shopify-API-Version " << version);
    auto r = svc.ShopifyWebhook("customers/create", customer.dump(), "wh-return-" + version, version);
    REQUIRE(r);
    INFO(r->body);
    CHECK(r->status == 200);
    const json body = ParseJson(r->body);
    REQUIRE(body["events"].size() == 1);
    CHECK(body["events"][0]["outcome"] == "blocked");
    CHECK(r->body.find("ada.e2e") == std::string::npos);
    const json resent = svc.OutboxAfter(last_outbox_id);
    INFO("new outbox rows: " << resent.dump());
    CHECK(resent.size() == 1);
  }
  CHECK(svc.Count("identity_subjects") == subjects);
  CHECK(svc.Count("identity_identifiers") == identifiers);
  CHECK(svc.Count("consent_events") == consents);
  // No fan-out of the blocked consent. The first blocked attempt makes the
  // erasure service queue the erasure again for the system that re-created
  // the person (the tombstone policy's default resend_erasure_on_recreation,
  // at most once per resend_min_interval): exactly one erase row, for
  // shopify only.
  const json added = svc.OutboxAfter(last_outbox_id);
  INFO("new outbox rows: " << added.dump());
  CHECK(added.size() == 1);
  for (const json& row : added) {
    CHECK(row["kind"] == "erasure");
    CHECK(row["system"] == "shopify");
  }
  CHECK(svc.Count("outbox") == outbox + static_cast<long long>(added.size()));
  // A replayed delivery is recognised and records nothing more.
  auto replay = svc.ShopifyWebhook("customers/create", customer.dump(), "wh-return-2025-01", "2025-01");
  REQUIRE(replay);
  CHECK(replay->status == 200);
  CHECK(ParseJson(replay->body)["events"][0]["outcome"] == "replayed");

  REQUIRE(svc.h->Stop() == 0);
  // A backfill brings the person back too: an import row with the erased
  // email is rejected and recorded, and creates nothing.
  {
    json row = {{"identifiers", json::array({{{"kind", "email"}, {"value", email}}})},
                {"purpose", "email_marketing"},
                {"decision", "granted"},
                {"occurred_at", now},
                {"source", {{"system", "shopify"}, {"method", "import"}}},
                {"event_id", "e2e-return-import"}};
    std::ofstream(work.path() + "/return.jsonl") << row.dump() << "\n";
    CommandResult imp = Consentctl({"import", work.path() + "/return.jsonl", "--data-dir", svc.h->data_dir()});
    INFO(imp.out << imp.err);
    CHECK(imp.exit_code == 1);  // the row was rejected
    CHECK((imp.out + imp.err).find("ada.e2e") == std::string::npos);
  }
  CHECK(svc.Count("identity_subjects") == subjects);
  CHECK(svc.Count("identity_identifiers") == identifiers);
  CHECK(svc.Count("consent_events") == consents);
  CHECK(LedgerCount(*svc.h, work, "erasure.recreation_blocked") == 3);
  CHECK(LedgerCount(*svc.h, work, "delivery.outcome") >= 3 * kSystems.size());  // in, out, erase
  CommandResult lv = Consentctl({"ledger", "verify", "--data-dir", svc.h->data_dir()});
  INFO(lv.out << lv.err);
  CHECK(lv.exit_code == 0);
  const std::vector<std::string> hits = consentd::erasure::testing::ScanForValue(svc.h->data_dir(), email);
  for (const std::string& hit : hits) UNSCOPED_INFO(hit);
  CHECK(hits.empty());
  CHECK(svc.h->Output().find("ada.e2e") == std::string::npos);
  WARN("six systems, consent + erasure + return: "
       << std::chrono::duration<double>(SteadyClock::now() - t0).count() << " s");
}

// HubSpot's applied status writes for `email`, in order, with repeats of the
// same status collapsed (a retried write that had been applied repeats it).
std::vector<std::string> HubSpotHistory(const json& state, const std::string& email) {
  std::vector<std::string> out;
  for (const json& h : state["history"]) {
    if (h["email"] != email) continue;
    std::string s = h["status"] == "SUBSCRIBED" ? "granted" : "withdrawn";
    if (out.empty() || out.back() != s) out.push_back(s);
  }
  return out;
}

// The same for Salesforce's PATCHes of the contact's HasOptedOutOfEmail.
std::vector<std::string> SalesforceHistory(const json& state, const std::string& contact_id) {
  std::vector<std::string> out;
  for (const json& h : state["history"]) {
    if (h["method"] != "PATCH" || h["id"] != contact_id || !h["fields"].contains("HasOptedOutOfEmail")) continue;
    std::string s = h["fields"]["HasOptedOutOfEmail"] == true ? "withdrawn" : "granted";
    if (out.empty() || out.back() != s) out.push_back(s);
  }
  return out;
}

TEST_CASE("Under throttling storms, 5xx, dropped connections and expired tokens every system converges, in order per "
          "subject",
          "[integration][e2e][faults]") {
  const auto t0 = SteadyClock::now();
  Fleet fleet;
  const int kSubjects = 4;
  std::vector<std::string> emails;
  for (int s = 0; s < kSubjects; ++s) {
    emails.push_back("flip" + std::to_string(s) + "-e2e@example.org");
    fleet.SeedCustomer(emails.back());
  }
  // Every fault class of the emulators' faults API, on some systems:
  fleet.emu["shopify"]->SetFaults({{"throttle_next", 6}, {"retry_after", "1"}});  // GraphQL THROTTLED storm
  fleet.emu["hubspot"]->SetFaults({{"throttle_next", 6}, {"retry_after", "1"}, {"error_rate", 0.2}, {"seed", 3}});
  fleet.emu["woocommerce"]->SetFaults({{"drop_rate", 0.3}, {"seed", 5}});  // connection closed mid-body
  fleet.emu["salesforce"]->SetFaults({{"expire_tokens", true}});            // refreshed with the refresh token
  fleet.emu["klaviyo"]->SetFaults({{"error_rate", 0.3}, {"error_status", 500}, {"throttle_next", 3}, {"seed", 9}});
  fleet.emu["mailchimp"]->SetFaults({{"error_rate", 0.25}, {"error_status", 503}, {"drop_rate", 0.1}, {"seed", 11}});
  // Mailchimp refuses to re-subscribe an unsubscribed member: the policy
  // option sends it as "pending" (double opt-in) instead.
  Consentd svc(fleet, {{"mailchimp", {{"resubscribe_as_pending", true}}}});

  // Subject s flips in, out, in, out[, in]: 4 or 5 changes, one at a time.
  std::map<std::string, std::vector<std::string>> sequence;
  for (int k = 0; k < 5; ++k) {
    for (int s = 0; s < kSubjects; ++s) {
      if (k == 4 && s % 2 == 1) continue;
      const bool granted = k % 2 == 0;
      svc.Consent(emails[s], granted, 1767225600 + k * 60);
      sequence[emails[s]].push_back(granted ? "granted" : "withdrawn");
    }
  }
  // Every fault has fired at least once by now or fires while draining.
  REQUIRE(svc.WaitDrained(50));
  for (const auto& [id, s] : svc.Systems()) {
    INFO(id);
    CHECK(s.second == 0);  // no dead letters: everything converged by retrying
  }

  const json hub = fleet.emu["hubspot"]->State();
  const json sf = fleet.emu["salesforce"]->State();
  for (const std::string& email : emails) {
    INFO(email);
    const bool granted = sequence[email].back() == "granted";
    SystemView v = ViewOf(fleet, email);
    CHECK(v.shopify["state"] == (granted ? "subscribed" : "unsubscribed"));
    // The consent time Shopify holds is the last change's.
    const int64_t last_s = 1767225600 + static_cast<int64_t>(sequence[email].size() - 1) * 60;
    CHECK(v.shopify["consent_updated_at"] == FormatTimestampMillis(last_s * 1000));
    CHECK(v.woocommerce == (granted ? "granted" : "withdrawn"));
    CHECK(v.hubspot == (granted ? "SUBSCRIBED" : "NOT_SUBSCRIBED"));
    CHECK(v.salesforce == !granted);
    CHECK(v.klaviyo["email"] == (granted ? "SUBSCRIBED" : "UNSUBSCRIBED"));
    CHECK(v.mailchimp == (granted ? "pending" : "unsubscribed"));  // re-subscribed as pending
    // Order: each change arrived after the one before it.
    CHECK(HubSpotHistory(hub, email) == sequence[email]);
    json contact = Find(sf["records"]["Contact"], "Email", email);
    REQUIRE_FALSE(contact.is_null());
    CHECK(SalesforceHistory(sf, contact["Id"].get<std::string>()) == sequence[email]);
  }
  // The faults fired and were survived: throttled answers, errors, a token
  // refresh, and retried deliveries (a dropped connection is counted as a
  // 200 by the emulator: the retries show it).
  std::map<std::string, json> stats;
  for (const std::string& id : kSystems) stats[id] = fleet.emu[id]->Stats();
  INFO("emulator stats " << json(stats).dump());
  CHECK(stats["shopify"]["throttled"].get<int>() >= 6);
  CHECK(stats["hubspot"]["throttled"].get<int>() >= 6);
  CHECK(stats["hubspot"]["by_status"].value("503", 0) >= 1);
  CHECK(stats["klaviyo"]["by_status"].value("500", 0) >= 1);
  CHECK(stats["mailchimp"]["by_status"].value("503", 0) >= 1);
  CHECK(stats["salesforce"]["by_status"].value("401", 0) >= 1);
  CHECK(sf["tokens_issued"].get<int>() >= 1);
  CHECK(fleet.emu["mailchimp"]->State()["compliance_refusals"].get<int>() >= 1);
  std::map<std::string, int64_t> retried;  // rows delivered after more than one attempt
  const json rows = svc.OutboxAfter(0);
  CHECK(rows.size() == 18 * kSystems.size());
  for (const json& row : rows) retried[row["system"].get<std::string>()] += row["attempts"].get<int64_t>() > 1;
  INFO("rows retried per system " << json(retried).dump());
  for (const char* id : {"shopify", "woocommerce", "hubspot", "klaviyo", "mailchimp"}) {
    INFO(id);
    CHECK(retried[id] >= 1);
  }

  // An erasure under the same faults (the throttling storm and the expired
  // token again) still completes in every system.
  fleet.emu["shopify"]->SetFaults({{"throttle_next", 3}, {"retry_after", "1"}});
  fleet.emu["salesforce"]->SetFaults({{"expire_tokens", true}});
  const json closed = svc.WaitClosed(svc.FileErasure(emails[0], true), 40);
  INFO(closed.dump());
  CHECK(closed["state"] == "completed");
  for (const json& s : closed["systems"]) {
    INFO(s.dump());
    // already_done: a retried delete whose first attempt had been applied.
    CHECK((s["status"] == "confirmed" || s["status"] == "already_done"));
  }
  const SystemView gone = ViewOf(fleet, emails[0]);
  CHECK(gone.shopify.is_null());
  CHECK(gone.woocommerce.is_null());
  CHECK(gone.hubspot.is_null());
  CHECK(gone.salesforce.is_null());
  CHECK(gone.klaviyo.is_null());
  CHECK(gone.mailchimp.is_null());

  REQUIRE(svc.h->Stop() == 0);
  TempDir work;
  CHECK(LedgerCount(*svc.h, work, "delivery.outcome") == 19 * kSystems.size());
  CommandResult lv = Consentctl({"ledger", "verify", "--data-dir", svc.h->data_dir()});
  INFO(lv.out << lv.err);
  CHECK(lv.exit_code == 0);
  CHECK(svc.h->Output().find("-e2e@example.org") == std::string::npos);
  WARN("six systems under faults: " << std::chrono::duration<double>(SteadyClock::now() - t0).count() << " s");
}

TEST_CASE("With Shopify's erasure_confirmation on_accept the accepted erasure request counts as done while Shopify "
          "still holds the customer",
          "[integration][e2e]") {
  Fleet fleet;
  const std::string email = "slow-erasure-e2e@example.org";
  fleet.SeedCustomer(email);
  fleet.emu["shopify"]->Seed({{"erasure_delay_ms", 600000}});  // Shopify erases days later
  Consentd svc(fleet, {{"shopify", {{"erasure_confirmation", "on_accept"}}}});
  svc.Consent(email, true, 1767225600);
  REQUIRE(svc.WaitDrained(30));
  const json closed = svc.WaitClosed(svc.FileErasure(email, true), 40);
  INFO(closed.dump());
  CHECK(closed["state"] == "completed");
  CHECK(Find(closed["systems"], "system", "shopify")["status"] == "confirmed");
  // Shopify accepted the request and has not erased yet; with the default
  // (customer_gone) the request would still be waiting for it.
  const json shop = fleet.emu["shopify"]->State();
  CHECK(Find(shop["erasure_requests"], "customer_id", fleet.shopify_id[email])["status"] == "pending");
  CHECK_FALSE(Find(shop["customers"], "email", email).is_null());
  CHECK(Find(fleet.emu["woocommerce"]->State()["customers"], "email", email).is_null());
  REQUIRE(svc.h->Stop() == 0);
}

}  // namespace
}  // namespace consentd::e2e
