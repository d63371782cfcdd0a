#include "src/service/config.h"

#include <nlohmann/json.hpp>
#include <set>

#include "src/base/file_util.h"

namespace consentd::service {
namespace {

using nlohmann::json;

class Reader {
 public:
  Reader(const std::string& path, const json& j) : path_(path), j_(j) {}

  void Str(const char* key, std::string* out) {
    seen_.insert(key);
    auto it = j_.find(key);
    if (it == j_.end()) return;
    if (!it->is_string()) return Error(std::string("/") + key, "must be a string");
    *out = it->get<std::string>();
  }
  template <typename T>
  void Int(const char* key, T* out, int64_t lo, int64_t hi) {
    seen_.insert(key);
    auto it = j_.find(key);
    if (it == j_.end()) return;
    if (!it->is_number_integer()) return Error(std::string("/") + key, "must be an integer");
    int64_t v = it->get<int64_t>();
    if (v < lo || v > hi) {
      return Error(std::string("/") + key, "must be between " + std::to_string(lo) + " and " + std::to_string(hi));
    }
    *out = static_cast<T>(v);
  }
  void StrList(const char* key, std::vector<std::string>* out) {
    seen_.insert(key);
    auto it = j_.find(key);
    if (it == j_.end()) return;
    if (!it->is_array()) return Error(std::string("/") + key, "must be an array of strings");
    out->clear();
    for (size_t i = 0; i < it->size(); ++i) {
      if (!(*it)[i].is_string()) return Error("/" + std::string(key) + "/" + std::to_string(i), "must be a string");
      out->push_back((*it)[i].get<std::string>());
    }
  }
  void Bool(const char* key, bool* out) {
    seen_.insert(key);
    auto it = j_.find(key);
    if (it == j_.end()) return;
    if (!it->is_boolean()) return Error(std::string("/") + key, "must be true or false");
    *out = it->get<bool>();
  }
  // [{"name": N, "url": U, "vkey": K}, ...]
  void Witnesses(const char* key, std::vector<Config::Witness>* out) {
    seen_.insert(key);
    auto it = j_.find(key);
    if (it == j_.end()) return;
    if (!it->is_array()) return Error(std::string("/") + key, "must be an array of objects");
    for (size_t i = 0; i < it->size(); ++i) {
      const json& w = (*it)[i];
      std::string ptr = "/" + std::string(key) + "/" + std::to_string(i);
      if (!w.is_object()) return Error(ptr, "must be an object with name, url and vkey");
      Config::Witness cw;
      for (auto f = w.begin(); f != w.end(); ++f) {
        std::string* dst = f.key() == "name" ? &cw.name : f.key() == "url" ? &cw.url : f.key() == "vkey" ? &cw.vkey : nullptr;
        if (!dst) return Error(ptr + "/" + f.key(), "unknown field");
        if (!f->is_string() || f->get<std::string>().empty()) return Error(ptr + "/" + f.key(), "must be a non-empty string");
        *dst = f->get<std::string>();
      }
      if (cw.name.empty() || cw.url.empty() || cw.vkey.empty()) return Error(ptr, "needs name, url and vkey");
      out->push_back(std::move(cw));
    }
  }
  void PropagationObject(const char* key, Config::Propagation* out) {
    seen_.insert(key);
    auto it = j_.find(key);
    if (it == j_.end()) return;
    if (!it->is_object()) return Error(std::string("/") + key, "must be an object");
    for (auto m = it->begin(); m != it->end(); ++m) {
      const std::string ptr = "/" + std::string(key) + "/" + m.key();
      if (m.key() == "enabled") {
        if (!m->is_boolean()) return Error(ptr, "must be true or false");
        out->enabled = m->get<bool>();
        continue;
      }
      struct Field {
        const char* name;
        int64_t* dst;
        int64_t lo, hi;
      };
      const Field fields[] = {{"max_attempts", &out->max_attempts, 1, 1000},
                              {"max_age_ms", &out->max_age_ms, 1000, 366LL * 24 * 3600 * 1000},
                              {"backoff_base_ms", &out->backoff_base_ms, 1, 3600000},
                              {"backoff_cap_ms", &out->backoff_cap_ms, 1, 24LL * 3600 * 1000},
                              {"confirm_interval_ms", &out->confirm_interval_ms, 1, 3600000},
                              {"poll_interval_ms", &out->poll_interval_ms, 10, 60000}};
      const Field* f = nullptr;
      for (const Field& c : fields) {
        if (m.key() == c.name) f = &c;
      }
      if (f == nullptr) return Error(ptr, "unknown field");
      if (!m->is_number_integer()) return Error(ptr, "must be an integer");
      const int64_t v = m->get<int64_t>();
      if (v < f->lo || v > f->hi) {
        return Error(ptr, "must be between " + std::to_string(f->lo) + " and " + std::to_string(f->hi));
      }
      *f->dst = v;
    }
  }
  void Unknown() {
    for (auto it = j_.begin(); it != j_.end(); ++it) {
      if (!seen_.count(it.key())) Error("/" + it.key(), "unknown field");
    }
  }
  void Error(const std::string& pointer, const std::string& problem) {
    if (status_.ok()) status_ = Status::InvalidArgument(path_ + ": " + pointer + ": " + problem);
  }
  const Status& status() const { return status_; }

 private:
  const std::string& path_;
  const json& j_;
  std::set<std::string> seen_;
  Status status_;
};

}  // namespace

Result<Config> Config::Load(const std::string& path) {
  Result<std::string> text = ReadFile(path);
  if (!text.ok()) return Status::NotFound("cannot read config " + path);
  if (text->size() > (1 << 20)) return Status::InvalidArgument(path + ": larger than 1 MiB");
  json j = json::parse(*text, nullptr, false);
  if (j.is_discarded()) return Status::InvalidArgument(path + ": not valid JSON");
  if (!j.is_object()) return Status::InvalidArgument(path + ": must be a JSON object");
  Config c;
  c.path = path;
  Reader r(path, j);
  r.Str("data_dir", &c.data_dir);
  r.Str("key_dir", &c.key_dir);
  r.Str("origin", &c.origin);
  r.Str("database", &c.database);
  std::string listen;
  r.Str("listen", &listen);
  r.Str("http_server", &c.http_server);
  r.Int("http_threads", &c.http_threads, 1, 256);
  r.Int("http_io_threads", &c.http_io_threads, 0, 64);
  r.Int("query_cache_entries", &c.query_cache_entries, 0, 1'000'000'000);
  r.Str("tls_cert", &c.tls_cert);
  r.Str("tls_key", &c.tls_key);
  r.StrList("policies", &c.policies);
  r.Int("max_body_bytes", &c.max_body_bytes, 1024, 64 << 20);
  r.Int("max_bulk_body_bytes", &c.max_bulk_body_bytes, 1024, 256 << 20);
  r.Int("max_bulk_events", &c.max_bulk_events, 1, 100000);
  r.Int("max_check_identifiers", &c.max_check_identifiers, 1, 100000);
  r.Int("checkpoint_interval_ms", &c.checkpoint_interval_ms, 10, 3600000);
  r.Str("log_level", &c.log_level);
  r.Str("log_file", &c.log_file);
  r.Str("klaviyo_signature_header", &c.klaviyo_signature_header);
  r.Str("klaviyo_timestamp_header", &c.klaviyo_timestamp_header);
  r.Str("klaviyo_webhook_id_header", &c.klaviyo_webhook_id_header);
  r.Str("klaviyo_signature_encoding", &c.klaviyo_signature_encoding);
  r.Int("webhook_signature_window_ms", &c.webhook_signature_window_ms, 1000, 24 * 3600 * 1000);
  r.Int("webhook_secret_rotation_window_ms", &c.webhook_secret_rotation_window_ms, 0, 7 * 24 * 3600 * 1000LL);
  r.Bool("ledger_public", &c.ledger_public);
  r.Witnesses("witnesses", &c.witnesses);
  r.Int("witness_quorum", &c.witness_quorum, 0, 64);
  r.Int("witness_timeout_ms", &c.witness_timeout_ms, 100, 600000);
  r.PropagationObject("propagation", &c.propagation);
  r.Unknown();
  if (!r.status().ok()) return r.status();
  if (c.data_dir.empty()) return Status::InvalidArgument(path + ": /data_dir: required");
  if (c.key_dir.empty()) return Status::InvalidArgument(path + ": /key_dir: required");
  if (c.origin.empty()) return Status::InvalidArgument(path + ": /origin: required");
  if (c.database.empty() || c.database.find('/') != std::string::npos) {
    return Status::InvalidArgument(path + ": /database: must be a file name inside data_dir");
  }
  if (!listen.empty()) {
    size_t colon = listen.rfind(':');
    if (colon == std::string::npos || colon == 0) return Status::InvalidArgument(path + ": /listen: expected host:port");
    c.listen_host = listen.substr(0, colon);
    std::string port = listen.substr(colon + 1);
    if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos ||
        std::stoi(port) > 65535) {
      return Status::InvalidArgument(path + ": /listen: port must be 0..65535");
    }
    c.listen_port = std::stoi(port);
  }
  if (c.http_server != "asio" && c.http_server != "httplib") {
    return Status::InvalidArgument(path + ": /http_server: \"asio\" or \"httplib\"");
  }
  if (c.tls_cert.empty() != c.tls_key.empty()) {
    return Status::InvalidArgument(path + ": /tls_cert, /tls_key: give both or neither");
  }
  if (c.witness_quorum > c.witnesses.size()) {
    return Status::InvalidArgument(path + ": /witness_quorum: more than the configured witnesses");
  }
  if (c.klaviyo_signature_encoding != "hex" && c.klaviyo_signature_encoding != "base64") {
    return Status::InvalidArgument(path + ": /klaviyo_signature_encoding: \"hex\" or \"base64\"");
  }
  for (const std::string* h : {&c.klaviyo_signature_header, &c.klaviyo_timestamp_header, &c.klaviyo_webhook_id_header}) {
    if (h->empty() || h->size() > 64 || h->find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-") != std::string::npos) {
      return Status::InvalidArgument(path + ": /klaviyo_*_header: 1..64 letters, digits and '-'");
    }
  }
  if (c.log_level != "debug" && c.log_level != "info" && c.log_level != "warn" && c.log_level != "error") {
    return Status::InvalidArgument(path + ": /log_level: one of debug, info, warn, error");
  }
  // Relative policy paths are relative to the config file's directory.
  std::string dir = path.substr(0, path.find_last_of('/') == std::string::npos ? 0 : path.find_last_of('/'));
  for (std::string& p : c.policies) {
    if (!p.empty() && p[0] != '/' && !dir.empty()) p = dir + "/" + p;
  }
  return c;
}

std::string Config::ToJson() const {
  json j = {{"data_dir", data_dir},
            {"key_dir", key_dir},
            {"origin", origin},
            {"database", database},
            {"listen", listen_host + ":" + std::to_string(listen_port)},
            {"http_server", http_server},
            {"http_threads", http_threads},
            {"http_io_threads", http_io_threads},
            {"query_cache_entries", query_cache_entries},
            {"policies", policies},
            {"max_body_bytes", max_body_bytes},
            {"max_bulk_body_bytes", max_bulk_body_bytes},
            {"max_bulk_events", max_bulk_events},
            {"max_check_identifiers", max_check_identifiers},
            {"checkpoint_interval_ms", checkpoint_interval_ms},
            {"log_level", log_level}};
  if (!tls_cert.empty()) {
    j["tls_cert"] = tls_cert;
    j["tls_key"] = tls_key;
  }
  if (!log_file.empty()) j["log_file"] = log_file;
  if (ledger_public) j["ledger_public"] = true;
  if (!witnesses.empty()) {
    json ws = json::array();
    for (const Witness& w : witnesses) ws.push_back({{"name", w.name}, {"url", w.url}, {"vkey", w.vkey}});
    j["witnesses"] = ws;
    j["witness_quorum"] = witness_quorum;
    j["witness_timeout_ms"] = witness_timeout_ms;
  }
  return j.dump(2) + "\n";
}

}  // namespace consentd::service
