//! WebM in and out with ffmpeg-next: frames to a self-contained segment (remux only, never
//! transcoding), and segments joined back into one file for export, one at a time.
//!
//! Times are milliseconds since the recording started, so consecutive segments line up and
//! any prefix of a recording plays. A segment is muxed in memory: it is sealed before a byte of
//! it reaches the disk. A join ([`Joiner`]) streams into its output, so an export's memory
//! does not grow with the recording's length.

use std::io::{Cursor, Read, Seek, SeekFrom, Write};
use std::sync::{Arc, Mutex, Once};

use ff::format::context::StreamIo;
use ff::{codec, ffi, media, Packet, Rational};
use ffmpeg_next as ff;

/// Audio or video.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Track {
    Video,
    Audio,
}

/// One coded frame, as it came off the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub track: Track,
    /// Milliseconds since the recording started.
    pub time_ms: i64,
    pub keyframe: bool,
    pub data: Vec<u8>,
}

/// Which tracks a segment has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// Width and height of the video, if there is video.
    pub video: Option<(u32, u32)>,
    pub audio: bool,
}

/// Why muxing or demuxing failed.
#[derive(Debug, thiserror::Error)]
pub enum WebmError {
    #[error("ffmpeg: {0}")]
    Ffmpeg(#[from] ff::Error),
    #[error("a segment has no tracks, or no frames on them")]
    Empty,
    #[error("segments do not share one layout")]
    Mismatch,
    #[error("not a segment the recorder writes: {0}")]
    Foreign(&'static str),
    #[error("a frame is timed before the recording started")]
    BeforeStart,
}

const MS: Rational = Rational(1, 1000);

/// The shortest VP8 frame: its frame tag is 3 bytes.
pub const VP8_MIN_FRAME: usize = 3;

/// Whether a frame's VP8 tag is one libavformat reads: at least 3 bytes and a version of at
/// most 3 (RFC 6386 9.1). Its VP8 parser takes a frame's keyframe flag from the tag; from a
/// frame without a valid one it keeps the flag of the frame before, so a remux or a join would
/// change it. Such a frame is neither written nor read.
pub fn vp8_tag_ok(frame: &[u8]) -> bool {
    frame.len() >= VP8_MIN_FRAME && (frame[0] >> 1) & 7 <= 3
}

/// A video frame without a valid VP8 tag (see [`vp8_tag_ok`]).
fn too_short(f: &Frame) -> bool {
    f.track == Track::Video && !vp8_tag_ok(&f.data)
}

fn init() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = ff::init();
        ff::util::log::set_level(ff::util::log::Level::Error);
    });
}

/// An in-memory file ffmpeg can write to and seek in.
#[derive(Clone, Default)]
struct MemFile(Arc<Mutex<Cursor<Vec<u8>>>>);

impl Write for MemFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("memfile").write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Seek for MemFile {
    fn seek(&mut self, pos: SeekFrom) -> std::io::Result<u64> {
        self.0.lock().expect("memfile").seek(pos)
    }
}

impl MemFile {
    fn take(&self) -> Vec<u8> {
        std::mem::take(self.0.lock().expect("memfile").get_mut())
    }
}

/// The 19-byte OpusHead Matroska wants as Opus's codec private data.
fn opus_head() -> Vec<u8> {
    let mut h = b"OpusHead".to_vec();
    h.push(1); // version
    h.push(2); // channels
    h.extend_from_slice(&312u16.to_le_bytes()); // pre-skip
    h.extend_from_slice(&48000u32.to_le_bytes());
    h.extend_from_slice(&0i16.to_le_bytes()); // output gain
    h.push(0); // channel mapping family
    h
}

fn add_streams(out: &mut ff::format::context::Output, layout: &Layout) -> Result<Vec<Track>, WebmError> {
    let mut order = Vec::new();
    if let Some((w, h)) = layout.video {
        let mut par = codec::Parameters::new();
        par.set_medium(media::Type::Video);
        par.set_id(codec::Id::VP8);
        // SAFETY: `par` owns a valid AVCodecParameters; width and height are plain fields.
        unsafe {
            let p = par.as_mut_ptr();
            (*p).width = w as i32;
            (*p).height = h as i32;
        }
        let mut s = out.add_stream(codec::Id::None)?;
        s.set_parameters(par);
        s.set_time_base(MS);
        order.push(Track::Video);
    }
    if layout.audio {
        let mut par = codec::Parameters::new();
        par.set_medium(media::Type::Audio);
        par.set_id(codec::Id::OPUS);
        let head = opus_head();
        // SAFETY: the fields are plain data; extradata is allocated with av_mallocz and padded
        // as ffmpeg requires, and ownership passes to the parameters (freed with them).
        unsafe {
            let p = par.as_mut_ptr();
            (*p).sample_rate = 48000;
            ffi::av_channel_layout_default(&mut (*p).ch_layout, 2);
            let extra = ffi::av_mallocz(head.len() + ffi::AV_INPUT_BUFFER_PADDING_SIZE as usize) as *mut u8;
            std::ptr::copy_nonoverlapping(head.as_ptr(), extra, head.len());
            (*p).extradata = extra;
            (*p).extradata_size = head.len() as i32;
        }
        let mut s = out.add_stream(codec::Id::None)?;
        s.set_parameters(par);
        s.set_time_base(MS);
        order.push(Track::Audio);
    }
    if order.is_empty() {
        return Err(WebmError::Empty);
    }
    Ok(order)
}

/// An open WebM output: the header is written, frames go in one at a time.
struct Muxer {
    out: ff::format::context::Output,
    order: Vec<Track>,
    /// Frames written on a track so far.
    written: usize,
}

impl Muxer {
    fn start(io: StreamIo, format: &str, layout: &Layout) -> Result<Self, WebmError> {
        Self::start_titled(io, format, layout, None)
    }

    /// A muxer whose file and tracks carry `title` (Matroska's segment title and track names).
    fn start_titled(io: StreamIo, format: &str, layout: &Layout, title: Option<&str>) -> Result<Self, WebmError> {
        let mut out = ff::format::output_to_stream(io, None, Some(format))?;
        let order = add_streams(&mut out, layout)?;
        if let Some(title) = title {
            let mut meta = ff::Dictionary::new();
            meta.set("title", title);
            out.set_metadata(meta.clone());
            for i in 0..order.len() {
                if let Some(mut s) = out.stream_mut(i) {
                    s.set_metadata(meta.clone());
                }
            }
        }
        out.write_header()?;
        Ok(Self { out, order, written: 0 })
    }

    fn write(&mut self, f: &Frame) -> Result<(), WebmError> {
        let Some(index) = self.order.iter().position(|t| *t == f.track) else {
            return Ok(());
        };
        let mut pkt = Packet::copy(&f.data);
        pkt.set_stream(index);
        pkt.set_pts(Some(f.time_ms));
        pkt.set_dts(Some(f.time_ms));
        if f.keyframe || f.track == Track::Audio {
            pkt.set_flags(codec::packet::Flags::KEY);
        }
        let tb = self.out.stream(index).map(|s| s.time_base()).unwrap_or(MS);
        pkt.rescale_ts(MS, tb);
        pkt.write_interleaved(&mut self.out)?;
        self.written += 1;
        Ok(())
    }

    /// Writes the trailer (cues, sizes) and closes the output.
    fn finish(mut self) -> Result<(), WebmError> {
        self.out.write_trailer()?;
        Ok(())
    }
}

/// Muxes frames (in time order, none before 0) into one self-contained WebM file. Refuses to
/// write a file without a frame on its tracks: libavformat cannot read one back (its stream
/// probe runs into the end of the file), so such a segment would make its whole stream fail to
/// export.
pub fn mux(layout: &Layout, frames: &[Frame]) -> Result<Vec<u8>, WebmError> {
    mux_as("webm", layout, frames)
}

/// [`mux`] into another container (tests use it to make files that are not WebM).
fn mux_as(format: &str, layout: &Layout, frames: &[Frame]) -> Result<Vec<u8>, WebmError> {
    let on_a_track = |f: &Frame| match f.track {
        Track::Video => layout.video.is_some(),
        Track::Audio => layout.audio,
    };
    if !frames.iter().any(on_a_track) {
        return Err(WebmError::Empty);
    }
    // libavformat would shift every track so the earliest frame starts at 0: refused instead,
    // so a segment's times are always the recording's.
    if frames.iter().any(|f| f.time_ms < 0) {
        return Err(WebmError::BeforeStart);
    }
    if frames.iter().any(too_short) {
        return Err(WebmError::Foreign("a VP8 frame without a valid frame tag"));
    }
    init();
    let file = MemFile::default();
    let mut muxer = Muxer::start(StreamIo::from_write_seek(file.clone())?, format, layout)?;
    for f in frames {
        muxer.write(f)?;
    }
    muxer.finish()?;
    Ok(file.take())
}

/// Reads the frames and layout back out of a WebM file the recorder wrote. Anything else is
/// refused rather than read as if it were one: another container (libavformat would otherwise
/// probe every format it knows, playlists that open other files among them), a codec other
/// than VP8 or Opus (a remux would label its frames VP8 or Opus), or two tracks of one kind.
pub fn demux(webm: &[u8]) -> Result<(Layout, Vec<Frame>), WebmError> {
    init();
    let io = StreamIo::from_read_seek(Cursor::new(webm.to_vec()))?;
    let mut only_webm = ff::Dictionary::new();
    only_webm.set("format_whitelist", "matroska,webm");
    let mut input = ff::format::input_from_stream(io, None, Some(only_webm))?;
    let mut layout = Layout {
        video: None,
        audio: false,
    };
    let mut tracks = Vec::new();
    for s in input.streams() {
        let par = s.parameters();
        let (kind, codec) = match par.medium() {
            media::Type::Video => (Some(Track::Video), Some(codec::Id::VP8)),
            media::Type::Audio => (Some(Track::Audio), Some(codec::Id::OPUS)),
            _ => (None, None),
        };
        if codec.is_some_and(|c| c != par.id()) {
            return Err(WebmError::Foreign("a codec other than VP8 or Opus"));
        }
        if kind.is_some() && tracks.iter().any(|(k, _)| *k == kind) {
            return Err(WebmError::Foreign("two tracks of one kind"));
        }
        match kind {
            // SAFETY: reading plain fields of valid parameters.
            Some(Track::Video) => {
                layout.video = Some(unsafe { ((*par.as_ptr()).width as u32, (*par.as_ptr()).height as u32) })
            }
            Some(Track::Audio) => layout.audio = true,
            None => {}
        }
        tracks.push((kind, s.time_base()));
    }
    let mut frames = Vec::new();
    for (stream, mut pkt) in input.packets() {
        let Some((Some(track), tb)) = tracks.get(stream.index()).copied() else {
            continue;
        };
        pkt.rescale_ts(tb, MS);
        let frame = Frame {
            track,
            time_ms: pkt.pts().unwrap_or(0),
            keyframe: pkt.is_key(),
            data: pkt.data().unwrap_or_default().to_vec(),
        };
        if too_short(&frame) {
            return Err(WebmError::Foreign("a VP8 frame without a valid frame tag"));
        }
        frames.push(frame);
    }
    Ok((layout, frames))
}

/// Joins segments into one WebM file as they come, one segment at a time, writing to its sink
/// as it goes: an export of hours holds one segment in memory, never the recording. The frames
/// and their times are exactly those of the segments, remuxed (never transcoded), so where the
/// segments leave a gap (a camera turned off, a rejoin) the file has the same gap.
pub struct Joiner {
    /// Opens the output on the first segment (nothing is written before).
    open: Option<Box<dyn FnOnce() -> Result<StreamIo, ff::Error> + Send>>,
    /// The title for the file and its tracks, if any.
    title: Option<String>,
    /// The output, and the layout of the first segment, whose tracks every other must share.
    muxer: Option<(Muxer, Layout)>,
}

impl Joiner {
    /// A joiner writing to `sink` (a file, usually), with cues for seeking.
    pub fn new<W: Write + Seek + Send + 'static>(sink: W) -> Self {
        Self::opening(Box::new(move || StreamIo::from_write_seek(sink)))
    }

    /// A joiner writing to a sink it cannot seek in (a download as it streams): the file has
    /// no cues, so a player finds its way through it by reading.
    pub fn streaming<W: Write + Send + 'static>(sink: W) -> Self {
        Self::opening(Box::new(move || StreamIo::from_write(sink)))
    }

    fn opening(open: Box<dyn FnOnce() -> Result<StreamIo, ff::Error> + Send>) -> Self {
        Self {
            open: Some(open),
            title: None,
            muxer: None,
        }
    }

    /// Names the file and its tracks (Matroska's title and track names), as an export does
    /// ("Ms Rivera, camera").
    pub fn titled(mut self, title: &str) -> Self {
        self.title = Some(title.to_owned());
        self
    }

    /// Appends one segment's frames. Fails if it is not a segment the recorder writes, it has
    /// other tracks than the first (a picture of another size is fine: each VP8 keyframe
    /// carries its own), or a frame is timed before the start (as [`mux`] does).
    pub fn push(&mut self, segment: &[u8]) -> Result<(), WebmError> {
        let (layout, frames) = demux(segment)?;
        if frames.iter().any(|f| f.time_ms < 0) {
            return Err(WebmError::BeforeStart);
        }
        if let Some(open) = self.open.take() {
            let muxer = Muxer::start_titled(open()?, "webm", &layout, self.title.as_deref())?;
            self.muxer = Some((muxer, layout));
        }
        let Some((muxer, first)) = self.muxer.as_mut() else {
            return Err(WebmError::Empty);
        };
        if first.video.is_some() != layout.video.is_some() || first.audio != layout.audio {
            return Err(WebmError::Mismatch);
        }
        frames.iter().try_for_each(|f| muxer.write(f))
    }

    /// Finishes the file (its cues and sizes). Fails if no frame was written: libavformat
    /// could not read the file back.
    pub fn finish(self) -> Result<(), WebmError> {
        let (muxer, _) = self.muxer.ok_or(WebmError::Empty)?;
        if muxer.written == 0 {
            return Err(WebmError::Empty);
        }
        muxer.finish()
    }
}

/// The title of a WebM file and of each of its tracks, as [`Joiner::titled`] writes them.
pub fn titles(webm: &[u8]) -> Result<(Option<String>, Vec<Option<String>>), WebmError> {
    init();
    let io = StreamIo::from_read_seek(Cursor::new(webm.to_vec()))?;
    let mut only_webm = ff::Dictionary::new();
    only_webm.set("format_whitelist", "matroska,webm");
    let input = ff::format::input_from_stream(io, None, Some(only_webm))?;
    let title = input.metadata().get("title").map(str::to_owned);
    let tracks = input
        .streams()
        .map(|s| s.metadata().get("title").map(str::to_owned))
        .collect();
    Ok((title, tracks))
}

/// Joins segments (in order) into one WebM file in memory (small recordings and tests; an
/// export uses [`Joiner`] with a file).
pub fn concat(segments: &[Vec<u8>]) -> Result<Vec<u8>, WebmError> {
    let file = MemFile::default();
    let mut joiner = Joiner::new(file.clone());
    for seg in segments {
        joiner.push(seg)?;
    }
    joiner.finish()?;
    Ok(file.take())
}

/// Reads a whole stream, for callers that hold a reader.
pub fn read_all(mut r: impl Read) -> std::io::Result<Vec<u8>> {
    let mut v = Vec::new();
    r.read_to_end(&mut v)?;
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn frames(start_ms: i64, seconds: i64) -> Vec<Frame> {
        let mut v = Vec::new();
        for i in 0..seconds * 50 {
            let t = start_ms + i * 20;
            if i % 5 == 0 {
                // Not a decodable picture, but a well-formed VP8 frame header is not needed to remux.
                v.push(Frame {
                    track: Track::Video,
                    time_ms: t,
                    keyframe: i == 0,
                    data: vec![0x10 | (i as u8 & 1), 1, 2, 3],
                });
            }
            v.push(Frame {
                track: Track::Audio,
                time_ms: t,
                keyframe: true,
                data: vec![0xfc, i as u8],
            });
        }
        v
    }

    #[test]
    fn mux_demux_round_trip() {
        let layout = Layout {
            video: Some((320, 240)),
            audio: true,
        };
        let input = frames(2000, 2);
        let webm = mux(&layout, &input).unwrap();
        assert_eq!(&webm[..4], &[0x1a, 0x45, 0xdf, 0xa3], "EBML magic");
        let (l, out) = demux(&webm).unwrap();
        assert_eq!(l, layout);
        assert_eq!(out.len(), input.len());
        let mut sorted = input.clone();
        sorted.sort_by_key(|f| (f.time_ms, f.track == Track::Audio));
        let mut got = out.clone();
        got.sort_by_key(|f| (f.time_ms, f.track == Track::Audio));
        for (a, b) in sorted.iter().zip(&got) {
            assert_eq!((a.track, a.time_ms, &a.data), (b.track, b.time_ms, &b.data));
        }
    }

    #[test]
    fn concat_keeps_times() {
        let layout = Layout {
            video: None,
            audio: true,
        };
        let a = mux(
            &layout,
            &frames(0, 1)
                .into_iter()
                .filter(|f| f.track == Track::Audio)
                .collect::<Vec<_>>(),
        )
        .unwrap();
        let b = mux(
            &layout,
            &frames(1000, 1)
                .into_iter()
                .filter(|f| f.track == Track::Audio)
                .collect::<Vec<_>>(),
        )
        .unwrap();
        let joined = concat(&[a, b]).unwrap();
        let (_, out) = demux(&joined).unwrap();
        assert_eq!(out.len(), 100);
        assert_eq!(out.first().unwrap().time_ms, 0);
        assert_eq!(out.last().unwrap().time_ms, 1980);
    }

    /// What an export wrote before it streamed: every segment demuxed, then all muxed at once.
    fn join_all_at_once(segments: &[Vec<u8>]) -> Vec<u8> {
        let mut layout = None;
        let mut all = Vec::new();
        for seg in segments {
            let (l, frames) = demux(seg).unwrap();
            layout.get_or_insert(l);
            all.extend(frames);
        }
        mux(&layout.unwrap(), &all).unwrap()
    }

    #[test]
    fn joining_one_segment_at_a_time_writes_the_same_frames() {
        // Byte for byte two joins differ (the muxer draws random segment and track ids), so
        // compare what a player or ffprobe sees: the tracks and every frame with its time.
        let layout = Layout {
            video: Some((320, 240)),
            audio: true,
        };
        let segments: Vec<Vec<u8>> = (0..4).map(|i| mux(&layout, &frames(i * 2000, 2)).unwrap()).collect();
        let expected = demux(&join_all_at_once(&segments)).unwrap();
        assert_eq!(demux(&concat(&segments).unwrap()).unwrap(), expected, "in memory");
        let path = std::env::temp_dir().join(format!("lg_join_{}.webm", rand::random::<u64>()));
        let mut joiner = Joiner::new(std::fs::File::create(&path).unwrap());
        for seg in &segments {
            joiner.push(seg).unwrap();
        }
        joiner.finish().unwrap();
        let written = std::fs::read(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        let (l, out) = demux(&written).unwrap();
        assert!(l == expected.0 && out == expected.1, "streamed to a file");
        assert_eq!(out.len(), 4 * (100 + 20));
        assert_eq!((out.first().unwrap().time_ms, out.last().unwrap().time_ms), (0, 7980));
    }

    /// Found with Firefox as the teacher (issue 14): the export of a lesson whose camera grew
    /// from one segment to the next failed with `Mismatch`.
    #[test]
    fn a_join_takes_a_change_of_video_size() {
        let sized = |w, h, start| {
            let layout = Layout {
                video: Some((w, h)),
                audio: true,
            };
            mux(&layout, &frames(start, 2)).unwrap()
        };
        let segments = [sized(320, 240, 0), sized(640, 480, 2000), sized(320, 180, 4000)];
        let (layout, out) = demux(&concat(&segments).unwrap()).unwrap();
        assert_eq!(layout.video, Some((320, 240)), "the header keeps the first size");
        assert_eq!(out.len(), 3 * (100 + 20), "every frame of every segment");
    }

    #[test]
    fn a_join_refuses_other_tracks_and_nothing() {
        let both = mux(
            &Layout {
                video: Some((320, 240)),
                audio: true,
            },
            &frames(0, 1),
        )
        .unwrap();
        let audio: Vec<Frame> = frames(1000, 1)
            .into_iter()
            .filter(|f| f.track == Track::Audio)
            .collect();
        let audio_only = mux(
            &Layout {
                video: None,
                audio: true,
            },
            &audio,
        )
        .unwrap();
        assert!(matches!(concat(&[both, audio_only]), Err(WebmError::Mismatch)));
        assert!(matches!(concat(&[]), Err(WebmError::Empty)));
        assert!(concat(&[b"not webm".to_vec()]).is_err());
    }

    /// The golden segments: their layout and the frames they hold.
    fn golden_cases() -> [(&'static str, Layout, Vec<Frame>); 3] {
        let only = |track, v: Vec<Frame>| v.into_iter().filter(|f| f.track == track).collect::<Vec<_>>();
        [
            (
                "segment-av.webm",
                Layout {
                    video: Some((320, 240)),
                    audio: true,
                },
                frames(0, 1),
            ),
            (
                "segment-audio.webm",
                Layout {
                    video: None,
                    audio: true,
                },
                only(Track::Audio, frames(1000, 1)),
            ),
            (
                "segment-video.webm",
                Layout {
                    video: Some((640, 360)),
                    audio: false,
                },
                only(Track::Video, frames(2000, 1)),
            ),
        ]
    }

    /// Segments written by an earlier build still demux to their frames (old recordings stay
    /// playable). Compared by content, not bytes: the muxer writes ffmpeg's version into the
    /// header. `UPDATE_GOLDEN=1` rewrites them; the fuzz corpus copies them (fuzz/make-seeds.py).
    #[test]
    fn golden_segments_still_demux() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/golden");
        for (name, layout, input) in golden_cases() {
            let path = format!("{dir}/{name}");
            if std::env::var_os("UPDATE_GOLDEN").is_some() {
                std::fs::write(&path, mux(&layout, &input).unwrap()).unwrap();
            }
            let (l, out) = demux(&std::fs::read(&path).unwrap()).unwrap();
            assert_eq!(l, layout, "{name}");
            for track in [Track::Video, Track::Audio] {
                let want: Vec<_> = input
                    .iter()
                    .filter(|f| f.track == track)
                    .map(|f| (f.time_ms, &f.data))
                    .collect();
                let got: Vec<_> = out
                    .iter()
                    .filter(|f| f.track == track)
                    .map(|f| (f.time_ms, &f.data))
                    .collect();
                assert_eq!(got, want, "{name} {track:?}");
            }
        }
    }

    /// Found by fuzz_webm_demux: a segment with tracks but no frames was written, and could not
    /// be read back (so a stream holding one could not be exported).
    #[test]
    fn a_segment_without_frames_is_refused() {
        let av = Layout {
            video: Some((320, 240)),
            audio: true,
        };
        for (layout, frames) in [
            (av, vec![]),
            (
                Layout {
                    video: None,
                    audio: true,
                },
                vec![],
            ),
            (
                Layout {
                    video: None,
                    audio: true,
                },
                frames(0, 1).into_iter().filter(|f| f.track == Track::Video).collect(),
            ),
        ] {
            assert!(
                matches!(mux(&layout, &frames), Err(WebmError::Empty)),
                "{layout:?} with {} frames",
                frames.len()
            );
        }
        // One frame on one of two tracks is a segment, and reads back.
        let one = [Frame {
            track: Track::Audio,
            time_ms: 0,
            keyframe: true,
            data: vec![0xfc, 1],
        }];
        assert_eq!(demux(&mux(&av, &one).unwrap()).unwrap().1, one);
    }

    /// Found by fuzz_webm_demux: a segment whose codec was not VP8 was read as video and remuxed
    /// labelled VP8. Only what the recorder writes is read: WebM, VP8, Opus, one track of each.
    #[test]
    fn only_what_the_recorder_writes_is_read() {
        let av = mux(
            &Layout {
                video: Some((320, 240)),
                audio: true,
            },
            &frames(0, 1),
        )
        .unwrap();
        assert!(demux(&av).is_ok());
        // The same file with its video codec renamed (V_VP8 to V_VP9, same length).
        let at = av.windows(5).position(|w| w == b"V_VP8").unwrap();
        let mut vp9 = av.clone();
        vp9[at + 4] = b'9';
        assert!(matches!(demux(&vp9), Err(WebmError::Foreign(_))), "another codec");
        // The same Opus frames in another container libavformat reads (Ogg).
        let audio: Vec<Frame> = frames(0, 1).into_iter().filter(|f| f.track == Track::Audio).collect();
        let ogg = mux_as(
            "ogg",
            &Layout {
                video: None,
                audio: true,
            },
            &audio,
        )
        .unwrap();
        assert_eq!(&ogg[..4], b"OggS");
        assert!(demux(&ogg).is_err(), "an Ogg file is not a segment");
    }

    /// Found by fuzz_webm_demux: an audio frame at -2 ms made libavformat shift every track of
    /// the remuxed segment by 2 ms.
    #[test]
    fn a_frame_before_the_start_is_refused() {
        let layout = Layout {
            video: Some((320, 240)),
            audio: true,
        };
        let mut input = frames(0, 1);
        input.insert(
            1,
            Frame {
                track: Track::Audio,
                time_ms: -2,
                keyframe: true,
                data: vec![0xfc, 9],
            },
        );
        assert!(matches!(mux(&layout, &input), Err(WebmError::BeforeStart)));
        assert!(mux(&layout, &input[2..]).is_ok());
    }

    /// Found by fuzz_webm_demux: a 2-byte VP8 frame marked a keyframe was read back from a
    /// join as an interframe (libavformat took the flag of the frame before it).
    #[test]
    fn a_vp8_frame_without_a_valid_tag_is_refused() {
        let layout = Layout {
            video: Some((320, 240)),
            audio: true,
        };
        let mut input = frames(0, 1);
        input.push(Frame {
            track: Track::Video,
            time_ms: 1000,
            keyframe: true,
            data: vec![0xfc, 4],
        });
        assert!(matches!(mux(&layout, &input), Err(WebmError::Foreign(_))));
        assert!(mux(&layout, &input[..input.len() - 1]).is_ok());
        // Written anyway (as another muxer could), it is not read either.
        let tiny = vec![Frame {
            track: Track::Video,
            time_ms: 0,
            keyframe: true,
            data: vec![0x10, 1],
        }];
        let file = mux_unchecked(&layout, &tiny);
        assert!(matches!(demux(&file), Err(WebmError::Foreign(_))));
        assert!(matches!(
            concat(&[mux(&layout, &frames(0, 1)).unwrap(), file]),
            Err(WebmError::Foreign(_))
        ));
        // Found next: a tag whose version is over 3 (0xfc: version 6), also read with the flag
        // of the frame before it.
        let mut input = frames(0, 1);
        input.push(Frame {
            track: Track::Video,
            time_ms: 1000,
            keyframe: true,
            data: vec![0xfc, 3, 0xa3, 0x86],
        });
        assert!(matches!(mux(&layout, &input), Err(WebmError::Foreign(_))));
        let odd = vec![Frame {
            track: Track::Video,
            time_ms: 0,
            keyframe: true,
            data: vec![0xfc, 3, 0xa3, 0x86],
        }];
        assert!(matches!(
            demux(&mux_unchecked(&layout, &odd)),
            Err(WebmError::Foreign(_))
        ));
    }

    /// Muxes without the checks of [`mux`], to make files the recorder never writes.
    fn mux_unchecked(layout: &Layout, frames: &[Frame]) -> Vec<u8> {
        init();
        let file = MemFile::default();
        let mut muxer = Muxer::start(StreamIo::from_write_seek(file.clone()).unwrap(), "webm", layout).unwrap();
        frames.iter().for_each(|f| muxer.write(f).unwrap());
        muxer.finish().unwrap();
        file.take()
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(demux(b"").is_err());
        assert!(
            demux(&[0x1a, 0x45, 0xdf, 0xa3, 0, 0, 0]).is_err()
                || demux(&[0x1a, 0x45, 0xdf, 0xa3, 0, 0, 0]).unwrap().1.is_empty()
        );
        assert!(mux(
            &Layout {
                video: None,
                audio: false
            },
            &[]
        )
        .is_err());
    }
}
