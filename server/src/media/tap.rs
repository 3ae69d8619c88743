//! What the media engine copies published packets to, and how an engine is set up at start.
//!
//! The engine knows nothing of recordings: a publisher's stream may come with a [`Tap`] (the
//! lesson's recorder implements it, in `recording`), and the engine hands it a copy of every
//! packet and asks the publisher for keyframes by the rule the tap names. So the dependency
//! points down: `recording` imports `media`, never the reverse (Galene's `conn` interface).

use std::time::Instant;

use livegate_sfu::{SegmentKeyframes, TrackKind};
use rtc::rtp;

use super::StreamKey;

/// Something that wants a copy of every packet a publisher sends.
pub trait Tap: Send + 'static {
    /// The keyframes it needs on each video track (by the forwarder's keyframe policy, together
    /// with subscribers' requests), if any.
    fn keyframes(&self) -> Option<SegmentKeyframes>;

    /// A copy of a packet from a track of stream `stream`, received at `at`. Called on the
    /// media loop for every packet: it must never wait (drop the copy rather than block).
    fn offer(&self, stream: StreamKey, kind: TrackKind, packet: &rtp::Packet, at: Instant);
}

/// How an engine runs, fixed when it starts. [`Options::default`] is production, and the only
/// thing the `livegate` binary uses: no configuration, environment variable or request can
/// change these. Only the benchmark's own server (`livegate-bench-server`, tests/loadgen) starts
/// an engine otherwise, to measure what a part costs (BENCHMARKS.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// Hold each video frame's packets for its last one and send each subscriber's in one
    /// segmented send (see `udp`). Off: every datagram has its own system call and video goes
    /// packet by packet, the send path the batching replaced (`--unbatched`).
    pub batched_sends: bool,
    /// Hand published packets to their stream's [`Tap`] and ask for the keyframes it needs. Off
    /// (`--recording off`): the lesson still starts a healthy recorder, so the admission gate
    /// behaves as in production, but the recorder is handed no media and no keyframes are
    /// asked for it.
    pub tap_enabled: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            batched_sends: true,
            tap_enabled: true,
        }
    }
}
