//! The second factor through the router, without a socket: a leader's password session is
//! refused recordings until an authenticator is enrolled, and `me` says how the session signed
//! in. (Every bad input, end to end, is in `tests/integration/mfa.rs`.)

use axum::http::{Method, StatusCode};

use super::totp;
use crate::http::tests::{app, call, code, sign_in};
use crate::http::App;

/// Signs in with a password, enrols an authenticator and confirms it: a session cookie whose
/// session counts as two factors, as opening recordings needs.
pub(crate) async fn two_factor_session(app: &App, email: &str, password: &str) -> String {
    let cookie = sign_in(app, email, password).await;
    let (status, body) = call(app, Method::POST, "/api/account/second-factor/totp", Some(&cookie), "").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let secret = body["secret"].as_str().unwrap();
    let now = (crate::store::now_ms() / 1000) as u64;
    let confirm = format!(r#"{{"code":"{}"}}"#, totp::code_at(secret, now).unwrap());
    let (status, body) = call(
        app,
        Method::POST,
        "/api/account/second-factor/totp/confirm",
        Some(&cookie),
        &confirm,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["recovery_codes"].as_array().unwrap().len(), 10);
    cookie
}

#[tokio::test]
async fn a_leaders_password_session_gets_mfa_required_until_a_factor_is_confirmed() {
    let app = app().await;
    let leader = sign_in(&app, "dsl@demo.sch.uk", "demo-leader").await;
    let (status, body) = call(&app, Method::GET, "/api/recordings", Some(&leader), "").await;
    assert_eq!((status, code(&body)), (StatusCode::FORBIDDEN, "mfa_required"));
    let (_, me) = call(&app, Method::GET, "/api/me", Some(&leader), "").await;
    assert_eq!(me["sign_in"]["method"], "password");
    assert_eq!(me["sign_in"]["two_factors"], false);
    assert_eq!(me["sign_in"]["second_factor_required"], true);
    assert_eq!(me["sign_in"]["totp_enrolled"], false);

    let leader = two_factor_session(&app, "dsl@demo.sch.uk", "demo-leader").await;
    let (status, _) = call(&app, Method::GET, "/api/recordings", Some(&leader), "").await;
    assert_eq!(status, StatusCode::OK);
    let (_, me) = call(&app, Method::GET, "/api/me", Some(&leader), "").await;
    assert_eq!(me["sign_in"]["method"], "password_totp");
    assert_eq!(me["sign_in"]["two_factors"], true);
    assert_eq!(me["sign_in"]["totp_enrolled"], true);
}

#[tokio::test]
async fn pupils_cannot_enrol_and_teachers_need_no_factor_unless_their_school_says() {
    let app = app().await;
    let pupil = sign_in(&app, "ada@pupils.demo.sch.uk", "demo-pupil").await;
    let (status, body) = call(&app, Method::POST, "/api/account/second-factor/totp", Some(&pupil), "").await;
    assert_eq!((status, code(&body)), (StatusCode::FORBIDDEN, "forbidden_role"));
    let teacher = sign_in(&app, "teacher@demo.sch.uk", "demo-teacher").await;
    let (_, me) = call(&app, Method::GET, "/api/me", Some(&teacher), "").await;
    assert_eq!(me["sign_in"]["second_factor_required"], false);
}
