// Keeps docs/policies.md honest: every JSON example in it is well-formed,
// and every section and option example, put into the shipped default policy,
// gives a valid policy.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "policies/loader.h"
#include "policies/system.h"
#include "tests/policies/test_util.h"

namespace consentd::policies {
namespace {

using json = nlohmann::json;

struct Example {
  std::string label;  // the `word` on the line before the block, if any
  std::string text;
};

std::vector<Example> JsonExamples() {
  std::string doc = testing::ReadFile(std::string(CONSENTD_SOURCE_DIR) + "/docs/policies.md");
  std::vector<Example> out;
  size_t pos = 0;
  const std::string open = "```json\n";
  while ((pos = doc.find(open, pos)) != std::string::npos) {
    size_t start = pos + open.size();
    size_t end = doc.find("```", start);
    if (end == std::string::npos) break;
    Example e;
    e.text = doc.substr(start, end - start);
    size_t line_end = pos == 0 ? 0 : pos - 1;
    size_t line_start = doc.rfind('\n', line_end == 0 ? 0 : line_end - 1);
    std::string prev = doc.substr(line_start + 1, line_end - line_start - 1);
    if (prev.size() > 2 && prev.front() == '`' && prev.back() == '`') e.label = prev.substr(1, prev.size() - 2);
    out.push_back(e);
    pos = end + 3;
  }
  return out;
}

// A fragment `"key": {...}` becomes `{"key": {...}}`.
json ParseExample(const std::string& text) {
  std::string t = text;
  if (t.find_first_not_of(" \n") != std::string::npos && t[t.find_first_not_of(" \n")] == '"') t = "{" + t + "}";
  return json::parse(t, nullptr, false);
}

LoadResult Validate(const json& doc) {
  std::vector<PolicyDocument> docs = {{"docs-example.json", doc.dump(2)}};
  return ParsePolicyDocuments(docs);
}

json DefaultPolicy() { return json::parse(testing::ReadFile(testing::DefaultPolicyPath())); }

TEST_CASE("Every JSON example in docs/policies.md is well-formed", "[policies][docs]") {
  std::vector<Example> examples = JsonExamples();
  CHECK(examples.size() >= 12);
  for (const Example& e : examples) {
    INFO(e.text);
    CHECK_FALSE(ParseExample(e.text).is_discarded());
  }
}

TEST_CASE("Every section example in docs/policies.md makes a valid policy with the default one",
          "[policies][docs]") {
  int sections = 0;
  for (const Example& e : JsonExamples()) {
    json fragment = ParseExample(e.text);
    if (fragment.is_discarded() || !fragment.is_object() || fragment.size() != 1) continue;
    const std::string section = fragment.begin().key();
    if (section != "purposes" && section != "systems" && section != "identity" && section != "jurisdictions" &&
        section != "tombstones") {
      continue;
    }
    ++sections;
    json doc = DefaultPolicy();
    if (section == "identity" || section == "tombstones") {
      doc[section] = fragment[section];
    } else {
      for (const auto& [key, value] : fragment[section].items()) doc[section][key] = value;
    }
    LoadResult r = Validate(doc);
    INFO(section << "\n" << FormatErrors(r.errors));
    CHECK(r.ok());
  }
  CHECK(sections == 6);  // purposes, systems, identity, jurisdictions, tombstones (twice)
}

TEST_CASE("Every per-kind options example in docs/policies.md is valid for its kind", "[policies][docs]") {
  int kinds = 0;
  for (const Example& e : JsonExamples()) {
    std::optional<SystemKind> kind = ParseSystemKind(e.label);
    if (!kind) continue;
    ++kinds;
    json fragment = ParseExample(e.text);
    REQUIRE(fragment.contains("options"));
    json credentials = json::object();
    for (std::string_view name : SpecFor(*kind).required_credentials) {
      credentials[std::string(name)] = "example/" + std::string(name);
    }
    json doc = DefaultPolicy();
    doc["systems"]["example"] = {{"kind", e.label},
                                 {"base_url", "https://example.com"},
                                 {"credentials", credentials},
                                 {"receives", {"email_marketing", "sms_marketing"}},
                                 {"options", fragment["options"]}};
    LoadResult r = Validate(doc);
    INFO(e.label << "\n" << FormatErrors(r.errors));
    CHECK(r.ok());
  }
  CHECK(kinds == 7);
}

}  // namespace
}  // namespace consentd::policies
