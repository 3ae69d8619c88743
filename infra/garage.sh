#!/usr/bin/env bash
# Garage (S3-compatible object storage) for tests and small deployments.
#
#   infra/garage.sh install        build and install Garage 2.5.0 once (cargo install; cached in ~/.cargo/bin)
#   infra/garage.sh start DIR      start a single node with its data in DIR, create a bucket and a key,
#                                  and write DIR/env (LIVEGATE_S3_* variables to source)
#   infra/garage.sh stop DIR       stop the node started in DIR
#
# Everything listens on 127.0.0.1 on free ports; nothing is reachable from elsewhere.
set -euo pipefail

VERSION=2.5.0
export PATH="$HOME/.cargo/bin:$PATH"

install() {
  if command -v garage >/dev/null 2>&1 && garage --version 2>/dev/null | grep -q "v$VERSION"; then
    return 0
  fi
  echo "garage: building Garage $VERSION (about 7 minutes on 2 cores, once)"
  cargo install garage --version "$VERSION" --locked --quiet
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

start() {
  local dir="$1"
  install
  mkdir -p "$dir/meta" "$dir/data"
  local s3 rpc admin
  s3=$(free_port); rpc=$(free_port); admin=$(free_port)
  cat >"$dir/garage.toml" <<TOML
metadata_dir = "$dir/meta"
data_dir = "$dir/data"
db_engine = "sqlite"
replication_factor = 1
rpc_bind_addr = "127.0.0.1:$rpc"
rpc_public_addr = "127.0.0.1:$rpc"
rpc_secret = "$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"

[s3_api]
s3_region = "garage"
api_bind_addr = "127.0.0.1:$s3"
root_domain = ".s3.garage.localhost"

[admin]
api_bind_addr = "127.0.0.1:$admin"
admin_token = "$(head -c 32 /dev/urandom | base64 | tr -d '\n')"
TOML
  garage -c "$dir/garage.toml" server >"$dir/garage.log" 2>&1 &
  echo $! >"$dir/garage.pid"
  local node=""
  for _ in $(seq 1 100); do
    node=$(garage -c "$dir/garage.toml" node id -q 2>/dev/null | cut -d@ -f1) && [ -n "$node" ] && break
    sleep 0.1
  done
  [ -n "$node" ] || { echo "garage: the node did not start; see $dir/garage.log" >&2; exit 1; }
  garage -c "$dir/garage.toml" layout assign -z dc1 -c 1G "$node" >/dev/null
  garage -c "$dir/garage.toml" layout apply --version 1 >/dev/null
  garage -c "$dir/garage.toml" bucket create recordings >/dev/null
  local keyinfo
  keyinfo=$(garage -c "$dir/garage.toml" key create livegate)
  garage -c "$dir/garage.toml" bucket allow --read --write --owner recordings --key livegate >/dev/null
  local key_id secret
  key_id=$(echo "$keyinfo" | awk '/Key ID:/ {print $3}')
  secret=$(echo "$keyinfo" | awk '/Secret key:/ {print $3}')
  cat >"$dir/env" <<ENV
LIVEGATE_S3_ENDPOINT=http://127.0.0.1:$s3
LIVEGATE_S3_REGION=garage
LIVEGATE_S3_BUCKET=recordings
LIVEGATE_S3_ACCESS_KEY=$key_id
LIVEGATE_S3_SECRET_KEY=$secret
ENV
  echo "garage: running on 127.0.0.1:$s3 (settings in $dir/env)"
}

stop() {
  local dir="$1"
  if [ -f "$dir/garage.pid" ]; then
    kill "$(cat "$dir/garage.pid")" 2>/dev/null || true
    rm -f "$dir/garage.pid"
  fi
}

case "${1:-}" in
  install) install ;;
  start) start "${2:?start needs a folder}" ;;
  stop) stop "${2:?stop needs a folder}" ;;
  *) sed -n '2,9p' "$0"; exit 2 ;;
esac
