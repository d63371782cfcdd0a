#!/usr/bin/env bash
# service_bench.sh: the service benchmarks of issue 4 (docs/benchmarks.md,
# "Service (issue 4)"). A program, not a test.
#
#   tests/bench/service_bench.sh BUILD_DIR [SUBJECTS] [SECONDS]
#
# 1. import of SUBJECTS (default 1,000,000) historical events, one new
#    subject each (consentctl import, the batch path): events/s;
# 2. GET /v1/consents?email=...&purpose=... under wrk (2 threads, 64
#    connections, keep-alive, a Lua script picking a random loaded subject)
#    against nginx serving a static JSON document of the same size, side by
#    side: requests/s and p99;
# 3. POST /v1/consents/check with 10,000 identifiers: median of 7;
# 4. POST /v1/consents from 16 concurrent clients (wrk -c16, new subjects):
#    durable events/s and the ledger's average group-commit batch.
# Installs wrk and nginx-light with apt-get when missing; binds 127.0.0.1
# only; stops every server it starts.
set -euo pipefail

BUILD=${1:?usage: service_bench.sh BUILD_DIR [SUBJECTS] [SECONDS]}
N=${2:-1000000}
SECS=${3:-10}
CTL=$BUILD/src/app/consentctl
CONSENTD=$BUILD/src/app/consentd

need() { command -v "$1" >/dev/null 2>&1; }
if ! need wrk || ! need nginx && ! [ -x /usr/sbin/nginx ]; then
  apt-get install -y wrk nginx-light >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y wrk nginx-light >/dev/null; }
fi
. "$(dirname "$0")/nginx_static.sh"

TMP=$(mktemp -d /tmp/consentd-bench-XXXXXX)
CONSENTD_PID=""; NGINX_PID=""
cleanup() {
  [ -n "$CONSENTD_PID" ] && kill -TERM "$CONSENTD_PID" 2>/dev/null && wait "$CONSENTD_PID" 2>/dev/null || true
  [ -n "$NGINX_PID" ] && kill -QUIT "$NGINX_PID" 2>/dev/null || true
  sleep 0.5
  rm -rf "$TMP"
}
trap cleanup EXIT

echo "# machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# kernel $(uname -r); disk of $TMP: $(df -h "$TMP" | tail -1 | awk '{print $1}')"

D=$TMP/data
$CTL init --data-dir "$D" --origin bench.example/consent >/dev/null 2>&1

# --- 1. import ---------------------------------------------------------------
echo "# generating $N events"
awk -v n="$N" 'BEGIN { srand(42); for (i = 0; i < n; i++) {
  d = (rand() < 0.5) ? "granted" : "withdrawn";
  printf "{\"identifiers\":[{\"kind\":\"email\",\"value\":\"user%d@example.com\"}],\"purpose\":\"email_marketing\",\"decision\":\"%s\",\"occurred_at\":\"2024-%02d-%02dT%02d:%02d:%02dZ\",\"source\":{\"system\":\"klaviyo\",\"method\":\"import\"},\"event_id\":\"h-%d\"}\n", i, d, 1 + i % 12, 1 + i % 28, i % 24, i % 60, i % 60, i }
}' > "$TMP/history.jsonl"
ls -l "$TMP/history.jsonl" | awk '{printf "# file: %.0f MB\n", $5/1e6}'
load() { cut -d' ' -f1 /proc/loadavg; }
echo "# load before import: $(load)"
start=$(date +%s.%N)
# /usr/bin/time (Debian "time") when present: the import's CPU seconds, a
# figure less sensitive than wall time to the other processes of a shared box.
if [ -x /usr/bin/time ]; then
  /usr/bin/time -f "%U %S" -o "$TMP/import.cpu" $CTL import "$TMP/history.jsonl" --data-dir "$D" > "$TMP/import.txt"
else
  $CTL import "$TMP/history.jsonl" --data-dir "$D" > "$TMP/import.txt"
fi
end=$(date +%s.%N)
cat "$TMP/import.txt" | head -3
awk -v s="$start" -v e="$end" -v n="$N" 'BEGIN { printf "IMPORT events=%d seconds=%.1f events_per_s=%.0f\n", n, e - s, n / (e - s) }'
[ -f "$TMP/import.cpu" ] && awk -v n="$N" '{ printf "IMPORT cpu_user_s=%.1f cpu_sys_s=%.1f cpu_us_per_event=%.1f\n", $1, $2, ($1 + $2) * 1e6 / n }' "$TMP/import.cpu"
echo "# load after import: $(load)"
du -sh "$D" | awk '{print "# data dir after import: " $1}'

# --- servers -------------------------------------------------------------------
MTOKEN=$($CTL token create --data-dir "$D" --name bench-marketing --scope marketing 2>/dev/null)
OTOKEN=$($CTL token create --data-dir "$D" --name bench-officer --scope officer 2>/dev/null)
ATOKEN=$($CTL token create --data-dir "$D" --name bench-admin --scope admin 2>/dev/null)
python3 - "$D/consentd.json" <<'EOF'
import json, sys
p = sys.argv[1]; c = json.load(open(p))
c["listen"] = "127.0.0.1:0"
# The event-driven listener (http_server "asio", the default) answers GET
# /v1/consents on its event loops; http_threads are its workers for routes
# that may block, such as recording, whose 16 clients each wait for a group
# commit. HTTP_SERVER=httplib measures cpp-httplib's thread-per-connection
# server instead, which needs a thread per wrk connection (64) plus spare.
import os
c["http_server"] = os.environ.get("HTTP_SERVER", "asio")
c["http_threads"] = 72 if c["http_server"] == "httplib" else 32
# The consent query index (docs/api.md "Query index"); QUERY_CACHE_ENTRIES=0
# measures the database reads alone.
c["query_cache_entries"] = int(os.environ.get("QUERY_CACHE_ENTRIES", "4000000"))
json.dump(c, open(p, "w"), indent=2)
EOF
$CONSENTD --config "$D/consentd.json" 2> "$TMP/consentd.log" &
CONSENTD_PID=$!
PORT=""
for _ in $(seq 1 200); do
  PORT=$(grep -o '"port":[0-9]*' "$TMP/consentd.log" | head -1 | cut -d: -f2 || true)
  [ -n "$PORT" ] && break
  sleep 0.1
done
[ -n "$PORT" ] || { echo "consentd did not start"; cat "$TMP/consentd.log"; exit 3; }
URL=http://127.0.0.1:$PORT
# The query index fills in the background after start; measure once it has.
if [ "${QUERY_CACHE_ENTRIES:-4000000}" != 0 ]; then
  for _ in $(seq 1 1200); do grep -q '"query_cache.warm' "$TMP/consentd.log" && break; sleep 0.1; done
  grep -o '"entries":[0-9]*,"event":"query_cache.warm[^}]*' "$TMP/consentd.log" | sed 's/^/# /' || echo "# query index not warmed"
fi

# nginx serves one consentd answer as a static file, same size.
curl -s -H "Authorization: Bearer $MTOKEN" "$URL/v1/consents?email=user1@example.com&purpose=email_marketing" > "$TMP/answer.json"
echo "# answer: $(wc -c < "$TMP/answer.json") bytes: $(cat "$TMP/answer.json")"
start_nginx_static "$TMP" "$TMP/answer.json"

cat > "$TMP/query.lua" <<EOF
local n = $N
request = function()
  return wrk.format("GET", "/v1/consents?email=user" .. math.random(0, n - 1) .. "@example.com&purpose=email_marketing",
                    {["Authorization"] = "Bearer $MTOKEN"})
end
EOF
wrk_run() {  # label, wrk args...
  local label=$1; shift
  wrk --latency "$@" > "$TMP/wrk.txt"
  local rps p99
  rps=$(awk '/Requests\/sec/ {print $2}' "$TMP/wrk.txt")
  p99=$(awk '$1 == "99%" {print $2}' "$TMP/wrk.txt")
  local errs
  errs=$(awk '/Non-2xx|Socket errors/ {print}' "$TMP/wrk.txt" | tr '\n' ' ')
  echo "$label rps=$rps p99=$p99 $errs"
}
# --- 2. GET /v1/consents against nginx, side by side, 3 rounds -------------
wrk -t2 -c64 -d3s -s "$TMP/query.lua" "$URL" >/dev/null  # warm-up
# Both servers get the same requests from the same wrk Lua script (its
# request() call costs wrk CPU on this shared machine, so a script-less nginx
# run would be measured with a lighter client); NGINX_PLAIN is nginx without
# the script, for reference.
for round in 1 2 3; do
  wrk_run "ROUND$round CONSENTD_GET" -t2 -c64 -d"${SECS}s" -s "$TMP/query.lua" "$URL"
  wrk_run "ROUND$round NGINX_STATIC" -t2 -c64 -d"${SECS}s" -s "$TMP/query.lua" "http://127.0.0.1:$NPORT"
  wrk_run "ROUND$round NGINX_PLAIN" -t2 -c64 -d"${SECS}s" "http://127.0.0.1:$NPORT/answer.json"
  echo "# load after round $round: $(load)"
done
metric() { curl -s -H "Authorization: Bearer $ATOKEN" "$URL/metrics" | awk -v m="$1" '$1 == m {print $2}'; }
echo "# query index: $(metric consentd_query_cache_entries) entries, $(metric consentd_query_cache_hits) hits, $(metric consentd_query_cache_misses) misses, $(metric consentd_query_cache_flushes) flushes"

# --- 3. check with 10,000 identifiers --------------------------------------
python3 - "$N" > "$TMP/check.json" <<'EOF'
import json, random, sys
n = int(sys.argv[1]); random.seed(1)
ids = [{"kind": "email", "value": "user%d@example.com" % random.randrange(n)} for _ in range(10000)]
print(json.dumps({"purpose": "email_marketing", "identifiers": ids}))
EOF
cpu_ticks() { awk '{print $14 + $15}' "/proc/$CONSENTD_PID/stat"; }
# Two warm-up checks, as check_ab.sh does: the GET rounds before them read
# other pages of the 1,000,000-subject tables.
for i in 1 2; do
  curl -s -o /dev/null -H "Authorization: Bearer $MTOKEN" -H 'Content-Type: application/json' \
    --data-binary @"$TMP/check.json" "$URL/v1/consents/check"
done
t0=$(cpu_ticks)
for i in 1 2 3 4 5 6 7; do
  curl -s -o /dev/null -w '%{time_total}\n' -H "Authorization: Bearer $MTOKEN" -H 'Content-Type: application/json' \
    --data-binary @"$TMP/check.json" "$URL/v1/consents/check"
done | sort -n | awk '{a[NR]=$1} END {printf "CHECK10K median_ms=%.1f min_ms=%.1f max_ms=%.1f\n", a[4]*1000, a[1]*1000, a[7]*1000}'
sleep 0.5  # the access log's flush of the checks' rows
t1=$(cpu_ticks)
awk -v a="$t0" -v b="$t1" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "CHECK10K consentd_cpu_ms_per_check=%.0f (incl. the access log rows)\n", (b - a) * 1000 / hz / 7 }'
echo "# load after check: $(load)"

# --- 4. recording with 16 concurrent clients -----------------------------------
c0=$(metric consentd_ledger_commits); k0=$(metric consentd_ledger_commit_callers)
cat > "$TMP/record.lua" <<EOF
local counter = 0
local tid = 0
setup = function(thread) tid = tid + 1; thread:set("tid", tid) end
request = function()
  counter = counter + 1
  local body = '{"identifiers":[{"kind":"email","value":"new' .. tid .. '-' .. counter .. '@example.org"}],' ..
    '"purpose":"email_marketing","decision":"granted","occurred_at":"2025-01-01T00:00:00Z",' ..
    '"source":{"system":"klaviyo","method":"preference_centre"}}'
  return wrk.format("POST", "/v1/consents", {["Authorization"] = "Bearer $OTOKEN", ["Content-Type"] = "application/json"}, body)
end
EOF
wrk_run "RECORD16" -t2 -c16 -d"${SECS}s" -s "$TMP/record.lua" "$URL"
c1=$(metric consentd_ledger_commits); k1=$(metric consentd_ledger_commit_callers)
awk -v c0="$c0" -v c1="$c1" -v k0="$k0" -v k1="$k1" 'BEGIN { printf "RECORD16 commits=%d callers=%d avg_batch=%.2f\n", c1 - c0, k1 - k0, (k1 - k0) / (c1 - c0) }'
echo "# consentd log (warnings and errors):"; grep -v '"level":"info"' "$TMP/consentd.log" | head -5 || true
