// Certificates of erasure: built after completion, verified offline with the
// log's verifier key; every kind of tampering is caught and named.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "ledger/note.h"
#include "src/base/bytes.h"
#include "src/erasure/certificate.h"
#include "tests/erasure/erasure_env.h"

namespace consentd::erasure {
namespace {

using testing::ErasureEnv;

std::string CompletedCertificate(ErasureEnv& env, std::string* id_out = nullptr) {
  const std::string id = env.FileVerified("cert.subject@example.com");
  env.Deliver(id, "hubspot", service::DeliveryResult::kFailed, "http_403");
  env.ConfirmAll(id);
  REQUIRE(env.erasure().ProcessReady().ok());
  Result<std::string> cert = env.erasure().Certificate(id, env.signer());
  if (!cert.ok()) FAIL(cert.status().ToString());
  if (id_out) *id_out = id;
  return *cert;
}

// Re-signs a modified body with the log's key: what a dishonest operator
// holding the key could do, so that the other checks must catch it.
std::string Resign(const nlohmann::json& cert, const ledger::Signer& signer) {
  nlohmann::json c = cert;
  ledger::NoteSignature s = signer.Sign(CertificateMessage(c["body"].dump()));
  c["signature"]["value"] = Base64Encode(AsBytes(s.signature));
  return c.dump();
}

TEST_CASE("A certificate verifies offline: signature, checkpoint and every inclusion proof", "[erasure][certificate]") {
  ErasureEnv env;
  std::string id;
  const std::string text = CompletedCertificate(env, &id);
  Result<CertificateReport> rep = VerifyCertificate(text, {env.signer().verifier_key()});
  REQUIRE(rep.ok());
  for (const std::string& p : rep->problems) UNSCOPED_INFO(p);
  CHECK(rep->ok());
  CHECK(rep->request_id == id);
  CHECK(rep->state == "partially_completed");
  nlohmann::json j = nlohmann::json::parse(text);
  CHECK(rep->entries_verified == j["body"]["entries"].size());
  CHECK(rep->entries_verified >= 4 + env.policy()->systems.size());
  CHECK(rep->checkpoint_size > j["body"]["entries"].back()["seq"].get<uint64_t>());
  // Systems and their outcomes are listed.
  CHECK(j["body"]["systems"].size() == env.policy()->systems.size());
  CHECK(text.find("cert.subject") == std::string::npos);
}

TEST_CASE("No certificate before completion and shredding", "[erasure][certificate]") {
  ErasureEnv env;
  const std::string id = env.FileVerified("early@example.com");
  Result<std::string> c = env.erasure().Certificate(id, env.signer());
  CHECK(c.status().code() == StatusCode::kFailedPrecondition);
}

TEST_CASE("Flipping a byte anywhere in the signed body fails the signature", "[erasure][certificate]") {
  ErasureEnv env;
  const std::string text = CompletedCertificate(env);
  nlohmann::json cert = nlohmann::json::parse(text);
  std::string status = cert["body"]["systems"][0]["status"];
  cert["body"]["systems"][0]["status"] = status == "failed" ? "confirmed" : "failed";
  Result<CertificateReport> rep = VerifyCertificate(cert.dump(), {env.signer().verifier_key()});
  REQUIRE(rep.ok());
  REQUIRE_FALSE(rep->ok());
  CHECK_THAT(rep->problems[0], Catch::StartsWith("signature: does not verify"));

  // A raw byte flip inside the text (in the request's sid).
  std::string flipped = text;
  size_t at = flipped.find("\"sid\": \"") + 9;
  flipped[at] = flipped[at] == 'a' ? 'b' : 'a';
  rep = VerifyCertificate(flipped, {env.signer().verifier_key()});
  REQUIRE(rep.ok());
  CHECK_FALSE(rep->ok());
}

TEST_CASE("A forged entry or proof fails its inclusion proof even when re-signed", "[erasure][certificate]") {
  ErasureEnv env;
  nlohmann::json cert = nlohmann::json::parse(CompletedCertificate(env));
  SECTION("entry bytes changed") {
    std::string e = cert["body"]["entries"][0]["entry"];
    size_t at = e.find("\"channel\":\"api\"");
    REQUIRE(at != std::string::npos);
    e.replace(at, 15, "\"channel\":\"web\"");
    cert["body"]["entries"][0]["entry"] = e;
    uint64_t seq = cert["body"]["entries"][0]["seq"];
    Result<CertificateReport> rep = VerifyCertificate(Resign(cert, env.signer()), {env.signer().verifier_key()});
    REQUIRE(rep.ok());
    REQUIRE(rep->problems.size() == 1);
    CHECK_THAT(rep->problems[0], Catch::StartsWith("entry " + std::to_string(seq) +
                                                   ": inclusion proof does not verify against the checkpoint"));
  }
  SECTION("a proof hash changed") {
    std::string h = cert["body"]["entries"][1]["proof"][0];
    h[0] = h[0] == 'A' ? 'B' : 'A';
    cert["body"]["entries"][1]["proof"][0] = h;
    Result<CertificateReport> rep = VerifyCertificate(Resign(cert, env.signer()), {env.signer().verifier_key()});
    REQUIRE(rep.ok());
    REQUIRE(rep->problems.size() == 1);
    CHECK_THAT(rep->problems[0], Catch::Contains("inclusion proof does not verify"));
  }
  SECTION("an entry left out") {
    cert["body"]["entries"].erase(cert["body"]["entries"].size() - 1);  // erasure.shredded
    Result<CertificateReport> rep = VerifyCertificate(Resign(cert, env.signer()), {env.signer().verifier_key()});
    REQUIRE(rep.ok());
    REQUIRE_FALSE(rep->ok());
    CHECK(rep->problems[0] == "entries: no erasure.shredded entry");
  }
  SECTION("the checkpoint altered") {
    std::string cp = cert["body"]["checkpoint"];
    size_t nl = cp.find('\n');
    cp.replace(nl + 1, 1, cp[nl + 1] == '9' ? "8" : "9");
    cert["body"]["checkpoint"] = cp;
    Result<CertificateReport> rep = VerifyCertificate(Resign(cert, env.signer()), {env.signer().verifier_key()});
    REQUIRE(rep.ok());
    REQUIRE_FALSE(rep->ok());
    CHECK_THAT(rep->problems[0], Catch::StartsWith("checkpoint: signature does not verify"));
  }
}

TEST_CASE("Another key does not verify a certificate, a non-certificate is refused", "[erasure][certificate]") {
  ErasureEnv env;
  const std::string text = CompletedCertificate(env);
  Result<ledger::Signer> other = ledger::Signer::Generate("example.com/erasure-test");
  REQUIRE(other.ok());
  Result<CertificateReport> rep = VerifyCertificate(text, {other->verifier_key()});
  REQUIRE(rep.ok());
  CHECK_FALSE(rep->ok());
  CHECK_THAT(rep->problems[0], Catch::StartsWith("signature: made by a key that is not the given verifier key"));
  CHECK(VerifyCertificate("{", {env.signer().verifier_key()}).status().code() == StatusCode::kInvalidArgument);
  CHECK(VerifyCertificate(R"({"format":"x"})", {env.signer().verifier_key()}).status().code() ==
        StatusCode::kInvalidArgument);
  CHECK(VerifyCertificate(text.substr(0, text.size() / 2), {env.signer().verifier_key()}).status().code() ==
        StatusCode::kInvalidArgument);
}

TEST_CASE("A certificate signature can never be taken for a checkpoint signature", "[erasure][certificate]") {
  // The signed message holds a NUL byte; a signed note's text cannot.
  const std::string m = CertificateMessage("{\"x\":1}");
  CHECK(m.find('\0') == std::string(kCertificateFormat).size());
  ledger::Note n;
  n.text = m + "\n";
  n.signatures.push_back({"k", 1, std::string(64, 'x')});
  CHECK_FALSE(ledger::ParseNote(ledger::FormatNote(n)).ok());
}

}  // namespace
}  // namespace consentd::erasure
