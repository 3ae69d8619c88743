//! Tests of trusting a public webmail domain: refused with `public_webmail_domain` and nothing
//! changed unless the superuser confirms; a school domain beside it needs no confirmation. The
//! route helpers live in `http/admin/tests.rs`.

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
