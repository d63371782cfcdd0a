// ConsentService and the FanOut seam (src/service/fan_out.h): a recorded
// event that changes a subject's effective decision enqueues exactly one
// change, inside the transaction of its ledger entry; unchanged, stale and
// duplicate events enqueue nothing; GPC enqueues one change per
// sale/sharing purpose; a failing Enqueue stores nothing of the event. Both
// recording paths (Record and RecordBatch). Also: a replay after a merge is
// recognised as a duplicate.
#include <sqlite3.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>

#include "src/app/data_dir.h"
#include "src/base/time_format.h"
#include "src/service/config.h"
#include "src/service/consent_service.h"
#include "src/service/fan_out.h"
#include "src/service/runtime.h"

namespace consentd::service {
namespace {

using domain::Decision;
using domain::Identifier;
using domain::IdentifierKind;
using nlohmann::json;

int64_t T(const char* rfc3339) {
  Result<int64_t> t = ParseRfc3339(rfc3339);
  REQUIRE(t.ok());
  return *t;
}

// Records every call, and writes a row of its own in the caller's
// transaction (fake_outbox) so that tests can see it committed, or not.
class FakeFanOut : public FanOut {
 public:
  Status Enqueue(sqlite3* db, const Change& change) override {
    std::lock_guard<std::mutex> l(mu_);
    calls.push_back(change);
    in_transaction.push_back(sqlite3_get_autocommit(db) == 0);
    if (fail) return Status::Unavailable("fake outbox refuses");
    Status s = vault::Exec(db, "CREATE TABLE IF NOT EXISTS fake_outbox(seq INTEGER NOT NULL, purpose TEXT NOT NULL)");
    if (!s.ok()) return s;
    Result<vault::Stmt> ins = vault::Stmt::Prepare(db, "INSERT INTO fake_outbox(seq, purpose) VALUES (?, ?)");
    if (!ins.ok()) return ins.status();
    ins->Bind(1, static_cast<int64_t>(change.seq)).BindText(2, change.purpose);
    return ins->Run();
  }

  std::mutex mu_;
  std::vector<Change> calls;
  std::vector<bool> in_transaction;
  bool fail = false;
};

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

struct Env {
  explicit Env(const std::function<void(json&)>& edit = nullptr) : clock(T("2025-06-01T00:00:00Z")) {
    std::string tmpl = (std::filesystem::temp_directory_path() / "consentd-fanout-XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    root = tmpl;
    Result<app::DataDir> d = app::DataDir::Init(root + "/data", "", "test.example/fanout");
    REQUIRE(d.ok());
    if (edit) {
      const std::string policy_path = d->data_dir + "/policies/default.json";
      json p = json::parse(ReadAll(policy_path));
      edit(p);
      std::ofstream(policy_path, std::ios::trunc) << p.dump(2);
    }
    Result<Config> c = Config::Load(d->config_path());
    REQUIRE(c.ok());
    RuntimeOptions o;
    o.clock = &clock;
    Result<std::unique_ptr<Runtime>> r = Runtime::Open(*c, o);
    INFO(r.status().ToString());
    REQUIRE(r.ok());
    rt = std::move(*r);
    rt->consents().SetFanOut(&fan_out);
  }
  ~Env() {
    rt.reset();
    std::error_code ec;
    std::filesystem::remove_all(root, ec);
  }
  ConsentService& consents() { return rt->consents(); }

  // Rows of fake_outbox, read through a connection of its own.
  std::vector<std::pair<int64_t, std::string>> Outbox() {
    std::vector<std::pair<int64_t, std::string>> rows;
    auto lock = rt->database().Lock();
    Result<vault::Stmt> q = vault::Stmt::Prepare(rt->database().handle(),
                                                 "SELECT seq, purpose FROM fake_outbox ORDER BY seq");
    if (!q.ok()) return rows;  // no table: nothing was ever committed
    while (true) {
      Result<bool> row = q->Step();
      REQUIRE(row.ok());
      if (!*row) break;
      rows.emplace_back(q->Int(0), q->Text(1));
    }
    return rows;
  }

  std::string root;
  FakeClock clock;
  FakeFanOut fan_out;
  std::unique_ptr<Runtime> rt;
};

Identifier Email(const std::string& v) { return Identifier{IdentifierKind::Email(), v, ""}; }
Identifier Klaviyo(const std::string& v) {
  Result<IdentifierKind> k = IdentifierKind::Parse("klaviyo_profile");
  REQUIRE(k.ok());
  return Identifier{*k, v, ""};
}

ConsentEvent Ev(std::vector<Identifier> ids, const std::string& purpose, Decision d, const char* when,
                const std::string& system, domain::ConsentMethod method) {
  ConsentEvent e;
  e.identifiers = std::move(ids);
  e.purpose = purpose;
  e.decision = d;
  e.occurred_at_ms = T(when);
  e.source.system = system;
  e.source.method = method;
  return e;
}

TEST_CASE("A change of the effective decision enqueues one change with its fields, committed with the entry",
          "[service][fanout]") {
  Env env;
  Result<RecordResult> r = env.consents().Record(Ev({Email("ann@example.com")}, "email_marketing", Decision::kGranted,
                                                    "2025-01-02T03:04:05Z", "klaviyo",
                                                    domain::ConsentMethod::kPreferenceCentre));
  REQUIRE(r.ok());
  REQUIRE(r->recorded.size() == 1);
  REQUIRE(env.fan_out.calls.size() == 1);
  const Change& c = env.fan_out.calls[0];
  CHECK(c.kind == ChangeKind::kConsent);
  CHECK(c.sid == r->sid);
  CHECK(c.seq == r->recorded[0].seq);
  CHECK(c.purpose == "email_marketing");
  CHECK(c.decision == Decision::kGranted);
  CHECK(c.occurred_at_ms == T("2025-01-02T03:04:05Z"));
  CHECK(c.origin_system == "klaviyo");
  CHECK(env.fan_out.in_transaction[0]);
  // The fake's row committed with the entry.
  auto rows = env.Outbox();
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].first == static_cast<int64_t>(r->recorded[0].seq));

  // A later withdrawal by consentd's own API: a change with no origin system.
  Result<RecordResult> w = env.consents().Record(Ev({Email("ann@example.com")}, "email_marketing",
                                                    Decision::kWithdrawn, "2025-02-01T00:00:00Z", "",
                                                    domain::ConsentMethod::kApi));
  REQUIRE(w.ok());
  REQUIRE(env.fan_out.calls.size() == 2);
  CHECK(env.fan_out.calls[1].decision == Decision::kWithdrawn);
  CHECK(env.fan_out.calls[1].origin_system.empty());
  CHECK(env.fan_out.calls[1].seq == w->recorded[0].seq);
}

TEST_CASE("A failing Enqueue fails the event and stores nothing of it", "[service][fanout]") {
  Env env;
  env.fan_out.fail = true;
  const uint64_t size_before = env.rt->ledger().Size();
  Result<RecordResult> r = env.consents().Record(Ev({Email("bob@example.com")}, "email_marketing", Decision::kGranted,
                                                    "2025-01-01T00:00:00Z", "klaviyo",
                                                    domain::ConsentMethod::kPreferenceCentre));
  REQUIRE_FALSE(r.ok());
  CHECK(env.fan_out.calls.size() == 1);
  // Neither the consent entry nor the subject it would have created.
  CHECK(env.rt->ledger().Size() == size_before);
  Result<std::optional<domain::Sid>> sid = env.rt->subjects().Lookup(Email("bob@example.com"));
  REQUIRE(sid.ok());
  CHECK_FALSE(sid->has_value());
  CHECK(env.Outbox().empty());

  // Also for a subject that exists: its state stays as it was.
  env.fan_out.fail = false;
  REQUIRE(env.consents()
              .Record(Ev({Email("bob@example.com")}, "email_marketing", Decision::kGranted, "2025-01-01T00:00:00Z",
                         "klaviyo", domain::ConsentMethod::kPreferenceCentre))
              .ok());
  env.fan_out.fail = true;
  const uint64_t size_mid = env.rt->ledger().Size();
  REQUIRE_FALSE(env.consents()
                    .Record(Ev({Email("bob@example.com")}, "email_marketing", Decision::kWithdrawn,
                               "2025-03-01T00:00:00Z", "klaviyo", domain::ConsentMethod::kUnsubscribeLink))
                    .ok());
  CHECK(env.rt->ledger().Size() == size_mid);
  Result<ConsentAnswer> a = env.consents().Query(Email("bob@example.com"), "email_marketing");
  REQUIRE(a.ok());
  CHECK(a->allowed);
  CHECK(env.Outbox().size() == 1);
}

TEST_CASE("Unchanged, stale and duplicate events enqueue nothing", "[service][fanout]") {
  Env env;
  ConsentService& cs = env.consents();
  auto grant = Ev({Email("cy@example.com")}, "email_marketing", Decision::kGranted, "2025-02-01T00:00:00Z",
                  "klaviyo", domain::ConsentMethod::kPreferenceCentre);
  REQUIRE(cs.Record(grant).ok());
  REQUIRE(env.fan_out.calls.size() == 1);

  SECTION("the same decision again, newer and from another system (no_change, state moves)") {
    Result<RecordResult> r = cs.Record(Ev({Email("cy@example.com")}, "email_marketing", Decision::kGranted,
                                          "2025-03-01T00:00:00Z", "shopify-main",
                                          domain::ConsentMethod::kCheckoutCheckbox));
    REQUIRE(r.ok());
    CHECK(r->recorded[0].outcome == policies::ConflictOutcome::kNoChange);
    CHECK(env.fan_out.calls.size() == 1);
  }
  SECTION("an older withdrawal (stale)") {
    Result<RecordResult> r = cs.Record(Ev({Email("cy@example.com")}, "email_marketing", Decision::kWithdrawn,
                                          "2025-01-01T00:00:00Z", "klaviyo", domain::ConsentMethod::kUnsubscribeLink));
    REQUIRE(r.ok());
    CHECK(r->recorded[0].outcome == policies::ConflictOutcome::kStale);
    CHECK(env.fan_out.calls.size() == 1);
  }
  SECTION("the same event again (duplicate)") {
    Result<RecordResult> r = cs.Record(grant);
    REQUIRE(r.ok());
    CHECK(r->recorded[0].duplicate);
    CHECK(env.fan_out.calls.size() == 1);
  }
  SECTION("a first decision equal to the purpose's default (withdrawn; default denied)") {
    Result<RecordResult> r = cs.Record(Ev({Email("dee@example.com")}, "sms_marketing", Decision::kWithdrawn,
                                          "2025-03-01T00:00:00Z", "klaviyo", domain::ConsentMethod::kUnsubscribeLink));
    REQUIRE(r.ok());
    CHECK(r->recorded[0].outcome == policies::ConflictOutcome::kApply);
    CHECK(env.fan_out.calls.size() == 1);
  }
  CHECK(env.Outbox().size() == 1);
}

TEST_CASE("GPC enqueues one change per sale/sharing purpose whose effective decision changes",
          "[service][fanout]") {
  Env env([](json& p) {
    p["purposes"]["data_broker_sharing"] = {{"description", "Sharing with data brokers."},
                                            {"channel", "sale_sharing"},
                                            {"legal_basis", "consent"},
                                            {"default", "denied"},
                                            {"default_by_jurisdiction", {{"ccpa", "granted"}}}};
  });
  ConsentEvent gpc = Ev({Email("eve@example.com")}, "", Decision::kWithdrawn, "2025-04-01T00:00:00Z", "",
                        domain::ConsentMethod::kGpc);
  gpc.jurisdiction = "ccpa";  // the defaults are "granted" there: the opt-out changes them
  Result<RecordResult> r = env.consents().Record(gpc);
  INFO(r.status().ToString());
  REQUIRE(r.ok());
  REQUIRE(r->recorded.size() == 2);
  REQUIRE(env.fan_out.calls.size() == 2);
  std::set<std::string> purposes;
  for (size_t i = 0; i < 2; ++i) {
    const Change& c = env.fan_out.calls[i];
    purposes.insert(c.purpose);
    CHECK(c.decision == Decision::kWithdrawn);
    CHECK(c.sid == r->sid);
    CHECK(c.origin_system.empty());
  }
  CHECK(purposes == std::set<std::string>{"data_broker_sharing", "sale_sharing"});
  CHECK(env.Outbox().size() == 2);
  // The signal again, later: already withdrawn, nothing changes.
  gpc.occurred_at_ms = T("2025-05-01T00:00:00Z");
  REQUIRE(env.consents().Record(gpc).ok());
  CHECK(env.fan_out.calls.size() == 2);
}

TEST_CASE("The batch path (import) enqueues the same changes as Record, in the run's transaction",
          "[service][fanout]") {
  Env env;
  std::vector<ConsentEvent> events = {
      Ev({Email("f1@example.com")}, "email_marketing", Decision::kGranted, "2025-01-01T00:00:00Z", "klaviyo",
         domain::ConsentMethod::kImport),  // change
      Ev({Email("f1@example.com")}, "email_marketing", Decision::kGranted, "2025-01-02T00:00:00Z", "klaviyo",
         domain::ConsentMethod::kImport),  // same decision: none
      Ev({Email("f1@example.com")}, "email_marketing", Decision::kWithdrawn, "2024-12-01T00:00:00Z", "klaviyo",
         domain::ConsentMethod::kImport),  // stale: none
      Ev({Email("f2@example.com")}, "email_marketing", Decision::kWithdrawn, "2025-01-01T00:00:00Z", "klaviyo",
         domain::ConsentMethod::kImport),  // equals the default: none
      Ev({Email("f1@example.com")}, "email_marketing", Decision::kWithdrawn, "2025-02-01T00:00:00Z", "", 
         domain::ConsentMethod::kImport),  // change, no origin
  };
  events.push_back(events[0]);  // duplicate within the batch: none
  std::vector<Result<RecordResult>> results = env.consents().RecordBatch(events);
  for (const auto& r : results) REQUIRE(r.ok());
  REQUIRE(env.fan_out.calls.size() == 2);
  CHECK(env.fan_out.calls[0].decision == Decision::kGranted);
  CHECK(env.fan_out.calls[0].origin_system == "klaviyo");
  CHECK(env.fan_out.calls[0].seq == results[0]->recorded[0].seq);
  CHECK(env.fan_out.calls[1].decision == Decision::kWithdrawn);
  CHECK(env.fan_out.calls[1].origin_system.empty());
  CHECK(env.fan_out.calls[1].seq == results[4]->recorded[0].seq);
  CHECK(env.fan_out.calls[0].sid == results[0]->sid);
  CHECK(env.Outbox().size() == 2);

  // Re-run: every event is a duplicate, nothing enqueued.
  std::vector<Result<RecordResult>> again = env.consents().RecordBatch(events);
  for (const auto& r : again) {
    REQUIRE(r.ok());
    CHECK(r->recorded[0].duplicate);
  }
  CHECK(env.fan_out.calls.size() == 2);

  // A failing Enqueue fails the run's commit: nothing of it is stored.
  env.fan_out.fail = true;
  const uint64_t size_before = env.rt->ledger().Size();
  std::vector<ConsentEvent> more = {Ev({Email("f1@example.com")}, "email_marketing", Decision::kGranted,
                                       "2025-03-01T00:00:00Z", "klaviyo", domain::ConsentMethod::kImport)};
  std::vector<Result<RecordResult>> failed = env.consents().RecordBatch(more);
  CHECK_FALSE(failed[0].ok());
  CHECK(env.rt->ledger().Size() == size_before);
  CHECK_FALSE(env.consents().Query(Email("f1@example.com"), "email_marketing")->allowed);
}

TEST_CASE("A replay after a merge is recognised as a duplicate, by event id and by fields", "[service][dedupe]") {
  Env env([](json& p) { p["identity"]["auto_merge"] = true; });
  ConsentService& cs = env.consents();
  Result<RecordResult> a = cs.Record(Ev({Email("gus@example.com")}, "sms_marketing", Decision::kGranted,
                                        "2025-01-01T00:00:00Z", "shopify-main",
                                        domain::ConsentMethod::kCheckoutCheckbox));
  REQUIRE(a.ok());
  ConsentEvent by_id = Ev({Klaviyo("K77")}, "email_marketing", Decision::kWithdrawn, "2025-02-01T00:00:00Z",
                          "klaviyo", domain::ConsentMethod::kUnsubscribeLink);
  by_id.event_id = "evt-1";
  ConsentEvent by_fields = Ev({Klaviyo("K77")}, "sms_marketing", Decision::kWithdrawn, "2025-02-02T00:00:00Z",
                              "klaviyo", domain::ConsentMethod::kUnsubscribeLink);
  Result<RecordResult> b = cs.Record(by_id);
  REQUIRE(b.ok());
  REQUIRE(cs.Record(by_fields).ok());
  REQUIRE_FALSE(a->sid == b->sid);
  // Merge: an event naming both (the older subject, a, survives).
  Result<RecordResult> m = cs.Record(Ev({Email("gus@example.com"), Klaviyo("K77")}, "analytics", Decision::kGranted,
                                        "2025-03-01T00:00:00Z", "klaviyo", domain::ConsentMethod::kPreferenceCentre));
  REQUIRE(m.ok());
  REQUIRE(m->sid == a->sid);
  const uint64_t size = env.rt->ledger().Size();
  const size_t calls = env.fan_out.calls.size();
  for (const ConsentEvent& replay : {by_id, by_fields}) {
    Result<RecordResult> r = cs.Record(replay);
    REQUIRE(r.ok());
    CHECK(r->sid == a->sid);
    REQUIRE(r->recorded.size() == 1);
    CHECK(r->recorded[0].duplicate);
    std::vector<Result<RecordResult>> batch = cs.RecordBatch(std::vector<ConsentEvent>{replay});
    REQUIRE(batch[0].ok());
    CHECK(batch[0]->recorded[0].duplicate);
  }
  CHECK(env.rt->ledger().Size() == size);
  CHECK(env.fan_out.calls.size() == calls);
}

}  // namespace
}  // namespace consentd::service
