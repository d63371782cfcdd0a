// The real WitnessTransport: POST <url>/add-checkpoint over HTTP or HTTPS
// (cpp-httplib), with connect and read timeouts so that a slow or dead
// witness costs the log at most `timeout` per attempt.
//
// Thread-safety: the returned transport is thread-safe (a client per call).
#ifndef CONSENTD_WITNESS_HTTP_TRANSPORT_H_
#define CONSENTD_WITNESS_HTTP_TRANSPORT_H_

#include <chrono>

#include "src/witness/witness_protocol.h"

namespace consentd::witness {

WitnessTransport HttpTransport(std::chrono::milliseconds timeout);

// Splits "http://host:port/prefix" into "http://host:port" and "/prefix"
// (no trailing slash). kInvalidArgument for other schemes or no host.
Result<std::pair<std::string, std::string>> SplitWitnessUrl(const std::string& url);

}  // namespace consentd::witness

#endif  // CONSENTD_WITNESS_HTTP_TRANSPORT_H_
