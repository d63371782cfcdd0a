// C2SP tlog-tiles (c2sp.org/tlog-tiles, tile height 8) for the ledger: tile
// paths, hash tiles and entry bundles read from the ledger's stored subtree
// hashes, and a client side (TileReader) that computes roots and proofs from
// tiles alone, the way any tlog-tiles client does (docs/ledger-format.md §12).
//
// A hash tile at level L, index N holds the hashes node(8L, N*256 + i) for
// i < width; every one of them is a perfect subtree, so the ledger has it
// stored. An entry bundle holds the entries N*256 .. N*256+width-1, each as
// a big-endian uint16 length followed by the entry bytes.
//
// Thread-safety: the free functions are thread-safe (the ledger must stay
// open); TileReader is not thread-safe.
#ifndef CONSENTD_LEDGER_TILES_H_
#define CONSENTD_LEDGER_TILES_H_

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "ledger/ledger.h"
#include "ledger/merkle.h"
#include "src/base/result.h"

namespace consentd::ledger {

inline constexpr int kTileHeight = 8;
inline constexpr uint32_t kTileWidth = 256;  // hashes (or entries) in a full tile
inline constexpr int kMaxTileLevel = 63;

// One tile or entry bundle. width == kTileWidth for a full tile, 1..255 for a
// partial one.
struct TileId {
  bool entries = false;  // an entry bundle (always level 0) rather than a hash tile
  int level = 0;
  uint64_t index = 0;
  uint32_t width = kTileWidth;

  bool full() const { return width == kTileWidth; }
  bool operator==(const TileId&) const = default;
};

// N in 3-digit groups, all but the last prefixed with "x": 1234067 ->
// "x001/x234/067", 5 -> "005".
std::string EncodeTileIndex(uint64_t index);

// "tile/<L>/<N>[.p/<W>]" or "tile/entries/<N>[.p/<W>]" (no leading slash).
std::string TilePath(const TileId& tile);

// Parses a path made by TilePath, strictly: L is 0..63 without leading
// zeros, N is canonical (every group 3 digits, "x" on all but the last, no
// superfluous leading "x000/" groups), W is 1..255 without leading zeros.
// kInvalidArgument otherwise.
Result<TileId> ParseTilePath(std::string_view path);

// Number of leaves a tile's hashes cover, counted from leaf 0 to its end:
// (index*256 + width) * 256^level. Saturates at UINT64_MAX.
uint64_t TileEnd(const TileId& tile);

// True when a tree of `size` leaves contains everything the tile covers, so
// it can be served (full tiles, and partial tiles of this or an earlier size).
bool TileWithin(const TileId& tile, uint64_t size);

// The tile at `level` that a tree of `size` needs to hold node
// (level*8, hash_index): full when the tree has it full, otherwise the
// partial tile of width floor(size / 256^level) mod 256.
TileId TileFor(int level, uint64_t hash_index, uint64_t size);

// The hash tile's bytes (width * 32) from stored nodes.
// REQUIRES !tile.entries. kNotFound when the nodes are not stored.
Result<std::string> HashTileFromNodes(const NodeSource& nodes, const TileId& tile);

// The hash tile's bytes from the ledger (level 0 with one range read).
// kNotFound unless TileWithin(tile, signed_size) and signed_size <= Size().
Result<std::string> ReadHashTile(const Ledger& ledger, const TileId& tile, uint64_t signed_size);

// The entry bundle's bytes. REQUIRES tile.entries. kNotFound unless
// TileWithin(tile, signed_size).
Result<std::string> ReadEntryBundle(const Ledger& ledger, const TileId& tile, uint64_t signed_size);

// Splits an entry bundle. kInvalidArgument on a truncated length or entry.
Result<std::vector<std::string>> ParseEntryBundle(std::string_view bundle);

// Appends one entry to a bundle being built. REQUIRES entry.size() <= 65535.
void AppendToEntryBundle(std::string_view entry, std::string* bundle);

// Computes roots and proofs of a tree of `size` leaves from tiles only.
// `fetch(path)` returns a tile's bytes (for example over HTTP); tiles are
// fetched at most once and checked for their exact length. The size must
// come from a verified checkpoint: the reader trusts nothing else, so a
// wrong tile shows up as a root that does not match the checkpoint.
class TileReader {
 public:
  using Fetch = std::function<Result<std::string>(const std::string& path)>;
  TileReader(uint64_t size, Fetch fetch) : size_(size), fetch_(std::move(fetch)) {}

  uint64_t size() const { return size_; }
  // Node (level, index) of the tree, hashed up from its tile.
  // kInvalidArgument when the node is not a complete subtree of the tree.
  Result<Hash> Node(int level, uint64_t index);
  NodeSource Source() {
    return [this](int level, uint64_t index) { return Node(level, index); };
  }
  Result<Hash> Root() { return RootFromNodes(Source(), size_); }
  Result<std::vector<Hash>> InclusionProof(uint64_t index) { return InclusionProofFromNodes(Source(), index, size_); }
  // REQUIRES 0 < first <= size().
  Result<std::vector<Hash>> ConsistencyProof(uint64_t first) { return ConsistencyProofFromNodes(Source(), first, size_); }
  // Entry `index` from its entry bundle, checked against the level-0 tile.
  Result<std::string> Entry(uint64_t index);

  uint64_t fetches() const { return fetches_; }

 private:
  Result<const std::string*> Get(const TileId& tile);

  uint64_t size_;
  Fetch fetch_;
  std::map<std::string, std::string> cache_;  // path -> bytes
  uint64_t fetches_ = 0;
};

}  // namespace consentd::ledger

#endif  // CONSENTD_LEDGER_TILES_H_
