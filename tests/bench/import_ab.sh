#!/usr/bin/env bash
# import_ab.sh: consentctl import of the same generated history by two (or
# more) builds, alternating, each run into a fresh data directory
# (docs/benchmarks.md, "Import (third session)"). A program, not a test.
#
#   tests/bench/import_ab.sh EVENTS ROUNDS CONSENTCTL_A CONSENTCTL_B [...]
#
# The history is service_bench.sh's: EVENTS events, one new subject each
# (email), email_marketing granted or withdrawn, source klaviyo/import, an
# event id each. Prints per run events/s (wall) and CPU µs per event
# (user + sys of the whole process, from /usr/bin/time when installed),
# then the median of each build. On a shared machine compare CPU per event
# and per-round ratios, not absolute rates.
set -euo pipefail

N=${1:?usage: import_ab.sh EVENTS ROUNDS CONSENTCTL_A CONSENTCTL_B [...]}
ROUNDS=${2:?rounds}
shift 2
[ $# -ge 1 ] || { echo "no consentctl given" >&2; exit 2; }

TMP=$(mktemp -d /tmp/consentd-import-ab-XXXXXX)
trap 'rm -rf "$TMP"' EXIT

awk -v n="$N" 'BEGIN { srand(42); for (i = 0; i < n; i++) {
  d = (rand() < 0.5) ? "granted" : "withdrawn";
  printf "{\"identifiers\":[{\"kind\":\"email\",\"value\":\"user%d@example.com\"}],\"purpose\":\"email_marketing\",\"decision\":\"%s\",\"occurred_at\":\"2024-%02d-%02dT%02d:%02d:%02dZ\",\"source\":{\"system\":\"klaviyo\",\"method\":\"import\"},\"event_id\":\"h-%d\"}\n", i, d, 1 + i % 12, 1 + i % 28, i % 24, i % 60, i % 60, i }
}' > "$TMP/history.jsonl"
echo "# $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $N events, $ROUNDS rounds"

for r in $(seq 1 "$ROUNDS"); do
  i=0
  for ctl in "$@"; do
    i=$((i + 1))
    D=$TMP/data
    rm -rf "$D" "$D.keys"
    "$ctl" init --data-dir "$D" --origin bench.example/consent >/dev/null 2>&1
    sync
    start=$(date +%s.%N)
    if [ -x /usr/bin/time ]; then
      /usr/bin/time -f "%U %S" -o "$TMP/cpu" "$ctl" import "$TMP/history.jsonl" --data-dir "$D" > "$TMP/out"
    else
      "$ctl" import "$TMP/history.jsonl" --data-dir "$D" > "$TMP/out"
      echo "0 0" > "$TMP/cpu"
    fi
    end=$(date +%s.%N)
    grep -q " 0 rejected" "$TMP/out" || { echo "rows were rejected:"; cat "$TMP/out"; exit 1; }
    read -r user sys < "$TMP/cpu"
    awk -v r="$r" -v i="$i" -v n="$N" -v s="$start" -v e="$end" -v u="$user" -v y="$sys" \
        -v l="$(cut -d' ' -f1 /proc/loadavg)" \
        'BEGIN { printf "round %d build %d: %.0f events/s, %.1f us CPU per event (wall %.1f s, load %s)\n", r, i, n / (e - s), (u + y) * 1e6 / n, e - s, l }' |
      tee -a "$TMP/results"
  done
done
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
for i in $(seq 1 $#); do
  rate=$(grep " build $i:" "$TMP/results" | awk '{ print $5 }' | median)
  cpu=$(grep " build $i:" "$TMP/results" | awk '{ print $7 }' | median)
  echo "build $i median: $rate events/s, $cpu us CPU per event"
done
