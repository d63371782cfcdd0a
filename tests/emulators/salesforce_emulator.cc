// PLACEHOLDER: the Salesforce emulator is being written (issue 5). It serves no
// routes yet, so every request to it answers 404.
#include "tests/emulators/emulator.h"

namespace consentd::emulators {

void RegisterSalesforce(Emulator&) {}

}  // namespace consentd::emulators
