//! Test media: encodes a short VP8 clip (IVF) and an Opus clip (Ogg) once per test process with
//! the ffmpeg CLI and parses them into frames/packets held in memory. (Received VP8 is checked
//! for keyframes with the server's own `livegate_sfu::is_vp8_keyframe_start`.)

use anyhow::{anyhow, bail, Context, Result};
use bytes::Bytes;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, OnceLock};

/// One encoded VP8 frame.
#[derive(Clone)]
pub struct VideoFrame {
    pub data: Bytes,
    pub keyframe: bool,
}

/// The clip every publisher loops: 3 s of 320x240 VP8 at 30 fps (keyframe every 30 frames) and
/// 3 s of 20 ms stereo Opus packets.
pub struct Clip {
    pub video: Vec<VideoFrame>,
    pub opus: Vec<Bytes>,
}

static CLIP: OnceLock<std::result::Result<Arc<Clip>, String>> = OnceLock::new();

/// The shared clip, encoding it on first use (blocking; takes about a second).
pub fn clip() -> Result<Arc<Clip>> {
    CLIP.get_or_init(|| encode_clip().map(Arc::new).map_err(|e| format!("{e:#}")))
        .clone()
        .map_err(|e| anyhow!("preparing test media with ffmpeg: {e}"))
}

/// The clip with every video frame padded (zeros after the VP8 data, which only a decoder would
/// notice) to at least `bits_per_second` at 30 fps: a heavier lesson for the bandwidth tests,
/// without encoding one.
pub fn clip_at(bits_per_second: u64) -> Result<Arc<Clip>> {
    let base = clip()?;
    let frame_bytes = (bits_per_second / 8 / 30) as usize;
    let video = base
        .video
        .iter()
        .map(|f| {
            let mut data = f.data.to_vec();
            data.resize(data.len().max(frame_bytes), 0);
            VideoFrame {
                data: Bytes::from(data),
                keyframe: f.keyframe,
            }
        })
        .collect();
    Ok(Arc::new(Clip {
        video,
        opus: base.opus.clone(),
    }))
}

fn encode_clip() -> Result<Clip> {
    let dir = std::env::temp_dir().join(format!(
        "livegate-tests-media-{}-{}",
        std::process::id(),
        rand::random::<u32>()
    ));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let result = (|| {
        let ivf = dir.join("clip.ivf");
        let ogg = dir.join("clip.ogg");
        run_ffmpeg(&[
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=320x240:rate=30",
            "-t",
            "3",
            "-c:v",
            "libvpx",
            "-g",
            "30",
            "-keyint_min",
            "30",
            "-b:v",
            "300k",
            "-deadline",
            "realtime",
            "-cpu-used",
            "8",
            "-auto-alt-ref",
            "0",
            "-f",
            "ivf",
            path_str(&ivf)?,
        ])?;
        run_ffmpeg(&[
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:sample_rate=48000",
            "-t",
            "3",
            "-ac",
            "2",
            "-c:a",
            "libopus",
            "-b:a",
            "32k",
            "-frame_duration",
            "20",
            "-page_duration",
            "20000",
            "-f",
            "ogg",
            path_str(&ogg)?,
        ])?;
        let video = parse_ivf(&std::fs::read(&ivf)?)?;
        let opus = parse_ogg_opus(&std::fs::read(&ogg)?)?;
        if video.len() < 60 || !video[0].keyframe {
            bail!(
                "unexpected VP8 clip: {} frames, first keyframe={}",
                video.len(),
                video.first().is_some_and(|f| f.keyframe)
            );
        }
        if opus.len() < 100 {
            bail!("unexpected Opus clip: {} packets", opus.len());
        }
        Ok(Clip { video, opus })
    })();
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn path_str(p: &Path) -> Result<&str> {
    p.to_str().ok_or_else(|| anyhow!("non-UTF-8 temp path"))
}

fn run_ffmpeg(args: &[&str]) -> Result<()> {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-y"])
        .args(args)
        .output()
        .context("running ffmpeg (is it installed?)")?;
    if !out.status.success() {
        bail!("ffmpeg {:?} failed: {}", args, String::from_utf8_lossy(&out.stderr));
    }
    Ok(())
}

/// Splits an IVF file into frames.
pub fn parse_ivf(data: &[u8]) -> Result<Vec<VideoFrame>> {
    if data.len() < 32 || &data[0..4] != b"DKIF" {
        bail!("not an IVF file");
    }
    if &data[8..12] != b"VP80" {
        bail!("IVF fourcc is {:?}, want VP80", String::from_utf8_lossy(&data[8..12]));
    }
    let header_len = u16::from_le_bytes([data[6], data[7]]) as usize;
    let mut pos = header_len;
    let mut frames = Vec::new();
    while pos + 12 <= data.len() {
        let size = u32::from_le_bytes(data[pos..pos + 4].try_into().unwrap()) as usize;
        pos += 12;
        if pos + size > data.len() {
            bail!("truncated IVF frame");
        }
        let frame = &data[pos..pos + size];
        pos += size;
        // VP8 frame tag: bit 0 of the first byte is 0 for a keyframe.
        let keyframe = !frame.is_empty() && frame[0] & 0x01 == 0;
        frames.push(VideoFrame {
            data: Bytes::copy_from_slice(frame),
            keyframe,
        });
    }
    Ok(frames)
}

/// Splits an Ogg Opus file into Opus packets (dropping OpusHead and OpusTags).
pub fn parse_ogg_opus(data: &[u8]) -> Result<Vec<Bytes>> {
    let mut packets = Vec::new();
    let mut partial: Vec<u8> = Vec::new();
    let mut pos = 0;
    while pos + 27 <= data.len() {
        if &data[pos..pos + 4] != b"OggS" {
            bail!("bad Ogg capture pattern at {pos}");
        }
        let nsegs = data[pos + 26] as usize;
        let lacing_start = pos + 27;
        if lacing_start + nsegs > data.len() {
            bail!("truncated Ogg page header");
        }
        let lacing = &data[lacing_start..lacing_start + nsegs];
        let mut body = lacing_start + nsegs;
        for &len in lacing {
            let len = len as usize;
            if body + len > data.len() {
                bail!("truncated Ogg page body");
            }
            partial.extend_from_slice(&data[body..body + len]);
            body += len;
            if len < 255 {
                let packet = std::mem::take(&mut partial);
                if !(packet.starts_with(b"OpusHead") || packet.starts_with(b"OpusTags") || packet.is_empty()) {
                    packets.push(Bytes::from(packet));
                }
            }
        }
        pos = body;
    }
    Ok(packets)
}

#[cfg(test)]
mod tests {
    #[test]
    fn ready_line() {
        let (h, m) =
            crate::server::parse_ready_line("livegate ready http=http://127.0.0.1:4321 media=127.0.0.1:5555").unwrap();
        assert_eq!(h.port(), 4321);
        assert_eq!(m.port(), 5555);
        assert!(crate::server::parse_ready_line("something else").is_none());
    }
}
