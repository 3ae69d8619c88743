//! The staff second factor end to end (PROTOCOL.md section 1, "Second factor"): a leader opens
//! a recording only from a two-factor session; the sign-in's second step refuses every bad
//! input (wrong, reused and malformed codes, a recovery code twice, a pending sign-in reused or
//! expired) and is rate limited like passwords; a superuser resets a colleague's factor, audited,
//! never their own; a school can require a second factor of its teachers.

use anyhow::{bail, ensure, Context, Result};
use livegate_tests::mfa::{code_for_step, enrol_totp, sign_in_two_factor, unix_secs};
use livegate_tests::participant::SIGNAL_TIMEOUT;
use livegate_tests::recording::*;
use livegate_tests::{run_test, run_test_within, seed, Api, Participant, Server};
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration;

/// Expects a refusal with this status and code; returns its message.
fn refused(what: &str, got: (u16, Value), status: u16, code: &str) -> Result<String> {
    match Api::check(got.0, got.1) {
        Err(e) if e.status == status && e.code == code => Ok(e.message),
        other => bail!("{what}: expected {status} {code}, got {other:?}"),
    }
}

/// `POST /api/session` with a password: the pending token of a 202.
async fn password_step(api: &Api, email: &str, password: &str) -> Result<String> {
    let (status, body) = api
        .request(
            Method::POST,
            "/api/session",
            Some(json!({"email": email, "password": password})),
        )
        .await?;
    ensure!(status == 202, "password step for {email}: {status} {body}");
    ensure!(body["expires_in_ms"] == json!(300_000), "{body}");
    body["pending"].as_str().map(str::to_owned).context("no pending token")
}

/// `POST /api/session/second-factor` with this body.
async fn second_step(api: &Api, body: Value) -> Result<(u16, Value)> {
    api.request(Method::POST, "/api/session/second-factor", Some(body))
        .await
}

/// The current code of `secret`, one step ahead (the server allows one step of skew), so it is
/// later than any step an enrolment a moment ago spent.
fn fresh_code(secret: &str) -> Result<String> {
    code_for_step(secret, unix_secs() / 30 + 1)
}

/// `GET /api/me`'s `sign_in` part.
async fn sign_in_state(api: &Api) -> Result<Value> {
    let (status, body) = api.request(Method::GET, "/api/me", None).await?;
    ensure!(status == 200, "me: {status} {body}");
    Ok(body["sign_in"].clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_opens_a_recording_only_with_a_second_factor() {
    run_test_within(Duration::from_secs(90), async {
        let dir = DataDir::new("mfa-recording")?;
        let server = start_server(&dir, &[]).await?;
        // A short recorded lesson: Ms Rivera's camera for three seconds.
        let teacher = Api::new(&server);
        teacher.sign_in(seed::TEACHER, seed::TEACHER_PASSWORD).await?;
        let (_, lesson) = teacher.start_lesson(seed::CLASS_7A).await?;
        let id = lesson.id.to_string();
        let teacher = Participant::join_with(&server, teacher, seed::TEACHER, &id).await?;
        let camera = teacher
            .try_publish_with("cam", "camera", true, true, true)
            .await?
            .map_err(|e| anyhow::anyhow!("camera refused: {e}"))?;
        camera.wait_connected(SIGNAL_TIMEOUT).await?;
        tokio::time::sleep(Duration::from_secs(3)).await;
        teacher.send("end_lesson", json!({})).await?;

        let leader = Api::new(&server);
        leader.sign_in(LEADER, LEADER_PASSWORD).await?;
        let state = sign_in_state(&leader).await?;
        ensure!(
            state == json!({"method": "password", "two_factors": false, "totp_enrolled": false, "second_factor_required": true}),
            "{state}"
        );
        let list = leader.request(Method::GET, "/api/recordings", None).await?;
        let message = refused("listing with a password session", list, 403, "mfa_required")?;
        ensure!(message.contains("under Two-step sign-in"), "the refusal says how to enrol: {message}");
        let open = try_open_view(&leader, "rec_0000", json!({"reason": "Concern raised by a parent"})).await?;
        refused("opening with a password session", open, 403, "mfa_required")?;

        // The same leader, once an authenticator is enrolled, opens it.
        enrol_totp(&leader, LEADER).await?;
        ensure!(sign_in_state(&leader).await?["method"] == "password_totp");
        let row = wait_recording(&leader, &id, &["complete"], Duration::from_secs(20)).await?;
        let rec = row["id"].as_str().context("recording id")?;
        let opened = open_view(&leader, rec, "Concern raised by a parent").await?;
        ensure!(opened["streams"].as_array().is_some_and(|s| !s.is_empty()), "{opened}");

        let db = open_db(&dir.db_path()).await?;
        let enrolled = audit(&db, "mfa.enrol").await?;
        ensure!(enrolled.len() == 1 && enrolled[0].detail["factor"] == "totp", "{enrolled:?}");
        ensure!(!enrolled[0].detail.to_string().contains("secret"), "{enrolled:?}");
        Ok(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_second_step_refuses_every_bad_input() {
    run_test(async {
        let dir = DataDir::new("mfa-second-step")?;
        let server = start_server(&dir, &[]).await?;
        let enrolled = Api::new(&server);
        sign_in_two_factor(&enrolled, LEADER, LEADER_PASSWORD).await?;
        let secret = livegate_tests::mfa::enrol_secret(&server, LEADER)?;
        let recovery = livegate_tests::mfa::recovery_codes(&server, LEADER)?;

        // The password alone gives no session.
        let api = Api::new(&server);
        let pending = password_step(&api, LEADER, LEADER_PASSWORD).await?;
        ensure!(
            api.cookie().is_none_or(|c| !c.contains("livegate_session")),
            "a session cookie before the code"
        );
        refused(
            "me after the password",
            api.request(Method::GET, "/api/me", None).await?,
            401,
            "not_signed_in",
        )?;

        let wrong = second_step(&api, json!({"pending": pending, "code": "000000"})).await?;
        refused("wrong code", wrong, 401, "code_invalid").or_else(|e| {
            // 000000 could be the real code once in a million: then it signs in.
            ensure!(fresh_code(&secret)? == "000000", "{e}");
            Ok::<_, anyhow::Error>(String::new())
        })?;
        for (what, body) in [
            ("a short code", json!({"pending": pending, "code": "12345"})),
            ("letters", json!({"pending": pending, "code": "abcdef"})),
        ] {
            refused(what, second_step(&api, body).await?, 401, "code_invalid")?;
        }
        for (what, body) in [
            ("no code", json!({"pending": pending})),
            (
                "both kinds",
                json!({"pending": pending, "code": "123456", "recovery_code": recovery[0]}),
            ),
            (
                "an unknown field",
                json!({"pending": pending, "code": "123456", "remember": true}),
            ),
        ] {
            refused(what, second_step(&api, body).await?, 400, "bad_request")?;
        }
        for (what, token) in [
            ("a malformed token", "nope".to_owned()),
            ("an unknown token", "a".repeat(64)),
        ] {
            let got = second_step(&api, json!({"pending": token, "code": fresh_code(&secret)?})).await?;
            refused(what, got, 401, "pending_sign_in_invalid")?;
        }

        // The right code signs in once; the pending sign-in and the code are then spent.
        let code = fresh_code(&secret)?;
        let (status, body) = second_step(&api, json!({"pending": pending, "code": code})).await?;
        ensure!(status == 200 && body["user"]["role"] == "leader", "{status} {body}");
        ensure!(sign_in_state(&api).await?["method"] == "password_totp");
        let again = second_step(&api, json!({"pending": pending, "code": code})).await?;
        refused("the pending sign-in reused", again, 401, "pending_sign_in_invalid")?;
        let other = Api::new(&server);
        let pending2 = password_step(&other, LEADER, LEADER_PASSWORD).await?;
        let replay = second_step(&other, json!({"pending": pending2, "code": code})).await?;
        refused("the code replayed within its window", replay, 401, "code_reused")?;

        // A recovery code works once, however it is typed.
        let typed = recovery[0].to_uppercase().replace('-', " ");
        let (status, body) = second_step(&other, json!({"pending": pending2, "recovery_code": typed})).await?;
        ensure!(status == 200, "recovery code: {status} {body}");
        let third = Api::new(&server);
        let pending3 = password_step(&third, LEADER, LEADER_PASSWORD).await?;
        let twice = second_step(&third, json!({"pending": pending3, "recovery_code": recovery[0]})).await?;
        refused("a recovery code used twice", twice, 401, "code_invalid")?;

        // An expired pending sign-in is refused even with the right code.
        let db = open_db(&dir.db_path()).await?;
        sqlx::query("UPDATE pending_sign_ins SET expires_at = 0")
            .execute(&db)
            .await?;
        let expired = second_step(&third, json!({"pending": pending3, "recovery_code": recovery[1]})).await?;
        refused("an expired pending sign-in", expired, 401, "pending_sign_in_invalid")?;

        // Every use is audited, with its kind and outcome and never the code.
        let uses = audit(&db, "mfa.use").await?;
        let outcomes: Vec<(String, bool)> = uses
            .iter()
            .map(|e| {
                (
                    e.detail["via"].as_str().unwrap_or("").to_owned(),
                    e.detail["ok"] == json!(true),
                )
            })
            .collect();
        ensure!(outcomes.iter().any(|(via, ok)| via == "totp" && *ok), "{outcomes:?}");
        ensure!(outcomes.iter().any(|(via, ok)| via == "totp" && !*ok), "{outcomes:?}");
        ensure!(
            outcomes.iter().any(|(via, ok)| via == "recovery_code" && *ok),
            "{outcomes:?}"
        );
        ensure!(
            outcomes.iter().any(|(via, ok)| via == "recovery_code" && !*ok),
            "{outcomes:?}"
        );
        let text = format!("{uses:?}");
        ensure!(
            !text.contains(&code) && !text.contains(&recovery[0]),
            "a code in the audit: {text}"
        );
        Ok(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guessing_codes_is_held_like_guessing_passwords() {
    run_test(async {
        let server = Server::start().await?;
        let enrolled = Api::new(&server);
        sign_in_two_factor(&enrolled, LEADER, LEADER_PASSWORD).await?;
        let secret = livegate_tests::mfa::enrol_secret(&server, LEADER)?;
        let api = Api::new(&server);
        let pending = password_step(&api, LEADER, LEADER_PASSWORD).await?;
        let right = fresh_code(&secret)?;
        let wrong = if right == "111111" { "222222" } else { "111111" };
        // The default limit: 5 failures per email from one address.
        for n in 0..5 {
            let got = second_step(&api, json!({"pending": pending, "code": wrong})).await?;
            refused(&format!("guess {n}"), got, 401, "code_invalid")?;
        }
        let url = format!("{}/api/session/second-factor", server.http_base);
        let res = reqwest::Client::new()
            .post(&url)
            .json(&json!({"pending": pending, "code": right}))
            .send()
            .await?;
        ensure!(res.status() == 429, "the sixth try, even right: {}", res.status());
        ensure!(res.headers().contains_key("retry-after"), "no Retry-After");
        let body: Value = res.json().await?;
        ensure!(body["error"]["code"] == "too_many_attempts", "{body}");
        // The pending sign-in was not spent by the held attempt.
        ensure!(
            sign_in_state(&enrolled).await?["two_factors"] == true,
            "the owner's session is untouched"
        );
        Ok(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_superuser_resets_a_colleagues_factor_audited_never_their_own() {
    run_test(async {
        let dir = DataDir::new("mfa-reset")?;
        let server = start_server(&dir, &[]).await?;
        let db = open_db(&dir.db_path()).await?;
        let (leader_id, admin_id) = (user_id(&db, LEADER).await?, user_id(&db, ADMIN).await?);
        let leader = Api::new(&server);
        sign_in_two_factor(&leader, LEADER, LEADER_PASSWORD).await?;
        let reset = |id: &str| format!("/api/admin/users/{id}/second-factor/reset");

        // A superuser signed in with a password alone cannot reset anyone's factor.
        let admin = Api::new(&server);
        admin.sign_in(ADMIN, ADMIN_PASSWORD).await?;
        ensure!(sign_in_state(&admin).await?["second_factor_required"] == true);
        let got = admin.request(Method::POST, &reset(&leader_id), None).await?;
        refused("reset from a password session", got, 403, "mfa_required")?;

        enrol_totp(&admin, ADMIN).await?;
        let got = admin.request(Method::POST, &reset(&admin_id), None).await?;
        refused("resetting one's own factor", got, 403, "mfa_reset_own")?;
        ensure!(audit(&db, "mfa.reset").await?.is_empty(), "a refused reset was audited");

        let (status, body) = admin.request(Method::POST, &reset(&leader_id), None).await?;
        ensure!(status == 204, "reset: {status} {body}");
        let entries = audit(&db, "mfa.reset").await?;
        ensure!(entries.len() == 1, "{entries:?}");
        ensure!(
            entries[0].actor == admin_id && entries[0].detail["user"] == leader_id.as_str(),
            "{entries:?}"
        );
        // The leader is signed out everywhere and signs in with the password alone, needing to enrol again.
        let me = leader.request(Method::GET, "/api/me", None).await?;
        refused("the leader's old session", me, 401, "not_signed_in")?;
        let again = Api::new(&server);
        again.sign_in(LEADER, LEADER_PASSWORD).await?;
        let state = sign_in_state(&again).await?;
        ensure!(
            state["totp_enrolled"] == false && state["two_factors"] == false,
            "{state}"
        );
        let got = admin.request(Method::POST, &reset(&leader_id), None).await?;
        refused("resetting a factor that is not there", got, 404, "not_found")?;
        let got = admin.request(Method::POST, &reset("usr_nobody"), None).await?;
        refused("resetting an unknown user", got, 404, "not_found")?;
        Ok(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_school_can_require_a_second_factor_of_its_teachers() {
    run_test(async {
        let dir = DataDir::new("mfa-teachers")?;
        let server = start_server(&dir, &[]).await?;
        let teacher = Api::new(&server);
        teacher.sign_in(seed::TEACHER, seed::TEACHER_PASSWORD).await?;
        let admin = Api::new(&server);
        sign_in_two_factor(&admin, ADMIN, ADMIN_PASSWORD).await?;
        let (status, body) = admin.request(Method::GET, "/api/admin/second-factor", None).await?;
        ensure!(
            status == 200 && body == json!({"teachers_required": false}),
            "{status} {body}"
        );
        for bad in [
            json!({}),
            json!({"teachers_required": "yes"}),
            json!({"teachers_required": true, "x": 1}),
        ] {
            let got = admin
                .request(Method::PUT, "/api/admin/second-factor", Some(bad))
                .await?;
            refused("a malformed setting", got, 400, "bad_request")?;
        }
        let refusal = teacher
            .request(
                Method::PUT,
                "/api/admin/second-factor",
                Some(json!({"teachers_required": false})),
            )
            .await?;
        refused("a teacher changing the setting", refusal, 403, "forbidden_role")?;

        let on = json!({"teachers_required": true});
        let (status, body) = admin
            .request(Method::PUT, "/api/admin/second-factor", Some(on.clone()))
            .await?;
        ensure!(status == 200 && body == on, "{status} {body}");
        let db = open_db(&dir.db_path()).await?;
        ensure!(audit(&db, "school.second_factor").await?.len() == 1);

        ensure!(sign_in_state(&teacher).await?["second_factor_required"] == true);
        let start = teacher
            .request(Method::POST, "/api/lessons", Some(json!({"class_id": "7a"})))
            .await?;
        refused("starting a lesson with a password session", start, 403, "mfa_required")?;
        enrol_totp(&teacher, seed::TEACHER).await?;
        let (status, _) = teacher.start_lesson(seed::CLASS_7A).await?;
        ensure!(status == 201, "start after enrolling: {status}");
        Ok(())
    })
    .await;
}
