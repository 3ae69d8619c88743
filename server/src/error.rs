//! The stable error codes of the HTTP API and the signalling protocol, and the one HTTP error
//! type that carries them.
//!
//! Every refusal a person or a client can meet has a machine code (stable, documented in
//! `PROTOCOL.md` section 4) and a plain sentence. The same code travels over HTTP and the
//! WebSocket so the web client shows the same words either way.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

pub use livegate_core::codes::ErrorCode;

/// The HTTP status of each code.
pub trait HttpStatus {
    fn status(self) -> StatusCode;
}

impl HttpStatus for ErrorCode {
    /// The HTTP status this code maps to.
    fn status(self) -> StatusCode {
        use ErrorCode::*;
        match self {
            BadRequest | BadDate | BadMessage | BadSdp | ProtocolMismatch | UnsupportedMedia | WeakPassword => StatusCode::BAD_REQUEST,
            BadCredentials | NotSignedIn | TicketInvalid | TokenInvalid | NotJoined => StatusCode::UNAUTHORIZED,
            ForbiddenRole | NotOnRoster | WrongSchool | RemovedByTeacher | NotGranted | CrossSite | DomainNotTrusted
            | ConsentMissing | ConsentWithdrawn | ConsentOptedOut | AccountDisabled | RefusedByTeacher | CameraAlwaysOff => {
                StatusCode::FORBIDDEN
            }
            NotFound | UnknownStream | UnknownParticipant => StatusCode::NOT_FOUND,
            LessonNotLive | TeacherAbsent | DuplicateStream | Replaced | Conflict | InLobby => StatusCode::CONFLICT,
            TooManyAttempts | RateLimited | TooManyMessages => StatusCode::TOO_MANY_REQUESTS,
            PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            CsvNotUtf8 | CsvEmpty | CsvBadHeader | CsvMalformed | CsvTooManyRows | RoleMismatch => StatusCode::BAD_REQUEST,
            RosterInvalid => StatusCode::UNPROCESSABLE_ENTITY,
            CannotChangeSelf => StatusCode::FORBIDDEN,
            MessageTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            HeartbeatTimeout => StatusCode::REQUEST_TIMEOUT,
            ReasonRequired => StatusCode::BAD_REQUEST,
            RecordingUnavailable | ViewExpired => StatusCode::CONFLICT,
            RecordingTampered => StatusCode::INTERNAL_SERVER_ERROR,
            StoreUnavailable | ServerStopping => StatusCode::SERVICE_UNAVAILABLE,
            Internal => StatusCode::INTERNAL_SERVER_ERROR,
            TextInvalid => StatusCode::BAD_REQUEST,
            MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ServerBusy => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

/// The JSON body of every error: `{"error": {"code": ..., "message": ...}}`.
#[derive(Debug, Serialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// The code and sentence inside [`ErrorBody`].
#[derive(Debug, Serialize)]
pub struct ErrorDetail {
    pub code: ErrorCode,
    pub message: &'static str,
}

/// The one error type of the HTTP routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiError(pub ErrorCode);

impl From<ErrorCode> for ApiError {
    fn from(code: ErrorCode) -> Self {
        Self(code)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody { error: ErrorDetail { code: self.0, message: self.0.message() } };
        (self.0.status(), Json(body)).into_response()
    }
}

/// Errors inside the server crate that are not a person's mistake.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("configuration: {0}")]
    Config(String),
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    #[error("webrtc: {0}")]
    Rtc(String),
    #[error("the media engine has stopped")]
    MediaGone,
}

/// A text field that the text policy ([`crate::text`]) refused: `text_invalid`, or
/// `reason_required` for a reason that is empty or has too few letters (the code clients
/// already know), with the field and why in the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextRefusal(pub crate::text::TextError);

impl TextRefusal {
    pub fn code(&self) -> ErrorCode {
        use crate::text::{Kind, Problem};
        match (self.0.field.kind, self.0.problem) {
            (Kind::Reason, Problem::Empty | Problem::TooShort) => ErrorCode::ReasonRequired,
            _ => ErrorCode::TextInvalid,
        }
    }
}

/// The body of a [`TextRefusal`]: the usual error shape plus `field` (its name in the request),
/// `reason` (a stable name from [`crate::text::Problem`]) and `detail` (a sentence naming the
/// field, never repeating its value).
#[derive(Debug, Serialize)]
pub struct TextErrorBody {
    pub error: TextErrorDetail,
}

/// The inside of [`TextErrorBody`].
#[derive(Debug, Serialize)]
pub struct TextErrorDetail {
    #[serde(flatten)]
    pub base: ErrorDetail,
    pub field: &'static str,
    pub reason: crate::text::Problem,
    pub detail: String,
}

impl IntoResponse for TextRefusal {
    fn into_response(self) -> Response {
        let code = self.code();
        let error = TextErrorDetail {
            base: ErrorDetail { code, message: code.message() },
            field: self.0.field.name,
            reason: self.0.problem,
            detail: self.0.sentence(),
        };
        (code.status(), Json(TextErrorBody { error })).into_response()
    }
}

/// The error of a route that takes text a person wrote: any [`ApiError`], or a refused text
/// field (whose body says which field and why).
#[derive(Debug)]
pub enum InputError {
    Api(ApiError),
    Text(TextRefusal),
}

impl From<ApiError> for InputError {
    fn from(e: ApiError) -> Self {
        Self::Api(e)
    }
}

impl From<ErrorCode> for InputError {
    fn from(code: ErrorCode) -> Self {
        Self::Api(ApiError(code))
    }
}

impl From<crate::text::TextError> for InputError {
    fn from(e: crate::text::TextError) -> Self {
        Self::Text(TextRefusal(e))
    }
}

impl IntoResponse for InputError {
    fn into_response(self) -> Response {
        match self {
            Self::Api(e) => e.into_response(),
            Self::Text(e) => e.into_response(),
        }
    }
}
