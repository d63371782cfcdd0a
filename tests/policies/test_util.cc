#include "tests/policies/test_util.h"

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

namespace consentd::policies::testing {

std::string Fixture(const std::string& relative) {
  return std::string(CONSENTD_SOURCE_DIR) + "/tests/testdata/policies/" + relative;
}

std::string DefaultPolicyPath() { return std::string(CONSENTD_SOURCE_DIR) + "/policies/default.json"; }

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TempDir::TempDir() {
  std::random_device rd;
  auto base = std::filesystem::temp_directory_path();
  for (;;) {
    auto p = base / ("consentd-policies-" + std::to_string(rd()));
    std::error_code ec;
    if (std::filesystem::create_directory(p, ec)) {
      path_ = p.string();
      return;
    }
  }
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string TempDir::Write(const std::string& name, const std::string& bytes) const {
  std::string p = path_ + "/" + name;
  std::ofstream out(p, std::ios::binary);
  out << bytes;
  return p;
}

LoadResult ParseOne(const std::string& bytes) {
  std::vector<PolicyDocument> docs = {{"test.json", bytes}};
  return ParsePolicyDocuments(docs);
}

std::string MinimalDocument() {
  return R"({
  "format": "consentd.policy/v1",
  "purposes": {
    "email_marketing": {"channel": "email", "legal_basis": "consent", "default": "denied"}
  },
  "systems": {
    "shop": {
      "kind": "shopify",
      "credentials": {"access_token": "shop/access_token"},
      "receives": ["email_marketing"],
      "options": {"shop_domain": "example.myshopify.com"}
    }
  }
}
)";
}

bool HasError(const std::vector<PolicyError>& errors, const std::string& file, const std::string& pointer,
              const std::string& fragment) {
  for (const PolicyError& e : errors) {
    if ((file.empty() || e.file == file) && e.pointer == pointer && e.message.find(fragment) != std::string::npos) {
      return true;
    }
  }
  return false;
}

}  // namespace consentd::policies::testing
