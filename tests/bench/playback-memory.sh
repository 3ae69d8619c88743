#!/usr/bin/env bash
# The server's memory while leaders play long recordings (BENCHMARKS.md, "Recording playback").
# Not in CI: the first run writes the synthetic recordings (about 150 MB per recording-hour) to
# the data folder, which later runs reuse.
#
#   tests/bench/playback-memory.sh [--leaders 5] [--minutes 60] [--route segments|whole]
#                                  [--data DIR] [--no-build]
#
# It starts `livegate demo` (target/debug/livegate, or LIVEGATE_BIN) on DIR (default
# /tmp/livegate-playback-bench), writes one synthetic recording per leader straight into its
# local object folder with the recorder library (sealed two-second VP8 + Opus WebM segments),
# registers them and the extra leaders in its database, and has every leader open a different
# recording and fetch all of it at full speed: `segments` (the streaming route, one request in
# flight per stream) or `whole` (the joined stream of the code before streaming playback; run it
# against that commit's binary with LIVEGATE_BIN). It prints one JSON line: the server's resident
# memory idle, its peak sampled every 100 ms (and above idle), the kernel's high-water mark, the
# bytes served and the seconds taken. Every process started here is stopped on exit.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
DATA=/tmp/livegate-playback-bench
BUILD=1
ARGS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --data) DATA="$2"; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    --leaders|--minutes|--route) ARGS+=("$1" "$2"); shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
if [ "$BUILD" = 1 ]; then
  cargo build -p livegate -p livegate-tests --bin livegate --bin playback_bench
fi
exec "$ROOT/target/debug/playback_bench" --data "$DATA" "${ARGS[@]}"
