// The Salesforce adapter (downstream-apis.md §4). Paths are relative to
// {base_url}/services/data/{api_version}:
//
//   records      GET /query?q=SELECT Id[, IndividualId] FROM {object} WHERE Id = '..' OR Email = '..' LIMIT 200
//                (every record of the customer: the known id and every record with the email, since
//                duplicates are common and an opt-out or an erasure must reach all of them)
//   kSetConsent  per settings.fields[purpose].name:
//                "<Field>"                    PATCH /sobjects/{object}/{Id} {"<Field>":bool} -> 204
//                "Individual.<Field>"         PATCH /sobjects/Individual/{IndividualId} {"<Field>":bool}
//                "ContactPointTypeConsent.<ContactPointType>"
//                                             GET /query?q=SELECT Id FROM ContactPointTypeConsent WHERE
//                                               PartyId = '{IndividualId}' AND ContactPointType = '<Type>'
//                                             then PATCH each, or POST /sobjects/ContactPointTypeConsent,
//                                             {"PrivacyConsentStatus":status_granted|status_withdrawn,
//                                              "CaptureDate":..,"CaptureSource":"consentd"}
//                bool = granted, inverted when true_means_withdrawn (HasOptedOut* fields).
//   kErase       PATCH /sobjects/Individual/{IndividualId} {"ShouldForget":true} (records the request
//                for the org's own processes), then DELETE /sobjects/{object}/{Id} -> 204
//   token        POST {base_url}/services/oauth2/token grant_type=refresh_token&client_id&client_secret
//                &refresh_token -> {"access_token":..}; swapped in under a mutex.
//
// Errors are arrays [{"message":..,"errorCode":..}]; Outcome.code takes the
// errorCode (an enumeration), never the message, which can echo data.
#include "adapters/salesforce.h"

#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "adapters/http_outcome.h"
#include "adapters/percent_encode.h"
#include "adapters/retry_after.h"
#include "adapters/soql_escape.h"
#include "src/base/time_format.h"

namespace consentd::adapters {

namespace {

using nlohmann::json;

constexpr int kMaxRecords = 200;  // records updated or deleted per customer and call

Outcome Make(OutcomeClass cls, std::string code, int http_status = 0) {
  Outcome o;
  o.cls = cls;
  o.code = std::move(code);
  o.http_status = http_status;
  return o;
}

// Salesforce record ids: 15 or 18 alphanumeric characters. Checked before an
// id goes into a URL or a query.
bool IsRecordId(const std::string& s) {
  if (s.size() != 15 && s.size() != 18) return false;
  for (char c : s) {
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) return false;
  }
  return true;
}

// API names of fields and contact point types: letters, digits, '_'.
bool IsApiName(std::string_view s) {
  if (s.empty() || s.size() > 80) return false;
  for (char c : s) {
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

// The errorCode of the first element of an error array, when it looks like
// one of Salesforce's codes (upper-case letters, digits, '_'); else "".
std::string ErrorCode(const std::string& body) {
  json j = json::parse(body, nullptr, false);
  if (j.is_array() && !j.empty()) j = j[0];
  if (!j.is_object()) return "";
  auto it = j.find("errorCode");
  if (it == j.end() || !it->is_string()) return "";
  const std::string& s = it->get_ref<const std::string&>();
  if (s.empty() || s.size() > 64) return "";
  for (char c : s) {
    if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) return "";
  }
  return s;
}

struct Record {
  std::string id;
  std::string individual_id;  // empty when none (or not asked for)
};

// Where a purpose's decision is written (settings.fields[purpose].name).
struct Target {
  enum Kind { kField, kIndividualField, kContactPointTypeConsent } kind = kField;
  std::string name;  // the field, or the contact point type
};

bool ParseTarget(const std::string& setting, Target* t) {
  const std::string_view s(setting);
  if (s.rfind("Individual.", 0) == 0) {
    t->kind = Target::kIndividualField;
    t->name = setting.substr(11);
  } else if (s.rfind("ContactPointTypeConsent.", 0) == 0) {
    t->kind = Target::kContactPointTypeConsent;
    t->name = setting.substr(24);
  } else {
    t->kind = Target::kField;
    t->name = setting;
  }
  return IsApiName(t->name);
}

class SalesforceAdapter final : public Adapter {
 public:
  SalesforceAdapter(AdapterConfig config, std::shared_ptr<HttpTransport> transport, const Clock& clock)
      : config_(std::move(config)),
        settings_(std::get<SalesforceSettings>(config_.settings)),
        transport_(std::move(transport)),
        clock_(clock) {
    token_ = Credential("access_token");
    refresh_token_ = Credential("refresh_token");
    refreshable_ = !Credential("client_id").empty() && !Credential("client_secret").empty() &&
                   !refresh_token_.empty();
  }

  Outcome Deliver(const Request& request) override {
    if (!IsApiName(settings_.object)) return Make(OutcomeClass::kPermanent, "invalid_object_setting");
    return request.op == Operation::kErase ? Erase(request) : SetConsent(request);
  }

  // Nothing here is asynchronous.
  Outcome Confirm(const Request&, const std::string&) override { return Make(OutcomeClass::kDone, "ok"); }

  // One refresh at a time; a caller that waited while another refreshed
  // uses that token instead of refreshing again.
  bool Reauthenticate() override {
    if (!refreshable_) return false;
    uint64_t seen;
    {
      std::lock_guard<std::mutex> lock(mu_);
      seen = generation_;
    }
    std::lock_guard<std::mutex> refresh_lock(refresh_mu_);
    std::string refresh_token;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (generation_ != seen) return true;
      refresh_token = refresh_token_;
    }
    HttpRequest req;
    req.method = "POST";
    req.url = config_.base_url + "/services/oauth2/token";
    req.headers = {{"Accept", "application/json"}};
    req.content_type = "application/x-www-form-urlencoded";
    req.body = "grant_type=refresh_token&client_id=" + FormEncode(Credential("client_id")) +
               "&client_secret=" + FormEncode(Credential("client_secret")) +
               "&refresh_token=" + FormEncode(refresh_token);
    req.timeout_ms = config_.timeout_ms;
    HttpResponse r = transport_->Send(req);
    if (r.error != TransportError::kNone || r.status != 200) return false;
    json body = json::parse(r.body, nullptr, false);
    if (!body.is_object() || !body.contains("access_token") || !body["access_token"].is_string()) return false;
    std::string token = body["access_token"].get<std::string>();
    if (token.empty() || token.size() > 4096) return false;
    std::lock_guard<std::mutex> lock(mu_);
    token_ = std::move(token);
    // With refresh-token rotation on, the answer carries the next one.
    if (body.contains("refresh_token") && body["refresh_token"].is_string() &&
        !body["refresh_token"].get<std::string>().empty()) {
      refresh_token_ = body["refresh_token"].get<std::string>();
    }
    ++generation_;
    return true;
  }

  std::optional<std::string> Lookup(const Customer& customer, Outcome* outcome) override {
    if (customer.email.empty()) {
      *outcome = Make(OutcomeClass::kPermanent, "no_email");
      return std::nullopt;
    }
    Customer by_email = customer;
    by_email.system_id.clear();
    std::vector<Record> records;
    if (!IsApiName(settings_.object)) {
      *outcome = Make(OutcomeClass::kPermanent, "invalid_object_setting");
      return std::nullopt;
    }
    if (!FindRecords(by_email, false, &records, outcome)) return std::nullopt;
    if (records.empty()) {
      *outcome = Make(OutcomeClass::kDone, "not_found", outcome->http_status);
      return std::string();
    }
    outcome->system_id = records[0].id;
    return records[0].id;
  }

 private:
  std::string Credential(const char* name) const {
    auto it = config_.credentials.find(name);
    return it == config_.credentials.end() ? std::string() : it->second;
  }

  Outcome SetConsent(const Request& request) {
    auto f = settings_.fields.find(request.purpose);
    if (f == settings_.fields.end()) return Make(OutcomeClass::kPermanent, "unsupported_purpose");
    Target target;
    if (!ParseTarget(f->second.name, &target)) return Make(OutcomeClass::kPermanent, "invalid_field_setting");
    const bool value = f->second.true_means_withdrawn ? !request.granted : request.granted;

    std::vector<Record> records;
    Outcome out;
    if (!FindRecords(request.customer, target.kind != Target::kField, &records, &out)) return out;
    if (records.empty()) return Make(OutcomeClass::kDone, "not_found", out.http_status);

    int applied = 0;
    std::set<std::string> individuals_done;
    for (const Record& rec : records) {
      Outcome step;
      if (target.kind == Target::kField) {
        step = Patch(settings_.object, rec.id, json{{target.name, value}});
      } else if (rec.individual_id.empty() || individuals_done.count(rec.individual_id) > 0) {
        continue;
      } else if (target.kind == Target::kIndividualField) {
        individuals_done.insert(rec.individual_id);
        step = Patch("Individual", rec.individual_id, json{{target.name, value}});
      } else {
        individuals_done.insert(rec.individual_id);
        step = SetContactPointTypeConsent(request, target.name, rec.individual_id);
      }
      if (step.http_status == 404) continue;  // deleted since the query: nothing to update there
      if (step.cls != OutcomeClass::kDone) return step;
      ++applied;
    }
    if (applied == 0) {
      // Records exist but none links to an Individual: the decision has
      // nowhere to go, and retrying will not change that.
      if (target.kind != Target::kField && individuals_done.empty()) {
        return Make(OutcomeClass::kPermanent, "no_individual");
      }
      return Make(OutcomeClass::kDone, "not_found", 404);
    }
    Outcome done = Make(OutcomeClass::kDone, "ok", target.kind == Target::kContactPointTypeConsent ? 200 : 204);
    done.system_id = records[0].id;
    return done;
  }

  Outcome SetContactPointTypeConsent(const Request& request, const std::string& type,
                                     const std::string& individual_id) {
    std::vector<std::string> ids;
    Outcome out;
    if (!Query("SELECT Id FROM ContactPointTypeConsent WHERE PartyId = '" + individual_id +
                   "' AND ContactPointType = '" + type + "' LIMIT 200",
               false, &ids, nullptr, &out)) {
      return out;
    }
    json fields = {{"PrivacyConsentStatus", request.granted ? settings_.status_granted : settings_.status_withdrawn},
                   {"CaptureSource", "consentd"}};
    if (request.occurred_at_ms > 0 && request.occurred_at_ms < 253'402'300'800'000) {
      fields["CaptureDate"] = FormatTimestampMillis(request.occurred_at_ms);
    }
    if (ids.empty()) {
      json create = fields;
      create["Name"] = "consentd " + type;
      create["PartyId"] = individual_id;
      create["ContactPointType"] = type;
      // Not idempotent: a create whose answer is lost can leave a duplicate,
      // which the next attempt's query then finds and updates.
      HttpResponse r = Send("POST", DataPath("/sobjects/ContactPointTypeConsent"), create.dump());
      return Classify(r);
    }
    for (const std::string& id : ids) {
      Outcome step = Patch("ContactPointTypeConsent", id, fields);
      if (step.cls != OutcomeClass::kDone && step.http_status != 404) return step;
    }
    return Make(OutcomeClass::kDone, "ok", 204);
  }

  Outcome Erase(const Request& request) {
    std::vector<Record> records;
    Outcome out;
    if (!FindRecords(request.customer, true, &records, &out)) return out;
    if (records.empty()) return Make(OutcomeClass::kAlreadyDone, "not_found", out.http_status);
    // Flag the Individuals first: if a delete then fails, the retry still
    // finds the records and their Individuals. A flag refused for good (no
    // access to Individual, say) must not stop the erasure itself: the
    // deletes go on and the outcome says the flag is missing.
    std::set<std::string> flagged;
    bool flag_refused = false;
    for (const Record& rec : records) {
      if (rec.individual_id.empty() || !flagged.insert(rec.individual_id).second) continue;
      Outcome step = Patch("Individual", rec.individual_id, json{{"ShouldForget", true}});
      if (step.cls == OutcomeClass::kDone || step.http_status == 404) continue;
      if (step.cls != OutcomeClass::kPermanent) return step;
      flag_refused = true;
    }
    int deleted = 0;
    std::string already_code = "not_found";
    for (const Record& rec : records) {
      HttpResponse r = Send("DELETE", DataPath("/sobjects/" + settings_.object + "/" + rec.id), "");
      Outcome step = Classify(r);
      if (step.http_status == 404) {  // NOT_FOUND, ENTITY_IS_DELETED
        already_code = step.code;
        continue;
      }
      if (step.cls != OutcomeClass::kDone) return step;
      ++deleted;
    }
    if (deleted == 0) return Make(OutcomeClass::kAlreadyDone, already_code, 404);
    Outcome done = Make(OutcomeClass::kDone, flag_refused ? "individual_not_flagged" : "ok", 204);
    done.system_id = records[0].id;
    return done;
  }

  // The customer's records: the known id and every record with the email.
  // False with *out set when the query failed.
  bool FindRecords(const Customer& c, bool with_individual, std::vector<Record>* records, Outcome* out) {
    records->clear();
    std::vector<std::string> where;
    if (!c.system_id.empty()) {
      if (!IsRecordId(c.system_id)) {
        *out = Make(OutcomeClass::kPermanent, "invalid_system_id");
        return false;
      }
      where.push_back("Id = '" + c.system_id + "'");
    }
    if (!c.email.empty()) {
      std::string escaped;
      if (!EscapeSoqlString(c.email, &escaped)) {
        *out = Make(OutcomeClass::kPermanent, "invalid_email");
        return false;
      }
      where.push_back("Email = '" + escaped + "'");
    }
    if (where.empty()) {
      *out = Make(OutcomeClass::kPermanent, "no_identifier");
      return false;
    }
    std::string cond = where[0];
    for (size_t i = 1; i < where.size(); ++i) cond += " OR " + where[i];
    const std::string tail = " FROM " + settings_.object + " WHERE " + cond + " LIMIT " + std::to_string(kMaxRecords);
    std::vector<std::string> ids, individuals;
    if (!with_individual) {
      if (!Query("SELECT Id" + tail, false, &ids, nullptr, out)) return false;
    } else if (!Query("SELECT Id, IndividualId" + tail, true, &ids, &individuals, out)) {
      // Orgs without Data Protection and Privacy have no IndividualId field.
      if (out->code != "INVALID_FIELD") return false;
      individuals.clear();
      if (!Query("SELECT Id" + tail, false, &ids, nullptr, out)) return false;
    }
    for (size_t i = 0; i < ids.size(); ++i) {
      records->push_back({ids[i], i < individuals.size() ? individuals[i] : std::string()});
    }
    return true;
  }

  // Runs `soql`; fills the Id (and IndividualId) of each record. A 2xx
  // without a valid records array is kRetry "malformed_response": a query
  // changes nothing, and the dispatcher's attempt limit ends a persistent
  // fault in the dead-letter queue.
  bool Query(const std::string& soql, bool with_individual, std::vector<std::string>* ids,
             std::vector<std::string>* individuals, Outcome* out) {
    HttpResponse r = Send("GET", DataPath("/query?q=" + PercentEncode(soql)), "");
    *out = Classify(r);
    if (out->cls != OutcomeClass::kDone) return false;
    json body = json::parse(r.body, nullptr, false);
    if (!body.is_object() || !body.contains("records") || !body["records"].is_array()) {
      *out = Make(OutcomeClass::kRetry, "malformed_response", r.status);
      return false;
    }
    for (const json& rec : body["records"]) {
      if (!rec.is_object() || !rec.contains("Id") || !rec["Id"].is_string() ||
          !IsRecordId(rec["Id"].get<std::string>())) {
        *out = Make(OutcomeClass::kRetry, "malformed_response", r.status);
        return false;
      }
      ids->push_back(rec["Id"].get<std::string>());
      if (with_individual) {
        std::string ind;
        auto it = rec.find("IndividualId");
        if (it != rec.end() && it->is_string()) ind = it->get<std::string>();
        if (!ind.empty() && !IsRecordId(ind)) {
          *out = Make(OutcomeClass::kRetry, "malformed_response", r.status);
          return false;
        }
        individuals->push_back(ind);
      }
    }
    return true;
  }

  Outcome Patch(const std::string& object, const std::string& id, const json& fields) {
    return Classify(Send("PATCH", DataPath("/sobjects/" + object + "/" + id), fields.dump()));
  }

  std::string DataPath(const std::string& rest) const {
    return "/services/data/" + config_.api_version + rest;
  }

  HttpResponse Send(const char* method, const std::string& path_and_query, std::string body) {
    HttpRequest req;
    req.method = method;
    req.url = config_.base_url + path_and_query;
    {
      std::lock_guard<std::mutex> lock(mu_);
      req.headers = {{"Authorization", "Bearer " + token_}, {"Accept", "application/json"}};
    }
    if (!body.empty()) {
      req.content_type = "application/json";
      req.body = std::move(body);
    }
    req.timeout_ms = config_.timeout_ms;
    return transport_->Send(req);
  }

  // ClassifyHttp plus Salesforce's rules (§4.2): the code is the errorCode
  // when the body carries one.
  Outcome Classify(const HttpResponse& r) const {
    Outcome out = ClassifyHttp(r, clock_.NowMillis());
    if (r.error != TransportError::kNone || out.cls == OutcomeClass::kDone) return out;
    const std::string code = ErrorCode(r.body);
    if (!code.empty()) out.code = code;
    if (r.status == 401) {
      // INVALID_SESSION_ID: refreshable only with the OAuth credentials.
      if (!refreshable_) {
        out.cls = OutcomeClass::kPermanent;
        out.code = "auth_failed";
      }
    } else if (r.status == 403 && code == "REQUEST_LIMIT_EXCEEDED") {
      // The org's API quota (Salesforce's throttle is a 403, not a 429).
      out.cls = OutcomeClass::kRetry;
      out.retry_after_ms = ParseRetryAfter(r.Header("Retry-After"), clock_.NowMillis());
    }
    return out;
  }

  const AdapterConfig config_;
  const SalesforceSettings settings_;
  std::shared_ptr<HttpTransport> transport_;
  const Clock& clock_;
  bool refreshable_ = false;

  std::mutex refresh_mu_;  // one token refresh at a time
  mutable std::mutex mu_;
  std::string token_;          // guarded by mu_
  std::string refresh_token_;  // guarded by mu_
  uint64_t generation_ = 0;    // guarded by mu_; counts refreshes
};

}  // namespace

std::unique_ptr<Adapter> MakeSalesforceAdapter(AdapterConfig config, std::shared_ptr<HttpTransport> transport,
                                               const Clock& clock) {
  return std::make_unique<SalesforceAdapter>(std::move(config), std::move(transport), clock);
}

}  // namespace consentd::adapters
