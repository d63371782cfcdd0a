#include "adapters/webhook_consentd.h"

#include "adapters/webhook_common.h"
#include "adapters/webhook_json.h"
#include "src/base/bytes.h"

namespace consentd::adapters {
namespace {

using webhook_json::json;
namespace wj = webhook_json;

constexpr size_t kMaxEvents = 1000;
constexpr size_t kMaxSignatures = 4;

Status MapOne(const json& ev, const std::string& ptr, IngestEvent* e) {
  if (!ev.is_object()) return Status::InvalidArgument(ptr + ": not an object");
  std::string id = wj::Str(ev, "id");
  if (id.empty() || id.size() > 100 || DedupeKeyPart(id) != id) {
    return Status::InvalidArgument(ptr + "/id: 1..100 printable characters required");
  }
  e->dedupe_key = "ev:" + id;
  e->topic = wj::Str(ev, "type");
  std::string at = wj::Str(ev, "occurred_at");
  if (at.empty()) return Status::InvalidArgument(ptr + "/occurred_at: missing");
  Result<int64_t> t = ParseSystemTime(at);
  if (!t.ok()) return Status::InvalidArgument(ptr + "/occurred_at: not an RFC 3339 time");
  e->occurred_at_ms = *t;
  const json* ids = wj::Member(ev, "identifiers");
  if (ids == nullptr || !ids->is_array() || ids->empty() || ids->size() > 16) {
    return Status::InvalidArgument(ptr + "/identifiers: 1..16 identifiers required");
  }
  for (size_t i = 0; i < ids->size(); ++i) {
    const std::string ip = ptr + "/identifiers/" + std::to_string(i);
    const json& j = (*ids)[i];
    Result<domain::IdentifierKind> kind = domain::IdentifierKind::Parse(wj::Str(j, "kind"));
    if (!kind.ok()) return Status::InvalidArgument(ip + "/kind: unknown kind");
    std::string value = wj::Str(j, "value");
    if (value.empty() || value.size() > 512) return Status::InvalidArgument(ip + "/value: 1..512 bytes required");
    e->identifiers.push_back(domain::Identifier{*kind, std::move(value), wj::Str(j, "qualifier")});
  }
  if (e->topic == "consent.updated" || e->topic == "consent.changed") {
    e->kind = IngestKind::kConsent;
    e->purpose = wj::Str(ev, "purpose");
    if (e->purpose.empty() || e->purpose.size() > 64) return Status::InvalidArgument(ptr + "/purpose: missing");
    Result<domain::Decision> d = domain::ParseDecision(wj::Str(ev, "decision"));
    if (!d.ok()) return Status::InvalidArgument(ptr + "/decision: \"granted\" or \"withdrawn\"");
    e->decision = *d;
    if (const json* m = wj::Member(ev, "method")) {
      Result<domain::ConsentMethod> method =
          domain::ParseConsentMethod(m->is_string() ? m->get<std::string>() : std::string());
      if (!method.ok()) return Status::InvalidArgument(ptr + "/method: unknown method");
      e->method = *method;
    }
  } else if (e->topic == "erasure.requested") {
    e->kind = IngestKind::kErasureRequest;
    e->reference = id;
  } else if (e->topic == "access.requested") {
    e->kind = IngestKind::kAccessRequest;
    e->reference = id;
  } else {
    return Status::InvalidArgument(ptr + "/type: consent.updated, erasure.requested or access.requested");
  }
  return Status::Ok();
}

}  // namespace

std::string SignConsentdWebhook(std::string_view secret, int64_t unix_seconds, std::string_view body) {
  std::string t = std::to_string(unix_seconds);
  std::string msg = t + ".";
  msg.append(body);
  return "t=" + t + ",v1=" + HexEncode(AsBytes(HmacSha256(secret, msg)));
}

Verdict VerifyConsentdWebhook(const WebhookRequest& request, std::string_view secret, int64_t now_ms,
                              const ConsentdWebhookOptions& options) {
  if (secret.empty()) return Verdict::Rejected("no_secret_configured");
  if (!HasHeader(request.headers, options.signature_header)) return Verdict::Rejected("missing_signature");
  std::string header = HeaderValue(request.headers, options.signature_header);
  if (header.size() > 1024) return Verdict::Rejected("malformed_signature");
  std::string t;
  std::vector<std::string> v1;
  size_t pos = 0;
  while (pos <= header.size()) {
    size_t comma = header.find(',', pos);
    std::string part = header.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    size_t eq = part.find('=');
    if (eq == std::string::npos) return Verdict::Rejected("malformed_signature");
    std::string k = part.substr(0, eq), v = part.substr(eq + 1);
    if (k == "t") {
      if (!t.empty()) return Verdict::Rejected("malformed_signature");
      t = v;
    } else if (k == "v1") {
      v1.push_back(v);
    }  // other schemes: ignored, for forward compatibility
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  if (t.empty() || t.size() > 12 || t.find_first_not_of("0123456789") != std::string::npos) {
    return Verdict::Rejected(t.empty() ? "missing_timestamp" : "malformed_timestamp");
  }
  if (v1.empty() || v1.size() > kMaxSignatures) return Verdict::Rejected("malformed_signature");
  int64_t ts_ms = std::stoll(t) * 1000;
  if (ts_ms < now_ms - options.window_ms || ts_ms > now_ms + options.window_ms) {
    return Verdict::Rejected("timestamp_outside_window");
  }
  std::string msg = t + ".";
  msg.append(request.body);
  const std::string mac = HmacSha256(secret, msg);
  bool ok = false;
  for (const std::string& v : v1) ok = HexMacEquals(v, mac) || ok;
  return ok ? Verdict::Ok() : Verdict::Rejected("bad_signature");
}

Result<WebhookBatch> MapConsentdWebhook(const WebhookRequest& request) {
  json body = wj::Parse(request.body);
  if (!body.is_object()) return Status::InvalidArgument("body: not a JSON object");
  WebhookBatch batch;
  if (const json* events = wj::Member(body, "events")) {
    if (!events->is_array() || events->empty() || events->size() > kMaxEvents) {
      return Status::InvalidArgument("/events: 1..1000 events required");
    }
    for (size_t i = 0; i < events->size(); ++i) {
      IngestEvent e;
      Status s = MapOne((*events)[i], "/events/" + std::to_string(i), &e);
      if (!s.ok()) return s;
      batch.events.push_back(std::move(e));
    }
  } else {
    IngestEvent e;
    Status s = MapOne(body, "", &e);
    if (!s.ok()) return s;
    batch.events.push_back(std::move(e));
  }
  batch.topic = batch.events.front().topic;
  return batch;
}

}  // namespace consentd::adapters
