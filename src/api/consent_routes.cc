#include "src/api/consent_routes.h"

#include <httplib.h>

#include <atomic>
#include <thread>

#include "src/api/check_request.h"
#include "src/api/consent_codec.h"
#include "src/api/json_body.h"
#include "src/base/bytes.h"
#include "src/base/sha256.h"
#include "src/identity/normalizer.h"
#include "src/service/subject_groups.h"

namespace consentd::api {
namespace {

using http::Method;
using http::Problem;
using http::Reply;
using http::ReplyJson;

const std::vector<auth::Scope> kRecordScopes = {auth::Scope::Officer(), auth::Scope::AnyIngest()};
const std::vector<auth::Scope> kQueryScopes = {auth::Scope::Marketing(), auth::Scope::Officer()};
const std::vector<auth::Scope> kOfficer = {auth::Scope::Officer()};

// An ingest token records only its own system's events; officers record any.
std::optional<Problem> CheckSource(const auth::Principal& p, const service::ConsentEvent& e, const std::string& ptr) {
  if (p.Has(auth::Scope::Officer())) return std::nullopt;
  if (!e.source.system.empty() && p.Has(auth::Scope::Ingest(e.source.system))) return std::nullopt;
  return Problem::Forbidden("officer, or ingest:<the event's source.system> (" + ptr + "/source/system)");
}

// The identifier of a query string: ?email=..., ?phone=..., ?<system kind>=...
// [&qualifier=...], or the generic ?kind=...&value=...[&qualifier=...].
// `param` receives the query parameter that holds the value ("email",
// "value" for ?kind=&value=), for problems about it.
std::optional<Problem> IdentifierFromQuery(const httplib::Request& req, domain::Identifier* out,
                                           std::string* param = nullptr) {
  static const char* kKinds[] = {"email", "phone", "shopify_customer", "woocommerce_customer", "hubspot_contact",
                                 "salesforce_contact", "salesforce_lead", "klaviyo_profile", "mailchimp_member"};
  std::string kind, value;
  int found = 0;
  for (const char* k : kKinds) {
    if (req.has_param(k)) {
      kind = k;
      value = req.get_param_value(k);
      ++found;
    }
  }
  if (req.has_param("kind")) {
    kind = req.get_param_value("kind");
    value = req.get_param_value("value");
    ++found;
  }
  if (found != 1) return Problem::BadRequest("give exactly one identifier: ?email=, ?phone=, ?<kind>= or ?kind=&value=");
  if (value.empty() || value.size() > 512) return Problem::BadRequest("identifier value must be 1..512 bytes", "/value");
  Result<domain::IdentifierKind> k = domain::IdentifierKind::Parse(kind);
  if (!k.ok()) return Problem::BadRequest("kind: " + k.status().message(), "/kind");
  *out = domain::Identifier{*k, value, req.get_param_value("qualifier")};
  if (param) *param = req.has_param("kind") ? "value" : kind;
  return std::nullopt;
}

// A lookup's error: an identifier that does not normalize is a 400 naming
// the query parameter ("/email"; "/qualifier" for a bad qualifier), with
// the normalizer's reason, which never holds the value.
Problem LookupProblem(const Status& s, const std::string& param) {
  if (s.code() != StatusCode::kInvalidArgument) return http::ProblemFromStatus(s);
  const std::string field = "/" + (s.message().find("qualifier") != std::string::npos ? std::string("qualifier") : param);
  return Problem::BadRequest(field + ": " + s.message(), field);
}

std::optional<Problem> PurposeFromQuery(const httplib::Request& req, service::Runtime& rt, std::string* purpose) {
  *purpose = req.get_param_value("purpose");
  if (purpose->empty()) return Problem::BadRequest("purpose is required", "/purpose");
  if (!rt.policy()->FindPurpose(*purpose)) return Problem::BadRequest("purpose: unknown purpose", "/purpose");
  return std::nullopt;
}

void HandleRecord(service::Runtime& rt, const httplib::Request& req, httplib::Response& res,
                  const auth::Principal& who) {
  nlohmann::json body;
  if (auto p = ParseObject(req.body, &body)) return Reply(res, *p);
  service::ConsentEvent e;
  if (auto p = DecodeConsentEvent(body, "", &e)) return Reply(res, *p);
  if (auto p = CheckSource(who, e, "")) return Reply(res, *p);
  Result<service::RecordResult> r = rt.consents().Record(e);
  if (!r.ok()) return Reply(res, http::ProblemFromStatus(r.status()));
  bool all_duplicates = true;
  for (const auto& c : r->recorded) all_duplicates = all_duplicates && c.duplicate;
  ReplyJson(res, EncodeRecordResult(*r).dump(), all_duplicates ? 200 : 201);
}

void HandleBulk(service::Runtime& rt, const httplib::Request& req, httplib::Response& res,
                const auth::Principal& who) {
  nlohmann::json body;
  if (auto p = ParseObject(req.body, &body)) return Reply(res, *p);
  BodyReader r(body);
  const nlohmann::json* events = r.Array("events", true, rt.config().max_bulk_events);
  r.RejectUnknown();
  if (!r.ok()) return Reply(res, *r.problem());
  // Decode and authorize every event first: a malformed or forbidden event
  // fails the whole request before anything is recorded.
  std::vector<service::ConsentEvent> decoded(events->size());
  // Per event: what could make it the same subject as another event (its
  // identifiers, and the existing subjects they resolve to).
  std::vector<std::vector<std::string>> subject_keys(events->size());
  std::vector<domain::Identifier> all_ids;  // every event's identifiers; owner[j]: the event of all_ids[j]
  std::vector<size_t> owner;
  for (size_t i = 0; i < events->size(); ++i) {
    std::string ptr = "/events/" + std::to_string(i);
    if (auto p = DecodeConsentEvent((*events)[i], ptr, &decoded[i])) return Reply(res, *p);
    if (auto p = CheckSource(who, decoded[i], ptr)) return Reply(res, *p);
    // The policy's checks and identifier syntax too: an unknown purpose or
    // a bad address is a 400 for the request, not a partial success.
    Status v = rt.consents().Validate(decoded[i]);
    for (size_t k = 0; v.ok() && k < decoded[i].identifiers.size(); ++k) {
      Result<domain::NormalizedIdentifier> n = identity::Normalize(decoded[i].identifiers[k], rt.subjects().rules());
      if (!n.ok()) {
        v = Status::InvalidArgument("/identifiers/" + std::to_string(k) + "/value: " + n.status().message());
        break;
      }
      subject_keys[i].push_back(n->BlindIndexInput());
      all_ids.push_back(decoded[i].identifiers[k]);
      owner.push_back(i);
    }
    if (!v.ok()) {
      Problem p = http::ProblemFromStatus(v);
      if (!p.field.empty()) {
        p.field = ptr + p.field;
        p.detail = ptr + p.detail;
      }
      return Reply(res, p);
    }
  }
  // The existing subjects those identifiers name, in one batch read.
  std::vector<Result<std::optional<domain::Sid>>> known;
  rt.subjects().LookupMany(all_ids, &known);
  for (size_t j = 0; j < known.size(); ++j) {
    if (known[j].ok() && *known[j]) subject_keys[owner[j]].push_back("sid:" + (*known[j])->ToHex());
  }
  // Record concurrently so that the ledger's group commit batches them, but
  // the events that may concern one subject in request order, by one worker
  // (docs/api.md: as if recorded one by one).
  const std::vector<std::vector<size_t>> groups = service::SubjectGroups(subject_keys);
  std::vector<nlohmann::json> results(decoded.size());
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t g = next.fetch_add(1); g < groups.size(); g = next.fetch_add(1)) {
      for (size_t i : groups[g]) {
        Result<service::RecordResult> rr = rt.consents().Record(decoded[i]);
        if (rr.ok()) {
          results[i] = EncodeRecordResult(*rr);
        } else {
          Problem p = http::ProblemFromStatus(rr.status());
          results[i] = {{"error", nlohmann::json::parse(p.ToJson())}};
        }
      }
    }
  };
  size_t workers = std::min<size_t>(32, groups.size());
  std::vector<std::thread> pool;
  for (size_t w = 1; w < workers; ++w) pool.emplace_back(work);
  work();
  for (std::thread& t : pool) t.join();
  nlohmann::json out = {{"results", nlohmann::json(results)}};
  ReplyJson(res, out.dump());
}

void HandleQuery(service::Runtime& rt, const httplib::Request& req, httplib::Response& res,
                 const auth::Principal& who) {
  domain::Identifier id{domain::IdentifierKind::Email(), "", ""};
  std::string param;
  if (auto p = IdentifierFromQuery(req, &id, &param)) return Reply(res, *p);
  std::string purpose;
  if (auto p = PurposeFromQuery(req, rt, &purpose)) return Reply(res, *p);
  std::string jurisdiction = req.get_param_value("jurisdiction");
  // The purpose is known (above): kInvalidArgument means the identifier.
  std::optional<domain::Sid> sid;
  Result<service::ConsentAnswer> a = rt.consents().Query(id, purpose, jurisdiction, &sid);
  if (!a.ok()) return Reply(res, LookupProblem(a.status(), param));
  if (sid) rt.access_log().Record(who.token_id, *sid, "consent.query");
  std::string body;
  body.reserve(192);
  AppendAnswer(purpose, *a, &body);
  ReplyJson(res, body);
}

void HandleCheck(service::Runtime& rt, const httplib::Request& req, httplib::Response& res,
                 const auth::Principal& who) {
  CheckRequest in;
  const auto known = [&rt](std::string_view p) { return rt.policy()->FindPurpose(p) != nullptr; };
  if (auto p = DecodeCheckRequest(req.body, rt.config().max_check_identifiers, known, &in)) return Reply(res, *p);
  const std::string& purpose = in.purpose;
  // One batch (ConsentService::QueryMany, service/bulk_check.h).
  std::vector<Result<service::ConsentAnswer>> answers;
  std::vector<std::optional<domain::Sid>> subjects;
  Status qs = rt.consents().QueryMany(in.identifiers, purpose, in.jurisdiction, &answers, &subjects);
  if (!qs.ok()) return Reply(res, http::ProblemFromStatus(qs));
  // The body is written as text (the same bytes nlohmann would print):
  // building 10,000 JSON objects cost more than the lookups.
  std::string out = "{\"purpose\":" + nlohmann::json(purpose).dump() + ",\"results\":[";
  out.reserve(out.size() + answers.size() * 128);
  std::vector<domain::Sid> read;
  read.reserve(answers.size());
  for (size_t i = 0; i < answers.size(); ++i) {
    if (i > 0) out.push_back(',');
    if (!answers[i].ok()) {
      const Status& st = answers[i].status();
      if (st.code() != StatusCode::kInvalidArgument) return Reply(res, http::ProblemFromStatus(st));
      // An identifier that does not normalize: its own error, naming it.
      Problem p = Problem::BadRequest("/identifiers/" + std::to_string(i) + "/value: " + st.message(),
                                      "/identifiers/" + std::to_string(i) + "/value");
      out.append(nlohmann::json({{"error", nlohmann::json::parse(p.ToJson())}}).dump());
      continue;
    }
    if (subjects[i]) read.push_back(*subjects[i]);
    AppendAnswerWithoutPurpose(*answers[i], &out);
  }
  out.append("]}");
  rt.access_log().RecordMany(who.token_id, read, "consent.check");
  ReplyJson(res, out);
}

// Streams one line per withdrawn subject's email: lower-case hex SHA-256 of
// the normalized address (the convention of ad platforms' customer lists).
void HandleSuppressions(service::Runtime& rt, const httplib::Request& req, httplib::Response& res,
                        const auth::Principal& who) {
  std::string purpose;
  if (auto p = PurposeFromQuery(req, rt, &purpose)) return Reply(res, *p);
  std::string body;
  Status s = rt.consents().ForEachWithdrawn(purpose, [&](const domain::Sid& sid) {
    Result<std::vector<domain::NormalizedIdentifier>> ids = rt.subjects().IdentifiersOf(sid);
    if (!ids.ok()) return Status::Ok();  // shredded meanwhile
    for (const domain::NormalizedIdentifier& id : *ids) {
      if (id.kind.type() != domain::IdentifierType::kEmail) continue;
      body += HexEncode(AsBytes(Sha256Of(id.value)));
      body += '\n';
    }
    rt.access_log().Record(who.token_id, sid, "suppressions");
    return Status::Ok();
  });
  if (!s.ok()) return Reply(res, http::ProblemFromStatus(s));
  res.set_content(std::move(body), "text/plain; charset=utf-8");
}

void ReplyHistory(service::Runtime& rt, const domain::Sid& sid, httplib::Response& res, const auth::Principal& who) {
  // Durable before the data leaves: officers' reads decrypt personal data.
  Status logged = rt.access_log().RecordNow(who.token_id, sid, "consent.history");
  if (!logged.ok()) return Reply(res, http::ProblemFromStatus(logged));
  Result<std::vector<service::HistoryItem>> h = rt.consents().History(sid);
  if (!h.ok()) return Reply(res, http::ProblemFromStatus(h.status()));
  nlohmann::json entries = nlohmann::json::array();
  for (const service::HistoryItem& item : *h) {
    nlohmann::json e = {{"seq", item.seq}, {"entry", nlohmann::json::parse(item.entry, nullptr, false)}};
    if (item.evidence) e["evidence"] = nlohmann::json::parse(*item.evidence, nullptr, false);
    entries.push_back(std::move(e));
  }
  res.set_header("Cache-Control", "no-store");
  ReplyJson(res, nlohmann::json({{"sid", sid.ToHex()}, {"entries", entries}}).dump());
}

}  // namespace

void RegisterConsentRoutes(http::HttpServer& server, service::Runtime& rt) {
  const size_t bulk_limit = rt.config().max_bulk_body_bytes;
  server.Handle({Method::kPost, "/v1/consents", "/v1/consents", kRecordScopes, 0},
                [&rt](const auto& req, auto& res, const auto& who) { HandleRecord(rt, req, res, who); });
  server.Handle({Method::kPost, "/v1/consents/bulk", "/v1/consents/bulk", kRecordScopes, bulk_limit},
                [&rt](const auto& req, auto& res, const auto& who) { HandleBulk(rt, req, res, who); });
  // On the event loop: a lookup and a state read on the read connections, no
  // lock held across an fsync (the access-log row is queued).
  server.Handle({Method::kGet, "/v1/consents", "/v1/consents", kQueryScopes, 0, /*run_inline=*/true},
                [&rt](const auto& req, auto& res, const auto& who) { HandleQuery(rt, req, res, who); });
  server.Handle({Method::kPost, "/v1/consents/check", "/v1/consents/check", kQueryScopes, bulk_limit},
                [&rt](const auto& req, auto& res, const auto& who) { HandleCheck(rt, req, res, who); });
  server.Handle({Method::kGet, "/v1/suppressions", "/v1/suppressions", kQueryScopes, 0},
                [&rt](const auto& req, auto& res, const auto& who) { HandleSuppressions(rt, req, res, who); });
  server.Handle({Method::kGet, R"(/v1/subjects/([0-9a-f]{32})/history)", "/v1/subjects/{sid}/history", kOfficer, 0},
                [&rt](const httplib::Request& req, httplib::Response& res, const auth::Principal& who) {
                  Result<domain::Sid> sid = domain::Sid::FromHex(req.matches[1].str());
                  if (!sid.ok()) return Reply(res, Problem::BadRequest("sid: 32 hex digits", "/sid"));
                  ReplyHistory(rt, *sid, res, who);
                });
  server.Handle({Method::kGet, "/v1/consents/history", "/v1/consents/history", kOfficer, 0},
                [&rt](const httplib::Request& req, httplib::Response& res, const auth::Principal& who) {
                  domain::Identifier id{domain::IdentifierKind::Email(), "", ""};
                  std::string param;
                  if (auto p = IdentifierFromQuery(req, &id, &param)) return Reply(res, *p);
                  Result<std::optional<domain::Sid>> sid = rt.subjects().Lookup(id);
                  if (!sid.ok()) return Reply(res, LookupProblem(sid.status(), param));
                  if (!*sid) return Reply(res, Problem::NotFound("no subject has this identifier"));
                  ReplyHistory(rt, **sid, res, who);
                });
}

}  // namespace consentd::api
