// TokenStore: bearer tokens for the HTTP API.
//
// A token is "cdt_<id>_<secret>": <id> is 16 hex digits (public, names the
// token in logs and the access log), <secret> 64 hex digits (32 random
// bytes). Only SHA-256(secret) is stored; the token is shown once, at
// creation. Comparison is constant-time. Creating and revoking a token are
// ledger entries ("token.created", "token.revoked": id and scopes, never the
// name, which an operator may have chosen after a person).
//
// Authenticate caches what it read for `cache_ttl`, so a revocation takes
// effect within that time in a running consentd (default 2 s).
//
// Thread-safety: thread-safe.
#ifndef CONSENTD_AUTH_TOKEN_STORE_H_
#define CONSENTD_AUTH_TOKEN_STORE_H_

#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "src/auth/scope.h"
#include "src/base/clock.h"
#include "src/base/result.h"
#include "src/vault/ledger_writer.h"
#include "src/vault/sqlite_database.h"

struct sqlite3;

namespace consentd::auth {

struct TokenInfo {
  std::string id;
  std::string name;
  std::vector<Scope> scopes;
  int64_t created_millis = 0;
  int64_t revoked_millis = 0;  // 0 while active
};

class TokenStore {
 public:
  // Creates the tokens table if missing. Run inside a write hook.
  static Status EnsureSchema(sqlite3* db);

  // `db` reads, `writer` writes; both must outlive the store.
  TokenStore(vault::Database& db, vault::LedgerWriter& writer, const Clock& clock,
             int64_t cache_ttl_millis = 2000);

  // Creates a token; returns the full token string (the only time it is
  // visible). kInvalidArgument for an empty name (1..64 printable bytes).
  Result<std::string> Create(std::string_view name, const std::vector<Scope>& scopes);

  // Revokes by id. kNotFound for an unknown id; revoking twice is OK.
  Status Revoke(std::string_view id);

  Result<std::vector<TokenInfo>> List();

  // Authenticates the token string (without "Bearer "). kNotFound for a
  // malformed, unknown, wrong or revoked token; the message never contains
  // the token.
  Result<Principal> Authenticate(std::string_view token);

 private:
  struct Cached {
    std::string secret_hash;  // hex SHA-256
    Principal principal;
    bool revoked = false;
    bool exists = false;
    int64_t fetched_millis = 0;
  };
  Result<Cached> Fetch(const std::string& id);

  vault::Database& db_;
  vault::LedgerWriter& writer_;
  const Clock& clock_;
  const int64_t cache_ttl_millis_;
  std::mutex mu_;
  std::map<std::string, Cached> cache_;  // guarded by mu_
};

}  // namespace consentd::auth

#endif  // CONSENTD_AUTH_TOKEN_STORE_H_
