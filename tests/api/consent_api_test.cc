// The consent API of issue 4 against the real consentd binary: strict
// request validation (each bad request a 4xx problem+json naming the field,
// nothing recorded), conflict rules through the API, queries, bulk check,
// suppressions, officer history with its access log, and no identifier in
// any response or log line.
#include <sqlite3.h>

#include <catch2/catch.hpp>
#include <cctype>
#include <chrono>
#include <set>
#include <tuple>
#include <string>
#include <vector>

#include "src/base/bytes.h"
#include "src/base/sha256.h"
#include "tests/api/service_harness.h"

namespace consentd::testing {
namespace {

using nlohmann::json;

// Identifier values used below; none may appear in a response or a log line.
const std::vector<std::string> kTestEmails = {"alice@example.com", "bob@example.com", "carol@example.com",
                                              "dave@example.com",  "erin@example.com", "frank@example.com",
                                              "grace@example.com", "heidi@example.com"};

json Event(const std::string& email, const std::string& purpose, const std::string& decision,
           const std::string& occurred_at, const std::string& system = "shopify-main",
           const std::string& method = "checkout_checkbox") {
  json e = {{"identifiers", json::array({{{"kind", "email"}, {"value", email}}})},
            {"decision", decision},
            {"occurred_at", occurred_at},
            {"source", {{"method", method}}}};
  if (!purpose.empty()) e["purpose"] = purpose;
  if (!system.empty()) e["source"]["system"] = system;
  return e;
}

// A client that remembers every response, so that a test can check that no
// response ever carried an identifier.
class Api {
 public:
  explicit Api(const ServiceHarness& h) : c_(h.Client()) {}

  httplib::Result Post(const std::string& path, const std::string& token, const std::string& body) {
    return Keep(c_->Post(path.c_str(), Bearer(token), body, "application/json"));
  }
  httplib::Result Post(const std::string& path, const std::string& token, const json& body) {
    return Post(path, token, body.dump());
  }
  httplib::Result Get(const std::string& path, const std::string& token) {
    return Keep(c_->Get(path.c_str(), Bearer(token)));
  }
  const std::string& seen() const { return seen_; }

 private:
  httplib::Result Keep(httplib::Result r) {
    if (r) {
      for (const auto& [k, v] : r->headers) seen_ += k + ": " + v + "\n";
      seen_ += r->body + "\n";
    }
    return r;
  }
  std::unique_ptr<httplib::Client> c_;
  std::string seen_;
};

void CheckNoIdentifiers(const std::string& text, const std::string& what) {
  for (const std::string& email : kTestEmails) {
    INFO(what << " must not contain " << email);
    CHECK(text.find(email) == std::string::npos);
    CHECK(text.find(email.substr(0, email.find('@'))) == std::string::npos);  // nor its local part
  }
}

json Answer(Api& api, const std::string& token, const std::string& query) {
  httplib::Result r = api.Get("/v1/consents?" + query, token);
  REQUIRE(r);
  INFO(r->body);
  REQUIRE(r->status == 200);
  return ParseJson(r->body);
}

std::string Sha256Hex(const std::string& s) { return HexEncode(AsBytes(Sha256Of(s))); }

struct Tokens {
  std::string officer, marketing, shopify, klaviyo, admin;
};

Tokens MakeTokens(ServiceHarness& h) {
  Tokens t;
  t.officer = h.CreateToken("officer", "officer");
  t.marketing = h.CreateToken("marketing", "marketing");
  t.shopify = h.CreateToken("shop", "ingest:shopify-main");
  t.klaviyo = h.CreateToken("klaviyo", "ingest:klaviyo");
  t.admin = h.CreateToken("admin", "admin");
  return t;
}

struct BadRequest {
  std::string what;
  std::string path;
  std::string body;
  int status;
  std::string field;  // expected "field"; "" when the problem has none (whole body)
  bool use_klaviyo_token = false;
};

TEST_CASE("Every malformed consent request is a 4xx problem naming the field, and nothing is recorded",
          "[api][consent]") {
  HarnessOptions o;
  o.config_overrides = {{"max_body_bytes", 8192}, {"max_bulk_body_bytes", 1048576}};
  auto h = ServiceHarness::Create(o);
  Tokens t = MakeTokens(*h);
  REQUIRE(h->Start());
  Api api(*h);
  const long long size_before = h->LedgerSize();
  REQUIRE(size_before > 0);

  const json good = Event("alice@example.com", "email_marketing", "granted", "2025-01-02T03:04:05Z");
  auto with = [&](const std::string& pointer, const json& value) {
    json e = good;
    e[json::json_pointer(pointer)] = value;
    return e.dump();
  };
  auto without = [&](const std::string& key) {
    json e = good;
    e.erase(key);
    return e.dump();
  };
  json many = good;
  many["identifiers"] = json::array();
  for (int i = 0; i < 17; ++i) many["identifiers"].push_back({{"kind", "email"}, {"value", kTestEmails[i % 8]}});
  json bad_in_bulk = {{"events", json::array({good, Event("bob@example.com", "telepathy", "granted",
                                                          "2025-01-02T03:04:05Z")})}};
  json bulk_other_system = {
      {"events", json::array({Event("bob@example.com", "email_marketing", "granted", "2025-01-02T03:04:05Z", "klaviyo",
                                    "preference_centre"),
                              good})}};
  json too_many_events = {{"events", json::array()}};
  for (int i = 0; i < 10001; ++i) too_many_events["events"].push_back(json::object());
  json check_many = {{"purpose", "email_marketing"}, {"identifiers", json::array()}};
  for (int i = 0; i < 10001; ++i) check_many["identifiers"].push_back({{"kind", "email"}, {"value", "x@example.com"}});

  const std::vector<BadRequest> cases = {
      {"malformed JSON", "/v1/consents", R"({"identifiers":[)", 400, ""},
      {"trailing garbage", "/v1/consents", good.dump() + "x", 400, ""},
      {"array body", "/v1/consents", "[1,2]", 400, ""},
      {"string body", "/v1/consents", R"("alice@example.com")", 400, ""},
      {"empty body", "/v1/consents", "", 400, ""},
      {"over the route limit", "/v1/consents",
       with("/evidence", {{"user_agent", std::string(1000, 'a')}, {"url", std::string(9000, 'b')}}), 413, ""},
      {"over the server limit", "/v1/consents/bulk", R"({"events":[")" + std::string(1100000, 'x') + R"("]})", 413, ""},
      {"unknown top-level field", "/v1/consents", with("/colour", "blue"), 400, "/colour"},
      {"unknown field in source", "/v1/consents", with("/source/extra", 1), 400, "/source/extra"},
      {"unknown field in an identifier", "/v1/consents", with("/identifiers/0/hash", "x"), 400, "/identifiers/0/hash"},
      {"unknown field in notice", "/v1/consents", with("/notice", {{"id", "n1"}, {"text", "x"}}), 400, "/notice/text"},
      {"unknown field in evidence", "/v1/consents", with("/evidence", {{"cookie", "x"}}), 400, "/evidence/cookie"},
      {"missing identifiers", "/v1/consents", without("identifiers"), 400, "/identifiers"},
      {"missing decision", "/v1/consents", without("decision"), 400, "/decision"},
      {"missing occurred_at", "/v1/consents", without("occurred_at"), 400, "/occurred_at"},
      {"missing source", "/v1/consents", without("source"), 400, "/source"},
      {"purpose not a string", "/v1/consents", with("/purpose", 5), 400, "/purpose"},
      {"identifiers not an array", "/v1/consents", with("/identifiers", "alice@example.com"), 400, "/identifiers"},
      {"identifier not an object", "/v1/consents", with("/identifiers/0", "alice@example.com"), 400, "/identifiers/0"},
      {"identifier value not a string", "/v1/consents", with("/identifiers/0/value", 42), 400, "/identifiers/0/value"},
      {"source not an object", "/v1/consents", with("/source", json::array()), 400, "/source"},
      {"decision not a string", "/v1/consents", with("/decision", true), 400, "/decision"},
      {"occurred_at a number", "/v1/consents", with("/occurred_at", 1735787045), 400, "/occurred_at"},
      {"evidence not an object", "/v1/consents", with("/evidence", "203.0.113.9"), 400, "/evidence"},
      {"month 13", "/v1/consents", with("/occurred_at", "2025-13-02T03:04:05Z"), 400, "/occurred_at"},
      {"a date without a time", "/v1/consents", with("/occurred_at", "2025-01-02"), 400, "/occurred_at"},
      {"a date in words", "/v1/consents", with("/occurred_at", "yesterday"), 400, "/occurred_at"},
      {"February 30", "/v1/consents", with("/occurred_at", "2025-02-30T00:00:00Z"), 400, "/occurred_at"},
      {"a date in the far future", "/v1/consents", with("/occurred_at", "2999-01-01T00:00:00Z"), 400, "/occurred_at"},
      {"a date before 1990", "/v1/consents", with("/occurred_at", "1970-01-01T00:00:01Z"), 400, "/occurred_at"},
      {"unknown decision", "/v1/consents", with("/decision", "maybe"), 400, "/decision"},
      {"unknown purpose", "/v1/consents", with("/purpose", "telepathy"), 400, "/purpose"},
      {"no purpose without GPC", "/v1/consents", without("purpose"), 400, "/purpose"},
      {"unknown method", "/v1/consents", with("/source/method", "carrier_pigeon"), 400, "/source/method"},
      {"unknown source system", "/v1/consents", with("/source/system", "myspace"), 400, "/source/system"},
      {"unknown jurisdiction", "/v1/consents", with("/jurisdiction", "atlantis"), 400, "/jurisdiction"},
      {"unknown legal basis", "/v1/consents", with("/legal_basis", "vibes"), 400, "/legal_basis"},
      {"bad language tag", "/v1/consents", with("/language", "english please"), 400, "/language"},
      {"invalid email", "/v1/consents", with("/identifiers/0/value", "alice.example.com"), 400, "/identifiers/0/value"},
      {"invalid second email", "/v1/consents",
       with("/identifiers/1", {{"kind", "email"}, {"value", "bob@@example.com"}}), 400, "/identifiers/1/value"},
      {"unknown identifier kind", "/v1/consents", with("/identifiers/0/kind", "fax"), 400, "/identifiers/0/kind"},
      {"no identifiers", "/v1/consents", with("/identifiers", json::array()), 400, "/identifiers"},
      {"too many identifiers", "/v1/consents", many.dump(), 400, "/identifiers"},
      {"notice id holding an email", "/v1/consents", with("/notice", {{"id", "alice@example.com"}}), 400, "/notice/id"},
      {"notice version holding an email", "/v1/consents",
       with("/notice", {{"id", "n1"}, {"version", "bob@example.com"}}), 400, "/notice/version"},
      {"ingest token recording another system's event", "/v1/consents", good.dump(), 403, "", true},
      {"bulk: not an object", "/v1/consents/bulk", "[]", 400, ""},
      {"bulk: unknown field", "/v1/consents/bulk", R"({"events":[],"dry_run":true})", 400, "/dry_run"},
      {"bulk: events not an array", "/v1/consents/bulk", R"({"events":{}})", 400, "/events"},
      {"bulk: one bad event", "/v1/consents/bulk", bad_in_bulk.dump(), 400, "/events/1/purpose"},
      {"bulk: a wrong type deep inside", "/v1/consents/bulk",
       json({{"events", json::array({good, good, json::parse(with("/source/method", 7))})}}).dump(), 400,
       "/events/2/source/method"},
      {"bulk: more than 10,000 events", "/v1/consents/bulk", too_many_events.dump(), 400, "/events"},
      {"bulk: ingest token with another system's event", "/v1/consents/bulk", bulk_other_system.dump(), 403, "",
       true},
      {"check: malformed JSON", "/v1/consents/check", "{", 400, ""},
      {"check: not an object", "/v1/consents/check", "null", 400, ""},
      {"check: unknown field", "/v1/consents/check", R"({"purpose":"analytics","identifiers":[],"limit":1})", 400,
       "/limit"},
      {"check: missing purpose", "/v1/consents/check", R"({"identifiers":[]})", 400, "/purpose"},
      {"check: purpose not a string", "/v1/consents/check", R"({"purpose":1,"identifiers":[]})", 400, "/purpose"},
      {"check: unknown purpose", "/v1/consents/check", R"({"purpose":"telepathy","identifiers":[]})", 400, "/purpose"},
      {"check: identifiers not an array", "/v1/consents/check", R"({"purpose":"analytics","identifiers":"x"})", 400,
       "/identifiers"},
      {"check: unknown identifier kind", "/v1/consents/check",
       R"({"purpose":"analytics","identifiers":[{"kind":"email","value":"a@example.com"},{"kind":"fax","value":"1"}]})",
       400, "/identifiers/1/kind"},
      {"check: unknown identifier field", "/v1/consents/check",
       R"({"purpose":"analytics","identifiers":[{"kind":"email","value":"a@example.com","x":1}]})", 400,
       "/identifiers/0/x"},
      {"check: more than 10,000 identifiers", "/v1/consents/check", check_many.dump(), 400, "/identifiers"},
      {"check: over the bulk limit", "/v1/consents/check",
       R"({"purpose":"analytics","identifiers":[")" + std::string(1100000, 'x') + R"("]})", 413, ""},
  };
  for (const BadRequest& bc : cases) {
    INFO(bc.what);
    const std::string& token = bc.use_klaviyo_token
                                   ? t.klaviyo
                                   : (bc.path == "/v1/consents/check" ? t.marketing : t.officer);
    httplib::Result r = api.Post(bc.path, token, bc.body);
    REQUIRE(r);
    INFO("status " << r->status << " body " << r->body);
    CHECK(r->status == bc.status);
    CHECK(r->get_header_value("Content-Type") == "application/problem+json");
    json p = ParseJson(r->body);
    REQUIRE(p.is_object());
    CHECK(p.value("type", "").rfind("urn:consentd:problem:", 0) == 0);
    CHECK(p.value("status", 0) == bc.status);
    if (!bc.field.empty()) {
      CHECK(p.value("field", "") == bc.field);
    }
    CHECK(p.value("instance", "") == bc.path + "#req-" + r->get_header_value("X-Request-Id"));
    if (bc.status == 403) {
      CHECK(p.value("detail", "").find("/source/system") != std::string::npos);
    }
  }
  CHECK(h->LedgerSize() == size_before);
  CheckNoIdentifiers(api.seen(), "responses");
  CHECK(h->Stop() == 0);
  CheckNoIdentifiers(h->Output(), "consentd's log");

  // The ledger never received any of it, and still verifies.
  CommandResult verify = Consentctl({"ledger", "verify", "--data-dir", h->data_dir()});
  INFO(verify.out << verify.err);
  CHECK(verify.exit_code == 0);
}

TEST_CASE("Replays, out-of-order events, GPC, withdraw-only systems and queries behave as the policy says",
          "[api][consent]") {
  auto h = ServiceHarness::Create();
  Tokens t = MakeTokens(*h);
  REQUIRE(h->Start());
  Api api(*h);

  SECTION("A replayed event is answered 200 with duplicate true and the same seq") {
    json e = Event("alice@example.com", "email_marketing", "granted", "2025-01-02T03:04:05Z");
    e["event_id"] = "order-1001";
    httplib::Result first = api.Post("/v1/consents", t.shopify, e);
    REQUIRE(first);
    INFO(first->body);
    REQUIRE(first->status == 201);
    json a = ParseJson(first->body);
    CHECK(a["recorded"][0]["duplicate"] == false);
    CHECK(a["recorded"][0]["outcome"] == "apply");
    const long long size = h->LedgerSize();
    httplib::Result again = api.Post("/v1/consents", t.shopify, e);
    REQUIRE(again);
    CHECK(again->status == 200);
    json b = ParseJson(again->body);
    CHECK(b["recorded"][0]["duplicate"] == true);
    CHECK(b["recorded"][0]["seq"] == a["recorded"][0]["seq"]);
    CHECK(b["sid"] == a["sid"]);
    // The same event without its id is recognised by its fields.
    json f = Event("bob@example.com", "sms_marketing", "granted", "2025-01-02T03:04:05Z");
    httplib::Result f1 = api.Post("/v1/consents", t.officer, f);
    httplib::Result f2 = api.Post("/v1/consents", t.officer, f);
    REQUIRE((f1 && f2));
    CHECK(f1->status == 201);
    CHECK(f2->status == 200);
    CHECK(ParseJson(f2->body)["recorded"][0]["seq"] == ParseJson(f1->body)["recorded"][0]["seq"]);
    CHECK(h->LedgerSize() > size);
    const long long after = h->LedgerSize();
    REQUIRE(api.Post("/v1/consents", t.officer, f));
    CHECK(h->LedgerSize() == after);
  }

  SECTION("An older withdrawal after a newer grant is stale; a newer withdrawal wins") {
    const std::string q = "email=carol%40example.com&purpose=email_marketing";
    httplib::Result grant = api.Post(
        "/v1/consents", t.officer, Event("carol@example.com", "email_marketing", "granted", "2025-03-01T10:00:00Z"));
    REQUIRE(grant);
    REQUIRE(grant->status == 201);
    // A second, newer grant: no change, but the state now dates from it.
    httplib::Result regrant = api.Post(
        "/v1/consents", t.officer, Event("carol@example.com", "email_marketing", "granted", "2025-03-03T10:00:00Z"));
    REQUIRE(regrant);
    CHECK(ParseJson(regrant->body)["recorded"][0]["outcome"] == "no_change");
    CHECK(Answer(api, t.marketing, q)["since"] == "2025-03-03T10:00:00.000Z");
    // Older than the newest grant (though newer than the first one).
    httplib::Result old = api.Post("/v1/consents", t.officer,
                                   Event("carol@example.com", "email_marketing", "withdrawn", "2025-03-02T10:00:00Z",
                                         "klaviyo", "preference_centre"));
    REQUIRE(old);
    INFO(old->body);
    CHECK(old->status == 201);
    CHECK(ParseJson(old->body)["recorded"][0]["outcome"] == "stale");
    json a = Answer(api, t.marketing, q);
    CHECK(a["allowed"] == true);
    CHECK(a["state"] == "granted");
    httplib::Result newer = api.Post("/v1/consents", t.officer,
                                     Event("carol@example.com", "email_marketing", "withdrawn",
                                           "2025-03-04T10:00:00Z", "klaviyo", "unsubscribe_link"));
    REQUIRE(newer);
    CHECK(ParseJson(newer->body)["recorded"][0]["outcome"] == "apply");
    json b = Answer(api, t.marketing, q);
    CHECK(b["allowed"] == false);
    CHECK(b["state"] == "withdrawn");
    CHECK(b["since"] == "2025-03-04T10:00:00.000Z");
    CHECK(b["source"]["system"] == "klaviyo");
    CHECK(b["source"]["method"] == "unsubscribe_link");
  }

  SECTION("A GPC signal withdraws the sale and sharing purposes") {
    REQUIRE(api.Post("/v1/consents", t.officer,
                     Event("dave@example.com", "sale_sharing", "granted", "2025-01-01T00:00:00Z", "", "signup_form")));
    CHECK(Answer(api, t.marketing, "email=dave%40example.com&purpose=sale_sharing")["allowed"] == true);
    httplib::Result gpc =
        api.Post("/v1/consents", t.officer, Event("dave@example.com", "", "withdrawn", "2025-02-01T00:00:00Z", "", "gpc"));
    REQUIRE(gpc);
    INFO(gpc->body);
    REQUIRE(gpc->status == 201);
    json r = ParseJson(gpc->body);
    REQUIRE(r["recorded"].size() == 1);
    CHECK(r["recorded"][0]["purpose"] == "sale_sharing");
    CHECK(r["recorded"][0]["outcome"] == "apply");
    json a = Answer(api, t.marketing, "email=dave%40example.com&purpose=sale_sharing&jurisdiction=ccpa");
    CHECK(a["allowed"] == false);
    CHECK(a["source"]["method"] == "gpc");
    // Other purposes are untouched.
    CHECK(Answer(api, t.marketing, "email=dave%40example.com&purpose=email_marketing")["state"] == "default");
    // A GPC "grant" is not a thing.
    httplib::Result grant =
        api.Post("/v1/consents", t.officer, Event("dave@example.com", "", "granted", "2025-02-02T00:00:00Z", "", "gpc"));
    REQUIRE(grant);
    CHECK(grant->status == 400);
  }

  SECTION("A withdraw-only system cannot grant") {
    httplib::Result r = api.Post("/v1/consents", t.officer,
                                 Event("erin@example.com", "email_marketing", "granted", "2025-01-05T00:00:00Z",
                                       "hubspot", "support_agent"));
    REQUIRE(r);
    INFO(r->body);
    CHECK(r->status == 201);  // recorded (with its outcome), not applied
    CHECK(ParseJson(r->body)["recorded"][0]["outcome"] == "not_authorized");
    json a = Answer(api, t.marketing, "email=erin%40example.com&purpose=email_marketing");
    CHECK(a["allowed"] == false);
    CHECK(a["state"] == "default");
    // It may withdraw.
    httplib::Result w = api.Post("/v1/consents", t.officer,
                                 Event("erin@example.com", "email_marketing", "withdrawn", "2025-01-06T00:00:00Z",
                                       "hubspot", "support_agent"));
    REQUIRE(w);
    CHECK(ParseJson(w->body)["recorded"][0]["outcome"] == "apply");
  }

  SECTION("Queries normalize the identifier and unknown subjects get the policy default") {
    REQUIRE(api.Post("/v1/consents", t.officer,
                     Event("frank@example.com", "analytics", "granted", "2025-01-05T00:00:00Z", "", "preference_centre")));
    for (const char* q : {"email=frank%40example.com", "email=Frank%40Example.COM", "email=%20FRANK%40example.com%09",
                          "kind=email&value=frank%40EXAMPLE.com"}) {
      INFO(q);
      json a = Answer(api, t.marketing, std::string(q) + "&purpose=analytics");
      CHECK(a["allowed"] == true);
      CHECK(a["state"] == "granted");
      CHECK(a["purpose"] == "analytics");
    }
    json unknown = Answer(api, t.marketing, "email=nobody%40example.com&purpose=analytics");
    CHECK(unknown["allowed"] == false);
    CHECK(unknown["state"] == "default");
    json ccpa = Answer(api, t.marketing, "email=nobody%40example.com&purpose=sale_sharing&jurisdiction=ccpa");
    CHECK(ccpa["allowed"] == true);
    CHECK(ccpa["state"] == "default");
    // Unknown purpose and malformed identifiers are 400 problems.
    httplib::Result bad = api.Get("/v1/consents?email=frank%40example.com&purpose=telepathy", t.marketing);
    REQUIRE(bad);
    CHECK(bad->status == 400);
    CHECK(ParseJson(bad->body).value("field", "") == "/purpose");
    httplib::Result two = api.Get("/v1/consents?email=a%40example.com&phone=%2B14155550100&purpose=analytics",
                                  t.marketing);
    REQUIRE(two);
    CHECK(two->status == 400);
    httplib::Result invalid = api.Get("/v1/consents?email=frank.example.com&purpose=analytics", t.marketing);
    REQUIRE(invalid);
    CHECK(invalid->status == 400);
    CHECK(invalid->get_header_value("Content-Type") == "application/problem+json");
    // The problem names the query parameter, and its instance is the path
    // and request id, never the query (which holds the address).
    json ip = ParseJson(invalid->body);
    CHECK(ip.value("field", "") == "/email");
    CHECK(ip.value("detail", "").rfind("/email: ", 0) == 0);
    CHECK(ip.value("instance", "") == "/v1/consents#req-" + invalid->get_header_value("X-Request-Id"));
    CHECK(invalid->body.find("frank") == std::string::npos);
    httplib::Result generic = api.Get("/v1/consents?kind=phone&value=12&purpose=analytics", t.marketing);
    REQUIRE(generic);
    CHECK(generic->status == 400);
    CHECK(ParseJson(generic->body).value("field", "") == "/value");
    httplib::Result history = api.Get("/v1/consents/history?email=frank.example.com", t.officer);
    REQUIRE(history);
    CHECK(history->status == 400);
    CHECK(ParseJson(history->body).value("field", "") == "/email");
    // No route matched: a URN with the request id (the path is arbitrary
    // client text).
    httplib::Result nowhere = api.Get("/v1/nowhere/frank%40example.com?email=frank%40example.com", t.marketing);
    REQUIRE(nowhere);
    CHECK(nowhere->status == 404);
    CHECK(ParseJson(nowhere->body).value("instance", "") ==
          "urn:consentd:request:" + nowhere->get_header_value("X-Request-Id"));
  }

  SECTION("An ingest token records its own system's events") {
    httplib::Result r = api.Post("/v1/consents", t.klaviyo,
                                 Event("grace@example.com", "sms_marketing", "granted", "2025-01-05T00:00:00Z",
                                       "klaviyo", "preference_centre"));
    REQUIRE(r);
    CHECK(r->status == 201);
    json bulk = {{"events", json::array({Event("grace@example.com", "email_marketing", "granted",
                                               "2025-01-05T00:00:00Z", "klaviyo", "preference_centre"),
                                         Event("heidi@example.com", "email_marketing", "withdrawn",
                                               "2025-01-05T00:00:00Z", "klaviyo", "unsubscribe_link")})}};
    httplib::Result b = api.Post("/v1/consents/bulk", t.klaviyo, bulk);
    REQUIRE(b);
    INFO(b->body);
    CHECK(b->status == 200);
    json j = ParseJson(b->body);
    REQUIRE(j["results"].size() == 2);
    CHECK(j["results"][0]["recorded"][0]["outcome"] == "apply");
    CHECK(j["results"][1]["recorded"][0]["outcome"] == "apply");
  }

  // The projection the API answered from is what the ledger says.
  httplib::Result rebuild = api.Post("/v1/admin/rebuild-check", t.admin, std::string("{}"));
  REQUIRE(rebuild);
  INFO(rebuild->body);
  CHECK(rebuild->status == 200);
  CHECK(ParseJson(rebuild->body).value("equal", false) == true);

  CheckNoIdentifiers(api.seen(), "responses");
  CHECK(h->Stop() == 0);
  CheckNoIdentifiers(h->Output(), "consentd's log");
}

TEST_CASE("Bulk check answers 10,000 identifiers in order, suppressions list withdrawn emails only",
          "[api][consent]") {
  auto h = ServiceHarness::Create();
  Tokens t = MakeTokens(*h);
  REQUIRE(h->Start());
  Api api(*h);

  // 40 subjects: even ones granted, odd ones withdrawn (two emails for #1).
  json bulk = {{"events", json::array()}};
  for (int i = 0; i < 40; ++i) {
    json e = Event("user" + std::to_string(i) + "@example.com", "email_marketing", i % 2 ? "withdrawn" : "granted",
                   "2025-01-02T03:04:05Z", "klaviyo", i % 2 ? "unsubscribe_link" : "preference_centre");
    if (i == 1) e["identifiers"].push_back({{"kind", "email"}, {"value", "second.address@example.com"}});
    bulk["events"].push_back(e);
  }
  httplib::Result b = api.Post("/v1/consents/bulk", t.officer, bulk);
  REQUIRE(b);
  INFO(b->body.substr(0, 500));
  REQUIRE(b->status == 200);
  const json recorded = ParseJson(b->body);
  REQUIRE(recorded["results"].size() == 40);
  for (const json& r : recorded["results"]) CHECK(r["recorded"][0]["outcome"] == "apply");

  json check = {{"purpose", "email_marketing"}, {"identifiers", json::array()}};
  for (int i = 0; i < 10000; ++i) {
    // Known subjects (in varying case) interleaved with unknown ones.
    std::string email = i % 3 == 0 ? "User" + std::to_string(i % 40) + "@Example.com"
                                   : "stranger" + std::to_string(i) + "@example.com";
    check["identifiers"].push_back({{"kind", "email"}, {"value", email}});
  }
  const auto start = std::chrono::steady_clock::now();
  httplib::Result c = api.Post("/v1/consents/check", t.marketing, check);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  REQUIRE(c);
  REQUIRE(c->status == 200);
  json res = ParseJson(c->body);
  CHECK(res["purpose"] == "email_marketing");
  REQUIRE(res["results"].size() == 10000);
  int mismatches = 0;
  for (int i = 0; i < 10000; ++i) {
    const json& r = res["results"][static_cast<size_t>(i)];
    bool want_allowed = i % 3 == 0 && (i % 40) % 2 == 0;
    std::string want_state = i % 3 != 0 ? "default" : ((i % 40) % 2 ? "withdrawn" : "granted");
    if (r.value("allowed", !want_allowed) != want_allowed || r.value("state", "") != want_state) ++mismatches;
  }
  CHECK(mismatches == 0);
  WARN("check of 10,000 identifiers took "
       << std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count() << " ms");
  CHECK(elapsed < std::chrono::seconds(30));

  // Suppressions: SHA-256 of the normalized emails of the withdrawn subjects.
  httplib::Result s = api.Get("/v1/suppressions?purpose=email_marketing", t.marketing);
  REQUIRE(s);
  REQUIRE(s->status == 200);
  std::set<std::string> lines;
  size_t pos = 0, nl;
  while ((nl = s->body.find('\n', pos)) != std::string::npos) {
    lines.insert(s->body.substr(pos, nl - pos));
    pos = nl + 1;
  }
  CHECK(pos == s->body.size());
  std::set<std::string> want;
  for (int i = 1; i < 40; i += 2) want.insert(Sha256Hex("user" + std::to_string(i) + "@example.com"));
  want.insert(Sha256Hex("second.address@example.com"));
  CHECK(lines == want);
  // Other purposes have none; the auditor-less marketing scope is enough, the
  // officer's too, an ingest token's is not.
  httplib::Result empty = api.Get("/v1/suppressions?purpose=sms_marketing", t.officer);
  REQUIRE(empty);
  CHECK(empty->status == 200);
  CHECK(empty->body.empty());
  httplib::Result ingest = api.Get("/v1/suppressions?purpose=email_marketing", t.shopify);
  REQUIRE(ingest);
  CHECK(ingest->status == 403);
  httplib::Result nopurpose = api.Get("/v1/suppressions", t.marketing);
  REQUIRE(nopurpose);
  CHECK(nopurpose->status == 400);
  CHECK(h->Stop() == 0);
  CheckNoIdentifiers(h->Output(), "consentd's log");
}

TEST_CASE("A bulk request records the events of one subject in request order", "[api][consent]") {
  auto h = ServiceHarness::Create();
  Tokens t = MakeTokens(*h);
  REQUIRE(h->Start());
  Api api(*h);
  // An existing subject with two addresses: the bulk names it once by each.
  json known = Event("known.one@example.com", "email_marketing", "granted", "2025-01-01T00:00:00Z");
  known["identifiers"].push_back({{"kind", "email"}, {"value", "known.two@example.com"}});
  httplib::Result k = api.Post("/v1/consents", t.officer, known);
  REQUIRE(k);
  REQUIRE(k->status == 201);

  // 150 new subjects, each granted then withdrawn a second later, the two
  // events adjacent so that concurrent workers would pick them up together.
  json bulk = {{"events", json::array()}};
  for (int i = 0; i < 150; ++i) {
    const std::string email = "order" + std::to_string(i) + "@example.com";
    bulk["events"].push_back(Event(email, "email_marketing", "granted", "2025-01-02T03:04:05Z"));
    bulk["events"].push_back(Event(email, "email_marketing", "withdrawn", "2025-01-02T03:04:06Z", "klaviyo",
                                   "unsubscribe_link"));
  }
  bulk["events"].push_back(Event("known.one@example.com", "email_marketing", "withdrawn", "2025-01-03T00:00:00Z",
                                 "klaviyo", "unsubscribe_link"));
  bulk["events"].push_back(Event("known.two@example.com", "email_marketing", "granted", "2025-01-04T00:00:00Z"));
  httplib::Result b = api.Post("/v1/consents/bulk", t.officer, bulk);
  REQUIRE(b);
  INFO(b->body.substr(0, 500));
  REQUIRE(b->status == 200);
  const json results = ParseJson(b->body)["results"];
  REQUIRE(results.size() == 302);
  int not_applied = 0;
  for (const json& r : results) {
    // Recorded in request order, every event is newer than the one before
    // it for its subject: none may come out stale.
    if (r["recorded"][0]["outcome"] != "apply") ++not_applied;
  }
  CHECK(not_applied == 0);
  CHECK(Answer(api, t.marketing, "email=order7@example.com&purpose=email_marketing")["state"] == "withdrawn");
  CHECK(Answer(api, t.marketing, "email=known.one@example.com&purpose=email_marketing")["state"] == "granted");
  CHECK(h->Stop() == 0);
}

TEST_CASE("Officer history decrypts evidence and is written to the access log", "[api][consent]") {
  auto h = ServiceHarness::Create();
  Tokens t = MakeTokens(*h);
  REQUIRE(h->Start());
  Api api(*h);
  json e = Event("alice@example.com", "email_marketing", "granted", "2025-01-02T03:04:05Z");
  e["evidence"] = {{"ip", "203.0.113.9"}, {"user_agent", "Mozilla/5.0 (test)"}, {"url", "https://shop.test/checkout"}};
  e["notice"] = {{"id", "privacy-notice"}, {"version", "2025-01"}};
  e["language"] = "en-GB";
  e["jurisdiction"] = "gdpr";
  httplib::Result r = api.Post("/v1/consents", t.officer, e);
  REQUIRE(r);
  REQUIRE(r->status == 201);
  const std::string sid = ParseJson(r->body)["sid"];
  REQUIRE(api.Post("/v1/consents", t.officer,
                   Event("alice@example.com", "email_marketing", "withdrawn", "2025-02-02T03:04:05Z", "mailchimp",
                         "unsubscribe_link")));

  // Marketing may not read history.
  httplib::Result denied = api.Get("/v1/consents/history?email=alice%40example.com", t.marketing);
  REQUIRE(denied);
  CHECK(denied->status == 403);

  httplib::Result hist = api.Get("/v1/consents/history?email=ALICE%40example.com", t.officer);
  REQUIRE(hist);
  INFO(hist->body);
  REQUIRE(hist->status == 200);
  CHECK(hist->get_header_value("Cache-Control") == "no-store");
  json j = ParseJson(hist->body);
  CHECK(j["sid"] == sid);
  REQUIRE(j["entries"].size() == 2);
  const json& first = j["entries"][0];
  CHECK(first["entry"].is_object());
  REQUIRE(first.contains("evidence"));
  CHECK(first["evidence"]["ip"] == "203.0.113.9");
  CHECK(first["evidence"]["user_agent"] == "Mozilla/5.0 (test)");
  CHECK(first["evidence"]["url"] == "https://shop.test/checkout");
  CHECK_FALSE(j["entries"][1].contains("evidence"));
  CHECK(j["entries"][0]["seq"] < j["entries"][1]["seq"]);
  // The same through the sid route.
  httplib::Result by_sid = api.Get("/v1/subjects/" + sid + "/history", t.officer);
  REQUIRE(by_sid);
  CHECK(by_sid->status == 200);
  CHECK(ParseJson(by_sid->body)["entries"].size() == 2);
  httplib::Result unknown = api.Get("/v1/consents/history?email=nobody%40example.com", t.officer);
  REQUIRE(unknown);
  CHECK(unknown->status == 404);
  // A marketing query is logged too (asynchronously; flushed at shutdown).
  Answer(api, t.marketing, "email=alice%40example.com&purpose=email_marketing");

  // The ledger holds the pseudonym, never the identifier or the evidence.
  CHECK(h->Stop() == 0);
  CheckNoIdentifiers(api.seen(), "responses");
  CheckNoIdentifiers(h->Output(), "consentd's log");
  const std::string export_file = h->data_dir() + "/../export.jsonl";
  CommandResult exported = Consentctl({"ledger", "export", "--data-dir", h->data_dir(), "--out", export_file});
  INFO(exported.err);
  REQUIRE(exported.exit_code == 0);
  CommandResult cat = RunCommand({"/bin/cat", export_file});
  CHECK(cat.out.find(sid) != std::string::npos);
  CheckNoIdentifiers(cat.out, "the ledger export");
  CHECK(cat.out.find("203.0.113.9") == std::string::npos);
  CHECK(cat.out.find("Mozilla") == std::string::npos);

  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2((h->data_dir() + "/access.db").c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, "SELECT token_id, hex(sid), what FROM access_log ORDER BY id", -1, &st, nullptr) ==
          SQLITE_OK);
  std::vector<std::tuple<std::string, std::string, std::string>> rows;
  while (sqlite3_step(st) == SQLITE_ROW) {
    rows.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)),
                      reinterpret_cast<const char*>(sqlite3_column_text(st, 1)),
                      reinterpret_cast<const char*>(sqlite3_column_text(st, 2)));
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  std::string upper_sid = sid;
  for (char& ch : upper_sid) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  int history_rows = 0, query_rows = 0;
  for (const auto& [token_id, row_sid, what] : rows) {
    if (what == "consent.history") {
      ++history_rows;
      CHECK(token_id == t.officer.substr(4, 16));
      CHECK(row_sid == upper_sid);
    }
    CHECK(what != "consent.query");  // queued reads go to access_batches
  }
  CHECK(history_rows == 2);
  // The marketing query: one batch of one read of the subject.
  REQUIRE(sqlite3_open_v2((h->data_dir() + "/access.db").c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_prepare_v2(db, "SELECT token_id, hex(sids), what, reads FROM access_batches ORDER BY id", -1, &st,
                             nullptr) == SQLITE_OK);
  while (sqlite3_step(st) == SQLITE_ROW) {
    if (std::string(reinterpret_cast<const char*>(sqlite3_column_text(st, 2))) != "consent.query") continue;
    ++query_rows;
    CHECK(std::string(reinterpret_cast<const char*>(sqlite3_column_text(st, 0))) == t.marketing.substr(4, 16));
    CHECK(std::string(reinterpret_cast<const char*>(sqlite3_column_text(st, 1))) == upper_sid);
    CHECK(sqlite3_column_int64(st, 3) == 1);
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  CHECK(query_rows == 1);
}

}  // namespace
}  // namespace consentd::testing
