//! The HTTP face of errors: the status of each code ([`status_of`]), the JSON body every
//! error answer has (`{"error": {"code", "message"}}`), and the error types of the routes:
//! [`ApiError`], and [`InputError`] for routes that take text a person wrote (whose body also
//! says which field was refused and why).
//!
//! The codes themselves and their sentences are `livegate_core::codes`: the same code travels
//! over HTTP and the WebSocket, and the rules that name one know nothing of HTTP. A store error
//! becomes an [`ApiError`] here too, so the store does not know the HTTP error type.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use livegate_core::codes::ErrorCode;
use livegate_core::text::{Problem, TextError};

use crate::app::AppError;
use crate::store::StoreError;

/// The HTTP status of each code: the code's face in this layer (the core's codes know no HTTP).
pub fn status_of(code: ErrorCode) -> StatusCode {
    use ErrorCode::*;
    match code {
        BadRequest | BadDate | BadMessage | BadSdp | ProtocolMismatch | UnsupportedMedia | WeakPassword => {
            StatusCode::BAD_REQUEST
        }
        BadCredentials | NotSignedIn | TicketInvalid | TokenInvalid | NotJoined => StatusCode::UNAUTHORIZED,
        ForbiddenRole | NotOnRoster | WrongSchool | RemovedByTeacher | NotGranted | CrossSite | DomainNotTrusted
        | ConsentMissing | ConsentWithdrawn | ConsentOptedOut | AccountDisabled | RefusedByTeacher
        | CameraAlwaysOff => StatusCode::FORBIDDEN,
        NotFound | UnknownStream | UnknownParticipant => StatusCode::NOT_FOUND,
        LessonNotLive | TeacherAbsent | DuplicateStream | Replaced | Conflict | InLobby => StatusCode::CONFLICT,
        TooManyAttempts | RateLimited | TooManyMessages => StatusCode::TOO_MANY_REQUESTS,
        PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        CsvNotUtf8 | CsvEmpty | CsvBadHeader | CsvMalformed | CsvTooManyRows | RoleMismatch => StatusCode::BAD_REQUEST,
        CsvUnmappedHeader | RosterMappingInvalid => StatusCode::BAD_REQUEST,
        InviteSheetTooLarge => StatusCode::UNPROCESSABLE_ENTITY,
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
        SchoolDisabled => StatusCode::FORBIDDEN,
        PublicWebmailDomain => StatusCode::CONFLICT,
        SsoStateMismatch | SsoCodeInvalid | SsoBadToken | SsoWrongIssuer | SsoWrongAudience | SsoTokenExpired
        | SsoBadSignature | SsoUnsignedToken | SsoUnknownKey | SsoNonceMismatch | SsoCancelled => {
            StatusCode::UNAUTHORIZED
        }
        SsoOtherOrganisation | SsoConsumerAccount | SsoEmailUnverified | SsoUnknownPerson | SsoOtherSchool
        | PasswordSignInOff => StatusCode::FORBIDDEN,
        SsoNotConfigured => StatusCode::NOT_FOUND,
        SsoUnavailable | SsoDomainTaken => StatusCode::CONFLICT,
        SsoProviderUnavailable => StatusCode::BAD_GATEWAY,
        SsoSettingsInvalid => StatusCode::BAD_REQUEST,
        MfaRequired | MfaResetOwn => StatusCode::FORBIDDEN,
        CodeInvalid | CodeReused | PendingSignInInvalid => StatusCode::UNAUTHORIZED,
        MfaAlreadyEnrolled => StatusCode::CONFLICT,
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

impl ErrorDetail {
    /// A code with its standard sentence.
    pub fn of(code: ErrorCode) -> Self {
        Self {
            code,
            message: code.message(),
        }
    }
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
        let body = ErrorBody {
            error: ErrorDetail::of(self.0),
        };
        (status_of(self.0), Json(body)).into_response()
    }
}

/// A text field that the text policy (`livegate_core::text`) refused, with its code
/// ([`TextError::code`]: `text_invalid`, or `reason_required` for a missing reason) and the
/// field and why in the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextRefusal(pub TextError);

/// The body of a [`TextRefusal`]: the usual error shape plus `field` (its name in the request),
/// `reason` (a stable name from [`Problem`]) and `detail` (a sentence naming the
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
    pub reason: Problem,
    pub detail: String,
}

impl IntoResponse for TextRefusal {
    fn into_response(self) -> Response {
        let code = self.0.code();
        let error = TextErrorDetail {
            base: ErrorDetail::of(code),
            field: self.0.field.name,
            reason: self.0.problem,
            detail: self.0.sentence(),
        };
        (status_of(code), Json(TextErrorBody { error })).into_response()
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

impl From<TextError> for InputError {
    fn from(e: TextError) -> Self {
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

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        let code = e.code();
        if let StoreError::Db(e) = &e {
            tracing::error!(error = %e, code = code.as_str(), "database error");
        }
        code.into()
    }
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        match e {
            AppError::Refused(code) => code.into(),
            AppError::Store(e) => e.into(),
        }
    }
}

impl From<StoreError> for InputError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Text(e) => e.into(),
            e => Self::Api(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_an_error_status() {
        for &code in ErrorCode::ALL {
            let status = status_of(code);
            assert!(
                status.is_client_error() || status.is_server_error(),
                "{code:?}: {status}"
            );
        }
    }

    /// PROTOCOL.md section 4 is the list clients read: a new code without its row fails here.
    #[test]
    fn every_code_has_a_row_in_protocol_md() {
        let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/PROTOCOL.md")).unwrap();
        let section = doc
            .split("\n## 4. Error codes")
            .nth(1)
            .unwrap()
            .split("\n## ")
            .next()
            .unwrap();
        for &code in ErrorCode::ALL {
            assert!(
                section.contains(&format!("\n| `{}` |", code.as_str())),
                "{code:?} has no row in PROTOCOL.md section 4"
            );
        }
    }
}
