//! Bad input on the signalling socket (PROTOCOL.md sections 2 and 4): each case must produce the
//! exact stable error code, close the socket only where the spec says, and leave the server
//! serving a normal pupil who receives media.

use anyhow::{bail, ensure};
use livegate_tests::participant::{
    live_7a_with_camera, open_and_join_as, pupil_receives_teacher_camera, start_lesson, Participant, SIGNAL_TIMEOUT,
};
use livegate_tests::signal::msg_type;
use livegate_tests::{run_test, seed, Conn, Server};
use serde_json::{json, Value};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_sdp_in_publish() {
    run_test(async {
        let server = Server::start().await?;
        let lesson = start_lesson(&server, seed::TEACHER, seed::CLASS_7A).await?;
        let teacher = &lesson.teacher;
        let bad = [
            ("broken-1", "this is not an SDP"),
            ("broken-2", "v=0\r\nthis line is not SDP either\r\n"),
            ("broken-3", ""),
        ];
        for (stream_id, sdp) in bad {
            let mark = teacher.conn.mark();
            teacher
                .send("publish", json!({"stream_id": stream_id, "kind": "camera", "sdp": sdp}))
                .await?;
            teacher.conn.expect_error(mark, "bad_sdp", SIGNAL_TIMEOUT).await?;
        }
        // The socket stays open and the same teacher can then publish properly.
        teacher.conn.ping_pong(SIGNAL_TIMEOUT).await?;
        let _camera = teacher.publish_camera("cam").await?;
        pupil_receives_teacher_camera(&server, &lesson, seed::DEV).await?;
        server.finish();
        Ok(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_and_malformed_messages_are_bad_message() {
    run_test(async {
        let server = Server::start().await?;
        let (lesson, _camera) = live_7a_with_camera(&server).await?;
        let (ada, ada_sub) = pupil_receives_teacher_camera(&server, &lesson, seed::ADA).await?;

        let frames = [
            json!({"type": "teleport", "to": "mars"}).to_string(),
            "this is not JSON {".to_string(),
            json!({"no_type": true}).to_string(),
            json!({"type": 42}).to_string(),
            json!(["type", "ping"]).to_string(),
        ];
        for frame in &frames {
            let mark = ada.conn.mark();
            ada.conn.send_text(frame).await?;
            ada.conn
                .expect_error(mark, "bad_message", SIGNAL_TIMEOUT)
                .await
                .map_err(|e| e.context(format!("frame {frame:?}")))?;
        }
        // Still joined and still receiving.
        ada.conn.ping_pong(SIGNAL_TIMEOUT).await?;
        let before = ada_sub.stats.video();
        tokio::time::sleep(Duration::from_secs(1)).await;
        ensure!(
            ada_sub.stats.video() > before + 10,
            "ada's media stalled after bad messages: {}",
            ada_sub.stats.summary()
        );
        pupil_receives_teacher_camera(&server, &lesson, seed::DEV).await?;
        server.finish();
        Ok(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn message_before_join_is_not_joined_and_closes() {
    run_test(async {
        let server = Server::start().await?;
        let (lesson, _camera) = live_7a_with_camera(&server).await?;
        let firsts = [
            json!({"type": "ping"}),
            json!({"type": "publish", "stream_id": "x", "kind": "camera", "sdp": "v=0"}),
            json!({"type": "end_lesson"}),
        ];
        for first in firsts {
            let conn = Conn::connect(&server.ws_url("/ws"), "anonymous").await?;
            conn.send(first.clone()).await?;
            conn.expect_error(0, "not_joined", SIGNAL_TIMEOUT)
                .await
                .map_err(|e| e.context(format!("first message {first}")))?;
            let closed = conn.wait_closed(SIGNAL_TIMEOUT).await?;
            ensure!(
                closed.code == Some(1008),
                "first message {first}: want close 1008, got {closed:?}"
            );
        }
        // The lesson did not end.
        ensure!(
            lesson
                .teacher
                .conn
                .messages()
                .iter()
                .all(|m| msg_type(m) != "lesson_ended"),
            "lesson ended by an unjoined socket"
        );
        pupil_receives_teacher_camera(&server, &lesson, seed::DEV).await?;
        server.finish();
        Ok(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_frame_closes_socket() {
    run_test(async {
        let server = Server::start().await?;
        let (lesson, _camera) = live_7a_with_camera(&server).await?;
        let ada = Participant::join(&server, seed::ADA, &lesson.id).await?;
        let t_mark = lesson.teacher.conn.mark();
        let mark = ada.conn.mark();
        let pad = "a".repeat(70 * 1024);
        let frame = json!({"type": "ping", "pad": pad}).to_string();
        ensure!(frame.len() > 64 * 1024);
        // The server may close while the frame is still being written; that is fine.
        let _ = ada.conn.send_text(&frame).await;
        let closed = ada.conn.wait_closed(SIGNAL_TIMEOUT).await?;
        let too_large = ada
            .conn
            .messages_since(mark)
            .iter()
            .any(|m| msg_type(m) == "error" && m.get("code").and_then(Value::as_str) == Some("message_too_large"));
        if closed.code != Some(1009) && !too_large {
            bail!(
                "want close code 1009 (or error message_too_large), got close {closed:?} and messages {:?}",
                ada.conn.messages_since(mark)
            );
        }
        // Closing the socket means ada left the lesson.
        let id = ada.id.clone();
        lesson
            .teacher
            .conn
            .wait_for(t_mark, SIGNAL_TIMEOUT, "participant_left for ada", move |m| {
                msg_type(m) == "participant_left"
                    && m.get("participant_id").and_then(Value::as_str) == Some(id.as_str())
            })
            .await?;
        pupil_receives_teacher_camera(&server, &lesson, seed::DEV).await?;
        server.finish();
        Ok(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_protocol_version_is_refused() {
    run_test(async {
        let server = Server::start().await?;
        let (lesson, _camera) = live_7a_with_camera(&server).await?;
        let ada = livegate_tests::Api::new(&server);
        ada.sign_in(seed::ADA, seed::PUPIL_PASSWORD).await?;
        for version in [2, 0] {
            let ticket = ada.must_ticket(&lesson.id).await?;
            let (conn, reply) =
                open_and_join_as(&ada, &server, "ada", &ticket.ws_path, &ticket.ticket, version).await?;
            ensure!(
                msg_type(&reply) == "error" && reply.get("code").and_then(Value::as_str) == Some("protocol_mismatch"),
                "protocol {version}: want error protocol_mismatch, got {reply}"
            );
            tokio::time::sleep(Duration::from_millis(300)).await;
            ensure!(
                conn.subscriptions().is_empty(),
                "protocol {version}: got offers without joining"
            );
        }
        // Ada can still join properly and receives media.
        pupil_receives_teacher_camera(&server, &lesson, seed::ADA).await?;
        server.finish();
        Ok(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pupil_cannot_send_teacher_only_messages() {
    run_test(async {
        let server = Server::start().await?;
        let (lesson, _camera) = live_7a_with_camera(&server).await?;
        let teacher = &lesson.teacher;
        let (ada, ada_sub) = pupil_receives_teacher_camera(&server, &lesson, seed::ADA).await?;
        let t_mark = teacher.conn.mark();
        let a_mark = ada.conn.mark();
        let attempts = [
            ("end_lesson", json!({})),
            ("grant", json!({"participant_id": ada.id, "media": "microphone"})),
            ("revoke", json!({"participant_id": ada.id, "media": "microphone"})),
            ("mute", json!({"participant_id": teacher.id})),
            ("remove", json!({"participant_id": teacher.id})),
        ];
        for (ty, fields) in attempts {
            let mark = ada.conn.mark();
            ada.send(ty, fields).await?;
            ada.conn
                .expect_error(mark, "forbidden_role", SIGNAL_TIMEOUT)
                .await
                .map_err(|e| e.context(format!("pupil sent `{ty}`")))?;
        }
        ada.conn.ping_pong(SIGNAL_TIMEOUT).await?;
        // Nothing changed: no grants for ada, the teacher was neither removed nor muted, the
        // lesson goes on and ada's media keeps flowing.
        let ada_msgs = ada.conn.messages_since(a_mark);
        ensure!(
            ada_msgs.iter().all(|m| msg_type(m) != "grants"),
            "ada's grants changed: {ada_msgs:?}"
        );
        ensure!(
            ada_msgs
                .iter()
                .all(|m| !matches!(msg_type(m), "lesson_ended" | "stream_ended")),
            "lesson or stream ended: {ada_msgs:?}"
        );
        let t_msgs = teacher.conn.messages_since(t_mark);
        ensure!(
            t_msgs
                .iter()
                .all(|m| !matches!(msg_type(m), "lesson_ended" | "removed" | "stream_ended")),
            "teacher was affected: {t_msgs:?}"
        );
        ensure!(teacher.conn.closed().is_none(), "teacher's socket closed");
        let before = ada_sub.stats.video();
        tokio::time::sleep(Duration::from_secs(1)).await;
        ensure!(
            ada_sub.stats.video() > before + 10,
            "ada's media stalled: {}",
            ada_sub.stats.summary()
        );
        pupil_receives_teacher_camera(&server, &lesson, seed::DEV).await?;
        server.finish();
        Ok(())
    })
    .await;
}
