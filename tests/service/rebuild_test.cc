// CheckConsentProjection: after normal use (records, stale events, merges
// approved by an officer) the replayed projection equals consent_state; a
// tampered, deleted or added row is reported with its sid, purpose and
// field; a tampered alias is reported too.
#include "src/service/rebuild.h"

#include <sqlite3.h>

#include <catch2/catch.hpp>
#include <filesystem>

#include "src/app/data_dir.h"
#include "src/base/time_format.h"
#include "src/service/config.h"
#include "src/service/runtime.h"

namespace consentd::service {
namespace {

using domain::Decision;
using domain::Identifier;
using domain::IdentifierKind;

int64_t T(const char* rfc3339) {
  Result<int64_t> t = ParseRfc3339(rfc3339);
  REQUIRE(t.ok());
  return *t;
}

struct RebuildEnv {
  RebuildEnv() : clock(T("2025-06-01T00:00:00Z")) {
    std::string tmpl = (std::filesystem::temp_directory_path() / "consentd-rebuild-XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    root = tmpl;
    Result<app::DataDir> d = app::DataDir::Init(root + "/data", "", "test.example/rebuild");
    REQUIRE(d.ok());
    Result<Config> c = Config::Load(d->config_path());
    REQUIRE(c.ok());
    RuntimeOptions o;
    o.clock = &clock;
    Result<std::unique_ptr<Runtime>> r = Runtime::Open(*c, o);
    REQUIRE(r.ok());
    rt = std::move(*r);
  }
  ~RebuildEnv() {
    rt.reset();
    std::error_code ec;
    std::filesystem::remove_all(root, ec);
  }
  domain::Sid Record(std::vector<Identifier> ids, const char* purpose, Decision d, const char* when,
                     const char* system = "klaviyo", domain::ConsentMethod m = domain::ConsentMethod::kPreferenceCentre) {
    ConsentEvent e;
    e.identifiers = std::move(ids);
    e.purpose = purpose;
    e.decision = d;
    e.occurred_at_ms = T(when);
    e.source.system = system;
    e.source.method = m;
    Result<RecordResult> r = rt->consents().Record(e);
    INFO(r.status().ToString());
    REQUIRE(r.ok());
    return r->sid;
  }
  RebuildReport Check() {
    Result<RebuildReport> r = CheckConsentProjection(rt->config().database_path(), *rt->policy());
    INFO(r.status().ToString());
    REQUIRE(r.ok());
    return *r;
  }
  void Sql(const std::string& sql) {
    auto lock = rt->database().Lock();
    char* err = nullptr;
    int rc = sqlite3_exec(rt->database().handle(), sql.c_str(), nullptr, nullptr, &err);
    INFO((err ? err : ""));
    sqlite3_free(err);
    REQUIRE(rc == SQLITE_OK);
  }

  FakeClock clock;
  std::string root;
  std::unique_ptr<Runtime> rt;
};

Identifier Email(const char* v) { return Identifier{IdentifierKind::Email(), v, ""}; }
Identifier Phone(const char* v) { return Identifier{IdentifierKind::Phone(), v, ""}; }

TEST_CASE("rebuild check: equal after normal use, including merges and same-decision updates") {
  RebuildEnv env;
  domain::Sid a = env.Record({Email("a@example.com")}, "email_marketing", Decision::kGranted, "2024-01-01T00:00:00Z");
  env.Record({Email("a@example.com")}, "email_marketing", Decision::kWithdrawn, "2024-02-01T00:00:00Z");
  env.Record({Email("a@example.com")}, "email_marketing", Decision::kGranted, "2023-12-01T00:00:00Z");  // stale
  env.Record({Email("a@example.com")}, "email_marketing", Decision::kWithdrawn, "2024-03-01T00:00:00Z");  // same decision, newer
  env.Record({Email("b@example.com")}, "sms_marketing", Decision::kGranted, "2024-01-05T00:00:00Z", "shopify-main",
             domain::ConsentMethod::kCheckoutCheckbox);
  // Two subjects share a strong identifier: a review, approved: a merge.
  env.Record({Phone("+442079460000")}, "analytics", Decision::kGranted, "2024-01-01T00:00:00Z", "");
  ConsentEvent both;
  both.identifiers = {Email("c@example.com")};
  both.purpose = "analytics";
  both.occurred_at_ms = T("2024-01-02T00:00:00Z");
  both.source.method = domain::ConsentMethod::kApi;
  REQUIRE(env.rt->consents().Record(both).ok());
  Result<RecordResult> linked = Status::Internal("unset");
  {
    ConsentEvent e = both;
    e.identifiers = {Email("c@example.com"), Email("a@example.com")};
    linked = env.rt->consents().Record(e);
  }
  Result<std::vector<identity::Review>> reviews = env.rt->subjects().OpenReviews();
  REQUIRE(reviews.ok());
  for (const identity::Review& r : *reviews) REQUIRE(env.rt->subjects().ApproveReview(r.id).ok());
  env.Record({Email("a@example.com")}, "analytics", Decision::kWithdrawn, "2024-04-01T00:00:00Z", "");
  env.Record({Email("c@example.com")}, "email_marketing", Decision::kWithdrawn, "2024-04-02T00:00:00Z");

  RebuildReport r = env.Check();
  INFO(r.ToText());
  CHECK(r.equal());
  CHECK(r.rows_rebuilt == r.rows_live);
  CHECK(r.rows_live >= 4);
  CHECK(r.merges == reviews->size());
  CHECK(r.ToText().find("matches the ledger") != std::string::npos);
  (void)a;
}

TEST_CASE("rebuild check: a tampered, deleted or added row is reported by sid, purpose and field") {
  RebuildEnv env;
  domain::Sid a = env.Record({Email("a@example.com")}, "email_marketing", Decision::kGranted, "2024-01-01T00:00:00Z");
  domain::Sid b = env.Record({Email("b@example.com")}, "sms_marketing", Decision::kWithdrawn, "2024-01-05T00:00:00Z",
                             "shopify-main", domain::ConsentMethod::kUnsubscribeLink);
  REQUIRE(env.Check().equal());

  env.Sql("UPDATE consent_state SET decision = 0 WHERE hex(sid) = upper('" + a.ToHex() + "')");
  RebuildReport r = env.Check();
  INFO(r.ToText());
  CHECK(!r.equal());
  REQUIRE(r.total_differences == 1);
  CHECK(r.differences[0].sid == a);
  CHECK(r.differences[0].purpose == "email_marketing");
  CHECK(r.differences[0].field == "decision");
  CHECK(r.differences[0].ledger == "granted");
  CHECK(r.differences[0].table == "withdrawn");
  CHECK(r.ToText().find(a.ToHex()) != std::string::npos);
  CHECK(r.ToText().find("email_marketing") != std::string::npos);
  CHECK(r.ToText().find("@") == std::string::npos);

  env.Sql("UPDATE consent_state SET decision = 1, occurred_ms = occurred_ms + 1 WHERE hex(sid) = upper('" +
          a.ToHex() + "')");
  env.Sql("DELETE FROM consent_state WHERE hex(sid) = upper('" + b.ToHex() + "')");
  env.Sql("INSERT INTO consent_state SELECT sid, 'analytics', decision, occurred_ms, source_system, source_rank, "
          "method, seq FROM consent_state WHERE hex(sid) = upper('" + a.ToHex() + "')");
  r = env.Check();
  INFO(r.ToText());
  CHECK(r.total_differences == 3);
  std::set<std::string> seen;
  for (const ProjectionDifference& d : r.differences) seen.insert(d.sid.ToHex() + " " + d.purpose + " " + d.field);
  CHECK(seen.count(a.ToHex() + " email_marketing occurred_at"));
  CHECK(seen.count(a.ToHex() + " analytics row"));
  CHECK(seen.count(b.ToHex() + " sms_marketing row"));
}

TEST_CASE("rebuild check: an alias the ledger never recorded is reported") {
  RebuildEnv env;
  domain::Sid a = env.Record({Email("a@example.com")}, "email_marketing", Decision::kGranted, "2024-01-01T00:00:00Z");
  domain::Sid b = env.Record({Email("b@example.com")}, "email_marketing", Decision::kGranted, "2024-01-01T00:00:00Z");
  env.Sql("INSERT INTO identity_aliases(sid, surviving_sid, merged_ms) VALUES (x'" + b.ToHex() + "', x'" + a.ToHex() +
          "', 0)");
  RebuildReport r = env.Check();
  REQUIRE(r.total_differences == 1);
  CHECK(r.differences[0].field == "merged_into");
  CHECK(r.differences[0].sid == b);
}

}  // namespace
}  // namespace consentd::service
