//! The livestream log end to end: a scripted lesson (joins, a reconnect, a refusal, a lobby
//! admission, a grant and a removal) produces exactly the expected log, row by row, and
//! exactly the expected CSV exports (times, ids and durations normalised); a concern note
//! reaches the leaders' list with its lesson and recording; a `kill -9` leaves every interval
//! closed at the last heartbeat and marked; and no pupil, visitor, other teacher or other
//! school's staff can read the log on any of its routes.

use anyhow::{anyhow, bail, ensure, Result};
use livegate_tests::participant::{start_lesson, Participant, SIGNAL_TIMEOUT};
use livegate_tests::recording::{start_server, DataDir};
use livegate_tests::{run_test, run_test_within, seed, Api, Server};
use reqwest::Method;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

use crate::enforcement::VISITOR;

const LEADER: &str = "dsl@demo.sch.uk";
const LEADER_PASSWORD: &str = "demo-leader";
const ADMIN: &str = "admin@demo.sch.uk";
const ADMIN_PASSWORD: &str = "demo-admin";
const EVE: &str = "eve@pupils.demo.sch.uk";

async fn signed_in(server: &Server, email: &str, password: &str) -> Result<Api> {
    let api = Api::new(server);
    api.sign_in(email, password).await?;
    Ok(api)
}

async fn get_json(api: &Api, path: &str) -> Result<Value> {
    let (status, body) = api.request(Method::GET, path, None).await?;
    Api::check(status, body).map_err(|e| anyhow!("GET {path}: {e}"))
}

async fn get_text(api: &Api, path: &str) -> Result<String> {
    let (status, headers, body) = api.get_raw(path, None).await?;
    ensure!(status == 200, "GET {path}: {status} {}", String::from_utf8_lossy(&body));
    let ct = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("");
    ensure!(ct.starts_with("text/csv"), "GET {path}: content-type {ct}");
    Ok(String::from_utf8(body)?)
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v[k].as_str().unwrap_or("")
}

/// Events as `(kind, actor, subject, detail)` with names, the way the log shows them.
fn event_rows(log: &Value) -> Vec<(String, String, String, String)> {
    log["events"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            (
                s(e, "kind").into(),
                s(e, "actor_name").into(),
                s(e, "subject_name").into(),
                s(e, "detail").into(),
            )
        })
        .collect()
}

fn row(kind: &str, actor: &str, subject: &str, detail: &str) -> (String, String, String, String) {
    (kind.into(), actor.into(), subject.into(), detail.into())
}

/// A local time as the log writes it: `YYYY-MM-DD HH:MM:SS GMT|BST`.
fn is_local_time(cell: &str) -> bool {
    let b = cell.as_bytes();
    cell.len() == 23
        && (cell.ends_with(" GMT") || cell.ends_with(" BST"))
        && b[4] == b'-'
        && b[10] == b' '
        && b[13] == b':'
        && b[..4].iter().all(u8::is_ascii_digit)
}

/// Replaces the cells that differ from run to run: local times by `TIME`, ids by labels,
/// durations by `SECONDS`; everything else stays byte for byte.
fn normalise(csv: &str, ids: &[(&str, &str)], seconds_col: Option<usize>) -> Result<String> {
    ensure!(csv.ends_with("\r\n"), "CSV rows end in CRLF");
    let mut out = String::new();
    for (n, line) in csv.trim_end_matches("\r\n").split("\r\n").enumerate() {
        let mut cells: Vec<String> = Vec::new();
        for (c, cell) in line.split(',').enumerate() {
            let cell = if n > 0 && is_local_time(cell) {
                "TIME".to_owned()
            } else if n > 0 && Some(c) == seconds_col {
                ensure!(cell.parse::<u64>().is_ok(), "seconds cell {cell:?}");
                "SECONDS".to_owned()
            } else if let Some((_, label)) = ids.iter().find(|(id, _)| *id == cell) {
                (*label).to_owned()
            } else {
                cell.to_owned()
            };
            cells.push(cell);
        }
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    Ok(out)
}

/// Waits until the lesson's log holds at least `n` events. The lesson writes its log on a task
/// of its own, a moment after it acts; the ticket route writes its refusals at once.
async fn wait_events(api: &Api, lesson: &str, n: usize, within: Duration) -> Result<Value> {
    let deadline = Instant::now() + within;
    loop {
        let log = get_json(api, &format!("/api/log/lessons/{lesson}")).await?;
        if log["events"].as_array().map_or(0, Vec::len) >= n {
            return Ok(log);
        }
        ensure!(Instant::now() < deadline, "the log never held {n} events: {log}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the lesson's log says the lesson ended (the lesson's writer writes its entries
/// in order, so everything the lesson did before its end is written by then).
async fn wait_ended(api: &Api, lesson: &str, within: Duration) -> Result<Value> {
    let deadline = Instant::now() + within;
    loop {
        let log = get_json(api, &format!("/api/log/lessons/{lesson}")).await?;
        if !log["lesson"]["ended_at"].is_null() {
            return Ok(log);
        }
        ensure!(
            Instant::now() < deadline,
            "the log never showed the lesson ended: {log}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scripted_lesson_gives_exactly_the_expected_log_and_csv() {
    run_test(async {
        let server = Server::start().await?;
        let lesson = start_lesson(&server, seed::TEACHER, seed::CLASS_7A).await?;
        let teacher = &lesson.teacher;
        let ada = Participant::join(&server, seed::ADA, &lesson.id).await?;
        // Ada's connection drops and she comes back: a new connection replaces the old one.
        let ada_again = Participant::join(&server, seed::ADA, &lesson.id).await?;
        ada.conn.expect_error(0, "replaced", SIGNAL_TIMEOUT).await?;
        // Eve's refusal below is written by the ticket route, not the lesson's writer: it
        // follows Ada's rows once those are written (events are listed in the order written).
        wait_events(&teacher.api, &lesson.id, 5, SIGNAL_TIMEOUT).await?;
        let eve = signed_in(&server, EVE, seed::PUPIL_PASSWORD).await?;
        match eve.ticket(&lesson.id).await? {
            Err(e) => ensure!(e.code == "consent_missing", "eve: {e}"),
            Ok(_) => bail!("a pupil without consent got a ticket"),
        }
        let ben = Participant::join(&server, seed::BEN, &lesson.id).await?;
        let guest = crate::lobby::admitted_guest(&server, &lesson, VISITOR).await?;
        let b_mark = ben.conn.mark();
        teacher.send("grant", json!({"participant_id": ben.id, "media": "microphone"})).await?;
        ben.conn.wait_type(b_mark, "grants", SIGNAL_TIMEOUT).await?;
        teacher.send("remove", json!({"participant_id": ben.id})).await?;
        ben.conn.wait_type(b_mark, "removed", SIGNAL_TIMEOUT).await?;
        let t_mark = teacher.conn.mark();
        teacher.send("end_lesson", json!({})).await?;
        teacher.conn.wait_type(t_mark, "lesson_ended", SIGNAL_TIMEOUT).await?;

        // A concern, then a correction of it: both kept, neither editable.
        let note_path = format!("/api/log/lessons/{}/notes", lesson.id);
        let concern = json!({"category": "concern", "text": "Ben showed an unsuitable image to the class"});
        let (status, body) = teacher.api.request(Method::POST, &note_path, Some(concern)).await?;
        let note = Api::check(status, body).map_err(|e| anyhow!("concern note: {e}"))?;
        let note_id = note["note"]["id"].as_str().ok_or_else(|| anyhow!("note: {note}"))?.to_owned();
        let fix = json!({"category": "behaviour", "text": "Correction: the image was on a poster behind Ben", "corrects": note_id});
        let (status, body) = teacher.api.request(Method::POST, &note_path, Some(fix)).await?;
        Api::check(status, body).map_err(|e| anyhow!("correction: {e}"))?;
        for method in [Method::PUT, Method::PATCH, Method::DELETE] {
            let (status, _) = teacher.api.request(method.clone(), &format!("{note_path}/{note_id}"), Some(json!({}))).await?;
            ensure!(status == 404 || status == 405, "{method} on a note: {status}");
        }

        let log = wait_ended(&teacher.api, &lesson.id, SIGNAL_TIMEOUT).await?;
        let rivera = "Ms Rivera";
        let chen = "Dr Chen (partner school)";
        assert_eq!(
            event_rows(&log),
            vec![
                row("lesson_started", rivera, "", ""),
                row("admitted", "", rivera, "teacher"),
                row("admitted", "", "Ada", "pupil"),
                row("left", "", "Ada", "reconnected"),
                row("admitted", "", "Ada", "pupil"),
                row("refused", "", "Eve", "consent_missing"),
                row("admitted", "", "Ben", "pupil"),
                row("lobby_waiting", "", chen, ""),
                row("lobby_admitted", rivera, chen, ""),
                row("admitted", "", chen, "guest"),
                row("granted", rivera, "Ben", "microphone"),
                row("removed", rivera, "Ben", ""),
                row("left", "", "Ben", "removed_by_teacher"),
                row("lesson_ended", "", "", "ended_by_teacher"),
            ],
            "events of {log}"
        );
        let intervals: Vec<(String, String, u64, String, bool, String, Value)> = log["intervals"]
            .as_array()
            .ok_or_else(|| anyhow!("no intervals: {log}"))?
            .iter()
            .map(|i| (s(i, "name").into(), s(i, "role").into(), i["sessions"].as_u64().unwrap_or(0), s(i, "end").into(), i["recovered"] == true, s(i, "consent").into(), i["conduct_version"].clone()))
            .collect();
        let want = |n: &str, r: &str, c: u64, e: &str, consent: &str, v: Value| (n.to_owned(), r.to_owned(), c, e.to_owned(), false, consent.to_owned(), v);
        assert_eq!(
            intervals,
            vec![
                want(rivera, "teacher", 1, "lesson_ended", "not_required", Value::Null),
                want("Ada", "pupil", 2, "lesson_ended", "current", json!(1)),
                want("Ben", "pupil", 1, "removed_by_teacher", "current", json!(1)),
                want(chen, "guest", 1, "lesson_ended", "not_required", Value::Null),
            ],
            "intervals of {log}"
        );
        ensure!(log["sessions"].as_array().map(Vec::len) == Some(5), "five connections: {log}");
        ensure!(log["time_zone"] == "Europe/London" && is_local_time(s(&log["lesson"], "started_local")), "local times: {log}");
        ensure!(log["lesson"]["recording_id"].as_str().is_some_and(|r| r.starts_with("rec_")), "recording linked: {log}");
        let notes: Vec<(&str, &str)> = log["notes"].as_array().into_iter().flatten().map(|n| (s(n, "category"), s(n, "corrects"))).collect();
        assert_eq!(notes, vec![("concern", ""), ("behaviour", note_id.as_str())]);
        drop((ada, ada_again, ben, guest));

        // The concern is on the leaders' list at once, with its lesson and recording.
        // Concerns are a leader route: it needs a two-factor session.
        let leader = livegate_tests::recording::leader(&server).await?;
        let concerns = get_json(&leader, "/api/log/concerns").await?;
        let c = &concerns["concerns"][0];
        ensure!(c["id"] == note_id.as_str() && c["lesson_id"] == lesson.id.as_str(), "concern list: {concerns}");
        ensure!(c["recording_id"] == log["lesson"]["recording_id"] && c["class_name"] == "7A Science", "concern links: {concerns}");

        // Exactly the expected CSV, once the recording has completed.
        let rec = s(&log["lesson"], "recording_id").to_owned();
        let ids = [(lesson.id.as_str(), "LESSON"), (rec.as_str(), "REC")];
        let mut user_ids: Vec<(String, String)> = Vec::new();
        for sess in log["sessions"].as_array().into_iter().flatten() {
            user_ids.push((s(sess, "user_id").to_owned(), format!("usr({})", s(sess, "name"))));
        }
        let mut all_ids: Vec<(&str, &str)> = ids.to_vec();
        all_ids.extend(user_ids.iter().map(|(a, b)| (a.as_str(), b.as_str())));
        let intervals_csv = get_text(&teacher.api, "/api/log/intervals.csv").await?;
        assert_eq!(
            normalise(&intervals_csv, &all_ids, Some(8))?,
            "lesson_id,class,lesson_started,participant,user_id,role,joined,left,seconds_present,connections,end,closed_by_recovery,consent,conduct_version,device\n\
             LESSON,7A Science,TIME,Ms Rivera,usr(Ms Rivera),teacher,TIME,TIME,SECONDS,1,lesson_ended,no,not_required,,not given\n\
             LESSON,7A Science,TIME,Ada,usr(Ada),pupil,TIME,TIME,SECONDS,2,lesson_ended,no,current,1,not given\n\
             LESSON,7A Science,TIME,Ben,usr(Ben),pupil,TIME,TIME,SECONDS,1,removed_by_teacher,no,current,1,not given\n\
             LESSON,7A Science,TIME,Dr Chen (partner school),usr(Dr Chen (partner school)),guest,TIME,TIME,SECONDS,1,lesson_ended,no,not_required,,not given\n"
        );
        let deadline = Instant::now() + Duration::from_secs(15);
        let lessons_csv = loop {
            let text = get_text(&teacher.api, "/api/log/lessons.csv").await?;
            if text.contains(",complete,") || Instant::now() > deadline {
                break text;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        };
        assert_eq!(
            normalise(&lessons_csv, &all_ids, None)?,
            "lesson_id,class,started_by,teachers,scheduled_start,scheduled_end,started,ended,end_reason,recording_id,recording_status,pupils_present,refusals,lobby_admissions,removals,notes,concerns\n\
             LESSON,7A Science,Ms Rivera,Ms Rivera,,,TIME,TIME,ended_by_teacher,REC,complete,2,1,1,1,2,1\n"
        );
        server.finish();
        Ok(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_leaves_every_interval_closed_at_the_last_heartbeat_and_marked() {
    run_test_within(Duration::from_secs(60), async {
        let dir = DataDir::new("log-crash")?;
        let mut server = start_server(&dir, &[]).await?;
        let lesson = start_lesson(&server, seed::TEACHER, seed::CLASS_7A).await?;
        let ada = Participant::join(&server, seed::ADA, &lesson.id).await?;
        // Long enough for the lesson to heartbeat its open rows at least once (every 5 s).
        tokio::time::sleep(Duration::from_secs(7)).await;
        server.kill9().await?;
        let lesson_id = lesson.id.clone();
        drop((lesson, ada));
        server.finish();

        let server = start_server(&dir, &[]).await?;
        let teacher = signed_in(&server, seed::TEACHER, seed::TEACHER_PASSWORD).await?;
        let log = wait_ended(&teacher, &lesson_id, Duration::from_secs(10)).await?;
        let l = &log["lesson"];
        ensure!(
            l["end_reason"] == "server_stopped" && l["ended_at"] == l["last_seen"],
            "lesson closed at its last heartbeat: {l}"
        );
        let sessions = log["sessions"]
            .as_array()
            .ok_or_else(|| anyhow!("no sessions: {log}"))?;
        ensure!(sessions.len() == 2, "teacher and Ada: {log}");
        for sess in sessions {
            ensure!(
                sess["recovered"] == true && sess["left_reason"] == "server_stopped",
                "marked: {sess}"
            );
            ensure!(
                sess["left_at"] == sess["last_seen"] && sess["left_at"] == l["ended_at"],
                "closed at the last heartbeat: {sess}"
            );
            ensure!(
                sess["left_at"].as_i64() > sess["joined_at"].as_i64(),
                "a heartbeat happened after the join: {sess}"
            );
        }
        for i in log["intervals"].as_array().into_iter().flatten() {
            ensure!(
                i["recovered"] == true && !i["left_at"].is_null() && i["seconds"].as_i64() >= Some(1),
                "interval: {i}"
            );
        }
        ensure!(
            event_rows(&log).last() == Some(&row("lesson_ended", "", "", "server_stopped")),
            "events: {log}"
        );
        let csv = get_text(&teacher, "/api/log/intervals.csv").await?;
        let rows: Vec<&str> = csv.lines().skip(1).collect();
        ensure!(
            rows.len() == 2 && rows.iter().all(|r| r.contains(",server_stopped,yes,")),
            "CSV marks recovery: {csv}"
        );
        server.finish();
        Ok(())
    })
    .await;
}

/// Every route that shows the log, with the expected answer for someone who may not see
/// this lesson: `(method, path, body)`.
fn log_routes(lesson: &str, pupil: &str) -> Vec<(Method, String, Option<Value>)> {
    vec![
        (Method::GET, "/api/log/lessons".into(), None),
        (Method::GET, format!("/api/log/lessons/{lesson}"), None),
        (
            Method::POST,
            format!("/api/log/lessons/{lesson}/notes"),
            Some(json!({"category": "concern", "text": "a note"})),
        ),
        (Method::GET, format!("/api/log/pupils/{pupil}/attendance"), None),
        (Method::GET, "/api/log/intervals.csv".into(), None),
        (Method::GET, "/api/log/lessons.csv".into(), None),
        (Method::GET, "/api/log/concerns".into(), None),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pupils_visitors_and_other_schools_never_read_the_log() {
    run_test(async {
        let server = Server::start().await?;
        let lesson = start_lesson(&server, seed::TEACHER, seed::CLASS_7A).await?;
        let ada = Participant::join(&server, seed::ADA, &lesson.id).await?;
        let ben = Participant::join(&server, seed::BEN, &lesson.id).await?;
        let t_mark = lesson.teacher.conn.mark();
        lesson.teacher.send("end_lesson", json!({})).await?;
        lesson
            .teacher
            .conn
            .wait_type(t_mark, "lesson_ended", SIGNAL_TIMEOUT)
            .await?;
        let log = wait_ended(&lesson.teacher.api, &lesson.id, SIGNAL_TIMEOUT).await?;
        let ada_id = log["sessions"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|x| x["name"] == "Ada")
            .map(|x| s(x, "user_id").to_owned());
        let ada_id = ada_id.ok_or_else(|| anyhow!("no Ada in {log}"))?;

        // Pupils (even one who was in the lesson, about themself) and visiting staff: forbidden everywhere.
        for (who, api) in [
            ("Ada", &ada.api),
            ("Ben", &ben.api),
            ("visitor", &signed_in(&server, VISITOR, seed::TEACHER_PASSWORD).await?),
        ] {
            for (method, path, body) in log_routes(&lesson.id, &ada_id) {
                let (status, body) = api.request(method.clone(), &path, body).await?;
                ensure!(
                    status == 403 && body["error"]["code"] == "forbidden_role",
                    "{who}: {method} {path} gave {status} {body}"
                );
            }
        }
        // Staff of another school, and a teacher of another class: nothing of this lesson, and
        // not Ada's attendance (nor her name) either.
        let other = signed_in(&server, seed::OTHER_TEACHER, seed::TEACHER_PASSWORD).await?;
        let okafor = signed_in(&server, seed::TEACHER2, seed::TEACHER_PASSWORD).await?;
        for (who, api) in [("other school", &other), ("8b's teacher", &okafor)] {
            // (The CSV exports answer with a header row only: checked below.)
            for (method, path, body) in log_routes(&lesson.id, &ada_id)
                .into_iter()
                .filter(|(_, p, _)| !p.ends_with(".csv"))
            {
                let (status, body) = api.request(method.clone(), &path, body).await?;
                let ok = match path.as_str() {
                    "/api/log/lessons" => status == 200 && body["lessons"] == json!([]),
                    "/api/log/concerns" => status == 403,
                    _ => status == 404 && body["error"]["code"] == "not_found",
                };
                ensure!(ok, "{who}: {method} {path} gave {status} {body}");
            }
            for csv in ["/api/log/intervals.csv", "/api/log/lessons.csv"] {
                let text = get_text(api, csv).await?;
                ensure!(
                    text.lines().count() == 1 && !text.contains(&lesson.id),
                    "{who}: {csv} leaked: {text}"
                );
            }
        }
        // The teacher, the leader and the superuser read it.
        let attendance = get_json(&lesson.teacher.api, &format!("/api/log/pupils/{ada_id}/attendance")).await?;
        ensure!(
            attendance["lessons"][0]["present"] == true && attendance["pupil"]["display_name"] == "Ada",
            "attendance: {attendance}"
        );
        for (email, password) in [(LEADER, LEADER_PASSWORD), (ADMIN, ADMIN_PASSWORD)] {
            let api = signed_in(&server, email, password).await?;
            let list = get_json(&api, "/api/log/lessons?class_id=7a").await?;
            ensure!(list["lessons"][0]["id"] == lesson.id.as_str(), "{email}: {list}");
            get_json(&api, &format!("/api/log/lessons/{}", lesson.id)).await?;
        }
        let admin = signed_in(&server, ADMIN, ADMIN_PASSWORD).await?;
        let (status, body) = admin
            .request(
                Method::POST,
                &format!("/api/log/lessons/{}/notes", lesson.id),
                Some(json!({"category": "concern", "text": "x"})),
            )
            .await?;
        ensure!(status == 403, "a superuser writes no notes: {status} {body}");
        server.finish();
        Ok(())
    })
    .await;
}
