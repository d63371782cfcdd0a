#include "src/erasure/request_state.h"

#include <array>
#include <string>

namespace consentd::erasure {
namespace {

using S = RequestState;

constexpr std::array<std::pair<S, std::string_view>, 7> kNames = {{
    {S::kReceived, "received"},
    {S::kVerified, "verified"},
    {S::kRejected, "rejected"},
    {S::kPropagating, "propagating"},
    {S::kCompleted, "completed"},
    {S::kPartiallyCompleted, "partially_completed"},
    {S::kCancelled, "cancelled"},
}};

// docs/erasure.md "State diagram" prints exactly these rows.
const std::array<Transition, 8> kTransitions = {{
    {std::nullopt, S::kReceived, "erasure.received"},
    {S::kReceived, S::kVerified, "erasure.verified"},
    {S::kReceived, S::kRejected, "erasure.rejected"},
    {S::kReceived, S::kCancelled, "erasure.cancelled"},
    {S::kVerified, S::kPropagating, "erasure.propagating"},
    {S::kVerified, S::kCancelled, "erasure.cancelled"},
    {S::kPropagating, S::kCompleted, "erasure.completed"},
    // Also where a request still propagating at its deadline ends, with
    // the systems that did not answer listed as failures.
    {S::kPropagating, S::kPartiallyCompleted, "erasure.partially_completed"},
}};

}  // namespace

std::string_view StateName(RequestState s) {
  for (const auto& [state, name] : kNames) {
    if (state == s) return name;
  }
  return "unknown";
}

std::optional<RequestState> ParseState(std::string_view name) {
  for (const auto& [state, n] : kNames) {
    if (n == name) return state;
  }
  return std::nullopt;
}

bool IsTerminal(RequestState s) {
  return s == S::kRejected || s == S::kCompleted || s == S::kPartiallyCompleted || s == S::kCancelled;
}

std::span<const Transition> Transitions() { return kTransitions; }

Result<Transition> FindTransition(std::optional<RequestState> from, RequestState to) {
  for (const Transition& t : kTransitions) {
    if (t.from == from && t.to == to) return t;
  }
  return Status::FailedPrecondition("cannot go from " + std::string(from ? StateName(*from) : "nothing") + " to " +
                                    std::string(StateName(to)));
}

}  // namespace consentd::erasure
