// SubjectGroups: splits the events of one bulk request into groups that may
// concern the same subject, so that each group is recorded in request order
// while different groups are recorded concurrently.
//
// Why: a bulk request is answered "as if recorded one by one, in order"
// (docs/api.md). Recording two events of one subject concurrently could
// apply the later one first; the earlier one is then stale, so the change
// it carried is never fanned out although the client sent it first.
//
// Two events share a group when they share a key, directly or through other
// events (the transitive closure). Callers give each event the blind-index
// inputs of its identifiers plus the sid of every existing subject those
// identifiers resolve to, so that events naming one known subject by
// different identifiers also share a group.
//
// Thread-safety: a pure function.
#ifndef CONSENTD_SERVICE_SUBJECT_GROUPS_H_
#define CONSENTD_SERVICE_SUBJECT_GROUPS_H_

#include <cstddef>
#include <span>
#include <string>
#include <vector>

namespace consentd::service {

// Returns the groups of event indexes: every index in [0, keys.size()) in
// exactly one group, indexes ascending within a group, groups ordered by
// their first index. An event without keys is a group of its own.
std::vector<std::vector<size_t>> SubjectGroups(std::span<const std::vector<std::string>> keys);

}  // namespace consentd::service

#endif  // CONSENTD_SERVICE_SUBJECT_GROUPS_H_
