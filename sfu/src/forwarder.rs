//! The forwarding table: which packets go to whom.
//!
//! The [`Forwarder`] takes RTP packets from published tracks and the current time, and gives
//! back rewritten packets per subscriber and keyframe requests for publishers. The I/O loop in
//! the server's `media` owns the socket and the peer connections and drives it (the contract
//! is in the crate's top comment). Because nothing here reads a clock or touches the network,
//! the tests in `forwarder/tests.rs` run in virtual time.
//!
//! Keyframe requests follow one policy per source track, whoever needs the keyframe: a joining
//! or recovering subscriber, or the lesson's recording, which wants one every couple of seconds
//! to cut segments on (see [`Forwarder::record_keyframes`]).
//!
//! The forwarding table maps each source track to its sinks (one per subscriber and track).
//! A sink chooses what it forwards from its source (today: everything, after a keyframe for
//! video); simulcast layer choice per subscriber fits in `Sink` later, because rewriting is
//! already per sink and continuous across a change of source SSRC.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};
use std::time::{Duration, Instant};

use rtc::rtp;

use crate::rewrite::Rewriter;
use crate::vp8::is_vp8_keyframe_start;

/// How often at most a publisher is asked for a keyframe for one track. A browser makes at most
/// one keyframe per 300 ms for such requests anyway (libwebrtc's `kMinKeyframeSendIntervalMs`),
/// so asking more often buys nothing, and asking less often makes joining pupils wait: each
/// waits for the next request the throttle allows (BENCHMARKS.md, subscribe → keyframe).
pub const KEYFRAME_THROTTLE: Duration = Duration::from_millis(300);

/// How long a request may go unanswered before it is sent again while a subscriber still waits
/// for a keyframe: the request or the keyframe may have been lost, or the publisher may have
/// ignored it (a browser ignores requests less than 300 ms after the last one it honoured, and
/// network jitter can bring two requests that left [`KEYFRAME_THROTTLE`] apart closer than
/// that). A keyframe normally arrives one round trip and a frame later.
pub const KEYFRAME_RETRY: Duration = Duration::from_millis(500);

/// How many packets of the latest keyframe a video source keeps for subscribers that arrive
/// while it is still the latest frame (see [`Forwarder::add_sink`]).
pub const KEYFRAME_PACKETS: usize = 256;

/// How many packets wait for one sink before the oldest are dropped.
pub const SINK_QUEUE_PACKETS: usize = 512;

/// A map keyed by the small integer keys of this crate ([`TrackKey`], [`SinkKey`], the media
/// engine's stream keys): they are chosen by the server, not by clients, so they need no
/// flooding-resistant hash, and the forwarding path looks them up per packet and subscriber.
pub type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<KeyHasher>>;

/// A multiplicative hash for integer keys (see [`FastMap`]).
#[derive(Default, Clone, Copy)]
pub struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(b as u64);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }

    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
}

/// A published track, named by the I/O layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TrackKey(pub u64);

/// One subscriber's copy of one track, named by the I/O layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SinkKey(pub u64);

/// Audio or video: video sinks start on a keyframe, audio sinks start at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TrackKind {
    Audio,
    Video,
}

/// How a sink's packets must look on the wire to its subscriber.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SinkParams {
    pub ssrc: u32,
    pub payload_type: u8,
    /// The sequence number and timestamp its stream starts at: random, drawn by the caller
    /// (RFC 3550 5.1, so that a stream's start reveals nothing and known-plaintext attacks on
    /// SRTP gain nothing from it).
    pub first_seq: u16,
    pub first_ts: u32,
}

/// The keyframes a recording of a track needs: its recorder cuts a segment at the first
/// keyframe at least `shortest` after the one that started the current segment, and the
/// publisher is asked for one if none has come `every` after it (or after the last request).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentKeyframes {
    pub every: Duration,
    pub shortest: Duration,
}

/// Something the I/O loop must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Ask the publisher of this track for a keyframe (PLI).
    KeyframeRequest(TrackKey),
    /// Packets are waiting for this sink: call [`Forwarder::pop_packet`].
    SinkReady(SinkKey),
}

struct Source {
    kind: TrackKind,
    sinks: Vec<SinkKey>,
    last_keyframe_request: Option<Instant>,
    /// A request is owed: the throttle held it back.
    keyframe_wanted: bool,
    /// A keyframe arrived since the last request.
    answered: bool,
    /// How many of its sinks are waiting for a keyframe.
    waiting: usize,
    /// The packets of the latest frame while it is a keyframe (video): a subscriber that
    /// arrives before the next frame starts on it at once, and the next (delta) frame, which
    /// refers to it, decodes. Emptied when the next frame starts.
    keyframe: Vec<rtp::Packet>,
    keyframe_ts: Option<u32>,
    /// Keyframes for the track's recording, if it is recorded.
    recording: Option<Recording>,
}

/// A recorded track's segment clock (see [`SegmentKeyframes`]).
struct Recording {
    rule: SegmentKeyframes,
    /// When the recording began.
    since: Instant,
    /// The keyframe that started the current segment, by the recorder's rule.
    segment_start: Option<Instant>,
    /// The last time the recording asked for a keyframe (or found a request already made).
    asked: Option<Instant>,
}

impl Recording {
    /// When the recording next needs a keyframe asked for: at once until the first keyframe,
    /// then `every` after the segment's start or the last request, whichever is later.
    fn due(&self) -> Instant {
        self.segment_start
            .max(self.asked)
            .map_or(self.since, |t| t + self.rule.every)
    }

    /// A keyframe arrived: it starts a segment if the current one is long enough.
    fn keyframe(&mut self, now: Instant) {
        if self
            .segment_start
            .is_none_or(|s| now.duration_since(s) >= self.rule.shortest)
        {
            self.segment_start = Some(now);
        }
    }
}

impl Source {
    /// Keeps `packet` if it belongs to the latest frame and that frame is a keyframe.
    fn keep_keyframe(&mut self, packet: &rtp::Packet, keyframe_start: bool) {
        if self.kind != TrackKind::Video {
            return;
        }
        let ts = packet.header.timestamp;
        if keyframe_start {
            self.keyframe.clear();
            self.keyframe_ts = Some(ts);
        } else if self.keyframe_ts != Some(ts) {
            self.keyframe.clear();
            self.keyframe_ts = None;
            return;
        }
        if self.keyframe.len() < KEYFRAME_PACKETS {
            self.keyframe.push(packet.clone());
        } else {
            // Too large to keep whole, and a part would not decode: keep none of it.
            self.keyframe.clear();
            self.keyframe_ts = None;
        }
    }

    /// When this source next needs [`Forwarder::handle_timeout`]: for a subscriber or for the
    /// recording, whichever is sooner.
    fn next_timeout(&self) -> Option<Instant> {
        let recording = self.recording.as_ref().map(Recording::due);
        match (self.next_request(), recording) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// When a subscriber's request is next due: a held-back request when the throttle allows
    /// it, or a repeat when the last request went unanswered while sinks wait.
    fn next_request(&self) -> Option<Instant> {
        let last = self.last_keyframe_request?;
        if self.keyframe_wanted {
            Some(last + KEYFRAME_THROTTLE)
        } else if self.waiting > 0 && !self.answered {
            Some(last + KEYFRAME_RETRY)
        } else {
            None
        }
    }
}

struct Sink {
    source: TrackKey,
    kind: TrackKind,
    params: SinkParams,
    rewriter: Rewriter,
    queue: VecDeque<rtp::Packet>,
    waiting_for_keyframe: bool,
    dropped_since_pop: u16,
    forwarded: u64,
    dropped: u64,
}

/// Counters for one sink, for tests, stats and the hostile suite's byte counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SinkStats {
    pub forwarded: u64,
    pub dropped: u64,
    pub queued: usize,
}

/// The forwarding table and its per-sink state.
#[derive(Default)]
pub struct Forwarder {
    sources: FastMap<TrackKey, Source>,
    sinks: FastMap<SinkKey, Sink>,
    outputs: VecDeque<Output>,
}

impl Forwarder {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// A publisher's track appeared.
    pub fn add_track(&mut self, track: TrackKey, kind: TrackKind) {
        self.sources.entry(track).or_insert(Source {
            kind,
            sinks: Vec::new(),
            last_keyframe_request: None,
            keyframe_wanted: false,
            answered: false,
            waiting: 0,
            keyframe: Vec::new(),
            keyframe_ts: None,
            recording: None,
        });
    }

    /// The track is recorded: from now on its publisher is asked for the keyframes the
    /// recording's segments start on, under the same throttle as subscribers' requests, so a
    /// request or keyframe for either serves both. Ignored for an unknown or audio track.
    pub fn record_keyframes(&mut self, now: Instant, track: TrackKey, rule: SegmentKeyframes) {
        if let Some(source) = self.sources.get_mut(&track).filter(|s| s.kind == TrackKind::Video) {
            source.recording = Some(Recording {
                rule,
                since: now,
                segment_start: None,
                asked: None,
            });
        }
    }

    /// A publisher's track ended: its sinks are removed too.
    pub fn remove_track(&mut self, track: TrackKey) {
        if let Some(source) = self.sources.remove(&track) {
            for sink in source.sinks {
                self.sinks.remove(&sink);
            }
        }
    }

    /// A subscriber wants `track`. Video starts on a keyframe: the one just forwarded if it is
    /// still the latest frame, else the one asked of the publisher now.
    /// Returns false if the track is unknown or the sink exists.
    pub fn add_sink(&mut self, now: Instant, sink: SinkKey, track: TrackKey, params: SinkParams) -> bool {
        if self.sinks.contains_key(&sink) {
            return false;
        }
        let Some(source) = self.sources.get_mut(&track) else {
            return false;
        };
        source.sinks.push(sink);
        let kind = source.kind;
        let queue: VecDeque<rtp::Packet> = source.keyframe.iter().cloned().collect();
        let waiting = kind == TrackKind::Video && queue.is_empty();
        if waiting {
            source.waiting += 1;
        }
        if !queue.is_empty() {
            self.outputs.push_back(Output::SinkReady(sink));
        }
        self.sinks.insert(
            sink,
            Sink {
                source: track,
                kind,
                params,
                rewriter: Rewriter::new(params.ssrc, params.first_seq, params.first_ts),
                queue,
                waiting_for_keyframe: waiting,
                dropped_since_pop: 0,
                forwarded: 0,
                dropped: 0,
            },
        );
        if waiting {
            self.request_keyframe(now, track);
        }
        true
    }

    /// A subscriber no longer wants this sink.
    pub fn remove_sink(&mut self, sink: SinkKey) {
        if let Some(s) = self.sinks.remove(&sink) {
            if let Some(source) = self.sources.get_mut(&s.source) {
                source.sinks.retain(|k| *k != sink);
                if s.waiting_for_keyframe {
                    source.waiting -= 1;
                }
            }
        }
    }

    /// The subscriber of `sink` asked for a keyframe (PLI or FIR), or its transport just came up.
    pub fn handle_keyframe_request(&mut self, now: Instant, sink: SinkKey) {
        if let Some(track) = self.sinks.get(&sink).map(|s| s.source) {
            self.request_keyframe(now, track);
        }
    }

    /// A packet arrived on a published track: queue a copy for every sink of it.
    ///
    /// The copies share the payload; the header is copied once per sink, without the
    /// publisher's header extensions (they mean nothing to a subscriber, see `pop_packet`),
    /// so queueing a packet for a sink allocates nothing.
    pub fn handle_rtp(&mut self, now: Instant, track: TrackKey, packet: &rtp::Packet) {
        let Some(source) = self.sources.get(&track) else { return };
        let keyframe = source.kind == TrackKind::Video && is_vp8_keyframe_start(&packet.payload);
        let packet = &without_extensions(packet);
        let mut want_keyframe = false;
        let mut waiting = source.waiting;
        for key in &source.sinks {
            let Some(sink) = self.sinks.get_mut(key) else { continue };
            if sink.waiting_for_keyframe {
                if !keyframe {
                    continue;
                }
                sink.waiting_for_keyframe = false;
                waiting -= 1;
            }
            if sink.queue.len() >= SINK_QUEUE_PACKETS {
                // The subscriber cannot keep up: drop what it has not taken, and start it
                // again on the next keyframe rather than feed it a broken picture.
                sink.dropped += sink.queue.len() as u64;
                sink.dropped_since_pop = sink.dropped_since_pop.wrapping_add(sink.queue.len() as u16);
                sink.queue.clear();
                if sink.kind == TrackKind::Video {
                    sink.waiting_for_keyframe = !keyframe;
                    want_keyframe |= !keyframe;
                    if !keyframe {
                        waiting += 1;
                        continue;
                    }
                }
            }
            let was_empty = sink.queue.is_empty();
            sink.queue.push_back(packet.clone());
            if was_empty {
                self.outputs.push_back(Output::SinkReady(*key));
            }
        }
        if let Some(source) = self.sources.get_mut(&track) {
            source.waiting = waiting;
            source.keep_keyframe(packet, keyframe);
            if keyframe {
                // This keyframe serves every sink that was waiting, and a held-back request
                // would only make another that nobody needs.
                source.answered = true;
                source.keyframe_wanted = false;
                if let Some(recording) = &mut source.recording {
                    recording.keyframe(now);
                }
            }
        }
        if want_keyframe {
            self.request_keyframe(now, track);
        }
    }

    /// The next packet for `sink`, rewritten for its subscriber.
    pub fn pop_packet(&mut self, sink: SinkKey) -> Option<rtp::Packet> {
        let s = self.sinks.get_mut(&sink)?;
        let mut packet = s.queue.pop_front()?;
        s.rewriter.skip(std::mem::take(&mut s.dropped_since_pop));
        s.rewriter.rewrite(&mut packet.header);
        packet.header.payload_type = s.params.payload_type;
        // Extension ids are negotiated per peer connection; the publisher's mean nothing to
        // the subscriber, so none are forwarded.
        packet.header.extension = false;
        packet.header.extension_profile = 0;
        packet.header.extensions.clear();
        packet.header.extensions_padding = 0;
        s.forwarded += 1;
        Some(packet)
    }

    /// Drops everything queued for `sink` (its transport is not accepting packets).
    pub fn discard_queue(&mut self, now: Instant, sink: SinkKey) {
        let Some(s) = self.sinks.get_mut(&sink) else { return };
        let n = s.queue.len();
        if n == 0 {
            return;
        }
        s.queue.clear();
        s.dropped += n as u64;
        s.dropped_since_pop = s.dropped_since_pop.wrapping_add(n as u16);
        if s.kind == TrackKind::Video {
            let newly = !s.waiting_for_keyframe;
            s.waiting_for_keyframe = true;
            let track = s.source;
            if let Some(source) = self.sources.get_mut(&track).filter(|_| newly) {
                source.waiting += 1;
            }
            self.request_keyframe(now, track);
        }
    }

    /// The next thing the I/O loop must do.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// Counters for one sink.
    pub fn sink_stats(&self, sink: SinkKey) -> Option<SinkStats> {
        self.sinks.get(&sink).map(|s| SinkStats {
            forwarded: s.forwarded,
            dropped: s.dropped,
            queued: s.queue.len(),
        })
    }

    /// The sinks of a track, in the order they were added.
    pub fn sinks_of(&self, track: TrackKey) -> &[SinkKey] {
        self.sources.get(&track).map(|s| s.sinks.as_slice()).unwrap_or(&[])
    }

    fn request_keyframe(&mut self, now: Instant, track: TrackKey) {
        let Some(source) = self.sources.get_mut(&track) else {
            return;
        };
        let due = source
            .last_keyframe_request
            .is_none_or(|t| now.duration_since(t) >= KEYFRAME_THROTTLE);
        if due {
            source.last_keyframe_request = Some(now);
            source.keyframe_wanted = false;
            source.answered = false;
            self.outputs.push_back(Output::KeyframeRequest(track));
        } else {
            source.keyframe_wanted = true;
        }
    }

    /// Asks for the keyframe a recording is due, unless a request within the throttle window
    /// will bring one anyway: the publisher would ignore a second. (A request held back by the
    /// throttle is either inside the window, or due now and sent just before this.)
    fn request_recording_keyframe(&mut self, now: Instant, track: TrackKey) {
        let Some(source) = self.sources.get_mut(&track) else {
            return;
        };
        let Some(recording) = source.recording.as_mut().filter(|r| r.due() <= now) else {
            return;
        };
        recording.asked = Some(now);
        let recent = source
            .last_keyframe_request
            .is_some_and(|t| now.duration_since(t) < KEYFRAME_THROTTLE);
        if !recent {
            self.request_keyframe(now, track);
        }
    }

    /// Sends keyframe requests that were held back by the throttle once it allows, repeats
    /// a request left unanswered for [`KEYFRAME_RETRY`] while a sink still waits, and asks for
    /// the keyframes recordings are due.
    pub fn handle_timeout(&mut self, now: Instant) {
        let due: Vec<TrackKey> = self
            .sources
            .iter()
            .filter(|(_, s)| s.next_timeout().is_some_and(|t| t <= now))
            .map(|(k, _)| *k)
            .collect();
        for track in due {
            if self
                .sources
                .get(&track)
                .and_then(Source::next_request)
                .is_some_and(|t| t <= now)
            {
                self.request_keyframe(now, track);
            }
            self.request_recording_keyframe(now, track);
        }
    }

    /// When [`Forwarder::handle_timeout`] next has work, if ever.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.sources.values().filter_map(Source::next_timeout).min()
    }
}

/// A copy of `packet` with no header extensions (and so no heap allocation in its header when
/// it has no CSRCs, which an SFU's publishers never send).
fn without_extensions(packet: &rtp::Packet) -> rtp::Packet {
    let h = &packet.header;
    rtp::Packet {
        header: rtp::header::Header {
            version: h.version,
            padding: h.padding,
            extension: false,
            marker: h.marker,
            payload_type: h.payload_type,
            sequence_number: h.sequence_number,
            timestamp: h.timestamp,
            ssrc: h.ssrc,
            csrc: h.csrc.clone(),
            extension_profile: 0,
            extensions: Vec::new(),
            extensions_padding: 0,
        },
        payload: packet.payload.clone(),
    }
}

#[cfg(test)]
mod tests;
