// Policy systems to adapter configs: settings copied, credentials read from
// files under the key directory, and no secret in any error.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "src/propagation/adapter_config_from_policy.h"

namespace consentd::propagation {
namespace {

struct KeyDir {
  KeyDir() {
    std::string tmpl = std::filesystem::temp_directory_path().string() + "/consentd-creds-XXXXXX";
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~KeyDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  void Write(const std::string& rel, const std::string& value) {
    std::filesystem::create_directories(std::filesystem::path(path + "/" + rel).parent_path());
    std::ofstream(path + "/" + rel) << value;
  }
  std::string path;
};

TEST_CASE("a policy system becomes an adapter config with its secrets read from the credential files") {
  KeyDir keys;
  keys.Write("credentials/mc/api_key", "0123456789abcdef-us6\n");
  policies::System s;
  s.id = "mc";
  s.kind = policies::SystemKind::kMailchimp;
  s.base_url = "http://127.0.0.1:9/3.0/";
  s.api_version = "3.0";
  s.credentials = {{"api_key", "credentials/mc/api_key"}};
  policies::MailchimpOptions o;
  o.list_id = "L1";
  o.data_center = "us6";
  o.marketing_permission_ids = {{"email_marketing", "p1"}};
  s.options = o;
  Result<adapters::AdapterConfig> c = AdapterConfigFromPolicy(s, keys.path);
  REQUIRE(c.ok());
  CHECK(c->system_id == "mc");
  CHECK(c->base_url == "http://127.0.0.1:9/3.0");
  CHECK(c->api_version == "3.0");
  CHECK(c->credentials.at("api_key") == "0123456789abcdef-us6");  // trailing newline trimmed
  const auto* m = std::get_if<adapters::MailchimpSettings>(&c->settings);
  REQUIRE(m != nullptr);
  CHECK(m->list_id == "L1");
  CHECK(m->marketing_permission_ids.at("email_marketing") == "p1");
}

TEST_CASE("every system kind's options map to the settings of the same kind") {
  CHECK(std::holds_alternative<adapters::ShopifySettings>(SettingsFromOptions(policies::ShopifyOptions{"s.myshopify.com", "graphql"})));
  CHECK(std::holds_alternative<adapters::WooCommerceSettings>(SettingsFromOptions(policies::WooCommerceOptions{})));
  CHECK(std::holds_alternative<adapters::HubSpotSettings>(SettingsFromOptions(policies::HubSpotOptions{})));
  policies::SalesforceOptions sf;
  sf.object = "Lead";
  sf.fields["email_marketing"] = {"HasOptedOutOfEmail", true};
  adapters::AdapterSettings s = SettingsFromOptions(sf);
  REQUIRE(std::holds_alternative<adapters::SalesforceSettings>(s));
  CHECK(std::get<adapters::SalesforceSettings>(s).object == "Lead");
  CHECK(std::get<adapters::SalesforceSettings>(s).fields.at("email_marketing").name == "HasOptedOutOfEmail");
  CHECK(std::holds_alternative<adapters::KlaviyoSettings>(SettingsFromOptions(policies::KlaviyoOptions{})));
  policies::WebhookOptions w;
  w.signature_header = "X-Sig";
  s = SettingsFromOptions(w);
  REQUIRE(std::holds_alternative<adapters::SignedWebhookSettings>(s));
  CHECK(std::get<adapters::SignedWebhookSettings>(s).signature_header == "X-Sig");
}

TEST_CASE("a missing credential file is an error naming the credential, and an inline secret is refused") {
  KeyDir keys;
  policies::System s;
  s.id = "hook";
  s.kind = policies::SystemKind::kWebhook;
  s.options = policies::WebhookOptions{};
  s.credentials = {{"signing_secret", "credentials/hook/signing_secret"}};
  Result<adapters::AdapterConfig> c = AdapterConfigFromPolicy(s, keys.path);
  REQUIRE(!c.ok());
  CHECK(c.status().code() == StatusCode::kNotFound);
  CHECK(c.status().message().find("signing_secret") != std::string::npos);

  s.credentials = {{"signing_secret", "shpat_0123456789abcdef0123456789abcdef"}};
  c = AdapterConfigFromPolicy(s, keys.path);
  REQUIRE(!c.ok());
  CHECK(c.status().code() == StatusCode::kInvalidArgument);
  CHECK(c.status().message().find("shpat_0123") == std::string::npos);
}

TEST_CASE("the Shopify, Klaviyo and Mailchimp behaviour options reach the adapter settings") {
  policies::ShopifyOptions shop;
  shop.shop_domain = "s.myshopify.com";
  shop.erasure_confirmation = "on_accept";
  shop.opt_in_level = "CONFIRMED_OPT_IN";
  adapters::AdapterSettings s = SettingsFromOptions(shop);
  REQUIRE(std::holds_alternative<adapters::ShopifySettings>(s));
  CHECK(std::get<adapters::ShopifySettings>(s).shop_domain == "s.myshopify.com");
  CHECK(std::get<adapters::ShopifySettings>(s).erasure_confirmation == "on_accept");
  CHECK(std::get<adapters::ShopifySettings>(s).opt_in_level == "CONFIRMED_OPT_IN");

  // Both non-default values, then both defaults, so that a copy of either
  // constant fails one of them.
  for (bool flip : {true, false}) {
    policies::KlaviyoOptions k;
    k.list_id = "Y6nRLr";
    k.suppress_on_email_withdrawal = flip;
    k.poll_job_status = !flip;
    s = SettingsFromOptions(k);
    REQUIRE(std::holds_alternative<adapters::KlaviyoSettings>(s));
    CHECK(std::get<adapters::KlaviyoSettings>(s).list_id == "Y6nRLr");
    CHECK(std::get<adapters::KlaviyoSettings>(s).suppress_on_email_withdrawal == flip);
    CHECK(std::get<adapters::KlaviyoSettings>(s).poll_job_status == !flip);

    policies::MailchimpOptions m;
    m.list_id = "L1";
    m.resubscribe_as_pending = flip;
    s = SettingsFromOptions(m);
    REQUIRE(std::holds_alternative<adapters::MailchimpSettings>(s));
    CHECK(std::get<adapters::MailchimpSettings>(s).resubscribe_as_pending == flip);
  }
  policies::ShopifyOptions defaults;
  s = SettingsFromOptions(defaults);
  CHECK(std::get<adapters::ShopifySettings>(s).erasure_confirmation == "customer_gone");
  CHECK(std::get<adapters::ShopifySettings>(s).opt_in_level == "SINGLE_OPT_IN");
}

}  // namespace
}  // namespace consentd::propagation
