#include "ledger/tiles.h"

#include <cstdio>
#include <cstring>

#include "ledger/format.h"

namespace consentd::ledger {
namespace {

bool ParseDecimal(std::string_view s, uint64_t max, uint64_t* out) {
  if (s.empty() || s.size() > 20) return false;
  if (s.size() > 1 && s[0] == '0') return false;
  unsigned __int128 v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<unsigned>(c - '0');
  }
  if (v > max) return false;
  *out = static_cast<uint64_t>(v);
  return true;
}

Status BadPath(std::string_view why) { return Status::InvalidArgument("tile path: " + std::string(why)); }

}  // namespace

std::string EncodeTileIndex(uint64_t index) {
  // Groups of three digits, most significant first.
  std::vector<unsigned> groups;
  do {
    groups.push_back(static_cast<unsigned>(index % 1000));
    index /= 1000;
  } while (index > 0);
  std::string out;
  char buf[8];
  for (size_t i = groups.size(); i-- > 0;) {
    std::snprintf(buf, sizeof buf, i > 0 ? "x%03u/" : "%03u", groups[i]);
    out += buf;
  }
  return out;
}

std::string TilePath(const TileId& tile) {
  std::string out = "tile/";
  out += tile.entries ? std::string("entries") : std::to_string(tile.level);
  out += "/";
  out += EncodeTileIndex(tile.index);
  if (!tile.full()) out += ".p/" + std::to_string(tile.width);
  return out;
}

Result<TileId> ParseTilePath(std::string_view path) {
  TileId t;
  if (path.substr(0, 5) != "tile/") return BadPath("must start with tile/");
  path.remove_prefix(5);
  size_t slash = path.find('/');
  if (slash == std::string_view::npos) return BadPath("missing index");
  std::string_view level = path.substr(0, slash);
  path.remove_prefix(slash + 1);
  if (level == "entries") {
    t.entries = true;
  } else {
    uint64_t l;
    if (!ParseDecimal(level, kMaxTileLevel, &l)) return BadPath("level must be 0..63 without leading zeros");
    t.level = static_cast<int>(l);
  }
  // Partial suffix.
  size_t dot = path.find(".p/");
  if (dot != std::string_view::npos) {
    uint64_t w;
    if (!ParseDecimal(path.substr(dot + 3), kTileWidth - 1, &w) || w == 0) {
      return BadPath("partial width must be 1..255 without leading zeros");
    }
    t.width = static_cast<uint32_t>(w);
    path = path.substr(0, dot);
  }
  // Index groups: "x" + 3 digits + "/" ... then 3 digits.
  unsigned __int128 index = 0;
  bool first = true;
  while (true) {
    size_t next = path.find('/');
    std::string_view group = path.substr(0, next);
    bool last = next == std::string_view::npos;
    if (!last) {
      if (group.size() != 4 || group[0] != 'x') return BadPath("index groups other than the last start with x");
      group.remove_prefix(1);
    } else if (group.size() != 3) {
      return BadPath("index groups have three digits");
    }
    unsigned v = 0;
    for (char c : group) {
      if (c < '0' || c > '9') return BadPath("index groups have three digits");
      v = v * 10 + static_cast<unsigned>(c - '0');
    }
    if (first && !last && v == 0) return BadPath("index has a superfluous leading group");
    first = false;
    index = index * 1000 + v;
    if (index > UINT64_MAX) return BadPath("index too large");
    if (last) break;
    path.remove_prefix(next + 1);
  }
  t.index = static_cast<uint64_t>(index);
  return t;
}

uint64_t TileEnd(const TileId& tile) {
  unsigned __int128 end = static_cast<unsigned __int128>(tile.index) * kTileWidth + tile.width;
  for (int l = 0; l < tile.level; ++l) {
    end *= kTileWidth;
    if (end > UINT64_MAX) return UINT64_MAX;
  }
  return end > UINT64_MAX ? UINT64_MAX : static_cast<uint64_t>(end);
}

bool TileWithin(const TileId& tile, uint64_t size) {
  if (tile.entries && tile.level != 0) return false;
  if (tile.width == 0 || tile.width > kTileWidth) return false;
  uint64_t end = TileEnd(tile);
  return end != UINT64_MAX && end <= size;
}

TileId TileFor(int level, uint64_t hash_index, uint64_t size) {
  TileId t;
  t.level = level;
  t.index = hash_index / kTileWidth;
  t.width = kTileWidth;
  if (!TileWithin(t, size)) {
    uint64_t hashes = level * kTileHeight >= 64 ? 0 : size >> (level * kTileHeight);
    t.width = static_cast<uint32_t>(hashes % kTileWidth);
  }
  return t;
}

Result<std::string> HashTileFromNodes(const NodeSource& nodes, const TileId& tile) {
  std::string out;
  out.reserve(tile.width * 32);
  for (uint32_t i = 0; i < tile.width; ++i) {
    Result<Hash> h = nodes(tile.level * kTileHeight, tile.index * kTileWidth + i);
    if (!h.ok()) return h.status();
    out.append(reinterpret_cast<const char*>(h->data()), 32);
  }
  return out;
}

Result<std::string> ReadHashTile(const Ledger& ledger, const TileId& tile, uint64_t signed_size) {
  if (tile.entries) return Status::InvalidArgument("an entry bundle is not a hash tile");
  if (signed_size > ledger.Size() || !TileWithin(tile, signed_size)) {
    return Status::NotFound("tile " + TilePath(tile) + " is beyond the signed tree");
  }
  if (tile.level > 0) {
    return HashTileFromNodes([&](int l, uint64_t i) { return ledger.StoredNode(l, i); }, tile);
  }
  // Level 0: the leaf hashes are the first 32 bytes of each row's hashes.
  std::string out;
  out.reserve(tile.width * 32);
  const uint64_t begin = tile.index * kTileWidth;
  uint64_t expected = begin;
  Status s = ledger.ScanStored(begin, begin + tile.width, [&](uint64_t seq, std::string_view, std::string_view hashes) {
    if (seq != expected || hashes.size() < 32) return Status::Corruption("stored leaf hash missing at " + std::to_string(expected));
    out.append(hashes.data(), 32);
    ++expected;
    return Status::Ok();
  });
  if (!s.ok()) return s;
  if (expected != begin + tile.width) return Status::Corruption("entries missing in tile " + TilePath(tile));
  return out;
}

void AppendToEntryBundle(std::string_view entry, std::string* bundle) {
  bundle->push_back(static_cast<char>((entry.size() >> 8) & 0xff));
  bundle->push_back(static_cast<char>(entry.size() & 0xff));
  bundle->append(entry);
}

Result<std::string> ReadEntryBundle(const Ledger& ledger, const TileId& tile, uint64_t signed_size) {
  if (!tile.entries) return Status::InvalidArgument("a hash tile is not an entry bundle");
  if (signed_size > ledger.Size() || !TileWithin(tile, signed_size)) {
    return Status::NotFound("entry bundle " + TilePath(tile) + " is beyond the signed tree");
  }
  std::string out;
  const uint64_t begin = tile.index * kTileWidth;
  uint64_t expected = begin;
  Status s = ledger.ScanEntries(begin, begin + tile.width, [&](uint64_t seq, std::string_view entry) {
    if (seq != expected) return Status::Corruption("entry missing at " + std::to_string(expected));
    if (entry.size() > kMaxEntryBytes) return Status::Corruption("entry " + std::to_string(seq) + " is too long");
    AppendToEntryBundle(entry, &out);
    ++expected;
    return Status::Ok();
  });
  if (!s.ok()) return s;
  if (expected != begin + tile.width) return Status::Corruption("entries missing in bundle " + TilePath(tile));
  return out;
}

Result<std::vector<std::string>> ParseEntryBundle(std::string_view bundle) {
  std::vector<std::string> out;
  while (!bundle.empty()) {
    if (bundle.size() < 2) return Status::InvalidArgument("entry bundle: truncated length");
    size_t len = (static_cast<size_t>(static_cast<uint8_t>(bundle[0])) << 8) | static_cast<uint8_t>(bundle[1]);
    bundle.remove_prefix(2);
    if (bundle.size() < len) return Status::InvalidArgument("entry bundle: truncated entry");
    out.emplace_back(bundle.substr(0, len));
    bundle.remove_prefix(len);
  }
  return out;
}

Result<const std::string*> TileReader::Get(const TileId& tile) {
  std::string path = TilePath(tile);
  auto it = cache_.find(path);
  if (it != cache_.end()) return &it->second;
  ++fetches_;
  Result<std::string> bytes = fetch_(path);
  if (!bytes.ok()) return bytes.status().WithContext("fetch " + path);
  if (!tile.entries && bytes->size() != size_t{tile.width} * 32) {
    return Status::InvalidArgument(path + ": " + std::to_string(bytes->size()) + " bytes, expected " +
                                   std::to_string(size_t{tile.width} * 32));
  }
  return &cache_.emplace(path, std::move(*bytes)).first->second;
}

Result<Hash> TileReader::Node(int level, uint64_t index) {
  if (level < 0 || level >= 64 || index >= (size_ >> level)) {
    return Status::InvalidArgument("node (" + std::to_string(level) + ", " + std::to_string(index) +
                                   ") is not a complete subtree of the tree of size " + std::to_string(size_));
  }
  const int tile_level = level / kTileHeight;
  const int rise = level % kTileHeight;
  const uint64_t first = index << rise;  // first hash at level 8*tile_level
  const TileId tile = TileFor(tile_level, first, size_);
  Result<const std::string*> bytes = Get(tile);
  if (!bytes.ok()) return bytes.status();
  const size_t pos = first % kTileWidth;
  const size_t count = size_t{1} << rise;
  if (pos + count > tile.width) return Status::Internal("tile " + TilePath(tile) + " does not hold the node");
  std::vector<Hash> row(count);
  for (size_t i = 0; i < count; ++i) std::memcpy(row[i].data(), (*bytes)->data() + 32 * (pos + i), 32);
  while (row.size() > 1) {
    for (size_t i = 0; i < row.size() / 2; ++i) row[i] = NodeHash(row[2 * i], row[2 * i + 1]);
    row.resize(row.size() / 2);
  }
  return row[0];
}

Result<std::string> TileReader::Entry(uint64_t index) {
  if (index >= size_) return Status::InvalidArgument("entry " + std::to_string(index) + " is beyond the tree");
  TileId bundle_id = TileFor(0, index, size_);
  TileId hashes_id = bundle_id;
  bundle_id.entries = true;
  Result<const std::string*> hashes = Get(hashes_id);
  if (!hashes.ok()) return hashes.status();
  Result<const std::string*> bundle = Get(bundle_id);
  if (!bundle.ok()) return bundle.status();
  Result<std::vector<std::string>> entries = ParseEntryBundle(**bundle);
  if (!entries.ok()) return entries.status();
  if (entries->size() != bundle_id.width) {
    return Status::InvalidArgument(TilePath(bundle_id) + ": " + std::to_string(entries->size()) + " entries, expected " +
                                   std::to_string(bundle_id.width));
  }
  for (size_t i = 0; i < entries->size(); ++i) {
    Hash leaf = LeafHash(AsBytes((*entries)[i]));
    if (std::memcmp(leaf.data(), (*hashes)->data() + 32 * i, 32) != 0) {
      return Status::InvalidArgument(TilePath(bundle_id) + ": entry " + std::to_string(i) +
                                     " does not hash to its level-0 tile hash");
    }
  }
  return (*entries)[index % kTileWidth];
}

}  // namespace consentd::ledger
