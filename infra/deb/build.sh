#!/usr/bin/env bash
# Builds the Debian package of Livegate:
#
#   bash infra/deb/build.sh        ->  target/debian/livegate_<version>-1_<arch>.deb (path printed last)
#
# A release build of both binaries (`livegate`, `livegate-recorder`; 20 minutes or more on two
# cores the first time), then `cargo deb` packs them with the systemd unit
# (infra/systemd/livegate.service), the default configuration (infra/config/one-school.toml as
# /etc/livegate/livegate.toml) and the maintainer scripts (infra/deb/scripts), as described in
# `[package.metadata.deb]` of server/Cargo.toml. Installs what it needs on the way: the ffmpeg
# development libraries (infra/setup.sh) and cargo-deb (cargo install, once).
# Install the result with `apt install ./target/debian/livegate_*.deb` (README, "Run it for your school").
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
[ -x "${HOME:-}/.cargo/bin/cargo" ] && PATH="$HOME/.cargo/bin:$PATH"

say() { printf 'deb: %s\n' "$*" >&2; }

# Rust and the libraries the build links (libavformat-dev ...): the same as for running it.
if ! command -v cargo >/dev/null 2>&1 || ! pkg-config --exists libavformat 2>/dev/null; then
  say "installing the build tools (infra/setup.sh)"
  bash infra/setup.sh
fi
# dpkg-shlibdeps works out the package's library dependencies ($auto in server/Cargo.toml).
if ! command -v dpkg-shlibdeps >/dev/null 2>&1; then
  say "installing dpkg-dev (dpkg-shlibdeps)"
  apt-get update -qq && apt-get install -y -qq dpkg-dev >/dev/null
fi
if ! cargo deb --version >/dev/null 2>&1; then
  say "installing cargo-deb (cargo install cargo-deb --locked; once)"
  cargo install cargo-deb --locked
fi

say "building livegate and livegate-recorder (release)"
cargo build --release --locked -p livegate -p livegate-recorder
say "packing (cargo deb)"
deb="$(cargo deb -p livegate --no-build --locked)"
say "built $deb"
echo "$deb"
