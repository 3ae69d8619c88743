//! Review of recordings by safeguarding leaders: thin routes over the recording service.
//!
//! A leader lists the school's recordings, opens one by giving a reason (and optionally a
//! concern reference), and only then gets a short-lived view token: the view is written to the
//! audit chain before a single byte of the recording is read. The view lists each stream's
//! segments; the player fetches them one at a time (`.../segments/{n}`), each checked and
//! decrypted from the store on request ([`crate::recording::playback`]), with range requests;
//! or downloads a whole timeline as one named file (`.../download`, audited too).
//! A leader can place or lift a legal hold, which stops retention from destroying the recording.

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};

use livegate_core::codes::ErrorCode;

use super::api::ApiJson;
use super::{App, CurrentUser};
use crate::http::error::{ApiError, InputError};
use crate::recording::playback::{Playback, PlaybackError};
use crate::store::{RecordingFilter, RecordingRow};
use livegate_core::text;

/// A query string whose rejection is our `bad_request` rather than axum's text.
pub struct ApiQuery<T>(pub T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> axum::extract::FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Query(v) = Query::<T>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError(ErrorCode::BadRequest))?;
        Ok(Self(v))
    }
}

/// The body of `GET /api/recordings`.
#[derive(Serialize)]
pub struct RecordingList {
    recordings: Vec<RecordingRow>,
}

/// `GET /api/recordings`
pub async fn list(
    State(app): State<App>,
    Extension(CurrentUser(user)): Extension<CurrentUser>,
    ApiQuery(filter): ApiQuery<RecordingFilter>,
) -> Result<Json<RecordingList>, ApiError> {
    let recordings = app.store.recordings(&user.school, &filter).await?;
    Ok(Json(RecordingList { recordings }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenBody {
    /// Missing is the same as empty: `reason_required`.
    #[serde(default)]
    reason: String,
    #[serde(default)]
    concern_ref: Option<String>,
}

/// One segment of a stream in an opened view: its times (ms since the recording started).
#[derive(Serialize)]
pub struct SegmentSpan {
    start_ms: i64,
    end_ms: i64,
}

/// One timeline of an opened view (a person's streams of one kind, or in a recording made
/// before names were recorded one stream); its segments are fetched by their position in
/// `segments`. Names are personal data: they go only to the leader who opened the view.
#[derive(Serialize)]
pub struct OpenedStream {
    label: String,
    /// "Ms Rivera, camera", a pupil's privacy alias where one is set; "Stream s3" in an older
    /// recording.
    title: String,
    /// `teacher`, `pupil` or `guest`; absent in an older recording.
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<String>,
    /// `camera`, `screen` or `microphone`; absent in an older recording.
    #[serde(skip_serializing_if = "Option::is_none")]
    kind: Option<String>,
    /// True when the title names a pupil by their privacy alias.
    alias: bool,
    start_ms: i64,
    end_ms: i64,
    tracks: Vec<String>,
    /// When it was on: one span per publish; between two is a gap (off, or away).
    parts: Vec<SegmentSpan>,
    segments: Vec<SegmentSpan>,
}

/// The body of `POST /api/recordings/{id}/views`.
#[derive(Serialize)]
pub struct Opened {
    view: String,
    status: livegate_recorder::spool::Status,
    lost_after_ms: Option<i64>,
    streams: Vec<OpenedStream>,
}

impl Opened {
    /// The view's index, without its token yet.
    fn of(playback: &Playback) -> Self {
        let streams = playback
            .streams
            .iter()
            .map(|s| OpenedStream {
                label: s.label.clone(),
                title: s.title.clone(),
                role: s.role.clone(),
                kind: s.kind.clone(),
                alias: s.alias,
                parts: s
                    .parts
                    .iter()
                    .map(|&(start_ms, end_ms)| SegmentSpan { start_ms, end_ms })
                    .collect(),
                start_ms: s.segments.iter().map(|g| g.start_ms).min().unwrap_or(0),
                end_ms: s.segments.iter().map(|g| g.end_ms).max().unwrap_or(0),
                tracks: s.tracks.clone(),
                segments: s
                    .segments
                    .iter()
                    .map(|g| SegmentSpan {
                        start_ms: g.start_ms,
                        end_ms: g.end_ms,
                    })
                    .collect(),
            })
            .collect();
        Self {
            view: String::new(),
            status: playback.status,
            lost_after_ms: playback.lost_after_ms,
            streams,
        }
    }
}

/// `POST /api/recordings/{id}/views`: audits the view, then opens the recording (its manifest
/// checked against the audit chain) and hands out a view token.
pub async fn open(
    State(app): State<App>,
    Extension(CurrentUser(user)): Extension<CurrentUser>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<OpenBody>,
) -> Result<Json<Opened>, InputError> {
    let reason = text::clean(&text::REASON, &body.reason)?;
    let concern = body
        .concern_ref
        .as_deref()
        .map(|c| text::clean_optional(&text::CONCERN_REF, c))
        .transpose()?
        .flatten();
    let row = app
        .store
        .recording(&user.school, &id)
        .await?
        .ok_or(ErrorCode::NotFound)?;
    let audited = match row.manifest_sha256 {
        Some(hash) if row.status != "destroyed" => hash,
        _ => return Err(ErrorCode::RecordingUnavailable.into()),
    };
    let recordings = app.recordings.as_ref().ok_or(ErrorCode::RecordingUnavailable)?;
    // The audit entry commits before anything about the recording's content is read.
    app.store
        .record_view(&user.school, &user.id, &id, &reason, concern.as_deref())
        .await?;
    let playback = recordings
        .open_playback(&user.school, &id, &audited)
        .await
        .map_err(|e| playback_error(&id, e))?;
    let mut opened = Opened::of(&playback);
    opened.view = app.views.open(&user.id, &id, playback);
    Ok(Json(opened))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MediaQuery {
    /// Missing is the same as unknown: `view_expired`.
    #[serde(default)]
    view: String,
}

/// `GET /api/recordings/{id}/streams/{label}/segments/{n}?view=TOKEN`: segment `n` of a stream
/// (from 0, as the view listed them) as WebM, with ranges.
pub async fn segment(
    State(app): State<App>,
    Extension(CurrentUser(user)): Extension<CurrentUser>,
    Path((id, label, n)): Path<(String, String, String)>,
    ApiQuery(q): ApiQuery<MediaQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let playback = app
        .views
        .playback(&q.view, &user.id, &id)
        .ok_or(ErrorCode::ViewExpired)?;
    // A position that is not a number names no segment, like one past the end.
    let n: usize = n.parse().map_err(|_| ErrorCode::NotFound)?;
    let webm = playback.segment(&label, n).await.map_err(|e| playback_error(&id, e))?;
    Ok(ranged(&bytes::Bytes::from(webm), &headers))
}

/// `GET /api/recordings/{id}/streams/{label}/download?view=TOKEN`: the whole timeline as one
/// WebM, joined as it streams, named as the player names it; audited before the first byte.
pub async fn download(
    State(app): State<App>,
    Extension(CurrentUser(user)): Extension<CurrentUser>,
    Path((id, label)): Path<(String, String)>,
    ApiQuery(q): ApiQuery<MediaQuery>,
) -> Result<Response, ApiError> {
    let playback = app
        .views
        .playback(&q.view, &user.id, &id)
        .ok_or(ErrorCode::ViewExpired)?;
    if playback.stream(&label).is_none() {
        return Err(ErrorCode::NotFound.into());
    }
    app.store.record_download(&user.school, &user.id, &id, &label).await?;
    let d = playback.download(&label).map_err(|e| playback_error(&id, e))?;
    let body = Body::from_stream(tokio_stream_of(d.body));
    let headers = [
        (header::CONTENT_TYPE, d.mime.to_owned()),
        (header::CONTENT_DISPOSITION, disposition(&d.file_name)),
        (header::CACHE_CONTROL, "no-store".to_owned()),
    ];
    Ok((headers, body).into_response())
}

/// A body stream from the download's channel.
fn tokio_stream_of(
    rx: tokio::sync::mpsc::Receiver<crate::recording::download::Part>,
) -> impl futures_util::Stream<Item = crate::recording::download::Part> {
    futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|part| (part, rx)) })
}

/// `attachment` with the file name (already a safe one: `timeline::file_name`) twice: plain
/// ASCII for old clients (anything else, a quote, a backslash or a control character `_`), and
/// in full as RFC 5987 UTF-8 (`filename*`), which browsers prefer.
fn disposition(name: &str) -> String {
    let plain = |c: char| c.is_ascii() && !c.is_ascii_control() && c != '"' && c != '\\';
    let ascii: String = name.chars().map(|c| if plain(c) { c } else { '_' }).collect();
    let encoded: String = name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

/// The code for a recording that cannot be played: not there (yet), or no key, is
/// `recording_unavailable`; anything that fails its hash, the audit chain or authentication
/// (or a listed segment that is gone) is `recording_tampered`.
fn playback_error(recording: &str, e: PlaybackError) -> ApiError {
    match e {
        PlaybackError::NoKey | PlaybackError::Unavailable(_) => {
            tracing::warn!(recording, error = %e, "a recording could not be read");
            ApiError(ErrorCode::RecordingUnavailable)
        }
        PlaybackError::NotAudited | PlaybackError::Tampered(_) => {
            tracing::error!(recording, error = %e, "a recording failed its integrity check; nothing of it is served");
            ApiError(ErrorCode::RecordingTampered)
        }
        PlaybackError::NotFound => ApiError(ErrorCode::NotFound),
        PlaybackError::Busy => ApiError(ErrorCode::ServerBusy),
    }
}

/// Serves `file` whole or the one byte range the request asks for.
fn ranged(file: &bytes::Bytes, headers: &HeaderMap) -> Response {
    let len = file.len();
    let range = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_range(v, len));
    let base = [
        (header::CONTENT_TYPE, "video/webm".to_owned()),
        (header::ACCEPT_RANGES, "bytes".to_owned()),
        (header::CACHE_CONTROL, "no-store".to_owned()),
    ];
    match range {
        Some((start, end)) => {
            let body = Body::from(file.slice(start..=end));
            let cr = format!("bytes {start}-{end}/{len}");
            (StatusCode::PARTIAL_CONTENT, base, [(header::CONTENT_RANGE, cr)], body).into_response()
        }
        None => (StatusCode::OK, base, Body::from(file.clone())).into_response(),
    }
}

/// Parses `bytes=a-b`, `bytes=a-` or `bytes=-n` into an inclusive range within `len`.
pub fn parse_range(v: &str, len: usize) -> Option<(usize, usize)> {
    let spec = v.strip_prefix("bytes=")?;
    if spec.contains(',') || len == 0 {
        return None;
    }
    let (a, b) = spec.split_once('-')?;
    let (start, end) = match (a.trim(), b.trim()) {
        ("", n) => {
            let n: usize = n.parse().ok()?;
            (len.saturating_sub(n), len - 1)
        }
        (a, "") => (a.parse().ok()?, len - 1),
        (a, b) => (a.parse().ok()?, b.parse::<usize>().ok()?.min(len - 1)),
    };
    (start <= end && start < len).then_some((start, end))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HoldBody {
    on: bool,
    #[serde(default)]
    reason: String,
}

/// `POST /api/recordings/{id}/hold`
pub async fn hold(
    State(app): State<App>,
    Extension(CurrentUser(user)): Extension<CurrentUser>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<HoldBody>,
) -> Result<StatusCode, InputError> {
    let reason = text::clean(&text::REASON, &body.reason)?;
    app.store
        .set_legal_hold(&user.school, &user.id, &id, body.on, &reason)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests;
