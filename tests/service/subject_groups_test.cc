#include "src/service/subject_groups.h"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

namespace consentd::service {
namespace {

using Keys = std::vector<std::vector<std::string>>;
using Groups = std::vector<std::vector<size_t>>;

TEST_CASE("events sharing no key are groups of their own, in request order", "[subject_groups]") {
  Keys keys = {{"email:a"}, {"email:b"}, {"email:c"}};
  CHECK(SubjectGroups(keys) == Groups{{0}, {1}, {2}});
}

TEST_CASE("events naming one identifier share a group in request order", "[subject_groups]") {
  Keys keys = {{"email:a"}, {"email:b"}, {"email:a"}, {"email:a"}};
  CHECK(SubjectGroups(keys) == Groups{{0, 2, 3}, {1}});
}

TEST_CASE("events joined through a third event share one group", "[subject_groups]") {
  // 0 and 2 share nothing, but 1 names both of their identifiers.
  Keys keys = {{"email:a"}, {"phone:+1"}, {"email:a", "phone:+1"}, {"email:z"}};
  Keys reordered = {{"email:a"}, {"email:z"}, {"phone:+1"}, {"phone:+1", "email:a"}};
  CHECK(SubjectGroups(keys) == Groups{{0, 1, 2}, {3}});
  CHECK(SubjectGroups(reordered) == Groups{{0, 2, 3}, {1}});
}

TEST_CASE("an existing subject's sid joins events that name it by different identifiers", "[subject_groups]") {
  Keys keys = {{"email:a", "sid:01"}, {"phone:+1", "sid:01"}, {"email:b"}};
  CHECK(SubjectGroups(keys) == Groups{{0, 1}, {2}});
}

TEST_CASE("an event without keys is its own group and an empty request has no groups", "[subject_groups]") {
  Keys keys = {{}, {}, {"email:a"}};
  CHECK(SubjectGroups(keys) == Groups{{0}, {1}, {2}});
  CHECK(SubjectGroups(Keys{}).empty());
}

TEST_CASE("a long chain collapses into one group with every index once", "[subject_groups]") {
  Keys keys;
  for (int i = 0; i < 1000; ++i) keys.push_back({"k" + std::to_string(i), "k" + std::to_string(i + 1)});
  Groups g = SubjectGroups(keys);
  REQUIRE(g.size() == 1);
  REQUIRE(g[0].size() == 1000);
  for (size_t i = 0; i < g[0].size(); ++i) CHECK(g[0][i] == i);
}

}  // namespace
}  // namespace consentd::service
