// Tests of ledger/tiles: C2SP tlog-tiles paths, hash tiles and entry bundles
// read from the ledger, and a tiles-only client (TileReader) that computes the
// same roots and proofs as the ledger, across tile boundaries.
#include <catch2/catch.hpp>
#include <map>
#include <string>
#include <vector>

#include "ledger/ledger.h"
#include "ledger/merkle.h"
#include "ledger/note.h"
#include "ledger/tiles.h"
#include "tests/ledger/test_util.h"

namespace consentd::ledger {
namespace {

using consentd::testing::HashFromHex;
using consentd::testing::HashesFromJson;
using consentd::testing::MemoryTree;
using consentd::testing::MerkleVectors;
using consentd::testing::TempDir;

TEST_CASE("tile paths encode the index in x-prefixed three-digit groups as in the spec", "[tiles]") {
  CHECK(EncodeTileIndex(1234067) == "x001/x234/067");
  CHECK(EncodeTileIndex(0) == "000");
  CHECK(EncodeTileIndex(999) == "999");
  CHECK(EncodeTileIndex(1000) == "x001/000");
  CHECK(TilePath({false, 0, 1234067, 5}) == "tile/0/x001/x234/067.p/5");
  CHECK(TilePath({true, 0, 0, 256}) == "tile/entries/000");
  CHECK(TilePath({false, 2, 3, 256}) == "tile/2/003");
  for (const auto& ex : MerkleVectors()["tlog_tiles_paths"]["examples"]) {
    if (ex.contains("encoded")) CHECK(EncodeTileIndex(ex["index"].get<uint64_t>()) == ex["encoded"].get<std::string>());
    if (ex.contains("path")) {
      Result<TileId> t = ParseTilePath(ex["path"].get<std::string>());
      REQUIRE(t.ok());
      CHECK(TilePath(*t) == ex["path"].get<std::string>());
    }
  }
}

TEST_CASE("tile paths round-trip and malformed paths are rejected", "[tiles]") {
  for (uint64_t n : {uint64_t{0}, uint64_t{1}, uint64_t{255}, uint64_t{1000}, uint64_t{1234067}, UINT64_MAX}) {
    for (uint32_t w : {1u, 255u, 256u}) {
      for (int l : {0, 1, 63}) {
        TileId t{false, l, n, w};
        Result<TileId> p = ParseTilePath(TilePath(t));
        REQUIRE(p.ok());
        CHECK(*p == t);
      }
      TileId e{true, 0, n, w};
      Result<TileId> p = ParseTilePath(TilePath(e));
      REQUIRE(p.ok());
      CHECK(*p == e);
    }
  }
  for (const char* bad : {"tile/00/000", "tile/64/000", "tile/-1/000", "tile/0/00", "tile/0/0000", "tile/0/x000/001",
                          "tile/0/001/002", "tile/0/x01/002", "tile/0/000.p/0", "tile/0/000.p/256", "tile/0/000.p/05",
                          "tile/0/000.p/", "tile/0/000.p/1/", "tile/0/", "tile/0", "tile/entries", "tiles/0/000",
                          "tile/0/x1/000", "tile/0/abc", "tile/0/x999/x999/x999/x999/x999/x999/999",
                          "tile/0/000/", "tile/data/000", "/tile/0/000"}) {
    INFO(bad);
    CHECK_FALSE(ParseTilePath(bad).ok());
  }
}

// The tiles a tree of `size` has: full tiles per level and partial widths.
std::string DescribeTiles(uint64_t size) {
  std::string out;
  for (int l = 0; l < 8; ++l) {
    uint64_t hashes = size >> (8 * l);
    if (hashes == 0) break;
    out += "L" + std::to_string(l) + ":" + std::to_string(hashes / 256) + "+" + std::to_string(hashes % 256) + " ";
  }
  return out;
}

TEST_CASE("tree sizes 70000 and 256 need exactly the tiles the spec lists", "[tiles]") {
  CHECK(DescribeTiles(70000) == "L0:273+112 L1:1+17 L2:0+1 ");
  CHECK(DescribeTiles(256) == "L0:1+0 L1:0+1 ");
  // Which of them can be served.
  CHECK(TileWithin({false, 0, 272, 256}, 70000));
  CHECK_FALSE(TileWithin({false, 0, 273, 256}, 70000));
  CHECK(TileWithin({false, 0, 273, 112}, 70000));
  CHECK(TileWithin({false, 0, 273, 111}, 70000));  // a partial of an earlier size
  CHECK_FALSE(TileWithin({false, 0, 273, 113}, 70000));
  CHECK(TileWithin({false, 1, 0, 256}, 70000));
  CHECK(TileWithin({false, 1, 1, 17}, 70000));
  CHECK_FALSE(TileWithin({false, 1, 1, 18}, 70000));
  CHECK(TileWithin({false, 2, 0, 1}, 70000));
  CHECK_FALSE(TileWithin({false, 3, 0, 1}, 70000));
  CHECK_FALSE(TileWithin({false, 63, UINT64_MAX, 256}, UINT64_MAX));
  CHECK(TileFor(0, 70000 - 1, 70000) == TileId{false, 0, 273, 112});
  CHECK(TileFor(1, 5, 70000) == TileId{false, 1, 0, 256});
  CHECK(TileFor(1, 256, 70000) == TileId{false, 1, 1, 17});
}

TEST_CASE("a tiles-only reader reproduces the known-answer roots and proofs", "[tiles]") {
  const nlohmann::json& v = MerkleVectors();
  MemoryTree tree;
  for (const auto& h : v["ct_reference_tree"]["leaf_hashes"]) tree.Append(HashFromHex(h.get<std::string>()));
  // The only tile of an 8-leaf tree is the level-0 partial of width 8: the leaf hashes.
  Result<std::string> tile = HashTileFromNodes(tree.Source(), {false, 0, 0, 8});
  REQUIRE(tile.ok());
  REQUIRE(tile->size() == 8 * 32);
  for (size_t i = 0; i < 8; ++i) CHECK(tile->substr(32 * i, 32) == std::string(reinterpret_cast<const char*>(tree.leaves()[i].data()), 32));

  auto fetch_for = [&](uint64_t size) {
    return [&, size](const std::string& path) -> Result<std::string> {
      Result<TileId> t = ParseTilePath(path);
      if (!t.ok()) return t.status();
      if (!TileWithin(*t, size)) return Status::NotFound(path);
      return HashTileFromNodes(tree.Source(), *t);
    };
  };
  for (auto it = v["ct_reference_tree"]["roots_by_size"].begin(); it != v["ct_reference_tree"]["roots_by_size"].end(); ++it) {
    uint64_t size = std::stoull(it.key());
    if (size == 0) continue;
    TileReader reader(size, fetch_for(size));
    Result<Hash> root = reader.Root();
    REQUIRE(root.ok());
    CHECK(*root == HashFromHex(it.value().get<std::string>()));
  }
  for (const auto& p : v["all_proofs_n_le_8"]["inclusion"]) {
    uint64_t size = p["tree_size"].get<uint64_t>();
    TileReader reader(size, fetch_for(size));
    Result<std::vector<Hash>> proof = reader.InclusionProof(p["index"].get<uint64_t>());
    REQUIRE(proof.ok());
    CHECK(*proof == HashesFromJson(p["path"]));
  }
  for (const auto& p : v["all_proofs_n_le_8"]["consistency"]) {
    uint64_t size2 = p["size2"].get<uint64_t>();
    TileReader reader(size2, fetch_for(size2));
    Result<std::vector<Hash>> proof = reader.ConsistencyProof(p["size1"].get<uint64_t>());
    REQUIRE(proof.ok());
    CHECK(*proof == HashesFromJson(p["proof"]));
  }
}

TEST_CASE("entry bundles are uint16 length-prefixed entries and truncated bundles are rejected", "[tiles]") {
  std::string b;
  AppendToEntryBundle("", &b);
  AppendToEntryBundle("abc", &b);
  AppendToEntryBundle(std::string(300, 'x'), &b);
  CHECK(b.substr(0, 7) == std::string("\x00\x00\x00\x03" "abc", 7));
  CHECK(static_cast<uint8_t>(b[7]) == 1);
  CHECK(static_cast<uint8_t>(b[8]) == 44);
  Result<std::vector<std::string>> parsed = ParseEntryBundle(b);
  REQUIRE(parsed.ok());
  REQUIRE(parsed->size() == 3);
  CHECK((*parsed)[1] == "abc");
  CHECK((*parsed)[2].size() == 300);
  CHECK_FALSE(ParseEntryBundle(b.substr(0, b.size() - 1)).ok());
  CHECK_FALSE(ParseEntryBundle(std::string("\x00", 1)).ok());
  CHECK_FALSE(ParseEntryBundle(std::string("\xff\xff" "short", 7)).ok());
}

Signer NewSigner() {
  Result<Signer> s = Signer::Generate("test.example/tiles");
  REQUIRE(s.ok());
  return std::move(*s);
}

// One ledger grown to 65,537 entries, with a checkpoint signed at each size
// that crosses a tile boundary.
struct BigLedger {
  TempDir dir;
  Signer signer = NewSigner();
  std::unique_ptr<Ledger> ledger;
  std::vector<uint64_t> sizes{255, 256, 257, 65535, 65536, 65537};

  BigLedger() {
    LedgerOptions o;
    o.path = (dir / "ledger.db").string();
    o.create_if_missing = true;
    o.origin = "test.example/tiles";
    o.signer = &signer;
    Result<std::unique_ptr<Ledger>> l = Ledger::Open(o);
    REQUIRE(l.ok());
    ledger = std::move(*l);
    for (uint64_t target : sizes) {
      while (ledger->Size() < target) {
        size_t n = static_cast<size_t>(std::min<uint64_t>(8192, target - ledger->Size()));
        std::vector<NewEntry> batch;
        for (size_t i = 0; i < n; ++i) {
          batch.push_back({"test.tiles", "{\"n\":" + std::to_string(ledger->Size() + i) + "}"});
        }
        REQUIRE(ledger->Append(std::move(batch)).ok());
      }
      REQUIRE(ledger->SignCheckpoint().ok());
    }
  }

  TileReader::Fetch Fetch(uint64_t signed_size, std::map<std::string, std::string>* tamper = nullptr) const {
    return [this, signed_size, tamper](const std::string& path) -> Result<std::string> {
      Result<TileId> t = ParseTilePath(path);
      if (!t.ok()) return t.status();
      Result<std::string> bytes = t->entries ? ReadEntryBundle(*ledger, *t, signed_size)
                                             : ReadHashTile(*ledger, *t, signed_size);
      if (bytes.ok() && tamper && tamper->count(path)) return (*tamper)[path];
      return bytes;
    };
  }
};

BigLedger& Big() {
  static BigLedger big;
  return big;
}

TEST_CASE("tiles served from the ledger give every root and proof the ledger gives, across tile boundaries",
          "[tiles][slow]") {
  BigLedger& b = Big();
  for (uint64_t size : b.sizes) {
    INFO("size " << size);
    Result<StoredCheckpoint> cp = b.ledger->CheckpointAt(size);
    REQUIRE(cp.ok());
    TileReader reader(size, b.Fetch(size));
    Result<Hash> root = reader.Root();
    REQUIRE(root.ok());
    CHECK(*root == cp->checkpoint.root);
    for (uint64_t index : {uint64_t{0}, uint64_t{1}, uint64_t{254}, uint64_t{255}, uint64_t{256}, size / 2, size - 1}) {
      if (index >= size) continue;
      INFO("index " << index);
      Result<std::vector<Hash>> want = b.ledger->InclusionProof(index, size);
      Result<std::vector<Hash>> got = reader.InclusionProof(index);
      REQUIRE(want.ok());
      REQUIRE(got.ok());
      CHECK(*got == *want);
      Result<std::string> entry = reader.Entry(index);
      REQUIRE(entry.ok());
      CHECK(*entry == *b.ledger->ReadEntry(index));
      CHECK(VerifyInclusion(index, size, LeafHash(AsBytes(*entry)), *got, cp->checkpoint.root).ok());
    }
    for (uint64_t first : b.sizes) {
      if (first > size) continue;
      Result<std::vector<Hash>> want = b.ledger->ConsistencyProof(first, size);
      Result<std::vector<Hash>> got = reader.ConsistencyProof(first);
      REQUIRE(want.ok());
      REQUIRE(got.ok());
      CHECK(*got == *want);
    }
  }
}

TEST_CASE("full tiles hold 256 hashes, higher levels hold subtree roots, and tiles beyond the signed size are not found",
          "[tiles][slow]") {
  BigLedger& b = Big();
  Result<std::string> full = ReadHashTile(*b.ledger, {false, 0, 0, 256}, 256);
  REQUIRE(full.ok());
  CHECK(full->size() == 8192);
  Result<std::string> l1 = ReadHashTile(*b.ledger, {false, 1, 0, 256}, 65536);
  REQUIRE(l1.ok());
  Result<Hash> sub = b.ledger->StoredNode(8, 7);
  REQUIRE(sub.ok());
  CHECK(l1->substr(7 * 32, 32) == std::string(reinterpret_cast<const char*>(sub->data()), 32));
  Result<std::string> l2 = ReadHashTile(*b.ledger, {false, 2, 0, 1}, 65536);
  REQUIRE(l2.ok());
  CHECK(l2->size() == 32);
  Result<Hash> root = b.ledger->RootAt(65536);
  REQUIRE(root.ok());
  CHECK(*l2 == std::string(reinterpret_cast<const char*>(root->data()), 32));
  // Partial tiles of an earlier signed size are prefixes of the full tile.
  Result<std::string> p = ReadHashTile(*b.ledger, {false, 0, 0, 255}, 256);
  REQUIRE(p.ok());
  CHECK(*p == full->substr(0, 255 * 32));
  // Beyond the signed size: not found, even though the ledger has the entries.
  CHECK(ReadHashTile(*b.ledger, {false, 0, 1, 256}, 257).status().code() == StatusCode::kNotFound);
  CHECK(ReadHashTile(*b.ledger, {false, 0, 1, 2}, 257).status().code() == StatusCode::kNotFound);
  CHECK(ReadEntryBundle(*b.ledger, {true, 0, 1, 2}, 257).status().code() == StatusCode::kNotFound);
  CHECK(ReadHashTile(*b.ledger, {false, 2, 0, 1}, 65535).status().code() == StatusCode::kNotFound);
  CHECK(ReadHashTile(*b.ledger, {false, 0, 0, 1}, b.ledger->Size() + 1).status().code() == StatusCode::kNotFound);
  Result<std::string> bundle = ReadEntryBundle(*b.ledger, {true, 0, 256, 1}, 65537);
  REQUIRE(bundle.ok());
  Result<std::vector<std::string>> entries = ParseEntryBundle(*bundle);
  REQUIRE(entries.ok());
  REQUIRE(entries->size() == 1);
  CHECK((*entries)[0] == *b.ledger->ReadEntry(65536));
}

TEST_CASE("a forged tile or bundle is caught by the tiles-only reader", "[tiles][slow]") {
  BigLedger& b = Big();
  Result<StoredCheckpoint> cp = b.ledger->CheckpointAt(65537);
  REQUIRE(cp.ok());
  {
    // A flipped hash in the level-2 tile changes the computed root.
    std::map<std::string, std::string> tamper;
    std::string t = *ReadHashTile(*b.ledger, {false, 2, 0, 1}, 65537);
    t[5] ^= 1;
    tamper["tile/2/000.p/1"] = t;
    TileReader reader(65537, b.Fetch(65537, &tamper));
    Result<Hash> root = reader.Root();
    REQUIRE(root.ok());
    CHECK(*root != cp->checkpoint.root);
  }
  {
    // A flipped hash in a level-0 tile gives an inclusion proof that fails.
    std::map<std::string, std::string> tamper;
    std::string t = *ReadHashTile(*b.ledger, {false, 0, 100, 256}, 65537);
    t[32 + 5] ^= 1;
    tamper["tile/0/100"] = t;
    TileReader reader(65537, b.Fetch(65537, &tamper));
    Result<std::vector<Hash>> proof = reader.InclusionProof(100 * 256);
    REQUIRE(proof.ok());
    Hash leaf = LeafHash(AsBytes(*b.ledger->ReadEntry(100 * 256)));
    CHECK_FALSE(VerifyInclusion(100 * 256, 65537, leaf, *proof, cp->checkpoint.root).ok());
  }
  {
    // A tile of the wrong length is refused outright.
    std::map<std::string, std::string> tamper{{"tile/0/256.p/1", std::string(64, 'x')}};
    TileReader reader(65537, b.Fetch(65537, &tamper));
    CHECK_FALSE(reader.Entry(65536).ok());
  }
  {
    // An entry changed inside a bundle no longer matches the level-0 tile.
    std::string bundle = *ReadEntryBundle(*b.ledger, {true, 0, 3, 256}, 65537);
    bundle[bundle.size() - 3] ^= 1;
    std::map<std::string, std::string> tamper{{"tile/entries/003", bundle}};
    TileReader reader(65537, b.Fetch(65537, &tamper));
    CHECK_FALSE(reader.Entry(3 * 256 + 7).ok());
    CHECK(reader.Entry(0).ok());
  }
  {
    TileReader reader(65537, b.Fetch(65537));
    CHECK_FALSE(reader.Node(0, 65537).ok());
    CHECK_FALSE(reader.Node(17, 0).ok());
    CHECK(reader.Node(16, 0).ok());
  }
}

}  // namespace
}  // namespace consentd::ledger
