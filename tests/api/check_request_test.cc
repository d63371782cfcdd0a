// The check body's two decoders (src/api/check_request.h): whenever the fast
// one handles a body, the generic one accepts it and decodes the same
// request; DecodeCheckRequest answers every body, valid or not, exactly as
// the generic one does (problems included); and the fast one handles the
// plain bodies clients send, up to the identifier limit.
#include "src/api/check_request.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

namespace consentd::api {
namespace {

bool AnyPurpose(std::string_view) { return true; }
bool OnlyEmailMarketing(std::string_view p) { return p == "email_marketing"; }

bool SameRequest(const CheckRequest& a, const CheckRequest& b) {
  if (a.purpose != b.purpose || a.jurisdiction != b.jurisdiction) return false;
  if (a.identifiers.size() != b.identifiers.size()) return false;
  for (size_t i = 0; i < a.identifiers.size(); ++i) {
    const domain::Identifier& x = a.identifiers[i];
    const domain::Identifier& y = b.identifiers[i];
    if (!(x.kind == y.kind) || x.value != y.value || x.qualifier != y.qualifier) return false;
  }
  return true;
}

bool SameProblem(const std::optional<http::Problem>& a, const std::optional<http::Problem>& b) {
  if (a.has_value() != b.has_value()) return false;
  if (!a) return true;
  return a->status == b->status && a->type == b->type && a->detail == b->detail && a->field == b->field;
}

// The two properties, for one body and limit.
void CheckBody(const std::string& body, size_t max_identifiers = 10) {
  INFO("body: " << body);
  CheckRequest fast, generic, combined;
  const bool handled = DecodeCheckRequestFast(body, max_identifiers, &fast);
  std::optional<http::Problem> gp = DecodeCheckRequestGeneric(body, max_identifiers, AnyPurpose, &generic);
  if (handled) {
    CHECK_FALSE(gp.has_value());
    CHECK(SameRequest(fast, generic));
  }
  for (auto known : {AnyPurpose, OnlyEmailMarketing}) {
    std::optional<http::Problem> want = DecodeCheckRequestGeneric(body, max_identifiers, known, &generic);
    std::optional<http::Problem> got = DecodeCheckRequest(body, max_identifiers, known, &combined);
    CHECK(SameProblem(got, want));
    if (!want && !got) CHECK(SameRequest(combined, generic));
  }
}

const char* kValid =
    R"({"purpose":"email_marketing","jurisdiction":"gdpr","identifiers":[{"kind":"email","value":"Ann@Example.com"},)"
    R"({"kind":"shopify_customer","value":"123","qualifier":"shop-1.myshopify.com"},)"
    R"({"kind":"phone","value":"+1 201 555 0100"}]})";

TEST_CASE("Both check decoders agree on plain and unusual bodies", "[api][check]") {
  const std::vector<std::string> bodies = {
      kValid,
      R"({"purpose":"email_marketing","identifiers":[]})",
      R"(  {  "identifiers" : [ { "value" : "a@b.example" , "kind" : "email" } ] , "purpose" : "email_marketing" }  )",
      "{\n\t\"purpose\":\"email_marketing\",\r\n\"identifiers\":[{\"kind\":\"email\",\"value\":\"x@y.example\"}]}\n",
      R"({"purpose":"email_marketing","jurisdiction":null,)"
      R"("identifiers":[{"kind":"email","value":"a@b.example","qualifier":null}]})",
      R"({"purpose":"telepathy","identifiers":[]})",
      R"({"purpose":"","identifiers":[]})",
      // Not handled by the fast decoder: escapes, UTF-8, duplicates, other
      // types, unknown members and kinds, limits, malformed JSON.
      R"({"purpose":"email_marketing","identifiers":[{"kind":"email","value":"a\u0040b.example"}]})",
      R"({"purpose":"email_marketing","identifiers":[{"kind":"email","value":"\"quoted\"@b.example"}]})",
      "{\"purpose\":\"email_marketing\",\"identifiers\":[{\"kind\":\"email\",\"value\":\"j\xc3\xb6rg@b.example\"}]}",
      "{\"purpose\":\"email_marketing\",\"identifiers\":[{\"kind\":\"email\",\"value\":\"bad\xff@b.example\"}]}",
      "\xef\xbb\xbf{\"purpose\":\"email_marketing\",\"identifiers\":[]}",
      R"({"purpose":"email_marketing","purpose":"analytics","identifiers":[]})",
      R"({"purpose":"email_marketing","identifiers":[{"kind":"email","kind":"phone","value":"1"}]})",
      R"({"purpose":"email_marketing","identifiers":[],"identifiers":[]})",
      R"({"purpose":"email_marketing","identifiers":[],"limit":1})",
      R"({"purpose":"email_marketing","identifiers":[{"kind":"email","value":"a@b.example","extra":1}]})",
      R"({"purpose":"email_marketing","identifiers":[{"kind":"fax","value":"1"}]})",
      R"({"purpose":"email_marketing","identifiers":[{"kind":"email"}]})",
      R"({"purpose":"email_marketing","identifiers":[{"value":"a@b.example"}]})",
      R"({"purpose":"email_marketing","identifiers":[{"kind":"email","value":null}]})",
      R"({"purpose":"email_marketing","identifiers":[{"kind":"email","value":7}]})",
      R"({"purpose":"email_marketing","identifiers":["a@b.example"]})",
      R"({"purpose":"email_marketing","identifiers":[null]})",
      R"({"purpose":"email_marketing","identifiers":"a@b.example"})",
      R"({"purpose":"email_marketing","identifiers":null})",
      R"({"purpose":null,"identifiers":[]})",
      R"({"purpose":1,"identifiers":[]})",
      R"({"identifiers":[]})",
      R"({"purpose":"email_marketing"})",
      R"({"purpose":"email_marketing","jurisdiction":7,"identifiers":[]})",
      R"({"purpose":"email_marketing","identifiers":[{"kind":"email","value":"a@b.example"},]})",
      R"({"purpose":"email_marketing","identifiers":[{"kind":"email","value":"a@b.example"}]}x)",
      R"({"purpose":"email_marketing","identifiers":[{"kind":"email","value":"a@b.example"}]}{})",
      R"({"purpose":"email_marketing","identifiers":[{"kind":"email","value":"a@b.example"})",
      R"({"purpose":"email_marketing",})",
      R"({,})",
      "{}",
      "[]",
      "null",
      "",
      "{\"purpose\":\"email_marketing\",\"identifiers\":[]}\f",
      "{\"purpose\":\"email_marketing\",\"identifiers\":[{\"kind\":\"email\",\"value\":\"tab\there\"}]}",
      "{\"purpose\":\"email_marketing\",\"identifiers\":[{\"kind\":\"email\",\"value\":\"del\x7f\"}]}",
      std::string("{\"purpose\":\"email_marketing\",\"identifiers\":[{\"kind\":\"email\",\"value\":\"nul") + '\0' +
          "\"}]}",
      // Limits: 64-byte purpose and kind, 512-byte value, 256-byte qualifier.
      R"({"purpose":")" + std::string(64, 'p') + R"(","identifiers":[]})",
      R"({"purpose":")" + std::string(65, 'p') + R"(","identifiers":[]})",
      R"({"purpose":"email_marketing","jurisdiction":")" + std::string(65, 'j') + R"(","identifiers":[]})",
      R"({"purpose":"email_marketing","identifiers":[{"kind":")" + std::string(65, 'k') + R"(","value":"1"}]})",
      R"({"purpose":"email_marketing","identifiers":[{"kind":"email","value":")" + std::string(512, 'v') + R"("}]})",
      R"({"purpose":"email_marketing","identifiers":[{"kind":"email","value":")" + std::string(513, 'v') + R"("}]})",
      R"({"purpose":"email_marketing","identifiers":[{"kind":"shopify_customer","value":"1","qualifier":")" +
          std::string(256, 'q') + R"("}]})",
      R"({"purpose":"email_marketing","identifiers":[{"kind":"shopify_customer","value":"1","qualifier":")" +
          std::string(257, 'q') + R"("}]})",
  };
  for (const std::string& b : bodies) CheckBody(b);
  // The plain ones are the fast decoder's.
  CheckRequest r;
  CHECK(DecodeCheckRequestFast(kValid, 10, &r));
  REQUIRE(r.identifiers.size() == 3);
  CHECK(r.jurisdiction == "gdpr");
  CHECK(r.identifiers[1].qualifier == "shop-1.myshopify.com");
  CHECK(r.identifiers[2].kind == domain::IdentifierKind::Phone());
  CHECK(DecodeCheckRequestFast(bodies[1], 10, &r));
  CHECK(DecodeCheckRequestFast(bodies[2], 10, &r));
  CHECK(DecodeCheckRequestFast(bodies[3], 10, &r));
  CHECK(DecodeCheckRequestFast(bodies[4], 10, &r));
}

TEST_CASE("The identifier limit is the generic decoder's, one over it is a problem naming /identifiers",
          "[api][check]") {
  nlohmann::json body = {{"purpose", "email_marketing"}, {"identifiers", nlohmann::json::array()}};
  for (int i = 0; i < 10000; ++i) body["identifiers"].push_back({{"kind", "email"}, {"value", "u@example.com"}});
  const std::string at_limit = body.dump();
  CheckRequest r;
  CHECK(DecodeCheckRequestFast(at_limit, 10000, &r));
  CHECK(r.identifiers.size() == 10000);
  CheckBody(at_limit, 10000);
  CheckBody(at_limit, 9999);
  std::optional<http::Problem> p = DecodeCheckRequest(at_limit, 9999, AnyPurpose, &r);
  REQUIRE(p.has_value());
  CHECK(p->field == "/identifiers");
}

TEST_CASE("Both check decoders agree on 20,000 corrupted bodies", "[api][check]") {
  // Each body: the valid one with a few bytes replaced, inserted or removed,
  // the bytes drawn from JSON's structure, escapes, UTF-8 and control bytes.
  const std::string pool = "{}[]\",:\\ nul0123456789aeE.+-tfrs\x01\x7f\xc3\xa8\xff\t\n";
  std::mt19937 rng(20261124);
  const std::string valid = kValid;
  int handled = 0, accepted = 0;
  for (int n = 0; n < 20000; ++n) {
    std::string b = valid;
    const int edits = 1 + static_cast<int>(rng() % 3);
    for (int e = 0; e < edits && !b.empty(); ++e) {
      const size_t at = rng() % b.size();
      const char c = pool[rng() % pool.size()];
      switch (rng() % 3) {
        case 0: b[at] = c; break;
        case 1: b.insert(b.begin() + static_cast<std::ptrdiff_t>(at), c); break;
        default: b.erase(at, 1 + rng() % 4); break;
      }
    }
    CheckBody(b);
    CheckRequest r;
    handled += DecodeCheckRequestFast(b, 10, &r);
    accepted += !DecodeCheckRequestGeneric(b, 10, AnyPurpose, &r).has_value();
  }
  // Both outcomes occur often (else the comparison would prove little).
  CHECK(handled > 1000);
  CHECK(accepted - handled > 20);
  WARN("fast decoder handled " << handled << ", generic accepted " << accepted << " of 20000");
}

}  // namespace
}  // namespace consentd::api
