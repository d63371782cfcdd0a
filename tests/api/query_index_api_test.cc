// The consent query index (docs/api.md "Query index") in the real consentd:
// answers follow the service's own writes at once, `consentctl import`
// run next to the running consentd is seen by the very next query (another
// process's commit empties the index), and consentd warms the index again
// once those writes are quiet.
#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <string>
#include <thread>

#include "tests/api/service_harness.h"

namespace consentd::testing {
namespace {

using nlohmann::json;

size_t Count(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

// Waits (bounded) until consentd's output holds `n` warm events.
bool WaitForWarms(const ServiceHarness& h, size_t n, int seconds) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < until) {
    if (Count(h.Output(), "\"event\":\"query_cache.warm\"") >= n) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

json Allowed(httplib::Client& c, const std::string& token, const std::string& email) {
  httplib::Result r = c.Get(("/v1/consents?email=" + email + "&purpose=email_marketing").c_str(), Bearer(token));
  REQUIRE(r);
  REQUIRE(r->status == 200);
  return ParseJson(r->body)["allowed"];
}

double Metric(httplib::Client& c, const std::string& admin, const std::string& name) {
  httplib::Result r = c.Get("/metrics", Bearer(admin));
  REQUIRE(r);
  REQUIRE(r->status == 200);
  const size_t at = r->body.find("\n" + name + " ");
  REQUIRE(at != std::string::npos);
  return std::stod(r->body.substr(at + name.size() + 2));
}

TEST_CASE("consentd's query index follows its own writes and a consentctl import run beside it",
          "[api][query_cache]") {
  std::unique_ptr<ServiceHarness> h = ServiceHarness::Create();
  const std::string marketing = h->CreateToken("m", "marketing");
  const std::string officer = h->CreateToken("o", "officer");
  const std::string admin = h->CreateToken("a", "admin");
  REQUIRE(h->Start());
  REQUIRE(WaitForWarms(*h, 1, 30));
  std::unique_ptr<httplib::Client> c = h->Client();

  const json grant = {{"identifiers", json::array({{{"kind", "email"}, {"value", "ann@example.com"}}})},
                      {"purpose", "email_marketing"},
                      {"decision", "granted"},
                      {"occurred_at", "2025-01-01T00:00:00Z"},
                      {"source", {{"system", "shopify-main"}, {"method", "checkout_checkbox"}}}};
  httplib::Result r = c->Post("/v1/consents", Bearer(officer), grant.dump(), "application/json");
  REQUIRE(r);
  REQUIRE(r->status == 201);
  CHECK(Allowed(*c, marketing, "ann@example.com") == true);
  CHECK(Allowed(*c, marketing, "ann@example.com") == true);  // from the index now
  CHECK(Allowed(*c, marketing, "bob@example.com") == false);  // unknown: the default, cached
  CHECK(Metric(*c, admin, "consentd_query_cache_hits") >= 2);

  // consentctl next to the running consentd: ann withdraws, bob appears.
  const std::string file = h->data_dir() + "/../history.jsonl";
  {
    std::ofstream out(file);
    out << R"({"identifiers":[{"kind":"email","value":"ann@example.com"}],"purpose":"email_marketing","decision":"withdrawn","occurred_at":"2025-02-01T00:00:00Z","source":{"system":"klaviyo","method":"import"},"event_id":"h-1"})"
        << "\n"
        << R"({"identifiers":[{"kind":"email","value":"bob@example.com"}],"purpose":"email_marketing","decision":"granted","occurred_at":"2025-02-01T00:00:00Z","source":{"system":"klaviyo","method":"import"},"event_id":"h-2"})"
        << "\n";
  }
  CommandResult imported = Consentctl({"import", file, "--data-dir", h->data_dir()});
  INFO(imported.out << imported.err);
  REQUIRE(imported.exit_code == 0);
  // The next queries see it: another process's commit empties the index.
  CHECK(Allowed(*c, marketing, "ann@example.com") == false);
  CHECK(Allowed(*c, marketing, "bob@example.com") == true);
  CHECK(Metric(*c, admin, "consentd_query_cache_flushes") >= 1);
  // Once the other process is quiet, consentd warms the index again.
  CHECK(WaitForWarms(*h, 2, 30));
  CHECK(Allowed(*c, marketing, "bob@example.com") == true);
  CHECK(h->Stop() == 0);
}

TEST_CASE("query_cache_entries 0 turns the query index off", "[api][query_cache]") {
  HarnessOptions o;
  o.config_overrides = {{"query_cache_entries", 0}};
  std::unique_ptr<ServiceHarness> h = ServiceHarness::Create(o);
  const std::string marketing = h->CreateToken("m", "marketing");
  const std::string admin = h->CreateToken("a", "admin");
  REQUIRE(h->Start());
  std::unique_ptr<httplib::Client> c = h->Client();
  CHECK(Allowed(*c, marketing, "ann@example.com") == false);
  httplib::Result r = c->Get("/metrics", Bearer(admin));
  REQUIRE(r);
  CHECK(r->body.find("consentd_query_cache") == std::string::npos);
  CHECK(h->Output().find("query_cache.warm") == std::string::npos);
  CHECK(h->Stop() == 0);
}

}  // namespace
}  // namespace consentd::testing
