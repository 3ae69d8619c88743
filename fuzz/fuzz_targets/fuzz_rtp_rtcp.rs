//! RTP and RTCP through the media core. The input is a script: datagrams from a publisher
//! (parsed as RTP the way the peer connection parses it, then handed to the `livegate_sfu::Forwarder`
//! on its track), datagrams from subscribers (parsed as compound RTCP; PLI/FIR become keyframe
//! requests on their sink), subscribers coming and going, the I/O loop taking packets or
//! dropping a sink's queue, and time passing. Every datagram also goes through the shared
//! port's demultiplexer. Nothing may panic, and what comes out must be what the subscriber
//! negotiated: its SSRC, its payload type, no header extensions, no more queued than allowed.

#![no_main]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use livegate_sfu::demux;
use livegate_sfu::{is_vp8_keyframe_start, Forwarder, Output, SinkKey, SinkParams, TrackKey, TrackKind, SINK_QUEUE_PACKETS};
use rtc::rtcp::payload_feedbacks::full_intra_request::FullIntraRequest;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::shared::marshal::{Marshal, Unmarshal};

const TRACKS: [(TrackKey, TrackKind); 2] = [(TrackKey(1), TrackKind::Video), (TrackKey(2), TrackKind::Audio)];

/// One step of the script. The input is a sequence of steps, each an opcode byte and its
/// arguments (see `Op::read`), so seeds can be written by hand (`make-seeds.py`).
#[derive(Debug)]
enum Op {
    /// A datagram from the publisher on track 0 or 1.
    Publisher { track: bool, datagram: Vec<u8> },
    /// A datagram from subscriber `sink`.
    Subscriber { sink: u8, datagram: Vec<u8> },
    Subscribe { sink: u8, track: bool, ssrc: u32, payload_type: u8 },
    Unsubscribe { sink: u8 },
    /// The I/O loop sends up to `n` of a sink's packets.
    Send { sink: u8, n: u8 },
    /// The sink's transport is not accepting packets.
    Discard { sink: u8 },
    /// The publisher's track ends (and comes back at once, so the script can go on).
    Republish { track: bool },
    Wait { millis: u16 },
}

impl Op {
    /// Reads one step: `0 track len(u16) bytes` publisher datagram, `1 sink len(u16) bytes`
    /// subscriber datagram, `2 sink track ssrc(u32) pt` subscribe, `3 sink` unsubscribe,
    /// `4 sink n` send, `5 sink` discard, `6 track` republish, `7 millis(u16)` wait.
    fn read(data: &mut &[u8]) -> Option<Op> {
        let code = take(data, 1)?[0];
        Some(match code % 8 {
            0 | 1 => {
                let head = take(data, 3)?;
                let len = usize::from(u16::from_be_bytes([head[1], head[2]]));
                let datagram = take(data, len.min(data.len()))?.to_vec();
                if code % 8 == 0 {
                    Op::Publisher { track: head[0] & 1 == 1, datagram }
                } else {
                    Op::Subscriber { sink: head[0], datagram }
                }
            }
            2 => {
                let a = take(data, 7)?;
                Op::Subscribe { sink: a[0], track: a[1] & 1 == 1, ssrc: u32::from_be_bytes([a[2], a[3], a[4], a[5]]), payload_type: a[6] }
            }
            3 => Op::Unsubscribe { sink: take(data, 1)?[0] },
            4 => {
                let a = take(data, 2)?;
                Op::Send { sink: a[0], n: a[1] }
            }
            5 => Op::Discard { sink: take(data, 1)?[0] },
            6 => Op::Republish { track: take(data, 1)?[0] & 1 == 1 },
            _ => {
                let a = take(data, 2)?;
                Op::Wait { millis: u16::from_be_bytes([a[0], a[1]]) }
            }
        })
    }
}

/// The next `n` bytes of the script, if there are that many.
fn take<'a>(data: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    let (head, rest) = data.split_at_checked(n)?;
    *data = rest;
    Some(head)
}

struct World {
    now: Instant,
    f: Forwarder,
    params: [Option<SinkParams>; 8],
    demux: demux::Demux<u8>,
}

impl World {
    fn sink(i: u8) -> (SinkKey, usize) {
        let i = i % 8;
        (SinkKey(u64::from(i)), usize::from(i))
    }

    fn run(&mut self, op: Op) {
        match op {
            Op::Publisher { track, datagram } => self.publisher(TRACKS[usize::from(track)].0, &datagram),
            Op::Subscriber { sink, datagram } => self.subscriber(sink, &datagram),
            Op::Subscribe { sink, track, ssrc, payload_type } => {
                let (key, i) = Self::sink(sink);
                // The start values come from the SSRC so the script format stays as it was.
                let (first_seq, first_ts) = (ssrc as u16, ssrc.rotate_left(16));
                let params = SinkParams { ssrc, payload_type: payload_type & 0x7f, first_seq, first_ts };
                if self.f.add_sink(self.now, key, TRACKS[usize::from(track)].0, params) {
                    assert!(self.params[i].is_none(), "a sink was added twice");
                    self.params[i] = Some(params);
                    self.demux.add(format!("sink{i}"), i as u8);
                }
            }
            Op::Unsubscribe { sink } => {
                let (key, i) = Self::sink(sink);
                self.f.remove_sink(key);
                self.params[i] = None;
                self.demux.remove(i as u8);
                assert!(self.f.pop_packet(key).is_none());
            }
            Op::Send { sink, n } => self.send(sink, n),
            Op::Discard { sink } => self.f.discard_queue(self.now, Self::sink(sink).0),
            Op::Republish { track } => {
                let (key, kind) = TRACKS[usize::from(track)];
                for sink in self.f.sinks_of(key).to_vec() {
                    self.params[sink.0 as usize] = None;
                }
                self.f.remove_track(key);
                self.f.add_track(key, kind);
            }
            Op::Wait { millis } => {
                self.now += Duration::from_millis(u64::from(millis));
                if self.f.poll_timeout().is_some_and(|t| t <= self.now) {
                    self.f.handle_timeout(self.now);
                }
            }
        }
        self.check_outputs();
    }

    /// A datagram from the publisher: parsed as the peer connection parses RTP, then forwarded.
    fn publisher(&mut self, track: TrackKey, datagram: &[u8]) {
        let _ = self.demux.route(SocketAddr::from(([192, 0, 2, 1], 5000)), datagram);
        let Ok(packet) = rtc::rtp::Packet::unmarshal(&mut &datagram[..]) else { return };
        let _ = is_vp8_keyframe_start(&packet.payload);
        if let Ok(bytes) = packet.marshal() {
            let again = rtc::rtp::Packet::unmarshal(&mut &bytes[..]).expect("a marshalled packet parses");
            assert_eq!(again.payload, packet.payload);
        }
        self.f.handle_rtp(self.now, track, &packet);
    }

    /// A datagram from a subscriber: compound RTCP; a PLI or FIR asks for a keyframe.
    fn subscriber(&mut self, sink: u8, datagram: &[u8]) {
        let (key, i) = Self::sink(sink);
        let _ = self.demux.route(SocketAddr::from(([192, 0, 2, 2], 6000 + i as u16)), datagram);
        let Ok(packets) = rtc::rtcp::packet::unmarshal(&mut &datagram[..]) else { return };
        let wants_keyframe =
            packets.iter().any(|p| p.as_any().is::<PictureLossIndication>() || p.as_any().is::<FullIntraRequest>());
        for p in &packets {
            let _ = p.marshal();
        }
        if wants_keyframe {
            self.f.handle_keyframe_request(self.now, key);
        }
    }

    /// The I/O loop takes up to `n` packets for a sink: each must be as its subscriber negotiated.
    fn send(&mut self, sink: u8, n: u8) {
        let (key, i) = Self::sink(sink);
        for _ in 0..n {
            let Some(p) = self.f.pop_packet(key) else { break };
            let params = self.params[i].expect("packets only for a live sink");
            assert_eq!(p.header.ssrc, params.ssrc);
            assert_eq!(p.header.payload_type, params.payload_type);
            assert!(!p.header.extension && p.header.extensions.is_empty());
            let _ = p.marshal();
        }
    }

    /// What the forwarder asks of the I/O loop names only live tracks and sinks, and no queue
    /// is longer than allowed.
    fn check_outputs(&mut self) {
        while let Some(out) = self.f.poll_output() {
            match out {
                Output::KeyframeRequest(track) => assert!(TRACKS.iter().any(|(k, _)| *k == track)),
                Output::SinkReady(sink) => assert!(self.params[sink.0 as usize].is_some(), "ready but not live"),
            }
        }
        for i in 0..8u8 {
            if let Some(stats) = self.f.sink_stats(SinkKey(u64::from(i))) {
                assert!(stats.queued <= SINK_QUEUE_PACKETS);
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut w = World { now: Instant::now(), f: Forwarder::new(), params: [None; 8], demux: demux::Demux::default() };
    for (key, kind) in TRACKS {
        w.f.add_track(key, kind);
    }
    let mut data = data;
    while let Some(op) = Op::read(&mut data) {
        w.run(op);
    }
});
