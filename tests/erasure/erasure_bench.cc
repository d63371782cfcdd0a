// erasure_bench: N erasure requests through the real consentd to S emulated
// downstream systems, at a given per-system rate limit. Reports the time
// until every request is completed, shredded and certified, and the
// per-request latency (received -> shredded, from the request's own times)
// as median and p95.
//
//   erasure_bench [requests=1000] [systems=6] [rate_per_system=1000] [concurrency=8]
//
// `systems` is a number of signed-webhook receivers (consentd-emulator
// --kind webhook), or "six": the emulators of Shopify, WooCommerce,
// HubSpot, Salesforce, Klaviyo and Mailchimp, each seeded with every
// customer, so that each erasure is a real delete in each system's API.
//
// Results go to docs/benchmarks.md "Erasure (issue 7)".
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include "src/base/time_format.h"
#include "tests/api/service_harness.h"
#include "tests/e2e/six_systems_fleet.h"
#include "tests/emulators/emulator_process.h"

using consentd::emulators::EmulatorProcess;
using consentd::testing::Bearer;
using consentd::testing::ParseJson;
using consentd::testing::ServiceHarness;
using consentd::testing::TempDir;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

double Quantile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size() - 1) + 0.5))];
}

int Run(int requests, int nsystems, double rate, int concurrency) {
  const bool six = nsystems == 0;  // the six system kinds
  std::unique_ptr<consentd::e2e::Fleet> fleet;
  std::vector<std::unique_ptr<EmulatorProcess>> emus;
  json systems = json::object();
  for (int i = 0; i < nsystems; ++i) {
    emus.push_back(EmulatorProcess::Start("webhook"));
    if (!emus.back()) return 3;
    emus.back()->Seed({{"secret", "whsec_test"}});
    systems["sys-" + std::to_string(i)] = {
        {"kind", "webhook"},
        {"base_url", emus.back()->base_url() + "/hooks"},
        {"credentials", {{"signing_secret", "credentials/sys-" + std::to_string(i) + "/signing_secret"}}},
        {"receives", {"email_marketing"}},
        {"rate_limit", {{"requests_per_second", rate}, {"burst", std::max(1, static_cast<int>(rate / 10))}}},
        {"concurrency", 8}};
  }
  auto email_of = [](int i) { return "bench" + std::to_string(i) + "@example.org"; };
  TempDir dir;
  std::string policy_path = dir.path() + "/policy.json";
  if (six) {
    fleet = std::make_unique<consentd::e2e::Fleet>();
    std::vector<std::string> emails;
    for (int i = 0; i < requests; ++i) emails.push_back(email_of(i));
    fleet->SeedCustomers(emails);
    policy_path = consentd::e2e::WritePolicy(dir.path(), *fleet, json::object(), rate,
                                             std::max(1, static_cast<int>(rate / 10)), 8);
    nsystems = static_cast<int>(consentd::e2e::kSystems.size());
  } else {
    json policy = {{"format", "consentd.policy/v1"},
                   {"purposes", {{"email_marketing", {{"channel", "email"}, {"legal_basis", "consent"}, {"default", "denied"}}}}},
                   {"systems", systems},
                   {"jurisdictions", {{"gdpr", {{"response", {{"months", 1}}}, {"extension", {{"months", 2}}}}}}}};
    std::ofstream(policy_path) << policy.dump(2);
  }
  consentd::testing::HarnessOptions o;
  o.config_overrides["policies"] = json::array({policy_path});
  o.config_overrides["propagation"] = {
      {"backoff_base_ms", 20}, {"backoff_cap_ms", 300}, {"poll_interval_ms", 100}, {"confirm_interval_ms", 100}};
  auto h = ServiceHarness::Create(o);
  if (six) {
    consentd::e2e::WriteCredentials(h->key_dir());
  } else {
    for (int i = 0; i < nsystems; ++i) {
      std::filesystem::create_directories(h->key_dir() + "/credentials/sys-" + std::to_string(i));
      std::ofstream(h->key_dir() + "/credentials/sys-" + std::to_string(i) + "/signing_secret") << "whsec_test\n";
    }
  }
  const std::string officer = h->CreateToken("officer", "officer");
  if (!h->Start()) return 3;

  const auto t0 = Clock::now();
  std::vector<std::string> ids(requests);
  std::atomic<int> next{0}, errors{0};
  auto file = [&] {
    auto c = h->Client();
    for (int i = next.fetch_add(1); i < requests; i = next.fetch_add(1)) {
      json body = {{"identifiers", json::array({{{"kind", "email"}, {"value", email_of(i)}}})},
                   {"channel", "email"},
                   {"verified", true}};
      auto r = c->Post("/v1/erasure-requests", Bearer(officer), body.dump(), "application/json");
      if (!r || r->status != 201) {
        ++errors;
        continue;
      }
      ids[i] = ParseJson(r->body)["id"];
    }
  };
  std::vector<std::thread> pool;
  for (int w = 0; w < concurrency; ++w) pool.emplace_back(file);
  for (std::thread& t : pool) t.join();
  const auto filed = Clock::now();

  // Wait for every request to be closed and shredded, then certify each.
  std::vector<double> latency;
  auto c = h->Client();
  for (const std::string& id : ids) {
    if (id.empty()) continue;
    for (;;) {
      auto r = c->Get(("/v1/erasure-requests/" + id).c_str(), Bearer(officer));
      if (r && r->status == 200) {
        json j = ParseJson(r->body);
        if (!j["shredded_at"].get<std::string>().empty()) {
          auto a = consentd::ParseRfc3339(j["received_at"].get<std::string>());
          auto b = consentd::ParseRfc3339(j["shredded_at"].get<std::string>());
          if (a.ok() && b.ok()) latency.push_back(static_cast<double>(*b - *a) / 1000.0);
          break;
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  const auto completed = Clock::now();
  next = 0;
  std::atomic<int> certified{0};
  auto certify = [&] {
    auto cc = h->Client();
    for (int i = next.fetch_add(1); i < requests; i = next.fetch_add(1)) {
      if (ids[i].empty()) continue;
      auto r = cc->Get(("/v1/erasure-requests/" + ids[i] + "/certificate").c_str(), Bearer(officer));
      if (r && r->status == 200) ++certified;
    }
  };
  pool.clear();
  for (int w = 0; w < concurrency; ++w) pool.emplace_back(certify);
  for (std::thread& t : pool) t.join();
  const auto done = Clock::now();
  h->Stop();
  double load[3] = {0, 0, 0};
  if (FILE* f = std::fopen("/proc/loadavg", "r")) {
    if (std::fscanf(f, "%lf %lf %lf", &load[0], &load[1], &load[2]) != 3) load[0] = -1;
    std::fclose(f);
  }
  std::printf(
      "requests=%d systems=%d rate=%.0f/s/system deliveries=%d errors=%d | filing %.2f s | all completed+shredded "
      "%.2f s | all certified %.2f s (%d certificates) | received->shredded median %.2f s p95 %.2f s max %.2f s | "
      "load %.1f\n",
      requests, nsystems, rate, requests * nsystems, errors.load(), Seconds(filed - t0), Seconds(completed - t0),
      Seconds(done - t0), certified.load(), Quantile(latency, 0.5), Quantile(latency, 0.95), Quantile(latency, 1.0),
      load[0]);
  return errors == 0 && certified == requests ? 0 : 1;
}

int g_requests = 1000, g_systems = 6, g_concurrency = 8;
double g_rate = 1000;
int g_rc = 0;

// The harness reports its failures through Catch2, so the run is one test case.
TEST_CASE("erasure bench") { g_rc = Run(g_requests, g_systems, g_rate, g_concurrency); }

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1) g_requests = std::atoi(argv[1]);
  if (argc > 2) g_systems = std::string(argv[2]) == "six" ? 0 : std::atoi(argv[2]);
  if (argc > 3) g_rate = std::atof(argv[3]);
  if (argc > 4) g_concurrency = std::atoi(argv[4]);
  char* args[] = {argv[0]};
  int failed = Catch::Session().run(1, args);
  return failed != 0 ? 3 : g_rc;
}
