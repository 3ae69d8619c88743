//! The lobby (policy 40.4.3) and the teacher's presence, from both sides: staff from a trusted
//! domain who do not teach the class wait and receive nothing until the teacher admits them
//! (then they receive the lesson and publish only with a grant); a refused one is told and
//! cannot come back; nobody off the trusted domains reaches the lobby; pupils cannot join
//! before the teacher; and a lesson whose teacher stays away for the configured time ends.

use anyhow::{anyhow, bail, ensure, Result};
use livegate_tests::participant::{
    live_7a_with_camera, pupil_receives_teacher_camera, start_lesson, Lesson, Participant, SIGNAL_TIMEOUT,
};
use livegate_tests::signal::msg_type;
use livegate_tests::{run_test, seed, Api, Conn, Server};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

use crate::enforcement::{Admin, VISITOR};

/// A leader of Demo Academy: staff on a trusted domain who does not teach 7A.
const LEADER: &str = "dsl@demo.sch.uk";
const LEADER_PASSWORD: &str = "demo-leader";

/// Someone in the lobby.
pub struct Waiter {
    pub api: Api,
    pub conn: Conn,
    pub id: String,
    pub email: String,
}

/// Signs in, gets a ticket and joins; the reply must be `lobby`.
pub async fn knock(server: &Server, email: &str, password: &str, lesson_id: &str) -> Result<Waiter> {
    let api = Api::new(server);
    api.sign_in(email, password).await?;
    let ticket = api.must_ticket(lesson_id).await?;
    let conn = Conn::connect_with(&server.ws_url(&ticket.ws_path), email, &api.ws_headers()).await?;
    conn.send(json!({"type": "join", "protocol": 1, "ticket": ticket.ticket}))
        .await?;
    let (_, reply) = conn
        .wait_for(0, SIGNAL_TIMEOUT, "`lobby`, `joined` or `error` after join", |m| {
            matches!(msg_type(m), "lobby" | "joined" | "error")
        })
        .await?;
    ensure!(msg_type(&reply) == "lobby", "{email}: want `lobby`, got {reply}");
    ensure!(
        reply["lesson"]["id"] == lesson_id,
        "{email}: lobby for the wrong lesson: {reply}"
    );
    conn.start_heartbeat(Duration::from_secs(5));
    let id = reply["participant_id"]
        .as_str()
        .ok_or_else(|| anyhow!("lobby without participant_id: {reply}"))?
        .to_owned();
    Ok(Waiter {
        api,
        conn,
        id,
        email: email.to_owned(),
    })
}

/// The teacher's `lobby_updated` listing exactly these participant ids (from `from` on).
async fn teacher_sees_lobby(teacher: &Participant, from: usize, ids: &[&str]) -> Result<Value> {
    let want: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
    let (_, m) = teacher
        .conn
        .wait_for(
            from,
            SIGNAL_TIMEOUT,
            &format!("lobby_updated with {want:?}"),
            move |m| {
                msg_type(m) == "lobby_updated"
                    && m["waiting"].as_array().is_some_and(|w| {
                        w.iter()
                            .filter_map(|e| e["participant_id"].as_str().map(str::to_owned))
                            .collect::<Vec<_>>()
                            == want
                    })
            },
        )
        .await?;
    Ok(m)
}

/// `email` knocks and the teacher admits them; returns them as a guest participant.
pub async fn admitted_guest(server: &Server, lesson: &Lesson, email: &str) -> Result<Participant> {
    let waiter = knock(server, email, seed::password_for(email), &lesson.id).await?;
    teacher_sees_lobby(&lesson.teacher, 0, &[&waiter.id]).await?;
    let mark = waiter.conn.mark();
    lesson
        .teacher
        .send("admit", json!({"participant_id": waiter.id}))
        .await?;
    let joined = waiter.conn.wait_type(mark, "joined", SIGNAL_TIMEOUT).await?;
    ensure!(
        joined["role"] == "guest" && joined["participant_id"] == waiter.id.as_str(),
        "admitted: {joined}"
    );
    Ok(Participant {
        email: waiter.email,
        api: waiter.api,
        conn: waiter.conn,
        id: waiter.id,
        role: "guest".into(),
        joined,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn visitor_waits_unseen_then_is_admitted_as_a_guest() {
    run_test(async {
        let server = Server::start().await?;
        let (lesson, _camera) = live_7a_with_camera(&server).await?;
        let teacher = &lesson.teacher;
        let (ada, _) = pupil_receives_teacher_camera(&server, &lesson, seed::ADA).await?;
        let t_mark = teacher.conn.mark();
        let waiter = knock(&server, VISITOR, seed::TEACHER_PASSWORD, &lesson.id).await?;
        let update = teacher_sees_lobby(teacher, t_mark, &[&waiter.id]).await?;
        let entry = &update["waiting"][0];
        ensure!(
            entry["display_name"] == "Dr Chen (partner school)"
                && entry["domain"] == "partner.sch.uk"
                && entry["role"] == "external",
            "lobby entry: {entry}"
        );

        // Waiting: no media, no participant list, and no request is served but `ping`.
        let w_mark = waiter.conn.mark();
        waiter
            .conn
            .send(json!({"type": "publish", "stream_id": "cam", "kind": "camera", "sdp": "v=0"}))
            .await?;
        waiter.conn.expect_error(w_mark, "in_lobby", SIGNAL_TIMEOUT).await?;
        waiter.conn.ping_pong(SIGNAL_TIMEOUT).await?;
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let seen = waiter.conn.messages();
        ensure!(
            seen.iter().all(|m| !matches!(
                msg_type(m),
                "offer" | "joined" | "participant_joined" | "participant_updated"
            )),
            "the lobby leaked: {seen:?}"
        );
        ensure!(
            waiter.conn.subscriptions().is_empty(),
            "a waiting visitor has a media subscription"
        );
        // Pupils are not told about the lobby.
        ensure!(
            ada.conn.messages().iter().all(|m| !m.to_string().contains(&waiter.id)),
            "a pupil heard about the lobby"
        );
        // Only a teacher admits.
        let a_mark = ada.conn.mark();
        ada.send("admit", json!({"participant_id": waiter.id})).await?;
        ada.conn.expect_error(a_mark, "forbidden_role", SIGNAL_TIMEOUT).await?;

        let guest = admitted_guest_from(waiter, teacher).await?;
        let sub = guest.wait_stream_from(0, &teacher.id, "camera", SIGNAL_TIMEOUT).await?;
        sub.wait_media(30, 10, Duration::from_secs(12)).await?;
        let gid = guest.id.clone();
        ada.conn
            .wait_for(0, SIGNAL_TIMEOUT, "participant_joined for the guest", move |m| {
                msg_type(m) == "participant_joined"
                    && m["participant"]["id"] == gid.as_str()
                    && m["participant"]["role"] == "guest"
            })
            .await?;
        teacher_sees_lobby(teacher, 0, &[]).await?;
        // A guest publishes only with a grant and cannot run the lesson.
        match guest.try_publish("guest-mic", "microphone", false, true).await? {
            Ok(_) => bail!("a guest published without a grant"),
            Err(e) => ensure!(e["code"] == "not_granted", "guest publish: {e}"),
        }
        let g_mark = guest.conn.mark();
        guest
            .send("grant", json!({"participant_id": ada.id, "media": "microphone"}))
            .await?;
        guest
            .conn
            .expect_error(g_mark, "forbidden_role", SIGNAL_TIMEOUT)
            .await?;
        teacher
            .send("grant", json!({"participant_id": guest.id, "media": "microphone"}))
            .await?;
        guest
            .conn
            .wait_for(g_mark, SIGNAL_TIMEOUT, "grants", |m| {
                msg_type(m) == "grants" && m["grants"] == json!(["microphone"])
            })
            .await?;
        let t_mark = teacher.conn.mark();
        let _mic = guest.publish("guest-mic-2", "microphone", false, true).await?;
        teacher
            .wait_stream_from(t_mark, &guest.id, "microphone", SIGNAL_TIMEOUT)
            .await?
            .wait_media(0, 20, Duration::from_secs(10))
            .await?;
        server.finish();
        Ok(())
    })
    .await;
}

/// The teacher admits a waiter who is already known.
async fn admitted_guest_from(waiter: Waiter, teacher: &Participant) -> Result<Participant> {
    let mark = waiter.conn.mark();
    teacher.send("admit", json!({"participant_id": waiter.id})).await?;
    let joined = waiter.conn.wait_type(mark, "joined", SIGNAL_TIMEOUT).await?;
    ensure!(joined["role"] == "guest", "admitted: {joined}");
    Ok(Participant {
        email: waiter.email,
        api: waiter.api,
        conn: waiter.conn,
        id: waiter.id,
        role: "guest".into(),
        joined,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_staff_are_told_and_cannot_knock_again() {
    run_test(async {
        let server = Server::start().await?;
        let (lesson, _camera) = live_7a_with_camera(&server).await?;
        let teacher = &lesson.teacher;
        let waiter = knock(&server, LEADER, LEADER_PASSWORD, &lesson.id).await?;
        teacher_sees_lobby(teacher, 0, &[&waiter.id]).await?;
        let t_mark = teacher.conn.mark();
        teacher.send("refuse", json!({"participant_id": waiter.id})).await?;
        let removed = waiter.conn.wait_type(0, "removed", SIGNAL_TIMEOUT).await?;
        ensure!(removed["reason"] == "refused_by_teacher", "{removed}");
        waiter.conn.wait_closed(SIGNAL_TIMEOUT).await?;
        ensure!(
            waiter.conn.subscriptions().is_empty(),
            "a refused visitor received media"
        );
        teacher_sees_lobby(teacher, t_mark, &[]).await?;
        // Knocking again: the socket is refused with the same reason.
        let ticket = waiter.api.must_ticket(&lesson.id).await?;
        let (_c, reply) = livegate_tests::participant::open_and_join_as(
            &waiter.api,
            &server,
            "leader again",
            &ticket.ws_path,
            &ticket.ticket,
            1,
        )
        .await?;
        ensure!(
            msg_type(&reply) == "error" && reply["code"] == "refused_by_teacher",
            "knocking again: {reply}"
        );
        // Unknown ids are refused plainly.
        let t_mark = teacher.conn.mark();
        teacher.send("admit", json!({"participant_id": waiter.id})).await?;
        teacher
            .conn
            .expect_error(t_mark, "unknown_participant", SIGNAL_TIMEOUT)
            .await?;
        server.finish();
        Ok(())
    })
    .await;
}

/// Staff whose domain the school does not trust never reach the lobby (and never see the
/// lesson); staff of another school neither.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nobody_off_the_trusted_domains_reaches_the_lobby() {
    run_test(async {
        let server = Server::start().await?;
        let (lesson, _camera) = live_7a_with_camera(&server).await?;
        let visitor = Api::new(&server);
        visitor.sign_in(VISITOR, seed::TEACHER_PASSWORD).await?;
        // Positive control: while partner.sch.uk is trusted the visitor may knock.
        visitor.must_ticket(&lesson.id).await?;
        let admin = Admin::sign_in(&server).await?;
        admin.apply(&admin.domain_removal("partner.sch.uk")).await?;
        match visitor.ticket(&lesson.id).await? {
            Ok(_) => bail!("a visitor off the trusted domains got a ticket"),
            Err(e) => ensure!(e.code == "domain_not_trusted" && e.status == 403, "{e}"),
        }
        let (status, body) = visitor
            .request(reqwest::Method::GET, &format!("/api/lessons/{}", lesson.id), None)
            .await?;
        ensure!(
            status == 403 && body["error"]["code"] == "not_on_roster",
            "an untrusted visitor read the lesson: {status} {body}"
        );
        // Another school's teacher is refused before any lobby too.
        let other = Api::new(&server);
        other.sign_in(seed::OTHER_TEACHER, seed::TEACHER_PASSWORD).await?;
        match other.ticket(&lesson.id).await? {
            Ok(_) => bail!("another school's teacher got a ticket"),
            Err(e) => ensure!(e.code == "wrong_school", "{e}"),
        }
        ensure!(
            lesson
                .teacher
                .conn
                .messages()
                .iter()
                .all(|m| msg_type(m) != "lobby_updated"),
            "the teacher saw a lobby entry: {:?}",
            lesson.teacher.conn.messages()
        );
        server.finish();
        Ok(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pupils_wait_for_the_teacher_to_start_and_join() {
    run_test(async {
        let server = Server::start().await?;
        let ada = Api::new(&server);
        ada.sign_in(seed::ADA, seed::PUPIL_PASSWORD).await?;
        let teacher = Api::new(&server);
        teacher.sign_in(seed::TEACHER, seed::TEACHER_PASSWORD).await?;
        let (_, summary) = teacher.start_lesson(seed::CLASS_7A).await?;
        let lesson_id = summary.id.to_string();
        // Started but the teacher has not joined: refused.
        match ada.ticket(&lesson_id).await? {
            Ok(_) => bail!("a pupil got a ticket before the teacher joined"),
            Err(e) => ensure!(e.code == "teacher_absent", "{e}"),
        }
        let _t = Participant::join_with(&server, teacher, seed::TEACHER, &lesson_id).await?;
        ada.must_ticket(&lesson_id).await?;
        server.finish();
        Ok(())
    })
    .await;
}

/// With `--teacher-absent-timeout-secs 2`: a teacher who reconnects within the time keeps the
/// lesson; one who stays away ends it for everyone, the lobby included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lesson_without_its_teacher_ends_after_the_timeout() {
    run_test(async {
        let server = Server::start_with_args(&["--teacher-absent-timeout-secs", "2"]).await?;
        let lesson = start_lesson(&server, seed::TEACHER, seed::CLASS_7A).await?;
        let ada = Participant::join(&server, seed::ADA, &lesson.id).await?;
        let waiter = knock(&server, VISITOR, seed::TEACHER_PASSWORD, &lesson.id).await?;
        let Lesson { id, teacher } = lesson;
        // Away for one second, then back: the lesson goes on.
        let api = Api::new(&server);
        drop(teacher);
        tokio::time::sleep(Duration::from_secs(1)).await;
        api.sign_in(seed::TEACHER, seed::TEACHER_PASSWORD).await?;
        let teacher = Participant::join_with(&server, api, seed::TEACHER, &id).await?;
        tokio::time::sleep(Duration::from_millis(1800)).await;
        ensure!(
            ada.conn.closed().is_none(),
            "the lesson ended although the teacher came back in time"
        );
        // Away for good.
        drop(teacher);
        let gone = Instant::now();
        let ended = ada.conn.wait_type(0, "lesson_ended", Duration::from_secs(5)).await?;
        let after = gone.elapsed();
        eprintln!("[lobby] lesson ended {after:?} after the teacher left (timeout 2 s): {ended}");
        ensure!(
            after >= Duration::from_millis(1500) && after < Duration::from_secs(4),
            "ended {after:?} after the teacher left"
        );
        waiter.conn.wait_type(0, "lesson_ended", SIGNAL_TIMEOUT).await?;
        ada.conn.wait_closed(SIGNAL_TIMEOUT).await?;
        let (status, body) = ada
            .api
            .request(reqwest::Method::GET, &format!("/api/lessons/{id}"), None)
            .await?;
        ensure!(status == 200 && body["lesson"]["state"] == "ended", "{status} {body}");
        server.finish();
        Ok(())
    })
    .await;
}
