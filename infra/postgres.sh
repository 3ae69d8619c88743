#!/usr/bin/env bash
# A throwaway PostgreSQL server for tests: `infra/postgres.sh start|stop|url|status`.
#
#   start   installs Debian's PostgreSQL if missing, creates a cluster in $LIVEGATE_PG_DIR
#           (default /tmp/livegate-postgres), listening on 127.0.0.1 only on a free port with
#           trust authentication, starts it and prints its URL. Idempotent: a running cluster
#           is reused.
#   url     prints postgres://postgres@127.0.0.1:PORT/postgres for the running cluster.
#   status  exits 0 if the cluster is running.
#   halt    stops the cluster but keeps its directory: a later `start` brings the same data
#           back on the same port (the failure tests restart PostgreSQL mid-lesson this way).
#   stop    stops the cluster and deletes its directory.
#
# It never touches the system's own clusters or systemd. The server runs as the `postgres` OS
# user when this script runs as root (initdb refuses root), else as the calling user.
# Give each concurrent user its own LIVEGATE_PG_DIR (tests/run.sh does).
set -euo pipefail

DIR="${LIVEGATE_PG_DIR:-/tmp/livegate-postgres}"
DATA="$DIR/data"
LOG="$DIR/server.log"

say() { echo "postgres: $*" >&2; }
die() {
  echo "postgres: error: $*" >&2
  exit 1
}

is_installed() {
  [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]
}

ensure_packages() {
  local missing=() p
  for p in postgresql postgresql-client; do
    is_installed "$p" || missing+=("$p")
  done
  [ "${#missing[@]}" -eq 0 ] && return
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || die "not root and no sudo; install: ${missing[*]}"
    sudo=(sudo)
  fi
  say "apt: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
  for p in "${missing[@]}"; do
    is_installed "$p" || die "apt: $p did not install"
  done
}

# The newest installed server's bin directory.
bindir() {
  local d
  d="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
  [ -n "$d" ] && [ -x "$d/pg_ctl" ] || die "no PostgreSQL server binaries under /usr/lib/postgresql"
  echo "$d"
}

# Runs a command as the cluster's owner.
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

port_free() {
  ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

pick_port() {
  local p i
  for i in $(seq 1 50); do
    p=$((20000 + RANDOM % 40000))
    port_free "$p" && {
      echo "$p"
      return
    }
  done
  die "no free port found"
}

running() {
  [ -f "$DATA/PG_VERSION" ] && as_owner "$(bindir)/pg_ctl" status -D "$DATA" >/dev/null 2>&1
}

url() {
  [ -f "$DIR/port" ] || die "no cluster in $DIR (run: $0 start)"
  echo "postgres://postgres@127.0.0.1:$(cat "$DIR/port")/postgres"
}

init_cluster() {
  local bin=$1
  rm -rf "$DIR"
  mkdir -p "$DIR"
  chmod 700 "$DIR"
  [ "$(id -u)" -eq 0 ] && chown postgres: "$DIR"
  as_owner "$bin/initdb" -D "$DATA" -U postgres --auth=trust -E UTF8 --locale=C >"$DIR/initdb.log" 2>&1 ||
    die "initdb failed: $(tail -n 5 "$DIR/initdb.log")"
  # Only TCP from 127.0.0.1, trusted; nothing else (the socket directory is private anyway).
  echo "host all all 127.0.0.1/32 trust" | as_owner tee "$DATA/pg_hba.conf" >/dev/null
  as_owner tee -a "$DATA/postgresql.conf" >/dev/null <<EOF
# livegate test cluster: loopback only, durability traded for speed.
listen_addresses = '127.0.0.1'
unix_socket_directories = '$DIR'
max_connections = 300
fsync = off
synchronous_commit = off
full_page_writes = off
logging_collector = off
EOF
}

start() {
  ensure_packages
  local bin port tries
  bin="$(bindir)"
  if running; then
    url
    return
  fi
  [ -f "$DATA/PG_VERSION" ] || init_cluster "$bin"
  for tries in 1 2 3; do
    # A halted cluster comes back on its old port, so clients reconnect to the same URL.
    if [ "$tries" -eq 1 ] && [ -f "$DIR/port" ] && port_free "$(cat "$DIR/port")"; then
      port="$(cat "$DIR/port")"
    else
      port="$(pick_port)"
    fi
    echo "$port" | as_owner tee "$DIR/port" >/dev/null
    if as_owner "$bin/pg_ctl" start -D "$DATA" -l "$LOG" -w -t 30 -o "-p $port" >/dev/null 2>&1; then
      say "running in $DIR on 127.0.0.1:$port"
      url
      return
    fi
    say "start on port $port failed (try $tries): $(tail -n 2 "$LOG" 2>/dev/null || true)"
  done
  die "could not start PostgreSQL; log: $LOG"
}

halt() {
  [ -f "$DATA/PG_VERSION" ] || die "no cluster in $DIR"
  as_owner "$(bindir)/pg_ctl" stop -D "$DATA" -m fast -w >/dev/null 2>&1 || die "could not stop the cluster in $DIR"
  say "halted (data kept in $DIR)"
}

stop() {
  if [ -f "$DATA/PG_VERSION" ]; then
    as_owner "$(bindir)/pg_ctl" stop -D "$DATA" -m fast -w >/dev/null 2>&1 || true
  fi
  rm -rf "$DIR"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  halt) halt ;;
  url) url ;;
  status) running ;;
  -h | --help) sed -n '2,16p' "$0" ;;
  *)
    echo "usage: $0 start|stop|halt|url|status" >&2
    exit 2
    ;;
esac
