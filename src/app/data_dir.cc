#include "src/app/data_dir.h"

#include "src/service/config.h"
#include "src/service/runtime.h"
#include "src/vault/key_directory.h"
#include "src/app/default_policy.h"
#include "src/base/bytes.h"
#include "src/base/file_util.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

namespace consentd::app {
namespace {

Status MakeDir(const std::string& path) {
  if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) {
    return Status::IOError("cannot create directory " + path + ": " + std::strerror(errno));
  }
  struct stat st;
  if (::stat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return Status::IOError(path + " is not a directory");
  if (::chmod(path.c_str(), 0700) != 0) return Status::IOError("cannot chmod " + path);
  return Status::Ok();
}

std::string Absolute(const std::string& p) {
  if (!p.empty() && p[0] == '/') return p;
  char buf[4096];
  if (!::getcwd(buf, sizeof buf)) return p;
  return std::string(buf) + "/" + p;
}

std::string StripSlash(std::string p) {
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  return p;
}

}  // namespace

Result<int> LockDataDir(const std::string& data_dir) {
  const std::string path = data_dir + "/consentd.lock";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return Status::IOError("cannot open " + path);
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    return Status::FailedPrecondition("consentd (or another maintenance command) is running on " + data_dir);
  }
  return fd;
}

Result<DataDir> DataDir::Init(const std::string& data_dir_in, const std::string& key_dir_in,
                              const std::string& origin_in) {
  DataDir d;
  d.data_dir = StripSlash(Absolute(data_dir_in));
  d.key_dir = key_dir_in.empty() ? d.data_dir + ".keys" : StripSlash(Absolute(key_dir_in));
  d.origin = origin_in;
  if (d.origin.empty()) d.origin = "consentd.local/ledger/" + HexEncode(AsBytes(RandomBytes(4)));
  if (!ledger::IsValidKeyName(d.origin)) return Status::InvalidArgument("origin must contain no spaces and no '+'");
  struct stat st;
  if (::stat(d.config_path().c_str(), &st) == 0) {
    return Status::AlreadyExists(d.data_dir + " is already initialized");
  }
  Status s = MakeDir(d.data_dir);
  if (!s.ok()) return s;
  s = MakeDir(d.key_dir);
  if (!s.ok()) return s;
  Result<ledger::Signer> signer = Status::Internal("unset");
  if (::stat(d.checkpoint_key_path().c_str(), &st) == 0) {
    signer = d.LoadSigner();  // keep an existing key (re-init after a lost data dir)
    if (signer.ok() && signer->name() != d.origin) {
      return Status::FailedPrecondition("existing checkpoint key is for origin " + signer->name());
    }
  } else {
    signer = ledger::Signer::Generate(d.origin);
    if (signer.ok()) s = WriteFileAtomic(d.checkpoint_key_path(), signer->signer_key_string() + "\n", 0600);
    if (!s.ok()) return s;
  }
  if (!signer.ok()) return signer.status();
  // The vault's secrets: key-encryption key and blind-index key.
  Result<vault::KeyDirectory> keys = vault::KeyDirectory::Open(d.key_dir, /*create_if_missing=*/true);
  if (!keys.ok()) return keys.status();
  for (std::string_view name : {vault::KeyDirectory::kKek, vault::KeyDirectory::kBlindIndex}) {
    Result<vault::KeyRing> ring = keys->LoadOrCreate(name);
    if (!ring.ok()) return ring.status();
  }
  Result<std::unique_ptr<ledger::Ledger>> l = [&]() -> Result<std::unique_ptr<ledger::Ledger>> {
    ledger::LedgerOptions o;
    o.path = d.database_path();
    o.create_if_missing = true;
    o.origin = d.origin;
    o.signer = &*signer;
    return ledger::Ledger::Open(o);
  }();
  if (!l.ok()) return l.status();
  Result<ledger::StoredCheckpoint> c = (*l)->SignCheckpoint();
  if (!c.ok()) return c.status();
  // A working demo setup: the default policy, next to the configuration.
  s = MakeDir(d.data_dir + "/policies");
  if (!s.ok()) return s;
  s = WriteFileAtomic(d.data_dir + "/policies/default.json", DefaultPolicyJson(), 0600);
  if (!s.ok()) return s;
  service::Config config;
  config.data_dir = d.data_dir;
  config.key_dir = d.key_dir;
  config.origin = d.origin;
  config.policies = {"policies/default.json"};
  s = WriteFileAtomic(d.config_path(), config.ToJson(), 0600);
  if (!s.ok()) return s;
  return d;
}

Result<DataDir> DataDir::Load(const std::string& data_dir_in) {
  DataDir d;
  d.data_dir = StripSlash(Absolute(data_dir_in));
  Result<service::Config> c = service::Config::Load(d.config_path());
  if (!c.ok()) {
    if (c.status().code() == StatusCode::kNotFound) {
      return Status::NotFound(d.data_dir + " is not initialized (run consentctl init)");
    }
    return c.status();
  }
  d.key_dir = c->key_dir;
  d.origin = c->origin;
  return d;
}

Result<ledger::Signer> DataDir::LoadSigner() const { return service::LoadCheckpointSigner(key_dir); }

Result<std::unique_ptr<ledger::Ledger>> DataDir::OpenLedger(bool read_only, const ledger::Signer* signer) const {
  ledger::LedgerOptions o;
  o.path = database_path();
  o.read_only = read_only;
  o.signer = signer;
  return ledger::Ledger::Open(o);
}

}  // namespace consentd::app
