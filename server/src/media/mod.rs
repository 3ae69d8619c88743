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
//!
//! What decides (forwarding, the frame hold, the demultiplexer, the WebRTC profile) is the
//! sans-IO `livegate_sfu`; this module is its I/O around it. It never imports the recording
//! side: a recorded stream comes with a [`Tap`] that gets copies of its packets, and the
//! benchmark's switches are [`Options`] given at [`start`].

mod offer;
mod peer;
mod retransmit;
mod tap;
mod totals;
mod udp;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};

pub use offer::{check_offer, OfferSummary, MAX_SDP_BYTES};
pub use peer::Direction;
pub use tap::{Options, Tap};
pub use totals::{Dropped, MediaTotals};
/// The peer connection as the engine drives it, for the fuzz target `fuzz_media_engine` (the
/// cargo feature `fuzzing`, never in the `livegate` binary).
#[cfg(feature = "fuzzing")]
pub mod fuzzing {
    pub use super::peer::{Peer, PeerEvent, SendTrack};
}

use livegate_core::codes::ErrorCode;
use livegate_core::proto::CandidateInit;
use livegate_sfu::demux::Demux;
use livegate_sfu::{FastMap, Forwarder, FrameHold, Output, SinkKey, SinkParams, TrackKey, TrackKind};
use peer::{Peer, PeerEvent, SendTrack};

/// Datagrams read from the socket per loop turn before flushing, at most.
const READ_BATCH: usize = 128;

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
        accepts: OfferSummary,
        events: EventSink,
        tap: Option<Box<dyn Tap>>,
        reply: oneshot::Sender<Result<String, ErrorCode>>,
    },
    Receive {
        key: StreamKey,
        source: StreamKey,
        kinds: Vec<TrackKind>,
        events: EventSink,
        reply: oneshot::Sender<Result<String, ErrorCode>>,
    },
    Answer {
        key: StreamKey,
        sdp: String,
        reply: oneshot::Sender<Result<(), ErrorCode>>,
    },
    Candidate {
        key: StreamKey,
        candidate: CandidateInit,
    },
    Close {
        key: StreamKey,
    },
    Stats {
        key: StreamKey,
        reply: oneshot::Sender<Option<StreamStats>>,
    },
    Totals {
        reply: oneshot::Sender<MediaTotals>,
    },
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

    /// True while the engine task runs, owning the bound UDP socket.
    pub fn is_running(&self) -> bool {
        !self.tx.is_closed()
    }

    async fn call<T>(&self, make: impl FnOnce(oneshot::Sender<T>) -> Command) -> Option<T> {
        let (tx, rx) = oneshot::channel();
        self.tx.send(make(tx)).await.ok()?;
        rx.await.ok()
    }

    /// Answers a publisher's offer. The caller has already checked the offer and the grants;
    /// `accepts` is what [`check_offer`] found it sends, and only tracks of those kinds open
    /// (the library would also take media on a section the check calls disabled).
    /// With a `tap` (the lesson's recorder), a copy of every packet goes to it (never waiting),
    /// and the publisher is asked for the keyframes it needs (by the forwarder, with
    /// subscribers' requests), unless the engine's [`Options::tap_enabled`] is off.
    pub async fn publish(
        &self,
        key: StreamKey,
        offer: String,
        accepts: OfferSummary,
        events: EventSink,
        tap: Option<Box<dyn Tap>>,
    ) -> Result<String, ErrorCode> {
        self.call(|reply| Command::Publish {
            key,
            offer,
            accepts,
            events,
            tap,
            reply,
        })
        .await
        .unwrap_or(Err(ErrorCode::Internal))
    }

    /// Makes a receive peer forwarding `source`'s tracks of `kinds`; returns its offer.
    pub async fn receive(
        &self,
        key: StreamKey,
        source: StreamKey,
        kinds: Vec<TrackKind>,
        events: EventSink,
    ) -> Result<String, ErrorCode> {
        self.call(|reply| Command::Receive {
            key,
            source,
            kinds,
            events,
            reply,
        })
        .await
        .unwrap_or(Err(ErrorCode::Internal))
    }

    /// Applies a receiver's answer.
    pub async fn answer(&self, key: StreamKey, sdp: String) -> Result<(), ErrorCode> {
        self.call(|reply| Command::Answer { key, sdp, reply })
            .await
            .unwrap_or(Err(ErrorCode::Internal))
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

    /// The engine's totals, for the operator's metrics; `None` if it has stopped.
    pub async fn totals(&self) -> Option<MediaTotals> {
        self.call(|reply| Command::Totals { reply }).await
    }
}

/// Binds the media socket and starts the engine task, with `options` for its whole life.
pub async fn start(bind: SocketAddr, advertise: std::net::IpAddr, options: Options) -> std::io::Result<MediaHandle> {
    let socket = UdpSocket::bind(bind).await?;
    let local_addr = SocketAddr::new(advertise, socket.local_addr()?.port());
    let (tx, rx) = mpsc::channel(1024);
    let engine = Engine::new(local_addr, options);
    tokio::spawn(engine.run(socket, rx));
    Ok(MediaHandle {
        tx,
        next_key: Arc::new(AtomicU64::new(1)),
        local_addr,
    })
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
    /// Who gets a copy of its packets (publish streams of a recorded lesson).
    tap: Option<Box<dyn Tap>>,
    /// Publish streams: the kinds of track its checked offer sends; no other kind opens.
    accepts: OfferSummary,
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
    /// Fixed at start (always the default, outside the benchmark).
    options: Options,
    /// Drops counted where they happen, and what gone streams counted (`totals`).
    ledger: totals::Ledger,
}

impl Engine {
    fn new(local_addr: SocketAddr, options: Options) -> Self {
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
            sender: if options.batched_sends {
                udp::Sender::default()
            } else {
                udp::Sender::unsegmented()
            },
            hold: FrameHold::new(),
            options,
            ledger: totals::Ledger::default(),
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
        let Some(key) = self.demux.route(from, data) else {
            self.ledger.dropped.unknown_peer += 1;
            return;
        };
        let Some(stream) = self.streams.get_mut(&key) else {
            self.ledger.dropped.unknown_peer += 1;
            return;
        };
        stream.peer.handle_datagram(now, from, data);
        self.touch(key);
        self.process_events(now, key);
    }

    fn handle_command(&mut self, now: Instant, cmd: Command) {
        match cmd {
            Command::Publish {
                key,
                offer,
                accepts,
                events,
                tap,
                reply,
            } => {
                let result = Peer::publish(now, self.local_addr, offer).map(|(peer, answer)| {
                    self.insert_stream(key, peer, events, None, Vec::new());
                    if let Some(s) = self.streams.get_mut(&key) {
                        s.tap = tap.filter(|_| self.options.tap_enabled);
                        s.accepts = accepts;
                    }
                    answer
                });
                let _ = reply.send(result.map_err(peer_error_code));
            }
            Command::Receive {
                key,
                source,
                kinds,
                events,
                reply,
            } => {
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
                    Some(s) if s.peer.direction == Direction::Receive => {
                        s.peer.apply_answer(now, sdp).map_err(peer_error_code)
                    }
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
            Command::Totals { reply } => {
                let _ = reply.send(self.totals());
            }
        }
    }

    fn insert_stream(
        &mut self,
        key: StreamKey,
        peer: Peer,
        events: EventSink,
        source: Option<StreamKey>,
        sends: Vec<SendTrack>,
    ) {
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
            accepts: OfferSummary {
                audio: false,
                video: false,
            },
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
        let Some(source) = stream.source.and_then(|s| self.streams.get(&s)) else {
            return;
        };
        let mut new = Vec::new();
        for (i, send) in stream.sends.iter().enumerate() {
            if stream
                .sinks
                .iter()
                .any(|s| self.sink_owner.get(s).is_some_and(|(_, idx)| *idx == i))
            {
                continue;
            }
            if let Some((_, track)) = source.published.values().find(|(kind, _)| *kind == send.kind) {
                let payload_type = livegate_sfu::profile::payload_type(send.kind);
                let params = SinkParams {
                    ssrc: send.ssrc,
                    payload_type,
                    first_seq: rand::random(),
                    first_ts: rand::random(),
                };
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
            let Some(stream) = self.streams.get_mut(&key) else {
                return;
            };
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
                PeerEvent::TrackOpened {
                    track_id,
                    kind,
                    ssrc,
                    receiver,
                } => {
                    let accepted = match kind {
                        TrackKind::Video => stream.accepts.video,
                        TrackKind::Audio => stream.accepts.audio,
                    };
                    if stream.peer.direction != Direction::Publish
                        || !accepted
                        || stream.published.values().any(|(k, _)| *k == kind)
                    {
                        continue;
                    }
                    let track = TrackKey(self.next_id);
                    self.next_id += 1;
                    stream.published.insert(
                        track_id,
                        (
                            kind,
                            PublishedTrack {
                                key: track,
                                receiver,
                                ssrc,
                            },
                        ),
                    );
                    self.forwarder.add_track(track, kind);
                    if let Some(rule) = stream.tap.as_ref().and_then(|tap| tap.keyframes()) {
                        self.forwarder.record_keyframes(now, track, rule);
                    }
                    self.track_owner.insert(track, key);
                    let receivers: Vec<StreamKey> = self
                        .streams
                        .iter()
                        .filter(|(_, s)| s.source == Some(key))
                        .map(|(k, _)| *k)
                        .collect();
                    for r in receivers {
                        self.attach_sinks(now, r);
                    }
                }
                PeerEvent::Rtp { track_id, packet } => {
                    stream.stats.rtp_packets_in += 1;
                    if let Some((kind, track)) = stream.published.get(&track_id) {
                        let (kind, track_key) = (*kind, track.key);
                        if let Some(tap) = &stream.tap {
                            tap.offer(key, kind, &packet, now);
                        }
                        self.forwarder.handle_rtp(now, track_key, &packet);
                        self.forward_rtp(now, track_key, kind == TrackKind::Video, packet.header.marker);
                    } else {
                        self.ledger.dropped.track_not_accepted += 1;
                    }
                }
                PeerEvent::KeyframeRequest { track_id } => {
                    let idx = stream.sends.iter().position(|s| s.track_id == track_id);
                    let sink = idx.and_then(|i| {
                        stream
                            .sinks
                            .iter()
                            .find(|s| self.sink_owner.get(s).is_some_and(|(_, j)| *j == i))
                    });
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
                Output::SinkReady(sink) if video && self.options.batched_sends => self.hold.hold(now, track, sink),
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
                let Some(&owner) = self.track_owner.get(&track) else {
                    return;
                };
                let Some(stream) = self.streams.get_mut(&owner) else {
                    return;
                };
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
        let Some(&(owner, idx)) = self.sink_owner.get(&sink) else {
            return;
        };
        let Some(stream) = self.streams.get_mut(&owner) else {
            return;
        };
        if !stream.peer.is_connected() {
            self.ledger.dropped.not_connected += self.forwarder.sink_stats(sink).map_or(0, |s| s.queued as u64);
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
        let Some(mut stream) = self.streams.remove(&key) else {
            return;
        };
        stream.peer.close();
        self.demux.remove(key);
        self.ledger.stream_gone(stream.peer.direction, &stream.stats);
        for sink in &stream.sinks {
            self.ledger.sink_gone(self.forwarder.sink_stats(*sink));
            self.forwarder.remove_sink(*sink);
            self.sink_owner.remove(sink);
        }
        for (_, track) in stream.published.values() {
            for sink in self.forwarder.sinks_of(track.key).to_vec() {
                self.ledger.sink_gone(self.forwarder.sink_stats(sink));
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
            let Some(stream) = self.streams.get_mut(&key) else {
                continue;
            };
            stream.dirty = false;
            while let Some(datagram) = stream.peer.poll_datagram() {
                stream.stats.bytes_out += datagram.1.len() as u64;
                self.out.push(datagram);
            }
            // A full socket buffer drops datagrams: better than waiting for it.
            self.ledger.dropped.socket_full += self.sender.send(socket, &mut self.out).dropped as u64;
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
