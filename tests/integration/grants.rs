//! Publishing rights: a pupil cannot publish without a grant; after the teacher grants the
//! microphone the pupil's audio reaches the teacher; after `revoke` the stream ends and its RTP
//! stops reaching the teacher even though the pupil keeps sending.

use anyhow::{anyhow, ensure};
use livegate_tests::participant::{start_lesson, Participant, SIGNAL_TIMEOUT};
use livegate_tests::signal::msg_type;
use livegate_tests::{run_test, seed, Server};
use serde_json::{json, Value};
use std::time::Duration;

fn has_grant(m: &Value, media: &str) -> bool {
    m.get("grants")
        .and_then(Value::as_array)
        .is_some_and(|g| g.iter().any(|x| x.as_str() == Some(media)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pupil_without_grant_cannot_publish() {
    run_test(async {
        let server = Server::start().await?;
        let lesson = start_lesson(&server, seed::TEACHER, seed::CLASS_7A).await?;
        let teacher = &lesson.teacher;
        let ada = Participant::join(&server, seed::ADA, &lesson.id).await?;
        ensure!(
            ada.joined
                .get("grants")
                .and_then(Value::as_array)
                .is_some_and(|g| g.is_empty()),
            "ada should start with no grants: {}",
            ada.joined
        );

        // 1. Without a grant: refused with not_granted, and nothing reaches the teacher.
        let t_mark = teacher.conn.mark();
        let refused = ada.try_publish("ada-mic-1", "microphone", false, true).await?;
        let err = match refused {
            Ok(_) => return Err(anyhow!("publish without a grant was accepted")),
            Err(e) => e,
        };
        ensure!(
            err.get("code").and_then(Value::as_str) == Some("not_granted"),
            "want not_granted, got {err}"
        );
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let leaked: Vec<Value> = teacher
            .conn
            .messages_since(t_mark)
            .into_iter()
            .filter(|m| {
                msg_type(m) == "offer" && m.get("publisher_id").and_then(Value::as_str) == Some(ada.id.as_str())
            })
            .collect();
        ensure!(
            leaked.is_empty(),
            "teacher was offered a stream from ada without a grant: {leaked:?}"
        );
        ensure!(
            teacher.conn.subscriptions().iter().all(|s| s.publisher_id != ada.id),
            "teacher has a subscription from ada without a grant"
        );

        // 2. Grant the microphone: ada is told, publishes, and the teacher receives her audio.
        let a_mark = ada.conn.mark();
        let t_mark = teacher.conn.mark();
        teacher
            .send("grant", json!({"participant_id": ada.id, "media": "microphone"}))
            .await?;
        ada.conn
            .wait_for(a_mark, SIGNAL_TIMEOUT, "`grants` with microphone", |m| {
                msg_type(m) == "grants" && has_grant(m, "microphone")
            })
            .await?;
        let mic = ada.publish("ada-mic-2", "microphone", false, true).await?;
        let sub = teacher
            .wait_stream_from(t_mark, &ada.id, "microphone", SIGNAL_TIMEOUT)
            .await?;
        sub.wait_media(0, 20, Duration::from_secs(10)).await?;
        ensure!(
            sub.stats.video() == 0,
            "a microphone stream carried video: {}",
            sub.stats.summary()
        );

        // 3. Revoke: the stream ends for both sides and RTP stops reaching the teacher.
        let a_mark = ada.conn.mark();
        let t_mark = teacher.conn.mark();
        teacher
            .send("revoke", json!({"participant_id": ada.id, "media": "microphone"}))
            .await?;
        let sid = sub.stream_id.clone();
        teacher
            .conn
            .wait_for(t_mark, SIGNAL_TIMEOUT, "stream_ended for ada's microphone", move |m| {
                msg_type(m) == "stream_ended" && m.get("stream_id").and_then(Value::as_str) == Some(sid.as_str())
            })
            .await?;
        ada.conn
            .wait_for(a_mark, SIGNAL_TIMEOUT, "stream_ended for ada-mic-2", |m| {
                msg_type(m) == "stream_ended" && m.get("stream_id").and_then(Value::as_str) == Some("ada-mic-2")
            })
            .await?;
        ada.conn
            .wait_for(a_mark, SIGNAL_TIMEOUT, "`grants` without microphone", |m| {
                msg_type(m) == "grants" && m.get("grants").is_some() && !has_grant(m, "microphone")
            })
            .await?;

        // Ada's client keeps pushing RTP (a misbehaving or slow client); the server must drop it.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let before = sub.stats.audio();
        let sent_before = mic.tx.written();
        tokio::time::sleep(Duration::from_secs(2)).await;
        let after = sub.stats.audio();
        ensure!(
            mic.tx.written() > sent_before + 50,
            "ada's publisher stopped writing; the check below would prove nothing"
        );
        ensure!(
            after == before,
            "teacher still received {} audio packets from ada after revoke",
            after - before
        );

        // 4. With the grant gone, publishing again is refused.
        let again = ada.try_publish("ada-mic-3", "microphone", false, true).await?;
        match again {
            Ok(_) => return Err(anyhow!("publish after revoke was accepted")),
            Err(e) => ensure!(
                e.get("code").and_then(Value::as_str) == Some("not_granted"),
                "want not_granted after revoke, got {e}"
            ),
        }
        drop(mic);
        drop(ada);
        server.finish();
        Ok(())
    })
    .await;
}
