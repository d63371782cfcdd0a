// ResolveBatch (imports): the resolutions Resolve gives set by set, where it
// stops, and that its planning reads (one read transaction on a pooled
// connection) leave no snapshot behind: the next batch and every lookup see
// what the batch wrote.
#include <catch2/catch.hpp>

#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "ledger/entry.h"

#include "tests/identity/test_env.h"

namespace consentd::identity {
namespace {

using domain::Identifier;
using domain::IdentifierType;
using testing::System;
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

// The subjects.created entries from ledger index `from` on, in order.
std::vector<nlohmann::json> GroupedEntries(TestEnv& env, uint64_t from, size_t* other_identity_entries) {
  std::vector<nlohmann::json> out;
  *other_identity_entries = 0;
  Status s = env.ledger().ScanEntries(from, env.ledger().Size(), [&](uint64_t, std::string_view bytes) {
    Result<ledger::EntryView> e = ledger::ParseEntry(bytes);
    REQUIRE(e.ok());
    if (e->kind == "subjects.created") {
      CHECK(e->payload.size() <= 16 * 1024);
      out.push_back(nlohmann::json::parse(e->payload));
    } else if (std::string(e->kind).rfind("subject.", 0) == 0) {
      ++*other_identity_entries;
    }
    return Status::Ok();
  });
  REQUIRE(s.ok());
  return out;
}

TEST_CASE("ResolveBatch records its new subjects in subjects.created entries of at most 256 subjects and 16 KiB, "
          "in the order it created them",
          "[identity][resolve][batch]") {
  TestEnv env;
  // 600 subjects of one email each, then 400 of four identifiers each (an
  // entry then fills its 16 KiB before its 256 subjects).
  std::vector<std::vector<Identifier>> sets;
  for (int i = 0; i < 600; ++i) sets.push_back({Email("p" + std::to_string(i) + "@example.com")});
  for (int i = 0; i < 400; ++i) {
    char phone[32];
    std::snprintf(phone, sizeof phone, "+44 20 7946 %04d", i);
    sets.push_back({Email("q" + std::to_string(i) + "@example.com"), Phone(phone),
                    System(IdentifierType::kShopifyCustomer, std::to_string(1000 + i), "shop.myshopify.com"),
                    System(IdentifierType::kHubSpotContact, std::to_string(5000 + i))});
  }
  const uint64_t before = env.ledger().Size();
  std::vector<Resolution> out;
  REQUIRE(Batch(env, sets, &out) == sets.size());
  size_t others = 0;
  const std::vector<nlohmann::json> entries = GroupedEntries(env, before, &others);
  CHECK(others == 0);  // no subject.created or subject.linked entry of its own
  std::vector<std::string> sids;
  size_t full_by_count = 0, full_by_bytes = 0;
  for (const nlohmann::json& e : entries) {
    const nlohmann::json& members = e.at("subjects");
    REQUIRE(members.size() >= 1);
    REQUIRE(members.size() <= 256);
    full_by_count += members.size() == 256 ? 1 : 0;
    full_by_bytes += e.dump().size() > 15 * 1024 ? 1 : 0;
    for (const nlohmann::json& m : members) {
      sids.push_back(m.at("sid").get<std::string>());
      const size_t kinds = m.at("kinds").size();
      CHECK((kinds == 1 || kinds == 4));
    }
  }
  CHECK(full_by_count == 2);   // 256 + 256 + the rest
  CHECK(full_by_bytes >= 2);   // four kinds each: about 160 subjects an entry
  CHECK(entries.size() < 12);
  REQUIRE(sids.size() == sets.size());
  for (size_t i = 0; i < out.size(); ++i) {
    CHECK(out[i].outcome == Outcome::kCreated);
    CHECK(sids[i] == out[i].sid.ToHex());
  }
  CHECK(entries.back().at("subjects").back().at("kinds") ==
        nlohmann::json::array({"email", "phone", "shopify_customer", "hubspot_contact"}));
}

}  // namespace
}  // namespace consentd::identity
