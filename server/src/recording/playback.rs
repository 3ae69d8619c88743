//! Playback of sealed recordings, one segment at a time, and the leaders' open views.
//!
//! Opening a recording for playback reads its manifest, checks the manifest's hash against the
//! one the audit chain holds (once per view, not per request), and keeps only an index: per
//! stream, each segment's times, position and hash. A segment is read from the object store
//! when the player asks for it, checked against its hash in the manifest, decrypted and handed
//! over; nothing of the media stays in memory after that. Every segment is a self-contained
//! WebM that starts on a keyframe with the recording's own times, so a player can start, seek
//! and stop anywhere, and the server's memory does not grow with the recording's length (about
//! 56 bytes of index per two-second segment, one segment in flight per request).
//!
//! A view is a short-lived token for one leader and one recording ([`Views`]); a leader holds at
//! most [`VIEWS_PER_LEADER`] and the server [`MAX_VIEWS`], the oldest giving way.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use livegate_recorder::objstore::{Objects, StoreError};
use livegate_recorder::seal::{self, DataKey, Kind};
use livegate_recorder::spool::{self, SpoolError, Status};
use livegate_recorder::timeline::timelines;
use ring::digest::{digest, SHA256};

use super::Recordings;
use livegate_core::ids::{random_token, SchoolId, UserId};

/// How long a view token lasts.
pub const VIEW_LIFETIME: Duration = Duration::from_secs(3600);
/// Views one leader may hold at once; opening another ends their oldest.
pub const VIEWS_PER_LEADER: usize = 8;
/// Views the server holds at once; beyond this the one nearest its expiry ends.
pub const MAX_VIEWS: usize = 256;
/// Segments being read and decrypted at once, server-wide (each holds its sealed and plain
/// bytes, a few hundred KiB for a camera's two seconds); more requests wait their turn.
pub const SEGMENT_READS: usize = 16;

/// Why a recording or one of its segments cannot be played.
#[derive(Debug, thiserror::Error)]
pub enum PlaybackError {
    /// The school has no key-encryption key here.
    #[error("no key for this school")]
    NoKey,
    /// The store does not have it, or cannot be reached.
    #[error("the recording cannot be read: {0}")]
    Unavailable(#[source] SpoolError),
    /// The manifest is not the one the audit chain holds.
    #[error("the manifest does not match the audit chain")]
    NotAudited,
    /// A manifest or segment failed its hash or authentication, or a listed segment is gone.
    #[error("the recording failed its integrity check: {0}")]
    Tampered(#[source] SpoolError),
    /// No such stream, or no such segment in it.
    #[error("no such stream or segment")]
    NotFound,
    /// As many downloads as the server joins at once are under way.
    #[error("too many downloads at once")]
    Busy,
}

/// One segment as the index keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentRef {
    /// Milliseconds since the recording started.
    pub start_ms: i64,
    pub end_ms: i64,
    /// Its position in the recording (names its object and is sealed into it).
    index: u64,
    /// SHA-256 of the sealed object, from the manifest.
    sha256: [u8; 32],
}

/// One timeline of a recording: a person's streams of one kind (a camera turned off and on,
/// a rejoin), or in a version 1 manifest one stream, its segments in time order.
#[derive(Clone, PartialEq, Eq)]
pub struct PlaybackStream {
    /// The label of its first stream (`s1`, ...): how the segment route names it.
    pub label: String,
    /// "Ms Rivera, camera" (a pupil's alias where set); "Stream s3" in a version 1 manifest.
    pub title: String,
    /// `teacher`, `pupil`, `guest`, if the manifest says.
    pub role: Option<String>,
    /// `camera`, `screen`, `microphone`, if the manifest says.
    pub kind: Option<String>,
    /// True when the title names a pupil by their privacy alias.
    pub alias: bool,
    /// `video`, `audio`, the same for every segment.
    pub tracks: Vec<String>,
    /// Each publish's span (ms since the recording started), in time order: between two is a gap.
    pub parts: Vec<(i64, i64)>,
    pub segments: Vec<SegmentRef>,
}

/// Titles are names: printed without them.
impl std::fmt::Debug for PlaybackStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlaybackStream")
            .field("label", &self.label)
            .field("kind", &self.kind)
            .field("parts", &self.parts)
            .field("segments", &self.segments.len())
            .finish_non_exhaustive()
    }
}

/// A recording opened for playback: its checked index and the means to read its segments.
pub struct Playback {
    pub(super) recording: String,
    key: DataKey,
    objects: Arc<Objects>,
    reads: Arc<tokio::sync::Semaphore>,
    /// Bounds the downloads being joined at once ([`super::download::DOWNLOADS`]).
    pub(super) downloads: Arc<tokio::sync::Semaphore>,
    pub status: Status,
    /// For an interrupted recording: media after this time was lost.
    pub lost_after_ms: Option<i64>,
    /// The teacher's timelines first, then everyone else's as they first published
    /// ([`timelines`]).
    pub streams: Vec<PlaybackStream>,
}

fn hash_bytes(hex: &str) -> Option<[u8; 32]> {
    let bytes = crate::store::unhex(hex)?;
    bytes.try_into().ok()
}

/// Sorts an authenticated manifest's segments into named timelines, refusing one that names
/// objects other than its own segments' (which our writer never does).
fn index(manifest: &spool::Manifest) -> Option<Vec<PlaybackStream>> {
    let all = &manifest.segments;
    if all
        .iter()
        .any(|info| info.object != spool::segment_key(&manifest.recording, info.index))
    {
        return None;
    }
    let mut streams = Vec::new();
    for t in timelines(manifest) {
        let segments = t
            .segments
            .iter()
            .map(|&i| {
                Some(SegmentRef {
                    start_ms: all[i].start_ms,
                    end_ms: all[i].end_ms,
                    index: all[i].index,
                    sha256: hash_bytes(&all[i].sha256)?,
                })
            })
            .collect::<Option<Vec<_>>>()?;
        streams.push(PlaybackStream {
            parts: t.parts.iter().map(|p| (p.start_ms, p.end_ms)).collect(),
            label: t.label,
            title: t.title,
            role: t.role,
            kind: t.kind,
            alias: t.alias,
            tracks: t.tracks,
            segments,
        });
    }
    Some(streams)
}

impl Recordings {
    /// Opens a recording of `school` for playback. Its manifest must hash to `audited`, the hash
    /// the audit chain holds for it. The caller audits the view first.
    pub async fn open_playback(
        &self,
        school: &SchoolId,
        recording: &str,
        audited: &str,
    ) -> Result<Playback, PlaybackError> {
        let kek = self.keyring.get(school.as_str()).ok_or(PlaybackError::NoKey)?;
        let (manifest, key, hash) =
            spool::open_recording(&self.objects, &kek, recording)
                .await
                .map_err(|e| match e {
                    SpoolError::Seal(_) | SpoolError::Meta(_) => PlaybackError::Tampered(e),
                    other => PlaybackError::Unavailable(other),
                })?;
        if hash != audited {
            return Err(PlaybackError::NotAudited);
        }
        let streams =
            index(&manifest).ok_or(PlaybackError::Tampered(SpoolError::Seal(seal::SealError::WrongSegment)))?;
        Ok(Playback {
            recording: recording.to_owned(),
            key,
            objects: self.objects.clone(),
            reads: self.playback_reads.clone(),
            downloads: self.downloads.clone(),
            status: manifest.status,
            lost_after_ms: manifest.lost_after_ms,
            streams,
        })
    }
}

impl Playback {
    /// The stream with this label.
    pub fn stream(&self, label: &str) -> Option<&PlaybackStream> {
        self.streams.iter().find(|s| s.label == label)
    }

    /// Segment `n` (from 0, in time order) of a stream, as WebM: read from the store, checked
    /// against the manifest's hash and decrypted. Nothing of it is kept.
    pub async fn segment(&self, label: &str, n: usize) -> Result<Vec<u8>, PlaybackError> {
        let seg = *self
            .stream(label)
            .and_then(|s| s.segments.get(n))
            .ok_or(PlaybackError::NotFound)?;
        // The semaphore is never closed, so this always waits for a permit.
        let _turn = self.reads.acquire().await;
        let sealed = self
            .objects
            .get(&spool::segment_key(&self.recording, seg.index))
            .await
            .map_err(|e| match e {
                // Listed in the audited manifest, so missing means removed.
                StoreError::NotFound => PlaybackError::Tampered(SpoolError::Store(e)),
                other => PlaybackError::Unavailable(SpoolError::Store(other)),
            })?;
        let (key, recording) = (self.key.clone(), self.recording.clone());
        // Hashing and decrypting a few hundred KiB stays off the threads that run lessons.
        tokio::task::spawn_blocking(move || {
            if digest(&SHA256, &sealed).as_ref() != seg.sha256 {
                return Err(PlaybackError::Tampered(SpoolError::Seal(seal::SealError::Tampered)));
            }
            seal::open(&key, &recording, Kind::Media, seg.index, &sealed).map_err(|e| PlaybackError::Tampered(e.into()))
        })
        .await
        .map_err(|e| PlaybackError::Unavailable(SpoolError::Io(std::io::Error::other(e))))?
    }
}

struct View {
    user: UserId,
    recording: String,
    opened: Instant,
    expires: Instant,
    playback: Arc<Playback>,
}

/// The leaders' open views, by token.
#[derive(Default)]
pub struct Views {
    map: Mutex<HashMap<String, View>>,
}

impl Views {
    /// Keeps an opened recording for this leader; returns the view's token.
    pub fn open(&self, user: &UserId, recording: &str, playback: Playback) -> String {
        let token = random_token(16);
        let now = Instant::now();
        let view = View {
            user: user.clone(),
            recording: recording.to_owned(),
            opened: now,
            expires: now + VIEW_LIFETIME,
            playback: Arc::new(playback),
        };
        let mut map = self.map.lock().expect("views lock");
        map.retain(|_, v| v.expires > now);
        let mine = map.values().filter(|v| &v.user == user).count();
        if mine >= VIEWS_PER_LEADER {
            let oldest = map
                .iter()
                .filter(|(_, v)| &v.user == user)
                .min_by_key(|(_, v)| v.opened)
                .map(|(t, _)| t.clone());
            if let Some(t) = oldest {
                map.remove(&t);
            }
        }
        if map.len() >= MAX_VIEWS {
            let soonest = map.iter().min_by_key(|(_, v)| v.expires).map(|(t, _)| t.clone());
            if let Some(t) = soonest {
                map.remove(&t);
            }
        }
        map.insert(token.clone(), view);
        token
    }

    /// The playback behind a live token, if it was opened by `user` for `recording`.
    pub fn playback(&self, token: &str, user: &UserId, recording: &str) -> Option<Arc<Playback>> {
        let map = self.map.lock().expect("views lock");
        let view = map
            .get(token)
            .filter(|v| &v.user == user && v.recording == recording && v.expires > Instant::now())?;
        Some(view.playback.clone())
    }

    /// How many views are held (for tests and metrics).
    pub fn len(&self) -> usize {
        self.map.lock().expect("views lock").len()
    }

    /// True if no view is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Ends every view now (tests of expiry).
    #[cfg(test)]
    pub(crate) fn expire_all(&self) {
        let now = Instant::now();
        self.map
            .lock()
            .expect("views lock")
            .values_mut()
            .for_each(|v| v.expires = now);
    }
}

#[cfg(test)]
pub(crate) mod tests;
