#include "src/identity/external_id.h"

#include <cctype>
#include <string>

namespace consentd::identity {
namespace {

using domain::IdentifierKind;
using domain::IdentifierType;
using domain::NormalizedIdentifier;

bool IsAsciiSpace(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsAsciiSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsAsciiSpace(s.back())) s.remove_suffix(1);
  return s;
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAlnum(char c) { return IsDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string LowerAscii(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = Lower(c);
  return out;
}

class Checker {
 public:
  explicit Checker(const IdentifierKind& kind) : name_(kind.Name()) {}
  Status Invalid(std::string_view reason) const {
    return Status::InvalidArgument(name_ + ": " + std::string(reason));
  }

 private:
  std::string name_;
};

// Decimal id > 0, at most 20 digits, leading zeros dropped.
Result<std::string> DecimalId(const Checker& c, std::string_view v) {
  if (v.empty()) return c.Invalid("empty id");
  for (char ch : v) {
    if (!IsDigit(ch)) return c.Invalid("id must be decimal digits");
  }
  while (v.size() > 1 && v.front() == '0') v.remove_prefix(1);
  if (v == "0") return c.Invalid("id must be greater than zero");
  if (v.size() > 20) return c.Invalid("id longer than 20 digits");
  return std::string(v);
}

// A DNS host name: labels of [a-z0-9-], not starting or ending with '-',
// at least two labels. Lower-cased.
Result<std::string> HostName(const Checker& c, std::string_view host) {
  std::string h = LowerAscii(host);
  if (h.empty()) return c.Invalid("qualifier host is empty");
  if (h.size() > 253) return c.Invalid("qualifier host longer than 253 bytes");
  if (h.find('.') == std::string::npos) return c.Invalid("qualifier host has no dot");
  size_t start = 0;
  while (start <= h.size()) {
    size_t end = h.find('.', start);
    if (end == std::string::npos) end = h.size();
    std::string_view label = std::string_view(h).substr(start, end - start);
    if (label.empty() || label.size() > 63) return c.Invalid("qualifier host has an empty or long label");
    if (label.front() == '-' || label.back() == '-') return c.Invalid("qualifier host label starts or ends with '-'");
    for (char ch : label) {
      if (!(IsAlnum(ch) || ch == '-')) return c.Invalid("qualifier host has a character other than [a-z0-9.-]");
    }
    start = end + 1;
  }
  return h;
}

Result<std::string> ShopifyId(const Checker& c, std::string_view v) {
  constexpr std::string_view kGid = "gid://shopify/Customer/";
  if (v.substr(0, kGid.size()) == kGid) v.remove_prefix(kGid.size());
  return DecimalId(c, v);
}

// "https://Shop.Example.com:8443/store/" -> "shop.example.com:8443/store"
Result<std::string> WooSite(const Checker& c, std::string_view site) {
  for (std::string_view scheme : {"https://", "http://"}) {
    if (LowerAscii(site.substr(0, scheme.size())) == scheme) {
      site.remove_prefix(scheme.size());
      break;
    }
  }
  while (!site.empty() && site.back() == '/') site.remove_suffix(1);
  size_t slash = site.find('/');
  std::string_view authority = site.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? std::string_view() : site.substr(slash);
  std::string_view port;
  size_t colon = authority.find(':');
  if (colon != std::string_view::npos) {
    port = authority.substr(colon + 1);
    authority = authority.substr(0, colon);
    if (port.empty() || port.size() > 5) return c.Invalid("qualifier port must be 1..5 digits");
    for (char ch : port) {
      if (!IsDigit(ch)) return c.Invalid("qualifier port must be 1..5 digits");
    }
  }
  Result<std::string> host = HostName(c, authority);
  if (!host.ok()) return host.status();
  for (unsigned char ch : path) {
    if (ch <= 0x20 || ch >= 0x7f || ch == '?' || ch == '#') {
      return c.Invalid("qualifier path has a space, control, non-ASCII, '?' or '#' character");
    }
  }
  std::string out = *host;
  if (!port.empty()) out += ":" + std::string(port);
  out += path;
  return out;
}

// Salesforce 15-char ids are case-sensitive; the 18-char form appends three
// characters that encode which of the 15 are upper-case, in blocks of five.
Result<std::string> SalesforceRecordId(const Checker& c, std::string_view v, std::string_view prefix) {
  if (v.size() != 15 && v.size() != 18) return c.Invalid("id must be 15 or 18 characters");
  for (char ch : v) {
    if (!IsAlnum(ch)) return c.Invalid("id must be alphanumeric");
  }
  if (v.substr(0, 3) != prefix) {
    return c.Invalid("id must start with the key prefix " + std::string(prefix));
  }
  std::string id18 = SalesforceId18(v.substr(0, 15));
  if (v.size() == 18 && LowerAscii(v.substr(15)) != LowerAscii(std::string_view(id18).substr(15))) {
    return c.Invalid("id checksum (characters 16-18) does not match");
  }
  return id18;
}

// Well-formed UTF-8 (RFC 3629: no overlongs, no surrogates, <= U+10FFFF).
bool ValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (len == 0 || i + len > s.size()) return false;
    uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
    for (size_t k = 1; k < len; ++k) {
      unsigned char cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

Result<std::string> CustomValue(const Checker& c, std::string_view v) {
  if (v.empty()) return c.Invalid("empty value");
  if (v.size() > 256) return c.Invalid("value longer than 256 bytes");
  if (!ValidUtf8(v)) return c.Invalid("value is not valid UTF-8");
  for (unsigned char ch : v) {
    if (ch < 0x20 || ch == 0x7f) return c.Invalid("control character in value");
  }
  return std::string(v);
}

}  // namespace

std::string SalesforceId18(std::string_view id15) {
  static constexpr std::string_view kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";
  std::string out(id15);
  for (int block = 0; block < 3; ++block) {
    int bits = 0;
    for (int i = 0; i < 5; ++i) {
      char ch = id15[block * 5 + i];
      if (ch >= 'A' && ch <= 'Z') bits |= 1 << i;
    }
    out += kAlphabet[bits];
  }
  return out;
}

Result<NormalizedIdentifier> NormalizeExternalId(const IdentifierKind& kind, std::string_view value,
                                                 std::string_view qualifier) {
  Checker c(kind);
  value = Trim(value);
  qualifier = Trim(qualifier);
  if (kind.IsQualified() && qualifier.empty()) return c.Invalid("qualifier is required");
  if (!kind.IsQualified() && !qualifier.empty()) return c.Invalid("takes no qualifier");

  NormalizedIdentifier out{kind, "", ""};
  Result<std::string> v = std::string();
  switch (kind.type()) {
    case IdentifierType::kShopifyCustomer: {
      Result<std::string> q = HostName(c, qualifier);
      if (!q.ok()) return q.status();
      out.qualifier = *q;
      v = ShopifyId(c, value);
      break;
    }
    case IdentifierType::kWooCommerceCustomer: {
      Result<std::string> q = WooSite(c, qualifier);
      if (!q.ok()) return q.status();
      out.qualifier = *q;
      v = DecimalId(c, value);
      break;
    }
    case IdentifierType::kHubSpotContact:
      v = DecimalId(c, value);
      break;
    case IdentifierType::kSalesforceContact:
      v = SalesforceRecordId(c, value, "003");
      break;
    case IdentifierType::kSalesforceLead:
      v = SalesforceRecordId(c, value, "00Q");
      break;
    case IdentifierType::kKlaviyoProfile: {
      if (value.empty() || value.size() > 64) return c.Invalid("id must be 1..64 characters");
      for (char ch : value) {
        if (!IsAlnum(ch)) return c.Invalid("id must be alphanumeric");
      }
      v = std::string(value);
      break;
    }
    case IdentifierType::kMailchimpMember: {
      std::string q = LowerAscii(qualifier);
      if (q.size() > 32) return c.Invalid("qualifier (list id) longer than 32 characters");
      for (char ch : q) {
        if (!IsAlnum(ch)) return c.Invalid("qualifier (list id) must be alphanumeric");
      }
      out.qualifier = q;
      std::string hash = LowerAscii(value);
      if (hash.size() != 32) return c.Invalid("subscriber hash must be 32 hexadecimal digits");
      for (char ch : hash) {
        if (!(IsDigit(ch) || (ch >= 'a' && ch <= 'f'))) {
          return c.Invalid("subscriber hash must be 32 hexadecimal digits");
        }
      }
      v = hash;
      break;
    }
    case IdentifierType::kCustom:
      v = CustomValue(c, value);
      break;
    case IdentifierType::kEmail:
    case IdentifierType::kPhone:
      return Status::Internal(kind.Name() + ": not an external id kind");
  }
  if (!v.ok()) return v.status();
  out.value = std::move(*v);
  return out;
}

}  // namespace consentd::identity
