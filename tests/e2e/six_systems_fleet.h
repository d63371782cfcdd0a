// SixSystems fleet: the emulators of the six downstream systems (Shopify,
// WooCommerce, HubSpot, Salesforce, Klaviyo, Mailchimp), each its own
// consentd-emulator process on 127.0.0.1 seeded with the credentials below,
// and the policy and credential files that point consentd at them. Shared
// by e2e_six_systems_tests and erasure_bench (its "six" mode).
//
// Thread-safety: Fleet's seeding methods are for one thread; State() reads
// of its emulators are thread-safe.
#ifndef CONSENTD_TESTS_E2E_SIX_SYSTEMS_FLEET_H_
#define CONSENTD_TESTS_E2E_SIX_SYSTEMS_FLEET_H_

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/emulators/emulator_process.h"

namespace consentd::e2e {

// Instance ids are the kinds' names.
extern const std::vector<std::string> kSystems;
inline constexpr char kShopDomain[] = "e2e-store.myshopify.com";
inline constexpr char kShopifyWebhookSecret[] = "e2e-shopify-webhook-secret";
inline constexpr char kHubSpotSubscription[] = "7";
inline constexpr char kMailchimpList[] = "L1";

// The secret value of each credential file, by system and credential name;
// the emulators are seeded to accept exactly these.
const std::map<std::string, std::map<std::string, std::string>>& Credentials();

// The six emulators, started and seeded with their credentials. The
// constructor REQUIREs (Catch2) that each started.
struct Fleet {
  std::map<std::string, std::unique_ptr<emulators::EmulatorProcess>> emu;
  int next_shopify_id = 1001;
  int next_woo_id = 25;
  int next_hubspot_id = 101;
  std::map<std::string, std::string> shopify_id;  // email -> customer id
  std::map<std::string, int> woo_id;

  Fleet();

  // The customer record in the systems where consentd updates an existing
  // record (Shopify, WooCommerce and Salesforce look the customer up by
  // email; HubSpot's GDPR delete removes the contact). Klaviyo profiles and
  // Mailchimp members are created by the first subscription write.
  void SeedCustomer(const std::string& email);
  // The same for many, with one seed request per system.
  void SeedCustomers(const std::vector<std::string>& emails);

  // Klaviyo applies jobs after job_delay_ms: its state once none is queued.
  nlohmann::json KlaviyoSettled() const;
};

// Writes `dir`/policy.json: one email purpose received by all six systems,
// each limited to `rps` requests/s (burst `burst`) and `concurrency`
// deliveries at once, GDPR deadlines. `options` maps a system id to members
// added to its options. Returns the file's path.
std::string WritePolicy(const std::string& dir, const Fleet& f, const nlohmann::json& options, double rps = 200,
                        int burst = 20, int concurrency = 4);

// Writes the credential files of Credentials() under `key_dir`/credentials.
void WriteCredentials(const std::string& key_dir);

}  // namespace consentd::e2e

#endif  // CONSENTD_TESTS_E2E_SIX_SYSTEMS_FLEET_H_
