// Klaviyo adapter (downstream-apis.md §5; docs/adapters.md, "## Klaviyo").
//
// Every call carries `Authorization: Klaviyo-API-Key <api_key>`, `revision:
// <api_version>` and JSON:API media types. Operations:
//   grant (email or sms channel):
//     POST /api/profile-subscription-bulk-create-jobs   (202, no body)
//   withdrawal:
//     POST /api/profile-subscription-bulk-delete-jobs   (202, no body)
//     and, with suppress_on_email_withdrawal on the email channel,
//     POST /api/profile-suppression-bulk-create-jobs    (202 + job resource)
//   erase:
//     POST /api/data-privacy-deletion-jobs              (202)
//   lookup:
//     GET  /api/profiles?filter=equals(email,"...")
// Both subscription jobs name settings.list_id when it is set (without it an
// unsubscribe is global).
//
// Jobs are asynchronous. A 202 whose body is a job resource with an id is
// kAccepted with that id as the reference, and Confirm polls the job
// (GET /api/<job type>s/<id>) when the job has a documented status endpoint
// (suppression jobs) and poll_job_status is on. A 202 without a job id
// (subscription jobs, deletion jobs) offers nothing to poll: it counts as
// done, code "job_accepted" (UNCONFIRMED that the job then always
// succeeds; documented).
#include "adapters/klaviyo.h"

#include <nlohmann/json.hpp>

#include <cctype>
#include <string>
#include <utility>

#include "adapters/http_outcome.h"

namespace consentd::adapters {

namespace {

using nlohmann::json;

constexpr char kMediaType[] = "application/vnd.api+json";
constexpr char kSuppressionJob[] = "profile-suppression-bulk-create-job";

std::string Dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

// A JSON:API error code when it looks like one ([a-z0-9_], 1..64 bytes):
// codes are machine words, while titles and details may echo input.
std::string ErrorCode(const std::string& body) {
  json j = json::parse(body, nullptr, false);
  if (!j.is_object() || !j.contains("errors") || !j["errors"].is_array() || j["errors"].empty()) return "";
  const json& first = j["errors"][0];
  if (!first.is_object() || !first.contains("code") || !first["code"].is_string()) return "";
  const std::string& code = first["code"].get_ref<const std::string&>();
  if (code.empty() || code.size() > 64) return "";
  for (char c : code) {
    if (!(std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) || c == '_')) {
      return "";
    }
  }
  return code;
}

// Percent-encodes everything but RFC 3986 unreserved characters.
std::string UrlEncode(std::string_view s) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xf]);
    }
  }
  return out;
}

// A JSON:API filter string literal: Klaviyo quotes values with double
// quotes; a value holding one is refused before it reaches the filter.
bool FilterSafe(std::string_view s) {
  return s.find('"') == std::string_view::npos && s.find('\\') == std::string_view::npos;
}

class KlaviyoAdapter final : public Adapter {
 public:
  KlaviyoAdapter(AdapterConfig config, std::shared_ptr<HttpTransport> transport, const Clock& clock)
      : config_(std::move(config)),
        settings_(std::get<KlaviyoSettings>(config_.settings)),
        transport_(std::move(transport)),
        clock_(clock),
        base_(config_.base_url.empty() ? "https://a.klaviyo.com" : config_.base_url),
        revision_(config_.api_version.empty() ? "2024-10-15" : config_.api_version),
        auth_("Klaviyo-API-Key " + config_.credentials.at("api_key")) {}

  Outcome Deliver(const Request& request) override {
    if (request.op == Operation::kErase) return Erase(request.customer);
    const bool email = request.channel == "email";
    if (!email && request.channel != "sms") return Fail(OutcomeClass::kPermanent, "unsupported_purpose");
    const std::string& id = email ? request.customer.email : request.customer.phone;
    if (id.empty()) return Fail(OutcomeClass::kPermanent, email ? "no_email" : "no_phone");

    json attributes = {{email ? "email" : "phone_number", id}};
    // Klaviyo keys profiles by email: an SMS change names the email too when
    // known, or it would land on a second, phone-only profile. An email
    // change never sends the phone (it is not needed).
    if (!email && !request.customer.email.empty()) attributes["email"] = request.customer.email;
    attributes["subscriptions"][request.channel]["marketing"]["consent"] =
        request.granted ? "SUBSCRIBED" : "UNSUBSCRIBED";
    const std::string type =
        request.granted ? "profile-subscription-bulk-create-job" : "profile-subscription-bulk-delete-job";
    json profile = {{"type", "profile"}, {"attributes", attributes}};
    json data = {{"type", type}, {"attributes", {{"profiles", {{"data", json::array({profile})}}}}}};
    if (request.granted) {
      data["attributes"]["custom_source"] = settings_.custom_source;
      // consented_at is refused without historical_import; Klaviyo stamps the time itself.
      data["attributes"]["historical_import"] = false;
    }
    if (!settings_.list_id.empty()) {
      data["relationships"]["list"]["data"] = {{"type", "list"}, {"id", settings_.list_id}};
    }
    Outcome out = Job(Post("/api/" + type + "s", {{"data", data}}));
    const bool unsubscribed = out.cls == OutcomeClass::kDone || out.cls == OutcomeClass::kAccepted;
    if (request.granted || !email || !settings_.suppress_on_email_withdrawal || !unsubscribed) return out;
    // The unsubscribe is in; the suppression job (retried with it as one
    // unit when it fails: both are idempotent) carries the reference.
    json suppress = {{"type", kSuppressionJob},
                     {"attributes",
                      {{"profiles",
                        {{"data", json::array({{{"type", "profile"}, {"attributes", {{"email", id}}}}})}}}}}};
    return Job(Post(std::string("/api/") + kSuppressionJob + "s", {{"data", suppress}}));
  }

  Outcome Confirm(const Request& request, const std::string& reference) override {
    const bool suppression = request.op == Operation::kSetConsent && !request.granted &&
                             request.channel == "email" && settings_.suppress_on_email_withdrawal;
    if (!suppression || !settings_.poll_job_status) {
      Outcome out;
      out.cls = OutcomeClass::kDone;
      out.code = "no_status_endpoint";
      out.reference = reference;
      return out;
    }
    if (reference.empty() || reference.size() > 128 || !FilterSafe(reference)) {
      return Fail(OutcomeClass::kPermanent, "bad_reference");
    }
    HttpResponse response = Send("GET", std::string("/api/") + kSuppressionJob + "s/" + UrlEncode(reference), "");
    Outcome out = Classify(response);
    out.reference = reference;
    if (out.cls != OutcomeClass::kDone) {
      if (out.http_status == 404) out.code = "job_not_found";
      return out;
    }
    json j = json::parse(response.body, nullptr, false);
    const json* status = nullptr;
    if (j.is_object() && j.contains("data") && j["data"].is_object() && j["data"].contains("attributes") &&
        j["data"]["attributes"].is_object() && j["data"]["attributes"].contains("status") &&
        j["data"]["attributes"]["status"].is_string()) {
      status = &j["data"]["attributes"]["status"];
    }
    // A poll is harmless to repeat: an unreadable answer is retried.
    if (status == nullptr) return Retry(out, "malformed_response");
    const std::string& s = status->get_ref<const std::string&>();
    if (s == "complete") {
      out.code = "job_complete";
    } else if (s == "queued" || s == "processing") {
      out.cls = OutcomeClass::kAccepted;
      out.code = "job_" + s;
    } else if (s == "cancelled") {
      out.cls = OutcomeClass::kPermanent;
      out.code = "job_cancelled";
    } else {
      return Retry(out, "malformed_response");
    }
    return out;
  }

  // A private API key cannot be refreshed.
  bool Reauthenticate() override { return false; }

  std::optional<std::string> Lookup(const Customer& customer, Outcome* outcome) override {
    std::string filter;
    if (!customer.email.empty()) {
      filter = "equals(email,\"" + customer.email + "\")";
    } else if (!customer.phone.empty()) {
      filter = "equals(phone_number,\"" + customer.phone + "\")";
    } else {
      *outcome = Fail(OutcomeClass::kPermanent, "no_identifier");
      return std::nullopt;
    }
    if (!FilterSafe(customer.email) || !FilterSafe(customer.phone)) {
      *outcome = Fail(OutcomeClass::kPermanent, "bad_identifier");
      return std::nullopt;
    }
    HttpResponse response = Send("GET", "/api/profiles?filter=" + UrlEncode(filter) + "&fields%5Bprofile%5D=id", "");
    *outcome = Classify(response);
    if (outcome->cls != OutcomeClass::kDone) return std::nullopt;
    json j = json::parse(response.body, nullptr, false);
    if (!j.is_object() || !j.contains("data") || !j["data"].is_array()) {
      Retry(*outcome, "malformed_response");
      return std::nullopt;
    }
    if (j["data"].empty()) {
      outcome->code = "not_found";
      return std::string();
    }
    const json& first = j["data"][0];
    if (!first.is_object() || !first.contains("id") || !first["id"].is_string()) {
      Retry(*outcome, "malformed_response");
      return std::nullopt;
    }
    return first["id"].get<std::string>();
  }

 private:
  static Outcome Fail(OutcomeClass cls, std::string code) {
    Outcome out;
    out.cls = cls;
    out.code = std::move(code);
    return out;
  }
  static Outcome& Retry(Outcome& out, std::string code) {
    out.cls = OutcomeClass::kRetry;
    out.code = std::move(code);
    return out;
  }

  // Exactly one identifier: Klaviyo refuses a deletion naming several
  // (400). Its own profile id when known, else the email, else the phone.
  Outcome Erase(const Customer& customer) {
    json profile;
    if (!customer.system_id.empty()) {
      profile = {{"type", "profile"}, {"id", customer.system_id}};
    } else if (!customer.email.empty()) {
      profile = {{"type", "profile"}, {"attributes", {{"email", customer.email}}}};
    } else if (!customer.phone.empty()) {
      profile = {{"type", "profile"}, {"attributes", {{"phone_number", customer.phone}}}};
    } else {
      return Fail(OutcomeClass::kPermanent, "no_identifier");
    }
    json body = {{"data",
                  {{"type", "data-privacy-deletion-job"}, {"attributes", {{"profile", {{"data", profile}}}}}}}};
    Outcome out = Job(Post("/api/data-privacy-deletion-jobs", body));
    // No such profile (404) or a deletion already under way (409): nothing left to do.
    if (out.http_status == 404 || out.http_status == 409) {
      out.cls = OutcomeClass::kAlreadyDone;
      if (out.http_status == 404) out.code = "not_found";
    }
    return out;
  }

  HttpResponse Post(const std::string& path, const json& body) { return Send("POST", path, Dump(body)); }

  HttpResponse Send(const char* method, const std::string& path, std::string body) {
    HttpRequest req;
    req.method = method;
    req.url = base_ + path;
    req.headers = {{"Authorization", auth_}, {"revision", revision_}, {"Accept", kMediaType}};
    if (!body.empty()) {
      req.content_type = kMediaType;
      req.body = std::move(body);
    }
    req.timeout_ms = config_.timeout_ms;
    return transport_->Send(req);
  }

  // The generic classes, then Klaviyo's: the JSON:API error code names the
  // outcome; an API key cannot be refreshed, so 401 is permanent.
  Outcome Classify(const HttpResponse& response) const {
    Outcome out = ClassifyHttp(response, clock_.NowMillis());
    if (response.error != TransportError::kNone || out.cls == OutcomeClass::kDone) return out;
    std::string code = ErrorCode(response.body);
    if (!code.empty()) out.code = code;
    if (response.status == 401) out.cls = OutcomeClass::kPermanent;
    return out;
  }

  // A job creation: 2xx with a job resource -> kAccepted + id (or kDone
  // when poll_job_status is off); 2xx without a body -> kDone
  // "job_accepted"; 2xx with an unreadable body -> kRetry
  // "malformed_response" (creating the same job again is harmless).
  Outcome Job(const HttpResponse& response) const {
    Outcome out = Classify(response);
    if (out.cls != OutcomeClass::kDone) return out;
    out.code = "job_accepted";
    if (response.body.empty()) return out;
    json j = json::parse(response.body, nullptr, false);
    if (!j.is_object() || !j.contains("data") || !j["data"].is_object()) return Retry(out, "malformed_response");
    const json& data = j["data"];
    if (!data.contains("id") || !data["id"].is_string() || data["id"].get_ref<const std::string&>().empty()) {
      return Retry(out, "malformed_response");
    }
    out.reference = data["id"].get<std::string>();
    if (settings_.poll_job_status) out.cls = OutcomeClass::kAccepted;
    return out;
  }

  const AdapterConfig config_;
  const KlaviyoSettings settings_;
  std::shared_ptr<HttpTransport> transport_;
  const Clock& clock_;
  const std::string base_;
  const std::string revision_;
  const std::string auth_;
};

}  // namespace

std::unique_ptr<Adapter> MakeKlaviyoAdapter(AdapterConfig config, std::shared_ptr<HttpTransport> transport,
                                            const Clock& clock) {
  return std::make_unique<KlaviyoAdapter>(std::move(config), std::move(transport), clock);
}

}  // namespace consentd::adapters
