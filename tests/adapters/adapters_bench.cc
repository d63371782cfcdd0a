// adapters_bench: the cost of one delivery through the Klaviyo, Mailchimp
// and signed webhook adapters (HttplibTransport, keep-alive) to their
// emulators on 127.0.0.1: per-call latency (p50, p95) and deliveries per
// second, with 1 and with 8 callers sharing one adapter. This is the floor
// under the dispatcher's commit-to-2xx lag (docs/benchmarks.md,
// "Adapters: Klaviyo, Mailchimp, signed webhook"). A program, not a timed
// test; `--quick` is a smoke run that checks every delivery succeeds.
//
//   adapters_bench [--quick] [--n N]
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "adapters/factory.h"
#include "adapters/http_transport.h"
#include "tests/emulators/emulator_process.h"

namespace consentd::adapters {
namespace {

using emulators::EmulatorProcess;
using Clock = std::chrono::steady_clock;

struct Kind {
  std::string kind;
  AdapterSettings settings;
  std::pair<std::string, std::string> credential;
  nlohmann::json seed;
  std::string path;
};

struct Result {
  double p50_ms = 0, p95_ms = 0, per_second = 0;
  int failures = 0;
};

Result Run(Adapter& adapter, int n, int callers) {
  std::vector<std::vector<double>> latencies(callers);
  std::atomic<int> next{0}, failures{0};
  const auto start = Clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < callers; ++t) {
    threads.emplace_back([&, t] {
      for (int i = next++; i < n; i = next++) {
        Request r;
        r.op = Operation::kSetConsent;
        r.purpose = "email_marketing";
        r.channel = "email";
        r.granted = (i / 1000) % 2 == 0;  // each customer flips once per 1000 deliveries
        r.occurred_at_ms = SystemClock::Get().NowMillis();
        r.idempotency_key = "evt_" + std::to_string(i);
        r.customer.email = "user" + std::to_string(i % 1000) + "@example.com";
        const auto t0 = Clock::now();
        Outcome out = adapter.Deliver(r);
        latencies[t].push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
        if (out.cls != OutcomeClass::kDone) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::vector<double> all;
  for (auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  std::sort(all.begin(), all.end());
  Result r;
  r.p50_ms = all[all.size() / 2];
  r.p95_ms = all[std::min(all.size() - 1, all.size() * 95 / 100)];
  r.per_second = n / seconds;
  r.failures = failures;
  return r;
}

int Main(int argc, char** argv) {
  int n = 5000;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) n = 200;
    if (std::strcmp(argv[i], "--n") == 0 && i + 1 < argc) n = std::atoi(argv[++i]);
  }
  KlaviyoSettings klaviyo;
  klaviyo.list_id = "L1";
  MailchimpSettings mailchimp;
  mailchimp.list_id = "L1";
  mailchimp.resubscribe_as_pending = true;  // every customer is re-subscribed after an opt-out
  const std::vector<Kind> kinds = {
      {"klaviyo", klaviyo, {"api_key", "pk_bench"}, {{"api_key", "pk_bench"}, {"job_delay_ms", 50}}, ""},
      {"mailchimp", mailchimp, {"api_key", "bench-us6"}, {{"api_key", "bench-us6"}}, ""},
      {"webhook", SignedWebhookSettings{}, {"signing_secret", "whsec_bench"}, {{"secret", "whsec_bench"}},
       "/hooks"},
  };
  std::printf("%-10s %7s %6s %9s %9s %10s %8s\n", "kind", "callers", "n", "p50_ms", "p95_ms", "per_second",
              "failures");
  int bad = 0;
  for (const Kind& k : kinds) {
    auto emu = EmulatorProcess::Start(k.kind);
    if (!emu) return 1;
    emu->Seed(k.seed);
    AdapterConfig config;
    config.system_id = "bench";
    config.base_url = emu->base_url() + k.path;
    config.credentials = {k.credential};
    config.settings = k.settings;
    auto transport = std::make_shared<HttplibTransport>();
    auto made = MakeAdapter(k.kind, config, transport, SystemClock::Get());
    if (!made.ok()) return 1;
    std::unique_ptr<Adapter> adapter = std::move(made).value();
    Run(*adapter, 200, 8);  // warm-up: 8 keep-alive connections, first profiles
    for (int callers : {1, 8}) {
      Result r = Run(*adapter, n, callers);
      std::printf("%-10s %7d %6d %9.3f %9.3f %10.0f %8d\n", k.kind.c_str(), callers, n, r.p50_ms, r.p95_ms,
                  r.per_second, r.failures);
      std::fflush(stdout);
      bad += r.failures;
    }
    const nlohmann::json stats = emu->Stats();
    std::printf("%-10s emulator: requests %lld, max_in_flight %d, throttled %lld\n", k.kind.c_str(),
                static_cast<long long>(stats.value("requests", 0LL)), stats.value("max_in_flight", 0),
                static_cast<long long>(stats.value("throttled", 0LL)));
  }
  return bad == 0 ? 0 : 1;
}

}  // namespace
}  // namespace consentd::adapters

int main(int argc, char** argv) { return consentd::adapters::Main(argc, argv); }
