#include "policies/document_parser.h"

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <set>
#include <utility>

#include <nlohmann/json.hpp>

#include "policies/base_url.h"
#include "policies/credential_ref.h"
#include "policies/iso3166.h"
#include "policies/json_scan.h"
#include "policies/text.h"
#include "src/domain/identifier_kind.h"

namespace consentd::policies {
namespace {

using json = nlohmann::json;
using text::Quote;

std::string Join(std::initializer_list<std::string_view> names) {
  std::string out;
  for (std::string_view n : names) {
    if (!out.empty()) out += ", ";
    out += n;
  }
  return out;
}

std::string Join(const std::vector<std::string_view>& names) {
  std::string out;
  for (std::string_view n : names) {
    if (!out.empty()) out += ", ";
    out += n;
  }
  return out;
}

std::string TypeName(const json& v) {
  switch (v.type()) {
    case json::value_t::null: return "null";
    case json::value_t::object: return "an object";
    case json::value_t::array: return "an array";
    case json::value_t::string: return "a string";
    case json::value_t::boolean: return "a boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned: return "an integer";
    case json::value_t::number_float: return "a number";
    default: return "an unsupported value";
  }
}

// Reads one document, reporting problems against `file_`. Every accessor
// checks the JSON type before reading, so nothing here throws on bad input.
class Parser {
 public:
  Parser(const std::string& file, std::vector<PolicyError>* errors) : file_(file), errors_(errors) {}

  void Error(const std::string& pointer, std::string message) {
    errors_->push_back(PolicyError{file_, pointer, std::move(message), 0, 0});
  }

  // True if `v` is an object; reports every member not in `allowed`.
  bool Object(const json& v, const std::string& ptr, std::initializer_list<std::string_view> allowed) {
    if (!v.is_object()) {
      Error(ptr, "must be an object, not " + TypeName(v));
      return false;
    }
    for (const auto& [key, value] : v.items()) {
      (void)value;
      if (std::find(allowed.begin(), allowed.end(), key) != allowed.end()) continue;
      std::vector<std::string> names(allowed.begin(), allowed.end());
      std::string hint = ClosestMatch(key, names);
      Error(JsonPointerChild(ptr, key),
            "unknown field " + Quote(key) +
                (hint.empty() ? " (expected one of: " + Join(allowed) + ")" : " (did you mean " + Quote(hint) + "?)"));
    }
    return true;
  }

  // A map object: any keys, reported by the caller. False (and reported)
  // if not an object.
  bool Map(const json& v, const std::string& ptr) {
    if (v.is_object()) return true;
    Error(ptr, "must be an object, not " + TypeName(v));
    return false;
  }

  const json* Member(const json& obj, std::string_view key) {
    auto it = obj.find(key);
    return it == obj.end() ? nullptr : &*it;
  }

  const json* Required(const json& obj, std::string_view key, const std::string& ptr) {
    const json* m = Member(obj, key);
    if (m == nullptr) Error(ptr, "missing required field " + Quote(key));
    return m;
  }

  std::optional<std::string> AsString(const json& v, const std::string& ptr) {
    if (!v.is_string()) {
      Error(ptr, "must be a string, not " + TypeName(v));
      return std::nullopt;
    }
    return v.get<std::string>();
  }

  std::optional<bool> AsBool(const json& v, const std::string& ptr) {
    if (!v.is_boolean()) {
      Error(ptr, "must be true or false, not " + TypeName(v));
      return std::nullopt;
    }
    return v.get<bool>();
  }

  std::optional<int64_t> AsInt(const json& v, const std::string& ptr, int64_t min, int64_t max) {
    int64_t n = 0;
    if (v.is_number_unsigned()) {
      uint64_t u = v.get<uint64_t>();
      n = u > static_cast<uint64_t>(INT64_MAX) ? INT64_MAX : static_cast<int64_t>(u);
    } else if (v.is_number_integer()) {
      n = v.get<int64_t>();
    } else {
      Error(ptr, "must be an integer, not " + TypeName(v));
      return std::nullopt;
    }
    if (n < min || n > max) {
      Error(ptr, "must be between " + std::to_string(min) + " and " + std::to_string(max) + ", not " +
                     std::to_string(n));
      return std::nullopt;
    }
    return n;
  }

  std::optional<double> AsPositiveNumber(const json& v, const std::string& ptr, double max) {
    if (!v.is_number()) {
      Error(ptr, "must be a number, not " + TypeName(v));
      return std::nullopt;
    }
    double d = v.get<double>();
    if (!(d > 0) || d > max) {
      Error(ptr, "must be greater than 0 and at most " + std::to_string(static_cast<int64_t>(max)));
      return std::nullopt;
    }
    return d;
  }

  // An array of unique strings. Items that are not strings or repeat are
  // reported and left out. nullopt if `v` is not an array.
  std::optional<std::vector<std::string>> StringSet(const json& v, const std::string& ptr) {
    if (!v.is_array()) {
      Error(ptr, "must be an array, not " + TypeName(v));
      return std::nullopt;
    }
    std::vector<std::string> out;
    for (size_t i = 0; i < v.size(); ++i) {
      std::string item_ptr = JsonPointerChild(ptr, i);
      std::optional<std::string> s = AsString(v[i], item_ptr);
      if (!s) continue;
      if (std::find(out.begin(), out.end(), *s) != out.end()) {
        Error(item_ptr, Quote(*s) + " is listed twice");
        continue;
      }
      out.push_back(*s);
    }
    return out;
  }

  // ---- Sections ----

  void Document(const json& doc, ParsedDocument* out) {
    if (!Object(doc, "", {"format", "description", "purposes", "systems", "identity", "jurisdictions",
                          "tombstones"})) {
      return;
    }
    if (const json* f = Required(doc, "format", "")) {
      std::optional<std::string> s = AsString(*f, "/format");
      if (s && *s != kPolicyFormat) {
        Error("/format", "unsupported format " + Quote(*s) + " (expected " + Quote(kPolicyFormat) + ")");
      }
    }
    if (const json* d = Member(doc, "description")) (void)AsString(*d, "/description");
    if (const json* p = Member(doc, "purposes")) Purposes(*p, out);
    if (const json* s = Member(doc, "systems")) Systems(*s, out);
    if (const json* i = Member(doc, "identity")) Identity(*i, out);
    if (const json* j = Member(doc, "jurisdictions")) Jurisdictions(*j, out);
    if (const json* t = Member(doc, "tombstones")) out->tombstones = ParseTombstonePolicy(file_, *t, errors_);
  }

  void Purposes(const json& section, ParsedDocument* out) {
    const std::string ptr = "/purposes";
    if (!Map(section, ptr)) return;
    for (const auto& [key, value] : section.items()) {
      std::string p = JsonPointerChild(ptr, key);
      if (!text::IsStableKey(key)) {
        Error(p, "purpose key " + Quote(key) + " must match [a-z0-9][a-z0-9_.-]{0,63}");
        continue;
      }
      Purpose purpose;
      purpose.key = key;
      purpose.defined_in = file_;
      if (ParsePurpose(value, p, &purpose)) out->purposes.emplace(key, std::move(purpose));
    }
  }

  bool ParsePurpose(const json& v, const std::string& p, Purpose* purpose) {
    if (!Object(v, p, {"description", "channel", "legal_basis", "default", "default_by_jurisdiction",
                       "tcf_purposes", "gcm"})) {
      return false;
    }
    if (const json* d = Member(v, "description")) {
      if (auto s = AsString(*d, p + "/description")) purpose->description = *s;
    }
    if (const json* c = Required(v, "channel", p)) {
      if (auto s = AsString(*c, p + "/channel")) {
        if (auto ch = ParseChannel(*s)) {
          purpose->channel = *ch;
        } else {
          Error(p + "/channel", "unknown channel " + Quote(*s) + " (expected one of: " + ChannelNames() + ")");
        }
      }
    }
    bool basis_known = false;
    if (const json* b = Required(v, "legal_basis", p)) {
      if (auto s = AsString(*b, p + "/legal_basis")) {
        if (auto lb = ParseLegalBasis(*s)) {
          purpose->legal_basis = *lb;
          basis_known = true;
        } else {
          Error(p + "/legal_basis",
                "unknown legal basis " + Quote(*s) + " (expected one of: " + LegalBasisNames() + ")");
        }
      }
    }
    if (const json* d = Required(v, "default", p)) {
      if (auto s = AsString(*d, p + "/default")) {
        if (auto ds = ParseDefaultState(*s)) {
          purpose->default_state = *ds;
          if (basis_known && purpose->legal_basis == LegalBasis::kConsent && *ds == DefaultState::kGranted) {
            Error(p + "/default",
                  "a purpose whose legal basis is consent must default to \"denied\" (consent is opt-in); "
                  "use default_by_jurisdiction for opt-out regimes such as CCPA");
          }
        } else {
          Error(p + "/default", "unknown default " + Quote(*s) + " (expected \"granted\" or \"denied\")");
        }
      }
    }
    if (const json* m = Member(v, "default_by_jurisdiction")) {
      std::string mp = p + "/default_by_jurisdiction";
      if (Map(*m, mp)) {
        for (const auto& [jid, dv] : m->items()) {
          std::string jp = JsonPointerChild(mp, jid);
          auto s = AsString(dv, jp);
          if (!s) continue;
          auto ds = ParseDefaultState(*s);
          if (!ds) {
            Error(jp, "unknown default " + Quote(*s) + " (expected \"granted\" or \"denied\")");
            continue;
          }
          purpose->default_by_jurisdiction[jid] = *ds;
        }
      }
    }
    if (const json* t = Member(v, "tcf_purposes")) {
      std::string tp = p + "/tcf_purposes";
      if (!t->is_array()) {
        Error(tp, "must be an array, not " + TypeName(*t));
      } else {
        if (!t->empty() && basis_known && purpose->legal_basis != LegalBasis::kConsent &&
            purpose->legal_basis != LegalBasis::kLegitimateInterest) {
          Error(p + "/legal_basis", "TCF purposes can only be mapped under the consent or legitimate_interest "
                                    "legal basis, not " + Quote(LegalBasisName(purpose->legal_basis)));
        }
        for (size_t i = 0; i < t->size(); ++i) {
          std::string ip = JsonPointerChild(tp, i);
          auto n = AsInt((*t)[i], ip, kTcfMinPurpose, kTcfMaxPurpose);
          if (!n) continue;
          int tcf = static_cast<int>(*n);
          if (std::find(purpose->tcf_purposes.begin(), purpose->tcf_purposes.end(), tcf) !=
              purpose->tcf_purposes.end()) {
            Error(ip, "TCF purpose " + std::to_string(tcf) + " is listed twice");
            continue;
          }
          if (basis_known && purpose->legal_basis == LegalBasis::kLegitimateInterest &&
              TcfPurposeIsConsentOnly(tcf)) {
            Error(ip, "TCF purpose " + std::to_string(tcf) +
                          " allows only the consent legal basis (TCF v2.2: purposes 1 and 3-6), but "
                          "legal_basis is \"legitimate_interest\"");
          }
          purpose->tcf_purposes.push_back(tcf);
        }
        std::sort(purpose->tcf_purposes.begin(), purpose->tcf_purposes.end());
      }
    }
    if (const json* g = Member(v, "gcm")) {
      std::string gp = p + "/gcm";
      if (auto flags = StringSet(*g, gp)) {
        for (size_t i = 0; i < flags->size(); ++i) {
          if (auto f = ParseGcmFlag((*flags)[i])) {
            purpose->gcm.push_back(*f);
          } else {
            Error(JsonPointerChild(gp, IndexIn(*g, (*flags)[i])),
                  "unknown Google Consent Mode flag " + Quote((*flags)[i]) + " (expected one of: " +
                      GcmFlagNames() + ")");
          }
        }
      }
    }
    return true;
  }

  void Systems(const json& section, ParsedDocument* out) {
    const std::string ptr = "/systems";
    if (!Map(section, ptr)) return;
    for (const auto& [id, value] : section.items()) {
      std::string p = JsonPointerChild(ptr, id);
      if (!text::IsStableKey(id)) {
        Error(p, "system id " + Quote(id) + " must match [a-z0-9][a-z0-9_.-]{0,63}");
        continue;
      }
      System system;
      system.id = id;
      system.defined_in = file_;
      if (ParseSystem(value, p, &system)) out->systems.emplace(id, std::move(system));
    }
  }

  bool ParseSystem(const json& v, const std::string& p, System* sys) {
    if (!Object(v, p, {"description", "kind", "base_url", "api_version", "credentials", "receives", "may_grant",
                       "may_withdraw", "rank", "rate_limit", "concurrency", "options"})) {
      return false;
    }
    if (const json* d = Member(v, "description")) {
      if (auto s = AsString(*d, p + "/description")) sys->description = *s;
    }
    std::optional<SystemKind> kind;
    if (const json* k = Required(v, "kind", p)) {
      if (auto s = AsString(*k, p + "/kind")) {
        kind = ParseSystemKind(*s);
        if (!kind) Error(p + "/kind", "unknown kind " + Quote(*s) + " (expected one of: " + SystemKindNames() + ")");
      }
    }
    if (kind) sys->kind = *kind;
    const SystemKindSpec* spec = kind ? &SpecFor(*kind) : nullptr;

    // receives, may_grant, may_withdraw
    bool receives_ok = false;
    if (const json* r = Required(v, "receives", p)) {
      if (auto list = StringSet(*r, p + "/receives")) {
        receives_ok = true;
        for (const std::string& purpose : *list) {
          if (!text::IsStableKey(purpose)) {
            Error(JsonPointerChild(p + "/receives", IndexIn(*r, purpose)),
                  "purpose key " + Quote(purpose) + " must match [a-z0-9][a-z0-9_.-]{0,63}");
            continue;
          }
          sys->receives.push_back(purpose);
          receives_index_[{sys->id, purpose}] = IndexIn(*r, purpose);
        }
      }
    }
    // Without a readable receives (already reported), subset errors would
    // only repeat that problem.
    if (receives_ok) {
      SubsetOfReceives(v, "may_grant", p, *sys, &sys->may_grant);
      if (Member(v, "may_withdraw") == nullptr) {
        sys->may_withdraw = sys->receives;  // withdrawing is always safe
      } else {
        SubsetOfReceives(v, "may_withdraw", p, *sys, &sys->may_withdraw);
      }
    }
    if (const json* r = Member(v, "rank")) {
      std::string rp = p + "/rank";
      if (Map(*r, rp)) {
        for (const auto& [purpose, n] : r->items()) {
          std::string ip = JsonPointerChild(rp, purpose);
          auto rank = AsInt(n, ip, 0, 1000000);
          if (!rank) continue;
          if (!sys->Receives(purpose)) {
            Error(ip, "purpose " + Quote(purpose) + " is not in receives; ranks apply to received purposes");
            continue;
          }
          sys->rank[purpose] = static_cast<int32_t>(*rank);
        }
      }
    }

    // Limits, with the kind's defaults.
    if (spec) {
      sys->rate_limit = spec->default_rate_limit;
      sys->concurrency = spec->default_concurrency;
    }
    if (const json* rl = Member(v, "rate_limit")) {
      std::string rp = p + "/rate_limit";
      if (Object(*rl, rp, {"requests_per_second", "burst"})) {
        if (const json* r = Member(*rl, "requests_per_second")) {
          if (auto d = AsPositiveNumber(*r, rp + "/requests_per_second", 100000)) sys->rate_limit.requests_per_second = *d;
        }
        if (const json* b = Member(*rl, "burst")) {
          if (auto n = AsInt(*b, rp + "/burst", 1, 100000)) sys->rate_limit.burst = static_cast<int32_t>(*n);
        }
      }
    }
    if (const json* c = Member(v, "concurrency")) {
      int64_t max = spec && spec->max_concurrency > 0 ? spec->max_concurrency : 256;
      if (auto n = AsInt(*c, p + "/concurrency", 1, max)) sys->concurrency = static_cast<int32_t>(*n);
    }

    // Credentials.
    if (const json* cr = Required(v, "credentials", p)) {
      std::string cp = p + "/credentials";
      if (Map(*cr, cp)) {
        for (const auto& [name, ref] : cr->items()) {
          std::string np = JsonPointerChild(cp, name);
          if (spec) {
            bool known = std::find(spec->required_credentials.begin(), spec->required_credentials.end(), name) !=
                             spec->required_credentials.end() ||
                         std::find(spec->optional_credentials.begin(), spec->optional_credentials.end(), name) !=
                             spec->optional_credentials.end();
            if (!known) {
              std::vector<std::string_view> all = spec->required_credentials;
              all.insert(all.end(), spec->optional_credentials.begin(), spec->optional_credentials.end());
              Error(np, "unknown credential " + Quote(name) + " for kind " + Quote(SystemKindName(*kind)) +
                            " (expected: " + Join(all) + ")");
              continue;
            }
          }
          if (!ref.is_string()) {
            Error(np, "must be a string (the path of the file holding the secret), not " + TypeName(ref));
            continue;
          }
          std::string value = ref.get<std::string>();
          std::string problem = CredentialRefProblem(value);
          if (!problem.empty()) {
            Error(np, problem);
            continue;
          }
          sys->credentials[name] = value;
        }
        if (spec) {
          for (std::string_view req : spec->required_credentials) {
            if (Member(*cr, req) == nullptr) {
              Error(cp, "missing credential " + Quote(req) + " (required for kind " +
                            Quote(SystemKindName(*kind)) + ")");
            }
          }
        }
      }
    }

    if (const json* av = Member(v, "api_version")) {
      if (auto s = AsString(*av, p + "/api_version")) {
        sys->api_version = *s;
        if (spec) {
          std::string problem = ApiVersionProblem(*kind, *s);
          if (!problem.empty()) Error(p + "/api_version", "invalid api_version " + Quote(*s) + "; expected " + problem);
        }
      }
    } else if (spec) {
      sys->api_version = std::string(spec->default_api_version);
    }

    bool has_base_url = false;
    if (const json* bu = Member(v, "base_url")) {
      if (auto s = AsString(*bu, p + "/base_url")) {
        std::string problem = BaseUrlProblem(*s);
        if (problem.empty()) {
          sys->base_url = NormalizeBaseUrl(*s);
          has_base_url = true;
        } else {
          Error(p + "/base_url", "invalid base_url " + Quote(*s) + ": " + problem);
          has_base_url = true;  // reported; don't also report it missing
        }
      }
    } else if (spec && !spec->default_base_url.empty()) {
      sys->base_url = std::string(spec->default_base_url);
      has_base_url = true;
    }

    if (!kind) return true;
    const json empty = json::object();
    const json* opts = Member(v, "options");
    std::string op = p + "/options";
    if (opts == nullptr) opts = &empty;
    switch (*kind) {
      case SystemKind::kShopify: Shopify(*opts, op, sys, has_base_url); break;
      case SystemKind::kWooCommerce: WooCommerce(*opts, op, sys); break;
      case SystemKind::kHubSpot: HubSpot(*opts, op, sys); break;
      case SystemKind::kSalesforce: Salesforce(*opts, op, sys); break;
      case SystemKind::kKlaviyo: Klaviyo(*opts, op, sys); break;
      case SystemKind::kMailchimp: Mailchimp(*opts, op, sys, has_base_url); break;
      case SystemKind::kWebhook: Webhook(*opts, op, sys); break;
    }
    // Shopify and Mailchimp derive it from their options, whose own errors
    // say what is missing.
    bool derived = *kind == SystemKind::kShopify || *kind == SystemKind::kMailchimp;
    if (!has_base_url && !derived && sys->base_url.empty()) {
      Error(p, "missing required field \"base_url\" (kind " + Quote(SystemKindName(*kind)) + " has no default)");
    }
    return true;
  }

  void SubsetOfReceives(const json& v, std::string_view field, const std::string& p, const System& sys,
                        std::vector<std::string>* out) {
    const json* m = Member(v, field);
    if (m == nullptr) return;
    std::string fp = JsonPointerChild(p, field);
    auto list = StringSet(*m, fp);
    if (!list) return;
    for (const std::string& purpose : *list) {
      if (!sys.Receives(purpose)) {
        Error(JsonPointerChild(fp, IndexIn(*m, purpose)),
              "purpose " + Quote(purpose) + " is not in receives; " + std::string(field) +
                  " must be a subset of receives");
        continue;
      }
      out->push_back(purpose);
    }
  }

  // A {purpose: string} map whose keys must be received purposes.
  std::map<std::string, std::string> PurposeStringMap(const json& v, const std::string& ptr, const System& sys,
                                                      bool (*valid)(std::string_view), std::string_view expected) {
    std::map<std::string, std::string> out;
    if (!Map(v, ptr)) return out;
    for (const auto& [purpose, value] : v.items()) {
      std::string ip = JsonPointerChild(ptr, purpose);
      std::optional<std::string> s;
      if (value.is_number_unsigned()) {
        s = std::to_string(value.get<uint64_t>());  // HubSpot ids are often written as numbers
      } else {
        s = AsString(value, ip);
      }
      if (!s) continue;
      if (!sys.Receives(purpose)) {
        Error(ip, "purpose " + Quote(purpose) + " is not in receives");
        continue;
      }
      if (!valid(*s)) {
        Error(ip, "invalid value " + Quote(*s) + "; expected " + std::string(expected));
        continue;
      }
      out[purpose] = *s;
    }
    return out;
  }

  std::optional<std::string> OneOf(const json& v, const std::string& ptr, std::initializer_list<std::string_view> allowed) {
    auto s = AsString(v, ptr);
    if (!s) return std::nullopt;
    if (std::find(allowed.begin(), allowed.end(), *s) == allowed.end()) {
      Error(ptr, "invalid value " + Quote(*s) + " (expected one of: " + Join(allowed) + ")");
      return std::nullopt;
    }
    return s;
  }

  void Shopify(const json& o, const std::string& op, System* sys, bool has_base_url) {
    ShopifyOptions opts;
    if (Object(o, op, {"shop_domain", "api", "erasure_confirmation", "opt_in_level"})) {
      if (const json* d = Required(o, "shop_domain", op)) {
        if (auto s = AsString(*d, op + "/shop_domain")) {
          if (ValidShopDomain(*s)) {
            opts.shop_domain = *s;
          } else {
            Error(op + "/shop_domain", "invalid shop_domain " + Quote(*s) + "; expected \"<shop>.myshopify.com\"");
          }
        }
      }
      if (const json* a = Member(o, "api")) {
        if (auto s = OneOf(*a, op + "/api", {"graphql", "rest"})) opts.api = *s;
      }
      if (const json* e = Member(o, "erasure_confirmation")) {
        if (auto s = OneOf(*e, op + "/erasure_confirmation", {"customer_gone", "on_accept"})) {
          opts.erasure_confirmation = *s;
        }
      }
      if (const json* l = Member(o, "opt_in_level")) {
        if (auto s = OneOf(*l, op + "/opt_in_level", {"SINGLE_OPT_IN", "CONFIRMED_OPT_IN", "UNKNOWN"})) {
          opts.opt_in_level = *s;
        }
      }
    }
    if (!has_base_url && !opts.shop_domain.empty()) sys->base_url = "https://" + opts.shop_domain;
    sys->options = std::move(opts);
  }

  void WooCommerce(const json& o, const std::string& op, System* sys) {
    WooCommerceOptions opts;
    if (Object(o, op, {"meta_keys", "auth"})) {
      if (const json* m = Member(o, "meta_keys")) {
        opts.meta_keys = PurposeStringMap(*m, op + "/meta_keys", *sys, &ValidMetaKey,
                                          "1 to 64 characters from [A-Za-z0-9_.-]");
      }
      if (const json* a = Member(o, "auth")) {
        if (auto s = OneOf(*a, op + "/auth", {"basic", "query"})) opts.auth = *s;
      }
    }
    sys->options = std::move(opts);
  }

  void HubSpot(const json& o, const std::string& op, System* sys) {
    HubSpotOptions opts;
    if (Object(o, op, {"subscription_ids", "preferences_api"})) {
      if (const json* m = Member(o, "subscription_ids")) {
        opts.subscription_ids =
            PurposeStringMap(*m, op + "/subscription_ids", *sys, &ValidNumericId, "a numeric subscription type id");
      }
      if (const json* a = Member(o, "preferences_api")) {
        if (auto s = OneOf(*a, op + "/preferences_api", {"v3", "v4"})) opts.preferences_api = *s;
      }
    }
    sys->options = std::move(opts);
    // Whether every received email purpose has an id needs the purposes'
    // channels: the loader checks it after merging.
  }

  void Salesforce(const json& o, const std::string& op, System* sys) {
    SalesforceOptions opts;
    if (Object(o, op, {"object", "fields", "consent_status_values"})) {
      if (const json* ob = Member(o, "object")) {
        if (auto s = OneOf(*ob, op + "/object", {"Contact", "Lead"})) opts.object = *s;
      }
      if (const json* f = Required(o, "fields", op)) {
        std::string fp = op + "/fields";
        if (Map(*f, fp)) {
          for (const auto& [purpose, fv] : f->items()) {
            std::string ip = JsonPointerChild(fp, purpose);
            if (!Object(fv, ip, {"name", "true_means"})) continue;
            SalesforceField field;
            bool ok = true;
            if (const json* n = Required(fv, "name", ip)) {
              auto s = AsString(*n, ip + "/name");
              if (s && ValidSalesforceField(*s)) {
                field.name = *s;
              } else {
                if (s) Error(ip + "/name", "invalid Salesforce field name " + Quote(*s) +
                                               "; expected a letter followed by [A-Za-z0-9_] (e.g. \"HasOptedOutOfEmail\"), optionally after "
                                               "\"Individual.\" or \"ContactPointTypeConsent.\"");
                ok = false;
              }
            } else {
              ok = false;
            }
            if (const json* t = Member(fv, "true_means")) {
              auto s = OneOf(*t, ip + "/true_means", {"withdrawn", "granted"});
              if (s) field.true_means_withdrawn = *s == "withdrawn";
            }
            if (!sys->Receives(purpose)) {
              Error(ip, "purpose " + Quote(purpose) + " is not in receives");
              continue;
            }
            if (ok) opts.fields[purpose] = field;
          }
          for (const std::string& purpose : sys->receives) {
            if (Member(*f, purpose) == nullptr) {
              Error(fp, "missing field mapping for received purpose " + Quote(purpose));
            }
          }
        }
      }
      if (const json* c = Member(o, "consent_status_values")) {
        std::string cp = op + "/consent_status_values";
        if (Object(*c, cp, {"granted", "withdrawn"})) {
          if (const json* g = Member(*c, "granted")) {
            if (auto s = AsString(*g, cp + "/granted")) opts.status_granted = *s;
          }
          if (const json* w = Member(*c, "withdrawn")) {
            if (auto s = AsString(*w, cp + "/withdrawn")) opts.status_withdrawn = *s;
          }
        }
      }
    }
    sys->options = std::move(opts);
  }

  void Klaviyo(const json& o, const std::string& op, System* sys) {
    KlaviyoOptions opts;
    if (Object(o, op, {"list_id", "custom_source", "suppress_on_email_withdrawal", "poll_job_status"})) {
      if (const json* l = Member(o, "list_id")) {
        auto s = AsString(*l, op + "/list_id");
        if (s && ValidListId(*s)) {
          opts.list_id = *s;
        } else if (s) {
          Error(op + "/list_id", "invalid list_id " + Quote(*s) + "; expected 1 to 32 letters and digits");
        }
      }
      if (const json* c = Member(o, "custom_source")) {
        if (auto s = AsString(*c, op + "/custom_source")) opts.custom_source = *s;
      }
      if (const json* b = Member(o, "suppress_on_email_withdrawal")) {
        if (auto v = AsBool(*b, op + "/suppress_on_email_withdrawal")) opts.suppress_on_email_withdrawal = *v;
      }
      if (const json* b = Member(o, "poll_job_status")) {
        if (auto v = AsBool(*b, op + "/poll_job_status")) opts.poll_job_status = *v;
      }
    }
    sys->options = std::move(opts);
  }

  void Mailchimp(const json& o, const std::string& op, System* sys, bool has_base_url) {
    MailchimpOptions opts;
    if (Object(o, op, {"list_id", "data_center", "marketing_permission_ids", "resubscribe_as_pending"})) {
      if (const json* l = Required(o, "list_id", op)) {
        auto s = AsString(*l, op + "/list_id");
        if (s && ValidListId(*s)) {
          opts.list_id = *s;
        } else if (s) {
          Error(op + "/list_id", "invalid list_id " + Quote(*s) + "; expected 1 to 32 letters and digits");
        }
      }
      if (const json* d = Member(o, "data_center")) {
        auto s = AsString(*d, op + "/data_center");
        if (s && ValidDataCenter(*s)) {
          opts.data_center = *s;
        } else if (s) {
          Error(op + "/data_center", "invalid data_center " + Quote(*s) + "; expected e.g. \"us6\"");
        }
      } else if (!has_base_url) {
        Error(op, "missing \"data_center\" (required unless base_url is given; it is the API key's suffix, e.g. \"us6\")");
      }
      if (const json* m = Member(o, "marketing_permission_ids")) {
        opts.marketing_permission_ids = PurposeStringMap(*m, op + "/marketing_permission_ids", *sys, &ValidListId,
                                                         "1 to 32 letters and digits");
      }
      if (const json* b = Member(o, "resubscribe_as_pending")) {
        if (auto v = AsBool(*b, op + "/resubscribe_as_pending")) opts.resubscribe_as_pending = *v;
      }
    }
    if (!has_base_url && !opts.data_center.empty()) {
      sys->base_url = "https://" + opts.data_center + ".api.mailchimp.com/3.0";
    }
    sys->options = std::move(opts);
  }

  void Webhook(const json& o, const std::string& op, System* sys) {
    WebhookOptions opts;
    if (Object(o, op, {"signature_header", "timeout_ms"})) {
      if (const json* h = Member(o, "signature_header")) {
        auto s = AsString(*h, op + "/signature_header");
        if (s && ValidHeaderName(*s)) {
          opts.signature_header = *s;
        } else if (s) {
          Error(op + "/signature_header", "invalid header name " + Quote(*s));
        }
      }
      if (const json* t = Member(o, "timeout_ms")) {
        if (auto n = AsInt(*t, op + "/timeout_ms", 100, 60000)) opts.timeout_ms = static_cast<int32_t>(*n);
      }
    }
    sys->options = std::move(opts);
  }

  void Identity(const json& v, ParsedDocument* out) {
    const std::string p = "/identity";
    domain::IdentityRules rules;
    if (!Object(v, p, {"strong_kinds", "auto_merge", "one_system_id_per_qualifier", "default_phone_region",
                       "suggest_plus_tag_merges"})) {
      out->identity = rules;
      return;
    }
    if (const json* s = Member(v, "strong_kinds")) {
      std::string sp = p + "/strong_kinds";
      if (auto kinds = StringSet(*s, sp)) {
        rules.strong_kinds.clear();
        for (const std::string& k : *kinds) {
          Result<domain::IdentifierKind> kind = domain::IdentifierKind::Parse(k);
          if (!kind.ok()) {
            Error(JsonPointerChild(sp, IndexIn(*s, k)), "unknown identifier kind " + Quote(k) +
                                                           " (expected email, phone, shopify_customer, ... or "
                                                           "custom:<name>)");
            continue;
          }
          rules.strong_kinds.insert(kind->Name());
        }
      }
    }
    if (const json* b = Member(v, "auto_merge")) {
      if (auto x = AsBool(*b, p + "/auto_merge")) rules.auto_merge = *x;
    }
    if (const json* b = Member(v, "one_system_id_per_qualifier")) {
      if (auto x = AsBool(*b, p + "/one_system_id_per_qualifier")) rules.one_system_id_per_qualifier = *x;
    }
    if (const json* b = Member(v, "suggest_plus_tag_merges")) {
      if (auto x = AsBool(*b, p + "/suggest_plus_tag_merges")) rules.suggest_plus_tag_merges = *x;
    }
    if (const json* r = Member(v, "default_phone_region")) {
      if (auto s = AsString(*r, p + "/default_phone_region")) {
        if (s->empty() || IsIso3166Alpha2(*s)) {
          rules.default_phone_region = *s;
        } else {
          Error(p + "/default_phone_region", "invalid region " + Quote(*s) +
                                                 "; expected an upper-case ISO 3166-1 alpha-2 code such as \"US\"");
        }
      }
    }
    out->identity = rules;
  }

  void Jurisdictions(const json& section, ParsedDocument* out) {
    const std::string ptr = "/jurisdictions";
    if (!Map(section, ptr)) return;
    for (const auto& [id, value] : section.items()) {
      std::string p = JsonPointerChild(ptr, id);
      if (!text::IsStableKey(id)) {
        Error(p, "jurisdiction id " + Quote(id) + " must match [a-z0-9][a-z0-9_.-]{0,63}");
        continue;
      }
      Jurisdiction j;
      j.id = id;
      j.defined_in = file_;
      if (ParseJurisdiction(value, p, &j)) out->jurisdictions.emplace(id, std::move(j));
    }
  }

  // {"days": N} | {"months": N} | {"business_days": N}, limited to `units`.
  std::optional<Period> ParsePeriod(const json& v, const std::string& p,
                                    std::initializer_list<std::string_view> units,
                                    std::initializer_list<std::string_view> extra_fields = {}) {
    if (!v.is_object()) {
      Error(p, "must be an object such as {\"" + std::string(*units.begin()) + "\": N}, not " + TypeName(v));
      return std::nullopt;
    }
    std::vector<std::string_view> allowed(units);
    allowed.insert(allowed.end(), extra_fields.begin(), extra_fields.end());
    std::optional<Period> out;
    int found = 0;
    for (const auto& [key, value] : v.items()) {
      if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
        std::vector<std::string> names(allowed.begin(), allowed.end());
        std::string hint = ClosestMatch(key, names);
        Error(JsonPointerChild(p, key), "unknown field " + Quote(key) +
                                            (hint.empty() ? " (expected one of: " + Join(allowed) + ")"
                                                          : " (did you mean " + Quote(hint) + "?)"));
        continue;
      }
      if (std::find(units.begin(), units.end(), key) == units.end()) continue;  // an extra field
      ++found;
      auto n = AsInt(value, JsonPointerChild(p, key), 1, 3650);
      if (!n) continue;
      Period period;
      period.count = static_cast<int32_t>(*n);
      period.unit = key == "months" ? Period::Unit::kCalendarMonths
                    : key == "business_days" ? Period::Unit::kBusinessDays
                                             : Period::Unit::kCalendarDays;
      out = period;
    }
    if (found == 0) {
      Error(p, "missing the length: give exactly one of " + Join(units));
      return std::nullopt;
    }
    if (found > 1) {
      Error(p, "give exactly one of " + Join(units) + ", not several");
      return std::nullopt;
    }
    return out;
  }

  bool ParseJurisdiction(const json& v, const std::string& p, Jurisdiction* j) {
    if (!Object(v, p, {"description", "based_on", "response", "extension", "acknowledge", "opt_out_of_sale",
                       "record_retention"})) {
      return false;
    }
    if (const json* d = Member(v, "description")) {
      if (auto s = AsString(*d, p + "/description")) j->description = *s;
    }
    j->law = j->id == "gdpr" ? Law::kGdpr : (j->id == "ccpa" || j->id == "cpra") ? Law::kCcpa : Law::kOther;
    if (const json* b = Member(v, "based_on")) {
      if (auto s = OneOf(*b, p + "/based_on", {"gdpr", "ccpa", "other"})) j->law = *ParseLaw(*s);
    }
    bool response_ok = false;
    if (const json* r = Required(v, "response", p)) {
      if (auto period = ParsePeriod(*r, p + "/response", {"days", "months"})) {
        j->response = *period;
        response_ok = true;
      }
    }
    if (const json* e = Member(v, "extension")) {
      std::string ep = p + "/extension";
      if (auto period = ParsePeriod(*e, ep, {"days", "months"}, {"notify_before_first_deadline"})) {
        Extension ext;
        ext.period = *period;
        if (const json* n = Member(*e, "notify_before_first_deadline")) {
          if (auto b = AsBool(*n, ep + "/notify_before_first_deadline")) ext.notify_before_first_deadline = *b;
        }
        j->extension = ext;
      }
    }
    if (const json* a = Member(v, "acknowledge")) {
      j->acknowledge = ParsePeriod(*a, p + "/acknowledge", {"business_days", "days"});
    }
    if (const json* o = Member(v, "opt_out_of_sale")) {
      j->opt_out_of_sale = ParsePeriod(*o, p + "/opt_out_of_sale", {"business_days", "days"});
    }
    if (const json* r = Member(v, "record_retention")) {
      j->record_retention = ParsePeriod(*r, p + "/record_retention", {"months", "days"});
    }
    if (response_ok) CheckStatutoryLimits(v, p, *j);
    return true;
  }

  // A jurisdiction may be stricter than the law, never looser.
  void CheckStatutoryLimits(const json& v, const std::string& p, const Jurisdiction& j) {
    using Unit = Period::Unit;
    auto within = [](const Period& per, int max_months, int max_days) {
      return per.unit == Unit::kCalendarMonths ? per.count <= max_months : per.count <= max_days;
    };
    if (j.law == Law::kGdpr) {
      if (!within(j.response, 1, 28)) {
        Error(p + "/response", "GDPR Art. 12(3) requires a response within 1 month (write {\"months\": 1}, or at "
                               "most 28 days), not " + PeriodToString(j.response));
      }
      if (j.extension && !within(j.extension->period, 2, 59)) {
        Error(p + "/extension", "GDPR Art. 12(3) allows an extension of at most 2 further months, not " +
                                    PeriodToString(j.extension->period));
      }
    }
    if (j.law == Law::kCcpa) {
      if (!within(j.response, 1, 45)) {
        Error(p + "/response", "CCPA requires a response within 45 calendar days, not " + PeriodToString(j.response));
      }
      if (j.extension && !within(j.extension->period, 1, 45)) {
        Error(p + "/extension",
              "CCPA allows one extension of at most 45 further days, not " + PeriodToString(j.extension->period));
      }
      RequireAtMost(v, p, "acknowledge", j.acknowledge, 10, "CCPA regulations require acknowledging a request within "
                                                            "10 business days");
      RequireAtMost(v, p, "opt_out_of_sale", j.opt_out_of_sale, 15,
                    "CCPA regulations require honouring an opt-out of sale or sharing within 15 business days");
      if (Member(v, "record_retention") == nullptr) {
        Error(p, "missing \"record_retention\": CCPA regulations require keeping request records for at least "
                 "24 months");
      } else if (j.record_retention) {
        const Period& r = *j.record_retention;
        bool ok = r.unit == Unit::kCalendarMonths ? r.count >= 24 : r.count >= 731;
        if (!ok) {
          Error(p + "/record_retention", "CCPA regulations require keeping request records for at least 24 "
                                         "months, not " + PeriodToString(r));
        }
      }
    }
    if ((j.law == Law::kGdpr || j.law == Law::kCcpa) && j.extension && !j.extension->notify_before_first_deadline) {
      Error(p + "/extension/notify_before_first_deadline",
            "must be true: the law requires telling the subject of the extension, with reasons, before the "
            "first deadline");
    }
  }

  void RequireAtMost(const json& v, const std::string& p, std::string_view field, const std::optional<Period>& per,
                     int max_business_days, const std::string& why) {
    if (Member(v, field) == nullptr) {
      Error(p, "missing " + Quote(field) + ": " + why);
      return;
    }
    if (!per) return;  // already reported
    // Calendar days are never fewer than business days, so N calendar days
    // is within N business days.
    if (per->count > max_business_days) {
      Error(JsonPointerChild(p, field), why + ", not " + PeriodToString(*per));
    }
  }

 private:
  // The index of string `s` in array `arr` (for pointers after StringSet
  // dropped items); 0 if absent.
  static size_t IndexIn(const json& arr, const std::string& s) {
    for (size_t i = 0; i < arr.size(); ++i) {
      if (arr[i].is_string() && arr[i].get_ref<const std::string&>() == s) return i;
    }
    return 0;
  }

  static bool ValidShopDomain(std::string_view s) {
    constexpr std::string_view kSuffix = ".myshopify.com";
    if (s.size() <= kSuffix.size() || s.substr(s.size() - kSuffix.size()) != kSuffix) return false;
    std::string_view shop = s.substr(0, s.size() - kSuffix.size());
    if (shop.size() > 60 || shop.front() == '-') return false;
    for (char c : shop) {
      if (!(text::IsLower(c) || text::IsDigit(c) || c == '-')) return false;
    }
    return true;
  }
  static bool ValidMetaKey(std::string_view s) {
    return !s.empty() && s.size() <= 64 && text::IsKeyLike(s, /*allow_upper=*/true);
  }
  static bool ValidNumericId(std::string_view s) { return s.size() <= 20 && text::AllDigits(s); }
  static bool ValidListId(std::string_view s) {
    if (s.empty() || s.size() > 32) return false;
    for (char c : s) {
      if (!text::IsAlnum(c)) return false;
    }
    return true;
  }
  static bool ValidDataCenter(std::string_view s) {
    size_t i = 0;
    while (i < s.size() && text::IsLower(s[i])) ++i;
    return i > 0 && i < s.size() && s.size() <= 8 && text::AllDigits(s.substr(i));
  }
  // An API name, optionally prefixed "Individual." (a field of the linked
  // Individual record) or "ContactPointTypeConsent." (a contact point type
  // whose consent record is set), as adapters/salesforce.cc interprets it.
  static bool ValidSalesforceField(std::string_view s) {
    for (std::string_view prefix : {std::string_view("Individual."), std::string_view("ContactPointTypeConsent.")}) {
      if (s.substr(0, prefix.size()) == prefix) {
        s.remove_prefix(prefix.size());
        break;
      }
    }
    if (s.empty() || s.size() > 80 || !(text::IsLower(s[0]) || text::IsUpper(s[0]))) return false;
    for (char c : s) {
      if (!(text::IsAlnum(c) || c == '_')) return false;
    }
    return true;
  }
  static bool ValidHeaderName(std::string_view s) {
    if (s.empty() || s.size() > 64) return false;
    for (char c : s) {
      if (!(text::IsAlnum(c) || c == '-')) return false;
    }
    return true;
  }

  const std::string& file_;
  std::vector<PolicyError>* errors_;

 public:
  std::map<std::pair<std::string, std::string>, size_t> receives_index_;
};

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

}  // namespace

std::string ClosestMatch(std::string_view name, const std::vector<std::string>& candidates) {
  if (name.size() > 64) return "";
  std::string best;
  size_t best_distance = 3;
  for (const std::string& c : candidates) {
    size_t d = EditDistance(name, c);
    if (d < best_distance && d < c.size()) {
      best_distance = d;
      best = c;
    }
  }
  return best;
}

ParsedDocument ParseDocument(const std::string& file, std::string_view bytes, std::vector<PolicyError>* errors) {
  ParsedDocument out;
  JsonScanResult scan = ScanJson(bytes);
  if (!scan.well_formed) {
    errors->push_back(PolicyError{file, "", "malformed JSON: " + scan.message, scan.line, scan.column});
    return out;
  }
  for (const std::string& ptr : scan.duplicate_keys) {
    errors->push_back(PolicyError{file, ptr, "key is defined twice in this object", 0, 0});
  }
  try {
    json doc = json::parse(bytes, nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded()) {
      errors->push_back(PolicyError{file, "", "malformed JSON", 0, 0});
      return out;
    }
    Parser parser(file, errors);
    parser.Document(doc, &out);
    out.receives_index = std::move(parser.receives_index_);
  } catch (const std::exception& e) {
    // Not expected: every access above checks types first. Report rather
    // than let it escape.
    errors->push_back(PolicyError{file, "", std::string("internal error while reading the policy: ") + e.what(), 0, 0});
  }
  return out;
}

}  // namespace consentd::policies
