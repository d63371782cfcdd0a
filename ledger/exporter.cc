#include "ledger/exporter.h"

namespace consentd::ledger {

Status ExportEntries(const Ledger& ledger, uint64_t size, std::FILE* out,
                     const std::function<void(uint64_t, uint64_t)>& progress) {
  if (size > ledger.Size()) return Status::InvalidArgument("export size beyond the ledger");
  uint64_t expected = 0;
  Status s = ledger.ScanEntries(0, size, [&](uint64_t seq, std::string_view entry) {
    if (seq != expected) return Status::Corruption("entry " + std::to_string(expected) + " is missing");
    ++expected;
    if (std::fwrite(entry.data(), 1, entry.size(), out) != entry.size() || std::fputc('\n', out) == EOF) {
      return Status::IOError("write failed");
    }
    if (progress && (expected & 0xffff) == 0) progress(expected, size);
    return Status::Ok();
  });
  if (!s.ok()) return s;
  if (expected != size) return Status::Corruption("entry " + std::to_string(expected) + " is missing");
  if (std::fflush(out) != 0) return Status::IOError("flush failed");
  if (progress) progress(size, size);
  return Status::Ok();
}

}  // namespace consentd::ledger
