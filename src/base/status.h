// Status: the outcome of an operation, OK or a code with a message.
//
// Messages name operations and ids (sequence numbers, table names, file
// paths chosen by the operator), never personal data: they end up in logs and
// in problem+json bodies.
//
// Thread-safety: a Status is a value; const methods may be called
// concurrently, mutation needs external synchronization.
#ifndef CONSENTD_BASE_STATUS_H_
#define CONSENTD_BASE_STATUS_H_

#include <string>
#include <string_view>

namespace consentd {

// A small closed set, after abseil's canonical codes. The HTTP mapping lives
// in one place in the service layer.
enum class StatusCode {
  kOk = 0,
  kInvalidArgument,    // malformed input; the caller can fix it
  kNotFound,           // the thing asked for does not exist
  kAlreadyExists,      // duplicate (idempotent replays are not errors)
  kFailedPrecondition, // state forbids it (policy denied, illegal transition)
  kUnavailable,        // temporary; retry later
  kCorruption,         // stored data failed verification: raise an alarm
  kIOError,            // the operating system or storage failed
  kInternal,           // a bug or an unexpected library failure
};

// Stable lower-case name of a code, e.g. "invalid_argument".
std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message)
      : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
  static Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
  static Status AlreadyExists(std::string m) { return {StatusCode::kAlreadyExists, std::move(m)}; }
  static Status FailedPrecondition(std::string m) { return {StatusCode::kFailedPrecondition, std::move(m)}; }
  static Status Unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
  static Status Corruption(std::string m) { return {StatusCode::kCorruption, std::move(m)}; }
  static Status IOError(std::string m) { return {StatusCode::kIOError, std::move(m)}; }
  static Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // "ok", or "<code name>: <message>".
  std::string ToString() const;

  // Returns a copy whose message is prefixed with `context` and ": ".
  Status WithContext(std::string_view context) const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

}  // namespace consentd

#endif  // CONSENTD_BASE_STATUS_H_
