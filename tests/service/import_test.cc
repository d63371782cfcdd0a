// ImportFile and ConsentService::RecordBatch: the batch path gives the same
// state, ledger entries and identities as recording one event at a time
// (including merges' neighbours: partial links, replays, GPC, stale and
// unauthorized events); refused rows (malformed, oversized, forged,
// replayed) are reported by line with reasons that never hold a value, and
// the rest is imported; re-running an import records nothing; CSV follows
// RFC 4180.
#include "src/service/import.h"

#include <sqlite3.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>

#include "ledger/entry.h"
#include "src/api/consent_codec.h"
#include "src/app/data_dir.h"
#include "src/base/time_format.h"
#include "src/service/config.h"
#include "src/service/runtime.h"

namespace consentd::service {
namespace {

using nlohmann::json;

int64_t T(const char* rfc3339) {
  Result<int64_t> t = ParseRfc3339(rfc3339);
  REQUIRE(t.ok());
  return *t;
}

struct ImportEnv {
  ImportEnv() : clock(T("2025-06-01T00:00:00Z")) {
    std::string tmpl = (std::filesystem::temp_directory_path() / "consentd-import-XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    root = tmpl;
    Result<app::DataDir> d = app::DataDir::Init(root + "/data", "", "test.example/import");
    REQUIRE(d.ok());
    Result<Config> c = Config::Load(d->config_path());
    REQUIRE(c.ok());
    RuntimeOptions o;
    o.clock = &clock;
    Result<std::unique_ptr<Runtime>> r = Runtime::Open(*c, o);
    INFO(r.status().ToString());
    REQUIRE(r.ok());
    rt = std::move(*r);
  }
  ~ImportEnv() {
    rt.reset();
    std::error_code ec;
    std::filesystem::remove_all(root, ec);
  }
  std::string Write(const std::string& name, const std::string& text) {
    std::string path = root + "/" + name;
    std::ofstream out(path, std::ios::binary);
    out << text;
    return path;
  }
  ImportReport Import(const std::string& path, bool one_by_one, size_t batch = 37,
                      ImportFormat format = ImportFormat::kJsonLines, size_t first_batch = SIZE_MAX,
                      std::vector<uint64_t>* rows_after_batch = nullptr) {
    ImportOptions o;
    o.format = format;
    o.one_by_one = one_by_one;
    o.batch_events = batch;
    o.first_batch_events = first_batch;
    if (rows_after_batch != nullptr) {
      o.progress = [rows_after_batch](const ImportProgress& p) { rows_after_batch->push_back(p.rows); };
    }
    o.max_listed = 1000;
    o.decode_json = [](std::string_view line, ConsentEvent* e) -> Status {
      json j = json::parse(line.begin(), line.end(), nullptr, false);
      if (j.is_discarded() || !j.is_object()) return Status::InvalidArgument("not a JSON object");
      if (auto p = api::DecodeConsentEvent(j, "", e)) return Status::InvalidArgument(p->detail);
      return Status::Ok();
    };
    Result<ImportReport> r = ImportFile(rt->consents(), path, o);
    INFO(r.status().ToString());
    REQUIRE(r.ok());
    return *r;
  }

  FakeClock clock;
  std::string root;
  std::unique_ptr<Runtime> rt;
};

// Renames sids by order of first appearance, so two runs with random sids
// compare.
struct SidNames {
  std::map<std::string, std::string> names;
  std::string operator()(const std::string& hex) {
    auto [it, fresh] = names.try_emplace(hex, "S" + std::to_string(names.size()));
    return it->second;
  }
};

// What must be equal between the two paths: consent entries in order (sid
// renamed, the evidence commitment's random nonce dropped), identity entries
// as a multiset, and the state rows (without seq).
struct Snapshot {
  std::vector<std::string> consent;
  std::multiset<std::string> identity;
  std::set<std::string> state;
  std::multiset<std::string> outbox;  // system|subject|purpose|decision|state (the batch orders rows by subject)
  size_t grouped_entries = 0;         // subjects.created entries
};

Snapshot Take(Runtime& rt) {
  Snapshot s;
  SidNames names;
  std::vector<json> identity;
  Status st = rt.ledger().ScanEntries(0, rt.ledger().Size(), [&](uint64_t, std::string_view bytes) {
    Result<ledger::EntryView> e = ledger::ParseEntry(bytes);
    REQUIRE(e.ok());
    json p = json::parse(e->payload);
    if (e->kind == "consent.recorded") {
      p["sid"] = names(p["sid"]);
      if (p.contains("evidence")) p["evidence"] = "commitment";
      s.consent.push_back(p.dump());
    } else if (e->kind == "subjects.created") {
      // An import batch's new subjects, several to an entry: compared as
      // the subject.created entries one at a time writes.
      ++s.grouped_entries;
      for (json& member : p.at("subjects")) {
        member["kind_of_entry"] = "subject.created";
        identity.push_back(member);
      }
    } else if (std::string(e->kind).rfind("subject.", 0) == 0) {
      p["kind_of_entry"] = std::string(e->kind);
      identity.push_back(p);
    }
    return Status::Ok();
  });
  REQUIRE(st.ok());
  for (json& p : identity) {
    for (const char* k : {"sid", "merged_sid"}) {
      if (p.contains(k)) p[k] = names(p[k]);  // subjects with no consent get later names
    }
    if (p.contains("sids")) {
      for (auto& x : p["sids"]) x = names(x);
    }
    if (p.contains("review")) p["review"] = "R";
    s.identity.insert(p.dump());
  }
  auto lock = rt.database().Lock();
  sqlite3_stmt* q = nullptr;
  REQUIRE(sqlite3_prepare_v2(rt.database().handle(),
                             "SELECT hex(sid), purpose, decision, occurred_ms, source_system, source_rank, method "
                             "FROM consent_state",
                             -1, &q, nullptr) == SQLITE_OK);
  while (sqlite3_step(q) == SQLITE_ROW) {
    std::string hex = reinterpret_cast<const char*>(sqlite3_column_text(q, 0));
    for (char& c : hex) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string row = names(hex);
    for (int i = 1; i < 7; ++i) row += "|" + std::string(reinterpret_cast<const char*>(sqlite3_column_text(q, i)));
    s.state.insert(row);
  }
  sqlite3_finalize(q);
  REQUIRE(sqlite3_prepare_v2(rt.database().handle(),
                             "SELECT system, hex(sid), kind, purpose, decision, state FROM outbox", -1, &q,
                             nullptr) == SQLITE_OK);
  while (sqlite3_step(q) == SQLITE_ROW) {
    auto text = [&](int i) { return std::string(reinterpret_cast<const char*>(sqlite3_column_text(q, i))); };
    std::string hex = text(1);
    for (char& c : hex) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    s.outbox.insert(text(0) + "|" + names(hex) + "|" + text(2) + "|" + text(3) + "|" + text(4) + "|" + text(5));
  }
  sqlite3_finalize(q);
  return s;
}

// A history with repeats, replays, partial identifier overlaps, stale and
// unauthorized events and GPC signals.
std::string History(int events, unsigned seed) {
  std::mt19937 rng(seed);
  const char* purposes[] = {"email_marketing", "sms_marketing", "analytics", "personalised_ads", "sale_sharing"};
  const char* systems[] = {"shopify-main", "hubspot", "klaviyo", "mailchimp", ""};
  const char* methods[] = {"checkout_checkbox", "preference_centre", "unsubscribe_link", "import", "support_agent"};
  std::string out;
  std::vector<json> earlier;
  for (int i = 0; i < events; ++i) {
    if (!earlier.empty() && rng() % 10 == 0) {  // a replay of an earlier row
      out += earlier[rng() % earlier.size()].dump() + "\n";
      continue;
    }
    const int person = static_cast<int>(rng() % 60);
    json ids = json::array({{{"kind", "email"}, {"value", "Person" + std::to_string(person) + "@Example.com"}}});
    if (rng() % 4 == 0) ids.push_back({{"kind", "phone"}, {"value", "+4420794600" + std::to_string(10 + person)}});
    json e = {{"identifiers", ids},
              {"decision", rng() % 2 ? "granted" : "withdrawn"},
              {"occurred_at", FormatTimestampMillis(T("2024-01-01T00:00:00Z") + (rng() % 1000) * 3600000LL)}};
    json source = {{"method", methods[rng() % 5]}};
    const char* system = systems[rng() % 5];
    if (*system) source["system"] = system;
    if (rng() % 15 == 0) {
      e["decision"] = "withdrawn";
      source["method"] = "gpc";
    } else {
      e["purpose"] = purposes[rng() % 5];
    }
    e["source"] = source;
    if (rng() % 3 == 0) e["event_id"] = "ev-" + std::to_string(i);
    if (rng() % 5 == 0) e["evidence"] = {{"ip", "192.0.2." + std::to_string(person)}};
    if (rng() % 6 == 0) e["notice"] = {{"id", "privacy"}, {"version", "v" + std::to_string(rng() % 3)}};
    earlier.push_back(e);
    out += e.dump() + "\n";
  }
  return out;
}

// The consent entries of both paths, entry by entry, in ledger order (each
// entry holds its event's outcome against the state before it).
void CheckSameConsentEntries(const Snapshot& a, const Snapshot& b) {
  REQUIRE(a.consent.size() == b.consent.size());
  for (size_t i = 0; i < a.consent.size(); ++i) {
    INFO("consent entry " << i);
    CHECK(a.consent[i] == b.consent[i]);
  }
}

TEST_CASE("import: the batch path gives the same results as recording one event at a time") {
  const std::string history = History(600, 7);
  ImportEnv one, batch;
  ImportReport r1 = one.Import(one.Write("h.jsonl", history), /*one_by_one=*/true);
  ImportReport r2 = batch.Import(batch.Write("h.jsonl", history), /*one_by_one=*/false, 37);
  CHECK(r1.rows == 600);
  CHECK(r2.rows == r1.rows);
  CHECK(r2.recorded == r1.recorded);
  CHECK(r2.duplicates == r1.duplicates);
  CHECK(r2.rejected == r1.rejected);
  INFO(r1.ToText());
  CHECK(r2.entries == r1.entries);
  CHECK(r1.duplicates > 0);
  Snapshot a = Take(*one.rt), b = Take(*batch.rt);
  CheckSameConsentEntries(a, b);
  CHECK(a.identity == b.identity);
  CHECK(a.grouped_entries == 0);
  CHECK(b.grouped_entries > 0);
  CHECK(a.state == b.state);
  CHECK(!a.state.empty());
  CHECK(a.outbox == b.outbox);
  CHECK(!a.outbox.empty());
  // Some events took the one-by-one path inside the batch (new phone next
  // to a known email): the file has partial overlaps.
  CHECK(batch.rt->ledger().stats().commits < one.rt->ledger().stats().commits / 4);
}

TEST_CASE("import: the first batches double from first_batch_events up to batch_events and give the same results") {
  const std::string history = History(300, 11);
  ImportEnv one, batch;
  ImportReport r1 = one.Import(one.Write("h.jsonl", history), /*one_by_one=*/true);
  std::vector<uint64_t> rows_after;
  ImportReport r2 = batch.Import(batch.Write("h.jsonl", history), /*one_by_one=*/false, 37,
                                 ImportFormat::kJsonLines, /*first_batch=*/5, &rows_after);
  REQUIRE(r1.rejected == 0);
  // Batches of 5, 10, 20, then 37 each (no row of this history is rejected).
  REQUIRE(rows_after.size() >= 5);
  CHECK(std::vector<uint64_t>(rows_after.begin(), rows_after.begin() + 5) == std::vector<uint64_t>{5, 15, 35, 72, 109});
  CHECK(rows_after.back() == 300);
  CHECK(r2.recorded == r1.recorded);
  CHECK(r2.entries == r1.entries);
  Snapshot a = Take(*one.rt), b = Take(*batch.rt);
  CheckSameConsentEntries(a, b);
  CHECK(a.identity == b.identity);
  CHECK(a.state == b.state);
  CHECK(a.outbox == b.outbox);
}

// A history where every event names one person by email only: no event
// needs Record's path, so every batch is resolved whole and the import
// resolves batch N+1 while it writes batch N.
std::string SimpleHistory(int events, int people, unsigned seed) {
  std::mt19937 rng(seed);
  std::string out;
  for (int i = 0; i < events; ++i) {
    const int person = static_cast<int>(rng() % static_cast<unsigned>(people));
    json e = {{"identifiers", json::array({{{"kind", "email"}, {"value", "p" + std::to_string(person) + "@example.com"}}})},
              {"purpose", "email_marketing"},
              {"decision", rng() % 2 ? "granted" : "withdrawn"},
              {"occurred_at", FormatTimestampMillis(T("2024-01-01T00:00:00Z") + i * 60000LL)},
              {"source", {{"system", "klaviyo"}, {"method", "import"}}}};
    out += e.dump() + "\n";
  }
  return out;
}

ConsentEvent Decode(const std::string& line) {
  json j = json::parse(line);
  ConsentEvent e;
  auto p = api::DecodeConsentEvent(j, "", &e);
  REQUIRE_FALSE(p);
  return e;
}

TEST_CASE("import: while one batch is written the next is resolved, and each subject's events keep the file's order") {
  const std::string history = SimpleHistory(900, 25, 5);
  ImportEnv one, batch;
  ImportReport r1 = one.Import(one.Write("h.jsonl", history), /*one_by_one=*/true);
  ImportReport r2 = batch.Import(batch.Write("h.jsonl", history), /*one_by_one=*/false, 16);
  CHECK(r1.rejected == 0);
  CHECK(r2.recorded == r1.recorded);
  CHECK(r2.entries == r1.entries);
  Snapshot a = Take(*one.rt), b = Take(*batch.rt);
  CHECK(a.consent.size() == 900);
  CheckSameConsentEntries(a, b);
  CHECK(a.state == b.state);
  CHECK(a.outbox == b.outbox);
}

TEST_CASE("StartBatch resolves a batch of new and known subjects whole, but not one with an event that needs a link") {
  ImportEnv env;
  const std::string known = R"({"identifiers":[{"kind":"email","value":"known@example.com"}],"purpose":"email_marketing","decision":"granted","occurred_at":"2024-03-01T10:00:00Z","source":{"method":"import"}})";
  const std::string fresh = R"({"identifiers":[{"kind":"email","value":"fresh@example.com"}],"purpose":"email_marketing","decision":"granted","occurred_at":"2024-03-01T10:00:00Z","source":{"method":"import"}})";
  const std::string link = R"({"identifiers":[{"kind":"email","value":"known@example.com"},{"kind":"phone","value":"+442079460010"}],"purpose":"email_marketing","decision":"withdrawn","occurred_at":"2024-03-02T10:00:00Z","source":{"method":"import"}})";
  ConsentService& svc = env.rt->consents();
  std::vector<ConsentEvent> first = {Decode(known)};
  REQUIRE(svc.RecordBatch(first)[0].ok());

  std::vector<ConsentEvent> simple = {Decode(fresh), Decode(known)};
  ConsentService::BatchInProgress b = svc.StartBatch(simple);
  CHECK(b.ResolvedWhole());
  std::vector<Result<RecordResult>> r = svc.FinishBatch(std::move(b));
  REQUIRE(r.size() == 2);
  CHECK(r[0].ok());
  CHECK(r[1].ok());

  std::vector<ConsentEvent> linking = {Decode(fresh), Decode(link)};
  ConsentService::BatchInProgress c = svc.StartBatch(linking);
  CHECK_FALSE(c.ResolvedWhole());  // the phone is linked by Record's path, in FinishBatch
  std::vector<Result<RecordResult>> r2 = svc.FinishBatch(std::move(c));
  REQUIRE(r2.size() == 2);
  REQUIRE(r2[1].ok());
  CHECK(r2[1]->recorded.size() == 1);
  Result<ConsentAnswer> q = svc.Query(domain::Identifier{domain::IdentifierKind::Phone(), "+442079460010", ""}, "email_marketing");
  REQUIRE(q.ok());
  CHECK_FALSE(q->allowed);
}

TEST_CASE("import: evidence of subjects the batch creates is sealed, before they are durable, under their new keys") {
  // Every person is new and has two events with evidence in one batch (the
  // second resolves to the subject the first creates): the pipeline
  // prepares each batch's consent, and seals its evidence, while the
  // batch's subjects and their keys are still being written.
  std::string history;
  for (int i = 0; i < 40; ++i) {
    const int person = i / 2;
    json e = {{"identifiers", json::array({{{"kind", "email"}, {"value", "new" + std::to_string(person) + "@example.com"}}})},
              {"purpose", "email_marketing"},
              {"decision", i % 2 ? "withdrawn" : "granted"},
              {"occurred_at", FormatTimestampMillis(T("2024-01-01T00:00:00Z") + i * 60000LL)},
              {"source", {{"system", "klaviyo"}, {"method", "import"}}},
              {"evidence", {{"ip", "192.0.2." + std::to_string(i)}}}};
    history += e.dump() + "\n";
  }
  ImportEnv env;
  ImportReport r = env.Import(env.Write("h.jsonl", history), /*one_by_one=*/false, 8);
  REQUIRE(r.rejected == 0);
  REQUIRE(r.recorded == 40);
  ConsentService& svc = env.rt->consents();
  for (int person = 0; person < 20; ++person) {
    INFO("person " << person);
    std::optional<domain::Sid> sid;
    Result<ConsentAnswer> q = svc.Query(
        domain::Identifier{domain::IdentifierKind::Email(), "new" + std::to_string(person) + "@example.com", ""},
        "email_marketing", "", &sid);
    REQUIRE(q.ok());
    CHECK_FALSE(q->allowed);  // the later event, a withdrawal
    REQUIRE(sid);
    Result<std::vector<HistoryItem>> h = svc.History(*sid);
    REQUIRE(h.ok());
    REQUIRE(h->size() == 2);
    for (int k = 0; k < 2; ++k) {
      REQUIRE((*h)[k].evidence);
      CHECK(json::parse(*(*h)[k].evidence)["ip"] == "192.0.2." + std::to_string(2 * person + k));
    }
  }
}

// n events, each for a new person <prefix><i>@example.com, withdrawn for
// even i and granted for odd i.
std::vector<ConsentEvent> NewPeople(const std::string& prefix, int n) {
  std::vector<ConsentEvent> events;
  for (int i = 0; i < n; ++i) {
    json e = {{"identifiers", json::array({{{"kind", "email"}, {"value", prefix + std::to_string(i) + "@example.com"}}})},
              {"purpose", "email_marketing"},
              {"decision", i % 2 ? "granted" : "withdrawn"},
              {"occurred_at", "2024-03-01T10:00:00Z"},
              {"source", {{"system", "klaviyo"}, {"method", "import"}}}};
    events.push_back(Decode(e.dump()));
  }
  return events;
}

// StartBatch, keeping what it announced as planned (it must announce).
ConsentService::BatchInProgress StartPlanned(ConsentService& svc, std::span<const ConsentEvent> events,
                                             std::optional<ConsentService::PlannedRun>* planned) {
  ConsentService::BatchInProgress b =
      svc.StartBatch(events, [planned](ConsentService::PlannedRun run) { *planned = std::move(run); });
  REQUIRE(*planned);
  return b;
}

TEST_CASE("FinishBatch drops a run prepared from other resolutions than the durable ones and records the batch afresh") {
  ImportEnv env;
  ConsentService& svc = env.rt->consents();
  const std::vector<ConsentEvent> events = NewPeople("s", 6);
  std::optional<ConsentService::PlannedRun> planned;
  ConsentService::BatchInProgress b = StartPlanned(svc, events, &planned);
  REQUIRE(planned->resolved.size() == 6);
  for (const identity::Resolution& res : planned->resolved) {
    CHECK(res.outcome == identity::Resolution::Outcome::kCreated);
    CHECK(res.created_key);  // the planned subjects' keys, for sealing before they are durable
  }
  // As if a concurrent change had made the registry plan again: the first
  // two subjects swapped. Written as prepared, each would get the other's
  // decision.
  std::swap(planned->resolved[0].sid, planned->resolved[1].sid);
  std::shared_ptr<ConsentService::PreparedRun> early = svc.PrepareRun(std::move(*planned));
  std::vector<Result<RecordResult>> r = svc.FinishBatch(std::move(b), early);
  early.reset();
  REQUIRE(r.size() == 6);
  for (int i = 0; i < 6; ++i) {
    INFO("event " << i);
    REQUIRE(r[i].ok());
    std::optional<domain::Sid> sid;
    Result<ConsentAnswer> q = svc.Query(
        domain::Identifier{domain::IdentifierKind::Email(), "s" + std::to_string(i) + "@example.com", ""},
        "email_marketing", "", &sid);
    REQUIRE(q.ok());
    CHECK(q->allowed == (i % 2 == 1));
    REQUIRE(sid);
    CHECK(r[i]->sid == *sid);
  }
}

TEST_CASE("FinishBatch writes a run prepared from the durable resolutions as it was prepared") {
  ImportEnv env;
  ConsentService& svc = env.rt->consents();
  const std::vector<ConsentEvent> events = NewPeople("w", 4);
  std::optional<ConsentService::PlannedRun> planned;
  ConsentService::BatchInProgress b = StartPlanned(svc, events, &planned);
  std::shared_ptr<ConsentService::PreparedRun> early = svc.PrepareRun(std::move(*planned));
  const uint64_t commits = env.rt->ledger().stats().commits;
  std::vector<Result<RecordResult>> r = svc.FinishBatch(std::move(b), early);
  REQUIRE(r.size() == 4);
  for (const Result<RecordResult>& x : r) {
    REQUIRE(x.ok());
    REQUIRE(x->recorded.size() == 1);
    CHECK(x->recorded[0].outcome == policies::ConflictOutcome::kApply);
  }
  CHECK(env.rt->ledger().stats().commits == commits + 1);  // the prepared run, in one transaction
}

TEST_CASE("import: batches large enough to be checked in two halves give the same results as one at a time") {
  // RecordBatch and ResolveBatch check a batch of 4,096 or more events in
  // two halves at the same time; malformed rows sit in both halves.
  std::string history = History(4400, 13);
  std::string mixed;
  std::istringstream lines(history);
  int n = 0;
  for (std::string line; std::getline(lines, line); ++n) {
    if (n == 700 || n == 3900) mixed += R"({"identifiers":[{"kind":"email","value":"not an email"}],"purpose":"analytics","decision":"granted","occurred_at":"2024-03-01T00:00:00Z","source":{"method":"import"}})" "\n";
    if (n == 1500 || n == 4100) mixed += R"({"identifiers":[{"kind":"email","value":"x@example.com"}],"purpose":"no_such_purpose","decision":"granted","occurred_at":"2024-03-01T00:00:00Z","source":{"method":"import"}})" "\n";
    mixed += line + "\n";
  }
  ImportEnv one, batch;
  ImportReport r1 = one.Import(one.Write("h.jsonl", mixed), /*one_by_one=*/true);
  ImportReport r2 = batch.Import(batch.Write("h.jsonl", mixed), /*one_by_one=*/false, 8192);
  CHECK(r1.rows == 4404);
  CHECK(r2.rows == r1.rows);
  CHECK(r2.recorded == r1.recorded);
  CHECK(r2.duplicates == r1.duplicates);
  CHECK(r2.rejected == r1.rejected);
  CHECK(r1.rejected >= 4);
  INFO(r1.ToText());
  CHECK(r2.entries == r1.entries);
  CHECK(r2.reasons == r1.reasons);
  REQUIRE(r2.listed.size() == r1.listed.size());
  for (size_t i = 0; i < r1.listed.size(); ++i) CHECK(r2.listed[i].line == r1.listed[i].line);
  Snapshot a = Take(*one.rt), b = Take(*batch.rt);
  CHECK(a.consent == b.consent);
  CHECK(a.identity == b.identity);
  CHECK(a.state == b.state);
  CHECK(a.outbox == b.outbox);
}

TEST_CASE("import: a re-run records nothing") {
  ImportEnv env;
  const std::string path = env.Write("h.jsonl", History(300, 11));
  ImportReport first = env.Import(path, false, 64);
  const uint64_t size = env.rt->ledger().Size();
  ImportReport again = env.Import(path, false, 64);
  CHECK(first.recorded > 0);
  CHECK(again.recorded == 0);
  CHECK(again.entries == 0);
  CHECK(again.duplicates == first.recorded + first.duplicates);
  CHECK(env.rt->ledger().Size() == size);
}

TEST_CASE("import: bad rows are refused with line and reason, never a value, and the rest imported") {
  ImportEnv env;
  const std::string good =
      R"({"identifiers":[{"kind":"email","value":"alice.secret@example.com"}],"purpose":"email_marketing",)"
      R"("decision":"granted","occurred_at":"2024-03-01T10:00:00Z","source":{"system":"klaviyo","method":"preference_centre"},"event_id":"e1"})";
  std::string text;
  text += good + "\n";                                                           // 1 ok
  text += "{not json alice.secret@example.com\n";                                // 2 malformed
  text += R"({"identifiers":[{"kind":"email","value":"bob.secret@example.com"}],"purpose":"email_marketing",)"
          R"("decision":"granted","occurred_at":"2024-03-01T10:00:00Z","source":{"system":"evil-crm","method":"api"}})"
          "\n";                                                                  // 3 forged system
  text += R"({"identifiers":[{"kind":"email","value":"carol.secret@example.com"}],"purpose":"email_marketing",)"
          R"("decision":"granted","occurred_at":"yesterday","source":{"method":"api"}})"
          "\n";                                                                  // 4 bad date
  text += "\n";                                                                  // 5 blank: skipped
  text += R"({"identifiers":[{"kind":"email","value":"dave.secret@example.com"}],"purpose":"email_marketing",)"
          R"("decision":"granted","occurred_at":"2024-03-01T10:00:00Z","source":{"method":"api"},"x":")" +
          std::string(70 * 1024, 'a') + "\"}\n";                                 // 6 oversized
  text += good + "\n";                                                           // 7 replay
  text += R"({"identifiers":[{"kind":"email","value":"erin.secret@example.com"}],"purpose":"sms_marketing",)"
          R"("decision":"withdrawn","occurred_at":"2024-03-02T10:00:00Z","source":{"method":"unsubscribe_link"},"secret":"erin"})"
          "\n";                                                                  // 8 unknown member
  text += R"({"identifiers":[{"kind":"email","value":"not-an-email"}],"purpose":"sms_marketing",)"
          R"("decision":"withdrawn","occurred_at":"2024-03-02T10:00:00Z","source":{"method":"unsubscribe_link"}})"
          "\n";                                                                  // 9 bad identifier
  text += R"({"identifiers":[{"kind":"email","value":"frank@example.com"}],"purpose":"sms_marketing",)"
          R"("decision":"withdrawn","occurred_at":"2024-03-02T10:00:00Z","source":{"method":"unsubscribe_link"}})";  // 10 ok, no final LF
  ImportReport r = env.Import(env.Write("bad.jsonl", text), false);
  INFO(r.ToText());
  CHECK(r.rows == 9);
  CHECK(r.recorded == 2);
  CHECK(r.duplicates == 1);
  CHECK(r.rejected == 6);
  std::map<uint64_t, std::string> by_line;
  for (const RejectedRow& row : r.listed) by_line[row.line] = row.reason;
  REQUIRE(by_line.size() == 6);
  CHECK(by_line.count(2));
  CHECK(by_line[3].find("/source/system") != std::string::npos);
  CHECK(by_line[4].find("/occurred_at") != std::string::npos);
  CHECK(by_line[6].find("longer than 65536 bytes") != std::string::npos);
  CHECK(by_line.count(8));
  CHECK(by_line.count(9));
  const std::string all = r.ToText();
  for (const char* value : {"alice", "bob", "carol", "dave", "erin", "not-an-email", "evil-crm", "yesterday"}) {
    INFO(value);
    CHECK(all.find(value) == std::string::npos);
  }
  // Nothing of the refused rows was recorded: 2 events, one entry each.
  uint64_t consent = 0;
  Status st = env.rt->ledger().ScanEntries(0, env.rt->ledger().Size(), [&](uint64_t, std::string_view b) {
    consent += b.find("\"kind\":\"consent.recorded\"") != std::string_view::npos;
    return Status::Ok();
  });
  REQUIRE(st.ok());
  CHECK(consent == 2);
}

TEST_CASE("import: CSV with RFC 4180 quoting, malformed rows refused, a bad header fails the file") {
  ImportEnv env;
  std::string csv =
      "email,phone,purpose,decision,occurred_at,source_system,method,notice_id,notice_version,language,jurisdiction,"
      "event_id,user_agent\r\n"
      "a@example.com,,email_marketing,granted,2024-01-01T00:00:00Z,shopify-main,checkout_checkbox,privacy,v1,en-GB,,"
      "o-1,\"Mozilla/5.0 (X11, Linux) \"\"quoted\"\"\"\r\n"
      "b@example.com,+442079460011,sms_marketing,withdrawn,2024-01-02T00:00:00Z,,unsubscribe_link,,,,,,\"two,\r\n"
      "lines\"\r\n"
      "c@example.com,,email_marketing,granted,2024-01-01T00:00:00Z,,api,,,,,,bad\"quote\r\n"
      "d@example.com,,email_marketing,granted\r\n"
      "e@example.com,,email_marketing,maybe,2024-01-01T00:00:00Z,,api,,,,,,\r\n"
      "a@example.com,,email_marketing,granted,2024-01-01T00:00:00Z,shopify-main,checkout_checkbox,privacy,v1,en-GB,,"
      "o-1,\r\n";
  ImportReport r = env.Import(env.Write("h.csv", csv), false, 100, ImportFormat::kCsv);
  INFO(r.ToText());
  CHECK(r.rows == 6);
  CHECK(r.recorded == 1);
  CHECK(r.duplicates == 1);  // the same source event id
  CHECK(r.rejected == 4);
  std::map<uint64_t, std::string> by_line;
  for (const RejectedRow& row : r.listed) by_line[row.line] = row.reason;
  // Row 2 spans lines 3-4 (a quoted line break: one row), and a line break
  // is not printable evidence.
  CHECK(by_line[3].find("/evidence/user_agent") != std::string::npos);
  CHECK(by_line[5].find("quote") != std::string::npos);   // row 3 starts on line 5
  CHECK(by_line[6].find("fields") != std::string::npos);
  CHECK(by_line[7].find("decision") != std::string::npos);
  CHECK(r.ToText().find("maybe") == std::string::npos);

  ImportOptions o;
  o.format = ImportFormat::kCsv;
  Result<ImportReport> bad = ImportFile(env.rt->consents(), env.Write("bad.csv", "email,purpose,colour\nx,y,z\n"), o);
  CHECK(bad.status().code() == StatusCode::kInvalidArgument);
  Result<ImportReport> missing = ImportFile(env.rt->consents(), env.root + "/none.csv", o);
  CHECK(missing.status().code() == StatusCode::kNotFound);
}

}  // namespace
}  // namespace consentd::service
