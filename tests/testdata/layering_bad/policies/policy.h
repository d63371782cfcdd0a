// Fixture for the layering check.
#include "src/base/status.h"
