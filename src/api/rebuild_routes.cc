#include "src/api/rebuild_routes.h"

#include <httplib.h>

#include <atomic>

#include "src/api/json_body.h"
#include "src/service/rebuild.h"

namespace consentd::api {

using http::Method;
using http::Problem;
using http::Reply;
using http::ReplyJson;

void RegisterRebuildRoutes(http::HttpServer& server, service::Runtime& rt) {
  // One check at a time: each holds the whole projection in memory.
  static std::atomic<bool> running{false};
  server.Handle(
      {Method::kPost, "/v1/admin/rebuild-check", "/v1/admin/rebuild-check", {auth::Scope::Admin()}, 0},
      [&rt](const httplib::Request& req, httplib::Response& res, const auth::Principal&) {
        service::RebuildOptions o;
        if (!req.body.empty()) {
          nlohmann::json body;
          if (auto p = ParseObject(req.body, &body)) return Reply(res, *p);
          BodyReader r(body);
          int64_t max_listed = static_cast<int64_t>(o.max_listed);
          r.Int("max_listed", &max_listed, false, 0, 100000);
          r.RejectUnknown();
          if (!r.ok()) return Reply(res, *r.problem());
          o.max_listed = static_cast<size_t>(max_listed);
        }
        if (running.exchange(true)) return Reply(res, Problem::Unavailable("a rebuild check is running"));
        Result<service::RebuildReport> report =
            service::CheckConsentProjection(rt.config().database_path(), *rt.policy(), o);
        running = false;
        if (!report.ok()) return Reply(res, http::ProblemFromStatus(report.status()));
        nlohmann::json diffs = nlohmann::json::array();
        for (const service::ProjectionDifference& d : report->differences) {
          diffs.push_back({{"sid", d.sid.ToHex()},
                           {"purpose", d.purpose},
                           {"field", d.field},
                           {"ledger", d.ledger},
                           {"table", d.table}});
        }
        nlohmann::json j = {{"equal", report->equal()},
                            {"ledger_size", report->ledger_size},
                            {"consent_entries", report->consent_entries},
                            {"merges", report->merges},
                            {"rows_rebuilt", report->rows_rebuilt},
                            {"rows_live", report->rows_live},
                            {"rank_unverified", report->rank_unverified},
                            {"total_differences", report->total_differences},
                            {"differences", diffs}};
        ReplyJson(res, j.dump());
      });
}

}  // namespace consentd::api
