#include "policies/policy_set.h"

namespace consentd::policies {

std::vector<std::string> PolicySet::PurposesOnChannel(Channel channel) const {
  std::vector<std::string> out;
  for (const auto& [key, purpose] : purposes) {
    if (purpose.channel == channel) out.push_back(key);
  }
  return out;
}

}  // namespace consentd::policies
