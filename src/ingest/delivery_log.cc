#include "src/ingest/delivery_log.h"

namespace consentd::ingest {
namespace {

std::string SetKey(const std::string& system, const std::string& key) { return system + "\n" + key; }

}  // namespace

Status DeliveryLog::EnsureSchema(sqlite3* db) {
  return vault::Exec(db,
                     "CREATE TABLE IF NOT EXISTS webhook_deliveries ("
                     " system TEXT NOT NULL, dedupe_key TEXT NOT NULL, received_ms INTEGER NOT NULL,"
                     " topic TEXT NOT NULL, kind TEXT NOT NULL, outcome TEXT NOT NULL, seq INTEGER,"
                     " PRIMARY KEY (system, dedupe_key)) WITHOUT ROWID;");
}

Status DeliveryLog::InsertIn(sqlite3* db, const DeliveryRow& row) {
  Result<vault::Stmt> st = vault::Stmt::Prepare(
      db, "INSERT INTO webhook_deliveries (system, dedupe_key, received_ms, topic, kind, outcome, seq)"
          " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
  if (!st.ok()) return st.status();
  st->BindText(1, row.system).BindText(2, row.dedupe_key).Bind(3, row.received_ms).BindText(4, row.topic);
  st->BindText(5, row.kind).BindText(6, row.outcome);
  if (row.seq != 0) {
    st->Bind(7, static_cast<int64_t>(row.seq));
  } else {
    st->BindNull(7);
  }
  return st->Run();
}

DeliveryLog::DeliveryLog(vault::LedgerWriter& writer, vault::Database& db, std::chrono::milliseconds flush_interval)
    : writer_(writer), db_(db), interval_(flush_interval) {
  thread_ = std::thread([this] { Run(); });
}

DeliveryLog::~DeliveryLog() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
  (void)Flush();
}

Result<bool> DeliveryLog::Seen(const std::string& system, const std::string& key) {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (queued_.count(SetKey(system, key))) return true;
  }
  auto lock = db_.Lock();
  Result<vault::Stmt> st = db_.Cached("SELECT 1 FROM webhook_deliveries WHERE system = ?1 AND dedupe_key = ?2");
  if (!st.ok()) return st.status();
  st->BindText(1, system).BindText(2, key);
  return st->Step();
}

void DeliveryLog::Queue(DeliveryRow row) {
  {
    std::lock_guard<std::mutex> l(mu_);
    queued_.insert(SetKey(row.system, row.dedupe_key));
    queue_.push_back(std::move(row));
  }
  cv_.notify_one();
}

Status DeliveryLog::Flush() {
  std::lock_guard<std::mutex> f(flush_mu_);
  std::vector<DeliveryRow> rows;
  {
    std::lock_guard<std::mutex> l(mu_);
    rows.swap(queue_);
  }
  if (rows.empty()) return Status::Ok();
  Status s = writer_.Write({}, [&rows](sqlite3* db, auto) {
    for (const DeliveryRow& r : rows) {
      Status is = InsertIn(db, r);
      // A concurrent request recorded the same key first: keep its row.
      if (!is.ok() && is.code() != StatusCode::kAlreadyExists) return is;
    }
    return Status::Ok();
  });
  std::lock_guard<std::mutex> l(mu_);
  if (!s.ok()) {
    // Keep them queued (and seen) for the next flush.
    queue_.insert(queue_.begin(), std::make_move_iterator(rows.begin()), std::make_move_iterator(rows.end()));
    return s;
  }
  for (const DeliveryRow& r : rows) queued_.erase(SetKey(r.system, r.dedupe_key));
  return Status::Ok();
}

void DeliveryLog::Run() {
  std::unique_lock<std::mutex> l(mu_);
  while (!stop_) {
    cv_.wait_for(l, interval_, [this] { return stop_; });
    if (queue_.empty()) continue;
    l.unlock();
    (void)Flush();  // a failed flush keeps its rows queued and is retried
    l.lock();
  }
}

Result<std::vector<DeliveryRow>> DeliveryLog::List(const std::string& system, size_t limit) {
  (void)Flush();
  auto lock = db_.Lock();
  Result<vault::Stmt> st = db_.Cached(
      "SELECT dedupe_key, received_ms, topic, kind, outcome, seq FROM webhook_deliveries WHERE system = ?1"
      " ORDER BY received_ms DESC, dedupe_key LIMIT ?2");
  if (!st.ok()) return st.status();
  st->BindText(1, system).Bind(2, static_cast<int64_t>(limit));
  std::vector<DeliveryRow> out;
  while (true) {
    Result<bool> row = st->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    DeliveryRow r;
    r.system = system;
    r.dedupe_key = st->Text(0);
    r.received_ms = st->Int(1);
    r.topic = st->Text(2);
    r.kind = st->Text(3);
    r.outcome = st->Text(4);
    r.seq = st->IsNull(5) ? 0 : static_cast<uint64_t>(st->Int(5));
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace consentd::ingest
