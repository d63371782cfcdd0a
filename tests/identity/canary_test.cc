// Crypto-shredding leaves no trace: after shredding a subject, no file of the
// data directory (database, WAL, shared memory, anything else) holds its raw
// identifiers in any common encoding, nor its wrapped key, sealed values or
// blind indexes, while every other subject still decrypts.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "src/base/bytes.h"
#include "src/vault/sqlite_database.h"
#include "tests/identity/test_env.h"

namespace consentd::identity {
namespace {

using domain::IdentifierType;
using domain::Sid;
using testing::Email;
using testing::Phone;
using testing::System;
using testing::TestEnv;

std::string ReadAll(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}
std::string Upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}
// ASCII only, which every canary value is.
std::string Utf16(const std::string& s, bool big_endian) {
  std::string out;
  for (char c : s) {
    if (big_endian) out += '\0';
    out += c;
    if (!big_endian) out += '\0';
  }
  return out;
}

// The encodings a careless component might have written `value` in.
std::vector<std::pair<std::string, std::string>> Encodings(const std::string& value) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const std::string& v : {value, Lower(value), Upper(value)}) {
    out.push_back({"plain", v});
    out.push_back({"utf-16le", Utf16(v, false)});
    out.push_back({"utf-16be", Utf16(v, true)});
    out.push_back({"hex", HexEncode(AsBytes(v))});
    out.push_back({"HEX", Upper(HexEncode(AsBytes(v)))});
    // Base64 of the value at each of the three alignments it could start at
    // inside a longer encoded string; drop the characters that depend on
    // neighbouring bytes.
    for (size_t shift = 0; shift < 3; ++shift) {
      std::string b64 = Base64Encode(AsBytes(std::string(shift, 'x') + v));
      size_t skip = shift == 0 ? 0 : (shift == 1 ? 2 : 3);
      std::string core = b64.substr(skip);
      while (!core.empty() && core.back() == '=') core.pop_back();
      if (core.size() > 4) core.resize(core.size() - 2);
      out.push_back({"base64/" + std::to_string(shift), core});
    }
  }
  return out;
}

// Names the files (and encodings) in which `needle` occurs.
std::vector<std::string> FindInDir(const std::string& dir, const std::string& label, const std::string& needle) {
  std::vector<std::string> hits;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    std::string content = ReadAll(entry.path());
    if (content.find(needle) != std::string::npos) hits.push_back(entry.path().filename().string() + " (" + label + ")");
  }
  return hits;
}

std::vector<std::string> Blobs(vault::Database& db, const char* sql, const Sid& sid) {
  std::unique_lock<std::mutex> lock = db.Lock();
  Result<vault::Stmt> stmt = vault::Stmt::Prepare(db.handle(), sql);
  REQUIRE(stmt.ok());
  stmt->Bind(1, sid.bytes());
  std::vector<std::string> out;
  for (;;) {
    Result<bool> row = stmt->Step();
    REQUIRE(row.ok());
    if (!*row) break;
    for (int col = 0; col < 8; ++col) {
      std::string b = stmt->Blob(col);
      if (b.size() >= 16) out.push_back(b);
    }
  }
  return out;
}

TEST_CASE("Shredding a subject leaves none of its bytes in any file of the data directory", "[identity][canary]") {
  TestEnv env;
  SubjectRegistry& reg = env.registry();

  // The victim and two bystanders, with distinctive values.
  // A +tag, so that the row also holds the base blind index (only tagged
  // addresses store one), which must go too.
  const std::string victim_email = "Zelda.Canary-7Q3X+shred@Shredme-Example.org";
  const std::string victim_phone_in = "+44 20 7946 0321";
  const std::string victim_phone = "+442079460321";
  const std::string victim_crm = "0039990001234";
  const std::string victim_ip = "203.0.113.77";
  const std::string victim_agent = "CanaryBrowser/9.7 (ShredTest)";
  std::vector<domain::Identifier> victim_ids = {Email(victim_email), Phone(victim_phone_in),
                                                System(IdentifierType::kHubSpotContact, victim_crm)};
  Result<Resolution> victim = reg.Resolve(victim_ids);
  REQUIRE(victim.ok());
  Result<Resolution> alice = reg.Resolve(std::vector<domain::Identifier>{Email("alice.bystander@example.com"),
                                                                         Phone("+1 201 555 0188")});
  REQUIRE(alice.ok());
  Result<Resolution> bob = reg.Resolve(std::vector<domain::Identifier>{Email("bob.bystander@example.com")});
  REQUIRE(bob.ok());

  // Evidence records, stored with a ledger entry carrying the commitment.
  auto store_record = [&](const Sid& sid, const std::string& label, const std::string& plaintext) -> int64_t {
    Result<vault::SealedRecord> sealed = reg.vault().SealRecord(sid, label, plaintext);
    REQUIRE(sealed.ok());
    int64_t id = 0;
    std::string payload = "{\"sid\":\"" + sid.ToHex() + "\",\"commitment\":\"" +
                          HexEncode(AsBytes(sealed->commitment)) + "\"}";
    Status s = env.writer().Write({{"consent.evidence", payload}},
                                  [&](sqlite3* db, std::span<const ledger::AppendedEntry>) -> Status {
                                    Result<int64_t> r = vault::Vault::InsertRecord(db, sid, *sealed, 1);
                                    if (!r.ok()) return r.status();
                                    id = *r;
                                    return Status::Ok();
                                  });
    REQUIRE(s.ok());
    return id;
  };
  store_record(victim->sid, "consent.ip", victim_ip);
  store_record(victim->sid, "consent.user_agent", victim_agent);
  int64_t alice_record = store_record(alice->sid, "consent.ip", "198.51.100.23");

  // Everything stored for the victim, as raw bytes.
  std::vector<std::string> victim_blobs;
  for (const char* sql : {"SELECT wrapped FROM vault_subject_keys WHERE sid = ?",
                          "SELECT sealed, commitment FROM vault_records WHERE sid = ?",
                          "SELECT bidx, sealed, base_bidx FROM identity_identifiers WHERE root_sid = ?"}) {
    for (std::string& b : Blobs(env.registry().database(), sql, victim->sid)) victim_blobs.push_back(std::move(b));
  }
  REQUIRE(victim_blobs.size() == 1 + 2 * 2 + 3 + 3 + 1);

  // Positive control: the scanner finds the wrapped key before shredding.
  REQUIRE_FALSE(FindInDir(env.data_dir(), "wrapped key", victim_blobs[0]).empty());

  Result<ShredReport> report = reg.Shred(victim->sid);
  REQUIRE(report.ok());
  CHECK(report->shredded == std::vector<Sid>{victim->sid});

  auto check_clean = [&](const char* when) {
    INFO(when);
    std::vector<std::string> hits;
    for (const std::string& value : {victim_email, std::string("zelda.canary-7q3x+shred@shredme-example.org"),
                                     std::string("zelda.canary-7q3x@shredme-example.org"),
                                     victim_phone, victim_phone_in, victim_crm, std::string("9990001234"),
                                     victim_ip, victim_agent}) {
      for (const auto& [label, needle] : Encodings(value)) {
        for (std::string& h : FindInDir(env.data_dir(), label, needle)) hits.push_back(std::move(h));
      }
    }
    for (size_t i = 0; i < victim_blobs.size(); ++i) {
      for (std::string& h : FindInDir(env.data_dir(), "stored blob " + std::to_string(i), victim_blobs[i])) {
        hits.push_back(std::move(h));
      }
    }
    CHECK(hits.empty());
    for (const std::string& h : hits) UNSCOPED_INFO("found in " << h);
  };
  check_clean("while open");

  // The others still decrypt, and the victim is gone for good.
  Result<std::vector<domain::NormalizedIdentifier>> alice_ids = reg.IdentifiersOf(alice->sid);
  REQUIRE(alice_ids.ok());
  CHECK(alice_ids->size() == 2);
  Result<std::string> alice_ip = reg.vault().OpenRecord(alice_record);
  REQUIRE(alice_ip.ok());
  CHECK(*alice_ip == "198.51.100.23");
  Result<std::vector<domain::NormalizedIdentifier>> bob_ids = reg.IdentifiersOf(bob->sid);
  REQUIRE(bob_ids.ok());
  CHECK(bob_ids->front().value == "bob.bystander@example.com");
  Result<std::optional<Sid>> gone = reg.Lookup(Email(victim_email));
  REQUIRE(gone.ok());
  CHECK_FALSE(gone->has_value());
  CHECK(reg.IdentifiersOf(victim->sid).status().code() == StatusCode::kNotFound);
  CHECK(reg.vault().SubjectKey(victim->sid).status().code() == StatusCode::kNotFound);
  Result<SubjectInfo> info = reg.Subject(victim->sid);
  REQUIRE(info.ok());
  CHECK(info->state == SubjectState::kShredded);
  CHECK(reg.Shred(victim->sid).status().code() == StatusCode::kFailedPrecondition);

  // And after everything is closed (the WAL may be checkpointed again).
  env.Close();
  check_clean("after close");
}

TEST_CASE("Shredding a survivor shreds every subject merged into it", "[identity][canary]") {
  domain::IdentityRules rules;
  rules.auto_merge = true;
  TestEnv env(rules);
  SubjectRegistry& reg = env.registry();
  Result<Resolution> a = reg.Resolve(std::vector<domain::Identifier>{Email("merge.a@example.com")});
  REQUIRE(a.ok());
  env.clock().Advance(10);
  Result<Resolution> b = reg.Resolve(std::vector<domain::Identifier>{Email("merge.b@example.com")});
  REQUIRE(b.ok());
  Result<Resolution> m = reg.Resolve(
      std::vector<domain::Identifier>{Email("merge.a@example.com"), Email("merge.b@example.com")});
  REQUIRE(m.ok());
  REQUIRE(m->outcome == Resolution::Outcome::kMerged);

  // Shredding through the merged (old) sid reaches the whole person.
  Result<ShredReport> report = reg.Shred(b->sid);
  REQUIRE(report.ok());
  CHECK(report->root == a->sid);
  CHECK(report->shredded.size() == 2);
  CHECK(reg.vault().SubjectKey(a->sid).status().code() == StatusCode::kNotFound);
  CHECK(reg.vault().SubjectKey(b->sid).status().code() == StatusCode::kNotFound);
  for (const auto& [label, needle] : Encodings("merge.b@example.com")) {
    CHECK(FindInDir(env.data_dir(), label, needle).empty());
  }
}

}  // namespace
}  // namespace consentd::identity
