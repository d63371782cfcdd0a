#include "src/identity/normalizer.h"

#include "src/identity/email.h"
#include "src/identity/external_id.h"
#include "src/identity/phone.h"

namespace consentd::identity {

using domain::IdentifierType;
using domain::NormalizedIdentifier;

Result<NormalizedIdentifier> Normalize(const domain::Identifier& id, const domain::IdentityRules& rules) {
  switch (id.kind.type()) {
    case IdentifierType::kEmail: {
      if (!id.qualifier.empty()) return Status::InvalidArgument("email: takes no qualifier");
      Result<std::string> v = NormalizeEmail(id.value);
      if (!v.ok()) return v.status();
      return NormalizedIdentifier{id.kind, "", std::move(*v)};
    }
    case IdentifierType::kPhone: {
      if (!id.qualifier.empty()) return Status::InvalidArgument("phone: takes no qualifier");
      Result<std::string> v = NormalizePhone(id.value, rules.default_phone_region);
      if (!v.ok()) return v.status();
      return NormalizedIdentifier{id.kind, "", std::move(*v)};
    }
    default:
      return NormalizeExternalId(id.kind, id.value, id.qualifier);
  }
}

}  // namespace consentd::identity
