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
# rows: the full path), durable before the 2xx. Propagation is disabled so
# that nothing is sent to the default policy's real system addresses; the
# outbox rows are still written in each delivery's transaction. Prints each round and the
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
TOKEN=$($CTL token create --data-dir "$D" --name bench --scope ingest:shopify-main 2>/dev/null)
PORT=$(( 20000 + RANDOM % 20000 ))
python3 - "$D/consentd.json" "$PORT" <<'PY'
import json, sys
p = sys.argv[1]; j = json.load(open(p)); j["listen"] = "127.0.0.1:" + sys.argv[2]; j["http_threads"] = 48
j["propagation"] = {"enabled": False}  # rows are written (the full path); nothing is sent to the real systems
json.dump(j, open(p, "w"), indent=2)
PY
"$CONSENTD" --config "$D/consentd.json" > "$TMP/consentd.log" 2>&1 &
CONSENTD_PID=$!
for i in $(seq 1 100); do grep -q consentd.listening "$TMP/consentd.log" && break; sleep 0.1; done
grep -q consentd.listening "$TMP/consentd.log" || { cat "$TMP/consentd.log"; exit 1; }

: > "$TMP/rounds.txt"
# Rounds alternate the webhook and, as a baseline, the same events through
# POST /v1/consents (bearer token, JSON body): the ratio is the cost of the
# webhook path (verification, mapping, de-duplication) over the API's.
for r in $(seq 1 "$ROUNDS"); do
  "$LOAD" --port "$PORT" --secret bench-webhook-secret --requests "$N" --senders "$SENDERS" --run "w$r" | tee -a "$TMP/rounds.txt" || true
  "$LOAD" --port "$PORT" --secret bench-webhook-secret --requests "$N" --senders "$SENDERS" --run "a$r" --api-token "$TOKEN" | tee -a "$TMP/rounds.txt" || true
done
grep -v '^#' "$TMP/rounds.txt" > "$TMP/r.txt"; mv "$TMP/r.txt" "$TMP/rounds.txt"
python3 - "$TMP/rounds.txt" <<'PY'
import statistics, sys
rows = [dict(kv.split("=") for kv in line.split()) for line in open(sys.argv[1]) if line.strip()]
for mode in ("webhook", "api"):
    rs = [r for r in rows if r["mode"] == mode]
    med = lambda k: statistics.median(float(r[k]) for r in rs)
    print("MEDIAN mode=%s rounds=%d senders=%s accepted_per_s=%.0f p50_ms=%.1f p99_ms=%.1f failed_total=%d" % (
        mode, len(rs), rs[0]["senders"], med("accepted_per_s"), med("p50_ms"), med("p99_ms"), sum(int(r["failed"]) for r in rs)))
w = {(r["run"] if "run" in r else i): r for i, r in enumerate(rows)}
pairs = [(float(rows[i]["accepted_per_s"]), float(rows[i + 1]["accepted_per_s"])) for i in range(0, len(rows) - 1, 2)
         if rows[i]["mode"] == "webhook" and rows[i + 1]["mode"] == "api"]
ratios = sorted(a / b for a, b in pairs if b > 0)
if ratios:
    print("RATIO webhook/api accepted_per_s: median %.2f (range %.2f-%.2f over %d pairs)" % (
        statistics.median(ratios), ratios[0], ratios[-1], len(ratios)))
PY
grep -E '"level":"(error|warn)"' "$TMP/consentd.log" | cut -c1-300 | sort | uniq -c | head -5 | sed 's/^/# consentd: /' || true
curl -s "http://127.0.0.1:$PORT/metrics" 2>/dev/null | grep -E '^consentd_ledger_(commits|commit_callers|max_batch) ' | sed 's/^/# /' || true
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)"
