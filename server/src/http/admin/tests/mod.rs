//! Route tests for the administration API and the teacher's readiness list, without a socket:
//! each route's success and refusals, cross-school isolation in both directions (every route
//! called with the other school's ids is `not_found` and changes nothing), and the audit chain
//! recording every change. This file holds the helpers the topic files below (and the roster
//! tests) share.

mod consent;
mod directory;
mod isolation;
mod readiness;

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::json;
use sqlx::Row;
use tower::ServiceExt;

use crate::http::tests::{app, call, code, sign_in};
use crate::http::{route_table, router, Access, App};
use livegate_core::ids::{Email, SchoolId};
use livegate_core::school::Role;

pub(super) fn demo() -> SchoolId {
    SchoolId::parse("sch_demo").unwrap()
}

pub(super) async fn admin(app: &App) -> String {
    sign_in(app, "admin@demo.sch.uk", "demo-admin").await
}

pub(super) async fn id_of(app: &App, email: &str) -> String {
    app.store
        .user_by_email(&Email::parse(email).unwrap())
        .await
        .unwrap()
        .unwrap()
        .id
        .to_string()
}

/// The newest audit entry's action.
pub(super) async fn last_action(app: &App) -> String {
    app.store.audit_entries(&demo(), 1).await.unwrap().remove(0).action
}

/// Everything an admin route could change, as text: if two fingerprints are equal, nothing
/// changed (the whole audit chain is part of it).
pub(super) async fn fingerprint(app: &App) -> String {
    let mut out = data_fingerprint(app).await;
    for row in sqlx::query("SELECT seq || '|' || hash AS r FROM audit_log ORDER BY seq")
        .fetch_all(app.store.pool())
        .await
        .unwrap()
    {
        out.push_str(&row.get::<String, _>("r"));
        out.push('\n');
    }
    out
}

/// The directory's data without the audit chain.
pub(super) async fn data_fingerprint(app: &App) -> String {
    let mut out = String::new();
    for sql in [
        "SELECT id || '|' || school_id || '|' || email || '|' || display_name || '|' || role || '|' || disabled || '|' || COALESCE(password_hash, '') AS r FROM users ORDER BY id",
        "SELECT id || '|' || school_id || '|' || name AS r FROM classes ORDER BY id",
        "SELECT class_id || '|' || user_id || '|' || member AS r FROM class_members ORDER BY class_id, user_id",
        "SELECT school_id || '|' || domain || '|' || note AS r FROM trusted_domains ORDER BY school_id, domain",
        "SELECT id || '|' || pupil_id || '|' || COALESCE(withdrawn_at, 0) AS r FROM consents ORDER BY id",
        "SELECT pupil_id || '|' || camera_always_off || '|' || COALESCE(alias, '') || '|' || hidden_from_pupils AS r FROM privacy_profiles ORDER BY pupil_id",
        "SELECT school_id || '|' || version AS r FROM conduct_versions ORDER BY school_id, version",
        "SELECT id || '|' || conduct_version_required AS r FROM schools ORDER BY id",
    ] {
        for row in sqlx::query(sql).fetch_all(app.store.pool()).await.unwrap() {
            out.push_str(&row.get::<String, _>("r"));
            out.push('\n');
        }
    }
    out
}

/// Sends a request with any body and content type; returns status, headers and raw body.
pub(super) async fn raw(
    app: &App,
    method: Method,
    path: &str,
    cookie: &str,
    content_type: &str,
    body: Body,
) -> (StatusCode, HeaderMap, bytes::Bytes) {
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", content_type)
        .header("cookie", cookie);
    let res = router(app.clone()).oneshot(req.body(body).unwrap()).await.unwrap();
    let (parts, body) = res.into_parts();
    (parts.status, parts.headers, body.collect().await.unwrap().to_bytes())
}

async fn assert_audit_ok(app: &App) {
    assert!(
        app.store.verify_audit().await.unwrap().is_ok(),
        "the audit chain verifies"
    );
}

/// A paper consent form's body for the given code-of-conduct version.
fn form(version: i64) -> String {
    json!({"pupil_signed": true, "parent_name": "E. Parent", "signed_on": crate::store::now_ms(), "method": "paper", "conduct_version": version}).to_string()
}
