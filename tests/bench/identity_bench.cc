// identity_bench: identity resolution at scale, shredding throughput and data
// directory bytes per subject (docs/benchmarks.md, "Identity and vault").
// A program, not a timed test.
//
//   identity_bench [--subjects N] [--lookups M] [--shred K] [--dir PATH] [--keep] [--quick]
//
// Setup: N subjects are bulk-loaded straight into the identity and vault
// tables (one email each, real wrapped keys, real sealed values, real blind
// indexes), sorted by primary key, in large transactions with
// synchronous=OFF on the loading connection only, secondary indexes built
// after the load. No ledger entries are written for them. Then everything
// is measured through the real code path (SubjectRegistry over the ledger).
#include <sodium.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "ledger/ledger.h"
#include "src/base/clock.h"
#include "src/identity/blind_index.h"
#include "src/identity/schema.h"
#include "src/identity/subject_registry.h"
#include "src/vault/cipher.h"
#include "src/vault/key_directory.h"
#include "src/vault/ledger_writer.h"

namespace consentd {
namespace {

using Clock = std::chrono::steady_clock;
using domain::Sid;

struct Args {
  uint64_t subjects = 10'000'000;
  uint64_t lookups = 200'000;
  uint64_t shred = 2'000;
  std::string dir;
  bool keep = false;
  int64_t mmap_bytes = 0;  // PRAGMA mmap_size on the registry's read connection (0: SQLite's default, off)
  int64_t cache_kib = 0;   // PRAGMA cache_size=-N on it (0: SQLite's default, 2 MiB)
};

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "identity_bench: %s\n", what.c_str());
  std::exit(1);
}

void Check(const Status& s, const char* what) {
  if (!s.ok()) Die(std::string(what) + ": " + s.ToString());
}

void Sql(sqlite3* db, const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) Die(std::string("sql: ") + (err ? err : "?"));
}

double Seconds(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

std::string EmailOf(uint64_t i) { return "user" + std::to_string(i) + "@bench.example.com"; }

uint64_t DirBytes(const std::string& dir) {
  uint64_t total = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.is_regular_file()) total += e.file_size();
  }
  return total;
}

void PrintPercentiles(const char* name, std::vector<double>& us) {
  std::sort(us.begin(), us.end());
  auto at = [&](double q) { return us[std::min(us.size() - 1, static_cast<size_t>(q * us.size()))]; };
  double mean = std::accumulate(us.begin(), us.end(), 0.0) / us.size();
  std::printf("%-34s n=%-8zu median=%7.2f us  p90=%7.2f  p99=%7.2f  p99.9=%8.2f  max=%9.2f  mean=%7.2f\n", name,
              us.size(), at(0.5), at(0.9), at(0.99), at(0.999), us.back(), mean);
}

// Bulk load: subjects, wrapped keys, identifiers (one email each).
void BulkLoad(const std::string& db_path, uint64_t n, const vault::KeyRing& kek, const identity::BlindIndexer& indexer) {
  auto t0 = Clock::now();
  sqlite3* db = nullptr;
  if (sqlite3_open(db_path.c_str(), &db) != SQLITE_OK) Die("open for bulk load");
  Sql(db, "PRAGMA synchronous=OFF; PRAGMA cache_size=-1000000; PRAGMA temp_store=MEMORY;");
  Sql(db,
      "DROP INDEX IF EXISTS identity_identifiers_by_root; DROP INDEX IF EXISTS identity_identifiers_by_key;"
      "DROP INDEX IF EXISTS identity_identifiers_by_base; DROP INDEX IF EXISTS vault_subject_keys_by_kek;");

  std::vector<Sid> sids(n);
  std::vector<vault::DataKey> keys(n);
  for (uint64_t i = 0; i < n; ++i) {
    sids[i] = Sid::Random();
    keys[i] = vault::DataKey::Generate();
  }
  std::vector<uint32_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return sids[a] < sids[b]; });

  const uint64_t kTxn = 200'000;
  sqlite3_stmt* subj = nullptr;
  sqlite3_stmt* key = nullptr;
  sqlite3_prepare_v2(db, "INSERT INTO identity_subjects(sid, state, created_ms) VALUES(?, 0, 1)", -1, &subj, nullptr);
  sqlite3_prepare_v2(db, "INSERT INTO vault_subject_keys(sid, kek_id, wrapped) VALUES(?, ?, ?)", -1, &key, nullptr);
  for (uint64_t j = 0; j < n; ++j) {
    if (j % kTxn == 0) Sql(db, "BEGIN");
    uint32_t i = order[j];
    std::string wrapped = vault::WrapDataKey(kek.current(), sids[i], keys[i]);
    sqlite3_bind_blob(subj, 1, sids[i].bytes().data(), 16, SQLITE_STATIC);
    if (sqlite3_step(subj) != SQLITE_DONE) Die(std::string("insert subject: ") + sqlite3_errmsg(db));
    sqlite3_reset(subj);
    sqlite3_bind_blob(key, 1, sids[i].bytes().data(), 16, SQLITE_STATIC);
    sqlite3_bind_int64(key, 2, kek.current().id);
    sqlite3_bind_blob(key, 3, wrapped.data(), static_cast<int>(wrapped.size()), SQLITE_TRANSIENT);
    if (sqlite3_step(key) != SQLITE_DONE) Die(std::string("insert key: ") + sqlite3_errmsg(db));
    sqlite3_reset(key);
    if (j % kTxn == kTxn - 1 || j == n - 1) Sql(db, "COMMIT");
  }
  sqlite3_finalize(subj);
  sqlite3_finalize(key);
  auto t1 = Clock::now();
  std::printf("load: %llu subjects + keys in %.1f s\n", static_cast<unsigned long long>(n), Seconds(t0, t1));

  struct Row {
    identity::BlindIndex bidx;
    uint32_t i;
  };
  std::vector<Row> rows(n);
  for (uint64_t i = 0; i < n; ++i) {
    domain::NormalizedIdentifier id{domain::IdentifierKind::Email(), "", EmailOf(i)};
    rows[i] = {indexer.Current(id).bidx, static_cast<uint32_t>(i)};
  }
  std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) { return a.bidx < b.bidx; });
  sqlite3_stmt* ins = nullptr;
  sqlite3_prepare_v2(db,
                     "INSERT INTO identity_identifiers(bidx, root_sid, owner_sid, kind, qualifier, key_id, sealed, "
                     "base_bidx, created_ms) VALUES(?, ?, ?, 'email', '', ?, ?, ?, 1)",
                     -1, &ins, nullptr);
  const std::string purpose = identity::IdentifierSealPurpose("email", "");
  for (uint64_t j = 0; j < n; ++j) {
    if (j % kTxn == 0) Sql(db, "BEGIN");
    uint32_t i = rows[j].i;
    std::string value = EmailOf(i);
    std::string sealed = vault::Seal(keys[i].bytes, sids[i], purpose, value);
    identity::KeyedBlindIndex base = indexer.CurrentOf(identity::EmailBaseInput(value));
    sqlite3_bind_blob(ins, 1, rows[j].bidx.data(), 32, SQLITE_STATIC);
    sqlite3_bind_blob(ins, 2, sids[i].bytes().data(), 16, SQLITE_STATIC);
    sqlite3_bind_blob(ins, 3, sids[i].bytes().data(), 16, SQLITE_STATIC);
    sqlite3_bind_int64(ins, 4, indexer.keys().current().id);
    sqlite3_bind_blob(ins, 5, sealed.data(), static_cast<int>(sealed.size()), SQLITE_TRANSIENT);
    sqlite3_bind_blob(ins, 6, base.bidx.data(), 32, SQLITE_TRANSIENT);
    if (sqlite3_step(ins) != SQLITE_DONE) Die(std::string("insert identifier: ") + sqlite3_errmsg(db));
    sqlite3_reset(ins);
    if (j % kTxn == kTxn - 1 || j == n - 1) Sql(db, "COMMIT");
  }
  sqlite3_finalize(ins);
  auto t2 = Clock::now();
  std::printf("load: %llu identifiers in %.1f s\n", static_cast<unsigned long long>(n), Seconds(t1, t2));
  // The secondary indexes, built by sorting (the same definitions as
  // identity::EnsureSchema, which re-creates nothing that exists).
  Sql(db,
      "CREATE INDEX identity_identifiers_by_root ON identity_identifiers(root_sid);"
      "CREATE INDEX identity_identifiers_by_base ON identity_identifiers(base_bidx) WHERE base_bidx IS NOT NULL;"
      "CREATE INDEX vault_subject_keys_by_kek ON vault_subject_keys(kek_id);"
      "PRAGMA wal_checkpoint(TRUNCATE);");
  sqlite3_close(db);
  auto t3 = Clock::now();
  std::printf("load: indexes + checkpoint in %.1f s (total %.1f s)\n", Seconds(t2, t3), Seconds(t0, t3));
}

int Main(int argc, char** argv) {
  Args args;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) Die("missing value for " + a);
      return argv[++i];
    };
    if (a == "--subjects") {
      args.subjects = std::stoull(next());
    } else if (a == "--lookups") {
      args.lookups = std::stoull(next());
    } else if (a == "--shred") {
      args.shred = std::stoull(next());
    } else if (a == "--dir") {
      args.dir = next();
    } else if (a == "--mmap") {
      args.mmap_bytes = std::stoll(next());
    } else if (a == "--cache-kib") {
      args.cache_kib = std::stoll(next());
    } else if (a == "--keep") {
      args.keep = true;
    } else if (a == "--quick") {
      args.subjects = 20'000;
      args.lookups = 20'000;
      args.shred = 50;
    } else {
      Die("unknown argument " + a);
    }
  }
  if (sodium_init() < 0) Die("sodium_init");
  bool temp_dir = args.dir.empty();
  if (temp_dir) {
    std::string tmpl = std::filesystem::temp_directory_path().string() + "/consentd-identity-bench-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) Die("mkdtemp");
    args.dir = tmpl;
  }
  std::string data_dir = args.dir + "/data";
  std::string key_dir = args.dir + "/keys";
  std::filesystem::create_directories(data_dir);
  std::string db_path = data_dir + "/consentd.db";
  std::printf("identity_bench: subjects=%llu lookups=%llu shred=%llu dir=%s\n",
              static_cast<unsigned long long>(args.subjects), static_cast<unsigned long long>(args.lookups),
              static_cast<unsigned long long>(args.shred), args.dir.c_str());

  Result<vault::KeyDirectory> keys = vault::KeyDirectory::Open(key_dir, true);
  Check(keys.status(), "key directory");
  Result<vault::KeyRing> kek = keys->LoadOrCreate(vault::KeyDirectory::kKek);
  Check(kek.status(), "kek");
  Result<vault::KeyRing> bidx = keys->LoadOrCreate(vault::KeyDirectory::kBlindIndex);
  Check(bidx.status(), "blind-index key");

  ledger::LedgerOptions lo;
  lo.path = db_path;
  lo.create_if_missing = true;
  lo.origin = "bench.example/identity";
  Result<std::unique_ptr<ledger::Ledger>> ledger = ledger::Ledger::Open(lo);
  Check(ledger.status(), "ledger");
  vault::LedgerAppender writer(**ledger);
  // Creates the tables.
  Check(writer.Write({}, [](sqlite3* db, std::span<const ledger::AppendedEntry>) { return identity::EnsureSchema(db); }),
        "schema");

  struct stat st;
  bool loaded_before = false;
  {
    sqlite3* db = nullptr;
    sqlite3_open(db_path.c_str(), &db);
    sqlite3_stmt* q = nullptr;
    sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM identity_subjects", -1, &q, nullptr);
    sqlite3_step(q);
    loaded_before = sqlite3_column_int64(q, 0) >= static_cast<int64_t>(args.subjects);
    sqlite3_finalize(q);
    sqlite3_close(db);
  }
  (void)st;
  if (!loaded_before) {
    BulkLoad(db_path, args.subjects, *kek, identity::BlindIndexer(*bidx));
  } else {
    std::printf("load: reusing the %llu subjects already in %s\n", static_cast<unsigned long long>(args.subjects),
                db_path.c_str());
  }
  uint64_t bytes = DirBytes(data_dir);
  std::printf("data directory: %.1f MB, %.0f bytes per subject (one email each, no ledger entries)\n", bytes / 1e6,
              static_cast<double>(bytes) / args.subjects);

  domain::IdentityRules rules;
  Result<std::unique_ptr<identity::SubjectRegistry>> reg =
      identity::SubjectRegistry::Open(db_path, writer, *keys, rules, nullptr);
  Check(reg.status(), "registry");

  if (args.mmap_bytes > 0 || args.cache_kib > 0) {
    std::unique_lock<std::mutex> lock = (*reg)->database().Lock();
    std::string pragmas = "PRAGMA mmap_size=" + std::to_string(args.mmap_bytes) + ";";
    if (args.cache_kib > 0) pragmas += "PRAGMA cache_size=-" + std::to_string(args.cache_kib) + ";";
    Check(vault::Exec((*reg)->database().handle(), pragmas), "pragmas");
  }
  {
    double load[3] = {0, 0, 0};
    if (getloadavg(load, 3) == 3) std::printf("load average: %.2f %.2f %.2f\n", load[0], load[1], load[2]);
  }

  // Lookups of known identifiers, uniformly at random over all subjects.
  std::mt19937_64 rng(42);
  std::uniform_int_distribution<uint64_t> pick(0, args.subjects - 1);
  std::vector<uint64_t> sample(args.lookups);
  for (uint64_t& s : sample) s = pick(rng);

  // Warm-up: one pass over the whole identifier table through SQLite reads
  // brings the working set into the OS page cache ("working set cached").
  {
    auto t0 = Clock::now();
    std::unique_lock<std::mutex> lock = (*reg)->database().Lock();
    Check(vault::Exec((*reg)->database().handle(), "SELECT COUNT(*), SUM(LENGTH(sealed)) FROM identity_identifiers;"),
          "warm-up");
    std::printf("warm-up scan: %.1f s\n", Seconds(t0, Clock::now()));
  }
  for (int pass = 0; pass < 2; ++pass) {
    std::vector<double> full, normalized;
    full.reserve(sample.size());
    normalized.reserve(sample.size());
    uint64_t misses = 0;
    for (uint64_t i : sample) {
      domain::Identifier id{domain::IdentifierKind::Email(), EmailOf(i), ""};
      auto t0 = Clock::now();
      Result<std::optional<Sid>> r = (*reg)->Lookup(id);
      auto t1 = Clock::now();
      if (!r.ok() || !r->has_value()) ++misses;
      full.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
    }
    for (uint64_t i : sample) {
      domain::NormalizedIdentifier id{domain::IdentifierKind::Email(), "", EmailOf(i)};
      auto t0 = Clock::now();
      Result<std::optional<Sid>> r = (*reg)->LookupNormalized(id);
      auto t1 = Clock::now();
      if (!r.ok() || !r->has_value()) ++misses;
      normalized.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
    }
    // On a reused directory, earlier runs shredded some subjects.
    if (misses != 0 && !loaded_before) Die("lookups missed " + std::to_string(misses) + " known identifiers");
    if (misses != 0) std::printf("(%llu lookups hit subjects shredded by an earlier run)\n",
                                 static_cast<unsigned long long>(misses));
    size_t over = std::count_if(full.begin(), full.end(), [](double us) { return us > 50.0; });
    std::printf("pass %d: %.3f%% of full lookups over 50 us\n", pass + 1, 100.0 * over / full.size());
    PrintPercentiles("  Lookup (normalize+bidx+SQLite)", full);
    PrintPercentiles("  LookupNormalized (bidx+SQLite)", normalized);
  }
  {
    std::vector<double> absent;
    for (uint64_t k = 0; k < std::min<uint64_t>(args.lookups, 50'000); ++k) {
      domain::Identifier id{domain::IdentifierKind::Email(), "absent" + std::to_string(k) + "@bench.example.com", ""};
      auto t0 = Clock::now();
      Result<std::optional<Sid>> r = (*reg)->Lookup(id);
      auto t1 = Clock::now();
      if (!r.ok() || r->has_value()) Die("absent identifier found");
      absent.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
    }
    PrintPercentiles("  Lookup of an absent identifier", absent);
  }
  {
    // Resolve through the write path: a new subject per call (durable,
    // fsync'd ledger transaction each).
    std::vector<double> created;
    const std::string run = HexEncode(AsBytes(RandomBytes(4)));  // new addresses on every run
    for (int k = 0; k < 200; ++k) {
      std::vector<domain::Identifier> ids = {
          {domain::IdentifierKind::Email(), "new" + std::to_string(k) + "." + run + "@bench.example.com", ""}};
      auto t0 = Clock::now();
      Result<identity::Resolution> r = (*reg)->Resolve(ids);
      auto t1 = Clock::now();
      Check(r.status(), "resolve");
      if (r->outcome != identity::Resolution::Outcome::kCreated) Die("resolve did not create a subject");
      created.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
    }
    PrintPercentiles("  Resolve creating a subject", created);
  }

  // Shredding: one subject per call (one durable transaction + WAL
  // checkpoint each), then batches of 100 per call.
  {
    std::vector<Sid> victims;
    {
      std::unique_lock<std::mutex> lock = (*reg)->database().Lock();
      Result<vault::Stmt> q = vault::Stmt::Prepare((*reg)->database().handle(),
                                                   "SELECT sid FROM identity_subjects WHERE state = 0 LIMIT ?");
      Check(q.status(), "victims");
      q->Bind(1, static_cast<int64_t>(2 * args.shred));
      for (;;) {
        Result<bool> row = q->Step();
        Check(row.status(), "victims");
        if (!*row) break;
        victims.push_back(*Sid::FromBytes(AsBytes(q->Blob(0))));
      }
    }
    if (victims.size() < 2 * args.shred) Die("not enough subjects to shred");
    std::vector<double> one;
    auto t0 = Clock::now();
    for (uint64_t k = 0; k < args.shred; ++k) {
      auto a = Clock::now();
      Check((*reg)->Shred(victims[k]).status(), "shred");
      one.push_back(std::chrono::duration<double, std::micro>(Clock::now() - a).count());
    }
    double single_s = Seconds(t0, Clock::now());
    PrintPercentiles("  Shred (one per call)", one);
    std::printf("  shred one per call:     %.0f subjects/s\n", args.shred / single_s);
    auto t1 = Clock::now();
    for (uint64_t k = args.shred; k < 2 * args.shred; k += 100) {
      uint64_t end = std::min<uint64_t>(2 * args.shred, k + 100);
      Check((*reg)->ShredMany(std::span<const Sid>(victims.data() + k, end - k)).status(), "shred many");
    }
    double batch_s = Seconds(t1, Clock::now());
    std::printf("  shred 100 per call:     %.0f subjects/s\n", args.shred / batch_s);
  }
  reg->reset();
  ledger->reset();
  std::printf("data directory after: %.1f MB\n", DirBytes(data_dir) / 1e6);
  if (temp_dir && !args.keep) std::filesystem::remove_all(args.dir);
  return 0;
}

}  // namespace
}  // namespace consentd

int main(int argc, char** argv) { return consentd::Main(argc, argv); }
