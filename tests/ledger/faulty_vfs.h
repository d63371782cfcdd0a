// FaultyVfs: a SQLite VFS for tests that wraps the default VFS and fails the
// Nth xWrite or xSync (after SQLite's own I/O-error tests, src/test6.c).
// Open a connection with the VFS name (LedgerOptions::sqlite_vfs) and arm a
// fault; every file the connection opens goes through the counters.
//
// Thread-safety: all functions are thread-safe (the counters are atomics).
#ifndef CONSENTD_TESTS_LEDGER_FAULTY_VFS_H_
#define CONSENTD_TESTS_LEDGER_FAULTY_VFS_H_

#include <cstdint>

namespace consentd::testing {

enum class FaultOp { kWrite, kSync };

// Registers the VFS (once; not as the default) and returns its name.
const char* FaultyVfsName();

// Resets the counters and disarms any fault.
void FaultyVfsReset();

// From now on, the `n`th (1-based) call of `op` fails once: xWrite with
// SQLITE_IOERR_WRITE, xSync with SQLITE_IOERR_FSYNC. Later calls succeed.
// Resets the counters.
void FaultyVfsArm(FaultOp op, uint64_t n);

// Disarms a pending fault; the counters keep counting.
void FaultyVfsDisarm();

// Calls of `op` since the last reset or arm.
uint64_t FaultyVfsCount(FaultOp op);

// How many faults fired since the last reset or arm.
uint64_t FaultyVfsFired();

}  // namespace consentd::testing

#endif  // CONSENTD_TESTS_LEDGER_FAULTY_VFS_H_
