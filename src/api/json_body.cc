#include "src/api/json_body.h"

namespace consentd::api {

std::optional<http::Problem> ParseObject(std::string_view body, nlohmann::json* out) {
  *out = nlohmann::json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (out->is_discarded()) return http::Problem::InvalidJson("request body is not valid JSON");
  if (!out->is_object()) return http::Problem::InvalidJson("request body must be a JSON object");
  return std::nullopt;
}

const nlohmann::json* BodyReader::Find(const char* key, bool required) {
  seen_.insert(key);
  auto it = j_.find(key);
  if (it == j_.end() || it->is_null()) {
    if (required) Fail(key, "is required");
    return nullptr;
  }
  return &*it;
}

void BodyReader::Fail(const std::string& key, const std::string& problem) {
  if (problem_) return;
  problem_ = http::Problem::BadRequest(Pointer(key) + ": " + problem, Pointer(key));
}

bool BodyReader::String(const char* key, std::string* out, bool required, size_t max_len) {
  const nlohmann::json* v = Find(key, required);
  if (!v) return !required;
  if (!v->is_string()) {
    Fail(key, "must be a string");
    return false;
  }
  const std::string& s = v->get_ref<const std::string&>();
  if (s.size() > max_len) {
    Fail(key, "is longer than " + std::to_string(max_len) + " bytes");
    return false;
  }
  *out = s;
  return true;
}

bool BodyReader::Int(const char* key, int64_t* out, bool required, int64_t lo, int64_t hi) {
  const nlohmann::json* v = Find(key, required);
  if (!v) return !required;
  if (!v->is_number_integer()) {
    Fail(key, "must be an integer");
    return false;
  }
  int64_t x = v->get<int64_t>();
  if (x < lo || x > hi) {
    Fail(key, "must be between " + std::to_string(lo) + " and " + std::to_string(hi));
    return false;
  }
  *out = x;
  return true;
}

bool BodyReader::Bool(const char* key, bool* out, bool required) {
  const nlohmann::json* v = Find(key, required);
  if (!v) return !required;
  if (!v->is_boolean()) {
    Fail(key, "must be true or false");
    return false;
  }
  *out = v->get<bool>();
  return true;
}

const nlohmann::json* BodyReader::Object(const char* key, bool required) {
  const nlohmann::json* v = Find(key, required);
  if (v && !v->is_object()) {
    Fail(key, "must be an object");
    return nullptr;
  }
  return v;
}

const nlohmann::json* BodyReader::Array(const char* key, bool required, size_t max_items) {
  const nlohmann::json* v = Find(key, required);
  if (!v) return nullptr;
  if (!v->is_array()) {
    Fail(key, "must be an array");
    return nullptr;
  }
  if (v->size() > max_items) {
    Fail(key, "has more than " + std::to_string(max_items) + " items");
    return nullptr;
  }
  return v;
}

void BodyReader::RejectUnknown() {
  for (auto it = j_.begin(); it != j_.end(); ++it) {
    if (!seen_.count(it.key())) {
      // The member name is caller-chosen; bound it.
      Fail(it.key().substr(0, 64), "unknown field");
      return;
    }
  }
}

}  // namespace consentd::api
