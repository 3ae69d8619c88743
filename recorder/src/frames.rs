//! From RTP to frames to segments, with no I/O: the recorder's core.
//!
//! [`Assembler`] turns one track's RTP packets into coded frames (VP8 depacketized with the
//! `rtc` crate; an Opus payload is its frame), timed in milliseconds since the recording began.
//! A video frame with a missing packet is dropped, and video then waits for the next keyframe
//! rather than store a broken picture. [`Segmenter`] cuts a stream's frames into segments of
//! about two seconds, each beginning on a video keyframe, so every segment plays on its own.

use bytes::Bytes;
use rtc::rtp;
use rtc::rtp::codec::vp8::Vp8Packet;
use rtc::rtp::packetizer::Depacketizer;

use crate::webm::{Frame, Layout, Track};

/// The target segment length.
pub const SEGMENT_MS: i64 = 2000;

/// How much shorter than [`SEGMENT_MS`] a segment may be cut. The server asks the publisher
/// for a keyframe every [`SEGMENT_MS`], and each arrives a little early or late against the
/// previous one (round trips and frame pacing vary): without this slack, a keyframe 20 ms
/// early would be passed over and the segment would run to the next one, twice as long.
pub const SEGMENT_SLACK_MS: i64 = 500;

/// Reassembles one track's frames.
pub struct Assembler {
    track: Track,
    clock_rate: i64,
    /// (first RTP timestamp, extended; its time in ms since the recording started)
    origin: Option<(i64, i64)>,
    last_ts: Option<u32>,
    extended_ts: i64,
    current: Option<Partial>,
    need_keyframe: bool,
    last_seq: Option<u16>,
}

struct Partial {
    ts: u32,
    data: Vec<u8>,
    keyframe: bool,
    broken: bool,
}

impl Assembler {
    /// An assembler for a VP8 (90 kHz) or Opus (48 kHz) track.
    pub fn new(track: Track) -> Self {
        let clock_rate = if track == Track::Video { 90_000 } else { 48_000 };
        Self {
            track,
            clock_rate,
            origin: None,
            last_ts: None,
            extended_ts: 0,
            current: None,
            need_keyframe: track == Track::Video,
            last_seq: None,
        }
    }

    fn time_ms(&mut self, ts: u32, arrival_ms: i64) -> i64 {
        match self.last_ts {
            None => self.extended_ts = i64::from(ts),
            Some(prev) => self.extended_ts += i64::from(ts.wrapping_sub(prev) as i32),
        }
        self.last_ts = Some(ts);
        let (origin_ts, origin_ms) = *self.origin.get_or_insert((self.extended_ts, arrival_ms));
        // A packet stamped before the track's first (reordered, or a publisher's clock going
        // back) is placed at the recording's start, never before it: a segment has no time
        // before 0, and `webm::mux` refuses one rather than shift every track to make room.
        (origin_ms + (self.extended_ts - origin_ts) * 1000 / self.clock_rate).max(0)
    }

    /// One RTP packet (in arrival order) at `arrival_ms` since the recording started.
    pub fn push(&mut self, packet: &rtp::Packet, arrival_ms: i64) -> Option<Frame> {
        let seq = packet.header.sequence_number;
        let gap = self.last_seq.is_some_and(|last| seq != last.wrapping_add(1));
        self.last_seq = Some(seq);
        if self.track == Track::Audio {
            if packet.payload.is_empty() {
                return None;
            }
            let time_ms = self.time_ms(packet.header.timestamp, arrival_ms);
            return Some(Frame {
                track: Track::Audio,
                time_ms,
                keyframe: true,
                data: packet.payload.to_vec(),
            });
        }
        self.push_video(packet, arrival_ms, gap)
    }

    fn push_video(&mut self, packet: &rtp::Packet, arrival_ms: i64, gap: bool) -> Option<Frame> {
        let ts = packet.header.timestamp;
        if self.current.as_ref().is_some_and(|c| c.ts != ts) {
            // The previous frame never saw its marker: it is incomplete.
            self.current = None;
            self.need_keyframe = true;
        }
        let mut depack = Vp8Packet::default();
        let Ok(chunk) = depack.depacketize(&Bytes::copy_from_slice(&packet.payload)) else {
            self.need_keyframe = true;
            self.current = None;
            return None;
        };
        if depack.s == 1 && depack.pid == 0 {
            // The first packet of a frame: the payload header's P bit is the inverse key flag.
            let keyframe = chunk.first().is_some_and(|b| b & 1 == 0);
            self.current = Some(Partial {
                ts,
                data: Vec::new(),
                keyframe,
                broken: false,
            });
        } else if let Some(c) = self.current.as_mut() {
            c.broken |= gap;
        }
        let c = self.current.as_mut()?;
        c.data.extend_from_slice(&chunk);
        if !packet.header.marker {
            return None;
        }
        let c = self.current.take()?;
        // No valid VP8 frame tag (under 3 bytes, or a version over 3): `webm::mux` refuses it
        // (its keyframe flag would not survive an export), so it is dropped like a broken frame.
        if c.broken || !crate::webm::vp8_tag_ok(&c.data) || (self.need_keyframe && !c.keyframe) {
            self.need_keyframe = true;
            return None;
        }
        self.need_keyframe = false;
        let time_ms = self.time_ms(ts, arrival_ms);
        Some(Frame {
            track: Track::Video,
            time_ms,
            keyframe: c.keyframe,
            data: c.data,
        })
    }
}

/// The width and height in a VP8 keyframe's header.
pub fn vp8_dimensions(frame: &[u8]) -> Option<(u32, u32)> {
    if frame.len() < 10 || frame[0] & 1 != 0 || frame[3..6] != [0x9d, 0x01, 0x2a] {
        return None;
    }
    let w = u16::from_le_bytes([frame[6], frame[7]]) & 0x3fff;
    let h = u16::from_le_bytes([frame[8], frame[9]]) & 0x3fff;
    (w > 0 && h > 0).then_some((u32::from(w), u32::from(h)))
}

/// Cuts one stream's frames into segments.
pub struct Segmenter {
    has_video: bool,
    has_audio: bool,
    frames: Vec<Frame>,
    start_ms: Option<i64>,
    dimensions: Option<(u32, u32)>,
}

/// A finished segment's contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cut {
    pub layout: Layout,
    pub frames: Vec<Frame>,
    pub start_ms: i64,
    pub end_ms: i64,
}

impl Segmenter {
    /// A segmenter for a stream with these tracks.
    pub fn new(has_video: bool, has_audio: bool) -> Self {
        Self {
            has_video,
            has_audio,
            frames: Vec::new(),
            start_ms: None,
            dimensions: None,
        }
    }

    /// Adds a frame; returns the previous segment when this frame starts a new one.
    pub fn push(&mut self, frame: Frame) -> Option<Cut> {
        if frame.track == Track::Video && frame.keyframe {
            if let Some(d) = vp8_dimensions(&frame.data) {
                self.dimensions = Some(d);
            }
        }
        let starts_segment = if self.has_video {
            frame.track == Track::Video && frame.keyframe
        } else {
            true
        };
        let due = self
            .start_ms
            .is_some_and(|s| frame.time_ms - s >= SEGMENT_MS - SEGMENT_SLACK_MS);
        let cut = if starts_segment && due { self.take() } else { None };
        if self.start_ms.is_none() {
            if self.has_video && !(frame.track == Track::Video && frame.keyframe) {
                // A video stream's first segment begins on its first keyframe.
                return cut;
            }
            self.start_ms = Some(frame.time_ms);
        }
        self.frames.push(frame);
        cut
    }

    /// The last, partial segment (at the end of the stream).
    pub fn finish(&mut self) -> Option<Cut> {
        self.take()
    }

    fn take(&mut self) -> Option<Cut> {
        let start_ms = self.start_ms.take()?;
        let mut frames = std::mem::take(&mut self.frames);
        frames.sort_by_key(|f| f.time_ms);
        let end_ms = frames.last().map(|f| f.time_ms + 20).unwrap_or(start_ms);
        let video = if self.has_video {
            Some(self.dimensions.unwrap_or((640, 480)))
        } else {
            None
        };
        Some(Cut {
            layout: Layout {
                video,
                audio: self.has_audio,
            },
            frames,
            start_ms,
            end_ms,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rtc::rtp::header::Header;

    fn rtp(seq: u16, ts: u32, marker: bool, payload: Vec<u8>) -> rtp::Packet {
        rtp::Packet {
            header: Header {
                sequence_number: seq,
                timestamp: ts,
                marker,
                ..Default::default()
            },
            payload: Bytes::from(payload),
        }
    }

    fn vp8(first: bool, key: bool) -> Vec<u8> {
        // Descriptor: S bit on the first packet, PID 0; then payload bytes.
        let mut v = vec![if first { 0x10 } else { 0x00 }];
        if first {
            v.extend_from_slice(&[
                if key { 0x00 } else { 0x01 },
                0,
                0,
                0x9d,
                0x01,
                0x2a,
                0x40,
                0x01,
                0xf0,
                0x00,
            ]);
        } else {
            v.extend_from_slice(&[0xaa; 5]);
        }
        v
    }

    #[test]
    fn assembles_frames_and_drops_broken_ones() {
        let mut a = Assembler::new(Track::Video);
        assert!(a.push(&rtp(1, 0, false, vp8(true, false)), 0).is_none());
        assert!(
            a.push(&rtp(2, 0, true, vp8(false, false)), 0).is_none(),
            "an interframe before any keyframe is useless"
        );
        assert!(a.push(&rtp(3, 3000, false, vp8(true, true)), 33).is_none());
        let f = a.push(&rtp(4, 3000, true, vp8(false, true)), 33).unwrap();
        assert!(f.keyframe);
        assert_eq!(vp8_dimensions(&f.data), Some((320, 240)));
        // A lost packet in the middle of a frame: dropped, and video waits for a keyframe.
        assert!(a.push(&rtp(5, 6000, false, vp8(true, false)), 66).is_none());
        assert!(a.push(&rtp(7, 6000, true, vp8(false, false)), 66).is_none());
        assert!(a.push(&rtp(8, 9000, true, vp8(true, false)), 100).is_none());
        let f = a.push(&rtp(9, 12000, true, vp8(true, true)), 133).unwrap();
        assert_eq!(f.time_ms, 33 + 100, "timed from the RTP clock, not arrival");
    }

    /// A publisher's VP8 frame under 3 bytes (found through fuzz_webm_demux): dropped, and video
    /// waits for the next keyframe, so no segment holds one (`webm::mux` refuses it).
    #[test]
    fn a_vp8_frame_without_a_valid_tag_is_dropped() {
        let mut a = Assembler::new(Track::Video);
        assert!(a.push(&rtp(1, 0, true, vp8(true, true)), 0).is_some());
        // Descriptor with the X byte (S bit, PID 0, no extensions), then a frame of 2 bytes.
        assert!(
            a.push(&rtp(2, 3000, true, vec![0x90, 0x00, 0x01, 0x07]), 33).is_none(),
            "a 2-byte interframe"
        );
        assert!(
            a.push(&rtp(3, 6000, true, vp8(true, false)), 66).is_none(),
            "video waits for a keyframe"
        );
        assert!(
            a.push(&rtp(4, 9000, true, vec![0x90, 0x00, 0x00, 0x07]), 100).is_none(),
            "a 2-byte keyframe"
        );
        assert!(
            a.push(
                &rtp(
                    6,
                    10000,
                    true,
                    vec![0x10, 0x0c, 0, 0, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xf0, 0x00]
                ),
                110
            )
            .is_none(),
            "version 6"
        );
        let f = a.push(&rtp(5, 12000, true, vp8(true, true)), 133).unwrap();
        assert!(f.keyframe && f.data.len() >= crate::webm::VP8_MIN_FRAME);
    }

    #[test]
    fn audio_timestamps_wrap() {
        let mut a = Assembler::new(Track::Audio);
        let f0 = a.push(&rtp(1, u32::MAX - 479, true, vec![1]), 500).unwrap();
        let f1 = a.push(&rtp(2, 480, true, vec![2]), 520).unwrap();
        assert_eq!((f0.time_ms, f1.time_ms), (500, 520));
    }

    /// A publisher's timestamps going back before its first packet, early in a recording, gave
    /// frames a time before the recording started (which `webm::mux` now refuses).
    #[test]
    fn a_timestamp_before_the_first_is_placed_at_the_start() {
        let mut a = Assembler::new(Track::Audio);
        let f0 = a.push(&rtp(1, 96_000, true, vec![1]), 10).unwrap();
        let f1 = a.push(&rtp(2, 0, true, vec![2]), 30).unwrap();
        let f2 = a.push(&rtp(3, 96_960, true, vec![3]), 50).unwrap();
        assert_eq!((f0.time_ms, f1.time_ms, f2.time_ms), (10, 0, 30));
    }

    #[test]
    fn segments_start_on_keyframes_every_two_seconds() {
        let mut s = Segmenter::new(true, true);
        let mut cuts = Vec::new();
        for i in 0..300i64 {
            let t = i * 20;
            let key = i % 50 == 4; // a keyframe every second, the first at 80 ms
            if i % 2 == 0 {
                cuts.extend(s.push(Frame {
                    track: Track::Video,
                    time_ms: t,
                    keyframe: key,
                    data: vec![u8::from(!key)],
                }));
            }
            cuts.extend(s.push(Frame {
                track: Track::Audio,
                time_ms: t,
                keyframe: true,
                data: vec![9],
            }));
        }
        cuts.extend(s.finish());
        assert!(cuts.len() >= 3);
        for c in &cuts {
            let first_video = c.frames.iter().find(|f| f.track == Track::Video).unwrap();
            assert!(first_video.keyframe, "segment at {} starts on a keyframe", c.start_ms);
        }
        for w in cuts.windows(2) {
            assert!(w[1].start_ms - w[0].start_ms >= SEGMENT_MS);
        }
        assert_eq!(cuts[0].start_ms, 80);
    }

    #[test]
    fn a_keyframe_slightly_early_still_cuts() {
        // Keyframes on request every ~2 s, each arriving a little earlier than the last.
        let keys = [100, 2080, 4050, 6010, 7990];
        let mut s = Segmenter::new(true, false);
        let mut cuts = Vec::new();
        for t in (0..9000).step_by(10) {
            let key = keys.contains(&t);
            if t % 30 == 0 || key {
                cuts.extend(s.push(Frame {
                    track: Track::Video,
                    time_ms: t,
                    keyframe: key,
                    data: vec![u8::from(!key)],
                }));
            }
        }
        let starts: Vec<i64> = cuts.iter().map(|c| c.start_ms).collect();
        assert_eq!(
            starts,
            vec![100, 2080, 4050, 6010],
            "every requested keyframe starts a segment"
        );
        assert!(cuts.iter().all(|c| c.end_ms - c.start_ms <= SEGMENT_MS + 100));
    }
}
