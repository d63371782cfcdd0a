// The HubSpot adapter (downstream-apis.md §3):
//
//   kSetConsent  v4: POST /communication-preferences/v4/statuses/{email}
//                    {"channel":"EMAIL","statusState":"SUBSCRIBED"|"NOT_SUBSCRIBED","subscriptionId":N,
//                     "legalBasis":"CONSENT_WITH_NOTICE","legalBasisExplanation":"..."}
//                v3: POST /communication-preferences/v3/subscribe | /unsubscribe
//                    {"emailAddress":..,"subscriptionId":"N","legalBasis":..,"legalBasisExplanation":..}
//   kErase       POST /crm/v3/objects/contacts/gdpr-delete
//                    {"objectId":email,"idProperty":"email"} (or {"objectId":id} without an email) -> 204
//   Lookup       GET /crm/v3/objects/contacts/{email}?idProperty=email -> {"id":"123",...}
//
// Subscription statuses are keyed by email in HubSpot, so no contact lookup
// precedes them. The GDPR delete goes by email whenever one is known: HubSpot
// then also blocklists the address even when no contact holds it, so that
// tracking or a form cannot re-create the contact.
//
// Credentials: access_token (a private-app token or an OAuth access token).
// consentd holds no HubSpot refresh credential, so a 401 is final:
// kPermanent "auth_failed" and Reauthenticate() answers false.
#include "adapters/hubspot.h"

#include <nlohmann/json.hpp>
#include <string>
#include <utility>

#include "adapters/http_outcome.h"
#include "adapters/percent_encode.h"

namespace consentd::adapters {

namespace {

using nlohmann::json;

// HubSpot's legal basis for a status change it records. Required when the
// portal has GDPR features on; harmless otherwise.
constexpr const char* kLegalBasis = "CONSENT_WITH_NOTICE";
constexpr const char* kLegalBasisExplanation = "Consent decision recorded by consentd";

// Without Retry-After, a 429 waits by its policy: HubSpot's own SDK waits
// 10 s after TEN_SECONDLY_ROLLING. The DAILY limit resets at midnight in the
// account's time zone, which consentd does not know: an hour between tries
// keeps the error rate low without parking the queue for a day.
constexpr int64_t kTenSecondlyWaitMs = 10'000;
constexpr int64_t kDailyWaitMs = 3'600'000;
constexpr int64_t kLockedWaitMs = 2'000;  // 423 Locked: "wait at least 2 s"

// A code taken from a response only when it looks like one of HubSpot's
// enumerations (upper-case letters, digits, '_'); anything else could echo
// input, personal data included.
std::string EnumCode(const json& body, const char* key) {
  if (!body.is_object()) return "";
  auto it = body.find(key);
  if (it == body.end() || !it->is_string()) return "";
  const std::string& s = it->get_ref<const std::string&>();
  if (s.empty() || s.size() > 64) return "";
  for (char c : s) {
    if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) return "";
  }
  return s;
}

bool AllDigits(const std::string& s, size_t max_len) {
  if (s.empty() || s.size() > max_len) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

Outcome Make(OutcomeClass cls, std::string code, int http_status = 0) {
  Outcome o;
  o.cls = cls;
  o.code = std::move(code);
  o.http_status = http_status;
  return o;
}

class HubSpotAdapter final : public Adapter {
 public:
  HubSpotAdapter(AdapterConfig config, std::shared_ptr<HttpTransport> transport, const Clock& clock)
      : config_(std::move(config)),
        settings_(std::get<HubSpotSettings>(config_.settings)),
        transport_(std::move(transport)),
        clock_(clock) {
    auto it = config_.credentials.find("access_token");
    if (it != config_.credentials.end()) token_ = it->second;
  }

  Outcome Deliver(const Request& request) override {
    return request.op == Operation::kErase ? GdprDelete(request) : SetStatus(request);
  }

  // No HubSpot operation is asynchronous: a GDPR delete is done when it answers 204.
  Outcome Confirm(const Request&, const std::string&) override { return Make(OutcomeClass::kDone, "ok"); }

  // Private-app tokens do not expire and consentd holds no OAuth refresh
  // token for HubSpot: nothing to refresh.
  bool Reauthenticate() override { return false; }

  std::optional<std::string> Lookup(const Customer& customer, Outcome* outcome) override {
    if (customer.email.empty()) {
      *outcome = Make(OutcomeClass::kPermanent, "no_email");
      return std::nullopt;
    }
    HttpResponse r = Send("GET", "/crm/v3/objects/contacts/" + PercentEncode(customer.email) + "?idProperty=email",
                          "");
    if (r.error == TransportError::kNone && r.status == 404) {
      *outcome = Make(OutcomeClass::kDone, "not_found", 404);
      return std::string();
    }
    *outcome = Classify(r);
    if (outcome->cls != OutcomeClass::kDone) return std::nullopt;
    json body = json::parse(r.body, nullptr, false);
    std::string id;
    if (body.is_object() && body.contains("id")) {
      const json& j = body["id"];
      if (j.is_string()) id = j.get<std::string>();
      if (j.is_number_unsigned()) id = std::to_string(j.get<uint64_t>());
    }
    if (!AllDigits(id, 20)) {
      // A read changed nothing: retrying is safe, and the dispatcher's
      // attempt limit ends a persistent fault in the dead-letter queue.
      *outcome = Make(OutcomeClass::kRetry, "malformed_response", r.status);
      return std::nullopt;
    }
    outcome->system_id = id;
    return id;
  }

 private:
  Outcome SetStatus(const Request& request) {
    auto sub = settings_.subscription_ids.find(request.purpose);
    // Subscription types are email subscriptions (the reference documents
    // channel EMAIL only); other channels cannot be represented.
    if (sub == settings_.subscription_ids.end() || (request.channel != "email" && !request.channel.empty())) {
      return Make(OutcomeClass::kPermanent, "unsupported_purpose");
    }
    if (!AllDigits(sub->second, 18)) return Make(OutcomeClass::kPermanent, "invalid_subscription_id");
    if (request.customer.email.empty()) return Make(OutcomeClass::kPermanent, "no_email");
    const std::string state = request.granted ? "SUBSCRIBED" : "NOT_SUBSCRIBED";

    HttpResponse r;
    const bool v3 = settings_.preferences_api == "v3";
    if (v3) {
      json body = {{"emailAddress", request.customer.email},
                   {"subscriptionId", sub->second},
                   {"legalBasis", kLegalBasis},
                   {"legalBasisExplanation", kLegalBasisExplanation}};
      r = Send("POST", request.granted ? "/communication-preferences/v3/subscribe"
                                       : "/communication-preferences/v3/unsubscribe",
               body.dump());
    } else {
      json body = {{"channel", "EMAIL"},
                   {"statusState", state},
                   {"subscriptionId", std::stoll(sub->second)},
                   {"legalBasis", kLegalBasis},
                   {"legalBasisExplanation", kLegalBasisExplanation}};
      r = Send("POST", "/communication-preferences/v4/statuses/" + PercentEncode(request.customer.email),
               body.dump());
    }
    Outcome out = Classify(r);
    if (v3 && request.granted && out.http_status == 400) {
      // v3 cannot re-subscribe an address that opted out (the status of that
      // refusal is assumed 400, UNCONFIRMED). Retrying cannot help; the
      // remedy is preferences_api "v4".
      out.code = "resubscribe_refused";
      return out;
    }
    if (out.cls != OutcomeClass::kDone) return out;

    // v4 answers {"status":"COMPLETE","results":[{..,"status":..}]}; v3 one
    // status object {"id":..,"status":..}. A 2xx without that shape is
    // retried (setting a status again is idempotent).
    json body = json::parse(r.body, nullptr, false);
    const json* result = nullptr;
    if (v3) {
      if (body.is_object()) result = &body;
    } else if (body.is_object() && body.contains("results") && body["results"].is_array() &&
               !body["results"].empty()) {
      if (body.value("status", std::string()) != "COMPLETE") return Make(OutcomeClass::kRetry, "incomplete", r.status);
      result = &body["results"][0];
    }
    if (result == nullptr || !result->is_object() || !(*result).contains("status") ||
        !(*result)["status"].is_string()) {
      return Make(OutcomeClass::kRetry, "malformed_response", r.status);
    }
    if ((*result)["status"].get<std::string>() != state) {
      return Make(OutcomeClass::kPermanent, "status_not_applied", r.status);
    }
    return out;
  }

  Outcome GdprDelete(const Request& request) {
    const Customer& c = request.customer;
    json body;
    if (!c.email.empty()) {
      body = {{"objectId", c.email}, {"idProperty", "email"}};
    } else if (AllDigits(c.system_id, 20)) {
      body = {{"objectId", c.system_id}};
    } else {
      return Make(OutcomeClass::kPermanent, c.system_id.empty() ? "no_identifier" : "invalid_system_id");
    }
    HttpResponse r = Send("POST", "/crm/v3/objects/contacts/gdpr-delete", body.dump());
    if (r.error == TransportError::kNone && r.status == 404) {
      return Make(OutcomeClass::kAlreadyDone, "not_found", 404);
    }
    return Classify(r);
  }

  HttpResponse Send(const char* method, const std::string& path_and_query, std::string body) {
    HttpRequest req;
    req.method = method;
    req.url = config_.base_url + path_and_query;
    req.headers = {{"Authorization", "Bearer " + token_}, {"Accept", "application/json"}};
    if (!body.empty()) {
      req.content_type = "application/json";
      req.body = std::move(body);
    }
    req.timeout_ms = config_.timeout_ms;
    return transport_->Send(req);
  }

  // ClassifyHttp plus HubSpot's rules (§3.4).
  Outcome Classify(const HttpResponse& r) const {
    Outcome out = ClassifyHttp(r, clock_.NowMillis());
    if (r.error != TransportError::kNone || out.cls == OutcomeClass::kDone) return out;
    json body = json::parse(r.body, nullptr, false);
    const int s = r.status;
    if (s == 401) {
      out.cls = OutcomeClass::kPermanent;
      out.code = "auth_failed";
      return out;
    }
    if (s == 429) {
      const std::string policy = EnumCode(body, "policyName");
      if (policy == "TEN_SECONDLY_ROLLING") {
        out.code = "rate_limit_ten_secondly";
        if (!out.retry_after_ms) out.retry_after_ms = kTenSecondlyWaitMs;
      } else if (policy == "DAILY") {
        out.code = "rate_limit_daily";
        if (!out.retry_after_ms) out.retry_after_ms = kDailyWaitMs;
      }
      return out;
    }
    if (s == 423) {
      out.cls = OutcomeClass::kRetry;
      if (!out.retry_after_ms || *out.retry_after_ms < kLockedWaitMs) out.retry_after_ms = kLockedWaitMs;
      return out;
    }
    if (s == 477) {  // migration in progress
      out.cls = OutcomeClass::kRetry;
      return out;
    }
    if (out.cls == OutcomeClass::kPermanent) {
      std::string category = EnumCode(body, "category");
      if (!category.empty()) out.code = category;
    }
    return out;
  }

  const AdapterConfig config_;
  const HubSpotSettings settings_;
  std::shared_ptr<HttpTransport> transport_;
  const Clock& clock_;
  std::string token_;  // immutable after construction
};

}  // namespace

std::unique_ptr<Adapter> MakeHubSpotAdapter(AdapterConfig config, std::shared_ptr<HttpTransport> transport,
                                            const Clock& clock) {
  return std::make_unique<HubSpotAdapter>(std::move(config), std::move(transport), clock);
}

}  // namespace consentd::adapters
