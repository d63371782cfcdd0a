#include "src/ingest/webhook_ingest.h"

#include <nlohmann/json.hpp>

#include "adapters/webhook_common.h"
#include "adapters/webhook_consentd.h"
#include "adapters/webhook_hubspot.h"
#include "adapters/webhook_klaviyo.h"
#include "adapters/webhook_mailchimp.h"
#include "adapters/webhook_shopify.h"
#include "adapters/webhook_woocommerce.h"
#include "policies/conflict.h"
#include "src/identity/normalizer.h"
#include "src/service/runtime.h"

namespace consentd::ingest {
namespace {

using adapters::IngestKind;

// Topics and notes are the systems' codes; anything else is not stored.
std::string SafeCode(std::string_view s) {
  if (s.empty() || s.size() > 100) return "unknown";
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
              c == '/' || c == ':' || c == '-';
    if (!ok) return "unknown";
  }
  return std::string(s);
}

http::Problem BadSignature(const std::string& code) {
  http::Problem p;
  p.status = 401;
  p.type = "urn:consentd:problem:bad-webhook-signature";
  p.title = "Webhook signature not valid";
  p.detail = code;
  return p;
}

}  // namespace

WebhookIngest::WebhookIngest(Deps deps, std::map<std::string, WebhookInstance> instances)
    : deps_(deps),
      instances_(std::move(instances)),
      deliveries_(*deps.writer, *deps.database),
      access_requests_(*deps.writer, *deps.database, *deps.clock) {}

Result<std::unique_ptr<WebhookIngest>> WebhookIngest::Open(Deps deps, std::map<std::string, WebhookInstance> instances) {
  if (deps.consents == nullptr || deps.subjects == nullptr || deps.writer == nullptr || deps.database == nullptr ||
      deps.clock == nullptr) {
    return Status::InvalidArgument("webhook ingest: missing dependency");
  }
  Status s = deps.writer->Write({}, [](sqlite3* db, auto) {
    Status es = DeliveryLog::EnsureSchema(db);
    if (es.ok()) es = AccessRequests::EnsureSchema(db);
    return es;
  });
  if (!s.ok()) return s.WithContext("create webhook tables");
  return std::unique_ptr<WebhookIngest>(new WebhookIngest(deps, std::move(instances)));
}

Result<std::unique_ptr<WebhookIngest>> WebhookIngest::Open(service::Runtime& rt, const IngestOptions& options,
                                                           service::ErasureIntake* erasure, EchoFilter* echo,
                                                           std::vector<std::string>* warnings) {
  Deps d;
  d.consents = &rt.consents();
  d.subjects = &rt.subjects();
  d.writer = &rt.writer();
  d.database = &rt.database();
  d.clock = &rt.clock();
  d.erasure = erasure;
  d.echo = echo;
  return Open(d, LoadWebhookInstances(*rt.policy(), rt.config().key_dir, options, warnings));
}

bool WebhookIngest::Has(const std::string& kind, const std::string& instance) const {
  auto it = instances_.find(instance);
  return it != instances_.end() && policies::SystemKindName(it->second.kind) == kind;
}

std::mutex& WebhookIngest::LockFor(const std::string& system, const std::string& key) {
  size_t h = std::hash<std::string>()(system) ^ (std::hash<std::string>()(key) * 31);
  return key_locks_[h % key_locks_.size()];
}

adapters::Verdict WebhookIngest::Verify(const WebhookInstance& w, const adapters::WebhookRequest& request) const {
  const int64_t now = deps_.clock->NowMillis();
  switch (w.kind) {
    case policies::SystemKind::kShopify:
      return adapters::VerifyShopify(request, w.shopify, now);
    case policies::SystemKind::kWooCommerce:
      return adapters::VerifyWooCommerce(request, w.secret);
    case policies::SystemKind::kHubSpot:
      return adapters::VerifyHubSpot(request, w.secret, now, w.hubspot_verify);
    case policies::SystemKind::kKlaviyo:
      return adapters::VerifyKlaviyo(request, w.secret, now, w.klaviyo);
    case policies::SystemKind::kMailchimp:
      return adapters::VerifyMailchimp(request, w.secret);
    case policies::SystemKind::kWebhook:
      return adapters::VerifyConsentdWebhook(request, w.secret, now, w.consentd);
    case policies::SystemKind::kSalesforce:
      break;
  }
  return adapters::Verdict::Rejected("no_webhooks_for_kind");
}

Result<adapters::WebhookBatch> WebhookIngest::Map(const WebhookInstance& w,
                                                  const adapters::WebhookRequest& request) const {
  switch (w.kind) {
    case policies::SystemKind::kShopify:
      return adapters::MapShopify(request, w.shopify_mapping);
    case policies::SystemKind::kWooCommerce:
      return adapters::MapWooCommerce(request, w.woocommerce_mapping);
    case policies::SystemKind::kHubSpot:
      return adapters::MapHubSpot(request, w.hubspot_mapping);
    case policies::SystemKind::kKlaviyo:
      return adapters::MapKlaviyo(request);
    case policies::SystemKind::kMailchimp:
      return adapters::MapMailchimp(request, w.mailchimp_list_id);
    case policies::SystemKind::kWebhook:
      return adapters::MapConsentdWebhook(request);
    case policies::SystemKind::kSalesforce:
      break;
  }
  return Status::InvalidArgument("no webhooks for this kind");
}

IngestReply WebhookIngest::Handle(const std::string& kind, const std::string& instance,
                                  const adapters::WebhookRequest& request) {
  IngestReply reply;
  auto fail = [&reply](http::Problem p) {
    reply.status = p.status;
    reply.problem = std::move(p);
    return reply;
  };
  if (!Has(kind, instance)) return fail(http::Problem::NotFound("no webhook endpoint for this kind and instance"));
  const WebhookInstance& w = instances_.at(instance);
  adapters::Verdict v = Verify(w, request);
  if (v.result == adapters::Verdict::Result::kPing) {
    reply.json = nlohmann::json({{"system", w.id}, {"ping", true}}).dump();
    return reply;
  }
  if (!v.ok()) return fail(BadSignature(v.code));
  if (request.method != "POST") return fail(http::Problem::MethodNotAllowed());
  Result<adapters::WebhookBatch> batch = Map(w, request);
  if (!batch.ok()) return fail(http::Problem::BadRequest(batch.status().message()));
  for (const adapters::IngestEvent& e : batch->events) {
    if (e.kind == IngestKind::kErasureRequest && deps_.erasure == nullptr) {
      return fail(http::Problem::Unavailable("erasure intake unavailable"));
    }
  }
  const std::string topic = SafeCode(batch->topic);
  nlohmann::json events = nlohmann::json::array();
  for (const adapters::IngestEvent& e : batch->events) {
    Result<std::vector<EventResult>> r = Process(w, SafeCode(e.topic.empty() ? batch->topic : e.topic), e);
    if (!r.ok()) return fail(http::ProblemFromStatus(r.status()));
    for (const EventResult& er : *r) {
      nlohmann::json j = {{"kind", er.kind}, {"outcome", er.outcome}};
      if (!er.purpose.empty()) j["purpose"] = er.purpose;
      if (er.seq != 0) j["seq"] = er.seq;
      events.push_back(std::move(j));
    }
  }
  reply.json = nlohmann::json({{"system", w.id}, {"topic", topic}, {"events", events}}).dump();
  return reply;
}

std::vector<domain::Identifier> WebhookIngest::Usable(const std::vector<domain::Identifier>& ids) const {
  std::vector<domain::Identifier> out;
  for (const domain::Identifier& id : ids) {
    if (identity::Normalize(id, deps_.subjects->rules()).ok()) out.push_back(id);
  }
  return out;
}

Result<std::vector<EventResult>> WebhookIngest::Process(const WebhookInstance& w, const std::string& topic,
                                                        const adapters::IngestEvent& e) {
  std::lock_guard<std::mutex> key_lock(LockFor(w.id, e.dedupe_key));
  const std::string kind(adapters::IngestKindName(e.kind));
  Result<bool> seen = deliveries_.Seen(w.id, e.dedupe_key);
  if (!seen.ok()) return seen.status();
  if (*seen) return std::vector<EventResult>{{kind, "replayed", "", 0}};

  DeliveryRow row;
  row.system = w.id;
  row.dedupe_key = e.dedupe_key;
  row.received_ms = deps_.clock->NowMillis();
  row.topic = topic;
  row.kind = kind;
  EventResult result{kind, "", "", 0};

  switch (e.kind) {
    case IngestKind::kIgnored:
      result.outcome = "ignored:" + SafeCode(e.note);
      break;
    case IngestKind::kConsent: {
      Result<std::vector<EventResult>> r = ProcessConsent(w, topic, e, Usable(e.identifiers));
      if (!r.ok()) return r.status();
      std::string outcomes;
      for (const EventResult& er : *r) {
        if (!outcomes.empty()) outcomes += ',';
        outcomes += er.purpose.empty() ? er.outcome : er.purpose + "=" + er.outcome;
        if (row.seq == 0) row.seq = er.seq;
      }
      row.outcome = outcomes;
      deliveries_.Queue(std::move(row));
      return r;
    }
    case IngestKind::kLink: {
      std::vector<domain::Identifier> ids = Usable(e.identifiers);
      if (ids.size() < 2) {
        result.outcome = "ignored:nothing_to_link";
        break;
      }
      // The recreation guard first, with the sending system as the source:
      // a link naming an erased person is blocked and recorded, and the
      // tombstone policy may re-send the erasure to this system (it still
      // holds the customer). The registry's own guard below cannot: it does
      // not know the sender.
      if (service::RecreationGuard* guard = deps_.consents->recreation_guard()) {
        domain::ConsentSource source;
        source.system = w.id;
        source.method = domain::ConsentMethod::kWebhook;
        Status g = guard->Check(ids, source);
        if (g.code() == StatusCode::kFailedPrecondition) {
          result.outcome = "blocked";
          break;
        }
        if (g.code() == StatusCode::kInvalidArgument) {
          result.outcome = "rejected";
          break;
        }
        if (!g.ok()) return g;
      }
      identity::ResolveOptions o;
      o.create_if_missing = false;
      Result<identity::Resolution> res = deps_.subjects->Resolve(ids, o);
      if (!res.ok()) {
        // The registry's creation guard refuses a set naming an erased
        // subject, and has recorded the attempt (erasure.recreation_blocked):
        // answered as a consent would be, 200 "blocked", so that the sender
        // does not retry it.
        if (res.status().code() == StatusCode::kFailedPrecondition) {
          result.outcome = "blocked";
          break;
        }
        if (res.status().code() != StatusCode::kInvalidArgument) return res.status();
        result.outcome = "rejected";
        break;
      }
      switch (res->outcome) {
        case identity::Resolution::Outcome::kNotFound: result.outcome = "unknown_subject"; break;
        case identity::Resolution::Outcome::kAmbiguous: result.outcome = "ambiguous"; break;
        default: result.outcome = res->linked_kinds.empty() ? "already_linked" : "linked"; break;
      }
      break;
    }
    case IngestKind::kErasureRequest: {
      service::ErasureIntakeRequest req;
      req.identifiers = Usable(e.identifiers);
      if (req.identifiers.empty()) {
        result.outcome = "rejected";
        break;
      }
      req.channel = "webhook:" + w.id;
      req.requester = w.id;
      req.received_at_ms = row.received_ms;
      req.verified = true;
      req.source_reference = e.dedupe_key;
      Result<service::ErasureIntakeResult> filed = deps_.erasure->File(req);
      if (!filed.ok()) {
        if (filed.status().code() != StatusCode::kInvalidArgument &&
            filed.status().code() != StatusCode::kFailedPrecondition) {
          return filed.status();
        }
        result.outcome = "rejected";
        break;
      }
      result.outcome = filed->linked_to_open ? "linked_to_open" : "filed";
      result.seq = filed->seq;
      row.outcome = result.outcome;
      row.seq = result.seq;
      // Durable before the 2xx: a replay after a crash must not file again.
      deliveries_.Queue(std::move(row));
      Status fs = deliveries_.Flush();
      if (!fs.ok()) return fs;
      return std::vector<EventResult>{result};
    }
    case IngestKind::kAccessRequest:
    case IngestKind::kShopRedact: {
      AccessRequest req;
      req.kind = e.kind == IngestKind::kShopRedact ? "shop_redact" : "access";
      req.system = w.id;
      req.reference = e.reference;
      for (const domain::Identifier& id : Usable(e.identifiers)) {
        Result<std::optional<domain::Sid>> sid = deps_.subjects->Lookup(id);
        if (!sid.ok()) return sid.status();
        if (*sid) {
          req.sid = **sid;
          break;
        }
      }
      row.outcome = "recorded";
      Result<AccessRequest> rec = access_requests_.Record(std::move(req), row);
      if (!rec.ok()) {
        if (rec.status().code() == StatusCode::kAlreadyExists) return std::vector<EventResult>{{kind, "replayed", "", 0}};
        return rec.status();
      }
      return std::vector<EventResult>{{kind, "recorded", "", rec->seq}};
    }
  }
  row.outcome = result.outcome;
  row.seq = result.seq;
  deliveries_.Queue(std::move(row));
  return std::vector<EventResult>{result};
}

Result<std::vector<EventResult>> WebhookIngest::ProcessConsent(const WebhookInstance& w, const std::string& topic,
                                                               const adapters::IngestEvent& e,
                                                               std::vector<domain::Identifier> ids) {
  (void)topic;
  const std::string kind = "consent";
  std::vector<std::string> purposes;
  if (!e.purpose.empty()) {
    purposes.push_back(e.purpose);
  } else if (auto it = w.channel_purposes.find(e.channel); it != w.channel_purposes.end()) {
    purposes = it->second;
  }
  if (purposes.empty()) return std::vector<EventResult>{{kind, "ignored:no_purpose_for_channel", "", 0}};
  if (ids.empty()) return std::vector<EventResult>{{kind, "ignored:no_usable_identifier", "", 0}};
  const int64_t occurred = e.occurred_at_ms != 0 ? e.occurred_at_ms : deps_.clock->NowMillis();

  std::optional<domain::Sid> sid;
  if (deps_.echo != nullptr) {
    for (const domain::Identifier& id : ids) {
      Result<std::optional<domain::Sid>> s = deps_.subjects->Lookup(id);
      if (!s.ok()) return s.status();
      if (*s) {
        sid = **s;
        break;
      }
    }
  }
  std::vector<EventResult> out;
  for (const std::string& purpose : purposes) {
    if (sid) {
      Result<service::ConsentAnswer> current = deps_.consents->QuerySubject(*sid, purpose);
      if (!current.ok() && current.status().code() != StatusCode::kInvalidArgument) return current.status();
      if (current.ok() && current->state && current->state->decision != e.decision) {
        Result<bool> echo = deps_.echo->IsEcho(w.id, *sid, purpose, e.decision);
        if (!echo.ok()) return echo.status();
        if (*echo) {
          out.push_back({kind, "echo", purpose, 0});
          continue;
        }
      }
    }
    service::ConsentEvent ev;
    ev.identifiers = ids;
    ev.purpose = purpose;
    ev.decision = e.decision;
    ev.occurred_at_ms = occurred;
    ev.source.system = w.id;
    ev.source.method = e.method;
    ev.event_id = e.dedupe_key;
    Result<service::RecordResult> r = deps_.consents->Record(ev);
    if (!r.ok()) {
      StatusCode c = r.status().code();
      if (c == StatusCode::kInvalidArgument) {
        out.push_back({kind, "rejected", purpose, 0});
      } else if (c == StatusCode::kFailedPrecondition) {
        out.push_back({kind, "blocked", purpose, 0});
      } else {
        return r.status();
      }
      continue;
    }
    for (const service::RecordedConsent& rc : r->recorded) {
      out.push_back({kind, rc.duplicate ? "duplicate" : std::string(policies::ConflictOutcomeName(rc.outcome)),
                     rc.purpose, rc.seq});
    }
  }
  return out;
}

}  // namespace consentd::ingest
