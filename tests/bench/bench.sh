#!/usr/bin/env bash
# The Livegate vs Janus benchmark (BENCHMARKS.md). Runs both SFUs one after the other on this
# machine with the same trace and the same load generator, the SFU pinned to one core and the
# generator to another, in ABBA order (Janus, Livegate, Livegate, Janus) per size, then prints
# the table (`livegate-loadgen report`).
#
#   tests/bench/bench.sh [--quick] [--scenarios fanout,classes,storm,recording]
#                        [--sizes "10 30 60 120"] [--classes "1 2 4 8"] [--recording-sizes "240"]
#                        [--batching-sizes "240"]
#                        [--warmup 10] [--measure 60] [--runs abba|ab]
#                        [--out DIR] [--no-build] [--profile release|debug] [--srtp cm|gcm]
#                        [--janus-event-loops N] [--only-sfu janus|livegate|livegate-norec]
#                        [--browser-keyframes] [--ice-check-interval MS]
#
# Janus runs with event_loops = 1 (one event loop for every handle: on a single pinned core it
# needed half the CPU per packet of the packaged one-thread-per-handle setting, and kept lower
# latency); --janus-event-loops 0 runs it as packaged.
#
# Scenarios: fanout (one teacher to N pupils, --sizes), classes (K classes of 30, --classes),
# storm (30 pupils all joining within one second), recording (Livegate alone, one teacher to N
# pupils, --recording-sizes, with recording on and off in ABBA order: on, off, off, on).
# Livegate always records (pupils are refused otherwise), so every Livegate figure but the
# recording scenario's "off" rows includes recording to a local folder. "Off" is the bench
# server's `--recording off`, which exists only in that bench binary (tests/loadgen): the
# recorder runs, healthy, but is handed no media. Janus runs with record = false.
# The batching scenario (not in the default list) compares Livegate with the bench server's
# `--unbatched` (the send path before batching: one system call per datagram, no frame hold)
# in ABBA order: unbatched, batched, batched, unbatched.
#
# Before each run, the machine's load average goes to OUT/loadavg.txt (the box is shared).
# Each generator log (OUT/*.log.gen) ends with the join timeline: subscribe -> offer -> ICE ->
# DTLS -> first RTP -> first keyframe, and which keyframe request the first keyframe came from.
# --browser-keyframes: the generator's publishers drop a keyframe request that comes less than
# 300 ms after the last they took and its subscribers send PLIs, as libwebrtc does (default: a
# request that comes too soon is served 200 ms after the last, and subscribers send none).
# --ice-check-interval MS: the generator's ICE check interval (default rtc's 200 ms, which is
# also about how long its clients wait to nominate a pair on either SFU; browsers check faster).
#
# --quick (CI): fanout only, 10 subscribers, 1 s warm-up, 5 s measured, one run per SFU, debug
# build; prints `bench check: PASS|FAIL ...` lines and exits non-zero if a check failed. No
# speed thresholds: it only proves the benchmark still works.
# Needs: janus (apt), taskset, a release build (done here unless --no-build), ffmpeg for the
# trace (else a synthetic trace). Every process started here is stopped on exit. As root, the
# SFU and the generator each run in their own session whose scheduler autogroup gets nice -15
# (BENCH_NICE), so other work on the box (builds, in other sessions) disturbs the measurement
# less; both SFUs get the same treatment.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
[ -x "${HOME:-}/.cargo/bin/cargo" ] && PATH="$HOME/.cargo/bin:$PATH"

QUICK=0
SCENARIOS="fanout,classes,storm,recording"
REC_SIZES="240"
BATCH_SIZES="240"
SIZES="10 30 60 120 180 240 360 480 560 640"
CLASSES="1 2 4 8 12 16"
WARMUP=10
MEASURE=60
RUNS=abba
OUT=""
BUILD=1
SRTP=cm
JANUS_LOOPS=1
PROFILE=""
ONLY_SFU=""
GEN_FLAGS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1; shift ;;
    --scenarios) SCENARIOS="$2"; shift 2 ;;
    --sizes) SIZES="$2"; shift 2 ;;
    --classes) CLASSES="$2"; shift 2 ;;
    --recording-sizes) REC_SIZES="$2"; shift 2 ;;
    --batching-sizes) BATCH_SIZES="$2"; shift 2 ;;
    --warmup) WARMUP="$2"; shift 2 ;;
    --measure) MEASURE="$2"; shift 2 ;;
    --runs) RUNS="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    --srtp) SRTP="$2"; shift 2 ;;
    --janus-event-loops) JANUS_LOOPS="$2"; shift 2 ;;
    --profile) PROFILE="$2"; shift 2 ;;
    --only-sfu) ONLY_SFU="$2"; shift 2 ;;
    --browser-keyframes) GEN_FLAGS+=(--browser-keyframes); shift ;;
    --ice-check-interval) GEN_FLAGS+=(--ice-check-interval-ms "$2"); shift 2 ;;
    -h | --help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "bench: unknown argument $1" >&2; exit 2 ;;
  esac
done
if [ "$QUICK" -eq 1 ]; then
  SCENARIOS=fanout SIZES=10 WARMUP=1 MEASURE=5 RUNS=ab
  [ -n "$PROFILE" ] || PROFILE=debug
fi
[ -n "$PROFILE" ] || PROFILE=release
case "$PROFILE" in release) build_flags=(--release) ;; debug) build_flags=() ;; *) echo "bench: --profile release|debug" >&2; exit 2 ;; esac

TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
SERVER_BIN="${LIVEGATE_BENCH_BIN:-$TARGET/$PROFILE/livegate-bench-server}"
LOADGEN_BIN="${LOADGEN_BIN:-$TARGET/$PROFILE/livegate-loadgen}"
[ -n "$OUT" ] || OUT="$TARGET/bench-results/$(date +%Y%m%d-%H%M%S)"
mkdir -p "$OUT"
RESULTS="$OUT/results.jsonl"
: >"$RESULTS"
FAILED_CHECKS=0

say() { echo "bench: $*" >&2; }
check() { # check PASS|FAIL text
  echo "bench check: $1 $2"
  [ "$1" = PASS ] || FAILED_CHECKS=$((FAILED_CHECKS + 1))
}

# --- processes: everything started is stopped on exit ----------------------------------------
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do
    kill "$p" 2>/dev/null && { for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done; kill -9 "$p" 2>/dev/null; }
  done
  PIDS=()
}
trap cleanup EXIT
trap 'exit 130' INT TERM
stop_pid() {
  local p=$1 rest=() q
  kill "$p" 2>/dev/null
  for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$p" 2>/dev/null
  wait "$p" 2>/dev/null
  for q in "${PIDS[@]}"; do [ "$q" = "$p" ] || rest+=("$q"); done
  PIDS=("${rest[@]}")
}

# --- prerequisites ----------------------------------------------------------------------------
command -v janus >/dev/null || { say "janus is not installed (apt-get install -y janus, or infra/setup.sh test)"; check FAIL "janus installed"; exit 1; }
CPUS=$(nproc)
NICE="${BENCH_NICE:-}"
[ -z "$NICE" ] && [ "$(id -u)" -eq 0 ] && NICE=-15
prio=()
if [ -n "$NICE" ] && [ "$NICE" != 0 ]; then
  # A new session is a new autogroup (CFS shares the CPU between autogroups before nice counts
  # within one); set the group's nice, then the process's own, then exec: the pid stays the same.
  prio=(setsid bash -c 'echo "$0" >/proc/self/autogroup 2>/dev/null; exec nice -n "$0" "$@"' "$NICE")
fi
if [ "$CPUS" -ge 2 ] && command -v taskset >/dev/null; then
  SERVER_CPU=1 GEN_CPU=0
  pin_gen=("${prio[@]}" taskset -c "$GEN_CPU")
else
  SERVER_CPU="" GEN_CPU=""
  pin_gen=("${prio[@]}")
  say "fewer than 2 CPUs or no taskset: nothing is pinned"
fi
IFACE="$(ip -o -4 route show default 2>/dev/null | awk '{for (i = 1; i < NF; i++) if ($i == "dev") print $(i + 1)}' | head -n 1)"
MEDIA_IP="$(ip -o -4 addr show dev "$IFACE" 2>/dev/null | awk '{split($4, a, "/"); print a[1]}' | head -n 1)"
[ -n "$MEDIA_IP" ] || { say "no IPv4 address on the default-route interface (Janus cannot use loopback)"; check FAIL "media address"; exit 1; }

if [ "$BUILD" -eq 1 ]; then
  say "building (cargo build ${build_flags[*]} -p livegate -p livegate-loadgen)"
  cargo build "${build_flags[@]}" -p livegate -p livegate-loadgen >&2 || { check FAIL "$PROFILE build"; exit 1; }
fi
[ -x "$SERVER_BIN" ] && [ -x "$LOADGEN_BIN" ] || { check FAIL "binaries $SERVER_BIN $LOADGEN_BIN"; exit 1; }
TRACE_DIR="$TARGET/bench-trace"
if ! bash tests/bench/make-trace.sh "$TRACE_DIR" >&2; then
  say "no ffmpeg trace: the generator synthesises one"
fi

free_port() {
  local p
  for p in $(seq 18088 18188); do
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
  echo 18088
}

# --- one segment --------------------------------------------------------------------------------
# run_one SFU SCENARIO CLASSES PUPILS_PER_CLASS LABEL: starts the SFU, runs the generator, stops it.
# SFU is janus, livegate, or livegate-norec (the bench server with --recording off). The
# recording scenario drives the generator as fanout and labels its results "recording".
run_one() {
  local sfu=$1 scenario=$2 classes=$3 pupils=$4 label=$5 pid url log pin_srv=("${prio[@]}")
  local kind=$sfu gen_scenario=$scenario flags=()
  [ "$sfu" = livegate-norec ] && kind=livegate flags=(--recording off)
  [ "$sfu" = livegate-unbatched ] && kind=livegate flags=(--unbatched)
  case "$scenario" in recording | batching) gen_scenario=fanout ;; esac
  [ -n "$SERVER_CPU" ] && pin_srv+=(taskset -c "$SERVER_CPU")
  log="$OUT/$sfu-$scenario-$classes-$pupils-$label.log"
  echo "$sfu $scenario $classes x $pupils $label: load $(cut -d' ' -f1-3 /proc/loadavg) at $(date -u +%H:%M:%S)" >>"$OUT/loadavg.txt"
  if [ "$kind" = livegate ]; then
    rm -rf "$OUT/livegate-data"
    "${pin_srv[@]}" "$SERVER_BIN" --advertise-ip "$MEDIA_IP" --classes "$classes" --pupils "$pupils" \
      --data-dir "$OUT/livegate-data" "${flags[@]}" >"$log.out" 2>"$log" &
    pid=$!
    PIDS+=("$pid")
    for _ in $(seq 1 300); do grep -q '^livegate ready' "$log.out" 2>/dev/null && break; kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    url="$(sed -n 's/^livegate ready http=\([^ ]*\).*/\1/p' "$log.out")"
  else
    local port cfg
    port=$(free_port)
    cfg="$OUT/janus-cfg-$label-$classes-$pupils"
    local loops=()
    [ -n "$JANUS_LOOPS" ] && [ "$JANUS_LOOPS" != 0 ] && loops=(--event-loops "$JANUS_LOOPS")
    "${prio[@]}" bash infra/janus/start.sh "$cfg" ${SERVER_CPU:+--cpu "$SERVER_CPU"} --http-port "$port" --iface "$IFACE" "${loops[@]}" >"$log" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    url="http://127.0.0.1:$port/janus"
    for _ in $(seq 1 300); do curl -s -m 1 "$url/info" >/dev/null 2>&1 && break; kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    curl -s -m 1 "$url/info" >/dev/null 2>&1 || url=""
  fi
  if [ -z "$url" ]; then
    say "$sfu did not start; log: $log"
    stop_pid "$pid"
    echo "{\"sfu\":\"$sfu\",\"scenario\":\"$scenario\",\"classes\":$classes,\"subscribers\":$((classes * pupils)),\"ok\":false,\"error\":\"server did not start\"}" >>"$RESULTS"
    return 1
  fi
  local limit
  limit=$(awk -v w="$WARMUP" -v m="$MEASURE" -v n="$((classes * pupils))" 'BEGIN { printf "%d", w + m + 120 + n }')
  timeout "$limit" "${pin_gen[@]}" "$LOADGEN_BIN" run --sfu "$kind" --sfu-label "$sfu" --url "$url" --media-ip "$MEDIA_IP" \
    --server-pid "$pid" --scenario "$gen_scenario" --scenario-label "$scenario" --classes "$classes" --subscribers "$pupils" --warmup "$WARMUP" --measure "$MEASURE" \
    --trace "$TRACE_DIR" --srtp "$SRTP" --label "$label" --out "$RESULTS" "${GEN_FLAGS[@]}" >/dev/null 2>>"$log.gen" &
  local gpid=$!
  PIDS+=("$gpid")
  wait "$gpid"
  local rc=$?
  stop_pid "$gpid"
  tail -n 1 "$log.gen" >&2
  stop_pid "$pid"
  rm -rf "$OUT/livegate-data"
  return $rc
}

order() { # order SCENARIO: the SFU order for one size
  local a=janus b=livegate
  [ "$1" = recording ] && a=livegate b=livegate-norec
  [ "$1" = batching ] && a=livegate-unbatched b=livegate
  if [ "$RUNS" = ab ]; then echo "$a $b"; else echo "$a $b $b $a"; fi
}

# last_ok SFU SCENARIO CLASSES PUPILS: true if every run of that size met the capacity limits.
within_slo() {
  python3 - "$RESULTS" "$1" "$2" "$3" "$4" <<'EOF'
import json, sys
f, sfu, sc, k, p = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
runs = [json.loads(l) for l in open(f) if l.strip()]
runs = [r for r in runs if r["sfu"] == sfu and r["scenario"] == sc and r.get("classes") == k and r.get("subscribers") == k * p]
ok = runs and all(r.get("ok") and r.get("loss_pct", 100) < 0.5 and (r.get("latency_p99_ms") or 1e9) < 50 for r in runs)
sys.exit(0 if ok else 1)
EOF
}

IFS=, read -r -a scenario_list <<<"$SCENARIOS"
for scenario in "${scenario_list[@]}"; do
  case "$scenario" in
    fanout) shapes=(); for n in $SIZES; do shapes+=("1:$n"); done ;;
    classes) shapes=(); for k in $CLASSES; do shapes+=("$k:30"); done ;;
    storm) shapes=("1:30") ;;
    recording) shapes=(); for n in $REC_SIZES; do shapes+=("1:$n"); done ;;
    batching) shapes=(); for n in $BATCH_SIZES; do shapes+=("1:$n"); done ;;
    *) say "unknown scenario $scenario"; exit 2 ;;
  esac
  declare -A stopped=()
  for shape in "${shapes[@]}"; do
    classes=${shape%%:*} pupils=${shape##*:}
    i=0
    for sfu in $(order "$scenario"); do
      i=$((i + 1))
      if [ -n "${stopped[$sfu]:-}" ] || { [ -n "$ONLY_SFU" ] && [ "$sfu" != "$ONLY_SFU" ]; }; then continue; fi
      say "$scenario classes=$classes pupils=$pupils: $sfu (run $i)"
      run_one "$sfu" "$scenario" "$classes" "$pupils" "r$i"
    done
    # A size that failed the limits in every run ends that SFU's ramp (larger ones would too).
    for sfu in janus livegate; do
      if [ "$scenario" = fanout ] || [ "$scenario" = classes ] && [ "$QUICK" -eq 0 ] && ! within_slo "$sfu" "$scenario" "$classes" "$pupils"; then
        stopped[$sfu]=1
      fi
    done
    [ -n "${stopped[janus]:-}" ] && [ -n "${stopped[livegate]:-}" ] && break
  done
  unset stopped
done

# --- the table ----------------------------------------------------------------------------------
{
  echo "Machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(uname -sr)"
  echo "Command: tests/bench/bench.sh $([ "$QUICK" -eq 1 ] && echo --quick) --scenarios $SCENARIOS --sizes \"$SIZES\" --classes \"$CLASSES\" --recording-sizes \"$REC_SIZES\" --batching-sizes \"$BATCH_SIZES\" --warmup $WARMUP --measure $MEASURE --runs $RUNS --srtp $SRTP ($PROFILE build)"
  echo "SFU pinned to CPU ${SERVER_CPU:-none}, generator to CPU ${GEN_CPU:-none}, both at nice ${NICE:-0}; media over $IFACE ($MEDIA_IP); Janus event_loops ${JANUS_LOOPS:-packaged}"
  echo
} >"$OUT/table.md"
if "$LOADGEN_BIN" report "$RESULTS" >>"$OUT/table.md"; then
  cat "$OUT/table.md"
  grep -q '^| ' "$OUT/table.md" && check PASS "table printed ($OUT/table.md)" || check FAIL "table printed"
else
  check FAIL "table printed"
fi
for sfu in livegate janus; do
  if python3 -c "import json,sys; rs=[json.loads(l) for l in open(sys.argv[1]) if l.strip()]; sys.exit(0 if any(r['sfu']==sys.argv[2] and r.get('ok') and r.get('forwarded',0)>0 for r in rs) else 1)" "$RESULTS" "$sfu"; then
    check PASS "$sfu ran; the generator received and decrypted media through it"
  else
    check FAIL "$sfu ran; the generator received and decrypted media through it"
  fi
done
say "results: $RESULTS"
[ "$FAILED_CHECKS" -eq 0 ]
