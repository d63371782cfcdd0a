#include "src/api/ledger_routes.h"

#include <httplib.h>

#include <nlohmann/json.hpp>

#include "ledger/bundle.h"
#include "ledger/merkle.h"
#include "ledger/tiles.h"
#include "src/base/bytes.h"
#include "src/witness/http_transport.h"

namespace consentd::api {
namespace {

using http::Method;
using http::Problem;
using http::Reply;
using http::ReplyJson;

constexpr uint64_t kMaxEntriesPerRequest = 1000;
constexpr const char* kImmutable = "public, max-age=31536000, immutable";
constexpr const char* kShortLived = "public, max-age=5";

// A query parameter as canonical decimal. Absent: `fallback` (or a 400 when
// there is none).
std::optional<Problem> SizeParam(const httplib::Request& req, const char* name, std::optional<uint64_t> fallback,
                                 uint64_t* out) {
  if (!req.has_param(name)) {
    if (fallback) {
      *out = *fallback;
      return std::nullopt;
    }
    return Problem::BadRequest(std::string(name) + " is required", std::string("/") + name);
  }
  std::string v = req.get_param_value(name);
  bool ok = !v.empty() && v.size() <= 19 && v.find_first_not_of("0123456789") == std::string::npos &&
            (v.size() == 1 || v[0] != '0');
  if (!ok) return Problem::BadRequest(std::string(name) + ": must be a decimal number without leading zeros",
                                      std::string("/") + name);
  *out = std::stoull(v);
  return std::nullopt;
}

nlohmann::json HashList(const std::vector<Hash>& hashes) {
  nlohmann::json out = nlohmann::json::array();
  for (const Hash& h : hashes) out.push_back(Base64Encode(AsBytes(h)));
  return out;
}

// The note served for `size`: the published one (with cosignatures) when it
// is that size, else the stored note.
Result<std::string> NoteForSize(service::Runtime& rt, const witness::Published& pub, uint64_t size) {
  if (size == pub.size) return pub.note;
  Result<ledger::StoredCheckpoint> cp = rt.ledger().CheckpointAt(size);
  if (!cp.ok()) return cp.status();
  return cp->signed_note;
}

// A signed size no larger than the published one; 400 naming `field` otherwise.
std::optional<Problem> RequireSigned(service::Runtime& rt, const witness::Published& pub, uint64_t size,
                                     const char* field) {
  if (size > pub.size) {
    return Problem::BadRequest(std::string(field) + ": beyond the published checkpoint of size " + std::to_string(pub.size),
                               std::string("/") + field);
  }
  if (size == pub.size) return std::nullopt;
  Result<ledger::StoredCheckpoint> cp = rt.ledger().CheckpointAt(size);
  if (!cp.ok()) {
    if (cp.status().code() == StatusCode::kNotFound) {
      return Problem::BadRequest(std::string(field) + ": the log signed no checkpoint of this size",
                                 std::string("/") + field);
    }
    return http::ProblemFromStatus(cp.status());
  }
  return std::nullopt;
}

}  // namespace

Result<std::unique_ptr<witness::CheckpointPublisher>> StartCheckpointPublisher(service::Runtime& rt,
                                                                               const obs::Logger& logger) {
  const service::Config& c = rt.config();
  witness::PublisherOptions o;
  for (const service::Config::Witness& w : c.witnesses) {
    Result<ledger::VerifierKey> k = ledger::ParseVerifierKey(w.vkey);
    if (!k.ok()) return Status::InvalidArgument("witness '" + w.name + "': vkey: " + k.status().message());
    if (k->name != w.name) return Status::InvalidArgument("witness '" + w.name + "': the vkey's name differs");
    Result<std::pair<std::string, std::string>> url = witness::SplitWitnessUrl(w.url);
    if (!url.ok()) return Status::InvalidArgument("witness '" + w.name + "': " + url.status().message());
    o.witnesses.push_back({w.name, w.url, *k});
  }
  o.quorum = c.witness_quorum;
  o.transport = witness::HttpTransport(std::chrono::milliseconds(c.witness_timeout_ms));
  o.logger = &logger;
  o.clock = &rt.clock();
  return witness::CheckpointPublisher::Start(rt.ledger(), std::move(o));
}

void RegisterLedgerRoutes(http::HttpServer& server, service::Runtime& rt, const witness::CheckpointPublisher& pub) {
  const std::vector<auth::Scope> scopes =
      rt.config().ledger_public ? std::vector<auth::Scope>{} : std::vector<auth::Scope>{auth::Scope::Auditor()};
  auto published = [&pub](httplib::Response& res) -> std::optional<witness::Published> {
    Result<witness::Published> p = pub.Current();
    if (!p.ok()) {
      Reply(res, http::ProblemFromStatus(p.status()));
      return std::nullopt;
    }
    return *p;
  };

  server.Handle({Method::kGet, "/ledger/checkpoint", "/ledger/checkpoint", scopes, 0},
                [published](const httplib::Request&, httplib::Response& res, const auth::Principal&) {
                  std::optional<witness::Published> p = published(res);
                  if (!p) return;
                  res.set_header("Cache-Control", "max-age=2");
                  res.set_content(p->note, "text/plain; charset=utf-8");
                });

  server.Handle({Method::kGet, R"(/ledger/(tile/.+))", "/ledger/tile/{tile}", scopes, 0},
                [&rt, published](const httplib::Request& req, httplib::Response& res, const auth::Principal&) {
                  Result<ledger::TileId> tile = ledger::ParseTilePath(req.matches[1].str());
                  if (!tile.ok()) return Reply(res, Problem::BadRequest(tile.status().message(), "/tile"));
                  std::optional<witness::Published> p = published(res);
                  if (!p) return;
                  Result<std::string> bytes = tile->entries ? ledger::ReadEntryBundle(rt.ledger(), *tile, p->size)
                                                            : ledger::ReadHashTile(rt.ledger(), *tile, p->size);
                  if (!bytes.ok()) return Reply(res, http::ProblemFromStatus(bytes.status()));
                  res.set_header("Cache-Control", tile->full() ? kImmutable : kShortLived);
                  res.set_content(std::move(*bytes), "application/octet-stream");
                });

  server.Handle({Method::kGet, "/v1/ledger/entries", "/v1/ledger/entries", scopes, 0},
                [&rt, published](const httplib::Request& req, httplib::Response& res, const auth::Principal&) {
                  std::optional<witness::Published> p = published(res);
                  if (!p) return;
                  uint64_t start = 0, end = 0;
                  if (auto e = SizeParam(req, "start", std::nullopt, &start)) return Reply(res, *e);
                  if (auto e = SizeParam(req, "end", std::min(p->size, start + 100), &end)) return Reply(res, *e);
                  if (start >= p->size) {
                    return Reply(res, Problem::BadRequest("start: must be below the published size " + std::to_string(p->size),
                                                          "/start"));
                  }
                  if (end <= start || end > p->size) {
                    return Reply(res, Problem::BadRequest("end: must be above start and at most the published size " +
                                                              std::to_string(p->size), "/end"));
                  }
                  if (end - start > kMaxEntriesPerRequest) {
                    return Reply(res, Problem::BadRequest("end: at most 1000 entries per request", "/end"));
                  }
                  nlohmann::json entries = nlohmann::json::array();
                  Status s = rt.ledger().ScanEntries(start, end, [&](uint64_t, std::string_view e) {
                    entries.push_back(Base64Encode(AsBytes(e)));
                    return Status::Ok();
                  });
                  if (!s.ok()) return Reply(res, http::ProblemFromStatus(s));
                  ReplyJson(res, nlohmann::json({{"start", start}, {"end", end}, {"tree_size", p->size},
                                                 {"entries", entries}}).dump());
                });

  server.Handle({Method::kGet, "/v1/ledger/proofs/inclusion", "/v1/ledger/proofs/inclusion", scopes, 0},
                [&rt, published](const httplib::Request& req, httplib::Response& res, const auth::Principal&) {
                  std::optional<witness::Published> p = published(res);
                  if (!p) return;
                  uint64_t index = 0, size = 0;
                  if (auto e = SizeParam(req, "index", std::nullopt, &index)) return Reply(res, *e);
                  if (auto e = SizeParam(req, "size", p->size, &size)) return Reply(res, *e);
                  if (auto e = RequireSigned(rt, *p, size, "size")) return Reply(res, *e);
                  if (index >= size) return Reply(res, Problem::BadRequest("index: must be below size", "/index"));
                  Result<std::vector<Hash>> proof = rt.ledger().InclusionProof(index, size);
                  Result<std::string> entry = rt.ledger().ReadEntry(index);
                  Result<std::string> note = NoteForSize(rt, *p, size);
                  if (!proof.ok()) return Reply(res, http::ProblemFromStatus(proof.status()));
                  if (!entry.ok()) return Reply(res, http::ProblemFromStatus(entry.status()));
                  if (!note.ok()) return Reply(res, http::ProblemFromStatus(note.status()));
                  ReplyJson(res, nlohmann::json({{"index", index},
                                                 {"size", size},
                                                 {"leaf_hash", Base64Encode(AsBytes(ledger::LeafHash(AsBytes(*entry))))},
                                                 {"proof", HashList(*proof)},
                                                 {"checkpoint", *note}}).dump());
                });

  server.Handle({Method::kGet, "/v1/ledger/proofs/consistency", "/v1/ledger/proofs/consistency", scopes, 0},
                [&rt, published](const httplib::Request& req, httplib::Response& res, const auth::Principal&) {
                  std::optional<witness::Published> p = published(res);
                  if (!p) return;
                  uint64_t from = 0, to = 0;
                  if (auto e = SizeParam(req, "from", std::nullopt, &from)) return Reply(res, *e);
                  if (auto e = SizeParam(req, "to", p->size, &to)) return Reply(res, *e);
                  if (from == 0) return Reply(res, Problem::BadRequest("from: must be at least 1", "/from"));
                  if (from > to) return Reply(res, Problem::BadRequest("from: must be at most to", "/from"));
                  if (auto e = RequireSigned(rt, *p, to, "to")) return Reply(res, *e);
                  if (auto e = RequireSigned(rt, *p, from, "from")) return Reply(res, *e);
                  Result<std::vector<Hash>> proof = rt.ledger().ConsistencyProof(from, to);
                  if (!proof.ok()) return Reply(res, http::ProblemFromStatus(proof.status()));
                  ReplyJson(res, nlohmann::json({{"from", from}, {"to", to}, {"proof", HashList(*proof)}}).dump());
                });

  server.Handle({Method::kGet, R"(/v1/ledger/bundles/([0-9]+))", "/v1/ledger/bundles/{index}", scopes, 0},
                [&rt, published](const httplib::Request& req, httplib::Response& res, const auth::Principal&) {
                  std::optional<witness::Published> p = published(res);
                  if (!p) return;
                  std::string text = req.matches[1].str();
                  if (text.size() > 19 || (text.size() > 1 && text[0] == '0')) {
                    return Reply(res, Problem::BadRequest("index: must be a decimal number without leading zeros", "/index"));
                  }
                  uint64_t index = std::stoull(text);
                  if (index >= p->size) {
                    return Reply(res, Problem::NotFound("entry " + text + " is not covered by the published checkpoint"));
                  }
                  ledger::ProofBundle b;
                  b.has_entry = true;
                  b.index = index;
                  Result<std::string> entry = rt.ledger().ReadEntry(index);
                  Result<std::vector<Hash>> proof = rt.ledger().InclusionProof(index, p->size);
                  if (!entry.ok()) return Reply(res, http::ProblemFromStatus(entry.status()));
                  if (!proof.ok()) return Reply(res, http::ProblemFromStatus(proof.status()));
                  b.entry = std::move(*entry);
                  b.proof = std::move(*proof);
                  b.checkpoint_note = p->note;
                  res.set_header("Content-Disposition", "attachment; filename=\"entry-" + text + ".tlog-proof\"");
                  res.set_content(b.Format(), "text/plain; charset=utf-8");
                });

  server.Handle({Method::kGet, "/v1/ledger/verifier-key", "/v1/ledger/verifier-key", scopes, 0},
                [&rt, &pub](const httplib::Request&, httplib::Response& res, const auth::Principal&) {
                  if (!rt.signer()) return Reply(res, Problem::Unavailable("no checkpoint key loaded"));
                  nlohmann::json ws = nlohmann::json::array();
                  for (const witness::WitnessEndpoint& w : pub.witnesses()) {
                    ws.push_back({{"name", w.name}, {"verifier_key", ledger::FormatVerifierKey(w.key)}});
                  }
                  ReplyJson(res, nlohmann::json({{"origin", rt.ledger().origin()},
                                                 {"verifier_key", rt.signer()->verifier_key_string()},
                                                 {"witnesses", ws},
                                                 {"witness_quorum", pub.quorum()}}).dump());
                });
}

}  // namespace consentd::api
