// Echo suppression, in process: the ingest over a Runtime with a recording
// FanOut (what propagation's outbox would write) and a FakeClock. Two
// systems that echo every change they receive back as a webhook settle after
// one round; an echo of an overtaken delivery is dropped when the
// EchoFilter (propagation's seam) recognises it.
#include <catch2/catch.hpp>

#include <mutex>

#include "adapters/webhook_common.h"
#include "adapters/webhook_consentd.h"
#include "adapters/webhook_klaviyo.h"
#include "src/base/bytes.h"
#include "src/base/time_format.h"
#include "src/ingest/webhook_ingest.h"
#include "src/service/runtime.h"
#include "tests/ingest/ingest_harness.h"

namespace consentd::testing {
namespace {

struct Row {
  std::string system;
  service::Change change;
};

// One outbox row per system that receives the purpose, never the origin:
// the FanOut contract (src/service/fan_out.h).
class RecordingFanOut final : public service::FanOut {
 public:
  explicit RecordingFanOut(std::shared_ptr<const policies::PolicySet> policy) : policy_(std::move(policy)) {}
  Status Enqueue(sqlite3*, const service::Change& change) override {
    std::lock_guard<std::mutex> l(mu_);
    for (const auto& [id, s] : policy_->systems) {
      if (id != change.origin_system && s.Receives(change.purpose)) rows_.push_back({id, change});
    }
    return Status::Ok();
  }
  std::vector<Row> rows() {
    std::lock_guard<std::mutex> l(mu_);
    return rows_;
  }

 private:
  std::shared_ptr<const policies::PolicySet> policy_;
  std::mutex mu_;
  std::vector<Row> rows_;
};

// Propagation's view for the test: the last change delivered to each system
// and whether a newer one is still pending.
class FakeEchoFilter final : public ingest::EchoFilter {
 public:
  void Delivered(const std::string& system, domain::Decision d) { delivered_[system] = d; }
  void Pending(const std::string& system, bool p) { pending_[system] = p; }
  Result<bool> IsEcho(const std::string& system, const domain::Sid&, const std::string&, domain::Decision d) override {
    auto it = delivered_.find(system);
    return it != delivered_.end() && it->second == d && pending_[system];
  }

 private:
  std::map<std::string, domain::Decision> delivered_;
  std::map<std::string, bool> pending_;
};

struct InProcess {
  std::unique_ptr<IngestHarness> h = IngestHarness::Prepare();
  FakeClock clock{1717430400000};  // 2024-06-03T16:00:00Z
  std::unique_ptr<service::Runtime> rt;
  std::unique_ptr<RecordingFanOut> fan;
  std::unique_ptr<ingest::WebhookIngest> ingest;

  explicit InProcess(ingest::EchoFilter* echo = nullptr, bool with_erasure = true) {
    Result<service::Config> config = service::Config::Load(h->service().config_path());
    REQUIRE(config.ok());
    service::RuntimeOptions ro;
    ro.clock = &clock;
    Result<std::unique_ptr<service::Runtime>> r = service::Runtime::Open(*config, ro);
    REQUIRE(r.ok());
    rt = std::move(*r);
    fan = std::make_unique<RecordingFanOut>(rt->policy());
    rt->consents().SetFanOut(fan.get());
    std::vector<std::string> warnings;
    Result<std::unique_ptr<ingest::WebhookIngest>> i =
        ingest::WebhookIngest::Open(*rt, ingest::IngestOptions{}, with_erasure ? &rt->erasure() : nullptr, echo,
                                    &warnings);
    REQUIRE(i.ok());
    ingest = std::move(*i);
  }

  // Shopify reports the email consent of customer 42 (API 2025-01 topic).
  ingest::IngestReply ShopifyReports(bool subscribed, int64_t at_ms, const std::string& id) {
    body_ = "{\"customer_id\":42,\"email_address\":\"loop@example.com\",\"email_marketing_consent\":{\"state\":\"" +
            std::string(subscribed ? "subscribed" : "unsubscribed") + "\",\"opt_in_level\":\"single_opt_in\","
            "\"consent_updated_at\":\"" + FormatTimestampMillis(at_ms) + "\"}}";
    adapters::WebhookRequest w;
    w.body = body_;
    w.headers.emplace("X-Shopify-Topic", "customers_email_marketing_consent/update");
    w.headers.emplace("X-Shopify-Webhook-Id", id);
    w.headers.emplace("X-Shopify-API-Version", "2025-01");
    w.headers.emplace("X-Shopify-Hmac-Sha256", Base64Encode(AsBytes(adapters::HmacSha256(kShopifySecret, body_))));
    return ingest->Handle("shopify", "shopify-main", w);
  }
  // Klaviyo reports the same person's email subscription.
  ingest::IngestReply KlaviyoReports(bool subscribed, int64_t at_ms, const std::string& id) {
    body_ = "{\"data\":[{\"topic\":\"event:klaviyo." +
            std::string(subscribed ? "subscribed_to_email_marketing" : "unsubscribed_from_email_marketing") +
            "\",\"payload\":{\"id\":\"" + id + "\",\"email\":\"loop@example.com\",\"timestamp\":\"" +
            FormatTimestampMillis(at_ms) + "\"}}],\"meta\":{}}";
    adapters::WebhookRequest w;
    w.body = body_;
    std::string ts = FormatTimestampMillis(clock.NowMillis());
    w.headers.emplace("Klaviyo-Timestamp", ts);
    w.headers.emplace("Klaviyo-Signature", adapters::KlaviyoSignature(kKlaviyoSecret, body_, ts));
    return ingest->Handle("klaviyo", "klaviyo", w);
  }
  // Delivers the rows for `system` added since `from` by echoing them back
  // as that system's webhook, a second after the change; returns how many.
  size_t EchoRound(size_t from, int* serial) {
    std::vector<Row> rows = fan->rows();
    size_t echoed = 0;
    for (size_t i = from; i < rows.size(); ++i) {
      const Row& row = rows[i];
      bool granted = row.change.decision == domain::Decision::kGranted;
      clock.Advance(1000);
      std::string id = "echo-" + std::to_string(++*serial);
      if (row.system == "shopify-main") {
        REQUIRE(ShopifyReports(granted, clock.NowMillis(), id).status == 200);
        ++echoed;
      } else if (row.system == "klaviyo") {
        REQUIRE(KlaviyoReports(granted, clock.NowMillis(), id).status == 200);
        ++echoed;
      }
    }
    return echoed;
  }

 private:
  std::string body_;
};

std::string FirstOutcome(const ingest::IngestReply& r) {
  nlohmann::json j = nlohmann::json::parse(r.json, nullptr, false);
  if (!j.is_object() || !j.contains("events") || j["events"].empty()) return "none";
  return j["events"][0].value("outcome", "none");
}

TEST_CASE("Two systems that echo every change back settle after one round", "[ingest][echo]") {
  InProcess p;
  int serial = 0;
  // Klaviyo reports a subscription: every other system that receives the
  // purpose gets a row, Klaviyo none.
  ingest::IngestReply r = p.KlaviyoReports(true, p.clock.NowMillis() - 60000, "k-1");
  REQUIRE(r.status == 200);
  CHECK(FirstOutcome(r) == "apply");
  std::vector<Row> rows = p.fan->rows();
  REQUIRE(!rows.empty());
  for (const Row& row : rows) {
    CHECK(row.system != "klaviyo");
    CHECK(row.change.origin_system == "klaviyo");
  }
  // Shopify echoes it (with its own, newer time): no change, no new rows.
  size_t before = rows.size();
  CHECK(p.EchoRound(0, &serial) == 1);
  CHECK(p.fan->rows().size() == before);

  // Shopify withdraws; Klaviyo hears of it and echoes it back: settled.
  p.clock.Advance(60000);
  r = p.ShopifyReports(false, p.clock.NowMillis(), "s-1");
  CHECK(FirstOutcome(r) == "apply");
  size_t after_withdrawal = p.fan->rows().size();
  CHECK(after_withdrawal > before);
  CHECK(p.EchoRound(before, &serial) == 1);
  CHECK(p.fan->rows().size() == after_withdrawal);
  // A second echo round has nothing to echo.
  CHECK(p.EchoRound(after_withdrawal, &serial) == 0);
}

TEST_CASE("An echo of an overtaken delivery flips the state without the echo filter, and is dropped with it",
          "[ingest][echo]") {
  for (bool with_filter : {false, true}) {
    FakeEchoFilter filter;
    InProcess p(with_filter ? &filter : nullptr);
    REQUIRE(FirstOutcome(p.KlaviyoReports(true, p.clock.NowMillis() - 60000, "k-1")) == "apply");
    filter.Delivered("shopify-main", domain::Decision::kGranted);  // the grant reached Shopify
    p.clock.Advance(1000);
    REQUIRE(FirstOutcome(p.KlaviyoReports(false, p.clock.NowMillis(), "k-2")) == "apply");
    filter.Pending("shopify-main", true);  // the withdrawal is still on its way to Shopify
    size_t rows = p.fan->rows().size();
    // Shopify's late echo of the grant, stamped with Shopify's own newer time.
    p.clock.Advance(1000);
    std::string outcome = FirstOutcome(p.ShopifyReports(true, p.clock.NowMillis(), "late-echo"));
    if (with_filter) {
      CHECK(outcome == "echo");
      CHECK(p.fan->rows().size() == rows);
    } else {
      CHECK(outcome == "apply");  // the hazard the filter exists for
      CHECK(p.fan->rows().size() > rows);
    }
  }
}

TEST_CASE("Without an erasure intake, a delivery with an erasure request answers 503 and records nothing",
          "[ingest]") {
  InProcess p(nullptr, /*with_erasure=*/false);
  const uint64_t size = p.rt->ledger().Size();
  std::string body = "{\"events\":[{\"id\":\"e1\",\"type\":\"consent.updated\",\"occurred_at\":\"2024-06-01T00:00:00Z\","
                     "\"identifiers\":[{\"kind\":\"email\",\"value\":\"x@example.com\"}],\"purpose\":\"email_marketing\","
                     "\"decision\":\"granted\"},{\"id\":\"e2\",\"type\":\"erasure.requested\",\"occurred_at\":"
                     "\"2024-06-01T00:00:00Z\",\"identifiers\":[{\"kind\":\"email\",\"value\":\"x@example.com\"}]}]}";
  adapters::WebhookRequest w;
  w.body = body;
  w.headers.emplace("X-Consentd-Signature", adapters::SignConsentdWebhook(kCustomSecret, p.clock.NowMillis() / 1000, body));
  ingest::IngestReply r = p.ingest->Handle("webhook", "custom", w);
  CHECK(r.status == 503);
  REQUIRE(r.problem);
  CHECK(r.problem->detail == "erasure intake unavailable");
  CHECK(p.rt->ledger().Size() == size);
  CHECK(p.fan->rows().empty());
}

}  // namespace
}  // namespace consentd::testing
