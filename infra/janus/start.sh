#!/usr/bin/env bash
# Starts Debian's Janus 1.1.2 (`apt-get install janus`) for the Livegate benchmark, in the
# foreground, from a configuration rendered into a fresh folder:
#
#   infra/janus/start.sh CONFIG_DIR [--cpu N] [--http-port 8088] [--iface eth0] [--event-loops N]
#
# The HTTP API listens on 127.0.0.1 only. Janus does not gather loopback candidates, so ICE uses
# --iface (default: the interface of the default route), i.e. this machine's own address; the
# kernel still delivers that traffic locally. --cpu pins Janus with taskset. The caller runs
# this in the background and stops it (kill the pid it started; this script execs Janus).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
[ $# -ge 1 ] || { sed -n '2,10p' "$0"; exit 2; }
DIR="$1"
shift
CPU=""
HTTP_PORT=8088
IFACE=""
EVENT_LOOPS=""
while [ $# -gt 0 ]; do
  case "$1" in
    --cpu) CPU="$2"; shift 2 ;;
    --http-port) HTTP_PORT="$2"; shift 2 ;;
    --iface) IFACE="$2"; shift 2 ;;
    --event-loops) EVENT_LOOPS="$2"; shift 2 ;;
    *) echo "start.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

command -v janus >/dev/null || { echo "start.sh: janus is not installed (apt-get install -y janus)" >&2; exit 1; }
LIBDIR="$(ls -d /usr/lib/*/janus 2>/dev/null | head -n 1)"
[ -d "$LIBDIR/plugins" ] || { echo "start.sh: no Janus plugin folder under /usr/lib/*/janus" >&2; exit 1; }
if [ -z "$IFACE" ]; then
  IFACE="$(ip -o -4 route show default 2>/dev/null | awk '{for (i = 1; i < NF; i++) if ($i == "dev") print $(i + 1)}' | head -n 1)"
fi
[ -n "$IFACE" ] || { echo "start.sh: no default-route interface; pass --iface" >&2; exit 1; }

mkdir -p "$DIR"
loops=""
[ -n "$EVENT_LOOPS" ] && loops="event_loops = $EVENT_LOOPS"
render() {
  sed -e "s|@CONFIGS@|$DIR|g" -e "s|@LIBDIR@|$LIBDIR|g" -e "s|@IFACE@|$IFACE|g" \
    -e "s|@HTTP_PORT@|$HTTP_PORT|g" -e "s|@EVENT_LOOPS@|$loops|g" "$HERE/$1.in" >"$DIR/$1"
}
render janus.jcfg
render janus.transport.http.jcfg
render janus.plugin.videoroom.jcfg

pin=()
[ -n "$CPU" ] && pin=(taskset -c "$CPU")
exec "${pin[@]}" janus -C "$DIR/janus.jcfg" -F "$DIR" -L "$DIR/janus.log"
