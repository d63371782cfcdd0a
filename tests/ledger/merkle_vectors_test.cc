// Known-answer tests: every vector group of ../shared/vectors/merkle-vectors.json
// (RFC 6962 hashing, the CT reference tree, CT C++ and transparency-dev proof
// probes, all proofs for n <= 8 from Go tlog, the "abc" tree, C2SP signed
// notes and the worked checkpoint of ../shared/reference/ledger.md §3.7).
#include <catch2/catch.hpp>

#include <optional>
#include <string>
#include <vector>

#include "ledger/checkpoint.h"
#include "ledger/format.h"
#include "ledger/merkle.h"
#include "ledger/note.h"
#include "src/base/bytes.h"
#include "src/base/sha256.h"
#include "tests/ledger/test_util.h"

namespace consentd::ledger {
namespace {

using consentd::testing::HashesFromJson;
using consentd::testing::HashFromBytes;
using consentd::testing::HashFromHex;
using consentd::testing::HexOf;
using consentd::testing::MemoryTree;
using consentd::testing::MerkleVectors;
using consentd::testing::Unhex;
using json = nlohmann::json;

std::string Str(const json& j) { return j.get<std::string>(); }

// The CT reference tree (8 leaves) as an in-memory node store.
const MemoryTree& ReferenceTree() {
  static const MemoryTree* tree = [] {
    auto* t = new MemoryTree;
    for (const auto& in : MerkleVectors()["ct_reference_tree"]["leaf_inputs_hex"]) t->AppendEntry(Unhex(Str(in)));
    return t;
  }();
  return *tree;
}

// A proof vector's hashes, or nullopt when one of them is not 32 bytes long
// (the probes carry such "garbage" on purpose). Our API takes Hash, a
// 32-byte array, so a strict caller cannot even pass them: it rejects.
std::optional<Hash> StrictHash(const json& hex) { return HashFromBytes(Unhex(Str(hex))); }
std::optional<std::vector<Hash>> StrictHashes(const json& array) {
  std::vector<Hash> out;
  for (const auto& h : array) {
    std::optional<Hash> one = StrictHash(h);
    if (!one) return std::nullopt;
    out.push_back(*one);
  }
  return out;
}

// Inclusion as a strict client does it: every hash must be 32 bytes, then
// VerifyInclusion decides.
bool StrictVerifyInclusion(const json& v) {
  std::optional<Hash> leaf = StrictHash(v["leaf_hash"]);
  std::optional<Hash> root = StrictHash(v["root"]);
  std::optional<std::vector<Hash>> path = StrictHashes(v["path"]);
  if (!leaf || !root || !path) return false;
  return VerifyInclusion(v["index"].get<uint64_t>(), v["tree_size"].get<uint64_t>(), *leaf, *path, *root).ok();
}

bool StrictVerifyConsistency(const json& v) {
  std::optional<Hash> root1 = StrictHash(v["root1"]);
  std::optional<Hash> root2 = StrictHash(v["root2"]);
  std::optional<std::vector<Hash>> proof = StrictHashes(v["proof"]);
  if (!root1 || !root2 || !proof) return false;
  return VerifyConsistency(v["size1"].get<uint64_t>(), v["size2"].get<uint64_t>(), *root1, *root2, *proof).ok();
}

bool AllHashesAre32Bytes(const json& v) {
  for (const char* field : {"leaf_hash", "root", "root1", "root2"}) {
    if (v.contains(field) && Str(v[field]).size() != 64) return false;
  }
  for (const char* field : {"path", "proof"}) {
    if (!v.contains(field)) continue;
    for (const auto& h : v[field]) {
      if (Str(h).size() != 64) return false;
    }
  }
  return true;
}

std::vector<std::string> HexList(const std::vector<Hash>& hashes) {
  std::vector<std::string> out;
  for (const Hash& h : hashes) out.push_back(HexOf(h));
  return out;
}
std::vector<std::string> HexList(const json& array) {
  std::vector<std::string> out;
  for (const auto& h : array) out.push_back(Str(h));
  return out;
}

// ---------------------------------------------------------------------------
// hasher_unit

TEST_CASE("The empty tree root, leaf hashes and node hashes match the transparency-dev hasher vectors",
          "[merkle][kat]") {
  const json& cases = MerkleVectors()["hasher_unit"]["cases"];
  REQUIRE(cases.size() == 4);
  int checked = 0;
  for (const auto& c : cases) {
    CAPTURE(Str(c["desc"]));
    Hash expect = HashFromHex(Str(c["expect"]));
    if (c.contains("leaf_data_hex")) {
      CHECK(HexOf(LeafHash(AsBytes(Unhex(Str(c["leaf_data_hex"]))))) == HexOf(expect));
      ++checked;
    } else if (c.contains("left_hex")) {
      // Children that are not 32 bytes test only the 0x01 prefix; NodeHash
      // takes 32-byte hashes, so check the prefixed hash it is built on.
      std::string both = Unhex(Str(c["left_hex"])) + Unhex(Str(c["right_hex"]));
      CHECK(HexOf(Sha256WithPrefix(kNodeHashPrefix, AsBytes(both))) == HexOf(expect));
      ++checked;
    } else {
      CHECK(HexOf(EmptyRoot()) == HexOf(expect));
      ++checked;
    }
  }
  CHECK(checked == 4);
}

TEST_CASE("NodeHash is SHA-256 of 0x01, the left child and the right child", "[merkle][kat]") {
  Hash l = Sha256Of(std::string_view("left"));
  Hash r = Sha256Of(std::string_view("right"));
  std::string both(reinterpret_cast<const char*>(l.data()), 32);
  both.append(reinterpret_cast<const char*>(r.data()), 32);
  CHECK(HexOf(NodeHash(l, r)) == HexOf(Sha256WithPrefix(0x01, AsBytes(both))));
  CHECK(HexOf(NodeHash(l, r)) != HexOf(NodeHash(r, l)));
}

// ---------------------------------------------------------------------------
// ct_reference_tree

TEST_CASE("Leaf hashes of the CT reference inputs match the vectors", "[merkle][kat]") {
  const json& tree = MerkleVectors()["ct_reference_tree"];
  const json& inputs = tree["leaf_inputs_hex"];
  REQUIRE(inputs.size() == 8);
  for (size_t i = 0; i < inputs.size(); ++i) {
    CAPTURE(i);
    CHECK(HexOf(LeafHash(AsBytes(Unhex(Str(inputs[i]))))) == Str(tree["leaf_hashes"][i]));
  }
}

TEST_CASE("Roots of the CT reference tree for sizes 0 to 8 match the vectors", "[merkle][kat]") {
  const json& roots = MerkleVectors()["ct_reference_tree"]["roots_by_size"];
  REQUIRE(roots.size() == 9);
  const MemoryTree& tree = ReferenceTree();
  MemoryTree incremental;
  for (uint64_t size = 0; size <= 8; ++size) {
    CAPTURE(size);
    std::string want = Str(roots[std::to_string(size)]);
    Result<Hash> root = RootFromNodes(tree.Source(), size);
    REQUIRE(root.ok());
    CHECK(HexOf(*root) == want);
    CHECK(HexOf(incremental.frontier().Root()) == want);
    Result<TreeFrontier> f = TreeFrontier::FromNodes(tree.Source(), size);
    REQUIRE(f.ok());
    CHECK(HexOf(f->Root()) == want);
    if (size < 8) incremental.Append(tree.leaves()[size]);
  }
}

TEST_CASE("Stored perfect-subtree hashes of the CT reference tree match the node hashes by level",
          "[merkle][kat]") {
  const json& levels = MerkleVectors()["ct_reference_tree"]["node_hashes_by_level"];
  REQUIRE(levels.size() == 4);
  const MemoryTree& tree = ReferenceTree();
  int compared = 0;
  for (int level = 0; level < 4; ++level) {
    const json& hashes = levels["level" + std::to_string(level)];
    REQUIRE(hashes.size() == (8u >> level));
    for (uint64_t k = 0; k < hashes.size(); ++k) {
      CAPTURE(level, k);
      Result<Hash> stored = tree.Node(level, k);
      REQUIRE(stored.ok());
      CHECK(HexOf(*stored) == Str(hashes[k]));
      Result<Hash> sub = SubtreeHash(tree.Source(), k << level, (k + 1) << level);
      REQUIRE(sub.ok());
      CHECK(HexOf(*sub) == Str(hashes[k]));
      ++compared;
    }
  }
  CHECK(compared == 15);
  CHECK_FALSE(tree.Node(4, 0).ok());  // 8 leaves complete no level-4 node
}

// ---------------------------------------------------------------------------
// ct_cpp_kat

TEST_CASE("CT C++ known-answer inclusion proofs are generated byte for byte and verify", "[merkle][kat]") {
  const json& cases = MerkleVectors()["ct_cpp_kat"]["inclusion"];
  REQUIRE(cases.size() == 5);
  for (const auto& c : cases) {
    uint64_t index = c["index"].get<uint64_t>();
    uint64_t size = c["tree_size"].get<uint64_t>();
    CAPTURE(index, size);
    Result<std::vector<Hash>> proof = InclusionProofFromNodes(ReferenceTree().Source(), index, size);
    REQUIRE(proof.ok());
    CHECK(HexList(*proof) == HexList(c["path"]));
    CHECK(VerifyInclusion(index, size, HashFromHex(Str(c["leaf_hash"])), HashesFromJson(c["path"]),
                          HashFromHex(Str(c["root"])))
              .ok());
  }
}

TEST_CASE("CT C++ known-answer consistency proofs are generated byte for byte and verify", "[merkle][kat]") {
  const json& cases = MerkleVectors()["ct_cpp_kat"]["consistency"];
  REQUIRE(cases.size() == 4);
  for (const auto& c : cases) {
    uint64_t m = c["size1"].get<uint64_t>();
    uint64_t n = c["size2"].get<uint64_t>();
    CAPTURE(m, n);
    Result<std::vector<Hash>> proof = ConsistencyProofFromNodes(ReferenceTree().Source(), m, n);
    REQUIRE(proof.ok());
    CHECK(HexList(*proof) == HexList(c["proof"]));
    CHECK(VerifyConsistency(m, n, HashFromHex(Str(c["root1"])), HashFromHex(Str(c["root2"])),
                            HashesFromJson(c["proof"]))
              .ok());
  }
}

// ---------------------------------------------------------------------------
// transparency_dev_probes

TEST_CASE("Every transparency-dev inclusion probe gets transparency-dev's verdict", "[merkle][kat]") {
  const json& probes = MerkleVectors()["transparency_dev_probes"]["inclusion"];
  REQUIRE(probes.size() == 34);
  int valid = 0;
  int invalid = 0;
  for (const auto& p : probes) {
    CAPTURE(Str(p["file"]));
    bool want = p["want_valid"].get<bool>();
    CHECK(StrictVerifyInclusion(p) == want);
    (want ? valid : invalid)++;
  }
  CHECK(valid == 5);
  CHECK(invalid == 29);
}

TEST_CASE("Every transparency-dev consistency probe gets transparency-dev's verdict", "[merkle][kat]") {
  const json& probes = MerkleVectors()["transparency_dev_probes"]["consistency"];
  REQUIRE(probes.size() == 34);
  int valid = 0;
  int invalid = 0;
  for (const auto& p : probes) {
    CAPTURE(Str(p["file"]));
    bool want = p["want_valid"].get<bool>();
    // ledger.md §1.5: the only probe whose verdict differs from a strict
    // 32-byte verifier is sizes-are-equal-one-and-proof-is-empty (12-byte
    // placeholder roots, expected valid). Any other probe with a hash that is
    // not 32 bytes must be an expected failure.
    if (want && !AllHashesAre32Bytes(p)) {
      CHECK(Str(p["file"]) == "testdata/consistency/additional/sizes-are-equal-one-and-proof-is-empty.json");
      CHECK_FALSE(StrictVerifyConsistency(p));
    } else {
      CHECK(StrictVerifyConsistency(p) == want);
    }
    (want ? valid : invalid)++;
  }
  CHECK(valid == 5);
  CHECK(invalid == 29);
}

TEST_CASE("Probes with hashes of a wrong length are rejected before verification, as transparency-dev does",
          "[merkle][kat]") {
  int garbage = 0;
  for (const char* kind : {"inclusion", "consistency"}) {
    for (const auto& p : MerkleVectors()["transparency_dev_probes"][kind]) {
      if (AllHashesAre32Bytes(p)) continue;
      CAPTURE(Str(p["file"]));
      ++garbage;
      CHECK_FALSE(p["want_valid"].get<bool>());
      bool verdict = std::string_view(kind) == "inclusion" ? StrictVerifyInclusion(p) : StrictVerifyConsistency(p);
      CHECK_FALSE(verdict);
    }
  }
  // wrong-leaf (9 bytes) and trailing-garbage (0 bytes) x 5 inclusion groups,
  // trailing-garbage and wrong-root2 x 4 consistency groups, plus 3
  // "additional" probes with "don't care" roots.
  CHECK(garbage == 10 + 8 + 3);
}

TEST_CASE("The sizes-are-equal-one probe with a 12-byte placeholder root is rejected by our strict verifier",
          "[merkle][kat]") {
  // ledger.md §1.5: transparency-dev's
  // testdata/consistency/additional/sizes-are-equal-one-and-proof-is-empty.json
  // has size1 = size2 = 1, an empty proof and root1 = root2 = "don't care 2"
  // (12 bytes), and transparency-dev accepts it because it compares the roots
  // without a length check. The vectors file does not carry that probe, so it
  // is rebuilt here. A root that is not 32 bytes is not a SHA-256 root: a
  // strict verifier rejects the proof; that is our deliberate difference.
  json probe = {{"size1", 1}, {"size2", 1}, {"proof", json::array()},
                {"root1", consentd::HexEncode(AsBytes("don't care 2"))},
                {"root2", consentd::HexEncode(AsBytes("don't care 2"))}};
  REQUIRE(Str(probe["root1"]).size() == 24);
  CHECK_FALSE(StrictVerifyConsistency(probe));
  // With real 32-byte roots the same shape (equal sizes, empty proof, equal
  // roots) is accepted: the rejection is about the length only.
  Hash root = ReferenceTree().leaves()[0];
  CHECK(VerifyConsistency(1, 1, root, root, {}).ok());
}

// ---------------------------------------------------------------------------
// all_proofs_n_le_8

TEST_CASE("All 36 inclusion proofs for trees of up to 8 leaves match Go tlog byte for byte and verify",
          "[merkle][kat]") {
  const json& cases = MerkleVectors()["all_proofs_n_le_8"]["inclusion"];
  REQUIRE(cases.size() == 36);
  const MemoryTree& tree = ReferenceTree();
  for (const auto& c : cases) {
    uint64_t index = c["index"].get<uint64_t>();
    uint64_t size = c["tree_size"].get<uint64_t>();
    CAPTURE(index, size);
    CHECK(Str(c["leaf_hash"]) == HexOf(tree.leaves()[index]));
    Result<Hash> root = RootFromNodes(tree.Source(), size);
    REQUIRE(root.ok());
    CHECK(HexOf(*root) == Str(c["root"]));
    Result<std::vector<Hash>> proof = InclusionProofFromNodes(tree.Source(), index, size);
    REQUIRE(proof.ok());
    CHECK(HexList(*proof) == HexList(c["path"]));
    CHECK(VerifyInclusion(index, size, HashFromHex(Str(c["leaf_hash"])), HashesFromJson(c["path"]),
                          HashFromHex(Str(c["root"])))
              .ok());
  }
}

TEST_CASE("All 28 consistency proofs for trees of up to 8 leaves match Go tlog byte for byte and verify",
          "[merkle][kat]") {
  const json& cases = MerkleVectors()["all_proofs_n_le_8"]["consistency"];
  REQUIRE(cases.size() == 28);
  const MemoryTree& tree = ReferenceTree();
  for (const auto& c : cases) {
    uint64_t m = c["size1"].get<uint64_t>();
    uint64_t n = c["size2"].get<uint64_t>();
    CAPTURE(m, n);
    Result<std::vector<Hash>> proof = ConsistencyProofFromNodes(tree.Source(), m, n);
    REQUIRE(proof.ok());
    CHECK(HexList(*proof) == HexList(c["proof"]));
    CHECK(VerifyConsistency(m, n, HashFromHex(Str(c["root1"])), HashFromHex(Str(c["root2"])),
                            HashesFromJson(c["proof"]))
              .ok());
  }
}

// ---------------------------------------------------------------------------
// abc

TEST_CASE("The tree of leaves a, b, c has the vector roots, proofs and base64 root", "[merkle][kat]") {
  const json& abc = MerkleVectors()["abc"];
  MemoryTree tree;
  for (const auto& leaf : abc["leaves_ascii"]) tree.AppendEntry(Str(leaf));
  REQUIRE(tree.size() == 3);
  for (size_t i = 0; i < 3; ++i) CHECK(HexOf(tree.leaves()[i]) == Str(abc["leaf_hashes"][i]));
  for (uint64_t size = 0; size <= 3; ++size) {
    Result<Hash> root = RootFromNodes(tree.Source(), size);
    REQUIRE(root.ok());
    CHECK(HexOf(*root) == Str(abc["roots_by_size"][std::to_string(size)]));
  }
  Hash root3 = HashFromHex(Str(abc["roots_by_size"]["3"]));
  CHECK(Base64Encode(AsBytes(root3)) == Str(abc["root3_b64"]));

  REQUIRE(abc["inclusion"].size() == 3);
  for (const auto& c : abc["inclusion"]) {
    uint64_t index = c["index"].get<uint64_t>();
    CAPTURE(index);
    Result<std::vector<Hash>> proof = InclusionProofFromNodes(tree.Source(), index, 3);
    REQUIRE(proof.ok());
    CHECK(HexList(*proof) == HexList(c["path"]));
    CHECK(VerifyInclusion(index, 3, tree.leaves()[index], HashesFromJson(c["path"]), root3).ok());
  }
  REQUIRE(abc["consistency"].size() == 2);
  for (const auto& c : abc["consistency"]) {
    uint64_t m = c["size1"].get<uint64_t>();
    CAPTURE(m);
    Result<std::vector<Hash>> proof = ConsistencyProofFromNodes(tree.Source(), m, 3);
    REQUIRE(proof.ok());
    CHECK(HexList(*proof) == HexList(c["proof"]));
    Hash root_m = HashFromHex(Str(abc["roots_by_size"][std::to_string(m)]));
    CHECK(VerifyConsistency(m, 3, root_m, root3, HashesFromJson(c["proof"])).ok());
  }
}

// tlog_tiles_paths: there is no tile path function in ledger/ yet, so the
// group has nothing to test against.

// ---------------------------------------------------------------------------
// signed_note

TEST_CASE("The C2SP signed-note example vkey parses and its note verifies", "[note][kat]") {
  const json& ex = MerkleVectors()["signed_note"]["c2sp_example"];
  Result<VerifierKey> key = ParseVerifierKey(Str(ex["vkey"]));
  REQUIRE(key.ok());
  CHECK(key->name == "example.com/foo");
  CHECK(key->type == kEd25519SignatureType);
  CHECK(key->key_id == 0x530d903au);
  CHECK(HexEncode(ByteView(key->public_key.data(), 32)) == Str(ex["ed25519_public_key_hex"]));
  CHECK(FormatVerifierKey(*key) == Str(ex["vkey"]));

  Result<Note> note = ParseNote(Str(ex["note"]));
  REQUIRE(note.ok());
  CHECK(note->text == Str(ex["signed_text"]));
  REQUIRE(note->signatures.size() == 1);
  CHECK(note->signatures[0].key_id == 0x530d903au);
  CHECK(FormatNote(*note) == Str(ex["note"]));
  Result<std::vector<std::string>> verified = VerifyNote(*note, {*key});
  REQUIRE(verified.ok());
  CHECK(*verified == std::vector<std::string>{"example.com/foo"});
}

TEST_CASE("A signer from the Go x/mod PeterNeumann key reproduces its signed note byte for byte", "[note][kat]") {
  const json& ex = MerkleVectors()["signed_note"]["go_x_mod_example"];
  Result<Signer> signer = Signer::FromSignerKey(Str(ex["skey"]));
  REQUIRE(signer.ok());
  CHECK(signer->name() == "PeterNeumann");
  CHECK(signer->key_id() == 0xc74f20a3u);
  CHECK(signer->verifier_key_string() == Str(ex["vkey"]));
  CHECK(signer->signer_key_string() == Str(ex["skey"]));
  CHECK(HexEncode(ByteView(signer->verifier_key().public_key.data(), 32)) == Str(ex["ed25519_public_key_hex"]));
  CHECK(signer->SignNote(Str(ex["text"])) == Str(ex["signed_note"]));

  Result<Signer> from_seed = Signer::FromSeed("PeterNeumann", Unhex(Str(ex["ed25519_seed_hex"])));
  REQUIRE(from_seed.ok());
  CHECK(from_seed->SignNote(Str(ex["text"])) == Str(ex["signed_note"]));

  Result<VerifierKey> vkey = ParseVerifierKey(Str(ex["vkey"]));
  REQUIRE(vkey.ok());
  Result<Note> note = ParseNote(Str(ex["signed_note"]));
  REQUIRE(note.ok());
  CHECK(VerifyNote(*note, {*vkey}).ok());
}

// ---------------------------------------------------------------------------
// checkpoint_example

TEST_CASE("Our signer from the example log seed reproduces the checkpoint's log signature line exactly",
          "[checkpoint][kat]") {
  const json& ex = MerkleVectors()["checkpoint_example"];
  Result<Signer> log = Signer::FromSeed(Str(ex["log"]["name"]), Unhex(Str(ex["log"]["ed25519_seed_hex"])));
  REQUIRE(log.ok());
  CHECK(log->verifier_key_string() == Str(ex["log"]["vkey"]));
  CHECK(Unhex(Str(ex["log"]["ed25519_seed_hex"])) ==
        std::string(AsChars(AsBytes(Sha256Of(std::string_view("example log seed"))))));

  // The body is what our Checkpoint writes for the abc tree.
  Checkpoint cp;
  cp.origin = Str(ex["log"]["name"]);
  cp.size = 3;
  cp.root = HashFromHex(Str(MerkleVectors()["abc"]["roots_by_size"]["3"]));
  CHECK(cp.Body() == Str(ex["checkpoint_body"]));

  std::string signed_note = log->SignNote(cp.Body());
  std::string full = Str(ex["signed_checkpoint"]);
  // Log signature line is the first signature line of the example.
  std::string first_line = full.substr(0, full.find('\n', cp.Body().size() + 1) + 1);
  CHECK(signed_note == first_line);
}

TEST_CASE("The example witness cosignature (type 0x04) verifies with the witness vkey", "[checkpoint][kat]") {
  const json& ex = MerkleVectors()["checkpoint_example"];
  Result<VerifierKey> witness = ParseVerifierKey(Str(ex["witness"]["vkey"]));
  REQUIRE(witness.ok());
  CHECK(witness->type == kEd25519CosignatureType);
  CHECK(witness->key_id == 0xd0ce3049u);
  CHECK(FormatVerifierKey(*witness) == Str(ex["witness"]["vkey"]));
  CHECK(CosignatureMessage(ex["witness"]["timestamp"].get<uint64_t>(), Str(ex["checkpoint_body"])) ==
        Str(ex["cosigned_message"]));

  Result<Note> note = ParseNote(Str(ex["signed_checkpoint"]));
  REQUIRE(note.ok());
  CHECK(note->text == Str(ex["checkpoint_body"]));
  REQUIRE(note->signatures.size() == 2);
  const NoteSignature& cosig = note->signatures[1];
  REQUIRE(cosig.signature.size() == 72);
  uint64_t ts = 0;
  for (int i = 0; i < 8; ++i) ts = (ts << 8) | static_cast<uint8_t>(cosig.signature[i]);
  CHECK(ts == ex["witness"]["timestamp"].get<uint64_t>());

  // Only the witness key known: the log signature is ignored as unknown.
  Result<std::vector<std::string>> only_witness = VerifyNote(*note, {*witness});
  REQUIRE(only_witness.ok());
  CHECK(*only_witness == std::vector<std::string>{"witness.example.com/w1"});

  // A tampered cosignature timestamp breaks it.
  Note tampered = *note;
  tampered.signatures[1].signature[7] ^= 1;
  CHECK_FALSE(VerifyNote(tampered, {*witness}).ok());
}

TEST_CASE("The example checkpoint verifies with both keys, and with the log key alone ignoring the cosignature",
          "[checkpoint][kat]") {
  const json& ex = MerkleVectors()["checkpoint_example"];
  Result<VerifierKey> log = ParseVerifierKey(Str(ex["log"]["vkey"]));
  Result<VerifierKey> witness = ParseVerifierKey(Str(ex["witness"]["vkey"]));
  REQUIRE(log.ok());
  REQUIRE(witness.ok());
  Result<Note> note = ParseNote(Str(ex["signed_checkpoint"]));
  REQUIRE(note.ok());

  Result<std::vector<std::string>> both = VerifyNote(*note, {*log, *witness});
  REQUIRE(both.ok());
  CHECK(*both == std::vector<std::string>{"example.com/consent-ledger", "witness.example.com/w1"});

  Result<std::vector<std::string>> log_only = VerifyNote(*note, {*log});
  REQUIRE(log_only.ok());
  CHECK(*log_only == std::vector<std::string>{"example.com/consent-ledger"});

  Result<Checkpoint> cp = ParseCheckpointBody(note->text);
  REQUIRE(cp.ok());
  CHECK(cp->origin == "example.com/consent-ledger");
  CHECK(cp->size == 3);
  CHECK(HexOf(cp->root) == Str(MerkleVectors()["abc"]["roots_by_size"]["3"]));
  CHECK(cp->extensions.empty());
}

}  // namespace
}  // namespace consentd::ledger
