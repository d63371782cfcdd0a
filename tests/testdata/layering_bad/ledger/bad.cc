// Fixture for the layering check: the ledger must not include policies.
#include "policies/policy.h"
