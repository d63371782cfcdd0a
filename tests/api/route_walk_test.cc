// The route walk of issue 4: every route of consentd, with a token of every
// scope, with no token, a malformed token, a well-formed unknown token and a
// revoked token, against the real consentd binary. 401 without a valid token
// (with WWW-Authenticate), 403 with the wrong scope, never a 2xx by mistake;
// every error is problem+json with a stable type.
//
// The table below is built from src/api/*.cc (RegisterAdminRoutes,
// RegisterConsentRoutes): when a route is added there, add it here.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tests/api/service_harness.h"

namespace consentd::testing {
namespace {

const std::set<std::string> kProblemTypes = {
    "urn:consentd:problem:invalid-field",    "urn:consentd:problem:invalid-json",
    "urn:consentd:problem:unauthorized",     "urn:consentd:problem:forbidden",
    "urn:consentd:problem:not-found",        "urn:consentd:problem:method-not-allowed",
    "urn:consentd:problem:conflict",         "urn:consentd:problem:payload-too-large",
    "urn:consentd:problem:unsupported-media-type", "urn:consentd:problem:unavailable",
    "urn:consentd:problem:internal",         "urn:consentd:problem:failed-precondition",
    "urn:consentd:problem:bad-webhook-signature",
};

const char kEvent[] = R"({"identifiers":[{"kind":"email","value":"walker@example.com"}],
  "purpose":"email_marketing","decision":"granted","occurred_at":"2025-01-02T03:04:05Z",
  "source":{"system":"shopify-main","method":"checkout_checkbox"}})";

struct RouteCase {
  std::string method;  // GET, POST, DELETE
  std::string path;    // a valid sample, with query string
  std::string body;    // for POST
  std::set<std::string> allowed;  // scope names whose token may call it with this sample; empty: public
  // Authenticated by the sending system's own signature (webhooks), never by
  // a bearer token: without a valid signature every credential gets a 4xx.
  bool signed_by_system = false;
};

std::vector<RouteCase> Routes() {
  const std::string bulk = std::string(R"({"events":[)") + kEvent + "]}";
  const std::string check =
      R"({"purpose":"email_marketing","identifiers":[{"kind":"email","value":"walker@example.com"}]})";
  return {
      {"GET", "/healthz", "", {}},
      {"GET", "/readyz", "", {}},
      {"GET", "/metrics", "", {"admin"}},
      {"POST", "/v1/admin/tokens", R"({"name":"walk","scopes":["marketing"]})", {"admin"}},
      {"GET", "/v1/admin/tokens", "", {"admin"}},
      {"DELETE", "/v1/admin/tokens/0123456789abcdef", "", {"admin"}},
      {"POST", "/v1/admin/rebuild-check", "{}", {"admin"}},
      // ingest:klaviyo holds an ingest scope, but the sample event comes from
      // shopify-main: it must get 403 too.
      {"POST", "/v1/consents", kEvent, {"officer", "ingest:shopify-main"}},
      {"POST", "/v1/consents/bulk", bulk, {"officer", "ingest:shopify-main"}},
      {"GET", "/v1/consents?email=walker%40example.com&purpose=email_marketing", "", {"marketing", "officer"}},
      {"POST", "/v1/consents/check", check, {"marketing", "officer"}},
      {"GET", "/v1/suppressions?purpose=email_marketing", "", {"marketing", "officer"}},
      {"GET", "/v1/subjects/0123456789abcdef0123456789abcdef/history", "", {"officer"}},
      {"GET", "/v1/consents/history?email=walker%40example.com", "", {"officer"}},
      // Erasure (src/api/erasure_routes.cc; reject, extend and cancel come
      // from one registration loop).
      {"POST", "/v1/erasure-requests",
       R"({"identifiers":[{"kind":"email","value":"walker@example.com"}],"jurisdiction":"gdpr","channel":"email"})",
       {"officer"}},
      {"GET", "/v1/erasure-requests", "", {"officer"}},
      {"GET", "/v1/erasure-requests/er_0123456789abcdef", "", {"officer"}},
      {"POST", "/v1/erasure-requests/er_0123456789abcdef/verify", "", {"officer"}},
      {"POST", "/v1/erasure-requests/er_0123456789abcdef/reject", R"({"reason":"identity_not_verified"})", {"officer"}},
      {"POST", "/v1/erasure-requests/er_0123456789abcdef/extend", R"({"reason":"complexity"})", {"officer"}},
      {"POST", "/v1/erasure-requests/er_0123456789abcdef/cancel", R"({"reason":"withdrawn_by_subject"})", {"officer"}},
      {"GET", "/v1/erasure-requests/er_0123456789abcdef/certificate", "", {"officer"}},
      {"POST", "/v1/tombstones/lift", "{}", {"officer"}},
      // Ledger read API (auditor unless ledger_public).
      {"GET", "/ledger/checkpoint", "", {"auditor"}},
      {"GET", "/ledger/tile/0/000", "", {"auditor"}},
      {"GET", "/v1/ledger/entries?start=0&end=1", "", {"auditor"}},
      {"GET", "/v1/ledger/proofs/inclusion?index=0&size=1", "", {"auditor"}},
      {"GET", "/v1/ledger/proofs/consistency?from=1&to=1", "", {"auditor"}},
      {"GET", "/v1/ledger/bundles/0", "", {"auditor"}},
      {"GET", "/v1/ledger/verifier-key", "", {"auditor"}},
      // Propagation operators.
      {"GET", "/v1/admin/outbox", "", {"admin", "officer"}},
      {"GET", "/v1/admin/outbox/1", "", {"admin", "officer"}},
      {"POST", "/v1/admin/outbox/1/replay", "", {"admin", "officer"}},
      {"POST", "/v1/admin/outbox/1/discard", "", {"admin", "officer"}},
      {"POST", "/v1/admin/dead-letters/replay", "", {"admin", "officer"}},
      {"GET", "/v1/admin/systems", "", {"admin", "officer"}},
      {"POST", "/v1/admin/systems/klaviyo/pause", "", {"admin", "officer"}},
      // Webhooks: signed by the sending system.
      {"POST", "/v1/webhooks/shopify/shopify-main", R"({"id":1})", {}, true},
      {"POST", "/v1/webhooks/mailchimp/mailchimp/not-the-secret", "type=unsubscribe", {}, true},
      {"GET", "/v1/webhooks/mailchimp/mailchimp", "", {}, true},
      {"GET", "/v1/webhooks/mailchimp/mailchimp/not-the-secret", "", {}, true},
      {"GET", "/v1/access-requests", "", {"officer"}},
  };
}

httplib::Result Send(httplib::Client& c, const RouteCase& rc, const httplib::Headers& headers) {
  if (rc.method == "GET") return c.Get(rc.path.c_str(), headers);
  if (rc.method == "DELETE") return c.Delete(rc.path.c_str(), headers);
  return c.Post(rc.path.c_str(), headers, rc.body, "application/json");
}

// Checks the problem+json shape of an error response.
void CheckProblem(const httplib::Response& res) {
  INFO("status " << res.status << " body " << res.body);
  CHECK(res.get_header_value("Content-Type") == "application/problem+json");
  nlohmann::json p = ParseJson(res.body);
  REQUIRE(p.is_object());
  REQUIRE(p.contains("type"));
  REQUIRE(p["type"].is_string());
  CHECK(kProblemTypes.count(p["type"].get<std::string>()) == 1);
  CHECK(p.value("status", 0) == res.status);
  CHECK(p.contains("title"));
}

std::string RandomHex(size_t n) {
  static const char* kHex = "0123456789abcdef";
  std::string s;
  for (size_t i = 0; i < n; ++i) s += kHex[static_cast<size_t>(std::rand()) % 16];
  return s;
}

// Counts the routes registered in src/api/*.cc ("{Method::k..."), so that a
// new route without a row above fails this test.
size_t RegisteredRoutes() {
  size_t n = 0;
  for (const auto& entry : std::filesystem::directory_iterator(std::string(CONSENTD_SOURCE_DIR) + "/src/api")) {
    if (entry.path().extension() != ".cc") continue;
    std::ifstream in(entry.path());
    std::stringstream text;
    text << in.rdbuf();
    const std::string s = text.str();
    for (size_t pos = s.find("{Method::k"); pos != std::string::npos; pos = s.find("{Method::k", pos + 1)) ++n;
  }
  return n;
}

TEST_CASE("The route table covers every route registered in src/api", "[api][auth]") {
  // src/api/erasure_routes.cc registers reject, extend and cancel with one
  // Handle call in a loop: two routes more than the text shows.
  constexpr size_t kLoopRegisteredExtra = 2;
  CHECK(RegisteredRoutes() + kLoopRegisteredExtra == Routes().size());
}

TEST_CASE("Every route answers 401 without a valid token, 403 with the wrong scope, and never a 2xx by mistake",
          "[api][auth]") {
  auto h = ServiceHarness::Create();
  const std::vector<std::string> scopes = {"officer", "marketing", "auditor", "admin", "ingest:shopify-main",
                                           "ingest:klaviyo"};
  std::map<std::string, std::string> tokens;
  for (const std::string& s : scopes) tokens[s] = h->CreateToken("walk-" + s.substr(0, s.find(':')), s);
  const std::string revoked = h->CreateToken("walk-revoked", "officer,marketing,admin,auditor");
  h->RevokeToken(revoked);
  REQUIRE(h->Start());
  auto c = h->Client();

  // Credentials that never authenticate.
  const std::string unknown = "cdt_" + RandomHex(16) + "_" + RandomHex(64);
  const std::vector<std::pair<std::string, httplib::Headers>> invalid = {
      {"no token", {}},
      {"malformed token", Bearer("cdt_not-a-token")},
      {"token without its prefix", Bearer(tokens["officer"].substr(4))},
      {"token with a changed secret", Bearer(tokens["officer"].substr(0, tokens["officer"].size() - 1) +
                                             (tokens["officer"].back() == '0' ? "1" : "0"))},
      {"upper-case token", Bearer("CDT_" + tokens["officer"].substr(4))},
      {"well-formed unknown token", Bearer(unknown)},
      {"revoked token", Bearer(revoked)},
      {"empty bearer", {{"Authorization", "Bearer "}}},
      {"basic auth", {{"Authorization", "Basic YWRtaW46YWRtaW4="}}},
      {"token without Bearer", {{"Authorization", tokens["admin"]}}},
  };

  int requests = 0;
  for (const RouteCase& rc : Routes()) {
    INFO(rc.method << " " << rc.path);
    if (rc.signed_by_system) {
      // No bearer token, valid or not, stands in for the system's signature.
      std::vector<std::pair<std::string, httplib::Headers>> all = invalid;
      for (const std::string& scope : scopes) all.push_back({"scope " + scope, Bearer(tokens[scope])});
      for (const auto& [what, headers] : all) {
        INFO(what);
        httplib::Result r = Send(*c, rc, headers);
        REQUIRE(r);
        ++requests;
        CHECK(r->status >= 400);
        CHECK(r->status < 500);
        CheckProblem(*r);
      }
      continue;
    }
    if (rc.allowed.empty()) {
      for (const auto& [what, headers] : invalid) {
        INFO(what);
        httplib::Result r = Send(*c, rc, headers);
        REQUIRE(r);
        ++requests;
        CHECK(r->status == 200);
      }
      continue;
    }
    for (const auto& [what, headers] : invalid) {
      INFO(what);
      httplib::Result r = Send(*c, rc, headers);
      REQUIRE(r);
      ++requests;
      CHECK(r->status == 401);
      CHECK(r->get_header_value("WWW-Authenticate").rfind("Bearer", 0) == 0);
      CheckProblem(*r);
      CHECK(ParseJson(r->body).value("type", "") == "urn:consentd:problem:unauthorized");
    }
    for (const std::string& scope : scopes) {
      INFO("scope " << scope);
      httplib::Result r = Send(*c, rc, Bearer(tokens[scope]));
      REQUIRE(r);
      ++requests;
      if (rc.allowed.count(scope)) {
        CHECK(r->status != 401);
        CHECK(r->status != 403);
        CHECK(r->status < 500);
        if (r->status >= 400) CheckProblem(*r);
      } else {
        CHECK(r->status == 403);
        CHECK_FALSE(r->has_header("WWW-Authenticate"));
        CheckProblem(*r);
        CHECK(ParseJson(r->body).value("type", "") == "urn:consentd:problem:forbidden");
      }
    }
  }
  CHECK(requests > 100);
  CHECK(h->Stop() == 0);
}

TEST_CASE("A token revoked through the admin API stops working at once", "[api][auth]") {
  auto h = ServiceHarness::Create();
  const std::string admin = h->CreateToken("admin", "admin");
  REQUIRE(h->Start());
  auto c = h->Client();
  httplib::Result created =
      c->Post("/v1/admin/tokens", Bearer(admin), R"({"name":"tool","scopes":["marketing"]})", "application/json");
  REQUIRE(created);
  REQUIRE(created->status == 201);
  nlohmann::json j = ParseJson(created->body);
  const std::string token = j.value("token", "");
  const std::string id = j.value("id", "");
  REQUIRE(token.size() == 4 + 16 + 1 + 64);
  const char* query = "/v1/consents?email=someone%40example.com&purpose=email_marketing";
  httplib::Result before = c->Get(query, Bearer(token));
  REQUIRE(before);
  CHECK(before->status == 200);

  httplib::Result list = c->Get("/v1/admin/tokens", Bearer(admin));
  REQUIRE(list);
  CHECK(list->body.find(token.substr(21)) == std::string::npos);  // never the secret

  httplib::Result del = c->Delete(("/v1/admin/tokens/" + id).c_str(), Bearer(admin));
  REQUIRE(del);
  CHECK(del->status == 204);
  httplib::Result after = c->Get(query, Bearer(token));
  REQUIRE(after);
  CHECK(after->status == 401);
  CheckProblem(*after);
  // Revoking an unknown id is a 404 problem, not a 2xx.
  httplib::Result unknown = c->Delete("/v1/admin/tokens/00000000000000ff", Bearer(admin));
  REQUIRE(unknown);
  CHECK(unknown->status == 404);
  CheckProblem(*unknown);
  CHECK(h->Stop() == 0);
}

TEST_CASE("Unknown routes and methods are problem+json errors, never a 2xx", "[api]") {
  auto h = ServiceHarness::Create();
  const std::string admin = h->CreateToken("admin", "admin");
  const std::string officer = h->CreateToken("officer", "officer");
  REQUIRE(h->Start());
  auto c = h->Client();
  for (const auto& headers : {httplib::Headers{}, Bearer(admin), Bearer(officer)}) {
    for (const char* path : {"/", "/v1", "/v1/nope", "/v2/consents", "/v1/admin/tokens/xyz", "/v1/subjects/zz/history",
                             "/healthz/../metrics"}) {
      INFO(path);
      httplib::Result r = c->Get(path, headers);
      REQUIRE(r);
      CHECK((r->status == 404 || r->status == 400 || r->status == 401));
      CheckProblem(*r);
    }
    httplib::Result put = c->Put("/v1/consents", headers, "{}", "application/json");
    REQUIRE(put);
    CHECK(put->status >= 400);
    CHECK(put->status < 500);
    CheckProblem(*put);
    httplib::Result del = c->Delete("/v1/consents", headers);
    REQUIRE(del);
    CHECK(del->status >= 400);
    CHECK(del->status < 500);
    CheckProblem(*del);
  }
  CHECK(h->Stop() == 0);
}

}  // namespace
}  // namespace consentd::testing
