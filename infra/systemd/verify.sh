#!/usr/bin/env bash
# Checks infra/systemd/livegate.service with `systemd-analyze verify`:
#
#   bash infra/systemd/verify.sh [BINARY]
#
# systemd-analyze checks that ExecStart's program exists, so the unit is checked as a copy whose
# /usr/bin/livegate is BINARY (default: target/debug/livegate; any executable will do), with
# every other line as written. It only warns (exit 0) about an unknown key or a value it cannot
# parse, so the check passes only if it exits 0 and says nothing at all.
# Exits 0 if the unit is clean, 1 if not, 2 if systemd-analyze is not installed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
UNIT="$ROOT/infra/systemd/livegate.service"
BINARY="${1:-$ROOT/target/debug/livegate}"

if ! command -v systemd-analyze >/dev/null 2>&1; then
  echo "verify.sh: systemd-analyze is not installed (Debian package systemd)" >&2
  exit 2
fi
[ -x "$BINARY" ] || { echo "verify.sh: $BINARY is not an executable (build it first)" >&2; exit 1; }

dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
sed "s#/usr/bin/livegate #$BINARY #" "$UNIT" >"$dir/livegate.service"
grep -q "^ExecStart=$BINARY serve" "$dir/livegate.service" || { echo "verify.sh: no ExecStart=/usr/bin/livegate serve line" >&2; exit 1; }

status=0
out="$(systemd-analyze verify "$dir/livegate.service" 2>&1)" || status=$?
if [ "$status" -ne 0 ] || [ -n "$out" ]; then
  echo "verify.sh: systemd-analyze verify livegate.service (exit $status):" >&2
  printf '%s\n' "${out//$dir\//}" >&2
  exit 1
fi
echo "verify.sh: livegate.service is clean (systemd-analyze verify: exit 0, no warning)"
