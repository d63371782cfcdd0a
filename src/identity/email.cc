#include "src/identity/email.h"

#include <unicode/idna.h>
#include <unicode/locid.h>
#include <unicode/normalizer2.h>
#include <unicode/unistr.h>
#include <unicode/utf8.h>

#include <memory>
#include <string>

namespace consentd::identity {
namespace {

constexpr size_t kMaxLocalBytes = 64;     // RFC 5321 4.5.3.1.1
constexpr size_t kMaxAddressBytes = 254;  // RFC 5321 path limit minus "<>"
constexpr size_t kMaxDomainAsciiBytes = 253;

Status Invalid(std::string_view reason) {
  return Status::InvalidArgument("email: " + std::string(reason));
}

bool IsAsciiSpace(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsAsciiSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsAsciiSpace(s.back())) s.remove_suffix(1);
  return s;
}

bool ValidUtf8(std::string_view s) {
  int32_t i = 0;
  const int32_t n = static_cast<int32_t>(s.size());
  const auto* p = reinterpret_cast<const uint8_t*>(s.data());
  while (i < n) {
    UChar32 c;
    U8_NEXT(p, i, n, c);
    if (c < 0) return false;
  }
  return true;
}

// RFC 5322 atext, plus any non-ASCII byte (RFC 6531 UTF8-non-ascii; the
// UTF-8 itself was validated before).
bool IsAtext(unsigned char c) {
  if (c >= 0x80) return true;
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  static constexpr std::string_view kSpecials = "!#$%&'*+-/=?^_`{|}~";
  return kSpecials.find(static_cast<char>(c)) != std::string_view::npos;
}

Status CheckLocalPart(std::string_view local) {
  if (local.empty()) return Invalid("empty local part");
  if (local.size() > kMaxLocalBytes) return Invalid("local part longer than 64 bytes");
  if (local.front() == '"') return Invalid("quoted local parts are not supported");
  if (local.front() == '.') return Invalid("local part starts with a dot");
  if (local.back() == '.') return Invalid("local part ends with a dot");
  if (local.find("..") != std::string_view::npos) return Invalid("local part has consecutive dots");
  for (unsigned char c : local) {
    if (c == '.') continue;
    if (c < 0x20 || c == 0x7f) return Invalid("control character in local part");
    if (!IsAtext(c)) return Invalid("character not allowed in local part");
  }
  return Status::Ok();
}

std::string IdnaErrorReason(uint32_t errors) {
  if (errors & UIDNA_ERROR_EMPTY_LABEL) return "domain has an empty label";
  if (errors & UIDNA_ERROR_LABEL_TOO_LONG) return "domain label longer than 63 bytes";
  if (errors & UIDNA_ERROR_DOMAIN_NAME_TOO_LONG) return "domain longer than 253 bytes";
  if (errors & (UIDNA_ERROR_LEADING_HYPHEN | UIDNA_ERROR_TRAILING_HYPHEN)) {
    return "domain label starts or ends with a hyphen";
  }
  if (errors & UIDNA_ERROR_HYPHEN_3_4) return "domain label has hyphens in positions 3 and 4";
  if (errors & UIDNA_ERROR_DISALLOWED) return "character not allowed in domain";
  if (errors & UIDNA_ERROR_PUNYCODE) return "invalid punycode in domain";
  if (errors & UIDNA_ERROR_BIDI) return "domain violates the bidi rule";
  return "invalid internationalized domain";
}

// Returns the domain in Unicode form after IDNA2008 (UTS 46, nontransitional,
// STD3 rules) validation of both its Unicode and its ASCII forms.
// True for a domain that UTS 46 (with the options below) maps to itself
// without error: lower-case LDH labels of 1..63 bytes, no hyphen first,
// last or in positions 3 and 4 (which also excludes "xn--" labels, whose
// punycode ICU must check), at most 253 bytes. Such a domain skips ICU;
// anything else takes the full path, which also words the errors.
bool IsPlainLdhDomain(std::string_view domain) {
  if (domain.empty() || domain.size() > kMaxDomainAsciiBytes) return false;
  size_t start = 0;
  while (start <= domain.size()) {
    size_t dot = domain.find('.', start);
    if (dot == std::string_view::npos) dot = domain.size();
    std::string_view label = domain.substr(start, dot - start);
    if (label.empty() || label.size() > 63) return false;
    if (label.front() == '-' || label.back() == '-') return false;
    if (label.size() >= 4 && label[2] == '-' && label[3] == '-') return false;
    for (char c : label) {
      if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
    }
    start = dot + 1;
  }
  return true;
}

// The UTS 46 instance, created once: creating one allocates tables, and
// its conversion methods are const and thread-safe (ICU's IDNA contract).
const icu::IDNA* Uts46() {
  static const icu::IDNA* const idna = [] {
    UErrorCode status = U_ZERO_ERROR;
    const uint32_t options = UIDNA_NONTRANSITIONAL_TO_UNICODE | UIDNA_NONTRANSITIONAL_TO_ASCII |
                             UIDNA_USE_STD3_RULES | UIDNA_CHECK_BIDI | UIDNA_CHECK_CONTEXTJ;
    icu::IDNA* p = icu::IDNA::createUTS46Instance(options, status);
    if (U_FAILURE(status)) {
      delete p;
      return static_cast<icu::IDNA*>(nullptr);
    }
    return p;
  }();
  return idna;
}

Status CheckTopLevelLabel(std::string_view ascii) {
  // The top-level label must not be all digits (that is an IP address, or
  // nothing routable).
  std::string_view tld = ascii.substr(ascii.rfind('.') + 1);
  bool all_digits = !tld.empty();
  for (char c : tld) all_digits = all_digits && c >= '0' && c <= '9';
  if (all_digits) return Invalid("top-level domain is numeric");
  return Status::Ok();
}

Result<std::string> NormalizeDomain(std::string_view domain, bool fast_path) {
  if (domain.empty()) return Invalid("empty domain");
  if (domain.front() == '[') return Invalid("IP-literal domains are not supported");
  if (domain.back() == '.') return Invalid("domain ends with a dot");
  if (domain.find('.') == std::string_view::npos) return Invalid("domain has no dot");
  if (fast_path && IsPlainLdhDomain(domain)) {
    Status tld = CheckTopLevelLabel(domain);
    if (!tld.ok()) return tld;
    return std::string(domain);
  }

  UErrorCode status = U_ZERO_ERROR;
  const icu::IDNA* idna = Uts46();
  if (idna == nullptr) return Status::Internal("email: ICU IDNA unavailable");

  std::string ascii;
  icu::StringByteSink<std::string> ascii_sink(&ascii);
  icu::IDNAInfo ascii_info;
  idna->nameToASCII_UTF8(icu::StringPiece(domain.data(), static_cast<int32_t>(domain.size())), ascii_sink,
                         ascii_info, status);
  if (U_FAILURE(status)) return Status::Internal("email: ICU IDNA failed");
  if (ascii_info.hasErrors()) return Invalid(IdnaErrorReason(ascii_info.getErrors()));
  if (ascii.size() > kMaxDomainAsciiBytes) return Invalid("domain longer than 253 bytes");

  std::string unicode;
  icu::StringByteSink<std::string> unicode_sink(&unicode);
  icu::IDNAInfo unicode_info;
  idna->nameToUnicodeUTF8(icu::StringPiece(ascii.data(), static_cast<int32_t>(ascii.size())), unicode_sink,
                          unicode_info, status);
  if (U_FAILURE(status)) return Status::Internal("email: ICU IDNA failed");
  if (unicode_info.hasErrors()) return Invalid(IdnaErrorReason(unicode_info.getErrors()));

  Status tld = CheckTopLevelLabel(ascii);
  if (!tld.ok()) return tld;
  return unicode;
}

// Printable ASCII without space: NFC leaves it unchanged and the root
// locale's full lower-casing maps exactly A-Z to a-z.
bool IsPrintableAscii(std::string_view s) {
  for (unsigned char c : s) {
    if (c <= 0x20 || c >= 0x7f) return false;
  }
  return true;
}

Result<std::string> Normalize(std::string_view address, bool fast_path) {
  std::string_view trimmed = Trim(address);
  if (trimmed.empty()) return Invalid("empty");
  if (!ValidUtf8(trimmed)) return Invalid("not valid UTF-8");
  if (trimmed.size() > 4 * kMaxAddressBytes) return Invalid("longer than 254 bytes");

  std::string canonical;
  if (fast_path && IsPrintableAscii(trimmed)) {
    canonical.assign(trimmed);
    for (char& c : canonical) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
  } else {
    // NFC, then full lower-case, then NFC again (case mapping can leave a
    // string that is not in NFC).
    UErrorCode status = U_ZERO_ERROR;
    const icu::Normalizer2* nfc = icu::Normalizer2::getNFCInstance(status);
    if (U_FAILURE(status)) return Status::Internal("email: ICU NFC unavailable");
    icu::UnicodeString u = icu::UnicodeString::fromUTF8(
        icu::StringPiece(trimmed.data(), static_cast<int32_t>(trimmed.size())));
    icu::UnicodeString normalized = nfc->normalize(u, status);
    if (U_FAILURE(status)) return Status::Internal("email: ICU NFC failed");
    normalized.toLower(icu::Locale::getRoot());
    icu::UnicodeString lowered = nfc->normalize(normalized, status);
    if (U_FAILURE(status)) return Status::Internal("email: ICU NFC failed");
    lowered.toUTF8String(canonical);
  }

  if (canonical.front() == '"') return Invalid("quoted local parts are not supported");
  size_t at = canonical.rfind('@');
  if (at == std::string::npos) return Invalid("missing '@'");
  if (canonical.find('@') != at) return Invalid("more than one '@'");
  std::string_view local = std::string_view(canonical).substr(0, at);
  std::string_view domain = std::string_view(canonical).substr(at + 1);
  for (unsigned char c : canonical) {
    if (c == ' ' || c == '\t') return Invalid("contains whitespace");
    if (c == '(' || c == ')') return Invalid("comments are not supported");
  }
  Status s = CheckLocalPart(local);
  if (!s.ok()) return s;
  Result<std::string> unicode_domain = NormalizeDomain(domain, fast_path);
  if (!unicode_domain.ok()) return unicode_domain.status();

  std::string out = std::string(local) + "@" + *unicode_domain;
  if (out.size() > kMaxAddressBytes) return Invalid("longer than 254 bytes");
  return out;
}

}  // namespace

Result<std::string> NormalizeEmail(std::string_view address) { return Normalize(address, true); }

Result<std::string> NormalizeEmailThroughIcu(std::string_view address) { return Normalize(address, false); }

std::optional<std::string> EmailWithoutPlusTag(std::string_view canonical) {
  size_t at = canonical.rfind('@');
  if (at == std::string_view::npos) return std::nullopt;
  size_t plus = canonical.substr(0, at).find('+');
  if (plus == std::string_view::npos || plus == 0) return std::nullopt;
  return std::string(canonical.substr(0, plus)) + std::string(canonical.substr(at));
}

}  // namespace consentd::identity
