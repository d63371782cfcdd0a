// Strict JSON request bodies: parse without exceptions, require an object,
// reject unknown members, and name the offending member by JSON pointer.
// Values from the body are never echoed in errors (they may be personal).
//
// Thread-safety: a BodyReader is used by one handler call.
#ifndef CONSENTD_API_JSON_BODY_H_
#define CONSENTD_API_JSON_BODY_H_

#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "src/http/problem.h"

namespace consentd::api {

// Parses `body` as a JSON object. On failure returns the problem to send.
std::optional<http::Problem> ParseObject(std::string_view body, nlohmann::json* out);

// Reads members of one JSON object, recording the first problem.
class BodyReader {
 public:
  BodyReader(const nlohmann::json& object, std::string pointer_prefix = "")
      : j_(object), prefix_(std::move(pointer_prefix)) {}

  // Required/optional members. The optional forms leave *out unchanged when
  // the member is absent or null.
  bool String(const char* key, std::string* out, bool required, size_t max_len = 1024);
  bool Int(const char* key, int64_t* out, bool required, int64_t lo, int64_t hi);
  bool Bool(const char* key, bool* out, bool required);
  // Returns the member (object or array) or nullptr; records a problem when
  // it has the wrong type or is required and missing.
  const nlohmann::json* Object(const char* key, bool required);
  const nlohmann::json* Array(const char* key, bool required, size_t max_items);

  // Records "unknown field" for any member not read so far.
  void RejectUnknown();
  void Fail(const std::string& key, const std::string& problem);

  bool ok() const { return !problem_.has_value(); }
  const std::optional<http::Problem>& problem() const { return problem_; }
  std::string Pointer(const std::string& key) const { return prefix_ + "/" + key; }

 private:
  const nlohmann::json* Find(const char* key, bool required);
  const nlohmann::json& j_;
  std::string prefix_;
  std::set<std::string> seen_;
  std::optional<http::Problem> problem_;
};

}  // namespace consentd::api

#endif  // CONSENTD_API_JSON_BODY_H_
