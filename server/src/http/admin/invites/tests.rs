//! Invite sheets through the route: each link works once, a second sheet skips the pupils who
//! have set a password (and voids the first sheet's unused links), staff other than a
//! superuser are refused, a class too large is refused with nothing issued, the sheet is
//! audited once with counts only; the links' origin; and a QR code read back to its link.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

use super::{base_url, qr_svg};
use crate::config::Config;
use crate::http::admin::tests::{admin, demo, raw};
use crate::http::tests::{app, app_with, call, code, sign_in};
use crate::http::{router, App};

/// The sheet for a class, asked from a page at `http://localhost`.
async fn sheet(app: &App, cookie: &str, class: &str) -> (StatusCode, Value) {
    let req = Request::builder()
        .method(Method::POST)
        .uri(format!("/api/admin/classes/{class}/invite-sheet"))
        .header("host", "localhost")
        .header("origin", "http://localhost")
        .header("cookie", cookie)
        .body(Body::empty())
        .unwrap();
    let res = router(app.clone()).oneshot(req).await.unwrap();
    let status = res.status();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

/// Imports pupils without passwords into 7A Science.
async fn new_pupils(app: &App, cookie: &str, names: &[&str]) {
    let mut csv = String::from("pupil email,first name,last name,class\n");
    for n in names {
        csv.push_str(&format!(
            "{}@pupils.demo.sch.uk,{n},Invented,7A Science\n",
            n.to_lowercase()
        ));
    }
    let (status, _, body) = raw(
        app,
        Method::POST,
        "/api/admin/roster/import?apply=true",
        cookie,
        "text/csv",
        Body::from(csv),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
}

fn card<'a>(sheet: &'a Value, name: &str) -> Option<&'a Value> {
    sheet["cards"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["display_name"] == name)
}

fn token_of(card: &Value) -> String {
    let url = card["url"].as_str().unwrap();
    url.strip_prefix("http://localhost/#/set-password?token=")
        .unwrap()
        .to_owned()
}

async fn set_password(app: &App, token: &str) -> (StatusCode, Value) {
    let body = json!({"token": token, "password": "a long enough password"}).to_string();
    call(app, Method::POST, "/api/account/password", None, &body).await
}

#[tokio::test]
async fn links_work_once_and_a_second_sheet_skips_who_signed_up() {
    let app = app().await;
    let su = admin(&app).await;
    new_pupils(&app, &su, &["Nia", "Omar"]).await;
    let (status, first) = sheet(&app, &su, "7a").await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(first["class"]["name"], "7A Science");
    assert_eq!(first["cards"].as_array().unwrap().len(), 2, "{first}");
    let ada = first["already_set_up"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["display_name"] == "Ada");
    assert!(ada, "a demo pupil with a password gets no link: {first}");
    let nia = card(&first, "Nia Invented").unwrap();
    assert!(nia["qr_svg"].as_str().unwrap().starts_with("<?xml"), "{nia}");
    assert!(first["expires_at"].as_i64().unwrap() > crate::store::now_ms() + 71 * 3_600_000);

    // Nia's link works once.
    assert_eq!(set_password(&app, &token_of(nia)).await.0, StatusCode::NO_CONTENT);
    let (status, again) = set_password(&app, &token_of(nia)).await;
    assert_eq!((status, code(&again)), (StatusCode::UNAUTHORIZED, "token_invalid"));

    // A second sheet: Nia is set up now; Omar gets a new link, which voids his first one.
    let (_, second) = sheet(&app, &su, "7a").await;
    assert!(card(&second, "Nia Invented").is_none(), "{second}");
    let listed = second["already_set_up"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["display_name"] == "Nia Invented");
    assert!(listed, "{second}");
    let omar_old = token_of(card(&first, "Omar Invented").unwrap());
    let omar_new = token_of(card(&second, "Omar Invented").unwrap());
    assert_eq!(
        set_password(&app, &omar_old).await.0,
        StatusCode::UNAUTHORIZED,
        "the first sheet's link is void"
    );
    assert_eq!(set_password(&app, &omar_new).await.0, StatusCode::NO_CONTENT);

    // One audit entry per sheet, with counts only.
    let entries = app.store.audit_entries(&demo(), 50).await.unwrap();
    let sheets: Vec<_> = entries.iter().filter(|e| e.action == "account.invite_sheet").collect();
    assert_eq!(sheets.len(), 2);
    assert!(
        sheets[0].detail.contains("\"issued\":1") && sheets[1].detail.contains("\"issued\":2"),
        "{}",
        sheets[0].detail
    );
    assert!(
        !entries.iter().any(|e| e.action == "account.invite"),
        "no entry per link"
    );
    for e in &entries {
        assert!(
            !e.detail.contains(&omar_new) && !e.detail.contains("Omar"),
            "{}",
            e.detail
        );
    }
    assert!(app.store.verify_audit().await.unwrap().is_ok());
}

#[tokio::test]
async fn only_a_superuser_gets_a_sheet() {
    let app = app().await;
    let su = admin(&app).await;
    new_pupils(&app, &su, &["Nia"]).await;
    for (email, password) in [
        ("teacher@demo.sch.uk", "demo-teacher"),
        ("ada@pupils.demo.sch.uk", "demo-pupil"),
    ] {
        let cookie = sign_in(&app, email, password).await;
        let (status, body) = sheet(&app, &cookie, "7a").await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::FORBIDDEN, "forbidden_role"),
            "{email}"
        );
    }
    let (status, body) = sheet(&app, &su, "no-such-class").await;
    assert_eq!((status, code(&body)), (StatusCode::NOT_FOUND, "not_found"));
    // Nothing was issued by the refused calls: Nia's first link is the superuser's below.
    let (_, sheet) = sheet(&app, &su, "7a").await;
    assert_eq!(sheet["cards"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_class_too_large_for_one_sheet_is_refused_with_nothing_issued() {
    let app = app().await;
    let su = admin(&app).await;
    let names: Vec<String> = (0..=super::MAX_SHEET).map(|i| format!("Pupil{i}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    new_pupils(&app, &su, &refs).await;
    let before = app.store.audit_entries(&demo(), 1).await.unwrap()[0].seq;
    let (status, body) = sheet(&app, &su, "7a").await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "invite_sheet_too_large")
    );
    assert_eq!(
        app.store.audit_entries(&demo(), 1).await.unwrap()[0].seq,
        before,
        "nothing issued or audited"
    );
}

#[tokio::test]
async fn links_point_where_people_open_livegate() {
    let app = app().await;
    let headers = |pairs: &[(&'static str, &str)]| {
        let mut h = axum::http::HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    };
    let from_page = headers(&[("origin", "https://live.brook.sch.uk"), ("host", "live.brook.sch.uk")]);
    assert_eq!(base_url(&app, &from_page).as_deref(), Some("https://live.brook.sch.uk"));
    assert_eq!(
        base_url(&app, &headers(&[("host", "10.0.0.5:8080")])).as_deref(),
        Some("http://10.0.0.5:8080")
    );
    assert_eq!(base_url(&app, &headers(&[("origin", "null")])), None);
    assert_eq!(base_url(&app, &headers(&[("host", "a b")])), None);
    let configured = app_with(Config {
        public_url: Some("https://live.example.sch.uk/".into()),
        ..Config::default()
    })
    .await;
    assert_eq!(
        base_url(&configured, &from_page).as_deref(),
        Some("https://live.example.sch.uk")
    );
}

/// Draws the SVG's dark rectangles (`M{x} {y}h{w}v{h}...`, as the qrcode crate writes them)
/// at `scale` pixels a unit, and reads the QR code with rqrr.
fn read_back(svg: &str, scale: usize) -> String {
    let size = |name: &str| -> usize {
        let at = svg.find(&format!(" {name}=\"")).unwrap() + name.len() + 3;
        svg[at..].split('"').next().unwrap().parse().unwrap()
    };
    let (w, h) = (size("width"), size("height"));
    let path = svg.split(" d=\"").nth(1).unwrap().split('"').next().unwrap();
    let mut dark = vec![false; w * h];
    for rect in path.split('M').filter(|r| !r.is_empty()) {
        let nums: Vec<usize> = rect
            .split(|c: char| !c.is_ascii_digit())
            .filter(|s| !s.is_empty())
            .map(|s| s.parse().unwrap())
            .collect();
        let (x, y, rw, rh) = (nums[0], nums[1], nums[2], nums[3]);
        for yy in y..y + rh {
            for xx in x..x + rw {
                dark[yy * w + xx] = true;
            }
        }
    }
    let mut img = rqrr::PreparedImage::prepare_from_greyscale(w * scale, h * scale, |x, y| {
        if dark[(y / scale) * w + x / scale] {
            0
        } else {
            255
        }
    });
    let grids = img.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code");
    grids[0].decode().unwrap().1
}

#[test]
fn the_qr_code_reads_back_to_the_link() {
    let link = format!("https://live.brook.sch.uk/#/set-password?token={}", "ab12".repeat(16));
    let svg = qr_svg(&link).unwrap();
    assert_eq!(read_back(&svg, 2), link);
}
