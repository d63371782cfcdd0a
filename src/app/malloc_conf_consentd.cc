// jemalloc's options for consentd, read by jemalloc at its first allocation
// (compiled in only when CONSENTD_ALLOCATOR is jemalloc; the MALLOC_CONF
// environment variable still adds to or overrides them).
//
// Transparent huge pages for the heap (madvise), as for consentctl
// (malloc_conf_consentctl.cc): fewer page faults for the SQLite page caches
// and the batches of the group commit. Unlike consentctl, consentd keeps
// jemalloc's default decay, so that memory freed after a burst goes back to
// the kernel: a service should not hold its peak forever.
extern "C" {
extern const char* malloc_conf;
const char* malloc_conf = "thp:always,metadata_thp:always";
}
