// The Shopify adapter, over the GraphQL Admin API
// (POST {base}/admin/api/{version}/graphql.json, X-Shopify-Access-Token).
// See docs/adapters.md "## Shopify" and downstream-apis.md §1.6-1.7.
//
//   kSetConsent, channel "email" -> customerEmailMarketingConsentUpdate
//   kSetConsent, channel "sms"   -> customerSmsMarketingConsentUpdate
//   kErase                       -> customerRequestDataErasure -> kAccepted(reference = customer GID)
//   Confirm(erase)               -> customer(id:) resolves to null -> kDone, else kAccepted
//   Lookup                       -> customers(query: "email:<email>") (or "phone:<phone>"), exact match
//
// Classification of a GraphQL answer, in order: transport error or non-2xx
// status -> ClassifyHttp; unparseable body -> kRetry "malformed_response"
// (a truncated or proxy-generated body is transient); top-level `errors`
// -> THROTTLED: kRetry with a delay computed from extensions.cost,
// INTERNAL_SERVER_ERROR: kRetry, others kPermanent "graphql_<code>"; a
// parseable body without the expected `data` member -> kPermanent
// "malformed_response" (a schema mismatch does not heal by retrying);
// `userErrors` -> kPermanent "user_error_<code>".
//
// With settings.api "rest" (legacy REST Admin API), lookup and consent use
//   GET  /admin/api/{version}/customers/search.json?query=email:<v>&fields=id,email,phone
//   PUT  /admin/api/{version}/customers/{id}.json {"customer":{"id":N,"email_marketing_consent":{...}}}
// classified by ClassifyHttp (429 with a fractional Retry-After -> kRetry;
// 404 on PUT -> kDone "not_found"). REST has no data-erasure request, so
// erasure and its confirmation use GraphQL in both modes (same token).
#include "adapters/shopify.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>

#include "adapters/http_outcome.h"
#include "adapters/percent_encode.h"
#include "src/base/time_format.h"

namespace consentd::adapters {

namespace {

using nlohmann::json;

constexpr char kDefaultApiVersion[] = "2025-01";
constexpr char kGidPrefix[] = "gid://shopify/Customer/";
constexpr int64_t kDefaultThrottleDelayMs = 1000;  // Shopify's own GraphQL client waits 1 s when it has no hint
constexpr int64_t kMaxThrottleDelayMs = 60000;

// The operations. Named operations make the emulator's and Shopify's logs readable.
constexpr char kLookupQuery[] =
    "query consentdCustomerLookup($query: String!) { customers(first: 10, query: $query) { nodes { id email phone } } }";
constexpr char kCustomerByIdQuery[] = "query consentdCustomerById($id: ID!) { customer(id: $id) { id } }";
constexpr char kEmailConsentMutation[] =
    "mutation consentdEmailConsent($input: CustomerEmailMarketingConsentUpdateInput!) { "
    "customerEmailMarketingConsentUpdate(input: $input) { customer { id } userErrors { field message code } } }";
constexpr char kSmsConsentMutation[] =
    "mutation consentdSmsConsent($input: CustomerSmsMarketingConsentUpdateInput!) { "
    "customerSmsMarketingConsentUpdate(input: $input) { customer { id } userErrors { field message code } } }";
constexpr char kErasureMutation[] =
    "mutation consentdRequestErasure($customerId: ID!) { "
    "customerRequestDataErasure(customerId: $customerId) { customerId userErrors { field message code } } }";

Outcome Make(OutcomeClass cls, std::string code, int http_status = 0) {
  Outcome o;
  o.cls = cls;
  o.code = std::move(code);
  o.http_status = http_status;
  return o;
}

// A Shopify enum code as part of Outcome::code: [a-z0-9_] only, bounded, so
// that nothing a server echoes can smuggle personal data into a code.
std::string CodeSuffix(const json& code) {
  if (!code.is_string()) return "";
  std::string out;
  for (char c : code.get<std::string>()) {
    if (out.size() >= 48) break;
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '_') {
      out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
  }
  return out;
}

bool IEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  }
  return true;
}

// A search-syntax value: bare when it holds only characters that cannot end
// or change the term, else quoted with '"' and '\' escaped.
std::string SearchValue(std::string_view v) {
  bool bare = !v.empty();
  for (char c : v) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || std::string_view("@.+-_'!#$%&*/=?^`{|}~").find(c) !=
                                                               std::string_view::npos)) {
      bare = false;
    }
  }
  if (bare) return std::string(v);
  std::string out = "\"";
  for (char c : v) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

// The delay a THROTTLED answer asks for: the points the query needs beyond
// those available, at the restore rate (extensions.cost, §1.7).
int64_t ThrottleDelayMs(const json& body) {
  const json* cost = nullptr;
  if (body.contains("extensions") && body["extensions"].is_object() && body["extensions"].contains("cost")) {
    cost = &body["extensions"]["cost"];
  }
  if (cost == nullptr || !cost->is_object() || !cost->contains("throttleStatus")) return kDefaultThrottleDelayMs;
  const json& ts = (*cost)["throttleStatus"];
  if (!ts.is_object() || !ts.contains("restoreRate") || !ts["restoreRate"].is_number() ||
      !ts.contains("currentlyAvailable") || !ts["currentlyAvailable"].is_number()) {
    return kDefaultThrottleDelayMs;
  }
  double rate = ts["restoreRate"].get<double>();
  double available = ts["currentlyAvailable"].get<double>();
  double requested = cost->contains("requestedQueryCost") && (*cost)["requestedQueryCost"].is_number()
                         ? (*cost)["requestedQueryCost"].get<double>()
                         : 0;
  if (!(rate > 0) || !std::isfinite(rate) || !std::isfinite(available) || !std::isfinite(requested)) {
    return kDefaultThrottleDelayMs;
  }
  double missing = std::max(requested - available, 1.0);  // throttled means at least one point short
  double ms = std::ceil(missing / rate * 1000.0);
  return static_cast<int64_t>(std::min<double>(ms, kMaxThrottleDelayMs));
}

class ShopifyAdapter final : public Adapter {
 public:
  ShopifyAdapter(AdapterConfig config, std::shared_ptr<HttpTransport> transport, const Clock& clock)
      : config_(std::move(config)),
        settings_(std::get<ShopifySettings>(config_.settings)),
        transport_(std::move(transport)),
        clock_(clock) {
    std::string base = config_.base_url.empty() ? "https://" + settings_.shop_domain : config_.base_url;
    while (!base.empty() && base.back() == '/') base.pop_back();
    const std::string version = config_.api_version.empty() ? kDefaultApiVersion : config_.api_version;
    api_url_ = base + "/admin/api/" + version;
    graphql_url_ = api_url_ + "/graphql.json";
    auto it = config_.credentials.find("access_token");
    if (it != config_.credentials.end()) token_ = it->second;
  }

  Outcome Deliver(const Request& request) override {
    if (!ApiSupported()) return Make(OutcomeClass::kPermanent, "unsupported_api");
    const bool erase = request.op == Operation::kErase;
    const char* mutation = nullptr;
    if (!erase) {
      if (request.channel == "email") {
        mutation = kEmailConsentMutation;
      } else if (request.channel == "sms") {
        mutation = kSmsConsentMutation;
      } else {
        return Make(OutcomeClass::kPermanent, "unsupported_purpose");
      }
    }

    Outcome failure;
    std::optional<std::string> id = ResolveId(request.customer, &failure);
    if (!id) return failure;
    if (id->empty()) {
      return Make(erase ? OutcomeClass::kAlreadyDone : OutcomeClass::kDone, "not_found", failure.http_status);
    }

    if (!erase && settings_.api == "rest") return RestConsent(request, *id);

    json variables;
    if (erase) {
      variables = {{"customerId", *id}};
    } else {
      json consent = {{"marketingState", request.granted ? "SUBSCRIBED" : "UNSUBSCRIBED"}};
      if (request.granted) consent["marketingOptInLevel"] = settings_.opt_in_level;
      if (request.occurred_at_ms > 0) {
        // Shopify refuses a consentUpdatedAt in the future; a source clock ahead of ours must not fail the delivery.
        consent["consentUpdatedAt"] = FormatTimestampMillis(std::min(request.occurred_at_ms, clock_.NowMillis()));
      }
      json input = {{"customerId", *id}};
      input[request.channel == "email" ? "emailMarketingConsent" : "smsMarketingConsent"] = std::move(consent);
      variables = {{"input", std::move(input)}};
    }

    json data;
    Outcome out = Post(erase ? kErasureMutation : mutation, variables, &data);
    if (out.cls != OutcomeClass::kDone) return out;
    const char* field = erase ? "customerRequestDataErasure"
                              : (request.channel == "email" ? "customerEmailMarketingConsentUpdate"
                                                            : "customerSmsMarketingConsentUpdate");
    const json& payload = data.contains(field) ? data[field] : json();
    if (!payload.is_object()) return Make(OutcomeClass::kPermanent, "malformed_response", out.http_status);
    const json& user_errors = payload.contains("userErrors") ? payload["userErrors"] : json();
    if (!user_errors.is_null() && !user_errors.is_array()) {
      return Make(OutcomeClass::kPermanent, "malformed_response", out.http_status);
    }
    if (user_errors.is_array() && !user_errors.empty()) return UserErrorOutcome(user_errors, erase, *id, out);

    out.system_id = *id;
    if (!erase) {
      out.code = "ok";
      return out;
    }
    out.reference = *id;
    out.code = "erasure_requested";
    out.cls = settings_.erasure_confirmation == "on_accept" ? OutcomeClass::kDone : OutcomeClass::kAccepted;
    return out;
  }

  Outcome Confirm(const Request& request, const std::string& reference) override {
    if (request.op != Operation::kErase || settings_.erasure_confirmation == "on_accept") {
      return Make(OutcomeClass::kDone, "ok");
    }
    if (!ApiSupported()) return Make(OutcomeClass::kPermanent, "unsupported_api");
    if (reference.rfind(kGidPrefix, 0) != 0) return Make(OutcomeClass::kPermanent, "bad_reference");
    std::optional<bool> exists;
    Outcome out = CustomerExists(reference, &exists);
    if (!exists) return out;
    out.reference = reference;
    out.system_id = reference;
    if (*exists) {
      out.cls = OutcomeClass::kAccepted;
      out.code = "erasure_pending";
    } else {
      out.cls = OutcomeClass::kDone;
      out.code = "erased";
    }
    return out;
  }

  // Shopify access tokens (custom apps, offline tokens) are not refreshable.
  bool Reauthenticate() override { return false; }

  std::optional<std::string> Lookup(const Customer& customer, Outcome* outcome) override {
    if (!ApiSupported()) {
      *outcome = Make(OutcomeClass::kPermanent, "unsupported_api");
      return std::nullopt;
    }
    const bool by_email = !customer.email.empty();
    if (!by_email && customer.phone.empty()) {
      *outcome = Make(OutcomeClass::kPermanent, "no_identifier");
      return std::nullopt;
    }
    const std::string& wanted = by_email ? customer.email : customer.phone;
    if (settings_.api == "rest") return RestLookup(by_email, wanted, outcome);
    json data;
    Outcome out =
        Post(kLookupQuery, {{"query", std::string(by_email ? "email:" : "phone:") + SearchValue(wanted)}}, &data);
    if (out.cls != OutcomeClass::kDone) {
      *outcome = out;
      return std::nullopt;
    }
    const json* nodes = nullptr;
    if (data.contains("customers") && data["customers"].is_object() && data["customers"].contains("nodes")) {
      nodes = &data["customers"]["nodes"];
    }
    if (nodes == nullptr || !nodes->is_array()) {
      *outcome = Make(OutcomeClass::kPermanent, "malformed_response", out.http_status);
      return std::nullopt;
    }
    // Search matches loosely (tokens, prefixes); only an exact match is the customer.
    for (const json& node : *nodes) {
      if (!node.is_object() || !node.contains("id") || !node["id"].is_string()) continue;
      const char* key = by_email ? "email" : "phone";
      if (!node.contains(key) || !node[key].is_string()) continue;
      const std::string value = node[key].get<std::string>();
      if (by_email ? IEquals(value, wanted) : value == wanted) {
        std::string id = node["id"].get<std::string>();
        if (id.rfind(kGidPrefix, 0) != 0) continue;
        *outcome = Make(OutcomeClass::kDone, "ok", out.http_status);
        outcome->system_id = id;
        return id;
      }
    }
    *outcome = Make(OutcomeClass::kDone, "not_found", out.http_status);
    return std::string();
  }

 private:
  bool ApiSupported() const { return settings_.api == "graphql" || settings_.api == "rest"; }

  // REST lookup: GET customers/search.json?query=email:<v> (or phone:<v>),
  // the exact match among {"customers":[{"id":<number>,"email":..,"phone":..}]}.
  std::optional<std::string> RestLookup(bool by_email, const std::string& wanted, Outcome* outcome) {
    const std::string query = std::string(by_email ? "email:" : "phone:") + SearchValue(wanted);
    HttpResponse resp = SendRest("GET", "/customers/search.json?query=" + PercentEncode(query) + "&fields=id,email,phone", "");
    Outcome out = ClassifyHttp(resp, clock_.NowMillis());
    if (out.cls != OutcomeClass::kDone) {
      *outcome = out;
      return std::nullopt;
    }
    json body = json::parse(resp.body, nullptr, /*allow_exceptions=*/false);
    if (body.is_discarded()) {
      *outcome = Make(OutcomeClass::kRetry, "malformed_response", resp.status);
      return std::nullopt;
    }
    if (!body.is_object() || !body.contains("customers") || !body["customers"].is_array()) {
      *outcome = Make(OutcomeClass::kPermanent, "malformed_response", resp.status);
      return std::nullopt;
    }
    const char* key = by_email ? "email" : "phone";
    for (const json& c : body["customers"]) {
      if (!c.is_object() || !c.contains("id") || !c["id"].is_number_unsigned()) continue;
      if (!c.contains(key) || !c[key].is_string()) continue;
      const std::string value = c[key].get<std::string>();
      if (!(by_email ? IEquals(value, wanted) : value == wanted)) continue;
      std::string id = kGidPrefix + std::to_string(c["id"].get<uint64_t>());
      *outcome = Make(OutcomeClass::kDone, "ok", resp.status);
      outcome->system_id = id;
      return id;
    }
    *outcome = Make(OutcomeClass::kDone, "not_found", resp.status);
    return std::string();
  }

  // REST consent: PUT customers/{id}.json {"customer":{"id":N,"<channel>_marketing_consent":{...}}}.
  // 404: the customer is gone (done, not_found); 422 (validation): permanent.
  Outcome RestConsent(const Request& request, const std::string& gid) {
    const std::string numeric = gid.substr(sizeof(kGidPrefix) - 1);
    json consent = {{"state", request.granted ? "subscribed" : "unsubscribed"}};
    if (request.granted) {
      std::string level = settings_.opt_in_level;
      for (char& c : level) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      consent["opt_in_level"] = level;
    }
    if (request.occurred_at_ms > 0) {
      consent["consent_updated_at"] = FormatTimestampMillis(std::min(request.occurred_at_ms, clock_.NowMillis()));
    }
    json customer = {{"id", std::stoull(numeric)}};
    customer[request.channel == "email" ? "email_marketing_consent" : "sms_marketing_consent"] = std::move(consent);
    HttpResponse resp = SendRest("PUT", "/customers/" + numeric + ".json", json{{"customer", customer}}.dump());
    Outcome out = ClassifyHttp(resp, clock_.NowMillis());
    if (out.cls == OutcomeClass::kDone) {
      out.code = "ok";
      out.system_id = gid;
      return out;
    }
    if (resp.status == 404) return Make(OutcomeClass::kDone, "not_found", 404);
    return out;
  }

  HttpResponse SendRest(const char* method, const std::string& path, std::string body) {
    HttpRequest req;
    req.method = method;
    req.url = api_url_ + path;
    req.headers = {{"X-Shopify-Access-Token", token_}, {"Accept", "application/json"}};
    if (!body.empty()) {
      req.content_type = "application/json";
      req.body = std::move(body);
    }
    req.timeout_ms = config_.timeout_ms;
    return transport_->Send(req);
  }

  // The customer's GID: the known system id (a GID or a bare numeric id), or
  // a lookup. "" when the shop holds no such customer; nullopt with
  // `failure` set when it cannot be determined.
  std::optional<std::string> ResolveId(const Customer& customer, Outcome* failure) {
    const std::string& sid = customer.system_id;
    if (!sid.empty()) {
      std::string numeric = sid.rfind(kGidPrefix, 0) == 0 ? sid.substr(sizeof(kGidPrefix) - 1) : sid;
      if (numeric.empty() || numeric.size() > 20 ||
          !std::all_of(numeric.begin(), numeric.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        *failure = Make(OutcomeClass::kPermanent, "bad_system_id");
        return std::nullopt;
      }
      return kGidPrefix + numeric;
    }
    return Lookup(customer, failure);
  }

  // Whether `gid` resolves to a customer (customer(id:) is null once it is gone).
  Outcome CustomerExists(const std::string& gid, std::optional<bool>* exists) {
    json data;
    Outcome out = Post(kCustomerByIdQuery, {{"id", gid}}, &data);
    if (out.cls != OutcomeClass::kDone) return out;
    if (!data.contains("customer") || !(data["customer"].is_null() || data["customer"].is_object())) {
      return Make(OutcomeClass::kPermanent, "malformed_response", out.http_status);
    }
    *exists = data["customer"].is_object();
    return out;
  }

  // userErrors of a mutation on `gid`. The erasure request's
  // DOES_NOT_EXIST means there is nothing to erase. For a consent update
  // Shopify does not document a not-found code, so a failed update is
  // checked against customer(id:): a customer that no longer exists is
  // "not_found" (nothing to update); otherwise the error is permanent.
  Outcome UserErrorOutcome(const json& user_errors, bool erase, const std::string& gid, const Outcome& http) {
    const json& first = user_errors.front();
    std::string suffix = first.is_object() && first.contains("code") ? CodeSuffix(first["code"]) : "";
    if (erase && suffix == "does_not_exist") return Make(OutcomeClass::kAlreadyDone, "not_found", http.http_status);
    Outcome failed = Make(OutcomeClass::kPermanent, suffix.empty() ? "user_error" : "user_error_" + suffix,
                          http.http_status);
    failed.system_id = gid;
    if (erase) return failed;
    std::optional<bool> exists;
    Outcome check = CustomerExists(gid, &exists);
    if (!exists) return check;  // the check itself failed (throttled, down...): try the whole delivery again
    if (!*exists) return Make(OutcomeClass::kDone, "not_found", check.http_status);
    return failed;
  }

  // Sends one GraphQL operation. kDone with `*data` set to the response's
  // `data` object, or the classified failure.
  Outcome Post(const char* query, const json& variables, json* data) {
    HttpRequest req;
    req.method = "POST";
    req.url = graphql_url_;
    req.headers = {{"X-Shopify-Access-Token", token_}, {"Accept", "application/json"}};
    req.content_type = "application/json";
    req.body = json{{"query", query}, {"variables", variables}}.dump();
    req.timeout_ms = config_.timeout_ms;
    HttpResponse resp = transport_->Send(req);
    Outcome out = ClassifyHttp(resp, clock_.NowMillis());
    if (out.cls != OutcomeClass::kDone) return out;

    json body = json::parse(resp.body, nullptr, /*allow_exceptions=*/false);
    if (!body.is_object()) return Make(OutcomeClass::kRetry, "malformed_response", resp.status);
    if (body.contains("errors") && !body["errors"].is_null()) {
      const json& errors = body["errors"];
      std::string first_code;
      if (errors.is_array()) {
        for (const json& e : errors) {
          if (!e.is_object() || !e.contains("extensions") || !e["extensions"].is_object()) continue;
          const json& ext = e["extensions"];
          std::string code = ext.contains("code") ? CodeSuffix(ext["code"]) : "";
          if (code == "throttled") {
            Outcome t = Make(OutcomeClass::kRetry, "THROTTLED", resp.status);
            t.retry_after_ms = ThrottleDelayMs(body);
            return t;
          }
          if (first_code.empty()) first_code = code;
        }
      }
      if (first_code == "internal_server_error") {
        return Make(OutcomeClass::kRetry, "graphql_internal_server_error", resp.status);
      }
      return Make(OutcomeClass::kPermanent, first_code.empty() ? "graphql_error" : "graphql_" + first_code,
                  resp.status);
    }
    if (!body.contains("data") || !body["data"].is_object()) {
      return Make(OutcomeClass::kPermanent, "malformed_response", resp.status);
    }
    *data = std::move(body["data"]);
    return out;
  }

  const AdapterConfig config_;
  const ShopifySettings settings_;
  const std::shared_ptr<HttpTransport> transport_;
  const Clock& clock_;
  std::string api_url_;  // {base}/admin/api/{version}
  std::string graphql_url_;
  std::string token_;
};

}  // namespace

std::unique_ptr<Adapter> MakeShopifyAdapter(AdapterConfig config, std::shared_ptr<HttpTransport> transport,
                                            const Clock& clock) {
  return std::make_unique<ShopifyAdapter>(std::move(config), std::move(transport), clock);
}

}  // namespace consentd::adapters
