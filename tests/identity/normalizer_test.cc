// Normalization tables: valid, borderline and invalid identifiers of every
// kind, from several countries.
#include <catch2/catch.hpp>

#include <string>

#include "src/identity/email.h"
#include "src/identity/external_id.h"
#include "src/identity/normalizer.h"
#include "src/identity/phone.h"

namespace consentd::identity {
namespace {

using domain::Identifier;
using domain::IdentifierKind;
using domain::IdentityRules;

struct Valid {
  const char* input;
  const char* canonical;
};
struct Invalid {
  const char* input;
  const char* reason;  // a substring of the error message
};

TEST_CASE("Email normalization trims, applies NFC and lower-cases the whole address", "[identity][email]") {
  const Valid kValid[] = {
      {"alice@example.com", "alice@example.com"},
      {"  Alice@Example.COM \t\n", "alice@example.com"},
      {"ALICE.SMITH+News@Example.co.uk", "alice.smith+news@example.co.uk"},
      {"o'brien@example.ie", "o'brien@example.ie"},
      {"x@sub.domain.example.de", "x@sub.domain.example.de"},
      {"user_1-2{3}@a-b.example.fr", "user_1-2{3}@a-b.example.fr"},
      // NFC: "e" + combining acute becomes one code point.
      {"Jose\xCC\x81@example.com", "jos\xC3\xA9@example.com"},
      // Unicode local part and IDN domain, as U-label and as A-label.
      {"\xE7\x94\xA8\xE6\x88\xB7@\xE4\xBE\x8B\xE5\xAD\x90.jp", "\xE7\x94\xA8\xE6\x88\xB7@\xE4\xBE\x8B\xE5\xAD\x90.jp"},
      {"kunde@B\xC3\x9C" "CHER.de", "kunde@b\xC3\xBC" "cher.de"},
      {"kunde@xn--bcher-kva.de", "kunde@b\xC3\xBC" "cher.de"},
      // Greek capital sigma lower-cases (root locale, full mapping).
      {"\xCE\xA3\xCE\xA9@example.gr", "\xCF\x83\xCF\x89@example.gr"},
      {"a@b.co", "a@b.co"},
      {"priya.sharma@example.in", "priya.sharma@example.in"},
      {"joao.silva@exemplo.com.br", "joao.silva@exemplo.com.br"},
  };
  for (const Valid& v : kValid) {
    INFO("input #" << (&v - kValid));
    Result<std::string> got = NormalizeEmail(v.input);
    REQUIRE(got.ok());
    CHECK(*got == v.canonical);
  }
}

TEST_CASE("Email normalization rejects invalid addresses with a reason and without echoing them",
          "[identity][email]") {
  const Invalid kInvalid[] = {
      {"", "empty"},
      {"   ", "empty"},
      {"alice.example.com", "missing '@'"},
      {"alice@@example.com", "more than one '@'"},
      {"a@b@example.com", "more than one '@'"},
      {"@example.com", "empty local part"},
      {"alice@", "empty domain"},
      {".alice@example.com", "starts with a dot"},
      {"alice.@example.com", "ends with a dot"},
      {"al..ice@example.com", "consecutive dots"},
      {"\"alice smith\"@example.com", "quoted"},
      {"alice smith@example.com", "whitespace"},
      {"alice(comment)@example.com", "comments"},
      {"alice@localhost", "no dot"},
      {"alice@[192.0.2.1]", "IP-literal"},
      {"alice@192.0.2.1", "numeric"},
      {"alice@example.com.", "ends with a dot"},
      {"alice@exa_mple.com", "not allowed in domain"},
      {"alice@-example.com", "hyphen"},
      {"alice@example..com", "empty label"},
      {"alice\x01@example.com", "control character"},
      {"alice,bob@example.com", "not allowed in local part"},
      {"alice@\xFF\xFE.com", "UTF-8"},
      {"\xC3\x28@example.com", "UTF-8"},
  };
  for (const Invalid& v : kInvalid) {
    INFO("input #" << (&v - kInvalid));
    Result<std::string> got = NormalizeEmail(v.input);
    REQUIRE_FALSE(got.ok());
    CHECK(got.status().code() == StatusCode::kInvalidArgument);
    CHECK_THAT(got.status().message(), Catch::Contains(v.reason));
    CHECK_THAT(got.status().message(), Catch::StartsWith("email: "));
    if (std::string(v.input).size() > 3) {
      CHECK(got.status().message().find(v.input) == std::string::npos);
    }
  }
}

TEST_CASE("The ASCII fast path of email normalization agrees with ICU on every address", "[identity][email]") {
  // Hand-picked edge cases of the fast path's domain rule, then 200,000
  // random printable-ASCII addresses built from pieces that hit every rule.
  std::vector<std::string> cases = {
      "Alice@Example.COM", "a@b.co", "a@xn--bcher-kva.de", "a@ab--cd.com", "a@a-.com", "a@-a.com", "a@a..com",
      "a@.com", "a@com.", "a@123.456", "a@1.2.3.4", "a@[1.2.3.4]", "a@exa_mple.com", "a@x.123",
      "a@" + std::string(63, 'x') + ".com", "a@" + std::string(64, 'x') + ".com",
      "a@" + std::string(60, 'a') + "." + std::string(60, 'b') + "." + std::string(60, 'c') + "." +
          std::string(62, 'd') + ".com",
      "\"quoted\"@x.com", "a(comment)@x.com", "a@@x.com", "@x.com", "a@", "A+Tag@X.Org", "o'hara@x.ie",
      "  padded@x.com\t", "a.b@x.com", ".a@x.com", "a.@x.com", "a..b@x.com", "a@XN--BCHER-KVA.DE", "a@x.c-m"};
  const std::vector<std::string> local_pieces = {"a", "B", "z9", ".", "+", "-", "_", "!", "\"", "(", ")", "~",
                                                 "..", "%", "'", "Zz", "@", "x"};
  const std::vector<std::string> domain_pieces = {"a", "B", "0", "9", "-", "--", ".", "..", "xn--", "XN--",
                                                  "_", "com", "ORG", "c0m", "[", "]", "123", "@", "z"};
  uint64_t state = 0x9e3779b97f4a7c15ULL;
  auto next = [&state](size_t n) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return static_cast<size_t>(state % n);
  };
  // Mostly well-formed: labels of the fast path's edge cases joined by dots.
  const std::vector<std::string> labels = {"a", "B0", "shop", "xn--bcher-kva", "xn--zz", "ab--c", "-a", "a-", "a-b",
                                           std::string(63, 'x'), std::string(64, 'y'), "C0M", "9", "_x", ""};
  const std::vector<std::string> tlds = {"com", "De", "123", "c-m", "xn--p1ai", "1a"};
  for (int i = 0; i < 200000; ++i) {
    std::string a;
    if (i % 2 == 0) {
      for (size_t k = 0, n = 1 + next(4); k < n; ++k) a += (k ? "." : "") + local_pieces[next(6) == 0 ? 1 : 0];
      a += "@";
      for (size_t k = 0, n = 1 + next(3); k < n; ++k) a += labels[next(labels.size())] + ".";
      a += tlds[next(tlds.size())];
      cases.push_back(std::move(a));
      continue;
    }
    for (size_t k = 0, n = 1 + next(4); k < n; ++k) a += local_pieces[next(local_pieces.size())];
    a += "@";
    for (size_t k = 0, n = 1 + next(6); k < n; ++k) a += domain_pieces[next(domain_pieces.size())];
    if (next(3) != 0) a += next(2) ? ".com" : ".De";
    if (next(50) == 0) a = std::string(next(3) + 1, ' ') + a;
    if (next(200) == 0) a += std::string(70 + next(200), 'q') + ".net";
    cases.push_back(std::move(a));
  }
  int ok = 0, rejected = 0, disagreements = 0;
  for (const std::string& c : cases) {
    Result<std::string> fast = NormalizeEmail(c);
    Result<std::string> icu = NormalizeEmailThroughIcu(c);
    bool same = fast.ok() == icu.ok() && (fast.ok() ? *fast == *icu : fast.status().message() == icu.status().message());
    if (!same) {
      ++disagreements;
      UNSCOPED_INFO("case #" << (&c - cases.data()));
    }
    (fast.ok() ? ok : rejected)++;
  }
  CHECK(disagreements == 0);
  // The generator reaches both outcomes in quantity.
  CHECK(ok > 20000);
  CHECK(rejected > 40000);
}

TEST_CASE("Email length limits are 64 bytes for the local part and 254 for the address", "[identity][email]") {
  std::string local64(64, 'a');
  CHECK(NormalizeEmail(local64 + "@example.com").ok());
  Result<std::string> too_long_local = NormalizeEmail(local64 + "a@example.com");
  REQUIRE_FALSE(too_long_local.ok());
  CHECK_THAT(too_long_local.status().message(), Catch::Contains("64 bytes"));
  std::string label63(63, 'b');
  std::string domain = label63 + "." + label63 + "." + label63 + ".example";  // 199 bytes
  CHECK(NormalizeEmail(std::string(54, 'c') + "@" + domain).ok());              // 254 bytes
  CHECK_FALSE(NormalizeEmail(std::string(55, 'c') + "@" + domain).ok());        // 255 bytes
  CHECK_FALSE(NormalizeEmail("a@" + std::string(64, 'd') + ".com").ok());
}

TEST_CASE("Plus-tag base strips the tag only when something remains before it", "[identity][email]") {
  CHECK(EmailWithoutPlusTag("alice+news@example.com") == std::optional<std::string>("alice@example.com"));
  CHECK(EmailWithoutPlusTag("alice+a+b@example.com") == std::optional<std::string>("alice@example.com"));
  CHECK(EmailWithoutPlusTag("alice@example.com") == std::nullopt);
  CHECK(EmailWithoutPlusTag("+news@example.com") == std::nullopt);
}

struct PhoneCase {
  const char* input;
  const char* region;
  const char* e164;
};

TEST_CASE("Phone numbers from several countries normalize to E.164", "[identity][phone]") {
  const PhoneCase kValid[] = {
      // US / CA (NANP)
      {"+1 201-555-0123", "", "+12015550123"},
      {"(201) 555-0123", "US", "+12015550123"},
      {"201.555.0123", "US", "+12015550123"},
      {"1 201 555 0123", "US", "+12015550123"},
      {"011 44 20 7946 0958", "US", "+442079460958"},
      // UK, including the "(0)" trunk prefix people write after +44
      {"+44 20 7946 0958", "", "+442079460958"},
      {"020 7946 0958", "GB", "+442079460958"},
      {"+44 (0)20 7946 0958", "", "+442079460958"},
      {"07400 123456", "GB", "+447400123456"},
      {"0044 7400 123456", "GB", "+447400123456"},
      // Germany
      {"+49 30 12345678", "", "+493012345678"},
      {"030 12345678", "DE", "+493012345678"},
      {"+49 1512 3456789", "", "+4915123456789"},
      // France
      {"+33 1 23 45 67 89", "", "+33123456789"},
      {"01 23 45 67 89", "FR", "+33123456789"},
      {"06 12 34 56 78", "FR", "+33612345678"},
      // India
      {"+91 98765 43210", "", "+919876543210"},
      {"098765 43210", "IN", "+919876543210"},
      // Brazil
      {"+55 11 91234-5678", "", "+5511912345678"},
      {"(11) 91234-5678", "BR", "+5511912345678"},
      // Japan
      {"+81 3-1234-5678", "", "+81312345678"},
      {"03-1234-5678", "JP", "+81312345678"},
      {"090-1234-5678", "JP", "+819012345678"},
      // A number with its own country code ignores the default region.
      {"+33 1 23 45 67 89", "US", "+33123456789"},
      {"  +1 (201) 555 0123  ", "", "+12015550123"},
  };
  for (const PhoneCase& c : kValid) {
    INFO("case #" << (&c - kValid) << " region " << c.region);
    Result<std::string> got = NormalizePhone(c.input, c.region);
    if (!got.ok()) FAIL(got.status().ToString());
    CHECK(*got == c.e164);
  }
}

TEST_CASE("Phone normalization rejects invalid numbers with a reason", "[identity][phone]") {
  struct Bad {
    const char* input;
    const char* region;
    const char* reason;
  };
  const Bad kInvalid[] = {
      {"", "US", "empty"},
      {"   ", "US", "empty"},
      {"020 7946 0958", "", "no country code"},
      {"+1 201 555 01", "", "too short"},          // too few digits for NANP
      {"+44 20 7946 09581234", "", "too long"},
      {"+999 1234 5678", "", "country code"},
      {"1-800-FLOWERS", "US", "letters"},
      {"+1 201 555 0123 ext. 12", "", "letters"},
      {"+1 201 555 0123;ext=12", "", "extensions"},
      {"+1 (101) 555-0123", "", "valid"},          // NANP area codes never start with 1
      {"12", "DE", "valid"},
      {"+-", "", "no digits"},
      {"+33 1 23 45 67 89", "XX", "unknown"},
      {"+4930\xC2\xA0" "12345678", "", "non-ASCII"},
  };
  for (const Bad& c : kInvalid) {
    INFO("case #" << (&c - kInvalid));
    Result<std::string> got = NormalizePhone(c.input, c.region);
    REQUIRE_FALSE(got.ok());
    CHECK(got.status().code() == StatusCode::kInvalidArgument);
    CHECK_THAT(got.status().message(), Catch::Contains(c.reason));
    CHECK_THAT(got.status().message(), Catch::StartsWith("phone: "));
  }
}

struct ExternalCase {
  const char* kind;
  const char* value;
  const char* qualifier;
  const char* canonical_value;
  const char* canonical_qualifier;
};

TEST_CASE("System ids are trimmed, checked per system and qualified where needed", "[identity][external]") {
  const ExternalCase kValid[] = {
      {"shopify_customer", " 207119551 ", "Example.myshopify.com", "207119551", "example.myshopify.com"},
      {"shopify_customer", "gid://shopify/Customer/207119551", "example.myshopify.com", "207119551",
       "example.myshopify.com"},
      {"shopify_customer", "000207119551", "example.myshopify.com", "207119551", "example.myshopify.com"},
      {"woocommerce_customer", "25", "https://Shop.Example.com/", "25", "shop.example.com"},
      {"woocommerce_customer", "25", "http://example.com:8080/store/", "25", "example.com:8080/store"},
      {"hubspot_contact", "51", "", "51", ""},
      {"salesforce_contact", "003D000000QV9n2", "", "003D000000QV9n2IAD", ""},
      {"salesforce_contact", "003D000000QV9n2IAD", "", "003D000000QV9n2IAD", ""},
      {"salesforce_contact", "003D000000QV9n2iad", "", "003D000000QV9n2IAD", ""},
      {"salesforce_lead", "00QD000000QV9n2", "", "00QD000000QV9n2MAD", ""},
      {"klaviyo_profile", "01GDDKASAP8TKDDA2GRZDSVP4H", "", "01GDDKASAP8TKDDA2GRZDSVP4H", ""},
      {"mailchimp_member", "62EEB292278CC15F5817CB78F7790B08", "A1B2C3D4E5", "62eeb292278cc15f5817cb78f7790b08",
       "a1b2c3d4e5"},
      {"custom:loyalty_id", "  LY-0042  ", "", "LY-0042", ""},
      {"custom:member_name", "J\xC3\xBCrgen-\xE2\x82\xAC-\xF0\x9F\x98\x80", "", "J\xC3\xBCrgen-\xE2\x82\xAC-\xF0\x9F\x98\x80", ""},
  };
  IdentityRules rules;
  for (const ExternalCase& c : kValid) {
    INFO("case #" << (&c - kValid) << " kind " << c.kind);
    Result<IdentifierKind> kind = IdentifierKind::Parse(c.kind);
    REQUIRE(kind.ok());
    Result<domain::NormalizedIdentifier> got = Normalize(Identifier{*kind, c.value, c.qualifier}, rules);
    if (!got.ok()) FAIL(got.status().ToString());
    CHECK(got->value == c.canonical_value);
    CHECK(got->qualifier == c.canonical_qualifier);
  }
}

TEST_CASE("Invalid system ids and qualifiers are rejected naming the kind", "[identity][external]") {
  struct Bad {
    const char* kind;
    const char* value;
    const char* qualifier;
    const char* reason;
  };
  const Bad kInvalid[] = {
      {"shopify_customer", "207119551", "", "qualifier is required"},
      {"shopify_customer", "207119551", "localhost", "no dot"},
      {"shopify_customer", "207119551", "exa mple.myshopify.com", "character"},
      {"shopify_customer", "abc", "example.myshopify.com", "decimal"},
      {"shopify_customer", "0", "example.myshopify.com", "greater than zero"},
      {"shopify_customer", "", "example.myshopify.com", "empty"},
      {"woocommerce_customer", "25", "https://shop.example.com:80x/", "port"},
      {"woocommerce_customer", "25", "https://shop.example.com/a b", "character"},
      {"hubspot_contact", "51", "portal", "takes no qualifier"},
      {"hubspot_contact", "5 1", "", "decimal"},
      {"hubspot_contact", "123456789012345678901", "", "20 digits"},
      {"salesforce_contact", "00QD000000QV9n2", "", "key prefix 003"},
      {"salesforce_lead", "003D000000QV9n2", "", "key prefix 00Q"},
      {"salesforce_contact", "003D000000QV9n2AAA", "", "checksum"},
      {"salesforce_contact", "003D000000QV9n", "", "15 or 18"},
      {"salesforce_contact", "003D000000QV9n2!", "", "15 or 18"},
      {"klaviyo_profile", "01GDDKASAP8TKDDA2GRZDSVP4H!", "", "alphanumeric"},
      {"mailchimp_member", "62eeb292278cc15f5817cb78f7790b0", "a1b2c3d4e5", "32 hexadecimal"},
      {"mailchimp_member", "62eeb292278cc15f5817cb78f7790b08", "list-1", "alphanumeric"},
      {"custom:loyalty_id", "   ", "", "empty"},
      {"custom:loyalty_id", "a\nb", "", "control"},
      {"custom:loyalty_id", "caf\xC3", "", "UTF-8"},
      {"custom:loyalty_id", "\xC0\xAF", "", "UTF-8"},
      {"custom:loyalty_id", "\xED\xA0\x80", "", "UTF-8"},
      {"email", "alice@example.com", "x", "takes no qualifier"},
  };
  IdentityRules rules;
  for (const Bad& c : kInvalid) {
    INFO("case #" << (&c - kInvalid) << " kind " << c.kind);
    Result<IdentifierKind> kind = IdentifierKind::Parse(c.kind);
    REQUIRE(kind.ok());
    Result<domain::NormalizedIdentifier> got = Normalize(Identifier{*kind, c.value, c.qualifier}, rules);
    REQUIRE_FALSE(got.ok());
    CHECK(got.status().code() == StatusCode::kInvalidArgument);
    CHECK_THAT(got.status().message(), Catch::StartsWith(std::string(c.kind) + ": "));
    CHECK_THAT(got.status().message(), Catch::Contains(c.reason));
  }
}

TEST_CASE("Salesforce 18-character ids carry the case-encoding checksum", "[identity][external]") {
  CHECK(SalesforceId18("001A0000006Vm9r") == "001A0000006Vm9rIAC");
  CHECK(SalesforceId18("003000000000000") == "003000000000000AAA");
}

TEST_CASE("Normalize uses the default phone region of the rules", "[identity]") {
  IdentityRules rules;
  rules.default_phone_region = "GB";
  Result<domain::NormalizedIdentifier> got = Normalize(Identifier{IdentifierKind::Phone(), "020 7946 0958", ""}, rules);
  REQUIRE(got.ok());
  CHECK(got->value == "+442079460958");
  CHECK(got->BlindIndexInput() == "phone:+442079460958");
  rules.default_phone_region = "";
  CHECK_FALSE(Normalize(Identifier{IdentifierKind::Phone(), "020 7946 0958", ""}, rules).ok());
}

TEST_CASE("Blind-index input separates kind, qualifier and value unambiguously", "[identity]") {
  domain::NormalizedIdentifier shop{domain::IdentifierKind(domain::IdentifierType::kShopifyCustomer),
                                    "example.myshopify.com", "42"};
  CHECK(shop.BlindIndexInput() == "shopify_customer:example.myshopify.com 42");
  Result<IdentifierKind> custom = IdentifierKind::Custom("crm_id");
  REQUIRE(custom.ok());
  domain::NormalizedIdentifier c{*custom, "", "a:b"};
  CHECK(c.BlindIndexInput() == "custom:crm_id:a:b");
}

}  // namespace
}  // namespace consentd::identity
