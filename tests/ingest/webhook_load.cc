// webhook_load: the ingest benchmark's load generator (docs/benchmarks.md
// "Ingest (issue 6)"). Sends signed Shopify consent deliveries
// (customers_email_marketing_consent/update, API 2025-01) from N concurrent
// keep-alive senders to a running consentd, each for a distinct customer,
// and reports accepted deliveries per second and latency percentiles to the
// 2xx. Run by tests/ingest/webhook_bench.sh.
//
//   webhook_load --port P --secret S [--requests 20000] [--senders 32] [--instance shopify-main]
#include <httplib.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "adapters/webhook_common.h"
#include "src/base/bytes.h"
#include "src/base/time_format.h"

int main(int argc, char** argv) {
  CLI::App app{"webhook_load: signed Shopify deliveries against a running consentd"};
  int port = 0, requests = 20000, senders = 32;
  std::string secret, instance = "shopify-main", shop = "example-store.myshopify.com", run = "r";
  app.add_option("--port", port)->required();
  app.add_option("--secret", secret)->required();
  app.add_option("--requests", requests);
  app.add_option("--senders", senders);
  app.add_option("--instance", instance);
  app.add_option("--shop", shop);
  app.add_option("--run", run, "distinguishes runs (webhook ids and customers)");
  std::string api_token;
  app.add_option("--api-token", api_token,
                 "baseline: the same events through POST /v1/consents with this ingest:<instance> token");
  CLI11_PARSE(app, argc, argv);

  using Clock = std::chrono::steady_clock;
  std::atomic<int> next{0}, ok{0}, failed{0};
  std::vector<std::vector<double>> lat(senders);
  std::mutex fail_mu;
  std::map<std::string, int> failures;  // status or transport error -> count
  const int64_t now_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  auto sender = [&](int s) {
    httplib::Client c("127.0.0.1", port);
    c.set_keep_alive(true);
    c.set_tcp_nodelay(true);
    c.set_read_timeout(30, 0);
    for (int i = next.fetch_add(1); i < requests; i = next.fetch_add(1)) {
      std::string customer = std::to_string(1000000 + i);
      std::string body = "{\"customer_id\":" + customer + ",\"email_address\":\"bench-" + run + "-" + customer +
                         "@example.com\",\"email_marketing_consent\":{\"state\":\"" +
                         (i % 2 == 0 ? "subscribed" : "unsubscribed") +
                         "\",\"opt_in_level\":\"single_opt_in\",\"consent_updated_at\":\"" +
                         consentd::FormatTimestampMillis(now_ms - 60000) + "\"}}";
      httplib::Headers h = {
          {"X-Shopify-Topic", "customers_email_marketing_consent/update"},
          {"X-Shopify-Hmac-Sha256", consentd::Base64Encode(consentd::AsBytes(consentd::adapters::HmacSha256(secret, body)))},
          {"X-Shopify-Shop-Domain", shop},
          {"X-Shopify-API-Version", "2025-01"},
          {"X-Shopify-Webhook-Id", run + "-" + std::to_string(i)}};
      std::string path = "/v1/webhooks/shopify/" + instance;
      if (!api_token.empty()) {
        path = "/v1/consents";
        h = {{"Authorization", "Bearer " + api_token}};
        body = "{\"identifiers\":[{\"kind\":\"shopify_customer\",\"value\":\"" + customer + "\",\"qualifier\":\"" +
               shop + "\"},{\"kind\":\"email\",\"value\":\"bench-" + run + "-" + customer +
               "@example.com\"}],\"purpose\":\"email_marketing\",\"decision\":\"" +
               (i % 2 == 0 ? "granted" : "withdrawn") + "\",\"occurred_at\":\"" +
               consentd::FormatTimestampMillis(now_ms - 60000) +
               "\",\"source\":{\"system\":\"" + instance + "\",\"method\":\"webhook\"},\"event_id\":\"" + run + "-" +
               std::to_string(i) + "\"}";
      }
      auto t0 = Clock::now();
      auto r = c.Post(path.c_str(), h, body, "application/json");
      double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
      if (r && (r->status == 200 || r->status == 201)) {
        ++ok;
        lat[s].push_back(ms);
      } else {
        ++failed;
        std::lock_guard<std::mutex> l(fail_mu);
        ++failures[r ? std::to_string(r->status) + ":" + r->body.substr(0, 120) : httplib::to_string(r.error())];
      }
    }
  };
  auto start = Clock::now();
  std::vector<std::thread> threads;
  for (int s = 0; s < senders; ++s) threads.emplace_back(sender, s);
  for (auto& t : threads) t.join();
  double secs = std::chrono::duration<double>(Clock::now() - start).count();
  std::vector<double> all;
  for (auto& v : lat) all.insert(all.end(), v.begin(), v.end());
  std::sort(all.begin(), all.end());
  auto pct = [&](double p) { return all.empty() ? 0.0 : all[std::min(all.size() - 1, size_t(p * all.size()))]; };
  std::printf("mode=%s senders=%d accepted=%d failed=%d seconds=%.2f accepted_per_s=%.0f p50_ms=%.1f p99_ms=%.1f max_ms=%.1f\n",
              api_token.empty() ? "webhook" : "api", senders, ok.load(), failed.load(), secs, ok / secs, pct(0.50), pct(0.99), all.empty() ? 0 : all.back());
  for (const auto& [what, n] : failures) std::printf("# failed %dx: %s\n", n, what.c_str());
  return failed == 0 ? 0 : 1;
}
