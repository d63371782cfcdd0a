// Purpose: one reason for processing personal data that a subject can grant
// or withdraw (e.g. "email_marketing"), as declared in the `purposes` section
// of a policy document, with the enumerations that describe it: channel,
// legal basis, default, and its mappings to IAB TCF purposes and Google
// Consent Mode flags. See docs/policies.md.
//
// Every enumerator has a stable lower-case name, used in policy documents.
// Thread-safety: value types; the free functions are thread-safe.
#ifndef CONSENTD_POLICIES_PURPOSE_H_
#define CONSENTD_POLICIES_PURPOSE_H_

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace consentd::policies {

// The channel through which a purpose reaches the subject.
enum class Channel {
  kEmail,            // "email"
  kSms,              // "sms"
  kPhone,            // "phone"
  kAds,              // "ads"
  kAnalytics,        // "analytics"
  kSaleSharing,      // "sale_sharing": CCPA "sale or sharing"; GPC withdraws these
  kPersonalization,  // "personalization"
  kOther,            // "other"
};

// GDPR Art. 6(1) legal bases.
enum class LegalBasis {
  kConsent,             // "consent"
  kLegitimateInterest,  // "legitimate_interest"
  kContract,            // "contract"
  kLegalObligation,     // "legal_obligation"
  kVitalInterest,       // "vital_interest"
  kPublicTask,          // "public_task"
};

// What applies when nobody has decided for a subject and purpose.
enum class DefaultState {
  kGranted,  // "granted"
  kDenied,   // "denied"
};

// Google Consent Mode v2 flags.
enum class GcmFlag {
  kAdStorage,               // "ad_storage"
  kAdUserData,              // "ad_user_data"
  kAdPersonalization,       // "ad_personalization"
  kAnalyticsStorage,        // "analytics_storage"
  kFunctionalityStorage,    // "functionality_storage"
  kPersonalizationStorage,  // "personalization_storage"
  kSecurityStorage,         // "security_storage"
};

std::string_view ChannelName(Channel c);
std::optional<Channel> ParseChannel(std::string_view name);
std::string_view LegalBasisName(LegalBasis b);
std::optional<LegalBasis> ParseLegalBasis(std::string_view name);
std::string_view DefaultStateName(DefaultState d);
std::optional<DefaultState> ParseDefaultState(std::string_view name);
std::string_view GcmFlagName(GcmFlag f);
std::optional<GcmFlag> ParseGcmFlag(std::string_view name);

// The names accepted by the Parse functions above, comma-separated, for
// error messages ("email, sms, ...").
std::string ChannelNames();
std::string LegalBasisNames();
std::string GcmFlagNames();

// IAB TCF v2.2 purposes are numbered 1..11. Purposes 1 and 3-6 may only be
// processed on the basis of consent (3-6 since v2.2), never legitimate
// interest.
inline constexpr int kTcfMinPurpose = 1;
inline constexpr int kTcfMaxPurpose = 11;
inline bool TcfPurposeIsConsentOnly(int p) { return p == 1 || (p >= 3 && p <= 6); }

struct Purpose {
  std::string key;          // stable: [a-z0-9][a-z0-9_.-]{0,63}
  std::string description;  // for people; optional
  Channel channel = Channel::kOther;
  LegalBasis legal_basis = LegalBasis::kConsent;
  DefaultState default_state = DefaultState::kDenied;
  // Overrides `default_state` in a jurisdiction (by jurisdiction id), e.g.
  // sale_sharing granted by default under CCPA (an opt-out regime).
  std::map<std::string, DefaultState> default_by_jurisdiction;
  std::vector<int> tcf_purposes;  // ascending, unique, 1..11
  std::vector<GcmFlag> gcm;       // unique, in document order
  std::string defined_in;         // the policy file that declared it

  // The default for a subject in `jurisdiction` (empty: none known).
  DefaultState DefaultFor(std::string_view jurisdiction) const;
};

}  // namespace consentd::policies

#endif  // CONSENTD_POLICIES_PURPOSE_H_
