#include "adapters/webhook_shopify.h"

#include <strings.h>

#include "adapters/webhook_common.h"
#include "adapters/webhook_json.h"

namespace consentd::adapters {
namespace {

using webhook_json::json;
namespace wj = webhook_json;

constexpr std::string_view kConsentRemovedFrom = "2025-01";

std::vector<domain::Identifier> CustomerIds(const json& c, const std::string& shop) {
  std::vector<domain::Identifier> ids;
  std::string id = wj::Id(c, "id");
  if (id.empty()) id = wj::Id(c, "customer_id");
  AddIdentifier(&ids, domain::IdentifierKind(domain::IdentifierType::kShopifyCustomer), id, shop);
  std::string email = wj::Str(c, "email");
  if (email.empty()) email = wj::Str(c, "email_address");
  AddIdentifier(&ids, domain::IdentifierKind::Email(), email);
  std::string phone = wj::Str(c, "phone");
  if (phone.empty()) phone = wj::Str(c, "phone_number");
  AddIdentifier(&ids, domain::IdentifierKind::Phone(), phone);
  return ids;
}

// The event for one consent object ({"state", "opt_in_level",
// "consent_updated_at"}); kIgnored for states that are not a decision.
IngestEvent ConsentEvent(const json& consent, std::string channel, int64_t fallback_time) {
  IngestEvent e;
  e.kind = IngestKind::kConsent;
  e.channel = std::move(channel);
  std::string state = wj::Str(consent, "state");
  std::string updated = wj::Str(consent, "consent_updated_at");
  e.occurred_at_ms = fallback_time;
  if (!updated.empty()) {
    Result<int64_t> t = ParseSystemTime(updated);
    if (t.ok()) e.occurred_at_ms = *t;
  }
  if (state == "subscribed") {
    e.decision = domain::Decision::kGranted;
    if (wj::Str(consent, "opt_in_level") == "confirmed_opt_in") e.method = domain::ConsentMethod::kDoubleOptIn;
  } else if (state == "unsubscribed" || (state == "not_subscribed" && !updated.empty())) {
    // not_subscribed with a change time: the merchant or customer turned it
    // off; without one the customer never decided.
    e.decision = domain::Decision::kWithdrawn;
  } else {
    e.kind = IngestKind::kIgnored;
    e.note = state == "pending" ? "pending_double_opt_in" : state.empty() ? "no_consent_state" : "state_" + state;
    if (e.note.size() > 40 || e.note.find_first_not_of("abcdefghijklmnopqrstuvwxyz_") != std::string::npos) {
      e.note = "unknown_state";
    }
  }
  return e;
}

}  // namespace

Verdict VerifyShopify(const WebhookRequest& request, const ShopifyWebhookSecrets& secrets, int64_t now_ms) {
  if (secrets.current.empty()) return Verdict::Rejected("no_secret_configured");
  if (!HasHeader(request.headers, "X-Shopify-Hmac-Sha256")) return Verdict::Rejected("missing_signature");
  std::string got = HeaderValue(request.headers, "X-Shopify-Hmac-Sha256");
  bool ok = Base64MacEquals(got, HmacSha256(secrets.current, request.body));
  if (!secrets.previous.empty()) {
    bool old_ok = Base64MacEquals(got, HmacSha256(secrets.previous, request.body));
    ok = ok || (old_ok && now_ms < secrets.previous_valid_until_ms);
  }
  return ok ? Verdict::Ok() : Verdict::Rejected("bad_signature");
}

Result<WebhookBatch> MapShopify(const WebhookRequest& request, const ShopifyMapping& mapping) {
  WebhookBatch batch;
  batch.topic = HeaderValue(request.headers, "X-Shopify-Topic");
  if (batch.topic.empty() || batch.topic.size() > 100) return Status::InvalidArgument("X-Shopify-Topic: missing");
  std::string webhook_id = DedupeKeyPart(HeaderValue(request.headers, "X-Shopify-Webhook-Id"));
  if (webhook_id.empty()) return Status::InvalidArgument("X-Shopify-Webhook-Id: missing");
  std::string shop = HeaderValue(request.headers, "X-Shopify-Shop-Domain");
  if (!shop.empty() && strcasecmp(shop.c_str(), mapping.shop_domain.c_str()) != 0) {
    return Status::InvalidArgument("X-Shopify-Shop-Domain: not this instance's shop");
  }
  int64_t triggered = 0;
  std::string triggered_text = HeaderValue(request.headers, "X-Shopify-Triggered-At");
  if (!triggered_text.empty()) {
    Result<int64_t> t = ParseSystemTime(triggered_text);
    if (!t.ok()) return Status::InvalidArgument("X-Shopify-Triggered-At: not an ISO 8601 time");
    triggered = *t;
  }
  const std::string version = HeaderValue(request.headers, "X-Shopify-API-Version");
  json body = wj::Parse(request.body);
  if (!body.is_object()) return Status::InvalidArgument("body: not a JSON object");

  const std::string key = "wh:" + webhook_id;
  const std::string& topic = batch.topic;
  auto add = [&](IngestEvent e, std::string suffix) {
    e.dedupe_key = suffix.empty() ? key : key + "#" + suffix;
    e.topic = topic;
    if (e.occurred_at_ms == 0) e.occurred_at_ms = triggered;
    batch.events.push_back(std::move(e));
  };
  auto ignored = [&](std::string note) {
    IngestEvent e;
    e.note = std::move(note);
    add(std::move(e), "");
  };

  if (topic == "customers/create" || topic == "customers/update") {
    std::vector<domain::Identifier> ids = CustomerIds(body, mapping.shop_domain);
    if (ids.empty()) return Status::InvalidArgument("/id: missing");
    int64_t fallback = triggered;
    if (fallback == 0) {
      Result<int64_t> t = ParseSystemTime(wj::Str(body, "updated_at"));
      if (t.ok()) fallback = *t;
    }
    bool consent_in_payload = version.empty() || version < kConsentRemovedFrom;
    size_t before = batch.events.size();
    if (consent_in_payload) {
      if (const json* c = wj::Obj(body, "email_marketing_consent")) {
        IngestEvent e = ConsentEvent(*c, "email", fallback);
        e.identifiers = ids;
        add(std::move(e), "email");
      } else if (const json* am = wj::Member(body, "accepts_marketing"); am != nullptr && am->is_boolean()) {
        IngestEvent e;
        e.kind = IngestKind::kConsent;
        e.channel = "email";
        e.decision = am->get<bool>() ? domain::Decision::kGranted : domain::Decision::kWithdrawn;
        Result<int64_t> t = ParseSystemTime(wj::Str(body, "accepts_marketing_updated_at"));
        e.occurred_at_ms = t.ok() ? *t : fallback;
        e.identifiers = ids;
        add(std::move(e), "email");
      }
      if (const json* c = wj::Obj(body, "sms_marketing_consent")) {
        IngestEvent e = ConsentEvent(*c, "sms", fallback);
        e.identifiers = ids;
        add(std::move(e), "sms");
      }
    }
    if (batch.events.size() == before) {
      IngestEvent e;
      if (ids.size() >= 2) {
        e.kind = IngestKind::kLink;
        e.identifiers = std::move(ids);
      } else {
        e.note = "nothing_to_link";
      }
      add(std::move(e), "");
    }
  } else if (topic == mapping.email_consent_topic || topic == mapping.sms_consent_topic) {
    const bool email = topic == mapping.email_consent_topic;
    std::vector<domain::Identifier> ids = CustomerIds(body, mapping.shop_domain);
    if (ids.empty()) return Status::InvalidArgument("/customer_id: missing");
    const json* c = wj::Obj(body, email ? "email_marketing_consent" : "sms_marketing_consent");
    if (c == nullptr) {
      return Status::InvalidArgument(email ? "/email_marketing_consent: missing" : "/sms_marketing_consent: missing");
    }
    IngestEvent e = ConsentEvent(*c, email ? "email" : "sms", triggered);
    e.identifiers = std::move(ids);
    add(std::move(e), "");
  } else if (topic == "customers/redact" || topic == "customers/data_request") {
    const json* c = wj::Obj(body, "customer");
    if (c == nullptr) return Status::InvalidArgument("/customer: missing");
    IngestEvent e;
    e.identifiers = CustomerIds(*c, mapping.shop_domain);
    if (e.identifiers.empty()) return Status::InvalidArgument("/customer: no id, email or phone");
    if (topic == "customers/redact") {
      e.kind = IngestKind::kErasureRequest;
      e.reference = webhook_id;
    } else {
      e.kind = IngestKind::kAccessRequest;
      const json* dr = wj::Obj(body, "data_request");
      e.reference = DedupeKeyPart(dr != nullptr ? wj::Id(*dr, "id") : std::string());
    }
    add(std::move(e), "");
  } else if (topic == "shop/redact") {
    IngestEvent e;
    e.kind = IngestKind::kShopRedact;
    e.reference = DedupeKeyPart(wj::Id(body, "shop_id"));
    if (e.reference.empty()) return Status::InvalidArgument("/shop_id: missing");
    add(std::move(e), "");
  } else if (topic == "customers/delete") {
    ignored("record_deleted");
  } else {
    ignored("unmapped_topic");
  }
  return batch;
}

}  // namespace consentd::adapters
