//! The teacher's readiness list: who can join their class, and why not.

use super::*;

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
