#include "src/ingest/access_requests.h"

#include <nlohmann/json.hpp>

#include "src/base/bytes.h"

namespace consentd::ingest {

Status AccessRequests::EnsureSchema(sqlite3* db) {
  return vault::Exec(db,
                     "CREATE TABLE IF NOT EXISTS access_requests ("
                     " id TEXT PRIMARY KEY, kind TEXT NOT NULL, system TEXT NOT NULL, sid TEXT,"
                     " reference TEXT NOT NULL, received_ms INTEGER NOT NULL, seq INTEGER NOT NULL);"
                     "CREATE INDEX IF NOT EXISTS access_requests_by_time ON access_requests (received_ms);");
}

Result<AccessRequest> AccessRequests::Record(AccessRequest request, DeliveryRow delivery) {
  request.id = "ar-" + HexEncode(AsBytes(RandomBytes(8)));
  request.received_ms = clock_.NowMillis();
  nlohmann::json payload = {{"request", request.id}, {"system", request.system}, {"channel", "webhook"}};
  if (request.sid) payload["sid"] = request.sid->ToHex();
  ledger::NewEntry entry{request.kind == "shop_redact" ? "shop_redact.received" : "access_request.received",
                         payload.dump()};
  Status s = writer_.Write({std::move(entry)}, [&](sqlite3* db, std::span<const ledger::AppendedEntry> appended) {
    request.seq = appended.empty() ? 0 : appended.front().seq;
    delivery.seq = request.seq;
    Status ds = DeliveryLog::InsertIn(db, delivery);
    if (!ds.ok()) return ds;
    Result<vault::Stmt> st = vault::Stmt::Prepare(
        db, "INSERT INTO access_requests (id, kind, system, sid, reference, received_ms, seq)"
            " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
    if (!st.ok()) return st.status();
    st->BindText(1, request.id).BindText(2, request.kind).BindText(3, request.system);
    if (request.sid) {
      st->BindText(4, request.sid->ToHex());
    } else {
      st->BindNull(4);
    }
    st->BindText(5, request.reference).Bind(6, request.received_ms).Bind(7, static_cast<int64_t>(request.seq));
    return st->Run();
  });
  if (!s.ok()) return s;
  return request;
}

Result<std::vector<AccessRequest>> AccessRequests::List(size_t limit) {
  auto lock = db_.Lock();
  Result<vault::Stmt> st = db_.Cached(
      "SELECT id, kind, system, sid, reference, received_ms, seq FROM access_requests"
      " ORDER BY seq DESC LIMIT ?1");
  if (!st.ok()) return st.status();
  st->Bind(1, static_cast<int64_t>(limit));
  std::vector<AccessRequest> out;
  while (true) {
    Result<bool> row = st->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    AccessRequest r;
    r.id = st->Text(0);
    r.kind = st->Text(1);
    r.system = st->Text(2);
    if (!st->IsNull(3)) {
      Result<domain::Sid> sid = domain::Sid::FromHex(st->Text(3));
      if (sid.ok()) r.sid = *sid;
    }
    r.reference = st->Text(4);
    r.received_ms = st->Int(5);
    r.seq = static_cast<uint64_t>(st->Int(6));
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace consentd::ingest
