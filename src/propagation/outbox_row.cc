#include "src/propagation/outbox_row.h"

#include <array>

#include "src/base/bytes.h"
#include "src/base/sha256.h"

namespace consentd::propagation {
namespace {

constexpr std::array<std::string_view, 6> kStateNames = {"pending", "in_flight", "accepted",
                                                          "done",    "dead",      "discarded"};

}  // namespace

std::string_view RowStateName(RowState s) { return kStateNames[static_cast<size_t>(s)]; }

std::optional<RowState> ParseRowState(std::string_view name) {
  for (size_t i = 0; i < kStateNames.size(); ++i) {
    if (kStateNames[i] == name) return static_cast<RowState>(i);
  }
  return std::nullopt;
}

bool IsFinal(RowState s) { return s == RowState::kDone || s == RowState::kDead || s == RowState::kDiscarded; }

std::string_view DeliveryResultName(service::DeliveryResult r) {
  switch (r) {
    case service::DeliveryResult::kConfirmed: return "confirmed";
    case service::DeliveryResult::kAlreadyDone: return "already_done";
    case service::DeliveryResult::kFailed: return "failed";
    case service::DeliveryResult::kDiscarded: return "discarded";
  }
  return "failed";
}

std::string_view ChangeKindName(service::ChangeKind k) {
  return k == service::ChangeKind::kErasure ? "erasure" : "consent";
}

std::optional<service::ChangeKind> ParseChangeKind(std::string_view name) {
  if (name == "consent") return service::ChangeKind::kConsent;
  if (name == "erasure") return service::ChangeKind::kErasure;
  return std::nullopt;
}

std::string_view OperationName(service::ChangeKind k) {
  return k == service::ChangeKind::kErasure ? "erase" : "set_consent";
}

std::string IdempotencyKey(uint64_t cause_seq, std::string_view system) {
  Hash h = Sha256Of(system);
  return "cd-" + std::to_string(cause_seq) + "-" + HexEncode(ByteView(h.data(), 8));
}

std::string SanitizeCode(std::string_view code) {
  std::string out;
  for (char c : code.substr(0, 64)) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
              c == ':' || c == '-';
    out.push_back(ok ? c : '_');
  }
  return out.empty() ? "unknown" : out;
}

std::string SanitizeReference(std::string_view reference) {
  if (reference.empty() || reference.size() > 128) return "";
  for (char c : reference) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
              c == ':' || c == '/' || c == '=' || c == '+' || c == '@' || c == '-';
    if (!ok) return "";
  }
  return std::string(reference);
}

}  // namespace consentd::propagation
