#include "policies/system.h"

#include <array>
#include <utility>

#include "policies/text.h"

namespace consentd::policies {
namespace {

constexpr std::array<std::pair<SystemKind, std::string_view>, 7> kKinds = {{
    {SystemKind::kShopify, "shopify"},
    {SystemKind::kWooCommerce, "woocommerce"},
    {SystemKind::kHubSpot, "hubspot"},
    {SystemKind::kSalesforce, "salesforce"},
    {SystemKind::kKlaviyo, "klaviyo"},
    {SystemKind::kMailchimp, "mailchimp"},
    {SystemKind::kWebhook, "webhook"},
}};

// Rate limits are the documented ones of ../shared/reference/downstream-apis.md
// where they exist; the others are conservative guesses, marked in
// docs/policies.md, and always configurable.
const std::array<SystemKindSpec, 7>& Specs() {
  static const std::array<SystemKindSpec, 7> specs = {{
      {SystemKind::kShopify, "", "2025-01", {2, 40}, 4, 0,
       {"access_token"}, {"webhook_secret", "previous_webhook_secret"}},
      {SystemKind::kWooCommerce, "", "wc/v3", {5, 10}, 4, 0,
       {"consumer_key", "consumer_secret"}, {"webhook_secret"}},
      {SystemKind::kHubSpot, "https://api.hubapi.com", "v3", {10, 100}, 8, 0,
       {"access_token"}, {"client_secret"}},
      {SystemKind::kSalesforce, "", "v60.0", {5, 25}, 8, 25,
       {"access_token"}, {"client_id", "client_secret", "refresh_token"}},
      {SystemKind::kKlaviyo, "https://a.klaviyo.com", "2024-10-15", {10, 75}, 8, 0,
       {"api_key"}, {"webhook_secret"}},
      {SystemKind::kMailchimp, "", "3.0", {10, 10}, 10, 10,
       {"api_key"}, {"webhook_secret"}},
      {SystemKind::kWebhook, "", "v1", {10, 20}, 4, 0,
       {"signing_secret"}, {}},
  }};
  return specs;
}

bool IsYearMonthDay(std::string_view s, bool with_day) {
  // YYYY-MM or YYYY-MM-DD
  size_t n = with_day ? 10 : 7;
  if (s.size() != n) return false;
  if (!text::AllDigits(s.substr(0, 4)) || s[4] != '-' || !text::AllDigits(s.substr(5, 2))) return false;
  int month = (s[5] - '0') * 10 + (s[6] - '0');
  if (month < 1 || month > 12) return false;
  if (with_day) {
    if (s[7] != '-' || !text::AllDigits(s.substr(8, 2))) return false;
    int day = (s[8] - '0') * 10 + (s[9] - '0');
    if (day < 1 || day > 31) return false;
  }
  return true;
}

}  // namespace

std::string_view SystemKindName(SystemKind k) {
  for (const auto& [kind, name] : kKinds) {
    if (kind == k) return name;
  }
  return "invalid";
}

std::optional<SystemKind> ParseSystemKind(std::string_view name) {
  for (const auto& [kind, n] : kKinds) {
    if (n == name) return kind;
  }
  return std::nullopt;
}

std::string SystemKindNames() {
  std::string out;
  for (const auto& [kind, n] : kKinds) {
    if (!out.empty()) out += ", ";
    out += n;
  }
  return out;
}

std::string WooCommerceOptions::MetaKeyFor(const std::string& purpose) const {
  auto it = meta_keys.find(purpose);
  return it != meta_keys.end() ? it->second : "_consentd_" + purpose;
}

const SystemKindSpec& SpecFor(SystemKind kind) {
  for (const SystemKindSpec& s : Specs()) {
    if (s.kind == kind) return s;
  }
  return Specs().back();
}

std::string ApiVersionProblem(SystemKind kind, std::string_view v) {
  switch (kind) {
    case SystemKind::kShopify:
      // Quarterly releases (YYYY-01/04/07/10) or "unstable".
      if (v == "unstable") return "";
      if (IsYearMonthDay(v, false)) {
        int month = (v[5] - '0') * 10 + (v[6] - '0');
        if (month % 3 == 1) return "";
      }
      return "a Shopify release \"YYYY-MM\" with MM in 01, 04, 07, 10 (e.g. \"2025-01\"), or \"unstable\"";
    case SystemKind::kKlaviyo:
      // The `revision` header: a date, optionally with ".pre".
      if (IsYearMonthDay(v, true)) return "";
      if (v.size() == 14 && v.substr(10) == ".pre" && IsYearMonthDay(v.substr(0, 10), true)) return "";
      return "a Klaviyo revision date \"YYYY-MM-DD\" (e.g. \"2024-10-15\")";
    case SystemKind::kSalesforce: {
      // "v60.0"
      size_t dot = v.find('.');
      if (v.size() >= 4 && v[0] == 'v' && dot != std::string_view::npos && dot >= 2 && dot <= 4 &&
          text::AllDigits(v.substr(1, dot - 1)) && v.size() == dot + 2 && text::AllDigits(v.substr(dot + 1))) {
        return "";
      }
      return "a Salesforce API version \"vNN.N\" (e.g. \"v60.0\")";
    }
    case SystemKind::kHubSpot:
      if (v == "v3" || v == "v4") return "";
      return "\"v3\" or \"v4\"";
    case SystemKind::kWooCommerce:
      if (v == "wc/v3" || v == "wc/v2") return "";
      return "\"wc/v3\" (or \"wc/v2\")";
    case SystemKind::kMailchimp:
      if (v == "3.0") return "";
      return "\"3.0\"";
    case SystemKind::kWebhook:
      if (!v.empty() && v.size() <= 32 && text::IsKeyLike(v, /*allow_upper=*/true)) return "";
      return "1 to 32 characters from [A-Za-z0-9_.-]";
  }
  return "a valid version";
}

}  // namespace consentd::policies
