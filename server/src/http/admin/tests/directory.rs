//! Users, classes with their members, and trusted domains: each route's success and refusals.

use super::*;

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
