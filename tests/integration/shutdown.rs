//! Graceful shutdown (issues 5 and 7): SIGTERM mid-lesson ends the lesson as its teacher
//! would, with the reason `server_stopping`, and the process exits 0. Nothing is left for the
//! next start-up's crash recovery: the recording comes back `complete` (not `interrupted`) with
//! every segment verifying, and the livestream log has the lesson's end and every session
//! closed, none `recovered`. While the server stops, new lessons, tickets and joins are refused
//! with `server_stopping`. With several nodes on one PostgreSQL database only the stopping
//! node's lessons end. (`failure::kill_9_mid_lesson_recovers_recording_and_log` is the crash
//! this avoids; tests/FAILURE.md lists both.)

use anyhow::{anyhow, ensure, Result};
use livegate_tests::participant::{
    join_on, live_7a_with_camera, pupil_receives_teacher_camera, start_lesson, SIGNAL_TIMEOUT,
};
use livegate_tests::postgres::{self, PgCluster};
use livegate_tests::recording::{field, leader, recorder_cli, start_server, wait_recording, DataDir};
use livegate_tests::signal::Conn;
use livegate_tests::{run_test_within, seed, Api, Participant, Server};
use reqwest::Method;
use serde_json::Value;
use std::time::Duration;

/// The test's limit: media flows, the server stops and starts again.
const LIMIT: Duration = Duration::from_secs(90);
/// The server's shutdown deadline (`app::shutdown::DEADLINE`): it exits by then whatever.
const STOP_DEADLINE: Duration = Duration::from_secs(20);

/// `lesson_ended` with the reason `server_stopping`, received on `conn` since `mark`.
async fn ended_by_stop(conn: &Conn, mark: usize) -> Result<()> {
    let m = conn.wait_type(mark, "lesson_ended", STOP_DEADLINE).await?;
    ensure!(m["reason"] == "server_stopping", "{}: {m}", conn.label());
    Ok(())
}

/// The refusal an HTTP call met: its status and code.
fn refusal(status: u16, body: &Value) -> (u16, &str) {
    (
        status,
        body.pointer("/error/code").and_then(Value::as_str).unwrap_or(""),
    )
}

/// New work while the server stops: another class's lesson, a new ticket, and a join with a
/// ticket issued before the stop are all refused with `server_stopping`.
async fn new_work_is_refused(
    teacher2: &Api,
    ben: &Api,
    lesson_id: &str,
    server: &Server,
    ben_ticket: &str,
) -> Result<()> {
    let (status, body) = teacher2
        .request(
            Method::POST,
            "/api/lessons",
            Some(serde_json::json!({"class_id": seed::CLASS_8B})),
        )
        .await?;
    ensure!(
        refusal(status, &body) == (503, "server_stopping"),
        "a new lesson while stopping: {status} {body}"
    );
    let (status, body) = ben
        .request(Method::POST, &format!("/api/lessons/{lesson_id}/ticket"), None)
        .await?;
    ensure!(
        refusal(status, &body) == (503, "server_stopping"),
        "a ticket while stopping: {status} {body}"
    );
    let (_conn, reply) = join_on(
        Conn::connect_with(&server.ws_url("/ws"), "ben", &ben.ws_headers()).await?,
        ben_ticket,
        1,
    )
    .await?;
    ensure!(
        reply["type"] == "error" && reply["code"] == "server_stopping",
        "a join while stopping: {reply}"
    );
    Ok(())
}

/// The teacher publishes, Ada receives; SIGTERM. Both get `lesson_ended` with
/// `server_stopping`; new work meanwhile is refused; the process exits 0 having uploaded the
/// recording (the spool is empty). On the same folder again: the recording is `complete` and
/// verifies, and the log shows the lesson ended with `server_stopping`, every session and
/// presence interval closed with the lesson, none recovered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_ends_lessons_cleanly_and_exits_zero() {
    run_test_within(LIMIT, async {
        let dir = DataDir::new("shutdown")?;
        let mut server = start_server(&dir, &[]).await?;
        let (lesson, camera) = live_7a_with_camera(&server).await?;
        let (ada, sub) = pupil_receives_teacher_camera(&server, &lesson, seed::ADA).await?;
        // A few two-second segments in the recording.
        tokio::time::sleep(Duration::from_secs(5)).await;
        ensure!(sub.stats.video() > 0, "no media before the stop");
        let teacher2 = Api::new(&server);
        teacher2.sign_in(seed::TEACHER2, seed::TEACHER_PASSWORD).await?;
        let ben = Api::new(&server);
        ben.sign_in(seed::BEN, seed::PUPIL_PASSWORD).await?;
        let ben_ticket = ben.must_ticket(&lesson.id).await?.ticket;
        // A socket that has not joined yet keeps the stop waiting for it (at most the join
        // timeout, 5 s), so the refusals below meet a server that is stopping, not stopped.
        let idle = Conn::connect(&server.ws_url("/ws"), "idle").await?;
        let (t_mark, a_mark) = (lesson.teacher.conn.mark(), ada.conn.mark());

        server.terminate()?;
        ended_by_stop(&lesson.teacher.conn, t_mark).await?;
        ended_by_stop(&ada.conn, a_mark).await?;
        new_work_is_refused(&teacher2, &ben, &lesson.id, &server, &ben_ticket).await?;
        drop(idle);
        let status = server.wait_exit(STOP_DEADLINE + Duration::from_secs(5)).await?;
        ensure!(
            status.code() == Some(0),
            "the server exited with {status}; log:\n{}",
            server.log_tail(40)
        );
        let spooled: Vec<_> = std::fs::read_dir(dir.spool())?
            .flatten()
            .map(|e| e.file_name())
            .collect();
        ensure!(
            spooled.is_empty(),
            "left in the spool for the next start-up: {spooled:?}"
        );
        let lesson_id = lesson.id.clone();
        drop((sub, ada, camera, lesson));
        server.finish();

        let server = start_server(&dir, &[]).await?;
        recording_is_complete(&server, &dir, &lesson_id).await?;
        log_is_closed(&server, &lesson_id).await?;
        server.finish();
        Ok(())
    })
    .await;
}

/// The lesson's recording is `complete` (not `interrupted`) and every segment verifies
/// against the manifest hash on the audit chain.
async fn recording_is_complete(server: &Server, dir: &DataDir, lesson_id: &str) -> Result<()> {
    let leader = leader(server).await?;
    let row = wait_recording(
        &leader,
        lesson_id,
        &["complete", "interrupted", "failed"],
        SIGNAL_TIMEOUT,
    )
    .await?;
    ensure!(
        field(&row, "status")? == "complete",
        "the recording after a graceful stop: {row}"
    );
    let (rec, hash) = (field(&row, "id")?, field(&row, "manifest_sha256")?);
    let key = dir.key_file("sch_demo").display().to_string();
    let objects = dir.objects_dir().display().to_string();
    let args: Vec<String> = [
        "verify",
        rec,
        "--key-file",
        &key,
        "--local",
        &objects,
        "--manifest-sha256",
        hash,
    ]
    .map(String::from)
    .to_vec();
    let said = recorder_cli(&args, &[]).await?;
    ensure!(said.contains("segments verified"), "verify said: {said}");
    Ok(())
}

/// The livestream log: the lesson ended with `server_stopping`, as its last event; the
/// teacher's and Ada's sessions and presence intervals closed with it, none recovered.
async fn log_is_closed(server: &Server, lesson_id: &str) -> Result<()> {
    let teacher = Api::new(server);
    teacher.sign_in(seed::TEACHER, seed::TEACHER_PASSWORD).await?;
    let (status, log) = teacher
        .request(Method::GET, &format!("/api/log/lessons/{lesson_id}"), None)
        .await?;
    ensure!(status == 200, "the lesson's log: {status} {log}");
    ensure!(
        log["lesson"]["end_reason"] == "server_stopping",
        "the log's lesson: {log}"
    );
    let last = log["events"]
        .as_array()
        .and_then(|e| e.last())
        .ok_or_else(|| anyhow!("no events: {log}"))?;
    ensure!(
        last["kind"] == "lesson_ended" && last["detail"] == "server_stopping",
        "the last event: {last}"
    );
    let ended_at = log["lesson"]["ended_at"].as_i64();
    let sessions = log["sessions"].as_array().cloned().unwrap_or_default();
    ensure!(sessions.len() == 2, "the teacher's and Ada's sessions: {log}");
    for s in &sessions {
        ensure!(
            s["left_at"].as_i64() == ended_at && s["left_reason"] == "lesson_ended" && s["recovered"] == false,
            "session: {s}"
        );
    }
    let intervals = log["intervals"].as_array().cloned().unwrap_or_default();
    ensure!(intervals.len() == 2, "the teacher's and Ada's presence: {log}");
    for i in &intervals {
        ensure!(
            !i["left_at"].is_null() && i["end"] == "lesson_ended" && i["recovered"] == false,
            "interval: {i}"
        );
    }
    Ok(())
}

/// Two nodes share one PostgreSQL database, each running a lesson (7a on A with Ada, 8b on B).
/// SIGTERM to A ends A's lesson only: its people get `lesson_ended` with `server_stopping` and
/// A exits 0, while B's lesson stays live and its teacher's socket is still served. Read
/// through B, the log has A's lesson ended `server_stopping` and B's still open, and A's
/// recording is `complete`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_on_one_node_ends_only_its_lessons() {
    run_test_within(LIMIT, async {
        if !postgres::enabled("sigterm_on_one_node_ends_only_its_lessons")? {
            return Ok(());
        }
        let pg = PgCluster::start().await?;
        let mut a = Server::launch("demo", &["--database-url", &pg.url], &[]).await?;
        let b = Server::launch("demo", &["--database-url", &pg.url], &[]).await?;
        let on_a = start_lesson(&a, seed::TEACHER, seed::CLASS_7A).await?;
        let ada = Participant::join(&a, seed::ADA, &on_a.id).await?;
        let on_b = start_lesson(&b, seed::TEACHER2, seed::CLASS_8B).await?;
        let (t_mark, a_mark, b_mark) = (on_a.teacher.conn.mark(), ada.conn.mark(), on_b.teacher.conn.mark());

        a.terminate()?;
        ended_by_stop(&on_a.teacher.conn, t_mark).await?;
        ended_by_stop(&ada.conn, a_mark).await?;
        let status = a.wait_exit(STOP_DEADLINE + Duration::from_secs(5)).await?;
        ensure!(status.code() == Some(0), "node A exited with {status}");
        a.finish();

        // B's lesson goes on.
        on_b.teacher.conn.ping_pong(SIGNAL_TIMEOUT).await?;
        let since: Vec<Value> = on_b.teacher.conn.messages_since(b_mark);
        ensure!(
            !since.iter().any(|m| m["type"] == "lesson_ended"),
            "B's lesson ended too: {since:?}"
        );
        let (status, body) = on_b
            .teacher
            .api
            .request(Method::GET, &format!("/api/lessons/{}", on_b.id), None)
            .await?;
        ensure!(
            status == 200 && body["lesson"]["state"] == "live",
            "B's lesson after A stopped: {status} {body}"
        );
        let (status, log) = on_b
            .teacher
            .api
            .request(Method::GET, &format!("/api/log/lessons/{}", on_b.id), None)
            .await?;
        ensure!(
            status == 200 && log["lesson"]["ended_at"].is_null(),
            "B's lesson in the log: {status} {log}"
        );

        // A's lesson, read through B.
        let rivera = Api::new(&b);
        rivera.sign_in(seed::TEACHER, seed::TEACHER_PASSWORD).await?;
        let (status, log) = rivera
            .request(Method::GET, &format!("/api/log/lessons/{}", on_a.id), None)
            .await?;
        ensure!(
            status == 200 && log["lesson"]["end_reason"] == "server_stopping",
            "A's lesson in the log: {status} {log}"
        );
        let sessions = log["sessions"].as_array().cloned().unwrap_or_default();
        ensure!(
            sessions.len() == 2
                && sessions
                    .iter()
                    .all(|s| s["left_reason"] == "lesson_ended" && s["recovered"] == false),
            "A's sessions: {log}"
        );
        let row = wait_recording(
            &leader(&b).await?,
            &on_a.id,
            &["complete", "interrupted", "failed"],
            SIGNAL_TIMEOUT,
        )
        .await?;
        ensure!(field(&row, "status")? == "complete", "A's recording: {row}");
        b.finish();
        Ok(())
    })
    .await;
}
