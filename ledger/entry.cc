#include "ledger/entry.h"

#include <cstring>

#include "ledger/format.h"
#include "ledger/json_check.h"
#include "src/base/bytes.h"
#include "src/base/time_format.h"

namespace consentd::ledger {
namespace {

constexpr bool IsKindChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == ':' || c == '-';
}

bool ConsumePrefix(std::string_view* s, std::string_view prefix) {
  if (s->substr(0, prefix.size()) != prefix) return false;
  s->remove_prefix(prefix.size());
  return true;
}

// Lookup tables for the verifier's hot loop (ParseEntry runs once per entry):
// table lookups instead of data-dependent branches, which mispredict on the
// random hex digits of "prev".
struct CharTables {
  uint8_t hex[256];   // 0..15 for [0-9a-f], 0x80 otherwise
  bool kind[256];     // IsKindChar
  constexpr CharTables() : hex(), kind() {
    for (int c = 0; c < 256; ++c) {
      hex[c] = 0x80;
      kind[c] = IsKindChar(static_cast<char>(c));
    }
    for (int c = '0'; c <= '9'; ++c) hex[c] = static_cast<uint8_t>(c - '0');
    for (int c = 'a'; c <= 'f'; ++c) hex[c] = static_cast<uint8_t>(c - 'a' + 10);
  }
};
constexpr CharTables kTables;

uint8_t HexValue(char c) { return kTables.hex[static_cast<uint8_t>(c)]; }

}  // namespace

Status ValidateKind(std::string_view kind) {
  if (kind.empty() || kind.size() > kMaxKindBytes) return Status::InvalidArgument("entry kind must be 1..64 bytes");
  for (char c : kind) {
    if (!IsKindChar(c)) return Status::InvalidArgument("entry kind must use only [a-z0-9._:-]");
  }
  return Status::Ok();
}

Status ValidatePayload(std::string_view payload) {
  if (payload.find('\n') != std::string_view::npos || payload.find('\r') != std::string_view::npos) {
    return Status::InvalidArgument("entry payload must be on one line");
  }
  // Largest fixed part: the literals, 20 digits of seq, time, prev and the
  // longest kind (227 bytes, so a payload may have up to 65,308).
  constexpr size_t kOverhead = kEntryPrefix.size() + 20 + kTimeKey.size() + kTimeTextBytes + kPrevKey.size() +
                               64 + kKindKey.size() + kMaxKindBytes + kPayloadKey.size() + kEntrySuffix.size();
  if (payload.size() + kOverhead > kMaxEntryBytes) return Status::InvalidArgument("entry payload too large");
  // The entry grammar locates the payload by its first '{' and last '}': no
  // white space around the object.
  if (payload.empty() || payload.front() != '{' || payload.back() != '}') {
    return Status::InvalidArgument("entry payload must be a JSON object without surrounding white space");
  }
  // One JSON value that starts with '{' is an object.
  if (!IsJsonText(payload)) return Status::InvalidArgument("entry payload is not valid JSON");
  return Status::Ok();
}

std::string EncodeEntry(uint64_t seq, int64_t time_millis, const Hash& prev, std::string_view kind,
                        std::string_view payload) {
  return EncodeEntryAt(seq, FormatTimestampMillis(time_millis), prev, kind, payload);
}

std::string EncodeEntryAt(uint64_t seq, std::string_view time_text, const Hash& prev, std::string_view kind,
                          std::string_view payload) {
  std::string out;
  out.reserve(kEntryPrefix.size() + 20 + kTimeKey.size() + kTimeTextBytes + kPrevKey.size() + 64 +
              kKindKey.size() + kind.size() + kPayloadKey.size() + payload.size() + 1);
  out += kEntryPrefix;
  out += std::to_string(seq);
  out += kTimeKey;
  out += time_text;
  out += kPrevKey;
  out += HexEncode(AsBytes(prev));
  out += kKindKey;
  out += kind;
  out += kPayloadKey;
  out += payload;
  out += kEntrySuffix;
  return out;
}

Result<EntryView> ParseEntry(std::string_view bytes) {
  EntryView e;
  std::string_view s = bytes;
  if (!ConsumePrefix(&s, kEntryPrefix)) return Status::Corruption("entry does not start with {\"v\":1,\"seq\":");
  size_t digits = 0;
  uint64_t seq = 0;
  while (digits < s.size() && s[digits] >= '0' && s[digits] <= '9') {
    uint64_t d = static_cast<uint64_t>(s[digits] - '0');
    if (seq > (UINT64_MAX - d) / 10) return Status::Corruption("entry seq overflows");
    seq = seq * 10 + d;
    ++digits;
  }
  if (digits == 0 || (digits > 1 && s[0] == '0')) return Status::Corruption("entry seq is not canonical decimal");
  e.seq = seq;
  s.remove_prefix(digits);
  if (!ConsumePrefix(&s, kTimeKey) || s.size() < kTimeTextBytes) return Status::Corruption("entry time missing");
  Result<int64_t> t = ParseTimestampMillis(s.substr(0, kTimeTextBytes));
  if (!t.ok()) return Status::Corruption("entry time is not YYYY-MM-DDTHH:MM:SS.mmmZ");
  e.time_millis = *t;
  s.remove_prefix(kTimeTextBytes);
  if (!ConsumePrefix(&s, kPrevKey) || s.size() < 64) return Status::Corruption("entry prev missing");
  uint8_t invalid = 0;  // 0x80 set when any digit is not [0-9a-f]
  for (size_t i = 0; i < 32; ++i) {
    uint8_t hi = HexValue(s[2 * i]);
    uint8_t lo = HexValue(s[2 * i + 1]);
    invalid |= hi | lo;
    e.prev[i] = static_cast<uint8_t>((hi << 4) | (lo & 0x0f));
  }
  if (invalid & 0x80) return Status::Corruption("entry prev is not 64 lower-case hex digits");
  s.remove_prefix(64);
  if (!ConsumePrefix(&s, kKindKey)) return Status::Corruption("entry kind missing");
  size_t k = 0;
  while (k < s.size() && kTables.kind[static_cast<uint8_t>(s[k])]) ++k;
  if (k == 0 || k > kMaxKindBytes) return Status::Corruption("entry kind is invalid");
  e.kind = s.substr(0, k);
  s.remove_prefix(k);
  if (!ConsumePrefix(&s, kPayloadKey)) return Status::Corruption("entry payload missing");
  if (s.size() < 3 || s.front() != '{' || s.substr(s.size() - 2) != "}}") {
    return Status::Corruption("entry payload is not an object closed by the entry");
  }
  e.payload = s.substr(0, s.size() - 1);
  if (bytes.size() > kMaxEntryBytes) return Status::Corruption("entry longer than 65535 bytes");
  if (e.payload.find('\n') != std::string_view::npos) return Status::Corruption("entry spans lines");
  return e;
}

}  // namespace consentd::ledger
