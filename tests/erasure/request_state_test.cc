// The transition table: every allowed transition is found, every other pair
// of states is refused with a message naming both.
#include <catch2/catch.hpp>

#include <set>

#include "src/erasure/request_state.h"

namespace consentd::erasure {
namespace {

using S = RequestState;
const std::vector<S> kAll = {S::kReceived,  S::kVerified,           S::kRejected, S::kPropagating,
                             S::kCompleted, S::kPartiallyCompleted, S::kCancelled};

TEST_CASE("Every allowed transition is in the table with its entry kind", "[erasure][state]") {
  struct Row {
    std::optional<S> from;
    S to;
    std::string kind;
  };
  const std::vector<Row> allowed = {
      {std::nullopt, S::kReceived, "erasure.received"},
      {S::kReceived, S::kVerified, "erasure.verified"},
      {S::kReceived, S::kRejected, "erasure.rejected"},
      {S::kReceived, S::kCancelled, "erasure.cancelled"},
      {S::kVerified, S::kPropagating, "erasure.propagating"},
      {S::kVerified, S::kCancelled, "erasure.cancelled"},
      {S::kPropagating, S::kCompleted, "erasure.completed"},
      {S::kPropagating, S::kPartiallyCompleted, "erasure.partially_completed"},
  };
  REQUIRE(Transitions().size() == allowed.size());
  for (const Row& r : allowed) {
    Result<Transition> t = FindTransition(r.from, r.to);
    REQUIRE(t.ok());
    CHECK(t->entry_kind == r.kind);
  }
}

TEST_CASE("Every transition not in the table is refused, naming both states", "[erasure][state]") {
  std::set<std::pair<int, int>> allowed;
  for (const Transition& t : Transitions()) allowed.insert({t.from ? static_cast<int>(*t.from) : -1, static_cast<int>(t.to)});
  std::vector<std::optional<S>> froms = {std::nullopt};
  for (S s : kAll) froms.push_back(s);
  int refused = 0;
  for (const std::optional<S>& from : froms) {
    for (S to : kAll) {
      if (allowed.count({from ? static_cast<int>(*from) : -1, static_cast<int>(to)})) continue;
      Result<Transition> t = FindTransition(from, to);
      REQUIRE_FALSE(t.ok());
      CHECK(t.status().code() == StatusCode::kFailedPrecondition);
      CHECK_THAT(t.status().message(), Catch::Contains(std::string(to == S::kReceived ? "received" : StateName(to))));
      ++refused;
    }
  }
  CHECK(refused == 8 * 7 - 8);
}

TEST_CASE("Terminal states have no way out and open states are exactly the others", "[erasure][state]") {
  for (S s : kAll) {
    bool has_exit = false;
    for (const Transition& t : Transitions()) has_exit = has_exit || t.from == s;
    CHECK(has_exit == !IsTerminal(s));
    CHECK(IsOpen(s) == !IsTerminal(s));
  }
}

TEST_CASE("State names round-trip", "[erasure][state]") {
  for (S s : kAll) CHECK(ParseState(StateName(s)) == s);
  CHECK_FALSE(ParseState("done").has_value());
}

}  // namespace
}  // namespace consentd::erasure
