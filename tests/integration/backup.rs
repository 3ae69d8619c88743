//! `livegate backup` and `livegate restore` through the real binary (issue 15): a demo school
//! with a recorded lesson is backed up while its server runs, restored onto a fresh data folder
//! that points at the same recordings folder, and a server started on it proves the restore
//! whole: the audit chain verifies, every recording opens and every segment of every stream
//! decrypts and demuxes, the leader signs in, and a lesson starts with a pupil receiving media
//! (which needs the school's key back: the recorder fails closed without it). Each refusal (a
//! wrong or missing passphrase, a damaged file, a newer schema or format, a non-empty target, a
//! bad `--out`) exits non-zero with a clear message and creates nothing. PostgreSQL: a round
//! trip through `pg_dump` and `pg_restore` into a fresh database.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, ensure, Context, Result};
use livegate_tests::participant::{pupil_receives_teacher_camera, start_lesson};
use livegate_tests::recording::{fetch_stream, leader, list, open_view, start_server, wait_recording, DataDir};
use livegate_tests::server::run_livegate;
use livegate_tests::{postgres, run_test_within, seed, Server};
use serde_json::{json, Value};

const LIMIT: Duration = Duration::from_secs(180);
const PASSPHRASE: &str = "correct horse battery staple";

fn args(list: &[&str], target: &[String]) -> Vec<String> {
    list.iter()
        .map(|s| s.to_string())
        .chain(target.iter().cloned())
        .collect()
}

async fn must(list: &[&str], target: &[String]) -> Result<String> {
    let ran = run_livegate(&args(list, target), &[]).await?;
    ensure!(ran.ok, "livegate {list:?} failed: {}{}", ran.stdout, ran.stderr);
    Ok(ran.stdout)
}

/// The command must fail, saying `says`.
async fn refused(list: &[&str], target: &[String], says: &str) -> Result<()> {
    let ran = run_livegate(&args(list, target), &[]).await?;
    ensure!(!ran.ok, "livegate {list:?} should have failed: {}", ran.stdout);
    ensure!(
        ran.stderr.contains(says),
        "livegate {list:?}: expected {says:?} in {:?}",
        ran.stderr
    );
    Ok(())
}

/// `--data-dir DIR --database-url URL`.
fn target(dir: &Path, db: &str) -> Vec<String> {
    vec![
        "--data-dir".into(),
        dir.display().to_string(),
        "--database-url".into(),
        db.into(),
    ]
}

fn sqlite(dir: &Path) -> String {
    format!("sqlite:{}", dir.join("db.sqlite").display())
}

/// A passphrase file in `dir`.
fn passphrase_file(dir: &Path, text: &str) -> Result<String> {
    let path = dir.join(format!("pass-{}", text.len()));
    std::fs::write(&path, format!("{text}\n"))?;
    Ok(path.display().to_string())
}

/// True if nothing is at `path`, or an empty folder.
fn nothing_at(path: &Path) -> bool {
    std::fs::read_dir(path).map_or(!path.exists(), |mut d| d.next().is_none())
}

/// A demo lesson recorded to the end; returns the lesson id.
async fn record_a_lesson(server: &Server) -> Result<String> {
    let lesson = start_lesson(server, seed::TEACHER, seed::CLASS_7A).await?;
    let _camera = lesson.teacher.publish_camera("cam").await?;
    let _pupil = pupil_receives_teacher_camera(server, &lesson, seed::ADA).await?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    lesson.teacher.send("end_lesson", json!({})).await?;
    wait_recording(
        &leader(server).await?,
        &lesson.id,
        &["complete"],
        Duration::from_secs(30),
    )
    .await?;
    Ok(lesson.id)
}

/// Every recording the leader lists opens, and every segment of every stream is served
/// decrypted and demuxes; returns how many recordings and segments.
async fn every_recording_plays(server: &Server) -> Result<(usize, usize)> {
    let api = leader(server).await?;
    let rows = list(&api).await?;
    let mut segments = 0;
    for row in &rows {
        let id = row["id"].as_str().context("a recording without id")?;
        let opened = open_view(&api, id, "Checking the restored backup plays").await?;
        let streams = opened["streams"].as_array().cloned().unwrap_or_default();
        ensure!(!streams.is_empty(), "recording {id} has no streams: {opened}");
        for stream in streams {
            let label = stream["label"].as_str().context("a stream without label")?;
            let (served, refusal) = fetch_stream(&api, id, &opened, label).await?;
            ensure!(refusal.is_none() && !served.is_empty(), "{id}/{label}: {refusal:?}");
            for (n, seg) in served.iter().enumerate() {
                livegate_recorder::webm::demux(seg).map_err(|e| anyhow::anyhow!("{id}/{label} segment {n}: {e}"))?;
            }
            segments += served.len();
        }
    }
    Ok((rows.len(), segments))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_restores_onto_a_fresh_folder_and_everything_works() {
    run_test_within(LIMIT, async {
        let source = DataDir::new("bk-source")?;
        let work = DataDir::new("bk-work")?;
        let server = start_server(&source, &[]).await?;
        record_a_lesson(&server).await?;
        let source_base = server.http_base.clone();
        let pass = passphrase_file(&work.path, PASSPHRASE)?;
        let out = work.path.join("backup");
        let out_text = out.display().to_string();
        // Taken while the server runs.
        let from = target(&source.path, &sqlite(&source.path));
        let said = must(&["backup", "--out", &out_text, "--passphrase-file", &pass], &from).await?;
        ensure!(said.contains("recordings are not in it"), "{said}");
        drop(server);

        let manifest: Value = serde_json::from_slice(&std::fs::read(out.join("manifest.json"))?)?;
        ensure!(
            manifest["format"] == 1 && manifest["store"] == "sqlite" && manifest["schema_version"].as_i64() >= Some(7),
            "{manifest}"
        );
        let key_hex = std::fs::read_to_string(source.key_file("sch_demo"))?;
        let sealed = std::fs::read(out.join("keys.sealed"))?;
        ensure!(
            !sealed.windows(16).any(|w| w == &key_hex.as_bytes()[..16]),
            "the school key is in the backup in clear"
        );

        let restored = DataDir::new("bk-restored")?;
        let to = target(&restored.path, &sqlite(&restored.path));
        let said = must(&["restore", "--from", &out_text, "--passphrase-file", &pass], &to).await?;
        ensure!(said.contains("audit chain intact"), "{said}");
        let verified = must(&["audit", "verify"], &to).await?;
        ensure!(verified.contains("audit chain intact"), "{verified}");

        // The restored installation uses the original recordings folder.
        let config = work.path.join("restored.toml");
        let objects = source.objects_dir().display().to_string();
        std::fs::write(
            &config,
            format!("[recording]\nobjects = {{ kind = \"local\", path = {objects:?} }}\n"),
        )?;
        let mut serve_args = vec!["--config".to_owned(), config.display().to_string()];
        serve_args.extend(to.iter().cloned());
        let serve_args: Vec<&str> = serve_args.iter().map(String::as_str).collect();
        let server = Server::launch("serve", &serve_args, &[]).await?;
        // The leader's authenticator, enrolled on the source, signs in on the restored copy.
        livegate_tests::mfa::server_moved(&source_base, &server.http_base);
        let (recordings, segments) = every_recording_plays(&server).await?;
        ensure!(
            recordings >= 1 && segments >= 2,
            "{recordings} recordings, {segments} segments"
        );
        let lesson = start_lesson(&server, seed::TEACHER, seed::CLASS_7A).await?;
        let _camera = lesson.teacher.publish_camera("cam").await?;
        pupil_receives_teacher_camera(&server, &lesson, seed::ADA).await?;
        server.finish();
        Ok(())
    })
    .await;
}

/// A small installation (one school made by `school add`) and its backup.
async fn small_backup(work: &Path) -> Result<(PathBuf, Vec<String>, String)> {
    let source = work.join("source");
    let from = target(&source, &sqlite(&source));
    must(
        &[
            "school",
            "add",
            "--name",
            "Hill Primary",
            "--superuser",
            "head@hill.sch.uk",
        ],
        &from,
    )
    .await?;
    let pass = passphrase_file(work, PASSPHRASE)?;
    let out = work.join("backup");
    must(
        &[
            "backup",
            "--out",
            &out.display().to_string(),
            "--passphrase-file",
            &pass,
        ],
        &from,
    )
    .await?;
    Ok((out, from, pass))
}

/// A copy of a backup folder with one change made to it.
fn altered(backup: &Path, name: &str, change: impl FnOnce(&Path) -> Result<()>) -> Result<String> {
    let copy = backup.with_file_name(name);
    std::fs::create_dir_all(&copy)?;
    for entry in std::fs::read_dir(backup)? {
        let entry = entry?;
        std::fs::copy(entry.path(), copy.join(entry.file_name()))?;
    }
    change(&copy)?;
    Ok(copy.display().to_string())
}

fn flip_byte(file: &Path, at: usize) -> Result<()> {
    let mut data = std::fs::read(file)?;
    let at = at.min(data.len() - 1);
    data[at] ^= 0x40;
    Ok(std::fs::write(file, data)?)
}

fn edit_manifest(dir: &Path, key: &str, value: Value) -> Result<()> {
    let path = dir.join("manifest.json");
    let mut m: Value = serde_json::from_slice(&std::fs::read(&path)?)?;
    m[key] = value;
    Ok(std::fs::write(path, serde_json::to_vec_pretty(&m)?)?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_and_backup_refuse_bad_input_and_create_nothing() {
    run_test_within(LIMIT, async {
        let work = DataDir::new("bk-refusals")?;
        let (backup, from, pass) = small_backup(&work.path).await?;
        let backup_text = backup.display().to_string();
        let fresh = work.path.join("fresh");
        let to = target(&fresh, &sqlite(&fresh));
        let wrong = passphrase_file(&work.path, "not the passphrase at all")?;

        let restore = |from: String, pass: String| {
            vec![
                "restore".to_owned(),
                "--from".into(),
                from,
                "--passphrase-file".into(),
                pass,
            ]
        };
        let cases: Vec<(Vec<String>, &str)> = vec![
            (restore(backup_text.clone(), wrong), "wrong passphrase"),
            (
                vec!["restore".into(), "--from".into(), backup_text.clone()],
                "no passphrase",
            ),
            (
                restore(
                    altered(&backup, "damaged-db", |d| flip_byte(&d.join("database.sqlite"), 5000))?,
                    pass.clone(),
                ),
                "damaged: database.sqlite",
            ),
            (
                restore(
                    altered(&backup, "damaged-keys", |d| flip_byte(&d.join("keys.sealed"), 60))?,
                    pass.clone(),
                ),
                "damaged: keys.sealed",
            ),
            (
                restore(
                    altered(&backup, "newer-schema", |d| {
                        edit_manifest(d, "schema_version", json!(999))
                    })?,
                    pass.clone(),
                ),
                "schema version 999, newer than this Livegate's",
            ),
            (
                restore(
                    altered(&backup, "newer-format", |d| edit_manifest(d, "format", json!(2)))?,
                    pass.clone(),
                ),
                "format is version 2",
            ),
            (
                restore(
                    altered(&backup, "no-manifest", |d| {
                        Ok(std::fs::remove_file(d.join("manifest.json"))?)
                    })?,
                    pass.clone(),
                ),
                "is not a Livegate backup",
            ),
        ];
        for (list, says) in &cases {
            let list: Vec<&str> = list.iter().map(String::as_str).collect();
            refused(&list, &to, says).await?;
            ensure!(
                nothing_at(&fresh),
                "a refused restore ({says}) left {}",
                fresh.display()
            );
        }

        // Onto the installation it came from: refused, and its database is untouched.
        let db = work.path.join("source").join("db.sqlite");
        let before = std::fs::read(&db)?;
        let onto_itself = restore(backup_text.clone(), pass.clone());
        let onto_itself: Vec<&str> = onto_itself.iter().map(String::as_str).collect();
        refused(&onto_itself, &from, "the target is not empty").await?;
        ensure!(std::fs::read(&db)? == before, "a refused restore changed the database");
        // A database file alone (keys folder empty) is refused too.
        let half = work.path.join("half");
        std::fs::create_dir_all(&half)?;
        std::fs::copy(&db, half.join("db.sqlite"))?;
        refused(&onto_itself, &target(&half, &sqlite(&half)), "the database file").await?;
        ensure!(!half.join("keys").exists(), "a refused restore wrote keys");

        // Backup: an occupied --out, a short passphrase, none at all.
        let short = passphrase_file(&work.path, "short")?;
        let again = ["backup", "--out", &backup_text, "--passphrase-file", &pass];
        refused(&again, &from, "already exists and is not empty").await?;
        let new_out = work.path.join("never").display().to_string();
        refused(
            &["backup", "--out", &new_out, "--passphrase-file", &short],
            &from,
            "shorter than 12",
        )
        .await?;
        refused(&["backup", "--out", &new_out], &from, "no passphrase").await?;
        ensure!(!Path::new(&new_out).exists(), "a refused backup left {new_out}");
        let leftovers: Vec<_> = std::fs::read_dir(&work.path)?
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
            .map(|e| e.file_name())
            .collect();
        ensure!(leftovers.is_empty(), "hidden leftovers: {leftovers:?}");

        // The passphrase may also come from the environment; the good backup restores.
        let ok = run_livegate(
            &args(&["restore", "--from", &backup_text], &to),
            &[("LIVEGATE_BACKUP_PASSPHRASE", PASSPHRASE)],
        )
        .await?;
        ensure!(ok.ok, "{}{}", ok.stdout, ok.stderr);
        let listed = must(&["school", "list"], &to).await?;
        ensure!(
            listed.contains("Hill Primary\t1\t0\t0\tpresent\tin service"),
            "{listed}"
        );
        Ok(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_backup_restores_into_a_fresh_database() {
    run_test_within(LIMIT, async {
        let Some(source_db) = postgres::fresh_database("bksrc").await? else {
            return Ok(());
        };
        let Some(target_db) = postgres::fresh_database("bkdst").await? else {
            bail!("a second database could not be made");
        };
        let work = DataDir::new("bk-pg")?;
        let source = work.path.join("source");
        let from = target(&source, &source_db);
        for (name, email) in [
            ("Hill Primary", "head@hill.sch.uk"),
            ("Dale Academy", "head@dale.sch.uk"),
        ] {
            must(&["school", "add", "--name", name, "--superuser", email], &from).await?;
        }
        let pass = passphrase_file(&work.path, PASSPHRASE)?;
        let out = work.path.join("backup").display().to_string();
        must(&["backup", "--out", &out, "--passphrase-file", &pass], &from).await?;
        let manifest: Value = serde_json::from_slice(&std::fs::read(Path::new(&out).join("manifest.json"))?)?;
        ensure!(manifest["store"] == "postgresql", "{manifest}");

        let restored = work.path.join("restored");
        let to = target(&restored, &target_db);
        let said = must(&["restore", "--from", &out, "--passphrase-file", &pass], &to).await?;
        ensure!(said.contains("audit chain intact"), "{said}");
        let rows = |text: String| {
            let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
            lines.sort();
            lines
        };
        let listed = rows(must(&["school", "list"], &to).await?);
        ensure!(listed == rows(must(&["school", "list"], &from).await?), "{listed:?}");
        ensure!(
            listed.iter().filter(|l| l.contains("\tpresent\tin service")).count() == 2,
            "{listed:?}"
        );
        must(&["audit", "verify"], &to).await?;
        // Again onto the now-full database: refused.
        let fresh_keys = work.path.join("other");
        refused(
            &["restore", "--from", &out, "--passphrase-file", &pass],
            &target(&fresh_keys, &target_db),
            "the database has",
        )
        .await?;
        ensure!(nothing_at(&fresh_keys), "a refused restore wrote keys");
        Ok(())
    })
    .await;
}
