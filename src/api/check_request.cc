#include "src/api/check_request.h"

#include <nlohmann/json.hpp>

#include "src/api/consent_codec.h"
#include "src/api/json_body.h"

namespace consentd::api {
namespace {

// The limits of the contract (check_request.h), shared by both decoders.
constexpr size_t kMaxPurposeBytes = 64;
constexpr size_t kMaxJurisdictionBytes = 64;

// A one-pass scanner of the plain bodies the fast decoder accepts. Every
// method returns false for anything outside that subset; the caller then
// gives up (and the generic decoder judges the body).
class Scanner {
 public:
  explicit Scanner(std::string_view s) : p_(s.data()), end_(s.data() + s.size()) {}

  void SkipSpace() {
    while (p_ < end_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t')) ++p_;
  }
  // Consumes `c` after optional white space.
  bool Eat(char c) {
    SkipSpace();
    if (p_ == end_ || *p_ != c) return false;
    ++p_;
    return true;
  }
  // True (and consumed) when the next token is `c`.
  bool Peek(char c) {
    SkipSpace();
    return p_ < end_ && *p_ == c;
  }
  // A string of printable ASCII without escapes, at most `max` bytes.
  bool String(std::string_view* out, size_t max) {
    if (!Eat('"')) return false;
    const char* start = p_;
    while (p_ < end_) {
      const unsigned char c = static_cast<unsigned char>(*p_);
      if (c == '"') break;
      if (c < 0x20 || c >= 0x7f || c == '\\') return false;
      ++p_;
    }
    if (p_ == end_) return false;
    *out = std::string_view(start, static_cast<size_t>(p_ - start));
    ++p_;  // the closing quote
    return out->size() <= max;
  }
  // The literal null.
  bool Null() {
    SkipSpace();
    if (end_ - p_ < 4 || std::string_view(p_, 4) != "null") return false;
    p_ += 4;
    return true;
  }
  bool AtEnd() {
    SkipSpace();
    return p_ == end_;
  }

 private:
  const char* p_;
  const char* const end_;
};

// An optional string member's value: a string, or null (absent).
bool OptionalString(Scanner& s, std::string_view* out, size_t max) {
  if (s.Peek('n')) return s.Null();
  return s.String(out, max);
}

// One identifier object: kind and value required, qualifier optional, each
// at most once, no other member, a known kind.
bool Identifier(Scanner& s, domain::Identifier* out, std::string_view* last_kind,
                std::optional<domain::IdentifierKind>* last_parsed) {
  if (!s.Eat('{')) return false;
  std::string_view kind, value, qualifier;
  bool has_kind = false, has_value = false, has_qualifier = false;
  if (!s.Peek('}')) {
    do {
      std::string_view key;
      if (!s.String(&key, 16) || !s.Eat(':')) return false;
      if (key == "kind" && !has_kind) {
        if (!s.String(&kind, 64)) return false;
        has_kind = true;
      } else if (key == "value" && !has_value) {
        if (!s.String(&value, 512)) return false;
        has_value = true;
      } else if (key == "qualifier" && !has_qualifier) {
        if (!OptionalString(s, &qualifier, 256)) return false;
        has_qualifier = true;
      } else {
        return false;
      }
    } while (s.Eat(','));
  }
  if (!s.Eat('}') || !has_kind || !has_value) return false;
  // Requests name one kind or a few: parse a kind only when it changes.
  if (!last_parsed->has_value() || kind != *last_kind) {
    Result<domain::IdentifierKind> k = domain::IdentifierKind::Parse(kind);
    if (!k.ok()) return false;
    *last_parsed = *k;
    *last_kind = kind;
  }
  out->kind = **last_parsed;
  out->value.assign(value);
  out->qualifier.assign(qualifier);
  return true;
}

}  // namespace

bool DecodeCheckRequestFast(std::string_view body, size_t max_identifiers, CheckRequest* out) {
  Scanner s(body);
  if (!s.Eat('{')) return false;
  std::string_view purpose, jurisdiction;
  bool has_purpose = false, has_jurisdiction = false, has_identifiers = false;
  out->identifiers.clear();
  if (!s.Peek('}')) {
    do {
      std::string_view key;
      if (!s.String(&key, 16) || !s.Eat(':')) return false;
      if (key == "purpose" && !has_purpose) {
        if (!s.String(&purpose, kMaxPurposeBytes)) return false;
        has_purpose = true;
      } else if (key == "jurisdiction" && !has_jurisdiction) {
        if (!OptionalString(s, &jurisdiction, kMaxJurisdictionBytes)) return false;
        has_jurisdiction = true;
      } else if (key == "identifiers" && !has_identifiers) {
        if (!s.Eat('[')) return false;
        std::string_view last_kind;
        std::optional<domain::IdentifierKind> last_parsed;
        if (!s.Peek(']')) {
          do {
            if (out->identifiers.size() == max_identifiers) return false;
            domain::Identifier& id =
                out->identifiers.emplace_back(domain::Identifier{domain::IdentifierKind::Email(), "", ""});
            if (!Identifier(s, &id, &last_kind, &last_parsed)) return false;
          } while (s.Eat(','));
        }
        if (!s.Eat(']')) return false;
        has_identifiers = true;
      } else {
        return false;
      }
    } while (s.Eat(','));
  }
  if (!s.Eat('}') || !s.AtEnd() || !has_purpose || !has_identifiers) return false;
  out->purpose.assign(purpose);
  out->jurisdiction.assign(jurisdiction);
  return true;
}

std::optional<http::Problem> DecodeCheckRequestGeneric(std::string_view body, size_t max_identifiers,
                                                       const std::function<bool(std::string_view)>& known_purpose,
                                                       CheckRequest* out) {
  nlohmann::json doc;
  if (auto p = ParseObject(body, &doc)) return p;
  BodyReader r(doc);
  out->purpose.clear();
  out->jurisdiction.clear();
  r.String("purpose", &out->purpose, true, kMaxPurposeBytes);
  r.String("jurisdiction", &out->jurisdiction, false, kMaxJurisdictionBytes);
  const nlohmann::json* ids = r.Array("identifiers", true, max_identifiers);
  r.RejectUnknown();
  if (!r.ok()) return r.problem();
  if (!known_purpose(out->purpose)) return http::Problem::BadRequest("/purpose: unknown purpose", "/purpose");
  out->identifiers.assign(ids->size(), domain::Identifier{domain::IdentifierKind::Email(), "", ""});
  for (size_t i = 0; i < ids->size(); ++i) {
    if (auto p = DecodeIdentifier((*ids)[i], "/identifiers/" + std::to_string(i), &out->identifiers[i])) return p;
  }
  return std::nullopt;
}

std::optional<http::Problem> DecodeCheckRequest(std::string_view body, size_t max_identifiers,
                                                const std::function<bool(std::string_view)>& known_purpose,
                                                CheckRequest* out) {
  if (DecodeCheckRequestFast(body, max_identifiers, out)) {
    if (!known_purpose(out->purpose)) return http::Problem::BadRequest("/purpose: unknown purpose", "/purpose");
    return std::nullopt;
  }
  return DecodeCheckRequestGeneric(body, max_identifiers, known_purpose, out);
}

}  // namespace consentd::api
