//! WebM through the recorder's demuxer (`livegate_recorder::webm`, libavformat through
//! ffmpeg-next), as an export or a leader's view reads decrypted segments back: `demux` of one
//! file, and `concat` of several (what the server serves and `livegate-recorder export` writes).
//!
//! The input is one file, unless its first byte is odd: then the rest is up to four segments,
//! each a big-endian `u16` length and its bytes. Nothing may panic (or crash inside libavformat),
//! and what demuxes must survive the recorder's own remux: muxed again and demuxed, it gives the
//! same layout and, per track, the same frames (time, bytes and, for video, the keyframe flag).
//! Segments join when they carry the same tracks (a picture's size may change between them:
//! the joined file keeps the first's). A remux may fail (a track whose times go backwards, no
//! audio or video at all): `concat` then reports an error, which the server answers with
//! `recording_tampered`. Audio's keyframe flag is not compared: the muxer marks every Opus frame
//! a keyframe, as WebM players expect.

#![no_main]

use libfuzzer_sys::fuzz_target;
use livegate_recorder::webm::{concat, demux, mux, Frame, Layout, Track};

/// Demuxes `webm` and checks the remux round trip; returns what it demuxed.
fn demux_checked(webm: &[u8]) -> Option<(Layout, Vec<Frame>)> {
    quiet();
    let (layout, frames) = demux(webm).ok()?;
    if let Ok(again) = mux(&layout, &frames) {
        let (l, out) = demux(&again).expect("the recorder's own output demuxes");
        assert_eq!(l, layout, "layout changed by a remux");
        assert_same_frames(&frames, &out);
    }
    Some((layout, frames))
}

/// Per track, the same frames in the same order.
fn assert_same_frames(want: &[Frame], got: &[Frame]) {
    for track in [Track::Video, Track::Audio] {
        let key = |f: &Frame| (f.time_ms, f.data.clone(), track == Track::Video && f.keyframe);
        let a: Vec<_> = want.iter().filter(|f| f.track == track).map(key).collect();
        let b: Vec<_> = got.iter().filter(|f| f.track == track).map(key).collect();
        assert_eq!(a, b, "{track:?} frames changed by a remux");
    }
}

/// The segments of a concat-mode input.
fn segments(mut data: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while out.len() < 4 && data.len() >= 2 {
        let len = usize::from(u16::from_be_bytes([data[0], data[1]])).min(data.len() - 2);
        out.push(data[2..2 + len].to_vec());
        data = &data[2 + len..];
    }
    out
}

/// libavformat's complaints about malformed input would fill the fuzzer's log: silenced
/// (after the recorder's own one-time set-up, which sets the level to errors).
fn quiet() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = demux(b"");
        ffmpeg_next::util::log::set_level(ffmpeg_next::util::log::Level::Quiet);
    });
}

fuzz_target!(|data: &[u8]| {
    match data.first() {
        Some(b) if b & 1 == 1 => {
            let parts = segments(&data[1..]);
            let demuxed: Option<Vec<_>> = parts.iter().map(|p| demux_checked(p)).collect();
            let Ok(joined) = concat(&parts) else { return };
            let demuxed = demuxed.expect("concat joined segments that do not demux");
            let (layout, out) = demux(&joined).expect("a joined file demuxes");
            // Segments join when they carry the same tracks; the picture's size may change
            // between them (each VP8 keyframe carries its own) and the file keeps the first's.
            let same_tracks = |l: &Layout| l.video.is_some() == layout.video.is_some() && l.audio == layout.audio;
            assert!(
                demuxed.iter().all(|(l, _)| same_tracks(l)),
                "concat joined segments of other tracks"
            );
            assert!(
                demuxed.first().map_or(true, |(l, _)| *l == layout),
                "the joined file's layout is not the first segment's"
            );
            let all: Vec<Frame> = demuxed.into_iter().flat_map(|(_, f)| f).collect();
            assert_same_frames(&all, &out);
        }
        _ => {
            demux_checked(data);
        }
    }
});
