#!/usr/bin/env bash
# Installs what Livegate needs on a fresh Debian 12 machine, idempotently.
#
#   infra/setup.sh run    system packages needed to build and run the server (ffmpeg-next's deps)
#   infra/setup.sh test   the above, plus the test tools: ffmpeg CLI, Chromium + chromedriver,
#                         Firefox ESR and Xvfb (the second browser engine, tests/browser/lib/firefox.js),
#                         PostgreSQL (run by infra/postgres.sh, never as a system service),
#                         Janus for the benchmark (started by tests/bench/bench.sh only),
#                         Garage for the recording tests (infra/garage.sh install: built once
#                         with cargo into ~/.cargo/bin),
#                         npm packages for tests/browser and a Python venv for tests/aiortc
#
# Run it as root (it uses sudo when not root). A second run with nothing changed touches no network.
set -euo pipefail

MODE="${1:-run}"
case "$MODE" in
  run | test) ;;
  -h | --help)
    sed -n '2,9p' "$0"
    exit 0
    ;;
  *)
    echo "usage: $0 [run|test]" >&2
    exit 2
    ;;
esac

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

say() { echo "setup: $*"; }
die() {
  echo "setup: error: $*" >&2
  exit 1
}

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo)
  else
    SUDO=(__not_root__)
  fi
fi

# sha256 of the given files' contents (missing files hash as empty).
stamp_of() {
  local f
  for f in "$@"; do
    [ -f "$f" ] && cat "$f"
    echo "--"
  done | sha256sum | cut -d' ' -f1
}

# --- Debian packages -------------------------------------------------------------------------

RUN_PACKAGES=(pkg-config clang libclang-dev libavformat-dev libavcodec-dev libavutil-dev
  libswscale-dev libswresample-dev)
TEST_PACKAGES=(ffmpeg chromium chromium-driver python3 python3-venv postgresql postgresql-client janus
  firefox-esr xvfb)

is_installed() {
  [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]
}

ensure_packages() {
  local missing=() p
  for p in "$@"; do
    is_installed "$p" || missing+=("$p")
  done
  if [ "${#missing[@]}" -eq 0 ]; then
    say "apt: all $# packages present"
    return
  fi
  [ "${SUDO[0]:-}" = "__not_root__" ] && die "not root and no sudo; install: ${missing[*]}"
  say "apt: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${SUDO[@]}" apt-get update -qq
  "${SUDO[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
  for p in "${missing[@]}"; do
    is_installed "$p" || die "apt: $p did not install"
  done
  say "apt: installed ${#missing[@]} package(s)"
}

packages=("${RUN_PACKAGES[@]}")
if [ "$MODE" = test ]; then
  packages+=("${TEST_PACKAGES[@]}")
  # Node: keep whatever node/npm the machine has; fall back to Debian's.
  command -v node >/dev/null 2>&1 || packages+=(nodejs)
  command -v npm >/dev/null 2>&1 || packages+=(npm)
fi
ensure_packages "${packages[@]}"

if ! command -v cargo >/dev/null 2>&1 && [ ! -x "${HOME:-}/.cargo/bin/cargo" ]; then
  die "cargo not found: install a Rust toolchain (rustup) first"
fi

[ "$MODE" = run ] && {
  say "done (run)"
  exit 0
}

# --- Garage (S3-compatible storage) for the recording tests ----------------------------------

# Idempotent: nothing happens when the right version is already in ~/.cargo/bin.
bash "$ROOT/infra/garage.sh" install || die "garage: install failed (infra/garage.sh install)"
say "garage: $(PATH="$HOME/.cargo/bin:$PATH" garage --version 2>/dev/null | head -n 1)"

# --- npm packages for the browser suite -------------------------------------------------------

BROWSER="$ROOT/tests/browser"
if [ -f "$BROWSER/package.json" ]; then
  lock="$BROWSER/package-lock.json"
  stamp_file="$BROWSER/node_modules/.livegate-setup-stamp"
  want="$(stamp_of "$BROWSER/package.json" "$lock")"
  if [ -d "$BROWSER/node_modules" ] && [ "$(cat "$stamp_file" 2>/dev/null)" = "$want" ]; then
    say "npm: tests/browser up to date"
  else
    export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
    if [ -f "$lock" ]; then
      say "npm: npm ci in tests/browser"
      (cd "$BROWSER" && npm ci --no-audit --no-fund --loglevel=error)
    else
      say "npm: npm install in tests/browser (no package-lock.json)"
      (cd "$BROWSER" && npm install --no-audit --no-fund --loglevel=error)
    fi
    stamp_of "$BROWSER/package.json" "$lock" >"$stamp_file"
  fi
else
  say "npm: no tests/browser/package.json, skipped"
fi

# --- Python venv for the aiortc suite ---------------------------------------------------------

AIORTC="$ROOT/tests/aiortc"
VENV="$AIORTC/.venv"
REQS="$AIORTC/requirements.txt"
if [ -f "$REQS" ]; then
  # Debian's python3 (python3-venv is installed above); other pythons on PATH may differ per machine.
  PY=/usr/bin/python3
  [ -x "$PY" ] || PY="$(command -v python3)"
  want="$(stamp_of "$REQS"; "$PY" -c 'import sys; print(sys.version)')"
  stamp_file="$VENV/.livegate-setup-stamp"
  if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c '' 2>/dev/null &&
    [ "$(cat "$stamp_file" 2>/dev/null)" = "$want" ]; then
    say "venv: tests/aiortc/.venv up to date"
  else
    say "venv: creating tests/aiortc/.venv with $("$PY" --version)"
    rm -rf "$VENV"
    "$PY" -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQS"
    echo "$want" >"$stamp_file"
    say "venv: installed $("$VENV/bin/python" -m pip list --disable-pip-version-check 2>/dev/null |
      grep -E '^(aiortc|av|aiohttp|pytest) ' | tr -s ' ' | tr '\n' ' ')"
  fi
fi

say "done (test)"
