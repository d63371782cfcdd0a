#include "src/service/subject_groups.h"

#include <numeric>
#include <unordered_map>

namespace consentd::service {
namespace {

// Union-find over event indexes, with path halving and union by index (the
// smaller index becomes the root, so a group's root is its first event).
size_t Find(std::vector<size_t>& parent, size_t i) {
  while (parent[i] != i) {
    parent[i] = parent[parent[i]];
    i = parent[i];
  }
  return i;
}

void Union(std::vector<size_t>& parent, size_t a, size_t b) {
  a = Find(parent, a);
  b = Find(parent, b);
  if (a == b) return;
  if (a < b) {
    parent[b] = a;
  } else {
    parent[a] = b;
  }
}

}  // namespace

std::vector<std::vector<size_t>> SubjectGroups(std::span<const std::vector<std::string>> keys) {
  std::vector<size_t> parent(keys.size());
  std::iota(parent.begin(), parent.end(), size_t{0});
  std::unordered_map<std::string_view, size_t> first_with_key;
  for (size_t i = 0; i < keys.size(); ++i) {
    for (const std::string& k : keys[i]) {
      auto [it, inserted] = first_with_key.emplace(k, i);
      if (!inserted) Union(parent, it->second, i);
    }
  }
  std::vector<std::vector<size_t>> groups;
  std::vector<size_t> group_of_root(keys.size(), SIZE_MAX);
  for (size_t i = 0; i < keys.size(); ++i) {
    size_t root = Find(parent, i);
    if (group_of_root[root] == SIZE_MAX) {
      group_of_root[root] = groups.size();
      groups.emplace_back();
    }
    groups[group_of_root[root]].push_back(i);
  }
  return groups;
}

}  // namespace consentd::service
