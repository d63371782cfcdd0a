// Key rotation, interrupted and resumed: every subject stays decryptable and
// resolvable throughout, and ends under the new key.
#include <sqlite3.h>

#include <catch2/catch.hpp>

#include <filesystem>
#include <string>
#include <vector>

#include "src/identity/key_commands.h"
#include "tests/identity/test_env.h"

namespace consentd::identity {
namespace {

using domain::Sid;
using testing::Email;
using testing::Phone;
using testing::ScalarOnFile;
using testing::TestEnv;

struct Person {
  Sid sid;
  std::string email;
  int64_t record = 0;
};

std::vector<Person> MakePeople(TestEnv& env, int n, const std::string& prefix, int first_phone = 1000) {
  std::vector<Person> people;
  for (int i = 0; i < n; ++i) {
    Person p;
    p.email = prefix + std::to_string(i) + "@example.com";
    char phone[32];
    std::snprintf(phone, sizeof phone, "+1 201 555 %04d", first_phone + i);
    Result<Resolution> r = env.registry().Resolve(std::vector<domain::Identifier>{Email(p.email), Phone(phone)});
    REQUIRE(r.ok());
    p.sid = r->sid;
    Result<vault::SealedRecord> sealed = env.registry().vault().SealRecord(p.sid, "consent.ip", "192.0.2." + std::to_string(i));
    REQUIRE(sealed.ok());
    Status s = env.writer().Write({}, [&](sqlite3* db, std::span<const ledger::AppendedEntry>) -> Status {
      Result<int64_t> id = vault::Vault::InsertRecord(db, p.sid, *sealed, 0);
      if (!id.ok()) return id.status();
      p.record = *id;
      return Status::Ok();
    });
    REQUIRE(s.ok());
    people.push_back(p);
  }
  return people;
}

void CheckEveryoneReadable(TestEnv& env, const std::vector<Person>& people) {
  for (size_t i = 0; i < people.size(); ++i) {
    INFO("person " << i);
    Result<std::optional<Sid>> found = env.registry().Lookup(Email(people[i].email));
    REQUIRE(found.ok());
    CHECK(*found == std::optional<Sid>(people[i].sid));
    Result<std::vector<domain::NormalizedIdentifier>> ids = env.registry().IdentifiersOf(people[i].sid);
    if (!ids.ok()) FAIL(ids.status().ToString());
    CHECK(ids->size() == 2);
    Result<std::string> ip = env.registry().vault().OpenRecord(people[i].record);
    if (!ip.ok()) FAIL(ip.status().ToString());
    CHECK(*ip == "192.0.2." + std::to_string(i));
  }
}

size_t CountEntries(TestEnv& env, std::string_view needle) {
  size_t n = 0;
  Status s = env.ledger().ScanEntries(0, env.ledger().Size(), [&](uint64_t, std::string_view e) {
    n += e.find(needle) != std::string_view::npos;
    return Status::Ok();
  });
  REQUIRE(s.ok());
  return n;
}

TEST_CASE("KEK rotation interrupted after some subjects resumes and ends with all subjects decryptable",
          "[identity][rotation]") {
  TestEnv env;
  std::vector<Person> people = MakePeople(env, 20, "kek");

  vault::RotationOptions stop_early;
  stop_early.batch_size = 3;
  stop_early.max_rows = 7;  // the "crash": stop after 7 subjects
  Result<vault::RotationProgress> first = RotateKek(env.db_path(), env.ledger(), env.keys(), stop_early, env.clock());
  REQUIRE(first.ok());
  CHECK_FALSE(first->finished);
  CHECK(first->to_key_id == 2);
  CHECK(first->rows_this_run == 7);
  CHECK(first->rows_remaining == 13);

  // Mid-rotation, subjects under either key are readable, and new subjects
  // get the new key.
  env.Reopen();
  CheckEveryoneReadable(env, people);
  std::vector<Person> late = MakePeople(env, 2, "late", 2000);

  vault::RotationOptions resume;
  resume.batch_size = 4;
  resume.retire_old_keys = true;
  Result<vault::RotationProgress> second = RotateKek(env.db_path(), env.ledger(), env.keys(), resume, env.clock());
  REQUIRE(second.ok());
  CHECK(second->finished);
  CHECK(second->to_key_id == 2);  // resumed, not a new rotation
  CHECK(second->rows_this_run == 13);
  CHECK(second->rows_remaining == 0);
  CHECK_FALSE(std::filesystem::exists(env.key_dir() + "/kek.1.key"));

  env.Reopen();  // only key 2 is left
  REQUIRE(env.registry().vault().kek().keys().size() == 1);
  CheckEveryoneReadable(env, people);
  CheckEveryoneReadable(env, late);
  CHECK(CountEntries(env, "vault.key_rotation_started") == 1);
  CHECK(CountEntries(env, "vault.key_rotation_finished") == 1);

  // The next call is a new rotation.
  Result<vault::RotationProgress> third =
      RotateKek(env.db_path(), env.ledger(), env.keys(), vault::RotationOptions(), env.clock());
  REQUIRE(third.ok());
  CHECK(third->to_key_id == 3);
  CHECK(third->finished);
  CHECK(third->rows_this_run == 22);
}

TEST_CASE("KEK rotation resumes when it stopped between making the key and recording the start",
          "[identity][rotation]") {
  TestEnv env;
  std::vector<Person> people = MakePeople(env, 5, "crash");
  REQUIRE(env.keys().AddKey(vault::KeyDirectory::kKek).ok());  // then "crashed"
  Result<vault::RotationProgress> r =
      RotateKek(env.db_path(), env.ledger(), env.keys(), vault::RotationOptions(), env.clock());
  REQUIRE(r.ok());
  CHECK(r->to_key_id == 2);
  CHECK(r->finished);
  CHECK(r->rows_this_run == 5);
  env.Reopen();
  CheckEveryoneReadable(env, people);
  CHECK(CountEntries(env, "vault.key_rotation_started") == 1);
}

TEST_CASE("Blind-index rotation interrupted mid-way resumes and ends with every identifier resolvable",
          "[identity][rotation]") {
  domain::IdentityRules rules;
  rules.suggest_plus_tag_merges = true;
  TestEnv env(rules);
  std::vector<Person> people = MakePeople(env, 15, "bidx");  // 30 identifiers

  vault::RotationOptions stop_early;
  stop_early.batch_size = 4;
  stop_early.max_rows = 9;
  Result<vault::RotationProgress> first =
      RotateBlindIndex(env.db_path(), env.ledger(), env.keys(), stop_early, env.clock());
  REQUIRE(first.ok());
  CHECK_FALSE(first->finished);
  CHECK(first->rows_this_run == 9);
  CHECK(first->rows_remaining == 21);

  env.Reopen();  // the ring now holds keys 1 and 2
  REQUIRE(env.registry().indexer().keys().keys().size() == 2);
  CheckEveryoneReadable(env, people);
  // Resolving a known identifier mid-rotation finds it under either key and
  // creates nothing.
  Result<Resolution> known = env.registry().Resolve(std::vector<domain::Identifier>{Email(people[14].email)});
  REQUIRE(known.ok());
  CHECK(known->outcome == Resolution::Outcome::kExisting);

  vault::RotationOptions resume;
  resume.retire_old_keys = true;
  Result<vault::RotationProgress> second =
      RotateBlindIndex(env.db_path(), env.ledger(), env.keys(), resume, env.clock());
  REQUIRE(second.ok());
  CHECK(second->finished);
  CHECK(second->rows_this_run == 21);
  CHECK_FALSE(std::filesystem::exists(env.key_dir() + "/blind-index.1.key"));

  env.Reopen();
  REQUIRE(env.registry().indexer().keys().keys().size() == 1);
  CheckEveryoneReadable(env, people);
  // Plus-tag bases were re-indexed too.
  Result<Resolution> tagged =
      env.registry().Resolve(std::vector<domain::Identifier>{Email("bidx3+promo@example.com")});
  REQUIRE(tagged.ok());
  CHECK(tagged->review_ids.size() == 1);
}

}  // namespace
}  // namespace consentd::identity

namespace consentd::identity {
namespace {

// Runs `sql` on the file at `path` through a connection of its own.
void ExecOnFile(const std::string& path, const char* sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  REQUIRE(sqlite3_exec(db, sql, nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(db);
}

// Whether the file at `path` has a table or index named `name` (a plain
// identifier).
bool HasSchemaObject(const std::string& path, const std::string& name) {
  return ScalarOnFile(path, "SELECT count(*) FROM sqlite_schema WHERE name = '" + name + "'") > 0;
}

TEST_CASE("Opening a file made with the key_id index drops it, and blind-index rotation still counts every row",
          "[identity][rotation]") {
  TestEnv env;
  std::vector<Person> people = MakePeople(env, 6, "oldidx");  // 12 identifiers
  ExecOnFile(env.db_path(), "CREATE INDEX identity_identifiers_by_key ON identity_identifiers(key_id)");  // as older versions made it
  env.Reopen();
  CHECK_FALSE(HasSchemaObject(env.db_path(), "identity_identifiers_by_key"));
  vault::RotationOptions some;
  some.batch_size = 5;
  some.max_rows = 5;
  Result<vault::RotationProgress> first = RotateBlindIndex(env.db_path(), env.ledger(), env.keys(), some, env.clock());
  REQUIRE(first.ok());
  CHECK(first->rows_this_run == 5);
  CHECK(first->rows_remaining == 7);
}

TEST_CASE("Opening a file made with the kek_id index drops it, and KEK rotation still finds every subject",
          "[identity][rotation]") {
  TestEnv env;
  std::vector<Person> people = MakePeople(env, 6, "oldkek");
  ExecOnFile(env.db_path(), "CREATE INDEX vault_subject_keys_by_kek ON vault_subject_keys(kek_id)");  // as older versions made it
  env.Reopen();
  CHECK_FALSE(HasSchemaObject(env.db_path(), "vault_subject_keys_by_kek"));
  Result<vault::RotationProgress> r =
      RotateKek(env.db_path(), env.ledger(), env.keys(), vault::RotationOptions(), env.clock());
  REQUIRE(r.ok());
  CHECK(r->finished);
  CHECK(r->rows_this_run == 6);
  env.Reopen();
  CheckEveryoneReadable(env, people);
}


// Whether the identifier table of the file at `path` has an `id` column.
bool IdentifiersHaveRowidColumn(const std::string& path) {
  return ScalarOnFile(path, "SELECT count(*) FROM pragma_table_info('identity_identifiers') WHERE name = 'id'") == 1;
}

TEST_CASE("Opening a file whose identifier table is keyed by blind index migrates it to a rowid table and loses no row",
          "[identity][rotation]") {
  domain::IdentityRules rules;
  rules.suggest_plus_tag_merges = true;  // reads identity_identifiers_by_base
  TestEnv env(rules);
  std::vector<Person> people = MakePeople(env, 6, "rowid");  // 12 identifiers
  // The layout older versions made: WITHOUT ROWID, keyed by bidx.
  ExecOnFile(env.db_path(),
             "CREATE TABLE old_layout(bidx BLOB PRIMARY KEY, root_sid BLOB NOT NULL, owner_sid BLOB NOT NULL,"
             " kind TEXT NOT NULL, qualifier TEXT NOT NULL, key_id INTEGER NOT NULL, sealed BLOB NOT NULL,"
             " base_bidx BLOB, created_ms INTEGER NOT NULL) WITHOUT ROWID;"
             "INSERT INTO old_layout SELECT bidx, root_sid, owner_sid, kind, qualifier, key_id, sealed, base_bidx,"
             " created_ms FROM identity_identifiers;"
             "DROP TABLE identity_identifiers;"
             "ALTER TABLE old_layout RENAME TO identity_identifiers;"
             "CREATE INDEX identity_identifiers_by_root ON identity_identifiers(root_sid);"
             "CREATE INDEX identity_identifiers_by_base ON identity_identifiers(base_bidx) WHERE base_bidx IS NOT NULL;");
  REQUIRE_FALSE(IdentifiersHaveRowidColumn(env.db_path()));

  env.Reopen();
  CHECK(IdentifiersHaveRowidColumn(env.db_path()));
  CHECK(HasSchemaObject(env.db_path(), "identity_identifiers_by_root"));
  CHECK(HasSchemaObject(env.db_path(), "identity_identifiers_by_base"));
  CHECK_FALSE(HasSchemaObject(env.db_path(), "identity_identifiers_old"));
  CheckEveryoneReadable(env, people);  // lookups by blind index, identifiers by root
  // A known identifier still resolves to its subject; a new one links.
  Result<Resolution> known = env.registry().Resolve(std::vector<domain::Identifier>{Email(people[2].email)});
  REQUIRE(known.ok());
  CHECK(known->outcome == Resolution::Outcome::kExisting);
  CHECK(known->sid == people[2].sid);
  Result<Resolution> fresh = env.registry().Resolve(std::vector<domain::Identifier>{Email("rowid-new@example.com")});
  REQUIRE(fresh.ok());
  CHECK(fresh->outcome == Resolution::Outcome::kCreated);
  // The base index answers the plus-tag check after the migration.
  Result<Resolution> tagged = env.registry().Resolve(std::vector<domain::Identifier>{Email("rowid1+news@example.com")});
  REQUIRE(tagged.ok());
  CHECK(tagged->review_ids.size() == 1);
  // Opening again finds the new layout and changes nothing.
  env.Reopen();
  CheckEveryoneReadable(env, people);
  // Blind-index rotation rewrites every migrated row.
  vault::RotationOptions all;
  all.retire_old_keys = true;
  Result<vault::RotationProgress> rotated = RotateBlindIndex(env.db_path(), env.ledger(), env.keys(), all, env.clock());
  REQUIRE(rotated.ok());
  CHECK(rotated->finished);
  CHECK(rotated->rows_this_run == 14);  // 12 + the new identifier + the tagged one
  env.Reopen();
  CheckEveryoneReadable(env, people);
}

}  // namespace
}  // namespace consentd::identity
