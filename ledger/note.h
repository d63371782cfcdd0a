// C2SP signed notes (c2sp.org/signed-note) with Ed25519 signatures, and the
// key formats around them: verifier keys "name+hex8+base64(0x01||pk)" and
// signer keys "PRIVATE+KEY+name+hex8+base64(0x01||seed)" (the Go x/mod
// convention). Also timestamped Ed25519 cosignatures (c2sp.org/tlog-cosignature,
// type 0x04) so that witness cosignatures can be checked.
//
// Thread-safety: Signer and the functions here are thread-safe.
#ifndef CONSENTD_LEDGER_NOTE_H_
#define CONSENTD_LEDGER_NOTE_H_

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "src/base/result.h"

namespace consentd::ledger {

// One signature line of a note: "— <name> <base64(key_id || sig)>".
struct NoteSignature {
  std::string name;
  uint32_t key_id = 0;
  std::string signature;  // the bytes after the 4-byte key id
};

struct Note {
  std::string text;  // ends with "\n"; this is what is signed
  std::vector<NoteSignature> signatures;
};

// Parses a signed note. Fails on: invalid UTF-8 or control characters other
// than \n, no blank line separating signatures, an empty or malformed
// signature line, bad base64, more than 100 signatures.
Result<Note> ParseNote(std::string_view note);

// text + "\n" + one line per signature.
std::string FormatNote(const Note& note);

// A public key that verifies notes.
struct VerifierKey {
  std::string name;
  uint32_t key_id = 0;
  uint8_t type = 0;                 // 0x01 Ed25519, 0x04 Ed25519 cosignature
  std::array<uint8_t, 32> public_key{};
};

// Parses "name+hex8+base64(type||pk)"; checks that hex8 matches the key id
// derived from name, type and key.
Result<VerifierKey> ParseVerifierKey(std::string_view vkey);
std::string FormatVerifierKey(const VerifierKey& key);

// key ID = SHA-256(name || 0x0A || type || pk)[0:4], big-endian.
uint32_t ComputeKeyId(std::string_view name, uint8_t type, const std::array<uint8_t, 32>& pk);

// An Ed25519 note signer. Construct from a 32-byte seed.
class Signer {
 public:
  // REQUIRES: name is a valid key name (non-empty, no spaces, no '+').
  static Result<Signer> FromSeed(std::string_view name, std::string_view seed32);
  // Parses "PRIVATE+KEY+name+hex8+base64(0x01||seed)".
  static Result<Signer> FromSignerKey(std::string_view skey);
  // A new random key.
  static Result<Signer> Generate(std::string_view name);

  const std::string& name() const { return name_; }
  uint32_t key_id() const { return key_id_; }
  VerifierKey verifier_key() const;
  std::string verifier_key_string() const { return FormatVerifierKey(verifier_key()); }
  std::string signer_key_string() const;

  // Signature line for `text` (which must end in "\n").
  NoteSignature Sign(std::string_view text) const;
  // Signs `text` and returns the whole signed note.
  std::string SignNote(std::string_view text) const;

 private:
  Signer() = default;
  std::string name_;
  uint32_t key_id_ = 0;
  std::array<uint8_t, 32> seed_{};
  std::array<uint8_t, 32> pk_{};
  std::array<uint8_t, 64> sk_{};
};

// Verifies a note against known keys, per c2sp.org/signed-note:
// signatures by unknown (name, key id) pairs are ignored; a known key whose
// signature fails rejects the note; at least one known key must verify.
// On success returns the names of the keys that verified.
// Type 0x04 keys verify cosignatures over the note text as a checkpoint.
Result<std::vector<std::string>> VerifyNote(const Note& note, const std::vector<VerifierKey>& keys);

// The message an Ed25519 cosigner (type 0x04) signs for a checkpoint body.
std::string CosignatureMessage(uint64_t timestamp, std::string_view checkpoint_body);

// A valid key name: non-empty, valid UTF-8, no Unicode spaces, no '+'.
bool IsValidKeyName(std::string_view name);

}  // namespace consentd::ledger

#endif  // CONSENTD_LEDGER_NOTE_H_
