// Lenient readers of JSON members for the webhook mappers: systems send ids
// as numbers or strings and omit or null members freely. A member of the
// wrong type reads as absent. Internal to adapters/webhook_*.cc.
//
// Thread-safety: pure functions.
#ifndef CONSENTD_ADAPTERS_WEBHOOK_JSON_H_
#define CONSENTD_ADAPTERS_WEBHOOK_JSON_H_

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace consentd::adapters::webhook_json {

using nlohmann::json;

// Parses without exceptions; a discarded value on malformed input.
inline json Parse(std::string_view body) { return json::parse(body.begin(), body.end(), nullptr, false); }

inline const json* Member(const json& j, std::string_view key) {
  if (!j.is_object()) return nullptr;
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return nullptr;
  return &*it;
}

// A string member, or "" when absent or not a string.
inline std::string Str(const json& j, std::string_view key) {
  const json* m = Member(j, key);
  return m != nullptr && m->is_string() ? m->get<std::string>() : std::string();
}

// An id given as a non-negative integer or a string, as text; "" otherwise.
inline std::string Id(const json& j, std::string_view key) {
  const json* m = Member(j, key);
  if (m == nullptr) return std::string();
  if (m->is_number_unsigned()) return std::to_string(m->get<uint64_t>());
  if (m->is_number_integer() && m->get<int64_t>() >= 0) return std::to_string(m->get<int64_t>());
  if (m->is_string()) return m->get<std::string>();
  return std::string();
}

inline const json* Obj(const json& j, std::string_view key) {
  const json* m = Member(j, key);
  return m != nullptr && m->is_object() ? m : nullptr;
}

}  // namespace consentd::adapters::webhook_json

#endif  // CONSENTD_ADAPTERS_WEBHOOK_JSON_H_
