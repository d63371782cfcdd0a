#!/usr/bin/env bash
# check_ab.sh: POST /v1/consents/check with 10,000 identifiers (one in three
# a loaded subject), two consentd binaries side by side on ONE data
# directory, in alternating rounds (docs/benchmarks.md, "Service (issue 4)").
# A program, not a test.
#
#   tests/bench/check_ab.sh CONSENTCTL CONSENTD_A CONSENTD_B [SUBJECTS] [ROUNDS]
#
# DATA=DIR uses an existing data directory of SUBJECTS subjects named
# user<i>@example.com (/work/scratch/setup.sh makes one) instead of importing
# a new one: a 1,000,000-subject import takes minutes. Its consentd.json's
# listen address is rewritten.
#
# Per round and binary: start it, two warm-up checks, then 7 checks, each
# followed by 0.4 s so that the access-log flush of its rows is counted;
# prints the wall time of each check (curl) and the process's CPU time
# around it (utime+stime from /proc, 10 ms ticks): cpu_ms until 0.4 s after
# the answer (the access-log flush included), req_cpu_ms until the answer;
# with their medians.
set -euo pipefail
CTL=${1:?usage: check_ab.sh CONSENTCTL CONSENTD_A CONSENTD_B [SUBJECTS] [ROUNDS]}
A=${2:?}; B=${3:?}
N=${4:-20000}
ROUNDS=${5:-3}
TMP=$(mktemp -d /tmp/consentd-check-ab-XXXXXX)
PID=""
cleanup() { [ -n "$PID" ] && kill -TERM "$PID" 2>/dev/null && wait "$PID" 2>/dev/null; rm -rf "$TMP"; }
trap cleanup EXIT

D=${DATA:-$TMP/data}
if [ -z "${DATA:-}" ]; then
  "$CTL" init --data-dir "$D" --origin bench.example/consent >/dev/null 2>&1
  awk -v n="$N" 'BEGIN { for (i = 0; i < n; i++) printf "{\"identifiers\":[{\"kind\":\"email\",\"value\":\"user%d@example.com\"}],\"purpose\":\"email_marketing\",\"decision\":\"granted\",\"occurred_at\":\"2024-01-02T00:00:00Z\",\"source\":{\"system\":\"klaviyo\",\"method\":\"import\"},\"event_id\":\"h-%d\"}\n", i, i }' > "$TMP/history.jsonl"
  "$CTL" import "$TMP/history.jsonl" --data-dir "$D" | tail -1
fi
TOKEN=$("$CTL" token create --data-dir "$D" --name bench --scope marketing 2>/dev/null)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 - "$D/consentd.json" "$PORT" "$N" "$TMP/check.json" <<'PY'
import json, sys
p, port, n, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
c = json.load(open(p)); c["listen"] = "127.0.0.1:" + port; json.dump(c, open(p, "w"), indent=2)
ids = [{"kind": "email", "value": ("user%d@example.com" % (i % n)) if i % 3 == 0 else ("stranger%d@example.com" % i)}
       for i in range(10000)]
json.dump({"purpose": "email_marketing", "identifiers": ids}, open(out, "w"))
PY
URL=http://127.0.0.1:$PORT/v1/consents/check
check() { curl -s -o /dev/null -w "%{time_total}" -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json" --data-binary @"$TMP/check.json" "$URL"; }
med() { printf '%s\n' "$@" | sort -n | sed -n "$(( ($# + 1) / 2 ))p"; }
echo "# $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $N subjects"
for round in $(seq 1 "$ROUNDS"); do
  for label in A B; do
    bin=$A; [ "$label" = B ] && bin=$B
    "$bin" --config "$D/consentd.json" 2> "$TMP/consentd.$label.log" & PID=$!
    for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$PORT/healthz" && break; sleep 0.1; done
    check >/dev/null; check >/dev/null
    walls=(); cpus=(); reqs=()
    for _ in 1 2 3 4 5 6 7; do
      c0=$(awk '{print $14 + $15}' /proc/$PID/stat)
      w=$(check)
      cr=$(awk '{print $14 + $15}' /proc/$PID/stat)
      sleep 0.4
      c1=$(awk '{print $14 + $15}' /proc/$PID/stat)
      walls+=("$(awk -v w="$w" 'BEGIN { printf "%.0f", w * 1000 }')")
      cpus+=("$(( (c1 - c0) * 10 ))")
      reqs+=("$(( (cr - c0) * 10 ))")
    done
    echo "ROUND $round $label wall_ms ${walls[*]} median $(med "${walls[@]}") cpu_ms ${cpus[*]} median $(med "${cpus[@]}") req_cpu_ms ${reqs[*]} median $(med "${reqs[@]}") load $(cut -d' ' -f1 /proc/loadavg)"
    kill -TERM "$PID"; wait "$PID" 2>/dev/null || true; PID=""
  done
done
