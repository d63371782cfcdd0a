#!/usr/bin/env bash
# get_ab.sh: GET /v1/consents with the query index on and off, against nginx,
# alternating, on an existing data directory (docs/benchmarks.md, "GET with
# the query index"). A program, not a test.
#
#   tests/bench/get_ab.sh CONSENTD DATA_DIR MARKETING_TOKEN SUBJECTS [ROUNDS] [SECONDS]
#
# DATA_DIR holds SUBJECTS subjects user0..user{N-1}@example.com with an
# email_marketing state (tests/bench/service_bench.sh's import makes them;
# keep a copy: consentd writes its access log into it). Each round runs, in
# turn: consentd with query_cache_entries 4000000 (after its warm), consentd
# with 0, and nginx serving the same answer as a static file, each under the
# same wrk Lua script (2 threads, 64 connections). Prints each run, then the
# medians and each build's median ratio to nginx. consentd's CPU per request
# (user + sys from /proc) is printed too: on a shared machine it is steadier
# than requests/s.
set -euo pipefail

CONSENTD=${1:?usage: get_ab.sh CONSENTD DATA_DIR MARKETING_TOKEN SUBJECTS [ROUNDS] [SECONDS]}
D=${2:?data dir}
MTOKEN=${3:?marketing token}
N=${4:?subjects}
ROUNDS=${5:-3}
SECS=${6:-10}
. "$(dirname "$0")/nginx_static.sh"

TMP=$(mktemp -d /tmp/consentd-get-ab-XXXXXX)
CONSENTD_PID=""; NGINX_PID=""
cleanup() {
  [ -n "$CONSENTD_PID" ] && kill -TERM "$CONSENTD_PID" 2>/dev/null && wait "$CONSENTD_PID" 2>/dev/null || true
  [ -n "$NGINX_PID" ] && kill -QUIT "$NGINX_PID" 2>/dev/null || true
  sleep 0.5
  rm -rf "$TMP"
}
trap cleanup EXIT
cp "$D/consentd.json" "$TMP/consentd.json.orig"
restore() { cp "$TMP/consentd.json.orig" "$D/consentd.json"; }
trap 'restore; cleanup' EXIT

start_consentd() {  # query_cache_entries
  python3 - "$D/consentd.json" "$1" <<'EOF'
import json, sys
p = sys.argv[1]; c = json.load(open(p))
c["listen"] = "127.0.0.1:0"
c["query_cache_entries"] = int(sys.argv[2])
json.dump(c, open(p, "w"), indent=2)
EOF
  "$CONSENTD" --config "$D/consentd.json" 2> "$TMP/consentd.log" &
  CONSENTD_PID=$!
  PORT=""
  for _ in $(seq 1 300); do
    PORT=$(grep -o '"port":[0-9]*' "$TMP/consentd.log" | head -1 | cut -d: -f2 || true)
    [ -n "$PORT" ] && break
    sleep 0.1
  done
  [ -n "$PORT" ] || { echo "consentd did not start"; cat "$TMP/consentd.log"; exit 3; }
  if [ "$1" != 0 ]; then
    for _ in $(seq 1 1200); do grep -q '"query_cache.warm' "$TMP/consentd.log" && break; sleep 0.1; done
  fi
}
stop_consentd() {
  kill -TERM "$CONSENTD_PID"; wait "$CONSENTD_PID" 2>/dev/null || true; CONSENTD_PID=""
}

cat > "$TMP/query.lua" <<EOF
local n = $N
request = function()
  return wrk.format("GET", "/v1/consents?email=user" .. math.random(0, n - 1) .. "@example.com&purpose=email_marketing",
                    {["Authorization"] = "Bearer $MTOKEN"})
end
EOF

start_consentd 0
curl -s -H "Authorization: Bearer $MTOKEN" "http://127.0.0.1:$PORT/v1/consents?email=user1@example.com&purpose=email_marketing" > "$TMP/answer.json"
stop_consentd
start_nginx_static "$TMP" "$TMP/answer.json"
echo "# $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $N subjects, $ROUNDS rounds of ${SECS}s"

run() {  # label port [pid]
  local t0=0 t1=0
  [ -n "${3:-}" ] && t0=$(awk '{print $14 + $15}' "/proc/$3/stat")
  wrk -t2 -c64 -d"${SECS}s" --latency -s "$TMP/query.lua" "http://127.0.0.1:$2" > "$TMP/wrk.txt"
  [ -n "${3:-}" ] && t1=$(awk '{print $14 + $15}' "/proc/$3/stat")
  awk -v label="$1" -v a="$t0" -v b="$t1" -v hz="$(getconf CLK_TCK)" -v l="$(cut -d' ' -f1 /proc/loadavg)" '
    /requests in/ { n = $1 } /Requests\/sec/ { rps = $2 } $1 == "99%" { p99 = $2 } /Non-2xx/ { bad = $0 }
    END { cpu = (b > a) ? sprintf(" cpu_us_per_req=%.1f", (b - a) * 1e6 / hz / n) : "";
          printf "%s rps=%.0f p99=%s%s load=%s %s\n", label, rps, p99, cpu, l, bad }' "$TMP/wrk.txt" | tee -a "$TMP/results"
}
for r in $(seq 1 "$ROUNDS"); do
  start_consentd 4000000
  wrk -t2 -c64 -d2s -s "$TMP/query.lua" "http://127.0.0.1:$PORT" > /dev/null
  run "ROUND$r INDEX_ON" "$PORT" "$CONSENTD_PID"
  stop_consentd
  start_consentd 0
  wrk -t2 -c64 -d2s -s "$TMP/query.lua" "http://127.0.0.1:$PORT" > /dev/null
  run "ROUND$r INDEX_OFF" "$PORT" "$CONSENTD_PID"
  stop_consentd
  run "ROUND$r NGINX" "$NPORT"
done
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
for k in INDEX_ON INDEX_OFF NGINX; do
  echo "$k median rps=$(grep " $k " "$TMP/results" | sed 's/.*rps=\([0-9]*\).*/\1/' | median)"
done
for k in INDEX_ON INDEX_OFF; do
  ratios=$(for r in $(seq 1 "$ROUNDS"); do
    a=$(grep "^ROUND$r $k " "$TMP/results" | sed 's/.*rps=\([0-9]*\).*/\1/')
    b=$(grep "^ROUND$r NGINX " "$TMP/results" | sed 's/.*rps=\([0-9]*\).*/\1/')
    awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f\n", a / b }'
  done)
  echo "$k / NGINX per round: $(echo "$ratios" | tr '\n' ' ')median $(echo "$ratios" | median)"
done
