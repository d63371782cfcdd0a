#include "src/api/erasure_routes.h"

#include <httplib.h>

#include "src/api/consent_codec.h"
#include "src/api/json_body.h"
#include "src/base/time_format.h"

namespace consentd::api {
namespace {

using http::Method;
using http::Problem;
using http::Reply;
using http::ReplyJson;

const std::vector<auth::Scope> kOfficer = {auth::Scope::Officer()};
constexpr const char* kId = R"(/v1/erasure-requests/(er_[0-9a-f]{16}))";
constexpr size_t kMaxBody = 64 * 1024;

std::string TimeOrEmpty(int64_t ms) { return ms > 0 ? FormatTimestampMillis(ms) : std::string(); }

void HandleFile(erasure::ErasureService& svc, const Clock& clock, const httplib::Request& req,
                httplib::Response& res, const auth::Principal& who) {
  nlohmann::json body;
  if (auto p = ParseObject(req.body, &body)) return Reply(res, *p);
  BodyReader r(body);
  service::ErasureIntakeRequest in;
  const nlohmann::json* ids = r.Array("identifiers", true, 32);
  std::string received_at;
  r.String("jurisdiction", &in.jurisdiction, false, 64);
  r.String("channel", &in.channel, true, 64);
  r.String("received_at", &received_at, false, 64);
  in.requester = who.name;
  r.String("requester", &in.requester, false, 64);
  r.Bool("verified", &in.verified, false);
  r.String("client_reference", &in.source_reference, false, 128);
  r.RejectUnknown();
  if (!r.ok()) return Reply(res, *r.problem());
  for (size_t i = 0; i < ids->size(); ++i) {
    domain::Identifier id{domain::IdentifierKind::Email(), "", ""};
    if (auto p = DecodeIdentifier((*ids)[i], "/identifiers/" + std::to_string(i), &id)) return Reply(res, *p);
    in.identifiers.push_back(std::move(id));
  }
  if (received_at.empty()) {
    in.received_at_ms = clock.NowMillis();
  } else {
    Result<int64_t> t = ParseRfc3339(received_at);
    if (!t.ok()) return Reply(res, Problem::BadRequest("/received_at: not an RFC 3339 time", "/received_at"));
    in.received_at_ms = *t;
  }
  Result<service::ErasureIntakeResult> filed = svc.File(in);
  if (!filed.ok()) return Reply(res, http::ProblemFromStatus(filed.status()));
  Result<erasure::ErasureRequest> got = svc.Get(filed->request_id);
  if (!got.ok()) return Reply(res, http::ProblemFromStatus(got.status()));
  nlohmann::json out = EncodeErasureRequest(*got, clock.NowMillis());
  out["linked_to_open"] = filed->linked_to_open;
  ReplyJson(res, out.dump(), filed->linked_to_open || got->received_at_ms != in.received_at_ms ? 200 : 201);
}

void HandleList(erasure::ErasureService& svc, const Clock& clock, const httplib::Request& req,
                httplib::Response& res) {
  erasure::ListFilter f;
  if (req.has_param("state")) {
    std::optional<erasure::RequestState> s = erasure::ParseState(req.get_param_value("state"));
    if (!s) return Reply(res, Problem::BadRequest("state: unknown state", "/state"));
    f.state = *s;
  }
  if (req.has_param("due_before")) {
    Result<erasure::DayNumber> d = erasure::ParseDay(req.get_param_value("due_before"));
    if (!d.ok()) return Reply(res, Problem::BadRequest("due_before: " + d.status().message(), "/due_before"));
    f.due_before = *d;
  }
  if (req.has_param("due_within")) {
    const std::string v = req.get_param_value("due_within");
    if (v.empty() || v.size() > 4 || v.find_first_not_of("0123456789") != std::string::npos) {
      return Reply(res, Problem::BadRequest("due_within: a number of days 0..9999", "/due_within"));
    }
    erasure::DayNumber d = erasure::DayOf(clock.NowMillis()) + std::stoi(v);
    f.due_before = f.due_before ? std::min(*f.due_before, d) : d;
  }
  if (req.has_param("overdue")) {
    const std::string v = req.get_param_value("overdue");
    if (v != "true" && v != "false") return Reply(res, Problem::BadRequest("overdue: true or false", "/overdue"));
    f.overdue = v == "true";
  }
  if (req.has_param("limit")) {
    const std::string v = req.get_param_value("limit");
    if (v.empty() || v.size() > 4 || v.find_first_not_of("0123456789") != std::string::npos || std::stoi(v) == 0) {
      return Reply(res, Problem::BadRequest("limit: 1..1000", "/limit"));
    }
    f.limit = std::min(1000, std::stoi(v));
  }
  Result<std::vector<erasure::ErasureRequest>> list = svc.List(f);
  if (!list.ok()) return Reply(res, http::ProblemFromStatus(list.status()));
  nlohmann::json items = nlohmann::json::array();
  for (const erasure::ErasureRequest& r : *list) items.push_back(EncodeErasureRequest(r, clock.NowMillis()));
  ReplyJson(res, nlohmann::json{{"requests", items}}.dump());
}

// {"reason": code} for reject, extend and cancel.
std::optional<Problem> ReasonFrom(const httplib::Request& req, std::string* reason) {
  nlohmann::json body;
  if (auto p = ParseObject(req.body, &body)) return p;
  BodyReader r(body);
  r.String("reason", reason, true, 64);
  r.RejectUnknown();
  if (!r.ok()) return r.problem();
  return std::nullopt;
}

void ReplyRequest(erasure::ErasureService& svc, const Clock& clock, const std::string& id, httplib::Response& res) {
  Result<erasure::ErasureRequest> got = svc.Get(id);
  if (!got.ok()) return Reply(res, http::ProblemFromStatus(got.status()));
  ReplyJson(res, EncodeErasureRequest(*got, clock.NowMillis()).dump());
}

void HandleLift(erasure::ErasureService& svc, const httplib::Request& req, httplib::Response& res) {
  nlohmann::json body;
  if (auto p = ParseObject(req.body, &body)) return Reply(res, *p);
  BodyReader r(body);
  const nlohmann::json* ids = r.Array("identifiers", true, 32);
  std::string method, occurred_at;
  erasure::LiftEvidence ev;
  r.String("method", &method, true, 64);
  r.String("occurred_at", &occurred_at, true, 64);
  r.String("evidence_ref", &ev.evidence_ref, false, 64);  // required unless the policy says otherwise
  r.RejectUnknown();
  if (!r.ok()) return Reply(res, *r.problem());
  Result<domain::ConsentMethod> m = domain::ParseConsentMethod(method);
  if (!m.ok()) return Reply(res, Problem::BadRequest("/method: " + m.status().message(), "/method"));
  ev.method = *m;
  Result<int64_t> t = ParseRfc3339(occurred_at);
  if (!t.ok()) return Reply(res, Problem::BadRequest("/occurred_at: not an RFC 3339 time", "/occurred_at"));
  ev.occurred_at_ms = *t;
  std::vector<domain::Identifier> identifiers;
  for (size_t i = 0; i < ids->size(); ++i) {
    domain::Identifier id{domain::IdentifierKind::Email(), "", ""};
    if (auto p = DecodeIdentifier((*ids)[i], "/identifiers/" + std::to_string(i), &id)) return Reply(res, *p);
    identifiers.push_back(std::move(id));
  }
  Result<size_t> n = svc.LiftTombstones(identifiers, ev);
  if (!n.ok()) return Reply(res, http::ProblemFromStatus(n.status()));
  ReplyJson(res, nlohmann::json{{"lifted", *n}}.dump());
}

}  // namespace

nlohmann::json EncodeErasureRequest(const erasure::ErasureRequest& r, int64_t now_ms) {
  nlohmann::json systems = nlohmann::json::array();
  for (const erasure::SystemProgress& p : r.systems) {
    systems.push_back({{"system", p.system},
                       {"status", p.status},
                       {"detail", p.detail},
                       {"reference", p.reference},
                       {"outcome_seq", p.outcome_seq},
                       {"time", TimeOrEmpty(p.time_ms)}});
  }
  nlohmann::json resends = nlohmann::json::array();
  for (const erasure::Resend& x : r.resends) {
    resends.push_back({{"system", x.system},
                       {"status", x.status},
                       {"detail", x.detail},
                       {"cause_seq", x.cause_seq},
                       {"outcome_seq", x.outcome_seq},
                       {"created_at", TimeOrEmpty(x.created_ms)},
                       {"time", TimeOrEmpty(x.time_ms)}});
  }
  nlohmann::json entries = nlohmann::json::array();
  for (const erasure::EntryRef& e : r.entries) entries.push_back({{"seq", e.seq}, {"kind", e.kind}});
  nlohmann::json j = {{"id", r.id},
                      {"sid", r.sid.ToHex()},
                      {"state", std::string(erasure::StateName(r.state))},
                      {"jurisdiction", r.jurisdiction},
                      {"channel", r.channel},
                      {"requester", r.requester},
                      {"client_reference", r.source_reference},
                      {"received_at", FormatTimestampMillis(r.received_at_ms)},
                      {"due", erasure::FormatDay(r.due)},
                      {"first_due", erasure::FormatDay(r.first_due)},
                      {"overdue", r.Overdue(now_ms)},
                      {"extended", r.extended},
                      {"extension_reason", r.extension_reason},
                      {"reason", r.reason},
                      {"closed_at", TimeOrEmpty(r.closed_ms)},
                      {"shredded_at", TimeOrEmpty(r.shredded_ms)},
                      {"systems", systems},
                      {"duplicates", r.duplicates},
                      {"resends", resends},
                      {"entries", entries}};
  j["acknowledge_by"] = r.acknowledge_by ? nlohmann::json(erasure::FormatDay(*r.acknowledge_by)) : nlohmann::json();
  return j;
}

void RegisterErasureRoutes(http::HttpServer& server, erasure::ErasureService& svc, const ledger::Signer* signer,
                           const Clock& clock) {
  server.Handle({Method::kPost, "/v1/erasure-requests", "/v1/erasure-requests", kOfficer, kMaxBody},
                [&svc, &clock](const httplib::Request& req, httplib::Response& res, const auth::Principal& who) {
                  HandleFile(svc, clock, req, res, who);
                });
  server.Handle({Method::kGet, "/v1/erasure-requests", "/v1/erasure-requests", kOfficer},
                [&svc, &clock](const httplib::Request& req, httplib::Response& res, const auth::Principal&) {
                  HandleList(svc, clock, req, res);
                });
  server.Handle({Method::kGet, kId, "/v1/erasure-requests/{id}", kOfficer},
                [&svc, &clock](const httplib::Request& req, httplib::Response& res, const auth::Principal&) {
                  ReplyRequest(svc, clock, req.matches[1], res);
                });
  server.Handle({Method::kPost, std::string(kId) + "/verify", "/v1/erasure-requests/{id}/verify", kOfficer, kMaxBody},
                [&svc, &clock](const httplib::Request& req, httplib::Response& res, const auth::Principal&) {
                  if (!req.body.empty()) {
                    nlohmann::json body;
                    if (auto p = ParseObject(req.body, &body)) return Reply(res, *p);
                    BodyReader r(body);
                    r.RejectUnknown();
                    if (!r.ok()) return Reply(res, *r.problem());
                  }
                  Status s = svc.Verify(req.matches[1]);
                  if (!s.ok()) return Reply(res, http::ProblemFromStatus(s));
                  ReplyRequest(svc, clock, req.matches[1], res);
                });
  struct ReasonRoute {
    const char* suffix;
    Status (erasure::ErasureService::*fn)(const std::string&, const std::string&);
  };
  for (const ReasonRoute& rr : {ReasonRoute{"reject", &erasure::ErasureService::Reject},
                                ReasonRoute{"extend", &erasure::ErasureService::Extend},
                                ReasonRoute{"cancel", &erasure::ErasureService::Cancel}}) {
    server.Handle({Method::kPost, std::string(kId) + "/" + rr.suffix,
                   std::string("/v1/erasure-requests/{id}/") + rr.suffix, kOfficer, kMaxBody},
                  [&svc, &clock, fn = rr.fn](const httplib::Request& req, httplib::Response& res,
                                             const auth::Principal&) {
                    std::string reason;
                    if (auto p = ReasonFrom(req, &reason)) return Reply(res, *p);
                    Status s = (svc.*fn)(req.matches[1], reason);
                    if (!s.ok()) return Reply(res, http::ProblemFromStatus(s));
                    ReplyRequest(svc, clock, req.matches[1], res);
                  });
  }
  server.Handle({Method::kGet, std::string(kId) + "/certificate", "/v1/erasure-requests/{id}/certificate", kOfficer},
                [&svc, signer](const httplib::Request& req, httplib::Response& res, const auth::Principal&) {
                  if (signer == nullptr) return Reply(res, Problem::Unavailable("no checkpoint signing key loaded"));
                  Result<std::string> cert = svc.Certificate(req.matches[1], *signer);
                  if (!cert.ok()) return Reply(res, http::ProblemFromStatus(cert.status()));
                  ReplyJson(res, *cert);
                });
  server.Handle({Method::kPost, "/v1/tombstones/lift", "/v1/tombstones/lift", kOfficer, kMaxBody},
                [&svc](const httplib::Request& req, httplib::Response& res, const auth::Principal&) {
                  HandleLift(svc, req, res);
                });
}

}  // namespace consentd::api
