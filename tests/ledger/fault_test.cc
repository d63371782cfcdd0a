// Fault tests (SQLite's I/O-error loops): run an append scenario through the
// faulty VFS, failing the Nth xWrite or xSync for every N the scenario
// reaches. The call that hits the fault must fail, later calls must succeed,
// and after a reopen without faults the ledger must verify and hold exactly
// the entries, rows and checkpoints of the calls that returned OK.
#include <sqlite3.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "ledger/entry.h"
#include "ledger/ledger.h"
#include "ledger/note.h"
#include "ledger/verifier.h"
#include "src/base/clock.h"
#include "tests/ledger/faulty_vfs.h"
#include "tests/ledger/test_util.h"

namespace consentd::ledger {
namespace {

using consentd::testing::FaultOp;
using consentd::testing::TempDir;

constexpr const char* kOrigin = "test.example/fault-ledger";

const Signer& TestSigner() {
  static const Signer* s = [] {
    Result<Signer> r = Signer::FromSeed(kOrigin, std::string(32, '\x11'));
    if (!r.ok()) std::abort();
    return new Signer(std::move(*r));
  }();
  return *s;
}

std::string Payload(const std::string& id) { return "{\"id\":\"" + id + "\"}"; }

Status ExecSql(sqlite3* db, const std::string& sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
  std::string msg = err ? err : sqlite3_errstr(rc);
  sqlite3_free(err);
  if (rc != SQLITE_OK) return Status::IOError(msg);
  return Status::Ok();
}

// Inserts one app_rows row per appended entry, tagged with the call's id.
WriteHook RowHook(const std::string& tag) {
  return [tag](sqlite3* db, std::span<const AppendedEntry> appended) {
    for (const AppendedEntry& a : appended) {
      Status s = ExecSql(db, "INSERT INTO app_rows(seq, tag) VALUES (" + std::to_string(a.seq) + ", '" + tag + "')");
      if (!s.ok()) return s;
    }
    return Status::Ok();
  };
}

// What the scenario did, to compare with the ledger after the reopen.
struct Expected {
  std::vector<std::string> payloads;           // of entries whose Append returned OK, in order
  std::multiset<std::string> row_tags;         // app_rows tags of OK calls with a hook
  std::set<uint64_t> checkpoint_sizes;         // sizes of checkpoints whose signing returned OK
  std::set<std::string> failed_ids;            // ids of calls that failed
};

// One call of the scenario; returns whether it succeeded.
struct Step {
  std::string id;
  std::vector<std::string> entry_ids;  // empty for a checkpoint step
  bool hook = false;
  bool checkpoint = false;
};

const std::vector<Step>& Scenario() {
  static const std::vector<Step> steps = {
      {"one", {"one"}, true, false},
      {"three", {"three/a", "three/b", "three/c"}, true, false},
      {"sign", {}, false, true},
      {"plain", {"plain/a", "plain/b"}, false, false},
      {"hooked", {"hooked"}, true, false},
      {"sign-again", {}, false, true},
  };
  return steps;
}

// Runs one step against `l`, recording its outcome in `e` when it succeeds.
Status RunStep(Ledger& l, const Step& step, Expected* e) {
  if (step.checkpoint) {
    Result<StoredCheckpoint> c = l.SignCheckpoint();
    if (!c.ok()) return c.status();
    e->checkpoint_sizes.insert(c->checkpoint.size);
    return Status::Ok();
  }
  std::vector<NewEntry> entries;
  for (const std::string& id : step.entry_ids) entries.push_back({"test.fault", Payload(id)});
  Result<std::vector<AppendedEntry>> r = l.Append(entries, step.hook ? RowHook(step.id) : WriteHook());
  if (!r.ok()) return r.status();
  if (r->size() != entries.size()) return Status::Internal("wrong number of appended entries");
  for (size_t i = 0; i < r->size(); ++i) {
    if ((*r)[i].seq != e->payloads.size()) return Status::Internal("sequence numbers are not contiguous");
    e->payloads.push_back(entries[i].payload);
    if (step.hook) e->row_tags.insert(step.id);
  }
  return Status::Ok();
}

struct Setup {
  TempDir dir;
  FakeClock clock;
  std::string path = (dir / "ledger.db").string();
  Expected expected;

  std::unique_ptr<Ledger> Open(bool faulty) {
    LedgerOptions o;
    o.path = path;
    o.create_if_missing = true;
    o.origin = kOrigin;
    o.clock = &clock;
    o.signer = &TestSigner();
    if (faulty) o.sqlite_vfs = consentd::testing::FaultyVfsName();
    Result<std::unique_ptr<Ledger>> l = Ledger::Open(o);
    REQUIRE(l.ok());
    return std::move(*l);
  }

  // A ledger with two entries, a checkpoint and the app_rows table.
  std::unique_ptr<Ledger> Prepare() {
    consentd::testing::FaultyVfsReset();
    auto l = Open(/*faulty=*/true);
    REQUIRE(l->Append({}, [](sqlite3* db, std::span<const AppendedEntry>) {
               return ExecSql(db, "CREATE TABLE app_rows(seq INTEGER, tag TEXT NOT NULL)");
             }).ok());
    REQUIRE(RunStep(*l, {"base", {"base/a", "base/b"}, true, false}, &expected).ok());
    REQUIRE(RunStep(*l, {"base-sign", {}, false, true}, &expected).ok());
    return l;
  }

  // Copies the database as it is on disk now, as if the process died here.
  std::string Snapshot() {
    std::string snap = (dir / "crash.db").string();
    std::filesystem::copy_file(path, snap, std::filesystem::copy_options::overwrite_existing);
    if (std::filesystem::exists(path + "-wal")) {
      std::filesystem::copy_file(path + "-wal", snap + "-wal", std::filesystem::copy_options::overwrite_existing);
    }
    return snap;
  }

  // Reopens without the fault and checks the ledger against `expected`.
  void CheckAfterReopen() { CheckLedger(path, expected); }

  void CheckLedger(const std::string& at, const Expected& expected) {
    LedgerOptions o;
    o.path = at;
    o.clock = &clock;
    o.signer = &TestSigner();
    Result<std::unique_ptr<Ledger>> opened = Ledger::Open(o);
    REQUIRE(opened.ok());
    auto& l = *opened;
    VerifyOptions vo;
    vo.keys = {TestSigner().verifier_key()};
    VerifyReport r = VerifyLedger(*l, vo);
    INFO(r.Summary());
    REQUIRE(r.ok);
    CHECK(r.checkpoints == expected.checkpoint_sizes.size());

    std::vector<std::string> payloads;
    REQUIRE(l->ScanEntries(0, l->Size(), [&](uint64_t, std::string_view b) {
                 Result<EntryView> v = ParseEntry(b);
                 REQUIRE(v.ok());
                 payloads.emplace_back(v->payload);
                 return Status::Ok();
               }).ok());
    CHECK(payloads == expected.payloads);

    Result<std::vector<StoredCheckpoint>> cps = l->ListCheckpoints();
    REQUIRE(cps.ok());
    std::set<uint64_t> sizes;
    for (const StoredCheckpoint& c : *cps) sizes.insert(c.checkpoint.size);
    CHECK(sizes == expected.checkpoint_sizes);

    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open_v2(at.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
    std::multiset<std::string> tags;
    sqlite3_stmt* st = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, "SELECT tag FROM app_rows", -1, &st, nullptr) == SQLITE_OK);
    while (sqlite3_step(st) == SQLITE_ROW) tags.insert(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)));
    sqlite3_finalize(st);
    REQUIRE(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, nullptr) == SQLITE_OK);
    REQUIRE(sqlite3_step(st) == SQLITE_ROW);
    CHECK(std::string(reinterpret_cast<const char*>(sqlite3_column_text(st, 0))) == "ok");
    sqlite3_finalize(st);
    sqlite3_close(db);
    CHECK(tags == expected.row_tags);
    for (const std::string& id : expected.failed_ids) CHECK(tags.count(id) == 0);
  }
};

// Counts the scenario's xWrite and xSync calls without faults.
std::pair<uint64_t, uint64_t> CountScenarioOps() {
  Setup s;
  auto l = s.Prepare();
  consentd::testing::FaultyVfsReset();
  for (const Step& step : Scenario()) REQUIRE(RunStep(*l, step, &s.expected).ok());
  std::pair<uint64_t, uint64_t> counts{consentd::testing::FaultyVfsCount(FaultOp::kWrite),
                                       consentd::testing::FaultyVfsCount(FaultOp::kSync)};
  l.reset();
  s.CheckAfterReopen();
  return counts;
}

// Runs the scenario with the `n`th `op` failing.
void RunWithFault(FaultOp op, uint64_t n) {
  Setup s;
  auto l = s.Prepare();
  consentd::testing::FaultyVfsArm(op, n);
  int failed_steps = 0;
  std::string snapshot;
  Expected before_failure;
  Expected with_failed_step;  // what the ledger holds if the failed step reached the disk anyway
  for (const Step& step : Scenario()) {
    const Expected before = s.expected;
    const uint64_t fired_before = consentd::testing::FaultyVfsFired();
    Status st = RunStep(*l, step, &s.expected);
    const bool fired = consentd::testing::FaultyVfsFired() != fired_before;
    INFO("step " << step.id << ": " << st.ToString());
    if (fired) {
      // The call that hit the fault fails, and says so as an I/O error.
      CHECK_FALSE(st.ok());
      CHECK(st.code() == StatusCode::kIOError);
      s.expected.failed_ids.insert(step.id);
      ++failed_steps;
      // A crash right after a failed commit: a failed fsync may still have
      // left the whole transaction in the WAL, so the call is then either
      // wholly present or wholly absent, never in part.
      snapshot = s.Snapshot();
      before_failure = before;
      with_failed_step = before;
      if (step.checkpoint) {
        with_failed_step.checkpoint_sizes.insert(before.payloads.size());
      } else {
        for (const std::string& id : step.entry_ids) {
          with_failed_step.payloads.push_back(Payload(id));
          if (step.hook) with_failed_step.row_tags.insert(step.id);
        }
      }
    } else {
      // Every other call, including the ones right after the fault, succeeds.
      CHECK(st.ok());
    }
  }
  CHECK(consentd::testing::FaultyVfsFired() == 1);
  CHECK(failed_steps == 1);
  consentd::testing::FaultyVfsDisarm();
  REQUIRE(RunStep(*l, {"after", {"after/a", "after/b"}, true, false}, &s.expected).ok());
  REQUIRE(RunStep(*l, {"after-sign", {}, false, true}, &s.expected).ok());
  CHECK(l->Size() == s.expected.payloads.size());
  l.reset();
  consentd::testing::FaultyVfsReset();
  s.CheckAfterReopen();

  REQUIRE_FALSE(snapshot.empty());
  bool present = false;
  {
    LedgerOptions o;
    o.path = snapshot;
    Result<std::unique_ptr<Ledger>> crashed = Ledger::Open(o);
    REQUIRE(crashed.ok());
    Result<std::vector<StoredCheckpoint>> cps = (*crashed)->ListCheckpoints();
    REQUIRE(cps.ok());
    present = (*crashed)->Size() != before_failure.payloads.size() || cps->size() != before_failure.checkpoint_sizes.size();
  }
  INFO("after a crash the failed call is " << (present ? "present" : "absent"));
  if (op == FaultOp::kWrite) CHECK_FALSE(present);  // an incomplete WAL frame is never replayed
  s.CheckLedger(snapshot, present ? with_failed_step : before_failure);
}

TEST_CASE("Every failed write leaves the ledger with exactly the appends that returned OK", "[ledger][fault]") {
  auto [writes, syncs] = CountScenarioOps();
  // Each commit writes at least a WAL frame header and a page.
  REQUIRE(writes >= 2 * Scenario().size());
  for (uint64_t n = 1; n <= writes; ++n) {
    INFO("failing write " << n << " of " << writes);
    RunWithFault(FaultOp::kWrite, n);
  }
}

TEST_CASE("Every failed fsync leaves the ledger with exactly the appends that returned OK", "[ledger][fault]") {
  auto [writes, syncs] = CountScenarioOps();
  REQUIRE(syncs > 0);
  // Each durable commit syncs at least once.
  CHECK(syncs >= Scenario().size());
  for (uint64_t n = 1; n <= syncs; ++n) {
    INFO("failing fsync " << n << " of " << syncs);
    RunWithFault(FaultOp::kSync, n);
  }
}

}  // namespace
}  // namespace consentd::ledger
