//! Roster CSV import (preview, then apply) and export per class, and the template file.
//!
//! The import takes one of two bodies. `text/csv` is a file with Livegate's own header.
//! `application/json` is a [`RosterSource`]: the file in base64 with the column mapping the
//! superuser confirmed (or none, for the server's proposal), so an MIS export is read as it is.
//! Either way the answer is the same preview or import report; the JSON one also says which
//! columns were read ([`Columns`]). Further source formats are further [`RosterSource`] variants.
//!
//! The import body is kept only up to [`MAX_BYTES`] (a JSON one up to [`MAX_JSON_BYTES`]). Past
//! that the upload is refused with `payload_too_large`, but the rest of the body is first read and thrown away (up to
//! [`DRAIN_CAP`], for at most [`DRAIN_TIME`]): a server that answers while the client is still
//! sending, then closes, makes the client's kernel discard the answer, so the person would see
//! a broken connection instead of the reason. Anything declared larger than the cap is refused
//! at once. A huge upload never costs more than 5 MiB of memory (a JSON one, its body and
//! then the decoded file of at most 5 MiB).

use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use futures_util::StreamExt;
use ring::digest::{digest, SHA256};

use livegate_core::codes::ErrorCode;

use super::bodies::{
    Columns, ColumnsRefused, FileErrorDetail, FileRefused, ImportRefused, Imported, MappedImport, RosterExported,
};
use super::school_class_pupils;
use crate::http::api::audit_detail;
use crate::http::error::{status_of, ApiError, ErrorDetail};
use crate::http::{App, CurrentUser};
use livegate_core::roster_columns::{self, ColumnMap};
use livegate_core::roster_csv::{self, FileError, Row, MAX_BYTES};
use serde::{Deserialize, Serialize};

/// A whole-file CSV problem as the API shows it: the usual error shape plus the line and a
/// sentence naming the column or cell count at fault.
fn file_error(e: FileError) -> Response {
    let error = FileErrorDetail {
        base: ErrorDetail::of(e.code),
        line: e.line,
        detail: e.detail,
    };
    (status_of(e.code), Json(FileRefused { error })).into_response()
}

/// `apply=true|false` (default false); anything else is `bad_request`.
fn apply_flag(query: Option<&str>) -> Result<bool, ApiError> {
    let mut apply = false;
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        apply = match pair {
            "apply=true" => true,
            "apply=false" => false,
            _ => return Err(ErrorCode::BadRequest.into()),
        };
    }
    Ok(apply)
}

fn is_csv(headers: &HeaderMap) -> bool {
    content_type_is(headers, "text/csv")
}

fn content_type_is(headers: &HeaderMap, wanted: &str) -> bool {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    ct.split(';').next().unwrap_or("").trim().eq_ignore_ascii_case(wanted)
}

/// The largest JSON import body: the file in base64 plus room for the mapping.
pub const MAX_JSON_BYTES: usize = MAX_BYTES.div_ceil(3) * 4 + 64 * 1024;

/// `POST /api/admin/roster/import` with `application/json`: where the roster comes from.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "format", rename_all = "snake_case", deny_unknown_fields)]
pub enum RosterSource {
    /// A CSV file with any header. `file` is its bytes in standard base64; `mapping` the
    /// columns to read, or null for the server's proposal.
    Csv { file: String, mapping: Option<ColumnMap> },
}

/// The most of a refused upload that is read (and thrown away) so the client hears why.
pub const DRAIN_CAP: usize = 64 * 1024 * 1024;
/// How long a refused upload is read for at most.
pub const DRAIN_TIME: Duration = Duration::from_secs(15);

/// Reads the body up to `max` bytes, or says it is too large (after draining, see above).
async fn read_limited(headers: &HeaderMap, body: Body, max: usize) -> Result<bytes::Bytes, ApiError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > DRAIN_CAP as u64) {
        return Err(ErrorCode::PayloadTooLarge.into());
    }
    let mut chunks = body.into_data_stream();
    let mut kept = bytes::BytesMut::new();
    let mut seen = 0usize;
    let mut too_large = declared.is_some_and(|n| n > max as u64);
    while !too_large {
        match chunks.next().await {
            None => return Ok(kept.freeze()),
            Some(Err(_)) => return Err(ErrorCode::BadRequest.into()), // the client went away
            Some(Ok(chunk)) => {
                seen += chunk.len();
                if seen > max {
                    too_large = true;
                } else {
                    kept.extend_from_slice(&chunk);
                }
            }
        }
    }
    drop(kept);
    let drain = async {
        while let Some(Ok(chunk)) = chunks.next().await {
            seen += chunk.len();
            if seen > DRAIN_CAP {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(DRAIN_TIME, drain).await;
    Err(ErrorCode::PayloadTooLarge.into())
}

/// `POST /api/admin/roster/import?apply=false|true` with a `text/csv` or JSON body.
pub async fn import(
    State(app): State<App>,
    Extension(CurrentUser(me)): Extension<CurrentUser>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let apply = apply_flag(query.as_deref())?;
    if content_type_is(&headers, "application/json") {
        return import_mapped(&app, &me, apply, &headers, body).await;
    }
    if !is_csv(&headers) {
        return Err(ErrorCode::BadRequest.into());
    }
    let bytes = read_limited(&headers, body, MAX_BYTES).await?;
    let rows = match roster_csv::parse(&bytes) {
        Ok(rows) => rows,
        Err(e) => return Ok(file_error(e)),
    };
    let report = match checked_import(&app, &me, &rows, apply, &bytes).await? {
        Ok(report) => report,
        Err(refused) => return Ok(refused),
    };
    Ok(Json(Imported { report }).into_response())
}

/// The JSON import: decodes the file, settles the columns (the given mapping, or the
/// proposal) and imports with them.
async fn import_mapped(
    app: &App,
    me: &crate::store::UserRecord,
    apply: bool,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    use base64::Engine as _;
    let json = read_limited(headers, body, MAX_JSON_BYTES).await?;
    let RosterSource::Csv { file, mapping } =
        serde_json::from_slice(&json).map_err(|_| ApiError::from(ErrorCode::BadRequest))?;
    drop(json);
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(file.as_bytes())
        .map_err(|_| ApiError::from(ErrorCode::BadRequest))?;
    if bytes.len() > MAX_BYTES {
        return Err(ErrorCode::PayloadTooLarge.into());
    }
    let header = match roster_csv::header(&bytes) {
        Ok(header) => header,
        Err(e) => return Ok(file_error(e)),
    };
    let columns = Columns::of(&header, mapping);
    let rows: Vec<Row> = match roster_csv::parse_with(&bytes, &columns.mapping) {
        Ok(rows) => rows,
        Err(e) if matches!(e.code, ErrorCode::CsvUnmappedHeader | ErrorCode::RosterMappingInvalid) => {
            let error = FileErrorDetail {
                base: ErrorDetail::of(e.code),
                line: e.line,
                detail: e.detail,
            };
            return Ok((status_of(e.code), Json(ColumnsRefused { error, columns })).into_response());
        }
        Err(e) => return Ok(file_error(e)),
    };
    let report = match checked_import(app, me, &rows, apply, &bytes).await? {
        Ok(report) => report,
        Err(refused) => return Ok(refused),
    };
    Ok(Json(MappedImport { columns, report }).into_response())
}

impl Columns {
    /// The columns a file is read with: the superuser's mapping, or the proposal.
    fn of(header: &[String], mapping: Option<ColumnMap>) -> Self {
        let proposed = mapping.is_none();
        let mapping = mapping.unwrap_or_else(|| roster_columns::propose(header));
        Self {
            header: header
                .iter()
                .map(|h| h.chars().filter(|c| !c.is_control()).take(80).collect())
                .collect(),
            own_header: roster_columns::is_own(header),
            proposed,
            missing: mapping.missing(),
            mapping,
        }
    }
}

/// Plans (and with `apply`, writes) the rows; `Err` is the ready `422` answer when `apply` and
/// a row has an error.
async fn checked_import(
    app: &App,
    me: &crate::store::UserRecord,
    rows: &[Row],
    apply: bool,
    bytes: &[u8],
) -> Result<Result<crate::store::roster::ImportReport, Response>, ApiError> {
    let sha256: String = digest(&SHA256, bytes)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let report = app
        .store
        .import_roster(me.id.as_str(), &me.school, rows, apply, &sha256)
        .await?;
    tracing::info!(
        school = %me.school,
        rows = report.summary.rows,
        errors = report.summary.rows_with_errors,
        applied = report.applied,
        "roster import"
    );
    if apply && !report.ok {
        let code = ErrorCode::RosterInvalid;
        let body = ImportRefused {
            error: ErrorDetail::of(code),
            report,
        };
        return Ok(Err((status_of(code), Json(body)).into_response()));
    }
    Ok(Ok(report))
}

/// `GET /api/admin/roster/template.csv`: Livegate's header and two invented example rows.
pub async fn template() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"livegate-roster-template.csv\"",
            ),
        ],
        roster_csv::template(),
    )
        .into_response()
}

/// `GET /api/admin/classes/{class_id}/roster.csv`: the class's pupils in the import format.
/// The file name carries the class id, never a person's name.
pub async fn export(
    State(app): State<App>,
    Extension(CurrentUser(me)): Extension<CurrentUser>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let (class, pupils) = school_class_pupils(&app, &me, &id).await?;
    let csv = roster_csv::export(
        &class.name,
        pupils.iter().map(|u| (u.email.expose(), u.display_name.as_str())),
    );
    // Exports carry personal data out of Livegate, so each one is on the record.
    app.store
        .audit(
            &me.school,
            me.id.as_str(),
            "roster.export",
            audit_detail(&RosterExported {
                class: class.id.clone(),
                pupils: pupils.len(),
            })?,
        )
        .await?;
    let disposition = format!("attachment; filename=\"roster-{}.csv\"", class.id);
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        csv,
    )
        .into_response())
}

#[cfg(test)]
mod tests;
