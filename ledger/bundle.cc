#include "ledger/bundle.h"

#include <algorithm>
#include <set>

#include "ledger/entry.h"
#include "ledger/format.h"
#include "ledger/merkle.h"
#include "src/base/bytes.h"

namespace consentd::ledger {
namespace {

constexpr size_t kMaxBundleBytes = 1 << 20;
constexpr size_t kMaxProofLines = 64;

Status Bad(std::string_view what) { return Status::InvalidArgument("proof bundle: " + std::string(what)); }

// Canonical decimal without leading zeros, < 2^64.
bool ParseIndex(std::string_view s, uint64_t* out) {
  if (s.empty() || s.size() > 20 || (s.size() > 1 && s[0] == '0')) return false;
  unsigned __int128 v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<unsigned>(c - '0');
  }
  if (v > UINT64_MAX) return false;
  *out = static_cast<uint64_t>(v);
  return true;
}

}  // namespace

std::string ProofBundle::Format() const {
  std::string out(kProofBundleHeader);
  out += "\n";
  if (has_entry) out += "extra " + Base64Encode(AsBytes(entry)) + "\n";
  out += "index " + std::to_string(index) + "\n";
  for (const Hash& h : proof) out += Base64Encode(AsBytes(h)) + "\n";
  out += "\n";
  out += checkpoint_note;
  return out;
}

Result<ProofBundle> ParseProofBundle(std::string_view text) {
  if (text.size() > kMaxBundleBytes) return Bad("larger than 1 MiB");
  if (text.find('\r') != std::string_view::npos) return Bad("contains a CR byte");
  ProofBundle b;
  auto next_line = [&](std::string_view* line) {
    size_t nl = text.find('\n');
    if (nl == std::string_view::npos) return false;
    *line = text.substr(0, nl);
    text.remove_prefix(nl + 1);
    return true;
  };
  std::string_view line;
  if (!next_line(&line) || line != kProofBundleHeader) return Bad("first line must be c2sp.org/tlog-proof@v1");
  if (!next_line(&line)) return Bad("missing index line");
  if (line.substr(0, 6) == "extra ") {
    Result<std::string> extra = Base64Decode(line.substr(6));
    if (!extra.ok() || Base64Encode(AsBytes(*extra)) != line.substr(6)) return Bad("extra is not canonical base64");
    b.has_entry = true;
    b.entry = std::move(*extra);
    if (!next_line(&line)) return Bad("missing index line");
  }
  if (line.substr(0, 6) != "index " || !ParseIndex(line.substr(6), &b.index)) {
    return Bad("index line must be 'index <decimal>'");
  }
  while (true) {
    if (!next_line(&line)) return Bad("missing blank line before the checkpoint");
    if (line.empty()) break;
    if (b.proof.size() == kMaxProofLines) return Bad("more than 64 proof lines");
    Result<std::string> raw = Base64Decode(line);
    if (!raw.ok() || raw->size() != 32 || Base64Encode(AsBytes(*raw)) != line) {
      return Bad("proof line " + std::to_string(b.proof.size() + 1) + " is not canonical base64 of 32 bytes");
    }
    Hash h;
    std::copy(raw->begin(), raw->end(), reinterpret_cast<char*>(h.data()));
    b.proof.push_back(h);
  }
  Result<Note> note = ParseNote(text);
  if (!note.ok()) return Bad("checkpoint: " + note.status().message());
  b.checkpoint_note = std::string(text);
  return b;
}

std::string BundleReport::Summary() const {
  if (!ok) return "FAIL: " + problem;
  std::string out = "OK: entry " + std::to_string(index) + " is in the tree of size " + std::to_string(checkpoint.size) +
                    " (root " + Base64Encode(AsBytes(checkpoint.root)) + ") signed by " + checkpoint.origin + "; " +
                    std::to_string(cosigners.size()) + " witness cosignature" + (cosigners.size() == 1 ? "" : "s");
  if (!cosigners.empty()) {
    out += " (";
    for (size_t i = 0; i < cosigners.size(); ++i) out += (i ? ", " : "") + cosigners[i];
    out += ")";
  }
  return out;
}

BundleReport VerifyProofBundle(std::string_view text, const BundleVerifyOptions& options) {
  BundleReport r;
  auto fail = [&](std::string problem) {
    r.ok = false;
    r.problem = std::move(problem);
    return r;
  };
  Result<ProofBundle> b = ParseProofBundle(text);
  if (!b.ok()) return fail(b.status().message());
  r.index = b->index;
  Result<Note> note = ParseNote(b->checkpoint_note);
  if (!note.ok()) return fail("checkpoint: " + note.status().message());
  Result<Checkpoint> cp = ParseCheckpointBody(note->text);
  if (!cp.ok()) return fail("checkpoint: " + cp.status().message());
  r.checkpoint = *cp;
  if (options.log_key.type != kEd25519SignatureType) return fail("the log key must be an Ed25519 (type 0x01) key");
  if (cp->origin != options.log_key.name) {
    return fail("checkpoint origin '" + cp->origin + "' is not the log key's name '" + options.log_key.name + "'");
  }
  std::vector<VerifierKey> keys{options.log_key};
  for (const VerifierKey& k : options.witness_keys) keys.push_back(k);
  Result<std::vector<std::string>> verified = VerifyNote(*note, keys);
  if (!verified.ok()) return fail("checkpoint: " + verified.status().message());
  if (std::find(verified->begin(), verified->end(), options.log_key.name) == verified->end()) {
    return fail("checkpoint is not signed by the log key");
  }
  std::set<std::string> cosigners;
  for (const VerifierKey& k : options.witness_keys) {
    if (k.name != options.log_key.name && std::count(verified->begin(), verified->end(), k.name) > 0) {
      cosigners.insert(k.name);
    }
  }
  r.cosigners.assign(cosigners.begin(), cosigners.end());
  if (r.cosigners.size() < options.min_cosignatures) {
    return fail(std::to_string(r.cosigners.size()) + " witness cosignatures verified, " +
                std::to_string(options.min_cosignatures) + " required");
  }
  if (!b->has_entry) return fail("the bundle does not carry the entry (no extra line)");
  r.entry = b->entry;
  if (options.require_ledger_entry) {
    Result<EntryView> e = ParseEntry(b->entry);
    if (!e.ok()) return fail("entry: " + e.status().message());
    if (e->seq != b->index) {
      return fail("entry holds seq " + std::to_string(e->seq) + " but the bundle is for index " +
                  std::to_string(b->index));
    }
  }
  if (b->index >= cp->size) {
    return fail("index " + std::to_string(b->index) + " is not below the checkpoint size " + std::to_string(cp->size));
  }
  Status s = VerifyInclusion(b->index, cp->size, LeafHash(AsBytes(b->entry)), b->proof, cp->root);
  if (!s.ok()) return fail("inclusion proof does not verify against the checkpoint: " + s.message());
  r.ok = true;
  return r;
}

}  // namespace consentd::ledger
