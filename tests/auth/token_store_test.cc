// TokenStore and scopes: tokens are created, authenticated and revoked
// (revocation seen by another process within the cache TTL), only a hash of
// the secret is stored, malformed tokens never authenticate, and scope
// strings parse strictly.
#include "src/auth/token_store.h"

#include <catch2/catch.hpp>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "src/app/data_dir.h"
#include "src/auth/scope.h"
#include "src/service/config.h"
#include "src/service/runtime.h"

namespace consentd::auth {
namespace {

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// A data directory made by DataDir::Init, opened with a fake clock.
struct Env {
  Env() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "consentd-auth-XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    root = tmpl;
    Result<app::DataDir> d = app::DataDir::Init(root + "/data", "", "test.example/auth");
    REQUIRE(d.ok());
    Result<service::Config> c = service::Config::Load(d->config_path());
    REQUIRE(c.ok());
    config = *c;
    Reopen();
  }
  ~Env() {
    rt.reset();
    std::error_code ec;
    std::filesystem::remove_all(root, ec);
  }
  void Reopen() {
    rt.reset();
    service::RuntimeOptions o;
    o.clock = &clock;
    Result<std::unique_ptr<service::Runtime>> r = service::Runtime::Open(config, o);
    INFO(r.status().ToString());
    REQUIRE(r.ok());
    rt = std::move(*r);
  }
  TokenStore Store(int64_t ttl = 2000) { return TokenStore(rt->database(), rt->writer(), clock, ttl); }

  std::string root;
  FakeClock clock;
  service::Config config;
  std::unique_ptr<service::Runtime> rt;
};

TEST_CASE("A created token authenticates with its name and scopes, a revoked one does not", "[auth]") {
  Env env;
  TokenStore store = env.Store();
  Result<std::string> token = store.Create("crm sync", {Scope::Marketing(), Scope::Ingest("hubspot")});
  REQUIRE(token.ok());
  REQUIRE(token->size() == 4 + 16 + 1 + 64);
  CHECK(token->rfind("cdt_", 0) == 0);
  Result<Principal> p = store.Authenticate(*token);
  REQUIRE(p.ok());
  CHECK(p->token_id == token->substr(4, 16));
  CHECK(p->name == "crm sync");
  CHECK(p->Has(Scope::Marketing()));
  CHECK(p->Has(Scope::Ingest("hubspot")));
  CHECK(p->Has(Scope::AnyIngest()));
  CHECK_FALSE(p->Has(Scope::Ingest("klaviyo")));
  CHECK_FALSE(p->Has(Scope::Officer()));
  CHECK_FALSE(p->HasAny({Scope::Officer(), Scope::Admin()}));

  Result<std::string> other = store.Create("other", {Scope::Officer()});
  REQUIRE(other.ok());
  CHECK(*other != *token);

  REQUIRE(store.Revoke(p->token_id).ok());
  Result<Principal> after = store.Authenticate(*token);
  CHECK(after.status().code() == StatusCode::kNotFound);
  CHECK(after.status().message().find(token->substr(21)) == std::string::npos);
  CHECK(store.Revoke(p->token_id).ok());  // twice is fine
  CHECK(store.Authenticate(*other).ok());  // others unaffected

  Result<std::vector<TokenInfo>> list = store.List();
  REQUIRE(list.ok());
  REQUIRE(list->size() == 2);
  for (const TokenInfo& info : *list) {
    CHECK((info.revoked_millis != 0) == (info.id == p->token_id));
    CHECK(info.created_millis == env.clock.NowMillis());
  }

  CHECK(store.Revoke("0123456789abcdef").code() == StatusCode::kNotFound);
  CHECK(store.Revoke("not-an-id").code() == StatusCode::kInvalidArgument);
  CHECK(store.Create("", {Scope::Admin()}).status().code() == StatusCode::kInvalidArgument);
  CHECK(store.Create(std::string(65, 'n'), {Scope::Admin()}).status().code() == StatusCode::kInvalidArgument);
  CHECK(store.Create("tab\tname", {Scope::Admin()}).status().code() == StatusCode::kInvalidArgument);
  CHECK(store.Create("no scopes", {}).status().code() == StatusCode::kInvalidArgument);
}

TEST_CASE("A revocation by another process takes effect after the cache TTL", "[auth]") {
  Env env;
  TokenStore serving = env.Store(/*ttl=*/2000);   // consentd's store
  TokenStore admin = env.Store(/*ttl=*/2000);     // consentctl's store, same database
  Result<std::string> token = admin.Create("tool", {Scope::Marketing()});
  REQUIRE(token.ok());
  REQUIRE(serving.Authenticate(*token).ok());  // cached now
  REQUIRE(admin.Revoke(token->substr(4, 16)).ok());
  env.clock.Advance(1000);
  CHECK(serving.Authenticate(*token).ok());  // still within the TTL
  env.clock.Advance(1001);
  CHECK(serving.Authenticate(*token).status().code() == StatusCode::kNotFound);
  // The store that revoked it saw it at once.
  CHECK_FALSE(admin.Authenticate(*token).ok());

  // Likewise a token created elsewhere after an unknown-token lookup was
  // cached becomes valid after the TTL at the latest.
  Result<std::string> fresh = admin.Create("fresh", {Scope::Auditor()});
  REQUIRE(fresh.ok());
  env.clock.Advance(2001);
  CHECK(serving.Authenticate(*fresh).ok());
}

TEST_CASE("Only a hash of the token secret is stored", "[auth]") {
  Env env;
  std::string token;
  {
    TokenStore store = env.Store();
    Result<std::string> t = store.Create("hashed", {Scope::Admin()});
    REQUIRE(t.ok());
    token = *t;
  }
  const std::string secret = token.substr(21);
  env.rt.reset();  // close, so that the WAL is checkpointed into the file
  std::string files;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(env.root)) {
    if (entry.is_regular_file()) files += ReadAll(entry.path().string());
  }
  REQUIRE_FALSE(files.empty());
  CHECK(files.find(secret) == std::string::npos);
  CHECK(files.find(secret.substr(0, 32)) == std::string::npos);
  CHECK(files.find(token.substr(4, 16)) != std::string::npos);  // the public id is there
  // After reopening, the token still authenticates (from the hash).
  env.Reopen();
  CHECK(env.Store().Authenticate(token).ok());
}

TEST_CASE("Malformed and wrong tokens never authenticate", "[auth]") {
  Env env;
  TokenStore store = env.Store();
  Result<std::string> t = store.Create("real", {Scope::Officer()});
  REQUIRE(t.ok());
  const std::string token = *t;
  std::string wrong_secret = token;
  wrong_secret.back() = wrong_secret.back() == 'a' ? 'b' : 'a';
  std::string upper = token;
  for (size_t i = 4; i < upper.size(); ++i) upper[i] = static_cast<char>(std::toupper(upper[i]));
  std::string no_sep = token;
  no_sep[20] = 'x';
  const std::vector<std::string> bad = {
      "",
      "cdt_",
      "cdt_x",
      token.substr(1),
      token + "0",
      token.substr(0, token.size() - 1),
      "xyz_" + token.substr(4),
      upper,
      no_sep,
      wrong_secret,
      "cdt_" + std::string(16, '0') + "_" + std::string(64, '0'),
      token + "\n",
      " " + token,
      std::string("cdt_") + std::string(16, 'g') + "_" + token.substr(21),
  };
  for (const std::string& b : bad) {
    INFO("'" << b << "'");
    Result<Principal> p = store.Authenticate(b);
    CHECK_FALSE(p.ok());
    CHECK(p.status().message().find(token.substr(21)) == std::string::npos);
  }
  CHECK(store.Authenticate(token).ok());
}

TEST_CASE("Scopes parse strictly", "[auth]") {
  for (const char* s : {"officer", "marketing", "auditor", "admin", "ingest:shopify-main", "ingest:a.b_c-9"}) {
    INFO(s);
    Result<Scope> p = Scope::Parse(s);
    REQUIRE(p.ok());
    CHECK(p->Name() == s);
  }
  CHECK(Scope::Parse("ingest:klaviyo")->kind == ScopeKind::kIngest);
  CHECK(Scope::Parse("ingest:klaviyo")->system == "klaviyo");
  for (const char* s : {"", "Officer", "root", "ingest", "ingest:", "ingest:Shopify", "ingest:a b", "ingest:*",
                        "ingest:a/b", " admin"}) {
    INFO("'" << s << "'");
    CHECK_FALSE(Scope::Parse(s).ok());
  }
  CHECK_FALSE(Scope::Parse("ingest:" + std::string(65, 'a')).ok());
  CHECK(Scope::Parse("ingest:" + std::string(64, 'a')).ok());

  Result<std::vector<Scope>> list = ParseScopes("officer, marketing,officer,ingest:klaviyo");
  REQUIRE(list.ok());
  CHECK(list->size() == 3);  // duplicates collapse
  CHECK((*list)[0] == Scope::Officer());
  CHECK((*list)[2] == Scope::Ingest("klaviyo"));
  CHECK_FALSE(ParseScopes("").ok());
  CHECK_FALSE(ParseScopes("officer,").ok());
  CHECK_FALSE(ParseScopes("officer,,admin").ok());
  CHECK_FALSE(ParseScopes("officer,superuser").ok());

  // Scopes do not imply each other.
  Principal admin{"id", "n", {Scope::Admin()}};
  CHECK_FALSE(admin.Has(Scope::Officer()));
  CHECK_FALSE(admin.Has(Scope::Marketing()));
  CHECK_FALSE(admin.Has(Scope::AnyIngest()));
  Principal ingest{"id", "n", {Scope::Ingest("klaviyo")}};
  CHECK(ingest.Has(Scope::AnyIngest()));
  CHECK_FALSE(ingest.Has(Scope::Ingest("shopify-main")));
  Principal none{"id", "n", {}};
  CHECK_FALSE(none.HasAny({Scope::Officer(), Scope::Marketing(), Scope::Auditor(), Scope::Admin(),
                           Scope::AnyIngest()}));
}

}  // namespace
}  // namespace consentd::auth
