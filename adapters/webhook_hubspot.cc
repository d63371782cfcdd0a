#include "adapters/webhook_hubspot.h"

#include <strings.h>

#include "adapters/webhook_common.h"
#include "adapters/webhook_json.h"
#include "src/base/bytes.h"

namespace consentd::adapters {
namespace {

using webhook_json::json;
namespace wj = webhook_json;

constexpr size_t kMaxEvents = 1000;

std::optional<int64_t> ParseMillis(std::string_view s) {
  if (s.empty() || s.size() > 15 || s.find_first_not_of("0123456789") != std::string_view::npos) return std::nullopt;
  return std::stoll(std::string(s));
}

}  // namespace

std::string HubSpotSignatureV3(std::string_view secret, std::string_view method, std::string_view uri,
                               std::string_view body, std::string_view timestamp) {
  std::string source;
  source.reserve(method.size() + uri.size() + body.size() + timestamp.size());
  source.append(method).append(uri).append(body).append(timestamp);
  return Base64Encode(AsBytes(HmacSha256(secret, source)));
}

std::string HubSpotSignatureV1(std::string_view secret, std::string_view body) {
  std::string source(secret);
  source.append(body);
  return HexEncode(AsBytes(Sha256Raw(source)));
}

std::string HubSpotSignatureV2(std::string_view secret, std::string_view method, std::string_view uri,
                               std::string_view body) {
  std::string source(secret);
  source.append(method).append(uri).append(body);
  return HexEncode(AsBytes(Sha256Raw(source)));
}

std::string HubSpotDecodeUri(std::string_view uri) {
  static const struct {
    const char* esc;
    char c;
  } kDecoded[] = {{"3A", ':'}, {"2F", '/'}, {"3F", '?'}, {"40", '@'}, {"21", '!'}, {"24", '$'},
                  {"27", '\''}, {"28", '('}, {"29", ')'}, {"2A", '*'}, {"2C", ','}, {"3B", ';'}};
  std::string out;
  out.reserve(uri.size());
  for (size_t i = 0; i < uri.size(); ++i) {
    if (uri[i] == '%' && i + 2 < uri.size()) {
      bool done = false;
      for (const auto& d : kDecoded) {
        if (strncasecmp(uri.data() + i + 1, d.esc, 2) == 0) {
          out.push_back(d.c);
          i += 2;
          done = true;
          break;
        }
      }
      if (done) continue;
    }
    out.push_back(uri[i]);
  }
  return out;
}

Verdict VerifyHubSpot(const WebhookRequest& request, std::string_view client_secret, int64_t now_ms,
                      const HubSpotVerifyOptions& options) {
  if (client_secret.empty()) return Verdict::Rejected("no_secret_configured");
  if (HasHeader(request.headers, "X-HubSpot-Signature-v3")) {
    std::string ts_text = HeaderValue(request.headers, "X-HubSpot-Request-Timestamp");
    std::optional<int64_t> ts = ParseMillis(ts_text);
    if (!ts) return Verdict::Rejected(ts_text.empty() ? "missing_timestamp" : "malformed_timestamp");
    if (*ts < now_ms - options.window_ms || *ts > now_ms + options.window_ms) {
      return Verdict::Rejected("timestamp_outside_window");
    }
    std::string got = HeaderValue(request.headers, "X-HubSpot-Signature-v3");
    bool ok = false;
    for (const std::string& url : request.urls) {
      for (const std::string& u : {url, HubSpotDecodeUri(url)}) {
        std::string source = request.method;
        source.append(u).append(request.body).append(ts_text);
        ok = Base64MacEquals(got, HmacSha256(client_secret, source)) || ok;
      }
    }
    return ok ? Verdict::Ok() : Verdict::Rejected("bad_signature");
  }
  if (!HasHeader(request.headers, "X-HubSpot-Signature")) return Verdict::Rejected("missing_signature");
  if (!options.accept_v1_v2) return Verdict::Rejected("legacy_signature_not_accepted");
  std::string version = HeaderValue(request.headers, "X-HubSpot-Signature-Version");
  std::string got = HeaderValue(request.headers, "X-HubSpot-Signature");
  bool ok = false;
  if (version == "v1" || version.empty()) {
    std::string source(client_secret);
    source.append(request.body);
    ok = HexMacEquals(got, Sha256Raw(source));
  } else if (version == "v2") {
    for (const std::string& url : request.urls) {
      std::string source(client_secret);
      source.append(request.method).append(url).append(request.body);
      ok = HexMacEquals(got, Sha256Raw(source)) || ok;
    }
  } else {
    return Verdict::Rejected("malformed_signature");
  }
  return ok ? Verdict::Ok() : Verdict::Rejected("bad_signature");
}

Result<WebhookBatch> MapHubSpot(const WebhookRequest& request, const HubSpotMapping& mapping) {
  json body = wj::Parse(request.body);
  if (!body.is_array()) return Status::InvalidArgument("body: not a JSON array of events");
  if (body.size() > kMaxEvents) return Status::InvalidArgument("body: more than 1000 events");
  WebhookBatch batch;
  for (size_t i = 0; i < body.size(); ++i) {
    const json& ev = body[i];
    const std::string ptr = "/" + std::to_string(i);
    if (!ev.is_object()) return Status::InvalidArgument(ptr + ": not an object");
    std::string event_id = DedupeKeyPart(wj::Id(ev, "eventId"));
    if (event_id.empty()) return Status::InvalidArgument(ptr + "/eventId: missing");
    IngestEvent e;
    e.dedupe_key = "ev:" + event_id;
    e.topic = wj::Str(ev, "subscriptionType");
    if (e.topic.size() > 64) return Status::InvalidArgument(ptr + "/subscriptionType: too long");
    if (const json* at = wj::Member(ev, "occurredAt"); at != nullptr && at->is_number_integer()) {
      e.occurred_at_ms = at->get<int64_t>();
    }
    std::string object_id = wj::Id(ev, "objectId");
    if (batch.topic.empty()) batch.topic = e.topic;
    const domain::IdentifierKind contact(domain::IdentifierType::kHubSpotContact);
    if (e.topic == "contact.propertyChange") {
      std::string property = wj::Str(ev, "propertyName");
      std::string value = wj::Str(ev, "propertyValue");
      constexpr std::string_view kOptOut = "hs_email_optout";
      if (property == kOptOut || property.rfind(std::string(kOptOut) + "_", 0) == 0) {
        if (object_id.empty()) return Status::InvalidArgument(ptr + "/objectId: missing");
        if (property == kOptOut) {
          e.channel = "email";
        } else {
          auto it = mapping.subscription_purposes.find(property.substr(kOptOut.size() + 1));
          if (it != mapping.subscription_purposes.end()) e.purpose = it->second;
        }
        if (value != "true" && value != "false") {
          e.note = "not_a_decision";
        } else if (e.channel.empty() && e.purpose.empty()) {
          e.note = "unmapped_subscription";
        } else {
          e.kind = IngestKind::kConsent;
          e.decision = value == "true" ? domain::Decision::kWithdrawn : domain::Decision::kGranted;
          AddIdentifier(&e.identifiers, contact, object_id);
        }
      } else if (property == "email") {
        if (object_id.empty() || value.empty()) {
          e.note = "nothing_to_link";
        } else {
          e.kind = IngestKind::kLink;
          AddIdentifier(&e.identifiers, contact, object_id);
          AddIdentifier(&e.identifiers, domain::IdentifierKind::Email(), value);
        }
      } else {
        e.note = "unmapped_property";
      }
    } else if (e.topic == "contact.privacyDeletion") {
      if (object_id.empty()) return Status::InvalidArgument(ptr + "/objectId: missing");
      e.kind = IngestKind::kErasureRequest;
      e.reference = event_id;
      AddIdentifier(&e.identifiers, contact, object_id);
    } else if (e.topic == "contact.deletion") {
      e.note = "record_deleted";
    } else if (e.topic == "contact.creation") {
      e.note = "no_consent_data";
    } else {
      e.note = "unmapped_topic";
      if (e.topic.empty()) e.topic = "unknown";
    }
    batch.events.push_back(std::move(e));
  }
  return batch;
}

}  // namespace consentd::adapters
