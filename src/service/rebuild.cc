#include "src/service/rebuild.h"

#include "src/erasure/rebuild_check.h"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <unordered_map>

#include "ledger/entry.h"
#include "policies/conflict.h"
#include "src/base/bytes.h"
#include "src/base/time_format.h"
#include "src/domain/consent.h"
#include "src/vault/sqlite_database.h"

namespace consentd::service {
namespace {

using domain::Sid;
using nlohmann::json;

struct Row {
  bool granted = false;
  int64_t occurred_ms = 0;
  std::string system;
  int32_t rank = 0;
  bool rank_known = true;
  std::string method;
  uint64_t seq = 0;
};

// Key of a state row: the 16 sid bytes followed by the purpose.
std::string RowKey(const Sid& sid, std::string_view purpose) {
  std::string k(AsChars(sid.bytes()));
  k.append(purpose);
  return k;
}

// The same order as ConsentService's Beats: newest, then rank, then the
// opt-out, then the later entry.
bool Beats(const Row& a, const Row& b) {
  if (a.occurred_ms != b.occurred_ms) return a.occurred_ms > b.occurred_ms;
  if (a.rank != b.rank) return a.rank > b.rank;
  if (a.granted != b.granted) return !a.granted;
  return a.seq > b.seq;
}

std::string Str(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

class Replay {
 public:
  explicit Replay(const policies::PolicySet& policy) : policy_(policy) {}

  Status Entry(uint64_t seq, std::string_view bytes, RebuildReport* report) {
    Result<ledger::EntryView> e = ledger::ParseEntry(bytes);
    if (!e.ok()) return Status::Corruption("ledger entry " + std::to_string(seq) + ": " + e.status().message());
    if (e->kind == "subject.merged") {
      ++report->merges;
      return Merge(seq, e->payload);
    }
    if (e->kind != "consent.recorded") return Status::Ok();
    ++report->consent_entries;
    return Consent(seq, e->payload, report);
  }

  std::unordered_map<std::string, Row>& rows() { return rows_; }
  const std::map<Sid, Sid>& root_of() const { return root_of_; }

 private:
  Status Merge(uint64_t seq, std::string_view payload) {
    json j = json::parse(payload, nullptr, false);
    Result<Sid> survivor = Sid::FromHex(j.is_object() ? Str(j, "sid") : "");
    Result<Sid> merged = Sid::FromHex(j.is_object() ? Str(j, "merged_sid") : "");
    if (!survivor.ok() || !merged.ok()) return Status::Corruption("ledger entry " + std::to_string(seq) + ": bad merge");
    std::vector<Sid>& to = members_[*survivor];
    auto it = members_.find(*merged);
    if (it != members_.end()) {
      for (const Sid& m : it->second) {
        root_of_[m] = *survivor;
        to.push_back(m);
      }
      members_.erase(it);
    }
    to.push_back(*merged);
    root_of_[*merged] = *survivor;
    return Status::Ok();
  }

  Status Consent(uint64_t seq, std::string_view payload, RebuildReport* report) {
    json j = json::parse(payload, nullptr, false);
    if (!j.is_object()) return Status::Corruption("ledger entry " + std::to_string(seq) + ": payload is not JSON");
    const std::string outcome = Str(j, "outcome");
    if (outcome != "apply" && outcome != "no_change") return Status::Ok();
    Result<Sid> sid = Sid::FromHex(Str(j, "sid"));
    Result<int64_t> occurred = ParseRfc3339(Str(j, "occurred_at"));
    const std::string purpose = Str(j, "purpose");
    auto src = j.find("source");
    if (!sid.ok() || !occurred.ok() || purpose.empty() || src == j.end() || !src->is_object()) {
      return Status::Corruption("ledger entry " + std::to_string(seq) + ": malformed consent.recorded");
    }
    Row row;
    row.granted = Str(j, "decision") == "granted";
    row.occurred_ms = *occurred;
    row.system = Str(*src, "system");
    row.method = Str(*src, "method");
    row.seq = seq;
    row.rank = policies::kDirectRank;
    if (!row.system.empty()) {
      const policies::System* sys = policy_.FindSystem(row.system);
      row.rank = sys ? sys->RankFor(purpose) : 0;
    }
    row.rank_known = Str(j, "policy") == policy_.version;
    if (outcome == "no_change") {
      // Replaces the state only as a stronger claim than the group's current.
      std::optional<Row> current = Best(*sid, purpose);
      if (!current || !(row.occurred_ms > current->occurred_ms || row.rank > current->rank)) return Status::Ok();
    }
    rows_[RowKey(*sid, purpose)] = std::move(row);
    (void)report;
    return Status::Ok();
  }

  // The group's current state: the best row of `root` and its merged sids.
  std::optional<Row> Best(const Sid& root, std::string_view purpose) const {
    std::optional<Row> best;
    auto consider = [&](const Sid& s) {
      auto it = rows_.find(RowKey(s, purpose));
      if (it != rows_.end() && (!best || Beats(it->second, *best))) best = it->second;
    };
    consider(root);
    auto m = members_.find(root);
    if (m != members_.end()) {
      for (const Sid& s : m->second) consider(s);
    }
    return best;
  }

  const policies::PolicySet& policy_;
  std::unordered_map<std::string, Row> rows_;
  std::map<Sid, std::vector<Sid>> members_;  // survivor -> sids merged into it
  std::map<Sid, Sid> root_of_;               // merged sid -> survivor
};

std::string TimeText(int64_t ms) { return FormatTimestampMillis(ms); }

}  // namespace

std::string RebuildReport::ToText() const {
  std::string out = "replayed " + std::to_string(ledger_size) + " ledger entries (" + std::to_string(consent_entries) +
                    " consent, " + std::to_string(merges) + " merges): " + std::to_string(rows_rebuilt) +
                    " state rows rebuilt, " + std::to_string(rows_live) + " in consent_state";
  if (rank_unverified > 0) out += ", " + std::to_string(rank_unverified) + " ranks not checked (older policy)";
  out += "\n";
  out += std::to_string(erasure_requests) + " erasure requests and " + std::to_string(tombstones) +
         " tombstones replayed";
  if (!erasure_differences.empty()) {
    out += "; " + std::to_string(erasure_differences.size()) + " erasure difference(s):\n";
    for (const std::string& d : erasure_differences) out += "  " + d + "\n";
  } else {
    out += ": erasure_requests and tombstones match the ledger\n";
  }
  if (total_differences == 0) return out + "consent_state matches the ledger\n";
  out += std::to_string(total_differences) + " difference(s)";
  if (differences.size() < total_differences) out += ", first " + std::to_string(differences.size()) + " listed";
  out += ":\n";
  for (const ProjectionDifference& d : differences) {
    out += "  sid " + d.sid.ToHex() + (d.purpose.empty() ? "" : " purpose " + d.purpose) + " " + d.field +
           ": ledger " + d.ledger + ", table " + d.table + "\n";
  }
  return out;
}

Result<RebuildReport> CheckConsentProjection(const std::string& database_path, const policies::PolicySet& policy,
                                             const RebuildOptions& options) {
  Result<std::unique_ptr<vault::Database>> opened = vault::Database::Open(database_path);
  if (!opened.ok()) return opened.status();
  vault::Database& db = **opened;
  auto lock = db.Lock();
  // One snapshot for the ledger and the tables.
  Status s = vault::Exec(db.handle(), "BEGIN");
  if (!s.ok()) return s;
  struct EndRead {
    sqlite3* db;
    ~EndRead() { (void)vault::Exec(db, "ROLLBACK"); }
  } end_read{db.handle()};

  RebuildReport report;
  Replay replay(policy);
  {
    // The ledger's rows, read on this snapshot (ledger/ledger.cc owns the
    // table; its format is docs/ledger-format.md §5).
    Result<vault::Stmt> q = vault::Stmt::Prepare(db.handle(), "SELECT count(*) FROM ledger_entries");
    if (!q.ok()) return q.status();
    Result<bool> row = q->Step();
    if (!row.ok()) return row.status();
    const uint64_t size = *row ? static_cast<uint64_t>(q->Int(0)) : 0;
    Result<vault::Stmt> scan = vault::Stmt::Prepare(db.handle(), "SELECT seq, entry FROM ledger_entries ORDER BY seq");
    if (!scan.ok()) return scan.status();
    uint64_t expect = 0;
    for (;;) {
      row = scan->Step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      const uint64_t seq = static_cast<uint64_t>(scan->Int(0));
      if (seq != expect) return Status::Corruption("ledger entry " + std::to_string(expect) + " is missing");
      ++expect;
      s = replay.Entry(seq, scan->Blob(1), &report);
      if (!s.ok()) return s;
      if (options.progress && (expect & 0xffff) == 0) options.progress(expect, size);
    }
    report.ledger_size = expect;
    if (options.progress) options.progress(expect, size);
  }

  std::vector<ProjectionDifference> diffs;
  auto differ = [&](const Sid& sid, std::string purpose, std::string field, std::string ledger, std::string table) {
    ++report.total_differences;
    diffs.push_back({sid, std::move(purpose), std::move(field), std::move(ledger), std::move(table)});
  };
  std::unordered_map<std::string, Row>& rows = replay.rows();
  report.rows_rebuilt = rows.size();
  for (const auto& [key, row] : rows) report.rank_unverified += row.rank_known ? 0 : 1;
  {
    Result<vault::Stmt> q = vault::Stmt::Prepare(
        db.handle(),
        "SELECT sid, purpose, decision, occurred_ms, source_system, source_rank, method, seq FROM consent_state");
    if (!q.ok()) return q.status();
    for (;;) {
      Result<bool> more = q->Step();
      if (!more.ok()) return more.status();
      if (!*more) break;
      ++report.rows_live;
      Result<Sid> sid = Sid::FromBytes(AsBytes(q->Blob(0)));
      if (!sid.ok()) return Status::Corruption("consent_state holds a malformed sid");
      const std::string purpose = q->Text(1);
      auto it = rows.find(RowKey(*sid, purpose));
      if (it == rows.end()) {
        differ(*sid, purpose, "row", "absent", "present");
        continue;
      }
      const Row& r = it->second;
      const bool granted = q->Int(2) != 0;
      if (granted != r.granted) {
        differ(*sid, purpose, "decision", r.granted ? "granted" : "withdrawn", granted ? "granted" : "withdrawn");
      }
      if (q->Int(3) != r.occurred_ms) differ(*sid, purpose, "occurred_at", TimeText(r.occurred_ms), TimeText(q->Int(3)));
      if (q->Text(4) != r.system) differ(*sid, purpose, "source_system", r.system, q->Text(4).substr(0, 64));
      if (r.rank_known && q->Int(5) != r.rank) {
        differ(*sid, purpose, "source_rank", std::to_string(r.rank), std::to_string(q->Int(5)));
      }
      if (q->Text(6) != r.method) differ(*sid, purpose, "method", r.method, q->Text(6).substr(0, 32));
      if (static_cast<uint64_t>(q->Int(7)) != r.seq) {
        differ(*sid, purpose, "seq", std::to_string(r.seq), std::to_string(q->Int(7)));
      }
      rows.erase(it);
    }
  }
  for (const auto& [key, row] : rows) {
    Result<Sid> sid = Sid::FromBytes(AsBytes(key.substr(0, 16)));
    if (!sid.ok()) return Status::Internal("rebuild: bad row key");
    differ(*sid, key.substr(16), "row", "present", "absent");
  }
  {
    // The merges the ledger records against identity_aliases.
    std::map<Sid, Sid> live;
    Result<vault::Stmt> q = vault::Stmt::Prepare(db.handle(), "SELECT sid, surviving_sid FROM identity_aliases");
    if (q.ok()) {  // no identity tables yet: nothing merged
      for (;;) {
        Result<bool> more = q->Step();
        if (!more.ok()) return more.status();
        if (!*more) break;
        Result<Sid> a = Sid::FromBytes(AsBytes(q->Blob(0)));
        Result<Sid> b = Sid::FromBytes(AsBytes(q->Blob(1)));
        if (!a.ok() || !b.ok()) return Status::Corruption("identity_aliases holds a malformed sid");
        live[*a] = *b;
      }
    }
    for (const auto& [merged, survivor] : replay.root_of()) {
      auto it = live.find(merged);
      if (it == live.end()) {
        differ(merged, "", "merged_into", survivor.ToHex(), "absent");
      } else {
        if (it->second != survivor) differ(merged, "", "merged_into", survivor.ToHex(), it->second.ToHex());
        live.erase(it);
      }
    }
    for (const auto& [merged, survivor] : live) differ(merged, "", "merged_into", "absent", survivor.ToHex());
  }
  std::sort(diffs.begin(), diffs.end(), [](const ProjectionDifference& a, const ProjectionDifference& b) {
    if (a.sid != b.sid) return a.sid < b.sid;
    if (a.purpose != b.purpose) return a.purpose < b.purpose;
    return a.field < b.field;
  });
  if (diffs.size() > options.max_listed) diffs.resize(options.max_listed);
  report.differences = std::move(diffs);
  Result<erasure::ErasureCheck> erasures = erasure::CheckErasureTables(db.handle());
  if (!erasures.ok()) return erasures.status();
  report.erasure_requests = erasures->requests_ledger;
  report.tombstones = erasures->tombstones_ledger;
  report.erasure_differences = std::move(erasures->differences);
  if (report.erasure_differences.size() > options.max_listed) report.erasure_differences.resize(options.max_listed);
  return report;
}

}  // namespace consentd::service
