//! Identity and admission: forged, expired, reused and cross-lesson tickets; other schools;
//! pupils without consent, off the roster or from untrusted domains trying every route and
//! every signalling message; sessions that are forged or signed out; the lobby.

use crate::fixture::*;
use anyhow::{bail, ensure, Result};
use livegate_tests::participant::{
    live_7a_with_camera, open_and_join_as, pupil_receives_teacher_camera, SIGNAL_TIMEOUT,
};
use livegate_tests::signal::msg_type;
use livegate_tests::{seed, Api, Conn, Participant, Server};
use serde_json::{json, Value};
use std::time::Duration;
use walk::every_route;

mod walk;

#[test]
fn forged_random_ticket_is_ticket_invalid() {
    shared_case(|s| async move {
        let forged = format!("{:032x}", rand::random::<u128>());
        join_refused(&s.server, "forger", &forged, "ticket_invalid").await?;
        join_refused(&s.server, "forger", "", "ticket_invalid").await?;
        s.control_keeps_receiving().await
    });
}

#[test]
fn forged_oversized_ticket_is_ticket_invalid() {
    shared_case(|s| async move {
        let forged = "f".repeat(60 * 1024);
        join_refused(&s.server, "forger", &forged, "ticket_invalid").await?;
        s.control_keeps_receiving().await
    });
}

#[test]
fn reused_ticket_is_ticket_invalid() {
    shared_case(|s| async move {
        let api = s.signed_in(&s.fresh_pupil().await?).await?;
        let ticket = api.must_ticket(&s.lesson.id).await?;
        let (first, reply) = open_and_join_as(&api, &s.server, "first", "/ws", &ticket.ticket, 1).await?;
        ensure!(msg_type(&reply) == "joined", "first use: {reply}");
        // Replayed by its own holder's session: still spent.
        let second = join_refused_as(&api, &s.server, "replayer", &ticket.ticket, "ticket_invalid").await?;
        no_media(&second)?;
        // The replay did not replace the first socket.
        first.ping_pong(SIGNAL_TIMEOUT).await?;
        ensure!(first.closed().is_none(), "the first socket was closed by the replay");
        s.control_keeps_receiving().await
    });
}

#[test]
fn expired_ticket_is_ticket_invalid() {
    shared_case(|s| async move {
        let api = s.signed_in(&s.fresh_pupil().await?).await?;
        let ticket = api.must_ticket(&s.lesson.id).await?;
        ensure!(
            ticket.expires_in_ms == TICKET_SECS * 1000,
            "expires_in_ms {}",
            ticket.expires_in_ms
        );
        tokio::time::sleep(Duration::from_millis(TICKET_SECS * 1000 + 700)).await;
        join_refused_as(&api, &s.server, "late", &ticket.ticket, "ticket_invalid").await?;
        s.control_keeps_receiving().await
    });
}

/// A classmate's ticket in the wrong hands (Eve has no consent of her own): presented with
/// Eve's session, with no session, with no session and no origin, and with the holder's own
/// session from another origin, it is `ticket_invalid` each time, Eve receives nothing, and
/// the ticket is not spent: its holder then joins with it and receives the lesson, and the
/// log shows the holder, never Eve.
#[test]
fn stolen_ticket_seats_nobody_but_its_holder() {
    shared_case(|s| async move {
        let holder = s.signed_in(&s.fresh_pupil().await?).await?;
        let holder_id = user_id(&holder).await?;
        let ticket = holder.must_ticket(&s.lesson.id).await?;
        let eve = s.signed_in(EVE).await?;
        let eve_id = user_id(&eve).await?;
        let origin = ("origin".to_owned(), holder.origin().to_owned());
        let elsewhere = ("origin".to_owned(), holder.origin().replacen("http://", "https://", 1));
        let holder_cookie = ("cookie".to_owned(), holder.cookie().unwrap_or_default());
        let thefts = [
            ("eve's session", eve.ws_headers()),
            ("no session", vec![origin.clone()]),
            ("no session, no origin", vec![]),
            (
                "the holder's session from another origin",
                vec![holder_cookie, elsewhere],
            ),
        ];
        let mut thieves = Vec::new();
        for (label, headers) in thefts {
            thieves.push(join_refused_on(&s.server, label, &ticket.ticket, "ticket_invalid", &headers).await?);
        }
        let (conn, reply) = open_and_join_as(&holder, &s.server, "holder", "/ws", &ticket.ticket, 1).await?;
        ensure!(msg_type(&reply) == "joined", "the holder with the same ticket: {reply}");
        let teacher = s.lesson.teacher.id.clone();
        let sub = conn
            .wait_offer(0, SIGNAL_TIMEOUT, "the teacher's camera", |m| {
                m["publisher_id"] == json!(teacher)
            })
            .await?;
        sub.wait_media(15, 5, Duration::from_secs(12)).await?;
        for thief in &thieves {
            no_media(thief)?;
        }
        // The log seats the holder (written by the lesson's writer, so wait for it) and never Eve.
        let path = format!("/api/log/lessons/{}", s.lesson.id);
        let mut log = Value::Null;
        for _ in 0..50 {
            log = s.admin.request(reqwest::Method::GET, &path, None).await?.1;
            if log["sessions"]
                .as_array()
                .is_some_and(|a| a.iter().any(|x| x["user_id"] == json!(holder_id)))
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let seated = |id: &str| {
            log["sessions"]
                .as_array()
                .is_some_and(|a| a.iter().any(|x| x["user_id"] == json!(id)))
        };
        ensure!(seated(&holder_id), "the holder is not in the log: {}", log["sessions"]);
        let about_eve = log["events"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|e| e["subject_id"] == json!(eve_id) && e["kind"] != "refused")
            .count();
        ensure!(
            !seated(&eve_id) && about_eve == 0,
            "the log seats Eve: {} {}",
            log["sessions"],
            log["events"]
        );
        s.control_keeps_receiving().await
    });
}

/// A pupil without consent asks for 300 tickets, 30 at a time: past their budget the answer is
/// `rate_limited` (429) without running the gate, every gate refusal that did run is one
/// `refused` event in the log carrying their count (not 300 events), and a classmate asking
/// right after gets a ticket, joins and receives the lesson.
#[test]
fn refused_pupils_ticket_flood_is_rate_limited_and_logged_once() {
    shared_case(|s| async move {
        let flooder = s.signed_in(&s.fresh_pupil_of_7a(false).await?).await?;
        let flooder_id = user_id(&flooder).await?;
        let classmate = s.signed_in(&s.fresh_pupil().await?).await?;
        let mut answers = Vec::new();
        for _ in 0..10 {
            let batch = (0..30).map(|_| flooder.ticket(&s.lesson.id));
            for answer in futures_util::future::join_all(batch).await {
                answers.push(answer?.err().map(|e| (e.status, e.code)));
            }
        }
        let refused = answers
            .iter()
            .filter(|a| *a == &Some((403, "consent_missing".to_owned())))
            .count();
        let limited = answers
            .iter()
            .filter(|a| *a == &Some((429, "rate_limited".to_owned())))
            .count();
        ensure!(
            refused + limited == 300,
            "other answers: {:?}",
            answers
                .iter()
                .filter(|a| a.as_ref().is_none_or(|(s, _)| *s != 403 && *s != 429))
                .collect::<Vec<_>>()
        );
        // The burst of 10 and what refilled meanwhile (one a second).
        ensure!((10..=40).contains(&refused), "{refused} requests ran the gate");
        let ticket = classmate.must_ticket(&s.lesson.id).await?;
        let (conn, reply) = open_and_join_as(&classmate, &s.server, "classmate", "/ws", &ticket.ticket, 1).await?;
        ensure!(msg_type(&reply) == "joined", "the classmate: {reply}");
        let teacher = s.lesson.teacher.id.clone();
        let sub = conn
            .wait_offer(0, SIGNAL_TIMEOUT, "the teacher's camera", |m| {
                m["publisher_id"] == json!(teacher)
            })
            .await?;
        sub.wait_media(15, 5, Duration::from_secs(12)).await?;
        let path = format!("/api/log/lessons/{}", s.lesson.id);
        let log = s.admin.request(reqwest::Method::GET, &path, None).await?.1;
        let about: Vec<(String, String, i64)> = log["events"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|e| e["subject_id"] == json!(flooder_id))
            .map(|e| {
                (
                    e["kind"].as_str().unwrap_or("").to_owned(),
                    e["detail"].as_str().unwrap_or("").to_owned(),
                    e["count"].as_i64().unwrap_or(0),
                )
            })
            .collect();
        ensure!(
            about == vec![("refused".to_owned(), "consent_missing".to_owned(), refused as i64)],
            "the log: {about:?}"
        );
        s.control_keeps_receiving().await
    });
}

/// A loopback address of its own for one case's client (any 127.0.0.0/8 address reaches the
/// server), so the sign-in limits of parallel cases never meet.
fn loopback() -> std::net::IpAddr {
    std::net::IpAddr::from([
        127,
        rand::random::<u8>().max(1),
        rand::random::<u8>(),
        rand::random::<u8>().clamp(2, 254),
    ])
}

/// A stranger on the owner's school network sends 50 wrong passwords for the owner's account:
/// five are checked, then that address is held for the account (`too_many_attempts`, the right
/// password included), and a second stranger address is held after one guess. The owner still
/// signs in from home, and on their own laptop on that same network (a known device since its
/// last sign-in), then gets a ticket, joins and receives the lesson.
#[test]
fn strangers_wrong_passwords_do_not_lock_out_the_owner() {
    shared_case(|s| async move {
        let owner = s.fresh_pupil().await?;
        let base = s.server.http_base.as_str();
        let (school, elsewhere, home) = (loopback(), loopback(), loopback());
        let laptop = Api::from_address(base, Some(school));
        laptop.sign_in(&owner, seed::PUPIL_PASSWORD).await?;
        let stranger = Api::from_address(base, Some(school));
        let attempt = |api: &Api, password: String| {
            let (api, body) = (api.clone(), json!({"email": owner, "password": password}));
            async move { api.request(reqwest::Method::POST, "/api/session", Some(body)).await }
        };
        let (mut checked, mut held) = (0, 0);
        for i in 0..50 {
            match Api::check_code(attempt(&stranger, format!("guess-{i}")).await?) {
                (401, code) if code == "bad_credentials" => checked += 1,
                (429, code) if code == "too_many_attempts" => held += 1,
                other => bail!("guess {i}: {other:?}"),
            }
        }
        ensure!((checked, held) == (5, 45), "{checked} guesses checked, {held} held");
        refused(
            "the stranger's right password",
            attempt(&stranger, seed::PUPIL_PASSWORD.into()).await?,
            429,
            "too_many_attempts",
        )?;
        let second = Api::from_address(base, Some(elsewhere));
        refused(
            "a second stranger's guess",
            attempt(&second, "guess".into()).await?,
            401,
            "bad_credentials",
        )?;
        refused(
            "then the second stranger",
            attempt(&second, seed::PUPIL_PASSWORD.into()).await?,
            429,
            "too_many_attempts",
        )?;
        Api::from_address(base, Some(home))
            .sign_in(&owner, seed::PUPIL_PASSWORD)
            .await?;
        laptop.sign_in(&owner, seed::PUPIL_PASSWORD).await?;
        let pupil = Participant::join_with(&s.server, laptop, &owner, &s.lesson.id).await?;
        let sub = pupil
            .wait_stream_from(0, &s.lesson.teacher.id, "camera", SIGNAL_TIMEOUT)
            .await?;
        sub.wait_media(15, 5, Duration::from_secs(12)).await?;
        s.control_keeps_receiving().await
    });
}

/// A class signs in together from one school address: 300 sign-ins with the right passwords
/// sent at once (six pupils, fifty times each) all get in. They queue for the server's few
/// hashing permits, so the server never runs more Argon2 hashes at once than it has permits.
/// (A server of its own: the queue of 300 would hold up the shared server's other cases.)
#[test]
fn a_class_signing_in_at_once_from_one_address_all_get_in() {
    own_case_within(Duration::from_secs(180), async {
        let server = Server::start().await?;
        let school = loopback();
        let pupils = [seed::ADA, seed::BEN, seed::CARA, seed::DEV, seed::OWEN, seed::ZOE];
        let started = std::time::Instant::now();
        let tries = (0..300).map(|i| {
            let api = Api::from_address(&server.http_base, Some(school)).with_timeout(Duration::from_secs(150));
            let body = json!({"email": pupils[i % pupils.len()], "password": seed::PUPIL_PASSWORD});
            async move {
                api.request(reqwest::Method::POST, "/api/session", Some(body))
                    .await
                    .map(Api::check_code)
            }
        });
        let answers = futures_util::future::join_all(tries).await;
        let refused: Vec<_> = answers.into_iter().filter(|a| !matches!(a, Ok((200, _)))).collect();
        ensure!(
            refused.is_empty(),
            "{} of 300 refused: {:?}",
            refused.len(),
            refused.iter().take(5).collect::<Vec<_>>()
        );
        eprintln!("300 sign-ins from one address in {:?}", started.elapsed());
        // The class then joins as usual.
        let (lesson, _camera) = live_7a_with_camera(&server).await?;
        pupil_receives_teacher_camera(&server, &lesson, seed::ADA).await?;
        server.finish();
        Ok(())
    });
}

/// A signed-in client's user id.
async fn user_id(api: &Api) -> Result<String> {
    let (_, me) = api.request(reqwest::Method::GET, "/api/me", None).await?;
    me["user"]["id"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| anyhow::anyhow!("no user id: {me}"))
}

#[test]
fn join_naming_another_lesson_is_not_joined() {
    shared_case(|s| async move {
        // A ticket names its lesson; a join that tries to name another one is not a join.
        let api = s.signed_in(&s.fresh_pupil().await?).await?;
        let ticket = api.must_ticket(&s.lesson.id).await?;
        let conn = Conn::connect(&s.server.ws_url("/ws"), "lesson-hopper").await?;
        conn.send(json!({"type": "join", "protocol": 1, "ticket": ticket.ticket, "lesson_id": s.history.id}))
            .await?;
        conn.expect_error(0, "not_joined", SIGNAL_TIMEOUT).await?;
        ensure!(
            conn.wait_closed(SIGNAL_TIMEOUT).await?.code == Some(1008),
            "want close 1008"
        );
        no_media(&conn)?;
        s.control_keeps_receiving().await
    });
}

#[test]
fn other_class_ticket_joins_only_its_own_lesson() {
    shared_case(|s| async move {
        // Zoe (8b) holds a good ticket for 8b: it seats her in 8b, never in the 7a lesson.
        let zoe = Participant::join(&s.server, seed::ZOE, &s.history.id).await?;
        let lesson = zoe.joined["lesson"]["id"].as_str().unwrap_or_default();
        ensure!(lesson == s.history.id, "zoe's ticket seated her in {lesson}");
        tokio::time::sleep(Duration::from_millis(1500)).await;
        no_media(&zoe.conn)?;
        let t = &s.lesson.teacher.id;
        ensure!(
            zoe.conn.messages().iter().all(|m| !m.to_string().contains(t.as_str())),
            "zoe heard of the 7a teacher"
        );
        s.control_keeps_receiving().await
    });
}

#[test]
fn unknown_lesson_ticket_is_not_found() {
    shared_case(|s| async move {
        let api = s.signed_in(seed::ADA).await?;
        ticket_refused(&api, "les_doesnotexist000", 404, "not_found").await?;
        ticket_refused(&api, "..%2F..%2Fetc%2Fpasswd", 404, "not_found").await?;
        s.control_keeps_receiving().await
    });
}

#[test]
fn other_school_teacher_ticket_is_wrong_school() {
    shared_case(|s| async move {
        let api = s.signed_in(seed::OTHER_TEACHER).await?;
        ticket_refused(&api, &s.lesson.id, 403, "wrong_school").await?;
        s.control_keeps_receiving().await
    });
}

#[test]
fn other_school_pupil_ticket_is_wrong_school() {
    shared_case(|s| async move {
        let api = s.signed_in(YAN).await?;
        ticket_refused(&api, &s.lesson.id, 403, "wrong_school").await?;
        let got = api
            .request(reqwest::Method::GET, &format!("/api/lessons/{}", s.lesson.id), None)
            .await?;
        refused("yan reads the lesson", got, 403, "wrong_school")?;
        s.control_keeps_receiving().await
    });
}

#[test]
fn pupil_without_consent_ticket_is_consent_missing() {
    shared_case(|s| async move {
        ticket_refused(&s.signed_in(EVE).await?, &s.lesson.id, 403, "consent_missing").await?;
        s.control_keeps_receiving().await
    });
}

#[test]
fn untrusted_domain_ticket_is_domain_not_trusted() {
    shared_case(|s| async move {
        ticket_refused(&s.signed_in(FINN).await?, &s.lesson.id, 403, "domain_not_trusted").await?;
        s.control_keeps_receiving().await
    });
}

#[test]
fn off_roster_ticket_is_not_on_roster() {
    shared_case(|s| async move {
        let owen = s.signed_in(seed::OWEN).await?;
        ticket_refused(&owen, &s.lesson.id, 403, "not_on_roster").await?;
        let before = owens_refusals(s).await?;
        let got = owen
            .request(reqwest::Method::GET, &format!("/api/lessons/{}", s.lesson.id), None)
            .await?;
        refused("owen reads the lesson", got, 403, "not_on_roster")?;
        // Opening the lesson's link is in the log too, counted on the same one event.
        let after = owens_refusals(s).await?;
        ensure!(
            before.len() == 1 && after.len() == 1 && after[0].1 > before[0].1,
            "Owen's refusals in the log: {before:?} then {after:?}"
        );
        s.control_keeps_receiving().await
    });
}

/// Owen's `refused` events in the shared lesson's log, as the teacher reads it: (reason, count).
async fn owens_refusals(s: &Shared) -> Result<Vec<(String, i64)>> {
    let teacher = s.signed_in(seed::TEACHER).await?;
    let (status, log) = teacher
        .request(reqwest::Method::GET, &format!("/api/log/lessons/{}", s.lesson.id), None)
        .await?;
    ensure!(status == 200, "the teacher reads the log: {status} {log}");
    let events = log["events"].as_array().cloned().unwrap_or_default();
    Ok(events
        .iter()
        .filter(|e| e["kind"] == "refused" && e["subject_name"] == "Owen")
        .map(|e| {
            (
                e["detail"].as_str().unwrap_or("").to_owned(),
                e["count"].as_i64().unwrap_or(0),
            )
        })
        .collect())
}

#[test]
fn other_class_pupil_ticket_is_not_on_roster() {
    shared_case(|s| async move {
        ticket_refused(&s.signed_in(seed::ZOE).await?, &s.lesson.id, 403, "not_on_roster").await?;
        s.control_keeps_receiving().await
    });
}

#[test]
fn pupil_without_consent_tries_every_route() {
    shared_case(|s| async move {
        every_route(s, EVE, "consent_missing").await?;
        s.control_keeps_receiving().await
    });
}

#[test]
fn untrusted_domain_pupil_tries_every_route() {
    shared_case(|s| async move {
        every_route(s, FINN, "domain_not_trusted").await?;
        s.control_keeps_receiving().await
    });
}

#[test]
fn off_roster_pupil_tries_every_route() {
    shared_case(|s| async move {
        every_route(s, seed::OWEN, "not_on_roster").await?;
        s.control_keeps_receiving().await
    });
}

/// A refused pupil skips the web client and speaks signalling directly: with no ticket of
/// their own every message they can send, as the first one, is `not_joined` (close 1008),
/// and a join with a guessed ticket is `ticket_invalid`. Nothing carries media.
async fn every_message(s: &Shared, email: &str, ticket_code: &str) -> Result<()> {
    let api = s.signed_in(email).await?;
    ticket_refused(&api, &s.lesson.id, 403, ticket_code).await?;
    for msg in every_client_message(&s.lesson.teacher.id) {
        let conn = Conn::connect(&s.server.ws_url("/ws"), email).await?;
        conn.send(msg.clone()).await?;
        conn.expect_error(0, "not_joined", SIGNAL_TIMEOUT)
            .await
            .map_err(|e| e.context(format!("first message {msg}")))?;
        let closed = conn.wait_closed(SIGNAL_TIMEOUT).await?;
        ensure!(closed.code == Some(1008), "{msg}: want close 1008, got {closed:?}");
        no_media(&conn)?;
    }
    // Nor can they guess one.
    let guess = format!("{:032x}", rand::random::<u128>());
    join_refused_as(&api, &s.server, email, &guess, "ticket_invalid").await?;
    Ok(())
}

#[test]
fn pupil_without_consent_tries_every_signalling_message() {
    shared_case(|s| async move {
        every_message(s, EVE, "consent_missing").await?;
        s.control_keeps_receiving().await
    });
}

#[test]
fn untrusted_domain_pupil_tries_every_signalling_message() {
    shared_case(|s| async move {
        every_message(s, FINN, "domain_not_trusted").await?;
        s.control_keeps_receiving().await
    });
}

#[test]
fn off_roster_pupil_tries_every_signalling_message() {
    shared_case(|s| async move {
        every_message(s, seed::OWEN, "not_on_roster").await?;
        s.control_keeps_receiving().await
    });
}

#[test]
fn ticket_without_session_is_not_signed_in() {
    shared_case(|s| async move {
        let anon = Api::new(&s.server);
        ticket_refused(&anon, &s.lesson.id, 401, "not_signed_in").await?;
        s.control_keeps_receiving().await
    });
}

/// `GET /api/me` and the ticket route with a hand-made session cookie.
async fn with_cookie(s: &Shared, cookie: &str) -> Result<Vec<(u16, Value)>> {
    let client = reqwest::Client::builder().no_proxy().build()?;
    let mut out = Vec::new();
    for (method, path) in [
        (reqwest::Method::GET, "/api/me".to_string()),
        (reqwest::Method::POST, format!("/api/lessons/{}/ticket", s.lesson.id)),
    ] {
        let resp = client
            .request(method, format!("{}{path}", s.server.http_base))
            .header("cookie", cookie)
            .send()
            .await?;
        let status = resp.status().as_u16();
        out.push((status, resp.json::<Value>().await.unwrap_or(Value::Null)));
    }
    Ok(out)
}

#[test]
fn forged_session_cookie_is_not_signed_in() {
    shared_case(|s| async move {
        let forged = format!(
            "livegate_session={:032x}{:032x}",
            rand::random::<u128>(),
            rand::random::<u128>()
        );
        for cookie in [forged.as_str(), "livegate_session=../../admin", "livegate_session="] {
            for got in with_cookie(s, cookie).await? {
                refused(cookie, got, 401, "not_signed_in")?;
            }
        }
        s.control_keeps_receiving().await
    });
}

#[test]
fn signed_out_session_cookie_is_not_signed_in() {
    shared_case(|s| async move {
        let client = reqwest::Client::builder().no_proxy().build()?;
        let resp = client
            .post(format!("{}/api/session", s.server.http_base))
            .json(&json!({"email": seed::ADA, "password": seed::PUPIL_PASSWORD}))
            .send()
            .await?;
        let set = resp
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let cookie = set.split(';').next().unwrap_or_default().to_string();
        ensure!(cookie.starts_with("livegate_session="), "no session cookie: {set:?}");
        let out = client
            .delete(format!("{}/api/session", s.server.http_base))
            .header("cookie", &cookie)
            .send()
            .await?;
        ensure!(out.status().as_u16() == 204, "sign-out: {}", out.status());
        for got in with_cookie(s, &cookie).await? {
            refused("a signed-out cookie", got, 401, "not_signed_in")?;
        }
        s.control_keeps_receiving().await
    });
}

#[test]
fn wrong_password_is_bad_credentials() {
    shared_case(|s| async move {
        // An address that is no account: the per-email lock of a real pupil stays untouched.
        let api = Api::new(&s.server);
        let body = json!({"email": "nobody-here@pupils.demo.sch.uk", "password": "guess-guess-guess"});
        let got = api.request(reqwest::Method::POST, "/api/session", Some(body)).await?;
        refused("a wrong password", got, 401, "bad_credentials")?;
        ticket_refused(&api, &s.lesson.id, 401, "not_signed_in").await?;
        s.control_keeps_receiving().await
    });
}

#[test]
fn lobby_visitor_gets_no_media_and_cannot_act() {
    shared_case(|s| async move {
        // Staff of a partner school wait in the lobby: no offer, no media, and signalling
        // them past the lobby is refused until the teacher admits them (never, here).
        let api = s.signed_in(VISITOR).await?;
        let ticket = api.must_ticket(&s.lesson.id).await?;
        let conn = Conn::connect_with(&s.server.ws_url(&ticket.ws_path), "visitor", &api.ws_headers()).await?;
        conn.send(json!({"type": "join", "protocol": 1, "ticket": ticket.ticket}))
            .await?;
        let (_, reply) = conn
            .wait_for(0, SIGNAL_TIMEOUT, "`lobby`", |m| {
                matches!(msg_type(m), "lobby" | "joined" | "error")
            })
            .await?;
        ensure!(msg_type(&reply) == "lobby", "visitor: want `lobby`, got {reply}");
        for msg in every_client_message(&s.lesson.teacher.id) {
            if msg_type(&msg) == "ping" {
                continue;
            }
            let mark = conn.mark();
            conn.send(msg.clone()).await?;
            let err = conn
                .wait_error(mark, SIGNAL_TIMEOUT)
                .await
                .map_err(|e| e.context(format!("lobby sent {msg}")))?;
            ensure!(code(&err) == "in_lobby", "lobby sent {msg}: want in_lobby, got {err}");
        }
        tokio::time::sleep(Duration::from_millis(1000)).await;
        no_media(&conn)?;
        if conn.closed().is_some() {
            bail!("the lobby socket closed: {:?}", conn.closed());
        }
        s.control_keeps_receiving().await
    });
}

#[test]
fn superuser_reaches_into_another_school_gets_not_found() {
    shared_case(|s| async move {
        // Demo Academy's superuser aims at Other School's pupil and class by their real ids:
        // each is `not_found`, exactly as an id that does not exist, and nothing changes.
        let yan = s.signed_in(YAN).await?;
        let (_, me) = yan.request(reqwest::Method::GET, "/api/me", None).await?;
        let yan_id = me["user"]["id"].as_str().unwrap_or_default().to_string();
        ensure!(!yan_id.is_empty(), "no id for yan: {me}");
        use reqwest::Method;
        let consent = json!({"pupil_signed": true, "parent_name": "P", "signed_on": now_ms(), "method": "paper", "conduct_version": 1});
        let attempts = [
            (
                Method::POST,
                "/api/admin/classes/7a/members".to_string(),
                json!({"user_id": yan_id, "as": "pupil"}),
            ),
            (Method::GET, "/api/admin/classes/9c".to_string(), Value::Null),
            (
                Method::DELETE,
                format!("/api/admin/classes/9c/members/{yan_id}"),
                Value::Null,
            ),
            (Method::POST, format!("/api/admin/pupils/{yan_id}/consents"), consent),
            (
                Method::PATCH,
                format!("/api/admin/users/{yan_id}"),
                json!({"disabled": true}),
            ),
            (Method::POST, format!("/api/admin/users/{yan_id}/reset"), Value::Null),
            (
                Method::PUT,
                format!("/api/admin/pupils/{yan_id}/privacy"),
                json!({"camera_always_off": true, "alias": null, "hidden_from_pupils": false}),
            ),
        ];
        for (method, path, body) in attempts {
            let body = (!body.is_null()).then_some(body);
            let got = s.admin.request(method.clone(), &path, body).await?;
            refused(&format!("demo superuser {method} {path}"), got, 404, "not_found")?;
        }
        // Another school's teacher cannot read 7a's readiness either.
        let hale = s.signed_in(seed::OTHER_TEACHER).await?;
        refused(
            "readiness of 7a",
            hale.request(Method::GET, "/api/classes/7a/readiness", None).await?,
            404,
            "not_found",
        )?;
        // Yan is still Other School's, enabled, and still refused here.
        ensure!(
            yan.request(Method::GET, "/api/me", None).await?.0 == 200,
            "yan's account changed"
        );
        ticket_refused(&yan, &s.lesson.id, 403, "wrong_school").await?;
        s.control_keeps_receiving().await
    });
}

/// The second step of a leader's sign-in: a forged pending token, a replayed code and a replayed
/// pending token each sign nobody in (and set no session cookie); the honest second step works.
#[test]
fn replayed_or_forged_second_factor_signs_nobody_in() {
    shared_case(|s| async move {
        use livegate_tests::recording::{LEADER, LEADER_PASSWORD};
        let owner = Api::new(&s.server);
        livegate_tests::mfa::sign_in_two_factor(&owner, LEADER, LEADER_PASSWORD).await?;
        let step = |api: Api, body: Value| async move {
            api.request(reqwest::Method::POST, "/api/session/second-factor", Some(body))
                .await
        };
        let password = json!({"email": LEADER, "password": LEADER_PASSWORD});
        let thief = Api::new(&s.server);
        let forged = json!({"pending": "f".repeat(64), "code": "123456"});
        refused(
            "a forged pending token",
            step(thief.clone(), forged).await?,
            401,
            "pending_sign_in_invalid",
        )?;
        let (status, body) = thief
            .request(reqwest::Method::POST, "/api/session", Some(password.clone()))
            .await?;
        ensure!(status == 202, "the password alone: {status} {body}");
        ensure!(
            thief.cookie().is_none_or(|c| !c.contains("livegate_session")),
            "a session before the code"
        );
        let pending = body["pending"].clone();
        let code = livegate_tests::mfa::next_code(thief.origin(), LEADER).await?;
        let (status, _) = step(thief.clone(), json!({"pending": pending, "code": code})).await?;
        ensure!(status == 200, "the honest second step: {status}");
        let again = step(thief.clone(), json!({"pending": pending, "code": code})).await?;
        refused("the pending token replayed", again, 401, "pending_sign_in_invalid")?;
        let replayer = Api::new(&s.server);
        let (_, body) = replayer
            .request(reqwest::Method::POST, "/api/session", Some(password))
            .await?;
        let replay = step(replayer.clone(), json!({"pending": body["pending"], "code": code})).await?;
        refused("the code replayed", replay, 401, "code_reused")?;
        ensure!(
            replayer.cookie().is_none_or(|c| !c.contains("livegate_session")),
            "a session from a replay"
        );
        s.control_keeps_receiving().await
    });
}
