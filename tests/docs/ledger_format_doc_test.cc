// Checks the worked examples of docs/ledger-format.md §11 against the code:
// every value in the document's ```vectors blocks and its ```signed-note
// block is recomputed with the ledger library (pure functions and a real
// Ledger with a fixed clock) and must match exactly. If you change the
// format, update the document; if you change the document, this test tells
// you whether the code agrees.
#include <stdlib.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "ledger/checkpoint.h"
#include "ledger/entry.h"
#include "ledger/ledger.h"
#include "ledger/merkle.h"
#include "ledger/note.h"
#include "ledger/verifier.h"
#include "src/base/bytes.h"
#include "src/base/clock.h"
#include "src/base/sha256.h"
#include "src/base/time_format.h"

namespace consentd::ledger {
namespace {

std::string ReadDoc() {
  std::ifstream in(std::string(CONSENTD_SOURCE_DIR) + "/docs/ledger-format.md", std::ios::binary);
  REQUIRE(in.good());
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The document's example values: "key = value" lines of ```vectors blocks,
// and the text of the ```signed-note block.
struct DocValues {
  std::map<std::string, std::string> values;
  std::string signed_note;
  std::string doc;

  const std::string& at(const std::string& key) const {
    INFO("docs/ledger-format.md has no value for " << key);
    auto it = values.find(key);
    REQUIRE(it != values.end());
    return it->second;
  }
  std::string at(const std::string& name, int i) const { return at(name + "[" + std::to_string(i) + "]"); }
};

DocValues ParseDoc() {
  DocValues d;
  d.doc = ReadDoc();
  std::istringstream in(d.doc);
  std::string line;
  enum { kText, kVectors, kNote, kOtherCode } state = kText;
  int note_blocks = 0;
  while (std::getline(in, line)) {
    if (line.rfind("```", 0) == 0) {
      if (state != kText) {
        state = kText;
      } else if (line == "```vectors") {
        state = kVectors;
      } else if (line == "```signed-note") {
        state = kNote;
        ++note_blocks;
      } else {
        state = kOtherCode;
      }
      continue;
    }
    if (state == kVectors) {
      size_t eq = line.find(" = ");
      INFO("malformed vectors line: " << line);
      REQUIRE(eq != std::string::npos);
      std::string key = line.substr(0, eq);
      INFO("duplicate key " << key);
      REQUIRE(d.values.count(key) == 0);
      d.values[key] = line.substr(eq + 3);
    } else if (state == kNote) {
      d.signed_note += line + "\n";
    }
  }
  REQUIRE(state == kText);
  REQUIRE(note_blocks == 1);
  return d;
}

Hash HashFromHex(const std::string& hex) {
  Result<std::string> raw = HexDecode(hex);
  REQUIRE(raw.ok());
  REQUIRE(raw->size() == 32);
  Hash h;
  std::copy(raw->begin(), raw->end(), h.begin());
  return h;
}

std::string Hex(const Hash& h) { return HexEncode(AsBytes(h)); }

Signer DocSigner(const DocValues& d) {
  Hash seed = Sha256Of(std::string_view(d.at("seed_text")));
  REQUIRE(Hex(seed) == d.at("seed"));
  Result<Signer> s = Signer::FromSeed(d.at("origin"), std::string_view(reinterpret_cast<const char*>(seed.data()), 32));
  REQUIRE(s.ok());
  return std::move(*s);
}

// A fresh directory, removed at the end of the test.
struct TempDir {
  std::string path;
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "ledger_format_doc.XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

TEST_CASE("ledger-format §11.2: the example entries are EncodeEntry's output, byte for byte") {
  DocValues d = ParseDoc();
  Hash prev{};  // seq 0: 64 zero digits
  int64_t last_time = 0;
  for (int i = 0; i < 3; ++i) {
    INFO("entry " << i);
    const std::string kind = d.at("kind", i);
    const std::string payload = d.at("payload", i);
    REQUIRE(ValidateKind(kind).ok());
    REQUIRE(ValidatePayload(payload).ok());
    Result<int64_t> t = ParseTimestampMillis(d.at("time", i));
    REQUIRE(t.ok());
    REQUIRE(FormatTimestampMillis(*t) == d.at("time", i));
    REQUIRE(*t >= last_time);  // the time rule
    last_time = *t;

    std::string entry = EncodeEntry(static_cast<uint64_t>(i), *t, prev, kind, payload);
    CHECK(entry == d.at("entry", i));
    CHECK(HexEncode(AsBytes(entry)) == d.at("entry_hex", i));
    // §2: 143 fixed bytes plus seq, kind and payload.
    CHECK(entry.size() == 143 + std::to_string(i).size() + kind.size() + payload.size());

    Result<EntryView> v = ParseEntry(entry);
    REQUIRE(v.ok());
    CHECK(v->seq == static_cast<uint64_t>(i));
    CHECK(v->time_millis == *t);
    CHECK(v->prev == prev);
    CHECK(v->kind == kind);
    CHECK(v->payload == payload);

    Hash leaf = LeafHash(AsBytes(entry));
    CHECK(Hex(leaf) == d.at("leaf", i));
    // The leaf hash is SHA-256(0x00 || entry).
    std::string prefixed(1, '\0');
    prefixed.append(entry);
    CHECK(leaf == Sha256Of(std::string_view(prefixed)));
    prev = leaf;  // the chain rule
  }
}

TEST_CASE("ledger-format §11.3: tree, stored hashes and proofs") {
  DocValues d = ParseDoc();
  std::vector<Hash> leaves;
  for (int i = 0; i < 3; ++i) leaves.push_back(HashFromHex(d.at("leaf", i)));

  CHECK(Hex(NodeHash(leaves[0], leaves[1])) == d.at("node(1,0)"));
  CHECK(d.at("root(2)") == d.at("node(1,0)"));
  Hash root3 = NodeHash(NodeHash(leaves[0], leaves[1]), leaves[2]);
  CHECK(Hex(root3) == d.at("root(3)"));
  CHECK(Base64Encode(AsBytes(root3)) == d.at("root(3).base64"));

  // §5: the hashes column is the list of perfect subtrees each leaf completes.
  TreeFrontier f;
  std::vector<Hash> completed;
  for (int i = 0; i < 3; ++i) {
    f.Append(leaves[static_cast<size_t>(i)], &completed);
    std::string column;
    for (const Hash& h : completed) column += Hex(h);
    CHECK(column == d.at("hashes", i));
  }
  CHECK(f.Root() == root3);

  std::vector<Hash> inclusion = {HashFromHex(d.at("proof(1,3)[0]")), HashFromHex(d.at("proof(1,3)[1]"))};
  CHECK(VerifyInclusion(1, 3, leaves[1], inclusion, root3).ok());
  std::vector<Hash> consistency = {HashFromHex(d.at("consistency(2,3)[0]"))};
  CHECK(VerifyConsistency(2, 3, HashFromHex(d.at("root(2)")), root3, consistency).ok());
  CHECK(d.values.count("proof(1,3)[2]") == 0);
  CHECK(d.values.count("consistency(2,3)[1]") == 0);
}

TEST_CASE("ledger-format §11: a real ledger with a fixed clock reproduces every example value") {
  DocValues d = ParseDoc();
  Signer signer = DocSigner(d);
  CHECK(signer.verifier_key_string() == d.at("vkey"));
  CHECK(signer.signer_key_string() == d.at("skey"));
  char key_id[9];
  std::snprintf(key_id, sizeof key_id, "%08x", signer.key_id());
  CHECK(key_id == d.at("key_id"));
  Result<VerifierKey> vkey = ParseVerifierKey(d.at("vkey"));
  REQUIRE(vkey.ok());
  CHECK(vkey->key_id == signer.key_id());

  TempDir dir;
  FakeClock clock(*ParseTimestampMillis(d.at("time", 0)));
  LedgerOptions o;
  o.path = dir.path + "/ledger.db";
  o.create_if_missing = true;
  o.origin = d.at("origin");
  o.clock = &clock;
  o.signer = &signer;
  Result<std::unique_ptr<Ledger>> opened = Ledger::Open(o);
  REQUIRE(opened.ok());
  Ledger& ledger = **opened;
  for (int i = 0; i < 3; ++i) {
    clock.Set(*ParseTimestampMillis(d.at("time", i)));
    Result<std::vector<AppendedEntry>> r = ledger.Append({{d.at("kind", i), d.at("payload", i)}});
    REQUIRE(r.ok());
    CHECK(Hex((*r)[0].leaf_hash) == d.at("leaf", i));
  }
  for (int i = 0; i < 3; ++i) {
    Result<std::string> e = ledger.ReadEntry(static_cast<uint64_t>(i));
    REQUIRE(e.ok());
    CHECK(*e == d.at("entry", i));
  }
  REQUIRE(ledger.ScanStored(0, 3, [&](uint64_t seq, std::string_view, std::string_view hashes) {
                  CHECK(HexEncode(AsBytes(hashes)) == d.at("hashes", static_cast<int>(seq)));
                  return Status::Ok();
                }).ok());
  Result<Hash> node = ledger.StoredNode(1, 0);
  REQUIRE(node.ok());
  CHECK(Hex(*node) == d.at("node(1,0)"));
  CHECK(Hex(*ledger.RootAt(2)) == d.at("root(2)"));
  CHECK(Hex(*ledger.RootAt(3)) == d.at("root(3)"));

  Result<std::vector<Hash>> proof = ledger.InclusionProof(1, 3);
  REQUIRE(proof.ok());
  REQUIRE(proof->size() == 2);
  CHECK(Hex((*proof)[0]) == d.at("proof(1,3)[0]"));
  CHECK(Hex((*proof)[1]) == d.at("proof(1,3)[1]"));
  Result<std::vector<Hash>> cons = ledger.ConsistencyProof(2, 3);
  REQUIRE(cons.ok());
  REQUIRE(cons->size() == 1);
  CHECK(Hex((*cons)[0]) == d.at("consistency(2,3)[0]"));

  Result<StoredCheckpoint> cp = ledger.SignCheckpoint();
  REQUIRE(cp.ok());
  CHECK(cp->signed_note == d.signed_note);
  CHECK(cp->checkpoint.Body() == d.at("origin") + "\n3\n" + d.at("root(3).base64") + "\n");

  VerifyOptions opts;
  opts.keys.push_back(*vkey);
  VerifyReport report = VerifyLedger(ledger, opts);
  INFO(report.Summary());
  CHECK(report.ok);
  CHECK(report.checkpoints == 1);
}

TEST_CASE("ledger-format §7, §11.4: the example export verifies against the example checkpoint") {
  DocValues d = ParseDoc();
  Result<Note> note = ParseNote(d.signed_note);
  REQUIRE(note.ok());
  Result<Checkpoint> body = ParseCheckpointBody(note->text);
  REQUIRE(body.ok());
  CHECK(body->origin == d.at("origin"));
  CHECK(body->size == 3);
  CHECK(Hex(body->root) == d.at("root(3)"));
  Result<VerifierKey> vkey = ParseVerifierKey(d.at("vkey"));
  REQUIRE(vkey.ok());
  REQUIRE(VerifyNote(*note, {*vkey}).ok());

  TempDir dir;
  std::string file = dir.path + "/export.jsonl";
  std::string text;
  for (int i = 0; i < 3; ++i) text += d.at("entry", i) + "\n";
  CHECK(text.size() == 713);  // as §11.4 says
  {
    std::ofstream out(file, std::ios::binary);
    out << text;
  }
  VerifyOptions opts;
  opts.keys.push_back(*vkey);
  opts.expected_origin = d.at("origin");
  VerifyReport report = VerifyExport(file, {d.signed_note}, opts);
  INFO(report.Summary());
  CHECK(report.ok);
  CHECK(report.Summary() == "OK: 3 entries, 1 signed checkpoints verified, root " + d.at("root(3).base64"));

  // One changed byte in the payload of entry 1 is caught at seq 1.
  std::string bad = text;
  bad[text.find("opt_out")] = 'O';
  {
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out << bad;
  }
  VerifyReport tampered = VerifyExport(file, {d.signed_note}, opts);
  CHECK_FALSE(tampered.ok);
  REQUIRE(tampered.bad_seq.has_value());
  CHECK(*tampered.bad_seq == 2);  // entry 2's prev no longer matches entry 1's hash
}

TEST_CASE("ledger-format: the overview and §6 examples are the worked example's values") {
  DocValues d = ParseDoc();
  // §1 shows entry[0] on a line of its own; §6 shows the signed checkpoint.
  // (Built with append: GCC 12 warns falsely on "literal" + string here.)
  auto framed = [](std::string_view before, const std::string& s, std::string_view after) {
    std::string out(before);
    out.append(s).append(after);
    return out;
  };
  CHECK(d.doc.find(framed("\n", d.at("entry", 0), "\n")) != std::string::npos);
  CHECK(d.doc.find(framed("```\n", d.signed_note, "```\n")) != std::string::npos);
  // §6.2's verifier key example is the example key.
  CHECK(d.doc.find(framed("`", d.at("vkey"), "`")) != std::string::npos);
}

}  // namespace
}  // namespace consentd::ledger
