// The version of a policy: "sha256:" followed by the lower-case hex SHA-256
// of the documents' bytes in load order, each prefixed by its length as an
// 8-byte big-endian integer:
//
//   version = "sha256:" || hex(SHA-256( len(d1) || d1 || len(d2) || d2 ... ))
//
// The length prefix makes the encoding injective (moving bytes from one file
// to the next changes the version). The bytes are hashed exactly as read, so
// any byte change, even whitespace, gives a new version; file names are not
// part of it. Every ledger decision records the version it was made under.
//
// Thread-safety: a pure function.
#ifndef CONSENTD_POLICIES_POLICY_VERSION_H_
#define CONSENTD_POLICIES_POLICY_VERSION_H_

#include <span>
#include <string>

namespace consentd::policies {

// `documents`: the raw bytes of each document, in load order.
std::string PolicyVersion(std::span<const std::string> documents);

}  // namespace consentd::policies

#endif  // CONSENTD_POLICIES_POLICY_VERSION_H_
