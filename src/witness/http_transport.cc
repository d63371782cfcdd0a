#include "src/witness/http_transport.h"

#include <httplib.h>

namespace consentd::witness {

Result<std::pair<std::string, std::string>> SplitWitnessUrl(const std::string& url) {
  size_t scheme_end = url.find("://");
  if (scheme_end == std::string::npos) return Status::InvalidArgument("witness url: missing http:// or https://");
  std::string scheme = url.substr(0, scheme_end);
  if (scheme != "http" && scheme != "https") return Status::InvalidArgument("witness url: scheme must be http or https");
  size_t path_start = url.find('/', scheme_end + 3);
  std::string base = url.substr(0, path_start);
  std::string prefix = path_start == std::string::npos ? "" : url.substr(path_start);
  if (base.size() <= scheme_end + 3) return Status::InvalidArgument("witness url: missing host");
  while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
  return std::make_pair(base, prefix);
}

WitnessTransport HttpTransport(std::chrono::milliseconds timeout) {
  return [timeout](const WitnessEndpoint& w, const std::string& body) -> Result<WitnessResponse> {
    Result<std::pair<std::string, std::string>> parts = SplitWitnessUrl(w.url);
    if (!parts.ok()) return parts.status();
    try {
      httplib::Client client(parts->first);
      const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(timeout);
      const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(timeout - seconds);
      client.set_connection_timeout(seconds.count(), micros.count());
      client.set_read_timeout(seconds.count(), micros.count());
      client.set_write_timeout(seconds.count(), micros.count());
      httplib::Result r = client.Post(parts->second + "/add-checkpoint", body, "text/plain");
      if (!r) return Status::Unavailable("witness " + w.name + ": " + httplib::to_string(r.error()));
      WitnessResponse out;
      out.status = r->status;
      out.content_type = r->get_header_value("Content-Type");
      out.body = r->body;
      return out;
    } catch (const std::exception& e) {
      return Status::Unavailable("witness " + w.name + ": " + e.what());
    }
  };
}

}  // namespace consentd::witness
