//! Participant and lesson lifecycle from PROTOCOL.md section 2: a reconnect replaces the old
//! socket, `remove` keeps a pupil out, and `end_lesson` ends media and admission for everyone.

use anyhow::{anyhow, ensure};
use livegate_tests::participant::{live_7a_with_camera, pupil_receives_teacher_camera, SIGNAL_TIMEOUT};
use livegate_tests::signal::msg_type;
use livegate_tests::{run_test, seed, Api, Server};
use serde_json::{json, Value};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnect_replaces_old_socket() {
    run_test(async {
        let server = Server::start().await?;
        let (lesson, _camera) = live_7a_with_camera(&server).await?;
        let (old, _) = pupil_receives_teacher_camera(&server, &lesson, seed::ADA).await?;
        let mark = old.conn.mark();
        // Ada joins again (another tab or a reconnect): she is offered the camera afresh.
        let (_new, new_sub) = pupil_receives_teacher_camera(&server, &lesson, seed::ADA).await?;
        old.conn.expect_error(mark, "replaced", SIGNAL_TIMEOUT).await?;
        old.conn.wait_closed(SIGNAL_TIMEOUT).await?;
        let before = new_sub.stats.video();
        tokio::time::sleep(Duration::from_secs(1)).await;
        ensure!(
            new_sub.stats.video() > before + 10,
            "the new socket's media stalled: {}",
            new_sub.stats.summary()
        );
        server.finish();
        Ok(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removed_pupil_cannot_rejoin() {
    run_test(async {
        let server = Server::start().await?;
        let (lesson, _camera) = live_7a_with_camera(&server).await?;
        let teacher = &lesson.teacher;
        let (ada, _) = pupil_receives_teacher_camera(&server, &lesson, seed::ADA).await?;
        let t_mark = teacher.conn.mark();
        teacher.send("remove", json!({"participant_id": ada.id})).await?;
        let removed = ada.conn.wait_type(0, "removed", SIGNAL_TIMEOUT).await?;
        ensure!(
            removed.get("reason").and_then(Value::as_str) == Some("removed_by_teacher"),
            "`removed` reason: {removed}"
        );
        ada.conn.wait_closed(SIGNAL_TIMEOUT).await?;
        let id = ada.id.clone();
        teacher
            .conn
            .wait_for(t_mark, SIGNAL_TIMEOUT, "participant_left for ada", move |m| {
                msg_type(m) == "participant_left"
                    && m.get("participant_id").and_then(Value::as_str) == Some(id.as_str())
            })
            .await?;
        // She cannot come back to this lesson.
        match ada.api.ticket(&lesson.id).await? {
            Ok(t) => return Err(anyhow!("removed pupil got a new ticket {:?}", t.ticket)),
            Err(e) => ensure!(
                e.code == "removed_by_teacher" && (400..500).contains(&e.status),
                "want removed_by_teacher, got {e}"
            ),
        }
        // Others are unaffected.
        pupil_receives_teacher_camera(&server, &lesson, seed::BEN).await?;
        server.finish();
        Ok(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn end_lesson_ends_it_for_everyone() {
    run_test(async {
        let server = Server::start().await?;
        let (lesson, _camera) = live_7a_with_camera(&server).await?;
        let (ada, ada_sub) = pupil_receives_teacher_camera(&server, &lesson, seed::ADA).await?;
        let (ben, ben_sub) = pupil_receives_teacher_camera(&server, &lesson, seed::BEN).await?;
        lesson.teacher.send("end_lesson", json!({})).await?;
        for p in [&ada, &ben] {
            p.conn.wait_type(0, "lesson_ended", SIGNAL_TIMEOUT).await?;
            p.conn.wait_closed(SIGNAL_TIMEOUT).await?;
        }
        // The teacher's client keeps sending; nothing may reach the pupils any more.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let before = (ada_sub.stats.video(), ben_sub.stats.video());
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let after = (ada_sub.stats.video(), ben_sub.stats.video());
        ensure!(
            before == after,
            "media kept flowing after end_lesson: {before:?} → {after:?}"
        );

        match ada.api.ticket(&lesson.id).await? {
            Ok(t) => return Err(anyhow!("ticket for an ended lesson: {:?}", t.ticket)),
            Err(e) => ensure!(e.code == "lesson_not_live", "want lesson_not_live, got {e}"),
        }
        let teacher_api = Api::new(&server);
        teacher_api.sign_in(seed::TEACHER, seed::TEACHER_PASSWORD).await?;
        let (status, body) = teacher_api
            .request(reqwest::Method::GET, &format!("/api/lessons/{}", lesson.id), None)
            .await?;
        ensure!(
            status == 200 && body.pointer("/lesson/state").and_then(Value::as_str) == Some("ended"),
            "ended lesson reads as {status} {body}"
        );
        let (status, next) = teacher_api.start_lesson(seed::CLASS_7A).await?;
        ensure!(
            status == 201 && next.id.as_str() != lesson.id,
            "a new lesson should start: {status} {next:?}"
        );
        server.finish();
        Ok(())
    })
    .await;
}
