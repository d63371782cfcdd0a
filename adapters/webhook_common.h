// Helpers shared by the webhook verifiers and mappers (webhook_<kind>.cc):
// HMAC-SHA256 and SHA-256, comparison of a received encoded MAC with the
// computed one in constant time, form (application/x-www-form-urlencoded)
// and percent decoding, and time parsing for the formats systems send.
//
// Thread-safety: pure functions.
#ifndef CONSENTD_ADAPTERS_WEBHOOK_COMMON_H_
#define CONSENTD_ADAPTERS_WEBHOOK_COMMON_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/webhook_event.h"
#include "src/base/result.h"

namespace consentd::adapters {

// Raw 32-byte HMAC-SHA256(key, message).
std::string HmacSha256(std::string_view key, std::string_view message);
// Raw 32-byte SHA-256(message).
std::string Sha256Raw(std::string_view message);

// True when `received` (standard base64 of a 32-byte MAC) decodes and equals
// `expected_raw`; compared in constant time. A value that is not canonical
// base64 is a mismatch.
bool Base64MacEquals(std::string_view received, std::string_view expected_raw);
// The same for lower- or upper-case hexadecimal.
bool HexMacEquals(std::string_view received, std::string_view expected_raw);

// Percent-decoding ('+' is a space only when `plus_is_space`). nullopt on a
// bad escape.
std::optional<std::string> PercentDecode(std::string_view s, bool plus_is_space);

// Parses an application/x-www-form-urlencoded body into name -> value (the
// first of repeated names wins). nullopt on a bad escape or an empty name.
std::optional<std::map<std::string, std::string>> ParseForm(std::string_view body);

// Unix milliseconds from RFC 3339 ("2024-01-01T00:00:00Z", any fraction or
// offset) or a space instead of the 'T' and no offset, read as UTC
// ("2009-03-26 21:40:57", Mailchimp; "2017-03-21T16:09:28", WooCommerce
// *_gmt fields).
Result<int64_t> ParseSystemTime(std::string_view text);

// The dedupe key of a delivery without an id of its own: "sha256:<hex of
// SHA-256(body)>" (byte-identical replays share it).
std::string BodyDigestKey(std::string_view body);

// Keeps a system-supplied id usable as a dedupe key: printable ASCII without
// spaces, at most 100 bytes (longer ids are replaced by "h:" + hex SHA-256).
// Empty when `id` is empty.
std::string DedupeKeyPart(std::string_view id);

// Adds {kind, value, qualifier} to *ids when `value` is not empty.
void AddIdentifier(std::vector<domain::Identifier>* ids, domain::IdentifierKind kind, std::string value,
                   std::string qualifier = "");

}  // namespace consentd::adapters

#endif  // CONSENTD_ADAPTERS_WEBHOOK_COMMON_H_
