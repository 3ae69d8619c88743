//! Route-level tests without a socket: every declared route enforces its access, and nothing
//! of one school is reachable from another.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;

use super::*;
use crate::config::Config;
use livegate_core::ids::{ClassId, LessonId};

pub(super) async fn app() -> App {
    app_with(Config::default()).await
}

/// The app with a configuration of the test's choosing.
pub(super) async fn app_with(config: Config) -> App {
    let media = crate::media::start(
        "127.0.0.1:0".parse().unwrap(),
        "127.0.0.1".parse().unwrap(),
        Default::default(),
    )
    .await
    .unwrap();
    let recordings = Some(crate::recording::test_service());
    crate::app::Livegate::new(
        config,
        crate::store::tests::seeded_sqlite().await,
        media,
        recordings,
        crate::app::shutdown::Gate::default(),
    )
}

pub(super) async fn call(
    app: &App,
    method: Method,
    path: &str,
    cookie: Option<&str>,
    body: &str,
) -> (StatusCode, serde_json::Value) {
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "application/json");
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    let res = router(app.clone())
        .oneshot(req.body(Body::from(body.to_owned())).unwrap())
        .await
        .unwrap();
    let status = res.status();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
    )
}

/// The teacher (signed in as `teacher`) starts 7A's lesson over HTTP; its id.
pub(super) async fn start_7a(app: &App, teacher: &str) -> String {
    let (status, body) = call(app, Method::POST, "/api/lessons", Some(teacher), r#"{"class_id":"7a"}"#).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["lesson"]["id"].as_str().unwrap().to_owned()
}

pub(super) async fn sign_in(app: &App, email: &str, password: &str) -> String {
    let mut req = Request::builder()
        .method(Method::POST)
        .uri("/api/session")
        .header("content-type", "application/json");
    req = req.header("host", "localhost");
    let body = serde_json::json!({"email": email, "password": password}).to_string();
    let res = router(app.clone())
        .oneshot(req.body(Body::from(body)).unwrap())
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK, "{email}");
    let cookie = res.headers().get("set-cookie").unwrap().to_str().unwrap();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
    cookie.split(';').next().unwrap().to_owned()
}

/// A declared path with every `{param}` filled in with a well-formed id that names nothing.
fn concrete(path: &str) -> String {
    path.split('/')
        .map(|seg| {
            if seg.starts_with('{') && seg.ends_with('}') {
                "x_0000"
            } else {
                seg
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

pub(super) fn code(v: &serde_json::Value) -> &str {
    v["error"]["code"].as_str().unwrap_or("")
}

#[tokio::test]
async fn every_route_enforces_its_declared_access() {
    let app = app().await;
    let pupil = sign_in(&app, "ada@pupils.demo.sch.uk", "demo-pupil").await;
    for (method, path, access, _) in route_table() {
        {
            let (status, body) = call(&app, method.clone(), &concrete(path), None, "{}").await;
            assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path} is routed");
            match access {
                Access::Public => assert_ne!(code(&body), "not_signed_in", "{method} {path}"),
                Access::SignedIn | Access::Teacher | Access::Superuser | Access::Leader => {
                    assert_eq!(
                        (status, code(&body)),
                        (StatusCode::UNAUTHORIZED, "not_signed_in"),
                        "{method} {path}"
                    )
                }
            }
            if matches!(access, Access::Teacher | Access::Superuser | Access::Leader) {
                let (status, body) = call(&app, method.clone(), &concrete(path), Some(&pupil), "{}").await;
                assert_eq!(
                    (status, code(&body)),
                    (StatusCode::FORBIDDEN, "forbidden_role"),
                    "{method} {path} as pupil"
                );
            }
        }
    }
}

#[tokio::test]
async fn another_school_cannot_reach_a_lesson() {
    let app = app().await;
    let teacher = sign_in(&app, "teacher@demo.sch.uk", "demo-teacher").await;
    let lesson = start_7a(&app, &teacher).await;
    let outsider = sign_in(&app, "teacher@other.sch.uk", "demo-teacher").await;
    let outsider_pupil = sign_in(&app, "yan@pupils.other.sch.uk", "demo-pupil").await;
    for who in [&outsider, &outsider_pupil] {
        for (method, path) in [
            (Method::GET, format!("/api/lessons/{lesson}")),
            (Method::POST, format!("/api/lessons/{lesson}/ticket")),
        ] {
            let (status, body) = call(&app, method, &path, Some(who), "").await;
            assert_eq!((status, code(&body)), (StatusCode::FORBIDDEN, "wrong_school"), "{path}");
        }
    }
    // Another school's teacher cannot start a lesson for this school's class either.
    let (status, body) = call(
        &app,
        Method::POST,
        "/api/lessons",
        Some(&outsider),
        r#"{"class_id":"7a"}"#,
    )
    .await;
    assert_eq!((status, code(&body)), (StatusCode::NOT_FOUND, "not_found"));
    // And a teacher of this school who does not teach the class cannot start it.
    let other_teacher = sign_in(&app, "teacher2@demo.sch.uk", "demo-teacher").await;
    let (status, body) = call(
        &app,
        Method::POST,
        "/api/lessons",
        Some(&other_teacher),
        r#"{"class_id":"7a"}"#,
    )
    .await;
    assert_eq!((status, code(&body)), (StatusCode::FORBIDDEN, "forbidden_role"));
}

#[tokio::test]
async fn tickets_follow_the_gate() {
    let app = app().await;
    let teacher = sign_in(&app, "teacher@demo.sch.uk", "demo-teacher").await;
    let ada = sign_in(&app, "ada@pupils.demo.sch.uk", "demo-pupil").await;
    let owen = sign_in(&app, "owen@pupils.demo.sch.uk", "demo-pupil").await;
    let lesson = start_7a(&app, &teacher).await;
    let path = format!("/api/lessons/{lesson}/ticket");
    let (status, body) = call(&app, Method::POST, &path, Some(&owen), "").await;
    assert_eq!((status, code(&body)), (StatusCode::FORBIDDEN, "not_on_roster"));
    let (status, body) = call(&app, Method::POST, &path, Some(&ada), "").await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::CONFLICT, "teacher_absent"),
        "the teacher has not joined yet"
    );
    let (status, body) = call(&app, Method::POST, &path, Some(&teacher), "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["ticket"].as_str().unwrap().len(), 32);
    // Every decision is on the audit chain, refusals with their reason.
    let school = livegate_core::ids::SchoolId::parse("sch_demo").unwrap();
    let entries = app.store.audit_entries(&school, 10).await.unwrap();
    let actions: Vec<(&str, String)> = entries
        .iter()
        .take(3)
        .map(|e| (e.action.as_str(), e.detail.clone()))
        .collect();
    assert_eq!(actions[0].0, "admission.admit");
    assert_eq!(actions[1].0, "admission.refuse");
    assert!(actions[1].1.contains("teacher_absent"), "{actions:?}");
    assert!(actions[2].1.contains("not_on_roster"), "{actions:?}");
    assert!(app.store.verify_audit().await.unwrap().is_ok());
}

#[tokio::test]
async fn bad_bodies_get_stable_errors() {
    let app = app().await;
    for body in [
        "",
        "{",
        r#"{"email":"x"}"#,
        r#"{"email":"a@b.uk","password":"p","admin":true}"#,
    ] {
        let (status, v) = call(&app, Method::POST, "/api/session", None, body).await;
        assert_eq!((status, code(&v)), (StatusCode::BAD_REQUEST, "bad_request"), "{body}");
    }
    let (status, v) = call(
        &app,
        Method::POST,
        "/api/session",
        None,
        r#"{"email":"ada@pupils.demo.sch.uk","password":"wrong"}"#,
    )
    .await;
    assert_eq!((status, code(&v)), (StatusCode::UNAUTHORIZED, "bad_credentials"));
    let huge = format!(r#"{{"email":"a@b.uk","password":"{}"}}"#, "x".repeat(100_000));
    let (status, _) = call(&app, Method::POST, "/api/session", None, &huge).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "bodies over 64 KiB are refused");
    let teacher = sign_in(&app, "teacher@demo.sch.uk", "demo-teacher").await;
    let (status, v) = call(
        &app,
        Method::POST,
        "/api/lessons",
        Some(&teacher),
        r#"{"class_id":"../../etc"}"#,
    )
    .await;
    assert_eq!((status, code(&v)), (StatusCode::BAD_REQUEST, "bad_request"));
    let (status, v) = call(&app, Method::GET, "/api/lessons/les%20x", Some(&teacher), "").await;
    assert_eq!((status, code(&v)), (StatusCode::NOT_FOUND, "not_found"));
}

#[tokio::test]
async fn every_response_carries_security_headers() {
    let app = app().await;
    for path in ["/", "/api/health", "/api/me", "/nope.js"] {
        let res = router(app.clone())
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let h = res.headers();
        let csp = h.get("content-security-policy").unwrap().to_str().unwrap();
        assert!(
            csp.contains("frame-ancestors 'none'") && !csp.contains("unsafe-inline"),
            "{path}"
        );
        assert_eq!(h.get("referrer-policy").unwrap(), "no-referrer");
        assert_eq!(h.get("x-content-type-options").unwrap(), "nosniff");
    }
}

/// Every declared route (unauthenticated, so mostly refusals), the web client, a 404 and a
/// cross-site refusal carry the full set of security headers; HSTS only when browsers reach
/// the server over HTTPS.
#[tokio::test]
async fn security_headers_on_every_route_and_hsts_only_over_https() {
    let https = Config {
        tls: Some(crate::config::TlsConfig {
            cert: "unused.pem".into(),
            key: "unused.pem".into(),
        }),
        ..Config::default()
    };
    for (config, hsts) in [(Config::default(), false), (https, true)] {
        let app = app_with(config).await;
        let mut calls: Vec<(Method, String, Option<&str>)> = route_table()
            .into_iter()
            .map(|(m, p, _, _)| (m, concrete(p), None))
            .collect();
        calls.extend(["/", "/nope.js", "/api/nope"].map(|p| (Method::GET, p.to_owned(), None)));
        calls.push((Method::POST, "/api/lessons".into(), Some("https://evil.example")));
        for (method, path, origin) in calls {
            let mut req = Request::builder()
                .method(method.clone())
                .uri(&path)
                .header("content-type", "application/json")
                .header("host", "school.example");
            if let Some(o) = origin {
                req = req.header("origin", o);
            }
            let res = router(app.clone())
                .oneshot(req.body(Body::from("{}")).unwrap())
                .await
                .unwrap();
            let h = res.headers();
            let get = |k: &str| h.get(k).map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
            let what = format!("{method} {path} ({})", res.status());
            let csp = get("content-security-policy");
            assert!(
                csp.contains("frame-ancestors 'none'") && !csp.contains("unsafe-inline"),
                "{what}: {csp}"
            );
            assert_eq!(get("x-content-type-options"), "nosniff", "{what}");
            assert_eq!(get("x-frame-options"), "DENY", "{what}");
            assert_eq!(get("referrer-policy"), "no-referrer", "{what}");
            assert_eq!(get("cross-origin-opener-policy"), "same-origin", "{what}");
            assert!(get("permissions-policy").contains("camera=(self)"), "{what}");
            if path.starts_with("/api/") {
                assert_eq!(get("cache-control"), "no-store", "{what}");
            }
            assert_eq!(h.contains_key("strict-transport-security"), hsts, "{what}: HSTS");
            if origin.is_some() {
                assert_eq!(res.status(), StatusCode::FORBIDDEN, "{what}");
            }
        }
    }
}

/// A WebSocket upgrade from another site's page is refused before the socket opens.
#[tokio::test]
async fn cross_site_websocket_upgrade_is_refused() {
    let app = app().await;
    let req = Request::get("/ws")
        .header("host", "school.example")
        .header("origin", "https://evil.example")
        .header("connection", "upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-version", "13")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
        .body(Body::empty())
        .unwrap();
    let res = router(app).oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let body = res.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(code(&serde_json::from_slice(&body).unwrap()), "cross_site");
}

/// A refused pupil asking for tickets in a loop: past the budget every answer is
/// `rate_limited` with a `Retry-After`, without running the gate; the refusals that did run
/// are one log event with their count and one audit entry; a classmate asking meanwhile meets
/// the gate as usual.
#[tokio::test]
async fn ticket_requests_over_budget_are_rate_limited_and_refusals_counted_once() {
    let app = app().await;
    let teacher = sign_in(&app, "teacher@demo.sch.uk", "demo-teacher").await;
    let owen = sign_in(&app, "owen@pupils.demo.sch.uk", "demo-pupil").await;
    let ada = sign_in(&app, "ada@pupils.demo.sch.uk", "demo-pupil").await;
    let lesson = start_7a(&app, &teacher).await;
    let path = format!("/api/lessons/{lesson}/ticket");
    let (mut refused, mut limited) = (0, 0);
    for _ in 0..300 {
        let req = Request::post(&path)
            .header("cookie", &owen)
            .body(Body::empty())
            .unwrap();
        let res = router(app.clone()).oneshot(req).await.unwrap();
        let (status, retry) = (res.status(), res.headers().get("retry-after").cloned());
        let body: serde_json::Value =
            serde_json::from_slice(&res.into_body().collect().await.unwrap().to_bytes()).unwrap();
        match (status, code(&body)) {
            (StatusCode::FORBIDDEN, "not_on_roster") => refused += 1,
            (StatusCode::TOO_MANY_REQUESTS, "rate_limited") => {
                assert!(
                    retry.is_some_and(|r| r.to_str().unwrap().parse::<u64>().unwrap() >= 1),
                    "Retry-After"
                );
                limited += 1;
            }
            other => panic!("{other:?}"),
        }
    }
    // The burst, and what refilled while the loop ran (a second or two on a loaded machine).
    assert!(
        (crate::app::access::TICKET_BURST as usize..=crate::app::access::TICKET_BURST as usize + 20).contains(&refused),
        "{refused} gate runs"
    );
    assert_eq!(limited, 300 - refused);
    let (status, body) = call(&app, Method::POST, &path, Some(&ada), "").await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::CONFLICT, "teacher_absent"),
        "the classmate meets the gate"
    );
    let owen_id = app
        .store
        .user_by_email(&livegate_core::ids::Email::parse("owen@pupils.demo.sch.uk").unwrap())
        .await
        .unwrap()
        .unwrap()
        .id;
    let school = livegate_core::ids::SchoolId::parse("sch_demo").unwrap();
    let events: Vec<_> = lesson_events(&app, &lesson)
        .await
        .into_iter()
        .filter(|e| e.subject_id.as_deref() == Some(owen_id.as_str()))
        .collect();
    let got: Vec<(&str, Option<&str>, i64)> = events
        .iter()
        .map(|e| (e.kind.as_str(), e.detail.as_deref(), e.count))
        .collect();
    assert_eq!(got, vec![("refused", Some("not_on_roster"), refused as i64)]);
    let audited = app.store.audit_entries(&school, 100_000).await.unwrap();
    let owens = audited
        .iter()
        .filter(|e| e.action == "admission.refuse" && e.detail.contains(owen_id.as_str()))
        .count();
    assert_eq!(owens, 1, "one audit entry for the run");
}

/// A teacher reads the attendance (and so the name) of pupils of the classes they teach, and
/// of people in their own lessons' logs; any other user of the school, pupil or staff, is
/// `not_found` exactly as an unknown id, with no name in the answer. Leaders read anyone's.
#[tokio::test]
async fn teachers_read_only_their_own_pupils_attendance() {
    let app = app().await;
    let uid = |email: &'static str| {
        let store = app.store.clone();
        async move {
            store
                .user_by_email(&livegate_core::ids::Email::parse(email).unwrap())
                .await
                .unwrap()
                .unwrap()
                .id
        }
    };
    let (ada, zoe, owen, admin) = (
        uid("ada@pupils.demo.sch.uk").await,
        uid("zoe@pupils.demo.sch.uk").await,
        uid("owen@pupils.demo.sch.uk").await,
        uid("admin@demo.sch.uk").await,
    );
    let history = sign_in(&app, "teacher2@demo.sch.uk", "demo-teacher").await; // teaches 8b only
    let science = sign_in(&app, "teacher@demo.sch.uk", "demo-teacher").await; // teaches 7a
    let leader = crate::http::mfa::tests::two_factor_session(&app, "dsl@demo.sch.uk", "demo-leader").await;
    let read = |cookie: &str, who: &livegate_core::ids::UserId| {
        let (app, cookie, path) = (
            app.clone(),
            cookie.to_owned(),
            format!("/api/log/pupils/{who}/attendance"),
        );
        async move { call(&app, Method::GET, &path, Some(&cookie), "").await }
    };
    for who in [&ada, &owen, &admin] {
        let (status, body) = read(&history, who).await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::NOT_FOUND, "not_found"),
            "teacher2 reads {who}"
        );
        assert!(body.get("pupil").is_none(), "{body}");
    }
    let (status, body) = read(&history, &zoe).await;
    assert_eq!(
        (status, body["pupil"]["display_name"].as_str().is_some()),
        (StatusCode::OK, true),
        "{body}"
    );
    assert_eq!(read(&science, &ada).await.0, StatusCode::OK);
    // Owen, on no roster of teacher2's, was refused from teacher2's lesson: he is in its log.
    let lesson = LessonId::generate();
    let school = livegate_core::ids::SchoolId::parse("sch_demo").unwrap();
    let start = crate::store::log::NewLesson {
        id: lesson.clone(),
        school: school.clone(),
        class: ClassId::parse("8b").unwrap(),
        class_name: "8B History".into(),
        started_by: uid("teacher2@demo.sch.uk").await,
        recording_id: None,
        scheduled: None,
        at: 1_800_000_000_000,
    };
    app.store.log_lesson_start(&start).await.unwrap();
    let refused = crate::store::log::NewEvent {
        lesson,
        school,
        at: 1_800_000_001_000,
        kind: crate::store::log::EventKind::Refused,
        actor: None,
        subject: Some(owen.clone()),
        detail: Some("not_on_roster".into()),
    };
    app.store.log_event(&refused).await.unwrap();
    assert_eq!(
        read(&history, &owen).await.0,
        StatusCode::OK,
        "someone in their own lesson's log"
    );
    for who in [&ada, &owen, &admin, &zoe] {
        assert_eq!(read(&leader, who).await.0, StatusCode::OK, "the leader reads {who}");
    }
}

/// Once stopping, new lessons and tickets are refused with `server_stopping` (503); the live
/// lesson ends; and a recording that cannot reach the store in time is named as unfinished
/// at the deadline (this test's service never marks one `complete`).
#[tokio::test]
async fn stopping_refuses_new_work_ends_lessons_and_names_what_is_left() {
    let app = app().await;
    let teacher = sign_in(&app, "teacher@demo.sch.uk", "demo-teacher").await;
    let lesson = start_7a(&app, &teacher).await;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_millis(700);
    let report = crate::app::shutdown::stop_lessons(&app, deadline).await;
    assert_eq!(report.lessons_ended, 1);
    assert_eq!(report.unfinished.len(), 1, "{:?}", report.unfinished);
    assert!(
        report.unfinished[0].contains("not yet uploaded"),
        "{:?}",
        report.unfinished
    );
    let (status, body) = call(&app, Method::GET, &format!("/api/lessons/{lesson}"), Some(&teacher), "").await;
    assert_eq!(
        (status, body["lesson"]["state"].as_str()),
        (StatusCode::OK, Some("ended"))
    );
    let refusals = [
        (Method::POST, "/api/lessons".to_owned(), r#"{"class_id":"7a"}"#),
        (Method::POST, format!("/api/lessons/{lesson}/ticket"), ""),
    ];
    for (method, path, body) in refusals {
        let (status, body) = call(&app, method, &path, Some(&teacher), body).await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::SERVICE_UNAVAILABLE, "server_stopping"),
            "{path}"
        );
        assert_eq!(
            body["error"]["message"],
            "Livegate is restarting; try again in a minute."
        );
    }
    assert!(app.lessons.len() == 1, "no lesson started after the stop");
}

#[tokio::test]
async fn a_disabled_school_starts_no_lesson_and_its_live_lesson_admits_nobody() {
    use crate::app::lessons::Started;
    use livegate_core::admission::{decide, Decision};
    use livegate_core::codes::ErrorCode;
    use livegate_core::ids::{Email, SchoolId};
    let app = app().await;
    let person = |email: &str| {
        let (store, email) = (app.store.clone(), Email::parse(email).unwrap());
        async move { store.user_by_email(&email).await.unwrap().unwrap() }
    };
    let (teacher, ada) = (
        person("teacher@demo.sch.uk").await,
        person("ada@pupils.demo.sch.uk").await,
    );
    let seven_a = ClassId::parse("7a").unwrap();
    let Ok(Started::New(summary)) = app.start_lesson(&teacher, &seven_a, (None, None)).await else {
        panic!("the lesson did not start");
    };
    let lesson = app.lessons.get(&summary.id).unwrap();
    let before = decide(&app.facts(&ada, &lesson).await.unwrap());
    assert_ne!(before, Decision::Refuse(ErrorCode::SchoolDisabled));

    app.store
        .disable_school("operator", &SchoolId::parse("sch_demo").unwrap())
        .await
        .unwrap();
    for who in [&ada, &teacher] {
        let facts = app.facts(who, &lesson).await.unwrap();
        assert_eq!(decide(&facts), Decision::Refuse(ErrorCode::SchoolDisabled));
    }
    let refused = app
        .start_lesson(&teacher, &ClassId::parse("8b").unwrap(), (None, None))
        .await;
    assert_eq!(refused.unwrap_err().code(), ErrorCode::SchoolDisabled);
    // Another school is untouched.
    let hale = person("teacher@other.sch.uk").await;
    let other = app
        .start_lesson(&hale, &ClassId::parse("9c").unwrap(), (None, None))
        .await;
    assert!(matches!(other, Ok(Started::New(_))), "{other:?}");
}

#[tokio::test]
async fn health_and_readiness_answer_typed_bodies_without_personal_data() {
    let app = app().await;
    let (status, body) = call(&app, Method::GET, "/healthz", None, "").await;
    assert_eq!((status, body), (StatusCode::OK, serde_json::json!({"status": "alive"})));
    let (status, body) = call(&app, Method::GET, "/readyz", None, "").await;
    let checks = serde_json::json!({"store": true, "object_store": true, "media_socket": true, "stopping": false});
    assert_eq!(
        (status, body),
        (StatusCode::OK, serde_json::json!({"ready": true, "checks": checks}))
    );
    let (status, body) = call(&app, Method::GET, "/api/setup", None, "").await;
    assert_eq!(
        (status, body),
        (
            StatusCode::OK,
            serde_json::json!({"has_school": true, "create_school_command": null})
        )
    );
    // Stopping: no longer ready, and says why.
    app.lessons.stop();
    let (status, body) = call(&app, Method::GET, "/readyz", None, "").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        (body["ready"].as_bool(), body["checks"]["stopping"].as_bool()),
        (Some(false), Some(true))
    );
}

/// The answers of one family of routes, one line each (`{"route": ..., "body": ...}`),
/// compared with `server/golden/<name>` (`UPDATE_GOLDEN=1` rewrites it): renaming a field of
/// a body, or changing what one holds, fails the family's golden test.
#[derive(Default)]
pub(super) struct Golden {
    text: String,
}

impl Golden {
    pub(super) fn add(&mut self, route: &str, body: &impl serde::Serialize) {
        #[derive(serde::Serialize)]
        struct Line<'a, T> {
            route: &'a str,
            body: &'a T,
        }
        self.text += &serde_json::to_string(&Line { route, body }).unwrap();
        self.text.push('\n');
    }

    pub(super) fn check(self, name: &str) {
        let path = format!("{}/golden/{name}", env!("CARGO_MANIFEST_DIR"));
        if std::env::var_os("UPDATE_GOLDEN").is_some() {
            std::fs::write(&path, &self.text).unwrap();
        }
        let want = std::fs::read_to_string(&path).unwrap_or_default();
        assert_eq!(
            self.text, want,
            "a body in {name} changed; if deliberate, document it (server/PROTOCOL.md, server/LOG.md) and rerun with UPDATE_GOLDEN=1"
        );
    }
}

/// Every answer of a route is a typed body (`#[derive(Serialize)]` beside the route), never a
/// `json!` map: this reads the non-test code of every file under `server/src/http` (a file's
/// tests sit at its bottom, after `#[cfg(test)]`, or in a `tests.rs` or a `tests/` folder).
#[test]
fn route_bodies_are_types_not_json_maps() {
    fn walk(dir: &std::path::Path, found: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                // A `tests/` folder holds a module's tests, split by topic.
                if !path.ends_with("tests") {
                    walk(&path, found);
                }
            } else if path.extension().is_some_and(|e| e == "rs") && !path.ends_with("tests.rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                let code = text.split("#[cfg(test)]").next().unwrap_or("");
                for (n, line) in code.lines().enumerate() {
                    if line.contains("json!") {
                        found.push(format!("{}:{}: {}", path.display(), n + 1, line.trim()));
                    }
                }
            }
        }
    }
    let mut found = Vec::new();
    walk(
        std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/src/http")),
        &mut found,
    );
    assert!(found.is_empty(), "untyped JSON bodies:\n{}", found.join("\n"));
}

/// Opening another class's lesson link is refused (`not_on_roster`) and the refusal is in the
/// lesson's log: one event for Owen however often he opens the page or asks for a ticket, its
/// count telling how often. Ada, on the roster, opens the same page beside him and is neither
/// refused nor logged as refused.
#[tokio::test]
async fn opening_another_class_lesson_link_is_a_logged_refusal() {
    let app = app().await;
    let teacher = sign_in(&app, "teacher@demo.sch.uk", "demo-teacher").await;
    let id = start_7a(&app, &teacher).await;
    let owen = sign_in(&app, "owen@pupils.demo.sch.uk", "demo-pupil").await;
    let ada = sign_in(&app, "ada@pupils.demo.sch.uk", "demo-pupil").await;
    let page = format!("/api/lessons/{id}");
    let (status, _) = call(&app, Method::GET, &page, Some(&ada), "").await;
    assert_eq!(status, StatusCode::OK, "the pupil on the roster opens the lesson");
    for (method, path) in [
        (Method::GET, page.clone()),
        (Method::GET, page.clone()),
        (Method::POST, format!("{page}/ticket")),
    ] {
        let (status, body) = call(&app, method, &path, Some(&owen), "").await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::FORBIDDEN, "not_on_roster"),
            "{path}"
        );
    }
    let refused: Vec<_> = lesson_events(&app, &id)
        .await
        .into_iter()
        .filter(|e| e.kind == "refused")
        .collect();
    let got: Vec<(Option<&str>, Option<&str>, i64)> = refused
        .iter()
        .map(|e| (e.subject_name.as_deref(), e.detail.as_deref(), e.count))
        .collect();
    assert_eq!(got, vec![(Some("Owen"), Some("not_on_roster"), 3)]);
}

/// The events of a demo-school lesson's log, once its row is there (the lesson's own row is
/// written by its task; refusals are written at once, maybe before it). Waits up to 5 s.
async fn lesson_events(app: &App, id: &str) -> Vec<crate::store::log_read::EventRow> {
    let school = livegate_core::ids::SchoolId::parse("sch_demo").unwrap();
    let lesson = LessonId::parse(id).unwrap();
    for _ in 0..250 {
        if let Some(log) = app
            .store
            .lesson_log(&school, &crate::store::LogScope::School, &lesson)
            .await
            .unwrap()
        {
            return log.events;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("the lesson's log row never appeared");
}

mod home;
