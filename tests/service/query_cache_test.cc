// QueryCache alone (fills refused after a write, erasure by reported key,
// foreign flush, bounded memory), then the consent query index over a real
// Runtime: answers follow every acknowledged write of this process and of
// another one, merged and shredded subjects, warming, and readers racing a
// writer never see a state older than the last acknowledged write.
#include "src/service/query_cache.h"

#include <catch2/catch.hpp>
#include <array>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <thread>

#include "src/app/data_dir.h"
#include "src/base/time_format.h"
#include "src/service/config.h"
#include "src/service/runtime.h"

namespace consentd::service {
namespace {

using domain::Decision;
using domain::Identifier;
using domain::IdentifierKind;
using domain::Sid;

Sid SidOf(uint8_t b) {
  std::array<uint8_t, Sid::kSize> a{};
  a.fill(b);
  a[15] = static_cast<uint8_t>(b * 7 + 1);
  return Sid(a);
}

identity::BlindIndex BidxOf(uint8_t b) {
  identity::BlindIndex x{};
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<uint8_t>(b + i * 31);
  return x;
}

std::string KeyOf(const Sid& s) { return std::string(AsChars(s.bytes())); }
std::string KeyOf(const identity::BlindIndex& b) { return std::string(reinterpret_cast<const char*>(b.data()), b.size()); }

domain::ConsentState State(Decision d, uint64_t seq) {
  domain::ConsentState st;
  st.decision = d;
  st.occurred_at_ms = 1700000000000 + static_cast<int64_t>(seq);
  st.source_system = "klaviyo";
  st.source_rank = 3;
  st.method = domain::ConsentMethod::kImport;
  st.ledger_seq = seq;
  return st;
}

TEST_CASE("The query cache returns what was stored, including 'no subject' and 'no state'", "[service][query_cache]") {
  QueryCache c(nullptr, 1 << 20);
  const Sid s = SidOf(1);
  CHECK_FALSE(c.FindSubject(BidxOf(1)).has_value());
  REQUIRE(c.PutSubject(BidxOf(1), s, c.SubjectVersion(BidxOf(1))));
  REQUIRE(c.PutSubject(BidxOf(2), std::nullopt, c.SubjectVersion(BidxOf(2))));
  REQUIRE(c.FindSubject(BidxOf(1)).has_value());
  CHECK(*c.FindSubject(BidxOf(1)) == s);
  REQUIRE(c.FindSubject(BidxOf(2)).has_value());
  CHECK_FALSE(c.FindSubject(BidxOf(2))->has_value());

  REQUIRE(c.PutState(s, "email_marketing", State(Decision::kGranted, 42), c.StateVersion(s)));
  REQUIRE(c.PutState(s, "sms_marketing", std::nullopt, c.StateVersion(s)));
  auto em = c.FindState(s, "email_marketing");
  REQUIRE(em.has_value());
  REQUIRE(em->has_value());
  CHECK(**em == State(Decision::kGranted, 42));
  auto sms = c.FindState(s, "sms_marketing");
  REQUIRE(sms.has_value());
  CHECK_FALSE(sms->has_value());
  CHECK_FALSE(c.FindState(s, "ads").has_value());
  CHECK_FALSE(c.FindState(SidOf(2), "email_marketing").has_value());
  CHECK(c.stats().entries == 4);
}

TEST_CASE("A fill whose shard changed after the read began is refused", "[service][query_cache]") {
  QueryCache c(nullptr, 1 << 20);
  const Sid s = SidOf(3);
  const uint64_t vs = c.SubjectVersion(BidxOf(3));
  const uint64_t vt = c.StateVersion(s);
  // A write of those keys commits while the reader reads the old rows.
  c.OnCommit({KeyOf(BidxOf(3)), KeyOf(s)}, /*foreign=*/false);
  CHECK_FALSE(c.PutSubject(BidxOf(3), s, vs));
  CHECK_FALSE(c.PutState(s, "email_marketing", State(Decision::kGranted, 1), vt));
  CHECK_FALSE(c.FindSubject(BidxOf(3)).has_value());
  CHECK_FALSE(c.FindState(s, "email_marketing").has_value());
  // A version taken after the write is good.
  CHECK(c.PutSubject(BidxOf(3), s, c.SubjectVersion(BidxOf(3))));
}

TEST_CASE("A reported key erases its lookup and every purpose of its sid, and nothing else",
          "[service][query_cache]") {
  QueryCache c(nullptr, 1 << 20);
  const Sid a = SidOf(4), b = SidOf(5);
  REQUIRE(c.PutSubject(BidxOf(4), a, c.SubjectVersion(BidxOf(4))));
  REQUIRE(c.PutSubject(BidxOf(5), b, c.SubjectVersion(BidxOf(5))));
  for (const char* p : {"email_marketing", "sms_marketing"}) {
    REQUIRE(c.PutState(a, p, State(Decision::kGranted, 1), c.StateVersion(a)));
    REQUIRE(c.PutState(b, p, State(Decision::kGranted, 2), c.StateVersion(b)));
  }
  c.OnCommit({KeyOf(BidxOf(4)), KeyOf(a)}, false);
  CHECK_FALSE(c.FindSubject(BidxOf(4)).has_value());
  CHECK_FALSE(c.FindState(a, "email_marketing").has_value());
  CHECK_FALSE(c.FindState(a, "sms_marketing").has_value());
  CHECK(c.FindSubject(BidxOf(5)).has_value());
  CHECK(c.FindState(b, "email_marketing").has_value());
  CHECK(c.FindState(b, "sms_marketing").has_value());
  CHECK(c.stats().entries == 3);
  // A foreign commit empties everything and refuses fills begun before it.
  const uint64_t v = c.SubjectVersion(BidxOf(6));
  c.OnCommit({}, /*foreign=*/true);
  CHECK(c.stats().entries == 0);
  CHECK(c.stats().flushes == 1);
  CHECK_FALSE(c.FindState(b, "email_marketing").has_value());
  CHECK_FALSE(c.PutSubject(BidxOf(6), b, v));
}

TEST_CASE("The query cache holds at most its configured number of entries", "[service][query_cache]") {
  const size_t max = QueryCache::kShards * 2;
  QueryCache c(nullptr, max);
  for (uint32_t i = 0; i < 100000; ++i) {
    identity::BlindIndex b{};
    std::memcpy(b.data(), &i, 4);
    b[7] = static_cast<uint8_t>(i * 13);
    b[6] = static_cast<uint8_t>(i >> 3);
    c.PutSubject(b, std::nullopt, c.SubjectVersion(b));
  }
  CHECK(c.stats().entries <= max);
  CHECK(c.stats().entries > 0);
}

// ---- Over a real Runtime ----

int64_t T(const char* rfc3339) {
  Result<int64_t> t = ParseRfc3339(rfc3339);
  REQUIRE(t.ok());
  return *t;
}

Identifier Email(const std::string& v) { return Identifier{IdentifierKind::Email(), v, ""}; }
Identifier Klaviyo(const std::string& v) {
  Result<IdentifierKind> k = IdentifierKind::Parse("klaviyo_profile");
  REQUIRE(k.ok());
  return Identifier{*k, v, ""};
}

ConsentEvent Ev(std::vector<Identifier> ids, Decision d, int64_t at_ms, const std::string& purpose = "email_marketing") {
  ConsentEvent e;
  e.identifiers = std::move(ids);
  e.purpose = purpose;
  e.decision = d;
  e.occurred_at_ms = at_ms;
  e.source.system = "klaviyo";
  e.source.method = domain::ConsentMethod::kPreferenceCentre;
  return e;
}

struct Env {
  explicit Env(bool auto_merge = false) : clock(T("2025-06-01T00:00:00Z")) {
    std::string tmpl = (std::filesystem::temp_directory_path() / "consentd-qcache-XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    root = tmpl;
    Result<app::DataDir> d = app::DataDir::Init(root + "/data", "", "test.example/qcache");
    REQUIRE(d.ok());
    Result<Config> c = Config::Load(d->config_path());
    REQUIRE(c.ok());
    config = *c;
    if (auto_merge) {
      // Merging needs auto_merge in the policy; edit the default copy.
      const std::string p = d->data_dir + "/policies/default.json";
      std::string text;
      {
        std::ifstream in(p);
        text.assign(std::istreambuf_iterator<char>(in), {});
      }
      const std::string from = "\"auto_merge\": false";
      REQUIRE(text.find(from) != std::string::npos);
      text.replace(text.find(from), from.size(), "\"auto_merge\": true");
      std::ofstream(p, std::ios::trunc) << text;
    }
    rt = Open();
    REQUIRE(rt->EnableQueryCache(1 << 20).ok());
  }
  std::unique_ptr<Runtime> Open() {
    RuntimeOptions o;
    o.clock = &clock;
    Result<std::unique_ptr<Runtime>> r = Runtime::Open(config, o);
    INFO(r.status().ToString());
    REQUIRE(r.ok());
    return std::move(*r);
  }
  ~Env() {
    rt.reset();
    std::error_code ec;
    std::filesystem::remove_all(root, ec);
  }
  ConsentService& cs() { return rt->consents(); }
  QueryCache& cache() { return *rt->query_cache(); }
  bool Allowed(const Identifier& id, const std::string& purpose = "email_marketing") {
    Result<ConsentAnswer> a = cs().Query(id, purpose);
    REQUIRE(a.ok());
    return a->allowed;
  }

  std::string root;
  FakeClock clock;
  Config config;
  std::unique_ptr<Runtime> rt;
};

TEST_CASE("Answers through the query index follow every acknowledged write", "[service][query_cache]") {
  Env env;
  const Identifier ann = Email("ann@example.com");
  CHECK_FALSE(env.Allowed(ann));  // unknown: the default (cached as 'no subject')
  REQUIRE(env.cs().Record(Ev({ann}, Decision::kGranted, T("2025-01-01T00:00:00Z"))).ok());
  CHECK(env.Allowed(ann));
  const uint64_t hits = env.cache().stats().hits;
  CHECK(env.Allowed(ann));
  CHECK(env.cache().stats().hits == hits + 2);  // the lookup and the state
  REQUIRE(env.cs().Record(Ev({ann}, Decision::kWithdrawn, T("2025-02-01T00:00:00Z"))).ok());
  CHECK_FALSE(env.Allowed(ann));
  REQUIRE(env.cs().Record(Ev({ann}, Decision::kGranted, T("2025-03-01T00:00:00Z"))).ok());
  CHECK(env.Allowed(ann));
  // A newly linked identifier, cached as unknown before, resolves at once.
  const Identifier k = Klaviyo("Kann01");
  Result<ConsentAnswer> before = env.cs().Query(k, "email_marketing");
  INFO(before.status().ToString());
  REQUIRE(before.ok());
  CHECK_FALSE(before->known_subject);
  REQUIRE(env.cs().Record(Ev({ann, k}, Decision::kGranted, T("2025-03-02T00:00:00Z"), "sms_marketing")).ok());
  Result<ConsentAnswer> viak = env.cs().Query(k, "email_marketing");
  REQUIRE(viak.ok());
  CHECK(viak->known_subject);
  CHECK(viak->allowed);
  CHECK(env.Allowed(k, "sms_marketing"));
  CHECK(env.cache().stats().flushes == 0);  // our own writes invalidate precisely
}

TEST_CASE("A write by another process is seen by the next query", "[service][query_cache]") {
  Env env;
  const Identifier bob = Email("bob@example.com");
  REQUIRE(env.cs().Record(Ev({bob}, Decision::kGranted, T("2025-01-01T00:00:00Z"))).ok());
  CHECK(env.Allowed(bob));
  CHECK(env.Allowed(bob));  // now cached
  // consentctl next to consentd: its own Runtime (own ledger connection), no cache.
  std::unique_ptr<Runtime> other = env.Open();
  REQUIRE(other->consents().Record(Ev({bob}, Decision::kWithdrawn, T("2025-02-01T00:00:00Z"))).ok());
  CHECK_FALSE(env.Allowed(bob));
  CHECK(env.cache().stats().flushes >= 1);
  // And a subject it creates is known here at once.
  REQUIRE(other->consents().Record(Ev({Email("cy@example.com")}, Decision::kGranted, T("2025-02-01T00:00:00Z"))).ok());
  CHECK(env.Allowed(Email("cy@example.com")));
}

TEST_CASE("Warming fills the index: the next queries read nothing from the database", "[service][query_cache]") {
  Env env;
  for (int i = 0; i < 50; ++i) {
    REQUIRE(env.cs()
                .Record(Ev({Email("w" + std::to_string(i) + "@example.com")},
                           i % 2 ? Decision::kGranted : Decision::kWithdrawn, T("2025-01-01T00:00:00Z")))
                .ok());
  }
  env.cache().Clear();
  REQUIRE(env.cs().WarmQueryCache().ok());
  CHECK(env.cache().stats().entries == 100);
  const uint64_t misses = env.cache().stats().misses;
  for (int i = 0; i < 50; ++i) CHECK(env.Allowed(Email("w" + std::to_string(i) + "@example.com")) == (i % 2 == 1));
  CHECK(env.cache().stats().misses == misses);
}

TEST_CASE("Merged subjects are answered from the database with the group's state", "[service][query_cache]") {
  Env env(/*auto_merge=*/true);
  const Identifier a = Email("dee@example.com"), k = Klaviyo("Kdee01");
  REQUIRE(env.cs().Record(Ev({a}, Decision::kGranted, T("2025-01-01T00:00:00Z"))).ok());
  REQUIRE(env.cs().Record(Ev({k}, Decision::kWithdrawn, T("2025-02-01T00:00:00Z"))).ok());
  CHECK(env.Allowed(a));  // both cached
  CHECK_FALSE(env.Allowed(k));
  // An event naming both merges them: the Feb 1 withdrawal now speaks for both.
  REQUIRE(env.cs().Record(Ev({a, k}, Decision::kGranted, T("2025-03-01T00:00:00Z"), "sms_marketing")).ok());
  for (int round = 0; round < 2; ++round) {
    CHECK_FALSE(env.Allowed(a));
    CHECK_FALSE(env.Allowed(k));
    CHECK(env.Allowed(a, "sms_marketing"));
  }
  env.cache().Clear();
  REQUIRE(env.cs().WarmQueryCache().ok());
  CHECK_FALSE(env.Allowed(a));
  CHECK_FALSE(env.Allowed(k));
}

TEST_CASE("A shredded subject is unknown to the next query", "[service][query_cache]") {
  Env env;
  const Identifier e = Email("eve@example.com");
  Result<RecordResult> r = env.cs().Record(Ev({e}, Decision::kGranted, T("2025-01-01T00:00:00Z")));
  REQUIRE(r.ok());
  CHECK(env.Allowed(e));
  CHECK(env.Allowed(e));
  REQUIRE(env.rt->subjects().Shred(r->sid).ok());
  Result<ConsentAnswer> a = env.cs().Query(e, "email_marketing");
  REQUIRE(a.ok());
  CHECK_FALSE(a->known_subject);
  CHECK_FALSE(a->allowed);
}

TEST_CASE("Readers racing a writer never see a state older than the last acknowledged write",
          "[service][query_cache]") {
  Env env;
  constexpr int kSubjects = 4;
  constexpr int kWrites = 120;
  std::vector<Identifier> ids;
  for (int i = 0; i < kSubjects; ++i) ids.push_back(Email("race" + std::to_string(i) + "@example.com"));
  // The ledger seq of each subject's last acknowledged write.
  std::array<std::atomic<uint64_t>, kSubjects> acked{};
  std::atomic<bool> done{false};
  std::atomic<int> violations{0}, reads{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 3; ++t) {
    readers.emplace_back([&, t] {
      for (int n = 0; !done.load(); ++n) {
        const int i = (n + t) % kSubjects;
        const uint64_t floor = acked[i].load();
        Result<ConsentAnswer> a = env.cs().Query(ids[i], "email_marketing");
        if (!a.ok()) {
          violations.fetch_add(1);
          continue;
        }
        reads.fetch_add(1);
        const uint64_t seen = a->state ? a->state->ledger_seq : 0;
        if (seen < floor) violations.fetch_add(1);
      }
    });
  }
  int64_t at = T("2025-01-01T00:00:00Z");
  for (int w = 0; w < kWrites; ++w) {
    const int i = w % kSubjects;
    at += 1000;
    Result<RecordResult> r =
        env.cs().Record(Ev({ids[i]}, w % 3 ? Decision::kGranted : Decision::kWithdrawn, at));
    REQUIRE(r.ok());
    acked[i].store(r->recorded[0].seq);
  }
  done.store(true);
  for (std::thread& t : readers) t.join();
  CHECK(violations.load() == 0);
  CHECK(reads.load() > kWrites);
  CHECK(env.cache().stats().hits > 0);
}

}  // namespace
}  // namespace consentd::service
