// Credential references: in a policy document a system's credentials are
// file paths ("shopify-main/access_token"), never the secrets themselves, so
// that policy files can live in version control and be printed. A relative
// path is resolved against consentd's key directory (the one `consentctl
// init` creates, mode 0700); an absolute path (e.g. a secret manager's
// mounted file) is used as is.
//
// Thread-safety: pure functions.
#ifndef CONSENTD_POLICIES_CREDENTIAL_REF_H_
#define CONSENTD_POLICIES_CREDENTIAL_REF_H_

#include <string>
#include <string_view>

namespace consentd::policies {

// Returns "" when `ref` is an acceptable file reference, else the problem.
// Rejects values that look like an inline secret (known token prefixes such
// as "shpat_" or "pk_", Mailchimp "<hex>-us6" keys, UUIDs, long hex or base64
// runs, long mixed-case alphanumeric runs), whitespace, control characters,
// and ".." segments (a reference may not leave the key directory). The
// problem text never quotes the value.
std::string CredentialRefProblem(std::string_view ref);

// The file to read: `ref` if absolute, else key_dir + "/" + ref.
// REQUIRES: CredentialRefProblem(ref).empty().
std::string ResolveCredentialPath(std::string_view ref, std::string_view key_dir);

}  // namespace consentd::policies

#endif  // CONSENTD_POLICIES_CREDENTIAL_REF_H_
