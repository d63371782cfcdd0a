#include "src/vault/key_directory.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <map>
#include <string>

#include "src/base/bytes.h"

namespace consentd::vault {
namespace {

Status Errno(std::string_view what, const std::string& path) {
  return Status::IOError(std::string(what) + " " + path + ": " + std::strerror(errno));
}

bool ValidName(std::string_view name) {
  return name == KeyDirectory::kKek || name == KeyDirectory::kBlindIndex;
}

std::string FormatKeyFile(const Key& key) {
  return std::to_string(key.id) + ":" + HexEncode(ByteView(key.bytes.data(), key.bytes.size())) + "\n";
}

// Reads a key file, refusing loose permissions.
Result<Key> ReadKeyFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return Status::NotFound("key file " + path + " does not exist");
    return Errno("cannot open key file", path);
  }
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    Status s = Errno("cannot stat key file", path);
    ::close(fd);
    return s;
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return Status::FailedPrecondition("key file " + path + " is not a regular file");
  }
  if ((st.st_mode & 077) != 0) {
    ::close(fd);
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return Status::FailedPrecondition("key file " + path + " has mode " + mode +
                                      "; refusing to load a key readable or writable by group or others "
                                      "(chmod 600)");
  }
  char buf[256];
  ssize_t n = ::read(fd, buf, sizeof buf);
  ::close(fd);
  if (n < 0) return Errno("cannot read key file", path);
  std::string_view text(buf, static_cast<size_t>(n));
  if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  size_t colon = text.find(':');
  Status malformed = Status::Corruption("key file " + path + " is not \"<id>:<64 hex digits>\"");
  if (colon == std::string_view::npos || colon == 0 || colon > 9) return malformed;
  uint32_t id = 0;
  for (char c : text.substr(0, colon)) {
    if (c < '0' || c > '9') return malformed;
    id = id * 10 + static_cast<uint32_t>(c - '0');
  }
  std::string_view hex = text.substr(colon + 1);
  if (id == 0 || hex.size() != 2 * Key::kSize) return malformed;
  Result<std::string> raw = HexDecode(hex);
  if (!raw.ok()) return malformed;
  Key key;
  key.id = id;
  std::memcpy(key.bytes.data(), raw->data(), Key::kSize);
  sodium_memzero(raw->data(), raw->size());
  sodium_memzero(buf, sizeof buf);
  return key;
}

Status FsyncDir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Errno("cannot open key directory", dir);
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return Errno("cannot fsync key directory", dir);
  return Status::Ok();
}

// Writes `key` to `path` atomically: temporary file (0600), fsync, rename,
// directory fsync.
Status WriteKeyFile(const std::string& dir, const std::string& path, const Key& key) {
  std::string tmp = path + ".tmp";
  ::unlink(tmp.c_str());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return Errno("cannot create key file", tmp);
  std::string text = FormatKeyFile(key);
  bool ok = ::fchmod(fd, 0600) == 0 && ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
            ::fsync(fd) == 0;
  Status s = ok ? Status::Ok() : Errno("cannot write key file", tmp);
  sodium_memzero(text.data(), text.size());
  ::close(fd);
  if (!s.ok()) {
    ::unlink(tmp.c_str());
    return s;
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) return Errno("cannot rename key file to", path);
  return FsyncDir(dir);
}

Key FreshKey(uint32_t id) {
  Key key;
  key.id = id;
  randombytes_buf(key.bytes.data(), key.bytes.size());
  return key;
}

}  // namespace

Result<KeyDirectory> KeyDirectory::Open(std::string path, bool create_if_missing) {
  if (path.empty()) return Status::InvalidArgument("key directory path is empty");
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    if (errno != ENOENT) return Errno("cannot stat key directory", path);
    if (!create_if_missing) return Status::NotFound("key directory " + path + " does not exist");
    if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) return Errno("cannot create key directory", path);
    if (::chmod(path.c_str(), 0700) != 0) return Errno("cannot chmod key directory", path);
    if (::stat(path.c_str(), &st) != 0) return Errno("cannot stat key directory", path);
  }
  if (!S_ISDIR(st.st_mode)) return Status::FailedPrecondition("key directory " + path + " is not a directory");
  if ((st.st_mode & 022) != 0) {
    return Status::FailedPrecondition("key directory " + path +
                                      " is writable by group or others; refusing to use it (chmod 700)");
  }
  return KeyDirectory(std::move(path));
}

Result<KeyRing> KeyDirectory::Load(std::string_view name) const {
  if (!ValidName(name)) return Status::InvalidArgument("unknown key name \"" + std::string(name) + "\"");
  std::string base(name);
  Result<Key> current = ReadKeyFile(path_ + "/" + base + ".key");
  if (!current.ok()) return current.status();

  std::map<uint32_t, Key> keys;
  keys[current->id] = *current;
  DIR* dir = ::opendir(path_.c_str());
  if (dir == nullptr) return Errno("cannot list key directory", path_);
  Status status;
  while (struct dirent* e = ::readdir(dir)) {
    std::string_view file(e->d_name);
    // <name>.<digits>.key
    if (file.size() <= base.size() + 5 || file.substr(0, base.size() + 1) != base + "." ||
        file.substr(file.size() - 4) != ".key") {
      continue;
    }
    std::string_view digits = file.substr(base.size() + 1, file.size() - base.size() - 5);
    bool all_digits = !digits.empty();
    for (char c : digits) all_digits = all_digits && c >= '0' && c <= '9';
    if (!all_digits) continue;
    Result<Key> old = ReadKeyFile(path_ + "/" + std::string(file));
    if (!old.ok()) {
      status = old.status();
      break;
    }
    if (std::to_string(old->id) != digits) {
      status = Status::Corruption("key file " + path_ + "/" + std::string(file) + " holds key id " +
                                  std::to_string(old->id));
      break;
    }
    auto it = keys.find(old->id);
    if (it != keys.end() && it->second.bytes != old->bytes) {
      status = Status::Corruption("two different " + base + " keys with id " + std::to_string(old->id));
      break;
    }
    keys[old->id] = *old;
  }
  ::closedir(dir);
  if (!status.ok()) return status;
  if (keys.rbegin()->first != current->id) {
    return Status::Corruption(base + ".key (id " + std::to_string(current->id) +
                              ") is older than a retained key; the key directory was rolled back");
  }
  std::vector<Key> list;
  for (auto& [id, key] : keys) list.push_back(key);
  return KeyRing(std::move(list));
}

Result<KeyRing> KeyDirectory::LoadOrCreate(std::string_view name) const {
  Result<KeyRing> ring = Load(name);
  if (ring.ok() || ring.status().code() != StatusCode::kNotFound) return ring;
  if (!ValidName(name)) return Status::InvalidArgument("unknown key name \"" + std::string(name) + "\"");
  Status s = WriteKeyFile(path_, path_ + "/" + std::string(name) + ".key", FreshKey(1));
  if (!s.ok()) return s;
  return Load(name);
}

Result<KeyRing> KeyDirectory::AddKey(std::string_view name) const {
  Result<KeyRing> ring = Load(name);
  if (!ring.ok()) return ring.status();
  const Key& old = ring->current();
  std::string base = path_ + "/" + std::string(name);
  Status s = WriteKeyFile(path_, base + "." + std::to_string(old.id) + ".key", old);
  if (!s.ok()) return s;
  s = WriteKeyFile(path_, base + ".key", FreshKey(old.id + 1));
  if (!s.ok()) return s;
  return Load(name);
}

Status KeyDirectory::RetireKey(std::string_view name, uint32_t id) const {
  Result<KeyRing> ring = Load(name);
  if (!ring.ok()) return ring.status();
  if (ring->current().id == id) {
    return Status::FailedPrecondition("cannot retire the current " + std::string(name) + " key");
  }
  std::string file = path_ + "/" + std::string(name) + "." + std::to_string(id) + ".key";
  if (::unlink(file.c_str()) != 0 && errno != ENOENT) return Errno("cannot delete key file", file);
  return FsyncDir(path_);
}

}  // namespace consentd::vault
