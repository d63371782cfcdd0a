// SubjectRegistry::LookupMany, in one part and in two (blind indexes of each
// half of the identifiers, probes of each half of the key range): every
// identifier gets what Lookup() gives it alone, also in the middle of a
// blind-index rotation (an identifier found under the old key or the new).
#include <catch2/catch.hpp>

#include <cstdio>
#include <string>
#include <vector>

#include "src/identity/key_commands.h"
#include "tests/identity/test_env.h"

namespace consentd::identity {
namespace {

using domain::Sid;
using testing::Email;
using testing::Phone;
using testing::TestEnv;

std::string PhoneOf(int i) {
  char phone[32];
  std::snprintf(phone, sizeof phone, "+1 201 555 %04d", 1000 + i);
  return phone;
}

// `n` subjects, each with an email and a phone.
std::vector<Sid> MakeSubjects(TestEnv& env, int n) {
  std::vector<Sid> sids;
  for (int i = 0; i < n; ++i) {
    Result<Resolution> r = env.registry().Resolve(
        std::vector<domain::Identifier>{Email("p" + std::to_string(i) + "@example.com"), Phone(PhoneOf(i))});
    REQUIRE(r.ok());
    sids.push_back(r->sid);
  }
  return sids;
}

// Both identifiers of every subject (the email in upper case every other
// time), as many strangers, duplicates, and two that do not normalize.
std::vector<domain::Identifier> Mixed(int n) {
  std::vector<domain::Identifier> ids;
  for (int i = 0; i < n; ++i) {
    ids.push_back(Email((i % 2 ? "P" : "p") + std::to_string(i) + "@Example.com"));
    ids.push_back(Phone(PhoneOf(i)));
    ids.push_back(Email("stranger" + std::to_string(i) + "@example.com"));
  }
  for (int i = 0; i < 30; ++i) ids.push_back(Email("p" + std::to_string(i * 7 % n) + "@example.com"));
  ids.push_back(Email("no at sign"));
  ids.push_back(Phone("call me"));
  return ids;
}

// LookupMany in one part and in two equals Lookup one by one.
void CheckAgainstLookup(TestEnv& env, const std::vector<domain::Identifier>& ids) {
  for (size_t parts : {1, 2}) {
    INFO("parts " << parts);
    std::vector<Result<std::optional<Sid>>> got;
    env.registry().LookupMany(ids, &got, parts);
    REQUIRE(got.size() == ids.size());
    int mismatches = 0;
    for (size_t i = 0; i < ids.size(); ++i) {
      Result<std::optional<Sid>> want = env.registry().Lookup(ids[i]);
      if (want.ok() != got[i].ok()) {
        ++mismatches;
      } else if (!want.ok()) {
        if (want.status().code() != got[i].status().code()) ++mismatches;
      } else if (*want != *got[i]) {
        ++mismatches;
      }
    }
    CHECK(mismatches == 0);
  }
}

TEST_CASE("LookupMany in one part or two finds each identifier's subject as Lookup does", "[identity][lookup]") {
  TestEnv env;
  const std::vector<Sid> sids = MakeSubjects(env, 300);
  const std::vector<domain::Identifier> ids = Mixed(300);
  REQUIRE(ids.size() >= 512);  // enough for two parts
  CheckAgainstLookup(env, ids);
  // Checks that do not rely on Lookup: email and phone of one subject, a
  // stranger, an error at its own index.
  std::vector<Result<std::optional<Sid>>> got;
  env.registry().LookupMany(ids, &got, 2);
  for (int i = 0; i < 300; ++i) {
    REQUIRE(got[3 * i].ok());
    CHECK(*got[3 * i] == std::optional<Sid>(sids[i]));
    CHECK(*got[3 * i + 1] == std::optional<Sid>(sids[i]));
    CHECK(*got[3 * i + 2] == std::nullopt);
  }
  CHECK(got[ids.size() - 2].status().code() == StatusCode::kInvalidArgument);
  CHECK(got[ids.size() - 1].status().code() == StatusCode::kInvalidArgument);
  // Few identifiers, and none.
  env.registry().LookupMany(std::vector<domain::Identifier>{Email("p5@example.com")}, &got, 2);
  REQUIRE(got.size() == 1);
  CHECK(*got[0] == std::optional<Sid>(sids[5]));
  env.registry().LookupMany({}, &got, 2);
  CHECK(got.empty());
}

TEST_CASE("LookupMany in the middle of a blind-index rotation finds identifiers under either key",
          "[identity][lookup][rotation]") {
  TestEnv env;
  MakeSubjects(env, 300);
  vault::RotationOptions stop_early;
  stop_early.batch_size = 64;
  stop_early.max_rows = 250;
  Result<vault::RotationProgress> first =
      RotateBlindIndex(env.db_path(), env.ledger(), env.keys(), stop_early, env.clock());
  REQUIRE(first.ok());
  REQUIRE_FALSE(first->finished);
  env.Reopen();  // the ring now holds keys 1 and 2: two probes per identifier
  REQUIRE(env.registry().indexer().keys().keys().size() == 2);
  const std::vector<domain::Identifier> ids = Mixed(300);
  CheckAgainstLookup(env, ids);
  std::vector<Result<std::optional<Sid>>> got;
  env.registry().LookupMany(ids, &got, 2);
  int found = 0;
  for (int i = 0; i < 300; ++i) found += got[3 * i].ok() && *got[3 * i] && *got[3 * i + 1] == *got[3 * i];
  CHECK(found == 300);
}

}  // namespace
}  // namespace consentd::identity
