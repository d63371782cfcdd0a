#include "tests/erasure/canary_scan.h"

#include <filesystem>
#include <fstream>
#include <iterator>

#include "src/base/bytes.h"

namespace consentd::erasure::testing {
namespace {

std::string ReadAll(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}
std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}
std::string Upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}
std::string Utf16(const std::string& s, bool big_endian) {
  std::string out;
  for (char c : s) {
    if (big_endian) out += '\0';
    out += c;
    if (!big_endian) out += '\0';
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> Encodings(const std::string& value) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const std::string& v : {value, Lower(value), Upper(value)}) {
    out.push_back({"plain", v});
    out.push_back({"utf-16le", Utf16(v, false)});
    out.push_back({"utf-16be", Utf16(v, true)});
    out.push_back({"hex", HexEncode(AsBytes(v))});
    out.push_back({"HEX", Upper(HexEncode(AsBytes(v)))});
    for (size_t shift = 0; shift < 3; ++shift) {
      std::string b64 = Base64Encode(AsBytes(std::string(shift, 'x') + v));
      size_t skip = shift == 0 ? 0 : (shift == 1 ? 2 : 3);
      std::string core = b64.substr(skip);
      while (!core.empty() && core.back() == '=') core.pop_back();
      if (core.size() > 4) core.resize(core.size() - 2);
      out.push_back({"base64/" + std::to_string(shift), core});
    }
  }
  return out;
}

}  // namespace

std::vector<std::string> ScanForValue(const std::string& dir, const std::string& value) {
  std::vector<std::string> hits;
  std::vector<std::pair<std::string, std::string>> enc = Encodings(value);
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    std::string content = ReadAll(entry.path());
    for (const auto& [label, needle] : enc) {
      if (content.find(needle) != std::string::npos) hits.push_back(entry.path().filename().string() + " (" + label + ")");
    }
  }
  return hits;
}

}  // namespace consentd::erasure::testing
