// RequestState: the lifecycle of an erasure request and its transition table,
// the single source of truth for which state changes are allowed. The table
// is printed in docs/erasure.md (a test compares the two).
//
//   received ──verify──▶ verified ──start──▶ propagating ──▶ completed
//      │                    │                     └────────▶ partially_completed
//      ├──reject──▶ rejected │
//      └──cancel──▶ cancelled ◀──cancel──┘
//
// Every transition is one ledger entry of the kind the table names, written
// in the same transaction as the state change. Extending the deadline
// ("erasure.extended") and linking a duplicate ("erasure.linked") are
// entries too, but change no state.
//
// Thread-safety: pure functions over constant data.
#ifndef CONSENTD_ERASURE_REQUEST_STATE_H_
#define CONSENTD_ERASURE_REQUEST_STATE_H_

#include <optional>
#include <span>
#include <string_view>

#include "src/base/result.h"

namespace consentd::erasure {

enum class RequestState {
  kReceived,            // filed; identity of the requester not verified yet
  kVerified,            // verified; about to propagate
  kRejected,            // refused, with a reason code (terminal)
  kPropagating,         // erasure sent to every system; waiting for outcomes
  kCompleted,           // every system confirmed (or already had nothing) (terminal)
  kPartiallyCompleted,  // some system failed or keeps data under an exception (terminal)
  kCancelled,           // withdrawn by the requester or an officer before propagation (terminal)
};

std::string_view StateName(RequestState s);
std::optional<RequestState> ParseState(std::string_view name);
bool IsTerminal(RequestState s);
// Open: received, verified or propagating (duplicates link to it).
inline bool IsOpen(RequestState s) { return !IsTerminal(s); }

struct Transition {
  std::optional<RequestState> from;  // nullopt: the request is created
  RequestState to;
  std::string_view entry_kind;       // the ledger entry that records it
};

// Every allowed transition, in documentation order.
std::span<const Transition> Transitions();

// The allowed transition from -> to, or kFailedPrecondition naming both
// states ("cannot go from completed to cancelled").
Result<Transition> FindTransition(std::optional<RequestState> from, RequestState to);

}  // namespace consentd::erasure

#endif  // CONSENTD_ERASURE_REQUEST_STATE_H_
