//! A leader's download of one timeline of an opened recording: its segments read one at a time
//! (each checked against the audited manifest and decrypted, as playback reads them), joined into
//! one WebM as they come and streamed out, titled and named as the player names the timeline
//! ("Ms Rivera, camera.webm"). Nothing of it is ever whole in memory or on disk in the clear:
//! one segment is being joined while the next is read, and the joined file leaves in chunks
//! through a bounded channel, so a slow download slows only its own reading.
//!
//! A joined file is written to a sink that cannot seek, so it carries no cues: players find
//! their way through it by reading (`livegate-recorder export` writes cues, for long exports).

use std::io::Write;
use std::sync::Arc;

use bytes::Bytes;
use livegate_recorder::timeline;
use livegate_recorder::webm::Joiner;
use tokio::sync::mpsc;

use super::playback::{Playback, PlaybackError};

/// Downloads being joined at once, server-wide; another is refused until one ends.
pub const DOWNLOADS: usize = 4;
/// Bytes handed to the response at a time.
const CHUNK: usize = 64 * 1024;
/// Chunks that may wait for a slow client before joining waits too.
const CHUNKS_QUEUED: usize = 4;

/// One part of a download's body, or why it stopped (the connection is then cut, so a partial
/// file never looks whole).
pub type Part = Result<Bytes, std::io::Error>;

/// A download under way: what to call it and its body as it comes.
pub struct Download {
    /// "Ms Rivera, camera", a pupil's alias where set. Personal data: for the leader only.
    pub title: String,
    /// The title as a file name, with `.webm`.
    pub file_name: String,
    /// `video/webm`, or `audio/webm` for sound alone.
    pub mime: &'static str,
    pub body: mpsc::Receiver<Part>,
}

/// Writes what the muxer gives it to the response in chunks, waiting while the client is slow;
/// fails once the client has gone, which stops the join.
struct ToResponse {
    tx: mpsc::Sender<Part>,
    buf: Vec<u8>,
}

impl ToResponse {
    fn send(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::take(&mut self.buf));
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::BrokenPipe))
    }
}

impl Write for ToResponse {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.send()
    }
}

/// The muxer's last bytes go when it lets go of its output.
impl Drop for ToResponse {
    fn drop(&mut self) {
        let _ = self.send();
    }
}

impl Playback {
    /// Starts the download of timeline `label`: `NotFound` if there is none, `Busy` if
    /// [`DOWNLOADS`] are under way. The caller audits it first.
    pub fn download(self: &Arc<Self>, label: &str) -> Result<Download, PlaybackError> {
        let stream = self.stream(label).ok_or(PlaybackError::NotFound)?;
        let permit = self
            .downloads
            .clone()
            .try_acquire_owned()
            .map_err(|_| PlaybackError::Busy)?;
        let (title, count) = (stream.title.clone(), stream.segments.len());
        let mime = if stream.tracks.iter().any(|t| t == "video") {
            "video/webm"
        } else {
            "audio/webm"
        };
        let (out, body) = mpsc::channel::<Part>(CHUNKS_QUEUED);
        let (segments_tx, mut segments) = mpsc::channel::<Vec<u8>>(1);
        let (failed, cut) = (out.clone(), out.clone());
        let named = title.clone();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let mut joiner = Joiner::streaming(ToResponse {
                tx: out,
                buf: Vec::new(),
            })
            .titled(&named);
            let mut result = Ok(());
            while let Some(segment) = segments.blocking_recv() {
                result = joiner.push(&segment);
                if result.is_err() {
                    break;
                }
            }
            if let Err(e) = result.and_then(|()| joiner.finish()) {
                let _ = failed.blocking_send(Err(std::io::Error::other(e)));
            }
        });
        let playback = self.clone();
        let label = label.to_owned();
        tokio::spawn(async move {
            for n in 0..count {
                match playback.segment(&label, n).await {
                    Ok(segment) => {
                        if segments_tx.send(segment).await.is_err() {
                            return;
                        }
                    }
                    Err(e) => {
                        // Cut the download: a file that stops early must not look whole.
                        tracing::warn!(recording = %playback.recording, error = %e, "a download stopped at a segment that cannot be served");
                        let _ = cut.send(Err(std::io::Error::other(e))).await;
                        return;
                    }
                }
            }
        });
        Ok(Download {
            file_name: timeline::file_name(&title),
            title,
            mime,
            body,
        })
    }
}
