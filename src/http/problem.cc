#include "src/http/problem.h"

#include <nlohmann/json.hpp>

namespace consentd::http {
namespace {

Problem Make(int status, const char* slug, const char* title, std::string detail, std::string field = "") {
  Problem p;
  p.status = status;
  p.type = std::string("urn:consentd:problem:") + slug;
  p.title = title;
  p.detail = std::move(detail);
  p.field = std::move(field);
  return p;
}

}  // namespace

std::string Problem::ToJson() const {
  nlohmann::json j = {{"type", type}, {"title", title}, {"status", status}};
  if (!detail.empty()) j["detail"] = detail;
  if (!field.empty()) j["field"] = field;
  if (!instance.empty()) j["instance"] = instance;
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Problem Problem::BadRequest(std::string detail, std::string field) {
  return Make(400, "invalid-field", "Invalid request", std::move(detail), std::move(field));
}
Problem Problem::InvalidJson(std::string detail) { return Make(400, "invalid-json", "Malformed JSON", std::move(detail)); }
Problem Problem::Unauthorized() {
  return Make(401, "unauthorized", "Missing or invalid bearer token", "send Authorization: Bearer <token>");
}
Problem Problem::Forbidden(std::string needed) {
  return Make(403, "forbidden", "Token lacks the required scope", "requires one of: " + needed);
}
Problem Problem::NotFound(std::string detail) { return Make(404, "not-found", "Not found", std::move(detail)); }
Problem Problem::MethodNotAllowed() { return Make(405, "method-not-allowed", "Method not allowed", ""); }
Problem Problem::Conflict(std::string detail) { return Make(409, "conflict", "Conflict", std::move(detail)); }
Problem Problem::PayloadTooLarge(size_t limit) {
  return Make(413, "payload-too-large", "Request body too large", "limit is " + std::to_string(limit) + " bytes");
}
Problem Problem::UnsupportedMediaType(std::string expected) {
  return Make(415, "unsupported-media-type", "Unsupported media type", "expected " + expected);
}
Problem Problem::Unavailable(std::string detail) {
  return Make(503, "unavailable", "Temporarily unavailable", std::move(detail));
}
Problem Problem::Internal() {
  return Make(500, "internal", "Internal error", "the error was logged with this request's id");
}

Problem ProblemFromStatus(const Status& s) {
  switch (s.code()) {
    case StatusCode::kOk: return Make(200, "ok", "OK", "");
    case StatusCode::kInvalidArgument: {
      // Services start messages about a request member with its JSON
      // pointer ("/purpose: unknown purpose"): name it in "field".
      const std::string& m = s.message();
      const size_t colon = m.find(": ");
      std::string field;
      if (!m.empty() && m[0] == '/' && colon != std::string::npos && m.find(' ') > colon) field = m.substr(0, colon);
      return Problem::BadRequest(m, std::move(field));
    }
    case StatusCode::kNotFound: return Problem::NotFound(s.message());
    case StatusCode::kAlreadyExists: return Problem::Conflict(s.message());
    case StatusCode::kFailedPrecondition: return Make(409, "failed-precondition", "Not allowed in this state", s.message());
    case StatusCode::kUnavailable: return Problem::Unavailable(s.message());
    case StatusCode::kCorruption:
    case StatusCode::kIOError:
    case StatusCode::kInternal: return Problem::Internal();
  }
  return Problem::Internal();
}

}  // namespace consentd::http
