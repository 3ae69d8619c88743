//! The routes for the people and machines that run Livegate: `GET /healthz` (the process
//! answers), `GET /readyz` (ready for work: `crate::app::health`) and `GET /api/setup`
//! (whether the server has a school yet, which the sign-in page reads to tell a new operator
//! how to create one). Public, typed, and free of personal data: no names, emails or ids.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use super::error::ApiError;
use crate::app::App;

/// The command that creates a school, as the sign-in page and the start-up log show it.
pub const CREATE_SCHOOL_COMMAND: &str =
    "livegate school add --name \"School name\" --superuser you@your-school.example";

/// `GET /healthz`: always `{"status": "alive"}` while the process serves HTTP.
#[derive(Debug, Serialize)]
pub struct Alive {
    pub status: &'static str,
}

/// `GET /readyz`: each check, and whether all passed (200) or not (503).
#[derive(Debug, Serialize)]
pub struct Ready {
    pub ready: bool,
    pub checks: ReadyChecks,
}

/// The readiness checks; `true` is good except for `stopping`.
#[derive(Debug, Serialize)]
pub struct ReadyChecks {
    pub store: bool,
    pub object_store: bool,
    pub media_socket: bool,
    pub stopping: bool,
}

/// `GET /api/setup`: whether any school exists, and if not the command that creates one.
#[derive(Debug, Serialize)]
pub struct Setup {
    pub has_school: bool,
    pub create_school_command: Option<&'static str>,
}

/// `GET /healthz`
pub async fn healthz() -> Json<Alive> {
    Json(Alive { status: "alive" })
}

/// `GET /readyz`
pub async fn readyz(State(app): State<App>) -> Response {
    let r = app.readiness().await;
    let status = if r.ready() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = Ready {
        ready: r.ready(),
        checks: ReadyChecks {
            store: r.store,
            object_store: r.objects,
            media_socket: r.media,
            stopping: r.stopping,
        },
    };
    (status, Json(body)).into_response()
}

/// `GET /api/setup`
pub async fn setup(State(app): State<App>) -> Result<Json<Setup>, ApiError> {
    let has_school = app.store.school_count().await? > 0;
    Ok(Json(Setup {
        has_school,
        create_school_command: (!has_school).then_some(CREATE_SCHOOL_COMMAND),
    }))
}
