// Entry: the canonical encoding of one ledger entry (docs/ledger-format.md §2).
//
//   {"v":1,"seq":S,"time":"T","prev":"P","kind":"K","payload":J}
//
// The encoded bytes are what is hashed, stored, exported and served; nothing
// re-serializes them. The caller supplies kind and payload; the ledger
// supplies seq, time and prev.
//
// Thread-safety: pure functions.
#ifndef CONSENTD_LEDGER_ENTRY_H_
#define CONSENTD_LEDGER_ENTRY_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "src/base/result.h"
#include "src/base/sha256.h"

namespace consentd::ledger {

// The fields of an encoded entry. Views point into the parsed bytes.
struct EntryView {
  uint64_t seq = 0;
  int64_t time_millis = 0;
  Hash prev{};
  std::string_view kind;
  std::string_view payload;
};

// OK when `kind` is 1..64 bytes of [a-z0-9._:-].
Status ValidateKind(std::string_view kind);
// OK when `payload` is one JSON object (RFC 8259, valid UTF-8) with no CR or
// LF byte anywhere, and the encoded entry would fit kMaxEntryBytes.
Status ValidatePayload(std::string_view payload);

// Encodes an entry. REQUIRES: kind and payload validated.
std::string EncodeEntry(uint64_t seq, int64_t time_millis, const Hash& prev, std::string_view kind,
                        std::string_view payload);
// The same with the time already formatted: `time_text` is
// FormatTimestampMillis(time_millis) (the entries of one commit share a
// time; formatting it was 2% of an import's CPU).
std::string EncodeEntryAt(uint64_t seq, std::string_view time_text, const Hash& prev, std::string_view kind,
                          std::string_view payload);

// Parses the ledger's own fields strictly: exact member order, decimal seq
// without leading zeros, the 24-byte timestamp, 64 lower-case hex digits.
// It does not parse the payload beyond finding its bounds (the verifier's
// speed depends on it); use ValidatePayload for that.
Result<EntryView> ParseEntry(std::string_view bytes);

}  // namespace consentd::ledger

#endif  // CONSENTD_LEDGER_ENTRY_H_
