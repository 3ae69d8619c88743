//! Measuring what recording costs in CPU: reading a process's (or one named thread's) CPU time
//! from /proc, and a server-free run of the recorder's whole path over the test clip (RTP
//! packets as a publisher sends them → frames → two-second segments → WebM mux → seal →
//! durable spool → upload to a local folder). Used by the ignored cost tests in
//! tests/integration/recording.rs; the results go to BENCHMARKS.md.

use crate::media::Clip;
use anyhow::{anyhow, Context, Result};
use bytes::Bytes;
use livegate_recorder::frames::{Assembler, Segmenter};
use livegate_recorder::keys::{generate_hex, Kek};
use livegate_recorder::objstore::{ObjectStoreConfig, Objects};
use livegate_recorder::seal::DataKey;
use livegate_recorder::spool::{drain_once, Meta, RecordingWriter, Status};
use livegate_recorder::webm::Track;
use rtc::rtp;
use rtc::rtp::codec::vp8::Vp8Payloader;
use rtc::rtp::packetizer::Payloader;
use std::path::Path;

/// Clock ticks per second of /proc's CPU times.
fn clock_ticks() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

/// User + system CPU seconds from a /proc `stat` file.
fn stat_cpu_s(path: &Path) -> Result<f64> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = text
        .rsplit_once(')')
        .map(|(_, r)| r)
        .ok_or_else(|| anyhow!("odd stat: {text}"))?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of stat; `rest` starts at field 3.
    let ticks: f64 = f
        .get(11)
        .and_then(|v| v.parse().ok())
        .zip(f.get(12).and_then(|v| v.parse::<f64>().ok()))
        .map(|(u, s): (f64, f64)| u + s)
        .ok_or_else(|| anyhow!("odd stat: {text}"))?;
    Ok(ticks / clock_ticks())
}

/// A process's CPU seconds so far (all its threads).
pub fn process_cpu_s(pid: u32) -> Result<f64> {
    stat_cpu_s(&Path::new("/proc").join(pid.to_string()).join("stat"))
}

/// The CPU seconds so far of a process's threads with this name (e.g. `recorder`).
pub fn threads_cpu_s(pid: u32, name: &str) -> Result<f64> {
    let tasks = Path::new("/proc").join(pid.to_string()).join("task");
    let mut total = 0.0;
    for t in std::fs::read_dir(&tasks)
        .with_context(|| format!("reading {}", tasks.display()))?
        .flatten()
    {
        if std::fs::read_to_string(t.path().join("comm")).is_ok_and(|c| c.trim() == name) {
            total += stat_cpu_s(&t.path().join("stat"))?;
        }
    }
    Ok(total)
}

/// One RTP packet of the run.
fn packet(seq: u16, ts: u32, marker: bool, payload: Bytes) -> rtp::Packet {
    let header = rtp::header::Header {
        version: 2,
        sequence_number: seq,
        timestamp: ts,
        marker,
        ..Default::default()
    };
    rtp::Packet { header, payload }
}

/// What [`record_clip`] did.
#[derive(Debug)]
pub struct PipelineRun {
    pub media_s: f64,
    pub packets: u64,
    pub segments: usize,
}

/// Runs `seconds` of the clip (VP8 at 30 fps + Opus every 20 ms) through the recorder's whole
/// path into `dir` (`spool/` and `objects/`), as fast as it goes.
pub async fn record_clip(clip: &Clip, seconds: u32, dir: &Path) -> Result<PipelineRun> {
    let kek = Kek::from_hex(&generate_hex().map_err(|e| anyhow!("{e}"))?).map_err(|e| anyhow!("{e}"))?;
    let spool = dir.join("spool");
    let meta = Meta {
        recording: "rec_cost".into(),
        school: "sch_demo".into(),
        started_at: 0,
    };
    let writer = RecordingWriter::create(&spool, meta, DataKey::generate().map_err(|e| anyhow!("{e}"))?, &kek)
        .map_err(|e| anyhow!("{e}"))?;
    let (mut video, mut audio) = (Assembler::new(Track::Video), Assembler::new(Track::Audio));
    let mut segmenter = Segmenter::new(true, true);
    let mut payloader = Vp8Payloader::default();
    let (mut vseq, mut aseq, mut packets, mut segments) = (0u16, 0u16, 0u64, 0usize);
    let total_ms = i64::from(seconds) * 1000;
    let (mut next_video, mut next_audio, mut vi, mut ai) = (0i64, 0i64, 0usize, 0usize);
    while next_video < total_ms || next_audio < total_ms {
        let mut frames = Vec::new();
        if next_video <= next_audio {
            let f = &clip.video[vi % clip.video.len()];
            let ts = (next_video * 90) as u32;
            let parts = payloader
                .payload(1200, &f.data)
                .map_err(|e| anyhow!("packetizing: {e}"))?;
            let n = parts.len();
            for (i, p) in parts.into_iter().enumerate() {
                vseq = vseq.wrapping_add(1);
                packets += 1;
                frames.extend(video.push(&packet(vseq, ts, i + 1 == n, p), next_video));
            }
            vi += 1;
            next_video = vi as i64 * 1000 / 30;
        } else {
            aseq = aseq.wrapping_add(1);
            packets += 1;
            let p = packet(
                aseq,
                (next_audio * 48) as u32,
                true,
                clip.opus[ai % clip.opus.len()].clone(),
            );
            frames.extend(audio.push(&p, next_audio));
            ai += 1;
            next_audio = ai as i64 * 20;
        }
        for cut in frames.into_iter().filter_map(|f| segmenter.push(f)) {
            writer.write_segment("s1", &cut).map_err(|e| anyhow!("{e}"))?;
            segments += 1;
        }
    }
    if let Some(cut) = segmenter.finish() {
        writer.write_segment("s1", &cut).map_err(|e| anyhow!("{e}"))?;
        segments += 1;
    }
    writer.finish(Status::Complete).map_err(|e| anyhow!("{e}"))?;
    let objects = Objects::open(&ObjectStoreConfig::Local {
        path: dir.join("objects"),
    })
    .map_err(|e| anyhow!("{e}"))?;
    drain_once(&spool, &objects)
        .await
        .map_err(|e| anyhow!("uploading: {e}"))?;
    Ok(PipelineRun {
        media_s: f64::from(seconds),
        packets,
        segments,
    })
}

/// The bytes stored under a folder (the run's objects, counted after the measurement).
pub fn bytes_under(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries
        .flatten()
        .map(|e| {
            if e.path().is_dir() {
                bytes_under(&e.path())
            } else {
                e.metadata().map(|m| m.len()).unwrap_or(0)
            }
        })
        .sum()
}
