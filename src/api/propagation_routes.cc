#include "src/api/propagation_routes.h"

#include <httplib.h>

#include <charconv>

#include "src/propagation/outbox_json.h"

namespace consentd::api {

using http::Method;
using http::Problem;
using http::Reply;
using http::ReplyJson;

namespace {

const std::vector<auth::Scope> kOperators = {auth::Scope::Admin(), auth::Scope::Officer()};

// A decimal id of 1..18 digits (the route patterns guarantee the digits).
int64_t ParseId(const std::string& text) {
  int64_t v = 0;
  std::from_chars(text.data(), text.data() + text.size(), v);
  return v;
}

// 409 (failed-precondition) for a state that forbids the operation.
Problem ProblemOf(const Status& s) { return http::ProblemFromStatus(s); }

// Reads ?system= (optional); a problem when malformed.
std::optional<Problem> SystemParam(const httplib::Request& req, std::string* out) {
  if (!req.has_param("system")) return std::nullopt;
  *out = req.get_param_value("system");
  if (!propagation::IsSystemId(*out)) {
    return Problem::BadRequest("system: a system id ([a-z0-9][a-z0-9_.-]{0,63})", "system");
  }
  return std::nullopt;
}

}  // namespace

void RegisterPropagationRoutes(http::HttpServer& server, propagation::Outbox& outbox,
                               const propagation::Dispatcher* dispatcher, const Clock& clock) {
  server.Handle({Method::kGet, "/v1/admin/outbox", "/v1/admin/outbox", kOperators, 0},
                [&outbox](const httplib::Request& req, httplib::Response& res, const auth::Principal&) {
                  propagation::ListFilter f;
                  for (const auto& [name, value] : req.params) {
                    if (name != "state" && name != "system" && name != "after" && name != "limit") {
                      return Reply(res, Problem::BadRequest(name.size() <= 32 ? name + ": unknown parameter"
                                                                               : "unknown parameter"));
                    }
                  }
                  if (req.has_param("state")) {
                    std::optional<propagation::RowState> st =
                        propagation::ParseRowState(req.get_param_value("state"));
                    if (!st) {
                      return Reply(res, Problem::BadRequest(
                                            "state: one of pending, in_flight, accepted, done, dead, discarded", "state"));
                    }
                    f.state = st;
                  }
                  if (auto p = SystemParam(req, &f.system)) return Reply(res, *p);
                  for (const char* name : {"after", "limit"}) {
                    if (!req.has_param(name)) continue;
                    const std::string v = req.get_param_value(name);
                    int64_t n = -1;
                    auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
                    const bool is_limit = std::string_view(name) == "limit";
                    if (ec != std::errc() || ptr != v.data() + v.size() || n < (is_limit ? 1 : 0) ||
                        (is_limit && n > 1000)) {
                      return Reply(res, Problem::BadRequest(std::string(name) +
                                                                (is_limit ? ": an integer 1..1000" : ": a row id >= 0"),
                                                            name));
                    }
                    if (is_limit) {
                      f.limit = static_cast<size_t>(n);
                    } else {
                      f.after_id = n;
                    }
                  }
                  Result<std::vector<propagation::OutboxRow>> rows = outbox.List(f);
                  if (!rows.ok()) return Reply(res, ProblemOf(rows.status()));
                  nlohmann::json out = nlohmann::json::array();
                  for (const propagation::OutboxRow& r : *rows) out.push_back(propagation::RowJson(r));
                  nlohmann::json j = {{"rows", out}};
                  if (rows->size() == f.limit) j["next_after"] = rows->back().id;
                  ReplyJson(res, j.dump());
                });

  server.Handle({Method::kGet, R"(/v1/admin/outbox/([0-9]{1,18}))", "/v1/admin/outbox/{id}", kOperators, 0},
                [&outbox](const httplib::Request& req, httplib::Response& res, const auth::Principal&) {
                  Result<propagation::OutboxRow> row = outbox.Get(ParseId(req.matches[1].str()));
                  if (!row.ok()) return Reply(res, ProblemOf(row.status()));
                  ReplyJson(res, propagation::RowJson(*row).dump());
                });

  server.Handle({Method::kPost, R"(/v1/admin/outbox/([0-9]{1,18})/replay)", "/v1/admin/outbox/{id}/replay",
                 kOperators, 0},
                [&outbox](const httplib::Request& req, httplib::Response& res, const auth::Principal&) {
                  const int64_t id = ParseId(req.matches[1].str());
                  Status s = outbox.Replay(id);
                  if (!s.ok()) return Reply(res, ProblemOf(s));
                  Result<propagation::OutboxRow> row = outbox.Get(id);
                  if (!row.ok()) return Reply(res, ProblemOf(row.status()));
                  ReplyJson(res, propagation::RowJson(*row).dump());
                });

  server.Handle({Method::kPost, R"(/v1/admin/outbox/([0-9]{1,18})/discard)", "/v1/admin/outbox/{id}/discard",
                 kOperators, 0},
                [&outbox](const httplib::Request& req, httplib::Response& res, const auth::Principal&) {
                  const int64_t id = ParseId(req.matches[1].str());
                  Result<service::DeliveryOutcome> out = outbox.Discard(id);
                  if (!out.ok()) return Reply(res, ProblemOf(out.status()));
                  Result<propagation::OutboxRow> row = outbox.Get(id);
                  if (!row.ok()) return Reply(res, ProblemOf(row.status()));
                  ReplyJson(res, propagation::RowJson(*row).dump());
                });

  server.Handle({Method::kPost, "/v1/admin/dead-letters/replay", "/v1/admin/dead-letters/replay", kOperators, 0},
                [&outbox](const httplib::Request& req, httplib::Response& res, const auth::Principal&) {
                  std::string system;
                  if (auto p = SystemParam(req, &system)) return Reply(res, *p);
                  Result<int64_t> n = outbox.ReplayDead(system);
                  if (!n.ok()) return Reply(res, ProblemOf(n.status()));
                  ReplyJson(res, nlohmann::json({{"replayed", *n}}).dump());
                });

  auto systems_json = [&outbox, dispatcher, &clock]() -> Result<nlohmann::json> {
    Result<std::vector<propagation::SystemStatus>> all = outbox.Systems();
    if (!all.ok()) return all.status();
    std::vector<propagation::LaneInfo> lanes;
    if (dispatcher) lanes = dispatcher->Lanes();
    nlohmann::json out = nlohmann::json::array();
    for (const propagation::SystemStatus& s : *all) {
      nlohmann::json j = propagation::SystemStatusJson(s, clock.NowMillis());
      for (const propagation::LaneInfo& l : lanes) {
        if (l.system != s.system) continue;
        j["available"] = l.available;
        if (!l.available) j["unavailable_reason"] = l.unavailable_reason;
      }
      out.push_back(std::move(j));
    }
    return out;
  };

  server.Handle({Method::kGet, "/v1/admin/systems", "/v1/admin/systems", kOperators, 0},
                [systems_json](const httplib::Request&, httplib::Response& res, const auth::Principal&) {
                  Result<nlohmann::json> all = systems_json();
                  if (!all.ok()) return Reply(res, ProblemOf(all.status()));
                  ReplyJson(res, nlohmann::json({{"systems", *all}}).dump());
                });

  server.Handle({Method::kPost, R"(/v1/admin/systems/([a-z0-9][a-z0-9_.-]{0,63})/(pause|resume))",
                 "/v1/admin/systems/{id}/{action}", kOperators, 0},
                [&outbox, &clock](const httplib::Request& req, httplib::Response& res, const auth::Principal&) {
                  const std::string system = req.matches[1].str();
                  Status s = outbox.SetPaused(system, req.matches[2].str() == "pause");
                  if (!s.ok()) return Reply(res, ProblemOf(s));
                  Result<propagation::SystemStatus> st = outbox.StatusOf(system);
                  if (!st.ok()) return Reply(res, ProblemOf(st.status()));
                  ReplyJson(res, propagation::SystemStatusJson(*st, clock.NowMillis()).dump());
                });
}

}  // namespace consentd::api
