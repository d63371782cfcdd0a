// Runtime: one opened data directory, with everything the service and the
// command line work on: the ledger (and its signer), the read connection to
// the database, the key directory, tokens, subjects and vault, and policies.
// consentd and consentctl both open it, so they agree on what a data
// directory is.
//
// Opening creates missing tables (one durable transaction). It does not
// start threads: the checkpointer and the HTTP server belong to consentd.
//
// Thread-safety: the components are thread-safe; Runtime itself is not
// copied or moved after Open.
#ifndef CONSENTD_SERVICE_RUNTIME_H_
#define CONSENTD_SERVICE_RUNTIME_H_

#include <memory>

#include "ledger/ledger.h"
#include "ledger/note.h"
#include "policies/policy_set.h"
#include "src/auth/token_store.h"
#include "src/identity/subject_registry.h"
#include "src/propagation/outbox.h"
#include "src/service/access_log.h"
#include "src/service/consent_service.h"
#include "src/service/query_cache.h"
#include "src/vault/change_watch.h"
#include "src/base/clock.h"
#include "src/erasure/erasure_service.h"
#include "src/base/result.h"
#include "src/service/config.h"
#include "src/vault/key_directory.h"
#include "src/vault/ledger_writer.h"
#include "src/vault/sqlite_database.h"

namespace consentd::service {

struct RuntimeOptions {
  // Fail when the checkpoint key cannot be read (the service needs it;
  // read-only tools do not).
  bool require_signer = true;
  const Clock* clock = nullptr;  // default: the system clock
};

class Runtime {
 public:
  static Result<std::unique_ptr<Runtime>> Open(const Config& config, const RuntimeOptions& options = {});
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  const Config& config() const { return config_; }
  const Clock& clock() const { return *clock_; }
  ledger::Ledger& ledger() { return *ledger_; }
  const ledger::Signer* signer() const { return signer_.get(); }
  vault::LedgerWriter& writer() { return *writer_; }
  vault::Database& database() { return *database_; }
  const vault::KeyDirectory& keys() const { return *keys_; }
  auth::TokenStore& tokens() { return *tokens_; }
  identity::SubjectRegistry& subjects() { return *subjects_; }
  ConsentService& consents() { return *consents_; }
  // Erasure requests; also ConsentService's RecreationGuard and the
  // outbox's DeliveryListener. Its worker thread is started by consentd.
  erasure::ErasureService& erasure() { return *erasure_; }
  AccessLog& access_log() { return *access_log_; }
  // The transactional outbox (the consent service's FanOut; the erasure
  // service enqueues erasures and sets its DeliveryListener here).
  propagation::Outbox& outbox() { return *outbox_; }
  std::shared_ptr<const policies::PolicySet> policy() const { return consents_->policy(); }

  // Turns on the consent query index (query_cache.h) with at most
  // `max_entries` entries: watches the ledger's commits and the WAL index
  // (vault::ChangeWatch) and gives the cache to the consent service. For
  // consentd; call once, before serving. On failure (the WAL index is not
  // readable as documented) nothing changes and queries read the database.
  Status EnableQueryCache(size_t max_entries);
  // The cache, or null when not enabled.
  QueryCache* query_cache() { return query_cache_.get(); }

 private:
  Runtime() = default;

  Config config_;
  const Clock* clock_ = nullptr;
  // Declared before the ledger and the consent service, which point at
  // them: destroyed after both.
  std::unique_ptr<vault::ChangeWatch> change_watch_;
  std::unique_ptr<QueryCache> query_cache_;
  std::unique_ptr<ledger::Signer> signer_;
  std::unique_ptr<ledger::Ledger> ledger_;
  std::unique_ptr<vault::LedgerWriter> writer_;
  std::unique_ptr<vault::Database> database_;
  std::unique_ptr<vault::KeyDirectory> keys_;
  std::unique_ptr<auth::TokenStore> tokens_;
  std::unique_ptr<identity::SubjectRegistry> subjects_;
  std::unique_ptr<erasure::ErasureService> erasure_;  // outlives consents_ and outbox_ (they point at it)
  std::unique_ptr<propagation::Outbox> outbox_;
  std::unique_ptr<ConsentService> consents_;
  std::unique_ptr<vault::LedgerWriter> access_writer_;  // before access_log_, which writes through it
  std::unique_ptr<AccessLog> access_log_;
};

// Loads the checkpoint signer from <key_dir>/checkpoint.key; refuses a file
// with group or other permission bits.
Result<ledger::Signer> LoadCheckpointSigner(const std::string& key_dir);

}  // namespace consentd::service

#endif  // CONSENTD_SERVICE_RUNTIME_H_
