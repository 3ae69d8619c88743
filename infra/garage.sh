#!/usr/bin/env bash
# Garage (S3-compatible object storage) for tests and small deployments.
#
#   infra/garage.sh install        build and install Garage 2.5.0 once (cargo install; cached in ~/.cargo/bin)
#   infra/garage.sh start DIR      start a single node with its data in DIR, create a bucket and a key,
#                                  and write DIR/env (LIVEGATE_S3_* variables to source)
#   infra/garage.sh stop DIR       stop the node started in DIR (waits until it has exited)
#   infra/garage.sh restart DIR    start the stopped node of DIR again, on the same data and ports
#
# Everything listens on 127.0.0.1 on free ports; nothing is reachable from elsewhere.
set -euo pipefail

VERSION=2.5.0
export PATH="$HOME/.cargo/bin:$PATH"

install() {
  if command -v garage >/dev/null 2>&1 && garage --version 2>/dev/null | grep -qE "[v:]$VERSION( |$)"; then
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
  launch "$dir"
  local node=""
  for _ in $(seq 1 100); do
    node=$(garage -c "$dir/garage.toml" node id -q 2>/dev/null | cut -d@ -f1) && [ -n "$node" ] && break
    sleep 0.1
  done
  [ -n "$node" ] || { echo "garage: the node did not start; see $dir/garage.log" >&2; exit 1; }
  # The node id is read from disk; the commands below need the node's RPC port up.
  wait_port "$rpc" || { echo "garage: the node's RPC port never opened; see $dir/garage.log" >&2; exit 1; }
  retry garage -c "$dir/garage.toml" layout assign -z dc1 -c 1G "$node" >/dev/null
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

# Runs a command until it succeeds (at most 50 tries, 0.1 s apart).
retry() {
  local _
  for _ in $(seq 1 49); do
    "$@" 2>/dev/null && return 0
    sleep 0.1
  done
  "$@"
}

# Runs the node of DIR in the background, its log appended to DIR/garage.log.
launch() {
  local dir="$1"
  garage -c "$dir/garage.toml" server >>"$dir/garage.log" 2>&1 &
  echo $! >"$dir/garage.pid"
}

# The S3 port of DIR's node.
s3_port() {
  sed -nE 's/^LIVEGATE_S3_ENDPOINT=http:\/\/127\.0\.0\.1:([0-9]+)$/\1/p' "$1/env"
}

# Waits until something accepts connections on 127.0.0.1:PORT.
wait_port() {
  local _
  for _ in $(seq 1 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

restart() {
  local dir="$1"
  [ -f "$dir/garage.toml" ] && [ -f "$dir/env" ] || { echo "garage: nothing was started in $dir" >&2; exit 1; }
  stop "$dir"
  launch "$dir"
  wait_port "$(s3_port "$dir")" || { echo "garage: the node did not restart; see $dir/garage.log" >&2; exit 1; }
  echo "garage: running again on 127.0.0.1:$(s3_port "$dir")"
}

stop() {
  local dir="$1" pid _
  [ -f "$dir/garage.pid" ] || return 0
  pid="$(cat "$dir/garage.pid")"
  kill "$pid" 2>/dev/null || true
  # Wait for it to exit, so its ports are free for a restart.
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$dir/garage.pid"
}

case "${1:-}" in
  install) install ;;
  start) start "${2:?start needs a folder}" ;;
  stop) stop "${2:?stop needs a folder}" ;;
  restart) restart "${2:?restart needs a folder}" ;;
  *) sed -n '2,10p' "$0"; exit 2 ;;
esac
