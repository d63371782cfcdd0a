// Tests of policies/loader.h: valid documents load into the expected
// PolicySet; every validation rule has an invalid fixture whose error names
// the file, the JSON pointer and the problem.
#include <catch2/catch.hpp>

#include <filesystem>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "policies/loader.h"
#include "tests/policies/test_util.h"

namespace consentd::policies {
namespace {

using testing::Fixture;
using testing::HasError;

LoadResult LoadFixtures(const std::vector<std::string>& names) {
  std::vector<std::string> paths;
  for (const std::string& n : names) paths.push_back(Fixture(n));
  return LoadPolicyFiles(paths);
}

std::string Describe(const std::vector<PolicyError>& errors) {
  return errors.empty() ? std::string("(no errors)") : FormatErrors(errors);
}

TEST_CASE("Every valid fixture and the shipped default policy load without errors", "[policies][loader]") {
  std::vector<std::vector<std::string>> sets = {
      {testing::DefaultPolicyPath()},
      {Fixture("valid/minimal.json")},
      {Fixture("valid/all_kinds.json")},
      {Fixture("valid/split_purposes.json"), Fixture("valid/split_systems.json")},
  };
  for (const auto& paths : sets) {
    INFO(paths.front());
    LoadResult r = LoadPolicyFiles(paths);
    INFO(Describe(r.errors));
    CHECK(r.ok());
    CHECK(r.policy.version.rfind("sha256:", 0) == 0);
    CHECK(r.policy.version.size() == 7 + 64);
    CHECK(r.policy.files == paths);
  }
}

TEST_CASE("The default policy declares the typical store's purposes, systems and jurisdictions",
          "[policies][loader]") {
  std::vector<std::string> paths = {testing::DefaultPolicyPath()};
  LoadResult r = LoadPolicyFiles(paths);
  REQUIRE(r.ok());
  const PolicySet& p = r.policy;
  for (const char* key : {"email_marketing", "sms_marketing", "analytics", "personalised_ads", "sale_sharing"}) {
    INFO(key);
    CHECK(p.FindPurpose(key) != nullptr);
  }
  for (const char* id : {"shopify-main", "hubspot", "klaviyo", "mailchimp"}) {
    INFO(id);
    CHECK(p.FindSystem(id) != nullptr);
  }
  CHECK(p.FindJurisdiction("gdpr") != nullptr);
  CHECK(p.FindJurisdiction("ccpa") != nullptr);
  CHECK(p.FindPurpose("sale_sharing")->DefaultFor("ccpa") == DefaultState::kGranted);
  CHECK(p.FindPurpose("sale_sharing")->DefaultFor("gdpr") == DefaultState::kDenied);
  CHECK(p.FindSystem("shopify-main")->base_url == "https://example-store.myshopify.com");
  CHECK(p.FindSystem("mailchimp")->base_url == "https://us6.api.mailchimp.com/3.0");
  CHECK(p.FindSystem("mailchimp")->api_version == "3.0");
  CHECK_FALSE(p.FindSystem("mailchimp")->MayGrant("email_marketing"));
  CHECK(p.FindSystem("mailchimp")->MayWithdraw("email_marketing"));
  CHECK(p.identity.default_phone_region == "US");
}

TEST_CASE("A document with every system kind fills options, defaults and normalized URLs", "[policies][loader]") {
  LoadResult r = LoadFixtures({"valid/all_kinds.json"});
  INFO(Describe(r.errors));
  REQUIRE(r.ok());
  const PolicySet& p = r.policy;

  const System& woo = *p.FindSystem("woo");
  CHECK(woo.kind == SystemKind::kWooCommerce);
  CHECK(woo.base_url == "https://shop.example.com");  // trailing '/' removed
  CHECK(woo.api_version == "wc/v3");                  // kind default
  CHECK(woo.rate_limit == SpecFor(SystemKind::kWooCommerce).default_rate_limit);
  const auto& wo = std::get<WooCommerceOptions>(woo.options);
  CHECK(wo.auth == "query");
  CHECK(wo.MetaKeyFor("email_marketing") == "newsletter_optin");
  CHECK(wo.MetaKeyFor("sms_marketing") == "_consentd_sms_marketing");

  const System& crm = *p.FindSystem("crm");
  CHECK(crm.base_url == "https://api.hubapi.com");
  CHECK(crm.credentials.at("access_token") == "/run/secrets/hubspot_token");
  CHECK(std::get<HubSpotOptions>(crm.options).subscription_ids.at("email_marketing") == "7");
  CHECK(std::get<HubSpotOptions>(crm.options).preferences_api == "v4");
  CHECK(crm.may_grant.empty());  // grants need explicit permission
  CHECK(crm.may_withdraw == std::vector<std::string>{"email_marketing"});

  const System& sf = *p.FindSystem("sf");
  const auto& so = std::get<SalesforceOptions>(sf.options);
  CHECK(so.object == "Lead");
  CHECK(so.fields.at("email_marketing").true_means_withdrawn);
  CHECK_FALSE(so.fields.at("sms_marketing").true_means_withdrawn);
  CHECK(so.status_granted == "Opt_In");
  CHECK(sf.api_version == "v61.0");
  CHECK(sf.may_withdraw == sf.receives);  // withdrawals default to every received purpose

  const System& klaviyo = *p.FindSystem("klaviyo");
  CHECK(klaviyo.api_version == "2024-10-15");
  CHECK(klaviyo.RankFor("email_marketing") == 5);
  CHECK(klaviyo.RankFor("sms_marketing") == 0);
  CHECK(std::get<KlaviyoOptions>(klaviyo.options).custom_source == "consentd");

  const System& mc = *p.FindSystem("mc");
  CHECK(mc.base_url == "http://127.0.0.1:8089/3.0");
  CHECK(std::get<MailchimpOptions>(mc.options).marketing_permission_ids.at("email_marketing") == "f00d");

  const System& hook = *p.FindSystem("hook");
  CHECK(hook.rate_limit.requests_per_second == 0.5);
  CHECK(hook.rate_limit.burst == 1);
  CHECK(std::get<WebhookOptions>(hook.options).timeout_ms == 2000);

  const Purpose& m = *p.FindPurpose("measurement");
  CHECK(m.legal_basis == LegalBasis::kLegitimateInterest);
  CHECK(m.tcf_purposes == std::vector<int>{7, 8, 9, 10});
  CHECK(m.gcm == std::vector<GcmFlag>{GcmFlag::kAnalyticsStorage, GcmFlag::kSecurityStorage});

  const Jurisdiction& uk = *p.FindJurisdiction("uk_gdpr");
  CHECK(uk.law == Law::kGdpr);
  CHECK(uk.response == Period{Period::Unit::kCalendarDays, 20});
  const Jurisdiction& ccpa = *p.FindJurisdiction("ccpa");
  CHECK(ccpa.law == Law::kCcpa);
  CHECK(ccpa.acknowledge == Period{Period::Unit::kBusinessDays, 10});
  CHECK(ccpa.record_retention == Period{Period::Unit::kCalendarMonths, 24});
  CHECK(p.FindJurisdiction("internal")->extension->notify_before_first_deadline == false);
}

TEST_CASE("Identity rules come from the identity section, and keep their defaults without one",
          "[policies][loader]") {
  LoadResult split = LoadFixtures({"valid/split_purposes.json", "valid/split_systems.json"});
  REQUIRE(split.ok());
  CHECK(split.policy.identity.strong_kinds == std::set<std::string>{"email", "custom:loyalty_id"});
  CHECK(split.policy.identity.default_phone_region == "GB");

  LoadResult minimal = LoadFixtures({"valid/minimal.json"});
  REQUIRE(minimal.ok());
  CHECK(minimal.policy.identity.strong_kinds == domain::IdentityRules().strong_kinds);
  CHECK_FALSE(minimal.policy.identity.auto_merge);
}

// One row per validation rule: the fixture, the pointer the error must name
// and a fragment of the problem.
struct InvalidCase {
  const char* fixture;
  const char* pointer;
  const char* problem;
};

const InvalidCase kInvalidCases[] = {
    // Document shape
    {"not_an_object.json", "", "must be an object, not an array"},
    {"missing_format.json", "", "missing required field \"format\""},
    {"bad_format.json", "/format", "unsupported format \"consentd.policy/v2\""},
    {"duplicate_key.json", "/purposes/email_marketing/channel", "defined twice"},
    // Unknown fields
    {"unknown_top_field.json", "/purpose", "unknown field \"purpose\" (did you mean \"purposes\"?)"},
    {"unknown_system_field.json", "/systems/shop/recieves", "did you mean \"receives\"?"},
    {"unknown_option.json", "/systems/shop/options/list_id", "unknown field \"list_id\""},
    {"period_bad_unit.json", "/jurisdictions/x/response/weeks", "unknown field \"weeks\""},
    // Types and required fields
    {"wrong_type.json", "/purposes/email_marketing/channel", "must be a string, not an integer"},
    {"wrong_type_array.json", "/systems/shop/receives", "must be an array, not a string"},
    {"identity_wrong_type.json", "/identity/auto_merge", "must be true or false, not a string"},
    {"missing_required.json", "/purposes/email_marketing", "missing required field \"legal_basis\""},
    // Purposes
    {"unknown_channel.json", "/purposes/email_marketing/channel", "unknown channel \"e-mail\""},
    {"bad_purpose_key.json", "/purposes/Email Marketing", "must match [a-z0-9]"},
    {"consent_default_granted.json", "/purposes/email_marketing/default", "must default to \"denied\""},
    {"tcf_consent_only.json", "/purposes/ads/tcf_purposes/1", "TCF purpose 4 allows only the consent legal basis"},
    {"tcf_out_of_range.json", "/purposes/ads/tcf_purposes/0", "must be between 1 and 11"},
    {"gcm_unknown.json", "/purposes/ads/gcm/1", "unknown Google Consent Mode flag \"ads_storage\""},
    {"unknown_jurisdiction_default.json", "/purposes/email_marketing/default_by_jurisdiction/lgpd",
     "unknown jurisdiction \"lgpd\""},
    // Systems: purposes
    {"unknown_purpose_in_receives.json", "/systems/shop/receives/2",
     "unknown purpose \"emial_marketing\" (did you mean \"email_marketing\"?)"},
    {"receives_twice.json", "/systems/shop/receives/2", "\"email_marketing\" is listed twice"},
    {"may_grant_not_subset.json", "/systems/shop/may_grant/1",
     "\"sms_marketing\" is not in receives; may_grant must be a subset of receives"},
    {"may_withdraw_not_subset.json", "/systems/shop/may_withdraw/0", "may_withdraw must be a subset of receives"},
    {"rank_not_received.json", "/systems/shop/rank/analytics", "is not in receives"},
    {"rank_negative.json", "/systems/shop/rank/email_marketing", "must be between 0 and 1000000"},
    // Systems: kind, URL, version, limits
    {"unknown_kind.json", "/systems/shop/kind", "unknown kind \"shopfiy\""},
    {"bad_url_scheme.json", "/systems/shop/base_url", "must start with \"https://\""},
    {"bad_url_http.json", "/systems/shop/base_url", "must use https"},
    {"bad_url_userinfo.json", "/systems/shop/base_url", "must not contain user info"},
    {"bad_url_query.json", "/systems/shop/base_url", "must not contain a query"},
    {"bad_api_version.json", "/systems/shop/api_version", "invalid api_version \"2025-02\""},
    {"rate_limit_zero.json", "/systems/shop/rate_limit/requests_per_second", "must be greater than 0"},
    {"mailchimp_concurrency.json", "/systems/mc/concurrency", "must be between 1 and 10"},
    // Systems: credentials
    {"inline_secret_shopify.json", "/systems/shop/credentials/access_token", "looks like an inline secret"},
    {"inline_secret_mailchimp.json", "/systems/mc/credentials/api_key", "looks like an inline secret"},
    {"inline_secret_random.json", "/systems/shop/credentials/access_token", "looks like an inline secret"},
    {"credential_dotdot.json", "/systems/shop/credentials/access_token", "must not contain \"..\""},
    {"missing_credential.json", "/systems/shop/credentials", "missing credential \"access_token\""},
    {"unknown_credential.json", "/systems/shop/credentials/acess_token", "unknown credential \"acess_token\""},
    // Systems: kind-specific options
    {"shopify_bad_domain.json", "/systems/shop/options/shop_domain", "expected \"<shop>.myshopify.com\""},
    {"shopify_missing_domain.json", "/systems/shop/options", "missing required field \"shop_domain\""},
    {"mailchimp_missing_list.json", "/systems/mc/options", "missing required field \"list_id\""},
    {"mailchimp_missing_data_center.json", "/systems/mc/options", "missing \"data_center\""},
    {"hubspot_missing_subscription.json", "/systems/crm/options",
     "missing subscription_ids entry for email purpose \"email_marketing\""},
    {"salesforce_missing_field.json", "/systems/sf/options/fields",
     "missing field mapping for received purpose \"sms_marketing\""},
    {"woocommerce_missing_base_url.json", "/systems/woo", "missing required field \"base_url\""},
    // Identity
    {"identity_bad_kind.json", "/identity/strong_kinds/1", "unknown identifier kind \"e-mail\""},
    {"identity_bad_region.json", "/identity/default_phone_region", "ISO 3166-1 alpha-2"},
    // Jurisdictions
    {"gdpr_response_too_long.json", "/jurisdictions/gdpr/response", "within 1 month"},
    {"gdpr_extension_too_long.json", "/jurisdictions/gdpr/extension", "at most 2 further months, not 3 months"},
    {"extension_without_notice.json", "/jurisdictions/gdpr/extension/notify_before_first_deadline", "must be true"},
    {"ccpa_missing_acknowledge.json", "/jurisdictions/ccpa", "missing \"acknowledge\""},
    {"ccpa_retention_too_short.json", "/jurisdictions/ccpa/record_retention", "at least 24 months, not 12 months"},
    {"ccpa_opt_out_too_slow.json", "/jurisdictions/ccpa/opt_out_of_sale", "within 15 business days"},
    {"period_two_units.json", "/jurisdictions/ccpa/response", "exactly one of days, months"},
};

TEST_CASE("Each invalid fixture is rejected with an error naming the file, the JSON pointer and the problem",
          "[policies][loader][invalid]") {
  for (const InvalidCase& c : kInvalidCases) {
    std::string path = Fixture(std::string("invalid/") + c.fixture);
    INFO("fixture " << c.fixture << ", expected " << c.pointer << ": " << c.problem);
    std::vector<std::string> paths = {path};
    LoadResult r = LoadPolicyFiles(paths);
    INFO(Describe(r.errors));
    CHECK_FALSE(r.ok());
    CHECK(HasError(r.errors, path, c.pointer, c.problem));
  }
}

TEST_CASE("Every invalid fixture in the directory is covered by the table", "[policies][loader][invalid]") {
  // Guards against a fixture that no test reads.
  std::set<std::string> covered;
  for (const InvalidCase& c : kInvalidCases) covered.insert(c.fixture);
  for (const char* extra : {"malformed.json", "multiple_errors.json", "dup_a.json", "dup_b.json", "identity_a.json",
                            "identity_b.json"}) {
    covered.insert(extra);
  }
  for (const auto& entry : std::filesystem::directory_iterator(Fixture("invalid"))) {
    std::string name = entry.path().filename().string();
    INFO(name);
    CHECK(covered.count(name) == 1);
  }
}

TEST_CASE("Malformed JSON is reported with its line and column", "[policies][loader][invalid]") {
  std::string path = Fixture("invalid/malformed.json");
  std::vector<std::string> paths = {path};
  LoadResult r = LoadPolicyFiles(paths);
  REQUIRE(r.errors.size() == 1);
  const PolicyError& e = r.errors[0];
  CHECK(e.file == path);
  CHECK(e.line == 4);
  CHECK(e.column == 25);
  CHECK(e.message.rfind("malformed JSON: ", 0) == 0);
  CHECK(e.ToString().rfind(path + ":4:25: malformed JSON", 0) == 0);
}

TEST_CASE("Malformed JSON at the end of the input and invalid UTF-8 are reported, not thrown",
          "[policies][loader][invalid]") {
  for (const std::string& bytes : {std::string(""), std::string("{"), std::string("{\"format\": \"\xff\"}"),
                                   std::string("{} trailing"), std::string(40, '[') + std::string(40, ']')}) {
    LoadResult r = testing::ParseOne(bytes);
    INFO(Describe(r.errors));
    CHECK_FALSE(r.ok());
    REQUIRE_FALSE(r.errors.empty());
    CHECK(r.errors[0].message.find("JSON") != std::string::npos);
  }
}

TEST_CASE("All problems in a document are reported, not just the first", "[policies][loader][invalid]") {
  std::string path = Fixture("invalid/multiple_errors.json");
  std::vector<std::string> paths = {path};
  LoadResult r = LoadPolicyFiles(paths);
  INFO(Describe(r.errors));
  CHECK(HasError(r.errors, path, "/purposes/email_marketing/channel", "unknown channel \"mail\""));
  CHECK(HasError(r.errors, path, "/systems/shop/base_url", "must use https"));
  CHECK(HasError(r.errors, path, "/systems/shop/credentials/access_token", "inline secret"));
  CHECK(HasError(r.errors, path, "/systems/shop/receives/2", "unknown purpose \"push\""));
  CHECK(HasError(r.errors, path, "/jurisdictions/gdpr/response", "within 1 month"));
  CHECK(r.errors.size() == 5);
}

TEST_CASE("An inline secret is never quoted in the error", "[policies][loader][invalid]") {
  for (const char* fixture : {"inline_secret_shopify.json", "inline_secret_mailchimp.json", "inline_secret_random.json",
                              "multiple_errors.json"}) {
    std::string path = Fixture(std::string("invalid/") + fixture);
    std::vector<std::string> paths = {path};
    LoadResult r = LoadPolicyFiles(paths);
    std::string text = FormatErrors(r.errors);
    INFO(text);
    CHECK(text.find("shpat_") == std::string::npos);
    CHECK(text.find("0123456789abcdef") == std::string::npos);
    CHECK(text.find("Zq3xK9mP2vL8nR4tW7yB1cD5") == std::string::npos);
  }
}

TEST_CASE("A purpose or system defined in two files is an error naming both files", "[policies][loader][merge]") {
  std::string a = Fixture("invalid/dup_a.json");
  std::string b = Fixture("invalid/dup_b.json");
  std::vector<std::string> paths = {a, b};
  LoadResult r = LoadPolicyFiles(paths);
  INFO(Describe(r.errors));
  CHECK(HasError(r.errors, b, "/purposes/email_marketing", "purpose \"email_marketing\" is already defined in " + a));
  CHECK(HasError(r.errors, b, "/systems/shop", "system \"shop\" is already defined in " + a));
  CHECK(r.errors.size() == 2);  // "analytics" is new and merges fine
}

TEST_CASE("An identity section in two files is an error naming both files", "[policies][loader][merge]") {
  std::string a = Fixture("invalid/identity_a.json");
  std::string b = Fixture("invalid/identity_b.json");
  std::vector<std::string> paths = {Fixture("valid/minimal.json"), a, b};
  LoadResult r = LoadPolicyFiles(paths);
  INFO(Describe(r.errors));
  CHECK(HasError(r.errors, b, "/identity", "the identity section is already defined in " + a));
}

TEST_CASE("A system may refer to purposes declared in another file", "[policies][loader][merge]") {
  LoadResult alone = LoadFixtures({"valid/split_systems.json"});
  CHECK(HasError(alone.errors, Fixture("valid/split_systems.json"), "/systems/shop/receives/0",
                 "unknown purpose \"email_marketing\""));
  LoadResult both = LoadFixtures({"valid/split_purposes.json", "valid/split_systems.json"});
  CHECK(both.ok());
}

TEST_CASE("A file larger than 1 MiB is rejected unread", "[policies][loader][invalid]") {
  testing::TempDir dir;
  std::string doc = testing::MinimalDocument();
  std::string big = doc.substr(0, doc.size() - 2) + std::string(kMaxPolicyFileBytes, ' ') + "}\n";
  std::string path = dir.Write("big.json", big);
  std::vector<std::string> paths = {path};
  LoadResult r = LoadPolicyFiles(paths);
  INFO(Describe(r.errors));
  REQUIRE(r.errors.size() == 1);
  CHECK(HasError(r.errors, path, "", "larger than 1 MiB"));

  // In memory too.
  std::vector<PolicyDocument> docs = {{"mem.json", big}};
  LoadResult m = ParsePolicyDocuments(docs);
  CHECK(HasError(m.errors, "mem.json", "", "larger than 1 MiB"));

  // Exactly at the limit is fine.
  std::string at_limit = doc.substr(0, doc.size() - 2);
  at_limit += std::string(kMaxPolicyFileBytes - at_limit.size() - 2, ' ') + "}\n";
  REQUIRE(at_limit.size() == kMaxPolicyFileBytes);
  std::vector<std::string> ok_paths = {dir.Write("limit.json", at_limit)};
  CHECK(LoadPolicyFiles(ok_paths).ok());
}

TEST_CASE("A missing file is an error naming it, and the other files are still checked",
          "[policies][loader][invalid]") {
  std::string missing = Fixture("invalid/does_not_exist.json");
  std::string bad = Fixture("invalid/unknown_kind.json");
  std::vector<std::string> paths = {missing, bad};
  LoadResult r = LoadPolicyFiles(paths);
  INFO(Describe(r.errors));
  CHECK(HasError(r.errors, missing, "", "cannot open file"));
  CHECK(HasError(r.errors, bad, "/systems/shop/kind", "unknown kind"));
}

TEST_CASE("No documents, or documents without purposes, do not make a policy", "[policies][loader][invalid]") {
  LoadResult none = ParsePolicyDocuments({});
  CHECK_FALSE(none.ok());
  LoadResult empty = testing::ParseOne(R"({"format": "consentd.policy/v1"})");
  CHECK(HasError(empty.errors, "test.json", "", "no purposes are declared"));
}

TEST_CASE("JSON pointers escape '~' and '/' in keys as RFC 6901 requires", "[policies][loader]") {
  LoadResult r = testing::ParseOne(R"({"format": "consentd.policy/v1",
    "purposes": {"a/b~c": {"channel": "email", "legal_basis": "consent", "default": "denied"}}})");
  CHECK(HasError(r.errors, "test.json", "/purposes/a~1b~0c", "must match"));
  CHECK(JsonPointerChild("", "x") == "/x");
  CHECK(JsonPointerChild("/a", 3) == "/a/3");
}

TEST_CASE("LoadPolicies returns the policy, or one InvalidArgument listing every error", "[policies][loader]") {
  std::vector<std::string> good = {testing::DefaultPolicyPath()};
  Result<PolicySet> ok = LoadPolicies(good);
  REQUIRE(ok.ok());
  CHECK(ok->purposes.size() == 5);

  std::vector<std::string> bad = {Fixture("invalid/multiple_errors.json")};
  Result<PolicySet> err = LoadPolicies(bad);
  REQUIRE_FALSE(err.ok());
  CHECK(err.status().code() == StatusCode::kInvalidArgument);
  CHECK(err.status().message().find("/systems/shop/base_url") != std::string::npos);
  CHECK(err.status().message().find("/jurisdictions/gdpr/response") != std::string::npos);
}

TEST_CASE("Salesforce field names may target the Individual record or a ContactPointTypeConsent",
          "[policies][loader]") {
  auto doc = [](const std::string& name) {
    return R"({"format": "consentd.policy/v1",
      "purposes": {"email_marketing": {"channel": "email", "legal_basis": "consent", "default": "denied"}},
      "systems": {"sf": {"kind": "salesforce", "base_url": "https://acme.my.salesforce.com",
        "credentials": {"access_token": "sf/token"}, "receives": ["email_marketing"],
        "options": {"fields": {"email_marketing": {"name": ")" +
           name + R"("}}}}}})";
  };
  for (const std::string& name : {std::string("Individual.HasOptedOutSolicit"),
                                  std::string("ContactPointTypeConsent.Email"), std::string("Marketing_OK__c")}) {
    LoadResult r = testing::ParseOne(doc(name));
    INFO(name << ": " << Describe(r.errors));
    REQUIRE(r.ok());
    const System& sf = *r.policy.FindSystem("sf");
    CHECK(std::get<SalesforceOptions>(sf.options).fields.at("email_marketing").name == name);
  }
  for (const std::string& name : {std::string("Individual."), std::string("Account.Name"),
                                  std::string("Individual.Individual.X"), std::string("ContactPointTypeConsent.E-mail")}) {
    LoadResult r = testing::ParseOne(doc(name));
    INFO(name);
    CHECK(HasError(r.errors, "test.json", "/systems/sf/options/fields/email_marketing/name",
                   "invalid Salesforce field name"));
  }
}

// A document with one system of `kind` whose options are `options`; the
// system id is "s" and it receives "email_marketing".
std::string OptionsDocument(const std::string& kind, const std::string& options) {
  std::string creds = kind == "shopify" ? R"({"access_token": "s/token"})" : R"({"api_key": "s/key"})";
  return R"({"format": "consentd.policy/v1",
    "purposes": {"email_marketing": {"channel": "email", "legal_basis": "consent", "default": "denied"}},
    "systems": {"s": {"kind": ")" + kind + R"(", "base_url": "https://s.example.com", "credentials": )" + creds +
         R"(, "receives": ["email_marketing"], "options": )" + options + "}}}";
}

TEST_CASE("Shopify, Klaviyo and Mailchimp behaviour options default to the adapter's documented behaviour",
          "[policies][loader]") {
  LoadResult shop = testing::ParseOne(OptionsDocument("shopify", R"({"shop_domain": "a.myshopify.com"})"));
  INFO(Describe(shop.errors));
  REQUIRE(shop.ok());
  const auto& so = std::get<ShopifyOptions>(shop.policy.FindSystem("s")->options);
  CHECK(so.erasure_confirmation == "customer_gone");
  CHECK(so.opt_in_level == "SINGLE_OPT_IN");
  LoadResult kl = testing::ParseOne(OptionsDocument("klaviyo", "{}"));
  REQUIRE(kl.ok());
  const auto& ko = std::get<KlaviyoOptions>(kl.policy.FindSystem("s")->options);
  CHECK_FALSE(ko.suppress_on_email_withdrawal);
  CHECK(ko.poll_job_status);
  LoadResult mc = testing::ParseOne(OptionsDocument("mailchimp", R"({"list_id": "L1"})"));
  REQUIRE(mc.ok());
  CHECK_FALSE(std::get<MailchimpOptions>(mc.policy.FindSystem("s")->options).resubscribe_as_pending);
}

TEST_CASE("Shopify, Klaviyo and Mailchimp behaviour options are read when set", "[policies][loader]") {
  for (const char* level : {"SINGLE_OPT_IN", "CONFIRMED_OPT_IN", "UNKNOWN"}) {
    LoadResult shop = testing::ParseOne(OptionsDocument(
        "shopify", std::string(R"({"shop_domain": "a.myshopify.com", "erasure_confirmation": "on_accept", "opt_in_level": ")") +
                       level + R"("})"));
    INFO(level << ": " << Describe(shop.errors));
    REQUIRE(shop.ok());
    const auto& so = std::get<ShopifyOptions>(shop.policy.FindSystem("s")->options);
    CHECK(so.erasure_confirmation == "on_accept");
    CHECK(so.opt_in_level == level);
  }
  LoadResult kl = testing::ParseOne(
      OptionsDocument("klaviyo", R"({"suppress_on_email_withdrawal": true, "poll_job_status": false})"));
  INFO(Describe(kl.errors));
  REQUIRE(kl.ok());
  const auto& ko = std::get<KlaviyoOptions>(kl.policy.FindSystem("s")->options);
  CHECK(ko.suppress_on_email_withdrawal);
  CHECK_FALSE(ko.poll_job_status);
  LoadResult mc = testing::ParseOne(OptionsDocument("mailchimp", R"({"list_id": "L1", "resubscribe_as_pending": true})"));
  REQUIRE(mc.ok());
  CHECK(std::get<MailchimpOptions>(mc.policy.FindSystem("s")->options).resubscribe_as_pending);
}

TEST_CASE("Behaviour options of the wrong type or with an unknown value are errors naming the file, pointer and problem",
          "[policies][loader][invalid]") {
  struct Case {
    std::string kind, options, pointer, fragment;
  };
  const std::vector<Case> cases = {
      {"shopify", R"({"shop_domain": "a.myshopify.com", "erasure_confirmation": "when_gone"})",
       "/systems/s/options/erasure_confirmation", "invalid value \"when_gone\" (expected one of: customer_gone, on_accept)"},
      {"shopify", R"({"shop_domain": "a.myshopify.com", "erasure_confirmation": true})",
       "/systems/s/options/erasure_confirmation", "must be a string, not a boolean"},
      {"shopify", R"({"shop_domain": "a.myshopify.com", "opt_in_level": "single_opt_in"})",
       "/systems/s/options/opt_in_level", "invalid value \"single_opt_in\" (expected one of: SINGLE_OPT_IN, CONFIRMED_OPT_IN, UNKNOWN)"},
      {"shopify", R"({"shop_domain": "a.myshopify.com", "opt_in_level": 1})",
       "/systems/s/options/opt_in_level", "must be a string, not an integer"},
      {"klaviyo", R"({"suppress_on_email_withdrawal": "yes"})",
       "/systems/s/options/suppress_on_email_withdrawal", "must be true or false, not a string"},
      {"klaviyo", R"({"poll_job_status": 0})", "/systems/s/options/poll_job_status",
       "must be true or false, not an integer"},
      {"klaviyo", R"({"poll_jobs": false})", "/systems/s/options/poll_jobs", "unknown field \"poll_jobs\""},
      {"mailchimp", R"({"list_id": "L1", "resubscribe_as_pending": null})",
       "/systems/s/options/resubscribe_as_pending", "must be true or false, not null"},
      {"mailchimp", R"({"list_id": "L1", "resubscribe_pending": true})", "/systems/s/options/resubscribe_pending",
       "unknown field \"resubscribe_pending\""},
  };
  for (const Case& c : cases) {
    LoadResult r = testing::ParseOne(OptionsDocument(c.kind, c.options));
    INFO(c.options << " -> " << Describe(r.errors));
    CHECK_FALSE(r.ok());
    CHECK(HasError(r.errors, "test.json", c.pointer, c.fragment));
  }
}

}  // namespace
}  // namespace consentd::policies
