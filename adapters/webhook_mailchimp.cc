#include "adapters/webhook_mailchimp.h"

#include "adapters/webhook_common.h"
#include "src/base/bytes.h"

namespace consentd::adapters {

Verdict VerifyMailchimp(const WebhookRequest& request, std::string_view secret) {
  if (secret.empty()) return Verdict::Rejected("no_secret_configured");
  if (request.path_secret.empty()) return Verdict::Rejected("missing_signature");
  bool ok = ConstantTimeEquals(Sha256Raw(request.path_secret), Sha256Raw(secret));
  if (!ok) return Verdict::Rejected("bad_signature");
  return request.method == "GET" ? Verdict::Ping() : Verdict::Ok();
}

Result<WebhookBatch> MapMailchimp(const WebhookRequest& request, std::string_view list_id) {
  std::optional<std::map<std::string, std::string>> form = ParseForm(request.body);
  if (!form) return Status::InvalidArgument("body: not application/x-www-form-urlencoded");
  auto field = [&](const char* name) {
    auto it = form->find(name);
    return it == form->end() ? std::string() : it->second;
  };
  WebhookBatch batch;
  batch.topic = field("type");
  if (batch.topic.empty() || batch.topic.size() > 32) return Status::InvalidArgument("type: missing");
  IngestEvent e;
  e.topic = batch.topic;
  e.dedupe_key = BodyDigestKey(request.body);
  std::string fired = field("fired_at");
  if (!fired.empty()) {
    Result<int64_t> t = ParseSystemTime(fired);
    if (!t.ok()) return Status::InvalidArgument("fired_at: not a date-time");
    e.occurred_at_ms = *t;
  }
  const std::string& type = batch.topic;
  const std::string reason = field("data[reason]");
  std::string list = field("data[list_id]");
  if (!list_id.empty() && !list.empty() && list != list_id) {
    e.note = "other_list";
  } else if (type == "subscribe" || type == "unsubscribe" || (type == "cleaned" && reason == "abuse")) {
    AddIdentifier(&e.identifiers, domain::IdentifierKind::Email(), field("data[email]"));
    if (e.identifiers.empty()) return Status::InvalidArgument("data[email]: missing");
    e.kind = IngestKind::kConsent;
    e.channel = "email";
    e.decision = type == "subscribe" ? domain::Decision::kGranted : domain::Decision::kWithdrawn;
    if (type != "subscribe" && reason == "abuse") e.method = domain::ConsentMethod::kSpamComplaint;
  } else if (type == "cleaned") {
    e.note = "bounce_is_not_a_decision";
  } else if (type == "upemail") {
    AddIdentifier(&e.identifiers, domain::IdentifierKind::Email(), field("data[old_email]"));
    AddIdentifier(&e.identifiers, domain::IdentifierKind::Email(), field("data[new_email]"));
    if (e.identifiers.size() == 2) {
      e.kind = IngestKind::kLink;
    } else {
      e.identifiers.clear();
      e.note = "nothing_to_link";
    }
  } else {
    e.note = type == "profile" ? "no_consent_data" : "unmapped_topic";
  }
  batch.events.push_back(std::move(e));
  return batch;
}

}  // namespace consentd::adapters
