#include "tests/erasure/erasure_env.h"

#include <stdlib.h>
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "ledger/entry.h"
#include "policies/loader.h"

namespace consentd::erasure::testing {

Status RecordingFanOut::Enqueue(sqlite3*, const service::Change& change) {
  if (fail_) return Status::Unavailable("fan-out refused (test)");
  std::lock_guard<std::mutex> l(mu_);
  changes_.push_back(change);
  return Status::Ok();
}

std::vector<service::Change> RecordingFanOut::changes() const {
  std::lock_guard<std::mutex> l(mu_);
  return changes_;
}

ErasureEnv::ErasureEnv() {
  std::string tmpl = std::filesystem::temp_directory_path().string() + "/consentd-erasure-XXXXXX";
  REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
  root_ = tmpl;
  data_dir_ = root_ + "/data";
  key_dir_ = root_ + "/keys";
  REQUIRE(::mkdir(data_dir_.c_str(), 0700) == 0);
  Result<vault::KeyDirectory> keys = vault::KeyDirectory::Open(key_dir_, true);
  REQUIRE(keys.ok());
  keys_ = std::make_unique<vault::KeyDirectory>(std::move(*keys));
  Result<ledger::Signer> signer = ledger::Signer::Generate("example.com/erasure-test");
  REQUIRE(signer.ok());
  signer_ = std::make_unique<ledger::Signer>(std::move(*signer));
  std::vector<std::string> files = {std::string(CONSENTD_SOURCE_DIR) + "/policies/default.json"};
  Result<policies::PolicySet> p = policies::LoadPolicies(files);
  REQUIRE(p.ok());
  policy_ = std::make_shared<const policies::PolicySet>(std::move(*p));
  clock_.Set(kJan15_2024);
  Reopen();
}

ErasureEnv::~ErasureEnv() {
  Close();
  std::error_code ec;
  std::filesystem::remove_all(root_, ec);
}

void ErasureEnv::Close() {
  consents_.reset();
  erasure_.reset();
  registry_.reset();
  db_.reset();
  writer_.reset();
  ledger_.reset();
}

void ErasureEnv::Reopen() {
  Close();
  ledger::LedgerOptions options;
  options.path = db_path();
  options.create_if_missing = true;
  options.origin = signer_->name();
  options.clock = &clock_;
  options.signer = signer_.get();
  Result<std::unique_ptr<ledger::Ledger>> ledger = ledger::Ledger::Open(options);
  if (!ledger.ok()) FAIL(ledger.status().ToString());
  ledger_ = std::move(*ledger);
  writer_ = std::make_unique<vault::LedgerAppender>(*ledger_);
  Status s = writer_->Write({}, [](sqlite3* db, auto) { return service::ConsentService::EnsureSchema(db); });
  REQUIRE(s.ok());
  Result<std::unique_ptr<vault::Database>> db = vault::Database::Open(db_path());
  REQUIRE(db.ok());
  db_ = std::move(*db);
  Result<std::unique_ptr<identity::SubjectRegistry>> registry =
      identity::SubjectRegistry::Open(db_path(), *writer_, *keys_, policy_->identity, &clock_);
  if (!registry.ok()) FAIL(registry.status().ToString());
  registry_ = std::move(*registry);
  ErasureOptions eo;
  eo.default_jurisdiction = "gdpr";
  Result<std::unique_ptr<ErasureService>> e = ErasureService::Open(db_path(), *ledger_, *registry_, policy_, clock_, eo);
  if (!e.ok()) FAIL(e.status().ToString());
  erasure_ = std::move(*e);
  erasure_->SetFanOut(&fan_out_);
  erasure_->InstallRegistryGuard();
  consents_ = std::make_unique<service::ConsentService>(*ledger_, *writer_, *db_, *registry_, policy_, clock_,
                                                        erasure_.get());
}

void ErasureEnv::Deliver(const std::string& request_id, const std::string& system, service::DeliveryResult result,
                         const std::string& detail) {
  Result<ErasureRequest> r = erasure_->Get(request_id);
  REQUIRE(r.ok());
  service::DeliveryOutcome o;
  o.outbox_id = next_outbox_id_++;
  o.system = system;
  o.kind = service::ChangeKind::kErasure;
  o.sid = r->sid;
  o.request_id = request_id;
  o.result = result;
  o.detail = detail;
  o.time_ms = clock_.NowMillis();
  Result<std::vector<ledger::AppendedEntry>> a = ledger_->Append(
      {{"delivery.outcome", "{\"request\":\"" + request_id + "\",\"system\":\"" + system + "\"}"}},
      [&](sqlite3* db, std::span<const ledger::AppendedEntry> appended) {
        o.outcome_seq = appended[0].seq;
        return erasure_->OnDeliveryOutcome(db, o);
      });
  REQUIRE(a.ok());
}

void ErasureEnv::ConfirmAll(const std::string& request_id) {
  Result<ErasureRequest> r = erasure_->Get(request_id);
  REQUIRE(r.ok());
  for (const SystemProgress& p : r->systems) {
    if (p.status == "pending") Deliver(request_id, p.system, service::DeliveryResult::kConfirmed);
  }
}

std::string ErasureEnv::FileVerified(const std::string& email) {
  service::ErasureIntakeRequest in;
  in.identifiers = {Email(email)};
  in.jurisdiction = "gdpr";
  in.channel = "api";
  in.requester = "officer-token";
  in.received_at_ms = clock_.NowMillis();
  in.verified = true;
  Result<service::ErasureIntakeResult> r = erasure_->File(in);
  if (!r.ok()) FAIL(r.status().ToString());
  return r->request_id;
}

std::vector<std::string> ErasureEnv::Payloads(const std::string& kind) const {
  std::vector<std::string> out;
  Status s = ledger_->ScanEntries(0, ledger_->Size(), [&](uint64_t, std::string_view bytes) {
    Result<ledger::EntryView> v = ledger::ParseEntry(bytes);
    if (v.ok() && v->kind == kind) out.emplace_back(v->payload);
    return Status::Ok();
  });
  REQUIRE(s.ok());
  return out;
}

size_t ErasureEnv::CreatedSubjects() const {
  size_t n = Payloads("subject.created").size();
  for (const std::string& p : Payloads("subjects.created")) n += nlohmann::json::parse(p).at("subjects").size();
  return n;
}

domain::Identifier Email(std::string value) {
  return domain::Identifier{domain::IdentifierKind::Email(), std::move(value), ""};
}
domain::Identifier Phone(std::string value) {
  return domain::Identifier{domain::IdentifierKind::Phone(), std::move(value), ""};
}

}  // namespace consentd::erasure::testing
