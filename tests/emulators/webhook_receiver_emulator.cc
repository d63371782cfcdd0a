// The receiver of consentd's signed webhooks (docs/adapters.md, "## Signed
// webhook"), written from the documentation and independent of the adapter:
// it verifies the signature header with its own HMAC, records the events,
// and answers as a careful receiver would.
//
//   POST /<any path>   2xx: 200 {"received":true} (a replayed event id: 200, counted, not recorded again)
//                      401 {"error":"bad signature"}: missing, malformed, wrong or stale signature
//                      400 {"error":"bad body"}: not a JSON object with id and type
//                      410 {"error":"gone"}: the path is one of the seeded gone_paths
// expire_tokens makes every signature "wrong" (the secret was rotated).
//
// /_emulator/seed (all optional):
//   {"secret":"whsec_test", "header":"X-Consentd-Signature", "tolerance_s":300, "gone_paths":["/old"]}
//   tolerance_s 0 turns the timestamp check off (for fixed-clock tests).
// /_emulator/state:
//   {"events":[{"path":"/hooks","t":1700000000,"body":{...the event...}}],
//    "duplicates":N, "rejected":N, "bad_bodies":N}
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <chrono>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "src/base/bytes.h"
#include "tests/emulators/emulator.h"

namespace consentd::emulators {

namespace {

using nlohmann::json;

struct ReceiverState {
  std::string secret = "whsec_test";
  std::string header = "X-Consentd-Signature";
  int64_t tolerance_s = 300;
  std::set<std::string> gone_paths;
  std::vector<json> events;
  std::set<std::string> seen_ids;
  int duplicates = 0;
  int rejected = 0;
  int bad_bodies = 0;
};

// Parses "t=<digits>,v1=<64 hex>" (elements in any order, unknown ones ignored).
bool ParseSignature(const std::string& value, int64_t* t, std::string* v1) {
  bool have_t = false;
  size_t pos = 0;
  while (pos <= value.size()) {
    size_t comma = value.find(',', pos);
    if (comma == std::string::npos) comma = value.size();
    std::string item = value.substr(pos, comma - pos);
    if (item.rfind("t=", 0) == 0 && item.size() > 2 && item.size() <= 14 &&
        item.find_first_not_of("0123456789", 2) == std::string::npos) {
      *t = std::stoll(item.substr(2));
      have_t = true;
    } else if (item.rfind("v1=", 0) == 0) {
      *v1 = item.substr(3);
    }
    pos = comma + 1;
  }
  return have_t && v1->size() == 64;
}

std::string Hmac(const std::string& secret, const std::string& message) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), mac, &len);
  return HexEncode(ByteView(mac, len));
}

}  // namespace

void RegisterWebhookReceiver(Emulator& emu) {
  auto st = std::make_shared<ReceiverState>();
  // The signature is checked in the handler; expire_tokens rejects every one.
  emu.SetAuth([](const httplib::Request&, bool expired) { return !expired; },
              [st, &emu](const httplib::Request&, httplib::Response& res) {
                {
                  std::lock_guard<std::mutex> lock(emu.mu());
                  ++st->rejected;
                }
                res.status = 401;
                res.set_content(R"({"error":"bad signature"})", "application/json");
              });
  emu.SetStateFn([st] {
    return json{{"events", st->events},
                {"duplicates", st->duplicates},
                {"rejected", st->rejected},
                {"bad_bodies", st->bad_bodies}};
  });
  emu.SetSeedFn([st](const json& seed) {
    if (!seed.is_object()) return false;
    if (seed.contains("secret")) st->secret = seed.value("secret", st->secret);
    if (seed.contains("header")) st->header = seed.value("header", st->header);
    if (seed.contains("tolerance_s")) st->tolerance_s = seed.value("tolerance_s", int64_t{300});
    for (const json& p : seed.value("gone_paths", json::array())) st->gone_paths.insert(p.get<std::string>());
    return true;
  });
  emu.SetResetFn([st] { *st = ReceiverState(); });

  emu.Route("POST", "/.*", [st, &emu](const httplib::Request& req, httplib::Response& res) {
    std::lock_guard<std::mutex> lock(emu.mu());
    auto reject = [&](const char* error) {
      ++st->rejected;
      res.status = 401;
      res.set_content(json{{"error", error}}.dump(), "application/json");
    };
    int64_t t = 0;
    std::string v1;
    if (!ParseSignature(req.get_header_value(st->header.c_str()), &t, &v1)) return reject("bad signature");
    const std::string expected = Hmac(st->secret, std::to_string(t) + "." + req.body);
    if (!ConstantTimeEquals(expected, v1)) return reject("bad signature");
    const int64_t now =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
            .count();
    if (st->tolerance_s > 0 && (t < now - st->tolerance_s || t > now + st->tolerance_s)) {
      return reject("stale signature");
    }
    if (st->gone_paths.count(req.path)) {
      res.status = 410;
      return res.set_content(R"({"error":"gone"})", "application/json");
    }
    json body = json::parse(req.body, nullptr, false);
    if (!body.is_object() || !body.contains("id") || !body["id"].is_string() || !body.contains("type") ||
        !body["type"].is_string()) {
      ++st->bad_bodies;
      res.status = 400;
      return res.set_content(R"({"error":"bad body"})", "application/json");
    }
    if (!st->seen_ids.insert(body["id"].get<std::string>()).second) {
      ++st->duplicates;
    } else {
      st->events.push_back({{"path", req.path}, {"t", t}, {"body", body}});
    }
    res.set_content(R"({"received":true})", "application/json");
  });
}

}  // namespace consentd::emulators
