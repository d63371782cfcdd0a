// Helpers for the policies tests: fixture paths, writing documents to a
// temporary directory, and loading documents from strings.
#ifndef CONSENTD_TESTS_POLICIES_TEST_UTIL_H_
#define CONSENTD_TESTS_POLICIES_TEST_UTIL_H_

#include <string>
#include <vector>

#include "policies/loader.h"

namespace consentd::policies::testing {

// <repo>/tests/testdata/policies/<relative>.
std::string Fixture(const std::string& relative);
// <repo>/policies/default.json.
std::string DefaultPolicyPath();

std::string ReadFile(const std::string& path);

// A fresh directory under the system temp dir, removed at destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  // Writes `bytes` to path()/name and returns the full path.
  std::string Write(const std::string& name, const std::string& bytes) const;

 private:
  std::string path_;
};

// Parses one in-memory document named "test.json".
LoadResult ParseOne(const std::string& bytes);

// A minimal valid document (one purpose "email_marketing", one Shopify
// system "shop"), to which tests add pieces.
std::string MinimalDocument();

// True if some error has this file (unless empty), pointer and a message
// containing `fragment`.
bool HasError(const std::vector<PolicyError>& errors, const std::string& file, const std::string& pointer,
              const std::string& fragment);

}  // namespace consentd::policies::testing

#endif  // CONSENTD_TESTS_POLICIES_TEST_UTIL_H_
