// AccessLog over a plain SQLite file (a fake LedgerWriter that runs the hook
// in one transaction): queued reads become one access_batches row per flush,
// token and kind of read; durable reads one access_log row each; ReadsOf
// finds both; a failed flush loses nothing.
#include "src/service/access_log.h"

#include <sqlite3.h>
#include <stdlib.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>

#include "src/vault/sqlite_database.h"

namespace consentd::service {
namespace {

class FileWriter final : public vault::LedgerWriter {
 public:
  explicit FileWriter(sqlite3* db) : db_(db) {}
  Status Write(std::vector<ledger::NewEntry>, ledger::WriteHook hook) override {
    if (fail_next_) {
      fail_next_ = false;
      return Status::IOError("injected write failure");
    }
    Status s = vault::Exec(db_, "BEGIN IMMEDIATE");
    if (!s.ok()) return s;
    s = hook(db_, {});
    (void)vault::Exec(db_, s.ok() ? "COMMIT" : "ROLLBACK");
    ++writes_;
    return s;
  }
  bool fail_next_ = false;
  int writes_ = 0;

 private:
  sqlite3* db_;
};

struct Fixture {
  Fixture() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "consentd-access-log-XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    dir = tmpl;
    REQUIRE(sqlite3_open((dir + "/a.db").c_str(), &db) == SQLITE_OK);
    REQUIRE(AccessLog::EnsureSchema(db).ok());
    writer = std::make_unique<FileWriter>(db);
    // An interval long enough that only the test's Flush() calls write.
    log = std::make_unique<AccessLog>(*writer, clock, std::chrono::hours(1));
  }
  ~Fixture() {
    log.reset();
    sqlite3_close(db);
    std::filesystem::remove_all(dir);
  }
  std::vector<AccessRead> ReadsOf(const domain::Sid& sid) {
    std::vector<AccessRead> out;
    Status s = AccessLog::ReadsOf(db, sid, &out);
    REQUIRE(s.ok());
    return out;
  }
  int64_t Count(const char* sql) {
    sqlite3_stmt* st = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, sql, -1, &st, nullptr) == SQLITE_OK);
    REQUIRE(sqlite3_step(st) == SQLITE_ROW);
    int64_t n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
  }

  std::string dir;
  sqlite3* db = nullptr;
  FakeClock clock{1'000'000};
  std::unique_ptr<FileWriter> writer;
  std::unique_ptr<AccessLog> log;
};

TEST_CASE("Queued reads become one batch row per token and kind, and ReadsOf counts each subject's reads",
          "[service][access_log]") {
  Fixture f;
  const domain::Sid a = domain::Sid::Random(), b = domain::Sid::Random(), never = domain::Sid::Random();
  f.log->Record("tok1", a, "consent.query");
  f.clock.Advance(50);
  f.log->Record("tok1", b, "consent.query");
  f.log->Record("tok1", a, "consent.query");  // a second read of a: kept
  f.clock.Advance(30);
  const std::vector<domain::Sid> many = {b, a, b};
  f.log->RecordMany("tok2", many, "consent.check");
  REQUIRE(f.log->Flush().ok());
  CHECK(f.Count("SELECT count(*) FROM access_batches") == 2);
  CHECK(f.Count("SELECT count(*) FROM access_log") == 0);
  CHECK(f.Count("SELECT sum(reads) FROM access_batches") == 6);
  CHECK(f.Count("SELECT sum(length(sids)) FROM access_batches") == 6 * 16);

  std::vector<AccessRead> ra = f.ReadsOf(a);
  REQUIRE(ra.size() == 2);
  std::sort(ra.begin(), ra.end(), [](const AccessRead& x, const AccessRead& y) { return x.token_id < y.token_id; });
  CHECK(ra[0].token_id == "tok1");
  CHECK(ra[0].what == "consent.query");
  CHECK(ra[0].reads == 2);
  CHECK(ra[0].first_ms == 1'000'000);
  CHECK(ra[0].last_ms == 1'000'050);
  CHECK(ra[1].token_id == "tok2");
  CHECK(ra[1].what == "consent.check");
  CHECK(ra[1].reads == 1);
  CHECK(ra[1].first_ms == 1'000'080);
  std::vector<AccessRead> rb = f.ReadsOf(b);
  int64_t b_reads = 0;
  for (const AccessRead& r : rb) b_reads += r.reads;
  CHECK(b_reads == 3);
  CHECK(f.ReadsOf(never).empty());
  // Each batch's sids are sorted (what ReadsOf's binary search needs).
  sqlite3_stmt* st = nullptr;
  REQUIRE(sqlite3_prepare_v2(f.db, "SELECT sids FROM access_batches", -1, &st, nullptr) == SQLITE_OK);
  while (sqlite3_step(st) == SQLITE_ROW) {
    const std::string blob(static_cast<const char*>(sqlite3_column_blob(st, 0)),
                           static_cast<size_t>(sqlite3_column_bytes(st, 0)));
    for (size_t i = 16; i < blob.size(); i += 16) CHECK(blob.compare(i - 16, 16, blob, i, 16) <= 0);
  }
  sqlite3_finalize(st);
}

TEST_CASE("Durable reads are single access_log rows that ReadsOf returns beside the batches", "[service][access_log]") {
  Fixture f;
  const domain::Sid a = domain::Sid::Random();
  REQUIRE(f.log->RecordNow("officer1", a, "consent.history").ok());
  f.log->Record("tok1", a, "consent.query");
  REQUIRE(f.log->Flush().ok());
  std::vector<AccessRead> r = f.ReadsOf(a);
  REQUIRE(r.size() == 2);
  CHECK(r[0].token_id == "officer1");
  CHECK(r[0].what == "consent.history");
  CHECK(r[0].reads == 1);
  CHECK(r[1].token_id == "tok1");
}

TEST_CASE("A failed flush keeps its reads queued and the next flush writes them once", "[service][access_log]") {
  Fixture f;
  const domain::Sid a = domain::Sid::Random();
  f.log->Record("tok1", a, "consent.query");
  f.writer->fail_next_ = true;
  CHECK_FALSE(f.log->Flush().ok());
  CHECK(f.Count("SELECT count(*) FROM access_batches") == 0);
  f.log->Record("tok1", a, "consent.query");
  REQUIRE(f.log->Flush().ok());
  CHECK(f.Count("SELECT sum(reads) FROM access_batches") == 2);
  REQUIRE(f.log->Flush().ok());  // nothing left: no empty row
  CHECK(f.Count("SELECT count(*) FROM access_batches") == 1);
}

TEST_CASE("A flush of more reads than a batch row holds splits them over several rows", "[service][access_log]") {
  Fixture f;
  const domain::Sid a = domain::Sid::Random();
  std::vector<domain::Sid> sids(AccessLog::kMaxReadsPerBatch + 10, domain::Sid::Random());
  sids.back() = a;
  f.log->RecordMany("tok1", sids, "consent.check");
  REQUIRE(f.log->Flush().ok());
  CHECK(f.Count("SELECT count(*) FROM access_batches") == 2);
  CHECK(f.Count("SELECT max(reads) FROM access_batches") == static_cast<int64_t>(AccessLog::kMaxReadsPerBatch));
  CHECK(f.Count("SELECT sum(reads) FROM access_batches") == static_cast<int64_t>(sids.size()));
  REQUIRE(f.ReadsOf(a).size() == 1);
  CHECK(f.ReadsOf(a)[0].reads == 1);
}

TEST_CASE("ReadsOf reports a batch whose sids are not whole 16-byte records as corruption", "[service][access_log]") {
  Fixture f;
  REQUIRE(vault::Exec(f.db, "INSERT INTO access_batches(first_ms, last_ms, token_id, what, reads, sids)"
                            " VALUES (1, 1, 't', 'consent.query', 1, x'0102030405')")
              .ok());
  std::vector<AccessRead> out;
  Status s = AccessLog::ReadsOf(f.db, domain::Sid::Random(), &out);
  CHECK(s.code() == StatusCode::kCorruption);
}

}  // namespace
}  // namespace consentd::service
