// The Shopify emulator: the GraphQL Admin API subset consentd uses
// (downstream-apis.md §1.6-1.7), at POST /admin/api/<version>/graphql.json
// with X-Shopify-Access-Token, and the legacy REST customer endpoints the
// adapter uses with api "rest":
//   GET    /admin/api/<v>/customers/search.json?query=email:<v>|phone:<v>  {"customers":[...]}
//   GET    /admin/api/<v>/customers/<id>.json       {"customer":{...}} | 404 {"errors":"Not Found"}
//   PUT    /admin/api/<v>/customers/<id>.json       email_marketing_consent / sms_marketing_consent;
//                                                   422 {"errors":{"<field>":["..."]}} when invalid
//   DELETE /admin/api/<v>/customers/<id>.json       200 {} | 422 for customers with orders
// REST answers carry X-Shopify-Shop-Api-Call-Limit; a throttled REST request
// gets 429 with a fractional Retry-After ("1.0").
//
// Dispatch: the root field is the first name after the operation's opening
// '{'; arguments are read from `variables` only (what the adapter sends).
// Served: customers(first:, query: "email:<v>" | "phone:<v>") (prefix match,
// case-insensitive for email, so that search is loose as Shopify's is),
// customer(id:), customerEmailMarketingConsentUpdate,
// customerSmsMarketingConsentUpdate, customerDelete (refused with a
// userError for customers with orders), customerRequestDataErasure (recorded;
// completed, i.e. the customer removed, by the first request served at least
// erasure_delay_ms after it). Business errors are HTTP 200 with userErrors;
// an unknown field or a missing variable is HTTP 200 with top-level errors;
// a bad token is 401. Throttled answers (rate_limit, throttle_next) are 200
// with errors[].extensions.code THROTTLED and an extensions.cost whose
// restoreRate (100/s) and points short encode the fault's retry_after.
//
// State (GET /_emulator/state):
//   {"customers":[{"id":"1001","email":"a@b.com"|null,"phone":"+1..."|null,"has_orders":false,
//                  "email_marketing_consent":{"state":"not_subscribed","opt_in_level":null,"consent_updated_at":null},
//                  "sms_marketing_consent":{...same...},"erasure_requested":false}, ...],   // by id
//    "deleted":["1002"],                 // removed by customerDelete
//    "erased":["1003"],                  // removed by a completed data-erasure request
//    "erasure_requests":[{"customer_id":"1001","status":"pending"|"completed","count":1}],
//    "operations":{"customerEmailMarketingConsentUpdate":N, ...}}   // served root fields
// Seed (POST /_emulator/seed), every member optional:
//   {"customers":[{"id":"1001" (default: next free),"email":..,"phone":..,"has_orders":bool,
//                  "email_state":"subscribed","sms_state":"not_subscribed"}],
//    "access_token":"shpat_emulator" (the accepted token; this is the default),
//    "erasure_delay_ms":0, "malformed_next":N (the next N GraphQL answers are truncated JSON)}
#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tests/emulators/emulator.h"

namespace consentd::emulators {

namespace {

using nlohmann::json;

constexpr char kGidPrefix[] = "gid://shopify/Customer/";
constexpr double kRestoreRate = 100.0;  // Standard plan points per second
constexpr double kMaxAvailable = 2000.0;

struct Consent {
  std::string state = "not_subscribed";
  json opt_in_level = nullptr;
  json updated_at = nullptr;
};

struct Customer {
  std::string email;
  std::string phone;
  bool has_orders = false;
  Consent email_consent;
  Consent sms_consent;
};

struct Erasure {
  std::string status = "pending";
  int count = 0;
  std::chrono::steady_clock::time_point requested;
};

struct State {
  std::map<int64_t, Customer> customers;
  std::vector<std::string> deleted;
  std::vector<std::string> erased;
  std::map<int64_t, Erasure> erasures;
  std::map<std::string, int> operations;
  std::string token = "shpat_emulator";
  int64_t erasure_delay_ms = 0;
  int malformed_next = 0;
  int64_t next_id = 1001;
};

json NullIfEmpty(const std::string& s) { return s.empty() ? json(nullptr) : json(s); }

json ConsentJson(const Consent& c) {
  return {{"state", c.state}, {"opt_in_level", c.opt_in_level}, {"consent_updated_at", c.updated_at}};
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

json Cost() {
  return {{"requestedQueryCost", 10},
          {"actualQueryCost", 10},
          {"throttleStatus",
           {{"maximumAvailable", kMaxAvailable}, {"currentlyAvailable", kMaxAvailable - 10}, {"restoreRate", kRestoreRate}}}};
}

void Answer(httplib::Response& res, json body) {
  body["extensions"] = {{"cost", Cost()}};
  res.status = 200;
  res.set_content(body.dump(), "application/json");
}

void TopLevelError(httplib::Response& res, const std::string& message, const std::string& code) {
  Answer(res, {{"errors", json::array({{{"message", message}, {"extensions", {{"code", code}}}}})}});
}

json UserError(json field, const std::string& message, const char* code) {
  json e = {{"field", std::move(field)}, {"message", message}};
  if (code != nullptr) e["code"] = code;
  return e;
}

// "gid://shopify/Customer/123" -> 123; 0 when it is not a customer GID.
int64_t ParseGid(const json& v) {
  if (!v.is_string()) return 0;
  const std::string s = v.get<std::string>();
  if (s.rfind(kGidPrefix, 0) != 0) return 0;
  const std::string digits = s.substr(sizeof(kGidPrefix) - 1);
  if (digits.empty() || digits.size() > 18 || digits.find_first_not_of("0123456789") != std::string::npos) return 0;
  return std::stoll(digits);
}

std::string Gid(int64_t id) { return kGidPrefix + std::to_string(id); }

// The first name after the operation's opening '{'.
std::string RootField(const std::string& query) {
  size_t i = query.find('{');
  if (i == std::string::npos) return "";
  ++i;
  while (i < query.size() && std::isspace(static_cast<unsigned char>(query[i]))) ++i;
  size_t start = i;
  while (i < query.size() && (std::isalnum(static_cast<unsigned char>(query[i])) || query[i] == '_')) ++i;
  return query.substr(start, i - start);
}

// Completes the erasure requests whose delay has passed (Shopify erases
// asynchronously; the emulator does it on the next request it serves).
void CompleteDueErasures(State& s) {
  auto now = std::chrono::steady_clock::now();
  for (auto& [id, e] : s.erasures) {
    if (e.status != "pending" || now - e.requested < std::chrono::milliseconds(s.erasure_delay_ms)) continue;
    e.status = "completed";
    if (s.customers.erase(id) > 0) s.erased.push_back(std::to_string(id));
  }
}

// One search term "email:<v>" or "phone:<v>", <v> bare or quoted.
bool ParseSearch(const std::string& q, std::string* field, std::string* value) {
  size_t colon = q.find(':');
  if (colon == std::string::npos) return false;
  *field = q.substr(0, colon);
  std::string v = q.substr(colon + 1);
  if (!v.empty() && v.front() == '"') {
    std::string out;
    size_t i = 1;
    for (; i < v.size() && v[i] != '"'; ++i) {
      if (v[i] == '\\' && i + 1 < v.size()) ++i;
      out += v[i];
    }
    if (i != v.size() - 1) return false;
    v = out;
  }
  *value = v;
  return !value->empty();
}

void ConsentUpdate(State& s, const json& vars, bool email, httplib::Response& res) {
  const char* field = email ? "customerEmailMarketingConsentUpdate" : "customerSmsMarketingConsentUpdate";
  const char* consent_key = email ? "emailMarketingConsent" : "smsMarketingConsent";
  if (!vars.contains("input") || !vars["input"].is_object() || !vars["input"].contains(consent_key) ||
      !vars["input"][consent_key].is_object()) {
    return TopLevelError(res, "Variable $input of type " + std::string(email ? "CustomerEmail" : "CustomerSms") +
                                  "MarketingConsentUpdateInput! was provided invalid value",
                         "INVALID_VARIABLE");
  }
  const json& input = vars["input"];
  const json& consent = input[consent_key];
  auto fail = [&](json user_error) {
    Answer(res, {{"data", {{field, {{"customer", nullptr}, {"userErrors", json::array({user_error})}}}}}});
  };
  int64_t id = ParseGid(input.value("customerId", json()));
  auto it = s.customers.find(id);
  if (it == s.customers.end()) return fail(UserError({"input", "customerId"}, "Customer not found", "INVALID"));
  Customer& c = it->second;
  if (email && c.email.empty()) {
    return fail(UserError({"input", "emailMarketingConsent"}, "An email address is required to set the email marketing consent state.", "INVALID"));
  }
  if (!email && c.phone.empty()) {
    return fail(UserError({"input", "smsMarketingConsent"}, "A phone number is required to set the SMS consent state.", "INVALID"));
  }
  std::string state = consent.value("marketingState", "");
  if (state != "SUBSCRIBED" && state != "UNSUBSCRIBED" && state != "PENDING") {
    return fail(UserError({"input", consent_key, "marketingState"}, "Marketing state is not included in the list", "INCLUSION"));
  }
  Consent& target = email ? c.email_consent : c.sms_consent;
  target.state = Lower(state);
  if (consent.contains("marketingOptInLevel") && consent["marketingOptInLevel"].is_string()) {
    target.opt_in_level = Lower(consent["marketingOptInLevel"].get<std::string>());
  }
  target.updated_at = consent.contains("consentUpdatedAt") ? consent["consentUpdatedAt"] : json(nullptr);
  Answer(res, {{"data", {{field, {{"customer", {{"id", Gid(id)}}}, {"userErrors", json::array()}}}}}});
}

void Serve(State& s, const httplib::Request& req, httplib::Response& res) {
  CompleteDueErasures(s);
  if (s.malformed_next > 0) {
    --s.malformed_next;
    res.status = 200;
    res.set_content(R"({"data":{"customer)", "application/json");
    return;
  }
  json body = json::parse(req.body, nullptr, false);
  if (!body.is_object() || !body.contains("query") || !body["query"].is_string()) {
    res.status = 400;
    res.set_content(R"({"errors":{"query":"Required parameter missing or invalid"}})", "application/json");
    return;
  }
  const json vars = body.contains("variables") && body["variables"].is_object() ? body["variables"] : json::object();
  const std::string root = RootField(body["query"].get<std::string>());
  s.operations[root]++;

  if (root == "customers") {
    std::string field, value;
    if (!vars.contains("query") || !vars["query"].is_string() ||
        !ParseSearch(vars["query"].get<std::string>(), &field, &value)) {
      return TopLevelError(res, "Variable $query of type String! was provided invalid value", "INVALID_VARIABLE");
    }
    json nodes = json::array();
    for (const auto& [id, c] : s.customers) {
      bool match = field == "email" ? Lower(c.email).rfind(Lower(value), 0) == 0 && !c.email.empty()
                                    : field == "phone" && !c.phone.empty() && c.phone.rfind(value, 0) == 0;
      if (match && nodes.size() < 10) {
        nodes.push_back({{"id", Gid(id)}, {"email", NullIfEmpty(c.email)}, {"phone", NullIfEmpty(c.phone)}});
      }
    }
    return Answer(res, {{"data", {{"customers", {{"nodes", nodes}}}}}});
  }
  if (root == "customer") {
    int64_t id = ParseGid(vars.value("id", json()));
    if (id == 0) return TopLevelError(res, "Invalid global id", "argumentLiteralsIncompatible");
    json node = s.customers.count(id) ? json{{"id", Gid(id)}} : json(nullptr);
    return Answer(res, {{"data", {{"customer", node}}}});
  }
  if (root == "customerEmailMarketingConsentUpdate") return ConsentUpdate(s, vars, true, res);
  if (root == "customerSmsMarketingConsentUpdate") return ConsentUpdate(s, vars, false, res);
  if (root == "customerDelete") {
    if (!vars.contains("input") || !vars["input"].is_object()) {
      return TopLevelError(res, "Variable $input of type CustomerDeleteInput! was provided invalid value", "INVALID_VARIABLE");
    }
    int64_t id = ParseGid(vars["input"].value("id", json()));
    auto it = s.customers.find(id);
    json user_errors = json::array();
    if (it == s.customers.end()) {
      user_errors.push_back(UserError({"id"}, "Customer can't be found", nullptr));
    } else if (it->second.has_orders) {
      user_errors.push_back(UserError({"id"}, "Customer can't be deleted because they have associated orders", nullptr));
    }
    if (!user_errors.empty()) {
      return Answer(res, {{"data", {{"customerDelete", {{"deletedCustomerId", nullptr}, {"userErrors", user_errors}}}}}});
    }
    s.customers.erase(it);
    s.deleted.push_back(std::to_string(id));
    return Answer(res, {{"data", {{"customerDelete", {{"deletedCustomerId", Gid(id)}, {"userErrors", json::array()}}}}}});
  }
  if (root == "customerRequestDataErasure") {
    int64_t id = ParseGid(vars.value("customerId", json()));
    if (!s.customers.count(id)) {
      return Answer(res, {{"data", {{"customerRequestDataErasure",
                                     {{"customerId", nullptr},
                                      {"userErrors", json::array({UserError({"customerId"}, "Customer does not exist", "DOES_NOT_EXIST")})}}}}}});
    }
    Erasure& e = s.erasures[id];
    if (e.count == 0 || e.status != "pending") e.requested = std::chrono::steady_clock::now();
    e.status = "pending";
    e.count++;
    return Answer(res, {{"data", {{"customerRequestDataErasure", {{"customerId", Gid(id)}, {"userErrors", json::array()}}}}}});
  }
  TopLevelError(res, "Field '" + root.substr(0, 64) + "' doesn't exist on type 'QueryRoot'", "undefinedField");
}

json RestConsent(const Consent& c, bool sms) {
  json j = {{"state", c.state}, {"opt_in_level", c.opt_in_level}, {"consent_updated_at", c.updated_at}};
  if (sms) j["consent_collected_from"] = "OTHER";
  return j;
}

json RestCustomer(int64_t id, const Customer& c) {
  return {{"id", id},
          {"email", NullIfEmpty(c.email)},
          {"phone", NullIfEmpty(c.phone)},
          {"email_marketing_consent", RestConsent(c.email_consent, false)},
          {"sms_marketing_consent", RestConsent(c.sms_consent, true)},
          {"admin_graphql_api_id", Gid(id)}};
}

void RestAnswer(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_header("X-Shopify-Shop-Api-Call-Limit", "1/40");
  res.set_content(body.dump(), "application/json");
}

void RestSearch(State& s, const httplib::Request& req, httplib::Response& res) {
  CompleteDueErasures(s);
  s.operations["rest:customers/search"]++;
  std::string field, value;
  if (!ParseSearch(req.get_param_value("query"), &field, &value)) return RestAnswer(res, 200, {{"customers", json::array()}});
  json list = json::array();
  for (const auto& [id, c] : s.customers) {
    bool match = field == "email" ? !c.email.empty() && Lower(c.email).rfind(Lower(value), 0) == 0
                                  : field == "phone" && !c.phone.empty() && c.phone.rfind(value, 0) == 0;
    if (match) list.push_back(RestCustomer(id, c));
  }
  RestAnswer(res, 200, {{"customers", list}});
}

void RestCustomerRoute(State& s, const httplib::Request& req, httplib::Response& res) {
  CompleteDueErasures(s);
  const int64_t id = std::stoll(req.matches[2]);
  s.operations["rest:" + req.method + " customers/id"]++;
  auto it = s.customers.find(id);
  if (it == s.customers.end()) return RestAnswer(res, 404, {{"errors", "Not Found"}});
  Customer& c = it->second;
  if (req.method == "GET") return RestAnswer(res, 200, {{"customer", RestCustomer(id, c)}});
  if (req.method == "DELETE") {
    if (c.has_orders) return RestAnswer(res, 422, {{"errors", {{"base", {"Error deleting customer"}}}}});
    s.customers.erase(it);
    s.deleted.push_back(std::to_string(id));
    return RestAnswer(res, 200, json::object());
  }
  json body = json::parse(req.body, nullptr, false);
  if (!body.is_object() || !body.contains("customer") || !body["customer"].is_object()) {
    return RestAnswer(res, 400, {{"errors", {{"customer", "Required parameter missing or invalid"}}}});
  }
  const json& in = body["customer"];
  for (const char* key : {"email_marketing_consent", "sms_marketing_consent"}) {
    if (!in.contains(key)) continue;
    const bool sms = std::string_view(key) == "sms_marketing_consent";
    const json& v = in[key];
    static const std::vector<std::string> kStates = {"subscribed", "unsubscribed", "pending", "not_subscribed"};
    if (!v.is_object() || !v.contains("state") || !v["state"].is_string() ||
        std::find(kStates.begin(), kStates.end(), v["state"].get<std::string>()) == kStates.end()) {
      return RestAnswer(res, 422, {{"errors", {{key, {"state is invalid"}}}}});
    }
    if ((sms ? c.phone : c.email).empty()) {
      return RestAnswer(res, 422, {{"errors", {{key, {sms ? "requires a phone" : "requires an email"}}}}});
    }
  }
  for (const char* key : {"email_marketing_consent", "sms_marketing_consent"}) {
    if (!in.contains(key)) continue;
    const json& v = in[key];
    Consent& target = std::string_view(key) == "sms_marketing_consent" ? c.sms_consent : c.email_consent;
    target.state = v["state"].get<std::string>();
    if (v.contains("opt_in_level")) target.opt_in_level = v["opt_in_level"];
    target.updated_at = v.contains("consent_updated_at") ? v["consent_updated_at"] : json(nullptr);
  }
  RestAnswer(res, 200, {{"customer", RestCustomer(id, c)}});
}

}  // namespace

void RegisterShopify(Emulator& emu) {
  auto state = std::make_shared<State>();

  emu.Route("POST", R"(/admin/api/([0-9]{4}-[0-9]{2}|unstable)/graphql\.json)",
            [&emu, state](const httplib::Request& req, httplib::Response& res) {
              std::lock_guard<std::mutex> lock(emu.mu());
              Serve(*state, req, res);
            });

  const std::string rest = R"(/admin/api/([0-9]{4}-[0-9]{2}|unstable)/customers)";
  emu.Route("GET", rest + R"(/search\.json)", [&emu, state](const httplib::Request& req, httplib::Response& res) {
    std::lock_guard<std::mutex> lock(emu.mu());
    RestSearch(*state, req, res);
  });
  auto customer_route = [&emu, state](const httplib::Request& req, httplib::Response& res) {
    std::lock_guard<std::mutex> lock(emu.mu());
    RestCustomerRoute(*state, req, res);
  };
  for (const char* method : {"GET", "PUT", "DELETE"}) emu.Route(method, rest + R"(/(\d{1,18})\.json)", customer_route);

  emu.SetAuth(
      [&emu, state](const httplib::Request& req, bool expired) {
        std::lock_guard<std::mutex> lock(emu.mu());
        return !expired && req.get_header_value("X-Shopify-Access-Token") == state->token;
      },
      [](const httplib::Request&, httplib::Response& res) {
        res.status = 401;
        res.set_content(R"x({"errors":"[API] Invalid API key or access token (unrecognized login or wrong password)"})x",
                        "application/json");
      });

  emu.SetRequestThrottleWriter([](const httplib::Request& req, httplib::Response& res, const std::string& retry_after) {
    if (req.path.find("/graphql.json") == std::string::npos) {
      // REST: 429 with Retry-After in (fractional) seconds, as Shopify sends it.
      res.status = 429;
      res.set_header("Retry-After", retry_after.find('.') == std::string::npos ? retry_after + ".0" : retry_after);
      res.set_header("X-Shopify-Shop-Api-Call-Limit", "40/40");
      res.set_content(R"({"errors":"Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted service."})",
                      "application/json");
      return;
    }
    double seconds = std::strtod(retry_after.c_str(), nullptr);
    if (!(seconds > 0)) seconds = 1;
    double requested = std::max(1.0, seconds * kRestoreRate);
    json body = {{"errors", json::array({{{"message", "Throttled"},
                                          {"extensions",
                                           {{"code", "THROTTLED"},
                                            {"documentation", "https://shopify.dev/api/usage/rate-limits"}}}}})},
                 {"extensions",
                  {{"cost",
                    {{"requestedQueryCost", requested},
                     {"actualQueryCost", nullptr},
                     {"throttleStatus",
                      {{"maximumAvailable", kMaxAvailable}, {"currentlyAvailable", 0}, {"restoreRate", kRestoreRate}}}}}}}};
    res.status = 200;
    res.set_content(body.dump(), "application/json");
  });

  emu.SetStateFn([state]() {
    json customers = json::array();
    for (const auto& [id, c] : state->customers) {
      customers.push_back({{"id", std::to_string(id)},
                           {"email", NullIfEmpty(c.email)},
                           {"phone", NullIfEmpty(c.phone)},
                           {"has_orders", c.has_orders},
                           {"email_marketing_consent", ConsentJson(c.email_consent)},
                           {"sms_marketing_consent", ConsentJson(c.sms_consent)},
                           {"erasure_requested", state->erasures.count(id) > 0}});
    }
    json erasures = json::array();
    for (const auto& [id, e] : state->erasures) {
      erasures.push_back({{"customer_id", std::to_string(id)}, {"status", e.status}, {"count", e.count}});
    }
    return json{{"customers", customers},
                {"deleted", state->deleted},
                {"erased", state->erased},
                {"erasure_requests", erasures},
                {"operations", state->operations}};
  });

  emu.SetSeedFn([state](const json& seed) {
    if (!seed.is_object()) return false;
    if (seed.contains("access_token")) {
      if (!seed["access_token"].is_string()) return false;
      state->token = seed["access_token"].get<std::string>();
    }
    if (seed.contains("erasure_delay_ms")) state->erasure_delay_ms = seed.value("erasure_delay_ms", 0);
    if (seed.contains("malformed_next")) state->malformed_next = seed.value("malformed_next", 0);
    if (seed.contains("customers")) {
      if (!seed["customers"].is_array()) return false;
      for (const json& c : seed["customers"]) {
        if (!c.is_object()) return false;
        int64_t id = state->next_id;
        if (c.contains("id")) {
          std::string sid = c["id"].is_string() ? c["id"].get<std::string>() : c["id"].dump();
          if (sid.empty() || sid.size() > 18 || sid.find_first_not_of("0123456789") != std::string::npos) return false;
          id = std::stoll(sid);
        }
        state->next_id = std::max(state->next_id, id + 1);
        Customer& cust = state->customers[id];
        cust.email = c.value("email", "");
        cust.phone = c.value("phone", "");
        cust.has_orders = c.value("has_orders", false);
        cust.email_consent.state = c.value("email_state", "not_subscribed");
        cust.sms_consent.state = c.value("sms_state", "not_subscribed");
      }
    }
    return true;
  });

  emu.SetResetFn([state]() { *state = State(); });
}

}  // namespace consentd::emulators
