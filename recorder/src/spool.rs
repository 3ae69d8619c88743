//! The local spool and the upload worker: segments are sealed, written durably to the spool,
//! and uploaded to the object store by a supervised worker that retries with backoff.
//!
//! One folder per recording holds `meta.json` (ids and times only), `key.wrapped` (the data key
//! wrapped by the school's KEK), the sealed segments, `segments.jsonl` (one line per durable
//! segment: ids, times and hashes), `people.lines` (who published, one sealed record per line
//! in hex: names never touch the disk in the clear) and, once the recording ends,
//! `manifest.sealed`. An object-store outage loses
//! nothing: the spool keeps everything until the store takes it. After a crash, [`recover`]
//! finds recordings that never finished and closes them as interrupted, recording the gap.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use ring::digest::{digest, SHA256};
use serde::{Deserialize, Serialize};

use crate::frames::Cut;
use crate::keys::Kek;
use crate::objstore::{write_durably, Objects};
use crate::seal::{self, DataKey, Kind};
use crate::webm::{self, Track};

/// Why spooling failed.
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    #[error("spool i/o: {0}")]
    Io(#[from] std::io::Error),
    #[error("webm: {0}")]
    Webm(#[from] webm::WebmError),
    #[error("seal: {0}")]
    Seal(#[from] seal::SealError),
    #[error("bad spool metadata: {0}")]
    Meta(#[from] serde_json::Error),
    /// Reading from the object store failed (`NotFound`: the object is not there).
    #[error("{0}")]
    Store(#[from] crate::objstore::StoreError),
}

/// What the manifest says about one segment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentInfo {
    pub index: u64,
    /// An opaque label of the stream within the lesson (`s1`, `s2`, ...).
    pub stream: String,
    pub start_ms: i64,
    pub end_ms: i64,
    pub tracks: Vec<String>,
    pub object: String,
    pub sha256: String,
    /// Who published the stream and what it is (manifest version 2; absent in version 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<Source>,
}

/// Who published a stream and what kind of stream it is (manifest version 2). Ids only: the
/// spool keeps these lines in plain text, so names go in the sealed [`Person`] records.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Source {
    /// An opaque reference to the person (their user id): the same across a rejoin, so their
    /// streams of one kind make one timeline.
    pub person: String,
    /// `camera`, `screen` or `microphone`, as the lesson's signalling names it.
    pub kind: String,
}

/// Someone who published in the lesson, named as the lesson showed them (manifest version 2).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    /// The [`Source::person`] this names.
    pub person: String,
    /// `teacher`, `pupil` or `guest`.
    pub role: String,
    /// Their name, or the pupil's privacy alias where one is set.
    pub name: String,
    /// True when `name` is a privacy alias.
    #[serde(default)]
    pub alias: bool,
}

/// Names are personal data: a `Person` prints without one.
impl std::fmt::Debug for Person {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Person")
            .field("person", &self.person)
            .field("role", &self.role)
            .field("name", &"<redacted>")
            .field("alias", &self.alias)
            .finish()
    }
}

/// How a recording ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Complete,
    Interrupted,
}

/// The sealed index of a recording.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub version: u32,
    pub recording: String,
    pub school: String,
    pub started_at: i64,
    pub status: Status,
    /// For an interrupted recording: media after this time (ms since start) was lost.
    pub lost_after_ms: Option<i64>,
    pub segments: Vec<SegmentInfo>,
    /// Who published, by [`Source::person`] (version 2; absent in version 1 and when nobody
    /// published).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub people: Vec<Person>,
}

/// The manifest version this code writes. Version 1 (no `source`, no `people`) still reads:
/// its streams are named by their labels.
pub const MANIFEST_VERSION: u32 = 2;

/// The plaintext facts kept beside a spooled recording (ids and times only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meta {
    pub recording: String,
    pub school: String,
    pub started_at: i64,
}

/// The object key of a recording's manifest.
pub fn manifest_key(recording: &str) -> String {
    format!("{recording}/manifest")
}

/// The object key of a recording's wrapped data key.
pub fn key_object(recording: &str) -> String {
    format!("{recording}/key")
}

/// The object key of a segment.
pub fn segment_key(recording: &str, index: u64) -> String {
    format!("{recording}/s{index:08}")
}

/// SHA-256 as lowercase hex.
pub fn sha256_hex(data: &[u8]) -> String {
    digest(&SHA256, data)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Writes one recording's segments into the spool.
pub struct RecordingWriter {
    meta: Meta,
    key: DataKey,
    dir: PathBuf,
    next_index: AtomicU64,
    log: Mutex<std::fs::File>,
    /// `people.lines` and how many records it holds.
    people: Mutex<(std::fs::File, u64)>,
}

/// The sealed spool file of who published.
const PEOPLE: &str = "people.lines";

/// A person record is sealed as a part of the manifest: index 0 is the manifest itself, record
/// `n` of `people.lines` is index `1 + n`, so no record opens as the manifest or as another.
fn person_index(n: u64) -> u64 {
    n + 1
}

impl RecordingWriter {
    /// Starts a recording in the spool. Fails (and the caller must fail closed) if the spool
    /// cannot be written.
    pub fn create(spool: &Path, meta: Meta, key: DataKey, kek: &Kek) -> Result<Self, SpoolError> {
        let dir = spool.join(&meta.recording);
        std::fs::create_dir_all(&dir)?;
        write_durably(&dir.join("key.wrapped"), &kek.wrap(&meta.recording, &key)?)?;
        write_durably(&dir.join("meta.json"), &serde_json::to_vec(&meta)?)?;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("segments.jsonl"))?;
        let people = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join(PEOPLE))?;
        std::fs::File::open(&dir)?.sync_all()?;
        Ok(Self {
            meta,
            key,
            dir,
            next_index: AtomicU64::new(0),
            log: Mutex::new(log),
            people: Mutex::new((people, 0)),
        })
    }

    /// Records who someone is, sealed and durably, before their first segment: a crash keeps
    /// the names of everyone whose media survives it. Called once per person.
    pub fn add_person(&self, person: &Person) -> Result<(), SpoolError> {
        let mut people = self.people.lock().expect("spool people");
        let index = person_index(people.1);
        let sealed = seal::seal(
            &self.key,
            &self.meta.recording,
            Kind::Manifest,
            index,
            &serde_json::to_vec(person)?,
        )?;
        let line: String = sealed.iter().map(|b| format!("{b:02x}")).collect();
        writeln!(people.0, "{line}")?;
        people.0.sync_all()?;
        people.1 += 1;
        Ok(())
    }

    /// The recording's id.
    pub fn id(&self) -> &str {
        &self.meta.recording
    }

    /// Muxes, seals and durably spools one segment of a stream.
    pub fn write_segment(&self, stream: &str, cut: &Cut) -> Result<SegmentInfo, SpoolError> {
        self.write_segment_of(stream, None, cut)
    }

    /// [`write_segment`](Self::write_segment) of a stream whose publisher is known.
    pub fn write_segment_of(
        &self,
        stream: &str,
        source: Option<&Source>,
        cut: &Cut,
    ) -> Result<SegmentInfo, SpoolError> {
        let webm = webm::mux(&cut.layout, &cut.frames)?;
        let index = self.next_index.fetch_add(1, Ordering::SeqCst);
        let sealed = seal::seal(&self.key, &self.meta.recording, Kind::Media, index, &webm)?;
        let name = format!("s{index:08}");
        let tmp = self.dir.join(format!("{name}.tmp"));
        write_durably(&tmp, &sealed)?;
        std::fs::rename(&tmp, self.dir.join(format!("{name}.sealed")))?;
        let mut tracks = Vec::new();
        if cut.layout.video.is_some() {
            tracks.push("video".to_owned());
        }
        if cut.layout.audio {
            tracks.push("audio".to_owned());
        }
        let info = SegmentInfo {
            index,
            stream: stream.to_owned(),
            start_ms: cut.start_ms,
            end_ms: cut.end_ms,
            tracks,
            object: segment_key(&self.meta.recording, index),
            sha256: sha256_hex(&sealed),
            source: source.cloned(),
        };
        let mut log = self.log.lock().expect("spool log");
        writeln!(log, "{}", serde_json::to_string(&info)?)?;
        log.sync_all()?;
        Ok(info)
    }

    /// Ends the recording: seals its manifest into the spool. Returns the manifest's hash.
    pub fn finish(&self, status: Status) -> Result<String, SpoolError> {
        finish_dir(&self.dir, &self.meta, &self.key, status)
    }
}

fn read_segments(dir: &Path) -> Result<Vec<SegmentInfo>, SpoolError> {
    let text = std::fs::read_to_string(dir.join("segments.jsonl")).unwrap_or_default();
    // A line cut short by a crash is the segment in flight: it is lost, the rest stand.
    Ok(text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect())
}

/// The people the spool sealed, each once (the first record of a person stands). A line cut
/// short by a crash, or one that does not open, is skipped: that person's streams are then
/// named by their role.
fn read_people(dir: &Path, meta: &Meta, key: &DataKey) -> Vec<Person> {
    let text = std::fs::read_to_string(dir.join(PEOPLE)).unwrap_or_default();
    let mut people: Vec<Person> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let Some(sealed) = unhex(line) else { continue };
        let Ok(plain) = seal::open(key, &meta.recording, Kind::Manifest, person_index(n as u64), &sealed) else {
            continue;
        };
        if let Ok(p) = serde_json::from_slice::<Person>(&plain) {
            if !people.iter().any(|q| q.person == p.person) {
                people.push(p);
            }
        }
    }
    people
}

/// Lowercase or uppercase hex to bytes; `None` for anything else.
fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok())
        .collect()
}

fn finish_dir(dir: &Path, meta: &Meta, key: &DataKey, status: Status) -> Result<String, SpoolError> {
    let mut segments = read_segments(dir)?;
    segments.retain(|s| {
        dir.join(format!("s{:08}.sealed", s.index)).exists() || dir.join(format!("s{:08}.uploaded", s.index)).exists()
    });
    segments.sort_by_key(|s| s.index);
    let people = read_people(dir, meta, key);
    let lost_after_ms = (status == Status::Interrupted).then(|| segments.iter().map(|s| s.end_ms).max().unwrap_or(0));
    let manifest = Manifest {
        version: MANIFEST_VERSION,
        recording: meta.recording.clone(),
        school: meta.school.clone(),
        started_at: meta.started_at,
        status,
        lost_after_ms,
        segments,
        people,
    };
    let sealed = seal::seal(key, &meta.recording, Kind::Manifest, 0, &serde_json::to_vec(&manifest)?)?;
    write_durably(&dir.join("manifest.tmp"), &sealed)?;
    std::fs::rename(dir.join("manifest.tmp"), dir.join("manifest.sealed"))?;
    Ok(sha256_hex(&sealed))
}

/// A recording the spool closed after a crash: its id and manifest hash, for the audit chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recovered {
    pub recording: String,
    pub school: String,
    pub manifest_sha256: String,
}

/// Finds recordings that never finished (the process died) and closes them as interrupted.
/// `kek_for` gives the KEK of a school.
pub fn recover(
    spool: &Path,
    kek_for: impl Fn(&str) -> Option<std::sync::Arc<Kek>>,
) -> Result<Vec<Recovered>, SpoolError> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(spool) else {
        return Ok(out);
    };
    for entry in entries.flatten() {
        let dir = entry.path();
        if dir.join("manifest.sealed").exists() || !dir.join("meta.json").exists() {
            continue;
        }
        let meta: Meta = serde_json::from_slice(&std::fs::read(dir.join("meta.json"))?)?;
        let Some(kek) = kek_for(&meta.school) else { continue };
        let key = kek.unwrap(&meta.recording, &std::fs::read(dir.join("key.wrapped"))?)?;
        for tmp in std::fs::read_dir(&dir)?
            .flatten()
            .filter(|e| e.path().extension().is_some_and(|x| x == "tmp"))
        {
            std::fs::remove_file(tmp.path())?;
        }
        let hash = finish_dir(&dir, &meta, &key, Status::Interrupted)?;
        out.push(Recovered {
            recording: meta.recording,
            school: meta.school,
            manifest_sha256: hash,
        });
    }
    Ok(out)
}

/// A recording whose every object is now in the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uploaded {
    pub recording: String,
    pub manifest_sha256: String,
}

/// Uploads everything spooled; returns the recordings completed by this pass. Stops at the
/// first failure (the store is down): the caller backs off and calls again.
pub async fn drain_once(spool: &Path, objects: &Objects) -> Result<Vec<Uploaded>, crate::objstore::StoreError> {
    let mut done = Vec::new();
    let Ok(entries) = std::fs::read_dir(spool) else {
        return Ok(done);
    };
    let mut dirs: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("meta.json").exists())
        .collect();
    dirs.sort();
    for dir in dirs {
        let Some(recording) = dir.file_name().and_then(|n| n.to_str()).map(str::to_owned) else {
            continue;
        };
        // Looked at before the segments are listed: once the manifest exists every segment is
        // spooled, so none can appear after the listing and be lost when the folder goes.
        let manifest = dir.join("manifest.sealed");
        let finished = manifest.exists();
        // The wrapped data key travels with the recording, so the KEK alone opens it anywhere.
        let key_file = dir.join("key.wrapped");
        let key_sent = dir.join("key.uploaded");
        if key_file.exists() && !key_sent.exists() {
            // A key rotation may re-wrap the file while it is on its way: send it again until
            // what was sent is what the file holds, so the store never keeps the older wrapping.
            let mut sent = std::fs::read(&key_file)?;
            loop {
                objects.put(&key_object(&recording), &sent).await?;
                let now = std::fs::read(&key_file)?;
                if now == sent {
                    break;
                }
                sent = now;
            }
            std::fs::write(&key_sent, b"")?;
        }
        let mut sealed: Vec<PathBuf> = std::fs::read_dir(&dir)?
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "sealed") && !p.ends_with("manifest.sealed"))
            .collect();
        sealed.sort();
        for path in sealed {
            let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_owned();
            objects
                .put(&format!("{recording}/{stem}"), &std::fs::read(&path)?)
                .await?;
            std::fs::rename(&path, path.with_extension("uploaded"))?;
        }
        if finished {
            let bytes = std::fs::read(&manifest)?;
            objects.put(&manifest_key(&recording), &bytes).await?;
            std::fs::remove_dir_all(&dir)?;
            done.push(Uploaded {
                recording,
                manifest_sha256: sha256_hex(&bytes),
            });
        }
    }
    Ok(done)
}

/// What waits in the spool for the object store: for the operator's upload-backlog metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Backlog {
    /// Recordings with a folder in the spool (live, or finished and not yet wholly uploaded).
    pub recordings: u64,
    /// Sealed segments not yet uploaded, and their bytes.
    pub segments: u64,
    pub bytes: u64,
}

/// Counts what waits in the spool (reads the folders, not the files). A folder that vanishes
/// while it is read (the uploader finished it) counts as empty.
pub fn backlog(spool: &Path) -> Backlog {
    let mut b = Backlog::default();
    let Ok(entries) = std::fs::read_dir(spool) else {
        return b;
    };
    for dir in entries.flatten().map(|e| e.path()) {
        if !dir.join("meta.json").exists() {
            continue;
        }
        b.recordings += 1;
        let Ok(files) = std::fs::read_dir(&dir) else { continue };
        for f in files.flatten() {
            let path = f.path();
            let segment = path.extension().is_some_and(|x| x == "sealed") && !path.ends_with("manifest.sealed");
            if segment {
                b.segments += 1;
                b.bytes += f.metadata().map_or(0, |m| m.len());
            }
        }
    }
    b
}

/// The longest wait between upload attempts while the store is failing.
pub const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// The supervised upload worker: drains the spool whenever woken or every two seconds,
/// backing off from 0.5 s to [`MAX_BACKOFF`] while the store is failing, so it catches up
/// within ten seconds of the store's return. `on_done` hears of each recording that reached
/// the store whole.
pub async fn run_uploader(
    spool: PathBuf,
    objects: std::sync::Arc<Objects>,
    wake: std::sync::Arc<tokio::sync::Notify>,
    on_done: impl Fn(Uploaded) + Send + 'static,
) {
    let mut backoff = Duration::from_millis(500);
    loop {
        match drain_once(&spool, &objects).await {
            Ok(done) => {
                backoff = Duration::from_millis(500);
                for d in done {
                    on_done(d);
                }
                tokio::select! {
                    _ = wake.notified() => {}
                    _ = tokio::time::sleep(Duration::from_secs(2)) => {}
                }
            }
            Err(e) => {
                tracing_warn(&e);
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

fn tracing_warn(e: &crate::objstore::StoreError) {
    eprintln!("recorder: upload failed, will retry: {e}");
}

/// Opens a recording's manifest from the store. Returns it, its data key and the hash of the
/// sealed manifest (what the audit chain holds).
pub async fn open_recording(
    objects: &Objects,
    kek: &Kek,
    recording: &str,
) -> Result<(Manifest, DataKey, String), SpoolError> {
    let wrapped = objects.get(&key_object(recording)).await?;
    let key = kek.unwrap(recording, &wrapped)?;
    let sealed = objects.get(&manifest_key(recording)).await?;
    let manifest: Manifest = serde_json::from_slice(&seal::open(&key, recording, Kind::Manifest, 0, &sealed)?)?;
    if manifest.recording != recording {
        return Err(SpoolError::Seal(seal::SealError::WrongSegment));
    }
    Ok((manifest, key, sha256_hex(&sealed)))
}

/// Fetches and opens one segment, checking its hash against the manifest first.
pub async fn open_segment(
    objects: &Objects,
    key: &DataKey,
    recording: &str,
    info: &SegmentInfo,
) -> Result<Vec<u8>, SpoolError> {
    let sealed = objects.get(&info.object).await?;
    if sha256_hex(&sealed) != info.sha256 {
        return Err(SpoolError::Seal(seal::SealError::Tampered));
    }
    Ok(seal::open(key, recording, Kind::Media, info.index, &sealed)?)
}

/// The track names a segment carries, as [`Track`]s.
pub fn tracks_of(info: &SegmentInfo) -> Vec<Track> {
    info.tracks
        .iter()
        .filter_map(|t| match t.as_str() {
            "video" => Some(Track::Video),
            "audio" => Some(Track::Audio),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests;
