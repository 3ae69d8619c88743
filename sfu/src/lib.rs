//! Livegate's media core, sans-IO: which packets go to whom, and how every Livegate peer speaks
//! WebRTC. No sockets, no clock, no tasks, no randomness of its own.
//!
//! # The contract
//!
//! Each piece here is a state machine that the one media loop in the server (`media`, which
//! owns the UDP socket and the peer connections) drives, the way str0m's `Rtc` is driven:
//!
//! - input goes in through `handle_*` methods (`handle_rtp`, `handle_keyframe_request`,
//!   `handle_timeout`, ...), each given the current time as an argument, and, where a fresh
//!   random value is needed (a subscriber's first sequence number and timestamp, an RTX stream's
//!   first sequence number), that value too: the caller draws it;
//! - output comes out of `poll_*` methods (`poll_output`, `pop_packet`, ...), and the caller
//!   drains them after every `handle_*` call, before the next input: an output left queued
//!   would be acted on late, against a state that has moved on;
//! - `poll_timeout` says when `handle_timeout` next has work; nothing happens between calls.
//!
//! So every rule here (the keyframe throttle, the frame hold, the retransmission budget) is
//! tested in virtual time, deterministically, and fuzzed as a scripted scenario
//! (`fuzz/fuzz_targets/fuzz_rtp_rtcp.rs`).
//!
//! # What lives here
//!
//! - [`forwarder`]: the forwarding table, per-sink queues and keyframe policy ([`Forwarder`]);
//!   its [`rewrite`] of SSRC, sequence number and timestamp;
//! - [`vp8`]: just enough of the VP8 payload format to see where a keyframe starts;
//! - [`hold`]: a video frame's packets wait for its last one, to leave together ([`FrameHold`]);
//! - [`retransmit`]: which NACKed packets a subscriber gets again (its retransmission budget);
//! - [`demux`]: which peer a datagram on the shared UDP port belongs to;
//! - [`profile`]: the codecs, payload types and keyframe-request interceptor every Livegate
//!   peer uses (the server's, the test clients', the load generator's).
//!
//! # What may never be imported here
//!
//! tokio or any other async runtime, sockets, threads, locks, channels, `rand`, logging, and
//! the clock (`Instant::now`, `SystemTime::now`: `clippy.toml` here forbids them outside the
//! tests). The dependencies are `rtc` (packet types, its interceptor trait and the
//! peer-connection builders the profile configures; itself sans-IO) and `bytes`; `cargo tree -p livegate-sfu -e normal` shows no tokio. Nothing here knows the
//! server, a lesson or a recording: the server names tracks and sinks with its own keys.

pub mod demux;
pub mod forwarder;
pub mod hold;
pub mod profile;
pub mod retransmit;
pub mod rewrite;
pub mod vp8;

pub use forwarder::{
    FastMap, Forwarder, KeyHasher, Output, SegmentKeyframes, SinkKey, SinkParams, SinkStats, TrackKey, TrackKind,
    KEYFRAME_PACKETS, KEYFRAME_RETRY, KEYFRAME_THROTTLE, SINK_QUEUE_PACKETS,
};
pub use hold::{FrameHold, FRAME_HOLD};
pub use rewrite::Rewriter;
pub use vp8::is_vp8_keyframe_start;
