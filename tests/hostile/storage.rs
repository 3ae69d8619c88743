//! Storage and audit: tampered, truncated, deleted, swapped and reordered segments; swapped
//! manifests; the wrong key; edited, deleted, inserted and reordered audit rows. Driven through
//! the public surface: the leader's segment route (`recording_tampered`), `livegate-recorder
//! verify` and `livegate audit verify` (exit status 1 and their fixed fault sentences).
//!
//! One server records two short lessons once (7a and 8b); each CLI case works on its own copy
//! of the objects or the database, and the review-route cases take turns on the live folder.

use crate::fixture::*;
use anyhow::{anyhow, ensure, Context, Result};
use livegate_tests::participant::start_lesson;
use livegate_tests::recording::{
    fetch_stream, field, leader, open_view, recorder_bin, segment_path, try_open_view, wait_recording, DataDir,
};
use livegate_tests::{seed, Api, Server};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::sync::{Mutex, OnceCell};

const REASON: &str = "Checking a concern raised by the head of year";

/// A server with two complete recordings.
struct Recorded {
    dir: DataDir,
    /// Kept running for the review-route cases.
    _server: Server,
    leader: Api,
    /// 7a's recording (at least two segments) and 8b's.
    rec: String,
    other: String,
    /// The review-route cases change the live folder one at a time.
    turn: Mutex<()>,
}

static RECORDED: OnceCell<Recorded> = OnceCell::const_new();

/// Runs a storage case against the recorded server.
fn storage_case<F, Fut>(body: F)
where
    F: FnOnce(&'static Recorded) -> Fut,
    Fut: std::future::Future<Output = Result<()>>,
{
    own_case(async move {
        let r = tokio::time::timeout(Duration::from_secs(120), RECORDED.get_or_try_init(Recorded::start))
            .await
            .map_err(|_| anyhow!("recording the lessons timed out"))??;
        body(r).await
    });
}

impl Recorded {
    async fn start() -> Result<Recorded> {
        remove_stale_folders();
        let dir = DataDir::new("hostile-storage")?;
        let args = dir.server_args();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let server = Server::launch_shared("demo", &args, &[]).await?;
        let leader = leader(&server).await?;
        let (a, b) = tokio::join!(
            record(&server, &leader, seed::TEACHER, seed::CLASS_7A, 5),
            record(&server, &leader, seed::TEACHER2, seed::CLASS_8B, 5)
        );
        let turn = Mutex::new(());
        Ok(Recorded {
            dir,
            _server: server,
            leader,
            rec: a?,
            other: b?,
            turn,
        })
    }

    fn objects(&self) -> PathBuf {
        self.dir.objects_dir()
    }

    fn key_file(&self) -> PathBuf {
        self.dir.key_file("sch_demo")
    }
}

/// The recorded server lives in a `static`, so its data folder is never dropped: remove those
/// of earlier runs whose test process has gone (`livegate-hostile-storage-<pid>-<n>`).
fn remove_stale_folders() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        let Some(pid) = name
            .strip_prefix("livegate-hostile-storage-")
            .and_then(|r| r.split('-').next())
        else {
            continue;
        };
        if !Path::new("/proc").join(pid).exists() {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

/// A lesson of `class` with the teacher's camera for `secs`, ended; returns its recording id.
async fn record(server: &Server, leader: &Api, teacher: &str, class: &str, secs: u64) -> Result<String> {
    let lesson = start_lesson(server, teacher, class).await?;
    let camera = lesson
        .teacher
        .try_publish_with("cam", "camera", true, true, true)
        .await?
        .map_err(|e| anyhow!("camera: {e}"))?;
    camera.wait_connected(Duration::from_secs(10)).await?;
    tokio::time::sleep(Duration::from_secs(secs)).await;
    lesson.teacher.send("end_lesson", json!({})).await?;
    let row = wait_recording(leader, &lesson.id, &["complete"], Duration::from_secs(30)).await?;
    Ok(field(&row, "id")?.to_string())
}

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to)?;
    for e in std::fs::read_dir(from)?.flatten() {
        let target = to.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &target)?;
        } else {
            std::fs::copy(e.path(), &target)?;
        }
    }
    Ok(())
}

/// A private copy of the object folder, taken between review-route cases (which change the
/// live folder for a moment).
async fn objects_copy(r: &Recorded, label: &str) -> Result<DataDir> {
    let _turn = r.turn.lock().await;
    copy_unlocked(r, label)
}

fn copy_unlocked(r: &Recorded, label: &str) -> Result<DataDir> {
    let copy = DataDir::new(label)?;
    copy_dir(&r.objects(), &copy.path).context("copying the objects")?;
    Ok(copy)
}

/// The segment objects of a recording, in order.
fn segments(objects: &Path, rec: &str) -> Result<Vec<PathBuf>> {
    let mut segs: Vec<PathBuf> = std::fs::read_dir(objects.join(rec))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with('s') && n[1..].chars().all(|c| c.is_ascii_digit()))
        })
        .collect();
    segs.sort();
    ensure!(segs.len() >= 2, "{rec} has {} segments; the cases need two", segs.len());
    Ok(segs)
}

/// Runs a command; returns whether it succeeded and its stdout and stderr.
async fn run(cmd: &Path, args: &[String]) -> Result<(bool, String)> {
    let out = tokio::process::Command::new(cmd)
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .await
        .with_context(|| format!("running {}", cmd.display()))?;
    Ok((
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    ))
}

/// `livegate-recorder verify` on a copy must fail with `sentence`.
async fn verify_fails(objects: &Path, key: &Path, rec: &str, extra: &[&str], sentence: &str) -> Result<()> {
    let mut args = vec![
        "verify".into(),
        rec.into(),
        "--key-file".into(),
        key.display().to_string(),
        "--local".into(),
        objects.display().to_string(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    let (ok, text) = run(&recorder_bin(), &args).await?;
    ensure!(!ok, "verify accepted the tampered recording: {text}");
    ensure!(text.contains(sentence), "verify failed without {sentence:?}: {text}");
    Ok(())
}

/// `livegate-recorder verify` passes on an untouched copy (so the failures are the tampering's).
async fn verify_passes(objects: &Path, key: &Path, rec: &str) -> Result<()> {
    let args = vec![
        "verify".into(),
        rec.into(),
        "--key-file".into(),
        key.display().to_string(),
        "--local".into(),
        objects.display().to_string(),
    ];
    let (ok, text) = run(&recorder_bin(), &args).await?;
    ensure!(ok, "verify failed on an untouched copy: {text}");
    Ok(())
}

const ALTERED: &str = "the segment was altered or is incomplete";

#[test]
fn flipped_byte_in_a_segment_fails_verify() {
    storage_case(|r| async move {
        let copy = objects_copy(r, "flip").await?;
        verify_passes(&copy.path, &r.key_file(), &r.rec).await?;
        let seg = &segments(&copy.path, &r.rec)?[0];
        let mut data = std::fs::read(seg)?;
        let mid = data.len() / 2;
        data[mid] ^= 0x01;
        std::fs::write(seg, data)?;
        verify_fails(&copy.path, &r.key_file(), &r.rec, &[], ALTERED).await
    });
}

#[test]
fn truncated_segment_fails_verify() {
    storage_case(|r| async move {
        let copy = objects_copy(r, "trunc").await?;
        let seg = &segments(&copy.path, &r.rec)?[1];
        let data = std::fs::read(seg)?;
        std::fs::write(seg, &data[..data.len() - 100])?;
        verify_fails(&copy.path, &r.key_file(), &r.rec, &[], ALTERED).await
    });
}

#[test]
fn deleted_segment_fails_verify() {
    storage_case(|r| async move {
        let copy = objects_copy(r, "delete").await?;
        let segs = segments(&copy.path, &r.rec)?;
        std::fs::remove_file(segs.last().unwrap())?;
        verify_fails(&copy.path, &r.key_file(), &r.rec, &[], "no such object").await
    });
}

#[test]
fn reordered_segments_fail_verify() {
    storage_case(|r| async move {
        let copy = objects_copy(r, "reorder").await?;
        let segs = segments(&copy.path, &r.rec)?;
        let (a, b) = (std::fs::read(&segs[0])?, std::fs::read(&segs[1])?);
        std::fs::write(&segs[0], &b)?;
        std::fs::write(&segs[1], &a)?;
        verify_fails(&copy.path, &r.key_file(), &r.rec, &[], ALTERED).await
    });
}

#[test]
fn segment_from_another_recording_fails_verify() {
    storage_case(|r| async move {
        let copy = objects_copy(r, "swap").await?;
        let ours = segments(&copy.path, &r.rec)?;
        let theirs = segments(&copy.path, &r.other)?;
        std::fs::copy(&theirs[0], &ours[0])?;
        verify_fails(&copy.path, &r.key_file(), &r.rec, &[], ALTERED).await
    });
}

#[test]
fn swapped_manifest_fails_verify() {
    storage_case(|r| async move {
        let copy = objects_copy(r, "manifest").await?;
        std::fs::copy(
            copy.path.join(&r.other).join("manifest"),
            copy.path.join(&r.rec).join("manifest"),
        )?;
        verify_fails(&copy.path, &r.key_file(), &r.rec, &[], "manifest:").await
    });
}

#[test]
fn manifest_not_matching_the_audit_chain_fails_verify() {
    storage_case(|r| async move {
        let copy = objects_copy(r, "hash").await?;
        let wrong = "0".repeat(64);
        verify_fails(
            &copy.path,
            &r.key_file(),
            &r.rec,
            &["--manifest-sha256", &wrong],
            "is not the one in the audit chain",
        )
        .await
    });
}

#[test]
fn wrong_school_key_fails_verify() {
    storage_case(|r| async move {
        let copy = objects_copy(r, "key").await?;
        verify_fails(&copy.path, &r.dir.key_file("sch_other"), &r.rec, &[], "manifest:").await
    });
}

/// Changes the live folder with `tamper`, expects the leader's open or media request to be
/// `recording_tampered`, then restores the folder and checks the recording opens again.
async fn review_refuses(r: &Recorded, at_open: bool, tamper: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    let _turn = r.turn.lock().await;
    let backup = copy_unlocked(r, "backup")?;
    let live = r.objects();
    tamper(&live)?;
    let result = async {
        if at_open {
            let got = try_open_view(&r.leader, &r.rec, json!({"reason": REASON})).await?;
            refused("opening", got, 500, "recording_tampered")
        } else {
            // The player's way: segment after segment, until the damaged one is refused.
            let view = open_view(&r.leader, &r.rec, REASON).await?;
            let (_, refusal) = fetch_stream(&r.leader, &r.rec, &view, "s1").await?;
            refused(
                "media",
                refusal.ok_or_else(|| anyhow!("every segment was served"))?,
                500,
                "recording_tampered",
            )
        }
    }
    .await;
    std::fs::remove_dir_all(live.join(&r.rec))?;
    copy_dir(&backup.path.join(&r.rec), &live.join(&r.rec))?;
    result?;
    let view = open_view(&r.leader, &r.rec, REASON).await?;
    let (status, _, _) = r
        .leader
        .get_raw(
            &segment_path(&r.rec, "s1", 0, field(&view, "view")?),
            Some("bytes=0-99"),
        )
        .await?;
    ensure!(status == 206, "after restoring, media is {status}");
    let (_, refusal) = fetch_stream(&r.leader, &r.rec, &view, "s1").await?;
    ensure!(refusal.is_none(), "after restoring, a segment is refused: {refusal:?}");
    Ok(())
}

#[test]
fn review_refuses_a_truncated_segment() {
    storage_case(|r| async move {
        review_refuses(r, false, |live| {
            let seg = &segments(live, &r.rec)?[0];
            let data = std::fs::read(seg)?;
            Ok(std::fs::write(seg, &data[..data.len() / 2])?)
        })
        .await
    });
}

#[test]
fn review_refuses_reordered_segments() {
    storage_case(|r| async move {
        review_refuses(r, false, |live| {
            let segs = segments(live, &r.rec)?;
            let (a, b) = (std::fs::read(&segs[0])?, std::fs::read(&segs[1])?);
            std::fs::write(&segs[0], &b)?;
            Ok(std::fs::write(&segs[1], &a)?)
        })
        .await
    });
}

#[test]
fn review_refuses_a_deleted_segment() {
    storage_case(|r| async move {
        review_refuses(r, false, |live| Ok(std::fs::remove_file(&segments(live, &r.rec)?[1])?)).await
    });
}

#[test]
fn review_refuses_a_segment_from_another_recording() {
    storage_case(|r| async move {
        review_refuses(r, false, |live| {
            let theirs = segments(live, &r.other)?;
            Ok(std::fs::copy(&theirs[0], &segments(live, &r.rec)?[0]).map(drop)?)
        })
        .await
    });
}

#[test]
fn review_refuses_a_re_sealed_older_manifest() {
    storage_case(|r| async move {
        // Another recording's genuine manifest under this one's name.
        review_refuses(r, true, |live| {
            Ok(std::fs::copy(live.join(&r.other).join("manifest"), live.join(&r.rec).join("manifest")).map(drop)?)
        })
        .await
    });
}

/// A private copy of the server's SQLite database (with its write-ahead log), taken between
/// review-route cases (whose views write to the audit log).
async fn db_copy(r: &Recorded, label: &str) -> Result<(DataDir, PathBuf)> {
    let _turn = r.turn.lock().await;
    let copy = DataDir::new(label)?;
    let db = r.dir.db_path();
    let target = copy.path.join("db.sqlite");
    for suffix in ["", "-wal", "-shm"] {
        let from = PathBuf::from(format!("{}{suffix}", db.display()));
        if from.exists() {
            std::fs::copy(&from, format!("{}{suffix}", target.display()))?;
        }
    }
    Ok((copy, target))
}

/// Changes the copy with `sql`, then `livegate audit verify` must fail with `sentence`.
async fn audit_fails(r: &Recorded, label: &str, sql: &[&str], sentence: &str) -> Result<()> {
    let (_copy, db) = db_copy(r, label).await?;
    let url = format!("sqlite:{}", db.display());
    let bin = livegate_tests::server::binary_path();
    let (ok, text) = run(
        &bin,
        &["audit".into(), "verify".into(), "--database-url".into(), url.clone()],
    )
    .await?;
    ensure!(
        ok && text.contains("audit chain intact"),
        "the untouched copy does not verify: {text}"
    );
    let pool = livegate_tests::recording::open_db(&db).await?;
    for q in sql {
        sqlx::query(q).execute(&pool).await.with_context(|| q.to_string())?;
    }
    pool.close().await;
    let (ok, text) = run(&bin, &["audit".into(), "verify".into(), "--database-url".into(), url]).await?;
    ensure!(!ok, "audit verify accepted the changed chain: {text}");
    ensure!(
        text.contains("audit chain broken at entry") && text.contains(sentence),
        "want {sentence:?}: {text}"
    );
    Ok(())
}

#[test]
fn edited_audit_row_fails_audit_verify() {
    storage_case(|r| async move {
        audit_fails(
            r,
            "audit-edit",
            &["UPDATE audit_log SET detail = '{\"reason\":\"nothing to see\"}' WHERE seq = 3"],
            "its contents were changed",
        )
        .await
    });
}

#[test]
fn edited_audit_actor_fails_audit_verify() {
    storage_case(|r| async move {
        audit_fails(
            r,
            "audit-actor",
            &["UPDATE audit_log SET actor = 'usr_someoneelse' WHERE seq = (SELECT MAX(seq) FROM audit_log)"],
            "its contents were changed",
        )
        .await
    });
}

#[test]
fn deleted_audit_row_fails_audit_verify() {
    storage_case(|r| async move {
        audit_fails(
            r,
            "audit-delete",
            &["DELETE FROM audit_log WHERE seq = 2"],
            "an entry is missing",
        )
        .await
    });
}

#[test]
fn inserted_audit_row_fails_audit_verify() {
    storage_case(|r| async move {
        // Make room after entry 2 and slip a forged entry in, keeping the sequence whole.
        audit_fails(
            r,
            "audit-insert",
            &[
                "UPDATE audit_log SET seq = -seq WHERE seq > 2",
                "UPDATE audit_log SET seq = 1 - seq WHERE seq < 0",
                "INSERT INTO audit_log (seq, school_id, at, actor, action, detail, prev_hash, hash) \
                 SELECT 3, school_id, at, actor, 'recording.view', '{}', hash, hash FROM audit_log WHERE seq = 2",
            ],
            "its contents were changed",
        )
        .await
    });
}

#[test]
fn reordered_audit_rows_fail_audit_verify() {
    storage_case(|r| async move {
        audit_fails(
            r,
            "audit-reorder",
            &[
                "UPDATE audit_log SET seq = -1 WHERE seq = 2",
                "UPDATE audit_log SET seq = 2 WHERE seq = 3",
                "UPDATE audit_log SET seq = 3 WHERE seq = -1",
            ],
            "it does not follow the entry before it",
        )
        .await
    });
}

/// The recording.view and recording.hold entries of the audit chain.
async fn view_and_hold_entries(r: &Recorded) -> Result<Vec<livegate_tests::recording::AuditEntry>> {
    let db = livegate_tests::recording::open_db(&r.dir.db_path()).await?;
    let mut entries = livegate_tests::recording::audit(&db, "recording.view").await?;
    entries.extend(livegate_tests::recording::audit(&db, "recording.hold").await?);
    db.close().await;
    Ok(entries)
}

/// Places (or lifts) the legal hold on 7a's recording with a reason.
async fn hold(r: &Recorded, on: bool, reason: &str) -> Result<(u16, serde_json::Value)> {
    let body = json!({"on": on, "reason": reason});
    r.leader
        .request(
            reqwest::Method::POST,
            &format!("/api/recordings/{}/hold", r.rec),
            Some(body),
        )
        .await
}

#[test]
fn reasons_that_say_nothing_open_no_recording_and_audit_nothing() {
    storage_case(|r| async move {
        // Other cases open views too: take a turn so the audit count is ours alone.
        let _turn = r.turn.lock().await;
        let before = view_and_hold_entries(r).await?.len();
        // The reasons: six zero-width spaces, two emoji, "éé." (and decomposed).
        for reason in [
            "\u{200B}".repeat(6),
            "\u{1F600}\u{1F600}".into(),
            "\u{E9}\u{E9}.".into(),
            "e\u{301}e\u{301}.".into(),
            "  ok  ".into(),
        ] {
            refused(
                &format!("open with {reason:?}"),
                try_open_view(&r.leader, &r.rec, json!({"reason": reason})).await?,
                400,
                "reason_required",
            )?;
            refused(
                &format!("hold with {reason:?}"),
                hold(r, true, &reason).await?,
                400,
                "reason_required",
            )?;
        }
        // A reason that hides its words behind an override, or is far too long.
        for (reason, why) in [
            ("Checking \u{202E}gnihton".to_string(), "bidi_control"),
            ("x".repeat(1001), "too_long"),
        ] {
            let (status, body) = try_open_view(&r.leader, &r.rec, json!({"reason": reason})).await?;
            let e = &body["error"];
            ensure!(
                status == 400 && e["code"] == "text_invalid" && e["field"] == "reason" && e["reason"] == why,
                "open, {why}: {status} {body}"
            );
            refused(
                &format!("hold, {why}"),
                hold(r, true, &reason).await?,
                400,
                "text_invalid",
            )?;
        }
        let (status, list) = r.leader.request(reqwest::Method::GET, "/api/recordings", None).await?;
        let held = list["recordings"].as_array().and_then(|l| {
            l.iter()
                .find(|x| x["id"] == r.rec.as_str())
                .map(|x| x["legal_hold"].clone())
        });
        ensure!(
            status == 200 && held == Some(json!(false)),
            "a refused hold changed the recording: {held:?}"
        );
        ensure!(
            view_and_hold_entries(r).await?.len() == before,
            "a refused reason reached the audit chain"
        );
        Ok(())
    });
}

#[test]
fn a_long_reason_in_chinese_opens_the_recording_and_is_audited_intact() {
    storage_case(|r| async move {
        let _turn = r.turn.lock().await;
        // 400 characters, 1,200 bytes: refused before the policy counted characters.
        let reason: String =
            "\u{5BB6}\u{957F}\u{62A5}\u{544A}\u{4E86}\u{8BFE}\u{5802}\u{4E0A}\u{7684}\u{6B3A}\u{51CC}\u{4E8B}\u{4EF6}"
                .chars()
                .cycle()
                .take(400)
                .collect();
        ensure!(reason.len() == 1200);
        let view = open_view(&r.leader, &r.rec, &reason).await?;
        ensure!(view["view"].is_string(), "no view: {view}");
        for on in [true, false] {
            let (status, body) = hold(r, on, &reason).await?;
            ensure!(status == 204, "hold {on} with a Chinese reason: {status} {body}");
        }
        let entries = view_and_hold_entries(r).await?;
        let ours = entries.iter().filter(|e| e.detail["reason"] == reason.as_str()).count();
        ensure!(
            ours == 3,
            "the view and two holds should be audited with the reason intact; found {ours}"
        );
        Ok(())
    });
}
