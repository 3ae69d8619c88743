//! Upgrades (issue 15): the current binary starts on a database made by an earlier schema
//! version and loses nothing. The databases are committed fixtures (`tests/fixtures/
//! schema-v<N>.sqlite`, one per schema version worth keeping), made by the ignored generator
//! below; this test runs on every one of them, so a fixture made today keeps proving every
//! later migration. And a migration that fails part-way leaves the database at the version
//! before it: each version is one transaction.
//!
//! Make a fixture of the schema the current binary writes (it is named by that version, and
//! an existing one is never replaced):
//!
//! ```text
//! cargo build -p livegate && cargo test -p livegate-tests --test integration \
//!     make_upgrade_fixture -- --ignored
//! ```

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, ensure, Context, Result};
use livegate_tests::participant::{pupil_receives_teacher_camera, start_lesson};
use livegate_tests::recording::{
    leader, list, open_db, open_view, start_server, user_id, wait_recording, DataDir, ADMIN, ADMIN_PASSWORD,
};
use livegate_tests::server::run_livegate;
use livegate_tests::{run_test_within, seed, Api, Server};
use reqwest::Method;
use serde_json::json;
use sqlx::Row;

const LIMIT: Duration = Duration::from_secs(120);

/// The tables whose rows an upgrade must keep (sessions and sign-in failures expire anyway).
const KEPT: &[&str] = &[
    "schools",
    "users",
    "classes",
    "class_members",
    "trusted_domains",
    "conduct_versions",
    "consents",
    "privacy_profiles",
    "account_tokens",
    "audit_log",
    "log_lessons",
    "log_sessions",
    "log_events",
    "log_notes",
    "recordings",
];

fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// Every committed fixture, oldest schema first.
fn fixtures() -> Result<Vec<(i64, PathBuf)>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(fixtures_dir()).context("reading tests/fixtures")? {
        let path = entry?.path();
        let name = path.file_name().unwrap_or_default().to_string_lossy().into_owned();
        let version = name.strip_prefix("schema-v").and_then(|n| n.strip_suffix(".sqlite"));
        if let Some(v) = version.and_then(|v| v.parse().ok()) {
            found.push((v, path));
        }
    }
    found.sort();
    Ok(found)
}

/// Rows per kept table.
async fn counts(db: &Path) -> Result<Vec<(String, i64)>> {
    let pool = open_db(db).await?;
    let mut out = Vec::new();
    for table in KEPT {
        let row = sqlx::query(&format!("SELECT COUNT(*) AS n FROM {table}"))
            .fetch_one(&pool)
            .await?;
        out.push((table.to_string(), row.try_get("n")?));
    }
    pool.close().await;
    Ok(out)
}

/// The applied schema versions.
async fn versions(db: &Path) -> Result<Vec<i64>> {
    let pool = open_db(db).await?;
    let rows = sqlx::query("SELECT version FROM schema_migrations ORDER BY version")
        .fetch_all(&pool)
        .await?;
    pool.close().await;
    rows.iter().map(|r| Ok(r.try_get("version")?)).collect()
}

/// The schema version the current binary writes: that of a database it has just made.
async fn current_version(work: &Path) -> Result<i64> {
    let fresh = work.join("fresh");
    let db = format!("sqlite:{}", fresh.join("db.sqlite").display());
    let list = [
        "school",
        "list",
        "--data-dir",
        &fresh.display().to_string(),
        "--database-url",
        &db,
    ];
    let ran = run_livegate(&list.map(str::to_owned), &[]).await?;
    ensure!(ran.ok, "{}", ran.stderr);
    versions(&fresh.join("db.sqlite"))
        .await?
        .last()
        .copied()
        .context("no schema version")
}

/// `livegate <args> --data-dir DIR --database-url sqlite:DIR/db.sqlite`.
async fn on(dir: &DataDir, args: &[&str]) -> Result<livegate_tests::server::Ran> {
    let mut all: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    all.extend(dir.server_args());
    run_livegate(&all, &[]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_current_binary_upgrades_every_fixture_and_loses_nothing() {
    run_test_within(LIMIT, async {
        let found = fixtures()?;
        ensure!(!found.is_empty(), "no fixtures in {}", fixtures_dir().display());
        let work = DataDir::new("upgrade")?;
        let current = current_version(&work.path).await?;
        for (version, fixture) in found {
            ensure!(
                version <= current,
                "fixture v{version} is newer than this binary's v{current}"
            );
            let dir = DataDir::new(&format!("upgrade-v{version}"))?;
            std::fs::copy(&fixture, dir.db_path())?;
            let before = counts(&dir.db_path()).await?;
            ensure!(
                versions(&dir.db_path()).await?.last() == Some(&version),
                "{} is not at version {version}",
                fixture.display()
            );
            ensure!(
                before.iter().all(|(_, n)| *n > 0),
                "the fixture lacks something: {before:?}"
            );
            let entries = on(&dir, &["audit", "verify"]).await?;
            ensure!(entries.ok, "the fixture's chain: {}", entries.stdout);

            let server = Server::launch(
                "serve",
                &dir.server_args().iter().map(String::as_str).collect::<Vec<_>>(),
                &[],
            )
            .await?;
            let applied = versions(&dir.db_path()).await?;
            ensure!(
                applied == (1..=current).collect::<Vec<_>>(),
                "v{version} migrated to {applied:?}, want 1..={current}"
            );
            let now = counts(&dir.db_path()).await?;
            let lost: Vec<_> = before.iter().zip(&now).filter(|(b, a)| a.1 < b.1).collect();
            ensure!(lost.is_empty(), "v{version}: rows lost on upgrade: {lost:?}");
            let after = on(&dir, &["audit", "verify"]).await?;
            ensure!(
                after.ok && after.stdout == entries.stdout,
                "{} vs {}",
                after.stdout,
                entries.stdout
            );
            // Fixture users sign in with their known passwords and see their data.
            let teacher = Api::new(&server);
            teacher.sign_in(seed::TEACHER, seed::TEACHER_PASSWORD).await?;
            let rows = list(&leader(&server).await?).await?;
            ensure!(!rows.is_empty(), "v{version}: the recording is gone");
            let pupil = Api::new(&server);
            pupil.sign_in(seed::ADA, seed::PUPIL_PASSWORD).await?;
            server.finish();
        }
        Ok(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_migration_leaves_the_database_at_the_version_before() {
    run_test_within(LIMIT, async {
        let (_, fixture) = fixtures()?.into_iter().next().context("no fixture")?;
        let dir = DataDir::new("upgrade-fails")?;
        std::fs::copy(&fixture, dir.db_path())?;
        // Migration 4 made the livestream log's tables, log_lessons first. Without its row
        // and that first table, it runs again: log_lessons is made, then log_sessions (still
        // there) fails it, and the transaction must take log_lessons back.
        let pool = open_db(&dir.db_path()).await?;
        sqlx::query("PRAGMA foreign_keys = OFF").execute(&pool).await?;
        sqlx::query("DROP TABLE log_lessons").execute(&pool).await?;
        sqlx::query("DELETE FROM schema_migrations WHERE version = 4")
            .execute(&pool)
            .await?;
        pool.close().await;
        let before = versions(&dir.db_path()).await?;
        let started = Server::launch(
            "serve",
            &dir.server_args().iter().map(String::as_str).collect::<Vec<_>>(),
            &[],
        )
        .await;
        let Err(e) = started else {
            bail!("the server started on a database whose migration fails");
        };
        ensure!(format!("{e:#}").contains("already exists"), "{e:#}");
        ensure!(versions(&dir.db_path()).await? == before, "the versions changed");
        let pool = open_db(&dir.db_path()).await?;
        let made: i64 = sqlx::query("SELECT COUNT(*) AS n FROM sqlite_master WHERE name = 'log_lessons'")
            .fetch_one(&pool)
            .await?
            .try_get("n")?;
        ensure!(made == 0, "the failed migration's first table was kept");
        Ok(())
    })
    .await;
}

/// Makes `tests/fixtures/schema-v<N>.sqlite` from the demo school with a recorded lesson, a
/// view of its recording and a note, at the schema version of the current binary.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a generator: run it to make a fixture for a new schema version"]
async fn make_upgrade_fixture() {
    run_test_within(LIMIT, async {
        let dir = DataDir::new("make-fixture")?;
        let server = start_server(&dir, &[]).await?;
        let lesson = start_lesson(&server, seed::TEACHER, seed::CLASS_7A).await?;
        let _camera = lesson.teacher.publish_camera("cam").await?;
        let _ada = pupil_receives_teacher_camera(&server, &lesson, seed::ADA).await?;
        let note = json!({"category": "technical", "text": "Fixture note: sound was quiet at first"});
        let path = format!("/api/log/lessons/{}/notes", lesson.id);
        let (status, body) = lesson.teacher.api.request(Method::POST, &path, Some(note)).await?;
        ensure!(status < 300, "note: {status} {body}");
        // A superuser's changes: a privacy profile and an invite link (an account token).
        let admin = Api::new(&server);
        admin.sign_in(ADMIN, ADMIN_PASSWORD).await?;
        let db = open_db(&dir.db_path()).await?;
        let dev = user_id(&db, seed::DEV).await?;
        let owen = user_id(&db, seed::OWEN).await?;
        db.close().await;
        let profile = json!({"camera_always_off": true, "alias": "Pupil D", "hidden_from_pupils": true});
        let path = format!("/api/admin/pupils/{dev}/privacy");
        let (status, body) = admin.request(Method::PUT, &path, Some(profile)).await?;
        ensure!(status < 300, "privacy: {status} {body}");
        let path = format!("/api/admin/users/{owen}/invite");
        let (status, body) = admin.request(Method::POST, &path, None).await?;
        ensure!(status < 300, "invite: {status} {body}");
        tokio::time::sleep(Duration::from_secs(3)).await;
        lesson.teacher.send("end_lesson", json!({})).await?;
        let leader = leader(&server).await?;
        let row = wait_recording(&leader, &lesson.id, &["complete"], Duration::from_secs(30)).await?;
        let id = row["id"].as_str().context("recording id")?;
        open_view(&leader, id, "Making the upgrade fixture").await?;
        drop(server);
        let version = *versions(&dir.db_path()).await?.last().context("no version")?;
        let out = fixtures_dir().join(format!("schema-v{version}.sqlite"));
        ensure!(!out.exists(), "{} exists: fixtures are never replaced", out.display());
        std::fs::create_dir_all(fixtures_dir())?;
        let pool = open_db(&dir.db_path()).await?;
        sqlx::query("DELETE FROM sessions").execute(&pool).await?;
        sqlx::query(&format!("VACUUM INTO '{}'", out.display()))
            .execute(&pool)
            .await?;
        pool.close().await;
        eprintln!("wrote {} ({:?})", out.display(), counts(&out).await?);
        Ok(())
    })
    .await;
}
