//! Tests of the signalling socket without a socket: the heartbeat's liveness rules (pure, time
//! passed in), and the join path from ticket to seat (the route issues the ticket, [`join`]
//! redeems it as the socket would, the lesson seats or refuses): the gate runs once at the
//! ticket and once in the lesson, never at the socket, and a refusal between the two is the
//! lesson's, with one log row.

use axum::http::{HeaderValue, Method, StatusCode};

use super::*;
use crate::http::tests::{app, call, code, sign_in};
use crate::store::LogScope;
use livegate_core::ids::{Email, LessonId, SchoolId, UserId};
use livegate_core::proto::LessonRole;

fn s(n: u64) -> Duration {
    Duration::from_secs(n)
}

#[test]
fn a_quiet_client_is_pinged_and_closed_if_nothing_answers() {
    let t0 = Instant::now();
    let live = Liveness::new(t0);
    assert_eq!(live.next(), t0 + PING_AFTER);
    assert_eq!(live.due(t0 + PING_AFTER - Duration::from_millis(1)), None);
    assert_eq!(live.due(t0 + PING_AFTER), Some(Due::Ping));
    let mut pinged = live;
    pinged.pinged = Some(t0 + PING_AFTER);
    assert_eq!(pinged.next(), t0 + PING_AFTER + PONG_DEADLINE);
    assert_eq!(
        pinged.due(t0 + PING_AFTER + s(1)),
        None,
        "no second ping while one is out"
    );
    assert_eq!(pinged.due(t0 + PING_AFTER + PONG_DEADLINE), Some(Due::Dead));
    assert!(
        PING_AFTER + PONG_DEADLINE < HEARTBEAT_TIMEOUT,
        "the ping finds a dead reader before the heartbeat"
    );
}

#[test]
fn a_client_answering_pings_lives_until_the_heartbeat() {
    // Answers every Ping but sends no message: pinged, never dead by the ping, closed by
    // the heartbeat (`heartbeat_timeout`) as before.
    let t0 = Instant::now();
    let mut live = Liveness::new(t0);
    let mut t = t0;
    while t < t0 + HEARTBEAT_TIMEOUT {
        t = live.next();
        match live.due(t) {
            Some(Due::Ping) => {
                live.pinged = Some(t);
                live.heard(t + s(1));
            }
            Some(Due::Dead) => break,
            None => {}
        }
    }
    assert_eq!(live.due(t0 + HEARTBEAT_TIMEOUT - Duration::from_millis(1)), None);
    assert_eq!(live.due(t0 + HEARTBEAT_TIMEOUT), Some(Due::Dead));
    // A client that sends its `ping` every 10 s is never dead.
    let mut live = Liveness::new(t0);
    for i in 1..1_000 {
        let t = t0 + s(10 * i);
        if live.due(t - s(5)) == Some(Due::Ping) {
            live.pinged = Some(t - s(5));
        }
        assert_ne!(live.due(t), Some(Due::Dead), "at {i}0 s");
        live.spoke(t);
    }
}

fn school() -> SchoolId {
    SchoolId::parse("sch_demo").unwrap()
}

/// A signed-in person: their session cookie and user id.
struct Person {
    cookie: String,
    id: UserId,
}

async fn person(app: &App, email: &str, password: &str) -> Person {
    let cookie = sign_in(app, email, password).await;
    let id = app
        .store
        .user_by_email(&Email::parse(email).unwrap())
        .await
        .unwrap()
        .unwrap()
        .id;
    Person { cookie, id }
}

/// The teacher starts 7A's lesson and takes their seat (their socket's join, kept open).
async fn live_lesson(app: &App) -> (LessonHandle, Joined) {
    let teacher = person(app, "teacher@demo.sch.uk", "demo-teacher").await;
    let (status, body) = call(
        app,
        Method::POST,
        "/api/lessons",
        Some(&teacher.cookie),
        r#"{"class_id":"7a"}"#,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = LessonId::parse(body["lesson"]["id"].as_str().unwrap()).unwrap();
    let lesson = app.lessons.get(&id).unwrap();
    let seated = socket_join(app, &lesson, &teacher)
        .await
        .expect("the teacher is seated");
    (lesson, seated)
}

/// Asks for a ticket as `who`: the ticket, or the refusal's code.
async fn ticket(app: &App, lesson: &LessonHandle, who: &Person) -> Result<String, String> {
    let path = format!("/api/lessons/{}/ticket", lesson.info.id);
    let (status, body) = call(app, Method::POST, &path, Some(&who.cookie), "").await;
    match status {
        StatusCode::OK => Ok(body["ticket"].as_str().unwrap().to_owned()),
        _ => Err(code(&body).to_owned()),
    }
}

/// What the socket does with its first message: redeem a fresh ticket and join.
async fn socket_join(app: &App, lesson: &LessonHandle, who: &Person) -> Result<Joined, ErrorCode> {
    let t = ticket(app, lesson, who).await.expect("a ticket");
    redeem(app, &t, who).await
}

async fn redeem(app: &App, ticket: &str, who: &Person) -> Result<Joined, ErrorCode> {
    let mut headers = HeaderMap::new();
    headers.insert(header::COOKIE, HeaderValue::from_str(&who.cookie).unwrap());
    let upgrade = Upgrade {
        device: "test".into(),
        headers,
    };
    join(app, ticket, upgrade).await
}

/// How many times the gate's facts were gathered for `who` in this lesson.
fn gate_runs(lesson: &LessonHandle, who: &Person) -> usize {
    let shared = lesson.shared.lock().unwrap();
    shared.gathered.get(&who.id).copied().unwrap_or(0)
}

/// The admission entries on the audit chain about `who`, oldest first: (action, at, reason).
async fn admissions(app: &App, who: &Person) -> Vec<(String, String, Option<String>)> {
    let mut entries = app.store.audit_entries(&school(), 10_000).await.unwrap();
    entries.reverse();
    entries
        .into_iter()
        .filter(|e| e.action.starts_with("admission.") && e.detail.contains(who.id.as_str()))
        .map(|e| {
            let d: serde_json::Value = serde_json::from_str(&e.detail).unwrap();
            let reason = d["reason"].as_str().map(str::to_owned);
            (e.action, d["at"].as_str().unwrap().to_owned(), reason)
        })
        .collect()
}

/// The livestream log's events about `who`: (kind, detail, count). The lesson's own row is
/// written by its writer, so this waits for it (generously) before reading.
async fn events_about(app: &App, lesson: &LessonHandle, who: &Person) -> Vec<(String, Option<String>, i64)> {
    for _ in 0..250 {
        let log = app
            .store
            .lesson_log(&school(), &LogScope::School, &lesson.info.id)
            .await
            .unwrap();
        if let Some(log) = log {
            return log
                .events
                .into_iter()
                .filter(|e| e.subject_id.as_deref() == Some(who.id.as_str()))
                .map(|e| (e.kind, e.detail, e.count))
                .collect();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the lesson's log row was never written");
}

/// Reads `who`'s outbox until `f` matches, within a generous deadline.
async fn hears(joined: &mut Joined, what: &str, f: impl Fn(&ServerMsg) -> bool) {
    let outbox = &mut joined.2;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let item = tokio::time::timeout_at(deadline, outbox.recv())
            .await
            .unwrap_or_else(|_| panic!("no {what} in time"))
            .unwrap_or_else(|| panic!("the outbox closed before {what}"));
        let msgs = match item {
            Outgoing::Msg(m) => vec![m],
            Outgoing::State(state) => state.take().into_iter().collect(),
        };
        if msgs.iter().any(&f) {
            return;
        }
    }
}

/// An honest pupil's join meets the gate exactly twice, once per stage: at the ticket and in
/// the lesson as it seats her (the socket between runs none). Each stage's decision is on the
/// audit chain once, and she is seated.
#[tokio::test]
async fn the_gate_runs_once_at_the_ticket_and_once_in_the_lesson() {
    let app = app().await;
    let (lesson, _teacher) = live_lesson(&app).await;
    let ada = person(&app, "ada@pupils.demo.sch.uk", "demo-pupil").await;
    let t = ticket(&app, &lesson, &ada).await.expect("Ada's ticket");
    assert_eq!(gate_runs(&lesson, &ada), 1, "the ticket's run");
    let mut seated = redeem(&app, &t, &ada).await.expect("Ada is seated");
    assert_eq!(
        gate_runs(&lesson, &ada),
        2,
        "one more run, the lesson's; none at the socket"
    );
    hears(&mut seated, "joined", |m| {
        matches!(
            m,
            ServerMsg::Joined {
                role: LessonRole::Pupil,
                ..
            }
        )
    })
    .await;
    assert_eq!(
        admissions(&app, &ada).await,
        [
            ("admission.admit".to_owned(), "ticket".to_owned(), None),
            ("admission.admit".to_owned(), "join".to_owned(), None),
        ]
    );
    let events = events_about(&app, &lesson, &ada).await;
    assert!(events.iter().all(|(kind, ..)| kind != "refused"), "{events:?}");
}

/// A pupil whose consent is withdrawn after her ticket was issued is refused by the lesson
/// when she joins, with `consent_withdrawn` and one log row (asking again counts on it); the
/// classmate who joins beside her is seated and stays.
#[tokio::test]
async fn consent_withdrawn_between_ticket_and_join_is_refused_by_the_lesson_once() {
    let app = app().await;
    let (lesson, _teacher) = live_lesson(&app).await;
    let ada = person(&app, "ada@pupils.demo.sch.uk", "demo-pupil").await;
    let ben = person(&app, "ben@pupils.demo.sch.uk", "demo-pupil").await;
    let t = ticket(&app, &lesson, &ada).await.expect("Ada's ticket");
    let consent = app.store.consents(&school(), &ada.id).await.unwrap().remove(0);
    app.store
        .withdraw_consent("admin", &school(), &consent.id)
        .await
        .unwrap();

    let refused = redeem(&app, &t, &ada).await.err();
    assert_eq!(refused, Some(ErrorCode::ConsentWithdrawn));
    assert_eq!(gate_runs(&lesson, &ada), 2, "the ticket's run and the lesson's");
    let row = ("refused".to_owned(), Some("consent_withdrawn".to_owned()), 1);
    assert_eq!(events_about(&app, &lesson, &ada).await, [row]);
    assert_eq!(
        admissions(&app, &ada).await,
        [
            ("admission.admit".to_owned(), "ticket".to_owned(), None),
            (
                "admission.refuse".to_owned(),
                "join".to_owned(),
                Some("consent_withdrawn".to_owned())
            ),
        ]
    );
    // Asking again is refused at the ticket and counted on the same row, not audited again.
    assert_eq!(ticket(&app, &lesson, &ada).await, Err("consent_withdrawn".to_owned()));
    let row = ("refused".to_owned(), Some("consent_withdrawn".to_owned()), 2);
    assert_eq!(events_about(&app, &lesson, &ada).await, [row]);
    assert_eq!(admissions(&app, &ada).await.len(), 2);

    // Ben, beside her, is seated, and nothing of hers touches him.
    let mut seated = socket_join(&app, &lesson, &ben).await.expect("Ben is seated");
    hears(&mut seated, "joined", |m| {
        matches!(
            m,
            ServerMsg::Joined {
                role: LessonRole::Pupil,
                ..
            }
        )
    })
    .await;
    assert_eq!(gate_runs(&lesson, &ben), 2);
    let events = events_about(&app, &lesson, &ben).await;
    assert!(events.iter().all(|(kind, ..)| kind != "refused"), "{events:?}");
    assert!(!seated.2.is_closed(), "Ben stays");
}

/// A ticket redeemed after its lesson ended is `lesson_not_live`, and that refusal is logged
/// and audited as the gate's would be (the gate need not run for it).
#[tokio::test]
async fn a_ticket_for_a_lesson_ended_since_is_refused_and_logged() {
    let app = app().await;
    let (lesson, teacher) = live_lesson(&app).await;
    let ada = person(&app, "ada@pupils.demo.sch.uk", "demo-pupil").await;
    let t = ticket(&app, &lesson, &ada).await.expect("Ada's ticket");
    assert!(
        lesson
            .send(LessonMsg::Client(teacher.1.clone(), ClientMsg::EndLesson))
            .await
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while lesson.is_live() {
        assert!(tokio::time::Instant::now() < deadline, "the lesson did not end");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(redeem(&app, &t, &ada).await.err(), Some(ErrorCode::LessonNotLive));
    assert_eq!(gate_runs(&lesson, &ada), 1, "only the ticket's");
    let row = ("refused".to_owned(), Some("lesson_not_live".to_owned()), 1);
    assert_eq!(events_about(&app, &lesson, &ada).await, [row]);
    let refusal = (
        "admission.refuse".to_owned(),
        "join".to_owned(),
        Some("lesson_not_live".to_owned()),
    );
    assert_eq!(admissions(&app, &ada).await.last(), Some(&refusal));
}
