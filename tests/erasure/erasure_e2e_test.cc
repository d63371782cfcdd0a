// Erasure end to end through the REAL consentd and consentctl (ServiceHarness)
// and emulated downstream systems (EmulatorProcess, signed-webhook
// receivers): file over the API, watch the request propagate and complete,
// fetch the certificate and verify it offline with consentctl, then try to
// bring the person back (API event and import row): both blocked and recorded.
// Also: a system that refuses permanently, consentd killed mid-propagation,
// malformed / oversized / replayed requests.
#include <signal.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "adapters/webhook_consentd.h"
#include "tests/api/service_harness.h"
#include "tests/emulators/emulator_process.h"
#include "tests/erasure/canary_scan.h"

namespace consentd::erasure {
namespace {

using consentd::emulators::EmulatorProcess;
using consentd::testing::Bearer;
using consentd::testing::CommandResult;
using consentd::testing::Consentctl;
using consentd::testing::ParseJson;
using consentd::testing::ServiceHarness;
using consentd::testing::TempDir;
using nlohmann::json;

const std::vector<std::string> kSystems = {"hook-a", "hook-b", "hook-c"};

std::string WritePolicy(const TempDir& dir, const std::map<std::string, int>& ports, const std::string& gone_system) {
  json systems = json::object();
  for (const auto& [id, port] : ports) {
    std::string path = id == gone_system ? "/old" : "/hooks";
    systems[id] = {{"kind", "webhook"},
                   {"base_url", "http://127.0.0.1:" + std::to_string(port) + path},
                   {"credentials", {{"signing_secret", "credentials/" + id + "/signing_secret"}}},
                   {"receives", {"email_marketing"}},
                   {"rate_limit", {{"requests_per_second", 5000}, {"burst", 500}}},
                   {"concurrency", 4}};
  }
  json policy = {{"format", "consentd.policy/v1"},
                 {"purposes",
                  {{"email_marketing", {{"channel", "email"}, {"legal_basis", "consent"}, {"default", "denied"}}}}},
                 {"systems", systems},
                 {"jurisdictions",
                  {{"gdpr", {{"response", {{"months", 1}}}, {"extension", {{"months", 2}}}}},
                   {"ccpa",
                    {{"response", {{"days", 45}}},
                     {"extension", {{"days", 45}}},
                     {"acknowledge", {{"business_days", 10}}},
                     {"opt_out_of_sale", {{"business_days", 15}}},
                     {"record_retention", {{"months", 24}}}}}}}};
  std::string path = dir.path() + "/policy.json";
  std::ofstream(path) << policy.dump(2);
  return path;
}

struct Fleet {
  std::map<std::string, std::unique_ptr<EmulatorProcess>> emulators;
  std::map<std::string, int> ports;
  Fleet() {
    for (const std::string& id : kSystems) {
      emulators[id] = EmulatorProcess::Start("webhook");
      REQUIRE(emulators[id] != nullptr);
      emulators[id]->Seed({{"secret", "whsec_test"}, {"gone_paths", json::array({"/old"})}});
      ports[id] = emulators[id]->port();
    }
  }
};

struct Service {
  TempDir policy_dir;
  std::unique_ptr<ServiceHarness> h;
  std::string officer;

  Service(const Fleet& fleet, const std::string& gone_system = "") {
    consentd::testing::HarnessOptions o;
    o.config_overrides["policies"] = json::array({WritePolicy(policy_dir, fleet.ports, gone_system)});
    o.config_overrides["propagation"] = {
        {"backoff_base_ms", 20}, {"backoff_cap_ms", 300}, {"max_attempts", 1000}, {"poll_interval_ms", 100}};
    h = ServiceHarness::Create(o);
    for (const std::string& id : kSystems) {
      std::filesystem::create_directories(h->key_dir() + "/credentials/" + id);
      std::ofstream(h->key_dir() + "/credentials/" + id + "/signing_secret") << "whsec_test\n";
    }
    officer = h->CreateToken("officer", "officer");
    REQUIRE(h->Start());
  }

  httplib::Result Post(const std::string& path, const json& body) {
    return h->Client()->Post(path.c_str(), Bearer(officer), body.dump(), "application/json");
  }
  json Get(const std::string& path, int expect = 200) {
    auto r = h->Client()->Get(path.c_str(), Bearer(officer));
    REQUIRE(r);
    INFO(r->body);
    REQUIRE(r->status == expect);
    return ParseJson(r->body);
  }
  // Waits until the request is in a terminal state and shredded.
  json WaitClosed(const std::string& id, int seconds = 60) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    json r;
    while (std::chrono::steady_clock::now() < deadline) {
      auto res = h->Client()->Get(("/v1/erasure-requests/" + id).c_str(), Bearer(officer));
      if (res && res->status == 200) {
        r = ParseJson(res->body);
        if (!r["shredded_at"].get<std::string>().empty()) return r;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    FAIL("request did not close: " << r.dump());
    return r;
  }
};

json FileBody(const std::string& email, bool verified) {
  return {{"identifiers", json::array({{{"kind", "email"}, {"value", email}}})},
          {"channel", "email"},
          {"jurisdiction", "gdpr"},
          {"verified", verified}};
}

json OptInEvent(const std::string& email) {
  return {{"identifiers", json::array({{{"kind", "email"}, {"value", email}}})},
          {"purpose", "email_marketing"},
          {"decision", "granted"},
          {"occurred_at", "2026-01-02T03:04:05Z"},
          {"source", {{"method", "signup_form"}}},
          {"evidence", {{"ip", "203.0.113.9"}}}};
}

size_t ErasuresAt(EmulatorProcess& emu) {
  size_t n = 0;
  const json state = emu.State();  // kept alive: the loop must not iterate a temporary's member
  for (const json& e : state["events"]) n += e["body"]["type"] == "subject.erase";
  return n;
}

TEST_CASE("An erasure filed over the API propagates, completes, is certified and verifies offline, re-creation is "
          "blocked",
          "[integration][erasure]") {
  Fleet fleet;
  Service svc(fleet);
  const std::string email = "Erin.Erase-E2E@Example.org";
  auto rec = svc.Post("/v1/consents", OptInEvent(email));
  REQUIRE(rec);
  REQUIRE(rec->status == 201);
  auto bystander = svc.Post("/v1/consents", OptInEvent("stays@example.org"));
  REQUIRE(bystander->status == 201);

  auto filed = svc.Post("/v1/erasure-requests", FileBody(email, false));
  REQUIRE(filed);
  INFO(filed->body);
  REQUIRE(filed->status == 201);
  const std::string id = ParseJson(filed->body)["id"];
  CHECK(ParseJson(filed->body)["state"] == "received");
  auto verified = svc.Post("/v1/erasure-requests/" + id + "/verify", json::object());
  REQUIRE(verified->status == 200);

  json r = svc.WaitClosed(id);
  CHECK(r["state"] == "completed");
  REQUIRE(r["systems"].size() == kSystems.size());
  for (const json& s : r["systems"]) CHECK(s["status"] == "confirmed");
  for (const std::string& sys : kSystems) CHECK(ErasuresAt(*fleet.emulators[sys]) == 1);

  // The certificate, verified offline by consentctl.
  auto cert = svc.h->Client()->Get(("/v1/erasure-requests/" + id + "/certificate").c_str(), Bearer(svc.officer));
  REQUIRE(cert);
  REQUIRE(cert->status == 200);
  TempDir out;
  const std::string file = out.path() + "/cert.json";
  std::ofstream(file) << cert->body;
  CommandResult vk = Consentctl({"ledger", "verifier-key", "--data-dir", svc.h->data_dir()});
  REQUIRE(vk.exit_code == 0);
  std::string key = vk.out.substr(0, vk.out.find('\n'));
  CommandResult ok = Consentctl({"certificate", "verify", file, "--verifier-key", key});
  INFO(ok.out << ok.err);
  CHECK(ok.exit_code == 0);
  CHECK_THAT(ok.out, Catch::StartsWith("OK: request " + id + " (completed)"));
  // One flipped byte in the signed body.
  std::string bad = cert->body;
  size_t at = bad.find("\"confirmed\"");
  REQUIRE(at != std::string::npos);
  bad.replace(at, 11, "\"confirmeD\"");
  std::ofstream(out.path() + "/bad.json") << bad;
  CommandResult fail = Consentctl({"certificate", "verify", out.path() + "/bad.json", "--verifier-key", key});
  CHECK(fail.exit_code == 1);
  CHECK_THAT(fail.out, Catch::Contains("signature: does not verify"));

  // Re-creation: an API event and an import row with the erased email.
  auto again = svc.Post("/v1/consents", OptInEvent("erin.erase-e2e@example.org"));
  REQUIRE(again);
  CHECK(again->status == 409);
  CHECK(again->body.find("erin") == std::string::npos);
  svc.h->Stop();
  std::ofstream(out.path() + "/rows.jsonl") << OptInEvent(email).dump() << "\n";
  CommandResult imp = Consentctl({"import", out.path() + "/rows.jsonl", "--data-dir", svc.h->data_dir()});
  CHECK(imp.exit_code == 1);  // the row was rejected
  CommandResult ledger = Consentctl({"ledger", "export", "--data-dir", svc.h->data_dir(), "--out", out.path() + "/x.jsonl"});
  REQUIRE(ledger.exit_code == 0);
  std::ifstream in(out.path() + "/x.jsonl");
  std::string line;
  size_t blocked = 0;
  while (std::getline(in, line)) blocked += line.find("\"kind\":\"erasure.recreation_blocked\"") != std::string::npos;
  CHECK(blocked == 2);
  REQUIRE(svc.h->Start());
  // Nothing re-created anywhere: still one erase event per receiver, no new consent event.
  for (const std::string& sys : kSystems) {
    size_t consent = 0;
    const json state = fleet.emulators[sys]->State();
    for (const json& e : state["events"]) consent += e["body"]["type"] != "subject.erase";
    CHECK(consent == 2);  // the two opt-ins before the erasure
    CHECK(ErasuresAt(*fleet.emulators[sys]) == 1);
  }
  svc.h->Stop();
  CHECK(consentd::erasure::testing::ScanForValue(svc.h->data_dir(), "erin.erase-e2e@example.org").empty());
  CHECK(svc.h->Output().find("erin.erase") == std::string::npos);
}

TEST_CASE("A system whose signed webhook brings an erased person back gets the erasure again, the others nothing",
          "[integration][erasure][tombstones]") {
  Fleet fleet;
  Service svc(fleet);
  const std::string email = "Vera.Resend-E2E@Example.org";
  auto filed = svc.Post("/v1/erasure-requests", FileBody(email, true));
  REQUIRE(filed->status == 201);
  const std::string id = ParseJson(filed->body)["id"];
  svc.WaitClosed(id);
  for (const std::string& sys : kSystems) CHECK(ErasuresAt(*fleet.emulators[sys]) == 1);

  // hook-b's sync sends the person back, signed as the policy says.
  const json event = {{"id", "evt_resend_1"},
                      {"type", "consent.updated"},
                      {"occurred_at", "2026-01-02T03:04:05Z"},
                      {"identifiers", json::array({{{"kind", "email"}, {"value", email}}})},
                      {"purpose", "email_marketing"},
                      {"decision", "withdrawn"},
                      {"method", "sync"}};
  const std::string body = event.dump();
  const int64_t now_s = std::chrono::duration_cast<std::chrono::seconds>(
                            std::chrono::system_clock::now().time_since_epoch()).count();
  httplib::Headers signed_by_b = {{"X-Consentd-Signature", adapters::SignConsentdWebhook("whsec_test", now_s, body)}};
  auto hook = svc.h->Client()->Post("/v1/webhooks/webhook/hook-b", signed_by_b, body, "application/json");
  REQUIRE(hook);
  INFO(hook->body);
  CHECK(hook->body.find("Vera") == std::string::npos);

  // The re-send reaches hook-b (its row was committed with the blocked
  // entry) and is recorded under the request; nobody else hears of it.
  json r;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    r = svc.Get("/v1/erasure-requests/" + id);
    if (!r["resends"].empty() && r["resends"][0]["status"] != "pending") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  REQUIRE(r["resends"].size() == 1);
  CHECK(r["resends"][0]["system"] == "hook-b");
  CHECK(r["resends"][0]["status"] == "confirmed");
  CHECK(ErasuresAt(*fleet.emulators["hook-b"]) == 2);
  CHECK(ErasuresAt(*fleet.emulators["hook-a"]) == 1);
  CHECK(ErasuresAt(*fleet.emulators["hook-c"]) == 1);
  // The erase hook-b received named the person as hook-b knows them.
  size_t named = 0;
  const json state = fleet.emulators["hook-b"]->State();
  for (const json& e : state["events"]) {
    if (e["body"]["type"] == "subject.erase") named += e["body"].dump().find("vera.resend-e2e@example.org") != std::string::npos;
  }
  CHECK(named == 2);
  // The same webhook delivered again within the hour: recorded, not re-sent.
  auto again = svc.h->Client()->Post("/v1/webhooks/webhook/hook-b", signed_by_b, body, "application/json");
  REQUIRE(again);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  CHECK(svc.Get("/v1/erasure-requests/" + id)["resends"].size() == 1);
  CHECK(ErasuresAt(*fleet.emulators["hook-b"]) == 2);
  // Once delivered, the sealed identifiers are shredded too.
  svc.h->Stop();
  CHECK(consentd::erasure::testing::ScanForValue(svc.h->data_dir(), "vera.resend-e2e@example.org").empty());
  CHECK(svc.h->Output().find("vera.resend") == std::string::npos);
}

TEST_CASE("A system that refuses permanently leaves the request partially completed with the failure listed",
          "[integration][erasure][faults]") {
  Fleet fleet;
  Service svc(fleet, /*gone_system=*/"hook-b");
  auto filed = svc.Post("/v1/erasure-requests", FileBody("gone@example.org", true));
  REQUIRE(filed->status == 201);
  const std::string id = ParseJson(filed->body)["id"];
  json r = svc.WaitClosed(id);
  CHECK(r["state"] == "partially_completed");
  for (const json& s : r["systems"]) CHECK(s["status"] == (s["system"] == "hook-b" ? "failed" : "confirmed"));
  CHECK(svc.Get("/v1/erasure-requests/" + id + "/certificate")["body"]["request"]["state"] == "partially_completed");
}

TEST_CASE("consentd killed mid-propagation resumes: nothing lost, nothing duplicated", "[integration][erasure][faults]") {
  Fleet fleet;
  // Slow answers so that the kill lands while deliveries are in flight.
  for (auto& [id, emu] : fleet.emulators) emu->SetFaults({{"latency_ms", 300}});
  Service svc(fleet);
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    auto filed = svc.Post("/v1/erasure-requests", FileBody("kill" + std::to_string(i) + "@example.org", true));
    REQUIRE(filed->status == 201);
    ids.push_back(ParseJson(filed->body)["id"]);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  svc.h->Kill();
  for (auto& [id, emu] : fleet.emulators) emu->SetFaults({{"latency_ms", 0}});
  REQUIRE(svc.h->Start());
  for (const std::string& id : ids) CHECK(svc.WaitClosed(id)["state"] == "completed");
  // Each receiver saw each erasure once (deliveries are at least once; the
  // receiver de-duplicates by the idempotency key, so 5 distinct ids).
  for (const std::string& sys : kSystems) {
    std::set<std::string> distinct;
    const json state = fleet.emulators[sys]->State();
    for (const json& e : state["events"]) {
      if (e["body"]["type"] == "subject.erase") distinct.insert(e["body"]["id"].get<std::string>());
    }
    CHECK(distinct.size() == ids.size());
  }
  json list = svc.Get("/v1/erasure-requests?state=completed");
  CHECK(list["requests"].size() == ids.size());
  // State is a function of the ledger (issue 8): after the crash, the
  // consent state, request states and tombstones match a replay of the
  // ledger alone.
  CommandResult rebuilt = Consentctl({"rebuild", "--check", "--data-dir", svc.h->data_dir()});
  INFO(rebuilt.out << rebuilt.err);
  CHECK(rebuilt.exit_code == 0);
}

TEST_CASE("The erasure API refuses malformed, oversized and unauthorized requests and treats replays as no-ops",
          "[integration][erasure]") {
  Fleet fleet;
  Service svc(fleet);
  auto c = svc.h->Client();
  auto post = [&](const std::string& path, const std::string& body, const std::string& token) {
    auto r = c->Post(path.c_str(), Bearer(token), body, "application/json");
    REQUIRE(r);
    return std::make_pair(r->status, ParseJson(r->body));
  };
  auto [s1, b1] = post("/v1/erasure-requests", "{not json", svc.officer);
  CHECK(s1 == 400);
  auto [s2, b2] = post("/v1/erasure-requests", R"({"identifiers":[],"channel":"email"})", svc.officer);
  CHECK(s2 == 400);
  CHECK(b2["field"] == "/identifiers");
  auto [s3, b3] = post("/v1/erasure-requests",
                       R"({"identifiers":[{"kind":"email","value":"nope@@x"}],"channel":"email"})", svc.officer);
  CHECK(s3 == 400);
  CHECK(b3["field"] == "/identifiers/0/value");
  CHECK(b3.dump().find("nope@@x") == std::string::npos);
  auto [s4, b4] = post("/v1/erasure-requests",
                       R"({"identifiers":[{"kind":"email","value":"a@example.org"}],"channel":"email","extra":1})",
                       svc.officer);
  CHECK(s4 == 400);
  CHECK(b4["field"] == "/extra");
  std::string huge = R"({"identifiers":[{"kind":"email","value":"a@example.org"}],"channel":")" +
                     std::string(100000, 'x') + "\"}";
  auto [s5, b5] = post("/v1/erasure-requests", huge, svc.officer);
  CHECK(s5 == 413);
  auto [s6, b6] = post("/v1/erasure-requests", FileBody("a@example.org", false).dump(), "not-a-token");
  CHECK(s6 == 401);

  json body = FileBody("replay@example.org", false);
  body["client_reference"] = "TICKET-77";
  auto [s7, b7] = post("/v1/erasure-requests", body.dump(), svc.officer);
  REQUIRE(s7 == 201);
  auto [s8, b8] = post("/v1/erasure-requests", body.dump(), svc.officer);
  CHECK(b8["id"] == b7["id"]);
  CHECK(b8["entries"].size() == 1);
  const std::string id = b7["id"];
  auto [s9, b9] = post("/v1/erasure-requests/" + id + "/reject", "{}", svc.officer);
  CHECK(s9 == 400);
  CHECK(b9["field"] == "/reason");
  auto [s10, b10] = post("/v1/erasure-requests/" + id + "/extend", R"({"reason":"complexity"})", svc.officer);
  CHECK(s10 == 200);
  CHECK(b10["extended"] == true);
  auto [s11, b11] = post("/v1/erasure-requests/" + id + "/extend", R"({"reason":"complexity"})", svc.officer);
  CHECK(s11 == 409);
  auto [s12, b12] = post("/v1/erasure-requests/" + id + "/cancel", R"({"reason":"requester_withdrew"})", svc.officer);
  CHECK(s12 == 200);
  auto [s13, b13] = post("/v1/erasure-requests/" + id + "/verify", "{}", svc.officer);
  CHECK(s13 == 409);
  CHECK_THAT(b13["detail"].get<std::string>(), Catch::Contains("cannot go from cancelled to verified"));
  svc.Get("/v1/erasure-requests/er_0000000000000000", 404);
  svc.Get("/v1/erasure-requests?state=bogus", 400);
  svc.Get("/v1/erasure-requests?due_before=2026-02-30", 400);
  CHECK(svc.Get("/v1/erasure-requests?state=cancelled")["requests"].size() == 1);

  // The CLI mirrors it.
  svc.h->Stop();
  CommandResult f = Consentctl({"request", "file", "--data-dir", svc.h->data_dir(), "--email", "cli@example.org",
                                "--channel", "phone"});
  INFO(f.err);
  REQUIRE(f.exit_code == 0);
  const std::string cli_id = ParseJson(f.out)["id"];
  CommandResult l = Consentctl({"request", "list", "--data-dir", svc.h->data_dir(), "--state", "received"});
  CHECK(l.exit_code == 0);
  CHECK_THAT(l.out, Catch::Contains(cli_id));
  CommandResult rej = Consentctl({"request", "reject", "--data-dir", svc.h->data_dir(), cli_id, "--reason", "identity_not_verified"});
  CHECK(rej.exit_code == 0);
  CommandResult again = Consentctl({"request", "cancel", "--data-dir", svc.h->data_dir(), cli_id, "--reason", "x"});
  CHECK(again.exit_code == 2);
  CHECK_THAT(again.err, Catch::Contains("cannot go from rejected to cancelled"));
}

}  // namespace
}  // namespace consentd::erasure
