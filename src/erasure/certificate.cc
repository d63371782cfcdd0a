#include "src/erasure/certificate.h"

#include <sodium.h>

#include <nlohmann/json.hpp>
#include <set>

#include "ledger/checkpoint.h"
#include "ledger/entry.h"
#include "ledger/merkle.h"
#include "src/base/bytes.h"
#include "src/base/time_format.h"
#include "src/erasure/erasure_service.h"

namespace consentd::erasure {
namespace {

using nlohmann::json;

std::string KeyIdHex(uint32_t id) {
  char buf[9];
  std::snprintf(buf, sizeof buf, "%08x", id);
  return buf;
}

std::string TimeOrNull(int64_t ms) { return ms > 0 ? FormatTimestampMillis(ms) : std::string(); }

}  // namespace

std::string CertificateMessage(std::string_view body_json) {
  std::string m(kCertificateFormat);
  m.push_back('\0');
  m.append(body_json);
  return m;
}

Result<std::string> BuildCertificate(const ErasureRequest& r, const ledger::Ledger& ledger,
                                     const ledger::StoredCheckpoint& cp, const ledger::Signer& signer,
                                     int64_t issued_at_ms) {
  const uint64_t size = cp.checkpoint.size;
  json request = {{"id", r.id},
                  {"sid", r.sid.ToHex()},
                  {"state", std::string(StateName(r.state))},
                  {"jurisdiction", r.jurisdiction},
                  {"channel", r.channel},
                  {"received_at", FormatTimestampMillis(r.received_at_ms)},
                  {"due", FormatDay(r.due)},
                  {"extended", r.extended},
                  {"closed_at", TimeOrNull(r.closed_ms)},
                  {"shredded_at", TimeOrNull(r.shredded_ms)}};
  json systems = json::array();
  for (const SystemProgress& p : r.systems) {
    systems.push_back({{"system", p.system},
                       {"status", p.status},
                       {"detail", p.detail},
                       {"reference", p.reference},
                       {"time", TimeOrNull(p.time_ms)},
                       {"outcome_seq", p.outcome_seq}});
  }
  json entries = json::array();
  for (const EntryRef& e : r.entries) {
    if (e.seq >= size) return Status::FailedPrecondition("the checkpoint does not cover entry " + std::to_string(e.seq));
    Result<std::string> bytes = ledger.ReadEntry(e.seq);
    if (!bytes.ok()) return bytes.status();
    Result<std::vector<Hash>> proof = ledger.InclusionProof(e.seq, size);
    if (!proof.ok()) return proof.status();
    json p = json::array();
    for (const Hash& h : *proof) p.push_back(Base64Encode(ByteView(h.data(), h.size())));
    entries.push_back({{"seq", e.seq}, {"entry", *bytes}, {"proof", p}});
  }
  json body = {{"request", request},
               {"systems", systems},
               {"entries", entries},
               {"checkpoint", cp.signed_note},
               {"issued_at", FormatTimestampMillis(issued_at_ms)}};
  const std::string body_json = body.dump();
  ledger::NoteSignature sig = signer.Sign(CertificateMessage(body_json));
  json cert = {{"format", std::string(kCertificateFormat)},
               {"body", body},
               {"signature",
                {{"algorithm", "ed25519"},
                 {"key_name", sig.name},
                 {"key_id", KeyIdHex(sig.key_id)},
                 {"value", Base64Encode(AsBytes(sig.signature))}}}};
  return cert.dump(2) + "\n";
}

Result<CertificateReport> VerifyCertificate(std::string_view text, const std::vector<ledger::VerifierKey>& keys) {
  json cert = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (cert.is_discarded() || !cert.is_object()) return Status::InvalidArgument("not a JSON document");
  if (!cert.contains("format") || cert["format"] != kCertificateFormat) {
    return Status::InvalidArgument("not an erasure certificate (format is not " + std::string(kCertificateFormat) + ")");
  }
  if (!cert.contains("body") || !cert["body"].is_object() || !cert.contains("signature") ||
      !cert["signature"].is_object()) {
    return Status::InvalidArgument("certificate: body and signature objects are required");
  }
  CertificateReport rep;
  const json& body = cert["body"];
  auto str = [](const json& o, const char* k) -> std::string {
    return o.is_object() && o.contains(k) && o[k].is_string() ? o[k].get<std::string>() : std::string();
  };
  const json& request = body.contains("request") ? body["request"] : json();
  rep.request_id = str(request, "id");
  rep.state = str(request, "state");

  // 1. The certificate's signature.
  {
    const json& s = cert["signature"];
    Result<std::string> value = Base64Decode(str(s, "value"));
    const ledger::VerifierKey* key = nullptr;
    for (const ledger::VerifierKey& k : keys) {
      if (k.type == 0x01 && k.name == str(s, "key_name") && KeyIdHex(k.key_id) == str(s, "key_id")) key = &k;
    }
    if (str(s, "algorithm") != "ed25519") {
      rep.problems.push_back("signature: algorithm must be ed25519");
    } else if (key == nullptr) {
      rep.problems.push_back("signature: made by a key that is not the given verifier key (" + str(s, "key_name") +
                             " " + str(s, "key_id") + ")");
    } else if (!value.ok() || value->size() != crypto_sign_BYTES) {
      rep.problems.push_back("signature: value is not a base64 Ed25519 signature");
    } else {
      const std::string m = CertificateMessage(body.dump());
      if (crypto_sign_verify_detached(reinterpret_cast<const unsigned char*>(value->data()),
                                      reinterpret_cast<const unsigned char*>(m.data()), m.size(),
                                      key->public_key.data()) != 0) {
        rep.problems.push_back("signature: does not verify (the certificate was altered after signing)");
      }
    }
  }

  // 2. The checkpoint and its signature.
  std::optional<ledger::Checkpoint> cp;
  {
    Result<ledger::Note> note = ledger::ParseNote(str(body, "checkpoint"));
    if (!note.ok()) {
      rep.problems.push_back("checkpoint: not a signed note: " + note.status().message());
    } else {
      Result<std::vector<std::string>> ok = ledger::VerifyNote(*note, keys);
      if (!ok.ok()) rep.problems.push_back("checkpoint: signature does not verify: " + ok.status().message());
      Result<ledger::Checkpoint> c = ledger::ParseCheckpointBody(note->text);
      if (!c.ok()) {
        rep.problems.push_back("checkpoint: " + c.status().message());
      } else {
        cp = *c;
        rep.checkpoint_size = c->size;
      }
    }
  }

  // 3. Every entry: its bytes, its proof, and that it is about this request.
  std::set<uint64_t> seqs;
  std::set<std::string> kinds;
  if (!body.contains("entries") || !body["entries"].is_array() || body["entries"].empty()) {
    rep.problems.push_back("entries: missing");
  } else {
    for (const json& e : body["entries"]) {
      const uint64_t seq = e.contains("seq") && e["seq"].is_number_unsigned() ? e["seq"].get<uint64_t>() : UINT64_MAX;
      const std::string where = "entry " + (seq == UINT64_MAX ? std::string("?") : std::to_string(seq));
      const std::string bytes = str(e, "entry");
      Result<ledger::EntryView> v = ledger::ParseEntry(bytes);
      if (!v.ok()) {
        rep.problems.push_back(where + ": not a ledger entry: " + v.status().message());
        continue;
      }
      if (v->seq != seq) {
        rep.problems.push_back(where + ": its bytes say seq " + std::to_string(v->seq));
        continue;
      }
      seqs.insert(seq);
      kinds.insert(std::string(v->kind));
      if (v->kind.substr(0, 8) == "erasure.") {
        json payload = json::parse(v->payload.begin(), v->payload.end(), nullptr, false);
        std::string about = str(payload, "request");
        if (v->kind == "erasure.linked" ) about = str(payload, "linked_to");
        if (about != rep.request_id) rep.problems.push_back(where + ": records another request");
      }
      if (!cp) continue;
      if (seq >= cp->size) {
        rep.problems.push_back(where + ": not covered by the checkpoint (size " + std::to_string(cp->size) + ")");
        continue;
      }
      std::vector<Hash> proof;
      bool decoded = e.contains("proof") && e["proof"].is_array();
      for (size_t i = 0; decoded && i < e["proof"].size(); ++i) {
        Result<std::string> h = e["proof"][i].is_string() ? Base64Decode(e["proof"][i].get<std::string>())
                                                          : Result<std::string>(Status::InvalidArgument(""));
        if (!h.ok() || h->size() != 32) {
          decoded = false;
          break;
        }
        Hash x;
        std::copy(h->begin(), h->end(), x.begin());
        proof.push_back(x);
      }
      if (!decoded) {
        rep.problems.push_back(where + ": proof is not a list of base64 SHA-256 hashes");
        continue;
      }
      Status s = ledger::VerifyInclusion(seq, cp->size, ledger::LeafHash(AsBytes(bytes)), proof, cp->root);
      if (!s.ok()) {
        rep.problems.push_back(where + ": inclusion proof does not verify against the checkpoint: " + s.message());
        continue;
      }
      ++rep.entries_verified;
    }
  }

  // 4. The request's story is complete: filed, closed, shredded, and every
  // system's outcome is among the proven entries.
  for (const char* k : {"erasure.received", "erasure.shredded"}) {
    if (kinds.count(k) == 0) rep.problems.push_back(std::string("entries: no ") + k + " entry");
  }
  if (kinds.count("erasure." + rep.state) == 0) rep.problems.push_back("entries: no entry records the state " + rep.state);
  if (body.contains("systems") && body["systems"].is_array()) {
    for (const json& s : body["systems"]) {
      uint64_t seq = s.contains("outcome_seq") && s["outcome_seq"].is_number_unsigned() ? s["outcome_seq"].get<uint64_t>() : 0;
      if (seq != 0 && seqs.count(seq) == 0) {
        rep.problems.push_back("system " + str(s, "system") + ": its outcome entry " + std::to_string(seq) +
                               " is not in the certificate");
      }
    }
  } else {
    rep.problems.push_back("systems: missing");
  }
  return rep;
}

}  // namespace consentd::erasure
