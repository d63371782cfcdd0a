// docs/erasure.md prints the transition table of the code: the test parses
// the doc's table and compares it, row by row, with Transitions().
#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

#include "src/erasure/request_state.h"

namespace consentd::erasure {
namespace {

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '`')) s.pop_back();
  size_t i = 0;
  while (i < s.size() && (s[i] == ' ' || s[i] == '`')) ++i;
  return s.substr(i);
}

TEST_CASE("docs/erasure.md's transition table is the code's", "[erasure][docs]") {
  std::ifstream in(std::string(CONSENTD_SOURCE_DIR) + "/docs/erasure.md");
  REQUIRE(in.good());
  std::string line;
  bool inside = false;
  std::vector<std::string> doc_rows;
  while (std::getline(in, line)) {
    if (line.find("<!-- transitions:begin -->") != std::string::npos) inside = true;
    if (line.find("<!-- transitions:end -->") != std::string::npos) inside = false;
    if (!inside || line.rfind("| ", 0) != 0 || line.find("---") != std::string::npos) continue;
    std::vector<std::string> cells;
    std::stringstream ss(line.substr(1));
    std::string cell;
    while (std::getline(ss, cell, '|')) cells.push_back(Trim(cell));
    if (cells.size() < 3 || cells[0] == "From") continue;
    doc_rows.push_back(cells[0] + " -> " + cells[1] + " : " + cells[2]);
  }
  std::vector<std::string> code_rows;
  for (const Transition& t : Transitions()) {
    code_rows.push_back(std::string(t.from ? StateName(*t.from) : "(new)") + " -> " + std::string(StateName(t.to)) +
                        " : " + std::string(t.entry_kind));
  }
  CHECK(doc_rows == code_rows);
}

}  // namespace
}  // namespace consentd::erasure
