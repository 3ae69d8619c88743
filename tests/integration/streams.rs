//! Stream management over signalling: duplicate ids, unsupported codecs, unknown streams and
//! participants, `unpublish`, `mute` (grants stay) and raised hands.

use anyhow::{anyhow, ensure};
use livegate_tests::participant::{live_7a_with_camera, pupil_receives_teacher_camera, SIGNAL_TIMEOUT};
use livegate_tests::rtc_client::PendingPublisher;
use livegate_tests::signal::msg_type;
use livegate_tests::{run_test, seed, Server};
use serde_json::{json, Value};
use std::time::Duration;

fn code(m: &Value) -> &str {
    m.get("code").and_then(Value::as_str).unwrap_or("")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_errors_have_stable_codes() {
    run_test(async {
        let server = Server::start().await?;
        let (lesson, _camera) = live_7a_with_camera(&server).await?;
        let teacher = &lesson.teacher;

        // The same stream_id twice.
        match teacher.try_publish("cam", "camera", true, true).await? {
            Ok(_) => return Err(anyhow!("a second stream `cam` was accepted")),
            Err(e) => ensure!(code(&e) == "duplicate_stream", "want duplicate_stream, got {e}"),
        }

        // A well-formed offer whose only video codec is H264.
        let pending = PendingPublisher::new("h264", true, false).await?;
        ensure!(
            pending.offer_sdp.contains("VP8/90000"),
            "unexpected offer: {}",
            pending.offer_sdp
        );
        let h264 = pending.offer_sdp.replace("VP8/90000", "H264/90000");
        pending.close().await;
        let mark = teacher.conn.mark();
        teacher
            .send("publish", json!({"stream_id": "h264", "kind": "screen", "sdp": h264}))
            .await?;
        teacher
            .conn
            .expect_error(mark, "unsupported_media", SIGNAL_TIMEOUT)
            .await?;

        let mark = teacher.conn.mark();
        teacher
            .send("unpublish", json!({"stream_id": "no-such-stream"}))
            .await?;
        teacher
            .conn
            .expect_error(mark, "unknown_stream", SIGNAL_TIMEOUT)
            .await?;

        let mark = teacher.conn.mark();
        teacher
            .send(
                "grant",
                json!({"participant_id": "p_does_not_exist", "media": "microphone"}),
            )
            .await?;
        teacher
            .conn
            .expect_error(mark, "unknown_participant", SIGNAL_TIMEOUT)
            .await?;

        teacher.conn.ping_pong(SIGNAL_TIMEOUT).await?;
        pupil_receives_teacher_camera(&server, &lesson, seed::DEV).await?;
        server.finish();
        Ok(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hand_mute_and_unpublish() {
    run_test(async {
        let server = Server::start().await?;
        let (lesson, _camera) = live_7a_with_camera(&server).await?;
        let teacher = &lesson.teacher;
        let (ada, cam_sub) = pupil_receives_teacher_camera(&server, &lesson, seed::ADA).await?;

        // A raised hand is shown to the teacher.
        let t_mark = teacher.conn.mark();
        ada.send("hand", json!({"raised": true})).await?;
        let id = ada.id.clone();
        teacher
            .conn
            .wait_for(
                t_mark,
                SIGNAL_TIMEOUT,
                "participant_updated with ada's hand raised",
                move |m| {
                    msg_type(m) == "participant_updated"
                        && m.pointer("/participant/id").and_then(Value::as_str) == Some(id.as_str())
                        && m.pointer("/participant/hand_raised").and_then(Value::as_bool) == Some(true)
                },
            )
            .await?;

        // Granted microphone, published, then muted: the stream ends but the grant stays.
        let a_mark = ada.conn.mark();
        teacher
            .send("grant", json!({"participant_id": ada.id, "media": "microphone"}))
            .await?;
        ada.conn.wait_type(a_mark, "grants", SIGNAL_TIMEOUT).await?;
        let t_mark = teacher.conn.mark();
        let _mic = ada.publish("ada-mic", "microphone", false, true).await?;
        let mic_sub = teacher
            .wait_stream_from(t_mark, &ada.id, "microphone", SIGNAL_TIMEOUT)
            .await?;
        mic_sub.wait_media(0, 20, Duration::from_secs(10)).await?;
        let a_mark = ada.conn.mark();
        let t_mark = teacher.conn.mark();
        teacher.send("mute", json!({"participant_id": ada.id})).await?;
        let sid = mic_sub.stream_id.clone();
        teacher
            .conn
            .wait_for(t_mark, SIGNAL_TIMEOUT, "stream_ended for ada's microphone", move |m| {
                msg_type(m) == "stream_ended" && m.get("stream_id").and_then(Value::as_str) == Some(sid.as_str())
            })
            .await?;
        ada.conn
            .wait_for(a_mark, SIGNAL_TIMEOUT, "stream_ended for ada-mic", |m| {
                msg_type(m) == "stream_ended" && m.get("stream_id").and_then(Value::as_str) == Some("ada-mic")
            })
            .await?;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let lost_grant = ada
            .conn
            .messages_since(a_mark)
            .into_iter()
            .find(|m| msg_type(m) == "grants");
        ensure!(lost_grant.is_none(), "mute changed ada's grants: {lost_grant:?}");
        let again = ada.publish("ada-mic-2", "microphone", false, true).await;
        ensure!(again.is_ok(), "after mute the grant should stay: {:?}", again.err());

        // The teacher stops her camera: ada's copy ends and its RTP stops.
        let a_mark = ada.conn.mark();
        teacher.send("unpublish", json!({"stream_id": "cam"})).await?;
        let sid = cam_sub.stream_id.clone();
        ada.conn
            .wait_for(
                a_mark,
                SIGNAL_TIMEOUT,
                "stream_ended for the teacher's camera",
                move |m| {
                    msg_type(m) == "stream_ended" && m.get("stream_id").and_then(Value::as_str) == Some(sid.as_str())
                },
            )
            .await?;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let before = cam_sub.stats.video();
        tokio::time::sleep(Duration::from_millis(1500)).await;
        ensure!(
            cam_sub.stats.video() == before,
            "camera RTP still arriving after unpublish"
        );
        server.finish();
        Ok(())
    })
    .await;
}
