#include "adapters/webhook_woocommerce.h"

#include <optional>

#include "adapters/webhook_common.h"
#include "adapters/webhook_json.h"

namespace consentd::adapters {
namespace {

using webhook_json::json;
namespace wj = webhook_json;

bool IsPing(const WebhookRequest& request) {
  constexpr std::string_view kPrefix = "webhook_id=";
  std::string_view b = request.body;
  if (b.size() <= kPrefix.size() || b.size() > kPrefix.size() + 20 || b.substr(0, kPrefix.size()) != kPrefix) {
    return false;
  }
  return b.substr(kPrefix.size()).find_first_not_of("0123456789") == std::string_view::npos;
}

// nullopt when the value is not a decision.
std::optional<domain::Decision> DecisionOf(const json& v) {
  if (v.is_boolean()) return v.get<bool>() ? domain::Decision::kGranted : domain::Decision::kWithdrawn;
  if (v.is_number_integer()) {
    int64_t n = v.get<int64_t>();
    if (n == 1) return domain::Decision::kGranted;
    if (n == 0) return domain::Decision::kWithdrawn;
    return std::nullopt;
  }
  if (!v.is_string()) return std::nullopt;
  std::string s = v.get<std::string>();
  if (s == "granted" || s == "yes" || s == "true" || s == "1" || s == "subscribed") return domain::Decision::kGranted;
  if (s == "withdrawn" || s == "no" || s == "false" || s == "0" || s == "unsubscribed") {
    return domain::Decision::kWithdrawn;
  }
  return std::nullopt;
}

const json* MetaValue(const json& body, const std::string& key) {
  const json* meta = wj::Member(body, "meta_data");
  if (meta == nullptr || !meta->is_array()) return nullptr;
  for (const json& m : *meta) {
    if (wj::Str(m, "key") == key) return wj::Member(m, "value");
  }
  return nullptr;
}

}  // namespace

Verdict VerifyWooCommerce(const WebhookRequest& request, std::string_view secret) {
  if (!HasHeader(request.headers, "X-WC-Webhook-Signature")) {
    return IsPing(request) ? Verdict::Ping() : Verdict::Rejected("missing_signature");
  }
  if (secret.empty()) return Verdict::Rejected("no_secret_configured");
  bool ok = Base64MacEquals(HeaderValue(request.headers, "X-WC-Webhook-Signature"), HmacSha256(secret, request.body));
  return ok ? Verdict::Ok() : Verdict::Rejected("bad_signature");
}

Result<WebhookBatch> MapWooCommerce(const WebhookRequest& request, const WooCommerceMapping& mapping) {
  WebhookBatch batch;
  batch.topic = HeaderValue(request.headers, "X-WC-Webhook-Topic");
  if (batch.topic.empty() || batch.topic.size() > 100) return Status::InvalidArgument("X-WC-Webhook-Topic: missing");
  std::string delivery = DedupeKeyPart(HeaderValue(request.headers, "X-WC-Webhook-Delivery-ID"));
  if (delivery.empty()) return Status::InvalidArgument("X-WC-Webhook-Delivery-ID: missing");
  json body = wj::Parse(request.body);
  if (!body.is_object()) return Status::InvalidArgument("body: not a JSON object");
  const std::string key = "dl:" + delivery;
  auto add = [&](IngestEvent e, const std::string& suffix) {
    e.dedupe_key = suffix.empty() ? key : key + "#" + suffix;
    e.topic = batch.topic;
    batch.events.push_back(std::move(e));
  };

  if (batch.topic == "customer.created" || batch.topic == "customer.updated") {
    std::string site = mapping.site.empty() ? HeaderValue(request.headers, "X-WC-Webhook-Source") : mapping.site;
    std::vector<domain::Identifier> ids;
    std::string id = wj::Id(body, "id");
    if (id.empty()) return Status::InvalidArgument("/id: missing");
    if (!site.empty()) {
      AddIdentifier(&ids, domain::IdentifierKind(domain::IdentifierType::kWooCommerceCustomer), id, site);
    }
    AddIdentifier(&ids, domain::IdentifierKind::Email(), wj::Str(body, "email"));
    if (const json* billing = wj::Obj(body, "billing")) {
      AddIdentifier(&ids, domain::IdentifierKind::Phone(), wj::Str(*billing, "phone"));
    }
    if (ids.empty()) return Status::InvalidArgument("/id: no usable identifier");
    int64_t modified = 0;
    for (const char* field : {"date_modified_gmt", "date_created_gmt"}) {
      Result<int64_t> t = ParseSystemTime(wj::Str(body, field));
      if (t.ok()) {
        modified = *t;
        break;
      }
    }
    for (const auto& [purpose, meta_key] : mapping.meta_keys) {
      const json* v = MetaValue(body, meta_key);
      if (v == nullptr) continue;
      std::optional<domain::Decision> d = DecisionOf(*v);
      if (!d) continue;
      IngestEvent e;
      e.kind = IngestKind::kConsent;
      e.purpose = purpose;
      e.decision = *d;
      e.identifiers = ids;
      e.occurred_at_ms = modified;
      if (const json* at = MetaValue(body, meta_key + "_at"); at != nullptr && at->is_string()) {
        Result<int64_t> t = ParseSystemTime(at->get<std::string>());
        if (t.ok()) e.occurred_at_ms = *t;
      }
      add(std::move(e), purpose);
    }
    if (batch.events.empty()) {
      IngestEvent e;
      if (ids.size() >= 2) {
        e.kind = IngestKind::kLink;
        e.identifiers = std::move(ids);
        e.occurred_at_ms = modified;
      } else {
        e.note = "nothing_to_link";
      }
      add(std::move(e), "");
    }
  } else {
    IngestEvent e;
    e.note = batch.topic == "customer.deleted" ? "record_deleted" : "unmapped_topic";
    add(std::move(e), "");
  }
  return batch;
}

}  // namespace consentd::adapters
