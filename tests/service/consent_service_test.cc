// ConsentService over a real Runtime (a data directory made by
// DataDir::Init) with a FakeClock: merged subjects' states combine, events
// de-duplicate by event id or by their fields, the clock bounds occurred_at;
// Config::Load names the offending JSON pointer; and consentd, stopped with
// SIGTERM during a burst of POSTs, keeps every event it acknowledged.
#include "src/service/consent_service.h"

#include <catch2/catch.hpp>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sqlite3.h>
#include <sstream>
#include <thread>

#include "src/app/data_dir.h"
#include "src/base/time_format.h"
#include "src/service/bulk_check.h"
#include "src/service/config.h"
#include "src/service/runtime.h"
#include "tests/api/service_harness.h"

namespace consentd::service {
namespace {

using domain::Decision;
using domain::Identifier;
using domain::IdentifierKind;
using nlohmann::json;

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void WriteAll(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  out.close();
  REQUIRE(out.good());
}

int64_t T(const char* rfc3339) {
  Result<int64_t> t = ParseRfc3339(rfc3339);
  REQUIRE(t.ok());
  return *t;
}

// A data directory from DataDir::Init, opened with a FakeClock; `edit`
// changes the default policy document first.
struct Env {
  explicit Env(const std::function<void(json&)>& edit = nullptr) : clock(T("2025-06-01T00:00:00Z")) {
    std::string tmpl = (std::filesystem::temp_directory_path() / "consentd-service-XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    root = tmpl;
    Result<app::DataDir> d = app::DataDir::Init(root + "/data", "", "test.example/service");
    REQUIRE(d.ok());
    if (edit) {
      const std::string policy_path = d->data_dir + "/policies/default.json";
      json p = json::parse(ReadAll(policy_path));
      edit(p);
      WriteAll(policy_path, p.dump(2));
    }
    config_path = d->config_path();
    db_path = d->data_dir + "/consentd.db";
    Open();
  }
  void Open() {
    Result<Config> c = Config::Load(config_path);
    REQUIRE(c.ok());
    RuntimeOptions o;
    o.clock = &clock;
    Result<std::unique_ptr<Runtime>> r = Runtime::Open(*c, o);
    INFO(r.status().ToString());
    REQUIRE(r.ok());
    rt = std::move(*r);
  }
  ~Env() {
    rt.reset();
    std::error_code ec;
    std::filesystem::remove_all(root, ec);
  }
  ConsentService& consents() { return rt->consents(); }

  std::string root;
  std::string config_path, db_path;
  FakeClock clock;
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

TEST_CASE("Merged subjects' states combine: the newest decision of the group wins (auto_merge)", "[service]") {
  Env env([](json& p) { p["identity"]["auto_merge"] = true; });
  ConsentService& cs = env.consents();
  // Two subjects, known through different identifiers.
  Result<RecordResult> a = cs.Record(Ev({Email("ann@example.com")}, "email_marketing", Decision::kGranted,
                                        "2025-01-01T00:00:00Z", "shopify-main",
                                        domain::ConsentMethod::kCheckoutCheckbox));
  REQUIRE(a.ok());
  Result<RecordResult> b = cs.Record(Ev({Klaviyo("K01")}, "email_marketing", Decision::kWithdrawn,
                                        "2025-02-01T00:00:00Z", "klaviyo", domain::ConsentMethod::kUnsubscribeLink));
  REQUIRE(b.ok());
  REQUIRE_FALSE(a->sid == b->sid);
  CHECK(cs.Query(Email("ann@example.com"), "email_marketing")->allowed);
  CHECK_FALSE(cs.Query(Klaviyo("K01"), "email_marketing")->allowed);

  // An event naming both merges them (into the older subject).
  Result<RecordResult> both = cs.Record(Ev({Email("ann@example.com"), Klaviyo("K01")}, "sms_marketing",
                                           Decision::kGranted, "2025-03-01T00:00:00Z", "klaviyo",
                                           domain::ConsentMethod::kPreferenceCentre));
  REQUIRE(both.ok());
  CHECK(both->sid == a->sid);

  // Through either identifier: withdrawn (Feb 1 beats Jan 1), and the sms grant.
  for (const Identifier& id : {Email("ann@example.com"), Klaviyo("K01")}) {
    Result<ConsentAnswer> em = cs.Query(id, "email_marketing");
    REQUIRE(em.ok());
    CHECK_FALSE(em->allowed);
    REQUIRE(em->state.has_value());
    CHECK(em->state->decision == Decision::kWithdrawn);
    CHECK(em->state->source_system == "klaviyo");
    Result<ConsentAnswer> sms = cs.Query(id, "sms_marketing");
    REQUIRE(sms.ok());
    CHECK(sms->allowed);
  }
  // A newer grant for the group applies against the combined state.
  Result<RecordResult> regrant = cs.Record(Ev({Email("ann@example.com")}, "email_marketing", Decision::kGranted,
                                              "2025-04-01T00:00:00Z", "shopify-main",
                                              domain::ConsentMethod::kCheckoutCheckbox));
  REQUIRE(regrant.ok());
  CHECK(regrant->recorded[0].outcome == policies::ConflictOutcome::kApply);
  CHECK(cs.Query(Klaviyo("K01"), "email_marketing")->allowed);
  // An older withdrawal from the merged-away subject's system is stale.
  Result<RecordResult> stale = cs.Record(Ev({Klaviyo("K01")}, "email_marketing", Decision::kWithdrawn,
                                            "2025-03-15T00:00:00Z", "klaviyo",
                                            domain::ConsentMethod::kUnsubscribeLink));
  REQUIRE(stale.ok());
  CHECK(stale->recorded[0].outcome == policies::ConflictOutcome::kStale);
  CHECK(cs.Query(Email("ann@example.com"), "email_marketing")->allowed);

  // History through either sid covers the whole group, oldest first.
  Result<std::vector<HistoryItem>> h = cs.History(b->sid);
  REQUIRE(h.ok());
  CHECK(h->size() == 5);
  for (size_t i = 1; i < h->size(); ++i) CHECK((*h)[i - 1].seq < (*h)[i].seq);

  // The withdrawn list reports the survivor once, only while withdrawn.
  int withdrawn = 0;
  REQUIRE(cs.ForEachWithdrawn("email_marketing", [&](const domain::Sid&) {
              ++withdrawn;
              return Status::Ok();
            }).ok());
  CHECK(withdrawn == 0);
}

TEST_CASE("Subjects merged by an approved review combine their states", "[service]") {
  Env env;  // the default policy: auto_merge false
  ConsentService& cs = env.consents();
  REQUIRE(cs.Record(Ev({Email("bea@example.com")}, "email_marketing", Decision::kWithdrawn, "2025-02-01T00:00:00Z",
                       "mailchimp", domain::ConsentMethod::kUnsubscribeLink))
              .ok());
  REQUIRE(cs.Record(Ev({Klaviyo("K02")}, "email_marketing", Decision::kGranted, "2025-01-01T00:00:00Z", "klaviyo",
                       domain::ConsentMethod::kPreferenceCentre))
              .ok());
  CHECK(cs.Query(Klaviyo("K02"), "email_marketing")->allowed);
  Result<RecordResult> both = cs.Record(Ev({Email("bea@example.com"), Klaviyo("K02")}, "sms_marketing",
                                           Decision::kGranted, "2025-03-01T00:00:00Z", "klaviyo",
                                           domain::ConsentMethod::kPreferenceCentre));
  CHECK(both.status().code() == StatusCode::kFailedPrecondition);
  Result<std::vector<identity::Review>> reviews = env.rt->subjects().OpenReviews();
  REQUIRE(reviews.ok());
  REQUIRE(reviews->size() == 1);
  REQUIRE(env.rt->subjects().ApproveReview((*reviews)[0].id).ok());
  for (const Identifier& id : {Email("bea@example.com"), Klaviyo("K02")}) {
    Result<ConsentAnswer> a = cs.Query(id, "email_marketing");
    REQUIRE(a.ok());
    CHECK_FALSE(a->allowed);  // Feb 1 withdrawal beats Jan 1 grant
    CHECK(a->state->source_system == "mailchimp");
  }
  int withdrawn = 0;
  REQUIRE(cs.ForEachWithdrawn("email_marketing", [&](const domain::Sid&) {
              ++withdrawn;
              return Status::Ok();
            }).ok());
  CHECK(withdrawn == 1);
}

TEST_CASE("Events de-duplicate by the source's event id, or by their fields without one", "[service]") {
  Env env;
  ConsentService& cs = env.consents();
  const uint64_t size0 = env.rt->ledger().Size();
  ConsentEvent e = Ev({Email("cy@example.com")}, "email_marketing", Decision::kGranted, "2025-01-01T00:00:00Z",
                      "shopify-main", domain::ConsentMethod::kCheckoutCheckbox);
  e.event_id = "evt-1";
  Result<RecordResult> first = cs.Record(e);
  REQUIRE(first.ok());
  CHECK_FALSE(first->recorded[0].duplicate);
  const uint64_t size1 = env.rt->ledger().Size();
  CHECK(size1 > size0);

  // Same event id, other fields (a retry that re-rendered the time): duplicate.
  ConsentEvent same_id = e;
  same_id.occurred_at_ms += 1000;
  Result<RecordResult> r1 = cs.Record(same_id);
  REQUIRE(r1.ok());
  CHECK(r1->recorded[0].duplicate);
  CHECK(r1->recorded[0].seq == first->recorded[0].seq);
  CHECK(r1->recorded[0].outcome == first->recorded[0].outcome);
  CHECK(env.rt->ledger().Size() == size1);

  // The same id from another system is another event.
  ConsentEvent other_system = e;
  other_system.source.system = "klaviyo";
  other_system.source.method = domain::ConsentMethod::kPreferenceCentre;
  Result<RecordResult> r2 = cs.Record(other_system);
  REQUIRE(r2.ok());
  CHECK_FALSE(r2->recorded[0].duplicate);

  // Another id with the same fields is another event (the source says so).
  ConsentEvent other_id = e;
  other_id.event_id = "evt-2";
  Result<RecordResult> r3 = cs.Record(other_id);
  REQUIRE(r3.ok());
  CHECK_FALSE(r3->recorded[0].duplicate);
  CHECK(r3->recorded[0].outcome == policies::ConflictOutcome::kNoChange);

  // Without an id: identical fields are a duplicate, any changed field is not.
  ConsentEvent no_id = e;
  no_id.event_id.clear();
  no_id.occurred_at_ms = T("2025-01-02T00:00:00Z");
  Result<RecordResult> f1 = cs.Record(no_id);
  Result<RecordResult> f2 = cs.Record(no_id);
  REQUIRE((f1.ok() && f2.ok()));
  CHECK_FALSE(f1->recorded[0].duplicate);
  CHECK(f2->recorded[0].duplicate);
  CHECK(f2->recorded[0].seq == f1->recorded[0].seq);
  // The identifier in another spelling is the same subject, so the same event.
  ConsentEvent spelled = no_id;
  spelled.identifiers = {Email("  CY@Example.com ")};
  Result<RecordResult> f3 = cs.Record(spelled);
  REQUIRE(f3.ok());
  CHECK(f3->recorded[0].duplicate);
  ConsentEvent changed = no_id;
  changed.notice_id = "notice-2";
  Result<RecordResult> f4 = cs.Record(changed);
  REQUIRE(f4.ok());
  CHECK_FALSE(f4->recorded[0].duplicate);
}

// Runs `sql` on the closed data directory's database file.
void ExecOnFile(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  char* err = nullptr;
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
  INFO((err ? err : ""));
  sqlite3_free(err);
  sqlite3_close(db);
  REQUIRE(rc == SQLITE_OK);
}

std::vector<std::string> ConsentEventIndexes(Env& env) {
  std::vector<std::string> out;
  auto lock = env.rt->database().Lock();
  sqlite3_stmt* q = nullptr;
  REQUIRE(sqlite3_prepare_v2(env.rt->database().handle(),
                             "SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'consent_events' "
                             "ORDER BY name",
                             -1, &q, nullptr) == SQLITE_OK);
  while (sqlite3_step(q) == SQLITE_ROW) out.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(q, 0)));
  sqlite3_finalize(q);
  return out;
}

TEST_CASE("A data directory with the older consent_events layout is migrated at open and keeps de-duplicating "
          "and answering history",
          "[service][migration]") {
  Env env;
  ConsentService& cs = env.consents();
  ConsentEvent a1 = Ev({Email("ana@example.com")}, "email_marketing", Decision::kGranted, "2025-01-01T00:00:00Z",
                       "shopify-main", domain::ConsentMethod::kCheckoutCheckbox);
  a1.event_id = "a-1";
  ConsentEvent a2 = Ev({Email("ana@example.com")}, "email_marketing", Decision::kWithdrawn, "2025-02-01T00:00:00Z",
                       "klaviyo", domain::ConsentMethod::kUnsubscribeLink);
  ConsentEvent b1 = Ev({Email("ben@example.com")}, "analytics", Decision::kGranted, "2025-01-05T00:00:00Z",
                       "shopify-main", domain::ConsentMethod::kCheckoutCheckbox);
  std::vector<uint64_t> seqs;
  domain::Sid ana;
  for (const ConsentEvent* e : {&a1, &b1, &a2}) {
    Result<RecordResult> r = cs.Record(*e);
    REQUIRE(r.ok());
    seqs.push_back(r->recorded[0].seq);
    if (e == &a1) ana = r->sid;
  }
  CHECK(ConsentEventIndexes(env) == std::vector<std::string>{"consent_events_by_subject"});
  // The layout written before: a UNIQUE dedupe column and an index (sid, seq).
  env.rt.reset();
  ExecOnFile(env.db_path,
             "BEGIN;"
             "ALTER TABLE consent_events RENAME TO consent_events_new;"
             "CREATE TABLE consent_events(seq INTEGER PRIMARY KEY, sid BLOB NOT NULL, purpose TEXT NOT NULL,"
             " outcome TEXT NOT NULL, reason TEXT NOT NULL, dedupe BLOB NOT NULL UNIQUE, evidence_record INTEGER);"
             "INSERT INTO consent_events SELECT * FROM consent_events_new;"
             "DROP TABLE consent_events_new;"
             "CREATE INDEX consent_events_by_sid ON consent_events(sid, seq);"
             "COMMIT;");
  env.Open();
  ConsentService& again = env.consents();
  CHECK(ConsentEventIndexes(env) == std::vector<std::string>{"consent_events_by_subject"});
  // Every row is there: each event is a duplicate of its stored entry.
  const uint64_t size = env.rt->ledger().Size();
  size_t i = 0;
  for (const ConsentEvent* e : {&a1, &b1, &a2}) {
    Result<RecordResult> r = again.Record(*e);
    REQUIRE(r.ok());
    CHECK(r->recorded[0].duplicate);
    CHECK(r->recorded[0].seq == seqs[i++]);
  }
  CHECK(env.rt->ledger().Size() == size);
  Result<std::vector<HistoryItem>> h = again.History(ana);
  REQUIRE(h.ok());
  REQUIRE(h->size() == 2);
  CHECK((*h)[0].seq == seqs[0]);
  CHECK((*h)[1].seq == seqs[2]);
  // And new events are recorded as before.
  ConsentEvent a3 = a2;
  a3.occurred_at_ms = T("2025-03-01T00:00:00Z");
  Result<RecordResult> r3 = again.Record(a3);
  REQUIRE(r3.ok());
  CHECK_FALSE(r3->recorded[0].duplicate);
  CHECK(env.rt->ledger().Size() > size);
}

TEST_CASE("occurred_at is bounded by the injected clock, personal data is kept out of the ledger", "[service]") {
  Env env;
  ConsentService& cs = env.consents();
  ConsentEvent e = Ev({Email("di@example.com")}, "analytics", Decision::kGranted, "2025-06-01T00:04:00Z", "",
                      domain::ConsentMethod::kPreferenceCentre);
  CHECK(cs.Record(e).ok());  // 4 minutes ahead: clock skew is tolerated
  e.occurred_at_ms = T("2025-06-01T00:06:00Z");
  Result<RecordResult> future = cs.Record(e);
  CHECK(future.status().code() == StatusCode::kInvalidArgument);
  CHECK(future.status().message().rfind("/occurred_at", 0) == 0);
  env.clock.Advance(2 * 60 * 1000);
  CHECK(cs.Record(e).ok());  // now only 4 minutes ahead

  ConsentEvent bad = Ev({Email("di@example.com")}, "analytics", Decision::kGranted, "2025-05-01T00:00:00Z", "",
                        domain::ConsentMethod::kPreferenceCentre);
  bad.notice_id = "di@example.com";
  Result<RecordResult> r = cs.Record(bad);
  CHECK(r.status().code() == StatusCode::kInvalidArgument);
  CHECK(r.status().message().rfind("/notice/id", 0) == 0);
  CHECK(r.status().message().find("di@example.com") == std::string::npos);
  ConsentEvent bad_email = bad;
  bad_email.notice_id.clear();
  bad_email.identifiers = {Email("di@example.com"), Email("not an address")};
  Result<RecordResult> r2 = cs.Record(bad_email);
  CHECK(r2.status().code() == StatusCode::kInvalidArgument);
  CHECK(r2.status().message().rfind("/identifiers/1/value", 0) == 0);
  CHECK(r2.status().message().find("not an address") == std::string::npos);

  // No entry holds the identifier.
  for (uint64_t seq = 0; seq < env.rt->ledger().Size(); ++seq) {
    Result<std::string> entry = env.rt->ledger().ReadEntry(seq);
    REQUIRE(entry.ok());
    CHECK(entry->find("di@example.com") == std::string::npos);
  }
}

TEST_CASE("Config::Load rejects unknown fields and wrong types, naming the JSON pointer", "[service][config]") {
  std::string tmpl = (std::filesystem::temp_directory_path() / "consentd-config-XXXXXX").string();
  REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
  const std::string dir = tmpl;
  const std::string path = dir + "/consentd.json";
  const json base = {{"data_dir", dir}, {"key_dir", dir + ".keys"}, {"origin", "test.example/c"},
                     {"policies", {"policies/default.json"}}};
  {
    WriteAll(path, base.dump());
    Result<Config> ok = Config::Load(path);
    REQUIRE(ok.ok());
    CHECK(ok->policies[0] == dir + "/policies/default.json");
    CHECK(ok->listen_port == 8080);
  }
  struct Case {
    json patch;
    std::string pointer;
  };
  const std::vector<Case> cases = {
      {{{"colour", "blue"}}, "/colour"},
      {{{"max_body_byte", 1024}}, "/max_body_byte"},
      {{{"data_dir", 5}}, "/data_dir"},
      {{{"http_threads", "8"}}, "/http_threads"},
      {{{"http_threads", 8.5}}, "/http_threads"},
      {{{"http_threads", 0}}, "/http_threads"},
      {{{"max_body_bytes", true}}, "/max_body_bytes"},
      {{{"max_bulk_events", -1}}, "/max_bulk_events"},
      {{{"policies", "policies/default.json"}}, "/policies"},
      {{{"policies", {"a.json", 7}}}, "/policies/1"},
      {{{"listen", "8080"}}, "/listen"},
      {{{"listen", "127.0.0.1:99999"}}, "/listen"},
      {{{"listen", "127.0.0.1:http"}}, "/listen"},
      {{{"log_level", "verbose"}}, "/log_level"},
      {{{"tls_cert", "/etc/cert.pem"}}, "/tls_cert"},
      {{{"database", "../elsewhere.db"}}, "/database"},
      {{{"origin", nullptr}}, "/origin"},
      {{{"checkpoint_interval_ms", 1}}, "/checkpoint_interval_ms"},
  };
  for (const Case& c : cases) {
    json doc = base;
    doc.merge_patch(c.patch);
    if (c.patch.contains("origin") && c.patch["origin"].is_null()) doc.erase("origin");
    INFO(doc.dump());
    WriteAll(path, doc.dump());
    Result<Config> r = Config::Load(path);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == StatusCode::kInvalidArgument);
    CHECK(r.status().message().find(path + ": " + c.pointer) != std::string::npos);
  }
  WriteAll(path, "{not json");
  CHECK(Config::Load(path).status().code() == StatusCode::kInvalidArgument);
  WriteAll(path, "[]");
  CHECK(Config::Load(path).status().code() == StatusCode::kInvalidArgument);
  CHECK(Config::Load(dir + "/missing.json").status().code() == StatusCode::kNotFound);
  // What ToJson writes, Load reads back.
  Config c;
  c.data_dir = dir;
  c.key_dir = dir + ".keys";
  c.origin = "test.example/c";
  c.listen_port = 0;
  c.max_bulk_events = 5;
  WriteAll(path, c.ToJson());
  Result<Config> back = Config::Load(path);
  REQUIRE(back.ok());
  CHECK(back->listen_port == 0);
  CHECK(back->max_bulk_events == 5);
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

TEST_CASE("SIGTERM during a burst of POSTs: every acknowledged event is in the ledger after restart",
          "[service][shutdown]") {
  using testing::Bearer;
  using testing::ParseJson;
  auto h = testing::ServiceHarness::Create();
  const std::string officer = h->CreateToken("officer", "officer");
  REQUIRE(h->Start());

  struct Acked {
    json event;
    uint64_t seq;
  };
  std::mutex mu;
  std::vector<Acked> acked;
  std::atomic<bool> stop{false};
  std::atomic<int> errors_after_stop{0};
  std::atomic<int> started{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < 8; ++c) {
    clients.emplace_back([&, c] {
      auto client = h->Client();
      client->set_read_timeout(10, 0);
      for (int i = 0; i < 5000 && !stop; ++i) {
        json e = {{"identifiers", json::array({{{"kind", "email"}, {"value", "burst" + std::to_string(c) + "-" +
                                                                           std::to_string(i) + "@example.com"}}})},
                  {"purpose", "email_marketing"},
                  {"decision", "granted"},
                  {"occurred_at", "2025-01-02T03:04:05Z"},
                  {"event_id", "burst-" + std::to_string(c) + "-" + std::to_string(i)},
                  {"source", {{"system", "shopify-main"}, {"method", "checkout_checkbox"}}}};
        httplib::Result r = client->Post("/v1/consents", Bearer(officer), e.dump(), "application/json");
        ++started;
        if (!r) {
          ++errors_after_stop;
          if (stop) break;
          continue;
        }
        if (r->status == 201) {
          json j = ParseJson(r->body);
          std::lock_guard<std::mutex> l(mu);
          acked.push_back({e, j["recorded"][0]["seq"].get<uint64_t>()});
        }
      }
    });
  }
  // Let the burst get going, then stop consentd in the middle of it.
  for (int i = 0; i < 2000 && started < 200; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  const int code = h->Stop();
  stop = true;
  for (auto& t : clients) t.join();
  CHECK(code == 0);
  INFO(h->Output().substr(h->Output().size() > 2000 ? h->Output().size() - 2000 : 0));
  CHECK(h->Output().find("consentd.stopped") != std::string::npos);
  REQUIRE(acked.size() > 0);

  testing::CommandResult verify = testing::Consentctl({"ledger", "verify", "--data-dir", h->data_dir()});
  INFO(verify.out << verify.err);
  CHECK(verify.exit_code == 0);

  // Restarted, every acknowledged event is a duplicate of its recorded entry.
  REQUIRE(h->Start());
  auto client = h->Client();
  const long long size = h->LedgerSize();
  int missing = 0;
  for (const Acked& a : acked) {
    CHECK(static_cast<long long>(a.seq) < size);
    httplib::Result r = client->Post("/v1/consents", Bearer(officer), a.event.dump(), "application/json");
    REQUIRE(r);
    json j = ParseJson(r->body);
    if (r->status != 200 || j["recorded"][0]["duplicate"] != true || j["recorded"][0]["seq"] != a.seq) ++missing;
  }
  CHECK(missing == 0);
  CHECK(h->LedgerSize() == size);
  CHECK(h->Stop() == 0);
  WARN(acked.size() << " events acknowledged before SIGTERM");
}

// Answers of Query() one by one, for comparison with the bulk check's.
void CheckAgainstQueries(ConsentService& cs, identity::SubjectRegistry& registry, const std::vector<Identifier>& ids,
                         const std::vector<Result<ConsentAnswer>>& got,
                         const std::vector<std::optional<domain::Sid>>& subjects) {
  REQUIRE(got.size() == ids.size());
  REQUIRE(subjects.size() == ids.size());
  int mismatches = 0;
  for (size_t i = 0; i < ids.size(); ++i) {
    Result<ConsentAnswer> want = cs.Query(ids[i], "email_marketing");
    Result<std::optional<domain::Sid>> sid = registry.Lookup(ids[i]);
    if (want.ok() != got[i].ok()) {
      ++mismatches;
      continue;
    }
    if (!want.ok()) {
      if (want.status().code() != got[i].status().code() || subjects[i]) ++mismatches;
      continue;
    }
    REQUIRE(sid.ok());
    const bool same = want->allowed == got[i]->allowed && want->known_subject == got[i]->known_subject &&
                      want->from_default == got[i]->from_default && want->state == got[i]->state &&
                      *sid == subjects[i];
    if (!same) {
      UNSCOPED_INFO("identifier " << i << " differs");
      ++mismatches;
    }
  }
  CHECK(mismatches == 0);
}

TEST_CASE("A bulk check answers each identifier as Query does, whether read in one part or two", "[service][check]") {
  Env env([](json& p) { p["identity"]["auto_merge"] = true; });
  ConsentService& cs = env.consents();
  identity::SubjectRegistry& registry = env.rt->subjects();
  // 700 subjects (enough for both phases to run in two parts), with varying
  // decisions, times and sources; #7 also known by a Klaviyo id.
  std::vector<ConsentEvent> events;
  for (int i = 0; i < 700; ++i) {
    std::vector<Identifier> ids = {Email("user" + std::to_string(i) + "@example.com")};
    if (i == 7) ids.push_back(Klaviyo("K07"));
    std::string when = "2025-0" + std::to_string(1 + i % 5) + "-1" + std::to_string(i % 10) + "T00:00:00Z";
    events.push_back(Ev(ids, "email_marketing", i % 3 ? Decision::kGranted : Decision::kWithdrawn, when.c_str(),
                        i % 2 ? "klaviyo" : "shopify-main",
                        i % 3 ? domain::ConsentMethod::kCheckoutCheckbox : domain::ConsentMethod::kUnsubscribeLink));
  }
  for (const Result<RecordResult>& r : cs.RecordBatch(events)) REQUIRE(r.ok());
  // A merged group: ann (granted in January) and K01 (withdrawn in
  // February), merged into ann's subject; its answer is K01's withdrawal,
  // which only the merged subject's own row holds.
  REQUIRE(cs.Record(Ev({Email("ann@example.com")}, "email_marketing", Decision::kGranted, "2025-01-01T00:00:00Z",
                       "shopify-main", domain::ConsentMethod::kCheckoutCheckbox))
              .ok());
  REQUIRE(cs.Record(Ev({Klaviyo("K01")}, "email_marketing", Decision::kWithdrawn, "2025-02-01T00:00:00Z", "klaviyo",
                       domain::ConsentMethod::kUnsubscribeLink))
              .ok());
  REQUIRE(cs.Record(Ev({Email("ann@example.com"), Klaviyo("K01")}, "sms_marketing", Decision::kGranted,
                       "2025-03-01T00:00:00Z", "klaviyo", domain::ConsentMethod::kPreferenceCentre))
              .ok());

  // 1,500 identifiers: every subject (in upper case every other time),
  // strangers, duplicates, both identifiers of #7 and of the merged group,
  // and two that do not normalize.
  std::vector<Identifier> ids;
  for (int i = 0; i < 700; ++i) {
    ids.push_back(Email((i % 2 ? "USER" : "user") + std::to_string(i) + "@Example.com"));
    ids.push_back(Email("stranger" + std::to_string(i) + "@example.com"));
  }
  for (int i = 0; i < 40; ++i) ids.push_back(Email("user" + std::to_string(i * 3) + "@example.com"));
  const size_t k07 = ids.size();
  ids.push_back(Klaviyo("K07"));
  const size_t ann = ids.size();
  ids.push_back(Email("ann@example.com"));
  ids.push_back(Klaviyo("K01"));
  ids.push_back(Klaviyo("K99"));
  const size_t bad = ids.size();
  ids.push_back(Email("not an address"));
  ids.push_back(Email("two@@example.com"));
  while (ids.size() < 1500) ids.push_back(Email("late" + std::to_string(ids.size()) + "@example.com"));

  const policies::Purpose* purpose = env.rt->policy()->FindPurpose("email_marketing");
  REQUIRE(purpose != nullptr);
  std::vector<std::vector<Result<ConsentAnswer>>> by_parts;
  std::vector<std::vector<std::optional<domain::Sid>>> subjects_by_parts;
  for (size_t parts : {1, 2}) {
    INFO("parts " << parts);
    std::vector<Result<ConsentAnswer>> got;
    std::vector<std::optional<domain::Sid>> subjects;
    REQUIRE(CheckMany(env.rt->database(), registry, *purpose, "email_marketing", "", ids, parts, &got, &subjects)
                .ok());
    CheckAgainstQueries(cs, registry, ids, got, subjects);
    // Spot checks that do not rely on Query.
    REQUIRE(got[0].ok());
    CHECK(got[0]->state->decision == Decision::kWithdrawn);  // user0: i % 3 == 0
    REQUIRE(got[2].ok());
    CHECK(got[2]->allowed);  // USER1@Example.com, granted
    CHECK(got[1]->state == std::nullopt);
    CHECK_FALSE(got[1]->known_subject);
    CHECK(subjects[k07] == subjects[14]);  // K07 and user7
    REQUIRE(got[ann].ok());
    CHECK(got[ann]->state->decision == Decision::kWithdrawn);
    CHECK(got[ann]->state->source_system == "klaviyo");
    CHECK(subjects[ann] == subjects[ann + 1]);
    REQUIRE(got[ann + 1].ok());
    CHECK(got[ann]->state == got[ann + 1]->state);
    CHECK_FALSE(got[ann + 2]->known_subject);
    CHECK(got[bad].status().code() == StatusCode::kInvalidArgument);
    CHECK(got[bad + 1].status().code() == StatusCode::kInvalidArgument);
    CHECK_FALSE(subjects[bad]);
    by_parts.push_back(std::move(got));
    subjects_by_parts.push_back(std::move(subjects));
  }
  CHECK(subjects_by_parts[0] == subjects_by_parts[1]);
  for (size_t i = 0; i < ids.size(); ++i) {
    if (by_parts[0][i].ok() != by_parts[1][i].ok()) FAIL("identifier " << i);
    if (by_parts[0][i].ok() && !(by_parts[0][i]->state == by_parts[1][i]->state)) FAIL("identifier " << i);
  }
  // Query with its subject out-parameter (GET /v1/consents) names the
  // subject Lookup finds, the merged group included.
  std::vector<Result<ConsentAnswer>> single;
  std::vector<std::optional<domain::Sid>> single_subjects;
  for (const Identifier& id : ids) {
    std::optional<domain::Sid> sid;
    single.push_back(cs.Query(id, "email_marketing", "", &sid));
    single_subjects.push_back(sid);
  }
  CheckAgainstQueries(cs, registry, ids, single, single_subjects);
  REQUIRE(single[ann].ok());
  CHECK(single[ann]->state->decision == Decision::kWithdrawn);
  std::optional<domain::Sid> none = domain::Sid::Random();
  CHECK(cs.Query(ids[0], "no_such_purpose", "", &none).status().code() == StatusCode::kInvalidArgument);

  // Through the query index (query_cache.h): cold (every identifier goes to
  // the batched read), half filled by single queries, and warmed; each time
  // the same answers and subjects as without it.
  REQUIRE(env.rt->EnableQueryCache(1 << 20).ok());
  QueryCache& cache = *env.rt->query_cache();
  for (int round = 0; round < 3; ++round) {
    INFO("round " << round);
    if (round == 1) {
      for (size_t i = 0; i < ids.size(); i += 2) (void)cs.Query(ids[i], "email_marketing");
    }
    if (round == 2) REQUIRE(cs.WarmQueryCache().ok());
    const uint64_t hits = cache.stats().hits;
    std::vector<Result<ConsentAnswer>> got;
    std::vector<std::optional<domain::Sid>> subjects;
    REQUIRE(cs.QueryMany(ids, "email_marketing", "", &got, &subjects).ok());
    CHECK(subjects == subjects_by_parts[0]);
    for (size_t i = 0; i < ids.size(); ++i) {
      if (got[i].ok() != by_parts[0][i].ok()) FAIL("identifier " << i);
      if (got[i].ok() && !(got[i]->state == by_parts[0][i]->state && got[i]->allowed == by_parts[0][i]->allowed &&
                           got[i]->known_subject == by_parts[0][i]->known_subject)) {
        FAIL("identifier " << i);
      }
    }
    if (round == 0) CHECK(cache.stats().hits == hits);
    if (round == 2) CHECK(cache.stats().hits > hits + ids.size());  // lookups and states, merged group aside
  }
}

TEST_CASE("ReadStates gives each subject its group's winning state, nothing for a subject without one",
          "[service][check]") {
  Env env([](json& p) { p["identity"]["auto_merge"] = true; });
  ConsentService& cs = env.consents();
  Result<RecordResult> a = cs.Record(Ev({Email("ann@example.com")}, "email_marketing", Decision::kGranted,
                                        "2025-01-01T00:00:00Z", "shopify-main",
                                        domain::ConsentMethod::kCheckoutCheckbox));
  Result<RecordResult> b = cs.Record(Ev({Klaviyo("K01")}, "email_marketing", Decision::kWithdrawn,
                                        "2025-02-01T00:00:00Z", "klaviyo", domain::ConsentMethod::kUnsubscribeLink));
  Result<RecordResult> c = cs.Record(Ev({Email("cat@example.com")}, "sms_marketing", Decision::kGranted,
                                        "2025-01-01T00:00:00Z", "klaviyo", domain::ConsentMethod::kPreferenceCentre));
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  REQUIRE(c.ok());
  std::vector<domain::Sid> roots = {a->sid, c->sid};
  std::sort(roots.begin(), roots.end());
  const size_t ai = roots[0] == a->sid ? 0 : 1;
  std::vector<Result<std::optional<domain::ConsentState>>> out(2, Status::Internal("unset"));
  ReadStates(env.rt->database(), roots, "email_marketing", out);
  REQUIRE(out[ai].ok());
  REQUIRE(out[ai]->has_value());
  CHECK((*out[ai])->decision == Decision::kGranted);  // not merged yet: ann's own row
  REQUIRE(out[1 - ai].ok());
  CHECK_FALSE(out[1 - ai]->has_value());  // cat has no email_marketing row

  // Merged: K01's newer withdrawal wins for ann's subject.
  REQUIRE(cs.Record(Ev({Email("ann@example.com"), Klaviyo("K01")}, "sms_marketing", Decision::kGranted,
                       "2025-03-01T00:00:00Z", "klaviyo", domain::ConsentMethod::kPreferenceCentre))
              .ok());
  ReadStates(env.rt->database(), roots, "email_marketing", out);
  REQUIRE(out[ai].ok());
  REQUIRE(out[ai]->has_value());
  CHECK((*out[ai])->decision == Decision::kWithdrawn);
  CHECK((*out[ai])->source_system == "klaviyo");
  CHECK((*out[ai])->occurred_at_ms == T("2025-02-01T00:00:00Z"));
  // Nothing to read: nothing written.
  ReadStates(env.rt->database(), {}, "email_marketing", {});
}

}  // namespace
}  // namespace consentd::service
