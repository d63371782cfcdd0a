// Checkpoints in the c2sp.org/tlog-checkpoint format: the body of a signed
// note with the origin, the tree size and the base64 root hash.
//
// Thread-safety: value types and pure functions.
#ifndef CONSENTD_LEDGER_CHECKPOINT_H_
#define CONSENTD_LEDGER_CHECKPOINT_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "src/base/result.h"
#include "src/base/sha256.h"

namespace consentd::ledger {

struct Checkpoint {
  std::string origin;
  uint64_t size = 0;
  Hash root{};
  std::vector<std::string> extensions;  // extra lines; consentd writes none

  // "<origin>\n<size>\n<base64 root>\n" followed by extension lines.
  std::string Body() const;
};

// Parses a checkpoint body (the note text). Strict: decimal size without
// leading zeros, 32-byte root in canonical base64, non-empty lines.
Result<Checkpoint> ParseCheckpointBody(std::string_view body);

}  // namespace consentd::ledger

#endif  // CONSENTD_LEDGER_CHECKPOINT_H_
