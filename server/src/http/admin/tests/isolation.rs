//! Cross-school isolation: every admin route called with another school's ids is `not_found`
//! and changes nothing.

use super::*;

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
            Method::POST,
            "/api/admin/classes/{class_id}/invite-sheet",
            format!("/api/admin/classes/{c}/invite-sheet"),
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
        (
            Method::DELETE,
            "/api/admin/users/{user_id}/identities",
            format!("/api/admin/users/{p}/identities"),
            String::new(),
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

    // Both pupils have a linked school account, which the other school's superuser cannot unlink.
    for (school, pupil) in [
        ("sch_demo", &other_reaching_demo.pupil),
        ("sch_other", &demo_reaching_other.pupil),
    ] {
        let (school, pupil) = (
            SchoolId::parse(school).unwrap(),
            livegate_core::ids::UserId::parse(pupil).unwrap(),
        );
        app.store
            .link_identity(&school, &pupil, "https://issuer.example", pupil.as_str(), 1)
            .await
            .unwrap();
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
    for school in ["sch_demo", "sch_other"] {
        let linked = app
            .store
            .linked_identities(&SchoolId::parse(school).unwrap())
            .await
            .unwrap();
        assert_eq!(linked.len(), 1, "{school}'s linked identity is still there");
    }

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
