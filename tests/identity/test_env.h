// TestEnv: a fresh data directory (real ledger + identity tables) and key
// directory under a temporary path, removed at the end of the test.
#ifndef CONSENTD_TESTS_IDENTITY_TEST_ENV_H_
#define CONSENTD_TESTS_IDENTITY_TEST_ENV_H_

#include <memory>
#include <string>

#include "ledger/ledger.h"
#include "src/base/clock.h"
#include "src/identity/subject_registry.h"
#include "src/vault/key_directory.h"
#include "src/vault/ledger_writer.h"

namespace consentd::identity::testing {

class TestEnv {
 public:
  explicit TestEnv(domain::IdentityRules rules = domain::IdentityRules());
  ~TestEnv();

  // Reopens the registry (e.g. after a key rotation changed the key ring).
  void Reopen();
  // Closes everything (ledger included), so that files can be inspected.
  void Close();

  SubjectRegistry& registry() { return *registry_; }
  ledger::Ledger& ledger() { return *ledger_; }
  vault::LedgerWriter& writer() { return *writer_; }
  const vault::KeyDirectory& keys() const { return *keys_; }
  FakeClock& clock() { return clock_; }

  const std::string& data_dir() const { return data_dir_; }
  const std::string& key_dir() const { return key_dir_; }
  std::string db_path() const { return data_dir_ + "/consentd.db"; }

  domain::IdentityRules rules;

 private:
  std::string root_, data_dir_, key_dir_;
  FakeClock clock_;
  std::unique_ptr<ledger::Ledger> ledger_;
  std::unique_ptr<vault::LedgerAppender> writer_;
  std::unique_ptr<vault::KeyDirectory> keys_;
  std::unique_ptr<SubjectRegistry> registry_;
};

// The integer in the first column of the first row `sql` returns on the
// database file at `path`, through a connection of its own (REQUIREs one).
int64_t ScalarOnFile(const std::string& path, const std::string& sql);

domain::Identifier Email(std::string value);
domain::Identifier Phone(std::string value);
domain::Identifier System(domain::IdentifierType type, std::string value, std::string qualifier = "");

}  // namespace consentd::identity::testing

#endif  // CONSENTD_TESTS_IDENTITY_TEST_ENV_H_
