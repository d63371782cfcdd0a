#include "src/obs/logger.h"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <nlohmann/json.hpp>

#include "src/base/clock.h"
#include "src/base/time_format.h"

namespace consentd::obs {
namespace {

const char* LevelName(LogLevel l) {
  switch (l) {
    case LogLevel::kDebug: return "debug";
    case LogLevel::kInfo: return "info";
    case LogLevel::kWarn: return "warn";
    case LogLevel::kError: return "error";
  }
  return "info";
}

std::string UniqueName() {
  static std::atomic<int> n{0};
  return "consentd-" + std::to_string(n.fetch_add(1));
}

}  // namespace

LogLevel ParseLogLevel(std::string_view name) {
  if (name == "debug") return LogLevel::kDebug;
  if (name == "warn") return LogLevel::kWarn;
  if (name == "error") return LogLevel::kError;
  return LogLevel::kInfo;
}

Logger::Logger(LogLevel min_level, const std::string& path) : min_level_(min_level) {
  spdlog::sink_ptr sink;
  try {
    if (path.empty()) {
      sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    } else {
      sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(path, /*truncate=*/false);
    }
  } catch (const std::exception&) {
    sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  }
  logger_ = std::make_shared<spdlog::logger>(UniqueName(), sink);
  logger_->set_pattern("%v");  // the JSON object is the whole line
  logger_->set_level(spdlog::level::trace);
  logger_->flush_on(spdlog::level::trace);
}

Logger::~Logger() = default;

void Logger::Log(LogLevel level, std::string_view event, const nlohmann::json& fields) const {
  if (!Enabled(level)) return;
  nlohmann::json line = nlohmann::json::object();
  line["ts"] = FormatTimestampMillis(SystemClock::Get().NowMillis());
  line["level"] = LevelName(level);
  line["event"] = std::string(event);
  if (fields.is_object()) {
    for (auto it = fields.begin(); it != fields.end(); ++it) line[it.key()] = it.value();
  }
  // Invalid UTF-8 is replaced rather than thrown on.
  std::string text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  try {
    logger_->info(text);
  } catch (const std::exception&) {
    // Logging must never take the service down.
  }
}

void Logger::Info(std::string_view event, const nlohmann::json& fields) const { Log(LogLevel::kInfo, event, fields); }
void Logger::Warn(std::string_view event, const nlohmann::json& fields) const { Log(LogLevel::kWarn, event, fields); }
void Logger::Error(std::string_view event, const nlohmann::json& fields) const {
  Log(LogLevel::kError, event, fields);
}

}  // namespace consentd::obs
