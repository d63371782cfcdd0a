#include "tests/propagation/test_env.h"

#include <stdlib.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <nlohmann/json.hpp>

namespace consentd::propagation::testing {

using adapters::Outcome;
using adapters::OutcomeClass;

Outcome Done(std::string code) {
  Outcome o;
  o.cls = OutcomeClass::kDone;
  o.http_status = 200;
  o.code = std::move(code);
  return o;
}

Outcome Retry(int status, std::optional<int64_t> retry_after_ms) {
  Outcome o;
  o.cls = OutcomeClass::kRetry;
  o.http_status = status;
  o.code = "http_" + std::to_string(status);
  o.retry_after_ms = retry_after_ms;
  return o;
}

Outcome Permanent(int status, std::string code) {
  Outcome o;
  o.cls = OutcomeClass::kPermanent;
  o.http_status = status;
  o.code = std::move(code);
  return o;
}

Outcome Accepted(std::string reference) {
  Outcome o;
  o.cls = OutcomeClass::kAccepted;
  o.http_status = 202;
  o.code = "accepted";
  o.reference = std::move(reference);
  return o;
}

Outcome Reauth() {
  Outcome o;
  o.cls = OutcomeClass::kReauthenticate;
  o.http_status = 401;
  o.code = "http_401";
  return o;
}

void FakeAdapter::SetScript(Script s) {
  std::lock_guard<std::mutex> lock(mu_);
  script_ = std::move(s);
}

Outcome FakeAdapter::Run(Call call) {
  Script script;
  {
    std::lock_guard<std::mutex> lock(mu_);
    calls_.push_back(call);
    script = script_;
  }
  return script ? script(call) : Done();
}

Outcome FakeAdapter::Deliver(const adapters::Request& request) { return Run(Call{false, request, ""}); }

Outcome FakeAdapter::Confirm(const adapters::Request& request, const std::string& reference) {
  return Run(Call{true, request, reference});
}

bool FakeAdapter::Reauthenticate() {
  std::lock_guard<std::mutex> lock(mu_);
  ++reauths_;
  return reauth_ok_;
}

std::vector<FakeAdapter::Call> FakeAdapter::calls() const {
  std::lock_guard<std::mutex> lock(mu_);
  return calls_;
}

int FakeAdapter::reauths() const {
  std::lock_guard<std::mutex> lock(mu_);
  return reauths_;
}

namespace {

policies::System MakeSystem(const std::string& id, std::vector<std::string> receives) {
  policies::System s;
  s.id = id;
  s.kind = policies::SystemKind::kWebhook;
  s.base_url = "http://127.0.0.1:1";
  s.receives = std::move(receives);
  s.concurrency = 2;
  s.rate_limit = {1000, 100};
  s.options = policies::WebhookOptions{};
  return s;
}

}  // namespace

PropagationEnv::PropagationEnv() {
  std::string tmpl = std::filesystem::temp_directory_path().string() + "/consentd-propagation-XXXXXX";
  REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
  dir_ = tmpl;
  ledger::LedgerOptions lo;
  lo.path = db_path();
  lo.create_if_missing = true;
  lo.origin = "example.com/propagation-test";
  lo.clock = &clock;
  Result<std::unique_ptr<ledger::Ledger>> l = ledger::Ledger::Open(lo);
  if (!l.ok()) FAIL(l.status().ToString());
  ledger_ = std::move(*l);
  writer_ = std::make_unique<vault::LedgerAppender>(*ledger_);
  Status s = writer_->Write({}, [](sqlite3* db, auto) { return Outbox::EnsureSchema(db); });
  REQUIRE(s.ok());

  policy = std::make_shared<policies::PolicySet>();
  policies::Purpose email;
  email.key = "email_marketing";
  email.channel = policies::Channel::kEmail;
  policies::Purpose sms;
  sms.key = "sms_marketing";
  sms.channel = policies::Channel::kSms;
  policy->purposes[email.key] = email;
  policy->purposes[sms.key] = sms;
  policy->systems["alpha"] = MakeSystem("alpha", {"email_marketing"});
  policy->systems["beta"] = MakeSystem("beta", {"email_marketing", "sms_marketing"});
  policy->systems["gamma"] = MakeSystem("gamma", {"sms_marketing"});

  auto p = policy;
  Result<std::unique_ptr<Outbox>> o = Outbox::Open(db_path(), *writer_, [p] { return p; }, clock);
  if (!o.ok()) FAIL(o.status().ToString());
  outbox_ = std::move(*o);
}

PropagationEnv::~PropagationEnv() {
  outbox_.reset();
  writer_.reset();
  ledger_.reset();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

domain::Sid PropagationEnv::Subject(const std::string& email) {
  domain::Sid sid = domain::Sid::Random();
  std::lock_guard<std::mutex> lock(mu);
  identities[sid] = {domain::NormalizedIdentifier{domain::IdentifierKind::Email(), "", email}};
  return sid;
}

uint64_t PropagationEnv::Consent(const domain::Sid& sid, const std::string& purpose, bool granted,
                                 const std::string& origin) {
  nlohmann::json payload = {{"sid", sid.ToHex()}, {"purpose", purpose}, {"state", granted ? "opt_in" : "opt_out"}};
  uint64_t seq = 0;
  Status s = writer_->Write({{"consent.recorded", payload.dump()}},
                            [&](sqlite3* db, std::span<const ledger::AppendedEntry> appended) {
                              service::Change c;
                              c.kind = service::ChangeKind::kConsent;
                              c.sid = sid;
                              c.seq = appended[0].seq;
                              c.purpose = purpose;
                              c.decision = granted ? domain::Decision::kGranted : domain::Decision::kWithdrawn;
                              c.occurred_at_ms = clock.NowMillis();
                              c.origin_system = origin;
                              seq = c.seq;
                              return outbox_->Enqueue(db, c);
                            });
  REQUIRE(s.ok());
  return seq;
}

uint64_t PropagationEnv::Erasure(const domain::Sid& sid, const std::string& request_id) {
  nlohmann::json payload = {{"sid", sid.ToHex()}, {"request", request_id}};
  uint64_t seq = 0;
  Status s = writer_->Write({{"erasure.requested", payload.dump()}},
                            [&](sqlite3* db, std::span<const ledger::AppendedEntry> appended) {
                              service::Change c;
                              c.kind = service::ChangeKind::kErasure;
                              c.sid = sid;
                              c.seq = appended[0].seq;
                              c.request_id = request_id;
                              seq = c.seq;
                              return outbox_->Enqueue(db, c);
                            });
  REQUIRE(s.ok());
  return seq;
}

CustomerSource PropagationEnv::customers() {
  return [this](const domain::Sid& sid) -> Result<std::vector<domain::NormalizedIdentifier>> {
    std::lock_guard<std::mutex> lock(mu);
    if (shredded.count(sid)) return Status::NotFound("shredded");
    auto it = identities.find(sid);
    if (it == identities.end()) return Status::NotFound("unknown subject");
    return it->second;
  };
}

std::unique_ptr<Dispatcher> PropagationEnv::MakeDispatcher(
    const DispatcherOptions& options, const std::map<std::string, std::shared_ptr<FakeAdapter>>& adapters,
    bool real_time) {
  auto p = policy;
  auto d = std::make_unique<Dispatcher>(
      *outbox_, customers(), [p] { return p; }, options, real_time ? static_cast<const Clock&>(SystemClock::Get()) : clock,
      real_time ? static_cast<Sleeper&>(real_sleeper_) : sleeper, [] { return 1.0; }, nullptr, nullptr);
  for (const auto& [id, adapter] : adapters) {
    DispatchTarget t;
    t.system = policy->systems.at(id);
    t.adapter = adapter;
    d->AddTarget(std::move(t));
  }
  return d;
}

std::vector<std::string> PropagationEnv::Entries(const std::string& kind) {
  std::vector<std::string> out;
  Status s = ledger_->ScanEntries(0, ledger_->Size(), [&](uint64_t, std::string_view entry) {
    nlohmann::json j = nlohmann::json::parse(entry);
    if (j["kind"] == kind) out.push_back(j["payload"].dump());
    return Status::Ok();
  });
  REQUIRE(s.ok());
  return out;
}

std::vector<OutboxRow> PropagationEnv::Rows(const std::string& system) {
  ListFilter f;
  f.system = system;
  f.limit = 100000;
  Result<std::vector<OutboxRow>> rows = outbox_->List(f);
  REQUIRE(rows.ok());
  return *rows;
}

}  // namespace consentd::propagation::testing
