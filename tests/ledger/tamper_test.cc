// Tamper tests: build a valid ledger, change its SQLite file (or its export)
// behind the ledger's back, and check that the verifier catches each change
// and names the right entry or checkpoint.
#include <sqlite3.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "ledger/entry.h"
#include "ledger/exporter.h"
#include "ledger/ledger.h"
#include "ledger/merkle.h"
#include "ledger/note.h"
#include "ledger/verifier.h"
#include "src/base/bytes.h"
#include "src/base/clock.h"
#include "tests/ledger/test_util.h"

namespace consentd::ledger {
namespace {

using consentd::testing::TempDir;

constexpr const char* kOrigin = "test.example/tamper-ledger";
constexpr uint64_t kEntries = 50;

// A signer with a fixed seed, so that two ledgers can share a prefix.
const Signer& TestSigner() {
  static const Signer* s = [] {
    Result<Signer> r = Signer::FromSeed(kOrigin, std::string(32, '\x07'));
    if (!r.ok()) std::abort();
    return new Signer(std::move(*r));
  }();
  return *s;
}

VerifyOptions Keys() {
  VerifyOptions o;
  o.keys = {TestSigner().verifier_key()};
  return o;
}

std::string Payload(uint64_t i, const std::string& branch = "main") {
  return "{\"branch\":\"" + branch + "\",\"i\":" + std::to_string(i) + ",\"note\":\"tamper test\"}";
}

// Opens the ledger at `path` with the test signer and a fixed clock.
std::unique_ptr<Ledger> OpenLedger(const std::string& path, const Clock& clock, bool read_only = false) {
  LedgerOptions o;
  o.path = path;
  o.create_if_missing = !read_only;
  o.origin = read_only ? "" : kOrigin;
  o.clock = &clock;
  o.signer = &TestSigner();
  o.read_only = read_only;
  Result<std::unique_ptr<Ledger>> l = Ledger::Open(o);
  REQUIRE(l.ok());
  return std::move(*l);
}

// Appends entries [from, to) in one call.
void AppendRange(Ledger& l, uint64_t from, uint64_t to, const std::string& branch = "main") {
  std::vector<NewEntry> entries;
  for (uint64_t i = from; i < to; ++i) entries.push_back({"test.tamper", Payload(i, branch)});
  Result<std::vector<AppendedEntry>> r = l.Append(entries);
  REQUIRE(r.ok());
  REQUIRE(l.Size() == to);
}

// The standard fixture: 50 entries, checkpoints at sizes 0, 10, 25 and 50.
struct Built {
  TempDir dir;
  FakeClock clock;
  std::string path = (dir / "ledger.db").string();

  Built() {
    auto l = OpenLedger(path, clock);
    REQUIRE(l->SignCheckpoint().ok());
    uint64_t done = 0;
    for (uint64_t size : {10, 25, 50}) {
      AppendRange(*l, done, size);
      clock.Advance(1000);
      REQUIRE(l->SignCheckpoint().ok());
      done = size;
    }
    VerifyReport r = VerifyLedger(*l, Keys());
    REQUIRE(r.ok);
    REQUIRE(r.entries == kEntries);
    REQUIRE(r.checkpoints == 4);
  }

  VerifyReport Verify(const VerifyOptions& options = Keys()) const {
    auto l = OpenLedger(path, clock, /*read_only=*/true);
    return VerifyLedger(*l, options);
  }
};

// A plain SQLite connection used to tamper with the file.
class Sql {
 public:
  explicit Sql(const std::string& path) { REQUIRE(sqlite3_open(path.c_str(), &db_) == SQLITE_OK); }
  ~Sql() { sqlite3_close(db_); }

  void Exec(const std::string& sql) {
    char* err = nullptr;
    int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
    INFO(sql << ": " << (err ? err : ""));
    sqlite3_free(err);
    REQUIRE(rc == SQLITE_OK);
  }
  std::string Blob(const std::string& sql) {
    sqlite3_stmt* st = nullptr;
    REQUIRE(sqlite3_prepare_v2(db_, sql.c_str(), -1, &st, nullptr) == SQLITE_OK);
    REQUIRE(sqlite3_step(st) == SQLITE_ROW);
    std::string out(static_cast<const char*>(sqlite3_column_blob(st, 0)), static_cast<size_t>(sqlite3_column_bytes(st, 0)));
    sqlite3_finalize(st);
    return out;
  }
  // Runs `sql` with one blob or text parameter.
  void ExecWith(const std::string& sql, const std::string& value, bool as_text = false) {
    sqlite3_stmt* st = nullptr;
    REQUIRE(sqlite3_prepare_v2(db_, sql.c_str(), -1, &st, nullptr) == SQLITE_OK);
    if (as_text) {
      sqlite3_bind_text(st, 1, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT);
    } else {
      sqlite3_bind_blob(st, 1, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT);
    }
    REQUIRE(sqlite3_step(st) == SQLITE_DONE);
    sqlite3_finalize(st);
  }
  std::string Entry(uint64_t seq) { return Blob("SELECT entry FROM ledger_entries WHERE seq = " + std::to_string(seq)); }
  std::string Hashes(uint64_t seq) {
    return Blob("SELECT hashes FROM ledger_entries WHERE seq = " + std::to_string(seq));
  }
  std::string Note(uint64_t size) {
    return Blob("SELECT note FROM ledger_checkpoints WHERE size = " + std::to_string(size));
  }
  void SetEntry(uint64_t seq, const std::string& bytes) {
    ExecWith("UPDATE ledger_entries SET entry = ? WHERE seq = " + std::to_string(seq), bytes);
  }
  void SetHashes(uint64_t seq, const std::string& bytes) {
    ExecWith("UPDATE ledger_entries SET hashes = ? WHERE seq = " + std::to_string(seq), bytes);
  }
  void SetNote(uint64_t size, const std::string& note) {
    ExecWith("UPDATE ledger_checkpoints SET note = ? WHERE size = " + std::to_string(size), note, true);
  }

 private:
  sqlite3* db_ = nullptr;
};

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// Checks a failed report that blames entry `seq`.
void ExpectBadSeq(const VerifyReport& r, uint64_t seq, const std::string& problem_part) {
  INFO(r.Summary());
  CHECK_FALSE(r.ok);
  REQUIRE(r.bad_seq.has_value());
  CHECK(*r.bad_seq == seq);
  CHECK(Contains(r.problem, problem_part));
  CHECK(Contains(r.Summary(), "FAIL at seq " + std::to_string(seq)));
}

// Checks a failed report that blames the checkpoint of `size`.
void ExpectBadCheckpoint(const VerifyReport& r, uint64_t size, const std::string& problem_part) {
  INFO(r.Summary());
  CHECK_FALSE(r.ok);
  REQUIRE(r.bad_checkpoint.has_value());
  CHECK(*r.bad_checkpoint == size);
  CHECK(Contains(r.problem, problem_part));
}

TEST_CASE("Verifier names the entry when any single byte of a stored entry changes", "[ledger][tamper]") {
  Built b;
  const uint64_t seq = 17;
  std::string original;
  {
    Sql sql(b.path);
    original = sql.Entry(seq);
  }
  auto l = OpenLedger(b.path, b.clock, /*read_only=*/true);
  // Every byte of the entry: version, seq, time, prev, kind and payload.
  for (size_t i = 0; i < original.size(); ++i) {
    std::string tampered = original;
    tampered[i] = static_cast<char>(tampered[i] ^ 0x01);
    {
      Sql sql(b.path);
      sql.SetEntry(seq, tampered);
    }
    INFO("byte " << i << " of " << original);
    VerifyReport r = VerifyLedger(*l, Keys());
    ExpectBadSeq(r, seq, "entry 17: ");
  }
  {
    Sql sql(b.path);
    sql.SetEntry(seq, original);
  }
  CHECK(VerifyLedger(*l, Keys()).ok);
}

TEST_CASE("Verifier reports a changed payload byte as a leaf hash mismatch", "[ledger][tamper]") {
  Built b;
  {
    Sql sql(b.path);
    std::string e = sql.Entry(33);
    size_t at = e.find("\"i\":33");
    REQUIRE(at != std::string::npos);
    e[at + 5] = '4';  // still a valid entry, just different bytes
    REQUIRE(ParseEntry(e).ok());
    sql.SetEntry(33, e);
  }
  ExpectBadSeq(b.Verify(), 33, "entry bytes do not match the stored leaf hash");
}

TEST_CASE("Verifier names the entry when a re-hashed entry breaks the chain", "[ledger][tamper]") {
  // A careful attacker also rewrites the stored leaf hash; the next entry's
  // prev then no longer matches.
  Built b;
  {
    Sql sql(b.path);
    std::string e = sql.Entry(12);
    size_t at = e.find("tamper test");
    REQUIRE(at != std::string::npos);
    e.replace(at, 6, "TAMPER");
    std::string hashes = sql.Hashes(12);
    Hash leaf = LeafHash(AsBytes(e));
    hashes.replace(0, 32, reinterpret_cast<const char*>(leaf.data()), 32);
    sql.SetEntry(12, e);
    sql.SetHashes(12, hashes);
  }
  ExpectBadSeq(b.Verify(), 13, "prev does not match the hash of entry 12");
}

TEST_CASE("Verifier names the first missing entry when one is deleted in the middle", "[ledger][tamper]") {
  Built b;
  {
    Sql sql(b.path);
    sql.Exec("DELETE FROM ledger_entries WHERE seq = 20");
  }
  ExpectBadSeq(b.Verify(), 20, "missing");
}

TEST_CASE("Verifier names the first position of two swapped entries", "[ledger][tamper]") {
  Built b;
  SECTION("entry bytes swapped") {
    {
      Sql sql(b.path);
      std::string e30 = sql.Entry(30), e31 = sql.Entry(31);
      sql.SetEntry(30, e31);
      sql.SetEntry(31, e30);
    }
    ExpectBadSeq(b.Verify(), 30, "entry holds seq 31");
  }
  SECTION("whole rows swapped, stored hashes included") {
    {
      Sql sql(b.path);
      sql.Exec("UPDATE ledger_entries SET seq = -1 WHERE seq = 30");
      sql.Exec("UPDATE ledger_entries SET seq = 30 WHERE seq = 31");
      sql.Exec("UPDATE ledger_entries SET seq = 31 WHERE seq = -1");
    }
    ExpectBadSeq(b.Verify(), 30, "entry holds seq 31");
  }
  SECTION("an entry re-encoded with the next entry's kind and payload") {
    // Correct seq, time and prev, stored hashes kept: the leaf hash catches it.
    {
      Sql sql(b.path);
      std::string e40 = sql.Entry(40), e41 = sql.Entry(41);
      Result<EntryView> v40 = ParseEntry(e40);
      Result<EntryView> v41 = ParseEntry(e41);
      REQUIRE(v40.ok());
      REQUIRE(v41.ok());
      std::string n40 = EncodeEntry(40, v40->time_millis, v40->prev, v41->kind, v41->payload);
      sql.SetEntry(40, n40);
    }
    ExpectBadSeq(b.Verify(), 40, "entry bytes do not match the stored leaf hash");
  }
}

TEST_CASE("Verifier reports a truncated tail against the stored checkpoints", "[ledger][tamper]") {
  Built b;
  SECTION("the last 5 entries deleted") {
    {
      Sql sql(b.path);
      sql.Exec("DELETE FROM ledger_entries WHERE seq >= 45");
    }
    VerifyReport r = b.Verify();
    ExpectBadSeq(r, 45, "truncated or rolled back");
    CHECK(r.bad_checkpoint == 50);
  }
  SECTION("everything after entry 19 deleted") {
    {
      Sql sql(b.path);
      sql.Exec("DELETE FROM ledger_entries WHERE seq >= 20");
    }
    VerifyReport r = b.Verify();
    ExpectBadSeq(r, 20, "covers entries the ledger does not have");
    CHECK(r.bad_checkpoint == 25);
  }
  SECTION("the tail and its checkpoints deleted: only a trusted checkpoint shows it") {
    std::string saved;
    {
      Sql sql(b.path);
      saved = sql.Note(50);
      sql.Exec("DELETE FROM ledger_entries WHERE seq >= 45");
      sql.Exec("DELETE FROM ledger_checkpoints WHERE size > 25");
    }
    CHECK(b.Verify().ok);  // consistent on its own
    VerifyOptions o = Keys();
    o.trusted_checkpoints = {saved};
    VerifyReport r = b.Verify(o);
    ExpectBadSeq(r, 45, "trusted checkpoint of size 50");
    CHECK(r.bad_checkpoint == 50);
  }
}

TEST_CASE("Verifier rejects a stored checkpoint whose signature was replaced", "[ledger][tamper]") {
  Built b;
  std::string note;
  {
    Sql sql(b.path);
    note = sql.Note(25);
  }
  // "<body>\n— <name> <base64(key id || signature)>\n"
  const std::string dash = "\xe2\x80\x94 ";
  size_t line = note.rfind(dash);
  REQUIRE(line != std::string::npos);
  size_t b64_at = note.find(' ', line + dash.size()) + 1;
  std::string b64 = note.substr(b64_at, note.size() - b64_at - 1);
  Result<std::string> raw = Base64Decode(b64);
  REQUIRE(raw.ok());
  REQUIRE(raw->size() == 4 + 64);

  SECTION("one signature byte flipped") {
    std::string sig = *raw;
    sig[20] = static_cast<char>(sig[20] ^ 0x40);
    std::string tampered = note.substr(0, b64_at) + Base64Encode(AsBytes(sig)) + "\n";
    {
      Sql sql(b.path);
      sql.SetNote(25, tampered);
    }
    ExpectBadCheckpoint(b.Verify(), 25, "stored checkpoint of size 25");
  }
  SECTION("the signature of another checkpoint pasted in") {
    std::string other;
    {
      Sql sql(b.path);
      other = sql.Note(10);
    }
    size_t other_at = other.find(' ', other.rfind(dash) + dash.size()) + 1;
    std::string tampered = note.substr(0, b64_at) + other.substr(other_at);
    {
      Sql sql(b.path);
      sql.SetNote(25, tampered);
    }
    ExpectBadCheckpoint(b.Verify(), 25, "stored checkpoint of size 25");
  }
  SECTION("signed by a different key of the same name") {
    Result<Signer> impostor = Signer::Generate(kOrigin);
    REQUIRE(impostor.ok());
    Result<Note> parsed = ParseNote(note);
    REQUIRE(parsed.ok());
    {
      Sql sql(b.path);
      sql.SetNote(25, impostor->SignNote(parsed->text));
    }
    ExpectBadCheckpoint(b.Verify(), 25, "stored checkpoint of size 25");
  }
  SECTION("the root in the signed text changed") {
    Result<Note> parsed = ParseNote(note);
    REQUIRE(parsed.ok());
    Result<Checkpoint> body = ParseCheckpointBody(parsed->text);
    REQUIRE(body.ok());
    Checkpoint forged = *body;
    forged.root[0] ^= 1;
    std::string tampered = forged.Body() + note.substr(parsed->text.size());
    {
      Sql sql(b.path);
      sql.SetNote(25, tampered);
    }
    ExpectBadCheckpoint(b.Verify(), 25, "stored checkpoint of size 25");
  }
  SECTION("a validly signed checkpoint whose root the entries do not produce") {
    // What a log that signed a fork would hold: the signature verifies but
    // the root does not match the stored entries.
    Result<Note> parsed = ParseNote(note);
    REQUIRE(parsed.ok());
    Result<Checkpoint> body = ParseCheckpointBody(parsed->text);
    REQUIRE(body.ok());
    Checkpoint forged = *body;
    forged.root[31] ^= 0x80;
    {
      Sql sql(b.path);
      sql.SetNote(25, TestSigner().SignNote(forged.Body()));
    }
    VerifyReport r = b.Verify();
    ExpectBadCheckpoint(r, 25, "root that the entries do not produce");
    CHECK(r.bad_seq == 24);
  }
  SECTION("the row holds the note of another checkpoint") {
    // Every note still verifies, but the row of size 25 no longer has a
    // checkpoint of size 25: the ledger would serve the wrong one.
    {
      Sql sql(b.path);
      sql.SetNote(25, sql.Note(10));
    }
    VerifyReport r = b.Verify();
    INFO(r.Summary());
    CHECK_FALSE(r.ok);
    CHECK(Contains(r.problem, "stored checkpoint 25"));
    auto l = OpenLedger(b.path, b.clock, /*read_only=*/true);
    Result<StoredCheckpoint> at = l->CheckpointAt(25);
    CHECK(at.status().code() == StatusCode::kCorruption);
  }
  SECTION("the checkpoint note is no longer a note") {
    {
      Sql sql(b.path);
      sql.SetNote(25, "garbage");
    }
    VerifyReport r = b.Verify();
    CHECK_FALSE(r.ok);
    CHECK(Contains(r.problem, "25"));
  }
}

TEST_CASE("Verifier names the entry whose stored subtree hash alone was changed", "[ledger][tamper]") {
  Built b;
  // Row 31 completes the subtrees of levels 0..5 (leaves 0..31).
  std::string hashes;
  {
    Sql sql(b.path);
    hashes = sql.Hashes(31);
  }
  REQUIRE(hashes.size() == 6 * 32);
  SECTION("a level-3 node") {
    hashes[3 * 32 + 5] ^= 0x01;
    {
      Sql sql(b.path);
      sql.SetHashes(31, hashes);
    }
    ExpectBadSeq(b.Verify(), 31, "stored subtree hash at level 3 is wrong");
  }
  SECTION("the leaf hash") {
    hashes[7] ^= 0x01;
    {
      Sql sql(b.path);
      sql.SetHashes(31, hashes);
    }
    ExpectBadSeq(b.Verify(), 31, "entry bytes do not match the stored leaf hash");
  }
  SECTION("a node dropped") {
    {
      Sql sql(b.path);
      sql.SetHashes(31, hashes.substr(0, 5 * 32));
    }
    ExpectBadSeq(b.Verify(), 31, "wrong length");
  }
  SECTION("the served root and proofs change, and the verifier notices") {
    hashes[5 * 32] ^= 0x01;  // the level-5 node is the root of the first 32 leaves
    {
      Sql sql(b.path);
      sql.SetHashes(31, hashes);
    }
    auto l = OpenLedger(b.path, b.clock, /*read_only=*/true);
    Result<Hash> served = l->RootAt(32);
    REQUIRE(served.ok());
    Result<StoredCheckpoint> c50 = l->CheckpointAt(50);
    REQUIRE(c50.ok());
    CHECK(*l->RootAt(50) != c50->checkpoint.root);
    ExpectBadSeq(VerifyLedger(*l, Keys()), 31, "level 5");
  }
}

// ---- Export files ----

struct Exported {
  Built b;
  std::string path = (b.dir / "export.jsonl").string();
  std::string note;
  std::vector<std::string> lines;

  Exported() {
    auto l = OpenLedger(b.path, b.clock, /*read_only=*/true);
    std::FILE* f = std::fopen(path.c_str(), "wb");
    REQUIRE(f);
    Status s = ExportEntries(*l, l->Size(), f);
    REQUIRE(std::fclose(f) == 0);
    REQUIRE(s.ok());
    Result<StoredCheckpoint> c = l->LatestCheckpoint();
    REQUIRE(c.ok());
    note = c->signed_note;
    std::istringstream in(Read());
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    REQUIRE(lines.size() == kEntries);
    for (uint64_t i = 0; i < kEntries; ++i) REQUIRE(lines[i] == *l->ReadEntry(i));
    VerifyReport r = Verify();
    INFO(r.Summary());
    REQUIRE(r.ok);
    REQUIRE(r.entries == kEntries);
  }
  std::string Read() const {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  void Write(const std::string& contents) const {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << contents;
  }
  VerifyReport Verify(const VerifyOptions& options = Keys()) const { return VerifyExport(path, {note}, options); }
};

TEST_CASE("Verifier names the line of an export file with one byte flipped", "[ledger][tamper][export]") {
  Exported e;
  std::string text = e.Read();
  const size_t at = text.find(e.lines[12]);
  REQUIRE(at != std::string::npos);
  SECTION("in the seq field: that line is named") {
    text[at + e.lines[12].find("\"seq\":12") + 7] = '3';
    e.Write(text);
    ExpectBadSeq(e.Verify(), 12, "entry 12: entry holds seq 13");
  }
  SECTION("in the payload: an export has no stored hashes, so the next line's link names it") {
    text[at + e.lines[12].find("tamper test")] = 'T';
    e.Write(text);
    ExpectBadSeq(e.Verify(), 13, "prev does not match the hash of entry 12");
  }
  SECTION("in the payload of the last line: the checkpoint root names it") {
    const size_t last = text.find(e.lines[49]);
    text[last + e.lines[49].find("tamper test")] = 'T';
    e.Write(text);
    VerifyReport r = e.Verify();
    ExpectBadCheckpoint(r, 50, "root that the entries do not produce");
    CHECK(r.bad_seq == 49);
  }
}

TEST_CASE("Verifier names the position of a line dropped from an export file", "[ledger][tamper][export]") {
  Exported e;
  std::string text;
  for (uint64_t i = 0; i < kEntries; ++i) {
    if (i != 12) text += e.lines[i] + "\n";
  }
  e.Write(text);
  ExpectBadSeq(e.Verify(), 12, "entry holds seq 13");
}

TEST_CASE("Verifier names the entry cut by a truncated export file", "[ledger][tamper][export]") {
  Exported e;
  std::string text = e.Read();
  SECTION("cut in the middle of line 40") {
    size_t at = text.find(e.lines[40]);
    e.Write(text.substr(0, at + e.lines[40].size() / 2));
    ExpectBadSeq(e.Verify(), 40, "not terminated");
  }
  SECTION("cut just before the newline of the last line") {
    e.Write(text.substr(0, text.size() - 1));
    ExpectBadSeq(e.Verify(), 49, "not terminated");
  }
  SECTION("cut at a line boundary: the checkpoint covers entries that are gone") {
    size_t at = text.find(e.lines[45]);
    e.Write(text.substr(0, at));
    VerifyReport r = e.Verify();
    ExpectBadSeq(r, 45, "covers entries");
    CHECK(r.bad_checkpoint == 50);
  }
}

TEST_CASE("Verifier of an export rejects a checkpoint file with a bad signature", "[ledger][tamper][export]") {
  Exported e;
  Result<Note> parsed = ParseNote(e.note);
  REQUIRE(parsed.ok());
  Result<Signer> impostor = Signer::Generate(kOrigin);
  REQUIRE(impostor.ok());
  VerifyReport r = VerifyExport(e.path, {impostor->SignNote(parsed->text)}, Keys());
  ExpectBadCheckpoint(r, 50, "stored checkpoint of size 50");
}

// ---- Forks and rollbacks, seen through checkpoints saved earlier ----

TEST_CASE("Verifier reports a ledger that does not extend a trusted checkpoint from a fork",
          "[ledger][tamper][fork]") {
  TempDir dir;
  FakeClock clock;  // never advanced: both ledgers produce identical prefixes
  auto a = OpenLedger((dir / "a.db").string(), clock);
  auto b = OpenLedger((dir / "b.db").string(), clock);
  AppendRange(*a, 0, 20);
  AppendRange(*b, 0, 20);
  REQUIRE(*a->RootAt(20) == *b->RootAt(20));
  Result<StoredCheckpoint> common = a->SignCheckpoint();
  REQUIRE(common.ok());
  AppendRange(*a, 20, 30, "a");
  AppendRange(*b, 20, 30, "b");
  Result<StoredCheckpoint> a30 = a->SignCheckpoint();
  REQUIRE(a30.ok());
  Result<StoredCheckpoint> b30 = b->SignCheckpoint();
  REQUIRE(b30.ok());
  CHECK(a30->checkpoint.root != b30->checkpoint.root);

  VerifyOptions o = Keys();
  SECTION("the common prefix is extended") {
    o.trusted_checkpoints = {common->signed_note};
    VerifyReport r = VerifyLedger(*b, o);
    INFO(r.Summary());
    CHECK(r.ok);
  }
  SECTION("the other branch's checkpoint at the same size") {
    o.trusted_checkpoints = {a30->signed_note};
    VerifyReport r = VerifyLedger(*b, o);
    ExpectBadCheckpoint(r, 30, "does not extend the trusted checkpoint of size 30");
    CHECK(r.bad_seq == 29);
  }
  SECTION("the other branch's checkpoint at a smaller size than the ledger") {
    AppendRange(*b, 30, 40, "b");
    o.trusted_checkpoints = {a30->signed_note};
    VerifyReport r = VerifyLedger(*b, o);
    ExpectBadCheckpoint(r, 30, "fork or rewrite");
  }
  SECTION("the fork is also caught on an export") {
    std::string path = (dir / "b.jsonl").string();
    std::FILE* f = std::fopen(path.c_str(), "wb");
    REQUIRE(f);
    REQUIRE(ExportEntries(*b, 30, f).ok());
    REQUIRE(std::fclose(f) == 0);
    o.trusted_checkpoints = {a30->signed_note};
    VerifyReport r = VerifyExport(path, {b30->signed_note}, o);
    ExpectBadCheckpoint(r, 30, "does not extend the trusted checkpoint");
  }
}

TEST_CASE("Verifier reports a rollback below a trusted checkpoint", "[ledger][tamper][fork]") {
  TempDir dir;
  FakeClock clock;
  auto live = OpenLedger((dir / "live.db").string(), clock);
  auto restored = OpenLedger((dir / "restored.db").string(), clock);  // an old backup
  AppendRange(*live, 0, 20);
  AppendRange(*restored, 0, 20);
  REQUIRE(restored->SignCheckpoint().ok());
  AppendRange(*live, 20, 35);
  Result<StoredCheckpoint> saved = live->SignCheckpoint();
  REQUIRE(saved.ok());

  VerifyOptions o = Keys();
  CHECK(VerifyLedger(*restored, o).ok);  // consistent on its own
  o.trusted_checkpoints = {saved->signed_note};
  VerifyReport r = VerifyLedger(*restored, o);
  ExpectBadSeq(r, 20, "truncated or rolled back");
  CHECK(r.bad_checkpoint == 35);
  CHECK(Contains(r.problem, "trusted checkpoint of size 35"));

  SECTION("a trusted checkpoint that is not validly signed is reported as such") {
    Result<Note> parsed = ParseNote(saved->signed_note);
    REQUIRE(parsed.ok());
    Result<Signer> impostor = Signer::Generate(kOrigin);
    REQUIRE(impostor.ok());
    o.trusted_checkpoints = {impostor->SignNote(parsed->text)};
    VerifyReport bad = VerifyLedger(*live, o);
    ExpectBadCheckpoint(bad, 35, "trusted checkpoint of size 35");
  }
}

}  // namespace
}  // namespace consentd::ledger
