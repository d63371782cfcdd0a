#include "adapters/webhook_klaviyo.h"

#include "adapters/webhook_common.h"
#include "adapters/webhook_json.h"
#include "src/base/bytes.h"

namespace consentd::adapters {
namespace {

using webhook_json::json;
namespace wj = webhook_json;

constexpr size_t kMaxItems = 1000;

// Epoch seconds or milliseconds (by magnitude) or RFC 3339.
std::optional<int64_t> ParseKlaviyoTime(std::string_view s) {
  if (s.empty() || s.size() > 40) return std::nullopt;
  if (s.find_first_not_of("0123456789") == std::string_view::npos) {
    if (s.size() > 15) return std::nullopt;
    int64_t v = std::stoll(std::string(s));
    return v < 100000000000LL ? v * 1000 : v;
  }
  Result<int64_t> t = ParseSystemTime(s);
  if (!t.ok()) return std::nullopt;
  return *t;
}

std::string FirstString(std::initializer_list<std::string> values) {
  for (const std::string& v : values) {
    if (!v.empty()) return v;
  }
  return std::string();
}

}  // namespace

std::string KlaviyoSignature(std::string_view secret, std::string_view body, std::string_view timestamp,
                             std::string_view encoding) {
  std::string msg(body);
  msg.append(timestamp);
  std::string mac = HmacSha256(secret, msg);
  return encoding == "base64" ? Base64Encode(AsBytes(mac)) : HexEncode(AsBytes(mac));
}

Verdict VerifyKlaviyo(const WebhookRequest& request, std::string_view secret, int64_t now_ms,
                      const KlaviyoWebhookOptions& options) {
  if (secret.empty()) return Verdict::Rejected("no_secret_configured");
  if (!HasHeader(request.headers, options.signature_header)) return Verdict::Rejected("missing_signature");
  std::string ts = HeaderValue(request.headers, options.timestamp_header);
  if (ts.empty()) return Verdict::Rejected("missing_timestamp");
  std::optional<int64_t> t = ParseKlaviyoTime(ts);
  if (!t) return Verdict::Rejected("malformed_timestamp");
  if (options.window_ms > 0 && (*t < now_ms - options.window_ms || *t > now_ms + options.window_ms)) {
    return Verdict::Rejected("timestamp_outside_window");
  }
  std::string msg(request.body);
  msg.append(ts);
  std::string mac = HmacSha256(secret, msg);
  std::string got = HeaderValue(request.headers, options.signature_header);
  bool ok = options.encoding == "base64" ? Base64MacEquals(got, mac) : HexMacEquals(got, mac);
  return ok ? Verdict::Ok() : Verdict::Rejected("bad_signature");
}

Result<WebhookBatch> MapKlaviyo(const WebhookRequest& request) {
  json body = wj::Parse(request.body);
  if (!body.is_object()) return Status::InvalidArgument("body: not a JSON object");
  const json* data = wj::Member(body, "data");
  if (data == nullptr || !data->is_array()) return Status::InvalidArgument("/data: missing or not an array");
  if (data->size() > kMaxItems) return Status::InvalidArgument("/data: more than 1000 items");
  const json* meta = wj::Obj(body, "meta");
  std::optional<int64_t> meta_time = meta != nullptr ? ParseKlaviyoTime(wj::Str(*meta, "timestamp")) : std::nullopt;
  const std::string digest = BodyDigestKey(request.body);
  WebhookBatch batch;
  for (size_t i = 0; i < data->size(); ++i) {
    const json& item = (*data)[i];
    const std::string ptr = "/data/" + std::to_string(i);
    if (!item.is_object()) return Status::InvalidArgument(ptr + ": not an object");
    std::string topic = wj::Str(item, "topic");
    if (topic.empty() || topic.size() > 100) return Status::InvalidArgument(ptr + "/topic: missing");
    static const json kEmpty = json::object();
    const json* payload = wj::Obj(item, "payload");
    const json& p = payload != nullptr ? *payload : kEmpty;
    const json* profile = wj::Obj(p, "profile");
    const json& pr = profile != nullptr ? *profile : kEmpty;
    const json* attrs = wj::Obj(pr, "attributes");
    const json& at = attrs != nullptr ? *attrs : kEmpty;

    IngestEvent e;
    e.topic = topic;
    if (batch.topic.empty()) batch.topic = topic;
    std::string id = DedupeKeyPart(FirstString({wj::Id(p, "id"), wj::Id(p, "event_id"), wj::Id(item, "id")}));
    e.dedupe_key = id.empty() ? digest + "#" + std::to_string(i) : "ev:" + id;
    std::optional<int64_t> t = ParseKlaviyoTime(FirstString({wj::Str(p, "timestamp"), wj::Str(p, "datetime")}));
    if (!t && p.is_object()) {
      if (const json* ts = wj::Member(p, "timestamp"); ts != nullptr && ts->is_number_integer()) {
        t = ParseKlaviyoTime(std::to_string(ts->get<int64_t>()));
      }
    }
    e.occurred_at_ms = t ? *t : meta_time.value_or(0);
    AddIdentifier(&e.identifiers, domain::IdentifierKind(domain::IdentifierType::kKlaviyoProfile),
                  FirstString({wj::Id(p, "profile_id"), wj::Id(pr, "id")}));
    AddIdentifier(&e.identifiers, domain::IdentifierKind::Email(),
                  FirstString({wj::Str(p, "email"), wj::Str(pr, "email"), wj::Str(at, "email")}));
    AddIdentifier(&e.identifiers, domain::IdentifierKind::Phone(),
                  FirstString({wj::Str(p, "phone_number"), wj::Str(pr, "phone_number"), wj::Str(at, "phone_number")}));

    constexpr std::string_view kPrefix = "event:klaviyo.";
    std::string name = topic.rfind(std::string(kPrefix), 0) == 0 ? topic.substr(kPrefix.size()) : topic;
    auto consent = [&](const char* channel, domain::Decision d) {
      e.kind = IngestKind::kConsent;
      e.channel = channel;
      e.decision = d;
    };
    if (name == "subscribed_to_email_marketing" || name == "subscribed_to_list") {
      consent("email", domain::Decision::kGranted);
    } else if (name == "unsubscribed_from_email_marketing" || name == "unsubscribed_from_list" ||
               name == "unsubscribed") {
      consent("email", domain::Decision::kWithdrawn);
    } else if (name == "marked_email_as_spam") {
      consent("email", domain::Decision::kWithdrawn);
      e.method = domain::ConsentMethod::kSpamComplaint;
    } else if (name == "subscribed_to_sms_marketing") {
      consent("sms", domain::Decision::kGranted);
    } else if (name == "unsubscribed_from_sms_marketing") {
      consent("sms", domain::Decision::kWithdrawn);
    } else if (name == "updated_email_address" || name == "updated_profile") {
      e.kind = e.identifiers.size() >= 2 ? IngestKind::kLink : IngestKind::kIgnored;
      if (e.kind == IngestKind::kIgnored) e.note = "nothing_to_link";
    } else if (name == "bounced_email" || name == "dropped_email") {
      e.note = "bounce_is_not_a_decision";
    } else {
      e.note = "unmapped_topic";
    }
    if (e.kind == IngestKind::kConsent && e.identifiers.empty()) {
      return Status::InvalidArgument(ptr + "/payload: no profile id, email or phone");
    }
    if (e.kind == IngestKind::kIgnored) e.identifiers.clear();
    batch.events.push_back(std::move(e));
  }
  if (batch.topic.empty()) batch.topic = "empty";
  return batch;
}

}  // namespace consentd::adapters
