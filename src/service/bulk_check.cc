#include "src/service/bulk_check.h"

#include <algorithm>
#include <string>

#include "policies/conflict.h"
#include "src/base/bytes.h"
#include "src/base/run_parts.h"
#include "src/service/state_order.h"
#include "src/service/state_row.h"

namespace consentd::service {
namespace {

using domain::ConsentState;
using domain::Sid;
using StateResult = Result<std::optional<ConsentState>>;

// How many parts `n` items are cut into: at most `parts` and at most 2.
size_t PartsFor(size_t n, size_t parts) {
  if (parts < 2 || n < 2 * kBulkCheckMinPerPart) return 1;
  return 2;
}

// Reads the state row of `sid` for the purpose bound by the caller into
// *best when it wins (state_order.h).
Status ReadRow(vault::Stmt& q, ByteView sid, std::string_view purpose, std::optional<ConsentState>* best) {
  q.Bind(1, sid).BindText(2, purpose);
  Status st = Status::Ok();
  while (true) {
    Result<bool> row = q.Step();
    if (!row.ok()) {
      st = row.status();
      break;
    }
    if (!*row) break;
    Result<ConsentState> cs = StateFromRow(q, 0);
    if (!cs.ok()) {
      st = cs.status();
      break;
    }
    if (!*best || Beats(*cs, **best)) *best = std::move(*cs);
  }
  q.Reset();
  return st;
}

}  // namespace

void ReadStates(vault::Database& db, std::span<const Sid> roots, std::string_view purpose,
                std::span<StateResult> out) {
  if (roots.empty()) return;
  auto lock = db.Lock();
  vault::ReadTransaction snapshot(db.handle());
  Result<vault::Stmt> own = db.Cached(
      "SELECT decision, occurred_ms, source_system, source_rank, method, seq FROM consent_state"
      " WHERE sid = ?1 AND purpose = ?2");
  Result<vault::Stmt> aliases = db.Cached("SELECT sid FROM identity_aliases WHERE surviving_sid = ?1");
  // Whether any subject was ever merged, in this snapshot: if none, no root
  // has aliases to probe (most stores merge rarely or never).
  Result<vault::Stmt> any_alias = db.Cached("SELECT 1 FROM identity_aliases LIMIT 1");
  Result<bool> merges = any_alias.ok() ? any_alias->Step() : Result<bool>(any_alias.status());
  if (any_alias.ok()) any_alias->Reset();
  if (!own.ok() || !aliases.ok() || !merges.ok()) {
    const Status err = !own.ok() ? own.status() : !aliases.ok() ? aliases.status() : merges.status();
    for (StateResult& r : out) r = err;
    return;
  }
  std::vector<std::string> merged;  // sids merged into the current root
  for (size_t i = 0; i < roots.size(); ++i) {
    std::optional<ConsentState> best;
    Status st = ReadRow(*own, roots[i].bytes(), purpose, &best);
    // The subjects merged into it: the alias index names them (rarely any).
    merged.clear();
    if (st.ok() && *merges) {
      aliases->Bind(1, roots[i].bytes());
      while (true) {
        Result<bool> row = aliases->Step();
        if (!row.ok()) {
          st = row.status();
          break;
        }
        if (!*row) break;
        merged.push_back(aliases->Blob(0));
      }
      aliases->Reset();
    }
    for (size_t k = 0; st.ok() && k < merged.size(); ++k) st = ReadRow(*own, AsBytes(merged[k]), purpose, &best);
    if (st.ok()) {
      out[i] = std::move(best);
    } else {
      out[i] = st;
    }
  }
}

Status CheckMany(vault::Database& db, const identity::SubjectRegistry& registry, const policies::Purpose& policy,
                 std::string_view purpose, std::string_view jurisdiction,
                 std::span<const domain::Identifier> identifiers, size_t parts,
                 std::vector<Result<ConsentAnswer>>* out, std::vector<std::optional<Sid>>* subjects) {
  const size_t n = identifiers.size();
  out->assign(n, Result<ConsentAnswer>(Status::Internal("unset")));
  subjects->assign(n, std::nullopt);

  // 1. Identifiers -> subjects.
  std::vector<Result<std::optional<Sid>>> found;
  registry.LookupMany(identifiers, &found, parts);

  // 2. Each distinct subject's state, read once, in sid order.
  std::vector<Sid> roots;
  roots.reserve(n);
  for (const Result<std::optional<Sid>>& s : found) {
    if (s.ok() && *s) roots.push_back(**s);
  }
  std::sort(roots.begin(), roots.end());
  roots.erase(std::unique(roots.begin(), roots.end()), roots.end());
  std::vector<StateResult> states(roots.size(), StateResult(Status::Internal("unset")));
  const size_t state_parts = PartsFor(roots.size(), parts);
  RunParts(state_parts, [&](size_t k) {
    auto [b, e] = PartRange(roots.size(), state_parts, k);
    ReadStates(db, std::span<const Sid>(roots).subspan(b, e - b), purpose,
               std::span<StateResult>(states).subspan(b, e - b));
  });

  // 3. The answers, in request order.
  const bool default_allowed = policies::EffectiveState(policy, std::nullopt, jurisdiction).allowed;
  for (size_t i = 0; i < n; ++i) {
    const Result<std::optional<Sid>>& sid = found[i];
    if (!sid.ok()) {
      (*out)[i] = sid.status();
      continue;
    }
    ConsentAnswer a;
    if (!*sid) {
      a.allowed = default_allowed;
      (*out)[i] = std::move(a);
      continue;
    }
    const size_t at = static_cast<size_t>(std::lower_bound(roots.begin(), roots.end(), **sid) - roots.begin());
    const StateResult& st = states[at];
    if (!st.ok()) {
      (*out)[i] = st.status();
      continue;
    }
    (*out)[i] = AnswerForSubject(policy, *st, jurisdiction);
    (*subjects)[i] = **sid;
  }
  return Status::Ok();
}

}  // namespace consentd::service
