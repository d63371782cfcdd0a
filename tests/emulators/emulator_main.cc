// consentd-emulator --kind K [--port P]: serves one emulated downstream
// system (see emulator.h) until killed.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>

#include "tests/emulators/emulator.h"

int main(int argc, char** argv) {
  using namespace consentd::emulators;
  std::string kind;
  int port = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--kind") == 0) {
      kind = argv[i + 1];
    } else if (std::strcmp(argv[i], "--port") == 0) {
      port = std::atoi(argv[i + 1]);
    } else {
      std::fprintf(stderr, "usage: consentd-emulator --kind KIND [--port PORT]\n");
      return 2;
    }
  }
  const std::map<std::string, void (*)(Emulator&)> kinds = {
      {"shopify", &RegisterShopify},     {"woocommerce", &RegisterWooCommerce}, {"hubspot", &RegisterHubSpot},
      {"salesforce", &RegisterSalesforce}, {"klaviyo", &RegisterKlaviyo},     {"mailchimp", &RegisterMailchimp},
      {"webhook", &RegisterWebhookReceiver},
  };
  auto it = kinds.find(kind);
  if (it == kinds.end()) {
    std::fprintf(stderr, "consentd-emulator: --kind must be one of shopify woocommerce hubspot salesforce "
                         "klaviyo mailchimp webhook\n");
    return 2;
  }
  Emulator emu(kind);
  it->second(emu);
  return emu.Run(port);
}
