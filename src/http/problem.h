// Problem: an RFC 9457 problem details object, the body of every error
// response (Content-Type: application/problem+json).
//
//   {"type":"urn:consentd:problem:invalid-field","title":"Invalid field",
//    "status":400,"detail":"purpose: unknown purpose","field":"/purpose"}
//
// `type` is stable per error (docs/api.md lists them); `detail` and `field`
// name fields and ids, never personal data (values are not echoed).
//
// Thread-safety: value type.
#ifndef CONSENTD_HTTP_PROBLEM_H_
#define CONSENTD_HTTP_PROBLEM_H_

#include <string>

#include "src/base/status.h"

namespace consentd::http {

struct Problem {
  int status = 500;
  std::string type;    // "urn:consentd:problem:<slug>"
  std::string title;
  std::string detail;
  std::string field;   // JSON pointer of the offending field, when there is one
  // Set by HttpServer on every error response: the request path (never the
  // query) and the request id, "/v1/consents#req-<X-Request-Id>", or
  // "urn:consentd:request:<X-Request-Id>" when no route matched.
  std::string instance;

  std::string ToJson() const;

  // Constructors for the stable problem types.
  static Problem BadRequest(std::string detail, std::string field = "");
  static Problem InvalidJson(std::string detail);
  static Problem Unauthorized();
  static Problem Forbidden(std::string needed);
  static Problem NotFound(std::string detail);
  static Problem MethodNotAllowed();
  static Problem Conflict(std::string detail);
  static Problem PayloadTooLarge(size_t limit);
  static Problem UnsupportedMediaType(std::string expected);
  static Problem Unavailable(std::string detail);
  static Problem Internal();
};

// The one mapping from Status codes to HTTP problems (see docs/api.md).
Problem ProblemFromStatus(const Status& status);

}  // namespace consentd::http

#endif  // CONSENTD_HTTP_PROBLEM_H_
