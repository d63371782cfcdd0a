// Helpers for the webhook verifier and mapper tests: recorded payloads from
// tests/testdata/webhooks and request builders.
#ifndef CONSENTD_TESTS_ADAPTERS_WEBHOOK_TEST_UTIL_H_
#define CONSENTD_TESTS_ADAPTERS_WEBHOOK_TEST_UTIL_H_

#include <fstream>
#include <sstream>
#include <string>

#include "adapters/webhook_event.h"

namespace consentd::adapters::testing {

// The exact bytes of tests/testdata/webhooks/<relative>.
inline std::string Payload(const std::string& relative) {
  std::ifstream in(std::string(CONSENTD_SOURCE_DIR) + "/tests/testdata/webhooks/" + relative, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A POST with `body` (which must outlive the request) and headers.
inline WebhookRequest Post(const std::string& body, std::initializer_list<std::pair<std::string, std::string>> headers,
                           std::string url = "https://consentd.example.com/v1/webhooks/x/y") {
  WebhookRequest r;
  r.method = "POST";
  r.body = body;
  r.urls = {std::move(url)};
  for (const auto& [k, v] : headers) r.headers.emplace(k, v);
  return r;
}

}  // namespace consentd::adapters::testing

#endif  // CONSENTD_TESTS_ADAPTERS_WEBHOOK_TEST_UTIL_H_
