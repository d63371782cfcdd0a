#include "policies/conflict.h"

namespace consentd::policies {

using domain::Decision;

std::string_view ConflictOutcomeName(ConflictOutcome o) {
  switch (o) {
    case ConflictOutcome::kApply: return "apply";
    case ConflictOutcome::kStale: return "stale";
    case ConflictOutcome::kNoChange: return "no_change";
    case ConflictOutcome::kNotAuthorized: return "not_authorized";
    case ConflictOutcome::kRejected: return "rejected";
  }
  return "invalid";
}

ConflictDecision ResolveConflict(const std::optional<domain::ConsentState>& current, const IncomingConsent& event,
                                 const PolicySet& policy) {
  auto decide = [](ConflictOutcome o, std::string_view reason, int32_t rank, bool replaces = false) {
    return ConflictDecision{o, reason, rank, replaces || o == ConflictOutcome::kApply, kConflictRuleName};
  };

  // 1. The purpose.
  if (policy.FindPurpose(event.purpose) == nullptr) {
    return decide(ConflictOutcome::kRejected, "unknown_purpose", 0);
  }

  // 2. Authorization: the method, then the system.
  const bool grant = event.decision == Decision::kGranted;
  int32_t rank = kDirectRank;
  if (grant && domain::MethodIsWithdrawOnly(event.source.method)) {
    return decide(ConflictOutcome::kNotAuthorized, "method_cannot_grant", rank);
  }
  if (!event.source.system.empty()) {
    const System* sys = policy.FindSystem(event.source.system);
    if (sys == nullptr) return decide(ConflictOutcome::kNotAuthorized, "unknown_system", 0);
    rank = sys->RankFor(event.purpose);
    if (grant && !sys->MayGrant(event.purpose)) {
      return decide(ConflictOutcome::kNotAuthorized,
                    sys->MayWithdraw(event.purpose) ? "withdraw_only_system" : "system_may_not_grant", rank);
    }
    if (!grant && !sys->MayWithdraw(event.purpose)) {
      return decide(ConflictOutcome::kNotAuthorized, "system_may_not_withdraw", rank);
    }
  }

  // 3-8. Against the current state.
  if (!current) return decide(ConflictOutcome::kApply, "first_decision", rank);
  if (event.occurred_at_ms < current->occurred_at_ms) {
    return decide(ConflictOutcome::kStale, "older_than_current", rank);
  }
  if (event.decision == current->decision) {
    bool stronger = event.occurred_at_ms > current->occurred_at_ms || rank > current->source_rank;
    return decide(ConflictOutcome::kNoChange, "same_decision", rank, stronger);
  }
  if (event.occurred_at_ms > current->occurred_at_ms) return decide(ConflictOutcome::kApply, "newer_event", rank);
  if (rank > current->source_rank) return decide(ConflictOutcome::kApply, "higher_rank", rank);
  if (rank < current->source_rank) return decide(ConflictOutcome::kStale, "lower_rank", rank);
  return decide(grant ? ConflictOutcome::kStale : ConflictOutcome::kApply, "opt_out_wins_tie", rank);
}

domain::ConsentState StateAfter(const IncomingConsent& event, const ConflictDecision& decision,
                                uint64_t ledger_seq) {
  domain::ConsentState s;
  s.decision = event.decision;
  s.occurred_at_ms = event.occurred_at_ms;
  s.source_system = event.source.system;
  s.source_rank = decision.source_rank;
  s.method = event.source.method;
  s.ledger_seq = ledger_seq;
  return s;
}

std::vector<IncomingConsent> ExpandGpc(const PolicySet& policy, int64_t occurred_at_ms,
                                       std::string_view source_system) {
  std::vector<IncomingConsent> out;
  for (const std::string& key : policy.PurposesOnChannel(Channel::kSaleSharing)) {
    IncomingConsent e;
    e.purpose = key;
    e.decision = Decision::kWithdrawn;
    e.occurred_at_ms = occurred_at_ms;
    e.source.system = std::string(source_system);
    e.source.method = domain::ConsentMethod::kGpc;
    out.push_back(std::move(e));
  }
  return out;
}

EffectiveConsent EffectiveState(const Purpose& purpose, const std::optional<domain::ConsentState>& current,
                                std::string_view jurisdiction) {
  if (current) return EffectiveConsent{current->decision == Decision::kGranted, false};
  return EffectiveConsent{purpose.DefaultFor(jurisdiction) == DefaultState::kGranted, true};
}

}  // namespace consentd::policies
