// Tests of the SQLite-backed Ledger: appends, reads, reopening, time,
// write hooks and their rollback, group commit, proofs from stored nodes,
// checkpoint signing, input validation and read-only mode.
#include <sqlite3.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "ledger/entry.h"
#include "ledger/ledger.h"
#include "ledger/merkle.h"
#include "ledger/note.h"
#include "ledger/verifier.h"
#include "src/base/clock.h"
#include "tests/ledger/test_util.h"

namespace consentd::ledger {
namespace {

using consentd::testing::TempDir;

constexpr const char* kOrigin = "test.example/store-ledger";

std::string Payload(const std::string& id) { return "{\"id\":\"" + id + "\"}"; }

struct Fixture {
  TempDir dir;
  FakeClock clock;
  std::string path = (dir / "ledger.db").string();

  LedgerOptions Options(const Signer* signer = nullptr) const {
    LedgerOptions o;
    o.path = path;
    o.create_if_missing = true;
    o.origin = kOrigin;
    o.clock = &clock;
    o.signer = signer;
    return o;
  }
  std::unique_ptr<Ledger> Open(const Signer* signer = nullptr) const {
    Result<std::unique_ptr<Ledger>> l = Ledger::Open(Options(signer));
    REQUIRE(l.ok());
    return std::move(*l);
  }
};

// A separate plain SQLite connection to the ledger file.
struct Db {
  sqlite3* db = nullptr;
  explicit Db(const std::string& path) { REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK); }
  ~Db() { sqlite3_close(db); }
  int64_t Count(const std::string& sql) {
    sqlite3_stmt* st = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK);
    REQUIRE(sqlite3_step(st) == SQLITE_ROW);
    int64_t n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
  }
  bool HasTable(const std::string& name) {
    return Count("SELECT count(*) FROM sqlite_master WHERE type='table' AND name='" + name + "'") == 1;
  }
};

Status ExecSql(sqlite3* db, const std::string& sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
  std::string msg = err ? err : "";
  sqlite3_free(err);
  if (rc != SQLITE_OK) return Status::IOError(msg);
  return Status::Ok();
}

// A hook that records one row per appended entry in app_rows(seq, tag).
WriteHook RowHook(const std::string& tag) {
  return [tag](sqlite3* db, std::span<const AppendedEntry> appended) {
    Status s = ExecSql(db, "CREATE TABLE IF NOT EXISTS app_rows(seq INTEGER, tag TEXT NOT NULL)");
    if (!s.ok()) return s;
    for (const AppendedEntry& a : appended) {
      s = ExecSql(db, "INSERT INTO app_rows(seq, tag) VALUES (" + std::to_string(a.seq) + ", '" + tag + "')");
      if (!s.ok()) return s;
    }
    return Status::Ok();
  };
}

// The payload of every stored entry, by seq.
std::vector<std::string> StoredPayloads(const Ledger& l) {
  std::vector<std::string> out;
  Status s = l.ScanEntries(0, l.Size(), [&](uint64_t seq, std::string_view bytes) {
    REQUIRE(seq == out.size());
    Result<EntryView> e = ParseEntry(bytes);
    REQUIRE(e.ok());
    out.emplace_back(e->payload);
    return Status::Ok();
  });
  REQUIRE(s.ok());
  return out;
}

// RFC 6962 MTH by its recursive definition, independent of stored nodes.
Hash NaiveRoot(const std::vector<Hash>& leaves, size_t begin, size_t end) {
  if (end - begin == 1) return leaves[begin];
  size_t k = 1;
  while (k * 2 < end - begin) k *= 2;
  return NodeHash(NaiveRoot(leaves, begin, begin + k), NaiveRoot(leaves, begin + k, end));
}

TEST_CASE("A new ledger file gets 16 KiB pages and an existing 4 KiB file keeps its pages and works") {
  {
    Fixture f;
    std::unique_ptr<Ledger> l = f.Open();
    REQUIRE(l->Append({NewEntry{"test.kind", Payload("a")}}).ok());
    Db db(f.path);
    CHECK(db.Count("PRAGMA page_size") == 16384);
  }
  {
    Fixture f;
    {
      Db db(f.path);  // a file made before: SQLite's default page size
      REQUIRE(ExecSql(db.db, "PRAGMA page_size=4096; CREATE TABLE t(x)").ok());
    }
    std::unique_ptr<Ledger> l = f.Open();
    REQUIRE(l->Append({NewEntry{"test.kind", Payload("a")}}).ok());
    REQUIRE(l->Append({NewEntry{"test.kind", Payload("b")}}).ok());
    CHECK(l->Size() == 2);
    Db db(f.path);
    CHECK(db.Count("PRAGMA page_size") == 4096);
    CHECK(db.Count("SELECT count(*) FROM ledger_entries") == 2);
  }
}

TEST_CASE("Append returns contiguous sequence numbers across calls and batches", "[ledger][store]") {
  Fixture f;
  auto l = f.Open();
  REQUIRE(l->Size() == 0);
  uint64_t next = 0;
  for (size_t batch : {1, 3, 1, 5, 2}) {
    std::vector<NewEntry> entries;
    for (size_t i = 0; i < batch; ++i) entries.push_back({"test.kind", Payload(std::to_string(next + i))});
    Result<std::vector<AppendedEntry>> r = l->Append(entries);
    REQUIRE(r.ok());
    REQUIRE(r->size() == batch);
    for (const AppendedEntry& a : *r) CHECK(a.seq == next++);
    CHECK(l->Size() == next);
  }
  CHECK(l->ReadEntry(next).status().code() == StatusCode::kNotFound);
}

TEST_CASE("Check refuses what Append refuses with the same error, and AppendChecked appends what Check passed",
          "[ledger][store]") {
  Fixture f;
  auto l = f.Open();
  const std::vector<std::vector<NewEntry>> bad = {
      {{"test.kind", Payload("a")}, {"Bad Kind", Payload("b")}},
      {{"test.kind", "{\"id\":1}\n"}},
      {{"test.kind", "[1,2]"}},
      {{"", Payload("c")}},
  };
  for (size_t i = 0; i < bad.size(); ++i) {
    INFO("case " << i);
    Result<CheckedEntries> checked = Ledger::Check(bad[i]);
    Result<std::vector<AppendedEntry>> appended = l->Append(bad[i]);
    REQUIRE_FALSE(checked.ok());
    REQUIRE_FALSE(appended.ok());
    CHECK(checked.status().code() == StatusCode::kInvalidArgument);
    CHECK(checked.status().ToString() == appended.status().ToString());
  }
  CHECK(l->Size() == 0);
  Result<CheckedEntries> good = Ledger::Check({{"test.kind", Payload("x")}, {"test.kind", Payload("y")}});
  REQUIRE(good.ok());
  CHECK(good->size() == 2);
  bool hook_ran = false;
  Result<std::vector<AppendedEntry>> r =
      l->AppendChecked(std::move(*good), [&](sqlite3*, std::span<const AppendedEntry> a) {
        hook_ran = a.size() == 2;
        return Status::Ok();
      });
  REQUIRE(r.ok());
  CHECK(hook_ran);
  CHECK(l->Size() == 2);
  Result<std::string> second = l->ReadEntry(1);
  REQUIRE(second.ok());
  CHECK(second->find(Payload("y")) != std::string::npos);
}

TEST_CASE("Entries read back byte for byte as they were encoded and hashed", "[ledger][store]") {
  Fixture f;
  auto l = f.Open();
  std::vector<AppendedEntry> appended;
  std::vector<NewEntry> inputs = {{"a.b", "{}"},
                                  {"consent:opt-in", "{\"subject\":\"s-1\",\"n\":[1,2.5,null,true]}"},
                                  {"k", "{\"text\":\"caf\xc3\xa9 \\u00e9 \\\"q\\\"\"}"}};
  for (const NewEntry& e : inputs) {
    Result<std::vector<AppendedEntry>> r = l->Append({e});
    REQUIRE(r.ok());
    appended.push_back((*r)[0]);
    f.clock.Advance(1234);
  }
  Hash prev{};
  std::vector<std::string> scanned;
  REQUIRE(l->ScanEntries(0, l->Size(), [&](uint64_t, std::string_view b) {
               scanned.emplace_back(b);
               return Status::Ok();
             }).ok());
  REQUIRE(scanned.size() == inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    std::string expected = EncodeEntry(i, appended[i].time_millis, prev, inputs[i].kind, inputs[i].payload);
    Result<std::string> read = l->ReadEntry(i);
    REQUIRE(read.ok());
    CHECK(*read == expected);
    CHECK(scanned[i] == expected);
    CHECK(LeafHash(AsBytes(*read)) == appended[i].leaf_hash);
    Result<EntryView> v = ParseEntry(*read);
    REQUIRE(v.ok());
    CHECK(v->payload == inputs[i].payload);
    CHECK(v->kind == inputs[i].kind);
    prev = appended[i].leaf_hash;
  }
}

TEST_CASE("Reopening a ledger keeps its size, root and entries, and appends continue the chain", "[ledger][store]") {
  Fixture f;
  Hash root;
  std::string last;
  {
    auto l = f.Open();
    for (int i = 0; i < 3; ++i) {
      std::vector<NewEntry> e(7, NewEntry{"test.kind", Payload("x")});
      REQUIRE(l->Append(e).ok());
    }
    REQUIRE(l->Size() == 21);
    Result<Hash> r = l->RootAt(21);
    REQUIRE(r.ok());
    root = *r;
    last = *l->ReadEntry(20);
  }
  {
    auto l = f.Open();
    CHECK(l->Size() == 21);
    CHECK(l->origin() == kOrigin);
    Result<Hash> r = l->RootAt(21);
    REQUIRE(r.ok());
    CHECK(*r == root);
    CHECK(*l->ReadEntry(20) == last);
    Result<std::vector<AppendedEntry>> a = l->Append({{"test.kind", Payload("after")}});
    REQUIRE(a.ok());
    CHECK((*a)[0].seq == 21);
    VerifyReport rep = VerifyLedger(*l, {});
    CHECK(rep.ok);
    CHECK(rep.entries == 22);
  }
  SECTION("a different origin is refused") {
    LedgerOptions o = f.Options();
    o.origin = "other.example/log";
    CHECK(Ledger::Open(o).status().code() == StatusCode::kInvalidArgument);
  }
}

TEST_CASE("Entry time never goes backwards even when the clock does", "[ledger][store]") {
  Fixture f;
  const int64_t t0 = f.clock.NowMillis();
  int64_t last = 0;
  {
    auto l = f.Open();
    auto append = [&] {
      Result<std::vector<AppendedEntry>> r = l->Append({{"test.kind", "{}"}, {"test.kind", "{}"}});
      REQUIRE(r.ok());
      for (const AppendedEntry& a : *r) {
        CHECK(a.time_millis >= last);
        last = a.time_millis;
      }
    };
    append();
    CHECK(last == t0);
    f.clock.Set(t0 - 60'000);
    append();
    CHECK(last == t0);
    f.clock.Set(t0 + 5'000);
    append();
    CHECK(last == t0 + 5'000);
    f.clock.Set(t0 - 1);
    append();
    CHECK(last == t0 + 5'000);
  }
  // After a reopen the time of the last stored entry still holds.
  f.clock.Set(t0 - 3'600'000);
  auto l = f.Open();
  Result<std::vector<AppendedEntry>> r = l->Append({{"test.kind", "{}"}});
  REQUIRE(r.ok());
  CHECK((*r)[0].time_millis == t0 + 5'000);
  int64_t prev = 0;
  REQUIRE(l->ScanEntries(0, l->Size(), [&](uint64_t, std::string_view b) {
               Result<EntryView> e = ParseEntry(b);
               REQUIRE(e.ok());
               CHECK(e->time_millis >= prev);
               prev = e->time_millis;
               return Status::Ok();
             }).ok());
  CHECK(VerifyLedger(*l, {}).ok);
}

TEST_CASE("Append with a hook writes the caller's rows in the same transaction", "[ledger][store][hook]") {
  Fixture f;
  auto l = f.Open();
  std::vector<uint64_t> seen;
  WriteHook hook = [&](sqlite3* db, std::span<const AppendedEntry> appended) {
    for (const AppendedEntry& a : appended) seen.push_back(a.seq);
    return RowHook("first")(db, appended);
  };
  Result<std::vector<AppendedEntry>> r =
      l->Append({{"test.kind", Payload("a")}, {"test.kind", Payload("b")}}, hook);
  REQUIRE(r.ok());
  CHECK(seen == std::vector<uint64_t>{0, 1});
  {
    Db db(f.path);
    REQUIRE(db.HasTable("app_rows"));
    CHECK(db.Count("SELECT count(*) FROM app_rows WHERE tag='first' AND seq IN (0, 1)") == 2);
  }
  SECTION("an empty append with a hook is a plain durable transaction") {
    Result<std::vector<AppendedEntry>> e = l->Append({}, RowHook("none"));
    REQUIRE(e.ok());
    CHECK(e->empty());
    CHECK(l->Size() == 2);
    WriteHook insert = [](sqlite3* db, std::span<const AppendedEntry>) {
      return ExecSql(db, "INSERT INTO app_rows(seq, tag) VALUES (-1, 'bare')");
    };
    REQUIRE(l->Append({}, insert).ok());
    Db db(f.path);
    CHECK(db.Count("SELECT count(*) FROM app_rows WHERE tag='bare'") == 1);
  }
  SECTION("the rows survive a reopen together with the entries") {
    l.reset();
    auto again = f.Open();
    CHECK(again->Size() == 2);
    Db db(f.path);
    CHECK(db.Count("SELECT count(*) FROM app_rows") == 2);
  }
}

TEST_CASE("A failing hook rolls back only its own caller's entries and rows", "[ledger][store][hook]") {
  Fixture f;
  auto l = f.Open();
  // Create the table up front so that every hook only inserts.
  REQUIRE(l->Append({}, [](sqlite3* db, std::span<const AppendedEntry>) {
             return ExecSql(db, "CREATE TABLE app_rows(seq INTEGER, tag TEXT NOT NULL)");
           }).ok());

  SECTION("sequentially: the ledger and the rows stay as if the call never happened") {
    REQUIRE(l->Append({{"test.kind", Payload("ok-0")}}, RowHook("ok-0")).ok());
    WriteHook failing = [](sqlite3* db, std::span<const AppendedEntry> appended) {
      Status s = RowHook("bad")(db, appended);
      if (!s.ok()) return s;
      return Status::FailedPrecondition("hook says no");
    };
    Result<std::vector<AppendedEntry>> r =
        l->Append({{"test.kind", Payload("bad-1")}, {"test.kind", Payload("bad-2")}}, failing);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == StatusCode::kFailedPrecondition);
    CHECK(r.status().message() == "hook says no");
    CHECK(l->Size() == 1);
    Result<std::vector<AppendedEntry>> next = l->Append({{"test.kind", Payload("ok-1")}}, RowHook("ok-1"));
    REQUIRE(next.ok());
    CHECK((*next)[0].seq == 1);
    CHECK(StoredPayloads(*l) == std::vector<std::string>{Payload("ok-0"), Payload("ok-1")});
    Db db(f.path);
    CHECK(db.Count("SELECT count(*) FROM app_rows WHERE tag='bad'") == 0);
    CHECK(db.Count("SELECT count(*) FROM app_rows") == 2);
    CHECK(VerifyLedger(*l, {}).ok);
  }

  SECTION("concurrently: callers in the same batch as a failing one succeed") {
    constexpr int kThreads = 8;
    constexpr int kPerThread = 6;
    struct Outcome {
      std::string id;
      bool should_fail;
      bool ok;
      std::string message;
      std::vector<uint64_t> seqs;
    };
    std::mutex mu;
    std::vector<Outcome> outcomes;
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kPerThread; ++i) {
          std::string id = std::to_string(t) + "-" + std::to_string(i);
          const bool fail = (t + i) % 3 == 0;
          WriteHook hook = [id, fail](sqlite3* db, std::span<const AppendedEntry> appended) {
            Status s = RowHook(id)(db, appended);
            if (!s.ok()) return s;
            if (fail) return Status::FailedPrecondition("refused " + id);
            return Status::Ok();
          };
          Result<std::vector<AppendedEntry>> r =
              l->Append({{"test.kind", Payload(id + "/a")}, {"test.kind", Payload(id + "/b")}}, hook);
          // Catch2 assertions are not thread-safe: record, check later.
          std::lock_guard<std::mutex> g(mu);
          Outcome o{id, fail, r.ok(), r.status().message(), {}};
          if (r.ok()) {
            for (const AppendedEntry& a : *r) o.seqs.push_back(a.seq);
          }
          outcomes.push_back(o);
        }
      });
    }
    for (std::thread& t : threads) t.join();

    std::vector<std::string> payloads = StoredPayloads(*l);
    Db db(f.path);
    size_t ok_count = 0;
    std::set<uint64_t> all_seqs;
    for (const Outcome& o : outcomes) {
      INFO("caller " << o.id);
      const int64_t rows = db.Count("SELECT count(*) FROM app_rows WHERE tag='" + o.id + "'");
      CHECK(o.ok == !o.should_fail);
      if (o.should_fail) CHECK(o.message == "refused " + o.id);
      if (o.ok) {
        ++ok_count;
        REQUIRE(o.seqs.size() == 2);
        CHECK(o.seqs[1] == o.seqs[0] + 1);
        CHECK(payloads.at(o.seqs[0]) == Payload(o.id + "/a"));
        CHECK(payloads.at(o.seqs[1]) == Payload(o.id + "/b"));
        CHECK(db.Count("SELECT count(*) FROM app_rows WHERE tag='" + o.id + "' AND seq IN (" +
                       std::to_string(o.seqs[0]) + "," + std::to_string(o.seqs[1]) + ")") == 2);
        CHECK(rows == 2);
        for (uint64_t s : o.seqs) CHECK(all_seqs.insert(s).second);
      } else {
        CHECK(rows == 0);
        CHECK(std::count(payloads.begin(), payloads.end(), Payload(o.id + "/a")) == 0);
        CHECK(std::count(payloads.begin(), payloads.end(), Payload(o.id + "/b")) == 0);
      }
    }
    CHECK(outcomes.size() == kThreads * kPerThread);
    CHECK(l->Size() == 2 * ok_count);
    CHECK(payloads.size() == 2 * ok_count);
    CHECK(db.Count("SELECT count(*) FROM app_rows") == static_cast<int64_t>(2 * ok_count));
    CHECK(l->stats().callers == ok_count + 1);  // + the CREATE TABLE call
    VerifyReport rep = VerifyLedger(*l, {});
    CHECK(rep.ok);
    INFO(rep.Summary());
  }
}

TEST_CASE("Concurrent appenders end with exactly the right count and unique sequence numbers",
          "[ledger][store][concurrency]") {
  Fixture f;
  auto l = f.Open();
  constexpr int kThreads = 8;
  constexpr int kPerThread = 25;
  std::mutex mu;
  std::vector<uint64_t> seqs;
  std::map<uint64_t, std::string> payload_of;
  std::vector<std::string> failures;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        std::string p = Payload(std::to_string(t) + "-" + std::to_string(i));
        Result<std::vector<AppendedEntry>> r = l->Append({{"test.kind", p}});
        std::lock_guard<std::mutex> g(mu);
        if (!r.ok()) {
          failures.push_back(r.status().ToString());
          continue;
        }
        seqs.push_back((*r)[0].seq);
        payload_of[(*r)[0].seq] = p;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  CHECK(failures.empty());
  CHECK(seqs.size() == kThreads * kPerThread);
  CHECK(std::set<uint64_t>(seqs.begin(), seqs.end()).size() == seqs.size());
  CHECK(l->Size() == kThreads * kPerThread);
  std::vector<std::string> payloads = StoredPayloads(*l);
  for (const auto& [seq, p] : payload_of) CHECK(payloads.at(seq) == p);
  Ledger::Stats st = l->stats();
  CHECK(st.callers == kThreads * kPerThread);
  CHECK(st.entries == kThreads * kPerThread);
  CHECK(st.commits <= st.callers);
  CHECK(st.max_batch >= 1);
  CHECK(st.max_batch <= kThreads);
  // Batching depends on timing; report rather than assert it here.
  if (st.max_batch == 1) WARN("no two appends were group-committed in this run");
  CHECK(VerifyLedger(*l, {}).ok);
}

TEST_CASE("Appends queued behind a running commit are group-committed together", "[ledger][store][concurrency]") {
  // A hook that sleeps holds the leader inside its transaction, so callers
  // that arrive meanwhile queue up and form the next batch. Timing decides
  // how many arrive; across a few attempts at least one batch must be > 1.
  bool batched = false;
  for (int attempt = 1; attempt <= 5 && !batched; ++attempt) {
    Fixture f;
    auto l = f.Open();
    std::atomic<bool> in_hook{false};
    std::atomic<int> ok_calls{0};
    std::thread slow([&] {
      WriteHook hook = [&](sqlite3*, std::span<const AppendedEntry>) {
        in_hook = true;
        std::this_thread::sleep_for(std::chrono::milliseconds(50 * attempt));
        return Status::Ok();
      };
      if (l->Append({{"test.kind", Payload("slow")}}, hook).ok()) ++ok_calls;
    });
    while (!in_hook) std::this_thread::yield();
    std::vector<std::thread> fast;
    for (int t = 0; t < 6; ++t) {
      fast.emplace_back([&, t] {
        if (l->Append({{"test.kind", Payload(std::to_string(t))}}).ok()) ++ok_calls;
      });
    }
    slow.join();
    for (std::thread& t : fast) t.join();
    CHECK(ok_calls == 7);
    CHECK(l->Size() == 7);
    batched = l->stats().max_batch > 1;
  }
  CHECK(batched);
}

TEST_CASE("Roots and proofs served from stored nodes verify against the RFC 6962 definitions",
          "[ledger][store][proofs]") {
  Fixture f;
  auto l = f.Open();
  std::vector<Hash> leaves;
  for (size_t batch : {1, 2, 5, 9, 20}) {  // 37 entries
    std::vector<NewEntry> entries(batch, NewEntry{"test.kind", Payload("p")});
    Result<std::vector<AppendedEntry>> r = l->Append(entries);
    REQUIRE(r.ok());
    for (const AppendedEntry& a : *r) leaves.push_back(a.leaf_hash);
  }
  const uint64_t n = leaves.size();
  REQUIRE(l->Size() == n);
  for (uint64_t i = 0; i < n; ++i) CHECK(LeafHash(AsBytes(*l->ReadEntry(i))) == leaves[i]);
  Result<Hash> empty = l->RootAt(0);
  REQUIRE(empty.ok());
  CHECK(*empty == EmptyRoot());
  std::vector<Hash> roots(n + 1);
  roots[0] = EmptyRoot();
  for (uint64_t size = 1; size <= n; ++size) {
    Result<Hash> root = l->RootAt(size);
    REQUIRE(root.ok());
    CHECK(*root == NaiveRoot(leaves, 0, size));
    roots[size] = *root;
  }
  for (uint64_t size = 1; size <= n; ++size) {
    for (uint64_t index = 0; index < size; ++index) {
      Result<std::vector<Hash>> p = l->InclusionProof(index, size);
      REQUIRE(p.ok());
      INFO("inclusion of " << index << " in " << size);
      CHECK(VerifyInclusion(index, size, leaves[index], *p, roots[size]).ok());
      if (size > 1) CHECK_FALSE(VerifyInclusion(index, size, leaves[(index + 1) % size], *p, roots[size]).ok());
    }
    for (uint64_t first = 1; first <= size; ++first) {
      Result<std::vector<Hash>> p = l->ConsistencyProof(first, size);
      REQUIRE(p.ok());
      INFO("consistency " << first << " -> " << size);
      CHECK(VerifyConsistency(first, size, roots[first], roots[size], *p).ok());
      if (first < size) CHECK_FALSE(VerifyConsistency(first, size, roots[first - 1], roots[size], *p).ok());
    }
  }
  CHECK_FALSE(l->RootAt(n + 1).ok());
  CHECK_FALSE(l->InclusionProof(n, n).ok());
  CHECK_FALSE(l->InclusionProof(0, n + 1).ok());
  CHECK_FALSE(l->ConsistencyProof(0, n).ok());
  CHECK_FALSE(l->ConsistencyProof(5, 4).ok());
  CHECK_FALSE(l->ConsistencyProof(1, n + 1).ok());
}

TEST_CASE("SignCheckpoint is idempotent at the same size and refuses without a matching signer",
          "[ledger][store][checkpoint]") {
  Fixture f;
  Result<Signer> signer = Signer::Generate(kOrigin);
  REQUIRE(signer.ok());

  SECTION("idempotent at one size, new at the next") {
    auto l = f.Open(&*signer);
    REQUIRE(l->LatestCheckpoint().status().code() == StatusCode::kNotFound);
    Result<StoredCheckpoint> c0 = l->SignCheckpoint();
    REQUIRE(c0.ok());
    CHECK(c0->checkpoint.size == 0);
    CHECK(c0->checkpoint.root == EmptyRoot());
    REQUIRE(l->Append({{"test.kind", "{}"}, {"test.kind", "{}"}, {"test.kind", "{}"}}).ok());
    Result<StoredCheckpoint> c1 = l->SignCheckpoint();
    REQUIRE(c1.ok());
    f.clock.Advance(10'000);
    Result<StoredCheckpoint> again = l->SignCheckpoint();
    REQUIRE(again.ok());
    CHECK(again->signed_note == c1->signed_note);
    CHECK(again->created_millis == c1->created_millis);
    Result<std::vector<StoredCheckpoint>> all = l->ListCheckpoints();
    REQUIRE(all.ok());
    REQUIRE(all->size() == 2);
    CHECK((*all)[0].checkpoint.size == 0);
    CHECK((*all)[1].checkpoint.size == 3);
    CHECK(l->Size() == 3);  // signing appends no entry

    // The note is a valid signed checkpoint of the current root.
    Result<Note> note = ParseNote(c1->signed_note);
    REQUIRE(note.ok());
    CHECK(VerifyNote(*note, {signer->verifier_key()}).ok());
    Result<Checkpoint> body = ParseCheckpointBody(note->text);
    REQUIRE(body.ok());
    CHECK(body->origin == kOrigin);
    CHECK(body->size == 3);
    CHECK(body->root == *l->RootAt(3));
    Result<StoredCheckpoint> at = l->CheckpointAt(3);
    REQUIRE(at.ok());
    CHECK(at->signed_note == c1->signed_note);
    CHECK(l->CheckpointAt(2).status().code() == StatusCode::kNotFound);
    Result<StoredCheckpoint> latest = l->LatestCheckpoint();
    REQUIRE(latest.ok());
    CHECK(latest->signed_note == c1->signed_note);

    VerifyOptions vo;
    vo.keys = {signer->verifier_key()};
    VerifyReport rep = VerifyLedger(*l, vo);
    CHECK(rep.ok);
    CHECK(rep.checkpoints == 2);
  }
  SECTION("without a signer") {
    auto l = f.Open();
    REQUIRE(l->Append({{"test.kind", "{}"}}).ok());
    Result<StoredCheckpoint> c = l->SignCheckpoint();
    CHECK(c.status().code() == StatusCode::kFailedPrecondition);
    CHECK(l->ListCheckpoints()->empty());
  }
  SECTION("with a signer whose name is not the origin") {
    Result<Signer> other = Signer::Generate("other.example/log");
    REQUIRE(other.ok());
    auto l = f.Open(&*other);
    REQUIRE(l->Append({{"test.kind", "{}"}}).ok());
    Result<StoredCheckpoint> c = l->SignCheckpoint();
    CHECK(c.status().code() == StatusCode::kFailedPrecondition);
    CHECK(l->ListCheckpoints()->empty());
  }
}

TEST_CASE("Invalid kinds and payloads are rejected with nothing stored", "[ledger][store][validation]") {
  Fixture f;
  auto l = f.Open();
  REQUIRE(l->Append({{"test.kind", Payload("before")}}).ok());
  const std::vector<NewEntry> bad = {
      {"", "{}"},
      {"Upper", "{}"},
      {"has space", "{}"},
      {std::string(65, 'a'), "{}"},
      {"k\n", "{}"},
      {"test.kind", ""},
      {"test.kind", "not json"},
      {"test.kind", "[1,2]"},
      {"test.kind", "\"string\""},
      {"test.kind", "{\"a\":1}\n"},
      {"test.kind", "{\"a\":\r1}"},
      {"test.kind", "{\"a\":1"},
      {"test.kind", "{\"a\":1}{}"},
      {"test.kind", "{\"a\":\"\xff\"}"},
      {"test.kind", "{\"a\":\"" + std::string(70'000, 'x') + "\"}"},
  };
  bool hook_called = false;
  WriteHook hook = [&](sqlite3*, std::span<const AppendedEntry>) {
    hook_called = true;
    return Status::Ok();
  };
  for (const NewEntry& e : bad) {
    INFO("kind '" << e.kind << "' payload '" << e.payload.substr(0, 40) << "'");
    Result<std::vector<AppendedEntry>> r = l->Append({e}, hook);
    CHECK(r.status().code() == StatusCode::kInvalidArgument);
    // A bad entry anywhere in a call rejects the whole call.
    r = l->Append({{"test.kind", Payload("good")}, e}, hook);
    CHECK(r.status().code() == StatusCode::kInvalidArgument);
  }
  CHECK_FALSE(hook_called);
  CHECK(l->Size() == 1);
  CHECK(StoredPayloads(*l) == std::vector<std::string>{Payload("before")});
  Result<std::vector<AppendedEntry>> next = l->Append({{"test.kind", Payload("after")}});
  REQUIRE(next.ok());
  CHECK((*next)[0].seq == 1);
}

TEST_CASE("A ledger opened read-only serves reads and refuses appends", "[ledger][store]") {
  Fixture f;
  Result<Signer> signer = Signer::Generate(kOrigin);
  REQUIRE(signer.ok());
  {
    auto l = f.Open(&*signer);
    REQUIRE(l->Append({{"test.kind", Payload("a")}, {"test.kind", Payload("b")}}).ok());
    REQUIRE(l->SignCheckpoint().ok());
  }
  LedgerOptions o;
  o.path = f.path;
  o.read_only = true;
  o.signer = &*signer;
  Result<std::unique_ptr<Ledger>> ro = Ledger::Open(o);
  REQUIRE(ro.ok());
  Ledger& l = **ro;
  CHECK(l.Size() == 2);
  CHECK(l.origin() == kOrigin);
  CHECK(l.ReadEntry(1).ok());
  CHECK(l.RootAt(2).ok());
  CHECK(l.LatestCheckpoint().ok());
  Result<std::vector<AppendedEntry>> r = l.Append({{"test.kind", Payload("c")}});
  CHECK(r.status().code() == StatusCode::kFailedPrecondition);
  CHECK_FALSE(l.Append({}, [](sqlite3*, std::span<const AppendedEntry>) { return Status::Ok(); }).ok());
  CHECK(l.Size() == 2);
  {
    Db db(f.path);
    CHECK(db.Count("SELECT count(*) FROM ledger_entries") == 2);
  }
  SECTION("a missing file is not created read-only") {
    LedgerOptions missing;
    missing.path = (f.dir / "missing.db").string();
    missing.read_only = true;
    CHECK_FALSE(Ledger::Open(missing).ok());
    CHECK_FALSE(std::filesystem::exists(missing.path));
  }
}

}  // namespace
}  // namespace consentd::ledger
