#include "ledger/checkpoint.h"

#include <cstdint>
#include <cstring>

#include "src/base/bytes.h"

namespace consentd::ledger {

std::string Checkpoint::Body() const {
  std::string out = origin;
  out += '\n';
  out += std::to_string(size);
  out += '\n';
  out += Base64Encode(AsBytes(root));
  out += '\n';
  for (const std::string& e : extensions) {
    out += e;
    out += '\n';
  }
  return out;
}

Result<Checkpoint> ParseCheckpointBody(std::string_view body) {
  if (body.empty() || body.back() != '\n') return Status::InvalidArgument("checkpoint: must end with a newline");
  std::vector<std::string_view> lines;
  std::string_view rest = body;
  while (!rest.empty()) {
    size_t nl = rest.find('\n');
    lines.push_back(rest.substr(0, nl));
    rest.remove_prefix(nl + 1);
  }
  if (lines.size() < 3) return Status::InvalidArgument("checkpoint: needs origin, size and root lines");
  for (std::string_view l : lines) {
    if (l.empty()) return Status::InvalidArgument("checkpoint: empty line");
  }
  Checkpoint c;
  c.origin = std::string(lines[0]);
  std::string_view size = lines[1];
  if (size.size() > 20 || (size.size() > 1 && size[0] == '0')) {
    return Status::InvalidArgument("checkpoint: size must be decimal without leading zeros");
  }
  uint64_t v = 0;
  for (char ch : size) {
    if (ch < '0' || ch > '9') return Status::InvalidArgument("checkpoint: size must be decimal");
    uint64_t d = static_cast<uint64_t>(ch - '0');
    if (v > (UINT64_MAX - d) / 10) return Status::InvalidArgument("checkpoint: size overflows");
    v = v * 10 + d;
  }
  c.size = v;
  Result<std::string> root = Base64Decode(lines[2]);
  if (!root.ok() || root->size() != 32) return Status::InvalidArgument("checkpoint: root must be base64 of 32 bytes");
  std::memcpy(c.root.data(), root->data(), 32);
  for (size_t i = 3; i < lines.size(); ++i) c.extensions.emplace_back(lines[i]);
  return c;
}

}  // namespace consentd::ledger
