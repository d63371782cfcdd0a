#include "src/auth/token_store.h"

#include <nlohmann/json.hpp>

#include "src/base/bytes.h"
#include "src/base/sha256.h"

namespace consentd::auth {
namespace {

constexpr std::string_view kPrefix = "cdt_";
constexpr size_t kIdHex = 16;
constexpr size_t kSecretHex = 64;

bool IsLowerHex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

std::string HashSecret(std::string_view secret) { return HexEncode(AsBytes(Sha256Of(secret))); }

std::string ScopeList(const std::vector<Scope>& scopes) {
  std::string out;
  for (const Scope& s : scopes) {
    if (!out.empty()) out += ',';
    out += s.Name();
  }
  return out;
}

nlohmann::json ScopeArray(const std::vector<Scope>& scopes) {
  nlohmann::json a = nlohmann::json::array();
  for (const Scope& s : scopes) a.push_back(s.Name());
  return a;
}

}  // namespace

Status TokenStore::EnsureSchema(sqlite3* db) {
  return vault::Exec(db,
                     "CREATE TABLE IF NOT EXISTS auth_tokens("
                     " id TEXT PRIMARY KEY, name TEXT NOT NULL, scopes TEXT NOT NULL,"
                     " secret_sha256 TEXT NOT NULL, created_ms INTEGER NOT NULL,"
                     " revoked_ms INTEGER NOT NULL DEFAULT 0)");
}

TokenStore::TokenStore(vault::Database& db, vault::LedgerWriter& writer, const Clock& clock, int64_t cache_ttl_millis)
    : db_(db), writer_(writer), clock_(clock), cache_ttl_millis_(cache_ttl_millis) {}

Result<std::string> TokenStore::Create(std::string_view name, const std::vector<Scope>& scopes) {
  if (name.empty() || name.size() > 64) return Status::InvalidArgument("token name must be 1..64 bytes");
  for (char c : name) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return Status::InvalidArgument("token name has a control character");
  }
  if (scopes.empty()) return Status::InvalidArgument("a token needs at least one scope");
  const std::string id = HexEncode(AsBytes(RandomBytes(kIdHex / 2)));
  const std::string secret = HexEncode(AsBytes(RandomBytes(kSecretHex / 2)));
  const int64_t now = clock_.NowMillis();
  nlohmann::json payload = {{"token_id", id}, {"scopes", ScopeArray(scopes)}};
  Status s = writer_.Write({{"token.created", payload.dump()}}, [&](sqlite3* db, auto) {
    Status es = EnsureSchema(db);
    if (!es.ok()) return es;
    Result<vault::Stmt> ins = vault::Stmt::Prepare(
        db, "INSERT INTO auth_tokens(id, name, scopes, secret_sha256, created_ms) VALUES (?, ?, ?, ?, ?)");
    if (!ins.ok()) return ins.status();
    ins->BindText(1, id).BindText(2, name).BindText(3, ScopeList(scopes)).BindText(4, HashSecret(secret)).Bind(5, now);
    return ins->Run();
  });
  if (!s.ok()) return s;
  return std::string(kPrefix) + id + "_" + secret;
}

Status TokenStore::Revoke(std::string_view id_in) {
  std::string id(id_in);
  if (id.size() != kIdHex || !IsLowerHex(id)) return Status::InvalidArgument("token id must be 16 hex digits");
  bool found = false;
  const int64_t now = clock_.NowMillis();
  Status s = writer_.Write({{"token.revoked", nlohmann::json({{"token_id", id}}).dump()}}, [&](sqlite3* db, auto) {
    Status es = EnsureSchema(db);
    if (!es.ok()) return es;
    Result<vault::Stmt> upd = vault::Stmt::Prepare(
        db, "UPDATE auth_tokens SET revoked_ms = CASE WHEN revoked_ms = 0 THEN ? ELSE revoked_ms END WHERE id = ?");
    if (!upd.ok()) return upd.status();
    upd->Bind(1, now).BindText(2, id);
    Status rs = upd->Run();
    if (!rs.ok()) return rs;
    found = upd->Changes() > 0;
    // An unknown id rolls back, so no "token.revoked" entry is left behind.
    return found ? Status::Ok() : Status::NotFound("no token with id " + id);
  });
  if (!s.ok()) return s;
  std::lock_guard<std::mutex> l(mu_);
  cache_.erase(id);
  return Status::Ok();
}

Result<std::vector<TokenInfo>> TokenStore::List() {
  std::vector<TokenInfo> out;
  auto lock = db_.Lock();
  Result<vault::Stmt> q = vault::Stmt::Prepare(
      db_.handle(), "SELECT id, name, scopes, created_ms, revoked_ms FROM auth_tokens ORDER BY created_ms, id");
  if (!q.ok()) {
    // No table yet means no tokens.
    if (q.status().message().find("no such table") != std::string::npos) return out;
    return q.status();
  }
  while (true) {
    Result<bool> row = q->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    TokenInfo t;
    t.id = q->Text(0);
    t.name = q->Text(1);
    Result<std::vector<Scope>> scopes = ParseScopes(q->Text(2));
    if (scopes.ok()) t.scopes = *scopes;
    t.created_millis = q->Int(3);
    t.revoked_millis = q->Int(4);
    out.push_back(std::move(t));
  }
  return out;
}

Result<TokenStore::Cached> TokenStore::Fetch(const std::string& id) {
  Cached c;
  c.fetched_millis = clock_.NowMillis();
  auto lock = db_.Lock();
  Result<vault::Stmt> q =
      db_.Cached("SELECT name, scopes, secret_sha256, revoked_ms FROM auth_tokens WHERE id = ?");
  if (!q.ok()) {
    if (q.status().message().find("no such table") != std::string::npos) return c;
    return q.status();
  }
  q->BindText(1, id);
  Result<bool> row = q->Step();
  if (!row.ok()) return row.status();
  if (!*row) return c;
  c.exists = true;
  c.principal.token_id = id;
  c.principal.name = q->Text(0);
  Result<std::vector<Scope>> scopes = ParseScopes(q->Text(1));
  if (scopes.ok()) c.principal.scopes = *scopes;
  c.secret_hash = q->Text(2);
  c.revoked = q->Int(3) != 0;
  return c;
}

Result<Principal> TokenStore::Authenticate(std::string_view token) {
  const Status invalid = Status::NotFound("invalid or revoked token");
  if (token.size() != kPrefix.size() + kIdHex + 1 + kSecretHex || token.substr(0, kPrefix.size()) != kPrefix ||
      token[kPrefix.size() + kIdHex] != '_') {
    return invalid;
  }
  std::string id(token.substr(kPrefix.size(), kIdHex));
  std::string_view secret = token.substr(kPrefix.size() + kIdHex + 1);
  if (!IsLowerHex(id) || !IsLowerHex(secret)) return invalid;
  Cached entry;
  {
    std::lock_guard<std::mutex> l(mu_);
    auto it = cache_.find(id);
    if (it != cache_.end() && clock_.NowMillis() - it->second.fetched_millis < cache_ttl_millis_) entry = it->second;
  }
  if (entry.fetched_millis == 0) {
    Result<Cached> fetched = Fetch(id);
    if (!fetched.ok()) return fetched.status();
    entry = *fetched;
    std::lock_guard<std::mutex> l(mu_);
    if (cache_.size() > 100000) cache_.clear();  // bound memory against id spraying
    cache_[id] = entry;
  }
  // Hash and compare even for unknown ids, so timing does not tell them apart.
  std::string presented = HashSecret(secret);
  bool match = ConstantTimeEquals(presented, entry.exists ? entry.secret_hash : std::string(64, '0'));
  if (!entry.exists || !match || entry.revoked) return invalid;
  return entry.principal;
}

}  // namespace consentd::auth
