//! Tests of trusting a public webmail domain (refused with `public_webmail_domain` and nothing
//! changed unless the superuser confirms; a school domain beside it needs no confirmation) and
//! of the list of pupils with a privacy profile. The route helpers live in `http/admin/tests.rs`.

use axum::http::{Method, StatusCode};

use crate::http::admin::tests::{admin, fingerprint, last_action};
use crate::http::tests::{app, call, code};

#[tokio::test]
async fn a_public_webmail_domain_is_trusted_only_when_confirmed() {
    let app = app().await;
    let su = admin(&app).await;
    let before = fingerprint(&app).await;
    for domain in ["gmail.com", "@Outlook.com", "yahoo.co.uk", "hotmail.com", "icloud.com"] {
        for confirm in ["", r#","confirm_public":false"#] {
            let body = format!(r#"{{"domain":"{domain}","note":"Families' own addresses"{confirm}}}"#);
            let (status, got) = call(&app, Method::POST, "/api/admin/domains", Some(&su), &body).await;
            assert_eq!(
                (status, code(&got)),
                (StatusCode::CONFLICT, "public_webmail_domain"),
                "{body}"
            );
        }
    }
    assert_eq!(fingerprint(&app).await, before, "a refusal changes nothing");

    // The honest case beside it: a school's own domain needs no confirmation.
    let school = r#"{"domain":"pupils.partner.sch.uk","note":"Partner school pupils"}"#;
    let (status, _) = call(&app, Method::POST, "/api/admin/domains", Some(&su), school).await;
    assert_eq!(status, StatusCode::CREATED);

    let confirmed = r#"{"domain":"@GMail.com","note":"Families' own addresses","confirm_public":true}"#;
    let (status, got) = call(&app, Method::POST, "/api/admin/domains", Some(&su), confirmed).await;
    assert_eq!(
        (status, got["domain"].as_str()),
        (StatusCode::CREATED, Some("gmail.com"))
    );
    assert_eq!(last_action(&app).await, "domain.add");
    let (_, list) = call(&app, Method::GET, "/api/admin/domains", Some(&su), "").await;
    let names: Vec<&str> = list["domains"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|d| d["domain"].as_str())
        .collect();
    assert!(
        names.contains(&"gmail.com") && names.contains(&"pupils.partner.sch.uk"),
        "{names:?}"
    );
}

/// The privacy list names exactly the pupils whose profile sets something: Ada once given an
/// alias is listed, and gone again once her profile is saved back to the defaults; a teacher
/// cannot read the list.
#[tokio::test]
async fn the_privacy_list_holds_the_pupils_with_a_profile() {
    let app = app().await;
    let su = admin(&app).await;
    let list = |app: crate::http::App, su: String| async move {
        let (status, body) = call(&app, Method::GET, "/api/admin/privacy", Some(&su), "").await;
        assert_eq!(status, StatusCode::OK);
        body["profiles"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["display_name"].as_str().unwrap().to_owned(),
                    p["privacy"]["alias"].clone(),
                )
            })
            .collect::<Vec<_>>()
    };
    let before = list(app.clone(), su.clone()).await;
    let ada = crate::http::admin::tests::id_of(&app, "ada@pupils.demo.sch.uk").await;
    let url = format!("/api/admin/pupils/{ada}/privacy");
    let set = r#"{"camera_always_off":false,"alias":"Star","hidden_from_pupils":false}"#;
    let (status, _) = call(&app, Method::PUT, &url, Some(&su), set).await;
    assert_eq!(status, StatusCode::OK);
    let with_ada = list(app.clone(), su.clone()).await;
    assert!(
        with_ada.contains(&("Ada".to_owned(), serde_json::json!("Star"))),
        "{with_ada:?}"
    );
    assert_eq!(with_ada.len(), before.len() + 1);
    let clear = r#"{"camera_always_off":false,"alias":null,"hidden_from_pupils":false}"#;
    let (status, _) = call(&app, Method::PUT, &url, Some(&su), clear).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        list(app.clone(), su.clone()).await,
        before,
        "a profile back at the defaults is no profile"
    );

    let teacher = crate::http::tests::sign_in(&app, "teacher@demo.sch.uk", "demo-teacher").await;
    let (status, body) = call(&app, Method::GET, "/api/admin/privacy", Some(&teacher), "").await;
    assert_eq!((status, code(&body)), (StatusCode::FORBIDDEN, "forbidden_role"));
}
