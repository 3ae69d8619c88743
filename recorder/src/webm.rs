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
mod tests;
