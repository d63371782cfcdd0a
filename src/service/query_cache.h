// QueryCache: the consent query index in memory. It remembers, for the
// GET /v1/consents path, the answers of its two database reads: which
// subject a blind index belongs to (identity_identifiers), and a subject's
// consent state per purpose (consent_state). A hit answers a query without
// touching SQLite (docs/api.md "Query index"; docs/benchmarks.md).
//
// It never serves a row older than the last acknowledged write:
//  - Writes of this process: vault::ChangeWatch reports, after each COMMIT
//    and before the ledger acknowledges it, the key values of every changed
//    row of identity_identifiers (bidx, root_sid), identity_aliases (sid,
//    surviving_sid) and consent_state (sid). OnCommit erases the entries of
//    those keys and bumps the version of their shards.
//  - A fill races with writes: the reader takes the shard's version BEFORE
//    it reads the database and the entry is stored only if the version is
//    unchanged (a write committed after the read's snapshot bumps it after
//    its COMMIT, so either the fill is refused or the erase follows it).
//  - Writes of other processes: Begin() polls the ChangeWatch; on a foreign
//    commit everything is dropped (and the versions bumped), and while this
//    process is between its COMMIT and its report the cache is not used.
//  - A subject with merged subjects is never cached (its state is read
//    across identity_aliases); merging into a cached subject changes
//    identity_aliases under its sid, which erases it. A lookup that probes
//    more than one blind-index key (a rotation in progress) is not cached.
// The answer itself (allowed, default) is computed from the cached state
// with the current policy on every query, so policy reloads need nothing.
//
// Memory is bounded: max_entries in all; a shard over its share is emptied.
//
// Tables: Abseil's flat_hash_map (open addressing, entries stored inline),
// so that a lookup costs one or two cache misses instead of the three or
// four of std::unordered_map's nodes (docs/benchmarks.md).
//
// Thread-safety: thread-safe. 4096 shards, each under its own mutex.
#ifndef CONSENTD_SERVICE_QUERY_CACHE_H_
#define CONSENTD_SERVICE_QUERY_CACHE_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <absl/container/flat_hash_map.h>

#include "src/domain/consent.h"
#include "src/domain/sid.h"
#include "src/identity/blind_index.h"
#include "src/vault/change_watch.h"

namespace consentd::service {

class QueryCache final : public vault::ChangeWatch::Listener {
 public:
  static constexpr size_t kShards = 4096;

  // `watch` may be null (tests of the maps alone): then only this
  // process's reported commits invalidate, and Begin() is always usable.
  QueryCache(vault::ChangeWatch* watch, size_t max_entries);
  QueryCache(const QueryCache&) = delete;
  QueryCache& operator=(const QueryCache&) = delete;

  // Called by a reader before it uses the cache. False: answer from the
  // database and do not fill (this process is committing, or another
  // process committed and everything was just dropped).
  bool Begin();

  // A shard's version, to take BEFORE reading the database for a fill.
  uint64_t SubjectVersion(const identity::BlindIndex& bidx) const;
  uint64_t StateVersion(const domain::Sid& sid) const;

  // nullopt: not cached. Otherwise the subject (or none) the blind index
  // belongs to.
  std::optional<std::optional<domain::Sid>> FindSubject(const identity::BlindIndex& bidx);
  // Stores what the database said, unless the shard's version moved past
  // `version` (then false, nothing stored).
  bool PutSubject(const identity::BlindIndex& bidx, const std::optional<domain::Sid>& sid, uint64_t version);

  // nullopt: not cached. Otherwise the subject's state for `purpose` (or
  // none recorded).
  std::optional<std::optional<domain::ConsentState>> FindState(const domain::Sid& sid, std::string_view purpose);
  bool PutState(const domain::Sid& sid, std::string_view purpose, const std::optional<domain::ConsentState>& state,
                uint64_t version);

  // Every shard's version at once, for a fill from a long scan (take it
  // before the scan begins), and the Put* that compare against it.
  using Versions = std::vector<uint64_t>;
  Versions AllVersions() const;
  bool PutSubject(const identity::BlindIndex& bidx, const std::optional<domain::Sid>& sid, const Versions& v) {
    return PutSubject(bidx, sid, v[ShardOf(bidx.data(), bidx.size())]);
  }
  bool PutState(const domain::Sid& sid, std::string_view purpose, const std::optional<domain::ConsentState>& state,
                const Versions& v) {
    return PutState(sid, purpose, state, v[ShardOf(sid)]);
  }

  // Drops everything.
  void Clear();

  struct Stats {
    uint64_t hits = 0;        // Find* calls answered
    uint64_t misses = 0;      // Find* calls not answered
    uint64_t bypasses = 0;    // Begin() false
    uint64_t flushes = 0;     // everything dropped (foreign writes)
    uint64_t entries = 0;     // subject + state entries now
  };
  Stats stats() const;

  // vault::ChangeWatch::Listener.
  void OnCommit(const std::vector<std::string>& keys, bool foreign) override;

 private:
  struct BidxHash {
    size_t operator()(const identity::BlindIndex& b) const;
  };
  // Few distinct strings (purposes, source systems), each given a number
  // once for the process's life: entries hold numbers, not strings, so a
  // lookup touches one node. Lock-free reads; Find() fails when full.
  class Interner {
   public:
    static constexpr size_t kCapacity = 1024;
    std::optional<uint32_t> Find(std::string_view s) const;
    std::optional<uint32_t> Intern(std::string_view s);
    const std::string& Name(uint32_t id) const { return names_[id]; }
    size_t size() const { return size_.load(std::memory_order_acquire); }

   private:
    std::mutex mu_;  // serializes Intern
    std::atomic<size_t> size_{0};
    std::array<std::string, kCapacity> names_;
  };
  struct StateKey {
    domain::Sid sid;
    uint32_t purpose = 0;
    bool operator==(const StateKey&) const = default;
  };
  struct StateKeyHash {
    size_t operator()(const StateKey& k) const;
  };
  struct CachedState {  // a domain::ConsentState, compact; has == false: none recorded
    bool has = false;
    domain::Decision decision = domain::Decision::kWithdrawn;
    domain::ConsentMethod method = domain::ConsentMethod::kApi;
    uint32_t system = 0;
    int32_t rank = 0;
    int64_t occurred_at_ms = 0;
    uint64_t ledger_seq = 0;
  };
  struct Shard {
    mutable std::mutex mu;
    uint64_t version = 0;  // guarded by mu
    absl::flat_hash_map<identity::BlindIndex, std::optional<domain::Sid>, BidxHash> subjects;
    absl::flat_hash_map<StateKey, CachedState, StateKeyHash> states;
  };
  static size_t ShardOf(const uint8_t* p, size_t n);  // of a blind index
  static size_t ShardOf(const domain::Sid& sid);
  Shard& ShardFor(const uint8_t* p, size_t n) const { return shards_[ShardOf(p, n)]; }
  Shard& ShardFor(const domain::Sid& sid) const { return shards_[ShardOf(sid)]; }
  // Empties `s` when it holds its share. REQUIRES: s.mu held.
  void MakeRoom(Shard& s);
  // Empties `s`. REQUIRES: s.mu held.
  void Empty(Shard& s);
  static size_t EntriesOf(const Shard& s) { return s.subjects.size() + s.states.size(); }

  vault::ChangeWatch* const watch_;
  const size_t max_per_shard_;
  std::unique_ptr<Shard[]> shards_;
  Interner purposes_;
  Interner systems_;
  std::atomic<uint64_t> hits_{0}, misses_{0}, bypasses_{0}, flushes_{0};
  std::atomic<int64_t> entries_{0};
};

}  // namespace consentd::service

#endif  // CONSENTD_SERVICE_QUERY_CACHE_H_
