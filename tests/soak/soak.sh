#!/usr/bin/env bash
# The soak test: one long lesson, then a check that the server gave back what it took.
#
#   tests/soak/soak.sh [--short] [--minutes N] [--pupils N] [--profile debug|release]
#                      [--interval S] [--out DIR] [--no-build]
#
# Starts livegate-bench-server (the `livegate` library's server on an in-memory store with a
# bench class, recording on to a local folder, exactly as `livegate demo` records), then the
# load generator (tests/loadgen): one teacher publishing the bench trace (VP8 + Opus) and
# --pupils subscribers (default 30), each its own ICE/DTLS/SRTP peer, for --minutes (default 30).
# Every --interval seconds (default 5; 2 with --short) it samples the server process from /proc:
# resident memory (VmRSS), open file descriptors (/proc/PID/fd), threads, and the live tokio
# tasks the bench server reports (its --tasks-file: a task per lesson, per WebSocket, per
# recording worker...). When the lesson ends (the generator closes every socket; the
# teacher-absent timeout is 5 s here) it waits for the server to settle. Checks, one `soak check: PASS|FAIL ...` line each:
#   memory   RSS at the end of the lesson is less than 10 % above RSS at the end of warm-up
#            (warm-up: the first 2 minutes of the lesson, 15 s with --short);
#   fds      open descriptors come back to the idle baseline taken before the lesson;
#   threads  threads come back to the idle baseline (the blocking pool's idle threads may
#            take 10 s to go: the script waits up to 60 s for all three);
#   tasks    live tokio tasks come back to the idle baseline;
#   media    every pupil connected and got video, and over the lesson's last minute (20 s with
#            --short) the pupils together lost under 1 % of packets: one pupil who had stopped
#            receiving would alone be 1/30 = 3.3 %;
#   alive    the server process is still running at the end;
#   panics   none in the server's log.
# Prints a table of samples (one row a minute; every row with --short) and the checks. Exit
# status 0 only if every check passed. --short is the CI mode (about 90 s in all, debug build).
# Samples: OUT/samples.csv; the generator's JSON result: OUT/result.jsonl.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
[ -x "${HOME:-}/.cargo/bin/cargo" ] && PATH="$HOME/.cargo/bin:$PATH"

MINUTES=30
PUPILS=30
PROFILE=""
INTERVAL=""
OUT=""
BUILD=1
SHORT=0
while [ $# -gt 0 ]; do
  case "$1" in
    --short) SHORT=1; shift ;;
    --minutes) MINUTES="$2"; shift 2 ;;
    --pupils) PUPILS="$2"; shift 2 ;;
    --profile) PROFILE="$2"; shift 2 ;;
    --interval) INTERVAL="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    -h | --help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "soak: unknown argument $1" >&2; exit 2 ;;
  esac
done
if [ "$SHORT" -eq 1 ]; then
  LESSON=50 WARM=15 TAIL=20
  : "${INTERVAL:=2}" "${PROFILE:=debug}"
else
  LESSON=$(awk -v m="$MINUTES" 'BEGIN { printf "%d", m * 60 }') WARM=120 TAIL=60
  [ "$LESSON" -ge $((WARM + TAIL + 10)) ] || { echo "soak: --minutes must be at least 4" >&2; exit 2; }
  : "${INTERVAL:=5}" "${PROFILE:=debug}"
fi
case "$PROFILE" in release) build_flags=(--release) ;; debug) build_flags=() ;; *) echo "soak: --profile debug|release" >&2; exit 2 ;; esac
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
SERVER_BIN="$TARGET/$PROFILE/livegate-bench-server"
LOADGEN_BIN="$TARGET/$PROFILE/livegate-loadgen"
[ -n "$OUT" ] || OUT="$TARGET/soak-results/$(date -u +%Y%m%d-%H%M%S)"
mkdir -p "$OUT"
FAILED=0

say() { echo "soak: $*" >&2; }
check() { # check PASS|FAIL name text
  echo "soak check: $1 $2 ($3)"
  [ "$1" = PASS ] || FAILED=$((FAILED + 1))
}

# --- processes: everything started here is stopped on exit --------------------------------------
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do
    kill "$p" 2>/dev/null && { for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done; kill -9 "$p" 2>/dev/null; }
  done
  rm -rf "$OUT/livegate-data"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- /proc sampling --------------------------------------------------------------------------
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null; }
threads() { awk '/^Threads:/ { print $2 }' "/proc/$1/status" 2>/dev/null; }
fds() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }
tasks() { cat "$OUT/tasks" 2>/dev/null || echo 0; }
# sample PID PHASE: one CSV row: seconds since the start, phase, RSS KiB, fds, threads, tasks.
T0=$(date +%s)
sample() {
  local r
  r=$(rss_kib "$1")
  [ -n "$r" ] || return 1
  echo "$(($(date +%s) - T0)),$2,$r,$(fds "$1"),$(threads "$1"),$(tasks)" >>"$OUT/samples.csv"
}

# --- build and start --------------------------------------------------------------------------
if [ "$BUILD" -eq 1 ]; then
  say "building (cargo build ${build_flags[*]} -p livegate-loadgen)"
  cargo build "${build_flags[@]}" -p livegate-loadgen >&2 || { check FAIL build "cargo build"; exit 1; }
fi
[ -x "$SERVER_BIN" ] && [ -x "$LOADGEN_BIN" ] || { check FAIL build "no $SERVER_BIN or $LOADGEN_BIN"; exit 1; }
TRACE_DIR="$TARGET/bench-trace"
bash tests/bench/make-trace.sh "$TRACE_DIR" >&2 || say "no ffmpeg trace: the generator synthesises one"

echo "t_s,phase,rss_kib,fds,threads,tasks" >"$OUT/samples.csv"
LIVEGATE_TEACHER_ABSENT_TIMEOUT_SECS=5 LIVEGATE_LOG="${LIVEGATE_LOG:-warn,rtc=error}" \
  "$SERVER_BIN" --advertise-ip 127.0.0.1 --classes 1 --pupils "$PUPILS" --data-dir "$OUT/livegate-data" \
  --tasks-file "$OUT/tasks" >"$OUT/server.out" 2>"$OUT/server.log" &
SPID=$!
PIDS+=("$SPID")
for _ in $(seq 1 300); do grep -q '^livegate ready' "$OUT/server.out" 2>/dev/null && break; kill -0 "$SPID" 2>/dev/null || break; sleep 0.1; done
URL="$(sed -n 's/^livegate ready http=\([^ ]*\).*/\1/p' "$OUT/server.out")"
[ -n "$URL" ] || { check FAIL start "the server did not start; log $OUT/server.log"; exit 1; }
sleep 3
sample "$SPID" idle
BASE_FDS=$(fds "$SPID") BASE_THREADS=$(threads "$SPID") BASE_TASKS=$(tasks)
say "server pid $SPID at $URL: idle with $BASE_FDS fds, $BASE_THREADS threads, $BASE_TASKS tasks, $(rss_kib "$SPID") KiB"

# --- the lesson -------------------------------------------------------------------------------
# The generator's measured window is the lesson's last TAIL seconds, so its loss figure says
# whether every pupil was still receiving at the end.
say "lesson: 1 teacher, $PUPILS pupils, $LESSON s (warm-up $WARM s)"
"$LOADGEN_BIN" run --sfu livegate --url "$URL" --media-ip 127.0.0.1 --server-pid "$SPID" \
  --subscribers "$PUPILS" --warmup $((LESSON - TAIL)) --measure "$TAIL" --trace "$TRACE_DIR" \
  --label soak --out "$OUT/result.jsonl" >/dev/null 2>"$OUT/loadgen.log" &
GPID=$!
PIDS+=("$GPID")
# Phases: setup until every pupil is subscribed, then warm-up, then live.
LIVE_AT=""
while kill -0 "$GPID" 2>/dev/null; do
  if [ -z "$LIVE_AT" ] && grep -q 'subscriptions set up' "$OUT/loadgen.log"; then
    LIVE_AT=$(($(date +%s) - T0))
  fi
  phase=setup
  if [ -n "$LIVE_AT" ]; then
    phase=warmup
    [ $(($(date +%s) - T0)) -ge $((LIVE_AT + WARM)) ] && phase=live
  fi
  sample "$SPID" "$phase" || break
  sleep "$INTERVAL"
done
wait "$GPID"
GEN_STATUS=$?
say "generator: $(tail -n 1 "$OUT/loadgen.log")"

# --- after the lesson: wait for the server to give back descriptors and threads ----------------
settled=0
for _ in $(seq 1 60); do
  sleep 1
  kill -0 "$SPID" 2>/dev/null || break
  sample "$SPID" after
  if [ "$(fds "$SPID")" -le "$BASE_FDS" ] && [ "$(threads "$SPID")" -le "$BASE_THREADS" ] && [ "$(tasks)" -le "$BASE_TASKS" ]; then
    settled=1
    break
  fi
done

# --- report -----------------------------------------------------------------------------------
python3 - "$OUT/samples.csv" "$OUT/result.jsonl" "$SHORT" <<'EOF'
import csv, json, sys
rows = list(csv.DictReader(open(sys.argv[1])))
short = sys.argv[3] == "1"
print(f"{'t (s)':>6} {'phase':<7} {'RSS (MiB)':>9} {'fds':>5} {'threads':>7} {'tasks':>5}")
last_minute = None
for i, r in enumerate(rows):
    t = int(r["t_s"])
    keep = short or i == 0 or i == len(rows) - 1 or r["phase"] != rows[i - 1]["phase"] or t // 60 != last_minute
    last_minute = t // 60
    if keep:
        print(f"{t:>6} {r['phase']:<7} {int(r['rss_kib']) / 1024:>9.1f} {r['fds']:>5} {r['threads']:>7} {r['tasks']:>5}")
try:
    res = [json.loads(l) for l in open(sys.argv[2]) if l.strip()][-1]
    print(f"generator: {res.get('subscribers_connected')} of {res.get('subscribers')} pupils connected, "
          f"{res.get('subscribers_with_keyframe')} got video; last {res.get('measure_s', 0):.0f} s: "
          f"loss {res.get('loss_pct', 100):.3f} %, {res.get('forwarded_pps', 0):.0f} packets/s forwarded, "
          f"server CPU {100 * (res.get('server_cpu_util') or 0):.0f} %")
except (OSError, IndexError, ValueError):
    print("generator: no result")
EOF

# Memory: the last warm-up sample (or the first live one) against the last live one.
read -r WARM_RSS END_RSS PEAK_RSS < <(awk -F, '
  $2 == "warmup" { w = $3 } $2 == "live" { if (w == "") w = $3; e = $3 } $2 != "idle" && $3 + 0 > p + 0 { p = $3 + 0 }
  END { print (w == "" ? 0 : w), (e == "" ? 0 : e), p + 0 }' "$OUT/samples.csv")
if [ "$WARM_RSS" -gt 0 ] && [ "$END_RSS" -gt 0 ]; then
  growth=$(awk -v a="$WARM_RSS" -v b="$END_RSS" 'BEGIN { printf "%.1f", 100 * (b - a) / a }')
  detail="RSS $((WARM_RSS / 1024)) MiB after warm-up, $((END_RSS / 1024)) MiB at the end: ${growth} %, peak $((PEAK_RSS / 1024)) MiB"
  if awk -v g="$growth" 'BEGIN { exit !(g < 10) }'; then check PASS memory "$detail"; else check FAIL memory "$detail"; fi
else
  check FAIL memory "no samples after warm-up (lesson too short or the generator failed)"
fi
END_FDS=$(tail -n 1 "$OUT/samples.csv" | cut -d, -f4) END_THREADS=$(tail -n 1 "$OUT/samples.csv" | cut -d, -f5)
END_TASKS=$(tail -n 1 "$OUT/samples.csv" | cut -d, -f6)
MAX_TASKS=$(awk -F, 'NR > 1 && $6 + 0 > m { m = $6 + 0 } END { print m + 0 }' "$OUT/samples.csv")
MAX_FDS=$(awk -F, 'NR > 1 && $4 > m { m = $4 } END { print m + 0 }' "$OUT/samples.csv")
MAX_THREADS=$(awk -F, 'NR > 1 && $5 > m { m = $5 } END { print m + 0 }' "$OUT/samples.csv")
if [ "$settled" -eq 1 ] || [ "$END_FDS" -le "$BASE_FDS" ]; then
  check PASS fds "$BASE_FDS idle, $MAX_FDS in the lesson, $END_FDS after"
else
  check FAIL fds "$BASE_FDS idle, $MAX_FDS in the lesson, still $END_FDS 60 s after"
fi
if [ "$END_THREADS" -le "$BASE_THREADS" ]; then
  check PASS threads "$BASE_THREADS idle, $MAX_THREADS in the lesson, $END_THREADS after"
else
  check FAIL threads "$BASE_THREADS idle, $MAX_THREADS in the lesson, still $END_THREADS 60 s after"
fi
if [ "$BASE_TASKS" -gt 0 ] && [ "$END_TASKS" -le "$BASE_TASKS" ]; then
  check PASS tasks "$BASE_TASKS idle, $MAX_TASKS in the lesson, $END_TASKS after"
else
  check FAIL tasks "$BASE_TASKS idle, $MAX_TASKS in the lesson, still $END_TASKS 60 s after"
fi
media=$(python3 - "$OUT/result.jsonl" "$PUPILS" <<'EOF'
import json, sys
try:
    r = [json.loads(l) for l in open(sys.argv[1]) if l.strip()][-1]
except (OSError, IndexError, ValueError):
    print("FAIL no result from the generator"); sys.exit()
n = int(sys.argv[2])
ok = r.get("ok") and r.get("subscribers_connected") == n and r.get("subscribers_with_keyframe") == n and r.get("loss_pct", 100) < 1.0
print(("PASS" if ok else "FAIL") + f" {r.get('subscribers_with_keyframe')} of {n} pupils got video, loss {r.get('loss_pct', 100):.3f} % over the last {r.get('measure_s', 0):.0f} s" + (f", error: {r['error']}" if r.get("error") else ""))
EOF
)
check "${media%% *}" media "${media#* }"
[ "$GEN_STATUS" -eq 0 ] || say "the generator exited with status $GEN_STATUS; log $OUT/loadgen.log"
if kill -0 "$SPID" 2>/dev/null; then check PASS alive "server still running"; else check FAIL alive "the server exited; log $OUT/server.log"; fi
if grep -q 'panicked' "$OUT/server.log"; then check FAIL panics "$(grep -c panicked "$OUT/server.log") panics in $OUT/server.log"; else check PASS panics "none in the server log"; fi
say "samples and logs in $OUT"
[ "$FAILED" -eq 0 ]
