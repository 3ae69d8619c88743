//! Failure tests (issue 7, reliability.md 5 and 7): what a lesson survives. A lossy network
//! between a pupil and the server (a userspace impairment relay: 5 % loss, 30 ms delay,
//! reordering) leaves the pupil's video whole thanks to NACK and retransmission; PostgreSQL
//! restarting mid-lesson neither ends the lesson nor loses a write; `kill -9` mid-lesson leaves
//! a recording that comes back `interrupted` with every segment verifying, and the server takes
//! new lessons after the restart. (The storage outage is `recording::a_storage_outage_loses_nothing`.)
//! tests/FAILURE.md says what each proves.

use anyhow::ensure;
use livegate_tests::participant::{start_lesson, MEDIA_TIMEOUT, MIN_AUDIO_PACKETS, MIN_VIDEO_PACKETS, SIGNAL_TIMEOUT};
use livegate_tests::relay::{Impairment, Relay, RelayConfig, RelayStats};
use livegate_tests::{run_test_within, seed, Participant, Server};
use std::time::Duration;

/// Each test's limit: media must flow for several seconds, servers restart.
const LIMIT: Duration = Duration::from_secs(90);
/// How long the pupil watches through the lossy relay.
const LOSSY_WATCH: Duration = Duration::from_secs(10);

/// The teacher publishes and a pupil receives, each behind 5 % loss each way, 30 ms delay and
/// reordering, and the pupil's video arrives almost whole: the server NACKs what the teacher's
/// relay dropped and the teacher retransmits; the pupil NACKs what its relay dropped and the
/// server retransmits from its own send buffer. Without NACK about a tenth of the video would
/// be missing (5 % on each leg); with it, under 1 %.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn video_survives_five_percent_loss_through_nack() {
    run_test_within("video_survives_five_percent_loss_through_nack", LIMIT, async {
        let server = Server::start().await?;
        let lossy = |seed| RelayConfig { down: Impairment::lossy(0.05), up: Impairment::lossy(0.05), seed, media_only: true };
        let (teacher_relay, pupil_relay) = (Relay::start(server.media_addr, lossy(1)).await?, Relay::start(server.media_addr, lossy(2)).await?);
        let lesson = start_lesson(&server, seed::TEACHER, seed::CLASS_7A).await?;
        lesson.teacher.conn.rewrite_offers(teacher_relay.sdp_rewrite());
        let camera = lesson.teacher.publish_camera("cam").await?;
        let pupil = Participant::join_through(&server, seed::ADA, &lesson.id, &pupil_relay).await?;
        let sub = pupil.wait_stream_from(0, &lesson.teacher.id, "camera", SIGNAL_TIMEOUT).await?;
        sub.wait_media(MIN_VIDEO_PACKETS, MIN_AUDIO_PACKETS, MEDIA_TIMEOUT).await?;
        let (expected_before, received_before) = sub.stats.video_seq_span();
        let video_before = sub.stats.video();
        tokio::time::sleep(LOSSY_WATCH).await;

        let (expected, received) = sub.stats.video_seq_span();
        let (expected, received) = (expected - expected_before, received - received_before);
        let lost = expected.saturating_sub(received);
        let (t, p) = (&teacher_relay.stats, &pupil_relay.stats);
        eprintln!(
            "teacher's relay: {}\npupil's relay: {}\npupil: {}; {received} of {expected} video packets in {LOSSY_WATCH:?} ({lost} never arrived)",
            t.summary(),
            p.summary(),
            sub.stats.summary()
        );
        ensure!(pupil.conn.closed().is_none() && camera.tx.written() > 0, "the lesson broke down");
        ensure!(sub.stats.video() > video_before + 200, "video stalled behind the lossy relays: {}", sub.stats.summary());
        for (who, r) in [("teacher", t), ("pupil", p)] {
            let (down, up) = (&r.down, &r.up);
            let dropped = RelayStats::load(&down.dropped) + RelayStats::load(&up.dropped);
            let carried = RelayStats::load(&down.received) + RelayStats::load(&up.received);
            ensure!(carried > 300 && dropped * 100 >= carried * 3, "the {who}'s relay dropped only {dropped} of {carried}");
            ensure!(RelayStats::load(&down.reordered) + RelayStats::load(&up.reordered) > 0, "the {who}'s relay reordered nothing");
        }
        // The NACK loops ran on both legs.
        ensure!(RelayStats::load(&t.down.nacks) > 0 && t.up.retransmissions() > 0, "no NACK/retransmission on the teacher's leg: {}", t.summary());
        ensure!(RelayStats::load(&p.up.nacks) > 0 && p.down.retransmissions() > 0, "no NACK/retransmission on the pupil's leg: {}", p.summary());
        ensure!(lost * 100 <= expected, "{lost} of {expected} video packets never reached the pupil");
        drop((sub, pupil, camera, lesson, teacher_relay, pupil_relay));
        server.finish();
        Ok(())
    })
    .await;
}
