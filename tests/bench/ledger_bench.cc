// ledger_bench: the ledger's performance, each figure measured side by side
// with a baseline in the same run on the same machine (docs/benchmarks.md,
// issue 2):
//
//   1. durable appends per second with 1 and 8 concurrent appenders, against
//      plain SQLite inserts of the same entry bytes with the same durability
//      (WAL, synchronous=FULL) and the same batch size;
//   2. full verification (VerifyLedger) in entries per second, against plain
//      SHA-256 over the same bytes in memory (OpenSSL and libsodium);
//   3. inclusion and consistency proof time at --entries entries;
//   4. time from an append to a signed checkpoint covering it, with the
//      Checkpointer at its default cadence.
//
// Every measurement is repeated and reported as the median, because the
// benchmark machine is shared and noisy. Ledger and baseline repetitions
// alternate, so that a slow period hits both.
//
// Usage: ledger_bench [--entries N] [--quick] [--dir DIR] [--reps R]
// Files go to a fresh directory under DIR (default /tmp), removed at the end.
// OpenSSL 3 deprecates SHA256(); src/base/sha256.cc uses it for the same reason.
#define OPENSSL_API_COMPAT 0x10101000L
#include <openssl/sha.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "ledger/checkpointer.h"
#include "ledger/entry.h"
#include "ledger/ledger.h"
#include "ledger/merkle.h"
#include "ledger/note.h"
#include "ledger/verifier.h"
#include "src/base/bytes.h"
#include "src/base/sha256.h"

namespace consentd::ledger {
namespace {

using SteadyClock = std::chrono::steady_clock;

double SecondsSince(SteadyClock::time_point start) {
  return std::chrono::duration<double>(SteadyClock::now() - start).count();
}

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "ledger_bench: %s\n", what.c_str());
  std::exit(1);
}

void Check(const Status& s, const char* what) {
  if (!s.ok()) Die(std::string(what) + ": " + s.ToString());
}

template <typename T>
T Must(Result<T> r, const char* what) {
  if (!r.ok()) Die(std::string(what) + ": " + r.status().ToString());
  return std::move(*r);
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// Nearest-rank percentile, p in (0, 100].
double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(v.size())));
  return v[std::clamp<size_t>(rank, 1, v.size()) - 1];
}

std::string Fmt(const char* fmt, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, v);
  return buf;
}

std::string Rates(const std::vector<double>& v) {
  std::string out;
  for (double x : v) out += (out.empty() ? "" : ", ") + Fmt("%.0f", x);
  return out;
}

struct Args {
  uint64_t entries = 1'000'000;
  bool quick = false;
  std::string dir = "/tmp";
  int reps = 5;
};

Args ParseArgs(int argc, char** argv) {
  Args a;
  bool entries_set = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) Die("missing value after " + arg);
      return argv[++i];
    };
    if (arg == "--entries") {
      a.entries = std::stoull(value());
      entries_set = true;
    } else if (arg == "--quick") {
      a.quick = true;
    } else if (arg == "--dir") {
      a.dir = value();
    } else if (arg == "--reps") {
      a.reps = std::max(1, std::stoi(value()));
    } else if (arg == "--help" || arg == "-h") {
      std::printf("usage: ledger_bench [--entries N] [--quick] [--dir DIR] [--reps R]\n");
      std::exit(0);
    } else {
      Die("unknown argument " + arg + " (try --help)");
    }
  }
  if (a.quick) {
    if (!entries_set) a.entries = 20'000;
    a.reps = std::min(a.reps, 3);
  }
  if (a.entries < 16) Die("--entries must be at least 16");
  return a;
}

// A ~200-byte payload of pseudonyms and codes, different for every call.
std::string Payload(std::mt19937_64& rng) {
  auto hex = [&](int bytes) {
    std::string raw(static_cast<size_t>(bytes), '\0');
    for (char& c : raw) c = static_cast<char>(rng());
    return HexEncode(AsBytes(raw));
  };
  return "{\"sid\":\"" + hex(16) + "\",\"purpose\":\"marketing.email\",\"state\":\"opt_in\",\"source\":\"web-form\"," +
         "\"policy\":\"p-2025-01\",\"request\":\"" + hex(16) + "\",\"controller\":\"c-0001\",\"seen\":\"" +
         hex(8) + "\"}";
}

std::unique_ptr<Ledger> OpenLedger(const std::string& path, const Signer* signer) {
  LedgerOptions o;
  o.path = path;
  o.create_if_missing = true;
  o.origin = "bench.example.com/ledger";
  o.signer = signer;
  return Must(Ledger::Open(o), "open ledger");
}

// ---- Baseline: plain SQLite with the ledger's durability ----

class PlainTable {
 public:
  explicit PlainTable(const std::string& path) {
    if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        nullptr) != SQLITE_OK) {
      Die("open " + path);
    }
    Exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
         "CREATE TABLE IF NOT EXISTS t(seq INTEGER PRIMARY KEY, entry BLOB NOT NULL)");
    if (sqlite3_prepare_v2(db_, "INSERT INTO t(seq, entry) VALUES (?, ?)", -1, &insert_, nullptr) != SQLITE_OK) {
      Die("prepare");
    }
  }
  ~PlainTable() {
    sqlite3_finalize(insert_);
    sqlite3_close(db_);
  }

  // Inserts `entries` in transactions of `batch` rows; returns seconds.
  double Insert(const std::vector<std::string>& entries, size_t batch) {
    auto start = SteadyClock::now();
    for (size_t i = 0; i < entries.size(); i += batch) {
      Exec("BEGIN IMMEDIATE");
      for (size_t j = i; j < std::min(entries.size(), i + batch); ++j) {
        sqlite3_bind_int64(insert_, 1, static_cast<sqlite3_int64>(next_seq_++));
        sqlite3_bind_blob(insert_, 2, entries[j].data(), static_cast<int>(entries[j].size()), SQLITE_STATIC);
        if (sqlite3_step(insert_) != SQLITE_DONE) Die(std::string("insert: ") + sqlite3_errmsg(db_));
        sqlite3_reset(insert_);
      }
      Exec("COMMIT");
    }
    return SecondsSince(start);
  }

 private:
  void Exec(const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
      std::string msg = err ? err : "?";
      sqlite3_free(err);
      Die(std::string(sql) + ": " + msg);
    }
  }

  sqlite3* db_ = nullptr;
  sqlite3_stmt* insert_ = nullptr;
  uint64_t next_seq_ = 0;
};

// ---- Report ----

struct Row {
  std::string what;
  std::string ours;
  std::string baseline;
  std::string ratio;
  std::string target;
  std::string met;
};

std::vector<Row> g_rows;
std::vector<std::string> g_notes;

const char* YesNo(bool b) { return b ? "yes" : "**no**"; }

// ---- 1. Durable appends ----

struct AppendResult {
  double ours = 0;      // median appends/s
  double baseline = 0;  // median rows/s
  double ratio = 0;     // median over rounds of ours/baseline in the same round
  double batch = 0;     // average callers per commit (ledger)
};

// Runs `rounds` rounds of: `threads` appenders doing `per_thread` single-entry
// appends each, then the baseline inserting the same entry bytes in batches
// of the ledger's average batch size of that round. With one appender the
// two alternate operation by operation instead.
AppendResult MeasureAppends(const std::string& dir, int threads, int per_thread, int rounds) {
  std::string tag = std::to_string(threads);
  auto ledger = OpenLedger(dir + "/append" + tag + ".db", nullptr);
  PlainTable plain(dir + "/plain" + tag + ".db");
  std::vector<double> ours, base, batches;
  // Warm-up: create the files' first pages outside the timing.
  {
    std::mt19937_64 rng(1);
    Must(ledger->Append({{"bench.warmup", Payload(rng)}}), "append");
  }
  for (int rep = 0; rep < rounds; ++rep) {
    if (threads == 1) {
      // One appender: ledger and baseline alternate operation by operation,
      // so that both see the same machine. Each baseline insert is the entry
      // the ledger just wrote, in a transaction of its own.
      std::mt19937_64 rng(static_cast<uint64_t>(rep));
      double ledger_secs = 0, plain_secs = 0;
      for (int i = 0; i < per_thread; ++i) {
        std::string payload = Payload(rng);
        auto start = SteadyClock::now();
        std::vector<AppendedEntry> a = Must(ledger->Append({{"consent.recorded", payload}}), "append");
        ledger_secs += SecondsSince(start);
        std::vector<std::string> one = {Must(ledger->ReadEntry(a[0].seq), "read")};
        plain_secs += plain.Insert(one, 1);
      }
      ours.push_back(per_thread / ledger_secs);
      base.push_back(per_thread / plain_secs);
      batches.push_back(1);
      std::fprintf(stderr, "  appends x1 round %d: ledger %.0f/s, plain SQLite %.0f/s (interleaved)\n", rep + 1,
                   ours.back(), base.back());
      continue;
    }
    Ledger::Stats before = ledger->stats();
    uint64_t first = ledger->Size();
    auto start = SteadyClock::now();
    std::vector<std::thread> pool;
    std::atomic<bool> go{false};
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&, t] {
        std::mt19937_64 rng(static_cast<uint64_t>(rep * 100 + t));
        std::vector<std::string> payloads;
        for (int i = 0; i < per_thread; ++i) payloads.push_back(Payload(rng));
        while (!go.load()) std::this_thread::yield();
        for (int i = 0; i < per_thread; ++i) {
          Must(ledger->Append({{"consent.recorded", payloads[static_cast<size_t>(i)]}}), "append");
        }
      });
    }
    start = SteadyClock::now();
    go = true;
    for (std::thread& th : pool) th.join();
    double secs = SecondsSince(start);
    Ledger::Stats after = ledger->stats();
    double n = static_cast<double>(threads) * per_thread;
    ours.push_back(n / secs);
    double batch = static_cast<double>(after.callers - before.callers) /
                   static_cast<double>(std::max<uint64_t>(1, after.commits - before.commits));
    batches.push_back(batch);
    // The same entry bytes, in batches of the ledger's average batch size.
    std::vector<std::string> entries;
    Check(ledger->ScanEntries(first, ledger->Size(),
                              [&](uint64_t, std::string_view e) {
                                entries.emplace_back(e);
                                return Status::Ok();
                              }),
          "scan");
    size_t b = std::max<size_t>(1, static_cast<size_t>(std::lround(batch)));
    base.push_back(static_cast<double>(entries.size()) / plain.Insert(entries, b));
    std::fprintf(stderr, "  appends x%d round %d: ledger %.0f/s (avg batch %.2f), plain SQLite %.0f/s\n", threads,
                 rep + 1, ours.back(), batch, base.back());
  }
  // Each round's ledger and baseline run back to back, so the ratio within a
  // round is the figure least disturbed by other load on a shared machine.
  std::vector<double> ratios;
  for (size_t i = 0; i < ours.size(); ++i) ratios.push_back(ours[i] / base[i]);
  AppendResult r{Median(ours), Median(base), Median(ratios), Median(batches)};
  g_notes.push_back("appends, " + tag + " appender(s): ledger rounds " + Rates(ours) + " /s; baseline rounds " +
                    Rates(base) + " /s; ledger average batch per round " +
                    [&] {
                      std::string s;
                      for (double x : batches) s += (s.empty() ? "" : ", ") + Fmt("%.2f", x);
                      return s;
                    }() + "; median of the per-round ratios " + Fmt("%.0f%%", 100 * r.ratio));
  return r;
}

// ---- 2. Verification ----

struct Corpus {
  std::string bytes;             // all entries back to back
  std::vector<uint64_t> offsets;  // entry i is [offsets[i], offsets[i+1])
  std::string_view at(size_t i) const {
    return std::string_view(bytes).substr(offsets[i], offsets[i + 1] - offsets[i]);
  }
  size_t size() const { return offsets.size() - 1; }
};

void BuildLedger(Ledger& ledger, uint64_t entries) {
  std::mt19937_64 rng(42);
  const size_t kBatch = 10'000;
  auto start = SteadyClock::now();
  while (ledger.Size() < entries) {
    std::vector<NewEntry> batch;
    size_t n = static_cast<size_t>(std::min<uint64_t>(kBatch, entries - ledger.Size()));
    for (size_t i = 0; i < n; ++i) batch.push_back({"consent.recorded", Payload(rng)});
    Must(ledger.Append(std::move(batch)), "bulk append");
    if (ledger.Size() % 100'000 == 0) {
      std::fprintf(stderr, "\r  building: %" PRIu64 "/%" PRIu64, ledger.Size(), entries);
    }
  }
  double secs = SecondsSince(start);
  std::fprintf(stderr, "\r  built %" PRIu64 " entries in %.1f s (%.0f entries/s in batches of %zu)\n", entries, secs,
               static_cast<double>(entries) / secs, kBatch);
  g_notes.push_back("bulk load: " + Fmt("%.0f", static_cast<double>(entries) / secs) +
                    " entries/s (Append calls of 10,000 entries each)");
}

void MeasureVerify(Ledger& ledger, const Signer& signer, int reps) {
  const uint64_t n = ledger.Size();
  VerifyOptions opts;
  opts.keys.push_back(signer.verifier_key());
  std::vector<double> verify_rates;
  std::vector<double> openssl_rates, lowlevel_rates, sodium_rates, scan_rates, parse_rates;

  // The same bytes in memory, for the plain hashing baselines.
  Corpus corpus;
  corpus.offsets.push_back(0);
  Check(ledger.ScanEntries(0, n,
                           [&](uint64_t, std::string_view e) {
                             corpus.bytes.append(e);
                             corpus.offsets.push_back(corpus.bytes.size());
                             return Status::Ok();
                           }),
        "scan corpus");
  const double avg_bytes = static_cast<double>(corpus.bytes.size()) / static_cast<double>(n);

  uint8_t sink = 0;
  for (int rep = 0; rep < reps; ++rep) {
    auto start = SteadyClock::now();
    VerifyReport report = VerifyLedger(ledger, opts);
    double secs = SecondsSince(start);
    if (!report.ok || report.entries != n || report.checkpoints == 0) Die("verify failed: " + report.Summary());
    verify_rates.push_back(static_cast<double>(n) / secs);

    start = SteadyClock::now();
    for (size_t i = 0; i < corpus.size(); ++i) {
      std::string_view e = corpus.at(i);
      uint8_t out[32];
      SHA256(reinterpret_cast<const uint8_t*>(e.data()), e.size(), out);
      sink ^= out[0];
    }
    openssl_rates.push_back(static_cast<double>(n) / SecondsSince(start));

    // OpenSSL 3's one-shot SHA256() fetches the digest (locks, reference
    // counts) on every call; the low-level functions do not.
    start = SteadyClock::now();
    for (size_t i = 0; i < corpus.size(); ++i) {
      std::string_view e = corpus.at(i);
      uint8_t out[32];
      SHA256_CTX ctx;
      SHA256_Init(&ctx);
      SHA256_Update(&ctx, e.data(), e.size());
      SHA256_Final(out, &ctx);
      sink ^= out[0];
    }
    lowlevel_rates.push_back(static_cast<double>(n) / SecondsSince(start));

    start = SteadyClock::now();
    for (size_t i = 0; i < corpus.size(); ++i) {
      std::string_view e = corpus.at(i);
      uint8_t out[32];
      crypto_hash_sha256(out, reinterpret_cast<const uint8_t*>(e.data()), e.size());
      sink ^= out[0];
    }
    sodium_rates.push_back(static_cast<double>(n) / SecondsSince(start));

    // Breakdown of the verifier's work, to say where its time goes.
    start = SteadyClock::now();
    uint64_t bytes = 0;
    Check(ledger.ScanStored(0, UINT64_MAX,
                            [&](uint64_t, std::string_view e, std::string_view h) {
                              bytes += e.size() + h.size();
                              return Status::Ok();
                            }),
          "scan");
    scan_rates.push_back(static_cast<double>(n) / SecondsSince(start));
    start = SteadyClock::now();
    for (size_t i = 0; i < corpus.size(); ++i) {
      Result<EntryView> v = ParseEntry(corpus.at(i));
      if (!v.ok()) Die("parse");
      sink ^= static_cast<uint8_t>(v->seq);
    }
    parse_rates.push_back(static_cast<double>(n) / SecondsSince(start));
    std::fprintf(stderr,
                 "  verify round %d: VerifyLedger %.0f/s, OpenSSL SHA256 %.0f/s, OpenSSL SHA256_Init/Update/Final "
                 "%.0f/s, libsodium %.0f/s, SQLite scan %.0f/s, ParseEntry %.0f/s\n",
                 rep + 1, verify_rates.back(), openssl_rates.back(), lowlevel_rates.back(), sodium_rates.back(),
                 scan_rates.back(), parse_rates.back());
  }
  if (sink == 0x5a) std::fprintf(stderr, " ");  // keeps the hashing loops alive

  double v = Median(verify_rates), o = Median(openssl_rates), ll = Median(lowlevel_rates),
         s = Median(sodium_rates);
  bool openssl_faster = o >= s;
  // The baseline of issue 2: plain one-shot SHA-256, the faster of OpenSSL's
  // and libsodium's. OpenSSL's low-level functions are faster still (the
  // one-shot call fetches the digest every time); reported beside it.
  double best = std::max(o, s);
  std::string n_text = std::to_string(n);
  g_rows.push_back({"full verification (VerifyLedger), entries/s, " + n_text + " entries", Fmt("%.0f", v),
                    Fmt("%.0f", best) + (openssl_faster ? " (OpenSSL SHA256() one-shot)" : " (libsodium one-shot)"),
                    Fmt("%.0f%%", 100 * v / best), "≥ 1,000,000/s and ≥ 40%",
                    YesNo(v >= 1e6 && v >= 0.4 * best)});
  g_rows.push_back({"full verification vs the fastest plain hashing (OpenSSL SHA256_Init/Update/Final), entries/s",
                    Fmt("%.0f", v), Fmt("%.0f", ll), Fmt("%.0f%%", 100 * v / ll), "(≥ 40%)", YesNo(v >= 0.4 * ll)});
  g_rows.push_back({"plain SHA-256 one-shot, entries/s: OpenSSL SHA256() vs libsodium crypto_hash_sha256()",
                    Fmt("%.0f", o), Fmt("%.0f", s), Fmt("%.2fx", o / s),
                    std::string("faster: ") + (openssl_faster ? "OpenSSL" : "libsodium"), "—"});
  g_rows.push_back({"plain SHA-256, entries/s: OpenSSL SHA256_Init/Update/Final vs OpenSSL SHA256() one-shot",
                    Fmt("%.0f", ll), Fmt("%.0f", o), Fmt("%.2fx", ll / o), "—", "—"});
  g_notes.push_back("verification: average entry " + Fmt("%.0f", avg_bytes) + " bytes; VerifyLedger rounds " +
                    Rates(verify_rates) + " /s; OpenSSL rounds " + Rates(openssl_rates) + " /s; OpenSSL low-level rounds " + Rates(lowlevel_rates) + " /s; libsodium rounds " +
                    Rates(sodium_rates) + " /s");
  g_notes.push_back("verifier breakdown (medians): SQLite scan of entries+hashes alone " +
                    Fmt("%.0f", Median(scan_rates)) + " rows/s; ParseEntry alone " + Fmt("%.0f", Median(parse_rates)) +
                    " entries/s; OpenSSL leaf hashing alone " + Fmt("%.0f", o) + " entries/s");
}

// ---- 3. Proofs ----

void MeasureProofs(Ledger& ledger, int count) {
  const uint64_t n = ledger.Size();
  std::mt19937_64 rng(7);
  const Hash root = Must(ledger.RootAt(n), "root");
  std::vector<double> incl, cons;
  for (int i = 0; i < count; ++i) {
    uint64_t index = rng() % n;
    auto start = SteadyClock::now();
    std::vector<Hash> p = Must(ledger.InclusionProof(index, n), "inclusion proof");
    incl.push_back(SecondsSince(start) * 1e6);
    if (i < 20) {  // spot-check that the proofs are right
      Hash leaf = LeafHash(AsBytes(Must(ledger.ReadEntry(index), "read")));
      Check(VerifyInclusion(index, n, leaf, p, root), "inclusion proof does not verify");
    }
  }
  for (int i = 0; i < count; ++i) {
    uint64_t first = 1 + rng() % (n - 1);
    auto start = SteadyClock::now();
    std::vector<Hash> p = Must(ledger.ConsistencyProof(first, n), "consistency proof");
    cons.push_back(SecondsSince(start) * 1e6);
    if (i < 20) {
      Check(VerifyConsistency(first, n, Must(ledger.RootAt(first), "root"), root, p),
            "consistency proof does not verify");
    }
  }
  std::string n_text = std::to_string(n);
  auto row = [&](const char* what, const std::vector<double>& v) {
    double med = Median(v);
    g_rows.push_back({std::string(what) + " at size " + n_text + ", µs: median / p99",
                      Fmt("%.1f", med) + " / " + Fmt("%.1f", Percentile(v, 99)), "—", "—", "median < 1000 µs",
                      YesNo(med < 1000)});
  };
  row("inclusion proof", incl);
  row("consistency proof", cons);
  g_notes.push_back("proofs: " + std::to_string(count) + " random inclusion proofs (index uniform in [0, n)) and " +
                    std::to_string(count) + " random consistency proofs (first uniform in [1, n), second = n)");
}

// ---- 4. Append to signed checkpoint ----

void MeasureCheckpointLatency(const std::string& dir, const Signer& signer, int appends, int max_gap_ms) {
  auto ledger = OpenLedger(dir + "/checkpointed.db", &signer);
  std::mutex mu;
  std::vector<std::pair<uint64_t, SteadyClock::time_point>> signed_at;  // (size, when stored)
  CheckpointerOptions opts;  // default cadence
  opts.on_signed = [&](const StoredCheckpoint& c) {
    auto now = SteadyClock::now();
    std::lock_guard<std::mutex> l(mu);
    signed_at.emplace_back(c.checkpoint.size, now);
  };
  std::vector<std::pair<uint64_t, SteadyClock::time_point>> appended;  // (seq, when durable)
  {
    Checkpointer cp(*ledger, opts);
    std::mt19937_64 rng(11);
    for (int i = 0; i < appends; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(rng() % static_cast<uint64_t>(max_gap_ms + 1)));
      std::vector<AppendedEntry> r = Must(ledger->Append({{"consent.recorded", Payload(rng)}}), "append");
      appended.emplace_back(r[0].seq, SteadyClock::now());
    }
    if (!cp.WaitForSize(ledger->Size(), std::chrono::seconds(10))) Die("no checkpoint covered the last append");
  }
  std::vector<double> lat;
  std::lock_guard<std::mutex> l(mu);
  for (const auto& [seq, t] : appended) {
    auto it = std::find_if(signed_at.begin(), signed_at.end(), [&](const auto& s) { return s.first > seq; });
    if (it == signed_at.end()) Die("append not covered");
    lat.push_back(std::chrono::duration<double, std::milli>(it->second - t).count());
  }
  g_rows.push_back({"append → signed checkpoint covering it (Checkpointer default, min_interval 1 s), ms: median / p95",
                    Fmt("%.1f", Median(lat)) + " / " + Fmt("%.1f", Percentile(lat, 95)), "—", "—",
                    "≤ 1 s by design", YesNo(Percentile(lat, 95) <= 1100)});
  g_notes.push_back("checkpoint latency: " + std::to_string(appends) + " appends, gaps uniform in [0, " +
                    std::to_string(max_gap_ms) + "] ms; " + std::to_string(signed_at.size()) +
                    " checkpoints signed; max " + Fmt("%.1f", *std::max_element(lat.begin(), lat.end())) + " ms");
}

// The 1, 5 and 15 minute load averages, to judge how busy the machine was.
std::string LoadAverage() {
  std::FILE* f = std::fopen("/proc/loadavg", "r");
  if (!f) return "unknown";
  double a = 0, b = 0, c = 0;
  int got = std::fscanf(f, "%lf %lf %lf", &a, &b, &c);
  std::fclose(f);
  if (got != 3) return "unknown";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.2f %.2f %.2f", a, b, c);
  return buf;
}

int Main(int argc, char** argv) {
  Args args = ParseArgs(argc, argv);
  if (sodium_init() < 0) Die("sodium_init");
  std::string tmpl = args.dir + "/ledger_bench.XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (!::mkdtemp(buf.data())) Die("cannot create a directory under " + args.dir);
  const std::string dir(buf.data());
  std::fprintf(stderr, "ledger_bench: files in %s\n", dir.c_str());

  Hash seed = Sha256Of(std::string_view("consentd ledger_bench seed"));
  Signer signer = Must(Signer::FromSeed("bench.example.com/ledger",
                                        std::string_view(reinterpret_cast<const char*>(seed.data()), 32)),
                       "signer");

  // Many short rounds rather than a few long ones: load from other users of
  // the machine comes and goes within seconds.
  const int append_rounds = args.quick ? 3 : 4 * args.reps;
  const int one_thread = args.quick ? 100 : 300;
  const int per_thread = args.quick ? 25 : 150;
  const int proofs = args.quick ? 1000 : 10'000;
  const int cp_appends = args.quick ? 4 : 20;
  const int cp_gap_ms = args.quick ? 400 : 2000;

  auto total_start = SteadyClock::now();
  const std::string load_before = LoadAverage();
  std::fprintf(stderr, "1. durable appends\n");
  AppendResult a1 = MeasureAppends(dir, 1, one_thread, append_rounds);
  AppendResult a8 = MeasureAppends(dir, 8, per_thread, append_rounds);
  // Ratio: the median of the per-round ratios (see MeasureAppends).
  g_rows.push_back({"durable appends/s, 1 appender (1 entry per Append)", Fmt("%.0f", a1.ours),
                    Fmt("%.0f", a1.baseline) + " (1 row per transaction)", Fmt("%.0f%%", 100 * a1.ratio), "≥ 50%",
                    YesNo(a1.ratio >= 0.5)});
  g_rows.push_back({"durable appends/s, 8 appenders (1 entry per Append)", Fmt("%.0f", a8.ours),
                    Fmt("%.0f", a8.baseline) + " (" + Fmt("%.2f", a8.batch) + " rows per transaction)",
                    Fmt("%.0f%%", 100 * a8.ratio), "≥ 50%", YesNo(a8.ratio >= 0.5)});

  std::fprintf(stderr, "2. verification over %" PRIu64 " entries\n", args.entries);
  {
    auto big = OpenLedger(dir + "/big.db", &signer);
    BuildLedger(*big, args.entries);
    Must(big->SignCheckpoint(), "sign");
    MeasureVerify(*big, signer, std::min(args.reps, 3));
    std::fprintf(stderr, "3. proofs\n");
    MeasureProofs(*big, proofs);
  }
  std::fprintf(stderr, "4. append to signed checkpoint\n");
  MeasureCheckpointLatency(dir, signer, cp_appends, cp_gap_ms);

  std::printf("| measurement | consentd ledger | baseline | ratio | target | met |\n");
  std::printf("|---|---:|---:|---:|---|---|\n");
  for (const Row& r : g_rows) {
    std::printf("| %s | %s | %s | %s | %s | %s |\n", r.what.c_str(), r.ours.c_str(), r.baseline.c_str(),
                r.ratio.c_str(), r.target.c_str(), r.met.c_str());
  }
  std::printf("\nMedians of %d rounds for appends (ratio: median of the per-round ratios), %d for verification. "
              "Details:\n", append_rounds, std::min(args.reps, 3));
  for (const std::string& n : g_notes) std::printf("- %s\n", n.c_str());
  std::printf("- total run time %.0f s; load average (1, 5, 15 min) %s at the start, %s at the end; %u CPUs\n",
              SecondsSince(total_start), load_before.c_str(), LoadAverage().c_str(),
              std::thread::hardware_concurrency());

  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  if (ec) std::fprintf(stderr, "ledger_bench: could not remove %s: %s\n", dir.c_str(), ec.message().c_str());
  return 0;
}

}  // namespace
}  // namespace consentd::ledger

int main(int argc, char** argv) { return consentd::ledger::Main(argc, argv); }
