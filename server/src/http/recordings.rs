//! Review of recordings by safeguarding leaders.
//!
//! A leader lists the school's recordings, opens one by giving a reason (and optionally a
//! concern reference), and only then gets a short-lived view token: the view is written to the
//! audit chain before a single byte of the recording is served. The server decrypts the
//! recording's segments, joins each stream into one WebM, and serves it with range requests so
//! the browser can seek. A leader can place or lift a legal hold, which stops retention from
//! destroying the recording.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Deserialize;

use super::api::ApiJson;
use super::{App, CurrentUser};
use crate::error::{ApiError, ErrorCode, InputError};
use crate::ids::{random_token, UserId};
use crate::store::RecordingFilter;
use crate::text;

/// How long a view token lasts.
pub const VIEW_LIFETIME: Duration = Duration::from_secs(3600);

struct View {
    user: UserId,
    recording: String,
    expires: Instant,
    /// Joined WebM per stream label, built on first request.
    /// (`Bytes`, so a range is a slice of it, never a copy.)
    files: HashMap<String, bytes::Bytes>,
}

/// A query string whose rejection is our `bad_request` rather than axum's text.
pub struct ApiQuery<T>(pub T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> axum::extract::FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Query(v) = Query::<T>::from_request_parts(parts, state).await.map_err(|_| ApiError(ErrorCode::BadRequest))?;
        Ok(Self(v))
    }
}

/// Outstanding view tokens.
#[derive(Default)]
pub struct Views {
    map: Mutex<HashMap<String, View>>,
}

/// `GET /api/recordings`
pub async fn list(
    State(app): State<App>,
    Extension(CurrentUser(user)): Extension<CurrentUser>,
    ApiQuery(filter): ApiQuery<RecordingFilter>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let rows = app.store.recordings(&user.school, &filter).await?;
    Ok(Json(serde_json::json!({ "recordings": rows })))
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

/// `POST /api/recordings/{id}/views`: audits the view, then hands out a view token.
pub async fn open(
    State(app): State<App>,
    Extension(CurrentUser(user)): Extension<CurrentUser>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<OpenBody>,
) -> Result<Json<serde_json::Value>, InputError> {
    let reason = text::clean(&text::REASON, &body.reason)?;
    let concern = body.concern_ref.as_deref().map(|c| text::clean_optional(&text::CONCERN_REF, c)).transpose()?.flatten();
    let row = app.store.recording(&user.school, &id).await?.ok_or(ErrorCode::NotFound)?;
    if row.status == "destroyed" || row.manifest_sha256.is_none() {
        return Err(ErrorCode::RecordingUnavailable.into());
    }
    let recordings = app.recordings.as_ref().ok_or(ErrorCode::RecordingUnavailable)?;
    // The audit entry commits before anything about the recording's content is read.
    app.store.record_view(&user.school, &user.id, &id, &reason, concern.as_deref()).await?;
    let kek = recordings.keyring.get(user.school.as_str()).ok_or(ErrorCode::RecordingUnavailable)?;
    let (manifest, _, hash) = livegate_recorder::spool::open_recording(&recordings.objects, &kek, &id).await.map_err(open_error)?;
    if row.manifest_sha256.as_deref() != Some(hash.as_str()) {
        tracing::error!(recording = %id, "manifest does not match the audit chain");
        return Err(ErrorCode::RecordingTampered.into());
    }
    let mut streams: Vec<serde_json::Value> = Vec::new();
    let mut labels: Vec<&str> = manifest.segments.iter().map(|s| s.stream.as_str()).collect();
    labels.sort();
    labels.dedup();
    for label in labels {
        let segs: Vec<_> = manifest.segments.iter().filter(|s| s.stream == label).collect();
        streams.push(serde_json::json!({
            "label": label,
            "start_ms": segs.iter().map(|s| s.start_ms).min(),
            "end_ms": segs.iter().map(|s| s.end_ms).max(),
            "tracks": segs.first().map(|s| s.tracks.clone()),
        }));
    }
    let token = random_token(16);
    let view = View { user: user.id.clone(), recording: id.clone(), expires: Instant::now() + VIEW_LIFETIME, files: HashMap::new() };
    {
        let mut map = app.views.map.lock().expect("views lock");
        map.retain(|_, v| v.expires > Instant::now());
        map.insert(token.clone(), view);
    }
    Ok(Json(serde_json::json!({
        "view": token,
        "status": manifest.status,
        "lost_after_ms": manifest.lost_after_ms,
        "streams": streams,
    })))
}

#[derive(Deserialize)]
pub struct MediaQuery {
    /// Missing is the same as unknown: `view_expired`.
    #[serde(default)]
    view: String,
}

/// `GET /api/recordings/{id}/streams/{label}?view=TOKEN`: the stream as WebM, with ranges.
pub async fn media(
    State(app): State<App>,
    Extension(CurrentUser(user)): Extension<CurrentUser>,
    Path((id, label)): Path<(String, String)>,
    ApiQuery(q): ApiQuery<MediaQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let cached = {
        let map = app.views.map.lock().expect("views lock");
        let view = map.get(&q.view).filter(|v| v.user == user.id && v.recording == id && v.expires > Instant::now());
        let view = view.ok_or(ErrorCode::ViewExpired)?;
        view.files.get(&label).cloned()
    };
    let file = match cached {
        Some(f) => f,
        None => {
            let f = bytes::Bytes::from(build_stream(&app, &user.school, &id, &label).await?);
            if let Some(v) = app.views.map.lock().expect("views lock").get_mut(&q.view) {
                v.files.insert(label.clone(), f.clone());
            }
            f
        }
    };
    Ok(ranged(&file, &headers))
}

/// Why a recording's manifest could not be opened: not there (yet) is `recording_unavailable`;
/// present but failing authentication (or its key failing to unwrap) is `recording_tampered`.
fn open_error(e: livegate_recorder::spool::SpoolError) -> ApiError {
    use livegate_recorder::spool::SpoolError;
    match e {
        SpoolError::Seal(_) | SpoolError::Meta(_) => {
            tracing::error!(error = %e, "a recording's manifest or key failed authentication");
            ApiError(ErrorCode::RecordingTampered)
        }
        SpoolError::Io(_) | SpoolError::Webm(_) => ApiError(ErrorCode::RecordingUnavailable),
    }
}

async fn build_stream(app: &App, school: &crate::ids::SchoolId, id: &str, label: &str) -> Result<Vec<u8>, ApiError> {
    let recordings = app.recordings.as_ref().ok_or(ErrorCode::RecordingUnavailable)?;
    let kek = recordings.keyring.get(school.as_str()).ok_or(ErrorCode::RecordingUnavailable)?;
    let (manifest, key, hash) = livegate_recorder::spool::open_recording(&recordings.objects, &kek, id).await.map_err(open_error)?;
    // The manifest may not have changed since the view was opened and checked.
    let row = app.store.recording(school, id).await?.ok_or(ErrorCode::NotFound)?;
    if row.manifest_sha256.as_deref() != Some(hash.as_str()) {
        tracing::error!(recording = %id, "manifest does not match the audit chain");
        return Err(ErrorCode::RecordingTampered.into());
    }
    let mut parts = Vec::new();
    let mut segs: Vec<_> = manifest.segments.iter().filter(|s| s.stream == label).collect();
    segs.sort_by_key(|s| s.start_ms);
    if segs.is_empty() {
        return Err(ErrorCode::NotFound.into());
    }
    for info in segs {
        let part = livegate_recorder::spool::open_segment(&recordings.objects, &key, id, info).await.map_err(|_| ApiError(ErrorCode::RecordingTampered))?;
        parts.push(part);
    }
    tokio::task::spawn_blocking(move || livegate_recorder::webm::concat(&parts))
        .await
        .map_err(|_| ApiError(ErrorCode::Internal))?
        .map_err(|_| ApiError(ErrorCode::RecordingTampered))
}

/// Serves `file` whole or the one byte range the request asks for.
fn ranged(file: &bytes::Bytes, headers: &HeaderMap) -> Response {
    let len = file.len();
    let range = headers.get(header::RANGE).and_then(|v| v.to_str().ok()).and_then(|v| parse_range(v, len));
    let base = [(header::CONTENT_TYPE, "video/webm".to_owned()), (header::ACCEPT_RANGES, "bytes".to_owned()), (header::CACHE_CONTROL, "no-store".to_owned())];
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
    app.store.set_legal_hold(&user.school, &user.id, &id, body.on, &reason).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::parse_range;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-99", 1000), Some((0, 99)));
        assert_eq!(parse_range("bytes=900-", 1000), Some((900, 999)));
        assert_eq!(parse_range("bytes=-100", 1000), Some((900, 999)));
        assert_eq!(parse_range("bytes=990-2000", 1000), Some((990, 999)));
        for bad in ["bytes=1000-", "bytes=5-1", "items=0-1", "bytes=0-1,4-5", "bytes=a-b", "bytes=-"] {
            assert_eq!(parse_range(bad, 1000), None, "{bad}");
        }
        assert_eq!(parse_range("bytes=0-0", 0), None);
    }
}
