// Tests of the small validators: credential references, base URLs, API
// versions, ISO 3166 regions and the name tables.
#include <catch2/catch.hpp>

#include <string>

#include "policies/base_url.h"
#include "policies/credential_ref.h"
#include "policies/iso3166.h"
#include "policies/purpose.h"
#include "policies/system.h"

namespace consentd::policies {
namespace {

TEST_CASE("Credential references accept file paths", "[policies][credentials]") {
  for (const char* ok : {"shopify-main/access_token", "credentials/shopify.token", "/run/secrets/hubspot_token",
                         "mailchimp.key", "klaviyo/api_key", "keys/woo/consumer_secret"}) {
    INFO(ok);
    CHECK(CredentialRefProblem(ok).empty());
  }
}

TEST_CASE("Credential references that look like inline secrets are rejected", "[policies][credentials]") {
  for (const char* secret : {
           "shpat_0123456789abcdef0123456789abcdef",            // Shopify admin token
           "pat-na1-11111111-2222-3333-4444-555555555555",      // HubSpot private app
           "pk_abcdef0123456789abcdef0123456789ab",             // Klaviyo private key
           "ck_0123456789abcdef0123456789abcdef01234567",       // WooCommerce key
           "0123456789abcdef0123456789abcdef-us6",              // Mailchimp API key
           "11111111-2222-3333-4444-555555555555",              // a UUID client secret
           "Zq3xK9mP2vL8nR4tW7yB1cD5",                          // random mixed-case
           "c2VjcmV0LXZhbHVlLWluLWJhc2U2NA==",                  // base64
           "00ff00ff00ff00ff00ff00ff00ff00ff",                  // hex
           "Bearer abc",                                        // an HTTP header
       }) {
    INFO(secret);
    std::string problem = CredentialRefProblem(secret);
    CHECK_FALSE(problem.empty());
    CHECK(problem.find(secret) == std::string::npos);
  }
}

TEST_CASE("Credential references may not be empty, hold spaces or leave the key directory",
          "[policies][credentials]") {
  CHECK_FALSE(CredentialRefProblem("").empty());
  CHECK_FALSE(CredentialRefProblem("my token").empty());
  CHECK_FALSE(CredentialRefProblem("../outside").empty());
  CHECK_FALSE(CredentialRefProblem("a/../../b").empty());
  CHECK_FALSE(CredentialRefProblem("dir/").empty());
  CHECK_FALSE(CredentialRefProblem("env:SHOPIFY_TOKEN").empty());
}

TEST_CASE("Relative credential references resolve against the key directory", "[policies][credentials]") {
  CHECK(ResolveCredentialPath("shop/token", "/var/lib/consentd.keys") == "/var/lib/consentd.keys/shop/token");
  CHECK(ResolveCredentialPath("shop/token", "/keys/") == "/keys/shop/token");
  CHECK(ResolveCredentialPath("/run/secrets/x", "/keys") == "/run/secrets/x");
}

TEST_CASE("Base URLs must be https, or http on a loopback host", "[policies][url]") {
  for (const char* ok : {"https://api.hubapi.com", "https://acme.my.salesforce.com/", "https://shop.example.com/wp-json",
                         "http://127.0.0.1:8089/3.0", "http://localhost:9000", "http://[::1]:80", "https://x.io:8443"}) {
    INFO(ok);
    CHECK(BaseUrlProblem(ok).empty());
  }
  for (const char* bad : {"ftp://x.com", "api.hubapi.com", "http://example.com", "https://", "https://a b.com",
                          "https://user:pw@x.com", "https://x.com/?q=1", "https://x.com#f", "https://x.com:0",
                          "https://x.com:99999", "https://-x.com", "https://x..com", "HTTPS://x.com"}) {
    INFO(bad);
    CHECK_FALSE(BaseUrlProblem(bad).empty());
  }
  CHECK(NormalizeBaseUrl("https://x.com/api//") == "https://x.com/api");
}

TEST_CASE("API versions follow each kind's format", "[policies][system]") {
  struct Case {
    SystemKind kind;
    const char* version;
    bool ok;
  };
  const Case cases[] = {
      {SystemKind::kShopify, "2025-01", true},      {SystemKind::kShopify, "2024-10", true},
      {SystemKind::kShopify, "unstable", true},     {SystemKind::kShopify, "2025-02", false},
      {SystemKind::kShopify, "2025-1", false},      {SystemKind::kKlaviyo, "2024-10-15", true},
      {SystemKind::kKlaviyo, "2024-10-15.pre", true}, {SystemKind::kKlaviyo, "2024-13-01", false},
      {SystemKind::kSalesforce, "v60.0", true},     {SystemKind::kSalesforce, "60.0", false},
      {SystemKind::kSalesforce, "v60", false},      {SystemKind::kHubSpot, "v3", true},
      {SystemKind::kHubSpot, "v5", false},          {SystemKind::kWooCommerce, "wc/v3", true},
      {SystemKind::kWooCommerce, "v3", false},      {SystemKind::kMailchimp, "3.0", true},
      {SystemKind::kMailchimp, "2.0", false},       {SystemKind::kWebhook, "2024.1", true},
      {SystemKind::kWebhook, "", false},
  };
  for (const Case& c : cases) {
    INFO(SystemKindName(c.kind) << " " << c.version);
    CHECK(ApiVersionProblem(c.kind, c.version).empty() == c.ok);
  }
  // Every kind's default version is valid for it.
  for (SystemKind k : {SystemKind::kShopify, SystemKind::kWooCommerce, SystemKind::kHubSpot, SystemKind::kSalesforce,
                       SystemKind::kKlaviyo, SystemKind::kMailchimp, SystemKind::kWebhook}) {
    INFO(SystemKindName(k));
    CHECK(ApiVersionProblem(k, SpecFor(k).default_api_version).empty());
    CHECK(SpecFor(k).kind == k);
    CHECK(ParseSystemKind(SystemKindName(k)) == k);
  }
}

TEST_CASE("Default phone regions must be assigned ISO 3166-1 alpha-2 codes", "[policies][identity]") {
  CHECK(IsIso3166Alpha2("US"));
  CHECK(IsIso3166Alpha2("GB"));
  CHECK(IsIso3166Alpha2("DE"));
  CHECK(IsIso3166Alpha2("ZW"));
  CHECK_FALSE(IsIso3166Alpha2("us"));
  CHECK_FALSE(IsIso3166Alpha2("UK"));  // reserved, not assigned
  CHECK_FALSE(IsIso3166Alpha2("USA"));
  CHECK_FALSE(IsIso3166Alpha2(""));
}

TEST_CASE("Purpose enumerations round-trip through their stable names", "[policies][purpose]") {
  for (Channel c : {Channel::kEmail, Channel::kSms, Channel::kPhone, Channel::kAds, Channel::kAnalytics,
                    Channel::kSaleSharing, Channel::kPersonalization, Channel::kOther}) {
    CHECK(ParseChannel(ChannelName(c)) == c);
  }
  for (LegalBasis b : {LegalBasis::kConsent, LegalBasis::kLegitimateInterest, LegalBasis::kContract,
                       LegalBasis::kLegalObligation, LegalBasis::kVitalInterest, LegalBasis::kPublicTask}) {
    CHECK(ParseLegalBasis(LegalBasisName(b)) == b);
  }
  for (GcmFlag f : {GcmFlag::kAdStorage, GcmFlag::kAdUserData, GcmFlag::kAdPersonalization,
                    GcmFlag::kAnalyticsStorage, GcmFlag::kFunctionalityStorage, GcmFlag::kPersonalizationStorage,
                    GcmFlag::kSecurityStorage}) {
    CHECK(ParseGcmFlag(GcmFlagName(f)) == f);
  }
  CHECK(ChannelName(Channel::kSaleSharing) == "sale_sharing");
  CHECK_FALSE(ParseChannel("Email"));
  CHECK(TcfPurposeIsConsentOnly(1));
  CHECK_FALSE(TcfPurposeIsConsentOnly(2));
  CHECK(TcfPurposeIsConsentOnly(3));
  CHECK(TcfPurposeIsConsentOnly(6));
  CHECK_FALSE(TcfPurposeIsConsentOnly(7));
}

}  // namespace
}  // namespace consentd::policies
