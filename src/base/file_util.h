// Whole-file reads and durable atomic writes.
//
// Thread-safety: thread-safe (no shared state).
#ifndef CONSENTD_BASE_FILE_UTIL_H_
#define CONSENTD_BASE_FILE_UTIL_H_

#include <string>
#include <string_view>

#include "src/base/result.h"

namespace consentd {

// Reads a whole file. kNotFound if it cannot be opened; kInvalidArgument if
// it is larger than `max_bytes`.
Result<std::string> ReadFile(const std::string& path, size_t max_bytes = 64 << 20);

// Writes `contents` to `path` atomically and durably: a temporary file in the
// same directory, fsync, rename, fsync of the directory. `mode` applies to
// the new file.
Status WriteFileAtomic(const std::string& path, std::string_view contents, unsigned mode);

}  // namespace consentd

#endif  // CONSENTD_BASE_FILE_UTIL_H_
