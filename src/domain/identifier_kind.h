// IdentifierKind: what an identifier of a person is (an email address, a
// phone number, or the id of a record in one downstream system), and the
// Identifier value type that carries one.
//
// Kind names are stable strings; they appear in ledger entries (the value of
// an identifier never does) and in policy documents:
//   email, phone, shopify_customer, woocommerce_customer, hubspot_contact,
//   salesforce_contact, salesforce_lead, klaviyo_profile, mailchimp_member,
//   custom:<name>   (<name> = [a-z0-9_.-]{1,48}, named in policy)
// Three kinds are qualified by the account they belong to, because their ids
// are only unique within it: shopify_customer (shop domain),
// woocommerce_customer (site) and mailchimp_member (list/audience id).
//
// Thread-safety: value types.
#ifndef CONSENTD_DOMAIN_IDENTIFIER_KIND_H_
#define CONSENTD_DOMAIN_IDENTIFIER_KIND_H_

#include <compare>
#include <string>
#include <string_view>

#include "src/base/result.h"

namespace consentd::domain {

enum class IdentifierType {
  kEmail,
  kPhone,
  kShopifyCustomer,
  kWooCommerceCustomer,
  kHubSpotContact,
  kSalesforceContact,
  kSalesforceLead,
  kKlaviyoProfile,
  kMailchimpMember,
  kCustom,
};

class IdentifierKind {
 public:
  // REQUIRES: type != kCustom (use Custom()).
  explicit IdentifierKind(IdentifierType type) : type_(type) {}
  static IdentifierKind Email() { return IdentifierKind(IdentifierType::kEmail); }
  static IdentifierKind Phone() { return IdentifierKind(IdentifierType::kPhone); }
  // kInvalidArgument unless `name` matches [a-z0-9_.-]{1,48}.
  static Result<IdentifierKind> Custom(std::string_view name);

  // Parses a kind name as listed above. kInvalidArgument for anything else;
  // the message quotes the name, which is not personal data.
  static Result<IdentifierKind> Parse(std::string_view name);

  IdentifierType type() const { return type_; }
  // The stable name, e.g. "email" or "custom:loyalty_id".
  std::string Name() const;
  // True for the kinds whose ids are unique only within a qualifier.
  bool IsQualified() const;
  // True for the ids of downstream systems (not email, phone or custom).
  bool IsSystemId() const;

  auto operator<=>(const IdentifierKind&) const = default;

 private:
  IdentifierKind(IdentifierType type, std::string custom) : type_(type), custom_(std::move(custom)) {}
  IdentifierType type_;
  std::string custom_;  // only for kCustom
};

// An identifier as received from outside, before normalization. `qualifier`
// is required for qualified kinds and must be empty for the others.
// Contains personal data: never log or print `value`.
struct Identifier {
  IdentifierKind kind;
  std::string value;
  std::string qualifier;
};

// An identifier in canonical form (see src/identity/normalizer.h): equal
// canonical forms mean the same identifier. Contains personal data.
struct NormalizedIdentifier {
  IdentifierKind kind;
  std::string qualifier;  // normalized; empty for unqualified kinds
  std::string value;      // normalized

  // The bytes the blind index is computed over:
  //   "<kind>:<value>"                 for unqualified kinds
  //   "<kind>:<qualifier> <value>"     for qualified kinds
  // Injective because kind names contain at most one ':' followed by a
  // name without ':', and qualifiers contain no whitespace.
  std::string BlindIndexInput() const;

  bool operator==(const NormalizedIdentifier&) const = default;
};

}  // namespace consentd::domain

#endif  // CONSENTD_DOMAIN_IDENTIFIER_KIND_H_
