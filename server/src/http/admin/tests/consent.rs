//! Consent records, code-of-conduct versions and privacy profiles.

use super::*;

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
