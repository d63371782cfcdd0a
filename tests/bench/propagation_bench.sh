#!/usr/bin/env bash
# propagation_bench.sh: the propagation benchmarks of issue 5
# (docs/benchmarks.md, "Propagation (issue 5)"). A program, not a test.
#
#   tests/bench/propagation_bench.sh BUILD_DIR [CHANGES] [RATE] [BURST] [PACE]
#
# Three emulated downstream systems (signed-webhook receivers,
# consentd-emulator --kind webhook) on 127.0.0.1, the real consentd, and
# CHANGES (default 10,000) consent changes of distinct subjects, each fanned
# out to all three systems (3 x CHANGES deliveries).
#  1. No limits: the changes are posted in bulk requests of 500 (at PACE
#     changes/s when PACE > 0, else as fast as consentd takes them); per
#     delivery the lag from the commit of its change (outbox created_ms) to
#     the system's 2xx (acked_ms): p50, p95, max, and the drain rate.
#  2. Each emulator enforcing RATE requests/s with burst BURST (emulator
#     fault rate_limit): consentd's policy limit is 0.97 x RATE with burst
#     BURST/2; achieved delivery rate per system / RATE, and the emulator's
#     "throttled" count (429s caused by exceeding RATE), which must be 0.
# PHASES=unlimited (or limited) runs one phase only (default: both).
# CONCURRENCY sets each system's delivery concurrency (default 8; see
# docs/benchmarks.md for 8 against 16 in the unlimited phase).
# Binds 127.0.0.1 only; stops every process it starts.
set -euo pipefail

BUILD=${1:?usage: propagation_bench.sh BUILD_DIR [CHANGES] [RATE] [BURST] [PACE]}
N=${2:-10000}
RATE=${3:-200}
BURST=${4:-20}
PACE=${5:-0}
CTL=$BUILD/src/app/consentctl
CONSENTD=$BUILD/src/app/consentd
EMU=$BUILD/tests/emulators/consentd-emulator
SYSTEMS=(hook-a hook-b hook-c)

TMP=$(mktemp -d /tmp/consentd-pbench-XXXXXX)
PIDS=()
cleanup() {
  [ -f "$TMP/pids" ] && while read -r p; do PIDS+=("$p"); done <"$TMP/pids"
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  sleep 0.5
  for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  [ -n "${KEEP:-}" ] || rm -rf "$TMP"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

start_emulator() {  # $1: out file for the port
  local log=$TMP/emu-$RANDOM.log
  "$EMU" --kind webhook --port 0 >"$log" 2>&1 &
  echo $! >>"$TMP/pids"  # called in $(...): PIDS would not reach the parent
  for _ in $(seq 100); do
    if grep -q EMULATOR_LISTENING "$log"; then awk '/EMULATOR_LISTENING/{print $2; exit}' "$log"; return; fi
    sleep 0.1
  done
  echo "emulator did not start" >&2; exit 3
}

# run NAME RPS_POLICY BURST_POLICY EMULATOR_FAULTS_JSON CONCURRENCY
run() {
  local name=$1 rps=$2 burst=$3 faults=$4 conc=$5
  local dir=$TMP/$name
  mkdir -p "$dir"
  "$CTL" init --data-dir "$dir/data" --origin "bench.example/$name" >/dev/null
  local keys=$dir/data.keys
  declare -A ports
  local systems_json="{}"
  for s in "${SYSTEMS[@]}"; do
    ports[$s]=$(start_emulator)
    curl -sf -X POST "http://127.0.0.1:${ports[$s]}/_emulator/seed" -d '{"secret":"whsec_bench"}' >/dev/null
    curl -sf -X POST "http://127.0.0.1:${ports[$s]}/_emulator/faults" -d "$faults" >/dev/null
    mkdir -p "$keys/credentials/$s"
    printf 'whsec_bench\n' >"$keys/credentials/$s/signing_secret"
    systems_json=$(jq -c --arg id "$s" --arg url "http://127.0.0.1:${ports[$s]}/hooks" --argjson rps "$rps" --argjson burst "$burst" --argjson conc "$conc" \
      '. + {($id): {kind: "webhook", base_url: $url, credentials: {signing_secret: ("credentials/" + $id + "/signing_secret")},
                   receives: ["email_marketing"], rate_limit: {requests_per_second: $rps, burst: $burst}, concurrency: $conc}}' <<<"$systems_json")
  done
  jq -n --argjson systems "$systems_json" '{format: "consentd.policy/v1",
      purposes: {email_marketing: {channel: "email", legal_basis: "consent", default: "denied"}}, systems: $systems}' >"$dir/policy.json"
  local port; port=$(free_port)
  jq --arg p "$dir/policy.json" --arg l "127.0.0.1:$port" \
    '.policies = [$p] | .listen = $l | .log_level = "warn" | .propagation = {poll_interval_ms: 200}' \
    "$dir/data/consentd.json" >"$dir/c.json" && mv "$dir/c.json" "$dir/data/consentd.json"
  local token; token=$("$CTL" token create --data-dir "$dir/data" --name bench --scope officer,admin)
  "$CONSENTD" --config "$dir/data/consentd.json" 2>"$dir/consentd.log" &
  local cpid=$!
  PIDS+=($cpid)
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done

  # The changes: one new subject each, granted.
  python3 - "$N" "$dir/events" <<'PY'
import json, sys
n, out = int(sys.argv[1]), sys.argv[2]
batch = []
k = 0
def flush():
    global batch, k
    if batch:
        open(f"{out}.{k:05d}.json", "w").write(json.dumps({"events": batch}))
        k += 1
        batch = []
for i in range(n):
    batch.append({"identifiers": [{"kind": "email", "value": f"bench{i}@example.com"}], "purpose": "email_marketing",
                  "decision": "granted", "occurred_at": "2026-01-01T00:00:00Z", "source": {"method": "api"}})
    if len(batch) == 500: flush()
flush()
PY
  local t0; t0=$(date +%s.%N)
  for f in "$dir"/events.*.json; do
    curl -sf -X POST "http://127.0.0.1:$port/v1/consents/bulk" -H "Authorization: Bearer $token" \
      -H 'Content-Type: application/json' --data-binary @"$f" >/dev/null
    if [ "$PACE" != 0 ] && [ "$name" = unlimited ]; then sleep "$(python3 -c "print(500/$PACE)")"; fi
  done
  local t1; t1=$(date +%s.%N)
  # Drained: no open rows in any system.
  for _ in $(seq 3000); do
    depth=$(curl -sf "http://127.0.0.1:$port/v1/admin/systems" -H "Authorization: Bearer $token" | jq '[.systems[].queue_depth] | add')
    [ "$depth" = 0 ] && break
    sleep 0.2
  done
  local db=$dir/data/consentd.db
  echo "== $name: $N changes x ${#SYSTEMS[@]} systems; posted in $(python3 -c "print(round($t1-$t0,2))") s"
  sqlite3 "$db" "SELECT state, COUNT(*) FROM outbox GROUP BY state" | sed 's/^/   rows /'
  if [ "$name" = unlimited ]; then
    sqlite3 "$db" "SELECT acked_ms - created_ms FROM outbox WHERE acked_ms > 0 ORDER BY 1" | awk '
      function at(q,  i) { i = int(NR * q) + 1; if (i > NR) i = NR; return v[i] }
      { v[NR] = $1 }
      END { if (NR == 0) { print "   no deliveries"; exit }
        printf "   lag commit->2xx ms: p50 %d  p95 %d  p99 %d  max %d  (n=%d)\n", at(0.50), at(0.95), at(0.99), v[NR], NR }'
    sqlite3 "$db" "SELECT COUNT(DISTINCT cause_seq), MAX(created_ms) - MIN(created_ms) FROM outbox" |
      awk -F'|' -v s=${#SYSTEMS[@]} '{ printf "   changes %d committed in %.2f s: %.0f changes/s = %.0f deliveries/s of demand\n", $1, $2/1000, $1*1000/$2, s*$1*1000/$2 }'
    sqlite3 "$db" "SELECT COUNT(*), MAX(acked_ms) - MIN(created_ms) FROM outbox WHERE acked_ms > 0" |
      awk -F'|' '{ printf "   deliveries %d in %.2f s from first commit: %.0f deliveries/s\n", $1, $2/1000, $1*1000/$2 }'
  else
    for s in "${SYSTEMS[@]}"; do
      # Steady-state rate: deliveries after the first BURST, over their span.
      sqlite3 "$db" "SELECT COUNT(*), MAX(acked_ms) - MIN(acked_ms) FROM (SELECT acked_ms FROM outbox WHERE system = '$s' AND acked_ms > 0 ORDER BY acked_ms LIMIT -1 OFFSET $BURST)" |
        awk -F'|' -v s="$s" -v r="$RATE" '{ rate = ($1 - 1) * 1000 / $2; printf "   %s: %.1f deliveries/s = %.3f x R (R=%s)\n", s, rate, rate / r, r }'
      throttled=$(curl -sf "http://127.0.0.1:${ports[$s]}/_emulator/stats" | jq '.throttled')
      echo "   $s: emulator throttled answers: $throttled"
    done
  fi
  grep -c '"level":"error"' "$dir/consentd.log" | sed 's/^/   consentd error log lines: /' || true
  # consentd's CPU (user + system, all threads) and its ledger's group commits.
  awk -v hz="$(getconf CLK_TCK)" '{ printf "   consentd CPU: %.2f s\n", ($14 + $15) / hz }' "/proc/$cpid/stat"
  curl -sf "http://127.0.0.1:$port/metrics" -H "Authorization: Bearer $token" |
    awk '/^consentd_ledger_commits /{c=$2} /^consentd_ledger_commit_callers /{k=$2} /^consentd_ledger_size /{n=$2}
         END { printf "   ledger: %d entries, %d group commits, %d callers\n", n, c, k }'
  kill -TERM "$cpid"; wait "$cpid" 2>/dev/null || true
}

case ${PHASES:-unlimited,limited} in *unlimited*) run unlimited 100000 10000 '{}' "${CONCURRENCY:-8}" ;; esac
rps=$(python3 -c "print($RATE*0.97)")
case ${PHASES:-unlimited,limited} in
  *,limited*|limited*) run limited "$rps" "$(( BURST / 2 > 0 ? BURST / 2 : 1 ))" "{\"rate_limit\":{\"rps\":$RATE,\"burst\":$BURST}}" "${CONCURRENCY:-8}" ;;
esac
