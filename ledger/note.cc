#include "ledger/note.h"

#include <sodium.h>

#include <cstring>

#include "ledger/format.h"
#include "src/base/bytes.h"
#include "src/base/sha256.h"

namespace consentd::ledger {
namespace {

constexpr size_t kMaxSignatures = 100;
constexpr std::string_view kSignerKeyPrefix = "PRIVATE+KEY+";

// Decodes one UTF-8 code point at s[*i]; returns -1 when invalid.
int32_t NextCodePoint(std::string_view s, size_t* i) {
  auto b = [&](size_t k) { return static_cast<uint8_t>(s[k]); };
  uint8_t c = b(*i);
  int len;
  int32_t cp;
  if (c < 0x80) { len = 1; cp = c; }
  else if ((c & 0xE0) == 0xC0) { len = 2; cp = c & 0x1F; }
  else if ((c & 0xF0) == 0xE0) { len = 3; cp = c & 0x0F; }
  else if ((c & 0xF8) == 0xF0) { len = 4; cp = c & 0x07; }
  else return -1;
  if (*i + len > s.size()) return -1;
  for (int k = 1; k < len; ++k) {
    uint8_t cc = b(*i + k);
    if ((cc & 0xC0) != 0x80) return -1;
    cp = (cp << 6) | (cc & 0x3F);
  }
  // Overlong forms, surrogates and out-of-range values are invalid.
  if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
      (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) {
    return -1;
  }
  *i += len;
  return cp;
}

bool IsUnicodeSpace(int32_t cp) {
  return cp == 0x20 || (cp >= 0x09 && cp <= 0x0D) || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F ||
         cp == 0x3000;
}

void EnsureSodium() {
  static const bool ok = sodium_init() >= 0;
  (void)ok;
}

uint32_t ReadBigEndian32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

std::string BigEndian32(uint32_t v) {
  std::string out(4, '\0');
  out[0] = static_cast<char>(v >> 24);
  out[1] = static_cast<char>(v >> 16);
  out[2] = static_cast<char>(v >> 8);
  out[3] = static_cast<char>(v);
  return out;
}

std::string KeyWithType(uint8_t type, const uint8_t* key32) {
  std::string out(1, static_cast<char>(type));
  out.append(reinterpret_cast<const char*>(key32), 32);
  return out;
}

// Splits "a+b+c" style keys into exactly `n` parts on the first n-1 '+'.
std::vector<std::string_view> SplitPlus(std::string_view s, size_t n) {
  std::vector<std::string_view> parts;
  while (parts.size() + 1 < n) {
    size_t p = s.find('+');
    if (p == std::string_view::npos) break;
    parts.push_back(s.substr(0, p));
    s.remove_prefix(p + 1);
  }
  parts.push_back(s);
  return parts;
}

Result<uint32_t> ParseHex8(std::string_view h) {
  if (h.size() != 8) return Status::InvalidArgument("key id must be 8 hex digits");
  for (char c : h) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return Status::InvalidArgument("key id must be lower-case hex");
    }
  }
  Result<std::string> raw = HexDecode(h);
  if (!raw.ok()) return raw.status();
  return ReadBigEndian32(reinterpret_cast<const uint8_t*>(raw->data()));
}

}  // namespace

bool IsValidKeyName(std::string_view name) {
  if (name.empty()) return false;
  size_t i = 0;
  while (i < name.size()) {
    int32_t cp = NextCodePoint(name, &i);
    if (cp < 0 || cp == '+' || IsUnicodeSpace(cp) || cp < 0x20 || cp == 0x7F) return false;
  }
  return true;
}

uint32_t ComputeKeyId(std::string_view name, uint8_t type, const std::array<uint8_t, 32>& pk) {
  Sha256 h;
  h.Update(name);
  h.Update("\n");
  uint8_t t = type;
  h.Update(ByteView(&t, 1));
  h.Update(ByteView(pk.data(), pk.size()));
  Hash d = h.Finish();
  return ReadBigEndian32(d.data());
}

Result<Note> ParseNote(std::string_view note) {
  // Valid UTF-8 with no control characters other than newline.
  size_t i = 0;
  while (i < note.size()) {
    int32_t cp = NextCodePoint(note, &i);
    if (cp < 0) return Status::InvalidArgument("note: invalid UTF-8");
    if ((cp < 0x20 && cp != '\n') || cp == 0x7F) return Status::InvalidArgument("note: control character");
  }
  size_t sep = note.rfind("\n\n");
  if (sep == std::string_view::npos) return Status::InvalidArgument("note: no blank line before signatures");
  Note out;
  out.text = std::string(note.substr(0, sep + 1));
  std::string_view rest = note.substr(sep + 2);
  if (rest.empty()) return Status::InvalidArgument("note: no signatures");
  while (!rest.empty()) {
    size_t nl = rest.find('\n');
    if (nl == std::string_view::npos) return Status::InvalidArgument("note: signature line without newline");
    std::string_view line = rest.substr(0, nl);
    rest.remove_prefix(nl + 1);
    if (line.substr(0, kSignatureDash.size()) != kSignatureDash) {
      return Status::InvalidArgument("note: signature line must start with an em dash and a space");
    }
    line.remove_prefix(kSignatureDash.size());
    size_t sp = line.find(' ');
    if (sp == std::string_view::npos) return Status::InvalidArgument("note: malformed signature line");
    std::string_view name = line.substr(0, sp);
    std::string_view b64 = line.substr(sp + 1);
    if (!IsValidKeyName(name)) return Status::InvalidArgument("note: invalid key name");
    Result<std::string> raw = Base64Decode(b64);
    if (!raw.ok()) return Status::InvalidArgument("note: signature is not base64");
    if (raw->size() < 5) return Status::InvalidArgument("note: signature too short");
    if (out.signatures.size() >= kMaxSignatures) return Status::InvalidArgument("note: too many signatures");
    NoteSignature sig;
    sig.name = std::string(name);
    sig.key_id = ReadBigEndian32(reinterpret_cast<const uint8_t*>(raw->data()));
    sig.signature = raw->substr(4);
    out.signatures.push_back(std::move(sig));
  }
  return out;
}

std::string FormatNote(const Note& note) {
  std::string out = note.text;
  out += '\n';
  for (const NoteSignature& s : note.signatures) {
    out += kSignatureDash;
    out += s.name;
    out += ' ';
    out += Base64Encode(AsBytes(BigEndian32(s.key_id) + s.signature));
    out += '\n';
  }
  return out;
}

Result<VerifierKey> ParseVerifierKey(std::string_view vkey) {
  std::vector<std::string_view> parts = SplitPlus(vkey, 3);
  if (parts.size() != 3) return Status::InvalidArgument("verifier key: expected name+hex8+base64");
  VerifierKey key;
  key.name = std::string(parts[0]);
  if (!IsValidKeyName(key.name)) return Status::InvalidArgument("verifier key: invalid key name");
  Result<uint32_t> id = ParseHex8(parts[1]);
  if (!id.ok()) return id.status().WithContext("verifier key");
  Result<std::string> raw = Base64Decode(parts[2]);
  if (!raw.ok()) return Status::InvalidArgument("verifier key: key is not base64");
  if (raw->size() != 33) return Status::InvalidArgument("verifier key: key must be a type byte and 32 bytes");
  key.type = static_cast<uint8_t>((*raw)[0]);
  if (key.type != kEd25519SignatureType && key.type != kEd25519CosignatureType) {
    return Status::InvalidArgument("verifier key: unsupported key type");
  }
  std::memcpy(key.public_key.data(), raw->data() + 1, 32);
  key.key_id = ComputeKeyId(key.name, key.type, key.public_key);
  if (key.key_id != *id) return Status::InvalidArgument("verifier key: key id does not match the key");
  return key;
}

std::string FormatVerifierKey(const VerifierKey& key) {
  std::string out = key.name;
  out += '+';
  out += HexEncode(AsBytes(BigEndian32(key.key_id)));
  out += '+';
  out += Base64Encode(AsBytes(KeyWithType(key.type, key.public_key.data())));
  return out;
}

Result<Signer> Signer::FromSeed(std::string_view name, std::string_view seed32) {
  EnsureSodium();
  if (!IsValidKeyName(name)) return Status::InvalidArgument("signer: invalid key name");
  if (seed32.size() != 32) return Status::InvalidArgument("signer: seed must be 32 bytes");
  Signer s;
  s.name_ = std::string(name);
  std::memcpy(s.seed_.data(), seed32.data(), 32);
  if (crypto_sign_seed_keypair(s.pk_.data(), s.sk_.data(), s.seed_.data()) != 0) {
    return Status::Internal("signer: key derivation failed");
  }
  s.key_id_ = ComputeKeyId(s.name_, kEd25519SignatureType, s.pk_);
  return s;
}

Result<Signer> Signer::FromSignerKey(std::string_view skey) {
  if (skey.substr(0, kSignerKeyPrefix.size()) != kSignerKeyPrefix) {
    return Status::InvalidArgument("signer key: must start with PRIVATE+KEY+");
  }
  std::vector<std::string_view> parts = SplitPlus(skey.substr(kSignerKeyPrefix.size()), 3);
  if (parts.size() != 3) return Status::InvalidArgument("signer key: expected PRIVATE+KEY+name+hex8+base64");
  Result<uint32_t> id = ParseHex8(parts[1]);
  if (!id.ok()) return id.status().WithContext("signer key");
  Result<std::string> raw = Base64Decode(parts[2]);
  if (!raw.ok() || raw->size() != 33 || static_cast<uint8_t>((*raw)[0]) != kEd25519SignatureType) {
    return Status::InvalidArgument("signer key: expected base64 of 0x01 and a 32-byte seed");
  }
  Result<Signer> s = FromSeed(parts[0], std::string_view(*raw).substr(1));
  if (!s.ok()) return s;
  if (s->key_id() != *id) return Status::InvalidArgument("signer key: key id does not match the key");
  return s;
}

Result<Signer> Signer::Generate(std::string_view name) {
  std::string seed = RandomBytes(32);
  Result<Signer> s = FromSeed(name, seed);
  sodium_memzero(seed.data(), seed.size());
  return s;
}

VerifierKey Signer::verifier_key() const {
  VerifierKey k;
  k.name = name_;
  k.key_id = key_id_;
  k.type = kEd25519SignatureType;
  k.public_key = pk_;
  return k;
}

std::string Signer::signer_key_string() const {
  std::string out(kSignerKeyPrefix);
  out += name_;
  out += '+';
  out += HexEncode(AsBytes(BigEndian32(key_id_)));
  out += '+';
  out += Base64Encode(AsBytes(KeyWithType(kEd25519SignatureType, seed_.data())));
  return out;
}

NoteSignature Signer::Sign(std::string_view text) const {
  std::string sig(crypto_sign_BYTES, '\0');
  crypto_sign_detached(reinterpret_cast<unsigned char*>(sig.data()), nullptr,
                       reinterpret_cast<const unsigned char*>(text.data()), text.size(), sk_.data());
  return NoteSignature{name_, key_id_, std::move(sig)};
}

std::string Signer::SignNote(std::string_view text) const {
  Note n;
  n.text = std::string(text);
  n.signatures.push_back(Sign(text));
  return FormatNote(n);
}

std::string CosignatureMessage(uint64_t timestamp, std::string_view checkpoint_body) {
  std::string m = "cosignature/v1\ntime ";
  m += std::to_string(timestamp);
  m += '\n';
  m += checkpoint_body;
  return m;
}

Result<std::vector<std::string>> VerifyNote(const Note& note, const std::vector<VerifierKey>& keys) {
  EnsureSodium();
  std::vector<std::string> verified;
  for (const NoteSignature& sig : note.signatures) {
    for (const VerifierKey& key : keys) {
      if (key.name != sig.name || key.key_id != sig.key_id) continue;
      bool ok = false;
      if (key.type == kEd25519SignatureType) {
        ok = sig.signature.size() == crypto_sign_BYTES &&
             crypto_sign_verify_detached(reinterpret_cast<const unsigned char*>(sig.signature.data()),
                                         reinterpret_cast<const unsigned char*>(note.text.data()),
                                         note.text.size(), key.public_key.data()) == 0;
      } else if (key.type == kEd25519CosignatureType) {
        if (sig.signature.size() == 8 + crypto_sign_BYTES) {
          uint64_t ts = 0;
          for (int b = 0; b < 8; ++b) ts = (ts << 8) | static_cast<uint8_t>(sig.signature[b]);
          std::string msg = CosignatureMessage(ts, note.text);
          ok = crypto_sign_verify_detached(reinterpret_cast<const unsigned char*>(sig.signature.data() + 8),
                                           reinterpret_cast<const unsigned char*>(msg.data()), msg.size(),
                                           key.public_key.data()) == 0;
        }
      }
      if (!ok) return Status::InvalidArgument("note: signature by known key '" + key.name + "' does not verify");
      verified.push_back(key.name);
    }
  }
  if (verified.empty()) return Status::InvalidArgument("note: no signature by a known key");
  return verified;
}

}  // namespace consentd::ledger
