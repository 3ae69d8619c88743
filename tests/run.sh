#!/usr/bin/env bash
# The Livegate test command: `bash tests/run.sh [--only rust|browser|aiortc|bench|fuzz|soak]... [--no-setup]`.
#
# Installs test tools (infra/setup.sh test), builds the workspace, then runs every suite even if
# an earlier one failed: Rust (`cargo test --workspace`), browser (`node --test` in tests/browser)
# aiortc (pytest in tests/aiortc), bench (tests/bench/bench.sh --quick: Livegate and Janus
# each forward to 10 subscribers for 5 s; it passes if both ran, media arrived decrypted through
# each and the table printed; no speed thresholds), fuzz (fuzz/run.sh: each cargo-fuzz target
# for 25 s from its seeds and regression inputs; one passed per target that ran without a
# crash) and soak (tests/soak/soak.sh --short: a 50 s lesson, 1 teacher and 30 pupils; one
# passed per check: memory, fds, threads, tasks, media...). The last line is `tests: N passed, N failed`;
# the exit code is non-zero if any suite failed or ran no tests. LIVEGATE_BIN overrides the
# server binary.
# The Rust suite runs the store tests and the multi-node test on a throwaway PostgreSQL
# (infra/postgres.sh, stopped at exit) unless LIVEGATE_TEST_POSTGRES_URL is already set. Its
# recording tests start throwaway Garage nodes (infra/garage.sh; setup installs Garage) and
# use the livegate-recorder binary the build makes.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

ONLY=()
SETUP=1
while [ $# -gt 0 ]; do
  case "$1" in
    --only)
      [ $# -ge 2 ] || { echo "run.sh: --only needs rust, browser, aiortc, bench, fuzz or soak" >&2; exit 2; }
      ONLY+=("$2")
      shift 2
      ;;
    --only=*)
      ONLY+=("${1#--only=}")
      shift
      ;;
    --no-setup)
      SETUP=0
      shift
      ;;
    -h | --help)
      sed -n '2,13p' "$0"
      exit 0
      ;;
    *)
      echo "run.sh: unknown argument $1" >&2
      exit 2
      ;;
  esac
done
for s in "${ONLY[@]}"; do
  case "$s" in rust | browser | aiortc | bench | fuzz | soak) ;; *)
    echo "run.sh: unknown suite $s (rust, browser, aiortc, bench, fuzz, soak)" >&2
    exit 2
    ;;
  esac
done
[ ${#ONLY[@]} -eq 0 ] && ONLY=(rust browser aiortc bench fuzz soak)
wants() { [[ " ${ONLY[*]} " == *" $1 "* ]]; }

[ -x "${HOME:-}/.cargo/bin/cargo" ] && PATH="$HOME/.cargo/bin:$PATH"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

TOTAL_PASSED=0
TOTAL_FAILED=0
SUMMARY=()
LOGDIR="$(mktemp -d)"
PG_STARTED=0
cleanup() {
  [ "$PG_STARTED" -eq 1 ] && bash "$ROOT/infra/postgres.sh" stop || true
  rm -rf "$LOGDIR"
}
trap cleanup EXIT

banner() { printf '\n==== %s ====\n' "$*"; }

# record SUITE PASSED FAILED STATUS: add a suite's counts. A suite that exited non-zero without
# reporting a failed test, or that ran no tests, counts as one failure.
record() {
  local suite=$1 passed=$2 failed=$3 status=$4 note=""
  if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
    failed=1
    note=" (exit $status, no failed test reported)"
  fi
  if [ "$passed" -eq 0 ] && [ "$failed" -eq 0 ]; then
    failed=1
    note=" (ran no tests)"
  fi
  TOTAL_PASSED=$((TOTAL_PASSED + passed))
  TOTAL_FAILED=$((TOTAL_FAILED + failed))
  SUMMARY+=("$(printf '%-8s %4d passed, %d failed%s' "$suite" "$passed" "$failed" "$note")")
}

finish() {
  banner summary
  local line
  for line in "${SUMMARY[@]}"; do echo "$line"; done
  echo "tests: $TOTAL_PASSED passed, $TOTAL_FAILED failed"
  [ "$TOTAL_FAILED" -eq 0 ] && exit 0
  exit 1
}

# sum_matches FILE REGEX: the sum of the first capture group of REGEX over FILE's lines.
sum_matches() {
  sed -nE "s/$2/\\1/p" "$1" | awk '{ s += $1 } END { print s + 0 }'
}

# --- setup and build --------------------------------------------------------------------------

if [ "$SETUP" -eq 1 ]; then
  banner "setup (infra/setup.sh test)"
  if ! bash infra/setup.sh test; then
    record setup 0 1 1
    finish
  fi
fi

if [ -n "${LIVEGATE_BIN:-}" ]; then
  case "$LIVEGATE_BIN" in /*) ;; *) LIVEGATE_BIN="$ROOT/$LIVEGATE_BIN" ;; esac
else
  LIVEGATE_BIN="$ROOT/target/debug/livegate"
fi
export LIVEGATE_BIN

if wants rust; then
  banner "build (cargo build --workspace --all-targets)"
  build=(cargo build --workspace --all-targets)
elif [ "$LIVEGATE_BIN" = "$ROOT/target/debug/livegate" ]; then
  banner "build (cargo build -p livegate)"
  build=(cargo build -p livegate)
else
  build=()
fi
if [ ${#build[@]} -gt 0 ] && ! "${build[@]}"; then
  record build 0 1 1
  finish
fi
echo "server binary: $LIVEGATE_BIN"

# --- gates: formatting (rustfmt.toml), lints and the systemd unit; each fails the run ----------

if wants rust; then
  banner "gates (cargo fmt --all --check; cargo clippy --workspace --all-targets -- -D warnings; systemd-analyze verify)"
  rustup component add rustfmt clippy >/dev/null 2>&1 || true
  gate_passed=0 gate_failed=0
  gates=("cargo fmt --all --check" "cargo clippy --workspace --all-targets -- -D warnings")
  # The systemd unit (infra/systemd/livegate.service) against this machine's systemd.
  if command -v systemd-analyze >/dev/null 2>&1; then
    gates+=("bash infra/systemd/verify.sh $LIVEGATE_BIN")
  else
    echo "gate: SKIPPED systemd-analyze verify infra/systemd/livegate.service (systemd-analyze is not installed)"
  fi
  for gate in "${gates[@]}"; do
    if $gate; then
      echo "gate: PASS $gate"
      gate_passed=$((gate_passed + 1))
    else
      echo "gate: FAIL $gate"
      gate_failed=$((gate_failed + 1))
    fi
  done
  record gates "$gate_passed" "$gate_failed" 0
fi

# --- suites -----------------------------------------------------------------------------------

if wants rust && [ -z "${LIVEGATE_TEST_POSTGRES_URL:-}" ]; then
  banner "postgres (infra/postgres.sh start)"
  # A cluster of our own, so parallel runs never stop each other's. (Not under $LOGDIR: the
  # server runs as the postgres user, who cannot enter it.)
  LIVEGATE_PG_DIR="$(mktemp -d /tmp/livegate-pg.XXXXXX)"
  export LIVEGATE_PG_DIR
  PG_STARTED=1
  if url="$(bash infra/postgres.sh start)"; then
    export LIVEGATE_TEST_POSTGRES_URL="$url"
    echo "PostgreSQL for the store and multi-node tests: $url"
  else
    # The suites still run; the PostgreSQL halves then fail under CI or say they were skipped.
    record postgres 0 1 1
  fi
fi

if wants rust; then
  banner "rust (cargo test --workspace --no-fail-fast)"
  log="$LOGDIR/rust.log"
  cargo test --workspace --no-fail-fast 2>&1 | tee "$log"
  status=${PIPESTATUS[0]}
  passed=$(sum_matches "$log" '^test result: .* ([0-9]+) passed;.*')
  failed=$(sum_matches "$log" '^test result: .* ([0-9]+) failed;.*')
  record rust "$passed" "$failed" "$status"
fi

if wants browser; then
  banner "browser (node --test in tests/browser)"
  if [ -f tests/browser/package.json ]; then
    tap="$LOGDIR/browser.tap"
    # spec reporter for people on stdout, TAP to a file for the counts.
    (cd tests/browser && node --test --test-reporter=spec --test-reporter-destination=stdout \
      --test-reporter=tap --test-reporter-destination="$tap")
    status=$?
    passed=$(sum_matches "$tap" '^# pass ([0-9]+)$')
    failed=$(sum_matches "$tap" '^# fail ([0-9]+)$')
    cancelled=$(sum_matches "$tap" '^# cancelled ([0-9]+)$')
    record browser "$passed" "$((failed + cancelled))" "$status"
  else
    echo "tests/browser/package.json is missing"
    record browser 0 0 1
  fi
fi

if wants aiortc; then
  banner "aiortc (pytest in tests/aiortc)"
  py="tests/aiortc/.venv/bin/python"
  if [ -x "$py" ]; then
    log="$LOGDIR/aiortc.log"
    (cd tests/aiortc && PYTHONDONTWRITEBYTECODE=1 .venv/bin/python -m pytest -v) 2>&1 | tee "$log"
    status=${PIPESTATUS[0]}
    # pytest's closing line, e.g. "==== 1 failed, 2 passed, 1 error in 9.12s ====".
    last="$LOGDIR/aiortc.last"
    grep -E '^=+ .* in [0-9.]+s' "$log" | tail -n 1 >"$last"
    passed=$(sum_matches "$last" '.* ([0-9]+) passed.*')
    failed=$(sum_matches "$last" '.* ([0-9]+) failed.*')
    errors=$(sum_matches "$last" '.* ([0-9]+) errors?.*')
    record aiortc "$passed" "$((failed + errors))" "$status"
  else
    echo "no venv at tests/aiortc/.venv (run infra/setup.sh test)"
    record aiortc 0 0 1
  fi
fi

if wants bench; then
  banner "bench (tests/bench/bench.sh --quick: Livegate and Janus, 10 subscribers, 5 s)"
  log="$LOGDIR/bench.log"
  bash tests/bench/bench.sh --quick 2>&1 | tee "$log"
  status=${PIPESTATUS[0]}
  passed=$(grep -c '^bench check: PASS' "$log")
  failed=$(grep -c '^bench check: FAIL' "$log")
  record bench "$passed" "$failed" "$status"
fi

if wants fuzz; then
  banner "fuzz (fuzz/run.sh: every cargo-fuzz target for 25 s)"
  log="$LOGDIR/fuzz.log"
  bash fuzz/run.sh --time 25 2>&1 | tee "$log"
  status=${PIPESTATUS[0]}
  passed=$(grep -c '^fuzz check: PASS' "$log")
  failed=$(grep -c '^fuzz check: FAIL' "$log")
  record fuzz "$passed" "$failed" "$status"
fi

if wants soak; then
  banner "soak (tests/soak/soak.sh --short: 1 teacher, 30 pupils, 50 s)"
  log="$LOGDIR/soak.log"
  bash tests/soak/soak.sh --short 2>&1 | tee "$log"
  status=${PIPESTATUS[0]}
  passed=$(grep -c '^soak check: PASS' "$log")
  failed=$(grep -c '^soak check: FAIL' "$log")
  record soak "$passed" "$failed" "$status"
fi

finish
