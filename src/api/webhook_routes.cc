#include "src/api/webhook_routes.h"

#include <httplib.h>

#include <nlohmann/json.hpp>

#include "src/base/time_format.h"

namespace consentd::api {
namespace {

using http::Method;
using http::Problem;

constexpr const char* kInstance = "([a-z0-9][a-z0-9_.-]{0,63})";
const std::vector<auth::Scope> kOfficer = {auth::Scope::Officer()};

// The request as the verifiers see it: raw body, headers, and the URL the
// sender called (HubSpot v3 signs it): scheme from X-Forwarded-Proto or the
// server's own, host from X-Forwarded-Host or Host; "https" is tried too,
// for TLS terminated by a proxy that sets neither.
adapters::WebhookRequest ToWebhookRequest(const httplib::Request& req, bool tls, std::string path_secret) {
  adapters::WebhookRequest w;
  w.method = req.method;
  w.body = req.body;
  w.path_secret = std::move(path_secret);
  for (const auto& [name, value] : req.headers) w.headers.emplace(name, value);
  std::string scheme = req.get_header_value("X-Forwarded-Proto");
  if (scheme != "http" && scheme != "https") scheme = tls ? "https" : "http";
  std::string host = req.get_header_value("X-Forwarded-Host");
  if (host.empty()) host = req.get_header_value("Host");
  std::string target = req.target.empty() ? req.path : req.target;
  w.urls.push_back(scheme + "://" + host + target);
  if (scheme != "https") w.urls.push_back("https://" + host + target);
  return w;
}

void Answer(httplib::Response& res, const ingest::IngestReply& r) {
  if (r.problem) return http::Reply(res, *r.problem);
  http::ReplyJson(res, r.json, r.status);
}

}  // namespace

void RegisterWebhookRoutes(http::HttpServer& server, ingest::WebhookIngest& ingest, size_t max_body_bytes, bool tls) {
  // No scopes: the system's own scheme authorises (checked by the ingest).
  server.Handle({Method::kPost, std::string("/v1/webhooks/([a-z]+)/") + kInstance, "/v1/webhooks/{kind}/{instance}",
                 {}, max_body_bytes},
                [&ingest, tls](const httplib::Request& req, httplib::Response& res, const auth::Principal&) {
                  std::string secret = req.get_param_value("secret");
                  Answer(res, ingest.Handle(req.matches[1].str(), req.matches[2].str(),
                                            ToWebhookRequest(req, tls, secret)));
                });
  // Mailchimp: the secret as a path segment, and the GET validation of both forms.
  server.Handle({Method::kPost, std::string("/v1/webhooks/mailchimp/") + kInstance + "/([A-Za-z0-9_.~-]{1,256})",
                 "/v1/webhooks/mailchimp/{instance}/{secret}", {}, max_body_bytes},
                [&ingest, tls](const httplib::Request& req, httplib::Response& res, const auth::Principal&) {
                  Answer(res, ingest.Handle("mailchimp", req.matches[1].str(),
                                            ToWebhookRequest(req, tls, req.matches[2].str())));
                });
  server.Handle({Method::kGet, std::string("/v1/webhooks/mailchimp/") + kInstance,
                 "/v1/webhooks/mailchimp/{instance}", {}, 0},
                [&ingest, tls](const httplib::Request& req, httplib::Response& res, const auth::Principal&) {
                  Answer(res, ingest.Handle("mailchimp", req.matches[1].str(),
                                            ToWebhookRequest(req, tls, req.get_param_value("secret"))));
                });
  server.Handle({Method::kGet, std::string("/v1/webhooks/mailchimp/") + kInstance + "/([A-Za-z0-9_.~-]{1,256})",
                 "/v1/webhooks/mailchimp/{instance}/{secret}", {}, 0},
                [&ingest, tls](const httplib::Request& req, httplib::Response& res, const auth::Principal&) {
                  Answer(res, ingest.Handle("mailchimp", req.matches[1].str(),
                                            ToWebhookRequest(req, tls, req.matches[2].str())));
                });
  server.Handle({Method::kGet, "/v1/access-requests", "/v1/access-requests", kOfficer, 0},
                [&ingest](const httplib::Request& req, httplib::Response& res, const auth::Principal&) {
                  size_t limit = 100;
                  if (req.has_param("limit")) {
                    std::string l = req.get_param_value("limit");
                    if (l.empty() || l.size() > 4 || l.find_first_not_of("0123456789") != std::string::npos ||
                        std::stoul(l) == 0 || std::stoul(l) > 1000) {
                      return http::Reply(res, Problem::BadRequest("limit: 1..1000", "/limit"));
                    }
                    limit = std::stoul(l);
                  }
                  Result<std::vector<ingest::AccessRequest>> list = ingest.access_requests().List(limit);
                  if (!list.ok()) return http::Reply(res, http::ProblemFromStatus(list.status()));
                  nlohmann::json out = nlohmann::json::array();
                  for (const ingest::AccessRequest& r : *list) {
                    nlohmann::json j = {{"id", r.id},
                                        {"kind", r.kind},
                                        {"system", r.system},
                                        {"reference", r.reference},
                                        {"received_at", FormatTimestampMillis(r.received_ms)},
                                        {"seq", r.seq}};
                    j["sid"] = r.sid ? nlohmann::json(r.sid->ToHex()) : nlohmann::json(nullptr);
                    out.push_back(std::move(j));
                  }
                  res.set_header("Cache-Control", "no-store");
                  http::ReplyJson(res, nlohmann::json({{"requests", out}}).dump());
                });
}

}  // namespace consentd::api
