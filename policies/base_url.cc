#include "policies/base_url.h"

#include "policies/text.h"

namespace consentd::policies {
namespace {

bool IsLoopback(std::string_view host) {
  if (host == "localhost" || host == "[::1]") return true;
  return host.substr(0, 4) == "127.";
}

bool ValidHostName(std::string_view host) {
  if (host.empty() || host.size() > 253) return false;
  if (host.front() == '[') {
    if (host.back() != ']' || host.size() < 3) return false;
    for (char c : host.substr(1, host.size() - 2)) {
      bool ok = text::IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' || c == '.';
      if (!ok) return false;
    }
    return true;
  }
  size_t label = 0;
  for (size_t i = 0; i < host.size(); ++i) {
    char c = host[i];
    if (c == '.') {
      if (label == 0) return false;
      label = 0;
      continue;
    }
    if (!(text::IsAlnum(c) || c == '-')) return false;
    if (c == '-' && (label == 0 || i + 1 == host.size() || host[i + 1] == '.')) return false;
    if (++label > 63) return false;
  }
  return label > 0;
}

}  // namespace

std::string BaseUrlProblem(std::string_view url) {
  std::string_view rest;
  bool https = false;
  if (url.substr(0, 8) == "https://") {
    https = true;
    rest = url.substr(8);
  } else if (url.substr(0, 7) == "http://") {
    rest = url.substr(7);
  } else {
    return "must start with \"https://\" (or \"http://\" for a loopback host)";
  }
  for (char c : url) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f) return "must not contain spaces, control or non-ASCII characters";
  }
  size_t end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, end);
  std::string_view tail = end == std::string_view::npos ? std::string_view() : rest.substr(end);
  if (authority.find('@') != std::string_view::npos) {
    return "must not contain user info (\"user:password@\"); put credentials in credential files";
  }
  if (tail.find_first_of("?#") != std::string_view::npos) return "must not contain a query or fragment";
  std::string_view host = authority;
  size_t colon = authority.rfind(':');
  if (colon != std::string_view::npos && authority.find(']', colon) == std::string_view::npos) {
    std::string_view port = authority.substr(colon + 1);
    host = authority.substr(0, colon);
    if (!text::AllDigits(port) || port.size() > 5 || std::stoi(std::string(port)) < 1 ||
        std::stoi(std::string(port)) > 65535) {
      return "has an invalid port (expected 1..65535)";
    }
  }
  if (!ValidHostName(host)) return "has an invalid host name";
  if (!https && !IsLoopback(host)) return "must use https (http is accepted only for loopback hosts)";
  return "";
}

std::string NormalizeBaseUrl(std::string_view url) {
  while (!url.empty() && url.back() == '/') url.remove_suffix(1);
  return std::string(url);
}

}  // namespace consentd::policies
