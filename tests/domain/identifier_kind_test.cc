// Identifier kinds: the stable names that ledger entries and policies use.
#include <catch2/catch.hpp>

#include "src/domain/identifier_kind.h"
#include "src/domain/identity_rules.h"

namespace consentd::domain {
namespace {

TEST_CASE("Every kind name parses back to the same kind", "[domain][kind]") {
  for (const char* name : {"email", "phone", "shopify_customer", "woocommerce_customer", "hubspot_contact",
                           "salesforce_contact", "salesforce_lead", "klaviyo_profile", "mailchimp_member",
                           "custom:loyalty_id", "custom:a.b-c_9"}) {
    Result<IdentifierKind> kind = IdentifierKind::Parse(name);
    REQUIRE(kind.ok());
    CHECK(kind->Name() == name);
  }
}

TEST_CASE("Unknown kinds and malformed custom names are rejected", "[domain][kind]") {
  for (const char* name : {"", "Email", "fax", "custom:", "custom:Upper", "custom:with space", "custom:a:b",
                           "custom:0123456789012345678901234567890123456789012345678"}) {
    INFO(name);
    CHECK(IdentifierKind::Parse(name).status().code() == StatusCode::kInvalidArgument);
  }
}

TEST_CASE("Only Shopify, WooCommerce and Mailchimp ids are qualified", "[domain][kind]") {
  CHECK(IdentifierKind(IdentifierType::kShopifyCustomer).IsQualified());
  CHECK(IdentifierKind(IdentifierType::kWooCommerceCustomer).IsQualified());
  CHECK(IdentifierKind(IdentifierType::kMailchimpMember).IsQualified());
  CHECK_FALSE(IdentifierKind(IdentifierType::kHubSpotContact).IsQualified());
  CHECK_FALSE(IdentifierKind::Email().IsQualified());
  CHECK(IdentifierKind(IdentifierType::kSalesforceLead).IsSystemId());
  CHECK_FALSE(IdentifierKind::Phone().IsSystemId());
  CHECK_FALSE(IdentifierKind::Custom("x")->IsSystemId());
}

TEST_CASE("Default identity rules are conservative", "[domain][rules]") {
  IdentityRules rules;
  CHECK_FALSE(rules.auto_merge);
  CHECK(rules.one_system_id_per_qualifier);
  CHECK_FALSE(rules.suggest_plus_tag_merges);
  CHECK(rules.strong_kinds.count("email") == 1);
  CHECK(rules.strong_kinds.count("phone") == 0);
  CHECK(rules.default_phone_region.empty());
}

}  // namespace
}  // namespace consentd::domain
