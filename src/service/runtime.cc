#include "src/service/runtime.h"

#include <sys/stat.h>

#include "policies/loader.h"
#include "src/base/file_util.h"
#include "src/vault/file_writer.h"

namespace consentd::service {

Result<ledger::Signer> LoadCheckpointSigner(const std::string& key_dir) {
  const std::string path = key_dir + "/checkpoint.key";
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return Status::NotFound("no checkpoint key at " + path);
  if (st.st_mode & 077) return Status::FailedPrecondition(path + " is readable by group or others; chmod 600 it");
  Result<std::string> text = ReadFile(path, 4096);
  if (!text.ok()) return text.status();
  std::string k = *text;
  while (!k.empty() && (k.back() == '\n' || k.back() == '\r')) k.pop_back();
  Result<ledger::Signer> s = ledger::Signer::FromSignerKey(k);
  if (!s.ok()) return s.status().WithContext(path);
  return s;
}

Runtime::~Runtime() = default;

Result<std::unique_ptr<Runtime>> Runtime::Open(const Config& config, const RuntimeOptions& options) {
  std::unique_ptr<Runtime> rt(new Runtime());
  rt->config_ = config;
  rt->clock_ = options.clock ? options.clock : &SystemClock::Get();

  Result<ledger::Signer> signer = LoadCheckpointSigner(config.key_dir);
  if (signer.ok()) {
    rt->signer_ = std::make_unique<ledger::Signer>(std::move(*signer));
  } else if (options.require_signer) {
    return signer.status();
  }
  ledger::LedgerOptions lo;
  lo.path = config.database_path();
  lo.clock = rt->clock_;
  lo.signer = rt->signer_.get();
  Result<std::unique_ptr<ledger::Ledger>> l = ledger::Ledger::Open(lo);
  if (!l.ok()) return l.status();
  rt->ledger_ = std::move(*l);
  if (rt->signer_ && rt->signer_->name() != rt->ledger_->origin()) {
    return Status::FailedPrecondition("checkpoint key is for '" + rt->signer_->name() + "' but the ledger origin is '" +
                                      rt->ledger_->origin() + "'");
  }
  rt->writer_ = std::make_unique<vault::LedgerAppender>(*rt->ledger_);

  // Missing tables of the service layers, in one durable transaction.
  Status s = rt->writer_->Write({}, [](sqlite3* db, auto) {
    Status es = auth::TokenStore::EnsureSchema(db);
    if (es.ok()) es = ConsentService::EnsureSchema(db);
    if (es.ok()) es = propagation::Outbox::EnsureSchema(db);
    return es;
  });
  if (!s.ok()) return s.WithContext("create tables");

  Result<std::unique_ptr<vault::Database>> db = vault::Database::Open(config.database_path());
  if (!db.ok()) return db.status();
  rt->database_ = std::move(*db);

  Result<vault::KeyDirectory> keys = vault::KeyDirectory::Open(config.key_dir, /*create_if_missing=*/false);
  if (!keys.ok()) return keys.status();
  rt->keys_ = std::make_unique<vault::KeyDirectory>(std::move(*keys));

  rt->tokens_ = std::make_unique<auth::TokenStore>(*rt->database_, *rt->writer_, *rt->clock_);

  auto policy = std::make_shared<policies::PolicySet>();
  if (!config.policies.empty()) {
    Result<policies::PolicySet> loaded = policies::LoadPolicies(config.policies);
    if (!loaded.ok()) return loaded.status();
    *policy = std::move(*loaded);
  }
  Result<std::unique_ptr<identity::SubjectRegistry>> subjects = identity::SubjectRegistry::Open(
      config.database_path(), *rt->writer_, *rt->keys_, policy->identity, rt->clock_);
  if (!subjects.ok()) return subjects.status();
  rt->subjects_ = std::move(*subjects);
  Result<std::unique_ptr<erasure::ErasureService>> erasure =
      erasure::ErasureService::Open(config.database_path(), *rt->ledger_, *rt->subjects_, policy, *rt->clock_);
  if (!erasure.ok()) return erasure.status();
  rt->erasure_ = std::move(*erasure);
  rt->erasure_->InstallRegistryGuard();  // webhook links and other direct resolutions
  rt->consents_ = std::make_unique<ConsentService>(*rt->ledger_, *rt->writer_, *rt->database_, *rt->subjects_,
                                                   policy, *rt->clock_, rt->erasure_.get());
  Result<std::unique_ptr<propagation::Outbox>> outbox = propagation::Outbox::Open(
      config.database_path(), *rt->writer_, [c = rt->consents_.get()] { return c->policy(); }, *rt->clock_);
  if (!outbox.ok()) return outbox.status();
  rt->outbox_ = std::move(*outbox);
  rt->consents_->SetFanOut(rt->outbox_.get());
  rt->erasure_->SetFanOut(rt->outbox_.get());
  rt->outbox_->SetListener(rt->erasure_.get());
  // The access log in a file of its own (docs/operations.md "Files"): its
  // steady writes would otherwise make every read connection of the main
  // database drop its page cache.
  Result<std::unique_ptr<vault::FileWriter>> access = vault::FileWriter::Open(config.access_log_path());
  if (!access.ok()) return access.status();
  rt->access_writer_ = std::move(*access);
  s = rt->access_writer_->Write({}, [](sqlite3* db, auto) { return AccessLog::EnsureSchema(db); });
  if (!s.ok()) return s.WithContext("create access log tables");
  rt->access_log_ = std::make_unique<AccessLog>(*rt->access_writer_, *rt->clock_);
  return rt;
}

Status Runtime::EnableQueryCache(size_t max_entries) {
  if (query_cache_) return Status::FailedPrecondition("the query cache is already enabled");
  Result<std::unique_ptr<vault::ChangeWatch>> watch = vault::ChangeWatch::Open(
      config_.database_path(), {{"identity_identifiers", {"bidx", "root_sid"}},
                                {"identity_aliases", {"sid", "surviving_sid"}},
                                {"consent_state", {"sid"}}});
  if (!watch.ok()) return watch.status();
  auto cache = std::make_unique<QueryCache>(watch->get(), max_entries);
  (*watch)->SetListener(cache.get());
  Status s = ledger_->SetCommitObserver(watch->get());
  if (!s.ok()) return s;
  change_watch_ = std::move(*watch);
  query_cache_ = std::move(cache);
  consents_->SetQueryCache(query_cache_.get());
  return Status::Ok();
}

}  // namespace consentd::service
