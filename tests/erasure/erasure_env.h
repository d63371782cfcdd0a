// ErasureEnv: a data directory with everything the erasure service works on,
// in-process and on a fake clock: ledger (with a checkpoint signer),
// subject registry, consent service (guarded by the erasure service), the
// erasure service itself with a recording FanOut, and the default policy
// (policies/default.json: four systems, GDPR and CCPA).
//
// Outcomes are delivered the way propagation delivers them: inside a ledger
// append whose hook calls OnDeliveryOutcome (Deliver()).
#ifndef CONSENTD_TESTS_ERASURE_ERASURE_ENV_H_
#define CONSENTD_TESTS_ERASURE_ERASURE_ENV_H_

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "ledger/ledger.h"
#include "ledger/note.h"
#include "src/base/clock.h"
#include "src/erasure/erasure_service.h"
#include "src/identity/subject_registry.h"
#include "src/service/consent_service.h"
#include "src/vault/key_directory.h"
#include "src/vault/ledger_writer.h"
#include "src/vault/sqlite_database.h"

namespace consentd::erasure::testing {

// Records every Change it is asked to enqueue; can be told to fail.
class RecordingFanOut final : public service::FanOut {
 public:
  Status Enqueue(sqlite3* db, const service::Change& change) override;
  std::vector<service::Change> changes() const;
  void set_fail(bool fail) { fail_ = fail; }

 private:
  mutable std::mutex mu_;
  std::vector<service::Change> changes_;
  bool fail_ = false;
};

class ErasureEnv {
 public:
  ErasureEnv();
  ~ErasureEnv();

  // Closes and reopens every component on the same files (a restart).
  void Reopen();
  void Close();

  // One final outcome for (request, system), as the dispatcher records it.
  void Deliver(const std::string& request_id, const std::string& system, service::DeliveryResult result,
               const std::string& detail = "");
  // Delivers kConfirmed for every system still pending on the request.
  void ConfirmAll(const std::string& request_id);

  // Files a verified API request for `email` (GDPR) and returns its id.
  std::string FileVerified(const std::string& email);

  ErasureService& erasure() { return *erasure_; }
  service::ConsentService& consents() { return *consents_; }
  identity::SubjectRegistry& registry() { return *registry_; }
  ledger::Ledger& ledger() { return *ledger_; }
  const ledger::Signer& signer() const { return *signer_; }
  RecordingFanOut& fan_out() { return fan_out_; }
  FakeClock& clock() { return clock_; }
  std::shared_ptr<const policies::PolicySet> policy() const { return policy_; }
  const std::string& data_dir() const { return data_dir_; }
  std::string db_path() const { return data_dir_ + "/consentd.db"; }

  // Entries of `kind` in the ledger, as payload strings.
  std::vector<std::string> Payloads(const std::string& kind) const;
  // Subjects the ledger records as created: one per subject.created entry,
  // one per member of a subjects.created entry (an import batch's).
  size_t CreatedSubjects() const;

 private:
  std::string root_, data_dir_, key_dir_;
  FakeClock clock_;
  std::unique_ptr<ledger::Signer> signer_;
  std::shared_ptr<const policies::PolicySet> policy_;
  std::unique_ptr<vault::KeyDirectory> keys_;
  std::unique_ptr<ledger::Ledger> ledger_;
  std::unique_ptr<vault::LedgerAppender> writer_;
  std::unique_ptr<vault::Database> db_;
  std::unique_ptr<identity::SubjectRegistry> registry_;
  std::unique_ptr<ErasureService> erasure_;
  std::unique_ptr<service::ConsentService> consents_;
  RecordingFanOut fan_out_;
  uint64_t next_outbox_id_ = 1;
};

domain::Identifier Email(std::string value);
domain::Identifier Phone(std::string value);

// 2024-01-15T10:00:00Z, a Monday.
inline constexpr int64_t kJan15_2024 = 1705312800000;

}  // namespace consentd::erasure::testing

#endif  // CONSENTD_TESTS_ERASURE_ERASURE_ENV_H_
