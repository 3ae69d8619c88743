//! Route tests for the administration API and the teacher's readiness list, without a socket:
//! each route's success and refusals, cross-school isolation in both directions (every route
//! called with the other school's ids is `not_found` and changes nothing), and the audit chain
//! recording every change.

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

#[tokio::test]
async fn users_are_listed_created_and_changed() {
    let app = app().await;
    let su = admin(&app).await;
    let (status, body) = call(&app, Method::GET, "/api/admin/users", Some(&su), "").await;
    assert_eq!(status, StatusCode::OK);
    let users = body["users"].as_array().unwrap();
    assert!(users
        .iter()
        .any(|u| u["email"] == "ada@pupils.demo.sch.uk" && u["role"] == "pupil" && u["has_password"] == true));
    assert!(
        users
            .iter()
            .all(|u| !u["email"].as_str().unwrap().ends_with("other.sch.uk")),
        "only this school's users"
    );

    let new = r#"{"email":" New.Teacher@Demo.sch.uk ","display_name":"Ms New","role":"teacher"}"#;
    let (status, body) = call(&app, Method::POST, "/api/admin/users", Some(&su), new).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["user"]["email"], "new.teacher@demo.sch.uk");
    assert_eq!(body["user"]["has_password"], false);
    // No live set-password link that nobody asked for: it is issued (and audited) on request.
    assert_eq!(
        body.as_object().unwrap().keys().collect::<Vec<_>>(),
        vec!["user"],
        "{body}"
    );
    let recent = app.store.audit_entries(&demo(), 1).await.unwrap();
    assert_eq!(recent[0].action.as_str(), "user.create");
    let id = body["user"]["id"].as_str().unwrap().to_owned();
    let (status, link) = call(
        &app,
        Method::POST,
        &format!("/api/admin/users/{id}/invite"),
        Some(&su),
        "",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        link["link"]["url"]
            .as_str()
            .unwrap()
            .starts_with("/#/set-password?token="),
        "{link}"
    );
    let (status, body) = call(&app, Method::POST, "/api/admin/users", Some(&su), new).await;
    assert_eq!((status, code(&body)), (StatusCode::CONFLICT, "conflict"));

    let before = fingerprint(&app).await;
    for bad in [
        r#"{"email":"not-an-email","display_name":"X","role":"teacher"}"#,
        r#"{"email":"x@demo.sch.uk","display_name":"X","role":"headteacher"}"#,
        r#"{"email":"x@demo.sch.uk","display_name":"X","role":"teacher","password":"p"}"#,
    ] {
        let (status, body) = call(&app, Method::POST, "/api/admin/users", Some(&su), bad).await;
        assert_eq!((status, code(&body)), (StatusCode::BAD_REQUEST, "bad_request"), "{bad}");
    }
    for (bad, reason) in [
        (
            r#"{"email":"x@demo.sch.uk","display_name":"  ","role":"teacher"}"#,
            "empty",
        ),
        (
            r#"{"email":"x@demo.sch.uk","display_name":"A\u0007B","role":"teacher"}"#,
            "control_characters",
        ),
        (
            r#"{"email":"x@demo.sch.uk","display_name":"Dr Chen \u202e(partner school)","role":"teacher"}"#,
            "bidi_control",
        ),
        (
            r#"{"email":"x@demo.sch.uk","display_name":"\u200b\u2060","role":"teacher"}"#,
            "invisible_characters",
        ),
    ] {
        let (status, body) = call(&app, Method::POST, "/api/admin/users", Some(&su), bad).await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::BAD_REQUEST, "text_invalid"),
            "{bad}"
        );
        assert_eq!(
            (body["error"]["field"].as_str(), body["error"]["reason"].as_str()),
            (Some("display_name"), Some(reason)),
            "{bad}"
        );
    }
    assert_eq!(fingerprint(&app).await, before, "refused requests change nothing");

    let path = format!("/api/admin/users/{id}");
    let (status, body) = call(&app, Method::PATCH, &path, Some(&su), r#"{"role":"leader"}"#).await;
    assert_eq!(
        (status, body["user"]["role"].as_str()),
        (StatusCode::OK, Some("leader"))
    );
    let (_, body) = call(&app, Method::PATCH, &path, Some(&su), r#"{"disabled":true}"#).await;
    assert_eq!(body["user"]["disabled"], true);
    assert_eq!(last_action(&app).await, "user.update");
    let (_, body) = call(&app, Method::PATCH, &path, Some(&su), r#"{"disabled":false}"#).await;
    assert_eq!(body["user"]["disabled"], false);
    let (status, body) = call(&app, Method::PATCH, &path, Some(&su), "{}").await;
    assert_eq!((status, code(&body)), (StatusCode::BAD_REQUEST, "bad_request"));
    let (status, body) = call(
        &app,
        Method::PATCH,
        "/api/admin/users/usr_nobody",
        Some(&su),
        r#"{"disabled":true}"#,
    )
    .await;
    assert_eq!((status, code(&body)), (StatusCode::NOT_FOUND, "not_found"));

    // A superuser cannot lock themselves out.
    let me = format!("/api/admin/users/{}", id_of(&app, "admin@demo.sch.uk").await);
    let before = fingerprint(&app).await;
    for change in [r#"{"disabled":true}"#, r#"{"role":"teacher"}"#] {
        let (status, body) = call(&app, Method::PATCH, &me, Some(&su), change).await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::FORBIDDEN, "cannot_change_self"),
            "{change}"
        );
    }
    assert_eq!(fingerprint(&app).await, before);
    assert_audit_ok(&app).await;
}

#[tokio::test]
async fn classes_and_their_members() {
    let app = app().await;
    let su = admin(&app).await;
    let (_, body) = call(&app, Method::GET, "/api/admin/classes", Some(&su), "").await;
    let classes = body["classes"].as_array().unwrap();
    let c7a = classes.iter().find(|c| c["id"] == "7a").unwrap();
    assert_eq!((c7a["pupils"].as_i64(), c7a["teachers"].as_i64()), (Some(6), Some(1)));
    assert!(classes.iter().all(|c| c["id"] != "9c"), "only this school's classes");

    let (status, body) = call(
        &app,
        Method::POST,
        "/api/admin/classes",
        Some(&su),
        r#"{"name":" 9D Art "}"#,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(body["class"]["name"], "9D Art");
    assert_eq!(last_action(&app).await, "class.create");
    let (status, body) = call(
        &app,
        Method::POST,
        "/api/admin/classes",
        Some(&su),
        r#"{"name":"9D Art"}"#,
    )
    .await;
    assert_eq!((status, code(&body)), (StatusCode::CONFLICT, "conflict"));
    let (status, body) = call(&app, Method::POST, "/api/admin/classes", Some(&su), r#"{"name":""}"#).await;
    assert_eq!((status, code(&body)), (StatusCode::BAD_REQUEST, "text_invalid"));
    assert_eq!(body["error"]["detail"], "The class name is empty.");

    let (status, body) = call(&app, Method::GET, "/api/admin/classes/7a", Some(&su), "").await;
    assert_eq!(status, StatusCode::OK);
    let members = body["members"].as_array().unwrap();
    assert_eq!(members.len(), 7);
    assert!(members
        .iter()
        .any(|m| m["as"] == "teacher" && m["user"]["display_name"] == "Ms Rivera"));

    let owen = id_of(&app, "owen@pupils.demo.sch.uk").await;
    let add = json!({"user_id": owen, "as": "pupil"}).to_string();
    let (status, _) = call(&app, Method::POST, "/api/admin/classes/7a/members", Some(&su), &add).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(last_action(&app).await, "roster.add");
    let (status, body) = call(&app, Method::POST, "/api/admin/classes/7a/members", Some(&su), &add).await;
    assert_eq!((status, code(&body)), (StatusCode::CONFLICT, "conflict"));

    let before = fingerprint(&app).await;
    let teacher2 = id_of(&app, "teacher2@demo.sch.uk").await;
    let ada = id_of(&app, "ada@pupils.demo.sch.uk").await;
    for body in [
        json!({"user_id": teacher2, "as": "pupil"}),
        json!({"user_id": ada, "as": "teacher"}),
    ] {
        let (status, v) = call(
            &app,
            Method::POST,
            "/api/admin/classes/8b/members",
            Some(&su),
            &body.to_string(),
        )
        .await;
        assert_eq!((status, code(&v)), (StatusCode::BAD_REQUEST, "role_mismatch"), "{body}");
    }
    let (status, v) = call(
        &app,
        Method::POST,
        "/api/admin/classes/8b/members",
        Some(&su),
        &json!({"user_id": ada, "as": "parent"}).to_string(),
    )
    .await;
    assert_eq!((status, code(&v)), (StatusCode::BAD_REQUEST, "bad_request"));
    assert_eq!(fingerprint(&app).await, before);

    let path = format!("/api/admin/classes/7a/members/{owen}");
    let (status, _) = call(&app, Method::DELETE, &path, Some(&su), "").await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(last_action(&app).await, "roster.remove");
    let (status, body) = call(&app, Method::DELETE, &path, Some(&su), "").await;
    assert_eq!((status, code(&body)), (StatusCode::NOT_FOUND, "not_found"));
    assert_audit_ok(&app).await;
}

#[tokio::test]
async fn trusted_domains() {
    let app = app().await;
    let su = admin(&app).await;
    let (_, body) = call(&app, Method::GET, "/api/admin/domains", Some(&su), "").await;
    let domains = body["domains"].as_array().unwrap();
    assert_eq!(domains.len(), 3);
    assert!(domains
        .iter()
        .any(|d| d["domain"] == "partner.sch.uk" && d["note"].as_str().unwrap().contains("partner")));

    let add = r#"{"domain":"@Home-Mail.Example","note":"Families without a school account"}"#;
    let (status, body) = call(&app, Method::POST, "/api/admin/domains", Some(&su), add).await;
    assert_eq!(
        (status, body["domain"].as_str()),
        (StatusCode::CREATED, Some("home-mail.example"))
    );
    assert_eq!(last_action(&app).await, "domain.add");
    let (status, body) = call(&app, Method::POST, "/api/admin/domains", Some(&su), add).await;
    assert_eq!((status, code(&body)), (StatusCode::CONFLICT, "conflict"));
    for (bad, want) in [
        (r#"{"domain":"no dots","note":"x"}"#, "bad_request"),
        (r#"{"domain":"ok.example","note":""}"#, "text_invalid"),
        (r#"{"domain":"ok.example","note":"Partner \u202e"}"#, "text_invalid"),
        (r#"{"domain":"ok.example"}"#, "bad_request"),
    ] {
        let (status, body) = call(&app, Method::POST, "/api/admin/domains", Some(&su), bad).await;
        assert_eq!((status, code(&body)), (StatusCode::BAD_REQUEST, want), "{bad}");
    }
    let (status, _) = call(
        &app,
        Method::DELETE,
        "/api/admin/domains/home-mail.example",
        Some(&su),
        "",
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(last_action(&app).await, "domain.remove");
    for gone in ["home-mail.example", "not%20a%20domain"] {
        let (status, body) = call(
            &app,
            Method::DELETE,
            &format!("/api/admin/domains/{gone}"),
            Some(&su),
            "",
        )
        .await;
        assert_eq!((status, code(&body)), (StatusCode::NOT_FOUND, "not_found"), "{gone}");
    }
    assert_audit_ok(&app).await;
}

fn form(version: i64) -> String {
    json!({"pupil_signed": true, "parent_name": "E. Parent", "signed_on": crate::store::now_ms(), "method": "paper", "conduct_version": version}).to_string()
}

#[tokio::test]
async fn consent_is_recorded_listed_and_withdrawn() {
    let app = app().await;
    let su = admin(&app).await;
    let eve = id_of(&app, "eve@pupils.demo.sch.uk").await;
    let (_, body) = call(
        &app,
        Method::GET,
        "/api/admin/classes/7a/without-consent",
        Some(&su),
        "",
    )
    .await;
    let missing: Vec<(&str, &str)> = body["pupils"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["user"]["display_name"].as_str().unwrap(),
                p["consent"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(missing, [("Eve", "missing")]);

    let path = format!("/api/admin/pupils/{eve}/consents");
    let (_, body) = call(&app, Method::GET, &path, Some(&su), "").await;
    assert_eq!(
        (body["state"].as_str(), body["records"].as_array().map(Vec::len)),
        (Some("missing"), Some(0))
    );
    let (status, body) = call(&app, Method::POST, &path, Some(&su), &form(1)).await;
    assert_eq!(
        (status, body["state"].as_str()),
        (StatusCode::CREATED, Some("current")),
        "{body}"
    );
    assert_eq!(last_action(&app).await, "consent.record");
    let consent = body["consent_id"].as_str().unwrap().to_owned();
    let (_, body) = call(
        &app,
        Method::GET,
        "/api/admin/classes/7a/without-consent",
        Some(&su),
        "",
    )
    .await;
    assert_eq!(body["pupils"].as_array().unwrap().len(), 0);

    let before = fingerprint(&app).await;
    let bad_date =
        json!({"pupil_signed": true, "parent_name": "P", "signed_on": 5, "method": "paper", "conduct_version": 1})
            .to_string();
    let bad_method = json!({"pupil_signed": true, "parent_name": "P", "signed_on": crate::store::now_ms(), "method": "email", "conduct_version": 1}).to_string();
    for bad in [form(99), bad_date, bad_method, "{}".to_owned()] {
        let (status, body) = call(&app, Method::POST, &path, Some(&su), &bad).await;
        assert_eq!((status, code(&body)), (StatusCode::BAD_REQUEST, "bad_request"), "{bad}");
    }
    // Consent is for pupils only.
    let teacher = id_of(&app, "teacher@demo.sch.uk").await;
    let (status, body) = call(
        &app,
        Method::POST,
        &format!("/api/admin/pupils/{teacher}/consents"),
        Some(&su),
        &form(1),
    )
    .await;
    assert_eq!((status, code(&body)), (StatusCode::NOT_FOUND, "not_found"));
    assert_eq!(fingerprint(&app).await, before);

    let withdraw = format!("/api/admin/consents/{consent}/withdraw");
    let (status, _) = call(&app, Method::POST, &withdraw, Some(&su), "").await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(last_action(&app).await, "consent.withdraw");
    let (status, body) = call(&app, Method::POST, &withdraw, Some(&su), "").await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::NOT_FOUND, "not_found"),
        "already withdrawn"
    );
    let (_, body) = call(&app, Method::GET, &path, Some(&su), "").await;
    assert_eq!(body["state"], "withdrawn");
    assert!(body["records"][0]["withdrawn_at"].is_i64());
    let (_, body) = call(
        &app,
        Method::GET,
        "/api/admin/classes/7a/without-consent",
        Some(&su),
        "",
    )
    .await;
    assert_eq!(body["pupils"][0]["consent"], "withdrawn");
    assert_audit_ok(&app).await;
}

#[tokio::test]
async fn code_of_conduct_versions() {
    let app = app().await;
    let su = admin(&app).await;
    let (_, body) = call(&app, Method::GET, "/api/admin/conduct", Some(&su), "").await;
    assert_eq!(
        (body["conduct"]["version"].as_i64(), body["required_version"].as_i64()),
        (Some(1), Some(1))
    );
    assert!(body["conduct"]["recording_notice"]
        .as_str()
        .unwrap()
        .contains("recorded"));

    let v2 = r#"{"text":"Be kind.","recording_notice":"Lessons are recorded.","require_resign":false}"#;
    let (status, body) = call(&app, Method::POST, "/api/admin/conduct", Some(&su), v2).await;
    assert_eq!((status, body["version"].as_i64()), (StatusCode::CREATED, Some(2)));
    assert_eq!(last_action(&app).await, "conduct.publish");
    let (_, body) = call(&app, Method::GET, "/api/admin/conduct", Some(&su), "").await;
    assert_eq!(
        (body["conduct"]["text"].as_str(), body["required_version"].as_i64()),
        (Some("Be kind."), Some(1))
    );
    let ada = id_of(&app, "ada@pupils.demo.sch.uk").await;
    let consents = format!("/api/admin/pupils/{ada}/consents");
    assert_eq!(
        call(&app, Method::GET, &consents, Some(&su), "").await.1["state"],
        "current"
    );

    let v3 = r#"{"text":"Be kinder.","recording_notice":"Lessons are recorded.","require_resign":true}"#;
    let (_, body) = call(&app, Method::POST, "/api/admin/conduct", Some(&su), v3).await;
    assert_eq!(body["version"], 3);
    assert_eq!(
        call(&app, Method::GET, &consents, Some(&su), "").await.1["state"],
        "missing",
        "old consent stops counting"
    );

    let before = fingerprint(&app).await;
    for (bad, want) in [
        (
            r#"{"text":"","recording_notice":"n","require_resign":false}"#,
            "text_invalid",
        ),
        (
            r#"{"text":"t","recording_notice":"\u200b","require_resign":false}"#,
            "text_invalid",
        ),
        (r#"{"text":"t","recording_notice":"n"}"#, "bad_request"),
    ] {
        let (status, body) = call(&app, Method::POST, "/api/admin/conduct", Some(&su), bad).await;
        assert_eq!((status, code(&body)), (StatusCode::BAD_REQUEST, want), "{bad}");
    }
    assert_eq!(fingerprint(&app).await, before);
    assert_audit_ok(&app).await;
}

#[tokio::test]
async fn privacy_profiles() {
    let app = app().await;
    let su = admin(&app).await;
    let cara = id_of(&app, "cara@pupils.demo.sch.uk").await;
    let path = format!("/api/admin/pupils/{cara}/privacy");
    let (_, body) = call(&app, Method::GET, &path, Some(&su), "").await;
    assert_eq!(
        body["privacy"],
        json!({"camera_always_off": false, "alias": null, "hidden_from_pupils": false})
    );
    let set = r#"{"camera_always_off":true,"alias":" Star ","hidden_from_pupils":true}"#;
    let (status, body) = call(&app, Method::PUT, &path, Some(&su), set).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body["privacy"],
        json!({"camera_always_off": true, "alias": "Star", "hidden_from_pupils": true})
    );
    assert_eq!(last_action(&app).await, "privacy.set");
    assert_eq!(
        call(&app, Method::GET, &path, Some(&su), "").await.1["privacy"]["alias"],
        "Star"
    );

    let before = fingerprint(&app).await;
    let long = json!({"camera_always_off": false, "alias": "x".repeat(61), "hidden_from_pupils": false}).to_string();
    for (bad, want) in [
        (long.as_str(), "text_invalid"),
        (r#"{"camera_always_off":true}"#, "bad_request"),
        (
            r#"{"camera_always_off":true,"alias":null,"hidden_from_pupils":false,"x":1}"#,
            "bad_request",
        ),
        (
            r#"{"camera_always_off":true,"alias":"  ","hidden_from_pupils":false}"#,
            "text_invalid",
        ),
        (
            r#"{"camera_always_off":true,"alias":"\u3164","hidden_from_pupils":false}"#,
            "text_invalid",
        ),
    ] {
        let (status, body) = call(&app, Method::PUT, &path, Some(&su), bad).await;
        assert_eq!((status, code(&body)), (StatusCode::BAD_REQUEST, want), "{bad}");
    }
    let teacher = id_of(&app, "teacher@demo.sch.uk").await;
    let (status, body) = call(
        &app,
        Method::PUT,
        &format!("/api/admin/pupils/{teacher}/privacy"),
        Some(&su),
        set,
    )
    .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::NOT_FOUND, "not_found"),
        "privacy profiles are for pupils"
    );
    assert_eq!(fingerprint(&app).await, before);
    assert_audit_ok(&app).await;
}

#[tokio::test]
async fn teachers_see_who_can_join_their_class_and_why_not() {
    let app = app().await;
    let teacher = sign_in(&app, "teacher@demo.sch.uk", "demo-teacher").await;
    let (status, body) = call(&app, Method::GET, "/api/classes/7a/readiness", Some(&teacher), "").await;
    assert_eq!(status, StatusCode::OK);
    let mut seen: Vec<(String, bool, String)> = body["pupils"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["display_name"].as_str().unwrap().to_owned(),
                p["can_join"].as_bool().unwrap(),
                p["reason"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    seen.sort();
    let want = [
        ("Ada", true, ""),
        ("Ben", true, ""),
        ("Cara", true, ""),
        ("Dev", true, ""),
        ("Eve", false, "consent_missing"),
        ("Finn", false, "domain_not_trusted"),
    ];
    assert_eq!(seen, want.map(|(n, c, r)| (n.to_owned(), c, r.to_owned())));
    assert!(
        body["pupils"][0].get("email").is_none(),
        "teachers see names, not emails"
    );

    // The list follows the directory: withdrawn consent and a disabled account show at once.
    let su = admin(&app).await;
    let ada = id_of(&app, "ada@pupils.demo.sch.uk").await;
    call(
        &app,
        Method::PATCH,
        &format!("/api/admin/users/{ada}"),
        Some(&su),
        r#"{"disabled":true}"#,
    )
    .await;
    let (_, body) = call(&app, Method::GET, "/api/classes/7a/readiness", Some(&teacher), "").await;
    let ada_row = body["pupils"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == ada.as_str())
        .unwrap()
        .clone();
    assert_eq!(
        (ada_row["can_join"].as_bool(), ada_row["reason"].as_str()),
        (Some(false), Some("account_disabled"))
    );

    // Only the class's own teachers.
    let teacher2 = sign_in(&app, "teacher2@demo.sch.uk", "demo-teacher").await;
    let (status, body) = call(&app, Method::GET, "/api/classes/7a/readiness", Some(&teacher2), "").await;
    assert_eq!((status, code(&body)), (StatusCode::FORBIDDEN, "forbidden_role"));
    let other = sign_in(&app, "teacher@other.sch.uk", "demo-teacher").await;
    let (status, body) = call(&app, Method::GET, "/api/classes/7a/readiness", Some(&other), "").await;
    assert_eq!((status, code(&body)), (StatusCode::NOT_FOUND, "not_found"));
    let (status, body) = call(&app, Method::GET, "/api/classes/7a/readiness", Some(&su), "").await;
    assert_eq!((status, code(&body)), (StatusCode::FORBIDDEN, "forbidden_role"));
}

/// Ids one school's superuser must not be able to reach: another school's pupil, class,
/// domain and consent record, plus this school's own class and pupil to pair them with.
struct Foreign {
    pupil: String,
    class: String,
    domain: String,
    consent: String,
    own_class: String,
    own_pupil: String,
}

fn cross_calls(f: &Foreign) -> Vec<(Method, &'static str, String, String)> {
    let consent = form(1);
    let privacy = r#"{"camera_always_off":true,"alias":"X","hidden_from_pupils":true}"#.to_owned();
    let (p, c) = (&f.pupil, &f.class);
    vec![
        (
            Method::PATCH,
            "/api/admin/users/{user_id}",
            format!("/api/admin/users/{p}"),
            r#"{"disabled":true}"#.to_owned(),
        ),
        (
            Method::GET,
            "/api/admin/classes/{class_id}",
            format!("/api/admin/classes/{c}"),
            String::new(),
        ),
        (
            Method::POST,
            "/api/admin/classes/{class_id}/members",
            format!("/api/admin/classes/{c}/members"),
            json!({"user_id": f.own_pupil, "as": "pupil"}).to_string(),
        ),
        (
            Method::POST,
            "/api/admin/classes/{class_id}/members",
            format!("/api/admin/classes/{}/members", f.own_class),
            json!({"user_id": p, "as": "pupil"}).to_string(),
        ),
        (
            Method::DELETE,
            "/api/admin/classes/{class_id}/members/{user_id}",
            format!("/api/admin/classes/{c}/members/{p}"),
            String::new(),
        ),
        (
            Method::DELETE,
            "/api/admin/classes/{class_id}/members/{user_id}",
            format!("/api/admin/classes/{c}/members/{}", f.own_pupil),
            String::new(),
        ),
        (
            Method::GET,
            "/api/admin/classes/{class_id}/roster.csv",
            format!("/api/admin/classes/{c}/roster.csv"),
            String::new(),
        ),
        (
            Method::GET,
            "/api/admin/classes/{class_id}/without-consent",
            format!("/api/admin/classes/{c}/without-consent"),
            String::new(),
        ),
        (
            Method::DELETE,
            "/api/admin/domains/{domain}",
            format!("/api/admin/domains/{}", f.domain),
            String::new(),
        ),
        (
            Method::GET,
            "/api/admin/pupils/{user_id}/consents",
            format!("/api/admin/pupils/{p}/consents"),
            String::new(),
        ),
        (
            Method::POST,
            "/api/admin/pupils/{user_id}/consents",
            format!("/api/admin/pupils/{p}/consents"),
            consent,
        ),
        (
            Method::POST,
            "/api/admin/consents/{consent_id}/withdraw",
            format!("/api/admin/consents/{}/withdraw", f.consent),
            String::new(),
        ),
        (
            Method::GET,
            "/api/admin/pupils/{user_id}/privacy",
            format!("/api/admin/pupils/{p}/privacy"),
            String::new(),
        ),
        (
            Method::PUT,
            "/api/admin/pupils/{user_id}/privacy",
            format!("/api/admin/pupils/{p}/privacy"),
            privacy,
        ),
    ]
}

async fn foreign_ids(
    app: &App,
    school: &str,
    pupil: &str,
    class: &str,
    domain: &str,
    own_class: &str,
    own_pupil: &str,
) -> Foreign {
    let school = SchoolId::parse(school).unwrap();
    let pupil = id_of(app, pupil).await;
    let consent = app
        .store
        .consents(&school, &livegate_core::ids::UserId::parse(&pupil).unwrap())
        .await
        .unwrap()
        .remove(0)
        .id;
    Foreign {
        pupil,
        class: class.to_owned(),
        domain: domain.to_owned(),
        consent,
        own_class: own_class.to_owned(),
        own_pupil: id_of(app, own_pupil).await,
    }
}

#[tokio::test]
async fn no_admin_route_reaches_another_school() {
    let app = app().await;
    // A superuser for the other school too, so isolation is tested in both directions.
    let other = SchoolId::parse("sch_other").unwrap();
    let email = Email::parse("admin@other.sch.uk").unwrap();
    app.store
        .create_user(
            "test",
            &other,
            &email,
            "Other admin",
            Role::Superuser,
            Some(crate::password::hash("other-admin")),
        )
        .await
        .unwrap();
    let demo_su = admin(&app).await;
    let other_su = sign_in(&app, "admin@other.sch.uk", "other-admin").await;
    let demo_reaching_other = foreign_ids(
        &app,
        "sch_other",
        "yan@pupils.other.sch.uk",
        "9c",
        "other.sch.uk",
        "7a",
        "ada@pupils.demo.sch.uk",
    )
    .await;
    let other_reaching_demo = foreign_ids(
        &app,
        "sch_demo",
        "ada@pupils.demo.sch.uk",
        "7a",
        "demo.sch.uk",
        "9c",
        "yan@pupils.other.sch.uk",
    )
    .await;

    // Every admin route that takes an id is in the list.
    let covered: Vec<(Method, &str)> = cross_calls(&demo_reaching_other)
        .into_iter()
        .map(|(m, t, _, _)| (m, t))
        .collect();
    for (method, path, access, _) in route_table() {
        if access == Access::Superuser
            && path.starts_with("/api/admin/")
            && path.contains('{')
            && !path.ends_with("/invite")
            && !path.ends_with("/reset")
        {
            assert!(
                covered.contains(&(method.clone(), path)),
                "{method} {path} has no cross-school check"
            );
        }
    }

    let before = fingerprint(&app).await;
    for (cookie, foreign) in [(&demo_su, &demo_reaching_other), (&other_su, &other_reaching_demo)] {
        for (method, template, path, body) in cross_calls(foreign) {
            let (status, v) = call(&app, method.clone(), &path, Some(cookie), &body).await;
            assert_eq!(
                (status, code(&v)),
                (StatusCode::NOT_FOUND, "not_found"),
                "{method} {template} ({path})"
            );
        }
        let (status, v) = call(
            &app,
            Method::GET,
            &format!("/api/classes/{}/readiness", foreign.class),
            Some(cookie),
            "",
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{v}");
    }
    // Another school's teacher asking for readiness gets not_found, like a class that does not exist.
    let other_teacher = sign_in(&app, "teacher@other.sch.uk", "demo-teacher").await;
    let (status, v) = call(&app, Method::GET, "/api/classes/7a/readiness", Some(&other_teacher), "").await;
    assert_eq!((status, code(&v)), (StatusCode::NOT_FOUND, "not_found"));
    // Creating a user with another school's email is a conflict that names no school.
    let (status, v) = call(
        &app,
        Method::POST,
        "/api/admin/users",
        Some(&demo_su),
        r#"{"email":"yan@pupils.other.sch.uk","display_name":"Y","role":"pupil"}"#,
    )
    .await;
    assert_eq!((status, code(&v)), (StatusCode::CONFLICT, "conflict"));
    assert!(!v.to_string().contains("Other School") && !v.to_string().contains("sch_other"));
    assert_eq!(
        fingerprint(&app).await,
        before,
        "nothing changed in either school, and nothing was audited"
    );

    // Lists show only one's own school.
    for (path, needle) in [
        ("/api/admin/users", "other.sch.uk"),
        ("/api/admin/classes", "9C Maths"),
        ("/api/admin/domains", "other.sch.uk"),
    ] {
        let (_, v) = call(&app, Method::GET, path, Some(&demo_su), "").await;
        assert!(!v.to_string().contains(needle), "{path}: {v}");
    }
    assert_audit_ok(&app).await;
}
