//! The operator's commands through the real binary (issue 15), on SQLite and PostgreSQL, beside
//! a running `livegate serve` that shares the database and the data folder: a server with no
//! school says so (start-up log, `/api/setup`), `livegate school add` makes a school whose
//! superuser's invite link sets a password and signs in, bad input changes nothing, `school
//! invite` replaces a lost link, `school disable` ends the school's sessions and refuses
//! sign-in and lesson starts at once, and every change is on the audit chain with the operator
//! as actor. `keys rotate` is cut short with `kill -9` and resumed beside a running server
//! (which uploads half-rotated recordings meanwhile): no recording is ever left that no key
//! opens, and afterwards the new key alone opens and plays every recording.
//! `/healthz` and `/readyz` answer with typed bodies. `school disable` run beside a live
//! lesson ends it for everyone in it within seconds; another school's lesson goes on.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{anyhow, bail, ensure, Context, Result};
use livegate_recorder::frames::Cut;
use livegate_recorder::keys::Kek;
use livegate_recorder::objstore::Objects;
use livegate_recorder::seal::DataKey;
use livegate_recorder::spool::{self, Meta, RecordingWriter, Status};
use livegate_recorder::webm::{Frame, Layout, Track};
use livegate_tests::participant::{live_7a_with_camera, pupil_receives_teacher_camera, start_lesson, Participant};
use livegate_tests::recording::DataDir;
use livegate_tests::server::{binary_path, run_livegate, Ran};
use livegate_tests::{postgres, run_test_within, seed, Api, Server};
use reqwest::Method;
use serde_json::{json, Value};
use sqlx::Row;
use tokio::io::{AsyncBufReadExt, BufReader};

const LIMIT: Duration = Duration::from_secs(120);
const PASSWORD: &str = "a long enough passphrase";

/// Runs `livegate <args>` on this data folder and database.
async fn cli(dir: &DataDir, db: &str, args: &[&str]) -> Result<Ran> {
    let mut all: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    all.extend([
        "--data-dir".to_owned(),
        dir.path.display().to_string(),
        "--database-url".to_owned(),
        db.to_owned(),
    ]);
    run_livegate(&all, &[("LOGNAME", "ops-tester")]).await
}

/// Runs a command that must succeed; returns its standard output.
async fn must(dir: &DataDir, db: &str, args: &[&str]) -> Result<String> {
    let ran = cli(dir, db, args).await?;
    ensure!(ran.ok, "livegate {args:?} failed: {}{}", ran.stdout, ran.stderr);
    Ok(ran.stdout)
}

/// Runs a command that must fail with a message containing `says`.
async fn refused(dir: &DataDir, db: &str, args: &[&str], says: &str) -> Result<()> {
    let ran = cli(dir, db, args).await?;
    ensure!(!ran.ok, "livegate {args:?} should have failed: {}", ran.stdout);
    ensure!(
        ran.stderr.contains(says),
        "livegate {args:?}: expected {says:?} in {:?}",
        ran.stderr
    );
    Ok(())
}

/// The school id and the invite link `school add` / `school invite` printed.
fn invite_of(stdout: &str) -> Result<(String, String)> {
    let school = stdout
        .lines()
        .find_map(|l| l.strip_prefix("school: "))
        .ok_or_else(|| anyhow!("no school line in {stdout:?}"))?;
    let link = stdout
        .lines()
        .find(|l| l.contains("/#/set-password?token="))
        .ok_or_else(|| anyhow!("no link in {stdout:?}"))?;
    Ok((school.trim().to_owned(), link.trim().to_owned()))
}

/// Sets a password through an invite link, as the set-password page does.
async fn use_link(api: &Api, link: &str) -> Result<u16> {
    let token = link.rsplit_once("token=").map(|(_, t)| t).unwrap_or_default();
    let body = json!({"token": token, "password": PASSWORD});
    Ok(api.request(Method::POST, "/api/account/password", Some(body)).await?.0)
}

async fn sign_in(api: &Api, email: &str) -> Result<(u16, Value)> {
    let body = json!({"email": email, "password": PASSWORD});
    api.request(Method::POST, "/api/session", Some(body)).await
}

/// Every audit entry of a school: (actor, action), oldest first.
async fn audit_of(db: &str, school: &str) -> Result<Vec<(String, String)>> {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(db).await.context("opening the database")?;
    let rows = sqlx::query("SELECT actor, action FROM audit_log WHERE school_id = $1 ORDER BY seq")
        .bind(school)
        .fetch_all(&pool)
        .await?;
    pool.close().await;
    rows.iter()
        .map(|r| Ok((r.try_get("actor")?, r.try_get("action")?)))
        .collect()
}

/// Starts `livegate serve` on this folder and database (no demo seed).
async fn serve(dir: &DataDir, db: &str) -> Result<Server> {
    let data = dir.path.display().to_string();
    Server::launch("serve", &["--data-dir", &data, "--database-url", db], &[]).await
}

/// The whole life of a school through the operator's commands, beside a running server.
async fn school_life(dir: &DataDir, db: &str) -> Result<()> {
    let server = serve(dir, db).await?;
    let api = Api::new(&server);
    // A new installation says what to do, on the console and on the sign-in page.
    ensure!(
        server.log_lines().iter().any(|l| l.contains("livegate school add")),
        "no start-up line naming the command"
    );
    let (status, setup) = api.request(Method::GET, "/api/setup", None).await?;
    ensure!(status == 200 && setup["has_school"] == json!(false), "{setup}");
    ensure!(setup["create_school_command"]
        .as_str()
        .unwrap_or("")
        .starts_with("livegate school add"));
    let (status, alive) = api.request(Method::GET, "/healthz", None).await?;
    ensure!(status == 200 && alive == json!({"status": "alive"}), "{alive}");
    let (status, ready) = api.request(Method::GET, "/readyz", None).await?;
    let checks = json!({"store": true, "object_store": true, "media_socket": true, "stopping": false});
    ensure!(
        status == 200 && ready == json!({"ready": true, "checks": checks}),
        "{ready}"
    );

    let base = server.http_base.clone();
    let add = [
        "school",
        "add",
        "--name",
        "Hill Primary",
        "--superuser",
        "Head@Hill.sch.uk",
        "--public-url",
        &base,
    ];
    let (school, link) = invite_of(&must(dir, db, &add).await?)?;
    ensure!(link.starts_with(&format!("{base}/#/set-password?token=")), "{link}");
    let key = dir.key_file(&school);
    ensure!(key.exists(), "no key file at {}", key.display());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key)?.permissions().mode() & 0o777;
        ensure!(mode == 0o600, "the key file has mode {mode:o}");
    }
    let (_, setup) = api.request(Method::GET, "/api/setup", None).await?;
    ensure!(
        setup == json!({"has_school": true, "create_school_command": null}),
        "{setup}"
    );
    ensure!(
        use_link(&api, &link).await? == 204,
        "the invite link did not set a password"
    );
    let (status, me) = sign_in(&api, "head@hill.sch.uk").await?;
    ensure!(status == 200 && me["user"]["role"] == "superuser", "{status} {me}");

    bad_input(dir, db, &school).await?;

    // A superuser who lost their link gets a new one; the spent link stays spent.
    ensure!(use_link(&api, &link).await? == 401, "a spent link worked again");
    let invite = ["school", "invite", "--school", &school, "--email", "head@hill.sch.uk"];
    let (again, relink) = invite_of(&must(dir, db, &invite).await?)?;
    ensure!(again == school);
    let other = Api::new(&server);
    ensure!(
        use_link(&other, &relink).await? == 204,
        "the new invite link did not work"
    );

    let list = must(dir, db, &["school", "list"]).await?;
    let row = list
        .lines()
        .find(|l| l.starts_with(&school))
        .ok_or_else(|| anyhow!("{school} not listed: {list}"))?;
    let cells: Vec<&str> = row.split('\t').collect();
    ensure!(
        cells == [school.as_str(), "Hill Primary", "1", "0", "0", "present", "in service"],
        "{row}"
    );

    disable_while_running(dir, db, &server, &school).await?;
    let actions = audit_of(db, &school).await?;
    for wanted in [
        "school.create",
        "conduct.publish",
        "user.create",
        "account.invite",
        "school.disable",
    ] {
        let entry = actions.iter().find(|(_, a)| a == wanted);
        ensure!(
            entry.is_some_and(|(actor, _)| actor == "operator:ops-tester"),
            "{wanted} not on the chain by the operator: {actions:?}"
        );
    }
    let verified = must(dir, db, &["audit", "verify"]).await?;
    ensure!(verified.contains("intact"), "{verified}");
    server.finish();
    Ok(())
}

/// Bad input to every command: a clear message, a non-zero exit, nothing changed.
async fn bad_input(dir: &DataDir, db: &str, school: &str) -> Result<()> {
    let before = must(dir, db, &["school", "list"]).await?;
    let add = |name: &'static str, email: &'static str| ["school", "add", "--name", name, "--superuser", email];
    refused(dir, db, &add("hill PRIMARY", "new@hill.sch.uk"), "already exists").await?;
    refused(dir, db, &add("Dale Academy", "HEAD@hill.sch.uk"), "already exists").await?;
    refused(dir, db, &add("Dale Academy", "not an email"), "not an email address").await?;
    let zone = [
        "school",
        "add",
        "--name",
        "Dale Academy",
        "--superuser",
        "a@dale.sch.uk",
        "--time-zone",
        "Mars/Base",
    ];
    refused(dir, db, &zone, "not a time zone").await?;
    refused(
        dir,
        db,
        &["school", "disable", "--school", "sch_nope"],
        "no school with the id",
    )
    .await?;
    let lost = ["school", "invite", "--school", "sch_nope", "--email", "a@b.sch.uk"];
    refused(dir, db, &lost, "no school with the id").await?;
    let stranger = ["school", "invite", "--school", school, "--email", "nobody@hill.sch.uk"];
    refused(dir, db, &stranger, "has no superuser").await?;
    refused(
        dir,
        db,
        &["keys", "rotate", "--school", "sch_nope"],
        "no school with the id",
    )
    .await?;
    // A keys folder that cannot be written (a file where the folder should be; the tests may
    // run as root, whom file modes do not stop): refused before the database is touched.
    let elsewhere = DataDir::new("ops-nokeys")?;
    std::fs::write(elsewhere.path.join("keys"), b"not a folder")?;
    refused(&elsewhere, db, &add("Dale Academy", "a@dale.sch.uk"), "keys folder").await?;
    let after = must(dir, db, &["school", "list"]).await?;
    ensure!(
        before == after,
        "a refused command changed the schools:\n{before}\n{after}"
    );
    let keys = std::fs::read_dir(dir.path.join("keys"))?.count();
    ensure!(keys == 1, "{keys} key files: a refused add left one behind");
    // The email that failed is still free: nothing was half-made.
    let ok = add("Dale Academy", "a@dale.sch.uk");
    let (dale, _) = invite_of(&must(dir, db, &ok).await?)?;
    ensure!(dale != school);
    Ok(())
}

/// Disabling a school signs its users out and refuses sign-in and lesson starts at once.
async fn disable_while_running(dir: &DataDir, db: &str, server: &Server, school: &str) -> Result<()> {
    let head = Api::new(server);
    ensure!(sign_in(&head, "head@hill.sch.uk").await?.0 == 200);
    // A teacher with a class, signed in before the school is disabled.
    let (status, created) = head
        .request(
            Method::POST,
            "/api/admin/users",
            Some(json!({"email": "teacher@hill.sch.uk", "display_name": "Ms Hill", "role": "teacher"})),
        )
        .await?;
    ensure!(status == 201, "{created}");
    let teacher_id = created["user"]["id"].as_str().unwrap_or_default().to_owned();
    let (_, class) = head
        .request(Method::POST, "/api/admin/classes", Some(json!({"name": "5H"})))
        .await?;
    let class_id = class["class"]["id"].as_str().unwrap_or_default().to_owned();
    let member = json!({"user_id": teacher_id, "as": "teacher"});
    let path = format!("/api/admin/classes/{class_id}/members");
    ensure!(head.request(Method::POST, &path, Some(member)).await?.0 < 300);
    let (_, link) = head
        .request(Method::POST, &format!("/api/admin/users/{teacher_id}/invite"), None)
        .await?;
    let teacher = Api::new(server);
    let url = link["link"]["url"].as_str().unwrap_or_default();
    ensure!(use_link(&teacher, url).await? == 204);
    ensure!(sign_in(&teacher, "teacher@hill.sch.uk").await?.0 == 200);

    let out = must(dir, db, &["school", "disable", "--school", school]).await?;
    ensure!(out.contains("disabled"), "{out}");
    let (status, me) = head.request(Method::GET, "/api/me", None).await?;
    ensure!(status == 401, "a session outlived the school: {status} {me}");
    let (status, refused) = sign_in(&head, "head@hill.sch.uk").await?;
    ensure!(
        status == 403 && refused["error"]["code"] == "school_disabled",
        "{status} {refused}"
    );
    let start = json!({"class_id": class_id});
    let (status, body) = teacher.request(Method::POST, "/api/lessons", Some(start)).await?;
    ensure!(
        status == 401,
        "the teacher's session outlived the school: {status} {body}"
    );
    ensure!(sign_in(&teacher, "teacher@hill.sch.uk").await?.1["error"]["code"] == "school_disabled");
    // The data is kept: the school, its users and its class are still listed.
    let list = must(dir, db, &["school", "list"]).await?;
    ensure!(
        list.lines()
            .any(|l| l.starts_with(school) && l.contains("\t2\t1\t0\tpresent\tdisabled")),
        "{list}"
    );
    let again = must(dir, db, &["school", "disable", "--school", school]).await?;
    ensure!(again.contains("already disabled"), "{again}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_commands_on_sqlite() {
    run_test_within(LIMIT, async {
        let dir = DataDir::new("ops-sqlite")?;
        let db = format!("sqlite:{}", dir.db_path().display());
        school_life(&dir, &db).await
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_commands_on_postgres() {
    run_test_within(LIMIT, async {
        let Some(db) = postgres::fresh_database("ops").await? else {
            return Ok(());
        };
        let dir = DataDir::new("ops-pg")?;
        school_life(&dir, &db).await
    })
    .await;
}

// ---------------------------------------------------------------- key rotation

/// How many recordings the rotation test makes, and how many stay in the spool (not uploaded).
const RECORDINGS: usize = 12;
const SPOOLED: usize = 2;

/// A finished recording with one audio segment, written as the server writes one: sealed into
/// the spool and (unless `keep_spooled`) uploaded, with its row in the database.
async fn make_recording(dir: &DataDir, db: &sqlx::AnyPool, school: &str, kek: &Kek, upload: bool) -> Result<String> {
    let id = format!("rec_{:012x}", rand::random::<u64>() & 0xffff_ffff_ffff);
    let meta = Meta {
        recording: id.clone(),
        school: school.to_owned(),
        started_at: 0,
    };
    let writer = RecordingWriter::create(&dir.spool(), meta, DataKey::generate()?, kek)?;
    let frames: Vec<Frame> = (0..50)
        .map(|i| Frame {
            track: Track::Audio,
            time_ms: i * 20,
            keyframe: true,
            data: vec![0xfc, i as u8, 7, 7, 7],
        })
        .collect();
    let layout = Layout {
        video: None,
        audio: true,
    };
    let cut = Cut {
        layout,
        frames,
        start_ms: 0,
        end_ms: 1000,
    };
    writer.write_segment("s1", &cut)?;
    let manifest = writer.finish(Status::Complete)?;
    let wrapped = std::fs::read(dir.spool().join(&id).join("key.wrapped"))?;
    let hex: String = wrapped.iter().map(|b| format!("{b:02x}")).collect();
    sqlx::query(
        "INSERT INTO recordings (id, school_id, lesson_id, class_id, teacher_id, started_at, ended_at, status, \
         wrapped_key, manifest_sha256, legal_hold) VALUES ($1, $2, 'les_t', 'cls_t', 'usr_t', $3, $3, 'complete', $4, $5, 0)",
    )
    .bind(&id)
    .bind(school)
    // Recent: a running server's retention would destroy a recording older than 30 days.
    .bind(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_millis() as i64)
    .bind(&hex)
    .bind(&manifest)
    .execute(db)
    .await?;
    if upload {
        // Upload only this one: move the others out of the spool's way for a moment.
        let objects = dir.objects()?;
        let single = dir.path.join("upload-one");
        std::fs::create_dir_all(&single)?;
        std::fs::rename(dir.spool().join(&id), single.join(&id))?;
        spool::drain_once(&single, &objects).await?;
    }
    Ok(id)
}

/// Every copy of a recording's wrapped data key: the object store's, the spool's, the database's.
async fn copies(dir: &DataDir, db: &sqlx::AnyPool, recording: &str) -> Result<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    if let Ok(k) = dir.objects()?.get(&spool::key_object(recording)).await {
        out.push(k);
    }
    if let Ok(k) = std::fs::read(dir.spool().join(recording).join("key.wrapped")) {
        out.push(k);
    }
    let row = sqlx::query("SELECT wrapped_key FROM recordings WHERE id = $1")
        .bind(recording)
        .fetch_one(db)
        .await?;
    let hex: String = row.try_get("wrapped_key")?;
    let bytes = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16))
        .collect::<Result<Vec<u8>, _>>()?;
    out.push(bytes);
    Ok(out)
}

fn key_at(path: &Path) -> Result<Kek> {
    Kek::from_file(path).map_err(|e| anyhow!("{}: {e}", path.display()))
}

/// Runs `keys rotate` and kills it with SIGKILL after it has re-wrapped `after` recordings.
async fn rotate_and_kill(dir: &DataDir, db: &str, school: &str, after: usize) -> Result<()> {
    let mut child = tokio::process::Command::new(binary_path())
        .args(["keys", "rotate", "--school", school, "--pause-ms", "500"])
        .env("LOGNAME", "ops-tester")
        .args(["--data-dir", &dir.path.display().to_string(), "--database-url", db])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    let mut lines = BufReader::new(child.stdout.take().context("stdout")?).lines();
    let mut seen = 0;
    while let Some(line) = lines.next_line().await? {
        if line.starts_with("re-wrapped") {
            seen += 1;
            if seen == after {
                child.start_kill()?;
                child.wait().await?;
                return Ok(());
            }
        }
    }
    bail!("the rotation ended after {seen} recordings, before it could be interrupted")
}

/// Opens a recording's manifest and its segment with this key alone.
async fn plays(objects: &Objects, kek: &Kek, recording: &str) -> Result<()> {
    let (manifest, key, _) = spool::open_recording(objects, kek, recording)
        .await
        .map_err(|e| anyhow!("{recording}: {e}"))?;
    ensure!(
        manifest.segments.len() == 1,
        "{recording}: {} segments",
        manifest.segments.len()
    );
    let webm = spool::open_segment(objects, &key, recording, &manifest.segments[0])
        .await
        .map_err(|e| anyhow!("{recording} segment: {e}"))?;
    ensure!(webm.starts_with(&[0x1a, 0x45, 0xdf, 0xa3]), "{recording}: not WebM");
    Ok(())
}

async fn rotation_survives_kill_9(dir: &DataDir, db: &str) -> Result<()> {
    let add = [
        "school",
        "add",
        "--name",
        "Vale School",
        "--superuser",
        "it@vale.sch.uk",
    ];
    let (school, _) = invite_of(&must(dir, db, &add).await?)?;
    let keys_dir = dir.path.join("keys");
    let old_path = dir.key_file(&school);
    let old_text = std::fs::read_to_string(&old_path)?;
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(db).await?;
    let mut recordings = Vec::new();
    for n in 0..RECORDINGS {
        let upload = n < RECORDINGS - SPOOLED;
        recordings.push(make_recording(dir, &pool, &school, &key_at(&old_path)?, upload).await?);
    }

    rotate_and_kill(dir, db, &school, 4).await?;
    // Mid-rotation: the new key waits beside the current one, some recordings are re-wrapped
    // and some not, and every copy of every data key opens with one of the two keys.
    let next_path = keys_dir.join(format!("{school}.next.key"));
    ensure!(next_path.exists(), "no next key after the interruption");
    ensure!(
        std::fs::read_to_string(&old_path)? == old_text,
        "the current key changed too early"
    );
    let (old, next) = (key_at(&old_path)?, key_at(&next_path)?);
    let (mut on_old, mut on_next) = (0, 0);
    for r in &recordings {
        for copy in copies(dir, &pool, r).await? {
            match (old.unwrap(r, &copy).is_ok(), next.unwrap(r, &copy).is_ok()) {
                (true, false) => on_old += 1,
                (false, true) => on_next += 1,
                other => bail!("{r}: a copy opens with (old, new) = {other:?}"),
            }
        }
    }
    ensure!(
        on_old > 0 && on_next > 0,
        "not interrupted mid-way: {on_old} old, {on_next} new"
    );

    // A server starts beside the half-done rotation: it uploads the spooled recordings with
    // whatever wrapping their keys had reached, and keeps running while the rotation resumes.
    let server = serve(dir, db).await?;
    let drained = tokio::time::timeout(Duration::from_secs(20), async {
        while std::fs::read_dir(dir.spool())?
            .flatten()
            .any(|e| e.path().join("meta.json").exists())
        {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        anyhow::Ok(())
    });
    drained
        .await
        .context("the server did not upload the spooled recordings")??;

    // Run again: it resumes with the same new key and finishes.
    let out = must(dir, db, &["keys", "rotate", "--school", &school]).await?;
    ensure!(out.contains("resuming the rotation"), "{out}");
    ensure!(!next_path.exists(), "the next key is still there");
    let new = key_at(&old_path)?;
    ensure!(
        new.id() == next.id(),
        "the current key is not the one the rotation began"
    );
    let kept = keys_dir.join(format!("{school}.old-{}.key", old.id()));
    ensure!(
        std::fs::read_to_string(&kept)?.trim() == old_text.trim(),
        "the old key was not kept"
    );
    ensure!(out.contains("can be deleted"), "{out}");
    // The old key can go: the new key alone opens every copy, and every recording plays.
    std::fs::remove_file(&kept)?;
    let objects = dir.objects()?;
    for r in &recordings {
        for copy in copies(dir, &pool, r).await? {
            ensure!(new.unwrap(r, &copy).is_ok(), "{r}: a copy the new key does not open");
            ensure!(
                old.unwrap(r, &copy).is_err(),
                "{r}: a copy still wrapped with the old key"
            );
        }
    }
    spool::drain_once(&dir.spool(), &objects).await?;
    for r in &recordings {
        plays(&objects, &new, r).await?;
    }
    let actions = audit_of(db, &school).await?;
    for wanted in ["keys.rotate.begin", "keys.rotate"] {
        ensure!(
            actions
                .iter()
                .any(|(actor, a)| a == wanted && actor == "operator:ops-tester"),
            "{wanted} not on the chain: {actions:?}"
        );
    }
    pool.close().await;
    let verified = must(dir, db, &["audit", "verify"]).await?;
    ensure!(verified.contains("intact"), "{verified}");
    server.finish();
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_rotation_resumes_after_kill_9_on_sqlite() {
    run_test_within(LIMIT, async {
        let dir = DataDir::new("ops-rotate")?;
        let db = format!("sqlite:{}", dir.db_path().display());
        rotation_survives_kill_9(&dir, &db).await
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_rotation_resumes_after_kill_9_on_postgres() {
    run_test_within(LIMIT, async {
        let Some(db) = postgres::fresh_database("opsrotate").await? else {
            return Ok(());
        };
        let dir = DataDir::new("ops-rotate-pg")?;
        rotation_survives_kill_9(&dir, &db).await
    })
    .await;
}

/// Waits for `lesson_ended` with `reason` on a participant's socket.
async fn ended_with(who: &Participant, from: usize, reason: &str) -> Result<()> {
    let (_, msg) = who
        .conn
        .wait_for(from, Duration::from_secs(10), "`lesson_ended`", |m| {
            m["type"] == "lesson_ended" || m["type"] == "removed"
        })
        .await?;
    ensure!(
        msg == json!({"type": "lesson_ended", "reason": reason}),
        "{}: {msg}",
        who.email
    );
    Ok(())
}

/// `school disable` from another process ends that school's live lessons for everyone in them
/// within seconds (the server hears of it through the audit chain it follows), while another
/// school's lesson beside them keeps going.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn school_disable_ends_its_live_lessons_at_once() {
    run_test_within(LIMIT, async {
        let dir = DataDir::new("ops-disable-live")?;
        let db = format!("sqlite:{}", dir.db_path().display());
        let server = livegate_tests::recording::start_server(&dir, &[]).await?;
        let (lesson, _camera) = live_7a_with_camera(&server).await?;
        let (ada, _) = pupil_receives_teacher_camera(&server, &lesson, seed::ADA).await?;
        let other = start_lesson(&server, seed::OTHER_TEACHER, "9c").await?;
        let _other_camera = other.teacher.publish_camera("cam").await?;
        let (yan, yan_sub) = pupil_receives_teacher_camera(&server, &other, "yan@pupils.other.sch.uk").await?;
        let (teacher_mark, ada_mark, yan_mark) = (lesson.teacher.conn.mark(), ada.conn.mark(), yan.conn.mark());

        let out = must(&dir, &db, &["school", "disable", "--school", "sch_demo"]).await?;
        ensure!(out.contains("disabled"), "{out}");
        ended_with(&lesson.teacher, teacher_mark, "school_disabled").await?;
        ended_with(&ada, ada_mark, "school_disabled").await?;
        // The log says why it ended, and it ended at once, not at the teacher-absent timeout.
        let pool = livegate_tests::recording::open_db(&dir.db_path()).await?;
        let mut reason: Option<String> = None;
        for _ in 0..40 {
            let row = sqlx::query("SELECT end_reason FROM log_lessons WHERE id = ?")
                .bind(&lesson.id)
                .fetch_one(&pool)
                .await?;
            reason = row.try_get("end_reason")?;
            if reason.is_some() {
                break;
            }
            // The log's writer runs beside the lesson; give it a moment.
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        ensure!(reason.as_deref() == Some("school_disabled"), "{reason:?}");

        // The other school's pupil still receives media and was told nothing.
        let before = yan_sub.stats.video();
        tokio::time::sleep(Duration::from_secs(2)).await;
        ensure!(
            yan_sub.stats.video() > before,
            "the other school's lesson stopped: {}",
            yan_sub.stats.summary()
        );
        let told: Vec<Value> = yan
            .conn
            .messages_since(yan_mark)
            .into_iter()
            .filter(|m| m["type"] == "lesson_ended" || m["type"] == "removed")
            .collect();
        ensure!(told.is_empty(), "the other school's pupil was told {told:?}");
        ensure!(
            other.teacher.conn.closed().is_none(),
            "the other teacher's socket closed"
        );
        server.finish();
        Ok(())
    })
    .await;
}
