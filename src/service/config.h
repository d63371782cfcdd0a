// Config: the settings of one consentd instance, read from
// <data-dir>/consentd.json (written by `consentctl init`; docs/operations.md
// lists every field). Unknown fields and wrong types are errors that name the
// JSON pointer, so a typo never silently falls back to a default.
//
// Thread-safety: value type.
#ifndef CONSENTD_SERVICE_CONFIG_H_
#define CONSENTD_SERVICE_CONFIG_H_

#include <cstdint>
#include <string>
#include <vector>

#include "src/base/result.h"

namespace consentd::service {

struct Config {
  std::string path;  // the file this was read from

  std::string data_dir;
  std::string key_dir;
  std::string origin;
  std::string database = "consentd.db";

  // HTTP
  std::string listen_host = "127.0.0.1";
  int listen_port = 8080;
  std::string http_server = "asio";  // "asio" (event-driven) or "httplib" (thread per connection)
  size_t http_threads = 8;            // asio: workers for routes that may block; httplib: one per connection
  size_t http_io_threads = 0;         // asio: event loops; 0 = one per core
  // Consent query index in memory (query_cache.h): entries at most
  // (a subject's lookup and each state row count one); 0 = off.
  size_t query_cache_entries = 4'000'000;
  std::string tls_cert;
  std::string tls_key;

  // Policies (paths relative to the config file's directory when not absolute)
  std::vector<std::string> policies;

  // Limits
  size_t max_body_bytes = 1 << 20;          // one request, except bulk routes
  size_t max_bulk_body_bytes = 16 << 20;    // bulk consent and check routes
  size_t max_bulk_events = 10000;
  size_t max_check_identifiers = 10000;

  int64_t checkpoint_interval_ms = 1000;

  // Webhooks (docs/webhooks.md). Klaviyo's signature scheme is UNCONFIRMED,
  // so its header names and encoding ("hex" or "base64") are settings.
  std::string klaviyo_signature_header = "Klaviyo-Signature";
  std::string klaviyo_timestamp_header = "Klaviyo-Timestamp";
  std::string klaviyo_webhook_id_header = "Klaviyo-Webhook-Id";
  std::string klaviyo_signature_encoding = "hex";
  int64_t webhook_signature_window_ms = 5 * 60 * 1000;        // HubSpot, Klaviyo, signed webhooks
  int64_t webhook_secret_rotation_window_ms = 60 * 60 * 1000;  // Shopify previous_webhook_secret

  // Auditors and witnesses (docs/operations.md "Auditors and witnesses").
  bool ledger_public = false;  // the ledger read API needs no token (else scope auditor)
  struct Witness {
    std::string name;  // cosignature key name
    std::string url;   // add-checkpoint is POSTed to <url>/add-checkpoint
    std::string vkey;  // the witness's cosignature verifier key (type 0x04)
  };
  std::vector<Witness> witnesses;
  size_t witness_quorum = 0;  // cosignatures required before a checkpoint is published
  int64_t witness_timeout_ms = 5000;
  // Propagation's dispatcher (docs/propagation.md): the member
  // "propagation" {"enabled","max_attempts","max_age_ms","backoff_base_ms",
  // "backoff_cap_ms","confirm_interval_ms","poll_interval_ms"}.
  struct Propagation {
    bool enabled = true;                     // false: rows accumulate, nothing is sent
    int64_t max_attempts = 12;               // delivery attempts before a row is dead
    int64_t max_age_ms = 7LL * 24 * 3600 * 1000;
    int64_t backoff_base_ms = 1000;          // full-jitter exponential backoff
    int64_t backoff_cap_ms = 15 * 60 * 1000;
    int64_t confirm_interval_ms = 2000;      // first poll of an accepted job
    int64_t poll_interval_ms = 500;          // pauses and replays of other processes
  } propagation;
  std::string log_level = "info";
  std::string log_file;  // empty: stderr

  std::string database_path() const { return data_dir + "/" + database; }
  // The access log's own database (docs/api.md "Access log").
  std::string access_log_path() const { return data_dir + "/access.db"; }

  // Reads and validates `path`. kNotFound if missing; kInvalidArgument with
  // "<path>: <json pointer>: <problem>" otherwise.
  static Result<Config> Load(const std::string& path);
  // The JSON document for this config (what `consentctl init` writes).
  std::string ToJson() const;
};

}  // namespace consentd::service

#endif  // CONSENTD_SERVICE_CONFIG_H_
