//! The media plane's I/O loop: one task owns the one UDP socket, every peer connection and the
//! forwarding core, and drives them with datagrams and time.
//!
//! Lessons talk to it through [`MediaHandle`] commands (publish, receive, answer, close) and
//! hear back through a per-stream event channel. The loop never awaits anyone but the socket
//! and its own command queue: sends never wait (a full socket buffer drops the datagram),
//! events use `try_send`, so a slow consumer anywhere loses its own packets and never holds up
//! forwarding.
//!
//! Per loop turn the cost follows the work, not the number of peers: only peers touched in the
//! turn (a datagram, a send, a timer, a command) are flushed and have their timer re-read, and
//! timers sit in one heap. Each touched peer's datagrams go out together, so the packets of one
//! video frame to one subscriber leave in one segmented send (see `udp`).

mod offer;
mod peer;
mod retransmit;
mod udp;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use livegate_recorder::frames::{SEGMENT_MS, SEGMENT_SLACK_MS};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};

pub use offer::{check_offer, OfferSummary, MAX_SDP_BYTES};
pub use peer::Direction;

use crate::error::ErrorCode;
use crate::recording::{LessonRecorder, RecorderMsg};
use crate::proto::CandidateInit;
use livegate_sfu::demux::Demux;
use livegate_sfu::{FastMap, Forwarder, FrameHold, Output, SegmentKeyframes, SinkKey, SinkParams, TrackKey, TrackKind};
use peer::{Peer, PeerEvent, SendTrack};

/// Datagrams read from the socket per loop turn before flushing, at most.
const READ_BATCH: usize = 128;

/// How often a recorded publisher is asked for a keyframe, so segments are about 2 s long:
/// the recorder's segment length (`livegate_recorder::frames::SEGMENT_MS`).
pub const RECORDING_KEYFRAME_EVERY: Duration = Duration::from_millis(SEGMENT_MS as u64);

/// The keyframes a recorded video track needs, by the recorder's rule for cutting segments: a
/// keyframe at least `SEGMENT_MS - SEGMENT_SLACK_MS` into a segment starts the next, so one
/// that comes sooner (a pupil joining) does not put off the request for the next segment.
const SEGMENT_KEYFRAMES: SegmentKeyframes = SegmentKeyframes {
    every: RECORDING_KEYFRAME_EVERY,
    shortest: Duration::from_millis((SEGMENT_MS - SEGMENT_SLACK_MS) as u64),
};

/// Whether publishers' packets are copied to their lesson's recorder. Always true in the
/// `livegate` binary: no configuration, environment variable or request can change it. Only the
/// benchmark's own server binary (`livegate-bench-server --recording off`, tests/loadgen) turns
/// it off, to measure what recording costs: the lesson still starts a healthy recorder, so the
/// admission gate behaves as in production, but the recorder is handed no media.
static RECORDING_TAP: AtomicBool = AtomicBool::new(true);

/// Benchmark only (see [`RECORDING_TAP`]): stop copying media to lesson recorders in this
/// process. Never called by the `livegate` binary.
#[doc(hidden)]
pub fn bench_only_disable_recording_tap() {
    RECORDING_TAP.store(false, Ordering::Relaxed);
}

/// Whether the engine batches sends: a video frame's packets wait for its last one and leave
/// for each subscriber in one segmented send (see `udp`). Always true in the `livegate` binary;
/// only the benchmark's server (`livegate-bench-server --unbatched`) turns it off, to measure
/// the per-datagram send path this replaced (BENCHMARKS.md, "before and after").
static BATCHED_SENDS: AtomicBool = AtomicBool::new(true);

/// Benchmark only (see [`BATCHED_SENDS`]): engines started after this send every datagram with
/// its own system call and forward video packet by packet. Never called by the `livegate` binary.
#[doc(hidden)]
pub fn bench_only_unbatched_sends() {
    BATCHED_SENDS.store(false, Ordering::Relaxed);
}

/// Names one stream's peer connection across the engine and the lessons.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamKey(pub u64);

/// What the engine tells a stream's owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaEvent {
    /// The stream's connection is up.
    Connected(StreamKey),
    /// The stream's connection failed or closed; its resources are gone.
    Gone(StreamKey),
}

/// Who hears about a stream.
pub type EventSink = mpsc::Sender<MediaEvent>;

/// Counters for one stream, for tests and the hostile suite.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StreamStats {
    pub connected: bool,
    pub rtp_packets_in: u64,
    pub rtp_packets_out: u64,
    pub bytes_out: u64,
}

enum Command {
    Publish {
        key: StreamKey,
        offer: String,
        events: EventSink,
        tap: Option<LessonRecorder>,
        reply: oneshot::Sender<Result<String, ErrorCode>>,
    },
    Receive {
        key: StreamKey,
        source: StreamKey,
        kinds: Vec<TrackKind>,
        events: EventSink,
        reply: oneshot::Sender<Result<String, ErrorCode>>,
    },
    Answer { key: StreamKey, sdp: String, reply: oneshot::Sender<Result<(), ErrorCode>> },
    Candidate { key: StreamKey, candidate: CandidateInit },
    Close { key: StreamKey },
    Stats { key: StreamKey, reply: oneshot::Sender<Option<StreamStats>> },
}

/// A cheap, cloneable way to reach the media engine.
#[derive(Clone)]
pub struct MediaHandle {
    tx: mpsc::Sender<Command>,
    next_key: Arc<AtomicU64>,
    local_addr: SocketAddr,
}

impl MediaHandle {
    /// A fresh stream key.
    pub fn new_key(&self) -> StreamKey {
        StreamKey(self.next_key.fetch_add(1, Ordering::Relaxed))
    }

    /// The address clients send media to.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    async fn call<T>(&self, make: impl FnOnce(oneshot::Sender<T>) -> Command) -> Option<T> {
        let (tx, rx) = oneshot::channel();
        self.tx.send(make(tx)).await.ok()?;
        rx.await.ok()
    }

    /// Answers a publisher's offer. The caller has already checked the offer and the grants.
    /// With a `tap`, a copy of every packet goes to the lesson's recorder (never waiting), and
    /// the publisher is asked for a keyframe about every [`RECORDING_KEYFRAME_EVERY`] so
    /// segments can start on one (by the forwarder, with subscribers' requests).
    pub async fn publish(&self, key: StreamKey, offer: String, events: EventSink, tap: Option<LessonRecorder>) -> Result<String, ErrorCode> {
        self.call(|reply| Command::Publish { key, offer, events, tap, reply }).await.unwrap_or(Err(ErrorCode::Internal))
    }

    /// Makes a receive peer forwarding `source`'s tracks of `kinds`; returns its offer.
    pub async fn receive(
        &self,
        key: StreamKey,
        source: StreamKey,
        kinds: Vec<TrackKind>,
        events: EventSink,
    ) -> Result<String, ErrorCode> {
        self.call(|reply| Command::Receive { key, source, kinds, events, reply }).await.unwrap_or(Err(ErrorCode::Internal))
    }

    /// Applies a receiver's answer.
    pub async fn answer(&self, key: StreamKey, sdp: String) -> Result<(), ErrorCode> {
        self.call(|reply| Command::Answer { key, sdp, reply }).await.unwrap_or(Err(ErrorCode::Internal))
    }

    /// Adds a trickled candidate (best effort).
    pub async fn candidate(&self, key: StreamKey, candidate: CandidateInit) {
        let _ = self.tx.send(Command::Candidate { key, candidate }).await;
    }

    /// Closes a stream's peer connection; for a published stream, its receivers' sinks go too.
    pub async fn close(&self, key: StreamKey) {
        let _ = self.tx.send(Command::Close { key }).await;
    }

    /// Counters for one stream.
    pub async fn stats(&self, key: StreamKey) -> Option<StreamStats> {
        self.call(|reply| Command::Stats { key, reply }).await.flatten()
    }
}

/// Binds the media socket and starts the engine task.
pub async fn start(bind: SocketAddr, advertise: std::net::IpAddr) -> std::io::Result<MediaHandle> {
    let socket = UdpSocket::bind(bind).await?;
    let local_addr = SocketAddr::new(advertise, socket.local_addr()?.port());
    let (tx, rx) = mpsc::channel(1024);
    let engine = Engine::new(local_addr);
    tokio::spawn(engine.run(socket, rx));
    Ok(MediaHandle { tx, next_key: Arc::new(AtomicU64::new(1)), local_addr })
}

struct PublishedTrack {
    key: TrackKey,
    receiver: rtc::rtp_transceiver::RTCRtpReceiverId,
    ssrc: u32,
}

struct Stream {
    peer: Peer,
    events: EventSink,
    /// For publish streams: tracks by their rtc track id.
    published: HashMap<String, (TrackKind, PublishedTrack)>,
    /// For receive streams: what it forwards and the tracks it sends.
    source: Option<StreamKey>,
    sends: Vec<SendTrack>,
    sinks: Vec<SinkKey>,
    stats: StreamStats,
    /// The peer's next timer as last read, and the one entered in the engine's heap.
    deadline: Option<Instant>,
    /// Touched this turn: flush it and re-read its timer.
    dirty: bool,
    /// The lesson's recorder, for publish streams of a recorded lesson.
    tap: Option<LessonRecorder>,
}

struct Engine {
    local_addr: SocketAddr,
    streams: FastMap<StreamKey, Stream>,
    demux: Demux<StreamKey>,
    forwarder: Forwarder,
    track_owner: FastMap<TrackKey, StreamKey>,
    sink_owner: FastMap<SinkKey, (StreamKey, usize)>,
    next_id: u64,
    /// Streams touched since the last flush.
    dirty: Vec<StreamKey>,
    /// Peer timers, earliest first; an entry is stale unless it matches its stream's deadline.
    timers: BinaryHeap<Reverse<(Instant, StreamKey)>>,
    /// Datagrams of one peer waiting to go out together.
    out: Vec<(SocketAddr, bytes::BytesMut)>,
    sender: udp::Sender,
    /// Video sinks waiting for the end of their frame.
    hold: FrameHold,
    /// Hold video frames and segment sends (always, outside the benchmark's "before" runs).
    batched: bool,
}

impl Engine {
    fn new(local_addr: SocketAddr) -> Self {
        Self {
            local_addr,
            streams: FastMap::default(),
            demux: Demux::default(),
            forwarder: Forwarder::new(),
            track_owner: FastMap::default(),
            sink_owner: FastMap::default(),
            next_id: 1,
            dirty: Vec::new(),
            timers: BinaryHeap::new(),
            out: Vec::new(),
            sender: if BATCHED_SENDS.load(Ordering::Relaxed) { udp::Sender::default() } else { udp::Sender::unsegmented() },
            hold: FrameHold::new(),
            batched: BATCHED_SENDS.load(Ordering::Relaxed),
        }
    }

    async fn run(mut self, socket: UdpSocket, mut rx: mpsc::Receiver<Command>) {
        let mut buf = vec![0u8; 2048];
        loop {
            let deadline = self.next_deadline(Instant::now());
            let sleep = tokio::time::sleep_until(deadline.into());
            tokio::select! {
                cmd = rx.recv() => match cmd {
                    Some(cmd) => self.handle_command(Instant::now(), cmd),
                    None => break,
                },
                res = socket.recv_from(&mut buf) => {
                    if let Ok((n, from)) = res {
                        let now = Instant::now();
                        self.handle_datagram(now, from, &buf[..n]);
                        // Take what else is already waiting before flushing, in one batch: a
                        // frame's packets then leave for each subscriber together.
                        for _ in 1..READ_BATCH {
                            match socket.try_recv_from(&mut buf) {
                                Ok((n, from)) => self.handle_datagram(now, from, &buf[..n]),
                                Err(_) => break,
                            }
                        }
                    }
                }
                _ = sleep => {}
            }
            self.handle_timeout(Instant::now());
            self.flush(&socket);
        }
        tracing::info!("media engine stopped");
    }

    /// Marks a stream as touched this turn.
    fn touch(&mut self, key: StreamKey) {
        if let Some(s) = self.streams.get_mut(&key) {
            if !s.dirty {
                s.dirty = true;
                self.dirty.push(key);
            }
        }
    }

    /// The earliest timer, dropping stale heap entries on the way.
    fn next_deadline(&mut self, now: Instant) -> Instant {
        let far = now + Duration::from_secs(1);
        let mut next = self.forwarder.poll_timeout().unwrap_or(far).min(far);
        if let Some(t) = self.hold.poll_timeout() {
            next = next.min(t);
        }
        while let Some(Reverse((t, key))) = self.timers.peek().copied() {
            if self.streams.get(&key).is_some_and(|s| s.deadline == Some(t)) {
                next = next.min(t);
                break;
            }
            self.timers.pop();
        }
        next
    }

    /// Runs the timers that are due.
    fn handle_timeout(&mut self, now: Instant) {
        while let Some(Reverse((t, key))) = self.timers.peek().copied() {
            if t > now {
                break;
            }
            self.timers.pop();
            let Some(s) = self.streams.get_mut(&key) else { continue };
            if s.deadline != Some(t) {
                continue;
            }
            s.deadline = None;
            s.peer.handle_timeout(now);
            self.touch(key);
            self.process_events(now, key);
        }
        if self.forwarder.poll_timeout().is_some_and(|t| t <= now) {
            self.forwarder.handle_timeout(now);
            self.process_forwarder(now);
        }
        self.hold.handle_timeout(now);
        self.send_released(now);
    }

    fn handle_datagram(&mut self, now: Instant, from: SocketAddr, data: &[u8]) {
        let Some(key) = self.demux.route(from, data) else { return };
        let Some(stream) = self.streams.get_mut(&key) else { return };
        stream.peer.handle_datagram(now, from, data);
        self.touch(key);
        self.process_events(now, key);
    }

    fn handle_command(&mut self, now: Instant, cmd: Command) {
        match cmd {
            Command::Publish { key, offer, events, tap, reply } => {
                let result = Peer::publish(now, self.local_addr, offer).map(|(peer, answer)| {
                    self.insert_stream(key, peer, events, None, Vec::new());
                    if let Some(s) = self.streams.get_mut(&key) {
                        s.tap = tap.filter(|_| RECORDING_TAP.load(Ordering::Relaxed));
                    }
                    answer
                });
                let _ = reply.send(result.map_err(peer_error_code));
            }
            Command::Receive { key, source, kinds, events, reply } => {
                let label = format!("s{}", source.0);
                let result = Peer::receive(now, self.local_addr, &kinds, &label).map(|(peer, sends, offer)| {
                    // Its sinks are attached when it connects (see `attach_sinks`).
                    self.insert_stream(key, peer, events, Some(source), sends);
                    offer
                });
                let _ = reply.send(result.map_err(peer_error_code));
            }
            Command::Answer { key, sdp, reply } => {
                let result = match self.streams.get_mut(&key) {
                    Some(s) if s.peer.direction == Direction::Receive => s.peer.apply_answer(now, sdp).map_err(peer_error_code),
                    _ => Err(ErrorCode::UnknownStream),
                };
                let _ = reply.send(result);
                self.touch(key);
                self.process_events(now, key);
            }
            Command::Candidate { key, candidate } => {
                if let Some(s) = self.streams.get_mut(&key) {
                    let init = rtc::peer_connection::transport::RTCIceCandidateInit {
                        candidate: candidate.candidate,
                        sdp_mid: candidate.sdp_mid,
                        sdp_mline_index: candidate.sdp_mline_index,
                        username_fragment: candidate.username_fragment,
                        ..Default::default()
                    };
                    let _ = s.peer.add_remote_candidate(init);
                    self.touch(key);
                }
            }
            Command::Close { key } => self.remove_stream(key, false),
            Command::Stats { key, reply } => {
                let _ = reply.send(self.streams.get(&key).map(|s| s.stats));
            }
        }
    }

    fn insert_stream(&mut self, key: StreamKey, peer: Peer, events: EventSink, source: Option<StreamKey>, sends: Vec<SendTrack>) {
        self.demux.add(peer.ufrag.clone(), key);
        let stream = Stream {
            peer,
            events,
            published: HashMap::new(),
            source,
            sends,
            sinks: Vec::new(),
            stats: StreamStats::default(),
            deadline: None,
            dirty: false,
            tap: None,
        };
        self.streams.insert(key, stream);
        self.touch(key);
    }

    /// Connects a receive stream's send tracks to its source's open tracks, once the stream is
    /// connected: a video sink starts on the keyframe just forwarded if it is still the latest
    /// frame, and otherwise asks the publisher for one; one asked for before the subscriber can
    /// receive it would be wasted and hold the next back by the throttle (`livegate_sfu::KEYFRAME_THROTTLE`).
    fn attach_sinks(&mut self, now: Instant, key: StreamKey) {
        let Some(stream) = self.streams.get(&key) else { return };
        if !stream.peer.is_connected() {
            return;
        }
        let Some(source) = stream.source.and_then(|s| self.streams.get(&s)) else { return };
        let mut new = Vec::new();
        for (i, send) in stream.sends.iter().enumerate() {
            if stream.sinks.iter().any(|s| self.sink_owner.get(s).is_some_and(|(_, idx)| *idx == i)) {
                continue;
            }
            if let Some((_, track)) = source.published.values().find(|(kind, _)| *kind == send.kind) {
                let payload_type = livegate_sfu::profile::payload_type(send.kind);
                let params = SinkParams { ssrc: send.ssrc, payload_type, first_seq: rand::random(), first_ts: rand::random() };
                new.push((i, track.key, params));
            }
        }
        for (i, track, params) in new {
            let sink = SinkKey(self.next_id);
            self.next_id += 1;
            if self.forwarder.add_sink(now, sink, track, params) {
                self.sink_owner.insert(sink, (key, i));
                if let Some(s) = self.streams.get_mut(&key) {
                    s.sinks.push(sink);
                }
            }
        }
        self.process_forwarder(now);
    }

    fn process_events(&mut self, now: Instant, key: StreamKey) {
        loop {
            let Some(stream) = self.streams.get_mut(&key) else { return };
            let Some(event) = stream.peer.poll_event() else { break };
            match event {
                PeerEvent::Connected => {
                    stream.stats.connected = true;
                    let _ = stream.events.try_send(MediaEvent::Connected(key));
                    for sink in stream.sinks.clone() {
                        self.forwarder.handle_keyframe_request(now, sink);
                    }
                    if stream.peer.direction == Direction::Receive {
                        self.attach_sinks(now, key);
                    }
                }
                PeerEvent::Gone => {
                    self.remove_stream(key, true);
                    return;
                }
                PeerEvent::TrackOpened { track_id, kind, ssrc, receiver } => {
                    if stream.peer.direction != Direction::Publish || stream.published.values().any(|(k, _)| *k == kind) {
                        continue;
                    }
                    let track = TrackKey(self.next_id);
                    self.next_id += 1;
                    stream.published.insert(track_id, (kind, PublishedTrack { key: track, receiver, ssrc }));
                    self.forwarder.add_track(track, kind);
                    if stream.tap.is_some() {
                        self.forwarder.record_keyframes(now, track, SEGMENT_KEYFRAMES);
                    }
                    self.track_owner.insert(track, key);
                    let receivers: Vec<StreamKey> =
                        self.streams.iter().filter(|(_, s)| s.source == Some(key)).map(|(k, _)| *k).collect();
                    for r in receivers {
                        self.attach_sinks(now, r);
                    }
                }
                PeerEvent::Rtp { track_id, packet } => {
                    stream.stats.rtp_packets_in += 1;
                    if let Some((kind, track)) = stream.published.get(&track_id) {
                        let (kind, track_key) = (*kind, track.key);
                        if let Some(tap) = &stream.tap {
                            tap.offer(RecorderMsg::Rtp { stream: key, kind, packet: packet.clone(), at: now });
                        }
                        self.forwarder.handle_rtp(now, track_key, &packet);
                        self.forward_rtp(now, track_key, kind == TrackKind::Video, packet.header.marker);
                    }
                }
                PeerEvent::KeyframeRequest { track_id } => {
                    let idx = stream.sends.iter().position(|s| s.track_id == track_id);
                    let sink = idx.and_then(|i| stream.sinks.iter().find(|s| self.sink_owner.get(s).is_some_and(|(_, j)| *j == i)));
                    if let Some(sink) = sink.copied() {
                        self.forwarder.handle_keyframe_request(now, sink);
                    }
                }
            }
        }
        self.process_forwarder(now);
    }

    /// Sends what [`Forwarder::handle_rtp`] queued. A video frame's packets wait for its last
    /// one (the marker bit) in the [`FrameHold`], so each subscriber gets the frame in one batch
    /// (one segmented send).
    fn forward_rtp(&mut self, now: Instant, track: TrackKey, video: bool, marker: bool) {
        while let Some(out) = self.forwarder.poll_output() {
            match out {
                Output::SinkReady(sink) if video && self.batched => self.hold.hold(now, track, sink),
                other => self.handle_output(now, other),
            }
        }
        if video && marker {
            self.hold.handle_frame_end(track);
            self.send_released(now);
        }
    }

    /// Sends the packets of the frames the hold let go.
    fn send_released(&mut self, now: Instant) {
        while let Some(sink) = self.hold.poll_release() {
            self.send_sink(now, sink);
        }
    }

    fn process_forwarder(&mut self, now: Instant) {
        while let Some(out) = self.forwarder.poll_output() {
            self.handle_output(now, out);
        }
    }

    fn handle_output(&mut self, now: Instant, out: Output) {
        match out {
            Output::KeyframeRequest(track) => {
                let Some(&owner) = self.track_owner.get(&track) else { return };
                let Some(stream) = self.streams.get_mut(&owner) else { return };
                if let Some((_, t)) = stream.published.values().find(|(_, t)| t.key == track) {
                    let (receiver, ssrc) = (t.receiver, t.ssrc);
                    stream.peer.request_keyframe(now, receiver, ssrc);
                    self.touch(owner);
                }
            }
            Output::SinkReady(sink) => self.send_sink(now, sink),
        }
    }

    fn send_sink(&mut self, now: Instant, sink: SinkKey) {
        let Some(&(owner, idx)) = self.sink_owner.get(&sink) else { return };
        let Some(stream) = self.streams.get_mut(&owner) else { return };
        if !stream.peer.is_connected() {
            self.forwarder.discard_queue(now, sink);
            return;
        }
        let sender = stream.sends[idx].sender;
        while let Some(packet) = self.forwarder.pop_packet(sink) {
            stream.stats.rtp_packets_out += 1;
            stream.peer.send_rtp(now, sender, packet);
        }
        if !stream.dirty {
            stream.dirty = true;
            self.dirty.push(owner);
        }
    }

    fn remove_stream(&mut self, key: StreamKey, notify: bool) {
        let Some(mut stream) = self.streams.remove(&key) else { return };
        stream.peer.close();
        self.demux.remove(key);
        for sink in &stream.sinks {
            self.forwarder.remove_sink(*sink);
            self.sink_owner.remove(sink);
        }
        for (_, track) in stream.published.values() {
            for sink in self.forwarder.sinks_of(track.key).to_vec() {
                if let Some((owner, _)) = self.sink_owner.remove(&sink) {
                    if let Some(s) = self.streams.get_mut(&owner) {
                        s.sinks.retain(|k| *k != sink);
                    }
                }
            }
            self.forwarder.remove_track(track.key);
            self.hold.remove_track(track.key);
            self.track_owner.remove(&track.key);
        }
        if notify {
            let _ = stream.events.try_send(MediaEvent::Gone(key));
        }
    }

    /// Sends what every touched peer has written and re-reads its timer.
    fn flush(&mut self, socket: &UdpSocket) {
        let mut dirty = std::mem::take(&mut self.dirty);
        for key in dirty.drain(..) {
            let Some(stream) = self.streams.get_mut(&key) else { continue };
            stream.dirty = false;
            while let Some(datagram) = stream.peer.poll_datagram() {
                stream.stats.bytes_out += datagram.1.len() as u64;
                self.out.push(datagram);
            }
            // A full socket buffer drops datagrams: better than waiting for it.
            self.sender.send(socket, &mut self.out);
            let next = stream.peer.poll_timeout();
            if next != stream.deadline {
                stream.deadline = next;
                if let Some(t) = next {
                    self.timers.push(Reverse((t, key)));
                }
            }
        }
        self.dirty = dirty;
    }
}

fn peer_error_code(e: peer::PeerError) -> ErrorCode {
    match e {
        peer::PeerError::BadSdp(_) => ErrorCode::BadSdp,
        peer::PeerError::Rtc(_) => {
            // The library's reason can quote the offer's ICE credentials: not logged. A client
            // can send bad offers as fast as it likes: one line per 10 s at most.
            static FAILED: crate::logs::Throttle = crate::logs::Throttle::new();
            if let Some(offers) = FAILED.hit(Instant::now()) {
                tracing::warn!(offers, "peer setup failed; answered bad_sdp");
            }
            ErrorCode::BadSdp
        }
    }
}
