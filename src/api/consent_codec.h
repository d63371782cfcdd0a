// JSON <-> consent types for the HTTP API and imports (docs/api.md has the
// schemas). Decoding is strict: unknown members, wrong types and bad dates
// are errors naming the JSON pointer; values are never echoed.
//
// Thread-safety: pure functions.
#ifndef CONSENTD_API_CONSENT_CODEC_H_
#define CONSENTD_API_CONSENT_CODEC_H_

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "src/domain/identifier_kind.h"
#include "src/http/problem.h"
#include "src/service/consent_service.h"

namespace consentd::api {

// {"kind":"email","value":"...","qualifier":"..."} at `pointer`.
std::optional<http::Problem> DecodeIdentifier(const nlohmann::json& j, const std::string& pointer,
                                              domain::Identifier* out);

// A consent event object at `pointer` ("" for the body).
std::optional<http::Problem> DecodeConsentEvent(const nlohmann::json& j, const std::string& pointer,
                                                service::ConsentEvent* out);

// {"purpose","seq","outcome","reason","duplicate"} per purpose, with the sid.
nlohmann::json EncodeRecordResult(const service::RecordResult& r);

// {"purpose","allowed","state","since","source":{...}}.
nlohmann::json EncodeAnswer(std::string_view purpose, const service::ConsentAnswer& a);

// Appends EncodeAnswer(purpose, a) without "purpose" as JSON text, byte for
// byte what nlohmann would print for it, without building the object: a
// bulk check writes 10,000 of them.
void AppendAnswerWithoutPurpose(const service::ConsentAnswer& a, std::string* out);
// Appends EncodeAnswer(purpose, a) as JSON text, byte for byte what nlohmann
// would print for it (GET /v1/consents answers on the event loop).
void AppendAnswer(std::string_view purpose, const service::ConsentAnswer& a, std::string* out);

}  // namespace consentd::api

#endif  // CONSENTD_API_CONSENT_CODEC_H_
