//! The home page's answer for pupils (`GET /api/me`, `join`): what Join would meet, from the
//! admission gate run without recording anything; and the code of conduct anyone of the school
//! reads (`GET /api/conduct`).

use serde_json::{json, Value};

use super::*;

/// Ada may join, Eve lacks a signed form, Finn's domain is not trusted: each is told before
/// trying, as often as the home page asks, and none of it is a refusal in the log. The class's
/// teacher gets no `join`.
#[tokio::test]
async fn the_home_answer_says_who_may_join_and_logs_nothing() {
    let app = app().await;
    let teacher = sign_in(&app, "teacher@demo.sch.uk", "demo-teacher").await;
    let id = start_7a(&app, &teacher).await;
    let class_7a = |body: &Value| -> Value {
        body["classes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == "7a")
            .cloned()
            .unwrap_or(Value::Null)
    };
    let refused = |code: &str| json!({"state": "refused", "reason": code});
    for (email, want) in [
        ("ada@pupils.demo.sch.uk", json!({"state": "ready", "reason": null})),
        ("eve@pupils.demo.sch.uk", refused("consent_missing")),
        ("finn@home-mail.example", refused("domain_not_trusted")),
    ] {
        let pupil = sign_in(&app, email, "demo-pupil").await;
        for _ in 0..3 {
            let (status, body) = call(&app, Method::GET, "/api/me", Some(&pupil), "").await;
            assert_eq!(status, StatusCode::OK, "{body}");
            let c = class_7a(&body);
            assert_eq!(c["join"], want, "{email}");
            assert_eq!(
                c["live_lesson_id"],
                Value::Null,
                "not live for pupils before the teacher is in"
            );
        }
    }
    let (_, body) = call(&app, Method::GET, "/api/me", Some(&teacher), "").await;
    assert_eq!(class_7a(&body)["join"], Value::Null, "the teacher is not asked to join");
    let logged: Vec<_> = lesson_events(&app, &id)
        .await
        .into_iter()
        .filter(|e| e.kind == "refused")
        .collect();
    assert!(logged.is_empty(), "asking is not an attempt to join: {logged:?}");
}

/// Anyone of the school reads the current code of conduct; nobody signed out does.
#[tokio::test]
async fn the_code_of_conduct_is_readable_by_anyone_of_the_school() {
    let app = app().await;
    for (email, password) in [
        ("eve@pupils.demo.sch.uk", "demo-pupil"),
        ("teacher@demo.sch.uk", "demo-teacher"),
    ] {
        let who = sign_in(&app, email, password).await;
        let (status, body) = call(&app, Method::GET, "/api/conduct", Some(&who), "").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(body["conduct"]["version"].as_i64().unwrap() >= 1);
        assert!(body["conduct"]["text"].as_str().unwrap().contains("our agreement"));
        assert!(body["conduct"]["published_at"].as_i64().unwrap() > 0);
    }
    let (status, body) = call(&app, Method::GET, "/api/conduct", None, "").await;
    assert_eq!((status, code(&body)), (StatusCode::UNAUTHORIZED, "not_signed_in"));
}
