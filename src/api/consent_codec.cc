#include "src/api/consent_codec.h"

#include "src/api/json_body.h"
#include "src/base/json_text.h"
#include "src/base/time_format.h"

namespace consentd::api {

using http::Problem;

std::optional<Problem> DecodeIdentifier(const nlohmann::json& j, const std::string& pointer, domain::Identifier* out) {
  if (!j.is_object()) return Problem::BadRequest(pointer + ": must be an object", pointer);
  BodyReader r(j, pointer);
  std::string kind, value, qualifier;
  r.String("kind", &kind, true, 64);
  r.String("value", &value, true, 512);
  r.String("qualifier", &qualifier, false, 256);
  r.RejectUnknown();
  if (!r.ok()) return r.problem();
  Result<domain::IdentifierKind> k = domain::IdentifierKind::Parse(kind);
  if (!k.ok()) return Problem::BadRequest(pointer + "/kind: " + k.status().message(), pointer + "/kind");
  *out = domain::Identifier{*k, value, qualifier};
  return std::nullopt;
}

std::optional<Problem> DecodeConsentEvent(const nlohmann::json& j, const std::string& pointer,
                                          service::ConsentEvent* out) {
  if (!j.is_object()) return Problem::BadRequest(pointer + ": must be an object", pointer);
  BodyReader r(j, pointer);
  service::ConsentEvent e;
  const nlohmann::json* ids = r.Array("identifiers", true, 16);
  r.String("purpose", &e.purpose, false, 64);
  std::string decision, occurred_at;
  r.String("decision", &decision, true, 16);
  r.String("occurred_at", &occurred_at, true, 64);
  const nlohmann::json* source = r.Object("source", true);
  const nlohmann::json* notice = r.Object("notice", false);
  r.String("language", &e.language, false, 35);
  r.String("jurisdiction", &e.jurisdiction, false, 64);
  r.String("legal_basis", &e.legal_basis, false, 64);
  const nlohmann::json* evidence = r.Object("evidence", false);
  r.String("event_id", &e.event_id, false, 128);
  r.RejectUnknown();
  if (!r.ok()) return r.problem();
  for (size_t i = 0; i < ids->size(); ++i) {
    domain::Identifier id{domain::IdentifierKind::Email(), "", ""};
    if (auto p = DecodeIdentifier((*ids)[i], pointer + "/identifiers/" + std::to_string(i), &id)) return p;
    e.identifiers.push_back(std::move(id));
  }
  Result<domain::Decision> d = domain::ParseDecision(decision);
  if (!d.ok()) return Problem::BadRequest(pointer + "/decision: " + d.status().message(), pointer + "/decision");
  e.decision = *d;
  Result<int64_t> t = ParseRfc3339(occurred_at);
  if (!t.ok()) {
    return Problem::BadRequest(pointer + "/occurred_at: not an RFC 3339 date-time", pointer + "/occurred_at");
  }
  e.occurred_at_ms = *t;
  {
    BodyReader s(*source, pointer + "/source");
    std::string method;
    s.String("system", &e.source.system, false, 64);
    s.String("method", &method, true, 32);
    s.RejectUnknown();
    if (!s.ok()) return s.problem();
    Result<domain::ConsentMethod> m = domain::ParseConsentMethod(method);
    if (!m.ok()) {
      return Problem::BadRequest(pointer + "/source/method: " + m.status().message(), pointer + "/source/method");
    }
    e.source.method = *m;
  }
  if (notice) {
    BodyReader n(*notice, pointer + "/notice");
    n.String("id", &e.notice_id, true, 64);
    n.String("version", &e.notice_version, false, 64);
    n.RejectUnknown();
    if (!n.ok()) return n.problem();
  }
  if (evidence) {
    BodyReader v(*evidence, pointer + "/evidence");
    v.String("ip", &e.evidence.ip, false, 64);
    v.String("user_agent", &e.evidence.user_agent, false, 1024);
    v.String("url", &e.evidence.url, false, 2048);
    v.String("notice_text_version", &e.evidence.notice_text_version, false, 128);
    v.RejectUnknown();
    if (!v.ok()) return v.problem();
  }
  Status fs = service::ConsentService::ValidateEventFormat(e);
  if (!fs.ok()) {
    std::string msg = fs.message();
    std::string field = msg.substr(0, msg.find(':'));
    return Problem::BadRequest(pointer + msg, pointer + field);
  }
  *out = std::move(e);
  return std::nullopt;
}

nlohmann::json EncodeRecordResult(const service::RecordResult& r) {
  nlohmann::json recorded = nlohmann::json::array();
  for (const service::RecordedConsent& c : r.recorded) {
    recorded.push_back({{"purpose", c.purpose},
                        {"seq", c.seq},
                        {"outcome", std::string(policies::ConflictOutcomeName(c.outcome))},
                        {"reason", c.reason},
                        {"duplicate", c.duplicate}});
  }
  return {{"sid", r.sid.ToHex()}, {"recorded", recorded}};
}

nlohmann::json EncodeAnswer(std::string_view purpose, const service::ConsentAnswer& a) {
  nlohmann::json j = {{"purpose", std::string(purpose)}, {"allowed", a.allowed}};
  if (a.state) {
    j["state"] = std::string(domain::DecisionName(a.state->decision));
    j["since"] = FormatTimestampMillis(a.state->occurred_at_ms);
    j["source"] = {{"system", a.state->source_system},
                   {"method", std::string(domain::ConsentMethodName(a.state->method))}};
  } else {
    j["state"] = "default";
  }
  return j;
}

namespace {

// Appends `s` as a JSON string, byte for byte as nlohmann's dump() prints
// it: printable ASCII without quote or backslash as is, between quotes
// (what every name and date here is), anything else through dump().
void AppendJsonString(std::string_view s, std::string* out) {
  if (!IsPlainJsonText(s)) {
    out->append(nlohmann::json(std::string(s)).dump());
    return;
  }
  out->push_back('"');
  out->append(s);
  out->push_back('"');
}

// Keys in nlohmann's (sorted) order: allowed, purpose (when given), since,
// source{method, system}, state.
void AppendAnswerText(const std::string_view* purpose, const service::ConsentAnswer& a, std::string* out) {
  out->append(a.allowed ? "{\"allowed\":true" : "{\"allowed\":false");
  if (purpose) {
    out->append(",\"purpose\":");
    AppendJsonString(*purpose, out);
  }
  if (!a.state) {
    out->append(",\"state\":\"default\"}");
    return;
  }
  out->append(",\"since\":");
  AppendJsonString(FormatTimestampMillis(a.state->occurred_at_ms), out);
  out->append(",\"source\":{\"method\":");
  AppendJsonString(domain::ConsentMethodName(a.state->method), out);
  out->append(",\"system\":");
  AppendJsonString(a.state->source_system, out);
  out->append("},\"state\":");
  AppendJsonString(domain::DecisionName(a.state->decision), out);
  out->push_back('}');
}

}  // namespace

void AppendAnswerWithoutPurpose(const service::ConsentAnswer& a, std::string* out) {
  AppendAnswerText(nullptr, a, out);
}

void AppendAnswer(std::string_view purpose, const service::ConsentAnswer& a, std::string* out) {
  AppendAnswerText(&purpose, a, out);
}

}  // namespace consentd::api
