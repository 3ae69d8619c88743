//! Privilege escalation: an admitted pupil (a fresh account on 7a's roster, so an insider
//! with every right a pupil has) tries to act as the teacher, a superuser or a leader, over
//! signalling and HTTP. Nothing changes, and no media flows from them to anyone.

use crate::fixture::*;
use anyhow::{ensure, Result};
use livegate_tests::participant::SIGNAL_TIMEOUT;
use livegate_tests::signal::msg_type;
use livegate_tests::{seed, Api, Participant};
use serde_json::{json, Value};
use std::time::Duration;

/// The teacher-only message `msg` from a joined pupil is `forbidden_role`; afterwards the pupil
/// has no grants, the teacher and the control pupil were not touched, and no stream of the
/// pupil's reached anyone.
async fn teacher_only(s: &Shared, msg: impl Fn(&Participant) -> Value) -> Result<()> {
    let pupil = s.join_fresh().await?;
    let mark = pupil.conn.mark();
    expect_error(&pupil, msg(&pupil), "forbidden_role").await?;
    pupil.conn.ping_pong(SIGNAL_TIMEOUT).await?;
    let after = pupil.conn.messages_since(mark);
    ensure!(
        after.iter().all(|m| msg_type(m) != "grants"),
        "the pupil's grants changed: {after:?}"
    );
    s.nothing_from(&pupil.id)?;
    s.control_keeps_receiving().await
}

#[test]
fn pupil_grants_themself_the_microphone() {
    shared_case(|s| async move {
        teacher_only(
            s,
            |p| json!({"type": "grant", "participant_id": p.id, "media": "microphone"}),
        )
        .await
    });
}

#[test]
fn pupil_revokes_the_teachers_camera() {
    shared_case(|s| async move {
        teacher_only(
            s,
            |_| json!({"type": "revoke", "participant_id": s.lesson.teacher.id, "media": "camera"}),
        )
        .await
    });
}

#[test]
fn pupil_mutes_the_teacher() {
    shared_case(|s| async move {
        teacher_only(s, |_| json!({"type": "mute", "participant_id": s.lesson.teacher.id})).await
    });
}

#[test]
fn pupil_removes_another_pupil() {
    shared_case(
        |s| async move { teacher_only(s, |_| json!({"type": "remove", "participant_id": s.control.id})).await },
    );
}

#[test]
fn pupil_ends_the_lesson() {
    shared_case(|s| async move { teacher_only(s, |_| json!({"type": "end_lesson"})).await });
}

#[test]
fn pupil_admits_from_the_lobby() {
    shared_case(|s| async move { teacher_only(s, |p| json!({"type": "admit", "participant_id": p.id})).await });
}

#[test]
fn pupil_refuses_from_the_lobby() {
    shared_case(
        |s| async move { teacher_only(s, |_| json!({"type": "refuse", "participant_id": s.control.id})).await },
    );
}

#[test]
fn pupil_lowers_another_pupils_hand() {
    shared_case(
        |s| async move { teacher_only(s, |_| json!({"type": "lower_hand", "participant_id": s.control.id})).await },
    );
}

/// A pupil publishes `kind` without a grant: `not_granted`, and nobody is offered it.
async fn publish_without_grant(s: &Shared, kind: &str, video: bool, audio: bool) -> Result<()> {
    let pupil = s.join_fresh().await?;
    let refused = pupil.try_publish(&format!("sneak-{kind}"), kind, video, audio).await?;
    let err = match refused {
        Ok(_) => anyhow::bail!("publishing {kind} without a grant was accepted"),
        Err(e) => e,
    };
    ensure!(code(&err) == "not_granted", "want not_granted, got {err}");
    tokio::time::sleep(Duration::from_millis(1000)).await;
    s.nothing_from(&pupil.id)?;
    s.control_keeps_receiving().await
}

#[test]
fn pupil_publishes_camera_without_grant() {
    shared_case(|s| async move { publish_without_grant(s, "camera", true, true).await });
}

#[test]
fn pupil_publishes_screen_without_grant() {
    shared_case(|s| async move { publish_without_grant(s, "screen", true, false).await });
}

#[test]
fn pupil_publishes_microphone_without_grant() {
    shared_case(|s| async move { publish_without_grant(s, "microphone", false, true).await });
}

#[test]
fn microphone_grant_does_not_allow_camera() {
    shared_case(|s| async move {
        let pupil = s.join_fresh().await?;
        grant(s, &pupil, "microphone").await?;
        let err = match pupil.try_publish("cam-with-mic-grant", "camera", true, true).await? {
            Ok(_) => anyhow::bail!("a microphone grant published a camera"),
            Err(e) => e,
        };
        ensure!(code(&err) == "not_granted", "want not_granted, got {err}");
        s.nothing_from(&pupil.id)?;
        s.control_keeps_receiving().await
    });
}

#[test]
fn pupil_unpublishes_the_teachers_stream() {
    shared_case(|s| async move {
        let pupil = s.join_fresh().await?;
        let t_mark = s.lesson.teacher.conn.mark();
        expect_error(
            &pupil,
            json!({"type": "unpublish", "stream_id": "cam"}),
            "unknown_stream",
        )
        .await?;
        let ended: Vec<Value> = s
            .lesson
            .teacher
            .conn
            .messages_since(t_mark)
            .into_iter()
            .filter(|m| msg_type(m) == "stream_ended")
            .collect();
        ensure!(ended.is_empty(), "the teacher's stream ended: {ended:?}");
        s.nothing_from(&pupil.id)?;
        s.control_keeps_receiving().await
    });
}

/// The teacher grants `media` to `pupil`, who must be told.
pub async fn grant(s: &Shared, pupil: &Participant, media: &str) -> Result<()> {
    let mark = pupil.conn.mark();
    s.lesson
        .teacher
        .send("grant", json!({"participant_id": pupil.id, "media": media}))
        .await?;
    let media = media.to_string();
    pupil
        .conn
        .wait_for(mark, SIGNAL_TIMEOUT, "`grants`", move |m| {
            msg_type(m) == "grants"
                && m["grants"]
                    .as_array()
                    .is_some_and(|g| g.iter().any(|x| x.as_str() == Some(media.as_str())))
        })
        .await?;
    Ok(())
}

/// A pupil's HTTP calls to staff routes are `forbidden_role` and change nothing.
async fn staff_routes(s: &Shared, prefix: &str) -> Result<()> {
    let api = s.signed_in(&s.fresh_pupil().await?).await?;
    let mut tried = 0;
    for (method, path, access) in routes()?
        .into_iter()
        .filter(|(_, p, a)| p.starts_with(prefix) && *a == Access::Staff)
    {
        let url = concrete(&path, &s.lesson.id);
        let body =
            (method != reqwest::Method::GET).then(|| json!({"class_id": "7a", "reason": "curious pupil", "on": true}));
        let got = api.request(method.clone(), &url, body).await?;
        refused(
            &format!("pupil {method} {url} ({access:?})"),
            got,
            403,
            "forbidden_role",
        )?;
        tried += 1;
    }
    ensure!(tried > 0, "no staff routes under {prefix}");
    s.control_keeps_receiving().await
}

#[test]
fn pupil_calls_every_admin_route() {
    shared_case(|s| async move { staff_routes(s, "/api/admin/").await });
}

#[test]
fn pupil_calls_every_recording_route() {
    shared_case(|s| async move { staff_routes(s, "/api/recordings").await });
}

#[test]
fn pupil_starts_a_lesson_or_reads_readiness() {
    shared_case(|s| async move {
        staff_routes(s, "/api/lessons").await?;
        staff_routes(s, "/api/classes/").await
    });
}

#[test]
fn teacher_of_another_class_cannot_start_its_lesson() {
    shared_case(|s| async move {
        let api = s.signed_in(seed::TEACHER2).await?;
        let got = api
            .request(reqwest::Method::POST, "/api/lessons", Some(json!({"class_id": "7a"})))
            .await?;
        refused("teacher2 starts 7a", got, 403, "forbidden_role")?;
        let other = s.signed_in(seed::OTHER_TEACHER).await?;
        let got = other
            .request(reqwest::Method::POST, "/api/lessons", Some(json!({"class_id": "7a"})))
            .await?;
        refused("another school's teacher starts 7a", got, 404, "not_found")?;
        s.control_keeps_receiving().await
    });
}

#[test]
fn teacher_reads_attendance_of_someone_they_do_not_teach() {
    shared_case(|s| async move {
        // Mr Teacher2 teaches 8b only. Ada (7a), the control pupil and the superuser are not
        // his to read: `not_found`, as an unknown id, and no name in the answer. Zoe (8b) is.
        let id = |api: Api| async move {
            let (_, me) = api.request(reqwest::Method::GET, "/api/me", None).await?;
            me["user"]["id"]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| anyhow::anyhow!("no id: {me}"))
        };
        let teacher2 = s.signed_in(seed::TEACHER2).await?;
        for email in [seed::ADA, ADMIN, seed::ZOE] {
            let who = id(s.signed_in(email).await?).await?;
            let (status, body) = teacher2
                .request(reqwest::Method::GET, &format!("/api/log/pupils/{who}/attendance"), None)
                .await?;
            if email == seed::ZOE {
                ensure!(
                    status == 200 && body["pupil"]["display_name"] == "Zoe",
                    "his own pupil: {status} {body}"
                );
            } else {
                ensure!(
                    !body.to_string().contains("display_name"),
                    "{email}'s name leaked: {body}"
                );
                refused(&format!("teacher2 reads {email}"), (status, body), 404, "not_found")?;
            }
        }
        s.control_keeps_receiving().await
    });
}
