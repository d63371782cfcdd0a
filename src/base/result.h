// Result<T>: a T on success, a non-OK Status otherwise (the shape of
// absl::StatusOr). Check ok() on the next line; value() on an error aborts,
// because that is a bug in the caller, not a runtime condition.
//
// Thread-safety: a value type, like Status.
#ifndef CONSENTD_BASE_RESULT_H_
#define CONSENTD_BASE_RESULT_H_

#include <cstdlib>
#include <utility>
#include <variant>

#include "src/base/status.h"

namespace consentd {

template <typename T>
class [[nodiscard]] Result {
 public:
  // REQUIRES: !status.ok(). An OK status without a value is a bug and is
  // turned into kInternal so that it cannot be mistaken for success.
  Result(Status status) : v_(std::move(status)) {  // NOLINT: implicit by design
    if (std::get<Status>(v_).ok()) v_ = Status::Internal("Result built from OK status without a value");
  }
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design

  bool ok() const { return std::holds_alternative<T>(v_); }

  // OK when a value is held.
  Status status() const { return ok() ? Status::Ok() : std::get<Status>(v_); }

  // REQUIRES: ok().
  T& value() & { Check(); return std::get<T>(v_); }
  const T& value() const& { Check(); return std::get<T>(v_); }
  T&& value() && { Check(); return std::move(std::get<T>(v_)); }

  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  void Check() const {
    if (!ok()) std::abort();
  }
  std::variant<T, Status> v_;
};

}  // namespace consentd

#endif  // CONSENTD_BASE_RESULT_H_
