#include "src/service/query_cache.h"

#include <cstring>

namespace consentd::service {

namespace {

uint64_t First8(const uint8_t* p, size_t n) {
  uint64_t h = 0;
  if (n >= 8) {
    std::memcpy(&h, p, 8);
    return h;
  }
  h = 1469598103934665603ull;
  for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

}  // namespace

// Blind indexes are keyed hashes: their first bytes are uniform; a sid's
// random bits are its HashBits. The shard takes bits the maps' own hash does
// not use.
size_t QueryCache::BidxHash::operator()(const identity::BlindIndex& b) const { return First8(b.data(), b.size()); }

size_t QueryCache::StateKeyHash::operator()(const StateKey& k) const {
  return k.sid.HashBits() ^ (static_cast<size_t>(k.purpose) * 0x9e3779b97f4a7c15ull);
}

std::optional<uint32_t> QueryCache::Interner::Find(std::string_view s) const {
  const size_t n = size_.load(std::memory_order_acquire);
  for (size_t i = 0; i < n; ++i) {
    if (names_[i] == s) return static_cast<uint32_t>(i);
  }
  return std::nullopt;
}

std::optional<uint32_t> QueryCache::Interner::Intern(std::string_view s) {
  std::lock_guard<std::mutex> l(mu_);
  if (std::optional<uint32_t> id = Find(s)) return id;
  const size_t n = size_.load(std::memory_order_relaxed);
  if (n == kCapacity) return std::nullopt;
  names_[n] = std::string(s);
  size_.store(n + 1, std::memory_order_release);  // publishes names_[n]
  return static_cast<uint32_t>(n);
}

size_t QueryCache::ShardOf(const uint8_t* p, size_t n) { return (First8(p, n) >> 52) % kShards; }

size_t QueryCache::ShardOf(const domain::Sid& sid) { return (sid.HashBits() >> 52) % kShards; }

QueryCache::QueryCache(vault::ChangeWatch* watch, size_t max_entries)
    : watch_(watch),
      max_per_shard_(std::max<size_t>(max_entries / kShards, 1)),
      shards_(std::make_unique<Shard[]>(kShards)) {}

bool QueryCache::Begin() {
  if (watch_ == nullptr) return true;
  switch (watch_->Poll()) {
    case vault::ChangeWatch::PollResult::kQuiet:
      return true;
    case vault::ChangeWatch::PollResult::kBusy:
      bypasses_.fetch_add(1, std::memory_order_relaxed);
      return false;
    case vault::ChangeWatch::PollResult::kForeign:
      Clear();
      bypasses_.fetch_add(1, std::memory_order_relaxed);
      return false;
  }
  return false;
}

uint64_t QueryCache::SubjectVersion(const identity::BlindIndex& bidx) const {
  Shard& s = ShardFor(bidx.data(), bidx.size());
  std::lock_guard<std::mutex> l(s.mu);
  return s.version;
}

uint64_t QueryCache::StateVersion(const domain::Sid& sid) const {
  Shard& s = ShardFor(sid);
  std::lock_guard<std::mutex> l(s.mu);
  return s.version;
}

std::optional<std::optional<domain::Sid>> QueryCache::FindSubject(const identity::BlindIndex& bidx) {
  Shard& s = ShardFor(bidx.data(), bidx.size());
  std::lock_guard<std::mutex> l(s.mu);
  auto it = s.subjects.find(bidx);
  if (it == s.subjects.end()) {
    misses_.fetch_add(1, std::memory_order_relaxed);
    return std::nullopt;
  }
  hits_.fetch_add(1, std::memory_order_relaxed);
  return it->second;
}

void QueryCache::Empty(Shard& s) {
  entries_.fetch_sub(static_cast<int64_t>(EntriesOf(s)), std::memory_order_relaxed);
  s.subjects.clear();
  s.states.clear();
}

void QueryCache::MakeRoom(Shard& s) {
  if (EntriesOf(s) >= max_per_shard_) Empty(s);
}

bool QueryCache::PutSubject(const identity::BlindIndex& bidx, const std::optional<domain::Sid>& sid,
                            uint64_t version) {
  Shard& s = ShardFor(bidx.data(), bidx.size());
  std::lock_guard<std::mutex> l(s.mu);
  if (s.version != version) return false;
  MakeRoom(s);
  auto [it, inserted] = s.subjects.insert_or_assign(bidx, sid);
  (void)it;
  if (inserted) entries_.fetch_add(1, std::memory_order_relaxed);
  return true;
}

std::optional<std::optional<domain::ConsentState>> QueryCache::FindState(const domain::Sid& sid,
                                                                         std::string_view purpose) {
  std::optional<uint32_t> pid = purposes_.Find(purpose);
  if (pid) {
    Shard& s = ShardFor(sid);
    std::unique_lock<std::mutex> l(s.mu);
    auto it = s.states.find(StateKey{sid, *pid});
    if (it != s.states.end()) {
      const CachedState c = it->second;
      l.unlock();
      hits_.fetch_add(1, std::memory_order_relaxed);
      if (!c.has) return std::optional<domain::ConsentState>();
      domain::ConsentState st;
      st.decision = c.decision;
      st.occurred_at_ms = c.occurred_at_ms;
      st.source_system = systems_.Name(c.system);
      st.source_rank = c.rank;
      st.method = c.method;
      st.ledger_seq = c.ledger_seq;
      return std::optional<domain::ConsentState>(std::move(st));
    }
  }
  misses_.fetch_add(1, std::memory_order_relaxed);
  return std::nullopt;
}

bool QueryCache::PutState(const domain::Sid& sid, std::string_view purpose,
                          const std::optional<domain::ConsentState>& state, uint64_t version) {
  std::optional<uint32_t> pid = purposes_.Intern(purpose);
  if (!pid) return false;
  CachedState c;
  if (state) {
    std::optional<uint32_t> system = systems_.Intern(state->source_system);
    if (!system) return false;
    c.has = true;
    c.decision = state->decision;
    c.method = state->method;
    c.system = *system;
    c.rank = state->source_rank;
    c.occurred_at_ms = state->occurred_at_ms;
    c.ledger_seq = state->ledger_seq;
  }
  Shard& s = ShardFor(sid);
  std::lock_guard<std::mutex> l(s.mu);
  if (s.version != version) return false;
  MakeRoom(s);
  auto [it, inserted] = s.states.insert_or_assign(StateKey{sid, *pid}, c);
  (void)it;
  if (inserted) entries_.fetch_add(1, std::memory_order_relaxed);
  return true;
}

QueryCache::Versions QueryCache::AllVersions() const {
  Versions v(kShards);
  for (size_t i = 0; i < kShards; ++i) {
    std::lock_guard<std::mutex> l(shards_[i].mu);
    v[i] = shards_[i].version;
  }
  return v;
}

void QueryCache::Clear() {
  for (size_t i = 0; i < kShards; ++i) {
    Shard& s = shards_[i];
    std::lock_guard<std::mutex> l(s.mu);
    ++s.version;
    Empty(s);
  }
  flushes_.fetch_add(1, std::memory_order_relaxed);
}

void QueryCache::OnCommit(const std::vector<std::string>& keys, bool foreign) {
  if (foreign) {
    Clear();
    return;
  }
  for (const std::string& k : keys) {
    const auto* p = reinterpret_cast<const uint8_t*>(k.data());
    if (k.size() == domain::Sid::kSize) {
      Result<domain::Sid> sid = domain::Sid::FromBytes(ByteView(p, k.size()));
      if (!sid.ok()) continue;
      Shard& s = ShardFor(*sid);
      std::lock_guard<std::mutex> l(s.mu);
      ++s.version;
      // Every purpose ever cached: a handful.
      const size_t purposes = purposes_.size();
      for (uint32_t pid = 0; pid < purposes; ++pid) {
        if (s.states.erase(StateKey{*sid, pid}) > 0) entries_.fetch_sub(1, std::memory_order_relaxed);
      }
      continue;
    }
    // A blind index (or a key of another size, which only bumps a version).
    Shard& s = ShardFor(p, k.size());
    std::lock_guard<std::mutex> l(s.mu);
    ++s.version;
    if (k.size() == std::tuple_size_v<identity::BlindIndex>) {
      identity::BlindIndex b;
      std::memcpy(b.data(), p, b.size());
      if (s.subjects.erase(b) > 0) entries_.fetch_sub(1, std::memory_order_relaxed);
    }
  }
}

QueryCache::Stats QueryCache::stats() const {
  Stats st;
  st.hits = hits_.load(std::memory_order_relaxed);
  st.misses = misses_.load(std::memory_order_relaxed);
  st.bypasses = bypasses_.load(std::memory_order_relaxed);
  st.flushes = flushes_.load(std::memory_order_relaxed);
  const int64_t e = entries_.load(std::memory_order_relaxed);
  st.entries = e > 0 ? static_cast<uint64_t>(e) : 0;
  return st;
}

}  // namespace consentd::service
