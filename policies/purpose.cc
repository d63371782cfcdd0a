#include "policies/purpose.h"

#include <array>
#include <utility>

namespace consentd::policies {
namespace {

template <typename E, size_t N>
using NameTable = std::array<std::pair<E, std::string_view>, N>;

constexpr NameTable<Channel, 8> kChannels = {{
    {Channel::kEmail, "email"},
    {Channel::kSms, "sms"},
    {Channel::kPhone, "phone"},
    {Channel::kAds, "ads"},
    {Channel::kAnalytics, "analytics"},
    {Channel::kSaleSharing, "sale_sharing"},
    {Channel::kPersonalization, "personalization"},
    {Channel::kOther, "other"},
}};

constexpr NameTable<LegalBasis, 6> kBases = {{
    {LegalBasis::kConsent, "consent"},
    {LegalBasis::kLegitimateInterest, "legitimate_interest"},
    {LegalBasis::kContract, "contract"},
    {LegalBasis::kLegalObligation, "legal_obligation"},
    {LegalBasis::kVitalInterest, "vital_interest"},
    {LegalBasis::kPublicTask, "public_task"},
}};

constexpr NameTable<DefaultState, 2> kDefaults = {{
    {DefaultState::kGranted, "granted"},
    {DefaultState::kDenied, "denied"},
}};

constexpr NameTable<GcmFlag, 7> kGcm = {{
    {GcmFlag::kAdStorage, "ad_storage"},
    {GcmFlag::kAdUserData, "ad_user_data"},
    {GcmFlag::kAdPersonalization, "ad_personalization"},
    {GcmFlag::kAnalyticsStorage, "analytics_storage"},
    {GcmFlag::kFunctionalityStorage, "functionality_storage"},
    {GcmFlag::kPersonalizationStorage, "personalization_storage"},
    {GcmFlag::kSecurityStorage, "security_storage"},
}};

template <typename E, size_t N>
std::string_view NameOf(const NameTable<E, N>& table, E value) {
  for (const auto& [e, name] : table) {
    if (e == value) return name;
  }
  return "invalid";
}

template <typename E, size_t N>
std::optional<E> Parse(const NameTable<E, N>& table, std::string_view name) {
  for (const auto& [e, n] : table) {
    if (n == name) return e;
  }
  return std::nullopt;
}

template <typename E, size_t N>
std::string Names(const NameTable<E, N>& table) {
  std::string out;
  for (const auto& [e, n] : table) {
    if (!out.empty()) out += ", ";
    out += n;
  }
  return out;
}

}  // namespace

std::string_view ChannelName(Channel c) { return NameOf(kChannels, c); }
std::optional<Channel> ParseChannel(std::string_view name) { return Parse(kChannels, name); }
std::string_view LegalBasisName(LegalBasis b) { return NameOf(kBases, b); }
std::optional<LegalBasis> ParseLegalBasis(std::string_view name) { return Parse(kBases, name); }
std::string_view DefaultStateName(DefaultState d) { return NameOf(kDefaults, d); }
std::optional<DefaultState> ParseDefaultState(std::string_view name) { return Parse(kDefaults, name); }
std::string_view GcmFlagName(GcmFlag f) { return NameOf(kGcm, f); }
std::optional<GcmFlag> ParseGcmFlag(std::string_view name) { return Parse(kGcm, name); }
std::string ChannelNames() { return Names(kChannels); }
std::string LegalBasisNames() { return Names(kBases); }
std::string GcmFlagNames() { return Names(kGcm); }

DefaultState Purpose::DefaultFor(std::string_view jurisdiction) const {
  if (!jurisdiction.empty()) {
    auto it = default_by_jurisdiction.find(std::string(jurisdiction));
    if (it != default_by_jurisdiction.end()) return it->second;
  }
  return default_state;
}

}  // namespace consentd::policies
