//! Media fan-out: one teacher publishes VP8 + Opus, three pupils each receive it, all through the
//! server's single UDP media port.

use anyhow::{bail, ensure};
use livegate_tests::participant::{live_7a_with_camera, pupil_receives_teacher_camera, SIGNAL_TIMEOUT};
use livegate_tests::rtc_client::{sdp_candidates, selected_remote_candidate};
use livegate_tests::signal::msg_type;
use livegate_tests::{run_test, seed, Server};
use serde_json::Value;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_teacher_three_pupils() {
    run_test(async {
        let server = Server::start().await?;
        let (lesson, camera) = live_7a_with_camera(&server).await?;
        let teacher = &lesson.teacher;
        ensure!(
            teacher.joined.pointer("/lesson/state").and_then(Value::as_str) == Some("live"),
            "teacher's `joined` lesson is not live: {}",
            teacher.joined
        );

        let ((ada, ada_sub), (ben, ben_sub), (cara, cara_sub)) = tokio::try_join!(
            pupil_receives_teacher_camera(&server, &lesson, seed::ADA),
            pupil_receives_teacher_camera(&server, &lesson, seed::BEN),
            pupil_receives_teacher_camera(&server, &lesson, seed::CARA),
        )?;

        // Each pupil got its own stream of the teacher's camera, with real payload.
        let subs = [(&ada, &ada_sub), (&ben, &ben_sub), (&cara, &cara_sub)];
        for (pupil, sub) in subs {
            ensure!(
                sub.publisher_id == teacher.id,
                "{}: offer publisher {} != teacher {}",
                pupil.email,
                sub.publisher_id,
                teacher.id
            );
            ensure!(sub.kind == "camera", "{}: offer kind {}", pupil.email, sub.kind);
            ensure!(
                sub.stats.bytes() > 10_000,
                "{}: only {} bytes of media",
                pupil.email,
                sub.stats.bytes()
            );
            ensure!(
                pupil.joined.pointer("/lesson/teacher_present").and_then(Value::as_bool) == Some(true),
                "{}: `joined` says the teacher is absent: {}",
                pupil.email,
                pupil.joined
            );
            ensure!(
                pupil.conn.non_json_frames().is_empty(),
                "{}: server sent non-JSON frames",
                pupil.email
            );
        }
        let ids = [&ada_sub.stream_id, &ben_sub.stream_id, &cara_sub.stream_id];
        ensure!(
            ids[0] != ids[1] && ids[1] != ids[2] && ids[0] != ids[2],
            "stream ids not distinct: {ids:?}"
        );

        // The teacher's own publishing connection also runs through the media port.
        camera.wait_connected(Duration::from_secs(5)).await?;
        let port = server.media_addr.port();
        let answer_cands = sdp_candidates(&camera.answer_sdp);
        ensure!(!answer_cands.is_empty(), "the server's answer has no candidate");
        ensure!(
            answer_cands.iter().all(|(_, p)| *p == port),
            "answer candidates {answer_cands:?} != media port {port}"
        );
        match selected_remote_candidate(&camera.pc).await {
            Some((_, p)) if p == port => {}
            other => bail!("teacher's publisher selected remote candidate {other:?}, media port is {port}"),
        }

        // The teacher was told about each pupil.
        for pupil in [&ada, &ben, &cara] {
            let id = pupil.id.clone();
            teacher
                .conn
                .wait_for(
                    0,
                    SIGNAL_TIMEOUT,
                    &format!("participant_joined for {}", pupil.email),
                    move |m| {
                        msg_type(m) == "participant_joined"
                            && m.pointer("/participant/id").and_then(Value::as_str) == Some(id.as_str())
                    },
                )
                .await?;
        }
        drop((ada, ben, cara));
        server.finish();
        Ok(())
    })
    .await;
}

/// A publisher that sends keyframes only when asked: every new receiver still gets a keyframe
/// promptly, because the server asks the publisher for one when the receiver's stream starts
/// (PROTOCOL.md "Streams"), and it does not ask more than once per 500 ms.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_receivers_get_a_keyframe_on_request() {
    run_test(async {
        let server = Server::start().await?;
        let lesson = livegate_tests::participant::start_lesson(&server, seed::TEACHER, seed::CLASS_7A).await?;
        let started = std::time::Instant::now();
        let camera = lesson
            .teacher
            .try_publish_with("cam", "camera", true, true, true)
            .await?
            .map_err(|e| anyhow::anyhow!("camera refused: {e}"))?;
        camera.wait_connected(Duration::from_secs(5)).await?;
        // Let the first keyframe go by with nobody watching.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let requests_before = camera.tx.keyframe_requests();

        let (_ada, ada_sub) = pupil_receives_teacher_camera(&server, &lesson, seed::ADA).await?;
        ensure!(ada_sub.stats.keyframes() > 0, "no keyframe reached ada");
        ensure!(
            camera.tx.keyframe_requests() > requests_before,
            "ada got media but the publisher saw no PLI/FIR (requests={})",
            camera.tx.keyframe_requests()
        );
        tokio::time::sleep(Duration::from_millis(1000)).await;
        let (_ben, ben_sub) = pupil_receives_teacher_camera(&server, &lesson, seed::BEN).await?;
        ensure!(ben_sub.stats.keyframes() > 0, "no keyframe reached ben");

        // Rate limit: at most one request per 500 ms per track (plus one for the window edge).
        let elapsed = started.elapsed().as_secs_f64();
        let requests = camera.tx.keyframe_requests();
        let allowed = (elapsed / 0.5).ceil() as u64 + 1;
        eprintln!(
            "keyframe requests: {requests} in {elapsed:.1} s; keyframes sent: {}",
            camera.tx.keyframes_sent()
        );
        ensure!(
            requests <= allowed,
            "{requests} keyframe requests in {elapsed:.1} s (max {allowed})"
        );
        server.finish();
        Ok(())
    })
    .await;
}
