// Ledger format constants, shared by the writer (entry.cc, ledger.cc), the
// reader and the verifier (verifier.cc) and the exporter (exporter.cc).
// The byte-exact specification is docs/ledger-format.md; change neither
// without the other, and bump kFormatVersion on any incompatible change.
#ifndef CONSENTD_LEDGER_FORMAT_H_
#define CONSENTD_LEDGER_FORMAT_H_

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace consentd::ledger {

// Entry encoding version, written as the "v" member of every entry.
inline constexpr int kFormatVersion = 1;

// RFC 6962 domain separation prefixes.
inline constexpr uint8_t kLeafHashPrefix = 0x00;
inline constexpr uint8_t kNodeHashPrefix = 0x01;

// An entry (all its bytes) is at most this long, so that it fits the
// uint16 length prefix of a tlog-tiles entry bundle.
inline constexpr size_t kMaxEntryBytes = 65535;

// Entry kinds: 1..64 bytes of [a-z0-9._:-].
inline constexpr size_t kMaxKindBytes = 64;

// The fixed member order of an entry (docs/ledger-format.md §2):
// {"v":1,"seq":S,"time":"T","prev":"P","kind":"K","payload":J}
inline constexpr std::string_view kEntryPrefix = "{\"v\":1,\"seq\":";
inline constexpr std::string_view kTimeKey = ",\"time\":\"";
inline constexpr std::string_view kPrevKey = "\",\"prev\":\"";
inline constexpr std::string_view kKindKey = "\",\"kind\":\"";
inline constexpr std::string_view kPayloadKey = "\",\"payload\":";
inline constexpr std::string_view kEntrySuffix = "}";

// Length of the "time" value: YYYY-MM-DDTHH:MM:SS.mmmZ.
inline constexpr size_t kTimeTextBytes = 24;

// Signed checkpoints: C2SP tlog-checkpoint in a C2SP signed note.
inline constexpr uint8_t kEd25519SignatureType = 0x01;
inline constexpr uint8_t kEd25519CosignatureType = 0x04;
inline constexpr std::string_view kSignatureDash = "\xE2\x80\x94 ";  // U+2014 and a space

// Export file format line (first line of a proof bundle).
inline constexpr std::string_view kProofBundleHeader = "c2sp.org/tlog-proof@v1";

// Meta keys in the SQLite ledger file.
inline constexpr std::string_view kMetaFormatVersion = "ledger_format_version";
inline constexpr std::string_view kMetaOrigin = "ledger_origin";

}  // namespace consentd::ledger

#endif  // CONSENTD_LEDGER_FORMAT_H_
