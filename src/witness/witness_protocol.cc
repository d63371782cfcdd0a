#include "src/witness/witness_protocol.h"

#include "ledger/format.h"
#include "src/base/bytes.h"

namespace consentd::witness {

std::string AddCheckpointBody(uint64_t old_size, const std::vector<Hash>& proof, std::string_view signed_note) {
  std::string out = "old " + std::to_string(old_size) + "\n";
  for (const Hash& h : proof) out += Base64Encode(AsBytes(h)) + "\n";
  out += "\n";
  out += signed_note;
  return out;
}

Result<uint64_t> ParseTlogSize(std::string_view body) {
  if (body.empty() || body.back() != '\n') return Status::InvalidArgument("witness size: not one line");
  body.remove_suffix(1);
  if (body.empty() || body.size() > 20 || (body.size() > 1 && body[0] == '0')) {
    return Status::InvalidArgument("witness size: not a canonical decimal");
  }
  unsigned __int128 v = 0;
  for (char c : body) {
    if (c < '0' || c > '9') return Status::InvalidArgument("witness size: not a canonical decimal");
    v = v * 10 + static_cast<unsigned>(c - '0');
  }
  if (v > UINT64_MAX) return Status::InvalidArgument("witness size: too large");
  return static_cast<uint64_t>(v);
}

Result<std::vector<std::string>> VerifiedCosignatureLines(std::string_view response, const ledger::VerifierKey& witness,
                                                          std::string_view body_text) {
  if (response.size() > 64 * 1024) return Status::InvalidArgument("cosignature response: too large");
  if (response.empty() || response.back() != '\n') return Status::InvalidArgument("cosignature response: not lines");
  // Reuse the note parser: the lines are the signature block of a note.
  std::string note(body_text);
  note += "\n";
  note += response;
  Result<ledger::Note> parsed = ledger::ParseNote(note);
  if (!parsed.ok()) return Status::InvalidArgument("cosignature response: " + parsed.status().message());
  std::vector<std::string> lines;
  size_t start = 0;
  for (const ledger::NoteSignature& sig : parsed->signatures) {
    size_t nl = response.find('\n', start);
    std::string line(response.substr(start, nl - start));
    start = nl + 1;
    if (sig.name != witness.name || sig.key_id != witness.key_id) continue;
    ledger::Note one{parsed->text, {sig}};
    Result<std::vector<std::string>> v = ledger::VerifyNote(one, {witness});
    if (!v.ok()) return Status::InvalidArgument("cosignature response: " + v.status().message());
    lines.push_back(line);
  }
  if (lines.empty()) return Status::InvalidArgument("cosignature response: no cosignature by " + witness.name);
  return lines;
}

std::string NoteWithCosignatures(std::string_view signed_note, const std::vector<std::string>& lines) {
  std::string out(signed_note);
  for (const std::string& l : lines) out += l + "\n";
  return out;
}

}  // namespace consentd::witness
