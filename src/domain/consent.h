// Consent value types: the decision a subject made for one purpose, how and
// where it was captured (ConsentMethod, ConsentSource), and the current state
// of one (subject, purpose) pair as the state projection keeps it
// (ConsentState).
//
// Decision and method names are stable strings: they appear in ledger
// entries, in the HTTP API and in import files, so a name never changes
// meaning once released. Parse functions accept exactly these names.
//
// Header-only. Thread-safety: value types.
#ifndef CONSENTD_DOMAIN_CONSENT_H_
#define CONSENTD_DOMAIN_CONSENT_H_

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "src/base/result.h"

namespace consentd::domain {

// What the subject decided for a purpose. There is no "denied" decision: a
// purpose nobody decided on has no state, and its policy default applies.
enum class Decision {
  kGranted,
  kWithdrawn,
};

// How a consent event was captured. Stable names in comments.
enum class ConsentMethod {
  kCheckoutCheckbox,  // "checkout_checkbox": a box ticked at checkout
  kSignupForm,        // "signup_form": a newsletter or account sign-up form
  kPreferenceCentre,  // "preference_centre": the subject's preference page
  kUnsubscribeLink,   // "unsubscribe_link": a link in a message (withdraw only)
  kSpamComplaint,     // "spam_complaint": marked as spam (withdraw only)
  kDoubleOptIn,       // "double_opt_in": confirmation of a pending opt-in
  kSupportAgent,      // "support_agent": recorded by staff on request
  kGpc,               // "gpc": Global Privacy Control signal (withdraw only)
  kImport,            // "import": backfilled from a historical export
  kApi,               // "api": sent to consentd's API by an integration
  kWebhook,           // "webhook": reported by a downstream system's webhook
  kSync,              // "sync": found by polling a downstream system
};

namespace consent_internal {

struct DecisionName {
  Decision decision;
  std::string_view name;
};
inline constexpr std::array<DecisionName, 2> kDecisionNames = {{
    {Decision::kGranted, "granted"},
    {Decision::kWithdrawn, "withdrawn"},
}};

struct MethodName {
  ConsentMethod method;
  std::string_view name;
};
inline constexpr std::array<MethodName, 12> kMethodNames = {{
    {ConsentMethod::kCheckoutCheckbox, "checkout_checkbox"},
    {ConsentMethod::kSignupForm, "signup_form"},
    {ConsentMethod::kPreferenceCentre, "preference_centre"},
    {ConsentMethod::kUnsubscribeLink, "unsubscribe_link"},
    {ConsentMethod::kSpamComplaint, "spam_complaint"},
    {ConsentMethod::kDoubleOptIn, "double_opt_in"},
    {ConsentMethod::kSupportAgent, "support_agent"},
    {ConsentMethod::kGpc, "gpc"},
    {ConsentMethod::kImport, "import"},
    {ConsentMethod::kApi, "api"},
    {ConsentMethod::kWebhook, "webhook"},
    {ConsentMethod::kSync, "sync"},
}};

// Quotes at most 64 bytes of a caller-supplied name: names are chosen by
// integrators, not data subjects, but a bound keeps messages small.
inline std::string Quote(std::string_view s) {
  // Appended piecewise: GCC 12 at -O3 misreports operator+ on a temporary
  // (-Wrestrict, GCC bug 105329).
  std::string out;
  s = s.substr(0, 64);
  out.reserve(s.size() + 2);
  out.push_back('"');
  out.append(s);
  out.push_back('"');
  return out;
}

}  // namespace consent_internal

// "granted" or "withdrawn".
inline std::string_view DecisionName(Decision d) {
  for (const auto& n : consent_internal::kDecisionNames) {
    if (n.decision == d) return n.name;
  }
  return "invalid";
}

// Parses "granted" or "withdrawn"; kInvalidArgument otherwise.
inline Result<Decision> ParseDecision(std::string_view name) {
  for (const auto& n : consent_internal::kDecisionNames) {
    if (n.name == name) return n.decision;
  }
  return Status::InvalidArgument("unknown decision " + consent_internal::Quote(name) +
                                 " (expected \"granted\" or \"withdrawn\")");
}

// The stable name of a method, e.g. "preference_centre".
inline std::string_view ConsentMethodName(ConsentMethod m) {
  for (const auto& n : consent_internal::kMethodNames) {
    if (n.method == m) return n.name;
  }
  return "invalid";
}

// Parses a method name as listed above; kInvalidArgument otherwise.
inline Result<ConsentMethod> ParseConsentMethod(std::string_view name) {
  for (const auto& n : consent_internal::kMethodNames) {
    if (n.name == name) return n.method;
  }
  return Status::InvalidArgument("unknown consent method " + consent_internal::Quote(name));
}

// True for methods that can only ever express a withdrawal (an unsubscribe
// link, a spam complaint, a GPC signal). A grant claiming one of them is
// malformed; policies/conflict.h refuses it.
inline bool MethodIsWithdrawOnly(ConsentMethod m) {
  return m == ConsentMethod::kUnsubscribeLink || m == ConsentMethod::kSpamComplaint ||
         m == ConsentMethod::kGpc;
}

// Where a consent event came from: the system instance id as named in the
// policy ("shopify-main"), or empty for a direct source (consentd's own API,
// an import without a system, a GPC signal received by consentd), and how it
// was captured.
struct ConsentSource {
  std::string system;
  ConsentMethod method = ConsentMethod::kApi;

  bool operator==(const ConsentSource&) const = default;
};

// The current state of one (subject, purpose) pair: the decision in force and
// the event that set it. Kept by the state projection; rebuilt from the
// ledger. `source_rank` is the rank the source had for this purpose when the
// event was applied (policies/conflict.h compares against it, so replaying
// the ledger gives the same answer after a policy change).
struct ConsentState {
  Decision decision = Decision::kWithdrawn;
  int64_t occurred_at_ms = 0;  // Unix milliseconds, UTC, as reported by the source
  std::string source_system;   // empty for a direct source
  int32_t source_rank = 0;
  ConsentMethod method = ConsentMethod::kApi;
  uint64_t ledger_seq = 0;     // the ledger entry that recorded the event

  bool operator==(const ConsentState&) const = default;
};

}  // namespace consentd::domain

#endif  // CONSENTD_DOMAIN_CONSENT_H_
