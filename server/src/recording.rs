//! Every lesson recorded: the server side of the recorder.
//!
//! [`Recordings`] is the service: it owns the spool, the object store, the schools' keys and
//! the supervised upload worker, and at start-up closes recordings a crash left open. Each live
//! lesson gets a [`LessonRecorder`]: a thread of its own that the media engine feeds copies of
//! published RTP through a bounded channel (it is the stream's `media::Tap`; `try_send`, so
//! recording never slows forwarding),
//! and that assembles frames, cuts two-second segments, and seals them into the spool. If the
//! spool cannot be written the recorder reports failure, and the lesson fails closed: pupils
//! are refused with `recording_unavailable`. Leaders play recordings back segment by segment
//! ([`playback`]) and download a timeline joined into one file ([`download`]).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc as std_mpsc, Arc};
use std::time::{Duration, Instant};

use livegate_recorder::frames::{Assembler, Segmenter, SEGMENT_MS, SEGMENT_SLACK_MS};
use livegate_recorder::objstore::{ObjectStoreConfig, Objects};
use livegate_recorder::seal::DataKey;
use livegate_recorder::spool::{self, Meta, RecordingWriter, Status};
use livegate_recorder::webm::Track;
use rtc::rtp;
use tokio::sync::watch;

use crate::media::{StreamKey, Tap};
use livegate_core::ids::{Redacted, SchoolId, UserId};
use livegate_core::proto::{LessonRole, StreamKind};
use livegate_sfu::{SegmentKeyframes, TrackKind};

pub mod download;
pub mod keys;
pub mod playback;

pub use keys::Keyring;

/// How often a recorded publisher is asked for a keyframe, so segments are about 2 s long:
/// the recorder's segment length (`livegate_recorder::frames::SEGMENT_MS`).
pub const RECORDING_KEYFRAME_EVERY: Duration = Duration::from_millis(SEGMENT_MS as u64);

/// The keyframes a recorded video track needs, by the recorder's rule for cutting segments: a
/// keyframe at least `SEGMENT_MS - SEGMENT_SLACK_MS` into a segment starts the next, so one
/// that comes sooner (a pupil joining) does not put off the request for the next segment.
const SEGMENT_KEYFRAMES: SegmentKeyframes = SegmentKeyframes {
    every: RECORDING_KEYFRAME_EVERY,
    shortest: Duration::from_millis((SEGMENT_MS - SEGMENT_SLACK_MS) as u64),
};

/// How many packets may wait for a lesson's recorder before new ones are dropped (counted).
pub const RECORDER_QUEUE: usize = 8192;

/// Why recording could not start or continue.
#[derive(Debug, thiserror::Error)]
pub enum RecordingError {
    #[error("no key-encryption key for this school")]
    NoKey,
    #[error("the spool cannot be written: {0}")]
    Spool(String),
    #[error("object store: {0}")]
    Objects(String),
}

/// A recording that reached the object store whole, or was closed after a crash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finished {
    pub recording: String,
    pub school: String,
    pub manifest_sha256: String,
    pub interrupted: bool,
}

/// The recording service.
pub struct Recordings {
    pub spool: PathBuf,
    pub objects: Arc<Objects>,
    pub keyring: Keyring,
    wake: Arc<tokio::sync::Notify>,
    /// Bounds the segments being read for playback at once ([`playback::SEGMENT_READS`]).
    playback_reads: Arc<tokio::sync::Semaphore>,
    /// Bounds the downloads being joined at once ([`download::DOWNLOADS`]).
    downloads: Arc<tokio::sync::Semaphore>,
}

impl Recordings {
    /// Opens the spool and the store, closes recordings a crash left open (reported through
    /// `on_finished` as interrupted), and starts the upload worker.
    pub fn start(
        spool: PathBuf,
        objects: &ObjectStoreConfig,
        keys_dir: PathBuf,
        on_finished: impl Fn(Finished) + Send + Sync + 'static,
    ) -> Result<Arc<Self>, RecordingError> {
        std::fs::create_dir_all(&spool).map_err(|e| RecordingError::Spool(e.to_string()))?;
        let objects = Arc::new(Objects::open(objects).map_err(|e| RecordingError::Objects(e.to_string()))?);
        let service = Arc::new(Self {
            spool,
            objects,
            keyring: Keyring::new(keys_dir),
            wake: Arc::new(tokio::sync::Notify::new()),
            playback_reads: Arc::new(tokio::sync::Semaphore::new(playback::SEGMENT_READS)),
            downloads: Arc::new(tokio::sync::Semaphore::new(download::DOWNLOADS)),
        });
        let recovered = spool::recover(&service.spool, |school| service.keyring.get(school))
            .map_err(|e| RecordingError::Spool(e.to_string()))?;
        let on_finished = Arc::new(on_finished);
        for r in recovered {
            tracing::warn!(recording = %r.recording, "a recording was interrupted by a restart; closed with the gap recorded");
            on_finished(Finished {
                recording: r.recording,
                school: r.school,
                manifest_sha256: r.manifest_sha256,
                interrupted: true,
            });
        }
        let done = on_finished.clone();
        tokio::spawn(spool::run_uploader(
            service.spool.clone(),
            service.objects.clone(),
            service.wake.clone(),
            move |u| {
                done(Finished {
                    recording: u.recording,
                    school: String::new(),
                    manifest_sha256: u.manifest_sha256,
                    interrupted: false,
                })
            },
        ));
        Ok(service)
    }

    /// True if the object store answers: a probe for an object that is never written comes
    /// back found or not found (a local folder must also still be there).
    pub async fn objects_reachable(&self) -> bool {
        if let Objects::Local(root) = &*self.objects {
            if !root.is_dir() {
                return false;
            }
        }
        matches!(
            self.objects.get("readyz/probe").await,
            Ok(_) | Err(livegate_recorder::objstore::StoreError::NotFound)
        )
    }

    /// Whether a lesson of `school` can be recorded, as far as can be told before one starts
    /// (its key is there); a spool that cannot be written is found when a recording begins.
    pub fn ready_for(&self, school: &SchoolId) -> bool {
        self.keyring.get(school.as_str()).is_some()
    }

    /// Starts recording a lesson. Fails if the school has no key or the spool cannot be written.
    pub fn begin(&self, school: &SchoolId, recording: &str, started_at: i64) -> Result<LessonRecorder, RecordingError> {
        let kek = self.keyring.get(school.as_str()).ok_or(RecordingError::NoKey)?;
        let key = DataKey::generate().map_err(|e| RecordingError::Spool(e.to_string()))?;
        let meta = Meta {
            recording: recording.to_owned(),
            school: school.to_string(),
            started_at,
        };
        let writer =
            RecordingWriter::create(&self.spool, meta, key, &kek).map_err(|e| RecordingError::Spool(e.to_string()))?;
        let wrapped = std::fs::read(self.spool.join(recording).join("key.wrapped"))
            .map_err(|e| RecordingError::Spool(e.to_string()))?;
        Ok(LessonRecorder::spawn(writer, wrapped, self.wake.clone()))
    }
}

/// Who published a recorded stream, as the lesson knows them: the recording names the stream
/// after them ("Ms Rivera, camera"), and groups a person's streams of one kind into one
/// timeline however often they turn it off and on or rejoin.
pub struct StreamSource {
    pub person: UserId,
    pub role: LessonRole,
    pub kind: StreamKind,
    /// The name the lesson shows others: a pupil's privacy alias where one is set. Redacted in
    /// any print.
    pub name: Redacted<String>,
    /// True when `name` is a privacy alias.
    pub alias: bool,
}

/// What the media engine and the lesson send a lesson's recorder.
pub enum RecorderMsg {
    /// A stream was published, with these tracks, by `source` (if the lesson says).
    StreamStarted {
        stream: StreamKey,
        video: bool,
        audio: bool,
        source: Option<StreamSource>,
    },
    /// A copy of a published packet.
    Rtp {
        stream: StreamKey,
        kind: TrackKind,
        packet: rtp::Packet,
        at: Instant,
    },
    /// A published stream ended.
    StreamEnded(StreamKey),
    /// The lesson ended: finish every stream and seal the manifest.
    Finish,
}

/// A live lesson's recorder.
#[derive(Clone)]
pub struct LessonRecorder {
    pub id: String,
    /// The data key wrapped by the school's KEK (kept with the recording's row).
    pub wrapped_key: Vec<u8>,
    tx: std_mpsc::SyncSender<RecorderMsg>,
    /// Raised once writing to the spool has failed; the lesson waits on it (never polls).
    failed: Arc<watch::Sender<bool>>,
    dropped: Arc<AtomicU64>,
    segments: Arc<AtomicU64>,
    /// Closes when the recorder's thread has exited (after sealing the manifest).
    done: watch::Receiver<()>,
}

struct StreamState {
    label: String,
    source: Option<spool::Source>,
    video: Assembler,
    audio: Assembler,
    segmenter: Segmenter,
}

impl std::fmt::Debug for LessonRecorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LessonRecorder")
            .field("id", &self.id)
            .field("failed", &self.failed())
            .finish()
    }
}

impl LessonRecorder {
    /// True if the lesson is being recorded and nothing has failed yet.
    pub fn healthy(recorder: Option<&Self>) -> bool {
        recorder.is_some_and(|r| !r.failed())
    }

    fn spawn(writer: RecordingWriter, wrapped_key: Vec<u8>, wake: Arc<tokio::sync::Notify>) -> Self {
        let (tx, rx) = std_mpsc::sync_channel(RECORDER_QUEUE);
        let failed = Arc::new(watch::Sender::new(false));
        let segments = Arc::new(AtomicU64::new(0));
        let (exited, done) = watch::channel(());
        let dropped = Arc::new(AtomicU64::new(0));
        let me = Self {
            id: writer.id().to_owned(),
            wrapped_key,
            tx,
            failed: failed.clone(),
            dropped,
            segments: segments.clone(),
            done,
        };
        std::thread::Builder::new()
            .name("recorder".into())
            .spawn(move || {
                run(
                    Sink {
                        writer,
                        failed,
                        segments,
                        wake,
                    },
                    rx,
                );
                drop(exited);
            })
            .expect("spawn recorder thread");
        me
    }

    /// Sends a control message (stream ended, finish), waiting for room if need be.
    pub fn send(&self, msg: RecorderMsg) {
        let _ = self.tx.send(msg);
    }

    /// True once writing to the spool has failed: the lesson must fail closed.
    pub fn failed(&self) -> bool {
        *self.failed.borrow()
    }

    /// Resolves once writing to the spool has failed (at once if it already has), so the
    /// lesson hears of it the moment it happens and an idle lesson does no work for it.
    pub async fn failure(&self) {
        // The sender lives as long as `self`, so the wait ends only with a failure.
        let _ = self.failed.subscribe().wait_for(|failed| *failed).await;
    }

    /// Marks the recording failed, as a failed spool write does: for tests of what follows.
    #[cfg(test)]
    pub(crate) fn fail_for_test(&self) {
        self.failed.send_replace(true);
    }

    /// Segments written so far.
    pub fn segments(&self) -> u64 {
        self.segments.load(Ordering::Relaxed)
    }

    /// Resolves once the recorder has finished (after [`RecorderMsg::Finish`]): every stream's
    /// last segment and the manifest are sealed in the spool, so the recording is whole even
    /// if the process stops before the uploader has sent it.
    pub async fn finished(&self) {
        let mut done = self.done.clone();
        while done.changed().await.is_ok() {}
    }

    /// Packets dropped because the recorder fell behind.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// The media engine copies a recorded lesson's published packets to its recorder, and asks
/// publishers for a keyframe about every [`RECORDING_KEYFRAME_EVERY`] so segments can start
/// on one.
impl Tap for LessonRecorder {
    fn keyframes(&self) -> Option<SegmentKeyframes> {
        Some(SEGMENT_KEYFRAMES)
    }

    /// Hands the recorder a copy of a packet without waiting; a full queue drops it (counted).
    fn offer(&self, stream: StreamKey, kind: TrackKind, packet: &rtp::Packet, at: Instant) {
        if self
            .tx
            .try_send(RecorderMsg::Rtp {
                stream,
                kind,
                packet: packet.clone(),
                at,
            })
            .is_err()
        {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            crate::telemetry::recorder_dropped();
        }
    }
}

/// Where a lesson's segments go: the spool, and the counters the lesson watches.
struct Sink {
    writer: RecordingWriter,
    failed: Arc<watch::Sender<bool>>,
    segments: Arc<AtomicU64>,
    wake: Arc<tokio::sync::Notify>,
}

impl Sink {
    /// Seals who someone is into the spool (once per person, before their first segment). A
    /// failure marks the recording failed, as a segment's would.
    fn add_person(&self, person: &spool::Person) {
        if let Err(e) = self.writer.add_person(person) {
            tracing::error!(recording = %self.writer.id(), error = %e, "recording failed; the lesson fails closed");
            self.failed.send_replace(true);
        }
    }

    /// Spools one segment and wakes the uploader; a failure marks the recording failed (the
    /// lesson then fails closed).
    fn write(&self, state: &StreamState, cut: livegate_recorder::frames::Cut) {
        match self.writer.write_segment_of(&state.label, state.source.as_ref(), &cut) {
            Ok(_) => {
                self.segments.fetch_add(1, Ordering::Relaxed);
                self.wake.notify_one();
            }
            Err(e) => {
                tracing::error!(recording = %self.writer.id(), error = %e, "recording failed; the lesson fails closed");
                self.failed.send_replace(true);
            }
        }
    }

    /// Seals the manifest. A recording that lost a segment to a spool failure says so: media
    /// after its last durable segment is missing.
    fn finish(&self) {
        let status = if *self.failed.borrow() {
            Status::Interrupted
        } else {
            Status::Complete
        };
        match self.writer.finish(status) {
            Ok(_) => self.wake.notify_one(),
            Err(e) => tracing::error!(recording = %self.writer.id(), error = %e, "could not seal the manifest"),
        }
    }
}

fn run(sink: Sink, rx: std_mpsc::Receiver<RecorderMsg>) {
    let start = Instant::now();
    let mut streams: HashMap<StreamKey, StreamState> = HashMap::new();
    let mut labels = 0usize;
    let mut people: std::collections::HashSet<UserId> = std::collections::HashSet::new();
    while let Ok(msg) = rx.recv() {
        match msg {
            RecorderMsg::StreamStarted {
                stream,
                video,
                audio,
                source,
            } => {
                labels += 1;
                let source = source.map(|s| {
                    if people.insert(s.person.clone()) {
                        sink.add_person(&person_of(&s));
                    }
                    spool::Source {
                        person: s.person.to_string(),
                        kind: kind_name(s.kind).to_owned(),
                    }
                });
                streams.insert(
                    stream,
                    StreamState {
                        label: format!("s{labels}"),
                        source,
                        video: Assembler::new(Track::Video),
                        audio: Assembler::new(Track::Audio),
                        segmenter: Segmenter::new(video, audio),
                    },
                );
            }
            RecorderMsg::Rtp {
                stream,
                kind,
                packet,
                at,
            } => {
                let Some(state) = streams.get_mut(&stream) else {
                    continue;
                };
                let ms = at.duration_since(start).as_millis() as i64;
                let frame = match kind {
                    TrackKind::Video => state.video.push(&packet, ms),
                    TrackKind::Audio => state.audio.push(&packet, ms),
                };
                if let Some(cut) = frame.and_then(|f| state.segmenter.push(f)) {
                    sink.write(state, cut);
                }
            }
            RecorderMsg::StreamEnded(stream) => {
                if let Some(mut s) = streams.remove(&stream) {
                    if let Some(cut) = s.segmenter.finish() {
                        sink.write(&s, cut);
                    }
                }
            }
            RecorderMsg::Finish => break,
        }
    }
    for (_, mut s) in streams.drain() {
        if let Some(cut) = s.segmenter.finish() {
            sink.write(&s, cut);
        }
    }
    sink.finish();
}

/// The wire name of a stream kind, as the manifest keeps it.
fn kind_name(kind: StreamKind) -> &'static str {
    match kind {
        StreamKind::Camera => "camera",
        StreamKind::Screen => "screen",
        StreamKind::Microphone => "microphone",
    }
}

/// The sealed record of who published.
fn person_of(s: &StreamSource) -> spool::Person {
    spool::Person {
        person: s.person.to_string(),
        role: match s.role {
            LessonRole::Teacher => "teacher",
            LessonRole::Pupil => "pupil",
            LessonRole::Guest => "guest",
        }
        .to_owned(),
        name: s.name.0.clone(),
        alias: s.alias,
    }
}

/// Destroys recordings past their school's retention period (not on legal hold): their
/// objects are deleted, then their wrapped data key is forgotten. Runs hourly.
pub async fn retention(store: crate::store::Store, recordings: Arc<Recordings>) {
    loop {
        match store.expired_recordings(crate::store::now_ms()).await {
            Ok(rows) => {
                for row in rows {
                    if let Err(e) = destroy(&store, &recordings, &row).await {
                        tracing::warn!(recording = %row.id, error = %e, "could not destroy an expired recording; will retry");
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "retention check failed; will retry"),
        }
        tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
    }
}

/// Deletes a recording's objects and then its key.
pub async fn destroy(
    store: &crate::store::Store,
    recordings: &Recordings,
    row: &crate::store::RecordingRow,
) -> Result<(), RecordingError> {
    let objects_err = |e: livegate_recorder::objstore::StoreError| RecordingError::Objects(e.to_string());
    for key in recordings.objects.list(&row.id).await.map_err(objects_err)? {
        recordings.objects.delete(&key).await.map_err(objects_err)?;
    }
    let school = SchoolId::parse(&row.school).ok_or(RecordingError::NoKey)?;
    store
        .mark_destroyed(&school, &row.id)
        .await
        .map_err(|e| RecordingError::Objects(e.to_string()))
}

/// A recording service in a fresh temporary folder with keys for the demo schools, for tests.
#[cfg(test)]
pub(crate) fn test_service() -> Arc<Recordings> {
    let dir = std::env::temp_dir().join(format!("lg_rec_{}", livegate_core::ids::random_token(6)));
    let objects = ObjectStoreConfig::Local {
        path: dir.join("objects"),
    };
    let service = Recordings::start(dir.join("spool"), &objects, dir.join("keys"), |_| {}).expect("recording service");
    for school in ["sch_demo", "sch_other"] {
        service.keyring.ensure(school).expect("demo key");
    }
    service
}
