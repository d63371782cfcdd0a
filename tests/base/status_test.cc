#include <catch2/catch.hpp>

#include <memory>
#include <string>

#include "src/base/result.h"
#include "src/base/status.h"

namespace consentd {
namespace {

TEST_CASE("A default Status is OK and prints as ok", "[status]") {
  Status s;
  CHECK(s.ok());
  CHECK(s.code() == StatusCode::kOk);
  CHECK(s.ToString() == "ok");
  CHECK(Status::Ok().ok());
}

TEST_CASE("Each status factory sets its code and message", "[status]") {
  struct Row { Status s; StatusCode code; std::string_view name; };
  const Row rows[] = {
      {Status::InvalidArgument("m"), StatusCode::kInvalidArgument, "invalid_argument"},
      {Status::NotFound("m"), StatusCode::kNotFound, "not_found"},
      {Status::AlreadyExists("m"), StatusCode::kAlreadyExists, "already_exists"},
      {Status::FailedPrecondition("m"), StatusCode::kFailedPrecondition, "failed_precondition"},
      {Status::Unavailable("m"), StatusCode::kUnavailable, "unavailable"},
      {Status::Corruption("m"), StatusCode::kCorruption, "corruption"},
      {Status::IOError("m"), StatusCode::kIOError, "io_error"},
      {Status::Internal("m"), StatusCode::kInternal, "internal"},
  };
  for (const Row& r : rows) {
    CAPTURE(r.name);
    CHECK_FALSE(r.s.ok());
    CHECK(r.s.code() == r.code);
    CHECK(r.s.message() == "m");
    CHECK(StatusCodeName(r.code) == r.name);
    CHECK(r.s.ToString() == std::string(r.name) + ": m");
  }
  CHECK(StatusCodeName(StatusCode::kOk) == "ok");
}

TEST_CASE("WithContext prefixes the message of an error and keeps its code", "[status]") {
  Status s = Status::NotFound("seq 7").WithContext("read entry");
  CHECK(s.code() == StatusCode::kNotFound);
  CHECK(s.message() == "read entry: seq 7");
}

TEST_CASE("WithContext leaves an OK status OK and without a message", "[status]") {
  Status s = Status::Ok().WithContext("anything");
  CHECK(s.ok());
  CHECK(s.message().empty());
}

TEST_CASE("A Result holding a value is OK and gives the value back", "[result]") {
  Result<std::string> r(std::string("hello"));
  REQUIRE(r.ok());
  CHECK(r.status().ok());
  CHECK(*r == "hello");
  CHECK(r->size() == 5);
  std::string moved = std::move(r).value();
  CHECK(moved == "hello");
}

TEST_CASE("A Result holding an error reports that error", "[result]") {
  Result<int> r = Status::Corruption("bad hash");
  CHECK_FALSE(r.ok());
  CHECK(r.status().code() == StatusCode::kCorruption);
  CHECK(r.status().message() == "bad hash");
}

TEST_CASE("A Result built from an OK status becomes an internal error", "[result]") {
  Result<int> r = Status::Ok();
  CHECK_FALSE(r.ok());
  CHECK(r.status().code() == StatusCode::kInternal);
}

TEST_CASE("A Result can hold a move-only value", "[result]") {
  Result<std::unique_ptr<int>> r(std::make_unique<int>(5));
  REQUIRE(r.ok());
  std::unique_ptr<int> p = std::move(r).value();
  CHECK(*p == 5);
}

}  // namespace
}  // namespace consentd
