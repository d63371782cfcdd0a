#include "tests/e2e/six_systems_fleet.h"

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

namespace consentd::e2e {

using emulators::EmulatorProcess;
using nlohmann::json;

const std::vector<std::string> kSystems = {"shopify", "woocommerce", "hubspot", "salesforce", "klaviyo", "mailchimp"};

const std::map<std::string, std::map<std::string, std::string>>& Credentials() {
  static const auto* creds = new std::map<std::string, std::map<std::string, std::string>>{
      {"shopify", {{"access_token", "shpat_emulator"}, {"webhook_secret", kShopifyWebhookSecret}}},
      {"woocommerce", {{"consumer_key", "ck_emulator"}, {"consumer_secret", "cs_emulator"}}},
      {"hubspot", {{"access_token", "pat-na1-e2e"}}},
      {"salesforce",
       {{"access_token", "initial-token"}, {"client_id", "cid"}, {"client_secret", "csecret"}, {"refresh_token", "rt"}}},
      {"klaviyo", {{"api_key", "pk_e2e"}}},
      {"mailchimp", {{"api_key", "e2e-key-us6"}}},
  };
  return *creds;
}

Fleet::Fleet() {
  for (const std::string& id : kSystems) {
    emu[id] = EmulatorProcess::Start(id);
    REQUIRE(emu[id] != nullptr);
  }
  emu["shopify"]->Seed({{"access_token", "shpat_emulator"}, {"erasure_delay_ms", 0}});
  emu["hubspot"]->Seed({{"access_token", "pat-na1-e2e"}, {"subscription_types", {kHubSpotSubscription}}});
  emu["salesforce"]->Seed({{"oauth", {{"client_id", "cid"}, {"client_secret", "csecret"}, {"refresh_token", "rt"}}},
                           {"access_token", "initial-token"}});
  emu["klaviyo"]->Seed({{"api_key", "pk_e2e"}, {"job_delay_ms", 50}});
  emu["mailchimp"]->Seed({{"api_key", "e2e-key-us6"}});
}

void Fleet::SeedCustomer(const std::string& email) { SeedCustomers({email}); }

void Fleet::SeedCustomers(const std::vector<std::string>& emails) {
  json shopify = json::array(), woo = json::array(), hubspot = json::array(), salesforce = json::array();
  for (const std::string& email : emails) {
    const std::string sid = std::to_string(next_shopify_id++);
    shopify_id[email] = sid;
    shopify.push_back({{"id", sid}, {"email", email}});
    const int wid = next_woo_id++;
    woo_id[email] = wid;
    woo.push_back({{"id", wid}, {"email", email}, {"first_name", "E2E"}});
    hubspot.push_back({{"id", std::to_string(next_hubspot_id++)}, {"email", email}});
    salesforce.push_back({{"type", "Contact"}, {"Email", email}, {"HasOptedOutOfEmail", false}});
  }
  emu["shopify"]->Seed({{"customers", shopify}});
  emu["woocommerce"]->Seed({{"customers", woo}});
  emu["hubspot"]->Seed({{"contacts", hubspot}});
  emu["salesforce"]->Seed({{"records", salesforce}});
}

json Fleet::KlaviyoSettled() const {
  json state;
  for (int i = 0; i < 100; ++i) {
    state = emu.at("klaviyo")->State();
    bool queued = false;
    for (const json& j : state["jobs"]) queued = queued || j["status"] == "queued";
    if (!queued) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return state;
}

std::string WritePolicy(const std::string& dir, const Fleet& f, const json& options, double rps, int burst,
                        int concurrency) {
  json systems = json::object();
  for (const std::string& id : kSystems) {
    json s = {{"kind", id},
              {"base_url", f.emu.at(id)->base_url()},
              {"credentials", json::object()},
              {"receives", {"email_marketing"}},
              {"rate_limit", {{"requests_per_second", rps}, {"burst", burst}}},
              {"concurrency", concurrency}};
    for (const auto& [name, value] : Credentials().at(id)) {
      (void)value;
      s["credentials"][name] = "credentials/" + id + "/" + name;
    }
    s["options"] = json::object();
    if (id == "shopify") s["options"]["shop_domain"] = kShopDomain;
    if (id == "shopify") s["may_grant"] = {"email_marketing"};
    if (id == "hubspot") s["options"]["subscription_ids"] = {{"email_marketing", kHubSpotSubscription}};
    if (id == "salesforce") s["options"]["fields"] = {{"email_marketing", {{"name", "HasOptedOutOfEmail"}}}};
    if (id == "mailchimp") s["options"]["list_id"] = kMailchimpList;
    if (options.contains(id)) s["options"].update(options[id]);
    if (s["options"].empty()) s.erase("options");
    systems[id] = s;
  }
  json policy = {{"format", "consentd.policy/v1"},
                 {"purposes",
                  {{"email_marketing", {{"channel", "email"}, {"legal_basis", "consent"}, {"default", "denied"}}}}},
                 {"systems", systems},
                 {"jurisdictions", {{"gdpr", {{"response", {{"months", 1}}}, {"extension", {{"months", 2}}}}}}}};
  const std::string path = dir + "/policy.json";
  std::ofstream(path) << policy.dump(2);
  return path;
}

void WriteCredentials(const std::string& key_dir) {
  for (const auto& [id, creds] : Credentials()) {
    std::filesystem::create_directories(key_dir + "/credentials/" + id);
    for (const auto& [name, value] : creds) {
      std::ofstream(key_dir + "/credentials/" + id + "/" + name) << value << "\n";
    }
  }
}

}  // namespace consentd::e2e
