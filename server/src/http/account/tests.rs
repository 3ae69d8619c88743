//! Route tests for accounts, without a socket: sign-in limits with `Retry-After`, forged and
//! expired cookies, sign-out, and set-password links (issue, use once, expire, stay in their
//! school, refuse cross-site posts).

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

use crate::http::tests::{app, call, code, sign_in};
use crate::http::{router, App};
use crate::store::{now_ms, token_hash, TokenPurpose};
use livegate_core::ids::{Email, SchoolId, UserId};

/// Sends a JSON request from a client address, with extra headers; returns status, headers, body.
async fn send(
    app: &App,
    method: Method,
    path: &str,
    from: &str,
    headers: &[(&str, &str)],
    body: Value,
) -> (StatusCode, HeaderMap, Value) {
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "application/json");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let mut req = req.body(Body::from(body.to_string())).unwrap();
    let addr: SocketAddr = format!("{from}:40000").parse().unwrap();
    req.extensions_mut().insert(ConnectInfo(addr));
    let res = router(app.clone()).oneshot(req).await.unwrap();
    let (status, headers) = (res.status(), res.headers().clone());
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    (status, headers, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

async fn attempt(app: &App, from: &str, email: &str, password: &str) -> (StatusCode, HeaderMap, Value) {
    send(
        app,
        Method::POST,
        "/api/session",
        from,
        &[],
        json!({"email": email, "password": password}),
    )
    .await
}

async fn id_of(app: &App, email: &str) -> UserId {
    app.store
        .user_by_email(&Email::parse(email).unwrap())
        .await
        .unwrap()
        .unwrap()
        .id
}

fn token_of(link: &Value) -> String {
    let url = link["link"]["url"].as_str().unwrap();
    url.strip_prefix("/#/set-password?token=").unwrap().to_owned()
}

/// Five wrong passwords for an email from one address hold that address for it, the right
/// password included; the owner from an address that has not failed, and the owner's own
/// browser (a known device by its cookie) at that very address, still get in.
#[tokio::test]
async fn five_failures_hold_the_guessing_address_not_the_owner() {
    let app = app().await;
    let ada = "ada@pupils.demo.sch.uk";
    let (status, headers, _) = attempt(&app, "203.0.113.1", ada, "demo-pupil").await;
    assert_eq!(status, StatusCode::OK);
    let device = headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .find(|c| c.starts_with("livegate_device="))
        .unwrap();
    for part in ["Path=/api/session", "HttpOnly", "SameSite=Strict"] {
        assert!(device.contains(part), "{device}");
    }
    let device = device.split(';').next().unwrap().to_owned();
    for _ in 0..5 {
        let (status, _, v) = attempt(&app, "203.0.113.1", ada, "wrong-guess").await;
        assert_eq!((status, code(&v)), (StatusCode::UNAUTHORIZED, "bad_credentials"));
    }
    let (status, headers, v) = attempt(&app, "203.0.113.1", ada, "demo-pupil").await;
    assert_eq!((status, code(&v)), (StatusCode::TOO_MANY_REQUESTS, "too_many_attempts"));
    assert!(headers.get("set-cookie").is_none());
    let retry: u64 = headers.get("retry-after").unwrap().to_str().unwrap().parse().unwrap();
    assert!((890..=900).contains(&retry), "{retry}");
    let (status, _, _) = attempt(&app, "198.51.100.2", ada, "demo-pupil").await;
    assert_eq!(status, StatusCode::OK, "from an address that has not failed");
    let body = json!({"email": ada, "password": "demo-pupil"});
    let (status, _, _) = send(
        &app,
        Method::POST,
        "/api/session",
        "203.0.113.1",
        &[("cookie", device.as_str())],
        body,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "her own browser at the guessing address");
    // Another account from the first address is unaffected.
    let (status, headers, _) = attempt(&app, "203.0.113.1", "ben@pupils.demo.sch.uk", "demo-pupil").await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers.get("set-cookie").is_some());
}

#[tokio::test]
async fn thirty_failures_lock_an_address_for_every_account() {
    let app = app().await;
    for i in 0..30 {
        let (status, _, _) = attempt(&app, "203.0.113.9", &format!("guess{i}@demo.sch.uk"), "x").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    let (status, headers, v) = attempt(&app, "203.0.113.9", "teacher@demo.sch.uk", "demo-teacher").await;
    assert_eq!((status, code(&v)), (StatusCode::TOO_MANY_REQUESTS, "too_many_attempts"));
    assert!(headers.contains_key("retry-after"));
    let (status, _, _) = attempt(&app, "203.0.113.10", "teacher@demo.sch.uk", "demo-teacher").await;
    assert_eq!(status, StatusCode::OK, "other addresses are unaffected");
    // Malformed emails still count against the address.
    let (status, _, v) = attempt(&app, "203.0.113.9", "not an email", "x").await;
    assert_eq!((status, code(&v)), (StatusCode::TOO_MANY_REQUESTS, "too_many_attempts"));
}

#[tokio::test]
async fn forged_expired_and_ended_sessions_are_not_signed_in() {
    let app = app().await;
    let me = |cookie: String| {
        let app = app.clone();
        async move { call(&app, Method::GET, "/api/me", Some(&cookie), "").await }
    };
    for forged in [
        "livegate_session=".to_owned() + &"0".repeat(64),
        "livegate_session=../../etc".into(),
        "livegate_session=".into(),
    ] {
        let (status, v) = me(forged.clone()).await;
        assert_eq!(
            (status, code(&v)),
            (StatusCode::UNAUTHORIZED, "not_signed_in"),
            "{forged}"
        );
    }
    // A session whose last use was over two hours ago.
    let ada = id_of(&app, "ada@pupils.demo.sch.uk").await;
    let token = livegate_core::ids::random_token(32);
    app.store
        .create_session(
            &token_hash(&token),
            &ada,
            livegate_core::school::SignInMethod::Password,
            now_ms() - 121 * 60_000,
            app.sessions.times(),
        )
        .await
        .unwrap();
    let (status, v) = me(format!("livegate_session={token}")).await;
    assert_eq!(
        (status, code(&v)),
        (StatusCode::UNAUTHORIZED, "not_signed_in"),
        "idle too long"
    );
    // Sign-out ends the session; the old cookie no longer works.
    let cookie = sign_in(&app, "ada@pupils.demo.sch.uk", "demo-pupil").await;
    assert_eq!(me(cookie.clone()).await.0, StatusCode::OK);
    let (status, _) = call(&app, Method::DELETE, "/api/session", Some(&cookie), "").await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(code(&me(cookie).await.1), "not_signed_in");
    // Disabling an account signs it out.
    let cookie = sign_in(&app, "ada@pupils.demo.sch.uk", "demo-pupil").await;
    let demo = SchoolId::parse("sch_demo").unwrap();
    app.store
        .update_user("usr_admin", &demo, &ada, None, Some(true))
        .await
        .unwrap();
    assert_eq!(code(&me(cookie).await.1), "not_signed_in");
}

#[tokio::test]
async fn a_reset_link_sets_the_password_once() {
    let app = app().await;
    let admin = sign_in(&app, "admin@demo.sch.uk", "demo-admin").await;
    let ada = id_of(&app, "ada@pupils.demo.sch.uk").await;
    let old_session = sign_in(&app, "ada@pupils.demo.sch.uk", "demo-pupil").await;
    let (status, link) = call(
        &app,
        Method::POST,
        &format!("/api/admin/users/{ada}/reset"),
        Some(&admin),
        "",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{link}");
    assert_eq!(link["link"]["purpose"], "reset");
    let expires = link["link"]["expires_at"].as_i64().unwrap();
    assert!((expires - now_ms() - 3_600_000).abs() < 60_000);
    let token = token_of(&link);
    let set = |token: String, password: &str| {
        let (app, body) = (app.clone(), json!({"token": token, "password": password}).to_string());
        async move { call(&app, Method::POST, "/api/account/password", None, &body).await }
    };
    let (status, v) = set(token.clone(), "short").await;
    assert_eq!((status, code(&v)), (StatusCode::BAD_REQUEST, "weak_password"));
    let (status, v) = set(token.clone(), &"x".repeat(300)).await;
    assert_eq!((status, code(&v)), (StatusCode::BAD_REQUEST, "weak_password"));
    let (status, _) = set(token.clone(), "a brand new password").await;
    assert_eq!(
        status,
        StatusCode::NO_CONTENT,
        "a refused password did not spend the link"
    );
    let (status, v) = set(token, "another new password").await;
    assert_eq!(
        (status, code(&v)),
        (StatusCode::UNAUTHORIZED, "token_invalid"),
        "used once"
    );
    let (status, v) = call(&app, Method::GET, "/api/me", Some(&old_session), "").await;
    assert_eq!(
        (status, code(&v)),
        (StatusCode::UNAUTHORIZED, "not_signed_in"),
        "old sessions end"
    );
    let (status, _, _) = attempt(&app, "192.0.2.1", "ada@pupils.demo.sch.uk", "demo-pupil").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    sign_in(&app, "ada@pupils.demo.sch.uk", "a brand new password").await;
    let actions: Vec<String> = app
        .store
        .audit_entries(&SchoolId::parse("sch_demo").unwrap(), 5)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert!(
        actions.contains(&"account.reset".to_owned()) && actions.contains(&"user.password".to_owned()),
        "{actions:?}"
    );
}

#[tokio::test]
async fn bad_expired_and_foreign_links_are_refused() {
    let app = app().await;
    let admin = sign_in(&app, "admin@demo.sch.uk", "demo-admin").await;
    for body in [
        r#"{"token":"#,
        r#"{"token":"x"}"#,
        r#"{"token":"x","password":"long enough pass","extra":1}"#,
    ] {
        let (status, v) = call(&app, Method::POST, "/api/account/password", None, body).await;
        assert_eq!((status, code(&v)), (StatusCode::BAD_REQUEST, "bad_request"), "{body}");
    }
    for token in ["nope".to_owned(), "0".repeat(64), "A".repeat(64)] {
        let body = json!({"token": token, "password": "long enough pass"}).to_string();
        let (status, v) = call(&app, Method::POST, "/api/account/password", None, &body).await;
        assert_eq!(
            (status, code(&v)),
            (StatusCode::UNAUTHORIZED, "token_invalid"),
            "{token}"
        );
    }
    // An invite issued 73 hours ago has expired.
    let ada = id_of(&app, "ada@pupils.demo.sch.uk").await;
    let demo = SchoolId::parse("sch_demo").unwrap();
    let token = livegate_core::ids::random_token(32);
    let issued = now_ms() - 73 * 3_600_000;
    app.store
        .issue_account_token(
            "usr_admin",
            &demo,
            &ada,
            TokenPurpose::Invite,
            &token_hash(&token),
            issued,
        )
        .await
        .unwrap();
    let body = json!({"token": token, "password": "long enough pass"}).to_string();
    let (status, v) = call(&app, Method::POST, "/api/account/password", None, &body).await;
    assert_eq!((status, code(&v)), (StatusCode::UNAUTHORIZED, "token_invalid"));
    // Another school's user, or no user, is not found; a teacher may not issue links.
    let yan = id_of(&app, "yan@pupils.other.sch.uk").await;
    for path in [
        format!("/api/admin/users/{yan}/invite"),
        "/api/admin/users/usr_nobody/reset".into(),
        "/api/admin/users/bad%20id/reset".into(),
    ] {
        let (status, v) = call(&app, Method::POST, &path, Some(&admin), "").await;
        assert_eq!((status, code(&v)), (StatusCode::NOT_FOUND, "not_found"), "{path}");
    }
    let teacher = sign_in(&app, "teacher@demo.sch.uk", "demo-teacher").await;
    let (status, v) = call(
        &app,
        Method::POST,
        &format!("/api/admin/users/{ada}/invite"),
        Some(&teacher),
        "",
    )
    .await;
    assert_eq!((status, code(&v)), (StatusCode::FORBIDDEN, "forbidden_role"));
    let (status, link) = call(
        &app,
        Method::POST,
        &format!("/api/admin/users/{ada}/invite"),
        Some(&admin),
        "",
    )
    .await;
    assert_eq!(
        (status, link["link"]["purpose"].as_str()),
        (StatusCode::OK, Some("invite"))
    );
}

#[tokio::test]
async fn cross_site_posts_to_account_routes_are_refused() {
    let app = app().await;
    let admin = sign_in(&app, "admin@demo.sch.uk", "demo-admin").await;
    let ada = id_of(&app, "ada@pupils.demo.sch.uk").await;
    let (_, link) = call(
        &app,
        Method::POST,
        &format!("/api/admin/users/{ada}/invite"),
        Some(&admin),
        "",
    )
    .await;
    let token = token_of(&link);
    let evil = [("host", "school.example"), ("origin", "https://evil.example")];
    let body = json!({"token": token, "password": "long enough pass"});
    let (status, _, v) = send(
        &app,
        Method::POST,
        "/api/account/password",
        "192.0.2.1",
        &evil,
        body.clone(),
    )
    .await;
    assert_eq!((status, code(&v)), (StatusCode::FORBIDDEN, "cross_site"));
    let with_cookie = [("sec-fetch-site", "cross-site"), ("cookie", admin.as_str())];
    let (status, _, v) = send(
        &app,
        Method::POST,
        &format!("/api/admin/users/{ada}/reset"),
        "192.0.2.1",
        &with_cookie,
        Value::Null,
    )
    .await;
    assert_eq!((status, code(&v)), (StatusCode::FORBIDDEN, "cross_site"));
    let (status, _, v) = send(
        &app,
        Method::POST,
        "/api/session",
        "192.0.2.1",
        &evil,
        json!({"email": "ada@pupils.demo.sch.uk", "password": "demo-pupil"}),
    )
    .await;
    assert_eq!((status, code(&v)), (StatusCode::FORBIDDEN, "cross_site"));
    // Nothing changed: the invite is still the live link and works from the school's own page.
    let same = [("host", "school.example"), ("origin", "http://school.example")];
    let (status, _, _) = send(&app, Method::POST, "/api/account/password", "192.0.2.1", &same, body).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}
