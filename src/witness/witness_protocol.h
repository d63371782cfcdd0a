// The wire format of C2SP tlog-witness add-checkpoint (c2sp.org/tlog-witness),
// as the log speaks it: the request body, the 409 size body and the 200
// cosignature lines, and the transport seam that sends a request.
//
//   POST <witness URL>/add-checkpoint
//   old <size>\n  <base64 consistency proof hash>\n ...  \n  <signed checkpoint>
//
// Thread-safety: pure functions; a WitnessTransport must be thread-safe.
#ifndef CONSENTD_WITNESS_WITNESS_PROTOCOL_H_
#define CONSENTD_WITNESS_WITNESS_PROTOCOL_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "ledger/note.h"
#include "src/base/result.h"
#include "src/base/sha256.h"

namespace consentd::witness {

// A configured witness: its name (the cosignature key name), the URL prefix
// that add-checkpoint is appended to, and its cosignature key (type 0x04).
struct WitnessEndpoint {
  std::string name;
  std::string url;
  ledger::VerifierKey key;
};

// The add-checkpoint request body. REQUIRES: proof empty when old_size == 0.
std::string AddCheckpointBody(uint64_t old_size, const std::vector<Hash>& proof, std::string_view signed_note);

// A witness's answer.
struct WitnessResponse {
  int status = 0;
  std::string content_type;
  std::string body;
};

// Sends one add-checkpoint request. Errors are transport failures
// (connection refused, timeout); any HTTP answer is a WitnessResponse.
using WitnessTransport = std::function<Result<WitnessResponse>(const WitnessEndpoint& witness, const std::string& body)>;

// Parses a 409 body "<decimal size>\n" (Content-Type text/x.tlog.size).
// kInvalidArgument on anything else.
Result<uint64_t> ParseTlogSize(std::string_view body);

// Parses a 200 body (one or more "— name base64" lines) and keeps the lines
// that are `witness`'s valid cosignatures of the checkpoint `body_text`
// (the note text). kInvalidArgument when a line is malformed, a line by this
// witness does not verify, or none is by this witness.
Result<std::vector<std::string>> VerifiedCosignatureLines(std::string_view response, const ledger::VerifierKey& witness,
                                                          std::string_view body_text);

// Appends cosignature lines to a signed note (which ends with "\n").
std::string NoteWithCosignatures(std::string_view signed_note, const std::vector<std::string>& lines);

}  // namespace consentd::witness

#endif  // CONSENTD_WITNESS_WITNESS_PROTOCOL_H_
