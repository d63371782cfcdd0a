// Conflict rules: whether an incoming consent event changes the state of a
// (subject, purpose), as pure functions of the current state, the event and
// the PolicySet. No clock, no I/O: times come in with the event.
//
// The rules, in the order they are applied (docs/policies.md has the table):
//   1. The purpose must be declared                    else kRejected  unknown_purpose
//   2. The source must be allowed for the purpose:
//      unknown system                                  -> kNotAuthorized unknown_system
//      a grant by a withdraw-only method (GPC,
//      unsubscribe link, spam complaint)               -> kNotAuthorized method_cannot_grant
//      a grant by a system that may only withdraw      -> kNotAuthorized withdraw_only_system
//      a grant/withdrawal the system may not make      -> kNotAuthorized system_may_not_grant /
//                                                                        system_may_not_withdraw
//   3. No current state                                -> kApply       first_decision
//   4. Older than the current state                    -> kStale       older_than_current
//   5. Same decision as the current state              -> kNoChange    same_decision
//      (replaces_state when the event is newer, or as old with a higher
//      rank, so the state always holds the strongest claim)
//   6. Newer than the current state                    -> kApply       newer_event
//   7. Same time, higher source rank                   -> kApply       higher_rank
//      Same time, lower source rank                    -> kStale       lower_rank
//   8. Same time and rank: the opt-out wins            -> kApply       opt_out_wins_tie (withdrawal)
//                                                         kStale       opt_out_wins_tie (grant)
// The state kept is always the maximum, over the authorized events seen, of
// (occurred_at, rank, withdrawn-over-granted); so replaying the same events
// in any order ends in the same decision.
// Direct sources (an empty system id: consentd's API, imports, GPC received
// by consentd) may grant and withdraw every purpose, with rank kDirectRank.
//
// Thread-safety: pure functions.
#ifndef CONSENTD_POLICIES_CONFLICT_H_
#define CONSENTD_POLICIES_CONFLICT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "policies/policy_set.h"
#include "src/domain/consent.h"

namespace consentd::policies {

// The name and version of these rules, recorded with every decision. If the
// outcome of any input changes, the version changes ("conflict/v2").
inline constexpr std::string_view kConflictRuleName = "conflict/v1";

// The rank of a direct source (empty system id) for every purpose.
inline constexpr int32_t kDirectRank = 0;

// A consent event as the conflict rules see it.
struct IncomingConsent {
  std::string purpose;
  domain::Decision decision = domain::Decision::kWithdrawn;
  int64_t occurred_at_ms = 0;  // Unix milliseconds, as reported by the source
  domain::ConsentSource source;
};

enum class ConflictOutcome {
  kApply,          // record it and make it the current state
  kStale,          // record it; the current state takes precedence
  kNoChange,       // same decision as the current state (e.g. an echo):
                   // record or drop per the caller; no fan-out
  kNotAuthorized,  // record it; the source may not make this decision
  kRejected,       // malformed for this policy (unknown purpose): not recorded
};

// "apply", "stale", "no_change", "not_authorized", "rejected".
std::string_view ConflictOutcomeName(ConflictOutcome o);

struct ConflictDecision {
  ConflictOutcome outcome = ConflictOutcome::kRejected;
  std::string_view reason;  // stable code, e.g. "older_than_current"; static storage
  int32_t source_rank = 0;  // the event's rank for the purpose (store it in
                            // ConsentState::source_rank when applied)
  // True when the caller must make StateAfter(event) the current state:
  // always for kApply; for kNoChange when the event is a stronger claim of
  // the same decision (the decision does not change, nothing fans out, but
  // its provenance moves to the newer or higher-ranked source).
  bool replaces_state = false;
  std::string_view rule = kConflictRuleName;
};

// Decides what `event` does to a (subject, purpose) whose state is `current`
// (nullopt when nothing was ever recorded). REQUIRES: `current`, if given, is
// the state of event.purpose.
ConflictDecision ResolveConflict(const std::optional<domain::ConsentState>& current, const IncomingConsent& event,
                                 const PolicySet& policy);

// The state after `event` when ResolveConflict set replaces_state: the event's
// decision, time, source and rank, with `ledger_seq` of its ledger entry.
domain::ConsentState StateAfter(const IncomingConsent& event, const ConflictDecision& decision,
                                uint64_t ledger_seq);

// A Global Privacy Control signal is an opt-out of sale and sharing: one
// withdrawal (method gpc) of every purpose whose channel is sale_sharing,
// ordered by purpose key. `source_system` is empty when consentd received
// the signal itself.
std::vector<IncomingConsent> ExpandGpc(const PolicySet& policy, int64_t occurred_at_ms,
                                       std::string_view source_system = "");

// Whether processing for `purpose` is allowed: the recorded decision if
// there is one, else the purpose's default in `jurisdiction` (empty: the
// plain default).
struct EffectiveConsent {
  bool allowed = false;
  bool from_default = true;  // no decision recorded; the default applied
};
// REQUIRES: `current`, if given, is the state of `purpose`.
EffectiveConsent EffectiveState(const Purpose& purpose, const std::optional<domain::ConsentState>& current,
                                std::string_view jurisdiction = "");

}  // namespace consentd::policies

#endif  // CONSENTD_POLICIES_CONFLICT_H_
