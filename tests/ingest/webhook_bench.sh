#!/usr/bin/env bash
# webhook_bench.sh: the ingest benchmark of issue 6 (docs/benchmarks.md,
# "Ingest (issue 6)"). A program, not a test.
#
#   tests/ingest/webhook_bench.sh BUILD_DIR [REQUESTS_PER_ROUND] [ROUNDS] [SENDERS]
#
# Starts consentd on a fresh data directory (the default policy; a webhook
# secret for shopify-main), then runs ROUNDS rounds (default 5) of
# webhook_load: REQUESTS_PER_ROUND (default 5000) signed Shopify consent
# deliveries from SENDERS (default 32) concurrent keep-alive senders, each
# for a new customer (identity creation, conflict rules, ledger entry, outbox
# rows: the full path), durable before the 2xx. Prints each round and the
# medians of accepted/s and p99. Binds 127.0.0.1 only; stops what it starts.
set -euo pipefail

BUILD=${1:?usage: webhook_bench.sh BUILD_DIR [REQUESTS_PER_ROUND] [ROUNDS] [SENDERS]}
N=${2:-5000}
ROUNDS=${3:-5}
SENDERS=${4:-32}
CTL=$BUILD/src/app/consentctl
CONSENTD=$BUILD/src/app/consentd
LOAD=$BUILD/tests/ingest/webhook_load

TMP=$(mktemp -d /tmp/consentd-webhook-bench-XXXXXX)
CONSENTD_PID=""
cleanup() {
  [ -n "$CONSENTD_PID" ] && kill -TERM "$CONSENTD_PID" 2>/dev/null && wait "$CONSENTD_PID" 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT

echo "# machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load $(cut -d' ' -f1-3 /proc/loadavg)"
D=$TMP/data
$CTL init --data-dir "$D" --origin bench.example/consent >/dev/null 2>&1
mkdir -p "$D.keys/credentials/shopify-main"
printf 'bench-webhook-secret\n' > "$D.keys/credentials/shopify-main/webhook_secret"
chmod 600 "$D.keys/credentials/shopify-main/webhook_secret"
PORT=$(( 20000 + RANDOM % 20000 ))
python3 - "$D/consentd.json" "$PORT" <<'PY'
import json, sys
p = sys.argv[1]; j = json.load(open(p)); j["listen"] = "127.0.0.1:" + sys.argv[2]; j["http_threads"] = 48
json.dump(j, open(p, "w"), indent=2)
PY
"$CONSENTD" --config "$D/consentd.json" > "$TMP/consentd.log" 2>&1 &
CONSENTD_PID=$!
for i in $(seq 1 100); do grep -q consentd.listening "$TMP/consentd.log" && break; sleep 0.1; done
grep -q consentd.listening "$TMP/consentd.log" || { cat "$TMP/consentd.log"; exit 1; }

: > "$TMP/rounds.txt"
for r in $(seq 1 "$ROUNDS"); do
  "$LOAD" --port "$PORT" --secret bench-webhook-secret --requests "$N" --senders "$SENDERS" --run "r$r" | tee -a "$TMP/rounds.txt"
done
awk '{ for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]][NR] = kv[2] } }
     END { n = NR; for (k in v) { m = 0; for (i = 1; i <= n; i++) a[i] = v[k][i] + 0;
             asort(a); med[k] = (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2; delete a }
           printf "MEDIAN rounds=%d senders=%s accepted_per_s=%.0f p50_ms=%.1f p99_ms=%.1f\n", n, v["senders"][1], med["accepted_per_s"], med["p50_ms"], med["p99_ms"] }' "$TMP/rounds.txt"
curl -s "http://127.0.0.1:$PORT/metrics" 2>/dev/null | grep -E '^consentd_ledger_(commits|commit_callers|max_batch) ' | sed 's/^/# /' || true
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)"
