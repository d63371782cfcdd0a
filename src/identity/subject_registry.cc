#include "src/identity/subject_registry.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <set>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "ledger/format.h"
#include "src/base/bytes.h"
#include "src/base/run_parts.h"
#include "src/identity/email.h"
#include "src/identity/normalizer.h"
#include "src/vault/cipher.h"

namespace consentd::identity {
namespace {

using domain::IdentifierKind;
using domain::NormalizedIdentifier;
using domain::Sid;
using vault::Stmt;

constexpr std::string_view kRule = "resolver/v1";
constexpr std::string_view kConcurrentChange = "identity: concurrent change of the same identifiers";

std::string Quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

// Payload builders. Every string written here is a sid in hex, a kind name
// ([a-z0-9_:.-]), a review id (hex) or a fixed reason token: nothing needs
// JSON escaping and nothing is personal data.
// A new subject and the identifiers linked to it in the same transaction,
// right after its creation, are one entry: their kinds, in link order, are
// in its "kinds" (no subject.linked entry each). A third of an import's
// entries were these links (docs/benchmarks.md, "Import (seventh session)").
std::string CreatedPayload(const Sid& sid, const std::vector<std::string>& kinds = {}) {
  std::string p = "{\"sid\":" + Quoted(sid.ToHex());
  if (!kinds.empty()) {
    p += ",\"kinds\":[";
    for (size_t i = 0; i < kinds.size(); ++i) p += (i ? "," : "") + Quoted(kinds[i]);
    p += "]";
  }
  return p + "}";
}
// An import's new subjects: up to kSubjectsPerCreatedEntry of them in one
// subjects.created entry, {"subjects":[<CreatedPayload>,...]}, kept under
// kCreatedGroupBytes. Each entry costs a row, a leaf hash, its Merkle nodes
// and about 250 bytes of framing (seq, time, prev hash) written twice by the
// WAL; half of an import's entries were subject.created (docs/benchmarks.md,
// "Import (eighth session)").
constexpr size_t kSubjectsPerCreatedEntry = 256;
constexpr size_t kCreatedGroupBytes = 16 * 1024;
static_assert(kCreatedGroupBytes < ledger::kMaxEntryBytes / 2);
std::string LinkedPayload(const Sid& sid, const std::string& kind) {
  return "{\"sid\":" + Quoted(sid.ToHex()) + ",\"kind\":" + Quoted(kind) + "}";
}
std::string MergedPayload(const Sid& survivor, const Sid& merged, std::string_view reason,
                          std::string_view review_id = "") {
  std::string p = "{\"sid\":" + Quoted(survivor.ToHex()) + ",\"merged_sid\":" + Quoted(merged.ToHex()) +
                  ",\"reason\":" + Quoted(reason);
  if (!review_id.empty()) p += ",\"review\":" + Quoted(review_id);
  return p + ",\"rule\":" + Quoted(kRule) + "}";
}
std::string QueuedPayload(const std::string& id, const Sid& a, const Sid& b, std::string_view reason) {
  return "{\"review\":" + Quoted(id) + ",\"sids\":[" + Quoted(a.ToHex()) + "," + Quoted(b.ToHex()) +
         "],\"reason\":" + Quoted(reason) + ",\"rule\":" + Quoted(kRule) + "}";
}
std::string ShreddedPayload(const Sid& sid, const Sid& root) {
  return "{\"sid\":" + Quoted(sid.ToHex()) + ",\"root\":" + Quoted(root.ToHex()) + "}";
}

Result<Sid> SidFromColumn(const std::string& blob) {
  Result<Sid> sid = Sid::FromBytes(AsBytes(blob));
  if (!sid.ok()) return Status::Corruption("identity tables hold a malformed sid");
  return sid;
}

ByteView BytesOf(const BlindIndex& b) { return ByteView(b.data(), b.size()); }

// Blind indexes are keyed hashes, uniform: their first 8 bytes hash them.
struct BlindIndexHash {
  size_t operator()(const BlindIndex& b) const {
    uint64_t h;
    std::memcpy(&h, b.data(), sizeof(h));
    return static_cast<size_t>(h);
  }
};

Status RunWithSid(sqlite3* db, const char* sql, const Sid& sid) {
  Result<Stmt> stmt = Stmt::Prepare(db, sql);
  if (!stmt.ok()) return stmt.status();
  stmt->Bind(1, sid.bytes());
  return stmt->Run();
}

// Inside a hook: makes `merged` (a root) an alias of `survivor` (a root).
Status ApplyMerge(sqlite3* db, const Sid& merged, const Sid& survivor, int64_t now) {
  const char* kRepoint[] = {
      "UPDATE identity_identifiers SET root_sid = ?1 WHERE root_sid = ?2",
      "UPDATE identity_aliases SET surviving_sid = ?1 WHERE surviving_sid = ?2",
  };
  for (const char* sql : kRepoint) {
    Result<Stmt> stmt = Stmt::Prepare(db, sql);
    if (!stmt.ok()) return stmt.status();
    stmt->Bind(1, survivor.bytes()).Bind(2, merged.bytes());
    Status s = stmt->Run();
    if (!s.ok()) return s;
  }
  Result<Stmt> alias =
      Stmt::Prepare(db, "INSERT INTO identity_aliases(sid, surviving_sid, merged_ms) VALUES(?, ?, ?)");
  if (!alias.ok()) return alias.status();
  alias->Bind(1, merged.bytes()).Bind(2, survivor.bytes()).Bind(3, now);
  Status s = alias->Run();
  if (!s.ok()) return s;
  return RunWithSid(db, "UPDATE identity_subjects SET state = 1 WHERE sid = ?", merged);
}

// Inside a hook: kUnavailable(kConcurrentChange) unless `sid` is active.
Status ExpectActive(sqlite3* db, const Sid& sid) {
  Result<Stmt> stmt = Stmt::Prepare(db, "SELECT state FROM identity_subjects WHERE sid = ?");
  if (!stmt.ok()) return stmt.status();
  stmt->Bind(1, sid.bytes());
  Result<bool> row = stmt->Step();
  if (!row.ok()) return row.status();
  if (!*row || stmt->Int(0) != static_cast<int64_t>(SubjectState::kActive)) {
    return Status::Unavailable(std::string(kConcurrentChange));
  }
  return Status::Ok();
}

}  // namespace

struct SubjectRegistry::Plan {
  struct Link {
    Sid root;  // also the owner: new links are sealed under the root's key
    std::string kind;
    std::string qualifier;
    KeyedBlindIndex bidx;
    std::optional<KeyedBlindIndex> base;
    std::string sealed;
  };
  struct Merge {
    Sid merged, survivor;
  };
  struct NewReview {
    std::string id;
    Sid a, b;
    std::string reason;
  };
  std::vector<ledger::NewEntry> entries;
  std::vector<vault::NewSubjectKey> new_subjects;
  std::vector<Merge> merges;
  std::vector<Link> links;
  std::vector<NewReview> reviews;
  std::vector<std::pair<BlindIndex, std::optional<Sid>>> expect_lookup;
  std::vector<Sid> expect_active;
};

SubjectRegistry::SubjectRegistry(SubjectRegistryOptions options, std::unique_ptr<vault::Database> db)
    : rules_(std::move(options.rules)),
      writer_(*options.writer),
      clock_(options.clock != nullptr ? *options.clock : SystemClock::Get()),
      sid_generator_(options.sid_generator ? std::move(options.sid_generator)
                                           : domain::SidGenerator([&c = clock_] { return Sid::TimeOrdered(c.NowMillis()); })),
      indexer_(std::move(options.blind_index_keys)),
      db_(std::move(db)),
      vault_(std::make_unique<vault::Vault>(*db_, std::move(options.kek))) {}

SubjectRegistry::~SubjectRegistry() = default;

Result<std::unique_ptr<SubjectRegistry>> SubjectRegistry::Open(SubjectRegistryOptions options) {
  if (options.writer == nullptr) return Status::InvalidArgument("subject registry needs a ledger writer");
  if (options.kek.empty()) return Status::InvalidArgument("subject registry needs a key-encryption key");
  if (options.blind_index_keys.empty()) return Status::InvalidArgument("subject registry needs a blind-index key");
  Status s = options.writer->Write({}, [](sqlite3* db, std::span<const ledger::AppendedEntry>) {
    return EnsureSchema(db);
  });
  if (!s.ok()) return s.WithContext("create identity tables");
  Result<std::unique_ptr<vault::Database>> db = vault::Database::Open(options.database_path);
  if (!db.ok()) return db.status();
  return std::unique_ptr<SubjectRegistry>(new SubjectRegistry(std::move(options), std::move(*db)));
}

Result<std::unique_ptr<SubjectRegistry>> SubjectRegistry::Open(const std::string& database_path,
                                                               vault::LedgerWriter& writer,
                                                               const vault::KeyDirectory& keys,
                                                               const domain::IdentityRules& rules,
                                                               const Clock* clock) {
  Result<vault::KeyRing> kek = keys.LoadOrCreate(vault::KeyDirectory::kKek);
  if (!kek.ok()) return kek.status();
  Result<vault::KeyRing> bidx = keys.LoadOrCreate(vault::KeyDirectory::kBlindIndex);
  if (!bidx.ok()) return bidx.status();
  SubjectRegistryOptions options;
  options.database_path = database_path;
  options.writer = &writer;
  options.kek = std::move(*kek);
  options.blind_index_keys = std::move(*bidx);
  options.rules = rules;
  options.clock = clock;
  return Open(std::move(options));
}

Result<std::optional<Sid>> SubjectRegistry::LookupRoot(const NormalizedIdentifier& id,
                                                       std::vector<BlindIndex>* probed) const {
  std::vector<KeyedBlindIndex> candidates = indexer_.All(id);
  std::unique_lock<std::mutex> lock = db_->Lock();
  return LookupRootLocked(candidates, probed);
}

Result<std::optional<Sid>> SubjectRegistry::RootOfLocked(const BlindIndex& bidx) const {
  Result<Stmt> stmt = db_->Cached("SELECT root_sid FROM identity_identifiers WHERE bidx = ?");
  if (!stmt.ok()) return stmt.status();
  stmt->Bind(1, BytesOf(bidx));
  Result<bool> row = stmt->Step();
  if (!row.ok()) return row.status();
  std::optional<std::string> root;
  if (*row) root = stmt->Blob(0);
  // Reset before returning: a cached statement left on its row keeps its
  // read transaction (and the WAL it pins) open until next used.
  stmt->Reset();
  if (!root) return std::optional<Sid>();
  Result<Sid> sid = SidFromColumn(*root);
  if (!sid.ok()) return sid.status();
  return std::optional<Sid>(*sid);
}

Result<std::optional<Sid>> SubjectRegistry::LookupRootLocked(std::span<const KeyedBlindIndex> candidates,
                                                             std::vector<BlindIndex>* probed) const {
  for (const KeyedBlindIndex& k : candidates) {
    if (probed != nullptr) probed->push_back(k.bidx);
    Result<std::optional<Sid>> root = RootOfLocked(k.bidx);
    if (!root.ok() || *root) return root;
  }
  return std::optional<Sid>();
}

Result<std::vector<Sid>> SubjectRegistry::PlusTagRootsLocked(const NormalizedIdentifier& email) const {
  std::vector<Sid> roots;
  // Rows that carry the base's blind index: addresses with a +tag (and, in
  // files written before plain addresses stopped carrying it, every email).
  Result<Stmt> stmt = db_->Cached("SELECT DISTINCT root_sid FROM identity_identifiers WHERE base_bidx = ?");
  if (!stmt.ok()) return stmt.status();
  for (const KeyedBlindIndex& k : indexer_.AllOf(EmailBaseInput(email.value))) {
    stmt->Bind(1, BytesOf(k.bidx));
    for (;;) {
      Result<bool> row = stmt->Step();
      if (!row.ok()) {
        stmt->Reset();
        return row.status();
      }
      if (!*row) break;
      Result<Sid> sid = SidFromColumn(stmt->Blob(0));
      if (!sid.ok()) {
        stmt->Reset();
        return sid.status();
      }
      roots.push_back(*sid);
    }
    stmt->Reset();
  }
  // The base address itself, by its own blind index. (For an address
  // without a +tag that is the address: its own row, if any, which the
  // callers already hold as their match.)
  std::optional<std::string> base = EmailWithoutPlusTag(email.value);
  if (base) {
    NormalizedIdentifier plain{email.kind, email.qualifier, std::move(*base)};
    Result<std::optional<Sid>> root = LookupRootLocked(indexer_.All(plain), nullptr);
    if (!root.ok()) return root.status();
    if (*root) roots.push_back(**root);
  }
  return roots;
}

Result<std::vector<BlindIndex>> SubjectRegistry::ProbesOf(const domain::Identifier& identifier) const {
  Result<NormalizedIdentifier> id = Normalize(identifier, rules_);
  if (!id.ok()) return id.status();
  std::vector<BlindIndex> probes;
  for (const KeyedBlindIndex& k : indexer_.All(*id)) probes.push_back(k.bidx);
  return probes;
}

Result<std::optional<Sid>> SubjectRegistry::LookupProbes(std::span<const BlindIndex> probes) const {
  std::unique_lock<std::mutex> lock = db_->Lock();
  for (const BlindIndex& b : probes) {
    Result<std::optional<Sid>> root = RootOfLocked(b);
    if (!root.ok() || *root) return root;
  }
  return std::optional<Sid>();
}

Status SubjectRegistry::ScanRoots(const std::function<bool(const BlindIndex&, const Sid&)>& fn) const {
  if (indexer_.keys().keys().size() != 1) {
    return Status::FailedPrecondition("a blind-index rotation is in progress");
  }
  std::unique_lock<std::mutex> lock = db_->Lock();
  vault::ReadTransaction txn(db_->handle());
  Result<Stmt> q = Stmt::Prepare(db_->handle(), "SELECT bidx, root_sid FROM identity_identifiers");
  if (!q.ok()) return q.status();
  while (true) {
    Result<bool> row = q->Step();
    if (!row.ok()) return row.status();
    if (!*row) return Status::Ok();
    const std::string b = q->Blob(0);
    Result<Sid> sid = SidFromColumn(q->Blob(1));
    if (!sid.ok() || b.size() != std::tuple_size_v<BlindIndex>) return Status::Corruption("identity_identifiers: bad row");
    BlindIndex bidx;
    std::memcpy(bidx.data(), b.data(), bidx.size());
    if (!fn(bidx, *sid)) return Status::Ok();
  }
}

Result<std::optional<Sid>> SubjectRegistry::Lookup(const domain::Identifier& identifier) const {
  Result<NormalizedIdentifier> id = Normalize(identifier, rules_);
  if (!id.ok()) return id.status();
  return LookupRoot(*id, nullptr);
}

void SubjectRegistry::LookupMany(std::span<const domain::Identifier> identifiers,
                                 std::vector<Result<std::optional<Sid>>>* out, size_t parts) const {
  out->assign(identifiers.size(), Result<std::optional<Sid>>(std::optional<Sid>()));
  // Below this many identifiers a step runs as one part: starting a thread
  // costs more than it saves.
  constexpr size_t kMinPerPart = 256;
  parts = identifiers.size() < 2 * kMinPerPart ? 1 : std::min<size_t>(std::max<size_t>(parts, 1), 2);
  struct Probe {
    BlindIndex bidx;
    size_t id;
    size_t rank;  // candidate order: the first key that matches wins, as in LookupRoot
  };
  // 1. Blind indexes, each part a range of the identifiers (each writes
  // only its identifiers' slots of *out).
  std::vector<std::vector<Probe>> part_probes(parts);
  RunParts(parts, [&](size_t k) {
    auto [b, e] = PartRange(identifiers.size(), parts, k);
    std::vector<Probe>& mine = part_probes[k];
    mine.reserve(e - b);
    for (size_t i = b; i < e; ++i) {
      Result<NormalizedIdentifier> id = Normalize(identifiers[i], rules_);
      if (!id.ok()) {
        (*out)[i] = id.status();
        continue;
      }
      std::vector<KeyedBlindIndex> candidates = indexer_.All(*id);
      for (size_t r = 0; r < candidates.size(); ++r) mine.push_back({candidates[r].bidx, i, r});
    }
  });
  std::vector<Probe> probes;
  probes.reserve(identifiers.size());
  for (const std::vector<Probe>& part : part_probes) probes.insert(probes.end(), part.begin(), part.end());
  std::sort(probes.begin(), probes.end(), [](const Probe& a, const Probe& b) { return a.bidx < b.bidx; });
  // 2. The probes in key order, each part a range of keys on its own read
  // connection in one read transaction: the parts walk disjoint parts of
  // the B-tree, so no page is read twice. found[j] is probe j's row.
  std::vector<Result<std::optional<Sid>>> found(probes.size(), Result<std::optional<Sid>>(std::optional<Sid>()));
  RunParts(parts, [&](size_t k) {
    auto [b, e] = PartRange(probes.size(), parts, k);
    if (b == e) return;
    std::unique_lock<std::mutex> lock = db_->Lock();
    vault::ReadTransaction snapshot(db_->handle());
    Result<Stmt> stmt = db_->Cached("SELECT root_sid FROM identity_identifiers WHERE bidx = ?");
    for (size_t j = b; j < e; ++j) {
      if (!stmt.ok()) {
        found[j] = stmt.status();
        continue;
      }
      stmt->Bind(1, BytesOf(probes[j].bidx));
      Result<bool> row = stmt->Step();
      if (!row.ok()) {
        found[j] = row.status();
      } else if (*row) {
        Result<Sid> sid = SidFromColumn(stmt->Blob(0));
        if (sid.ok()) {
          found[j] = std::optional<Sid>(*sid);
        } else {
          found[j] = sid.status();
        }
      }
      stmt->Reset();
    }
  });
  // 3. Per identifier: a probe's error, else the subject under the first
  // key that matched.
  std::vector<size_t> best(identifiers.size(), SIZE_MAX);
  for (size_t j = 0; j < probes.size(); ++j) {
    const Probe& p = probes[j];
    Result<std::optional<Sid>>& o = (*out)[p.id];
    if (!o.ok()) continue;
    if (!found[j].ok()) {
      o = found[j].status();
    } else if (*found[j] && p.rank < best[p.id]) {
      o = *found[j];
      best[p.id] = p.rank;
    }
  }
}

Result<std::optional<Sid>> SubjectRegistry::LookupNormalized(const NormalizedIdentifier& identifier) const {
  return LookupRoot(identifier, nullptr);
}

Result<SubjectInfo> SubjectRegistry::Subject(const Sid& sid) const {
  std::unique_lock<std::mutex> lock = db_->Lock();
  SubjectInfo info;
  info.sid = sid;
  info.resolves_to = sid;
  {
    Result<Stmt> stmt = db_->Cached("SELECT state, created_ms FROM identity_subjects WHERE sid = ?");
    if (!stmt.ok()) return stmt.status();
    stmt->Bind(1, sid.bytes());
    Result<bool> row = stmt->Step();
    if (!row.ok()) return row.status();
    if (!*row) return Status::NotFound("unknown subject " + sid.ToHex());
    info.state = static_cast<SubjectState>(stmt->Int(0));
    info.created_millis = stmt->Int(1);
  }
  Result<Stmt> alias = db_->Cached("SELECT surviving_sid FROM identity_aliases WHERE sid = ?");
  if (!alias.ok()) return alias.status();
  alias->Bind(1, sid.bytes());
  Result<bool> row = alias->Step();
  if (!row.ok()) return row.status();
  if (*row) {
    Result<Sid> survivor = SidFromColumn(alias->Blob(0));
    if (!survivor.ok()) return survivor.status();
    info.resolves_to = *survivor;
  }
  return info;
}

Result<std::vector<Sid>> SubjectRegistry::GroupOf(const Sid& root) const {
  std::vector<Sid> group = {root};
  std::unique_lock<std::mutex> lock = db_->Lock();
  Result<Stmt> stmt = db_->Cached("SELECT sid FROM identity_aliases WHERE surviving_sid = ? ORDER BY sid");
  if (!stmt.ok()) return stmt.status();
  stmt->Bind(1, root.bytes());
  for (;;) {
    Result<bool> row = stmt->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    Result<Sid> sid = SidFromColumn(stmt->Blob(0));
    if (!sid.ok()) return sid.status();
    group.push_back(*sid);
  }
  return group;
}

Result<std::vector<NormalizedIdentifier>> SubjectRegistry::NormalizeSet(
    std::span<const domain::Identifier> identifiers) const {
  if (identifiers.empty()) return Status::InvalidArgument("resolve needs at least one identifier");
  std::vector<NormalizedIdentifier> ids;
  std::set<std::string> seen;
  for (size_t i = 0; i < identifiers.size(); ++i) {
    Result<NormalizedIdentifier> id = Normalize(identifiers[i], rules_);
    if (!id.ok()) return id.status().WithContext("identifier " + std::to_string(i));
    if (seen.insert(id->BlindIndexInput()).second) ids.push_back(std::move(*id));
  }
  if (guard_) {
    Status g = guard_(ids, /*record=*/true);
    if (!g.ok()) return g;
  }
  return ids;
}

Result<Resolution> SubjectRegistry::Resolve(std::span<const domain::Identifier> identifiers,
                                            const ResolveOptions& options) {
  Result<std::vector<NormalizedIdentifier>> ids = NormalizeSet(identifiers);
  if (!ids.ok()) return ids.status();
  std::lock_guard<std::mutex> write_lock(write_mutex_);
  for (int attempt = 0;; ++attempt) {
    Result<Resolution> r = ResolveOnce(*ids, options);
    if (r.ok() || attempt == 4 || r.status().message() != kConcurrentChange) return r;
  }
}

Result<Resolution> SubjectRegistry::ResolveAndWrite(std::span<const domain::Identifier> identifiers,
                                                    const ResolveContinuation& then) {
  Result<std::vector<NormalizedIdentifier>> ids = NormalizeSet(identifiers);
  if (!ids.ok()) return ids.status();
  using O = Resolution::Outcome;
  for (int attempt = 0;; ++attempt) {
    Plan plan;
    const int64_t now = clock_.NowMillis();
    // Planning reads under the write lock (as Resolve), so that in-process
    // callers rarely plan against each other; the commit re-validates.
    std::unique_lock<std::mutex> write_lock(write_mutex_);
    Result<Resolution> r = PlanResolution(*ids, ResolveOptions(), &plan, now);
    if (!r.ok()) return r;
    const bool simple = (r->outcome == O::kCreated || r->outcome == O::kExisting) && plan.merges.empty() &&
                        plan.reviews.empty();
    Status s = Status::Ok();
    if (r->outcome == O::kCreated) {
      for (const vault::NewSubjectKey& k : plan.new_subjects) {
        if (k.sid == r->sid) r->created_key = k.key;
      }
    }
    if (simple) {
      // Only the commit's own validation guards what was planned from here:
      // release the lock so that concurrent callers meet in a group commit.
      write_lock.unlock();
      Result<ResolveExtra> extra = then(*r);
      if (!extra.ok()) return extra.status();
      const size_t own = plan.entries.size();
      std::vector<ledger::NewEntry> entries = std::move(plan.entries);
      for (ledger::NewEntry& e : extra->entries) entries.push_back(std::move(e));
      if (entries.empty() && !extra->hook) return r;  // an existing subject and nothing to add
      ledger::WriteHook hook = std::move(extra->hook);
      s = writer_.Write(std::move(entries),
                        [&plan, &hook, own, now](sqlite3* db, std::span<const ledger::AppendedEntry> appended) {
                          Status ws = WritePlan(db, plan, now);
                          if (!ws.ok() || !hook) return ws;
                          return hook(db, appended.subspan(own));
                        });
      if (s.ok()) return r;
      if (attempt == 4 || s.message() != kConcurrentChange) return s;
      continue;
    }
    // Merges and reviews: written as Resolve writes them (under the lock),
    // then the caller's extra in a transaction of its own.
    if (!plan.entries.empty()) {
      s = writer_.Write(std::move(plan.entries),
                        [&plan, now](sqlite3* db, std::span<const ledger::AppendedEntry>) -> Status {
                          return WritePlan(db, plan, now);
                        });
      if (!s.ok()) {
        if (attempt == 4 || s.message() != kConcurrentChange) return s;
        continue;
      }
    }
    write_lock.unlock();
    if (r->outcome == O::kAmbiguous || r->outcome == O::kNotFound) return r;
    Result<ResolveExtra> extra = then(*r);
    if (!extra.ok()) return extra.status();
    if (extra->entries.empty() && !extra->hook) return r;
    ledger::WriteHook hook = std::move(extra->hook);
    s = writer_.Write(std::move(extra->entries), [&hook](sqlite3* db, std::span<const ledger::AppendedEntry> appended) {
      return hook ? hook(db, appended) : Status::Ok();
    });
    if (!s.ok()) return s;  // the resolution itself is durable: not planned again
    return r;
  }
}

Status SubjectRegistry::LinkLearnedAndWrite(const Sid& sid, const domain::Identifier& learned,
                                            std::vector<ledger::NewEntry> entries, ledger::WriteHook hook) {
  using O = Resolution::Outcome;
  for (int attempt = 0;; ++attempt) {
    Plan plan;
    const int64_t now = clock_.NowMillis();
    std::unique_lock<std::mutex> write_lock(write_mutex_);
    // After a concurrent change, record without the link: the caller's
    // step (a delivery's outcome) must not wait on identity.
    if (attempt == 0) {
      Result<NormalizedIdentifier> id = Normalize(learned, rules_);
      Result<SubjectInfo> info = id.ok() ? Subject(sid) : Result<SubjectInfo>(id.status());
      Result<std::vector<NormalizedIdentifier>> known =
          info.ok() ? IdentifiersOf(sid) : Result<std::vector<NormalizedIdentifier>>(info.status());
      bool link = known.ok() && !known->empty() && (!guard_ || guard_(std::span(&*id, 1), /*record=*/false).ok());
      if (link) {
        std::vector<BlindIndex> probed;
        Result<std::optional<Sid>> root = LookupRoot(*id, &probed);
        link = root.ok() && !*root;
      }
      if (link) {
        std::vector<NormalizedIdentifier> ids = std::move(*known);
        ids.push_back(*id);
        ResolveOptions ro;
        ro.create_if_missing = false;
        Result<Resolution> r = PlanResolution(ids, ro, &plan, now);
        link = r.ok() && r->outcome == O::kExisting && r->sid == info->resolves_to && plan.merges.empty() &&
               plan.reviews.empty() && r->linked_kinds.size() == 1 && plan.new_subjects.empty();
      }
      if (!link) plan = Plan();
    }
    write_lock.unlock();
    const size_t own = plan.entries.size();
    std::vector<ledger::NewEntry> all = std::move(plan.entries);
    plan.entries.clear();
    for (const ledger::NewEntry& e : entries) all.push_back(e);
    Status s = writer_.Write(std::move(all),
                             [&plan, &hook, own, now](sqlite3* db, std::span<const ledger::AppendedEntry> appended) {
                               Status ws = WritePlan(db, plan, now);
                               if (!ws.ok() || !hook) return ws;
                               return hook(db, appended.subspan(own));
                             });
    if (s.ok() || attempt > 0 || s.message() != kConcurrentChange) return s;
  }
}

Result<size_t> SubjectRegistry::ResolveBatch(std::span<const std::span<const domain::Identifier>> sets,
                                             std::vector<Resolution>* out, const PlannedFn& on_planned) {
  // Normalize outside the lock, as Resolve does; a set that does not
  // normalize ends the batch (Resolve reports its error).
  // For a large batch, in two halves at the same time (independent per set;
  // the guard only reads when it does not record).
  // normalized[i] stays empty for a set that cannot be resolved in a batch.
  std::vector<std::vector<NormalizedIdentifier>> normalized(sets.size());
  const size_t parts = sets.size() >= 4096 ? 2 : 1;
  RunParts(parts, [&](size_t k) {
    auto [begin, end] = PartRange(sets.size(), parts, k);
    for (size_t i = begin; i < end; ++i) {
      if (sets[i].empty()) continue;
      std::vector<NormalizedIdentifier> ids;
      std::set<std::string> seen;
      bool ok = true;
      for (const domain::Identifier& identifier : sets[i]) {
        Result<NormalizedIdentifier> id = Normalize(identifier, rules_);
        if (!id.ok()) {
          ok = false;
          break;
        }
        if (seen.insert(id->BlindIndexInput()).second) ids.push_back(std::move(*id));
      }
      // A refused set ends the batch; resolving it alone reports the refusal.
      if (!ok || (guard_ && !guard_(ids, /*record=*/false).ok())) continue;
      normalized[i] = std::move(ids);
    }
  });
  // The batch is the sets before the first unusable one.
  size_t usable_prefix = 0;
  while (usable_prefix < sets.size() && !normalized[usable_prefix].empty()) ++usable_prefix;
  normalized.resize(usable_prefix);
  if (normalized.empty()) return size_t{0};
  std::lock_guard<std::mutex> write_lock(write_mutex_);
  for (int attempt = 0;; ++attempt) {
    std::vector<Resolution> resolved;
    // Only the first plan is announced: a caller compares what it prepared
    // with the final resolutions anyway.
    Result<size_t> r = ResolveBatchOnce(normalized, &resolved, attempt == 0 ? on_planned : nullptr);
    if (r.ok()) {
      for (Resolution& res : resolved) out->push_back(std::move(res));
      return r;
    }
    if (attempt == 4 || r.status().message() != kConcurrentChange) return r;
  }
}

Result<size_t> SubjectRegistry::ResolveBatchOnce(const std::vector<std::vector<NormalizedIdentifier>>& sets,
                                                 std::vector<Resolution>* out, const PlannedFn& on_planned) {
  Plan plan;
  // The open subjects.created entry (an index into plan.entries) and how
  // many subjects it holds.
  size_t group_entry = SIZE_MAX;
  size_t group_size = 0;
  auto close_group = [&] {
    if (group_entry != SIZE_MAX) plan.entries[group_entry].payload += "]}";
    group_entry = SIZE_MAX;
    group_size = 0;
  };
  const int64_t now = clock_.NowMillis();
  // Links planned in this batch, by current-key blind index, so that a later
  // set sees the subjects earlier sets created (as Resolve would after the
  // earlier call committed).
  std::unordered_map<BlindIndex, Sid, BlindIndexHash> planned;
  std::unordered_map<BlindIndex, std::set<Sid>, BlindIndexHash> planned_base;  // email base index -> subjects
  planned.reserve(sets.size());
  std::vector<KeyedBlindIndex> current;  // of the set's identifiers, computed once
  size_t done = 0;
  // The planning reads share one read transaction on one connection of the
  // pool: as autocommit statements, each began and ended a WAL read
  // transaction of its own (file-lock system calls, two or three reads per
  // imported event). It ends before the write below, so that it holds no
  // WAL frames back from the checkpoint after the commit. What it read is
  // re-validated inside the write transaction (WritePlan).
  std::unique_lock<std::mutex> read_lock = db_->Lock();
  {
    Status bs = vault::Exec(db_->handle(), "BEGIN");
    if (!bs.ok()) return bs;
  }
  struct EndRead {
    sqlite3* db;
    ~EndRead() { End(); }
    void End() {
      if (db != nullptr) (void)vault::Exec(db, "COMMIT");
      db = nullptr;
    }
  } end_read{db_->handle()};
  // Every blind index of the batch, computed once (the current key's first
  // for each identifier), and what the read transaction holds for each,
  // looked up in blind-index order: the keys are random, so lookups in the
  // sets' order read a different page of identity_identifiers each time
  // (a pread of a page the connection's small cache no longer holds), while
  // in key order consecutive lookups land on the same leaf. The same reads
  // in the same transaction: only their order differs.
  std::vector<std::vector<KeyedBlindIndex>> alls;  // per identifier, the sets' order
  std::unordered_map<BlindIndex, Sid, BlindIndexHash> stored;  // the hits only
  {
    size_t count = 0;
    for (const std::vector<NormalizedIdentifier>& ids : sets) count += ids.size();
    alls.reserve(count);
    std::vector<BlindIndex> keys;
    keys.reserve(count);
    for (const std::vector<NormalizedIdentifier>& ids : sets) {
      for (const NormalizedIdentifier& id : ids) {
        alls.push_back(indexer_.All(id));
        for (const KeyedBlindIndex& k : alls.back()) keys.push_back(k.bidx);
      }
    }
    std::sort(keys.begin(), keys.end());
    keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
    for (const BlindIndex& b : keys) {
      Result<std::optional<Sid>> root = RootOfLocked(b);
      if (!root.ok()) return root.status();
      if (*root) stored.emplace(b, **root);
    }
  }
  size_t next_all = 0;
  for (; done < sets.size(); ++done) {
    const std::vector<NormalizedIdentifier>& ids = sets[done];
    std::vector<std::pair<BlindIndex, std::optional<Sid>>> expect;
    std::optional<Sid> common;
    size_t matched = 0;
    bool mixed = false;
    current.clear();
    for (size_t i = 0; i < ids.size(); ++i) {
      std::optional<Sid> root;
      const std::vector<KeyedBlindIndex>& all = alls[next_all++];
      current.push_back(all.front());
      auto it = planned.find(current.back().bidx);
      if (it != planned.end()) {
        root = it->second;
      } else {
        // As LookupRootLocked: the first candidate stored, in key order.
        for (const KeyedBlindIndex& k : all) {
          auto hit = stored.find(k.bidx);
          if (hit != stored.end()) root = hit->second;
          expect.emplace_back(k.bidx, root);
          if (root) break;
        }
      }
      if (!root) continue;
      ++matched;
      if (common && *common != *root) mixed = true;
      common = root;
    }
    // Only "all match one subject" and "nothing matches" are simple.
    if (mixed || (matched != 0 && matched != ids.size())) break;
    const bool create = matched == 0;
    if (create && rules_.one_system_id_per_qualifier) {
      // Two ids of one system and qualifier in a new set: Resolve splits them.
      std::set<std::string> held;
      bool conflict = false;
      for (const NormalizedIdentifier& id : ids) {
        if (id.kind.IsSystemId()) conflict = conflict || !held.insert(id.kind.Name() + " " + id.qualifier).second;
      }
      if (conflict) break;
    }
    if (rules_.suggest_plus_tag_merges) {
      // Resolve may queue an "email_plus_tag" review: leave any set whose
      // email base is held by another subject to it.
      bool similar = false;
      for (const NormalizedIdentifier& id : ids) {
        if (id.kind.type() != domain::IdentifierType::kEmail) continue;
        const std::vector<KeyedBlindIndex> base = indexer_.AllOf(EmailBaseInput(id.value));
        auto pb = planned_base.find(base.front().bidx);
        if (pb != planned_base.end()) {
          for (const Sid& s : pb->second) similar = similar || create || s != *common;
        }
        Result<std::vector<Sid>> relatives = PlusTagRootsLocked(id);
        if (!relatives.ok()) return relatives.status();
        for (const Sid& s : *relatives) similar = similar || create || s != *common;
      }
      if (similar) break;
    }
    Resolution res;
    if (!create) {
      res.outcome = Resolution::Outcome::kExisting;
      res.sid = *common;
      res.matched = {*common};
      out->push_back(std::move(res));
      continue;
    }
    // As ResolveOnce's create_subject and link.
    const Sid sid = sid_generator_();
    vault::NewSubjectKey key = vault_->MakeSubjectKey(sid);
    for (size_t i = 0; i < ids.size(); ++i) {
      const NormalizedIdentifier& id = ids[i];
      Plan::Link l;
      l.root = sid;
      l.kind = id.kind.Name();
      l.qualifier = id.qualifier;
      l.bidx = current[i];
      if (id.kind.type() == domain::IdentifierType::kEmail) {
        const bool stored_base = StoresEmailBase(id.value);
        if (stored_base || rules_.suggest_plus_tag_merges) {
          const KeyedBlindIndex base = indexer_.CurrentOf(EmailBaseInput(id.value));
          if (stored_base) l.base = base;
          // Read only by the plus-tag check above: every address, tagged or not.
          if (rules_.suggest_plus_tag_merges) planned_base[base.bidx].insert(sid);
        }
      }
      l.sealed = vault::Seal(key.key.bytes, sid, IdentifierSealPurpose(l.kind, l.qualifier), id.value);
      planned[l.bidx.bidx] = sid;
      res.linked_kinds.push_back(l.kind);
      plan.links.push_back(std::move(l));
    }
    const std::string member = CreatedPayload(sid, res.linked_kinds);
    if (group_entry == SIZE_MAX || group_size == kSubjectsPerCreatedEntry ||
        plan.entries[group_entry].payload.size() + member.size() + 2 > kCreatedGroupBytes) {
      close_group();
      group_entry = plan.entries.size();
      plan.entries.push_back({"subjects.created", "{\"subjects\":["});
    }
    std::string& group = plan.entries[group_entry].payload;
    if (group_size++ > 0) group += ',';
    group += member;
    plan.new_subjects.push_back(std::move(key));
    plan.expect_lookup.insert(plan.expect_lookup.end(), expect.begin(), expect.end());
    res.outcome = Resolution::Outcome::kCreated;
    res.sid = sid;
    out->push_back(std::move(res));
  }
  close_group();
  end_read.End();
  read_lock.unlock();
  if (on_planned) {
    // A copy: *out keeps no keys. plan.new_subjects is in the order the
    // kCreated resolutions were made (it is sorted only below).
    std::vector<Resolution> planned(out->begin(), out->end());
    size_t next_key = 0;
    for (Resolution& r : planned) {
      if (r.outcome == Resolution::Outcome::kCreated) r.created_key = plan.new_subjects[next_key++].key;
    }
    on_planned(std::move(planned));
  }
  if (plan.entries.empty()) return done;
  // Rows in key order: a batch's sids and blind indexes are random, and
  // sorted inserts walk each B-tree once instead of jumping between pages.
  // Neither order means anything else (entries keep the sets' order).
  std::sort(plan.new_subjects.begin(), plan.new_subjects.end(),
            [](const vault::NewSubjectKey& a, const vault::NewSubjectKey& b) { return a.sid < b.sid; });
  std::sort(plan.links.begin(), plan.links.end(),
            [](const Plan::Link& a, const Plan::Link& b) { return a.bidx.bidx < b.bidx.bidx; });
  Status s = writer_.Write(std::move(plan.entries),
                           [&plan, now](sqlite3* db, std::span<const ledger::AppendedEntry>) -> Status {
                             return WritePlan(db, plan, now);
                           });
  if (!s.ok()) return s;
  return done;
}

Result<Resolution> SubjectRegistry::ResolveOnce(const std::vector<NormalizedIdentifier>& ids,
                                                const ResolveOptions& options) {
  Plan plan;
  const int64_t now = clock_.NowMillis();
  Result<Resolution> res = PlanResolution(ids, options, &plan, now);
  if (!res.ok() || plan.entries.empty()) return res;  // a pure lookup: nothing to write
  // Write, re-validating what was read.
  Status s = writer_.Write(std::move(plan.entries),
                           [&plan, now](sqlite3* db, std::span<const ledger::AppendedEntry>) -> Status {
                             return WritePlan(db, plan, now);
                           });
  if (!s.ok()) return s;
  return res;
}

Result<Resolution> SubjectRegistry::PlanResolution(const std::vector<NormalizedIdentifier>& ids,
                                                   const ResolveOptions& options, Plan* plan_out, int64_t now) {
  Plan& plan = *plan_out;
  Resolution res;
  (void)now;

  // 1. Look every identifier up.
  std::vector<std::optional<Sid>> roots(ids.size());
  std::vector<Sid> strong, weak;
  auto add_unique = [](std::vector<Sid>& v, const Sid& s) {
    if (std::find(v.begin(), v.end(), s) == v.end()) v.push_back(s);
  };
  for (size_t i = 0; i < ids.size(); ++i) {
    std::vector<BlindIndex> probed;
    Result<std::optional<Sid>> root = LookupRoot(ids[i], &probed);
    if (!root.ok()) return root.status();
    roots[i] = *root;
    for (size_t p = 0; p < probed.size(); ++p) {
      plan.expect_lookup.emplace_back(probed[p], p + 1 == probed.size() ? *root : std::nullopt);
    }
    if (!*root) continue;
    if (rules_.strong_kinds.count(ids[i].kind.Name()) > 0) add_unique(strong, **root);
  }
  for (size_t i = 0; i < ids.size(); ++i) {
    if (roots[i] && std::find(strong.begin(), strong.end(), *roots[i]) == strong.end()) add_unique(weak, *roots[i]);
  }
  res.matched = strong;
  res.matched.insert(res.matched.end(), weak.begin(), weak.end());

  // Helpers that add to the plan.
  std::set<std::pair<Sid, Sid>> queued_pairs;
  auto queue_review = [&](const Sid& a, const Sid& b, std::string_view reason) -> Status {
    if (a == b || queued_pairs.count({a, b}) > 0 || queued_pairs.count({b, a}) > 0) return Status::Ok();
    queued_pairs.insert({a, b});
    {
      std::unique_lock<std::mutex> lock = db_->Lock();
      Result<Stmt> stmt = db_->Cached(
          "SELECT 1 FROM identity_reviews WHERE state = 'open' AND "
          "((sid_a = ?1 AND sid_b = ?2) OR (sid_a = ?2 AND sid_b = ?1))");
      if (!stmt.ok()) return stmt.status();
      stmt->Bind(1, a.bytes()).Bind(2, b.bytes());
      Result<bool> row = stmt->Step();
      if (!row.ok()) return row.status();
      if (*row) return Status::Ok();  // already waiting for a decision
    }
    std::string id = HexEncode(AsBytes(RandomBytes(8)));
    plan.reviews.push_back({id, a, b, std::string(reason)});
    plan.entries.push_back({"subject.merge_queued", QueuedPayload(id, a, b, reason)});
    res.review_ids.push_back(id);
    return Status::Ok();
  };
  std::map<Sid, vault::DataKey> keys;  // data keys of subjects that get links
  // The subject.created entry that links right after it extend, while it
  // is the plan's last entry.
  size_t created_entry = SIZE_MAX;
  Sid created_sid;
  std::vector<std::string> created_kinds;
  auto create_subject = [&]() -> Sid {
    Sid sid = sid_generator_();
    vault::NewSubjectKey key = vault_->MakeSubjectKey(sid);
    keys[sid] = key.key;
    plan.new_subjects.push_back(std::move(key));
    created_entry = plan.entries.size();
    created_sid = sid;
    created_kinds.clear();
    plan.entries.push_back({"subject.created", CreatedPayload(sid)});
    return sid;
  };
  auto link = [&](const Sid& root, const NormalizedIdentifier& id) -> Status {
    auto it = keys.find(root);
    if (it == keys.end()) {
      Result<vault::DataKey> key = vault_->SubjectKey(root);
      if (!key.ok()) return key.status();
      it = keys.emplace(root, *key).first;
    }
    Plan::Link l;
    l.root = root;
    l.kind = id.kind.Name();
    l.qualifier = id.qualifier;
    l.bidx = indexer_.Current(id);
    if (id.kind.type() == domain::IdentifierType::kEmail && StoresEmailBase(id.value)) {
      l.base = indexer_.CurrentOf(EmailBaseInput(id.value));
    }
    l.sealed = vault::Seal(it->second.bytes, root, IdentifierSealPurpose(l.kind, l.qualifier), id.value);
    if (created_entry != SIZE_MAX && created_entry + 1 == plan.entries.size() && root == created_sid) {
      created_kinds.push_back(l.kind);
      plan.entries.back().payload = CreatedPayload(root, created_kinds);
    } else {
      plan.entries.push_back({"subject.linked", LinkedPayload(root, l.kind)});
    }
    plan.links.push_back(std::move(l));
    res.linked_kinds.push_back(id.kind.Name());
    return Status::Ok();
  };
  // "kind qualifier" of the system ids a group of subjects holds.
  auto system_ids_of = [&](const Sid& root, std::set<std::string>* out) -> Status {
    std::unique_lock<std::mutex> lock = db_->Lock();
    Result<Stmt> stmt = db_->Cached("SELECT kind, qualifier FROM identity_identifiers WHERE root_sid = ?");
    if (!stmt.ok()) return stmt.status();
    stmt->Bind(1, root.bytes());
    for (;;) {
      Result<bool> row = stmt->Step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      Result<IdentifierKind> kind = IdentifierKind::Parse(stmt->Text(0));
      if (kind.ok() && kind->IsSystemId()) out->insert(stmt->Text(0) + " " + stmt->Text(1));
    }
    return Status::Ok();
  };

  // 2. Decide the subject the set belongs to.
  Sid target;
  std::set<Sid> reviewed_weak;
  if (strong.size() >= 2) {
    // Survivor: the oldest subject (ties: the first matched).
    Sid survivor = strong[0];
    int64_t oldest = INT64_MAX;
    std::vector<std::set<std::string>> system_ids(strong.size());
    bool conflict = false;
    std::set<std::string> all_ids;
    for (size_t i = 0; i < strong.size(); ++i) {
      Result<SubjectInfo> info = Subject(strong[i]);
      if (!info.ok()) return info.status();
      if (info->created_millis < oldest) {
        oldest = info->created_millis;
        survivor = strong[i];
      }
      Status s = system_ids_of(strong[i], &system_ids[i]);
      if (!s.ok()) return s;
      for (const std::string& k : system_ids[i]) conflict = conflict || !all_ids.insert(k).second;
    }
    conflict = conflict && rules_.one_system_id_per_qualifier;
    if (!rules_.auto_merge || conflict) {
      for (const Sid& other : strong) {
        Status s = queue_review(survivor, other, conflict ? "conflicting_system_id" : "auto_merge_disabled");
        if (!s.ok()) return s;
      }
      res.outcome = Resolution::Outcome::kAmbiguous;
    } else {
      for (const Sid& other : strong) {
        if (other == survivor) continue;
        plan.merges.push_back({other, survivor});
        plan.expect_active.push_back(other);
        plan.entries.push_back({"subject.merged", MergedPayload(survivor, other, "shared_strong_identifier")});
      }
      plan.expect_active.push_back(survivor);
      target = survivor;
      res.outcome = Resolution::Outcome::kMerged;
    }
  } else if (strong.size() == 1) {
    target = strong[0];
    plan.expect_active.push_back(target);
    res.outcome = Resolution::Outcome::kExisting;
  } else if (weak.empty()) {
    if (!options.create_if_missing) return res;  // kNotFound, nothing written
    target = create_subject();
    res.outcome = Resolution::Outcome::kCreated;
  } else {
    bool any_unmatched = std::any_of(roots.begin(), roots.end(), [](const auto& r) { return !r; });
    if (!any_unmatched && weak.size() == 1) {
      target = weak[0];
      plan.expect_active.push_back(target);
      res.outcome = Resolution::Outcome::kExisting;
    } else if (!any_unmatched) {
      for (const Sid& other : weak) {
        Status s = queue_review(weak[0], other, "weak_identifiers_of_several_subjects");
        if (!s.ok()) return s;
      }
      res.outcome = Resolution::Outcome::kAmbiguous;
    } else {
      if (!options.create_if_missing) return res;
      // Weak matches never attach new identifiers: they get a subject of
      // their own, and a person decides.
      target = create_subject();
      res.outcome = Resolution::Outcome::kCreated;
      for (const Sid& w : weak) {
        Status s = queue_review(w, target, "shared_weak_identifier");
        if (!s.ok()) return s;
        reviewed_weak.insert(w);
      }
    }
  }

  // 3. Link what is new to the target.
  if (res.outcome != Resolution::Outcome::kAmbiguous) {
    std::set<std::string> held;
    std::vector<Sid> group_roots = {target};
    for (const Plan::Merge& m : plan.merges) group_roots.push_back(m.merged);
    if (res.outcome != Resolution::Outcome::kCreated) {
      for (const Sid& r : group_roots) {
        Status s = system_ids_of(r, &held);
        if (!s.ok()) return s;
      }
    }
    for (const Sid& w : weak) {
      if (w == target || reviewed_weak.count(w) > 0) continue;
      if (std::find(group_roots.begin(), group_roots.end(), w) != group_roots.end()) continue;
      Status s = queue_review(target, w, "shared_weak_identifier");
      if (!s.ok()) return s;
    }
    std::vector<size_t> conflicting;
    for (size_t i = 0; i < ids.size(); ++i) {
      if (roots[i]) continue;
      if (ids[i].kind.IsSystemId() && rules_.one_system_id_per_qualifier) {
        std::string key = ids[i].kind.Name() + " " + ids[i].qualifier;
        if (!held.insert(key).second) {
          conflicting.push_back(i);
          continue;
        }
      }
      Status s = link(target, ids[i]);
      if (!s.ok()) return s;
    }
    if (!conflicting.empty() && options.create_if_missing) {
      Sid other = create_subject();
      for (size_t i : conflicting) {
        Status s = link(other, ids[i]);
        if (!s.ok()) return s;
      }
      // linked_kinds reports only the target's links.
      res.linked_kinds.resize(res.linked_kinds.size() - conflicting.size());
      Status s = queue_review(target, other, "conflicting_system_id");
      if (!s.ok()) return s;
    }
    if (rules_.suggest_plus_tag_merges) {
      for (const NormalizedIdentifier& id : ids) {
        if (id.kind.type() != domain::IdentifierType::kEmail) continue;
        Result<std::vector<Sid>> similar = Status::Internal("unset");
        {
          std::unique_lock<std::mutex> lock = db_->Lock();
          similar = PlusTagRootsLocked(id);
        }
        if (!similar.ok()) return similar.status();
        for (const Sid& s : *similar) {
          if (std::find(group_roots.begin(), group_roots.end(), s) != group_roots.end()) continue;
          Status st = queue_review(target, s, "email_plus_tag");
          if (!st.ok()) return st;
        }
      }
    }
    res.sid = target;
  }

  return res;
}

Status SubjectRegistry::WritePlan(sqlite3* db, const Plan& plan, int64_t now) {
  {
    // "Still absent" needs no read for a blind index this plan inserts: the
    // insert fails on its primary key if a concurrent writer stored it, and
    // that failure is reported as the concurrent change (below). A random
    // point read per new identifier is a large share of a batch's commit.
    std::unordered_set<BlindIndex, BlindIndexHash> inserted;
    inserted.reserve(plan.links.size());
    for (const Plan::Link& l : plan.links) inserted.insert(l.bidx.bidx);
    Result<Stmt> stmt = Stmt::Prepare(db, "SELECT root_sid FROM identity_identifiers WHERE bidx = ?");
    if (!stmt.ok()) return stmt.status();
    for (const auto& [bidx, root] : plan.expect_lookup) {
      if (!root && inserted.count(bidx) > 0) continue;
      stmt->Bind(1, BytesOf(bidx));
      Result<bool> row = stmt->Step();
      if (!row.ok()) return row.status();
      bool same = *row ? (root && stmt->Blob(0) == std::string(AsChars(root->bytes()))) : !root;
      if (!same) return Status::Unavailable(std::string(kConcurrentChange));
      stmt->Reset();
    }
  }
  for (const Sid& sid : plan.expect_active) {
    Status st = ExpectActive(db, sid);
    if (!st.ok()) return st;
  }
  if (!plan.new_subjects.empty()) {
    Result<Stmt> stmt = Stmt::Prepare(db, "INSERT INTO identity_subjects(sid, state, created_ms) VALUES(?, 0, ?)");
    if (!stmt.ok()) return stmt.status();
    for (const vault::NewSubjectKey& k : plan.new_subjects) {
      stmt->Bind(1, k.sid.bytes()).Bind(2, now);
      Status st = stmt->Run();
      if (!st.ok()) return st;
      stmt->Reset();
    }
    Status st = vault::Vault::InsertSubjectKeys(db, plan.new_subjects);
    if (!st.ok()) return st;
  }
  for (const Plan::Merge& m : plan.merges) {
    Status st = ApplyMerge(db, m.merged, m.survivor, now);
    if (!st.ok()) return st;
  }
  {
    Result<Stmt> stmt = Stmt::Prepare(
        db,
        "INSERT INTO identity_identifiers(bidx, root_sid, owner_sid, kind, qualifier, key_id, sealed, base_bidx, "
        "created_ms) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?)");
    if (!stmt.ok()) return stmt.status();
    for (const Plan::Link& l : plan.links) {
      stmt->Bind(1, BytesOf(l.bidx.bidx))
          .Bind(2, l.root.bytes())
          .Bind(3, l.root.bytes())
          .BindText(4, l.kind)
          .BindText(5, l.qualifier)
          .Bind(6, static_cast<int64_t>(l.bidx.key_id))
          .Bind(7, AsBytes(l.sealed))
          .Bind(9, now);
      if (l.base) {
        stmt->Bind(8, BytesOf(l.base->bidx));
      } else {
        stmt->BindNull(8);
      }
      Status st = stmt->Run();
      // The primary key (bidx) is the only unique key: another writer
      // linked this identifier since it was looked up.
      if (st.code() == StatusCode::kAlreadyExists) return Status::Unavailable(std::string(kConcurrentChange));
      if (!st.ok()) return st.WithContext("link " + l.kind + " to " + l.root.ToHex());
      stmt->Reset();
    }
  }
  {
    Result<Stmt> stmt = Stmt::Prepare(
        db, "INSERT INTO identity_reviews(id, sid_a, sid_b, reason, state, created_ms) VALUES(?, ?, ?, ?, 'open', ?)");
    if (!stmt.ok()) return stmt.status();
    for (const Plan::NewReview& r : plan.reviews) {
      stmt->BindText(1, r.id).Bind(2, r.a.bytes()).Bind(3, r.b.bytes()).BindText(4, r.reason).Bind(5, now);
      Status st = stmt->Run();
      if (!st.ok()) return st;
      stmt->Reset();
    }
  }
  return Status::Ok();
}

Result<std::vector<NormalizedIdentifier>> SubjectRegistry::IdentifiersOf(const Sid& sid) const {
  Result<SubjectInfo> info = Subject(sid);
  if (!info.ok()) return info.status();
  if (info->state == SubjectState::kShredded) return Status::NotFound("subject " + sid.ToHex() + " was shredded");
  struct Row {
    Sid owner;
    std::string kind, qualifier, sealed;
  };
  std::vector<Row> rows;
  {
    std::unique_lock<std::mutex> lock = db_->Lock();
    Result<Stmt> stmt = db_->Cached(
        "SELECT owner_sid, kind, qualifier, sealed FROM identity_identifiers WHERE root_sid = ? "
        "ORDER BY created_ms, kind");
    if (!stmt.ok()) return stmt.status();
    stmt->Bind(1, info->resolves_to.bytes());
    for (;;) {
      Result<bool> row = stmt->Step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      Result<Sid> owner = SidFromColumn(stmt->Blob(0));
      if (!owner.ok()) return owner.status();
      rows.push_back({*owner, stmt->Text(1), stmt->Text(2), stmt->Blob(3)});
    }
  }
  std::map<Sid, vault::DataKey> keys;
  std::vector<NormalizedIdentifier> out;
  for (const Row& r : rows) {
    auto it = keys.find(r.owner);
    if (it == keys.end()) {
      Result<vault::DataKey> key = vault_->SubjectKey(r.owner);
      if (!key.ok()) return key.status();
      it = keys.emplace(r.owner, *key).first;
    }
    Result<std::string> value = vault::Open(it->second.bytes, r.owner, IdentifierSealPurpose(r.kind, r.qualifier), r.sealed);
    if (!value.ok()) return value.status().WithContext(r.kind + " identifier");
    Result<IdentifierKind> kind = IdentifierKind::Parse(r.kind);
    if (!kind.ok()) return Status::Corruption("identity_identifiers holds an unknown kind");
    out.push_back(NormalizedIdentifier{*kind, r.qualifier, std::move(*value)});
  }
  return out;
}

Result<std::vector<Review>> SubjectRegistry::OpenReviews() const {
  std::vector<Review> out;
  std::unique_lock<std::mutex> lock = db_->Lock();
  Result<Stmt> stmt = db_->Cached(
      "SELECT id, sid_a, sid_b, reason, created_ms FROM identity_reviews WHERE state = 'open' "
      "ORDER BY created_ms, id");
  if (!stmt.ok()) return stmt.status();
  for (;;) {
    Result<bool> row = stmt->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    Result<Sid> a = SidFromColumn(stmt->Blob(1));
    Result<Sid> b = SidFromColumn(stmt->Blob(2));
    if (!a.ok() || !b.ok()) return Status::Corruption("identity_reviews holds a malformed sid");
    out.push_back({stmt->Text(0), *a, *b, stmt->Text(3), stmt->Int(4)});
  }
  return out;
}

Result<Sid> SubjectRegistry::ApproveReview(std::string_view review_id) {
  std::lock_guard<std::mutex> write_lock(write_mutex_);
  Result<std::vector<Review>> reviews = OpenReviews();
  if (!reviews.ok()) return reviews.status();
  auto it = std::find_if(reviews->begin(), reviews->end(), [&](const Review& r) { return r.id == review_id; });
  if (it == reviews->end()) return Status::NotFound("no open review " + std::string(review_id.substr(0, 32)));
  Result<SubjectInfo> a = Subject(it->a);
  if (!a.ok()) return a.status();
  Result<SubjectInfo> b = Subject(it->b);
  if (!b.ok()) return b.status();
  Result<SubjectInfo> ra = Subject(a->resolves_to);
  if (!ra.ok()) return ra.status();
  Result<SubjectInfo> rb = Subject(b->resolves_to);
  if (!rb.ok()) return rb.status();
  if (ra->state != SubjectState::kActive || rb->state != SubjectState::kActive) {
    return Status::FailedPrecondition("review " + it->id + " names a subject that is no longer active");
  }
  std::string id = it->id;
  const int64_t now = clock_.NowMillis();
  bool same = ra->sid == rb->sid;
  Sid survivor = ra->created_millis <= rb->created_millis ? ra->sid : rb->sid;
  Sid merged = survivor == ra->sid ? rb->sid : ra->sid;
  std::vector<ledger::NewEntry> entries;
  if (!same) entries.push_back({"subject.merged", MergedPayload(survivor, merged, "review_approved", id)});
  Status s = writer_.Write(std::move(entries), [&](sqlite3* db, std::span<const ledger::AppendedEntry>) -> Status {
    Result<Stmt> stmt = Stmt::Prepare(
        db, "UPDATE identity_reviews SET state = ? WHERE id = ? AND state = 'open'");
    if (!stmt.ok()) return stmt.status();
    stmt->BindText(1, same ? "obsolete" : "approved").BindText(2, id);
    Status st = stmt->Run();
    if (!st.ok()) return st;
    if (stmt->Changes() != 1) return Status::Unavailable(std::string(kConcurrentChange));
    if (same) return Status::Ok();
    st = ExpectActive(db, survivor);
    if (!st.ok()) return st;
    st = ExpectActive(db, merged);
    if (!st.ok()) return st;
    return ApplyMerge(db, merged, survivor, now);
  });
  if (!s.ok()) return s;
  return survivor;
}

Status SubjectRegistry::RejectReview(std::string_view review_id) {
  std::lock_guard<std::mutex> write_lock(write_mutex_);
  std::string id(review_id);
  bool well_formed = id.size() == 16 && std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
  });
  if (!well_formed) return Status::NotFound("no open review with that id");
  return writer_.Write({{"subject.review_rejected", "{\"review\":" + Quoted(id) + "}"}},
                       [&](sqlite3* db, std::span<const ledger::AppendedEntry>) -> Status {
                         Result<Stmt> stmt = Stmt::Prepare(
                             db, "UPDATE identity_reviews SET state = 'rejected' WHERE id = ? AND state = 'open'");
                         if (!stmt.ok()) return stmt.status();
                         stmt->BindText(1, id);
                         Status st = stmt->Run();
                         if (!st.ok()) return st;
                         if (stmt->Changes() != 1) {
                           return Status::NotFound("no open review " + id.substr(0, 32));
                         }
                         return Status::Ok();
                       });
}

Result<ShredReport> SubjectRegistry::Shred(const Sid& sid) {
  Result<SubjectInfo> info = Subject(sid);
  if (!info.ok()) return info.status();
  Result<SubjectInfo> root = Subject(info->resolves_to);
  if (!root.ok()) return root.status();
  if (root->state == SubjectState::kShredded) {
    return Status::FailedPrecondition("subject " + sid.ToHex() + " is already shredded");
  }
  Result<std::vector<ShredReport>> reports = ShredMany(std::span<const Sid>(&sid, 1));
  if (!reports.ok()) return reports.status();
  if (reports->empty()) return Status::FailedPrecondition("subject " + sid.ToHex() + " is already shredded");
  return reports->front();
}

Result<std::vector<ShredReport>> SubjectRegistry::ShredMany(std::span<const Sid> sids) {
  std::lock_guard<std::mutex> write_lock(write_mutex_);
  std::vector<ShredReport> reports;
  std::set<Sid> roots_seen;
  std::vector<ledger::NewEntry> entries;
  for (const Sid& sid : sids) {
    Result<SubjectInfo> info = Subject(sid);
    if (!info.ok()) {
      if (info.status().code() == StatusCode::kNotFound) continue;
      return info.status();
    }
    Result<SubjectInfo> root = Subject(info->resolves_to);
    if (!root.ok()) return root.status();
    if (root->state == SubjectState::kShredded || !roots_seen.insert(root->sid).second) continue;
    Result<std::vector<Sid>> group = GroupOf(root->sid);
    if (!group.ok()) return group.status();
    for (const Sid& m : *group) entries.push_back({"subject.shredded", ShreddedPayload(m, root->sid)});
    reports.push_back({root->sid, std::move(*group)});
  }
  if (reports.empty()) return reports;
  Status s = writer_.Write(std::move(entries), [&reports](sqlite3* db, std::span<const ledger::AppendedEntry>) {
    // secure_delete is a property of the connection; make sure of it here,
    // on the connection that deletes.
    Status st = vault::Exec(db, "PRAGMA secure_delete=ON;");
    if (!st.ok()) return st;
    for (const ShredReport& r : reports) {
      st = ExpectActive(db, r.root);
      if (!st.ok()) return st;
      st = RunWithSid(db, "DELETE FROM identity_identifiers WHERE root_sid = ?", r.root);
      if (!st.ok()) return st;
      for (const Sid& m : r.shredded) {
        st = vault::Vault::DeleteSubject(db, m);
        if (!st.ok()) return st;
        st = RunWithSid(db, "UPDATE identity_subjects SET state = 2 WHERE sid = ?", m);
        if (!st.ok()) return st;
        st = RunWithSid(db,
                        "UPDATE identity_reviews SET state = 'obsolete' WHERE state = 'open' AND "
                        "(sid_a = ?1 OR sid_b = ?1)",
                        m);
        if (!st.ok()) return st;
      }
    }
    return Status::Ok();
  });
  if (!s.ok()) return s;
  s = db_->CheckpointTruncate();
  if (!s.ok()) return s.WithContext("shred committed; WAL checkpoint incomplete, call CheckpointWal()");
  return reports;
}

}  // namespace consentd::identity
