// The HubSpot emulator (downstream-apis.md §3): contacts, subscription
// statuses per email and subscription type (communication preferences v3
// and v4), GDPR delete with its blocklist of deleted addresses, and
// HubSpot's error shapes.
//
// Routes (Authorization: Bearer <token>):
//   POST /communication-preferences/v4/statuses/{email}   {"channel":"EMAIL","statusState":..,"subscriptionId":N,..}
//   GET  /communication-preferences/v4/statuses/{email}?channel=EMAIL
//   POST /communication-preferences/v3/subscribe | /unsubscribe  {"emailAddress":..,"subscriptionId":"N",..}
//   POST /crm/v3/objects/contacts/gdpr-delete   {"objectId":id} or {"objectId":email,"idProperty":"email"} -> 204
//   GET  /crm/v3/objects/contacts/{id}  or  /{email}?idProperty=email
//
// Behaviour:
//   - v3 subscribe of an address whose status is NOT_SUBSCRIBED (it opted
//     out) -> 400 VALIDATION_ERROR (v3 cannot re-subscribe; the 400 is
//     UNCONFIRMED); v4 can re-subscribe.
//   - gdpr-delete by email deletes every contact with the address and adds
//     the address to the blocklist even when no contact had it (204); by id,
//     an unknown id -> 404 OBJECT_NOT_FOUND. The address's subscription
//     statuses go with it.
//   - status writes for a blocklisted address -> 400 VALIDATION_ERROR (the
//     emulator's choice: the reference only says the address cannot be
//     re-created).
//   - auth: any non-empty bearer token, or exactly the seeded access_token;
//     expire_tokens -> 401 {"status":"error","category":"INVALID_AUTHENTICATION",..}
//     until the fault is cleared (HubSpot private-app tokens cannot be refreshed).
//   - throttled -> 429 {"status":"error","errorType":"RATE_LIMIT","policyName":<throttle_policy>,..}
//     with Retry-After unless the fault's retry_after is "".
//   - subscriptionId must be one of the seeded subscription_types when any are seeded.
//
// State (GET /_emulator/state):
//   {"contacts":[{"id":"101","email":"a@b.com"}],              live contacts, id order
//    "subscriptions":{"a@b.com":{"7":"SUBSCRIBED"}},           current status per address and type
//    "history":[{"email":..,"subscription_id":"7","status":"NOT_SUBSCRIBED","api":"v4"}],  applied writes, in order
//    "blocklist":["a@b.com"],                                   GDPR-deleted addresses, sorted
//    "gdpr_deleted":["101"],                                    contact ids removed by gdpr-delete, in order
//    "gdpr_delete_requests":N}
// Seed (POST /_emulator/seed, every member optional):
//   {"contacts":[{"id":"101","email":"a@b.com"}], "subscriptions":{"a@b.com":{"7":"NOT_SUBSCRIBED"}},
//    "blocklist":["x@y.com"], "subscription_types":["7"], "access_token":"pat-...",
//    "throttle_policy":"TEN_SECONDLY_ROLLING"|"DAILY"}
#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "tests/emulators/emulator.h"

namespace consentd::emulators {

namespace {

using nlohmann::json;

const std::set<std::string>& LegalBases() {
  static const std::set<std::string> bases = {"LEGITIMATE_INTEREST_PQL",  "LEGITIMATE_INTEREST_CLIENT",
                                              "PERFORMANCE_OF_CONTRACT",  "CONSENT_WITH_NOTICE",
                                              "NON_GDPR",                 "PROCESS_AND_STORE",
                                              "LEGITIMATE_INTEREST_OTHER"};
  return bases;
}

std::string Lower(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

void Error(httplib::Response& res, int status, const std::string& category, const std::string& message) {
  res.status = status;
  json body = {{"status", "error"},
               {"message", message},
               {"correlationId", "00000000-0000-4000-8000-000000000000"},
               {"category", category}};
  res.set_content(body.dump(), "application/json");
}

struct HubSpotState {
  std::map<uint64_t, std::string> contacts;                          // id -> email (lower-case)
  std::map<std::string, std::map<std::string, std::string>> subs;   // email -> subscription id -> status
  json history = json::array();
  std::set<std::string> blocklist;
  std::vector<std::string> gdpr_deleted;
  int64_t gdpr_delete_requests = 0;
  std::set<std::string> subscription_types;  // empty: any
  std::string access_token;                   // empty: any non-empty token
  std::string throttle_policy = "TEN_SECONDLY_ROLLING";
};

}  // namespace

void RegisterHubSpot(Emulator& emu) {
  auto st = std::make_shared<HubSpotState>();

  emu.SetAuth(
      [&emu, st](const httplib::Request& req, bool expired) {
        if (expired) return false;
        const std::string h = req.get_header_value("Authorization");
        if (h.rfind("Bearer ", 0) != 0 || h.size() == 7) return false;
        std::lock_guard<std::mutex> lock(emu.mu());
        return st->access_token.empty() || h.substr(7) == st->access_token;
      },
      [](const httplib::Request&, httplib::Response& res) {
        Error(res, 401, "INVALID_AUTHENTICATION",
              "Authentication credentials not found. This API supports OAuth 2.0 authentication.");
      });

  emu.SetThrottleWriter([&emu, st](httplib::Response& res, const std::string& retry_after) {
    std::string policy;
    {
      std::lock_guard<std::mutex> lock(emu.mu());
      policy = st->throttle_policy;
    }
    std::string lower = Lower(policy);
    json body = {{"status", "error"},
                 {"message", "You have reached your " + lower + " limit."},
                 {"errorType", "RATE_LIMIT"},
                 {"correlationId", "c033cdaa-2c40-4a64-ae48-b4cec88dad24"},
                 {"policyName", policy},
                 {"requestId", "3d3e35b7-0dae-4b9f-a6e3-9c230cbcf8dd"}};
    res.status = 429;
    if (!retry_after.empty()) res.set_header("Retry-After", retry_after);
    res.set_content(body.dump(), "application/json");
  });

  // Applies one status write; false with the error written when refused.
  auto write_status = [st](const std::string& email, const std::string& sub_id, const std::string& status,
                           const std::string& api, httplib::Response& res) {
    if (email.find('@') == std::string::npos) {
      Error(res, 400, "VALIDATION_ERROR", "Invalid email address");
      return false;
    }
    if (!st->subscription_types.empty() && st->subscription_types.count(sub_id) == 0) {
      Error(res, 400, "VALIDATION_ERROR", "Unknown subscription id " + sub_id);
      return false;
    }
    if (st->blocklist.count(email) > 0) {
      Error(res, 400, "VALIDATION_ERROR", "The email address was permanently deleted (GDPR) and is blocklisted");
      return false;
    }
    st->subs[email][sub_id] = status;
    st->history.push_back({{"email", email}, {"subscription_id", sub_id}, {"status", status}, {"api", api}});
    return true;
  };

  auto check_legal_basis = [](const json& body, httplib::Response& res) {
    if (body.contains("legalBasis") &&
        (!body["legalBasis"].is_string() || LegalBases().count(body["legalBasis"].get<std::string>()) == 0)) {
      Error(res, 400, "VALIDATION_ERROR", "Invalid legalBasis");
      return false;
    }
    return true;
  };

  emu.Route("POST", R"(/communication-preferences/v4/statuses/([^/]+))",
            [&emu, st, write_status, check_legal_basis](const httplib::Request& req, httplib::Response& res) {
              json body = json::parse(req.body, nullptr, false);
              if (!body.is_object()) return Error(res, 400, "VALIDATION_ERROR", "Invalid input JSON");
              if (!check_legal_basis(body, res)) return;
              const std::string state = body.value("statusState", std::string());
              if (body.value("channel", std::string()) != "EMAIL" ||
                  (state != "SUBSCRIBED" && state != "NOT_SUBSCRIBED" && state != "NOT_SPECIFIED") ||
                  !body.contains("subscriptionId") || !body["subscriptionId"].is_number_integer()) {
                return Error(res, 400, "VALIDATION_ERROR", "Invalid status update");
              }
              const std::string email = Lower(req.matches[1].str());
              const std::string sub_id = std::to_string(body["subscriptionId"].get<int64_t>());
              std::lock_guard<std::mutex> lock(emu.mu());
              if (!write_status(email, sub_id, state, "v4", res)) return;
              json result = {{"channel", "EMAIL"},
                             {"status", state},
                             {"subscriberIdString", email},
                             {"subscriptionId", body["subscriptionId"]},
                             {"legalBasis", body.value("legalBasis", std::string())},
                             {"legalBasisExplanation", body.value("legalBasisExplanation", std::string())},
                             {"source", "PUBLIC_STATUS_API"},
                             {"timestamp", "2025-01-01T00:00:00Z"},
                             {"setStatusSuccessReason", "RESUBSCRIBE_OCCURRED"}};
              res.status = 200;
              res.set_content(json{{"status", "COMPLETE"},
                                   {"results", json::array({result})},
                                   {"startedAt", "2025-01-01T00:00:00Z"},
                                   {"completedAt", "2025-01-01T00:00:00Z"}}
                                  .dump(),
                              "application/json");
            });

  emu.Route("GET", R"(/communication-preferences/v4/statuses/([^/]+))",
            [&emu, st](const httplib::Request& req, httplib::Response& res) {
              const std::string email = Lower(req.matches[1].str());
              json results = json::array();
              std::lock_guard<std::mutex> lock(emu.mu());
              auto it = st->subs.find(email);
              if (it != st->subs.end()) {
                for (const auto& [id, status] : it->second) {
                  results.push_back({{"channel", "EMAIL"},
                                     {"status", status},
                                     {"subscriberIdString", email},
                                     {"subscriptionId", std::stoll(id)}});
                }
              }
              res.status = 200;
              res.set_content(json{{"status", "COMPLETE"}, {"results", results}}.dump(), "application/json");
            });

  for (const bool subscribe : {true, false}) {
    emu.Route("POST", subscribe ? "/communication-preferences/v3/subscribe" : "/communication-preferences/v3/unsubscribe",
              [&emu, st, subscribe, write_status, check_legal_basis](const httplib::Request& req,
                                                                      httplib::Response& res) {
                json body = json::parse(req.body, nullptr, false);
                if (!body.is_object()) return Error(res, 400, "VALIDATION_ERROR", "Invalid input JSON");
                if (!check_legal_basis(body, res)) return;
                if (!body.contains("emailAddress") || !body["emailAddress"].is_string() ||
                    !body.contains("subscriptionId") || !body["subscriptionId"].is_string()) {
                  return Error(res, 400, "VALIDATION_ERROR", "emailAddress and subscriptionId are required");
                }
                const std::string email = Lower(body["emailAddress"].get<std::string>());
                const std::string sub_id = body["subscriptionId"].get<std::string>();
                std::lock_guard<std::mutex> lock(emu.mu());
                auto it = st->subs.find(email);
                if (subscribe && it != st->subs.end()) {
                  auto s = it->second.find(sub_id);
                  if (s != it->second.end() && s->second == "NOT_SUBSCRIBED") {
                    return Error(res, 400, "VALIDATION_ERROR",
                                 email + " has opted out and cannot be re-subscribed through this API");
                  }
                }
                const std::string status = subscribe ? "SUBSCRIBED" : "NOT_SUBSCRIBED";
                if (!write_status(email, sub_id, status, "v3", res)) return;
                res.status = 200;
                res.set_content(json{{"id", sub_id},
                                     {"name", "Subscription " + sub_id},
                                     {"description", ""},
                                     {"status", status},
                                     {"sourceOfStatus", "SUBSCRIPTION_STATUS"},
                                     {"brandId", nullptr},
                                     {"preferenceGroupName", nullptr},
                                     {"legalBasis", body.value("legalBasis", std::string())},
                                     {"legalBasisExplanation", body.value("legalBasisExplanation", std::string())}}
                                    .dump(),
                                "application/json");
              });
  }

  emu.Route("POST", "/crm/v3/objects/contacts/gdpr-delete", [&emu, st](const httplib::Request& req,
                                                                        httplib::Response& res) {
    json body = json::parse(req.body, nullptr, false);
    if (!body.is_object() || !body.contains("objectId") || !body["objectId"].is_string()) {
      return Error(res, 400, "VALIDATION_ERROR", "objectId is required");
    }
    const std::string object_id = body["objectId"].get<std::string>();
    const std::string id_property = body.value("idProperty", std::string());
    std::lock_guard<std::mutex> lock(emu.mu());
    ++st->gdpr_delete_requests;
    std::string email;
    if (id_property == "email") {
      email = Lower(object_id);
      if (email.find('@') == std::string::npos) return Error(res, 400, "VALIDATION_ERROR", "Invalid email");
    } else if (!id_property.empty()) {
      return Error(res, 400, "VALIDATION_ERROR", "Unsupported idProperty");
    } else {
      uint64_t id = 0;
      try {
        id = std::stoull(object_id);
      } catch (const std::exception&) {
        return Error(res, 404, "OBJECT_NOT_FOUND", "Object not found. objectId are usually numeric.");
      }
      auto it = st->contacts.find(id);
      if (it == st->contacts.end()) {
        return Error(res, 404, "OBJECT_NOT_FOUND", "Object not found. objectId are usually numeric.");
      }
      email = it->second;
    }
    for (auto it = st->contacts.begin(); it != st->contacts.end();) {
      if (it->second == email) {
        st->gdpr_deleted.push_back(std::to_string(it->first));
        it = st->contacts.erase(it);
      } else {
        ++it;
      }
    }
    st->subs.erase(email);
    st->blocklist.insert(email);
    res.status = 204;
  });

  emu.Route("GET", R"(/crm/v3/objects/contacts/([^/]+))", [&emu, st](const httplib::Request& req,
                                                                     httplib::Response& res) {
    const std::string key = req.matches[1].str();
    const bool by_email = req.get_param_value("idProperty") == "email";
    std::lock_guard<std::mutex> lock(emu.mu());
    for (const auto& [id, email] : st->contacts) {
      if ((by_email && email == Lower(key)) || (!by_email && std::to_string(id) == key)) {
        res.status = 200;
        res.set_content(json{{"id", std::to_string(id)},
                             {"properties", {{"email", email}, {"hs_object_id", std::to_string(id)}}},
                             {"createdAt", "2025-01-01T00:00:00Z"},
                             {"updatedAt", "2025-01-01T00:00:00Z"},
                             {"archived", false}}
                            .dump(),
                        "application/json");
        return;
      }
    }
    Error(res, 404, "OBJECT_NOT_FOUND", "Object not found.");
  });

  emu.SetStateFn([st]() {
    json contacts = json::array();
    for (const auto& [id, email] : st->contacts) contacts.push_back({{"id", std::to_string(id)}, {"email", email}});
    json subs = json::object();
    for (const auto& [email, m] : st->subs) {
      for (const auto& [id, status] : m) subs[email][id] = status;
    }
    return json{{"contacts", contacts},
                {"subscriptions", subs},
                {"history", st->history},
                {"blocklist", json(st->blocklist)},
                {"gdpr_deleted", json(st->gdpr_deleted)},
                {"gdpr_delete_requests", st->gdpr_delete_requests}};
  });

  emu.SetSeedFn([st](const json& seed) {
    if (!seed.is_object()) return false;
    try {
      for (const json& c : seed.value("contacts", json::array())) {
        st->contacts[std::stoull(c.at("id").get<std::string>())] = Lower(c.at("email").get<std::string>());
      }
      const json subscriptions = seed.value("subscriptions", json::object());  // items() must not outlive it
      for (const auto& [email, m] : subscriptions.items()) {
        for (const auto& [id, status] : m.items()) st->subs[Lower(email)][id] = status.get<std::string>();
      }
      for (const json& e : seed.value("blocklist", json::array())) st->blocklist.insert(Lower(e.get<std::string>()));
      for (const json& t : seed.value("subscription_types", json::array())) {
        st->subscription_types.insert(t.get<std::string>());
      }
      if (seed.contains("access_token")) st->access_token = seed["access_token"].get<std::string>();
      if (seed.contains("throttle_policy")) st->throttle_policy = seed["throttle_policy"].get<std::string>();
    } catch (const std::exception&) {
      return false;
    }
    return true;
  });

  emu.SetResetFn([st]() { *st = HubSpotState(); });
}

}  // namespace consentd::emulators
