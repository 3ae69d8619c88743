//! The review routes without a socket: a segment is served only on the leader's own live view
//! of that recording, checked before a byte of it goes out, with ranges; the view is audited
//! once, when it is opened.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;

use super::parse_range;
use crate::http::tests::{app, call, code, sign_in};
use crate::http::{router, App};
use crate::recording::playback::tests::{object_path, stored_recording};
use livegate_core::ids::{ClassId, LessonId, SchoolId};
use livegate_core::school::Role;

#[test]
fn ranges() {
    assert_eq!(parse_range("bytes=0-99", 1000), Some((0, 99)));
    assert_eq!(parse_range("bytes=900-", 1000), Some((900, 999)));
    assert_eq!(parse_range("bytes=-100", 1000), Some((900, 999)));
    assert_eq!(parse_range("bytes=990-2000", 1000), Some((990, 999)));
    for bad in [
        "bytes=1000-",
        "bytes=5-1",
        "items=0-1",
        "bytes=0-1,4-5",
        "bytes=a-b",
        "bytes=-",
    ] {
        assert_eq!(parse_range(bad, 1000), None, "{bad}");
    }
    assert_eq!(parse_range("bytes=0-0", 0), None);
}

/// A GET with a cookie and an optional range: the status, the headers and the raw body.
async fn get(app: &App, path: &str, cookie: &str, range: Option<&str>) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let mut req = Request::builder()
        .method(Method::GET)
        .uri(path)
        .header("cookie", cookie);
    if let Some(r) = range {
        req = req.header("range", r);
    }
    let res = router(app.clone())
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let (status, headers) = (res.status(), res.headers().clone());
    (
        status,
        headers,
        res.into_body().collect().await.unwrap().to_bytes().to_vec(),
    )
}

fn error_code(body: &[u8]) -> String {
    let v: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    code(&v).to_owned()
}

/// A complete three-segment recording of 7A in `school`, in the store and the objects.
async fn recording(app: &App, school: &str, teacher: &str) -> String {
    let service = app.recordings.clone().unwrap();
    let (id, hash) = stored_recording(&service, school, 3).await;
    let school = SchoolId::parse(school).unwrap();
    let teacher = app
        .store
        .user_by_email(&livegate_core::ids::Email::parse(teacher).unwrap())
        .await
        .unwrap()
        .unwrap();
    let (lesson, class) = (LessonId::generate(), ClassId::parse("7a").unwrap());
    app.store
        .create_recording(&school, &id, &lesson, &class, &teacher.id, b"wrapped")
        .await
        .unwrap();
    app.store.finish_recording(&id, false, &hash).await.unwrap();
    id
}

async fn views_audited(app: &App) -> usize {
    let school = SchoolId::parse("sch_demo").unwrap();
    app.store
        .audit_entries(&school, 1000)
        .await
        .unwrap()
        .iter()
        .filter(|e| e.action == "recording.view")
        .count()
}

/// A demo-school recording opened by its leader.
struct Viewing {
    app: App,
    rec: String,
    leader: String,
    view: String,
    opened: serde_json::Value,
}

async fn viewing() -> Viewing {
    let app = app().await;
    let rec = recording(&app, "sch_demo", "teacher@demo.sch.uk").await;
    let leader = crate::http::mfa::tests::two_factor_session(&app, "dsl@demo.sch.uk", "demo-leader").await;
    let (status, opened) = call(
        &app,
        Method::POST,
        &format!("/api/recordings/{rec}/views"),
        Some(&leader),
        r#"{"reason":"Concern raised by a parent"}"#,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{opened}");
    let view = opened["view"].as_str().unwrap().to_owned();
    Viewing {
        app,
        rec,
        leader,
        view,
        opened,
    }
}

/// A new leader of `school`, signed in.
async fn new_leader(app: &App, school: &str, email: &str) -> String {
    let school = SchoolId::parse(school).unwrap();
    let address = livegate_core::ids::Email::parse(email).unwrap();
    app.store
        .create_user(
            "test",
            &school,
            &address,
            "Another DSL",
            Role::Leader,
            Some(crate::password::hash("demo-leader")),
        )
        .await
        .unwrap();
    crate::http::mfa::tests::two_factor_session(app, email, "demo-leader").await
}

fn segment_path(rec: &str, label: &str, n: &str, view: &str) -> String {
    format!("/api/recordings/{rec}/streams/{label}/segments/{n}?view={view}")
}

#[tokio::test]
async fn a_segment_is_served_on_the_leaders_own_view_with_ranges() {
    let Viewing {
        app,
        rec,
        leader,
        view,
        opened,
    } = viewing().await;
    let view = view.as_str();
    assert_eq!(views_audited(&app).await, 1, "the view is audited when it opens");
    let stream = &opened["streams"][0];
    assert_eq!(
        (
            stream["label"].as_str(),
            stream["start_ms"].as_i64(),
            stream["end_ms"].as_i64()
        ),
        (Some("s1"), Some(0), Some(6000))
    );
    assert_eq!(
        stream["segments"],
        serde_json::json!([{"start_ms": 0, "end_ms": 2000}, {"start_ms": 2000, "end_ms": 4000}, {"start_ms": 4000, "end_ms": 6000}])
    );

    let (status, headers, whole) = get(&app, &segment_path(&rec, "s1", "1", view), &leader, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "video/webm");
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(headers["accept-ranges"], "bytes");
    let (_, frames) = livegate_recorder::webm::demux(&whole).unwrap();
    assert!(
        !frames.is_empty() && frames.iter().all(|f| (2000..4000).contains(&f.time_ms)),
        "segment 1 is the second two seconds"
    );
    let (status, headers, part) = get(
        &app,
        &segment_path(&rec, "s1", "1", view),
        &leader,
        Some("bytes=10-109"),
    )
    .await;
    assert_eq!(status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        headers["content-range"],
        format!("bytes 10-109/{}", whole.len()).as_str()
    );
    assert_eq!(part, whole[10..110]);
    // Media requests add no view: there is still exactly one.
    assert_eq!(views_audited(&app).await, 1);
}

#[tokio::test]
async fn a_segment_needs_the_leaders_own_live_view_of_that_recording() {
    let Viewing {
        app, rec, leader, view, ..
    } = viewing().await;
    let other_rec = recording(&app, "sch_demo", "teacher@demo.sch.uk").await;
    let refused = |status: StatusCode, code: &'static str| {
        move |(s, _, body): (StatusCode, _, Vec<u8>)| {
            assert_eq!((s, error_code(&body).as_str()), (status, code));
        }
    };
    let path = |rec: &str, view: &str| segment_path(rec, "s1", "0", view);
    refused(StatusCode::CONFLICT, "view_expired")(
        get(
            &app,
            &format!("/api/recordings/{rec}/streams/s1/segments/0"),
            &leader,
            None,
        )
        .await,
    );
    refused(StatusCode::CONFLICT, "view_expired")(get(&app, &path(&rec, "bogus_token_123"), &leader, None).await);
    refused(StatusCode::CONFLICT, "view_expired")(get(&app, &path(&other_rec, &view), &leader, None).await);
    for (label, n) in [("s1", "3"), ("s1", "x"), ("s1", "-1"), ("s2", "0")] {
        refused(StatusCode::NOT_FOUND, "not_found")(
            get(&app, &segment_path(&rec, label, n, &view), &leader, None).await,
        );
    }
    // Other roles, even holding the leader's token.
    for (email, password) in [
        ("teacher@demo.sch.uk", "demo-teacher"),
        ("ada@pupils.demo.sch.uk", "demo-pupil"),
        ("admin@demo.sch.uk", "demo-admin"),
    ] {
        let who = sign_in(&app, email, password).await;
        refused(StatusCode::FORBIDDEN, "forbidden_role")(get(&app, &path(&rec, &view), &who, None).await);
    }
    // Another leader of the same school with this leader's token.
    let second = new_leader(&app, "sch_demo", "dsl2@demo.sch.uk").await;
    refused(StatusCode::CONFLICT, "view_expired")(get(&app, &path(&rec, &view), &second, None).await);
    // An expired view.
    assert_eq!(get(&app, &path(&rec, &view), &leader, None).await.0, StatusCode::OK);
    app.views.expire_all();
    refused(StatusCode::CONFLICT, "view_expired")(get(&app, &path(&rec, &view), &leader, None).await);
}

#[tokio::test]
async fn another_schools_leader_finds_nothing() {
    let Viewing { app, rec, view, .. } = viewing().await;
    let outsider = new_leader(&app, "sch_other", "dsl@other.sch.uk").await;
    let (status, body) = call(
        &app,
        Method::POST,
        &format!("/api/recordings/{rec}/views"),
        Some(&outsider),
        r#"{"reason":"Concern raised by a parent"}"#,
    )
    .await;
    assert_eq!((status, code(&body)), (StatusCode::NOT_FOUND, "not_found"));
    let (status, _, body) = get(&app, &segment_path(&rec, "s1", "0", &view), &outsider, None).await;
    assert_eq!(
        (status, error_code(&body).as_str()),
        (StatusCode::CONFLICT, "view_expired")
    );
    // Its own recording's view does not reach ours either.
    let theirs = recording(&app, "sch_other", "teacher@other.sch.uk").await;
    let (status, opened) = call(
        &app,
        Method::POST,
        &format!("/api/recordings/{theirs}/views"),
        Some(&outsider),
        r#"{"reason":"Their own concern here"}"#,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, body) = get(
        &app,
        &segment_path(&rec, "s1", "0", opened["view"].as_str().unwrap()),
        &outsider,
        None,
    )
    .await;
    assert_eq!(
        (status, error_code(&body).as_str()),
        (StatusCode::CONFLICT, "view_expired")
    );
}

#[tokio::test]
async fn a_tampered_segment_is_refused_with_nothing_served() {
    let Viewing {
        app, rec, leader, view, ..
    } = viewing().await;
    let service = app.recordings.clone().unwrap();
    let path = object_path(&service, &rec, 1);
    let mut sealed = std::fs::read(&path).unwrap();
    let last = sealed.len() - 1;
    sealed[last] ^= 0x80;
    std::fs::write(&path, &sealed).unwrap();
    for range in [None, Some("bytes=0-99")] {
        let (status, headers, body) = get(&app, &segment_path(&rec, "s1", "1", &view), &leader, range).await;
        assert_eq!(
            (status, error_code(&body).as_str()),
            (StatusCode::INTERNAL_SERVER_ERROR, "recording_tampered")
        );
        assert_ne!(headers["content-type"], "video/webm");
        assert!(
            !body.windows(4).any(|w| w == [0x1a, 0x45, 0xdf, 0xa3]),
            "no WebM in the refusal"
        );
    }
    assert_eq!(
        get(&app, &segment_path(&rec, "s1", "0", &view), &leader, None).await.0,
        StatusCode::OK,
        "an intact segment still plays"
    );
}

/// A leader downloads a whole timeline of their open view as one WebM named as the player
/// names it, audited first; without their own live view, or for a timeline that is not there,
/// nothing is sent and nothing is audited.
#[tokio::test]
async fn a_timeline_downloads_as_one_named_file_audited_first() {
    let Viewing {
        app, rec, leader, view, ..
    } = viewing().await;
    let downloads = |app: App| async move {
        let school = SchoolId::parse("sch_demo").unwrap();
        let entries = app.store.audit_entries(&school, 1000).await.unwrap();
        entries
            .into_iter()
            .filter(|e| e.action == "recording.download")
            .collect::<Vec<_>>()
    };
    let path = |label: &str, view: &str| format!("/api/recordings/{rec}/streams/{label}/download?view={view}");
    for (label, token, want) in [
        ("s1", "not-the-view", "view_expired"),
        ("s9", view.as_str(), "not_found"),
    ] {
        let (status, _, body) = get(&app, &path(label, token), &leader, None).await;
        assert_eq!(
            (status.is_client_error(), error_code(&body).as_str()),
            (true, want),
            "{label}"
        );
    }
    let teacher = sign_in(&app, "teacher@demo.sch.uk", "demo-teacher").await;
    let (status, _, body) = get(&app, &path("s1", &view), &teacher, None).await;
    assert_eq!(
        (status, error_code(&body).as_str()),
        (StatusCode::FORBIDDEN, "forbidden_role")
    );
    assert!(downloads(app.clone()).await.is_empty(), "nothing refused is audited");

    let (status, headers, file) = get(&app, &path("s1", &view), &leader, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "video/webm");
    assert_eq!(
        headers["content-disposition"],
        "attachment; filename=\"Stream s1.webm\"; filename*=UTF-8''Stream%20s1.webm"
    );
    let (_, frames) = livegate_recorder::webm::demux(&file).unwrap();
    let times: Vec<i64> = frames.iter().map(|f| f.time_ms).collect();
    assert_eq!(
        (times.iter().min(), times.iter().max()),
        (Some(&0), Some(&5980)),
        "all three segments, joined"
    );
    let titles = livegate_recorder::webm::titles(&file).unwrap();
    assert_eq!(titles.0.as_deref(), Some("Stream s1"));
    let audited = downloads(app.clone()).await;
    assert_eq!(audited.len(), 1);
    assert!(audited[0].detail.contains("\"stream\":\"s1\""), "{}", audited[0].detail);
}

#[test]
fn download_names_are_safe_in_a_header_and_whole_for_browsers() {
    assert_eq!(
        super::disposition("Zoë O'Neil, camera.webm"),
        "attachment; filename=\"Zo_ O'Neil, camera.webm\"; filename*=UTF-8''Zo%C3%AB%20O%27Neil%2C%20camera.webm"
    );
    assert_eq!(
        super::disposition("a\"b\r\n.webm"),
        "attachment; filename=\"a_b__.webm\"; filename*=UTF-8''a%22b%0D%0A.webm"
    );
}
