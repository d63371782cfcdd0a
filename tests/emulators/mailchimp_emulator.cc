// The Mailchimp Marketing API v3 emulator (downstream-apis.md §6): audience
// members by subscriber hash, their statuses, the compliance state, permanent
// deletion, problem+json errors and the 10-connection limit.
//
// Routes (HTTP Basic, any user, password = the API key; default key
// "test-key-us6"):
//   GET   /3.0/lists/{list}/members/{hash}                          200 member | 404
//   PUT   /3.0/lists/{list}/members/{hash}   upsert (status_if_new)  200 member | 400
//   PATCH /3.0/lists/{list}/members/{hash}   update                  200 member | 404 | 400
//   POST  /3.0/lists/{list}/members          add                     200 member | 400 "Member Exists"
//   POST  /3.0/lists/{list}/members/{hash}/actions/delete-permanent  204 | 404
// Lists exist implicitly (any id). The hash in the path must be the MD5 of
// the lower-cased email_address of the body when the body names one.
//
// Behaviour worth knowing:
//   - a member that is "unsubscribed" or "cleaned" cannot be set to
//     "subscribed" through the API: 400 "Member In Compliance State" (status
//     "pending", a double opt-in, is accepted);
//   - a permanently deleted email cannot be added again: 400 "Forgotten
//     Email Not Subscribed" (Mailchimp's behaviour);
//   - more than `max_connections` (10) requests in flight: 429 "Too Many
//     Requests" (no Retry-After: Mailchimp sends none); the rate-limit and
//     throttle_next faults answer the same way;
//   - expire_tokens / a wrong key: 401 "API Key Invalid".
//
// /_emulator/state:
//   {"members":[{"list_id":"L","id":"<hash>","email_address":"a@b.com","status":"subscribed",
//                "marketing_permissions":{"<permission id>":true}}],      (sorted by list, hash)
//    "forgotten":[{"list_id":"L","id":"<hash>"}],
//    "compliance_refusals":N, "forgotten_refusals":N, "concurrency_refusals":N}
// /_emulator/seed (all members optional):
//   {"api_key":"k", "max_connections":10,
//    "members":[{"list_id":"L","email_address":"a@b.com","status":"unsubscribed",
//                "marketing_permissions":{"p1":false}}]}
// A malformed answer is the framework's malformed_next fault.
#include <openssl/evp.h>

#include <cctype>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>

#include "src/base/bytes.h"
#include "tests/emulators/emulator.h"

namespace consentd::emulators {

namespace {

using nlohmann::json;

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string Md5Hex(const std::string& s) {
  unsigned char d[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(s.data(), s.size(), d, &n, EVP_md5(), nullptr);
  return HexEncode(ByteView(d, n));
}

void Problem(httplib::Response& res, int status, const std::string& title, const std::string& detail) {
  res.status = status;
  json body = {{"type", "https://mailchimp.com/developer/marketing/docs/errors/"},
               {"title", title},
               {"status", status},
               {"detail", detail},
               {"instance", "995c5cb0-3280-4a6e-808b-3b096d0bb219"}};
  res.set_content(body.dump(), "application/problem+json");
}

struct Member {
  std::string email;
  std::string status;
  std::map<std::string, bool> permissions;
};

bool ValidStatus(const std::string& s) {
  return s == "subscribed" || s == "unsubscribed" || s == "cleaned" || s == "pending" || s == "transactional";
}

struct MailchimpState {
  std::string api_key = "test-key-us6";
  int max_connections = 10;
  std::map<std::pair<std::string, std::string>, Member> members;  // (list, hash)
  std::set<std::pair<std::string, std::string>> forgotten;
  int compliance_refusals = 0;
  int forgotten_refusals = 0;
  int concurrency_refusals = 0;

  json MemberJson(const std::string& list, const std::string& hash, const Member& m) const {
    json perms = json::array();
    for (const auto& [id, enabled] : m.permissions) {
      perms.push_back({{"marketing_permission_id", id}, {"text", "Email"}, {"enabled", enabled}});
    }
    return {{"id", hash},          {"email_address", m.email}, {"unique_email_id", hash.substr(0, 10)},
            {"status", m.status},  {"list_id", list},          {"marketing_permissions", perms},
            {"email_type", "html"}, {"last_changed", "2024-01-01T00:00:00+00:00"}};
  }
};

// Applies a JSON permissions array [{marketing_permission_id, enabled}].
bool ApplyPermissions(const json& body, Member* m) {
  if (!body.contains("marketing_permissions")) return true;
  const json& perms = body["marketing_permissions"];
  if (!perms.is_array()) return false;
  for (const json& p : perms) {
    if (!p.is_object() || !p.contains("marketing_permission_id") || !p["marketing_permission_id"].is_string() ||
        !p.contains("enabled") || !p["enabled"].is_boolean()) {
      return false;
    }
    m->permissions[p["marketing_permission_id"].get<std::string>()] = p["enabled"].get<bool>();
  }
  return true;
}

}  // namespace

void RegisterMailchimp(Emulator& emu) {
  auto st = std::make_shared<MailchimpState>();
  // More workers than the limit, so that the 11th request is seen (and refused).
  emu.server().new_task_queue = [] { return new httplib::ThreadPool(24); };

  emu.SetAuth(
      [st, &emu](const httplib::Request& req, bool expired) {
        if (expired) return false;
        std::string auth = req.get_header_value("Authorization");
        if (auth.rfind("Basic ", 0) != 0) return false;
        Result<std::string> decoded = Base64Decode(auth.substr(6));
        if (!decoded.ok()) return false;
        size_t colon = decoded->find(':');
        if (colon == std::string::npos) return false;
        std::lock_guard<std::mutex> lock(emu.mu());
        return ConstantTimeEquals(decoded->substr(colon + 1), st->api_key);
      },
      [](const httplib::Request&, httplib::Response& res) {
        Problem(res, 401, "API Key Invalid",
                "Your API key may be invalid, or you've attempted to access the wrong datacenter.");
      });
  emu.SetThrottleWriter([](httplib::Response& res, const std::string&) {
    Problem(res, 429, "Too Many Requests", "You have exceeded the limit of 10 simultaneous connections.");
  });
  emu.SetStateFn([st] {
    json members = json::array();
    for (const auto& [key, m] : st->members) {
      members.push_back({{"list_id", key.first},
                         {"id", key.second},
                         {"email_address", m.email},
                         {"status", m.status},
                         {"marketing_permissions", m.permissions}});
    }
    json forgotten = json::array();
    for (const auto& [list, hash] : st->forgotten) forgotten.push_back({{"list_id", list}, {"id", hash}});
    return json{{"members", members},
                {"forgotten", forgotten},
                {"compliance_refusals", st->compliance_refusals},
                {"forgotten_refusals", st->forgotten_refusals},
                {"concurrency_refusals", st->concurrency_refusals}};
  });
  emu.SetSeedFn([st](const json& seed) {
    if (!seed.is_object()) return false;
    if (seed.contains("api_key")) st->api_key = seed.value("api_key", st->api_key);
    if (seed.contains("max_connections")) st->max_connections = seed.value("max_connections", 10);
    for (const json& m : seed.value("members", json::array())) {
      if (!m.is_object() || !m.contains("list_id") || !m.contains("email_address")) return false;
      Member member;
      member.email = m["email_address"].get<std::string>();
      member.status = m.value("status", std::string("subscribed"));
      if (!ValidStatus(member.status)) return false;
      const json perms = m.value("marketing_permissions", json::object());
      for (const auto& [id, enabled] : perms.items()) {
        member.permissions[id] = enabled.get<bool>();
      }
      st->members[{m["list_id"].get<std::string>(), Md5Hex(Lower(member.email))}] = member;
    }
    return true;
  });
  emu.SetResetFn([st] { *st = MailchimpState(); });

  // Runs `fn` under the state lock unless the connection limit answers first.
  auto guarded = [st, &emu](auto fn) {
    return [st, &emu, fn](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard<std::mutex> lock(emu.mu());
      if (emu.in_flight() > st->max_connections) {
        ++st->concurrency_refusals;
        return Problem(res, 429, "Too Many Requests", "You have exceeded the limit of 10 simultaneous connections.");
      }
      fn(req, res);
    };
  };

  // Parses the body; checks that it names the member of the path.
  auto parse = [](const httplib::Request& req, httplib::Response& res, const std::string& hash, json* body) {
    *body = json::parse(req.body, nullptr, false);
    if (!body->is_object()) {
      Problem(res, 400, "JSON Parse Error", "We encountered an unspecified JSON parsing error.");
      return false;
    }
    if (body->contains("email_address")) {
      if (!(*body)["email_address"].is_string() ||
          Md5Hex(Lower((*body)["email_address"].get<std::string>())) != hash) {
        Problem(res, 400, "Invalid Resource", "The resource submitted could not be validated.");
        return false;
      }
    }
    if (body->contains("status") && (!(*body)["status"].is_string() || !ValidStatus((*body)["status"]))) {
      Problem(res, 400, "Invalid Resource", "The resource submitted could not be validated.");
      return false;
    }
    return true;
  };

  // Sets `m`'s status, refusing a re-subscribe of a member in compliance state.
  auto set_status = [st](httplib::Response& res, Member* m, const std::string& status) {
    if (status == "subscribed" && (m->status == "unsubscribed" || m->status == "cleaned")) {
      ++st->compliance_refusals;
      Problem(res, 400, "Member In Compliance State",
              m->email + " is in a compliance state due to unsubscribe, bounce, or compliance review and cannot "
                         "be subscribed.");
      return false;
    }
    m->status = status;
    return true;
  };

  const std::string member_path = R"(/3\.0/lists/([A-Za-z0-9_-]+)/members/([0-9a-f]{32}))";

  emu.Route("GET", member_path, guarded([st](const httplib::Request& req, httplib::Response& res) {
              auto it = st->members.find({req.matches[1], req.matches[2]});
              if (it == st->members.end()) {
                return Problem(res, 404, "Resource Not Found", "The requested resource could not be found.");
              }
              res.set_content(st->MemberJson(req.matches[1], req.matches[2], it->second).dump(), "application/json");
            }));

  emu.Route("PUT", member_path,
            guarded([st, parse, set_status](const httplib::Request& req, httplib::Response& res) {
              const std::string list = req.matches[1], hash = req.matches[2];
              json body;
              if (!parse(req, res, hash, &body)) return;
              auto it = st->members.find({list, hash});
              if (it == st->members.end()) {
                if (st->forgotten.count({list, hash})) {
                  ++st->forgotten_refusals;
                  return Problem(res, 400, "Forgotten Email Not Subscribed",
                                 body.value("email_address", std::string()) +
                                     " was permanently deleted and cannot be re-imported. The contact must "
                                     "re-subscribe to get back on the list.");
                }
                if (!body.contains("email_address") || !body.contains("status_if_new") ||
                    !body["status_if_new"].is_string() || !ValidStatus(body["status_if_new"])) {
                  return Problem(res, 400, "Invalid Resource", "The resource submitted could not be validated.");
                }
                Member m;
                m.email = body["email_address"].get<std::string>();
                m.status = body["status_if_new"].get<std::string>();
                if (!ApplyPermissions(body, &m)) {
                  return Problem(res, 400, "Invalid Resource", "The resource submitted could not be validated.");
                }
                it = st->members.emplace(std::make_pair(list, hash), m).first;
              } else {
                Member m = it->second;
                if (!ApplyPermissions(body, &m)) {
                  return Problem(res, 400, "Invalid Resource", "The resource submitted could not be validated.");
                }
                if (body.contains("status") && !set_status(res, &m, body["status"].get<std::string>())) return;
                it->second = m;
              }
              res.set_content(st->MemberJson(list, hash, it->second).dump(), "application/json");
            }));

  emu.Route("PATCH", member_path,
            guarded([st, parse, set_status](const httplib::Request& req, httplib::Response& res) {
              const std::string list = req.matches[1], hash = req.matches[2];
              json body;
              if (!parse(req, res, hash, &body)) return;
              auto it = st->members.find({list, hash});
              if (it == st->members.end()) {
                return Problem(res, 404, "Resource Not Found", "The requested resource could not be found.");
              }
              Member m = it->second;
              if (!ApplyPermissions(body, &m)) {
                return Problem(res, 400, "Invalid Resource", "The resource submitted could not be validated.");
              }
              if (body.contains("status") && !set_status(res, &m, body["status"].get<std::string>())) return;
              it->second = m;
              res.set_content(st->MemberJson(list, hash, it->second).dump(), "application/json");
            }));

  emu.Route("POST", R"(/3\.0/lists/([A-Za-z0-9_-]+)/members)",
            guarded([st](const httplib::Request& req, httplib::Response& res) {
              const std::string list = req.matches[1];
              json body = json::parse(req.body, nullptr, false);
              if (!body.is_object() || !body.contains("email_address") || !body["email_address"].is_string() ||
                  !body.contains("status") || !body["status"].is_string() || !ValidStatus(body["status"])) {
                return Problem(res, 400, "Invalid Resource", "The resource submitted could not be validated.");
              }
              Member m;
              m.email = body["email_address"].get<std::string>();
              m.status = body["status"].get<std::string>();
              const std::string hash = Md5Hex(Lower(m.email));
              if (st->forgotten.count({list, hash})) {
                ++st->forgotten_refusals;
                return Problem(res, 400, "Forgotten Email Not Subscribed",
                               m.email + " was permanently deleted and cannot be re-imported.");
              }
              if (st->members.count({list, hash})) {
                return Problem(res, 400, "Member Exists", m.email + " is already a list member.");
              }
              if (!ApplyPermissions(body, &m)) {
                return Problem(res, 400, "Invalid Resource", "The resource submitted could not be validated.");
              }
              st->members[{list, hash}] = m;
              res.set_content(st->MemberJson(list, hash, m).dump(), "application/json");
            }));

  emu.Route("POST", member_path + "/actions/delete-permanent",
            guarded([st](const httplib::Request& req, httplib::Response& res) {
              auto key = std::make_pair(std::string(req.matches[1]), std::string(req.matches[2]));
              if (st->members.erase(key) == 0) {
                return Problem(res, 404, "Resource Not Found", "The requested resource could not be found.");
              }
              st->forgotten.insert(key);
              res.status = 204;
            }));
}

}  // namespace consentd::emulators
