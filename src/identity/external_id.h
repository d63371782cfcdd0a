// Normalization of downstream-system ids and custom identifiers, and of the
// qualifiers some of them need. The rules per kind:
//
//   shopify_customer      qualifier: shop domain, a host name, lower-cased
//                         ("example.myshopify.com"); value: decimal id > 0,
//                         also accepted as "gid://shopify/Customer/<id>".
//   woocommerce_customer  qualifier: site, a host name with optional port and
//                         path, scheme and trailing '/' removed, host
//                         lower-cased ("shop.example.com/store"); value:
//                         decimal id > 0 (0 is WooCommerce's guest).
//   hubspot_contact       value: decimal id > 0.
//   salesforce_contact    value: 15- or 18-character record id with key
//   salesforce_lead       prefix 003 (Contact) or 00Q (Lead); stored in the
//                         18-character form, whose checksum suffix is
//                         computed (and checked, when given).
//   klaviyo_profile       value: [A-Za-z0-9]{1,64}, case preserved.
//   mailchimp_member      qualifier: list/audience id [a-z0-9]{1,32},
//                         lower-cased; value: the subscriber hash, 32 hex
//                         digits, lower-cased.
//   custom:<name>         value: any UTF-8 without control characters,
//                         1..256 bytes after trimming; compared exactly.
// Decimal ids lose leading zeros ("007" == "7"). Whitespace around values
// and qualifiers is trimmed. Messages never contain the value.
//
// Thread-safety: thread-safe.
#ifndef CONSENTD_IDENTITY_EXTERNAL_ID_H_
#define CONSENTD_IDENTITY_EXTERNAL_ID_H_

#include <string>
#include <string_view>

#include "src/base/result.h"
#include "src/domain/identifier_kind.h"

namespace consentd::identity {

// REQUIRES: kind is neither email nor phone.
// kInvalidArgument, naming the kind and the rule, for a bad value or a
// missing, superfluous or malformed qualifier.
Result<domain::NormalizedIdentifier> NormalizeExternalId(const domain::IdentifierKind& kind,
                                                         std::string_view value,
                                                         std::string_view qualifier);

// The 18-character form of a 15-character Salesforce id (appends the
// case-encoding checksum). REQUIRES: id.size() == 15, alphanumeric.
std::string SalesforceId18(std::string_view id15);

}  // namespace consentd::identity

#endif  // CONSENTD_IDENTITY_EXTERNAL_ID_H_
