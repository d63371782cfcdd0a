// KeyDirectory: the operator's key directory (mode 0700, files 0600), which
// holds the secrets that must never be inside the database:
//   checkpoint.key     Ed25519 checkpoint signing key (written by the ledger
//                      tooling; not touched here)
//   kek.key            current key-encryption key (wraps subject keys)
//   blind-index.key    current blind-index key
//   kek.<id>.key, blind-index.<id>.key
//                      older keys kept after a rotation while rows may
//                      still reference them
// Each key file is one line: "<id>:<64 lower-case hex digits>\n", the id a
// decimal integer >= 1. See docs/identity.md.
//
// Keys are only read from regular files without any group or other
// permission bit; the directory must not be writable by group or others.
//
// Thread-safety: methods may be called concurrently, but two processes must
// not rotate the same key at once (the caller serializes rotations).
#ifndef CONSENTD_VAULT_KEY_DIRECTORY_H_
#define CONSENTD_VAULT_KEY_DIRECTORY_H_

#include <string>
#include <string_view>

#include "src/base/result.h"
#include "src/vault/key_ring.h"

namespace consentd::vault {

class KeyDirectory {
 public:
  static constexpr std::string_view kKek = "kek";
  static constexpr std::string_view kBlindIndex = "blind-index";

  // Opens the directory at `path`, creating it with mode 0700 when missing
  // and `create_if_missing`. kNotFound when missing otherwise;
  // kFailedPrecondition when it is not a directory or is writable by group
  // or others.
  static Result<KeyDirectory> Open(std::string path, bool create_if_missing);

  // The ring of key `name` ("kek" or "blind-index"): <name>.key and every
  // <name>.<id>.key. kNotFound when <name>.key is missing;
  // kFailedPrecondition for a file with group/other permission bits;
  // kCorruption for a malformed file or two files with one id and different
  // bytes.
  Result<KeyRing> Load(std::string_view name) const;

  // Like Load, but first creates <name>.key with id 1 and fresh random bytes
  // when it is missing (durably: written, fsync'd, renamed, directory
  // fsync'd).
  Result<KeyRing> LoadOrCreate(std::string_view name) const;

  // Rotation step 1: makes a new current key with id = (highest id) + 1.
  // The previous current key is first saved as <name>.<old id>.key, then
  // <name>.key is replaced atomically, so a crash at any point leaves every
  // key loadable. Returns the new ring.
  Result<KeyRing> AddKey(std::string_view name) const;

  // Deletes <name>.<id>.key. kFailedPrecondition when `id` is the current
  // key; OK when the file does not exist.
  Status RetireKey(std::string_view name, uint32_t id) const;

  const std::string& path() const { return path_; }

 private:
  explicit KeyDirectory(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

}  // namespace consentd::vault

#endif  // CONSENTD_VAULT_KEY_DIRECTORY_H_
