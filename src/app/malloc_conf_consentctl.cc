// jemalloc's options for consentctl, read by jemalloc at its first
// allocation (compiled in only when CONSENTD_ALLOCATOR is jemalloc; the
// MALLOC_CONF environment variable still adds to or overrides them).
//
// thp:always and metadata_thp:always ask the kernel for transparent huge
// pages (madvise) for the heap: an import of 1,000,000 events otherwise
// spends ~8 % of its CPU in page faults, most of them SQLite's page cache
// and the batches' vectors touching fresh 4 KiB pages. The decay times of
// -1 keep freed pages for reuse instead of handing them back to the kernel
// between batches: consentctl is a command that exits when its work is done,
// so holding its peak is harmless. A/B in docs/benchmarks.md, "Import
// (seventh session)".
extern "C" {
extern const char* malloc_conf;
const char* malloc_conf = "thp:always,metadata_thp:always,dirty_decay_ms:-1,muzzy_decay_ms:-1";
}
