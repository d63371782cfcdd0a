// SubjectRegistry::LinkLearnedAndWrite: a downstream system's own id for a
// subject, learned by propagation, linked in the transaction of the
// caller's entries; never a merge; gone when the subject is shredded.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "src/vault/sqlite_database.h"
#include "tests/identity/test_env.h"

namespace consentd::identity {
namespace {

using domain::IdentifierType;
using domain::Sid;
using testing::Email;
using testing::System;
using testing::TestEnv;

Sid NewSubject(TestEnv& env, const std::string& email) {
  std::vector<domain::Identifier> ids = {Email(email)};
  Result<Resolution> r = env.registry().Resolve(ids);
  REQUIRE(r.ok());
  return r->sid;
}

std::vector<std::string> EntriesFrom(TestEnv& env, uint64_t begin) {
  std::vector<std::string> out;
  Status s = env.ledger().ScanEntries(begin, env.ledger().Size(), [&](uint64_t, std::string_view bytes) {
    out.emplace_back(bytes);
    return Status::Ok();
  });
  REQUIRE(s.ok());
  return out;
}

// The caller's side of the transaction: one entry and a row in a table of
// its own, so that a test sees both commit (or not) with the link.
struct CallerWrite {
  std::vector<ledger::NewEntry> entries{{"test.step", R"({"n":1})"}};
  uint64_t seen_seq = 0;
  bool fail = false;
  ledger::WriteHook Hook() {
    return [this](sqlite3* db, std::span<const ledger::AppendedEntry> appended) -> Status {
      if (appended.size() != 1) return Status::Internal("the hook must see its own entries only");
      seen_seq = appended[0].seq;
      Status s = vault::Exec(db, "CREATE TABLE IF NOT EXISTS caller_rows(x INTEGER); INSERT INTO caller_rows VALUES (1)");
      if (!s.ok()) return s;
      return fail ? Status::Internal("caller refuses") : Status::Ok();
    };
  }
};

bool HasSystemId(TestEnv& env, const Sid& sid, const std::string& value) {
  Result<std::vector<domain::NormalizedIdentifier>> ids = env.registry().IdentifiersOf(sid);
  REQUIRE(ids.ok());
  for (const auto& id : *ids) {
    if (id.kind.type() == IdentifierType::kHubSpotContact && id.value == value) return true;
  }
  return false;
}

TEST_CASE("a learned system id is linked to the subject in the transaction of the caller's entries",
          "[identity][learned]") {
  TestEnv env;
  Sid sid = NewSubject(env, "ada@example.com");
  const uint64_t before = env.ledger().Size();
  CallerWrite caller;
  Status s = env.registry().LinkLearnedAndWrite(sid, System(IdentifierType::kHubSpotContact, "4711"),
                                                caller.entries, caller.Hook());
  REQUIRE(s.ok());
  CHECK(HasSystemId(env, sid, "4711"));
  Result<std::optional<Sid>> found = env.registry().Lookup(System(IdentifierType::kHubSpotContact, "4711"));
  REQUIRE(found.ok());
  CHECK(*found == std::optional<Sid>(sid));
  // One append: the link's entry, then the caller's (whose hook saw its own seq).
  std::vector<std::string> added = EntriesFrom(env, before);
  REQUIRE(added.size() == 2);
  CHECK(added[0].find("subject.linked") != std::string::npos);
  CHECK(added[0].find("hubspot_contact") != std::string::npos);
  CHECK(added[0].find("4711") == std::string::npos);  // the kind, never the value
  CHECK(added[1].find("test.step") != std::string::npos);
  CHECK(caller.seen_seq == before + 1);
}

TEST_CASE("a caller's failing hook rolls the learned link back with its own entries", "[identity][learned]") {
  TestEnv env;
  Sid sid = NewSubject(env, "ada@example.com");
  const uint64_t before = env.ledger().Size();
  CallerWrite caller;
  caller.fail = true;
  Status s = env.registry().LinkLearnedAndWrite(sid, System(IdentifierType::kHubSpotContact, "4711"),
                                                caller.entries, caller.Hook());
  CHECK_FALSE(s.ok());
  CHECK(env.ledger().Size() == before);
  CHECK_FALSE(HasSystemId(env, sid, "4711"));
}

TEST_CASE("an id another subject holds, a malformed id or an unknown subject is not linked, the caller's write still commits",
          "[identity][learned]") {
  TestEnv env;
  Sid ada = NewSubject(env, "ada@example.com");
  Sid bob = NewSubject(env, "bob@example.com");
  std::vector<domain::Identifier> bob_ids = {Email("bob@example.com"), System(IdentifierType::kHubSpotContact, "99")};
  REQUIRE(env.registry().Resolve(bob_ids).ok());

  struct Case {
    Sid sid;
    domain::Identifier learned;
  };
  std::vector<Case> cases = {
      {ada, System(IdentifierType::kHubSpotContact, "99")},              // bob's: never a merge
      {ada, System(IdentifierType::kHubSpotContact, "not-a-number")},    // forged / malformed
      {ada, System(IdentifierType::kHubSpotContact, std::string(5000, '7'))},  // oversized
      {Sid::Random(), System(IdentifierType::kHubSpotContact, "12")},   // unknown subject
  };
  for (const Case& c : cases) {
    const uint64_t before = env.ledger().Size();
    CallerWrite caller;
    REQUIRE(env.registry().LinkLearnedAndWrite(c.sid, c.learned, caller.entries, caller.Hook()).ok());
    std::vector<std::string> added = EntriesFrom(env, before);
    REQUIRE(added.size() == 1);  // the caller's entry, no link
    CHECK(added[0].find("test.step") != std::string::npos);
  }
  Result<std::optional<Sid>> owner = env.registry().Lookup(System(IdentifierType::kHubSpotContact, "99"));
  REQUIRE(owner.ok());
  CHECK(*owner == std::optional<Sid>(bob));
  CHECK_FALSE(HasSystemId(env, ada, "99"));
  Result<SubjectInfo> a = env.registry().Subject(ada);
  REQUIRE(a.ok());
  CHECK(a->state == SubjectState::kActive);  // not merged
}

TEST_CASE("a shredded subject's learned id is gone and no longer resolves", "[identity][learned]") {
  TestEnv env;
  Sid sid = NewSubject(env, "ada@example.com");
  CallerWrite caller;
  REQUIRE(env.registry()
              .LinkLearnedAndWrite(sid, System(IdentifierType::kHubSpotContact, "4711"), caller.entries, caller.Hook())
              .ok());
  REQUIRE(env.registry().Shred(sid).ok());
  CHECK(env.registry().IdentifiersOf(sid).status().code() == StatusCode::kNotFound);
  Result<std::optional<Sid>> found = env.registry().Lookup(System(IdentifierType::kHubSpotContact, "4711"));
  REQUIRE(found.ok());
  CHECK_FALSE(found->has_value());
  // Learning again for the shredded subject links nothing.
  const uint64_t before = env.ledger().Size();
  CallerWrite again;
  REQUIRE(env.registry()
              .LinkLearnedAndWrite(sid, System(IdentifierType::kHubSpotContact, "4711"), again.entries, again.Hook())
              .ok());
  CHECK(EntriesFrom(env, before).size() == 1);
}

}  // namespace
}  // namespace consentd::identity
