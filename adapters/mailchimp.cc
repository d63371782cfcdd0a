// Mailchimp Marketing API v3 adapter (downstream-apis.md §6; docs/adapters.md,
// "## Mailchimp").
//
// A member is named by its subscriber hash (MailchimpSubscriberHash) in the
// audience settings.list_id; a withdrawal or an erase for a customer whose
// email is gone can name it by a known hash (Customer::system_id, from
// Lookup). Operations:
//   grant, purpose with a marketing permission id:
//     PUT  /lists/{list}/members/{hash} {email_address, status_if_new:"subscribed",
//                                         marketing_permissions:[{id, enabled:true}]}
//   grant, other email purposes:
//     PUT  /lists/{list}/members/{hash} {email_address, status_if_new:"subscribed", status:"subscribed"}
//     (400 "Member In Compliance State": kPermanent member_in_compliance_state,
//      or with resubscribe_as_pending a second PUT with status "pending")
//   withdrawal: PATCH the same member (marketing permission disabled, or status
//     "unsubscribed"); a member the audience does not hold (404) has nothing to
//     withdraw: kDone "not_found". PATCH never creates a member.
//   erase: POST /lists/{list}/members/{hash}/actions/delete-permanent (204; 404: kAlreadyDone)
// Mailchimp answers synchronously, so Confirm is kDone.
#include "adapters/mailchimp.h"

#include <openssl/evp.h>

#include <nlohmann/json.hpp>

#include <array>
#include <cctype>
#include <string>
#include <string_view>
#include <utility>

#include "adapters/http_outcome.h"
#include "src/base/bytes.h"

namespace consentd::adapters {

namespace {

using nlohmann::json;

// The titles of Mailchimp's error glossary (and the member titles of §6.1),
// with the code each becomes. Only these titles are turned into codes: a
// title outside the list could carry anything, so it is never copied.
constexpr std::array<std::pair<std::string_view, std::string_view>, 22> kTitles = {{
    {"Member In Compliance State", "member_in_compliance_state"},
    {"Forgotten Email Not Subscribed", "forgotten_email_not_subscribed"},
    {"Member Exists", "member_exists"},
    {"Resource Not Found", "resource_not_found"},
    {"Invalid Resource", "invalid_resource"},
    {"Bad Request", "bad_request"},
    {"Invalid Action", "invalid_action"},
    {"JSON Parse Error", "json_parse_error"},
    {"API Key Missing", "api_key_missing"},
    {"API Key Invalid", "api_key_invalid"},
    {"Forbidden", "forbidden"},
    {"User Disabled", "user_disabled"},
    {"Wrong Datacenter", "wrong_datacenter"},
    {"Method Not Allowed", "method_not_allowed"},
    {"Resource Nesting Too Deep", "resource_nesting_too_deep"},
    {"Invalid Method Override", "invalid_method_override"},
    {"Requested Fields Invalid", "requested_fields_invalid"},
    {"Too Many Requests", "too_many_requests"},
    {"Internal Server Error", "internal_server_error"},
    {"Compliance Related", "compliance_related"},
    {"Unauthorized", "unauthorized"},
    {"Not Found", "not_found"},
}};

// The code of a Mailchimp problem body's title, or "" (the body's `detail`
// echoes the email and is never read).
std::string TitleCode(const std::string& body) {
  json j = json::parse(body, nullptr, false);
  if (!j.is_object() || !j.contains("title") || !j["title"].is_string()) return "";
  const std::string& title = j["title"].get_ref<const std::string&>();
  for (const auto& [t, code] : kTitles) {
    if (title == t) return std::string(code);
  }
  return "";
}

std::string Dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

class MailchimpAdapter final : public Adapter {
 public:
  MailchimpAdapter(AdapterConfig config, std::shared_ptr<HttpTransport> transport, const Clock& clock)
      : config_(std::move(config)),
        settings_(std::get<MailchimpSettings>(config_.settings)),
        transport_(std::move(transport)),
        clock_(clock) {
    const std::string& key = config_.credentials.at("api_key");
    std::string base = config_.base_url;
    if (base.empty()) {
      // The data center is the key's suffix ("abc123-us6" -> "us6") unless configured.
      std::string dc = settings_.data_center;
      size_t dash = key.rfind('-');
      if (dc.empty() && dash != std::string::npos) dc = key.substr(dash + 1);
      base = "https://" + dc + ".api.mailchimp.com";
    }
    const std::string version = config_.api_version.empty() ? "3.0" : config_.api_version;
    lists_url_ = base + "/" + version + "/lists/";
    auth_ = "Basic " + Base64Encode(AsBytes("consentd:" + key));
  }

  Outcome Deliver(const Request& request) override {
    if (settings_.list_id.empty()) return Fail(OutcomeClass::kPermanent, "no_list_id");
    // An audience is an email list: other channels cannot be represented.
    if (request.op == Operation::kSetConsent && request.channel != "email") {
      return Fail(OutcomeClass::kPermanent, "unsupported_purpose");
    }
    // A grant may create the member, which needs its address; a withdrawal
    // or an erase can name the member by a known hash alone.
    const bool needs_email = request.op == Operation::kSetConsent && request.granted;
    const std::string hash = MemberHash(request.customer);
    if (hash.empty() || (needs_email && request.customer.email.empty())) {
      return Fail(OutcomeClass::kPermanent, "no_email");
    }
    const std::string member = lists_url_ + settings_.list_id + "/members/" + hash;
    if (request.op == Operation::kErase) {
      Outcome out = Classify(Send("POST", member + "/actions/delete-permanent", ""));
      if (out.http_status == 404) {
        out.cls = OutcomeClass::kAlreadyDone;
        out.code = "not_found";
      }
      return out;
    }
    auto permission = settings_.marketing_permission_ids.find(request.purpose);
    const bool by_permission = permission != settings_.marketing_permission_ids.end();

    json body = json::object();
    if (by_permission) {
      body["marketing_permissions"] =
          json::array({{{"marketing_permission_id", permission->second}, {"enabled", request.granted}}});
    }
    if (!request.granted) {
      if (!by_permission) body["status"] = "unsubscribed";
      Outcome out = Member(Send("PATCH", member, Dump(body)));
      if (out.http_status == 404) {
        out.cls = OutcomeClass::kDone;
        out.code = "not_found";
      }
      return out;
    }
    body["email_address"] = request.customer.email;
    body["status_if_new"] = "subscribed";
    if (!by_permission) body["status"] = "subscribed";
    Outcome out = Member(Send("PUT", member, Dump(body)));
    if (out.code != "member_in_compliance_state" || !settings_.resubscribe_as_pending) return out;
    // Policy turns the refusal into a double opt-in: Mailchimp emails the
    // member a confirmation and subscribes them once they confirm.
    body["status_if_new"] = "pending";
    body["status"] = "pending";
    out = Member(Send("PUT", member, Dump(body)));
    if (out.cls == OutcomeClass::kDone) out.code = "pending_double_opt_in";
    return out;
  }

  Outcome Confirm(const Request&, const std::string&) override {
    Outcome out;
    out.cls = OutcomeClass::kDone;
    out.code = "ok";
    return out;
  }

  // An API key cannot be refreshed.
  bool Reauthenticate() override { return false; }

  // The member's id is its subscriber hash; "" when the audience does not hold it.
  std::optional<std::string> Lookup(const Customer& customer, Outcome* outcome) override {
    if (settings_.list_id.empty()) {
      *outcome = Fail(OutcomeClass::kPermanent, "no_list_id");
      return std::nullopt;
    }
    const std::string hash = MemberHash(customer);
    if (hash.empty()) {
      *outcome = Fail(OutcomeClass::kPermanent, "no_email");
      return std::nullopt;
    }
    HttpResponse response = Send("GET", lists_url_ + settings_.list_id + "/members/" + hash + "?fields=id,status", "");
    *outcome = Member(response);
    if (outcome->http_status == 404) {
      outcome->cls = OutcomeClass::kDone;
      outcome->code = "not_found";
      return std::string();
    }
    if (outcome->cls != OutcomeClass::kDone) return std::nullopt;
    json j = json::parse(response.body, nullptr, false);
    return j["id"].get<std::string>();  // Member() checked that it is a string
  }

 private:
  static Outcome Fail(OutcomeClass cls, std::string code) {
    Outcome out;
    out.cls = cls;
    out.code = std::move(code);
    return out;
  }

  // The member's subscriber hash: from the email, else the system id when it
  // is one (Lookup's answer, kept in the vault); "" when neither.
  static std::string MemberHash(const Customer& customer) {
    if (!customer.email.empty()) return MailchimpSubscriberHash(customer.email);
    const std::string& id = customer.system_id;
    if (id.size() != 32) return "";
    for (char c : id) {
      if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return "";
    }
    return id;
  }

  HttpResponse Send(const char* method, const std::string& url, std::string body) {
    HttpRequest req;
    req.method = method;
    req.url = url;
    req.headers = {{"Authorization", auth_}, {"Accept", "application/json"}};
    if (!body.empty()) {
      req.content_type = "application/json";
      req.body = std::move(body);
    }
    req.timeout_ms = config_.timeout_ms;
    return transport_->Send(req);
  }

  // The generic classes, then Mailchimp's rules: a known title names the
  // outcome; an API key cannot be refreshed, so 401 is permanent.
  Outcome Classify(const HttpResponse& response) const {
    Outcome out = ClassifyHttp(response, clock_.NowMillis());
    if (response.error != TransportError::kNone || out.cls == OutcomeClass::kDone) return out;
    std::string code = TitleCode(response.body);
    if (!code.empty()) out.code = code;
    if (response.status == 401) out.cls = OutcomeClass::kPermanent;
    return out;
  }

  // As Classify, and a 2xx must carry a member object. A member PUT or PATCH
  // is idempotent, so an unreadable 2xx (a truncating proxy, a broken
  // gateway page) is retried: kRetry "malformed_response".
  Outcome Member(const HttpResponse& response) const {
    Outcome out = Classify(response);
    if (out.cls != OutcomeClass::kDone) return out;
    json j = json::parse(response.body, nullptr, false);
    if (!j.is_object() || !j.contains("id") || !j["id"].is_string() || !j.contains("status") ||
        !j["status"].is_string()) {
      out.cls = OutcomeClass::kRetry;
      out.code = "malformed_response";
    }
    return out;
  }

  const AdapterConfig config_;
  const MailchimpSettings settings_;
  std::shared_ptr<HttpTransport> transport_;
  const Clock& clock_;
  std::string lists_url_;  // ".../3.0/lists/"
  std::string auth_;       // the Authorization header value
};

}  // namespace

std::string MailchimpSubscriberHash(std::string_view email) {
  std::string lower(email);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  // EVP_Digest with MD5 cannot fail in the default provider for in-memory
  // input; on a FIPS-only build it would, and the hash comes back empty,
  // which no member URL accepts.
  if (EVP_Digest(lower.data(), lower.size(), digest, &len, EVP_md5(), nullptr) != 1) return "";
  return HexEncode(ByteView(digest, len));
}

std::unique_ptr<Adapter> MakeMailchimpAdapter(AdapterConfig config, std::shared_ptr<HttpTransport> transport,
                                              const Clock& clock) {
  return std::make_unique<MailchimpAdapter>(std::move(config), std::move(transport), clock);
}

}  // namespace consentd::adapters
