// Resolution: new subject, existing subject, two subjects linked by a new
// identifier (merged or queued per rules), conflicting system ids, weak
// matches, plus-tag suggestions, reviews, and what the ledger records.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "tests/identity/test_env.h"

namespace consentd::identity {
namespace {

using domain::Identifier;
using domain::IdentifierType;
using domain::Sid;
using testing::Email;
using testing::Phone;
using testing::System;
using testing::TestEnv;
using Outcome = Resolution::Outcome;

Resolution MustResolve(TestEnv& env, std::vector<Identifier> ids) {
  Result<Resolution> r = env.registry().Resolve(ids);
  if (!r.ok()) FAIL(r.status().ToString());
  return *r;
}

// Every ledger entry as text (kind and payload are inside the entry bytes).
std::vector<std::string> LedgerEntries(TestEnv& env) {
  std::vector<std::string> out;
  Status s = env.ledger().ScanEntries(0, env.ledger().Size(), [&](uint64_t, std::string_view bytes) {
    out.emplace_back(bytes);
    return Status::Ok();
  });
  REQUIRE(s.ok());
  return out;
}

size_t CountContaining(const std::vector<std::string>& entries, std::string_view needle) {
  size_t n = 0;
  for (const std::string& e : entries) n += e.find(needle) != std::string::npos;
  return n;
}

TEST_CASE("Resolving unknown identifiers creates one subject holding all of them", "[identity][resolve]") {
  TestEnv env;
  Resolution r = MustResolve(env, {Email("Ada@Example.com"), Phone("+44 20 7946 0958")});
  CHECK(r.outcome == Outcome::kCreated);
  CHECK_FALSE(r.sid.IsZero());
  CHECK(r.linked_kinds == std::vector<std::string>{"email", "phone"});

  Result<std::optional<Sid>> by_email = env.registry().Lookup(Email("  ada@example.COM"));
  REQUIRE(by_email.ok());
  CHECK(*by_email == std::optional<Sid>(r.sid));
  Result<std::vector<domain::NormalizedIdentifier>> ids = env.registry().IdentifiersOf(r.sid);
  REQUIRE(ids.ok());
  REQUIRE(ids->size() == 2);
  CHECK((*ids)[0].value == "ada@example.com");
  CHECK((*ids)[1].value == "+442079460958");

  std::vector<std::string> entries = LedgerEntries(env);
  // One entry: the creation names the kinds linked with it.
  CHECK(CountContaining(entries, "subject.created") == 1);
  CHECK(CountContaining(entries, "subject.linked") == 0);
  CHECK(CountContaining(entries, "{\"sid\":\"" + r.sid.ToHex() + "\",\"kinds\":[\"email\",\"phone\"]}") == 1);
  CHECK(CountContaining(entries, r.sid.ToHex()) == 1);
}

TEST_CASE("A new subject's sid starts with the registry clock's time, so later subjects sort after", "[identity][resolve]") {
  TestEnv env;
  env.clock().Set(1'732'000'123'456);
  Resolution a = MustResolve(env, {Email("first@example.com")});
  env.clock().Advance(1);
  Resolution b = MustResolve(env, {Email("second@example.com")});
  REQUIRE(a.outcome == Outcome::kCreated);
  REQUIRE(b.outcome == Outcome::kCreated);
  CHECK(a.sid.ToHex().substr(0, 12) == "019343408a40");
  CHECK(b.sid.ToHex().substr(0, 12) == "019343408a41");
  CHECK(a.sid < b.sid);
}

TEST_CASE("An identifier another writer stores between planning and commit makes ResolveAndWrite plan again",
          "[identity][resolve][concurrency]") {
  // The commit does not re-read "still absent" for the identifiers it
  // inserts: the insert's primary key reports the other writer's row, as
  // the concurrent change that makes the caller plan again.
  TestEnv env;
  int calls = 0;
  Sid other;
  Result<Resolution> r = env.registry().ResolveAndWrite(
      std::vector<Identifier>{Email("race@example.com"), Phone("+44 20 7946 0958")},
      [&](const Resolution& planned) -> Result<ResolveExtra> {
        if (++calls == 1) {
          CHECK(planned.outcome == Outcome::kCreated);
          // Stands for a concurrent request (the registry's lock is not held here).
          other = MustResolve(env, {Email("race@example.com")}).sid;
        }
        return ResolveExtra();
      });
  REQUIRE(r.ok());
  CHECK(calls == 2);
  CHECK(r->outcome == Outcome::kExisting);
  CHECK(r->sid == other);
  CHECK(r->linked_kinds == std::vector<std::string>{"phone"});
  std::vector<std::string> entries = LedgerEntries(env);
  // The other writer's creation with its email; then the phone, linked to
  // that existing subject by an entry of its own.
  CHECK(CountContaining(entries, "subject.created") == 1);
  CHECK(CountContaining(entries, "{\"sid\":\"" + other.ToHex() + "\",\"kinds\":[\"email\"]}") == 1);
  CHECK(CountContaining(entries, "subject.linked") == 1);
  CHECK(CountContaining(entries, "{\"sid\":\"" + other.ToHex() + "\",\"kind\":\"phone\"}") == 1);
  Result<std::optional<Sid>> phone = env.registry().Lookup(Phone("+442079460958"));
  REQUIRE(phone.ok());
  CHECK(*phone == std::optional<Sid>(other));
}

TEST_CASE("Resolving without create_if_missing reports not found and writes nothing", "[identity][resolve]") {
  TestEnv env;
  uint64_t before = env.ledger().Size();
  std::vector<Identifier> ids = {Email("nobody@example.com")};
  Result<Resolution> r = env.registry().Resolve(ids, ResolveOptions{.create_if_missing = false});
  REQUIRE(r.ok());
  CHECK(r->outcome == Outcome::kNotFound);
  CHECK(env.ledger().Size() == before);
}

TEST_CASE("Resolving a known identifier returns its subject and links the new ones", "[identity][resolve]") {
  TestEnv env;
  Sid sid = MustResolve(env, {Email("grace@example.com")}).sid;
  uint64_t size = env.ledger().Size();

  Resolution again = MustResolve(env, {Email("GRACE@example.com")});
  CHECK(again.outcome == Outcome::kExisting);
  CHECK(again.sid == sid);
  CHECK(env.ledger().Size() == size);  // a pure lookup writes nothing

  Resolution more = MustResolve(
      env, {Email("grace@example.com"), System(IdentifierType::kShopifyCustomer, "207119551", "shop.myshopify.com")});
  CHECK(more.outcome == Outcome::kExisting);
  CHECK(more.sid == sid);
  CHECK(more.linked_kinds == std::vector<std::string>{"shopify_customer"});
  Result<std::optional<Sid>> by_shop = env.registry().Lookup(
      System(IdentifierType::kShopifyCustomer, "gid://shopify/Customer/207119551", "SHOP.myshopify.com"));
  REQUIRE(by_shop.ok());
  CHECK(*by_shop == std::optional<Sid>(sid));
}

TEST_CASE("Two subjects joined by a new identifier set are merged when the rules allow", "[identity][merge]") {
  domain::IdentityRules rules;
  rules.auto_merge = true;
  TestEnv env(rules);
  Sid first = MustResolve(env, {Email("linus@example.com")}).sid;
  env.clock().Advance(1000);
  Sid second = MustResolve(env, {System(IdentifierType::kHubSpotContact, "51")}).sid;
  REQUIRE(first != second);

  Resolution r = MustResolve(env, {System(IdentifierType::kHubSpotContact, "51"), Email("linus@example.com"),
                                   Phone("+1 201 555 0123")});
  CHECK(r.outcome == Outcome::kMerged);
  CHECK(r.sid == first);  // the older subject survives
  CHECK(r.linked_kinds == std::vector<std::string>{"phone"});

  // The merged sid resolves to the survivor; both histories stay.
  Result<SubjectInfo> info = env.registry().Subject(second);
  REQUIRE(info.ok());
  CHECK(info->state == SubjectState::kMerged);
  CHECK(info->resolves_to == first);
  Result<std::optional<Sid>> by_hubspot = env.registry().Lookup(System(IdentifierType::kHubSpotContact, "51"));
  REQUIRE(by_hubspot.ok());
  CHECK(*by_hubspot == std::optional<Sid>(first));
  Result<std::vector<domain::NormalizedIdentifier>> ids = env.registry().IdentifiersOf(second);
  REQUIRE(ids.ok());
  CHECK(ids->size() == 3);

  std::vector<std::string> entries = LedgerEntries(env);
  REQUIRE(CountContaining(entries, "subject.merged") == 1);
  CHECK(CountContaining(entries, "\"merged_sid\":\"" + second.ToHex() + "\"") == 1);
  CHECK(CountContaining(entries, "\"sid\":\"" + second.ToHex() + "\"") == 1);  // its creation (with kinds) stays
}

TEST_CASE("Two subjects joined by a new identifier set are queued for review when merges are manual",
          "[identity][merge]") {
  TestEnv env;  // auto_merge = false by default
  Sid first = MustResolve(env, {Email("ken@example.com")}).sid;
  Sid second = MustResolve(env, {System(IdentifierType::kSalesforceContact, "003D000000QV9n2")}).sid;

  Resolution r = MustResolve(env, {Email("ken@example.com"), System(IdentifierType::kSalesforceContact,
                                                                    "003D000000QV9n2IAD"),
                                   Phone("+33 1 23 45 67 89")});
  CHECK(r.outcome == Outcome::kAmbiguous);
  CHECK(r.sid.IsZero());
  CHECK(r.matched.size() == 2);
  REQUIRE(r.review_ids.size() == 1);
  CHECK(r.linked_kinds.empty());
  Result<std::optional<Sid>> phone = env.registry().Lookup(Phone("+33123456789"));
  REQUIRE(phone.ok());
  CHECK_FALSE(phone->has_value());  // nothing linked while ambiguous

  // The same set again does not queue a second review.
  Resolution again = MustResolve(env, {Email("ken@example.com"), System(IdentifierType::kSalesforceContact,
                                                                        "003D000000QV9n2")});
  CHECK(again.review_ids.empty());

  Result<std::vector<Review>> reviews = env.registry().OpenReviews();
  REQUIRE(reviews.ok());
  REQUIRE(reviews->size() == 1);
  CHECK(reviews->front().reason == "auto_merge_disabled");

  // A person approves: the subjects merge.
  Result<Sid> survivor = env.registry().ApproveReview(r.review_ids[0]);
  REQUIRE(survivor.ok());
  CHECK(*survivor == first);
  Result<SubjectInfo> info = env.registry().Subject(second);
  REQUIRE(info.ok());
  CHECK(info->resolves_to == first);
  reviews = env.registry().OpenReviews();
  REQUIRE(reviews.ok());
  CHECK(reviews->empty());
  std::vector<std::string> entries = LedgerEntries(env);
  CHECK(CountContaining(entries, "subject.merge_queued") == 1);
  CHECK(CountContaining(entries, "review_approved") == 1);
}

TEST_CASE("A rejected review closes without merging", "[identity][merge]") {
  TestEnv env;
  MustResolve(env, {Email("a1@example.com")});
  MustResolve(env, {Email("b1@example.com")});
  Resolution r = MustResolve(env, {Email("a1@example.com"), Email("b1@example.com")});
  REQUIRE(r.review_ids.size() == 1);
  REQUIRE(env.registry().RejectReview(r.review_ids[0]).ok());
  CHECK(env.registry().RejectReview(r.review_ids[0]).code() == StatusCode::kNotFound);
  CHECK(env.registry().ApproveReview(r.review_ids[0]).status().code() == StatusCode::kNotFound);
}

TEST_CASE("Conflicting system ids of one shop are never linked to one subject", "[identity][conflict]") {
  domain::IdentityRules rules;
  rules.auto_merge = true;
  TestEnv env(rules);
  const std::string shop = "shop.myshopify.com";
  Sid alice = MustResolve(env, {Email("alice@example.com"), System(IdentifierType::kShopifyCustomer, "1", shop)}).sid;

  SECTION("a second customer id of the same shop goes to a new subject and a review") {
    Resolution r = MustResolve(env, {Email("alice@example.com"), System(IdentifierType::kShopifyCustomer, "2", shop)});
    CHECK(r.outcome == Outcome::kExisting);
    CHECK(r.sid == alice);
    CHECK(r.linked_kinds.empty());
    REQUIRE(r.review_ids.size() == 1);
    Result<std::optional<Sid>> other = env.registry().Lookup(System(IdentifierType::kShopifyCustomer, "2", shop));
    REQUIRE(other.ok());
    REQUIRE(other->has_value());
    CHECK(**other != alice);
    Result<std::vector<Review>> reviews = env.registry().OpenReviews();
    REQUIRE(reviews.ok());
    REQUIRE(reviews->size() == 1);
    CHECK(reviews->front().reason == "conflicting_system_id");
  }
  SECTION("a customer id of another shop links normally") {
    Resolution r = MustResolve(
        env, {Email("alice@example.com"), System(IdentifierType::kShopifyCustomer, "2", "other.myshopify.com")});
    CHECK(r.sid == alice);
    CHECK(r.linked_kinds == std::vector<std::string>{"shopify_customer"});
    CHECK(r.review_ids.empty());
  }
  SECTION("subjects with different ids of the same shop are not merged even with auto_merge") {
    Sid bob = MustResolve(env, {Email("bob@example.com"), System(IdentifierType::kShopifyCustomer, "3", shop)}).sid;
    Resolution r = MustResolve(env, {Email("alice@example.com"), Email("bob@example.com")});
    CHECK(r.outcome == Outcome::kAmbiguous);
    REQUIRE(r.review_ids.size() == 1);
    Result<std::vector<Review>> reviews = env.registry().OpenReviews();
    REQUIRE(reviews.ok());
    CHECK(reviews->front().reason == "conflicting_system_id");
    Result<SubjectInfo> info = env.registry().Subject(bob);
    REQUIRE(info.ok());
    CHECK(info->state == SubjectState::kActive);
  }
}

TEST_CASE("A match through a weak identifier never links a new identifier", "[identity][weak]") {
  TestEnv env;  // phone is weak by default
  Sid parent = MustResolve(env, {Email("parent@example.com"), Phone("+49 30 12345678")}).sid;

  Resolution r = MustResolve(env, {Phone("+49 30 12345678"), Email("teen@example.com")});
  CHECK(r.outcome == Outcome::kCreated);
  CHECK(r.sid != parent);
  REQUIRE(r.review_ids.size() == 1);
  Result<std::vector<Review>> reviews = env.registry().OpenReviews();
  REQUIRE(reviews.ok());
  CHECK(reviews->front().reason == "shared_weak_identifier");

  // The phone alone still resolves to the subject that holds it.
  Resolution phone_only = MustResolve(env, {Phone("+49 (0)30 1234 5678")});
  CHECK(phone_only.outcome == Outcome::kExisting);
  CHECK(phone_only.sid == parent);
}

TEST_CASE("Plus-tag variants of an email produce a review, never a merge", "[identity][plus-tag]") {
  domain::IdentityRules rules;
  rules.suggest_plus_tag_merges = true;
  rules.auto_merge = true;
  TestEnv env(rules);
  Sid plain = MustResolve(env, {Email("mia@example.com")}).sid;
  Resolution tagged = MustResolve(env, {Email("mia+shop@example.com")});
  CHECK(tagged.outcome == Outcome::kCreated);
  CHECK(tagged.sid != plain);
  REQUIRE(tagged.review_ids.size() == 1);
  Result<std::vector<Review>> reviews = env.registry().OpenReviews();
  REQUIRE(reviews.ok());
  CHECK(reviews->front().reason == "email_plus_tag");
}

TEST_CASE("Plus-tag reviews pair a tagged address with its plain base and with tagged siblings, in either order",
          "[identity][plus-tag]") {
  domain::IdentityRules rules;
  rules.suggest_plus_tag_merges = true;
  TestEnv env(rules);
  // Tagged first, plain second: the plain address finds the tagged one
  // through the base index.
  Sid tagged = MustResolve(env, {Email("noa+shop@example.com")}).sid;
  Resolution plain = MustResolve(env, {Email("noa@example.com")});
  CHECK(plain.outcome == Outcome::kCreated);
  CHECK(plain.sid != tagged);
  CHECK(plain.review_ids.size() == 1);
  // A second tag finds both: the sibling through the base index, the plain
  // address through its own blind index.
  Resolution sibling = MustResolve(env, {Email("noa+news@example.com")});
  CHECK(sibling.outcome == Outcome::kCreated);
  CHECK(sibling.review_ids.size() == 2);
  // The plain address again is its own subject: no review.
  Resolution again = MustResolve(env, {Email("noa@example.com")});
  CHECK(again.outcome == Outcome::kExisting);
  CHECK(again.review_ids.empty());
  // An unrelated address with a tag pairs with nobody.
  Resolution other = MustResolve(env, {Email("eli+x@example.com")});
  CHECK(other.review_ids.empty());
  // Only the three tagged addresses store a base blind index.
  CHECK(testing::ScalarOnFile(env.db_path(), "SELECT count(*) FROM identity_identifiers WHERE base_bidx IS NOT NULL") ==
        3);
}

TEST_CASE("Invalid identifiers are rejected as a whole, naming position and kind only", "[identity][resolve]") {
  TestEnv env;
  uint64_t before = env.ledger().Size();
  std::vector<Identifier> ids = {Email("ok@example.com"), Email("secret-name@@example.com")};
  Result<Resolution> r = env.registry().Resolve(ids);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == StatusCode::kInvalidArgument);
  CHECK(r.status().message() == "identifier 1: email: more than one '@'");
  CHECK(env.ledger().Size() == before);
  Result<std::optional<Sid>> none = env.registry().Lookup(Email("ok@example.com"));
  REQUIRE(none.ok());
  CHECK_FALSE(none->has_value());
}

TEST_CASE("Ledger entries carry sids and kinds but no identifier value nor blind index", "[identity][ledger]") {
  TestEnv env;
  MustResolve(env, {Email("privacy.canary@example.org"), Phone("+81 3-1234-5678"),
                    System(IdentifierType::kHubSpotContact, "987654321")});
  for (const std::string& e : LedgerEntries(env)) {
    CHECK(e.find("canary") == std::string::npos);
    CHECK(e.find("example.org") == std::string::npos);
    CHECK(e.find("312345678") == std::string::npos);
    CHECK(e.find("987654321") == std::string::npos);
  }
}

}  // namespace
}  // namespace consentd::identity

namespace consentd::identity {
namespace {

// Fails the Nth write after its hook ran, so the ledger rolls the caller's
// entries and rows back (as a crash before commit would).
class FailingWriter final : public vault::LedgerWriter {
 public:
  FailingWriter(vault::LedgerWriter& inner, int fail_on) : inner_(inner), fail_on_(fail_on) {}
  Status Write(std::vector<ledger::NewEntry> entries, ledger::WriteHook hook) override {
    bool fail = ++writes_ == fail_on_;
    return inner_.Write(std::move(entries), [&](sqlite3* db, std::span<const ledger::AppendedEntry> a) -> Status {
      Status s = hook ? hook(db, a) : Status::Ok();
      if (!s.ok()) return s;
      return fail ? Status::IOError("injected failure") : Status::Ok();
    });
  }

 private:
  vault::LedgerWriter& inner_;
  int fail_on_;
  int writes_ = 0;
};

Result<std::unique_ptr<SubjectRegistry>> OpenWith(TestEnv& env, vault::LedgerWriter& writer) {
  SubjectRegistryOptions o;
  o.database_path = env.db_path();
  o.writer = &writer;
  Result<vault::KeyRing> kek = env.keys().Load(vault::KeyDirectory::kKek);
  Result<vault::KeyRing> bidx = env.keys().Load(vault::KeyDirectory::kBlindIndex);
  REQUIRE(kek.ok());
  REQUIRE(bidx.ok());
  o.kek = *kek;
  o.blind_index_keys = *bidx;
  o.clock = &env.clock();
  return SubjectRegistry::Open(std::move(o));
}

TEST_CASE("A failed write leaves neither ledger entries nor rows behind", "[identity][fault]") {
  TestEnv env;
  Sid kept = MustResolve(env, {Email("kept@example.com")}).sid;
  // Write 1 is the schema check at open; write 2 is the resolve, write 3 the shred.
  FailingWriter failing(env.writer(), GENERATE(2, 3));
  Result<std::unique_ptr<SubjectRegistry>> reg = OpenWith(env, failing);
  REQUIRE(reg.ok());
  uint64_t size = env.ledger().Size();

  std::vector<Identifier> ids = {Email("lost@example.com"), Phone("+55 11 91234-5678")};
  Result<Resolution> r = (*reg)->Resolve(ids);
  Result<ShredReport> shred = (*reg)->Shred(kept);
  if (!r.ok()) {
    CHECK(r.status().code() == StatusCode::kIOError);
    Result<std::optional<Sid>> none = (*reg)->Lookup(Email("lost@example.com"));
    REQUIRE(none.ok());
    CHECK_FALSE(none->has_value());
    REQUIRE(shred.ok());
    CHECK(env.ledger().Size() == size + 1);  // only the shred
  } else {
    REQUIRE_FALSE(shred.ok());
    CHECK(shred.status().code() == StatusCode::kIOError);
    Result<std::vector<domain::NormalizedIdentifier>> still = (*reg)->IdentifiersOf(kept);
    REQUIRE(still.ok());
    CHECK(still->size() == 1);
    CHECK(env.ledger().Size() == size + 1);  // only the resolve: created, with its 2 kinds
  }
}

}  // namespace
}  // namespace consentd::identity
