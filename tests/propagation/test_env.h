// Test doubles for propagation's unit tests: a scripted FakeAdapter and
// PropagationEnv, a real ledger and outbox on a temporary SQLite file with
// a FakeClock, a small policy (purposes email_marketing and sms_marketing;
// systems alpha: email, beta: email and sms, gamma: sms) and an in-memory
// identity source.
#ifndef CONSENTD_TESTS_PROPAGATION_TEST_ENV_H_
#define CONSENTD_TESTS_PROPAGATION_TEST_ENV_H_

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "adapters/adapter.h"
#include "ledger/ledger.h"
#include "policies/policy_set.h"
#include "src/base/clock.h"
#include "src/propagation/dispatcher.h"
#include "src/propagation/outbox.h"
#include "src/propagation/sleeper.h"
#include "src/vault/ledger_writer.h"

namespace consentd::propagation::testing {

adapters::Outcome Done(std::string code = "ok");
adapters::Outcome Retry(int status, std::optional<int64_t> retry_after_ms = std::nullopt);
adapters::Outcome Permanent(int status, std::string code);
adapters::Outcome Accepted(std::string reference);
adapters::Outcome Reauth();

class FakeAdapter final : public adapters::Adapter {
 public:
  struct Call {
    bool confirm = false;
    adapters::Request request;
    std::string reference;
  };
  using Script = std::function<adapters::Outcome(const Call&)>;

  void SetScript(Script s);
  void SetReauthenticates(bool ok) { reauth_ok_ = ok; }

  adapters::Outcome Deliver(const adapters::Request& request) override;
  adapters::Outcome Confirm(const adapters::Request& request, const std::string& reference) override;
  bool Reauthenticate() override;
  std::optional<std::string> Lookup(const adapters::Customer&, adapters::Outcome*) override { return std::string(); }

  std::vector<Call> calls() const;
  int reauths() const;

 private:
  adapters::Outcome Run(Call call);
  mutable std::mutex mu_;
  Script script_;
  std::vector<Call> calls_;
  int reauths_ = 0;
  bool reauth_ok_ = true;
};

class PropagationEnv {
 public:
  PropagationEnv();
  ~PropagationEnv();

  FakeClock clock;
  FakeSleeper sleeper{clock};
  std::shared_ptr<policies::PolicySet> policy;
  std::map<domain::Sid, std::vector<domain::NormalizedIdentifier>> identities;  // guarded by mu
  std::set<domain::Sid> shredded;                                               // guarded by mu
  std::mutex mu;

  ledger::Ledger& ledger() { return *ledger_; }
  vault::LedgerWriter& writer() { return *writer_; }
  Outbox& outbox() { return *outbox_; }
  const std::string& dir() const { return dir_; }
  std::string db_path() const { return dir_ + "/consentd.db"; }

  // A subject with an email identifier.
  domain::Sid Subject(const std::string& email);
  // Appends a cause entry and enqueues its change in the same transaction.
  uint64_t Consent(const domain::Sid& sid, const std::string& purpose, bool granted, const std::string& origin = "");
  uint64_t Erasure(const domain::Sid& sid, const std::string& request_id);
  CustomerSource customers();

  // A dispatcher over `adapters` (system id -> adapter) with the fake clock
  // and sleeper (or the real ones when `real_time`).
  std::unique_ptr<Dispatcher> MakeDispatcher(const DispatcherOptions& options,
                                             const std::map<std::string, std::shared_ptr<FakeAdapter>>& adapters,
                                             bool real_time = false);

  // Payloads of the ledger entries of `kind`, in order.
  std::vector<std::string> Entries(const std::string& kind);
  std::vector<OutboxRow> Rows(const std::string& system = "");

 private:
  std::string dir_;
  std::unique_ptr<ledger::Ledger> ledger_;
  std::unique_ptr<vault::LedgerWriter> writer_;
  std::unique_ptr<Outbox> outbox_;
  RealSleeper real_sleeper_{SystemClock::Get()};
};

}  // namespace consentd::propagation::testing

#endif  // CONSENTD_TESTS_PROPAGATION_TEST_ENV_H_
