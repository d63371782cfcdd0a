#include "policies/credential_ref.h"

#include <array>

#include "policies/text.h"

namespace consentd::policies {
namespace {

// Prefixes of API tokens of the systems we talk to (and a few common
// others). A value starting with one is a pasted secret.
constexpr std::array<std::string_view, 18> kSecretPrefixes = {
    "shpat_", "shpca_", "shppa_", "shpss_",       // Shopify
    "pat-na1-", "pat-eu1-",                       // HubSpot private app tokens
    "pk_", "sk_",                                 // Klaviyo, Stripe-style
    "ck_", "cs_",                                 // WooCommerce
    "xox", "ghp_", "github_pat_", "glpat-",       // Slack, GitHub, GitLab
    "AKIA", "Bearer", "Basic", "-----BEGIN",      // AWS, HTTP auth, PEM
};

bool IsHex(char c) { return text::IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

bool LooksLikeUuid(std::string_view s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? s[i] != '-' : !IsHex(s[i])) return false;
  }
  return true;
}

// A Mailchimp API key: 32 hex digits, '-', data center ("us6").
bool LooksLikeMailchimpKey(std::string_view s) {
  size_t dash = s.find('-');
  if (dash != 32) return false;
  for (size_t i = 0; i < 32; ++i) {
    if (!IsHex(s[i])) return false;
  }
  std::string_view dc = s.substr(33);
  return dc.size() >= 2 && text::IsLower(dc[0]);
}

// One path segment that looks random: long runs of hex, base64 with its
// special characters, or long mixed-case alphanumerics.
bool LooksRandom(std::string_view seg) {
  size_t hex = 0, upper = 0, lower = 0, digit = 0, b64 = 0;
  for (char c : seg) {
    if (IsHex(c)) ++hex;
    if (text::IsUpper(c)) ++upper;
    if (text::IsLower(c)) ++lower;
    if (text::IsDigit(c)) ++digit;
    if (c == '+' || c == '=') ++b64;
  }
  if (seg.size() >= 24 && hex == seg.size()) return true;
  if (seg.size() >= 16 && b64 > 0 && upper + lower + digit + b64 == seg.size()) return true;
  if (seg.size() >= 20 && upper > 0 && lower > 0 && digit > 0 && upper + lower + digit == seg.size()) return true;
  if (seg.size() >= 40 && seg.find('.') == std::string_view::npos) return true;
  return false;
}

}  // namespace

std::string CredentialRefProblem(std::string_view ref) {
  constexpr std::string_view kAdvice =
      "; put the secret in a file under the key directory and give its path here";
  if (ref.empty()) return "credential reference is empty; give the path of the file holding the secret";
  if (ref.size() > 1024) return "credential reference is longer than 1024 bytes";
  for (std::string_view p : kSecretPrefixes) {
    if (ref.substr(0, p.size()) == p) {
      return "credential value looks like an inline secret, not a file path" + std::string(kAdvice);
    }
  }
  if (LooksLikeMailchimpKey(ref) || LooksLikeUuid(ref)) {
    return "credential value looks like an inline secret, not a file path" + std::string(kAdvice);
  }
  for (char c : ref) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f || c == '"' || c == '\\' || c == ':') {
      return "credential reference contains whitespace, a control character, a quote, '\\' or ':'"
             " (a file path is expected" + std::string(kAdvice).substr(1) + ")";
    }
  }
  size_t start = 0;
  while (start <= ref.size()) {
    size_t end = ref.find('/', start);
    if (end == std::string_view::npos) end = ref.size();
    std::string_view seg = ref.substr(start, end - start);
    if (seg == "..") return "credential reference must not contain \"..\" segments";
    if (LooksRandom(seg)) {
      return "credential value looks like an inline secret, not a file path" + std::string(kAdvice);
    }
    start = end + 1;
  }
  if (ref.back() == '/') return "credential reference names a directory, not a file";
  return "";
}

std::string ResolveCredentialPath(std::string_view ref, std::string_view key_dir) {
  if (!ref.empty() && ref[0] == '/') return std::string(ref);
  std::string out(key_dir);
  if (!out.empty() && out.back() != '/') out += '/';
  out += ref;
  return out;
}

}  // namespace consentd::policies
