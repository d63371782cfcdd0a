// Tests of ledger/note.h: C2SP signed-note parsing, verifier keys, signers
// and verification rules.
#include <catch2/catch.hpp>

#include <array>
#include <cctype>
#include <string>
#include <vector>

#include "ledger/format.h"
#include "ledger/note.h"
#include "src/base/bytes.h"
#include "src/base/sha256.h"

namespace consentd::ledger {
namespace {

constexpr std::string_view kDash = "\xE2\x80\x94 ";

Signer MakeSigner(std::string_view name, std::string_view seed_text) {
  Hash seed = Sha256Of(seed_text);
  Result<Signer> s = Signer::FromSeed(name, AsChars(AsBytes(seed)));
  REQUIRE(s.ok());
  return *s;
}

// A valid signature line, reused to build malformed notes around it.
std::string SigLine(std::string_view name = "example.com/log") {
  std::string payload(68, 'x');  // 4-byte key id + 64 bytes
  return std::string(kDash) + std::string(name) + " " + Base64Encode(AsBytes(payload)) + "\n";
}

TEST_CASE("A signed note round trips through ParseNote and FormatNote", "[note]") {
  Signer a = MakeSigner("a.example/log", "seed a");
  Signer b = MakeSigner("b.example/log", "seed b");
  std::string text = "line one\nline two\n";
  Note n;
  n.text = text;
  n.signatures = {a.Sign(text), b.Sign(text)};
  std::string formatted = FormatNote(n);
  auto line = [](const Signer& s, const NoteSignature& sig) {
    std::string id(4, '\0');
    for (int i = 0; i < 4; ++i) id[i] = static_cast<char>(s.key_id() >> (24 - 8 * i));
    return std::string(kDash) + s.name() + " " + Base64Encode(AsBytes(id + sig.signature)) + "\n";
  };
  CHECK(formatted == text + "\n" + line(a, n.signatures[0]) + line(b, n.signatures[1]));
  CHECK(a.SignNote(text) == text + "\n" + line(a, n.signatures[0]));
  Result<Note> parsed = ParseNote(formatted);
  REQUIRE(parsed.ok());
  CHECK(parsed->text == text);
  REQUIRE(parsed->signatures.size() == 2);
  CHECK(parsed->signatures[0].name == "a.example/log");
  CHECK(parsed->signatures[0].key_id == a.key_id());
  CHECK(parsed->signatures[0].signature == n.signatures[0].signature);
  CHECK(parsed->signatures[1].name == "b.example/log");
  CHECK(FormatNote(*parsed) == formatted);
  Result<std::vector<std::string>> v = VerifyNote(*parsed, {a.verifier_key(), b.verifier_key()});
  REQUIRE(v.ok());
  CHECK(*v == std::vector<std::string>{"a.example/log", "b.example/log"});
}

TEST_CASE("The note text is everything up to the last blank line, including its final newline", "[note]") {
  Signer s = MakeSigner("log", "seed");
  std::string text = "para one\n\npara two\n";  // a blank line inside the text
  std::string note = s.SignNote(text);
  Result<Note> parsed = ParseNote(note);
  REQUIRE(parsed.ok());
  CHECK(parsed->text == text);
  CHECK(VerifyNote(*parsed, {s.verifier_key()}).ok());
}

TEST_CASE("Malformed notes are rejected", "[note]") {
  std::string sig = SigLine();
  struct Case { const char* why; std::string note; };
  std::vector<Case> cases = {
      {"empty", ""},
      {"no blank line", "text\n" + sig},
      {"no signatures", "text\n\n"},
      {"signature line without newline", "text\n\n" + sig.substr(0, sig.size() - 1)},
      {"bad base64", "text\n\n" + std::string(kDash) + "log !!!!\n"},
      {"base64 without padding", "text\n\n" + std::string(kDash) + "log " +
                                     Base64Encode(AsBytes(std::string(68, 'x'))).substr(0, 90) + "\n"},
      {"signature shorter than key id + 1 byte", "text\n\n" + std::string(kDash) + "log " +
                                                     Base64Encode(AsBytes(std::string(4, 'x'))) + "\n"},
      {"tab in text", "te\txt\n\n" + sig},
      {"carriage return in text", "text\r\n\n" + sig},
      {"NUL in text", std::string("te\0xt\n\n", 7) + sig},
      {"DEL in text", "te\x7Fxt\n\n" + sig},
      {"invalid UTF-8 (lone continuation byte)", "te\x80xt\n\n" + sig},
      {"invalid UTF-8 (truncated sequence)", "text\xE2\x80\n\n" + sig},
      {"invalid UTF-8 (overlong slash)", "text\xC0\xAF\n\n" + sig},
      {"invalid UTF-8 (surrogate)", "text\xED\xA0\x80\n\n" + sig},
      {"invalid UTF-8 (above U+10FFFF)", "text\xF4\x90\x80\x80\n\n" + sig},
      {"name with '+'", "text\n\n" + SigLine("exa+mple")},
      {"name with a no-break space", "text\n\n" + SigLine("exa\xC2\xA0mple")},
      {"empty name", "text\n\n" + SigLine("")},
      {"line without the em dash", "text\n\n" + sig.substr(kDash.size())},
      {"hyphen instead of em dash", "text\n\n- " + sig.substr(kDash.size())},
      {"em dash without the space", "text\n\n\xE2\x80\x94" + sig.substr(kDash.size())},
      {"no space before the signature", "text\n\n" + std::string(kDash) + "log" +
                                           Base64Encode(AsBytes(std::string(68, 'x'))) + "\n"},
      {"two spaces before the signature", "text\n\n" + std::string(kDash) + "log  " +
                                             Base64Encode(AsBytes(std::string(68, 'x'))) + "\n"},
      {"text after the signatures", "text\n\n" + sig + "trailing\n"},
      {"blank line after the signatures", "text\n\n" + sig + "\n"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.why);
    CHECK_FALSE(ParseNote(c.note).ok());
  }
  // The base line is well-formed, so the rejections above are about the defect.
  CHECK(ParseNote("text\n\n" + sig).ok());
  CHECK(ParseNote("text \xE2\x9C\x93 UTF-8 is fine\n\n" + sig).ok());
}

TEST_CASE("A note with 100 signatures parses and one with 101 is rejected", "[note]") {
  std::string base = "text\n\n";
  std::string hundred = base;
  for (int i = 0; i < 100; ++i) hundred += SigLine("log" + std::to_string(i));
  Result<Note> ok = ParseNote(hundred);
  REQUIRE(ok.ok());
  CHECK(ok->signatures.size() == 100);
  CHECK_FALSE(ParseNote(hundred + SigLine("one.too.many")).ok());
}

TEST_CASE("VerifyNote ignores unknown keys and needs one known key that verifies", "[note]") {
  Signer log = MakeSigner("example.com/log", "log seed");
  Signer other = MakeSigner("other.example/log", "other seed");
  std::string text = "example.com/log\n1\nAAAA\n";
  Note n;
  n.text = text;
  n.signatures = {other.Sign(text), log.Sign(text)};

  SECTION("an unknown signature next to a known good one is ignored") {
    Result<std::vector<std::string>> v = VerifyNote(n, {log.verifier_key()});
    REQUIRE(v.ok());
    CHECK(*v == std::vector<std::string>{"example.com/log"});
  }
  SECTION("no known key at all rejects the note") {
    Signer stranger = MakeSigner("stranger", "stranger seed");
    CHECK_FALSE(VerifyNote(n, {stranger.verifier_key()}).ok());
    CHECK_FALSE(VerifyNote(n, {}).ok());
  }
  SECTION("a known key whose signature fails rejects the note even if another known key verifies") {
    n.signatures[0].signature[10] ^= 1;
    CHECK_FALSE(VerifyNote(n, {log.verifier_key(), other.verifier_key()}).ok());
    // The bad signature is by a key we do not know here: ignored.
    CHECK(VerifyNote(n, {log.verifier_key()}).ok());
  }
  SECTION("a known key's signature over different text fails") {
    Note changed = n;
    changed.text = "example.com/log\n2\nAAAA\n";
    CHECK_FALSE(VerifyNote(changed, {log.verifier_key()}).ok());
  }
  SECTION("a known key's signature of the wrong length fails") {
    n.signatures[1].signature.pop_back();
    CHECK_FALSE(VerifyNote(n, {log.verifier_key()}).ok());
  }
  SECTION("a signature is matched on both name and key id") {
    // Same name, different key: the signature's key id is unknown, ignored.
    Signer rotated = MakeSigner("example.com/log", "rotated seed");
    CHECK(rotated.key_id() != log.key_id());
    CHECK_FALSE(VerifyNote(n, {rotated.verifier_key()}).ok());
    // Same key id under another name is not a match either.
    VerifierKey renamed = log.verifier_key();
    renamed.name = "renamed";
    CHECK_FALSE(VerifyNote(n, {renamed}).ok());
  }
}

TEST_CASE("A cosignature key verifies a timestamped cosignature and rejects a plain signature", "[note]") {
  // Build a type 0x04 cosigner by hand from a signer's key pair.
  Signer witness = MakeSigner("witness.example/w", "witness seed");
  VerifierKey cokey = witness.verifier_key();
  cokey.type = kEd25519CosignatureType;
  cokey.key_id = ComputeKeyId(cokey.name, cokey.type, cokey.public_key);
  CHECK(cokey.key_id != witness.key_id());
  std::string body = "example.com/log\n1\nAAAA\n";

  // A plain Ed25519 signature with the cosignature key id: wrong format.
  NoteSignature plain = witness.Sign(body);
  plain.key_id = cokey.key_id;
  Note n{body, {plain}};
  CHECK_FALSE(VerifyNote(n, {cokey}).ok());

  // timestamp || Ed25519(CosignatureMessage): right format.
  uint64_t ts = 1'700'000'123;
  NoteSignature cosig = witness.Sign(CosignatureMessage(ts, body));
  std::string stamp(8, '\0');
  for (int i = 0; i < 8; ++i) stamp[i] = static_cast<char>(ts >> (56 - 8 * i));
  cosig.signature = stamp + cosig.signature;
  cosig.key_id = cokey.key_id;
  Note good{body, {cosig}};
  CHECK(VerifyNote(good, {cokey}).ok());
  Note reparsed = ParseNote(FormatNote(good)).value();
  CHECK(VerifyNote(reparsed, {cokey}).ok());
}

TEST_CASE("Verifier keys round trip and carry name, key id, type and key", "[note]") {
  Signer s = MakeSigner("example.com/log", "seed");
  std::string vkey = s.verifier_key_string();
  Result<VerifierKey> k = ParseVerifierKey(vkey);
  REQUIRE(k.ok());
  CHECK(k->name == "example.com/log");
  CHECK(k->key_id == s.key_id());
  CHECK(k->type == kEd25519SignatureType);
  CHECK(k->public_key == s.verifier_key().public_key);
  CHECK(FormatVerifierKey(*k) == vkey);
  CHECK(k->key_id == ComputeKeyId(k->name, k->type, k->public_key));
}

TEST_CASE("Verifier key parse errors are reported", "[note]") {
  Signer s = MakeSigner("example.com/log", "seed");
  std::string vkey = s.verifier_key_string();
  size_t p1 = vkey.find('+');
  size_t p2 = vkey.find('+', p1 + 1);
  std::string name = vkey.substr(0, p1);
  std::string hex8 = vkey.substr(p1 + 1, 8);
  std::string b64 = vkey.substr(p2 + 1);
  std::string raw = Base64Decode(b64).value();
  REQUIRE(raw.size() == 33);
  auto with_type = [&](uint8_t type) {
    std::string r = raw;
    r[0] = static_cast<char>(type);
    return Base64Encode(AsBytes(r));
  };
  std::string other_id = hex8;
  other_id[0] = other_id[0] == '0' ? '1' : '0';
  std::string upper_id = hex8;
  for (char& c : upper_id) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));

  struct Case { const char* why; std::string vkey; };
  std::vector<Case> cases = {
      {"empty", ""},
      {"no parts", "example.com/log"},
      {"only two parts", name + "+" + hex8},
      {"hex8 too short", name + "+" + hex8.substr(0, 7) + "+" + b64},
      {"hex8 too long", name + "+" + hex8 + "0+" + b64},
      {"hex8 not hex", name + "+zzzzzzzz+" + b64},
      {"wrong key id", name + "+" + other_id + "+" + b64},
      {"wrong type byte 0x02", name + "+" + hex8 + "+" + with_type(0x02)},
      {"wrong type byte 0x00", name + "+" + hex8 + "+" + with_type(0x00)},
      {"key too short", name + "+" + hex8 + "+" + Base64Encode(AsBytes(raw.substr(0, 32)))},
      {"key too long", name + "+" + hex8 + "+" + Base64Encode(AsBytes(raw + "x"))},
      {"key not base64", name + "+" + hex8 + "+" + b64.substr(1)},
      {"empty name", "+" + hex8 + "+" + b64},
      {"name with a space", "exa mple+" + hex8 + "+" + b64},
      {"key id of another name", "example.com/other+" + hex8 + "+" + b64},
      {"type 0x04 with the type 0x01 key id", name + "+" + hex8 + "+" + with_type(0x04)},
  };
  if (upper_id != hex8) cases.push_back({"upper-case hex8", name + "+" + upper_id + "+" + b64});
  for (const Case& c : cases) {
    CAPTURE(c.why, c.vkey);
    Result<VerifierKey> k = ParseVerifierKey(c.vkey);
    CHECK_FALSE(k.ok());
    if (!k.ok()) CHECK(k.status().code() == StatusCode::kInvalidArgument);
  }
  CHECK(ParseVerifierKey(vkey).ok());
}

TEST_CASE("Signer keys round trip and reproduce the same signatures", "[note]") {
  Result<Signer> g = Signer::Generate("example.com/log");
  REQUIRE(g.ok());
  std::string skey = g->signer_key_string();
  CHECK(skey.rfind("PRIVATE+KEY+example.com/log+", 0) == 0);
  Result<Signer> back = Signer::FromSignerKey(skey);
  REQUIRE(back.ok());
  CHECK(back->key_id() == g->key_id());
  CHECK(back->verifier_key_string() == g->verifier_key_string());
  CHECK(back->SignNote("hello\n") == g->SignNote("hello\n"));
  Result<Signer> other = Signer::Generate("example.com/log");
  REQUIRE(other.ok());
  CHECK(other->verifier_key_string() != g->verifier_key_string());
}

TEST_CASE("Malformed signer keys and names are rejected", "[note]") {
  Signer s = MakeSigner("example.com/log", "seed");
  std::string skey = s.signer_key_string();
  std::string bad_id = skey;
  size_t id_at = std::string("PRIVATE+KEY+example.com/log+").size();
  bad_id[id_at] = bad_id[id_at] == '0' ? '1' : '0';
  CHECK_FALSE(Signer::FromSignerKey(bad_id).ok());
  CHECK_FALSE(Signer::FromSignerKey(skey.substr(8)).ok());             // no PRIVATE+KEY+
  CHECK_FALSE(Signer::FromSignerKey(s.verifier_key_string()).ok());    // a public key
  CHECK_FALSE(Signer::FromSignerKey(skey.substr(0, skey.size() - 4)).ok());
  CHECK_FALSE(Signer::FromSeed("bad name", std::string(32, 's')).ok());
  CHECK_FALSE(Signer::FromSeed("bad+name", std::string(32, 's')).ok());
  CHECK_FALSE(Signer::FromSeed("", std::string(32, 's')).ok());
  CHECK_FALSE(Signer::FromSeed("ok", std::string(31, 's')).ok());
  CHECK_FALSE(Signer::Generate("has space").ok());
  CHECK(Signer::FromSeed("ok", std::string(32, 's')).ok());
}

TEST_CASE("Key names must be non-empty UTF-8 without spaces or plus signs", "[note]") {
  CHECK(IsValidKeyName("example.com/log"));
  CHECK(IsValidKeyName("PeterNeumann"));
  CHECK(IsValidKeyName("\xC3\xA9t\xC3\xA9"));  // été
  CHECK_FALSE(IsValidKeyName(""));
  CHECK_FALSE(IsValidKeyName("a+b"));
  CHECK_FALSE(IsValidKeyName("a b"));
  CHECK_FALSE(IsValidKeyName("a\tb"));
  CHECK_FALSE(IsValidKeyName("a\nb"));
  CHECK_FALSE(IsValidKeyName("a\xE3\x80\x80" "b"));  // U+3000 ideographic space
  CHECK_FALSE(IsValidKeyName("a\xE2\x80\x83" "b"));  // U+2003 em space
  CHECK_FALSE(IsValidKeyName("a\xFF" "b"));
  CHECK_FALSE(IsValidKeyName("a\x7F" "b"));
}

TEST_CASE("The key id is the first four bytes of SHA-256(name, newline, type, key), big-endian", "[note]") {
  std::array<uint8_t, 32> pk{};
  for (size_t i = 0; i < 32; ++i) pk[i] = static_cast<uint8_t>(i);
  std::string input = std::string("name\n") + '\x01' + std::string(reinterpret_cast<const char*>(pk.data()), 32);
  Hash h = Sha256Of(input);
  uint32_t want = (uint32_t{h[0]} << 24) | (uint32_t{h[1]} << 16) | (uint32_t{h[2]} << 8) | h[3];
  CHECK(ComputeKeyId("name", 0x01, pk) == want);
  CHECK(ComputeKeyId("name", 0x04, pk) != want);
}

TEST_CASE("The cosignature message is the C2SP cosignature/v1 header followed by the body", "[note]") {
  CHECK(CosignatureMessage(0, "o\n1\nr\n") == "cosignature/v1\ntime 0\no\n1\nr\n");
  CHECK(CosignatureMessage(18446744073709551615u, "b\n") == "cosignature/v1\ntime 18446744073709551615\nb\n");
}

}  // namespace
}  // namespace consentd::ledger
