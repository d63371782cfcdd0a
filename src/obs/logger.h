// Logger: structured JSON logs, one object per line on stderr (or a file):
//   {"ts":"2026-11-24T04:39:52.519Z","level":"info","event":"http.request","route":"/v1/consents","status":200}
//
// Fields carry ids and codes (sequence numbers, pseudonyms, route patterns,
// status codes, system ids), never an identifier or other personal data:
// callers pass structured fields, and no request body or query string is
// ever logged.
//
// Thread-safety: thread-safe (spdlog's synchronized sinks).
#ifndef CONSENTD_OBS_LOGGER_H_
#define CONSENTD_OBS_LOGGER_H_

#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>

namespace spdlog {
class logger;
}

namespace consentd::obs {

enum class LogLevel { kDebug, kInfo, kWarn, kError };

// Parses "debug", "info", "warn", "error"; anything else is kInfo.
LogLevel ParseLogLevel(std::string_view name);

class Logger {
 public:
  // Logs to stderr, or appends to `path` when not empty.
  explicit Logger(LogLevel min_level = LogLevel::kInfo, const std::string& path = "");
  ~Logger();

  // Writes {"ts","level","event", ...fields}. `fields` must be a JSON object.
  void Log(LogLevel level, std::string_view event, const nlohmann::json& fields) const;
  void Info(std::string_view event, const nlohmann::json& fields) const;
  void Warn(std::string_view event, const nlohmann::json& fields) const;
  void Error(std::string_view event, const nlohmann::json& fields) const;

  bool Enabled(LogLevel level) const { return level >= min_level_; }

 private:
  LogLevel min_level_;
  std::shared_ptr<spdlog::logger> logger_;
};

}  // namespace consentd::obs

#endif  // CONSENTD_OBS_LOGGER_H_
