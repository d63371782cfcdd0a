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

// Sids are random and blind indexes keyed hashes: their first bytes are
// uniform. The shard takes bits the maps' own hash does not use.
size_t QueryCache::SidHash::operator()(const domain::Sid& s) const { return First8(s.bytes().data(), 16); }
size_t QueryCache::BidxHash::operator()(const identity::BlindIndex& b) const { return First8(b.data(), b.size()); }

size_t QueryCache::ShardOf(const uint8_t* p, size_t n) { return (First8(p, n) >> 52) % kShards; }

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
  Shard& s = ShardFor(sid.bytes().data(), sid.bytes().size());
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

void QueryCache::MakeRoom(Shard& s) {
  if (s.entries < max_per_shard_) return;
  entries_.fetch_sub(static_cast<int64_t>(s.entries), std::memory_order_relaxed);
  s.subjects.clear();
  s.states.clear();
  s.entries = 0;
}

bool QueryCache::PutSubject(const identity::BlindIndex& bidx, const std::optional<domain::Sid>& sid,
                            uint64_t version) {
  Shard& s = ShardFor(bidx.data(), bidx.size());
  std::lock_guard<std::mutex> l(s.mu);
  if (s.version != version) return false;
  MakeRoom(s);
  auto [it, inserted] = s.subjects.insert_or_assign(bidx, sid);
  (void)it;
  if (inserted) {
    ++s.entries;
    entries_.fetch_add(1, std::memory_order_relaxed);
  }
  return true;
}

std::optional<std::optional<domain::ConsentState>> QueryCache::FindState(const domain::Sid& sid,
                                                                         std::string_view purpose) {
  Shard& s = ShardFor(sid.bytes().data(), sid.bytes().size());
  std::lock_guard<std::mutex> l(s.mu);
  auto it = s.states.find(sid);
  if (it != s.states.end()) {
    for (const auto& [p, st] : it->second) {
      if (p == purpose) {
        hits_.fetch_add(1, std::memory_order_relaxed);
        return st;
      }
    }
  }
  misses_.fetch_add(1, std::memory_order_relaxed);
  return std::nullopt;
}

bool QueryCache::PutState(const domain::Sid& sid, std::string_view purpose,
                          const std::optional<domain::ConsentState>& state, uint64_t version) {
  Shard& s = ShardFor(sid.bytes().data(), sid.bytes().size());
  std::lock_guard<std::mutex> l(s.mu);
  if (s.version != version) return false;
  MakeRoom(s);
  PurposeStates& ps = s.states[sid];
  for (auto& [p, st] : ps) {
    if (p == purpose) {
      st = state;
      return true;
    }
  }
  ps.emplace_back(std::string(purpose), state);
  ++s.entries;
  entries_.fetch_add(1, std::memory_order_relaxed);
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
    entries_.fetch_sub(static_cast<int64_t>(s.entries), std::memory_order_relaxed);
    s.subjects.clear();
    s.states.clear();
    s.entries = 0;
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
    Shard& s = ShardFor(p, k.size());
    std::lock_guard<std::mutex> l(s.mu);
    ++s.version;
    if (k.size() == std::tuple_size_v<identity::BlindIndex>) {
      identity::BlindIndex b;
      std::memcpy(b.data(), p, b.size());
      if (s.subjects.erase(b) > 0) {
        --s.entries;
        entries_.fetch_sub(1, std::memory_order_relaxed);
      }
    }
    if (k.size() == domain::Sid::kSize) {
      Result<domain::Sid> sid = domain::Sid::FromBytes(ByteView(p, k.size()));
      if (!sid.ok()) continue;
      auto it = s.states.find(*sid);
      if (it != s.states.end()) {
        s.entries -= it->second.size();
        entries_.fetch_sub(static_cast<int64_t>(it->second.size()), std::memory_order_relaxed);
        s.states.erase(it);
      }
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
