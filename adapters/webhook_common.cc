#include "adapters/webhook_common.h"

#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <strings.h>

#include "src/base/bytes.h"
#include "src/base/time_format.h"

namespace consentd::adapters {

bool HeaderNameLess::operator()(const std::string& a, const std::string& b) const {
  return strcasecmp(a.c_str(), b.c_str()) < 0;
}

std::string HeaderValue(const WebhookHeaders& headers, std::string_view name) {
  auto it = headers.find(std::string(name));
  return it == headers.end() ? std::string() : it->second;
}

bool HasHeader(const WebhookHeaders& headers, std::string_view name) {
  return headers.find(std::string(name)) != headers.end();
}

std::string_view IngestKindName(IngestKind k) {
  switch (k) {
    case IngestKind::kConsent: return "consent";
    case IngestKind::kErasureRequest: return "erasure_request";
    case IngestKind::kAccessRequest: return "access_request";
    case IngestKind::kShopRedact: return "shop_redact";
    case IngestKind::kLink: return "link";
    case IngestKind::kIgnored: return "ignored";
  }
  return "invalid";
}

std::string HmacSha256(std::string_view key, std::string_view message) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  // An empty key is passed as a valid pointer: OpenSSL treats nullptr as
  // "reuse the previous key".
  static const unsigned char kEmpty = 0;
  const unsigned char* k = key.empty() ? &kEmpty : reinterpret_cast<const unsigned char*>(key.data());
  if (HMAC(EVP_sha256(), k, static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(message.data()),
           message.size(), out, &len) == nullptr) {
    return std::string();
  }
  return std::string(reinterpret_cast<const char*>(out), len);
}

std::string Sha256Raw(std::string_view message) {
  unsigned char out[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(message.data()), message.size(), out);
  return std::string(reinterpret_cast<const char*>(out), sizeof(out));
}

bool Base64MacEquals(std::string_view received, std::string_view expected_raw) {
  if (received.size() > 128 || expected_raw.empty()) return false;
  Result<std::string> got = Base64Decode(received);
  if (!got.ok()) return false;
  return ConstantTimeEquals(*got, expected_raw);
}

bool HexMacEquals(std::string_view received, std::string_view expected_raw) {
  if (received.size() > 256 || expected_raw.empty()) return false;
  Result<std::string> got = HexDecode(received);
  if (!got.ok()) return false;
  return ConstantTimeEquals(*got, expected_raw);
}

namespace {
int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

std::optional<std::string> PercentDecode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '%') {
      if (i + 2 >= s.size()) return std::nullopt;
      int hi = HexValue(s[i + 1]), lo = HexValue(s[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::optional<std::map<std::string, std::string>> ParseForm(std::string_view body) {
  std::map<std::string, std::string> out;
  size_t pos = 0;
  while (pos <= body.size()) {
    size_t amp = body.find('&', pos);
    std::string_view pair = body.substr(pos, amp == std::string_view::npos ? std::string_view::npos : amp - pos);
    if (!pair.empty()) {
      size_t eq = pair.find('=');
      std::optional<std::string> name = PercentDecode(pair.substr(0, eq), true);
      std::optional<std::string> value =
          PercentDecode(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1), true);
      if (!name || !value || name->empty()) return std::nullopt;
      out.emplace(std::move(*name), std::move(*value));
    }
    if (amp == std::string_view::npos) break;
    pos = amp + 1;
  }
  return out;
}

Result<int64_t> ParseSystemTime(std::string_view text) {
  if (text.size() < 19 || text.size() > 40) return Status::InvalidArgument("not a date-time");
  std::string t(text);
  if (t[10] == ' ') t[10] = 'T';
  // No offset: UTC (Mailchimp fired_at, WooCommerce *_gmt).
  if (t.size() == 19) t += 'Z';
  return ParseRfc3339(t);
}

std::string BodyDigestKey(std::string_view body) { return "sha256:" + HexEncode(AsBytes(Sha256Raw(body))); }

std::string DedupeKeyPart(std::string_view id) {
  if (id.empty()) return std::string();
  bool printable = id.size() <= 100;
  for (char c : id) printable = printable && c > ' ' && c <= '~';
  if (printable) return std::string(id);
  return "h:" + HexEncode(AsBytes(Sha256Raw(id)));
}

void AddIdentifier(std::vector<domain::Identifier>* ids, domain::IdentifierKind kind, std::string value,
                   std::string qualifier) {
  if (value.empty()) return;
  ids->push_back(domain::Identifier{std::move(kind), std::move(value), std::move(qualifier)});
}

}  // namespace consentd::adapters
