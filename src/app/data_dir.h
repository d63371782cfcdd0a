// DataDir: the on-disk layout that `consentctl init` creates and every
// command and the service open (docs/operations.md):
//
//   <data-dir>/            mode 0700
//     consentd.json        configuration (paths, origin)
//     consentd.db          SQLite database: ledger, and later state and vault
//   <key-dir>/             mode 0700, default "<data-dir>.keys"
//     checkpoint.key       Ed25519 checkpoint signer key, mode 0600
//
// Thread-safety: value type.
#ifndef CONSENTD_APP_DATA_DIR_H_
#define CONSENTD_APP_DATA_DIR_H_

#include <memory>
#include <string>

#include "ledger/ledger.h"
#include "ledger/note.h"
#include "src/base/file_util.h"
#include "src/base/result.h"

namespace consentd::app {

struct DataDir {
  std::string data_dir;
  std::string key_dir;
  std::string origin;

  std::string config_path() const { return data_dir + "/consentd.json"; }
  std::string database_path() const { return data_dir + "/consentd.db"; }
  std::string checkpoint_key_path() const { return key_dir + "/checkpoint.key"; }

  // Creates both directories, the checkpoint key, the configuration and the
  // ledger (with a first checkpoint at size 0). Fails with kAlreadyExists,
  // creating nothing, if the data directory already holds a configuration.
  static Result<DataDir> Init(const std::string& data_dir, const std::string& key_dir, const std::string& origin);

  // Reads <data_dir>/consentd.json.
  static Result<DataDir> Load(const std::string& data_dir);

  // Loads the checkpoint signer; refuses key files readable by group/others.
  Result<ledger::Signer> LoadSigner() const;

  // Opens the ledger; with a signer when the key is readable.
  Result<std::unique_ptr<ledger::Ledger>> OpenLedger(bool read_only, const ledger::Signer* signer) const;
};

// Takes an exclusive lock on <data-dir>/consentd.lock (flock), held until
// the returned descriptor is closed or the process exits. consentd holds it
// while running; maintenance that must not run beside consentd (key
// rotation) takes it too. kFailedPrecondition when it is held.
Result<int> LockDataDir(const std::string& data_dir);

}  // namespace consentd::app

#endif  // CONSENTD_APP_DATA_DIR_H_
