#!/usr/bin/env bash
# Encodes the benchmark trace once with ffmpeg into DIR (default target/bench-trace):
# video.ivf, 10 s of VP8 720p30 at 1.5 Mbit/s CBR with a keyframe every 2 s (testsrc2, realtime
# libvpx, no alt-ref, error-resilient: what a browser encoder sends), and audio.ogg, 10 s of
# Opus at 32 kbit/s in 20 ms packets (pink noise, so no two packets are alike). About 2 MB; not
# committed. A second run with the files present does nothing.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DIR="${1:-$ROOT/target/bench-trace}"
mkdir -p "$DIR"
if [ -s "$DIR/video.ivf" ] && [ -s "$DIR/audio.ogg" ]; then
  echo "trace: $DIR is ready"
  exit 0
fi
command -v ffmpeg >/dev/null || { echo "make-trace: ffmpeg is needed (infra/setup.sh test installs it)" >&2; exit 1; }
ffmpeg -loglevel error -y -f lavfi -i "testsrc2=size=1280x720:rate=30" -t 10 \
  -c:v libvpx -b:v 1500k -minrate 1500k -maxrate 1500k -bufsize 750k -g 60 -keyint_min 60 \
  -deadline realtime -cpu-used 8 -auto-alt-ref 0 -lag-in-frames 0 -error-resilient 1 -threads 2 \
  -f ivf "$DIR/video.ivf.tmp"
ffmpeg -loglevel error -y -f lavfi -i "anoisesrc=color=pink:amplitude=0.2:sample_rate=48000" -t 10 \
  -c:a libopus -b:a 32k -frame_duration 20 -application voip -ac 1 \
  -f ogg "$DIR/audio.ogg.tmp"
mv "$DIR/video.ivf.tmp" "$DIR/video.ivf"
mv "$DIR/audio.ogg.tmp" "$DIR/audio.ogg"
ls -l "$DIR"
