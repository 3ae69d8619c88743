//! The media trace every publisher sends: VP8 frames (720p30, about 1.5 Mbit/s, a keyframe
//! every 2 s) and Opus packets (20 ms), read once from the fixture `tests/bench/make-trace.sh`
//! encodes with ffmpeg (`video.ivf`, `audio.ogg`, read by the test harness's `media` readers),
//! or synthesised when there is no fixture.
//!
//! Frames are kept whole; the publisher cuts them into RTP payloads (RFC 7741, equal-size
//! fragments, a 15-bit picture id) as it sends, so the picture id keeps counting across loops of
//! the trace and jumps to a keyframe.

use std::path::Path;

use anyhow::{bail, Context, Result};
use bytes::{BufMut, Bytes, BytesMut};
// The fixture's containers are read as the integration tests read their clip.
pub use livegate_tests::media::VideoFrame;
use livegate_tests::media::{parse_ivf, parse_ogg_opus};

/// Largest VP8 fragment per RTP packet: with the 4-byte descriptor, the 12-byte RTP header and
/// the 10-byte SRTP tag, a packet stays under 1,200 bytes.
pub const MAX_FRAGMENT: usize = 1150;
/// Video frame interval (30 fps) in microseconds and in 90 kHz ticks.
pub const VIDEO_FRAME_US: u64 = 33_333;
pub const VIDEO_FRAME_TICKS: u32 = 3000;
/// Opus packet interval (20 ms) in microseconds and in 48 kHz ticks.
pub const AUDIO_FRAME_US: u64 = 20_000;
pub const AUDIO_FRAME_TICKS: u32 = 960;

/// The whole trace, looped by each publisher.
pub struct Trace {
    pub video: Vec<VideoFrame>,
    pub audio: Vec<Bytes>,
    /// Where it came from, for the report.
    pub source: String,
}

impl Trace {
    /// Reads `dir/video.ivf` and `dir/audio.ogg`.
    pub fn load(dir: &Path) -> Result<Trace> {
        let ivf =
            std::fs::read(dir.join("video.ivf")).with_context(|| format!("reading {}/video.ivf", dir.display()))?;
        let ogg =
            std::fs::read(dir.join("audio.ogg")).with_context(|| format!("reading {}/audio.ogg", dir.display()))?;
        let video = parse_ivf(&ivf).context("video.ivf")?;
        let audio = parse_ogg_opus(&ogg).context("audio.ogg")?;
        if !video.first().is_some_and(|f| f.keyframe) {
            bail!("video.ivf must start with a keyframe");
        }
        if audio.is_empty() {
            bail!("audio.ogg has no Opus packets");
        }
        Ok(Trace {
            video,
            audio,
            source: format!("fixture {}", dir.display()),
        })
    }

    /// A deterministic stand-in with the same shape: 10 s, keyframe every 60 frames, average
    /// 1.5 Mbit/s; Opus-sized audio packets. Payload bytes are pseudo-random, so not decodable,
    /// but every VP8 keyframe starts with a valid frame tag, start code and 1280x720 size.
    pub fn synthetic() -> Trace {
        let mut rng = 0x9e37_79b9_7f4a_7c15u64;
        let mut fill = |buf: &mut BytesMut, n: usize| {
            for _ in 0..n {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                buf.put_u8(rng as u8);
            }
        };
        let mut video = Vec::new();
        for i in 0..300 {
            let keyframe = i % 60 == 0;
            let size = if keyframe { 24_000 } else { 5_950 };
            let mut b = BytesMut::with_capacity(size);
            // Frame tag: bit 0 = 0 for a keyframe, show_frame, first partition size.
            let tag: u32 = (if keyframe { 0 } else { 1 }) | (1 << 4) | (((size as u32) / 4) << 5);
            b.put_slice(&tag.to_le_bytes()[..3]);
            if keyframe {
                b.put_slice(&[0x9d, 0x01, 0x2a]);
                b.put_u16_le(1280);
                b.put_u16_le(720);
            }
            let rest = size - b.len();
            fill(&mut b, rest);
            video.push(VideoFrame {
                data: b.freeze(),
                keyframe,
            });
        }
        let mut audio = Vec::new();
        for _ in 0..500 {
            let mut b = BytesMut::with_capacity(80);
            b.put_u8(0x78); // TOC: SILK-only wideband 20 ms, mono, one frame
            fill(&mut b, 79);
            audio.push(b.freeze());
        }
        Trace {
            video,
            audio,
            source: "synthetic".into(),
        }
    }

    /// Index of the first keyframe after `index` (wrapping).
    pub fn next_keyframe(&self, index: usize) -> usize {
        let n = self.video.len();
        (1..=n)
            .map(|d| (index + d) % n)
            .find(|&i| self.video[i].keyframe)
            .unwrap_or(0)
    }

    /// Average video bitrate in bit/s, for the report.
    pub fn video_bitrate(&self) -> f64 {
        let bytes: usize = self.video.iter().map(|f| f.data.len()).sum();
        bytes as f64 * 8.0 / (self.video.len() as f64 * VIDEO_FRAME_US as f64 / 1e6)
    }
}

/// Cuts a frame into RTP payloads of near-equal size, each with a VP8 payload descriptor
/// carrying a 15-bit picture id.
pub fn packetize_vp8(frame: &[u8], picture_id: u16, out: &mut Vec<Bytes>) {
    let n = frame.len().div_ceil(MAX_FRAGMENT).max(1);
    let size = frame.len().div_ceil(n);
    for (i, chunk) in frame.chunks(size.max(1)).enumerate() {
        let mut b = BytesMut::with_capacity(chunk.len() + 4);
        b.put_u8(if i == 0 { 0x90 } else { 0x80 }); // X=1, S on the first, PID 0
        b.put_u8(0x80); // I: picture id present
        b.put_u16(0x8000 | (picture_id & 0x7fff)); // M=1: 15-bit picture id
        b.put_slice(chunk);
        out.push(b.freeze());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use livegate_sfu::is_vp8_keyframe_start;

    #[test]
    fn synthetic_trace_has_the_benchmark_shape() {
        let t = Trace::synthetic();
        let rate = t.video_bitrate();
        assert!((1.4e6..1.6e6).contains(&rate), "{rate}");
        assert_eq!(t.video.iter().filter(|f| f.keyframe).count(), 5);
        assert_eq!(t.next_keyframe(0), 60);
        assert_eq!(t.next_keyframe(299), 0);
    }

    #[test]
    fn packetizer_marks_keyframe_starts_and_keeps_size() {
        let t = Trace::synthetic();
        let mut out = Vec::new();
        packetize_vp8(&t.video[0].data, 300, &mut out);
        assert!(is_vp8_keyframe_start(&out[0]));
        assert!(out[1..].iter().all(|p| !is_vp8_keyframe_start(p)));
        assert!(out.iter().all(|p| p.len() <= MAX_FRAGMENT + 4));
        let total: usize = out.iter().map(|p| p.len() - 4).sum();
        assert_eq!(total, t.video[0].data.len());
        out.clear();
        packetize_vp8(&t.video[1].data, 301, &mut out);
        assert!(!is_vp8_keyframe_start(&out[0]));
    }
}
