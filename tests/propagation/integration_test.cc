// Propagation end to end: the real consentd binary (ServiceHarness) fans
// consent changes out to emulated downstream systems (EmulatorProcess) over
// HTTP, and the tests check the emulators' final state against the ledger's.
//
// The systems are signed-webhook receivers (kind webhook): the receiver
// records each event once (de-duplicated by its id, which is the outbox
// row's idempotency key "cd-<cause seq>-<hash>"), in arrival order, so a
// test can check both "every change arrived" and "per subject, in ledger
// order".
#include <signal.h>

#include <catch2/catch.hpp>
#include <algorithm>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "tests/api/service_harness.h"
#include "tests/emulators/emulator_process.h"

namespace consentd::propagation {
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

// A policy with one purpose and the given webhook receivers.
std::string WritePolicy(const TempDir& dir, const std::map<std::string, int>& ports) {
  json systems = json::object();
  for (const auto& [id, port] : ports) {
    systems[id] = {{"kind", "webhook"},
                   {"base_url", "http://127.0.0.1:" + std::to_string(port) + "/hooks"},
                   {"credentials", {{"signing_secret", "credentials/" + id + "/signing_secret"}}},
                   {"receives", {"email_marketing"}},
                   {"rate_limit", {{"requests_per_second", 5000}, {"burst", 500}}},
                   {"concurrency", 4},
                   // A dropped connection costs a read timeout: keep it short.
                   {"options", {{"timeout_ms", 1000}}}};
  }
  json policy = {{"format", "consentd.policy/v1"},
                 {"purposes",
                  {{"email_marketing", {{"channel", "email"}, {"legal_basis", "consent"}, {"default", "denied"}}}}},
                 {"systems", systems}};
  std::string path = dir.path() + "/policy.json";
  std::ofstream(path) << policy.dump(2);
  return path;
}

void WriteSecrets(const ServiceHarness& h) {
  for (const std::string& id : kSystems) {
    std::filesystem::create_directories(h.key_dir() + "/credentials/" + id);
    std::ofstream(h.key_dir() + "/credentials/" + id + "/signing_secret") << "whsec_test\n";
  }
}

json Event(const std::string& email, bool granted, int64_t occurred_s) {
  std::time_t t = static_cast<std::time_t>(occurred_s);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return {{"identifiers", json::array({{{"kind", "email"}, {"value", email}}})},
          {"purpose", "email_marketing"},
          {"decision", granted ? "granted" : "withdrawn"},
          {"occurred_at", buf},
          {"source", {{"method", "preference_centre"}}}};
}

// The cause seq encoded in an event id ("cd-<seq>-<hash>").
uint64_t SeqOf(const std::string& id) { return std::stoull(id.substr(3, id.find('-', 3) - 3)); }

struct Fleet {
  std::map<std::string, std::unique_ptr<EmulatorProcess>> emulators;
  std::map<std::string, int> ports;

  Fleet() {
    for (const std::string& id : kSystems) {
      emulators[id] = EmulatorProcess::Start("webhook");
      REQUIRE(emulators[id] != nullptr);
      emulators[id]->Seed({{"secret", "whsec_test"}});
      ports[id] = emulators[id]->port();
    }
  }
};

struct Service {
  TempDir policy_dir;
  std::unique_ptr<ServiceHarness> h;
  std::string officer;
  std::string admin;

  // `ports`: the systems of the policy (default: the whole fleet).
  explicit Service(const Fleet& fleet, std::optional<std::map<std::string, int>> ports = std::nullopt) {
    consentd::testing::HarnessOptions o;
    o.config_overrides["policies"] = json::array({WritePolicy(policy_dir, ports ? *ports : fleet.ports)});
    o.config_overrides["propagation"] = {
        {"backoff_base_ms", 20}, {"backoff_cap_ms", 300}, {"max_attempts", 1000}, {"poll_interval_ms", 100}};
    h = ServiceHarness::Create(o);
    WriteSecrets(*h);
    officer = h->CreateToken("officer", "officer");
    admin = h->CreateToken("admin", "admin");
    REQUIRE(h->Start());
  }

  // With a policy document of its own and credential files (path under
  // the key directory -> content).
  Service(const json& policy, const std::map<std::string, std::string>& credentials) {
    const std::string path = policy_dir.path() + "/policy.json";
    std::ofstream(path) << policy.dump(2);
    consentd::testing::HarnessOptions o;
    o.config_overrides["policies"] = json::array({path});
    o.config_overrides["propagation"] = {{"backoff_base_ms", 20}, {"backoff_cap_ms", 300}, {"poll_interval_ms", 100}};
    h = ServiceHarness::Create(o);
    for (const auto& [file, content] : credentials) {
      std::filesystem::create_directories(std::filesystem::path(h->key_dir() + "/" + file).parent_path());
      std::ofstream(h->key_dir() + "/" + file) << content << "\n";
    }
    officer = h->CreateToken("officer", "officer");
    admin = h->CreateToken("admin", "admin");
    REQUIRE(h->Start());
  }

  void PostBulk(const std::vector<json>& events) {
    auto c = h->Client();
    for (size_t i = 0; i < events.size(); i += 500) {
      json body = {{"events", json::array()}};
      for (size_t j = i; j < std::min(events.size(), i + 500); ++j) body["events"].push_back(events[j]);
      auto r = c->Post("/v1/consents/bulk", Bearer(officer), body.dump(), "application/json");
      REQUIRE(r);
      INFO(r->body);
      REQUIRE(r->status == 200);
    }
  }

  // Per system: {queue_depth, dead}.
  std::map<std::string, std::pair<int64_t, int64_t>> Systems() {
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

  bool WaitDrained(const std::vector<std::string>& systems, int seconds) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    while (std::chrono::steady_clock::now() < deadline) {
      auto st = Systems();
      bool done = !st.empty();
      for (const std::string& s : systems) done = done && st.count(s) && st[s].first == 0;
      if (done) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    for (const auto& [id, st] : Systems()) UNSCOPED_INFO(id << ": queue " << st.first << ", dead " << st.second);
    return false;
  }

  // The consent state consentd holds: "granted"/"withdrawn"/"default".
  std::string StateOf(const std::string& email) {
    auto r = h->Client()->Get(("/v1/consents?email=" + email + "&purpose=email_marketing").c_str(), Bearer(officer));
    REQUIRE(r);
    REQUIRE(r->status == 200);
    return ParseJson(r->body)["state"].get<std::string>();
  }
};

// Checks one receiver: for every email, the events arrived in strictly
// increasing ledger order, there are `expected_per_email` of them, and the
// last one carries `final_state`.
void CheckReceiver(const std::string& system, EmulatorProcess& emu, const std::map<std::string, std::string>& final_state,
                   size_t expected_per_email) {
  INFO("system " << system);
  json state = emu.State();
  std::map<std::string, std::vector<std::pair<uint64_t, std::string>>> by_email;
  for (const json& e : state["events"]) {
    const json& body = e["body"];
    REQUIRE(body["type"] == "consent.changed");
    by_email[body["customer"]["email"].get<std::string>()].push_back(
        {SeqOf(body["id"].get<std::string>()), body["decision"].get<std::string>()});
  }
  CHECK(state["rejected"] == 0);
  REQUIRE(by_email.size() == final_state.size());
  for (const auto& [email, events] : by_email) {
    INFO("subject " << email);
    CHECK(events.size() == expected_per_email);
    for (size_t i = 1; i < events.size(); ++i) CHECK(events[i - 1].first < events[i].first);
    CHECK(events.back().second == final_state.at(email));
  }
}

TEST_CASE("rapid opt-in, opt-out, opt-in under injected faults end with every receiver holding the final state",
          "[integration]") {
  Fleet fleet;
  // Errors, dropped connections and slow answers; each receiver its own seed.
  uint32_t seed = 7;
  for (auto& [id, emu] : fleet.emulators) {
    emu->SetFaults({{"error_rate", 0.2}, {"drop_rate", 0.02}, {"latency_ms", 2}, {"seed", seed++}});
  }
  Service svc(fleet);
  const int kSubjects = 40;
  const int kChanges = 5;  // in, out, in, out, in
  std::vector<json> events;
  std::map<std::string, std::string> final_state;
  for (int s = 0; s < kSubjects; ++s) {
    std::string email = "order" + std::to_string(s) + "@example.com";
    for (int k = 0; k < kChanges; ++k) {
      const bool granted = k % 2 == 0;
      events.push_back(Event(email, granted, 1700000000 + k));
      final_state[email] = granted ? "granted" : "withdrawn";
    }
  }
  // One event at a time, as fast as the API takes them.
  auto c = svc.h->Client();
  for (const json& e : events) {
    auto r = c->Post("/v1/consents", Bearer(svc.officer), e.dump(), "application/json");
    REQUIRE(r);
    REQUIRE(r->status == 201);
  }
  REQUIRE(svc.WaitDrained(kSystems, 240));
  for (const auto& [email, st] : final_state) CHECK(svc.StateOf(email) == st);
  for (auto& [id, emu] : fleet.emulators) CheckReceiver(id, *emu, final_state, kChanges);
  for (const auto& [id, st] : svc.Systems()) CHECK(st.second == 0);  // no dead letters
  CHECK(svc.h->Stop() == 0);
  CHECK(svc.h->Output().find("@example.com") == std::string::npos);  // no identifier in any log line
  CommandResult v = Consentctl({"ledger", "verify", "--data-dir", svc.h->data_dir()});
  INFO(v.out << v.err);
  CHECK(v.exit_code == 0);
}

TEST_CASE("a system that is down for the whole run does not hold up the others and drains when it recovers",
          "[integration]") {
  Fleet fleet;
  const int down_port = fleet.ports["hook-c"];
  fleet.emulators["hook-c"]->Kill();  // its port now refuses connections
  Service svc(fleet);
  std::vector<json> grants, withdrawals;
  std::map<std::string, std::string> final_state;
  for (int s = 0; s < 200; ++s) {
    std::string email = "down" + std::to_string(s) + "@example.com";
    grants.push_back(Event(email, true, 1700000000));
    withdrawals.push_back(Event(email, false, 1700000001));
    final_state[email] = "withdrawn";
  }
  // Two requests: a subject's changes in separate requests, in order.
  svc.PostBulk(grants);
  svc.PostBulk(withdrawals);
  REQUIRE(svc.WaitDrained({"hook-a", "hook-b"}, 120));
  CheckReceiver("hook-a", *fleet.emulators["hook-a"], final_state, 2);
  CheckReceiver("hook-b", *fleet.emulators["hook-b"], final_state, 2);
  auto st = svc.Systems();
  CHECK(st["hook-c"].first == 400);  // waiting, none dead (max_attempts 1000)
  CHECK(st["hook-c"].second == 0);

  auto revived = EmulatorProcess::StartOnPort("webhook", down_port);
  REQUIRE(revived != nullptr);
  revived->Seed({{"secret", "whsec_test"}});
  REQUIRE(svc.WaitDrained(kSystems, 120));
  CheckReceiver("hook-c", *revived, final_state, 2);
  CHECK(svc.h->Stop() == 0);
}

TEST_CASE("kill -9 while fanning out thousands of changes: after restarts every change is delivered, in order",
          "[integration]") {
  Fleet fleet;
  for (auto& [id, emu] : fleet.emulators) emu->SetFaults({{"latency_ms", 1}});
  Service svc(fleet);
  std::vector<json> grants, withdrawals;
  std::map<std::string, std::string> final_state;
  for (int s = 0; s < 1000; ++s) {
    std::string email = "crash" + std::to_string(s) + "@example.com";
    grants.push_back(Event(email, true, 1700000000));
    withdrawals.push_back(Event(email, false, 1700000001));
    final_state[email] = "withdrawn";
  }
  // Acknowledged: durable, with their outbox rows.
  svc.PostBulk(grants);
  svc.PostBulk(withdrawals);
  for (int round = 0; round < 4; ++round) {
    std::this_thread::sleep_for(std::chrono::milliseconds(700));
    svc.h->Kill();
    REQUIRE(svc.h->Start());
  }
  REQUIRE(svc.WaitDrained(kSystems, 300));
  for (auto& [id, emu] : fleet.emulators) CheckReceiver(id, *emu, final_state, 2);
  CHECK(svc.h->Stop() == 0);
  CommandResult v = Consentctl({"ledger", "verify", "--data-dir", svc.h->data_dir()});
  INFO(v.out << v.err);
  CHECK(v.exit_code == 0);
  // Every delivery has exactly one outcome entry, whatever the crashes repeated.
  CommandResult dead = Consentctl({"dlq", "list", "--data-dir", svc.h->data_dir(), "--state", "done", "--json",
                                   "--limit", "100000"});
  REQUIRE(dead.exit_code == 0);
  CHECK(std::count(dead.out.begin(), dead.out.end(), '\n') == 6000);
}

TEST_CASE("operators pause a system and replay its dead letters through consentctl while consentd runs",
          "[integration]") {
  Fleet fleet;
  fleet.emulators["hook-b"]->SetFaults({{"error_rate", 1.0}, {"error_status", 400}});  // permanent
  Service svc(fleet);
  CommandResult p = Consentctl({"system", "pause", "--data-dir", svc.h->data_dir(), "--system", "hook-a"});
  REQUIRE(p.exit_code == 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // > poll interval
  svc.PostBulk({Event("ops1@example.com", true, 1700000000), Event("ops2@example.com", true, 1700000000)});
  REQUIRE(svc.WaitDrained({"hook-b", "hook-c"}, 60));
  auto st = svc.Systems();
  CHECK(st["hook-a"].first == 2);  // paused: waiting
  CHECK(st["hook-b"].second == 2);  // dead
  CHECK(fleet.emulators["hook-a"]->State()["events"].empty());

  CommandResult list = Consentctl({"dlq", "list", "--data-dir", svc.h->data_dir(), "--system", "hook-b"});
  REQUIRE(list.exit_code == 0);
  CHECK(list.out.find("http_400") != std::string::npos);
  CHECK(list.out.find("ops1@") == std::string::npos);

  fleet.emulators["hook-b"]->SetFaults(json::object());
  CommandResult r = Consentctl({"dlq", "replay", "--data-dir", svc.h->data_dir(), "--all", "--system", "hook-b"});
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("replayed 2") != std::string::npos);
  REQUIRE(Consentctl({"system", "resume", "--data-dir", svc.h->data_dir(), "--system", "hook-a"}).exit_code == 0);
  REQUIRE(svc.WaitDrained(kSystems, 60));
  st = svc.Systems();
  CHECK(st["hook-b"].second == 0);
  CHECK(fleet.emulators["hook-a"]->State()["events"].size() == 2);
  CHECK(fleet.emulators["hook-b"]->State()["events"].size() == 2);
  CHECK(svc.h->Stop() == 0);
}

// GET /v1/admin/systems as {system: its JSON}.
std::map<std::string, json> SystemsJson(Service& svc) {
  std::map<std::string, json> out;
  auto r = svc.h->Client()->Get("/v1/admin/systems", Bearer(svc.admin));
  if (!r || r->status != 200) return out;
  const json body = ParseJson(r->body);
  for (const json& s : body["systems"]) out[s["system"].get<std::string>()] = s;
  return out;
}

TEST_CASE("SIGHUP reloads the policy: a new system gets a lane, a removed system's rows stay pending",
          "[integration]") {
  Fleet fleet;
  fleet.emulators["hook-a"]->SetFaults({{"error_rate", 1.0}, {"error_status", 503}});  // retried: rows stay open
  Service svc(fleet, std::map<std::string, int>{{"hook-a", fleet.ports["hook-a"]}});
  std::vector<json> first;
  for (int i = 0; i < 10; ++i) first.push_back(Event("reload" + std::to_string(i) + "@example.com", true, 1700000000));
  svc.PostBulk(first);
  CHECK(svc.Systems()["hook-a"].first == 10);

  // hook-a leaves the policy, hook-b joins.
  WritePolicy(svc.policy_dir, {{"hook-b", fleet.ports["hook-b"]}});
  REQUIRE(::kill(svc.h->pid(), SIGHUP) == 0);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    auto st = SystemsJson(svc);
    if (st.count("hook-b") && st["hook-b"].value("available", false)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  auto st = SystemsJson(svc);
  REQUIRE(st.count("hook-b"));
  CHECK(st["hook-b"]["available"] == true);
  REQUIRE(st.count("hook-a"));  // listed while it has rows
  CHECK(st["hook-a"]["available"] == false);
  CHECK(st["hook-a"]["unavailable_reason"] == "not in the policy");
  CHECK(st["hook-a"]["queue_depth"] == 10);

  // hook-a would now answer, but its lane is stopped: its rows wait.
  fleet.emulators["hook-a"]->SetFaults(json::object());
  std::vector<json> second;
  for (int i = 0; i < 5; ++i) second.push_back(Event("after" + std::to_string(i) + "@example.com", true, 1700000000));
  svc.PostBulk(second);
  REQUIRE(svc.WaitDrained({"hook-b"}, 60));
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // many poll intervals of a lane, were there one
  CHECK(fleet.emulators["hook-a"]->State()["events"].empty());
  CHECK(svc.Systems()["hook-a"].first == 10);  // the new changes are not routed to it either
  std::map<std::string, std::string> final_state;
  for (int i = 0; i < 5; ++i) final_state["after" + std::to_string(i) + "@example.com"] = "granted";
  CheckReceiver("hook-b", *fleet.emulators["hook-b"], final_state, 1);

  // A policy that does not load changes nothing: consentd keeps running on the current one.
  { std::ofstream(svc.policy_dir.path() + "/policy.json") << "{ not json"; }
  REQUIRE(::kill(svc.h->pid(), SIGHUP) == 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  svc.PostBulk({Event("broken@example.com", true, 1700000000)});
  REQUIRE(svc.WaitDrained({"hook-b"}, 60));
  CHECK(fleet.emulators["hook-b"]->State()["events"].size() == 6);

  // hook-a back in the policy: its waiting rows go out.
  WritePolicy(svc.policy_dir, {{"hook-a", fleet.ports["hook-a"]}, {"hook-b", fleet.ports["hook-b"]}});
  REQUIRE(::kill(svc.h->pid(), SIGHUP) == 0);
  REQUIRE(svc.WaitDrained({"hook-a", "hook-b"}, 60));
  CHECK(fleet.emulators["hook-a"]->State()["events"].size() == 10);
  CHECK(svc.h->Stop() == 0);
}

TEST_CASE("against the Shopify emulator the customer id found by the first delivery is kept and the next one skips the lookup",
          "[integration]") {
  auto shop = EmulatorProcess::Start("shopify");
  REQUIRE(shop != nullptr);
  shop->Seed({{"access_token", "shpat_learn"}, {"customers", {{{"id", "1001"}, {"email", "learn@example.com"}}}}});
  json system = {{"kind", "shopify"},
                 {"base_url", shop->base_url()},
                 {"credentials", {{"access_token", "credentials/shopify/access_token"}}},
                 {"receives", {"email_marketing"}},
                 {"rate_limit", {{"requests_per_second", 200}, {"burst", 20}}},
                 {"concurrency", 2},
                 {"options", {{"shop_domain", "learn-store.myshopify.com"}}}};
  json policy = {{"format", "consentd.policy/v1"},
                 {"purposes",
                  {{"email_marketing", {{"channel", "email"}, {"legal_basis", "consent"}, {"default", "denied"}}}}},
                 {"systems", {{"shopify", system}}}};
  Service svc(policy, {{"credentials/shopify/access_token", "shpat_learn"}});
  auto consent_of = [&] {
    const json state = shop->State();  // alive while iterating
    for (const json& c : state["customers"]) {
      if (c["id"] == "1001") return c["email_marketing_consent"]["state"].get<std::string>();
    }
    return std::string("missing");
  };
  svc.PostBulk({Event("learn@example.com", true, 1700000000)});
  REQUIRE(svc.WaitDrained({"shopify"}, 60));
  CHECK(consent_of() == "subscribed");
  svc.PostBulk({Event("learn@example.com", false, 1700000100)});
  REQUIRE(svc.WaitDrained({"shopify"}, 60));
  CHECK(consent_of() == "unsubscribed");
  const json ops = shop->State()["operations"];
  INFO(ops.dump());
  CHECK(ops.value("customers", 0) == 1);  // one lookup by email for two deliveries
  CHECK(ops.value("customerEmailMarketingConsentUpdate", 0) == 2);
  // The learned id is a linked identifier (kind only in the ledger), never in an outcome.
  CommandResult verify = Consentctl({"ledger", "verify", "--data-dir", svc.h->data_dir()});
  CHECK(verify.exit_code == 0);
  CHECK(svc.h->Stop() == 0);
}

}  // namespace
}  // namespace consentd::propagation
