#include "src/erasure/rebuild_check.h"

#include <map>
#include <nlohmann/json.hpp>

#include "ledger/entry.h"
#include "src/vault/sqlite_database.h"

namespace consentd::erasure {
namespace {

struct Replayed {
  std::string state;
  bool extended = false;
  std::string due;
  bool shredded = false;
};

}  // namespace

Result<ErasureCheck> CheckErasureTables(sqlite3* db) {
  ErasureCheck out;
  std::map<std::string, Replayed> requests;
  int64_t tombstones = 0;
  {
    Result<vault::Stmt> scan = vault::Stmt::Prepare(
        db, "SELECT seq, entry FROM ledger_entries WHERE instr(entry, '\"kind\":\"erasure.') > 0 OR "
            "instr(entry, '\"kind\":\"tombstone.lifted\"') > 0 ORDER BY seq");
    if (!scan.ok()) return scan.status();
    for (;;) {
      Result<bool> row = scan->Step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      const std::string bytes = scan->Blob(1);
      Result<ledger::EntryView> e = ledger::ParseEntry(bytes);
      if (!e.ok()) return Status::Corruption("ledger entry " + std::to_string(scan->Int(0)) + " does not parse");
      nlohmann::json p = nlohmann::json::parse(e->payload.begin(), e->payload.end(), nullptr, false);
      if (!p.is_object() || !p.contains("request") || !p["request"].is_string()) {
        return Status::Corruption("ledger entry " + std::to_string(e->seq) + ": erasure payload without a request");
      }
      const std::string id = p["request"];
      const std::string kind(e->kind);
      if (kind == "tombstone.lifted") {
        tombstones -= p.value("tombstones", int64_t{0});
        continue;
      }
      const std::string what = kind.substr(8);  // after "erasure."
      if (what == "linked" || what == "recreation_blocked") continue;
      Replayed& r = requests[id];
      if (what == "received") {
        r.state = "received";
        r.due = p.value("due", "");
      } else if (what == "extended") {
        r.extended = true;
        r.due = p.value("due", "");
      } else if (what == "shredded") {
        r.shredded = true;
      } else {
        r.state = what;
        if (what == "completed" || what == "partially_completed") tombstones += p.value("tombstones", int64_t{0});
      }
    }
  }
  out.requests_ledger = requests.size();
  out.tombstones_ledger = static_cast<uint64_t>(std::max<int64_t>(0, tombstones));

  Result<vault::Stmt> q = vault::Stmt::Prepare(db, "SELECT id, state, extended, due, shredded_ms FROM erasure_requests");
  if (q.ok()) {
    for (;;) {
      Result<bool> row = q->Step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      ++out.requests_table;
      const std::string id = q->Text(0);
      auto it = requests.find(id);
      if (it == requests.end()) {
        out.differences.push_back("request " + id + ": row: ledger absent, table present");
        continue;
      }
      const Replayed& r = it->second;
      auto differ = [&](const std::string& field, const std::string& ledger, const std::string& table) {
        if (ledger != table) out.differences.push_back("request " + id + ": " + field + ": ledger " + ledger + ", table " + table);
      };
      differ("state", r.state, q->Text(1).substr(0, 32));
      differ("extended", r.extended ? "true" : "false", q->Int(2) ? "true" : "false");
      Result<vault::Stmt> due = vault::Stmt::Prepare(db, "SELECT date(? * 86400, 'unixepoch')");
      if (!due.ok()) return due.status();
      due->Bind(1, q->Int(3));
      Result<bool> d = due->Step();
      if (!d.ok()) return d.status();
      differ("due", r.due, due->Text(0));
      differ("shredded", r.shredded ? "true" : "false", q->Int(4) != 0 ? "true" : "false");
      requests.erase(it);
    }
    Result<vault::Stmt> t = vault::Stmt::Prepare(db, "SELECT count(*) FROM tombstones");
    if (!t.ok()) return t.status();
    Result<bool> row = t->Step();
    if (!row.ok()) return row.status();
    out.tombstones_table = static_cast<uint64_t>(t->Int(0));
  }
  for (const auto& [id, r] : requests) out.differences.push_back("request " + id + ": row: ledger present, table absent");
  if (out.tombstones_ledger != out.tombstones_table) {
    out.differences.push_back("tombstones: ledger " + std::to_string(out.tombstones_ledger) + ", table " +
                              std::to_string(out.tombstones_table));
  }
  return out;
}

}  // namespace consentd::erasure
