#include "src/domain/identifier_kind.h"

#include <array>
#include <utility>

namespace consentd::domain {
namespace {

struct KindName {
  IdentifierType type;
  std::string_view name;
};

constexpr std::array<KindName, 9> kNames = {{
    {IdentifierType::kEmail, "email"},
    {IdentifierType::kPhone, "phone"},
    {IdentifierType::kShopifyCustomer, "shopify_customer"},
    {IdentifierType::kWooCommerceCustomer, "woocommerce_customer"},
    {IdentifierType::kHubSpotContact, "hubspot_contact"},
    {IdentifierType::kSalesforceContact, "salesforce_contact"},
    {IdentifierType::kSalesforceLead, "salesforce_lead"},
    {IdentifierType::kKlaviyoProfile, "klaviyo_profile"},
    {IdentifierType::kMailchimpMember, "mailchimp_member"},
}};

constexpr std::string_view kCustomPrefix = "custom:";

bool ValidCustomName(std::string_view name) {
  if (name.empty() || name.size() > 48) return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

Result<IdentifierKind> IdentifierKind::Custom(std::string_view name) {
  if (!ValidCustomName(name)) {
    return Status::InvalidArgument("custom identifier kind name must match [a-z0-9_.-]{1,48}");
  }
  return IdentifierKind(IdentifierType::kCustom, std::string(name));
}

Result<IdentifierKind> IdentifierKind::Parse(std::string_view name) {
  for (const KindName& k : kNames) {
    if (k.name == name) return IdentifierKind(k.type);
  }
  if (name.substr(0, kCustomPrefix.size()) == kCustomPrefix) {
    return Custom(name.substr(kCustomPrefix.size()));
  }
  // Kind names are chosen by integrators, not by data subjects, so quoting a
  // bounded prefix is safe and helpful.
  return Status::InvalidArgument("unknown identifier kind \"" + std::string(name.substr(0, 64)) + "\"");
}

std::string IdentifierKind::Name() const {
  if (type_ == IdentifierType::kCustom) return std::string(kCustomPrefix) + custom_;
  for (const KindName& k : kNames) {
    if (k.type == type_) return std::string(k.name);
  }
  return "invalid";
}

bool IdentifierKind::IsQualified() const {
  return type_ == IdentifierType::kShopifyCustomer || type_ == IdentifierType::kWooCommerceCustomer ||
         type_ == IdentifierType::kMailchimpMember;
}

bool IdentifierKind::IsSystemId() const {
  return type_ != IdentifierType::kEmail && type_ != IdentifierType::kPhone &&
         type_ != IdentifierType::kCustom;
}

std::string NormalizedIdentifier::BlindIndexInput() const {
  std::string out = kind.Name();
  out += ':';
  if (kind.IsQualified()) {
    out += qualifier;
    out += ' ';
  }
  out += value;
  return out;
}

}  // namespace consentd::domain
