// Import: backfills historical consent events from a file (`consentctl
// import`, docs/import.md) with their original timestamps and sources.
//
// Formats:
//   - JSON Lines: one event object per line, exactly the body of
//     POST /v1/consents (decoded by the caller-supplied JsonEventDecoder,
//     which the API's codec implements, so the rules are the same);
//   - CSV (RFC 4180): a header row naming the columns of docs/import.md
//     (email, phone, system ids, purpose, decision, occurred_at,
//     source_system, method, notice_id, ...), quoted fields may hold commas,
//     quotes ("") and line breaks.
// Every row goes through ConsentService (validation, the recreation guard,
// identity resolution, conflict rules, de-duplication), in batches
// (ConsentService::RecordBatch), so a re-run records nothing new: a row
// whose events are all stored already counts as a duplicate.
//
// A bad row never stops the import: malformed, oversized (max_row_bytes),
// forged (unknown system, purpose...) and otherwise refused rows are
// counted and listed with their line number and a reason that names fields,
// never the row's values (personal data). Only an unreadable file or a bad
// CSV header fail the whole import.
//
// Thread-safety: ImportFile may run concurrently with the service's other
// work; one ImportFile call uses one parser thread besides the caller's.
#ifndef CONSENTD_SERVICE_IMPORT_H_
#define CONSENTD_SERVICE_IMPORT_H_

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "src/base/result.h"
#include "src/service/consent_service.h"

namespace consentd::service {

enum class ImportFormat { kJsonLines, kCsv };

// "jsonl" or "csv"; kInvalidArgument otherwise.
Result<ImportFormat> ParseImportFormat(std::string_view name);
// kCsv for a name ending in ".csv", kJsonLines otherwise.
ImportFormat ImportFormatOf(std::string_view path);

// Decodes one JSON Lines row into an event. kInvalidArgument with a message
// that names the field (a JSON pointer), never a value.
using JsonEventDecoder = std::function<Status(std::string_view line, ConsentEvent* out)>;

struct ImportProgress {
  uint64_t bytes_read = 0;
  uint64_t total_bytes = 0;
  uint64_t rows = 0;
  uint64_t rejected = 0;
};

struct ImportOptions {
  ImportFormat format = ImportFormat::kJsonLines;
  JsonEventDecoder decode_json;           // required for kJsonLines
  // Events per RecordBatch call: one run, two durable transactions. Large,
  // because each transaction rewrites every page it touches in tables keyed
  // by random ids (docs/benchmarks.md "Service (issue 4)", "Import"): 2^18
  // (4 runs for 1,000,000 events) took 7% less CPU than 2^16 at 200,000
  // events; the process then peaks at about 2.3 GB resident.
  size_t batch_events = 262144;
  // The first batch's size; each next one doubles up to batch_events. The
  // writer has nothing to do until the first batch is parsed and planned
  // (3.4 s for 2^18 events); at 1,000,000 events a first batch of 2^16 or
  // 2^15 ran at 1.06x-1.12x the rate of 2^18 (docs/benchmarks.md, "Import
  // (seventh session)"), once the writer no longer bounded every step; 2^14
  // at 1.02x the rate of 2^16 once the writer's transactions had shrunk
  // ("Import (eighth session)": the first consent transaction starts sooner).
  size_t first_batch_events = 16384;
  // Page cache of the writing connection during the import, in KiB
  // (ConsentService::SetWriteCacheKib); 0 leaves it as it is. 256 MiB: the
  // pages written at random places (blind-index keyed) fit, and what does
  // not fit is written to the WAL before COMMIT (a spill, harmless in WAL
  // mode). 1 GiB cost more than it saved: every page of memory the process
  // touches for the first time is a page fault and a zeroed page, and at
  // 1,000,000 events 256 MiB ran at 1.08x to 1.15x the rate of 1 GiB, and
  // 128 MiB in between (docs/benchmarks.md, "Import (seventh session)").
  int64_t write_cache_kib = 1 << 18;
  size_t max_row_bytes = 64 << 10;        // longer rows are rejected unread
  size_t max_listed = 100;                // rejected rows listed (all are counted)
  bool one_by_one = false;                // Record() per event (tests compare both paths)
  std::function<void(const ImportProgress&)> progress;  // after each batch
};

struct RejectedRow {
  uint64_t line = 0;   // 1-based line where the row starts
  std::string reason;  // names fields, never values
};

struct ImportReport {
  uint64_t rows = 0;        // data rows read (not blank lines or the CSV header)
  uint64_t recorded = 0;    // rows that wrote at least one new ledger entry
  uint64_t duplicates = 0;  // rows whose events were all stored before
  uint64_t rejected = 0;    // rows refused; nothing recorded for them
  uint64_t entries = 0;     // new consent.recorded entries
  std::map<std::string, uint64_t> reasons;  // refusal reason -> rows
  std::vector<RejectedRow> listed;          // the first max_listed refusals, by line
  double seconds = 0;

  // Counts, reasons with counts, then the listed rows.
  std::string ToText() const;
};

// Imports `path`. Returns the report when the file could be read to its end
// (even if rows were rejected); kNotFound or kIOError for the file,
// kInvalidArgument for a bad CSV header or missing decoder (nothing
// recorded).
Result<ImportReport> ImportFile(ConsentService& service, const std::string& path, const ImportOptions& options);

// The CSV columns ImportFile understands (docs/import.md).
const std::vector<std::string>& CsvColumns();

}  // namespace consentd::service

#endif  // CONSENTD_SERVICE_IMPORT_H_
