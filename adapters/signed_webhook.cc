// Signed webhook adapter: one JSON POST per delivery to config.base_url (the
// receiver's full URL), signed as signed_webhook.h describes. The body,
// its fields and the personal data it carries are specified for receivers
// in docs/adapters.md, "## Signed webhook"; keep the two in step (a test
// checks the worked example there against this code).
//
// Responses: 2xx done; 410 Gone permanent ("gone": the receiver retired the
// endpoint); 401 permanent (the receiver rejects the signature: a secret
// mismatch that no retry can fix); other statuses as ClassifyHttp. The
// response body is never read.
#include "adapters/signed_webhook.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <nlohmann/json.hpp>

#include <string>
#include <utility>

#include "adapters/http_outcome.h"
#include "src/base/bytes.h"
#include "src/base/time_format.h"

namespace consentd::adapters {

namespace {

using nlohmann::json;

// Lower-case hex HMAC-SHA256(secret, "<unix_seconds>.<body>").
std::string SignatureHex(std::string_view secret, int64_t unix_seconds, std::string_view body) {
  std::string message = std::to_string(unix_seconds);
  message.push_back('.');
  message.append(body);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  // HMAC() only fails on allocation failure or an unavailable digest; the
  // empty answer then matches no receiver's computation, so the delivery
  // fails visibly (401) rather than silently.
  if (HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
           reinterpret_cast<const unsigned char*>(message.data()), message.size(), mac, &len) == nullptr) {
    return "";
  }
  return HexEncode(ByteView(mac, len));
}

// Unix ms within years 0000..9999, which FormatTimestampMillis requires.
bool Formattable(int64_t ms) { return ms >= -62167219200000LL && ms <= 253402300799999LL; }

class SignedWebhookAdapter final : public Adapter {
 public:
  SignedWebhookAdapter(AdapterConfig config, std::shared_ptr<HttpTransport> transport, const Clock& clock)
      : config_(std::move(config)),
        settings_(std::get<SignedWebhookSettings>(config_.settings)),
        transport_(std::move(transport)),
        clock_(clock),
        secret_(config_.credentials.at("signing_secret")) {}

  Outcome Deliver(const Request& request) override {
    if (!Formattable(request.occurred_at_ms)) return Fail("bad_occurred_at");
    const Customer& c = request.customer;
    if (c.email.empty() && c.phone.empty() && c.system_id.empty()) return Fail("no_identifier");
    const std::string body = Body(request);
    const int64_t now_ms = clock_.NowMillis();
    HttpRequest req;
    req.method = "POST";
    req.url = config_.base_url;
    req.headers = {{settings_.signature_header, WebhookSignatureHeader(secret_, now_ms / 1000, body)},
                   {"Idempotency-Key", request.idempotency_key},
                   {"User-Agent", "consentd-webhook/1"}};
    req.content_type = "application/json";
    req.body = body;
    req.timeout_ms = config_.timeout_ms;
    Outcome out = ClassifyHttp(transport_->Send(req), now_ms);
    if (out.http_status == 410) out.code = "gone";
    if (out.http_status == 401) out.cls = OutcomeClass::kPermanent;
    return out;
  }

  // A webhook is synchronous.
  Outcome Confirm(const Request&, const std::string&) override {
    Outcome out;
    out.cls = OutcomeClass::kDone;
    out.code = "ok";
    return out;
  }

  bool Reauthenticate() override { return false; }

  // A receiver has no lookup: the body carries consentd's identifiers.
  std::optional<std::string> Lookup(const Customer&, Outcome* outcome) override {
    outcome->cls = OutcomeClass::kDone;
    outcome->code = "not_supported";
    return std::string();
  }

 private:
  // The documented body (docs/adapters.md). nlohmann::json orders object
  // members by name, so the bytes depend only on the values.
  std::string Body(const Request& request) const {
    json customer = json::object();
    if (!request.customer.email.empty()) customer["email"] = request.customer.email;
    if (!request.customer.phone.empty()) customer["phone"] = request.customer.phone;
    if (!request.customer.system_id.empty()) customer["id"] = request.customer.system_id;
    json body = {{"id", request.idempotency_key},
                 {"version", config_.api_version.empty() ? "v1" : config_.api_version},
                 {"system", config_.system_id},
                 {"occurred_at", FormatTimestampMillis(request.occurred_at_ms)},
                 {"customer", customer}};
    if (request.op == Operation::kErase) {
      body["type"] = "subject.erase";
    } else {
      body["type"] = "consent.changed";
      body["purpose"] = request.purpose;
      body["channel"] = request.channel;
      body["decision"] = request.granted ? "granted" : "withdrawn";
    }
    return body.dump(-1, ' ', false, json::error_handler_t::replace);
  }

  static Outcome Fail(std::string code) {
    Outcome out;
    out.cls = OutcomeClass::kPermanent;
    out.code = std::move(code);
    return out;
  }

  const AdapterConfig config_;
  const SignedWebhookSettings settings_;
  std::shared_ptr<HttpTransport> transport_;
  const Clock& clock_;
  const std::string secret_;
};

}  // namespace

std::string WebhookSignatureHeader(std::string_view secret, int64_t unix_seconds, std::string_view body) {
  return "t=" + std::to_string(unix_seconds) + ",v1=" + SignatureHex(secret, unix_seconds, body);
}

std::unique_ptr<Adapter> MakeSignedWebhookAdapter(AdapterConfig config, std::shared_ptr<HttpTransport> transport,
                                                  const Clock& clock) {
  return std::make_unique<SignedWebhookAdapter>(std::move(config), std::move(transport), clock);
}

}  // namespace consentd::adapters
