#include "src/api/admin_routes.h"

#include <httplib.h>

#include "src/api/json_body.h"
#include "src/base/time_format.h"

namespace consentd::api {

using http::Method;
using http::Problem;
using http::Reply;
using http::ReplyJson;

void RegisterAdminRoutes(http::HttpServer& server, service::Runtime& rt, obs::MetricsRegistry& metrics,
                         const std::atomic<bool>& ready) {
  server.Handle({Method::kGet, "/healthz", "/healthz", {}, 0, /*run_inline=*/true},
                [](const httplib::Request&, httplib::Response& res, const auth::Principal&) {
                  ReplyJson(res, R"({"status":"ok"})");
                });
  server.Handle({Method::kGet, "/readyz", "/readyz", {}, 0},
                [&rt, &ready](const httplib::Request&, httplib::Response& res, const auth::Principal&) {
                  if (!ready.load()) {
                    Reply(res, Problem::Unavailable("starting"));
                    return;
                  }
                  nlohmann::json j = {{"status", "ready"}, {"ledger_size", rt.ledger().Size()}};
                  ReplyJson(res, j.dump());
                });
  server.Handle({Method::kGet, "/metrics", "/metrics", {auth::Scope::Admin()}, 0},
                [&metrics](const httplib::Request&, httplib::Response& res, const auth::Principal&) {
                  res.set_content(metrics.Render(), "text/plain; version=0.0.4");
                });

  server.Handle({Method::kPost, "/v1/admin/tokens", "/v1/admin/tokens", {auth::Scope::Admin()}, 0},
                [&rt](const httplib::Request& req, httplib::Response& res, const auth::Principal&) {
                  nlohmann::json body;
                  if (auto p = ParseObject(req.body, &body)) return Reply(res, *p);
                  BodyReader r(body);
                  std::string name;
                  r.String("name", &name, true, 64);
                  const nlohmann::json* scopes_json = r.Array("scopes", true, 16);
                  r.RejectUnknown();
                  if (!r.ok()) return Reply(res, *r.problem());
                  std::vector<auth::Scope> scopes;
                  for (size_t i = 0; i < scopes_json->size(); ++i) {
                    const nlohmann::json& s = (*scopes_json)[i];
                    Result<auth::Scope> sc = s.is_string() ? auth::Scope::Parse(s.get<std::string>())
                                                           : Result<auth::Scope>(Status::InvalidArgument("must be a string"));
                    if (!sc.ok()) {
                      return Reply(res, Problem::BadRequest("/scopes/" + std::to_string(i) + ": " + sc.status().message(),
                                                            "/scopes/" + std::to_string(i)));
                    }
                    scopes.push_back(*sc);
                  }
                  if (scopes.empty()) return Reply(res, Problem::BadRequest("/scopes: at least one scope", "/scopes"));
                  Result<std::string> token = rt.tokens().Create(name, scopes);
                  if (!token.ok()) return Reply(res, http::ProblemFromStatus(token.status()));
                  std::string id = token->substr(4, 16);
                  ReplyJson(res, nlohmann::json({{"id", id}, {"token", *token}}).dump(), 201);
                });
  server.Handle({Method::kGet, "/v1/admin/tokens", "/v1/admin/tokens", {auth::Scope::Admin()}, 0},
                [&rt](const httplib::Request&, httplib::Response& res, const auth::Principal&) {
                  Result<std::vector<auth::TokenInfo>> list = rt.tokens().List();
                  if (!list.ok()) return Reply(res, http::ProblemFromStatus(list.status()));
                  nlohmann::json out = nlohmann::json::array();
                  for (const auth::TokenInfo& t : *list) {
                    nlohmann::json scopes = nlohmann::json::array();
                    for (const auth::Scope& s : t.scopes) scopes.push_back(s.Name());
                    nlohmann::json j = {{"id", t.id},
                                        {"name", t.name},
                                        {"scopes", scopes},
                                        {"created_at", FormatTimestampMillis(t.created_millis)}};
                    if (t.revoked_millis) j["revoked_at"] = FormatTimestampMillis(t.revoked_millis);
                    out.push_back(std::move(j));
                  }
                  ReplyJson(res, nlohmann::json({{"tokens", out}}).dump());
                });
  server.Handle({Method::kDelete, R"(/v1/admin/tokens/([0-9a-f]{16}))", "/v1/admin/tokens/{id}",
                 {auth::Scope::Admin()}, 0},
                [&rt](const httplib::Request& req, httplib::Response& res, const auth::Principal&) {
                  Status s = rt.tokens().Revoke(req.matches[1].str());
                  if (!s.ok()) return Reply(res, http::ProblemFromStatus(s));
                  res.status = 204;
                });
}

}  // namespace consentd::api
