// The WooCommerce emulator: the customers subset of the REST API v3
// (downstream-apis.md §2.1-2.2) under /wp-json/wc/v3.
//
//   GET    /customers?email=&role=      list (email: exact, case-insensitive; role default "customer", "all")
//   POST   /customers                   create (201; 400 registration-error-email-exists on a duplicate email)
//   GET    /customers/<id>              200 customer | 404 woocommerce_rest_invalid_id
//   PUT|POST|PATCH /customers/<id>      partial update: first_name, last_name, email, meta_data
//                                       (an entry with "id" updates that meta; with only "key" it
//                                       replaces the key's value or adds it); 400 woocommerce_rest_invalid_id
//   DELETE /customers/<id>?force=true   200 deleted customer | 501 woocommerce_rest_trash_not_supported
//                                       without force | 404 woocommerce_rest_invalid_id
// Errors use WooCommerce's envelope {"code","message","data":{"status"}}. Auth: HTTP Basic
// consumer_key:consumer_secret or the consumer_key/consumer_secret query parameters; failures
// (and the expire_tokens fault: revoked keys) answer 401 woocommerce_rest_authentication_error.
// WooCommerce core documents no rate limit; throttled answers use the framework's 429 + Retry-After
// (a hosting layer's shape, UNCONFIRMED).
//
// State (GET /_emulator/state):
//   {"customers":[{"id":25,"email":"a@b.com","first_name":"","last_name":"","role":"customer",
//                  "meta_data":[{"id":1,"key":"_consentd_newsletter","value":"granted"}, ...]}, ...],  // by id
//    "deleted":[25, ...]}                                                                             // force-deleted ids
// Seed (POST /_emulator/seed), every member optional:
//   {"customers":[{"id":25 (default: next free),"email":..,"first_name":..,"last_name":..,"role":"customer",
//                  "meta_data":[{"key":..,"value":..}]}],
//    "consumer_key":"ck_emulator","consumer_secret":"cs_emulator" (the accepted keys; these are the defaults),
//    "malformed_next":N (the next N API answers are truncated JSON)}
#include <algorithm>
#include <cctype>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "src/base/bytes.h"
#include "tests/emulators/emulator.h"

namespace consentd::emulators {

namespace {

using nlohmann::json;

constexpr char kPrefix[] = "/wp-json/wc/v3";
constexpr char kCreated[] = "2024-01-01T00:00:00";

struct Customer {
  int64_t id = 0;
  std::string email, first_name, last_name, role = "customer";
  json meta = json::array();  // [{"id":N,"key":..,"value":..}]
};

struct State {
  std::map<int64_t, Customer> customers;
  std::vector<int64_t> deleted;
  std::string key = "ck_emulator";
  std::string secret = "cs_emulator";
  int malformed_next = 0;
  int64_t next_id = 25;
  int64_t next_meta_id = 1;
};

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

void Error(httplib::Response& res, int status, const std::string& code, const std::string& message) {
  res.status = status;
  res.set_content(json{{"code", code}, {"message", message}, {"data", {{"status", status}}}}.dump(),
                  "application/json");
}

json CustomerJson(const Customer& c) {
  return {{"id", c.id},
          {"date_created", kCreated},
          {"date_created_gmt", kCreated},
          {"date_modified", kCreated},
          {"date_modified_gmt", kCreated},
          {"email", c.email},
          {"first_name", c.first_name},
          {"last_name", c.last_name},
          {"role", c.role},
          {"username", c.email.substr(0, c.email.find('@'))},
          {"billing", {{"first_name", c.first_name}, {"last_name", c.last_name}, {"email", c.email}, {"phone", ""}}},
          {"shipping", {{"first_name", c.first_name}, {"last_name", c.last_name}, {"phone", ""}}},
          {"is_paying_customer", false},
          {"avatar_url", ""},
          {"meta_data", c.meta}};
}

// Sets one meta entry as WC_Data::update_meta_data does: by id when given, else by key.
void SetMeta(State& s, Customer& c, const json& m) {
  if (!m.is_object() || !m.contains("key") || !m["key"].is_string()) return;
  const json value = m.contains("value") ? m["value"] : json("");
  for (json& existing : c.meta) {
    bool same = m.contains("id") ? existing["id"] == m["id"] : existing["key"] == m["key"];
    if (same) {
      existing["key"] = m["key"];
      existing["value"] = value;
      return;
    }
  }
  c.meta.push_back({{"id", s.next_meta_id++}, {"key", m["key"]}, {"value", value}});
}

// Applies the writable fields of `body` to `c`.
void Apply(State& s, Customer& c, const json& body) {
  for (const char* field : {"first_name", "last_name", "email"}) {
    if (body.contains(field) && body[field].is_string()) {
      std::string v = body[field].get<std::string>();
      if (std::string_view(field) == "email") {
        c.email = v;
      } else if (std::string_view(field) == "first_name") {
        c.first_name = v;
      } else {
        c.last_name = v;
      }
    }
  }
  if (body.contains("meta_data") && body["meta_data"].is_array()) {
    for (const json& m : body["meta_data"]) SetMeta(s, c, m);
  }
}

bool Malformed(State& s, httplib::Response& res) {
  if (s.malformed_next <= 0) return false;
  --s.malformed_next;
  res.status = 200;
  res.set_content(R"([{"id":)", "application/json");
  return true;
}

void Json(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(body.dump(), "application/json");
}

}  // namespace

void RegisterWooCommerce(Emulator& emu) {
  auto state = std::make_shared<State>();
  const std::string base = kPrefix;

  emu.Route("GET", base + "/customers", [&emu, state](const httplib::Request& req, httplib::Response& res) {
    std::lock_guard<std::mutex> lock(emu.mu());
    if (Malformed(*state, res)) return;
    const std::string email = Lower(req.get_param_value("email"));
    const std::string role = req.has_param("role") ? req.get_param_value("role") : "customer";
    json list = json::array();
    for (const auto& [id, c] : state->customers) {
      if (!email.empty() && Lower(c.email) != email) continue;
      if (role != "all" && c.role != role) continue;
      if (list.size() < 100) list.push_back(CustomerJson(c));
    }
    res.set_header("X-WP-Total", std::to_string(list.size()));
    res.set_header("X-WP-TotalPages", list.empty() ? "0" : "1");
    Json(res, 200, list);
  });

  emu.Route("POST", base + "/customers", [&emu, state](const httplib::Request& req, httplib::Response& res) {
    std::lock_guard<std::mutex> lock(emu.mu());
    if (Malformed(*state, res)) return;
    json body = json::parse(req.body, nullptr, false);
    if (!body.is_object() || !body.contains("email") || !body["email"].is_string() ||
        body["email"].get<std::string>().find('@') == std::string::npos) {
      return Error(res, 400, "rest_invalid_param", "Invalid parameter(s): email");
    }
    for (const auto& [id, c] : state->customers) {
      if (Lower(c.email) == Lower(body["email"].get<std::string>())) {
        return Error(res, 400, "registration-error-email-exists",
                     "An account is already registered with your email address.");
      }
    }
    Customer c;
    c.id = state->next_id++;
    Apply(*state, c, body);
    state->customers[c.id] = c;
    res.set_header("Location", std::string(kPrefix) + "/customers/" + std::to_string(c.id));
    Json(res, 201, CustomerJson(c));
  });

  emu.Route("GET", base + R"(/customers/(\d{1,18}))", [&emu, state](const httplib::Request& req, httplib::Response& res) {
    std::lock_guard<std::mutex> lock(emu.mu());
    if (Malformed(*state, res)) return;
    auto it = state->customers.find(std::stoll(req.matches[1]));
    if (it == state->customers.end()) return Error(res, 404, "woocommerce_rest_invalid_id", "Invalid resource ID.");
    Json(res, 200, CustomerJson(it->second));
  });

  auto update = [&emu, state](const httplib::Request& req, httplib::Response& res) {
    std::lock_guard<std::mutex> lock(emu.mu());
    if (Malformed(*state, res)) return;
    auto it = state->customers.find(std::stoll(req.matches[1]));
    if (it == state->customers.end()) return Error(res, 400, "woocommerce_rest_invalid_id", "Invalid resource ID.");
    json body = json::parse(req.body, nullptr, false);
    if (!body.is_object()) return Error(res, 400, "rest_invalid_json", "Invalid JSON body passed.");
    Apply(*state, it->second, body);
    Json(res, 200, CustomerJson(it->second));
  };
  for (const char* method : {"PUT", "POST", "PATCH"}) emu.Route(method, base + R"(/customers/(\d{1,18}))", update);

  emu.Route("DELETE", base + R"(/customers/(\d{1,18}))", [&emu, state](const httplib::Request& req, httplib::Response& res) {
    std::lock_guard<std::mutex> lock(emu.mu());
    if (Malformed(*state, res)) return;
    const std::string force = req.get_param_value("force");
    if (force != "true" && force != "1") {
      return Error(res, 501, "woocommerce_rest_trash_not_supported", "Customers do not support trashing.");
    }
    auto it = state->customers.find(std::stoll(req.matches[1]));
    if (it == state->customers.end()) return Error(res, 404, "woocommerce_rest_invalid_id", "Invalid resource ID.");
    json deleted = CustomerJson(it->second);
    state->deleted.push_back(it->first);
    state->customers.erase(it);
    Json(res, 200, deleted);
  });

  emu.SetAuth(
      [&emu, state](const httplib::Request& req, bool expired) {
        if (expired) return false;
        std::string key, secret;
        const std::string auth = req.get_header_value("Authorization");
        if (auth.rfind("Basic ", 0) == 0) {
          Result<std::string> decoded = Base64Decode(auth.substr(6));
          if (!decoded.ok()) return false;
          size_t colon = decoded->find(':');
          if (colon == std::string::npos) return false;
          key = decoded->substr(0, colon);
          secret = decoded->substr(colon + 1);
        } else {
          key = req.get_param_value("consumer_key");
          secret = req.get_param_value("consumer_secret");
        }
        std::lock_guard<std::mutex> lock(emu.mu());
        return key == state->key && secret == state->secret;
      },
      [](const httplib::Request&, httplib::Response& res) {
        Error(res, 401, "woocommerce_rest_authentication_error", "Consumer key is invalid.");
      });

  emu.SetStateFn([state]() {
    json customers = json::array();
    for (const auto& [id, c] : state->customers) {
      customers.push_back({{"id", c.id},
                           {"email", c.email},
                           {"first_name", c.first_name},
                           {"last_name", c.last_name},
                           {"role", c.role},
                           {"meta_data", c.meta}});
    }
    return json{{"customers", customers}, {"deleted", state->deleted}};
  });

  emu.SetSeedFn([state](const json& seed) {
    if (!seed.is_object()) return false;
    for (const char* k : {"consumer_key", "consumer_secret"}) {
      if (!seed.contains(k)) continue;
      if (!seed[k].is_string()) return false;
      (std::string_view(k) == "consumer_key" ? state->key : state->secret) = seed[k].get<std::string>();
    }
    if (seed.contains("malformed_next")) state->malformed_next = seed.value("malformed_next", 0);
    if (seed.contains("customers")) {
      if (!seed["customers"].is_array()) return false;
      for (const json& c : seed["customers"]) {
        if (!c.is_object()) return false;
        Customer cust;
        cust.id = c.contains("id") && c["id"].is_number_unsigned() ? c["id"].get<int64_t>() : state->next_id;
        if (cust.id <= 0) return false;
        state->next_id = std::max(state->next_id, cust.id + 1);
        cust.role = c.value("role", "customer");
        Apply(*state, cust, c);
        state->customers[cust.id] = cust;
      }
    }
    return true;
  });

  emu.SetResetFn([state]() { *state = State(); });
}

}  // namespace consentd::emulators
