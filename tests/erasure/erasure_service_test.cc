// The erasure workflow in-process: filing, verification, propagation through
// FanOut, outcomes through DeliveryListener, completion, shredding,
// tombstones, deadlines, restarts.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>
#include <sqlite3.h>

#include <chrono>
#include <thread>

#include "src/erasure/deadlines.h"
#include "tests/erasure/canary_scan.h"
#include "tests/erasure/erasure_env.h"

namespace consentd::erasure {
namespace {

using service::DeliveryResult;
using testing::Email;
using testing::ErasureEnv;
using testing::Phone;

constexpr int64_t kDay = 86'400'000;

service::ConsentEvent OptIn(const std::string& email, domain::ConsentMethod method = domain::ConsentMethod::kSignupForm,
                            const std::string& system = "") {
  service::ConsentEvent e;
  e.identifiers = {Email(email)};
  e.purpose = "email_marketing";
  e.decision = domain::Decision::kGranted;
  e.source.system = system;
  e.source.method = method;
  return e;
}

service::ConsentEvent At(service::ConsentEvent e, int64_t ms) {
  e.occurred_at_ms = ms;
  return e;
}

ErasureRequest MustGet(ErasureEnv& env, const std::string& id) {
  Result<ErasureRequest> r = env.erasure().Get(id);
  REQUIRE(r.ok());
  return *r;
}

std::string AllPayloads(ErasureEnv& env) {
  std::string all;
  Status s = env.ledger().ScanEntries(0, env.ledger().Size(), [&](uint64_t, std::string_view b) {
    all.append(b);
    all.push_back('\n');
    return Status::Ok();
  });
  REQUIRE(s.ok());
  return all;
}

TEST_CASE("A verified request propagates to every policy system in the transaction of its entry", "[erasure]") {
  ErasureEnv env;
  const std::string id = env.FileVerified("ada@example.com");
  ErasureRequest r = MustGet(env, id);
  CHECK(r.state == RequestState::kPropagating);
  CHECK(FormatDay(r.due) == "2024-02-15");
  REQUIRE(r.systems.size() == env.policy()->systems.size());
  for (const SystemProgress& p : r.systems) CHECK(p.status == "pending");
  std::vector<service::Change> changes = env.fan_out().changes();
  REQUIRE(changes.size() == 1);
  CHECK(changes[0].kind == service::ChangeKind::kErasure);
  CHECK(changes[0].request_id == id);
  CHECK(changes[0].sid == r.sid);
  // The change names the entry that records it.
  std::vector<std::string> kinds;
  for (const EntryRef& e : r.entries) kinds.push_back(e.kind);
  CHECK(kinds == std::vector<std::string>{"erasure.received", "erasure.verified", "erasure.propagating"});
  CHECK(changes[0].seq == r.entries[2].seq);
  CHECK(AllPayloads(env).find("ada@") == std::string::npos);
}

TEST_CASE("An unverified request waits for verification, rejecting needs a reason code", "[erasure]") {
  ErasureEnv env;
  service::ErasureIntakeRequest in;
  in.identifiers = {Email("bob@example.com")};
  in.channel = "email";
  in.requester = "privacy-desk";
  in.received_at_ms = env.clock().NowMillis();
  Result<service::ErasureIntakeResult> filed = env.erasure().File(in);
  REQUIRE(filed.ok());
  CHECK(MustGet(env, filed->request_id).state == RequestState::kReceived);
  CHECK(MustGet(env, filed->request_id).jurisdiction == "gdpr");  // the default
  CHECK(env.fan_out().changes().empty());

  Status bad = env.erasure().Reject(filed->request_id, "");
  CHECK(bad.code() == StatusCode::kInvalidArgument);
  CHECK_THAT(bad.message(), Catch::StartsWith("/reason"));
  CHECK(env.erasure().Reject(filed->request_id, "Free text with a name").code() == StatusCode::kInvalidArgument);

  REQUIRE(env.erasure().Verify(filed->request_id).ok());
  CHECK(MustGet(env, filed->request_id).state == RequestState::kPropagating);
  CHECK(env.fan_out().changes().size() == 1);
  // Now too late to reject or cancel.
  CHECK(env.erasure().Reject(filed->request_id, "identity_not_verified").code() == StatusCode::kFailedPrecondition);
  CHECK(env.erasure().Cancel(filed->request_id, "withdrawn").code() == StatusCode::kFailedPrecondition);
}

TEST_CASE("Rejected and cancelled requests record their reason and stay closed", "[erasure]") {
  ErasureEnv env;
  service::ErasureIntakeRequest in;
  in.identifiers = {Email("carol@example.com")};
  in.channel = "phone";
  in.requester = "desk";
  in.received_at_ms = env.clock().NowMillis();
  Result<service::ErasureIntakeResult> a = env.erasure().File(in);
  REQUIRE(a.ok());
  REQUIRE(env.erasure().Reject(a->request_id, "identity_not_verified").ok());
  ErasureRequest r = MustGet(env, a->request_id);
  CHECK(r.state == RequestState::kRejected);
  CHECK(r.reason == "identity_not_verified");
  CHECK(env.Payloads("erasure.rejected").size() == 1);
  CHECK(env.erasure().Verify(a->request_id).code() == StatusCode::kFailedPrecondition);

  in.identifiers = {Email("dan@example.com")};
  Result<service::ErasureIntakeResult> b = env.erasure().File(in);
  REQUIRE(b.ok());
  REQUIRE(env.erasure().Cancel(b->request_id, "requester_withdrew").ok());
  CHECK(MustGet(env, b->request_id).state == RequestState::kCancelled);
  CHECK(env.erasure().Extend(b->request_id, "complexity").code() == StatusCode::kFailedPrecondition);
}

TEST_CASE("Malformed filings name the field and never echo a value", "[erasure]") {
  ErasureEnv env;
  service::ErasureIntakeRequest in;
  in.identifiers = {Email("not-an-address")};
  in.channel = "api";
  in.requester = "t";
  in.received_at_ms = env.clock().NowMillis();
  Result<service::ErasureIntakeResult> r = env.erasure().File(in);
  REQUIRE_FALSE(r.ok());
  CHECK_THAT(r.status().message(), Catch::StartsWith("/identifiers/0/value"));
  CHECK(r.status().message().find("not-an-address") == std::string::npos);

  in.identifiers = {Email("x@example.com")};
  in.jurisdiction = "mars";
  CHECK_THAT(env.erasure().File(in).status().message(), Catch::StartsWith("/jurisdiction"));
  in.jurisdiction = "gdpr";
  in.channel = "API Channel";
  CHECK_THAT(env.erasure().File(in).status().message(), Catch::StartsWith("/channel"));
  in.channel = "api";
  in.received_at_ms = env.clock().NowMillis() + 3'600'000;
  CHECK_THAT(env.erasure().File(in).status().message(), Catch::StartsWith("/received_at"));
  in.received_at_ms = env.clock().NowMillis();
  in.identifiers.clear();
  CHECK_THAT(env.erasure().File(in).status().message(), Catch::StartsWith("/identifiers"));
  CHECK(env.Payloads("erasure.received").empty());
}

TEST_CASE("When every system confirms, the request completes, is tombstoned and the subject shredded",
          "[erasure]") {
  ErasureEnv env;
  REQUIRE(env.consents().Record(At(OptIn("eve@example.com"), env.clock().NowMillis())).ok());
  const std::string id = env.FileVerified("eve@example.com");
  Result<size_t> none = env.erasure().ProcessReady();
  REQUIRE(none.ok());
  CHECK(*none == 0);  // all pending
  env.ConfirmAll(id);
  Result<size_t> done = env.erasure().ProcessReady();
  REQUIRE(done.ok());
  CHECK(*done == 1);
  ErasureRequest r = MustGet(env, id);
  CHECK(r.state == RequestState::kCompleted);
  CHECK(r.closed_ms > 0);
  CHECK(r.shredded_ms > 0);
  for (const SystemProgress& p : r.systems) {
    CHECK(p.status == "confirmed");
    CHECK(p.outcome_seq > 0);
  }
  Result<std::optional<domain::Sid>> gone = env.registry().Lookup(Email("eve@example.com"));
  REQUIRE(gone.ok());
  CHECK_FALSE(gone->has_value());
  CHECK(env.Payloads("erasure.completed").size() == 1);
  CHECK(env.Payloads("erasure.shredded").size() == 1);
  CHECK(env.Payloads("subject.shredded").size() == 1);
  Result<ErasureStats> stats = env.erasure().Stats();
  REQUIRE(stats.ok());
  CHECK(stats->tombstones == 1);
  CHECK(stats->by_state["completed"] == 1);
  // Processing again changes nothing.
  CHECK(*env.erasure().ProcessReady() == 0);
}

TEST_CASE("One system failing permanently ends partially completed with the failure listed", "[erasure][faults]") {
  ErasureEnv env;
  const std::string id = env.FileVerified("frank@example.com");
  env.Deliver(id, "hubspot", DeliveryResult::kFailed, "http_403");
  env.Deliver(id, "klaviyo", DeliveryResult::kAlreadyDone, "http_404");
  env.ConfirmAll(id);
  REQUIRE(env.erasure().ProcessReady().ok());
  ErasureRequest r = MustGet(env, id);
  CHECK(r.state == RequestState::kPartiallyCompleted);
  CHECK(r.shredded_ms > 0);
  std::vector<std::string> p = env.Payloads("erasure.partially_completed");
  REQUIRE(p.size() == 1);
  nlohmann::json j = nlohmann::json::parse(p[0]);
  CHECK(j["failures"] == nlohmann::json::array({"hubspot"}));
  CHECK(j["outcomes"]["klaviyo"] == "already_done");
  CHECK(j["outcomes"]["hubspot"] == "failed");
  CHECK(env.Payloads("erasure.completed").empty());
}

TEST_CASE("A system keeping data under a legal exception ends partially completed with the exception listed",
          "[erasure]") {
  ErasureEnv env;
  const std::string id = env.FileVerified("grace@example.com");
  env.Deliver(id, "shopify-main", DeliveryResult::kConfirmed, "exception:gdpr_art17_3_b");
  env.ConfirmAll(id);
  REQUIRE(env.erasure().ProcessReady().ok());
  ErasureRequest r = MustGet(env, id);
  CHECK(r.state == RequestState::kPartiallyCompleted);
  nlohmann::json j = nlohmann::json::parse(env.Payloads("erasure.partially_completed").at(0));
  CHECK(j["exceptions"] == nlohmann::json::array({"shopify-main"}));
  CHECK_FALSE(j.contains("failures"));
}

TEST_CASE("At the deadline the silent systems are listed and the subject is shredded anyway", "[erasure][faults]") {
  ErasureEnv env;
  const std::string id = env.FileVerified("heidi@example.com");
  env.Deliver(id, "hubspot", DeliveryResult::kConfirmed);
  // The day of the deadline is still in time.
  env.clock().Set(EndOfDayMillis(MustGet(env, id).due) - 1);
  REQUIRE(env.erasure().ProcessReady().ok());
  CHECK(MustGet(env, id).state == RequestState::kPropagating);
  CHECK(MustGet(env, id).Overdue(env.clock().NowMillis()) == false);
  env.clock().Set(EndOfDayMillis(MustGet(env, id).due));
  ListFilter overdue;
  overdue.overdue = true;
  CHECK(env.erasure().List(overdue)->size() == 1);
  REQUIRE(env.erasure().ProcessReady().ok());
  ErasureRequest r = MustGet(env, id);
  CHECK(r.state == RequestState::kPartiallyCompleted);
  CHECK(r.shredded_ms > 0);
  for (const SystemProgress& p : r.systems) CHECK(p.status == (p.system == "hubspot" ? "confirmed" : "deadline_passed"));
  nlohmann::json j = nlohmann::json::parse(env.Payloads("erasure.partially_completed").at(0));
  CHECK(j["deadline_passed"] == true);
  CHECK(j["failures"].size() == 3);
  // A late answer is still recorded against its system.
  env.Deliver(id, "klaviyo", DeliveryResult::kConfirmed);
  CHECK(MustGet(env, id).state == RequestState::kPartiallyCompleted);
  CHECK(env.erasure().List(overdue)->empty());
}

TEST_CASE("An extension is allowed once, with a reason, and only before the first deadline", "[erasure][faults]") {
  ErasureEnv env;
  const std::string a = env.FileVerified("ivan@example.com");
  CHECK(env.erasure().Extend(a, "").code() == StatusCode::kInvalidArgument);
  REQUIRE(env.erasure().Extend(a, "complexity").ok());
  ErasureRequest r = MustGet(env, a);
  CHECK(r.extended);
  CHECK(FormatDay(r.first_due) == "2024-02-15");
  CHECK(FormatDay(r.due) == "2024-04-15");
  Status twice = env.erasure().Extend(a, "complexity");
  CHECK(twice.code() == StatusCode::kFailedPrecondition);
  CHECK_THAT(twice.message(), Catch::Contains("already"));

  const std::string b = env.FileVerified("judy@example.com");
  env.clock().Set(EndOfDayMillis(MustGet(env, b).first_due));  // the first deadline just passed
  Status late = env.erasure().Extend(b, "number_of_requests");
  CHECK(late.code() == StatusCode::kFailedPrecondition);
  CHECK_THAT(late.message(), Catch::Contains("has passed"));
  CHECK_FALSE(MustGet(env, b).extended);
  CHECK(env.Payloads("erasure.extended").size() == 1);
}

TEST_CASE("A duplicate for a subject with an open request links to it, a replay returns the first answer",
          "[erasure]") {
  ErasureEnv env;
  const std::string id = env.FileVerified("kim@example.com");
  service::ErasureIntakeRequest in;
  in.identifiers = {Email("KIM@example.com")};
  in.channel = "webhook:shopify-main";
  in.requester = "shopify-main";
  in.received_at_ms = env.clock().NowMillis();
  in.verified = true;
  in.source_reference = "redact-123";
  Result<service::ErasureIntakeResult> dup = env.erasure().File(in);
  REQUIRE(dup.ok());
  CHECK(dup->request_id == id);
  CHECK(dup->linked_to_open);
  Result<service::ErasureIntakeResult> replay = env.erasure().File(in);
  REQUIRE(replay.ok());
  CHECK(replay->request_id == id);
  CHECK(replay->seq == dup->seq);
  CHECK(MustGet(env, id).duplicates.size() == 1);
  CHECK(env.fan_out().changes().size() == 1);  // one run, not two
  CHECK(env.Payloads("erasure.linked").size() == 1);
}

TEST_CASE("Tombstones block re-creation by API, import and merge paths, recording the source", "[erasure][tombstones]") {
  ErasureEnv env;
  // A bystander who shares nothing with the victim, and one who will try to
  // merge the victim's email into their subject.
  REQUIRE(env.consents().Record(At(OptIn("bystander@example.com"), env.clock().NowMillis())).ok());
  const std::string id = env.FileVerified("mallory@example.com");
  env.ConfirmAll(id);
  REQUIRE(env.erasure().ProcessReady().ok());
  REQUIRE(MustGet(env, id).state == RequestState::kCompleted);
  const uint64_t subjects_before = env.CreatedSubjects();

  // API / webhook path: Record.
  Result<service::RecordResult> api =
      env.consents().Record(At(OptIn("Mallory@Example.com", domain::ConsentMethod::kWebhook, "shopify-main"),
                               env.clock().NowMillis()));
  REQUIRE_FALSE(api.ok());
  CHECK(api.status().code() == StatusCode::kFailedPrecondition);
  CHECK_THAT(api.status().message(), Catch::Contains(id));
  CHECK(api.status().message().find("allory") == std::string::npos);

  // Import path: RecordBatch.
  const int64_t then = env.clock().NowMillis() - kDay;
  std::vector<service::ConsentEvent> rows = {At(OptIn("other@example.com", domain::ConsentMethod::kImport), then),
                                             At(OptIn("mallory@example.com", domain::ConsentMethod::kImport), then)};
  std::vector<Result<service::RecordResult>> imported = env.consents().RecordBatch(rows);
  REQUIRE(imported.size() == 2);
  CHECK(imported[0].ok());
  CHECK(imported[1].status().code() == StatusCode::kFailedPrecondition);

  // Merge / link path: the bystander's email with the erased one.
  service::ConsentEvent merge = At(OptIn("bystander@example.com"), env.clock().NowMillis());
  merge.identifiers.push_back(Email("mallory@example.com"));
  CHECK(env.consents().Record(merge).status().code() == StatusCode::kFailedPrecondition);

  // A webhook link (or any path that resolves through the registry alone).
  identity::ResolveOptions no_create;
  no_create.create_if_missing = false;
  Result<identity::Resolution> link = env.registry().Resolve(
      std::vector<domain::Identifier>{Email("bystander@example.com"), Email("mallory@example.com")}, no_create);
  CHECK(link.status().code() == StatusCode::kFailedPrecondition);

  std::vector<std::string> blocked = env.Payloads("erasure.recreation_blocked");
  REQUIRE(blocked.size() == 4);
  CHECK(nlohmann::json::parse(blocked[3])["method"] == "identity");
  blocked.pop_back();
  nlohmann::json first = nlohmann::json::parse(blocked[0]);
  CHECK(first["request"] == id);
  CHECK(first["source_system"] == "shopify-main");
  CHECK(first["method"] == "webhook");
  CHECK(nlohmann::json::parse(blocked[1])["method"] == "import");
  // Nothing was created for the erased identifier, nothing fanned out.
  CHECK(env.CreatedSubjects() == subjects_before + 1);  // "other" only
  Result<std::optional<domain::Sid>> lookup = env.registry().Lookup(Email("mallory@example.com"));
  REQUIRE(lookup.ok());
  CHECK_FALSE(lookup->has_value());
  // Nothing fanned out, but the erasure re-sent to the one system that
  // tried (the policy's default, tests/erasure/tombstone_test.cc).
  std::vector<service::Change> changes = env.fan_out().changes();
  REQUIRE(changes.size() == 2);
  CHECK(changes[1].kind == service::ChangeKind::kErasure);
  CHECK(changes[1].target_system == "shopify-main");
  CHECK(changes[1].request_id == id);
  CHECK(env.erasure().Stats()->blocked == 4);
}

TEST_CASE("A tombstone is lifted only by a first-party opt-in with evidence dated after the erasure",
          "[erasure][tombstones]") {
  ErasureEnv env;
  const std::string id = env.FileVerified("nina@example.com");
  env.ConfirmAll(id);
  REQUIRE(env.erasure().ProcessReady().ok());
  const int64_t erased_at = env.clock().NowMillis();
  std::vector<domain::Identifier> ids = {Email("nina@example.com")};

  LiftEvidence sync{domain::ConsentMethod::kSync, erased_at + kDay, "notice-v3"};
  CHECK(env.erasure().LiftTombstones(ids, sync).status().code() == StatusCode::kFailedPrecondition);
  LiftEvidence stale{domain::ConsentMethod::kSignupForm, erased_at - kDay, "notice-v3"};
  CHECK(env.erasure().LiftTombstones(ids, stale).status().code() == StatusCode::kFailedPrecondition);
  LiftEvidence no_evidence{domain::ConsentMethod::kSignupForm, erased_at + kDay, ""};
  CHECK(env.erasure().LiftTombstones(ids, no_evidence).status().code() == StatusCode::kInvalidArgument);
  CHECK(env.consents().Record(At(OptIn("nina@example.com"), erased_at)).status().code() ==
        StatusCode::kFailedPrecondition);

  env.clock().Advance(2 * kDay);
  LiftEvidence fresh{domain::ConsentMethod::kSignupForm, erased_at + kDay, "notice-v3"};
  Result<size_t> lifted = env.erasure().LiftTombstones(ids, fresh);
  REQUIRE(lifted.ok());
  CHECK(*lifted == 1);
  nlohmann::json j = nlohmann::json::parse(env.Payloads("tombstone.lifted").at(0));
  CHECK(j["request"] == id);
  CHECK(j["method"] == "signup_form");
  Result<service::RecordResult> back = env.consents().Record(At(OptIn("nina@example.com"), erased_at + kDay));
  REQUIRE(back.ok());
  CHECK(back->sid != MustGet(env, id).sid);  // a new subject, not the erased one
}

TEST_CASE("After completion no file of the data directory holds the subject's raw identifiers, others are intact",
          "[erasure][canary]") {
  ErasureEnv env;
  const std::string victim_email = "Oscar.Canary-9ZQ@Erase-Example.org";
  const std::string victim_phone = "+14155550172";
  const std::string victim_ip = "203.0.113.77";
  const std::string bystander = "Paula.Bystander-4KD@Keep-Example.org";
  service::ConsentEvent v = At(OptIn(victim_email), env.clock().NowMillis());
  v.identifiers.push_back(Phone(victim_phone));
  v.evidence.ip = victim_ip;
  v.evidence.user_agent = "CanaryAgent/7.7 (victim)";
  REQUIRE(env.consents().Record(v).ok());
  service::ConsentEvent b = At(OptIn(bystander), env.clock().NowMillis());
  b.evidence.ip = "198.51.100.23";
  Result<service::RecordResult> kept = env.consents().Record(b);
  REQUIRE(kept.ok());

  service::ErasureIntakeRequest in;
  in.identifiers = {Email(victim_email)};
  in.channel = "api";
  in.requester = "officer";
  in.received_at_ms = env.clock().NowMillis();
  in.verified = true;
  Result<service::ErasureIntakeResult> filed = env.erasure().File(in);
  REQUIRE(filed.ok());
  env.ConfirmAll(filed->request_id);
  REQUIRE(env.erasure().ProcessReady().ok());
  REQUIRE(MustGet(env, filed->request_id).shredded_ms > 0);
  env.Close();

  for (const std::string& needle : {victim_email, std::string("oscar.canary-9zq@erase-example.org"), victim_phone,
                                    std::string("4155550172"), victim_ip, std::string("CanaryAgent/7.7")}) {
    INFO(needle);
    CHECK(testing::ScanForValue(env.data_dir(), needle).empty());
  }
  // The scan can fail: the bystander is still there (sealed, but its
  // normalized email is not stored in plain anywhere either)...
  CHECK(testing::ScanForValue(env.data_dir(), "erasure.completed").size() > 0);
  env.Reopen();
  // ...and still resolves and decrypts.
  Result<std::optional<domain::Sid>> sid = env.registry().Lookup(Email(bystander));
  REQUIRE(sid.ok());
  REQUIRE(sid->has_value());
  CHECK(**sid == kept->sid);
  Result<std::vector<domain::NormalizedIdentifier>> ids = env.registry().IdentifiersOf(**sid);
  REQUIRE(ids.ok());
  CHECK(ids->at(0).value == "paula.bystander-4kd@keep-example.org");
  Result<std::vector<service::HistoryItem>> h = env.consents().History(**sid);
  REQUIRE(h.ok());
  REQUIRE(h->size() == 1);
  REQUIRE(h->at(0).evidence.has_value());
  CHECK_THAT(*h->at(0).evidence, Catch::Contains("198.51.100.23"));
}

TEST_CASE("A restart mid-propagation resumes: nothing lost, nothing duplicated", "[erasure][faults]") {
  ErasureEnv env;
  const std::string id = env.FileVerified("quinn@example.com");
  env.Deliver(id, "hubspot", DeliveryResult::kConfirmed);
  env.Deliver(id, "klaviyo", DeliveryResult::kConfirmed);
  env.Reopen();
  ErasureRequest r = MustGet(env, id);
  CHECK(r.state == RequestState::kPropagating);
  size_t confirmed = 0;
  for (const SystemProgress& p : r.systems) confirmed += p.status == "confirmed";
  CHECK(confirmed == 2);
  // A redelivered outcome (the dispatcher retried after the crash) is kept once.
  env.Deliver(id, "hubspot", DeliveryResult::kFailed, "http_500");
  CHECK(MustGet(env, id).systems.size() == env.policy()->systems.size());
  env.ConfirmAll(id);
  REQUIRE(env.erasure().ProcessReady().ok());
  r = MustGet(env, id);
  CHECK(r.state == RequestState::kCompleted);
  CHECK(env.fan_out().changes().size() == 1);
  CHECK(env.Payloads("erasure.completed").size() == 1);
  CHECK(env.Payloads("erasure.propagating").size() == 1);
}

TEST_CASE("A failing fan-out stores nothing of the propagation step", "[erasure][faults]") {
  ErasureEnv env;
  service::ErasureIntakeRequest in;
  in.identifiers = {Email("rita@example.com")};
  in.channel = "api";
  in.requester = "o";
  in.received_at_ms = env.clock().NowMillis();
  Result<service::ErasureIntakeResult> filed = env.erasure().File(in);
  REQUIRE(filed.ok());
  env.fan_out().set_fail(true);
  CHECK_FALSE(env.erasure().Verify(filed->request_id).ok());
  ErasureRequest r = MustGet(env, filed->request_id);
  CHECK(r.state == RequestState::kVerified);
  CHECK(r.systems.empty());
  CHECK(env.Payloads("erasure.propagating").empty());
  env.fan_out().set_fail(false);
  // The sweep starts what verification could not.
  REQUIRE(env.erasure().ProcessReady().ok());
  CHECK(MustGet(env, filed->request_id).state == RequestState::kPropagating);
}

TEST_CASE("Requests list by due date, with state, due-before and overdue filters", "[erasure]") {
  ErasureEnv env;
  const std::string gdpr = env.FileVerified("sam@example.com");  // due 2024-02-15
  service::ErasureIntakeRequest in;
  in.identifiers = {Email("tess@example.com")};
  in.jurisdiction = "ccpa";
  in.channel = "web_form";
  in.requester = "o";
  in.received_at_ms = env.clock().NowMillis() - 10 * kDay;  // 2024-01-05 -> due 2024-02-19
  Result<service::ErasureIntakeResult> ccpa = env.erasure().File(in);
  REQUIRE(ccpa.ok());
  ErasureRequest c = MustGet(env, ccpa->request_id);
  CHECK(FormatDay(c.due) == "2024-02-19");
  REQUIRE(c.acknowledge_by.has_value());
  CHECK(FormatDay(*c.acknowledge_by) == "2024-01-19");

  Result<std::vector<ErasureRequest>> all = env.erasure().List({});
  REQUIRE(all.ok());
  REQUIRE(all->size() == 2);
  CHECK((*all)[0].id == gdpr);
  ListFilter received;
  received.state = RequestState::kReceived;
  CHECK(env.erasure().List(received)->size() == 1);
  ListFilter before;
  before.due_before = *ParseDay("2024-02-16");
  CHECK(env.erasure().List(before)->size() == 1);
  ListFilter overdue;
  overdue.overdue = true;
  CHECK(env.erasure().List(overdue)->empty());
  env.clock().Set(EndOfDayMillis(c.due));
  CHECK(env.erasure().List(overdue)->size() == 2);
  CHECK(env.erasure().Stats()->overdue == 2);
}

}  // namespace
}  // namespace consentd::erasure

namespace consentd::erasure {
namespace {

TEST_CASE("Shreds of one round share one checkpoint and are reported only once it succeeded", "[erasure][shred]") {
  ErasureEnv env;
  const std::vector<std::string> emails = {"Wanda.Batch-1@Erase-Example.org", "Wanda.Batch-2@Erase-Example.org",
                                           "Wanda.Batch-3@Erase-Example.org"};
  std::vector<std::string> ids;
  for (const std::string& e : emails) {
    ids.push_back(env.FileVerified(e));
    env.ConfirmAll(ids.back());
  }
  // A reader in the middle of a read transaction keeps the WAL from being
  // checkpointed and truncated. While it reads, the subjects get shredded
  // (one transaction for the three) but no shred is reported; it ends its
  // read once it has seen that, and the waiting checkpoint then succeeds.
  sqlite3* reader = nullptr;
  REQUIRE(sqlite3_open_v2(env.db_path().c_str(), &reader, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_exec(reader, "BEGIN; SELECT count(*) FROM ledger_entries;", nullptr, nullptr, nullptr) == SQLITE_OK);
  int64_t shredded_while_reading = -1, reported_while_reading = -1;
  std::thread releaser([&] {
    auto count = [&](const char* sql) {
      sqlite3* db = nullptr;
      int64_t n = -1;
      if (sqlite3_open_v2(env.db_path().c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
        sqlite3_stmt* st = nullptr;
        if (sqlite3_prepare_v2(db, sql, -1, &st, nullptr) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
          n = sqlite3_column_int64(st, 0);
        }
        sqlite3_finalize(st);
      }
      sqlite3_close(db);
      return n;
    };
    for (int i = 0; i < 400 && shredded_while_reading < 3; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
      shredded_while_reading = count("SELECT count(*) FROM identity_subjects WHERE state = 2");
    }
    reported_while_reading = count("SELECT count(*) FROM erasure_requests WHERE shredded_ms > 0");
    sqlite3_exec(reader, "COMMIT;", nullptr, nullptr, nullptr);
  });
  Result<size_t> done = env.erasure().ProcessReady();
  releaser.join();
  REQUIRE(sqlite3_close(reader) == SQLITE_OK);
  CHECK(shredded_while_reading == 3);
  CHECK(reported_while_reading == 0);
  INFO(done.status().ToString());
  REQUIRE(done.ok());
  CHECK(*done == 3);
  CHECK(env.Payloads("subject.shredded").size() == 3);
  CHECK(env.Payloads("erasure.shredded").size() == 3);
  for (size_t i = 0; i < ids.size(); ++i) {
    Result<ErasureRequest> r = env.erasure().Get(ids[i]);
    REQUIRE(r.ok());
    CHECK(r->state == RequestState::kCompleted);
    CHECK(r->shredded_ms > 0);
    CHECK(testing::ScanForValue(env.data_dir(), emails[i]).empty());
  }
  Result<size_t> again = env.erasure().ProcessReady();
  REQUIRE(again.ok());
  CHECK(*again == 0);  // nothing owed: no second report
}

}  // namespace
}  // namespace consentd::erasure
