// ResolveBatch (imports): the resolutions Resolve gives set by set, where it
// stops, and that its planning reads (one read transaction on a pooled
// connection) leave no snapshot behind: the next batch and every lookup see
// what the batch wrote.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "tests/identity/test_env.h"

namespace consentd::identity {
namespace {

using domain::Identifier;
using domain::Sid;
using testing::Email;
using testing::Phone;
using testing::TestEnv;
using Outcome = Resolution::Outcome;

// ResolveBatch of `sets`; returns how many leading sets it resolved.
size_t Batch(TestEnv& env, const std::vector<std::vector<Identifier>>& sets, std::vector<Resolution>* out) {
  std::vector<std::span<const Identifier>> spans(sets.begin(), sets.end());
  Result<size_t> n = env.registry().ResolveBatch(spans, out);
  if (!n.ok()) FAIL(n.status().ToString());
  return *n;
}

Sid MustLookup(TestEnv& env, const Identifier& id) {
  Result<std::optional<Sid>> sid = env.registry().Lookup(id);
  REQUIRE(sid.ok());
  REQUIRE(sid->has_value());
  return **sid;
}

TEST_CASE("ResolveBatch creates subjects, resolves a repeated identifier to the subject the batch created, and the "
          "next batch and every lookup see them",
          "[identity][resolve][batch]") {
  TestEnv env;
  const Sid stored = [&] {
    Result<Resolution> r = env.registry().Resolve(std::vector<Identifier>{Email("old@example.com")});
    REQUIRE(r.ok());
    return r->sid;
  }();
  std::vector<Resolution> first;
  REQUIRE(Batch(env,
                {{Email("a@example.com")},
                 {Email("b@example.com"), Phone("+44 20 7946 0958")},
                 {Email("OLD@example.com")},
                 {Email("a@example.com")}},
                &first) == 4);
  REQUIRE(first.size() == 4);
  CHECK(first[0].outcome == Outcome::kCreated);
  CHECK(first[1].outcome == Outcome::kCreated);
  CHECK(first[1].linked_kinds == std::vector<std::string>{"email", "phone"});
  CHECK(first[2].outcome == Outcome::kExisting);
  CHECK(first[2].sid == stored);
  CHECK(first[3].outcome == Outcome::kExisting);
  CHECK(first[3].sid == first[0].sid);
  // Lookups right after, on whichever pooled connection, see the batch.
  for (int i = 0; i < 8; ++i) {
    CHECK(MustLookup(env, Email("a@example.com")) == first[0].sid);
    CHECK(MustLookup(env, Phone("+442079460958")) == first[1].sid);
  }
  // A second batch plans against what the first wrote.
  std::vector<Resolution> second;
  REQUIRE(Batch(env, {{Email("b@example.com")}, {Email("c@example.com")}, {Phone("+44 20 7946 0958")}}, &second) == 3);
  CHECK(second[0].outcome == Outcome::kExisting);
  CHECK(second[0].sid == first[1].sid);
  CHECK(second[1].outcome == Outcome::kCreated);
  CHECK(second[2].outcome == Outcome::kExisting);
  CHECK(second[2].sid == first[1].sid);
  // A subject written by Resolve between batches is seen too.
  const Sid between = [&] {
    Result<Resolution> r = env.registry().Resolve(std::vector<Identifier>{Email("d@example.com")});
    REQUIRE(r.ok());
    return r->sid;
  }();
  std::vector<Resolution> third;
  REQUIRE(Batch(env, {{Email("d@example.com")}}, &third) == 1);
  CHECK(third[0].outcome == Outcome::kExisting);
  CHECK(third[0].sid == between);
}

TEST_CASE("ResolveBatch stops before a set that needs a merge or links only part of it, and writes the sets before",
          "[identity][resolve][batch]") {
  TestEnv env;
  std::vector<Resolution> made;
  REQUIRE(Batch(env, {{Email("a@example.com")}, {Email("b@example.com")}}, &made) == 2);
  SECTION("two subjects in one set: a merge") {
    std::vector<Resolution> out;
    CHECK(Batch(env, {{Email("new@example.com")}, {Email("a@example.com"), Email("b@example.com")}, {Email("x@example.com")}},
                &out) == 1);
    REQUIRE(out.size() == 1);
    CHECK(out[0].outcome == Outcome::kCreated);
    CHECK(MustLookup(env, Email("new@example.com")) == out[0].sid);
    Result<std::optional<Sid>> x = env.registry().Lookup(Email("x@example.com"));
    REQUIRE(x.ok());
    CHECK_FALSE(x->has_value());
  }
  SECTION("a known identifier with a new one: a partial link") {
    std::vector<Resolution> out;
    CHECK(Batch(env, {{Email("a@example.com"), Phone("+44 20 7946 0958")}}, &out) == 0);
    CHECK(out.empty());
  }
}

TEST_CASE("ResolveBatch leaves a set whose email base belongs to another subject to Resolve (plus-tag review)",
          "[identity][resolve][batch][plus-tag]") {
  domain::IdentityRules rules;
  rules.suggest_plus_tag_merges = true;
  TestEnv env(rules);
  std::vector<Resolution> out;
  // The second set's base is the first set's address, created in the batch;
  // the fourth's was stored before the batch.
  REQUIRE(Batch(env, {{Email("ann@example.com")}}, &out) == 1);
  out.clear();
  CHECK(Batch(env, {{Email("bob@example.com")}, {Email("bob+news@example.com")}}, &out) == 1);
  out.clear();
  CHECK(Batch(env, {{Email("ann+shop@example.com")}}, &out) == 0);
}

}  // namespace
}  // namespace consentd::identity
