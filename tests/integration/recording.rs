//! Recording through the real server (issue 4). Every lesson is recorded: a Rust WebRTC teacher
//! publishes the VP8 + Opus clip while a pupil watches, and the recording must reach the object
//! store (a local folder, or a real Garage) sealed and whole, export to a WebM that ffprobe
//! reads, and verify against the manifest hash in the audit chain. A storage outage loses
//! nothing; a `kill -9` loses at most the segment in flight; no plaintext WebM ever touches the
//! disk or the bucket. Only a leader opens a recording, with a reason that is audited before a
//! byte is served; legal hold and retention work; and a lesson whose recording cannot start or
//! stops working admits no pupil. Opening, playing, holding and destroying recordings are in
//! [`playback`]. Helpers: livegate_tests::recording and ::garage.

use anyhow::{anyhow, bail, ensure, Context, Result};
use livegate_recorder::objstore::Objects;
use livegate_tests::garage::Garage;
use livegate_tests::participant::{pupil_receives_teacher_camera, Lesson, SIGNAL_TIMEOUT};
use livegate_tests::recording::*;
use livegate_tests::signal::msg_type;
use livegate_tests::{run_test_within, seed, Api, Participant, Publisher, Server, Subscription};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};

mod playback;

/// Each test's limit: lessons of several seconds, a 30-second outage, server restarts.
const LIMIT: Duration = Duration::from_secs(90);
/// How soon after the lesson ends its recording must be `complete` in the leader's list.
const COMPLETE_WITHIN: Duration = Duration::from_secs(15);
/// The widest gap allowed between consecutive segments of a stream.
const MAX_GAP_MS: i64 = 2500;
/// The longest a segment may be: about two seconds, cut at the keyframe the server asks for.
const MAX_SEGMENT_MS: i64 = 2600;
/// A reason a leader gives.
const REASON: &str = "Concern raised by the form tutor about a remark in this lesson";

/// A recorded lesson in progress: the teacher publishes the camera and a pupil receives it.
struct Live {
    lesson: Lesson,
    camera: Publisher,
    pupil: Participant,
    sub: Arc<Subscription>,
    /// Just before `POST /api/lessons`: the recorder's clock starts a little after this.
    started: Instant,
    /// When the camera's connection was up and its media flowing.
    published: Instant,
    /// The camera's video frames sent by then.
    frames_at_publish: u64,
}

impl Live {
    /// Milliseconds on the recording's clock at `at` (an upper bound: a few ms early at most).
    fn ms(&self, at: Instant) -> i64 {
        at.duration_since(self.started).as_millis() as i64
    }

    /// The teacher ends the lesson; returns when.
    async fn end(&self) -> Result<Instant> {
        self.lesson.teacher.send("end_lesson", json!({})).await?;
        Ok(Instant::now())
    }

    /// The media time the camera has sent since `published` (ms): its video frames, 33 ms
    /// each. A loaded machine skips ticks, so this can fall behind the wall clock, and the
    /// recording follows the media's own clock.
    fn sent_ms(&self) -> i64 {
        (video_frames(&self.camera) - self.frames_at_publish) as i64 * 33
    }

    /// Checks stream s1's segments against what this lesson published until `ended`.
    fn check_coverage(&self, manifest: &livegate_recorder::spool::Manifest, ended: Instant) -> Result<()> {
        let (from, to) = (self.ms(self.published), self.ms(ended));
        check_coverage(manifest, from, (to - from).min(self.sent_ms()))
    }
}

/// `teacher` starts a lesson of `class`, which must say it is recorded.
async fn start_recorded(server: &Server, teacher: &str, class: &str) -> Result<(Lesson, Instant)> {
    let api = Api::new(server);
    api.sign_in(teacher, seed::password_for(teacher)).await?;
    let started = Instant::now();
    let (status, summary) = api.start_lesson(class).await?;
    ensure!(status == 201, "starting a lesson: {status} {summary:?}");
    ensure!(summary.recording, "the new lesson is not recorded: {summary:?}");
    let id = summary.id.to_string();
    let teacher = Participant::join_with(server, api, teacher, &id).await?;
    ensure!(
        teacher.joined.pointer("/lesson/recording") == Some(&json!(true)),
        "`joined` says not recorded: {}",
        teacher.joined
    );
    Ok((Lesson { id, teacher }, started))
}

/// Publishes the teacher's camera the way a browser does: a keyframe at the start and
/// whenever the server asks (it asks every 2 s for the recording's segments).
async fn publish_camera(teacher: &Participant) -> Result<Publisher> {
    let camera = teacher
        .try_publish_with("cam", "camera", true, true, true)
        .await?
        .map_err(|e| anyhow!("camera refused: {e}"))?;
    camera.wait_connected(SIGNAL_TIMEOUT).await?;
    Ok(camera)
}

/// Ms Rivera starts 7a and publishes her camera; Ada receives it.
async fn live_lesson(server: &Server) -> Result<Live> {
    let (lesson, started) = start_recorded(server, seed::TEACHER, seed::CLASS_7A).await?;
    let camera = publish_camera(&lesson.teacher).await?;
    let (published, frames_at_publish) = (Instant::now(), video_frames(&camera));
    let (pupil, sub) = pupil_receives_teacher_camera(server, &lesson, seed::ADA).await?;
    Ok(Live {
        lesson,
        camera,
        pupil,
        sub,
        started,
        published,
        frames_at_publish,
    })
}

/// The video frames a publisher has sent.
fn video_frames(camera: &Publisher) -> u64 {
    camera.tx.video_frames.load(std::sync::atomic::Ordering::Relaxed)
}

/// Sleeps until `at` (at once if it has passed).
async fn until(at: Instant) {
    tokio::time::sleep_until(at.into()).await;
}

/// Where a test's recordings are stored.
enum Bucket<'a> {
    Local(&'a DataDir),
    Garage(&'a Garage),
}

impl Bucket<'_> {
    fn objects(&self) -> Result<Objects> {
        match self {
            Bucket::Local(d) => d.objects(),
            Bucket::Garage(g) => g.objects(),
        }
    }

    /// `livegate-recorder` flags for this store.
    fn flags(&self) -> Result<Vec<String>> {
        match self {
            Bucket::Local(d) => Ok(vec!["--local".into(), d.objects_dir().display().to_string()]),
            Bucket::Garage(g) => g.recorder_flags(),
        }
    }

    fn env(&self) -> Vec<(String, String)> {
        match self {
            Bucket::Local(_) => Vec::new(),
            Bucket::Garage(g) => g.env.clone(),
        }
    }
}

/// No plaintext WebM in the spool, the local objects or (for Garage) any object in the bucket.
async fn assert_all_sealed(dir: &DataDir, bucket: &Bucket<'_>) -> Result<usize> {
    let found = find_plaintext_webm(&[dir.spool(), dir.objects_dir()])?;
    ensure!(found.is_empty(), "plaintext WebM on disk: {found:?}");
    let objects = bucket.objects()?;
    let keys = objects
        .list_all()
        .await
        .map_err(|e| anyhow!("listing the store: {e}"))?;
    for key in &keys {
        let data = objects.get(key).await.map_err(|e| anyhow!("reading {key}: {e}"))?;
        ensure!(!contains_webm(&data), "object {key} is plaintext WebM");
        ensure!(
            key.starts_with("rec_") && !key.contains('@'),
            "object key {key} is not opaque"
        );
    }
    Ok(keys.len())
}

/// Verifies every segment of `rec` against `hash` with the CLI (and that a wrong hash fails),
/// exports stream s1, and returns what ffprobe says of the export.
async fn verify_and_export(dir: &DataDir, bucket: &Bucket<'_>, rec: &str, hash: &str) -> Result<Probe> {
    let key = dir.key_file("sch_demo").display().to_string();
    let base = |cmd: &str| -> Result<Vec<String>> {
        let mut v = vec![cmd.to_owned(), rec.to_owned(), "--key-file".into(), key.clone()];
        v.extend(bucket.flags()?);
        Ok(v)
    };
    let mut verify = base("verify")?;
    verify.extend(["--manifest-sha256".into(), hash.to_owned()]);
    let said = recorder_cli(&verify, &bucket.env()).await?;
    ensure!(said.contains("segments verified"), "verify said: {said}");
    let mut wrong = base("verify")?;
    wrong.extend(["--manifest-sha256".into(), "0".repeat(64)]);
    ensure!(
        recorder_cli(&wrong, &bucket.env()).await.is_err(),
        "verify accepted a wrong manifest hash"
    );
    let out = dir.path.join(format!("{rec}.webm"));
    let mut export = base("export")?;
    export.extend(["--out".into(), out.display().to_string()]);
    recorder_cli(&export, &bucket.env()).await?;
    let probe = ffprobe(&out).await?;
    let has = |kind: &str, codec: &str| probe.streams.iter().any(|(k, c)| k == kind && c == codec);
    ensure!(
        has("video", "vp8") && has("audio", "opus"),
        "export streams: {:?}",
        probe.streams
    );
    Ok(probe)
}

/// Stream s1's segments cover the `span` ms of media published from `from` ms on the
/// recording's clock, with no gap, in segments of about two seconds.
fn check_coverage(manifest: &livegate_recorder::spool::Manifest, from: i64, span: i64) -> Result<()> {
    let c = coverage(manifest, "s1").ok_or_else(|| anyhow!("no s1 segments"))?;
    eprintln!("published {span} ms of media from {from} ms; {c:?}");
    let segs: Vec<String> = manifest
        .segments
        .iter()
        .map(|s| format!("#{} {}..{}", s.index, s.start_ms, s.end_ms))
        .collect();
    let segs = segs.join(", ");
    ensure!(
        c.max_gap_ms <= MAX_GAP_MS,
        "a gap of {} ms between segments",
        c.max_gap_ms
    );
    let covered = c.last_ms - c.first_ms;
    ensure!(
        c.first_ms - from <= 1000 && span - covered <= 1000,
        "segments cover {}..{} ms of {span} ms from {from}: {segs}",
        c.first_ms,
        c.last_ms
    );
    ensure!(c.longest_ms <= MAX_SEGMENT_MS, "a segment of {} ms", c.longest_ms);
    Ok(())
}

/// A lesson of about 8 s recorded into `bucket`, checked from end to end.
async fn record_and_check(server: &Server, dir: &DataDir, bucket: &Bucket<'_>) -> Result<()> {
    let live = live_lesson(server).await?;
    until(live.published + Duration::from_secs(8)).await;
    // Mid-lesson the spool holds sealed segments, and nothing in it is plaintext.
    ensure!(
        count_files(&dir.spool()) >= 3,
        "spool holds only {} files mid-lesson",
        count_files(&dir.spool())
    );
    assert_all_sealed(dir, bucket).await?;
    let ended = live.end().await?;
    let published_s = ended.duration_since(live.published).as_secs_f64();
    let leader = leader(server).await?;
    let row = wait_recording(&leader, &live.lesson.id, &["complete"], COMPLETE_WITHIN).await?;
    eprintln!(
        "recording complete {:.1} s after the lesson ended: {row}",
        ended.elapsed().as_secs_f64()
    );
    ensure!(
        field(&row, "class_id")? == seed::CLASS_7A && row["legal_hold"] == json!(false),
        "row: {row}"
    );
    let (rec, hash) = (field(&row, "id")?, field(&row, "manifest_sha256")?);
    let probe = verify_and_export(dir, bucket, rec, hash).await?;
    let length = probe.duration_s - probe.start_s;
    eprintln!("export: {probe:?}; media {length:.2} s; published {published_s:.2} s");
    ensure!(
        (length - published_s).abs() <= 1.0,
        "exported {length:.2} s of media, published for {published_s:.2} s"
    );
    let (manifest, read_hash) = read_manifest(&bucket.objects()?, &dir.key_file("sch_demo"), rec).await?;
    ensure!(read_hash == hash, "the stored manifest's hash differs from the row's");
    live.check_coverage(&manifest, ended)?;
    ensure!(
        !dir.spool().join(rec).exists(),
        "the spool still holds the uploaded recording"
    );
    let objects = assert_all_sealed(dir, bucket).await?;
    ensure!(
        objects == manifest.segments.len() + 2,
        "{objects} objects for {} segments",
        manifest.segments.len()
    );
    drop(live);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recorded_to_a_local_folder_end_to_end() {
    run_test_within(LIMIT, async {
        let dir = DataDir::new("rec-local")?;
        let server = start_server(&dir, &[]).await?;
        record_and_check(&server, &dir, &Bucket::Local(&dir)).await?;
        server.finish();
        Ok(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recorded_to_garage_end_to_end() {
    run_test_within(LIMIT, async {
        let garage = Garage::start().await?;
        let dir = DataDir::new("rec-garage")?;
        let server = start_server(&dir, &garage.env).await?;
        record_and_check(&server, &dir, &Bucket::Garage(&garage)).await?;
        ensure!(
            count_files(&dir.objects_dir()) == 0,
            "objects went to the local folder, not Garage"
        );
        server.finish();
        Ok(())
    })
    .await;
}

/// Garage goes down for 30 s in the middle of a lesson and comes back on the same data and
/// ports: the lesson carries on, the spool keeps everything, and the recording completes with
/// no gap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storage_outage_loses_nothing() {
    run_test_within(LIMIT, async {
        let garage = Garage::start().await?;
        let dir = DataDir::new("rec-outage")?;
        let server = start_server(&dir, &garage.env).await?;
        let live = live_lesson(&server).await?;
        until(live.published + Duration::from_secs(5)).await;
        let objects = garage.objects()?;
        ensure!(
            !objects.list_all().await.map_err(|e| anyhow!("{e}"))?.is_empty(),
            "nothing uploaded before the outage"
        );
        garage.stop().await?;
        let down = Instant::now();
        let (video_before, spool_before) = (live.sub.stats.video(), count_files(&dir.spool()));
        until(down + Duration::from_secs(30)).await;
        // The lesson went on regardless, and the spool grew.
        ensure!(
            live.pupil.conn.closed().is_none(),
            "the pupil was dropped during the outage"
        );
        ensure!(
            live.sub.stats.video() > video_before + 300,
            "the pupil's video stalled during the outage"
        );
        let spool_after = count_files(&dir.spool());
        ensure!(
            spool_after > spool_before + 10,
            "spool went from {spool_before} to {spool_after} files in 30 s"
        );
        garage.restart().await?;
        until(Instant::now() + Duration::from_secs(4)).await;
        let ended = live.end().await?;
        let leader = leader(&server).await?;
        let row = wait_recording(&leader, &live.lesson.id, &["complete"], Duration::from_secs(30)).await?;
        eprintln!("complete {:.1} s after the lesson ended", ended.elapsed().as_secs_f64());
        let (rec, hash) = (field(&row, "id")?, field(&row, "manifest_sha256")?);
        let (manifest, _) = read_manifest(&objects, &dir.key_file("sch_demo"), rec).await?;
        live.check_coverage(&manifest, ended)?;
        let bucket = Bucket::Garage(&garage);
        verify_and_export(&dir, &bucket, rec, hash).await?;
        assert_all_sealed(&dir, &bucket).await?;
        drop(live);
        server.finish();
        Ok(())
    })
    .await;
}

/// The server dies (`kill -9`) mid-lesson and restarts on the same folder and database: the
/// recording is closed as `interrupted`, losing at most the segment in flight, and every stored
/// segment still authenticates.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_loses_at_most_the_segment_in_flight() {
    run_test_within(LIMIT, async {
        let dir = DataDir::new("rec-crash")?;
        let mut server = start_server(&dir, &[]).await?;
        let live = live_lesson(&server).await?;
        until(live.published + Duration::from_secs(7)).await;
        server.kill9().await?;
        let kill_ms = live.ms(Instant::now());
        let lesson_id = live.lesson.id.clone();
        drop(live);
        server.finish();
        ensure!(count_files(&dir.spool()) >= 3, "the spool lost the recording");

        let server = start_server(&dir, &[]).await?;
        let leader = leader(&server).await?;
        let row = wait_recording(&leader, &lesson_id, &["interrupted"], COMPLETE_WITHIN).await?;
        let (rec, hash) = (field(&row, "id")?, field(&row, "manifest_sha256")?);
        let deadline = Instant::now() + COMPLETE_WITHIN;
        while dir.spool().join(rec).exists() {
            ensure!(
                Instant::now() < deadline,
                "the interrupted recording was never uploaded"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let view = open_view(&leader, rec, REASON).await?;
        ensure!(view["status"] == json!("interrupted"), "view: {view}");
        let lost_after = view["lost_after_ms"]
            .as_i64()
            .ok_or_else(|| anyhow!("no lost_after_ms: {view}"))?;
        eprintln!(
            "killed at {kill_ms} ms; media kept up to {lost_after} ms ({} ms lost)",
            kill_ms - lost_after
        );
        ensure!(
            lost_after <= kill_ms && kill_ms - lost_after <= MAX_SEGMENT_MS + 400,
            "killed at {kill_ms} ms, kept up to {lost_after} ms"
        );
        verify_and_export(&dir, &Bucket::Local(&dir), rec, hash).await?;
        assert_all_sealed(&dir, &Bucket::Local(&dir)).await?;
        // The audit chain came through the crash intact.
        let out = tokio::process::Command::new(livegate_tests::server::binary_path())
            .args([
                "audit",
                "verify",
                "--database-url",
                &format!("sqlite:{}", dir.db_path().display()),
            ])
            .output()
            .await?;
        ensure!(
            out.status.success(),
            "audit verify: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        server.finish();
        Ok(())
    })
    .await;
}

/// Teacher starts 7a on a server whose recording cannot start: the lesson says so, the teacher
/// is told, and a pupil is refused with `recording_unavailable`.
async fn pupils_refused_without_recording(server: &Server) -> Result<()> {
    let api = Api::new(server);
    api.sign_in(seed::TEACHER, seed::TEACHER_PASSWORD).await?;
    let (status, summary) = api.start_lesson(seed::CLASS_7A).await?;
    ensure!(status == 201 && !summary.recording, "lesson: {status} {summary:?}");
    let id = summary.id.to_string();
    let teacher = Participant::join_with(server, api, seed::TEACHER, &id).await?;
    ensure!(
        teacher.joined.pointer("/lesson/recording") == Some(&json!(false)),
        "`joined`: {}",
        teacher.joined
    );
    let pupil = Api::new(server);
    pupil.sign_in(seed::ADA, seed::PUPIL_PASSWORD).await?;
    match pupil.ticket(&id).await? {
        Err(e) if e.code == "recording_unavailable" => Ok(()),
        other => bail!("a pupil's ticket without recording: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_recording_no_pupils() {
    run_test_within(LIMIT, async {
        // The spool cannot be created (a file is in its place).
        let dir = DataDir::new("rec-nospool")?;
        std::fs::write(dir.spool(), b"not a folder")?;
        let server = start_server(&dir, &[]).await?;
        pupils_refused_without_recording(&server)
            .await
            .context("spool cannot be created")?;
        server.finish();

        // `livegate serve` on a database whose school has no key.
        let dir = DataDir::new("rec-nokey")?;
        start_server(&dir, &[]).await?.finish();
        std::fs::remove_dir_all(dir.path.join("keys"))?;
        let args = dir.server_args();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let server = Server::launch("serve", &args, &[]).await?;
        pupils_refused_without_recording(&server).await.context("no key")?;
        let db = open_db(&dir.db_path()).await?;
        let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM recordings")
            .fetch_one(&db)
            .await?;
        ensure!(
            rows == 0 && !dir.key_file("sch_demo").exists(),
            "a recording was registered without a key"
        );
        server.finish();
        Ok(())
    })
    .await;
}

/// The spool fails in the middle of a lesson: within seconds the pupil is `removed` with
/// `recording_unavailable`, the teacher gets that error, no pupil gets in, and the row says `failed`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recording_failure_mid_lesson_removes_pupils() {
    run_test_within(LIMIT, async {
        let dir = DataDir::new("rec-fail")?;
        let server = start_server(&dir, &[]).await?;
        let live = live_lesson(&server).await?;
        tokio::time::sleep(Duration::from_secs(3)).await;
        let rec_dir = std::fs::read_dir(dir.spool())?
            .flatten()
            .map(|e| e.path())
            .find(|p| p.is_dir());
        let rec_dir = rec_dir.ok_or_else(|| anyhow!("no recording in the spool"))?;
        let (pupil_mark, teacher_mark) = (live.pupil.conn.mark(), live.lesson.teacher.conn.mark());
        std::fs::remove_dir_all(&rec_dir)?;
        std::fs::write(&rec_dir, b"the disk failed")?;
        let within = Duration::from_secs(8);
        let removed = |m: &Value| msg_type(m) == "removed" && m["reason"] == json!("recording_unavailable");
        live.pupil
            .conn
            .wait_for(pupil_mark, within, "`removed` recording_unavailable", removed)
            .await?;
        live.pupil.conn.wait_closed(SIGNAL_TIMEOUT).await?;
        live.lesson
            .teacher
            .conn
            .expect_error(teacher_mark, "recording_unavailable", within)
            .await?;
        let ben = Api::new(&server);
        ben.sign_in(seed::BEN, seed::PUPIL_PASSWORD).await?;
        match ben.ticket(&live.lesson.id).await? {
            Err(e) if e.code == "recording_unavailable" => {}
            other => bail!("a pupil's ticket after the recording failed: {other:?}"),
        }
        let leader = leader(&server).await?;
        let rows = list(&leader).await?;
        ensure!(
            rows.len() == 1 && rows[0]["status"] == json!("failed"),
            "rows: {rows:?}"
        );
        drop(live);
        server.finish();
        Ok(())
    })
    .await;
}

/// What recording costs inside the server: a 60-second lesson with the teacher's camera (one
/// VP8 and one Opus track) and no pupil; the lesson's `recorder` thread's CPU time (frames,
/// segments, mux, seal, fsync) from /proc, and the whole process's for comparison. Run with
/// `cargo test -p livegate-tests --test integration recording::cost -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a 60-second measurement; run by hand for BENCHMARKS.md"]
async fn cost_of_recording_in_the_server() {
    use livegate_tests::recorder_cost::{process_cpu_s, threads_cpu_s};
    run_test_within(Duration::from_secs(120), async {
        let dir = DataDir::new("rec-cost")?;
        let server = start_server(&dir, &[]).await?;
        let pid = server.pid().ok_or_else(|| anyhow!("no server pid"))?;
        let (lesson, _) = start_recorded(&server, seed::TEACHER, seed::CLASS_7A).await?;
        let camera = publish_camera(&lesson.teacher).await?;
        let (rec0, proc0, t0) = (threads_cpu_s(pid, "recorder")?, process_cpu_s(pid)?, Instant::now());
        tokio::time::sleep(Duration::from_secs(60)).await;
        let (rec1, proc1, wall) = (
            threads_cpu_s(pid, "recorder")?,
            process_cpu_s(pid)?,
            t0.elapsed().as_secs_f64(),
        );
        let track_minutes = 2.0 * wall / 60.0;
        eprintln!(
            "COST server: {wall:.1} s lesson, {} frames; recorder thread {:.3} CPU s = {:.4} CPU s per track-minute; \
             whole server process {:.3} CPU s = {:.4} per track-minute",
            video_frames(&camera),
            rec1 - rec0,
            (rec1 - rec0) / track_minutes,
            proc1 - proc0,
            (proc1 - proc0) / track_minutes,
        );
        lesson.teacher.send("end_lesson", json!({})).await?;
        wait_recording(&leader(&server).await?, &lesson.id, &["complete"], COMPLETE_WITHIN).await?;
        server.finish();
        Ok(())
    })
    .await;
}

/// The recorder's own path without a server, as fast as it goes: ten minutes of the clip as
/// RTP → frames → segments → WebM → sealed → spooled durably → uploaded to a local folder.
/// (Ten minutes, because /proc counts CPU time in 10 ms ticks.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement; run by hand for BENCHMARKS.md"]
async fn cost_of_the_recorder_path() {
    use livegate_tests::recorder_cost::{bytes_under, process_cpu_s, record_clip};
    run_test_within(Duration::from_secs(120), async {
        let clip = tokio::task::spawn_blocking(livegate_tests::media::clip).await??;
        let dir = DataDir::new("rec-path")?;
        let (cpu0, t0) = (process_cpu_s(std::process::id())?, Instant::now());
        let run = record_clip(&clip, 600, &dir.path).await?;
        let (cpu, wall) = (process_cpu_s(std::process::id())? - cpu0, t0.elapsed().as_secs_f64());
        let track_minutes = 2.0 * run.media_s / 60.0;
        let sealed = bytes_under(&dir.path.join("objects"));
        eprintln!(
            "COST path: {run:?}, {sealed} bytes stored, in {wall:.2} s wall, {cpu:.3} CPU s = {:.4} CPU s per track-minute",
            cpu / track_minutes
        );
        ensure!(run.segments >= 299 && sealed > 1_000_000, "{run:?}, {sealed} bytes");
        Ok(())
    })
    .await;
}
