// The Salesforce emulator (downstream-apis.md §4): Contact, Lead, Individual
// and ContactPointTypeConsent records behind the REST API, a SOQL subset for
// lookups, the OAuth refresh-token endpoint, and Salesforce's error arrays.
//
// Routes ({v} = vNN.N; Authorization: Bearer <token>):
//   GET    /services/data/{v}/query?q=SELECT f[, f..] FROM T [WHERE F = 'lit' [AND|OR F = 'lit'..]] [LIMIT n]
//            -> {"totalSize":n,"done":true,"records":[{"attributes":{"type":T,"url":..},"Id":..,..}]}
//            SOQL string escapes \' \" \\ \n \r \t \b \f \_ \% are decoded; anything else, a mixed
//            AND/OR without parentheses, or an unknown field -> 400 MALFORMED_QUERY / INVALID_FIELD.
//            Email compares case-insensitively.
//   GET    /services/data/{v}/sobjects/{T}/{Id}[?fields=a,b] -> 200 record
//   PATCH  /services/data/{v}/sobjects/{T}/{Id}  {fields}    -> 204 (unknown field -> 400 INVALID_FIELD)
//   DELETE /services/data/{v}/sobjects/{T}/{Id}              -> 204; again -> 404 ENTITY_IS_DELETED
//   POST   /services/data/{v}/sobjects/{T}  {fields}         -> 201 {"id":..,"success":true,"errors":[]}
//   POST   /services/oauth2/token  grant_type=refresh_token&client_id&client_secret&refresh_token
//            -> {"access_token":..,"instance_url":..,"token_type":"Bearer",..}; bad -> 400 {"error":"invalid_grant",..}
// Unknown ids -> 404 [{"message":"The requested resource does not exist","errorCode":"NOT_FOUND"}].
//
// Auth: until a token is issued or an access_token is seeded, any non-empty
// bearer token is valid; afterwards only the seeded and issued ones.
// expire_tokens makes every current token fail with 401
// [{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]
// until a refresh issues a new one, which clears the fault and retires every
// older token (refreshes without the fault add tokens, as Salesforce keeps
// several valid).
// Throttled: 403 [{"message":"TotalRequests Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}]
// without Retry-After (Salesforce sends none).
// ContactPointTypeConsent.PrivacyConsentStatus must be one of consent_status_values
// (default NotSeen, Seen, OptIn, OptOut: UNCONFIRMED in the reference) ->
// else 400 INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST. Without privacy_enabled
// (default true), IndividualId and the Individual objects do not exist.
//
// State (GET /_emulator/state):
//   {"records":{"Contact":[{"Id":..,"Email":..,"HasOptedOutOfEmail":false,..}],"Lead":[..],
//               "Individual":[..],"ContactPointTypeConsent":[..]},          live records, Id order
//    "deleted":{"Contact":["003..."],..},                                     in the recycle bin
//    "history":[{"method":"PATCH"|"DELETE"|"POST","type":"Contact","id":..,"fields":{..}}],  applied writes
//    "tokens_issued":N, "queries":N}
// Seed (POST /_emulator/seed, every member optional):
//   {"records":[{"type":"Contact","Id":"003000000000001AAA","Email":"a@b.com","IndividualId":"0PK..."},..],
//    "oauth":{"client_id":..,"client_secret":..,"refresh_token":..},   required values at the token endpoint
//    "access_token":"..", "privacy_enabled":true, "consent_status_values":["OptIn","OptOut"]}
//   A record without "Id" gets one (prefix 003 Contact, 00Q Lead, 0PK Individual, 0ZY ContactPointTypeConsent).
#include <cctype>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "tests/emulators/emulator.h"

namespace consentd::emulators {

namespace {

using nlohmann::json;

const std::map<std::string, std::string>& Prefixes() {
  static const std::map<std::string, std::string> p = {
      {"Contact", "003"}, {"Lead", "00Q"}, {"Individual", "0PK"}, {"ContactPointTypeConsent", "0ZY"}};
  return p;
}

const std::set<std::string>& FieldsOf(const std::string& type) {
  static const std::map<std::string, std::set<std::string>> f = {
      {"Contact",
       {"Id", "Email", "FirstName", "LastName", "HasOptedOutOfEmail", "HasOptedOutOfFax", "DoNotCall", "IndividualId",
        "CreatedDate"}},
      {"Lead",
       {"Id", "Email", "FirstName", "LastName", "Company", "HasOptedOutOfEmail", "HasOptedOutOfFax", "DoNotCall",
        "IndividualId", "CreatedDate"}},
      {"Individual",
       {"Id", "FirstName", "LastName", "HasOptedOutTracking", "HasOptedOutProcessing", "HasOptedOutProfiling",
        "HasOptedOutSolicit", "HasOptedOutGeoTracking", "ShouldForget", "SendIndividualData", "CanStorePiiElsewhere"}},
      {"ContactPointTypeConsent",
       {"Id", "Name", "PartyId", "ContactPointType", "PrivacyConsentStatus", "DataUsePurposeId", "CaptureDate",
        "CaptureSource", "CaptureContactPointType", "EffectiveFrom", "EffectiveTo"}},
  };
  static const std::set<std::string> none;
  auto it = f.find(type);
  return it == f.end() ? none : it->second;
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

void Errors(httplib::Response& res, int status, const std::string& code, const std::string& message) {
  res.status = status;
  res.set_content(json::array({{{"message", message}, {"errorCode", code}, {"fields", json::array()}}}).dump(),
                  "application/json");
}

struct SalesforceState {
  std::map<std::string, std::map<std::string, json>> records;  // type -> Id -> record
  std::map<std::string, std::set<std::string>> deleted;        // type -> Ids in the recycle bin
  json history = json::array();
  int64_t next_id = 1;
  int64_t tokens_issued = 0;
  int64_t queries = 0;
  std::set<std::string> valid_tokens;  // empty: any non-empty bearer token is valid
  json oauth = json::object();
  bool privacy_enabled = true;
  std::set<std::string> consent_status_values = {"NotSeen", "Seen", "OptIn", "OptOut"};

  bool TypeExists(const std::string& type) const {
    if (Prefixes().count(type) == 0) return false;
    return privacy_enabled || (type != "Individual" && type != "ContactPointTypeConsent");
  }
  bool FieldExists(const std::string& type, const std::string& field) const {
    if (!privacy_enabled && field == "IndividualId") return false;
    if (field.size() > 3 && field.compare(field.size() - 3, 3, "__c") == 0) return true;
    return FieldsOf(type).count(field) > 0;
  }
  std::string NewId(const std::string& type) {
    std::string n = std::to_string(next_id++);
    return Prefixes().at(type) + std::string(12 - n.size(), '0') + n + "AAA";
  }
};

// The SOQL subset: tokens are identifiers/numbers, ',', '=', '*', and
// string literals (already unescaped).
struct Token {
  enum Kind { kWord, kString, kPunct } kind;
  std::string text;
};

bool Tokenize(const std::string& q, std::vector<Token>* out, std::string* error) {
  size_t i = 0;
  while (i < q.size()) {
    char c = q[i];
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
    } else if (c == ',' || c == '=') {
      out->push_back({Token::kPunct, std::string(1, c)});
      ++i;
    } else if (c == '\'') {
      std::string lit;
      ++i;
      bool closed = false;
      while (i < q.size()) {
        char d = q[i];
        if (d == '\'') {
          closed = true;
          ++i;
          break;
        }
        if (d == '\\') {
          if (i + 1 >= q.size()) break;
          char e = q[i + 1];
          switch (e) {
            case '\'': lit += '\''; break;
            case '"': lit += '"'; break;
            case '\\': lit += '\\'; break;
            case 'n': case 'N': lit += '\n'; break;
            case 'r': case 'R': lit += '\r'; break;
            case 't': case 'T': lit += '\t'; break;
            case 'b': case 'B': lit += '\b'; break;
            case 'f': case 'F': lit += '\f'; break;
            case '_': lit += "\\_"; break;
            case '%': lit += "\\%"; break;
            default:
              *error = "Invalid string literal: illegal escape sequence";
              return false;
          }
          i += 2;
        } else {
          lit += d;
          ++i;
        }
      }
      if (!closed) {
        *error = "unterminated string literal";
        return false;
      }
      out->push_back({Token::kString, lit});
    } else if (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.') {
      size_t j = i;
      while (j < q.size() && (std::isalnum(static_cast<unsigned char>(q[j])) || q[j] == '_' || q[j] == '.')) ++j;
      out->push_back({Token::kWord, q.substr(i, j - i)});
      i = j;
    } else {
      *error = std::string("unexpected token: '") + c + "'";
      return false;
    }
  }
  return true;
}

bool IsWord(const std::vector<Token>& t, size_t i, const char* upper) {
  if (i >= t.size() || t[i].kind != Token::kWord) return false;
  std::string w = t[i].text;
  for (char& c : w) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return w == upper;
}

// Runs `q`; writes the answer (200 or Salesforce's 400s).
void RunQuery(SalesforceState& st, const std::string& q, const std::string& version, httplib::Response& res) {
  std::vector<Token> t;
  std::string error;
  if (!Tokenize(q, &t, &error)) return Errors(res, 400, "MALFORMED_QUERY", error);
  size_t i = 0;
  if (!IsWord(t, i++, "SELECT")) return Errors(res, 400, "MALFORMED_QUERY", "expected SELECT");
  std::vector<std::string> fields;
  while (i < t.size() && !IsWord(t, i, "FROM")) {
    if (t[i].kind != Token::kWord) return Errors(res, 400, "MALFORMED_QUERY", "expected a field");
    fields.push_back(t[i++].text);
    if (i < t.size() && t[i].kind == Token::kPunct && t[i].text == ",") ++i;
  }
  if (fields.empty() || !IsWord(t, i++, "FROM") || i >= t.size() || t[i].kind != Token::kWord) {
    return Errors(res, 400, "MALFORMED_QUERY", "expected FROM <object>");
  }
  const std::string type = t[i++].text;
  if (!st.TypeExists(type)) {
    return Errors(res, 400, "INVALID_TYPE", "sObject type '" + type + "' is not supported.");
  }
  for (const std::string& f : fields) {
    if (!st.FieldExists(type, f)) {
      return Errors(res, 400, "INVALID_FIELD", "No such column '" + f + "' on entity '" + type + "'.");
    }
  }
  struct Cond {
    std::string field, value;
  };
  std::vector<Cond> conds;
  std::string joiner;
  if (IsWord(t, i, "WHERE")) {
    ++i;
    while (true) {
      if (i + 2 >= t.size() || t[i].kind != Token::kWord || t[i + 1].kind != Token::kPunct ||
          t[i + 1].text != "=" || t[i + 2].kind != Token::kString) {
        return Errors(res, 400, "MALFORMED_QUERY", "expected <field> = '<value>'");
      }
      if (!st.FieldExists(type, t[i].text)) {
        return Errors(res, 400, "INVALID_FIELD", "No such column '" + t[i].text + "' on entity '" + type + "'.");
      }
      conds.push_back({t[i].text, t[i + 2].text});
      i += 3;
      if (IsWord(t, i, "AND") || IsWord(t, i, "OR")) {
        std::string j = IsWord(t, i, "AND") ? "AND" : "OR";
        if (!joiner.empty() && joiner != j) {
          return Errors(res, 400, "MALFORMED_QUERY", "mixing AND and OR requires parentheses");
        }
        joiner = j;
        ++i;
        continue;
      }
      break;
    }
  }
  size_t limit = 50000;
  if (IsWord(t, i, "LIMIT")) {
    ++i;
    if (i >= t.size() || t[i].kind != Token::kWord) return Errors(res, 400, "MALFORMED_QUERY", "expected a number");
    try {
      limit = std::stoul(t[i++].text);
    } catch (const std::exception&) {
      return Errors(res, 400, "MALFORMED_QUERY", "bad LIMIT");
    }
  }
  if (i != t.size()) return Errors(res, 400, "MALFORMED_QUERY", "unexpected token: '" + t[i].text + "'");

  ++st.queries;
  json records = json::array();
  for (const auto& [id, rec] : st.records[type]) {
    if (records.size() >= limit) break;
    bool match = joiner != "OR";
    for (const Cond& c : conds) {
      std::string have = rec.contains(c.field) && rec[c.field].is_string() ? rec[c.field].get<std::string>() : "";
      bool eq = c.field == "Email" ? Lower(have) == Lower(c.value) : have == c.value;
      match = joiner == "OR" ? (match || eq) : (match && eq);
    }
    if (conds.empty()) match = true;
    if (!match) continue;
    json out = {{"attributes", {{"type", type}, {"url", "/services/data/" + version + "/sobjects/" + type + "/" + id}}}};
    for (const std::string& f : fields) out[f] = rec.contains(f) ? rec[f] : json(nullptr);
    records.push_back(out);
  }
  res.status = 200;
  res.set_content(json{{"totalSize", records.size()}, {"done", true}, {"records", records}}.dump(), "application/json");
}

// Checks a write's fields; writes the 400 and returns false when refused.
bool CheckFields(const SalesforceState& st, const std::string& type, const json& body, httplib::Response& res) {
  if (!body.is_object()) {
    Errors(res, 400, "JSON_PARSER_ERROR", "Unexpected character: was expecting a JSON object");
    return false;
  }
  for (const auto& [k, v] : body.items()) {
    if (k == "Id") {
      Errors(res, 400, "INVALID_FIELD_FOR_INSERT_UPDATE", "Unable to create/update fields: Id.");
      return false;
    }
    if (!st.FieldExists(type, k)) {
      Errors(res, 400, "INVALID_FIELD", "No such column '" + k + "' on sobject of type " + type);
      return false;
    }
    if (type == "ContactPointTypeConsent" && k == "PrivacyConsentStatus" &&
        (!v.is_string() || st.consent_status_values.count(v.get<std::string>()) == 0)) {
      Errors(res, 400, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", "Privacy Consent Status: bad value for restricted picklist field");
      return false;
    }
  }
  return true;
}

std::string FormValue(const std::string& body, const std::string& key) {
  size_t pos = 0;
  while (pos <= body.size()) {
    size_t end = body.find('&', pos);
    if (end == std::string::npos) end = body.size();
    std::string pair = body.substr(pos, end - pos);
    size_t eq = pair.find('=');
    if (eq != std::string::npos && httplib::detail::decode_url(pair.substr(0, eq), true) == key) {
      return httplib::detail::decode_url(pair.substr(eq + 1), true);
    }
    pos = end + 1;
  }
  return "";
}

}  // namespace

void RegisterSalesforce(Emulator& emu) {
  auto st = std::make_shared<SalesforceState>();
  const std::string data = R"(/services/data/(v\d+\.\d+))";

  emu.SetAuth(
      [&emu, st](const httplib::Request& req, bool expired) {
        if (expired) return false;
        const std::string h = req.get_header_value("Authorization");
        if (h.rfind("Bearer ", 0) != 0 || h.size() == 7) return false;
        std::lock_guard<std::mutex> lock(emu.mu());
        return st->valid_tokens.empty() || st->valid_tokens.count(h.substr(7)) > 0;
      },
      [](const httplib::Request&, httplib::Response& res) {
        Errors(res, 401, "INVALID_SESSION_ID", "Session expired or invalid");
      });

  emu.SetThrottleWriter([](httplib::Response& res, const std::string&) {
    Errors(res, 403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.");
  });

  emu.Route("GET", data + "/query", [&emu, st](const httplib::Request& req, httplib::Response& res) {
    if (!req.has_param("q")) return Errors(res, 400, "MALFORMED_QUERY", "missing q");
    std::lock_guard<std::mutex> lock(emu.mu());
    RunQuery(*st, req.get_param_value("q"), req.matches[1].str(), res);
  });

  emu.Route("GET", data + R"(/sobjects/(\w+)/(\w+))", [&emu, st](const httplib::Request& req, httplib::Response& res) {
    const std::string type = req.matches[2].str(), id = req.matches[3].str();
    std::lock_guard<std::mutex> lock(emu.mu());
    if (!st->TypeExists(type)) return Errors(res, 404, "NOT_FOUND", "The requested resource does not exist");
    if (st->deleted[type].count(id) > 0) return Errors(res, 404, "ENTITY_IS_DELETED", "entity is deleted");
    auto it = st->records[type].find(id);
    if (it == st->records[type].end()) return Errors(res, 404, "NOT_FOUND", "The requested resource does not exist");
    json out = {{"attributes", {{"type", type}}}};
    if (req.has_param("fields")) {
      std::string fields = req.get_param_value("fields");
      size_t pos = 0;
      while (pos <= fields.size()) {
        size_t end = fields.find(',', pos);
        if (end == std::string::npos) end = fields.size();
        std::string f = fields.substr(pos, end - pos);
        if (!st->FieldExists(type, f)) return Errors(res, 400, "INVALID_FIELD", "No such column '" + f + "'");
        out[f] = it->second.contains(f) ? it->second[f] : json(nullptr);
        pos = end + 1;
      }
      out["Id"] = id;
    } else {
      out.update(it->second);
    }
    res.status = 200;
    res.set_content(out.dump(), "application/json");
  });

  emu.Route("PATCH", data + R"(/sobjects/(\w+)/(\w+))", [&emu, st](const httplib::Request& req,
                                                                   httplib::Response& res) {
    const std::string type = req.matches[2].str(), id = req.matches[3].str();
    json body = json::parse(req.body, nullptr, false);
    std::lock_guard<std::mutex> lock(emu.mu());
    if (!st->TypeExists(type)) return Errors(res, 404, "NOT_FOUND", "The requested resource does not exist");
    if (st->deleted[type].count(id) > 0) return Errors(res, 404, "ENTITY_IS_DELETED", "entity is deleted");
    auto it = st->records[type].find(id);
    if (it == st->records[type].end()) return Errors(res, 404, "NOT_FOUND", "The requested resource does not exist");
    if (!CheckFields(*st, type, body, res)) return;
    it->second.update(body);
    st->history.push_back({{"method", "PATCH"}, {"type", type}, {"id", id}, {"fields", body}});
    res.status = 204;
  });

  emu.Route("DELETE", data + R"(/sobjects/(\w+)/(\w+))", [&emu, st](const httplib::Request& req,
                                                                    httplib::Response& res) {
    const std::string type = req.matches[2].str(), id = req.matches[3].str();
    std::lock_guard<std::mutex> lock(emu.mu());
    if (!st->TypeExists(type)) return Errors(res, 404, "NOT_FOUND", "The requested resource does not exist");
    if (st->deleted[type].count(id) > 0) return Errors(res, 404, "ENTITY_IS_DELETED", "entity is deleted");
    if (st->records[type].erase(id) == 0) {
      return Errors(res, 404, "NOT_FOUND", "The requested resource does not exist");
    }
    st->deleted[type].insert(id);
    st->history.push_back({{"method", "DELETE"}, {"type", type}, {"id", id}});
    res.status = 204;
  });

  emu.Route("POST", data + R"(/sobjects/(\w+))", [&emu, st](const httplib::Request& req, httplib::Response& res) {
    const std::string type = req.matches[2].str();
    json body = json::parse(req.body, nullptr, false);
    std::lock_guard<std::mutex> lock(emu.mu());
    if (!st->TypeExists(type)) return Errors(res, 404, "NOT_FOUND", "The requested resource does not exist");
    if (!CheckFields(*st, type, body, res)) return;
    const std::string id = st->NewId(type);
    json rec = body;
    rec["Id"] = id;
    st->records[type][id] = rec;
    st->history.push_back({{"method", "POST"}, {"type", type}, {"id", id}, {"fields", body}});
    res.status = 201;
    res.set_content(json{{"id", id}, {"success", true}, {"errors", json::array()}}.dump(), "application/json");
  });

  emu.Route(
      "POST", "/services/oauth2/token",
      [&emu, st](const httplib::Request& req, httplib::Response& res) {
        auto oauth_error = [&res](const std::string& error, const std::string& description) {
          res.status = 400;
          res.set_content(json{{"error", error}, {"error_description", description}}.dump(), "application/json");
        };
        if (FormValue(req.body, "grant_type") != "refresh_token") {
          return oauth_error("unsupported_grant_type", "grant type not supported");
        }
        const std::string client_id = FormValue(req.body, "client_id");
        const std::string client_secret = FormValue(req.body, "client_secret");
        const std::string refresh_token = FormValue(req.body, "refresh_token");
        std::string token;
        {
          std::lock_guard<std::mutex> lock(emu.mu());
          auto want = [&](const char* key, const std::string& have) {
            if (have.empty()) return false;
            return !st->oauth.contains(key) || st->oauth[key].get<std::string>() == have;
          };
          if (!want("client_id", client_id)) return oauth_error("invalid_client_id", "client identifier invalid");
          if (!want("client_secret", client_secret)) return oauth_error("invalid_client", "invalid client credentials");
          if (!want("refresh_token", refresh_token)) return oauth_error("invalid_grant", "expired access/refresh token");
          ++st->tokens_issued;
          token = "00DEMU0000000001!emulated." + std::to_string(st->tokens_issued);
          // A refresh while tokens are expired retires every older token; one
          // without that fault adds a token (Salesforce keeps several valid).
          if (emu.tokens_expired()) st->valid_tokens.clear();
          st->valid_tokens.insert(token);
        }
        emu.clear_expired_tokens();
        res.status = 200;
        res.set_content(json{{"access_token", token},
                             {"instance_url", "http://" + req.get_header_value("Host")},
                             {"id", "https://login.salesforce.com/id/00DEMU0000000001/005EMU0000000001"},
                             {"token_type", "Bearer"},
                             {"issued_at", "1700000000000"},
                             {"signature", "ZW11bGF0ZWQ="}}
                            .dump(),
                        "application/json");
      },
      false);

  emu.SetStateFn([st]() {
    json records = json::object(), deleted = json::object();
    for (const auto& [type, prefix] : Prefixes()) {
      (void)prefix;
      records[type] = json::array();
      for (const auto& [id, rec] : st->records[type]) records[type].push_back(rec);
      deleted[type] = json(st->deleted[type]);
    }
    return json{{"records", records},
                {"deleted", deleted},
                {"history", st->history},
                {"tokens_issued", st->tokens_issued},
                {"queries", st->queries}};
  });

  emu.SetSeedFn([st](const json& seed) {
    if (!seed.is_object()) return false;
    try {
      if (seed.contains("privacy_enabled")) st->privacy_enabled = seed["privacy_enabled"].get<bool>();
      if (seed.contains("consent_status_values")) {
        st->consent_status_values = seed["consent_status_values"].get<std::set<std::string>>();
      }
      if (seed.contains("oauth")) st->oauth = seed["oauth"];
      if (seed.contains("access_token")) st->valid_tokens = {seed["access_token"].get<std::string>()};
      for (const json& r : seed.value("records", json::array())) {
        const std::string type = r.at("type").get<std::string>();
        if (Prefixes().count(type) == 0) return false;
        json rec = r;
        rec.erase("type");
        if (!rec.contains("Id")) rec["Id"] = st->NewId(type);
        st->records[type][rec["Id"].get<std::string>()] = rec;
      }
    } catch (const std::exception&) {
      return false;
    }
    return true;
  });

  emu.SetResetFn([st]() { *st = SalesforceState(); });
}

}  // namespace consentd::emulators
