//! Tests of the roster CSV import and export: through the routes, preview and apply, every
//! whole-file and per-row refusal with its stable code and nothing partly applied, idempotent
//! re-import, body limits that hold without reading a huge upload, and export round-trips; and
//! the strict readers of the `apply` flag and the content type. The route helpers they share
//! with the other admin tests live in `http/admin/tests/`.

use axum::body::Body;
use axum::http::{header, HeaderMap, Method, StatusCode};
use futures_util::stream;
use serde_json::{json, Value};

use super::{apply_flag, is_csv};
use crate::http::admin::tests::{admin, data_fingerprint, demo, fingerprint, last_action, raw};
use crate::http::error::ApiError;
use crate::http::tests::{app, call, code};
use crate::http::App;
use livegate_core::codes::ErrorCode;
use livegate_core::roster_csv::{MAX_BYTES, MAX_ROWS};

mod mapped;

const HEADER: &str = "pupil email,first name,last name,class\n";

async fn import(app: &App, cookie: &str, apply: bool, csv: impl Into<Body>) -> (StatusCode, Value) {
    let path = format!("/api/admin/roster/import?apply={apply}");
    let (status, _, bytes) = raw(app, Method::POST, &path, cookie, "text/csv", csv.into()).await;
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

fn row_codes(report: &Value, line: u64) -> Vec<String> {
    let row = report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["line"] == line)
        .unwrap_or_else(|| panic!("no line {line}"));
    row["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["code"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn preview_then_apply_then_reimport_changes_nothing() {
    let app = app().await;
    let su = admin(&app).await;
    let file = format!(
        "{HEADER}\
         ada@pupils.demo.sch.uk,Ada,Anything,7A Science\n\
         nia@pupils.demo.sch.uk,Nia,Obi,7a science\n\
         nia@pupils.demo.sch.uk,Nia,Obi,10X Drama\n\
         owen@pupils.demo.sch.uk,Owen,Ray,10x drama\n"
    );
    let before = fingerprint(&app).await;
    let (status, body) = import(&app, &su, false, file.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let report = &body["report"];
    assert_eq!(
        (report["ok"].as_bool(), report["applied"].as_bool()),
        (Some(true), Some(false))
    );
    assert_eq!(
        report["summary"],
        json!({"rows": 4, "users_created": 1, "classes_created": 1, "memberships_created": 3, "unchanged": 1, "rows_with_errors": 0})
    );
    let rows = report["rows"].as_array().unwrap();
    assert_eq!(
        (rows[0]["unchanged"].as_bool(), rows[0]["membership"].as_str()),
        (Some(true), Some("existing"))
    );
    assert_eq!(
        (rows[1]["user"].as_str(), rows[1]["class_status"].as_str()),
        (Some("new"), Some("existing")),
        "class names match without case"
    );
    assert_eq!(rows[2]["class_status"], "new");
    assert_eq!(fingerprint(&app).await, before, "a preview changes nothing");

    let (status, body) = import(&app, &su, true, file.clone()).await;
    assert_eq!(
        (status, body["report"]["applied"].as_bool()),
        (StatusCode::OK, Some(true)),
        "{body}"
    );
    let nia = app
        .store
        .user_by_email(&livegate_core::ids::Email::parse("nia@pupils.demo.sch.uk").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (nia.display_name.as_str(), nia.role, nia.password_hash.is_none()),
        ("Nia Obi", livegate_core::school::Role::Pupil, true)
    );
    let (_, classes) = call(&app, Method::GET, "/api/admin/classes", Some(&su), "").await;
    let drama = classes["classes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "10X Drama")
        .unwrap()
        .clone();
    assert_eq!(drama["pupils"], 2);
    let ada = app
        .store
        .user_by_email(&livegate_core::ids::Email::parse("ada@pupils.demo.sch.uk").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ada.display_name, "Ada", "import never renames anyone");

    // The audit chain has every change, then the import itself, and still verifies.
    let entries = app.store.audit_entries(&demo(), 6).await.unwrap();
    let actions: Vec<&str> = entries.iter().rev().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "user.create",
            "roster.add",
            "class.create",
            "roster.add",
            "roster.add",
            "roster.import"
        ]
    );
    assert!(
        entries[0].detail.contains("\"memberships_created\":3") && entries[0].detail.contains("sha256"),
        "{}",
        entries[0].detail
    );
    assert!(
        !entries
            .iter()
            .any(|e| e.detail.contains("nia@") || e.detail.contains("Obi")),
        "no personal data in the audit chain"
    );
    assert!(app.store.verify_audit().await.unwrap().is_ok());

    // Importing the same file again finds everything in place.
    let data_before = data_fingerprint(&app).await;
    let (status, body) = import(&app, &su, true, file).await;
    assert_eq!(status, StatusCode::OK);
    let summary = &body["report"]["summary"];
    assert_eq!(
        (
            summary["unchanged"].as_u64(),
            summary["users_created"].as_u64(),
            summary["memberships_created"].as_u64()
        ),
        (Some(4), Some(0), Some(0))
    );
    assert_eq!(
        last_action(&app).await,
        "roster.import",
        "only the import itself is recorded"
    );
    assert_eq!(
        data_fingerprint(&app).await,
        data_before,
        "no user, class or membership changed"
    );
}

#[tokio::test]
async fn any_bad_row_refuses_the_whole_import() {
    let app = app().await;
    let su = admin(&app).await;
    let file = format!(
        "{HEADER}\
         good@pupils.demo.sch.uk,Good,Pupil,7A Science\n\
         not-an-email,Bad,Email,7A Science\n\
         kid@gmail.example,Un,Trusted,7A Science\n\
         good@pupils.demo.sch.uk,Good,Pupil,7a science\n\
         yan@pupils.other.sch.uk,Yan,Other,7A Science\n\
         teacher2@demo.sch.uk,Mr,Okafor,7A Science\n\
         solo@pupils.demo.sch.uk,Solo,,7A Science\n\
         good@pupils.demo.sch.uk,Goodie,Pupil,8B History\n"
    );
    let before = fingerprint(&app).await;
    let (status, body) = import(&app, &su, false, file.clone()).await;
    assert_eq!(status, StatusCode::OK);
    let report = &body["report"];
    assert_eq!(
        (report["ok"].as_bool(), report["summary"]["rows_with_errors"].as_u64()),
        (Some(false), Some(7))
    );
    assert!(row_codes(report, 2).is_empty());
    assert_eq!(row_codes(report, 3), ["bad_email"]);
    assert_eq!(row_codes(report, 4), ["email_not_trusted"]);
    assert_eq!(row_codes(report, 5), ["duplicate_row"]);
    assert_eq!(row_codes(report, 6), ["email_in_use"]);
    assert_eq!(row_codes(report, 7), ["not_a_pupil"]);
    assert_eq!(row_codes(report, 8), ["bad_name"]);
    assert_eq!(row_codes(report, 9), ["conflicting_names"]);
    let text = body.to_string();
    assert!(
        !text.contains("Other School") && !text.contains("sch_other"),
        "another school is never named"
    );
    for row in report["rows"].as_array().unwrap() {
        for e in row["errors"].as_array().unwrap() {
            assert!(e["message"].as_str().unwrap().ends_with('.'), "{e}");
        }
    }

    let (status, body) = import(&app, &su, true, file).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "roster_invalid")
    );
    assert_eq!(body["report"]["applied"], false);
    assert_eq!(
        fingerprint(&app).await,
        before,
        "nothing partly applied, nothing audited"
    );
}

#[tokio::test]
async fn whole_file_refusals_have_stable_codes() {
    let app = app().await;
    let su = admin(&app).await;
    let mut too_many = String::from(HEADER);
    for i in 0..=MAX_ROWS {
        too_many.push_str(&format!("p{i}@pupils.demo.sch.uk,P,N{i},7A Science\n"));
    }
    let cases: Vec<(&str, Vec<u8>, StatusCode, &str)> = vec![
        ("empty", Vec::new(), StatusCode::BAD_REQUEST, "csv_empty"),
        ("header only", HEADER.into(), StatusCode::BAD_REQUEST, "csv_empty"),
        (
            "extra column",
            b"pupil email,first name,last name,class,year\nx@pupils.demo.sch.uk,A,B,7A,7\n".to_vec(),
            StatusCode::BAD_REQUEST,
            "csv_bad_header",
        ),
        (
            "missing column",
            b"pupil email,first name,class\nx@pupils.demo.sch.uk,A,7A\n".to_vec(),
            StatusCode::BAD_REQUEST,
            "csv_bad_header",
        ),
        (
            "no header",
            b"x@pupils.demo.sch.uk,A,B,7A\n".to_vec(),
            StatusCode::BAD_REQUEST,
            "csv_bad_header",
        ),
        (
            "short row",
            format!("{HEADER}x@pupils.demo.sch.uk,A\n").into(),
            StatusCode::BAD_REQUEST,
            "csv_malformed",
        ),
        (
            "latin-1",
            [HEADER.as_bytes(), b"x@pupils.demo.sch.uk,Ren\xe9,B,7A\n"].concat(),
            StatusCode::BAD_REQUEST,
            "csv_not_utf8",
        ),
        (
            "20,001 rows",
            too_many.into(),
            StatusCode::BAD_REQUEST,
            "csv_too_many_rows",
        ),
        (
            "over 5 MiB",
            vec![b'a'; MAX_BYTES + 1],
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        ),
    ];
    let before = fingerprint(&app).await;
    for (what, file, status_want, code_want) in cases {
        for apply in [false, true] {
            let (status, body) = import(&app, &su, apply, file.clone()).await;
            assert_eq!(
                (status, code(&body)),
                (status_want, code_want),
                "{what} (apply={apply}): {body}"
            );
            assert!(
                body["error"]["message"].as_str().is_some_and(|m| m.ends_with('.')),
                "{what}: {body}"
            );
        }
    }
    let (_, body) = import(&app, &su, false, "pupil email,first name,last name,class,Year Group\n").await;
    assert!(
        body["error"]["detail"].as_str().unwrap().contains("Year Group"),
        "the column at fault is named: {body}"
    );
    assert_eq!(body["error"]["line"], 1);

    // Not CSV, or a bad query: bad_request.
    let path = "/api/admin/roster/import?apply=false";
    let (status, _, bytes) = raw(&app, Method::POST, path, &su, "application/json", Body::from(HEADER)).await;
    assert_eq!(
        (status, code(&serde_json::from_slice(&bytes).unwrap())),
        (StatusCode::BAD_REQUEST, "bad_request")
    );
    let (status, _, _) = raw(
        &app,
        Method::POST,
        "/api/admin/roster/import?apply=yes",
        &su,
        "text/csv",
        Body::from(HEADER),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(fingerprint(&app).await, before);
}

#[tokio::test]
async fn a_huge_upload_is_refused_without_being_kept() {
    let app = app().await;
    let su = admin(&app).await;
    // Streamed without a length: refused; what comes after the limit is read and thrown
    // away, up to the drain cap, so the client hears the answer; a 100 MB stream is cut there.
    let pulled = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = pulled.clone();
    let chunk = bytes::Bytes::from(vec![b'x'; 64 * 1024]);
    let chunks = stream::iter((0..1600).map(move |_| {
        counter.fetch_add(chunk.len(), std::sync::atomic::Ordering::SeqCst);
        Ok::<_, std::io::Error>(chunk.clone())
    }));
    let (status, body) = import(&app, &su, true, Body::from_stream(chunks)).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
    );
    let read = pulled.load(std::sync::atomic::Ordering::SeqCst);
    assert!(
        read <= super::DRAIN_CAP + 128 * 1024,
        "read {read} bytes of a 100 MB upload"
    );

    // Declared larger than the drain cap: refused before any byte is read.
    let req = axum::http::Request::builder()
        .method(Method::POST)
        .uri("/api/admin/roster/import")
        .header("content-type", "text/csv")
        .header("content-length", (super::DRAIN_CAP + 1).to_string())
        .header("cookie", &su)
        .body(Body::from_stream(stream::iter(Vec::<
            Result<bytes::Bytes, std::io::Error>,
        >::new())))
        .unwrap();
    use tower::ServiceExt;
    let res = crate::http::router(app.clone()).oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn export_is_spreadsheet_safe_and_round_trips() {
    let app = app().await;
    let su = admin(&app).await;
    // A pupil whose name a spreadsheet would run as a formula.
    let (_, body) = call(
        &app,
        Method::POST,
        "/api/admin/users",
        Some(&su),
        r#"{"email":"mal@pupils.demo.sch.uk","display_name":"=HYPERLINK(\"x\") -1","role":"pupil"}"#,
    )
    .await;
    let mal = body["user"]["id"].as_str().unwrap().to_owned();
    call(
        &app,
        Method::POST,
        "/api/admin/classes/7a/members",
        Some(&su),
        &json!({"user_id": mal, "as": "pupil"}).to_string(),
    )
    .await;

    let (status, headers, csv) = raw(
        &app,
        Method::GET,
        "/api/admin/classes/7a/roster.csv",
        &su,
        "text/plain",
        Body::empty(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "text/csv; charset=utf-8");
    assert_eq!(
        headers["content-disposition"], "attachment; filename=\"roster-7a.csv\"",
        "no names in the file name"
    );
    assert_eq!(last_action(&app).await, "roster.export");
    let text = String::from_utf8(csv.to_vec()).unwrap();
    assert!(text.starts_with("pupil email,first name,last name,class\r\n"), "{text}");
    assert!(text.contains("ada@pupils.demo.sch.uk,Ada,,7A Science\r\n"), "{text}");
    assert!(
        text.contains("mal@pupils.demo.sch.uk,\"'=HYPERLINK(\"\"x\"\")\",'-1,7A Science"),
        "{text}"
    );
    assert_eq!(text.lines().count(), 8, "header and seven pupils, no teacher");

    // Importing the export changes nothing; the pupil with an untrusted domain only warns.
    let before = fingerprint(&app).await;
    let (status, body) = import(&app, &su, false, csv.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let report = &body["report"];
    assert_eq!(
        (report["ok"].as_bool(), report["summary"]["unchanged"].as_u64()),
        (Some(true), Some(7)),
        "{report}"
    );
    let finn = report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["email"] == "finn@home-mail.example")
        .unwrap();
    assert_eq!(finn["warnings"][0]["code"], "email_not_trusted");
    assert_eq!(fingerprint(&app).await, before);
    let (status, _) = import(&app, &su, true, csv).await;
    assert_eq!(status, StatusCode::OK);

    let (status, body) = call(
        &app,
        Method::GET,
        "/api/admin/classes/cls_nothing/roster.csv",
        Some(&su),
        "",
    )
    .await;
    assert_eq!((status, code(&body)), (StatusCode::NOT_FOUND, "not_found"));
}

#[test]
fn apply_flag_is_strict() {
    assert_eq!(apply_flag(None), Ok(false));
    assert_eq!(apply_flag(Some("apply=true")), Ok(true));
    assert_eq!(apply_flag(Some("apply=false")), Ok(false));
    for bad in ["apply=1", "apply", "x=y", "apply=TRUE"] {
        assert_eq!(apply_flag(Some(bad)), Err(ApiError(ErrorCode::BadRequest)), "{bad}");
    }
}

#[test]
fn only_text_csv_is_read() {
    let mut h = HeaderMap::new();
    assert!(!is_csv(&h));
    h.insert(header::CONTENT_TYPE, "text/csv; charset=utf-8".parse().unwrap());
    assert!(is_csv(&h));
    h.insert(header::CONTENT_TYPE, "text/plain".parse().unwrap());
    assert!(!is_csv(&h));
}
