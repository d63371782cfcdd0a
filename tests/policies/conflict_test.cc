// Tests of policies/conflict.h: the decision table of the conflict rules,
// GPC expansion and effective state with defaults.
#include <catch2/catch.hpp>

#include <algorithm>
#include <optional>
#include <tuple>
#include <string>
#include <vector>

#include "policies/conflict.h"
#include "tests/policies/test_util.h"

namespace consentd::policies {
namespace {

using domain::ConsentMethod;
using domain::ConsentState;
using domain::Decision;

constexpr Decision G = Decision::kGranted;
constexpr Decision W = Decision::kWithdrawn;

// Purposes: email (email), ads (sale_sharing), share (sale_sharing).
// Systems:  shop  may grant and withdraw email, rank 100
//           crm   may grant and withdraw email, rank 50
//           esp   may only withdraw email,      rank 100
//           ads   receives share, grants nothing, may withdraw nothing
PolicySet TestPolicy() {
  LoadResult r = testing::ParseOne(R"({
    "format": "consentd.policy/v1",
    "purposes": {
      "email": {"channel": "email", "legal_basis": "consent", "default": "denied"},
      "ads": {"channel": "sale_sharing", "legal_basis": "consent", "default": "denied",
              "default_by_jurisdiction": {"ccpa": "granted"}},
      "share": {"channel": "sale_sharing", "legal_basis": "legitimate_interest", "default": "granted"}
    },
    "systems": {
      "shop": {"kind": "shopify", "credentials": {"access_token": "shop/token"},
               "receives": ["email"], "may_grant": ["email"], "rank": {"email": 100},
               "options": {"shop_domain": "x.myshopify.com"}},
      "crm": {"kind": "webhook", "base_url": "https://crm.example.com", "credentials": {"signing_secret": "crm/s"},
              "receives": ["email"], "may_grant": ["email"], "rank": {"email": 50}},
      "esp": {"kind": "mailchimp", "credentials": {"api_key": "mc/key"}, "receives": ["email"],
              "may_withdraw": ["email"], "rank": {"email": 100},
              "options": {"list_id": "abc", "data_center": "us1"}},
      "ads": {"kind": "webhook", "base_url": "https://ads.example.com", "credentials": {"signing_secret": "ads/s"},
              "receives": ["share"], "may_withdraw": []}
    },
    "jurisdictions": {"ccpa": {"response": {"days": 45}, "acknowledge": {"business_days": 10},
                               "opt_out_of_sale": {"business_days": 15}, "record_retention": {"months": 24}}}
  })");
  INFO(FormatErrors(r.errors));
  REQUIRE(r.ok());
  return r.policy;
}

ConsentState State(Decision d, int64_t at, const std::string& system, int32_t rank) {
  ConsentState s;
  s.decision = d;
  s.occurred_at_ms = at;
  s.source_system = system;
  s.source_rank = rank;
  s.method = ConsentMethod::kWebhook;
  s.ledger_seq = 7;
  return s;
}

IncomingConsent Event(const std::string& purpose, Decision d, int64_t at, const std::string& system,
                      ConsentMethod method = ConsentMethod::kWebhook) {
  IncomingConsent e;
  e.purpose = purpose;
  e.decision = d;
  e.occurred_at_ms = at;
  e.source.system = system;
  e.source.method = method;
  return e;
}

struct Row {
  const char* name;
  std::optional<ConsentState> current;
  IncomingConsent event;
  ConflictOutcome outcome;
  const char* reason;
  int32_t rank;
  bool refreshes = false;  // kNoChange that still replaces the state
};

TEST_CASE("The conflict rules decide each row of the decision table", "[policies][conflict]") {
  const PolicySet policy = TestPolicy();
  const int64_t t = 1'700'000'000'000;
  const Row rows[] = {
      // No state yet
      {"a first decision applies", std::nullopt, Event("email", G, t, "shop"), ConflictOutcome::kApply,
       "first_decision", 100},
      {"a first withdrawal applies", std::nullopt, Event("email", W, t, "esp"), ConflictOutcome::kApply,
       "first_decision", 100},
      // Time
      {"an older event is stale", State(W, t, "crm", 50), Event("email", G, t - 1, "shop"), ConflictOutcome::kStale,
       "older_than_current", 100},
      {"an older opt-out is stale too", State(G, t, "crm", 50), Event("email", W, t - 1, "shop"),
       ConflictOutcome::kStale, "older_than_current", 100},
      {"a newer event wins whatever the ranks", State(W, t, "shop", 100), Event("email", G, t + 1, "crm"),
       ConflictOutcome::kApply, "newer_event", 50},
      {"a newer opt-out wins", State(G, t, "shop", 100), Event("email", W, t + 1, "crm"), ConflictOutcome::kApply,
       "newer_event", 50},
      // Same decision
      {"a newer echo of the same decision changes nothing", State(G, t, "shop", 100), Event("email", G, t + 5, "crm"),
       ConflictOutcome::kNoChange, "same_decision", 50, true},
      {"a same-time echo changes nothing", State(W, t, "esp", 100), Event("email", W, t, "shop"),
       ConflictOutcome::kNoChange, "same_decision", 100},
      {"a same-time echo from a higher rank takes over the state", State(G, t, "crm", 50),
       Event("email", G, t, "shop"), ConflictOutcome::kNoChange, "same_decision", 100, true},
      {"a same-time echo from a lower rank does not", State(G, t, "shop", 100), Event("email", G, t, "crm"),
       ConflictOutcome::kNoChange, "same_decision", 50},
      // Same time: rank
      {"at the same time a higher rank wins", State(W, t, "crm", 50), Event("email", G, t, "shop"),
       ConflictOutcome::kApply, "higher_rank", 100},
      {"at the same time a lower rank loses", State(G, t, "shop", 100), Event("email", W, t, "crm"),
       ConflictOutcome::kStale, "lower_rank", 50},
      // Same time and rank: opt-out
      {"at the same time and rank an opt-out wins", State(G, t, "shop", 100), Event("email", W, t, "esp"),
       ConflictOutcome::kApply, "opt_out_wins_tie", 100},
      {"at the same time and rank a grant loses to an opt-out", State(W, t, "esp", 100), Event("email", G, t, "shop"),
       ConflictOutcome::kStale, "opt_out_wins_tie", 100},
      // The rank recorded in the state counts, not today's
      {"the recorded rank of the current state is compared", State(W, t, "crm", 500), Event("email", G, t, "shop"),
       ConflictOutcome::kStale, "lower_rank", 100},
      // Authorization
      {"a withdraw-only system cannot grant", std::nullopt, Event("email", G, t, "esp"),
       ConflictOutcome::kNotAuthorized, "withdraw_only_system", 100},
      {"a withdraw-only system cannot grant even when newer", State(W, t, "shop", 100), Event("email", G, t + 9, "esp"),
       ConflictOutcome::kNotAuthorized, "withdraw_only_system", 100},
      {"a system not allowed to grant a purpose cannot", std::nullopt, Event("share", G, t, "ads"),
       ConflictOutcome::kNotAuthorized, "system_may_not_grant", 0},
      {"a system not allowed to withdraw a purpose cannot", std::nullopt, Event("share", W, t, "ads"),
       ConflictOutcome::kNotAuthorized, "system_may_not_withdraw", 0},
      {"a system that does not receive a purpose cannot decide it", std::nullopt, Event("ads", W, t, "shop"),
       ConflictOutcome::kNotAuthorized, "system_may_not_withdraw", 0},
      {"an unknown system is not authorized", std::nullopt, Event("email", W, t, "nope"),
       ConflictOutcome::kNotAuthorized, "unknown_system", 0},
      {"an unsubscribe link cannot grant", std::nullopt, Event("email", G, t, "shop", ConsentMethod::kUnsubscribeLink),
       ConflictOutcome::kNotAuthorized, "method_cannot_grant", 0},
      {"a GPC signal cannot grant", std::nullopt, Event("ads", G, t, "", ConsentMethod::kGpc),
       ConflictOutcome::kNotAuthorized, "method_cannot_grant", 0},
      // Direct sources
      {"a direct source may grant any purpose with rank 0", std::nullopt,
       Event("ads", G, t, "", ConsentMethod::kPreferenceCentre), ConflictOutcome::kApply, "first_decision", 0},
      {"a direct opt-out ties with a direct grant and wins", State(G, t, "", 0),
       Event("ads", W, t, "", ConsentMethod::kSupportAgent), ConflictOutcome::kApply, "opt_out_wins_tie", 0},
      // Unknown purpose
      {"an unknown purpose is rejected", std::nullopt, Event("fax", W, t, ""), ConflictOutcome::kRejected,
       "unknown_purpose", 0},
  };
  for (const Row& row : rows) {
    INFO(row.name);
    ConflictDecision d = ResolveConflict(row.current, row.event, policy);
    CHECK(ConflictOutcomeName(d.outcome) == ConflictOutcomeName(row.outcome));
    CHECK(d.reason == row.reason);
    if (d.outcome != ConflictOutcome::kRejected && std::string(row.reason) != "unknown_system") {
      CHECK(d.source_rank == row.rank);
    }
    CHECK(d.rule == "conflict/v1");
    CHECK(d.replaces_state == (row.outcome == ConflictOutcome::kApply || row.refreshes));
  }
}

TEST_CASE("Applying an event gives a state with its decision, time, source, rank and ledger seq",
          "[policies][conflict]") {
  const PolicySet policy = TestPolicy();
  IncomingConsent e = Event("email", G, 42, "shop", ConsentMethod::kCheckoutCheckbox);
  ConflictDecision d = ResolveConflict(std::nullopt, e, policy);
  REQUIRE(d.outcome == ConflictOutcome::kApply);
  ConsentState s = StateAfter(e, d, 99);
  CHECK(s.decision == G);
  CHECK(s.occurred_at_ms == 42);
  CHECK(s.source_system == "shop");
  CHECK(s.source_rank == 100);
  CHECK(s.method == ConsentMethod::kCheckoutCheckbox);
  CHECK(s.ledger_seq == 99);
}

TEST_CASE("Replaying a sequence of events in any order converges to the same decision", "[policies][conflict]") {
  // The rules are a total order on (time, rank, opt-out), so the winner does
  // not depend on arrival order (as long as no event is unauthorized).
  const PolicySet policy = TestPolicy();
  std::vector<IncomingConsent> events = {
      Event("email", G, 10, "shop"), Event("email", W, 10, "crm"), Event("email", W, 10, "esp"),
      Event("email", G, 9, "crm"),   Event("email", G, 10, "crm"),
  };
  auto order = [](const IncomingConsent& a, const IncomingConsent& b) {
    return std::tie(a.source.system, a.occurred_at_ms, a.decision) <
           std::tie(b.source.system, b.occurred_at_ms, b.decision);
  };
  std::sort(events.begin(), events.end(), order);
  int permutations = 0;
  do {
    std::optional<ConsentState> state;
    uint64_t seq = 0;
    for (const IncomingConsent& e : events) {
      ConflictDecision d = ResolveConflict(state, e, policy);
      if (d.replaces_state) state = StateAfter(e, d, seq);
      ++seq;
    }
    REQUIRE(state);
    // shop (rank 100) and esp (rank 100) tie at t=10; the opt-out wins.
    CHECK(state->decision == W);
    CHECK(state->source_system == "esp");
    ++permutations;
  } while (std::next_permutation(events.begin(), events.end(), order));
  CHECK(permutations == 120);
}

TEST_CASE("A GPC signal expands into an opt-out of every sale_sharing purpose", "[policies][conflict][gpc]") {
  const PolicySet policy = TestPolicy();
  std::vector<IncomingConsent> events = ExpandGpc(policy, 1234, "");
  REQUIRE(events.size() == 2);
  CHECK(events[0].purpose == "ads");
  CHECK(events[1].purpose == "share");
  for (const IncomingConsent& e : events) {
    CHECK(e.decision == W);
    CHECK(e.occurred_at_ms == 1234);
    CHECK(e.source.method == ConsentMethod::kGpc);
    CHECK(e.source.system.empty());
    // A direct GPC opt-out applies over an earlier grant.
    ConflictDecision d = ResolveConflict(State(G, 1000, "", 0), e, policy);
    CHECK(d.outcome == ConflictOutcome::kApply);
  }
}

TEST_CASE("A GPC signal with no sale_sharing purpose expands to nothing", "[policies][conflict][gpc]") {
  LoadResult r = testing::ParseOne(testing::MinimalDocument());
  REQUIRE(r.ok());
  CHECK(ExpandGpc(r.policy, 1, "shop").empty());
}

TEST_CASE("The default policy's GPC expansion withdraws sale_sharing only", "[policies][conflict][gpc]") {
  std::vector<std::string> paths = {testing::DefaultPolicyPath()};
  LoadResult r = LoadPolicyFiles(paths);
  REQUIRE(r.ok());
  std::vector<IncomingConsent> events = ExpandGpc(r.policy, 5);
  REQUIRE(events.size() == 1);
  CHECK(events[0].purpose == "sale_sharing");
}

TEST_CASE("Without a recorded decision the purpose default applies, per jurisdiction", "[policies][conflict]") {
  const PolicySet policy = TestPolicy();
  const Purpose& email = *policy.FindPurpose("email");
  const Purpose& ads = *policy.FindPurpose("ads");
  const Purpose& share = *policy.FindPurpose("share");

  EffectiveConsent e = EffectiveState(email, std::nullopt);
  CHECK_FALSE(e.allowed);
  CHECK(e.from_default);
  CHECK(EffectiveState(share, std::nullopt).allowed);
  CHECK_FALSE(EffectiveState(ads, std::nullopt).allowed);
  CHECK_FALSE(EffectiveState(ads, std::nullopt, "gdpr").allowed);
  CHECK(EffectiveState(ads, std::nullopt, "ccpa").allowed);

  EffectiveConsent granted = EffectiveState(email, State(G, 1, "shop", 100));
  CHECK(granted.allowed);
  CHECK_FALSE(granted.from_default);
  CHECK_FALSE(EffectiveState(share, State(W, 1, "", 0)).allowed);
  CHECK_FALSE(EffectiveState(ads, State(W, 1, "", 0), "ccpa").allowed);
}

}  // namespace
}  // namespace consentd::policies
