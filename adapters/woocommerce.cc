// The WooCommerce adapter, over the REST API v3 ({base}/wp-json/wc/v3).
// See docs/adapters.md "## WooCommerce" and downstream-apis.md §2.
//
//   Lookup      -> GET /customers?email=<email>, exact (case-insensitive) match
//   kSetConsent -> PUT /customers/{id} {"meta_data":[{"key":K,"value":"granted"|"withdrawn"},
//                                                    {"key":K+"_at","value":"<RFC 3339 UTC ms>"}]}
//                  K = settings.meta_keys[purpose], default "_consentd_<purpose>"
//   kErase      -> DELETE /customers/{id}?force=true
//
// Authentication (settings.auth): "basic" sends HTTP Basic consumer_key:consumer_secret;
// "query" appends consumer_key and consumer_secret as query parameters (for servers that strip
// the Authorization header). Either is meant for HTTPS only.
//
// WooCommerce's error envelope is {"code":"woocommerce_rest_...","message":...,"data":{"status":N}}.
// The class comes from ClassifyHttp; the code is the envelope's code when it is one of
// WooCommerce's or WordPress's identifiers ((woocommerce|wc|rest)_[a-z0-9_]+), else http_<status>.
// An invalid id (404, or 400 on PUT) means the customer is gone: kDone "not_found" for consent,
// kAlreadyDone for an erasure.
#include "adapters/woocommerce.h"

#include <cctype>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>
#include <utility>

#include "adapters/http_outcome.h"
#include "adapters/percent_encode.h"
#include "src/base/bytes.h"
#include "src/base/time_format.h"

namespace consentd::adapters {

namespace {

using nlohmann::json;

constexpr char kDefaultApiVersion[] = "wc/v3";

Outcome Make(OutcomeClass cls, std::string code, int http_status = 0) {
  Outcome o;
  o.cls = cls;
  o.code = std::move(code);
  o.http_status = http_status;
  return o;
}

bool IEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  }
  return true;
}

// The envelope's code when it is a WooCommerce/WordPress identifier (never
// free text that could echo personal data), else "".
std::string WooCode(const std::string& body) {
  static const std::regex kSafe("(woocommerce|wc|rest)_[a-z0-9_]{1,60}");
  json j = json::parse(body, nullptr, false);
  if (!j.is_object() || !j.contains("code") || !j["code"].is_string()) return "";
  std::string code = j["code"].get<std::string>();
  return std::regex_match(code, kSafe) ? code : "";
}

bool IsInvalidId(const std::string& code) {
  return code == "woocommerce_rest_invalid_id" || code == "wc_user_invalid_id" ||
         code == "woocommerce_rest_customer_invalid_id";
}

bool IsNumericId(const std::string& s) {
  return !s.empty() && s.size() <= 19 && s.find_first_not_of("0123456789") == std::string::npos && s != "0";
}

class WooCommerceAdapter final : public Adapter {
 public:
  WooCommerceAdapter(AdapterConfig config, std::shared_ptr<HttpTransport> transport, const Clock& clock)
      : config_(std::move(config)),
        settings_(std::get<WooCommerceSettings>(config_.settings)),
        transport_(std::move(transport)),
        clock_(clock) {
    std::string base = config_.base_url;
    while (!base.empty() && base.back() == '/') base.pop_back();
    prefix_ = base + "/wp-json/" + (config_.api_version.empty() ? kDefaultApiVersion : config_.api_version);
    auto find = [this](const char* name) {
      auto it = config_.credentials.find(name);
      return it == config_.credentials.end() ? std::string() : it->second;
    };
    key_ = find("consumer_key");
    secret_ = find("consumer_secret");
  }

  Outcome Deliver(const Request& request) override {
    if (settings_.auth != "basic" && settings_.auth != "query") return Make(OutcomeClass::kPermanent, "unsupported_auth");
    const bool erase = request.op == Operation::kErase;
    if (!erase && request.purpose.empty()) return Make(OutcomeClass::kPermanent, "unsupported_purpose");

    Outcome failure;
    std::optional<std::string> id = ResolveId(request.customer, &failure);
    if (!id) return failure;
    if (id->empty()) {
      return Make(erase ? OutcomeClass::kAlreadyDone : OutcomeClass::kDone, "not_found", failure.http_status);
    }

    HttpResponse resp;
    if (erase) {
      resp = Send("DELETE", "/customers/" + *id, "force=true", "");
    } else {
      auto it = settings_.meta_keys.find(request.purpose);
      const std::string key = it != settings_.meta_keys.end() ? it->second : "_consentd_" + request.purpose;
      const int64_t at = request.occurred_at_ms > 0 ? request.occurred_at_ms : clock_.NowMillis();
      json body = {{"meta_data", json::array({{{"key", key}, {"value", request.granted ? "granted" : "withdrawn"}},
                                              {{"key", key + "_at"}, {"value", FormatTimestampMillis(at)}}})}};
      resp = Send("PUT", "/customers/" + *id, "", body.dump());
    }
    Outcome out = Classify(resp);
    if (out.cls == OutcomeClass::kDone) {
      out.code = "ok";
      out.system_id = *id;
      return out;
    }
    if (IsInvalidId(out.code) && (resp.status == 404 || resp.status == 400)) {
      return Make(erase ? OutcomeClass::kAlreadyDone : OutcomeClass::kDone, "not_found", resp.status);
    }
    return out;
  }

  // WooCommerce has no asynchronous operations.
  Outcome Confirm(const Request&, const std::string&) override { return Make(OutcomeClass::kDone, "ok"); }

  // Consumer keys are not refreshable.
  bool Reauthenticate() override { return false; }

  std::optional<std::string> Lookup(const Customer& customer, Outcome* outcome) override {
    if (customer.email.empty()) {
      *outcome = Make(OutcomeClass::kPermanent, "no_email");
      return std::nullopt;
    }
    HttpResponse resp = Send("GET", "/customers", "email=" + PercentEncode(customer.email), "");
    Outcome out = Classify(resp);
    if (out.cls != OutcomeClass::kDone) {
      *outcome = out;
      return std::nullopt;
    }
    json list = json::parse(resp.body, nullptr, false);
    if (list.is_discarded()) {
      *outcome = Make(OutcomeClass::kRetry, "malformed_response", resp.status);
      return std::nullopt;
    }
    if (!list.is_array()) {
      *outcome = Make(OutcomeClass::kPermanent, "malformed_response", resp.status);
      return std::nullopt;
    }
    for (const json& c : list) {
      if (!c.is_object() || !c.contains("email") || !c["email"].is_string() || !c.contains("id")) continue;
      if (!IEquals(c["email"].get<std::string>(), customer.email)) continue;
      std::string id = c["id"].is_number_unsigned() ? std::to_string(c["id"].get<uint64_t>())
                       : c["id"].is_string()        ? c["id"].get<std::string>()
                                                    : "";
      if (!IsNumericId(id)) continue;
      *outcome = Make(OutcomeClass::kDone, "ok", resp.status);
      outcome->system_id = id;
      return id;
    }
    *outcome = Make(OutcomeClass::kDone, "not_found", resp.status);
    return std::string();
  }

 private:
  std::optional<std::string> ResolveId(const Customer& customer, Outcome* failure) {
    if (!customer.system_id.empty()) {
      if (!IsNumericId(customer.system_id)) {
        *failure = Make(OutcomeClass::kPermanent, "bad_system_id");
        return std::nullopt;
      }
      return customer.system_id;
    }
    return Lookup(customer, failure);
  }

  HttpResponse Send(const char* method, const std::string& path, std::string query, std::string body) {
    HttpRequest req;
    req.method = method;
    if (settings_.auth == "query") {
      if (!query.empty()) query += '&';
      query += "consumer_key=" + PercentEncode(key_) + "&consumer_secret=" + PercentEncode(secret_);
    } else {
      req.headers.emplace_back("Authorization", "Basic " + Base64Encode(AsBytes(key_ + ":" + secret_)));
    }
    req.url = prefix_ + path + (query.empty() ? "" : "?" + query);
    req.headers.emplace_back("Accept", "application/json");
    if (!body.empty()) {
      req.content_type = "application/json";
      req.body = std::move(body);
    }
    req.timeout_ms = config_.timeout_ms;
    return transport_->Send(req);
  }

  // ClassifyHttp, with WooCommerce's own error code when it has a safe one.
  Outcome Classify(const HttpResponse& resp) {
    Outcome out = ClassifyHttp(resp, clock_.NowMillis());
    if (resp.error == TransportError::kNone && out.cls != OutcomeClass::kDone) {
      std::string code = WooCode(resp.body);
      if (!code.empty()) out.code = code;
      // 501 (e.g. woocommerce_rest_trash_not_supported) names a request the server will never accept.
      if (resp.status == 501) out.cls = OutcomeClass::kPermanent;
    }
    return out;
  }

  const AdapterConfig config_;
  const WooCommerceSettings settings_;
  const std::shared_ptr<HttpTransport> transport_;
  const Clock& clock_;
  std::string prefix_;
  std::string key_;
  std::string secret_;
};

}  // namespace

std::unique_ptr<Adapter> MakeWooCommerceAdapter(AdapterConfig config, std::shared_ptr<HttpTransport> transport,
                                                const Clock& clock) {
  return std::make_unique<WooCommerceAdapter>(std::move(config), std::move(transport), clock);
}

}  // namespace consentd::adapters
