//! The JSON import of an MIS export: the server proposes the columns, the superuser changes
//! one, previews and applies with that mapping; a header that cannot be mapped, a mapping that
//! does not fit, and malformed bodies are refused with their codes and change nothing; and the
//! template downloads.

use axum::body::Body;
use axum::http::{Method, StatusCode};
use base64::Engine as _;
use serde_json::{json, Value};

use crate::http::admin::tests::{admin, fingerprint, last_action, raw};
use crate::http::tests::{app, call, code, sign_in};
use crate::http::App;
use livegate_core::ids::Email;
use livegate_core::roster_csv::MAX_BYTES;

/// A Bromcom-like export: the teaching group and the tutor group both present.
const EXPORT: &str = "Surname,Forename,NC Year,Tutor Group,Teaching Group,E-mail\r\n\
Fakename,Mira,7,7T1,7x/Ma2,mira.f@pupils.demo.sch.uk\r\n\
Madeup,Otto,7,7T1,7x/Ma2,otto.m@pupils.demo.sch.uk\r\n";

fn b64(file: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(file)
}

async fn import(app: &App, cookie: &str, apply: bool, body: Value) -> (StatusCode, Value) {
    let path = format!("/api/admin/roster/import?apply={apply}");
    call(app, Method::POST, &path, Some(cookie), &body.to_string()).await
}

#[tokio::test]
async fn a_proposed_mapping_is_changed_previewed_and_applied() {
    let app = app().await;
    let su = admin(&app).await;
    let before = fingerprint(&app).await;
    let (status, body) = import(
        &app,
        &su,
        false,
        json!({"format": "csv", "file": b64(EXPORT), "mapping": null}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let columns = &body["columns"];
    assert_eq!(
        columns["mapping"],
        json!({"email": 5, "first_name": 1, "last_name": 0, "class": 4, "role": null})
    );
    assert_eq!(
        (columns["proposed"].as_bool(), columns["own_header"].as_bool()),
        (Some(true), Some(false))
    );
    assert_eq!(columns["header"][3], "Tutor Group");
    assert_eq!(columns["missing"], json!([]));
    assert_eq!(body["report"]["rows"][0]["class"], "7x/Ma2");
    assert_eq!(body["report"]["applied"], false);
    assert_eq!(fingerprint(&app).await, before, "a preview changes nothing");

    // The superuser chooses the tutor group as the class instead.
    let mapping = json!({"email": 5, "first_name": 1, "last_name": 0, "class": 3, "role": null});
    let request = json!({"format": "csv", "file": b64(EXPORT), "mapping": mapping});
    let (status, body) = import(&app, &su, false, request.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["columns"]["proposed"], false);
    assert_eq!(body["columns"]["mapping"], mapping);
    assert_eq!(body["report"]["rows"][1]["class"], "7T1");
    assert_eq!(body["report"]["summary"]["users_created"], 2);

    let (status, body) = import(&app, &su, true, request).await;
    assert_eq!(
        (status, body["report"]["applied"].as_bool()),
        (StatusCode::OK, Some(true)),
        "{body}"
    );
    let mira = app
        .store
        .user_by_email(&Email::parse("mira.f@pupils.demo.sch.uk").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        mira.display_name, "Mira Fakename",
        "forename and surname make the display name"
    );
    let (_, classes) = call(&app, Method::GET, "/api/admin/classes", Some(&su), "").await;
    let names: Vec<&str> = classes["classes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"7T1") && !names.contains(&"7x/Ma2"), "{names:?}");
    assert_eq!(last_action(&app).await, "roster.import");
}

#[tokio::test]
async fn a_header_that_cannot_be_mapped_answers_its_columns() {
    let app = app().await;
    let su = admin(&app).await;
    let before = fingerprint(&app).await;
    let file = "Name,DOB,Gender\nSomeone Invented,2014-01-01,F\n";
    let (status, body) = import(
        &app,
        &su,
        false,
        json!({"format": "csv", "file": b64(file), "mapping": null}),
    )
    .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::BAD_REQUEST, "csv_unmapped_header"),
        "{body}"
    );
    assert_eq!(body["error"]["line"], 1);
    assert!(body["error"]["detail"]
        .as_str()
        .unwrap()
        .contains("email, first name, last name, class"));
    assert_eq!(body["columns"]["header"], json!(["Name", "DOB", "Gender"]));
    assert_eq!(
        body["columns"]["missing"],
        json!(["email", "first_name", "last_name", "class"])
    );

    // A mapping naming a column the file lacks, or one column twice.
    for mapping in [
        json!({"email": 0, "first_name": 1, "last_name": 2, "class": 3}),
        json!({"email": 0, "first_name": 0, "last_name": 1, "class": 2}),
    ] {
        let (status, body) = import(
            &app,
            &su,
            true,
            json!({"format": "csv", "file": b64(file), "mapping": mapping}),
        )
        .await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::BAD_REQUEST, "roster_mapping_invalid"),
            "{body}"
        );
    }
    assert_eq!(fingerprint(&app).await, before, "nothing changed");
}

#[tokio::test]
async fn json_import_bodies_are_strict_and_bounded() {
    let app = app().await;
    let su = admin(&app).await;
    let good = json!({"email": 5, "first_name": 1, "last_name": 0, "class": 4});
    for body in [
        json!({"format": "csv", "file": b64(EXPORT), "mapping": good, "extra": 1}),
        json!({"format": "csv", "file": b64(EXPORT), "mapping": {"email": 5, "first_name": 1, "last_name": 0, "class": 4, "year": 2}}),
        json!({"format": "oneroster", "file": b64(EXPORT), "mapping": null}),
        json!({"format": "csv", "file": "not base64!", "mapping": null}),
        json!({"file": b64(EXPORT), "mapping": null}),
    ] {
        let (status, reply) = import(&app, &su, false, body.clone()).await;
        assert_eq!(
            (status, code(&reply)),
            (StatusCode::BAD_REQUEST, "bad_request"),
            "{body}"
        );
    }
    let big = "x".repeat(MAX_BYTES + 1);
    let (status, reply) = import(
        &app,
        &su,
        false,
        json!({"format": "csv", "file": b64(&big), "mapping": null}),
    )
    .await;
    assert_eq!(
        (status, code(&reply)),
        (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
    );
    // Livegate's own file through JSON needs no mapping step.
    let own = "pupil email,first name,last name,class\nada@pupils.demo.sch.uk,Ada,Lovelace,7A Science\n";
    let (status, reply) = import(
        &app,
        &su,
        false,
        json!({"format": "csv", "file": b64(own), "mapping": null}),
    )
    .await;
    assert_eq!(
        (status, reply["columns"]["own_header"].as_bool()),
        (StatusCode::OK, Some(true)),
        "{reply}"
    );
}

#[tokio::test]
async fn the_template_downloads_and_reads_back() {
    let app = app().await;
    let su = admin(&app).await;
    let (status, headers, bytes) = raw(
        &app,
        Method::GET,
        "/api/admin/roster/template.csv",
        &su,
        "text/plain",
        Body::empty(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers["content-disposition"]
        .to_str()
        .unwrap()
        .contains("livegate-roster-template.csv"));
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    assert!(text.starts_with("pupil email,first name,last name,class\r\n"), "{text}");
    assert_eq!(livegate_core::roster_csv::parse(&bytes).unwrap().len(), 2);
    let teacher = sign_in(&app, "teacher@demo.sch.uk", "demo-teacher").await;
    let (status, _, _) = raw(
        &app,
        Method::GET,
        "/api/admin/roster/template.csv",
        &teacher,
        "text/plain",
        Body::empty(),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}
