// IdentityRules: the policy inputs of identity resolution. The policies layer
// fills this plain struct from the policy document; the resolver only reads
// it. Every field has a conservative default.
//
// Thread-safety: a value type.
#ifndef CONSENTD_DOMAIN_IDENTITY_RULES_H_
#define CONSENTD_DOMAIN_IDENTITY_RULES_H_

#include <set>
#include <string>

namespace consentd::domain {

struct IdentityRules {
  // Kinds (by IdentifierKind::Name()) strong enough to identify a person on
  // their own: a match on one of them links the other identifiers of the set
  // to that subject, and two subjects matched through strong kinds are the
  // same person. Matches through other (weak) kinds never link or merge
  // automatically; they queue a review instead.
  std::set<std::string> strong_kinds = {
      "email",           "shopify_customer", "woocommerce_customer", "hubspot_contact",
      "salesforce_contact", "salesforce_lead", "klaviyo_profile",    "mailchimp_member",
  };

  // When an identifier set points at several subjects through strong kinds:
  // true merges them, false queues a review and links nothing.
  bool auto_merge = false;

  // A subject holds at most one id per downstream system and qualifier
  // (e.g. one Shopify customer per shop). A second, different id of that
  // system is a conflict: it is not linked (nor merged), and a review is
  // queued instead.
  bool one_system_id_per_qualifier = true;

  // ISO 3166-1 alpha-2 region used for phone numbers written without a
  // country code ("US", "GB", "DE"...). Empty: such numbers are rejected.
  std::string default_phone_region;

  // When true, emails whose local parts differ only by a "+tag"
  // (alice+news@x and alice@x) produce a merge *suggestion* (a review row),
  // never a merge. The canonical address keeps its tag either way.
  bool suggest_plus_tag_merges = false;
};

}  // namespace consentd::domain

#endif  // CONSENTD_DOMAIN_IDENTITY_RULES_H_
