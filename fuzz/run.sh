#!/usr/bin/env bash
# Runs Livegate's fuzz targets: `bash fuzz/run.sh [--time SECONDS] [TARGET...]`.
#
# Installs cargo-fuzz if it is missing, builds every target (cargo fuzz on the stable
# toolchain: RUSTC_BOOTSTRAP=1; no sanitizer, since the code under test is safe Rust and a panic
# is what we look for; debug assertions and overflow checks on), then runs each target for
# --time seconds (default 25) from its committed seeds (fuzz/corpus/<target>/) and its
# regression inputs (fuzz/regressions/<target>/, every one replayed first, so a crash that came
# back fails at once). New corpus entries go to fuzz/target/corpus/<target>/, never into the
# committed seeds. One line per target: `fuzz check: PASS <target> ...` or `fuzz check: FAIL
# <target> ...` with the crashing input under fuzz/artifacts/<target>/ (copy it into
# fuzz/regressions/<target>/ once the bug is fixed). Exit status 0 only if every target passed.
# Targets run one after another. To run several at once, start one run.sh per target: each
# target has its own log (fuzz/target/logs/<target>.log), corpus and artifacts folder, the
# in-process school of the HTTP targets lives in /dev/shm/livegate-fuzz-<pid>, and cargo's
# lock makes the builds wait for each other (the same target twice at once would share them).
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

TARGETS_ALL=(fuzz_signalling fuzz_sdp fuzz_roster_csv fuzz_sealed_segment fuzz_rtp_rtcp fuzz_webm_demux fuzz_http_bodies fuzz_manifest fuzz_media_engine)
TIME=25
TARGETS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --time) TIME=${2:?--time needs seconds}; shift 2 ;;
    --time=*) TIME=${1#--time=}; shift ;;
    -h | --help) sed -n '2,16p' "$0"; exit 0 ;;
    -*) echo "fuzz/run.sh: unknown argument $1" >&2; exit 2 ;;
    *) TARGETS+=("$1"); shift ;;
  esac
done
[ ${#TARGETS[@]} -eq 0 ] && TARGETS=("${TARGETS_ALL[@]}")

[ -x "${HOME:-}/.cargo/bin/cargo" ] && PATH="$HOME/.cargo/bin:$PATH"
export RUSTC_BOOTSTRAP=1
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
# The fuzz workspace builds into its own target dir: sanitizer-coverage flags would otherwise
# rebuild the main workspace's dependencies. It lives outside the clone (LIVEGATE_FUZZ_TARGET_DIR,
# by default ~/.cache/livegate/fuzz-target) so a fresh clone reuses the compiled dependencies
# (a cold build takes 10-17 minutes on 2 cores); cargo rebuilds whatever changed.
unset CARGO_TARGET_DIR
FUZZ_TARGET_DIR="${LIVEGATE_FUZZ_TARGET_DIR:-${HOME:-/root}/.cache/livegate/fuzz-target}"
mkdir -p "$FUZZ_TARGET_DIR"
FLAGS=(-s none -a --target-dir "$FUZZ_TARGET_DIR")

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz: installing cargo-fuzz"
  cargo install cargo-fuzz --locked || { echo "fuzz check: FAIL install (cargo install cargo-fuzz)"; exit 1; }
fi

echo "fuzz: building (cargo fuzz build ${FLAGS[*]})"
if ! cargo fuzz build "${FLAGS[@]}"; then
  echo "fuzz check: FAIL build (cargo fuzz build ${FLAGS[*]})"
  exit 1
fi

BIN="$FUZZ_TARGET_DIR/$(rustc -vV | sed -n 's/^host: //p')/release"
LOGS="fuzz/target/logs"
mkdir -p "$LOGS"
failed=0
for t in "${TARGETS[@]}"; do
  work="fuzz/target/corpus/$t"
  mkdir -p "$work" "fuzz/corpus/$t" "fuzz/regressions/$t" "fuzz/artifacts/$t"
  log="$LOGS/$t.log"
  echo "fuzz: $t for ${TIME}s"
  # The binary cargo fuzz built, run directly: `cargo fuzz run` would rebuild first whenever the
  # sources changed since the build above, and the time limit is for fuzzing.
  "$BIN/$t" "$work" "fuzz/corpus/$t" "fuzz/regressions/$t" \
    -max_total_time="$TIME" -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="fuzz/artifacts/$t/" -print_final_stats=1 >"$log" 2>&1
  status=$?
  execs=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+)/\1/p' "$log" | tail -n 1)
  if [ "$status" -eq 0 ]; then
    cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -n 1)
    echo "fuzz check: PASS $t (${execs:-?} runs in ${TIME}s, $cov, $(ls "$work" | wc -l) inputs in fuzz/target/corpus)"
  else
    failed=$((failed + 1))
    echo "fuzz check: FAIL $t (exit $status; log $log)"
    grep -E 'panicked at|ERROR: libFuzzer|SUMMARY|Test unit written to' "$log" | head -n 8 | sed 's/^/  /'
  fi
done
[ "$failed" -eq 0 ]
