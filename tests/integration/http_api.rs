//! The HTTP API's shapes and error codes (PROTOCOL.md section 1 and 4).

use anyhow::{ensure, Result};
use livegate_core::proto::http::Me;
use livegate_core::proto::LessonState;
use livegate_core::school::Role;
use livegate_tests::{run_test, seed, Api, Server};
use reqwest::Method;
use serde_json::{json, Value};

/// The response must be an error with `code` (and the section 1 error shape).
fn expect_code(what: &str, status: u16, body: &Value, code: &str) -> Result<()> {
    match Api::check(status, body.clone()) {
        Ok(_) => anyhow::bail!("{what}: want error {code}, got {status} {body}"),
        Err(e) => {
            ensure!(e.code == code, "{what}: want {code}, got {e}");
            ensure!(
                body.pointer("/error/message").and_then(Value::as_str).is_some(),
                "{what}: no error.message in {body}"
            );
            ensure!((400..600).contains(&status), "{what}: status {status}");
            Ok(())
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_api_shapes_and_errors() {
    run_test(async {
        let server = Server::start().await?;
        let anon = Api::new(&server);

        let (status, body) = anon.request(Method::GET, "/api/health", None).await?;
        ensure!(
            status == 200 && body == json!({"status": "ok", "protocol": 1}),
            "health: {status} {body}"
        );

        let (status, body) = anon.request(Method::GET, "/api/me", None).await?;
        expect_code("GET /api/me signed out", status, &body, "not_signed_in")?;
        let (status, body) = anon
            .request(Method::POST, "/api/lessons", Some(json!({"class_id": "7a"})))
            .await?;
        expect_code("POST /api/lessons signed out", status, &body, "not_signed_in")?;

        let (status, body) = anon
            .request(
                Method::POST,
                "/api/session",
                Some(json!({"email": seed::ADA, "password": "wrong"})),
            )
            .await?;
        expect_code("wrong password", status, &body, "bad_credentials")?;
        let (status, body) = anon
            .request(
                Method::POST,
                "/api/session",
                Some(json!({"email": "nobody@demo.sch.uk", "password": "demo-pupil"})),
            )
            .await?;
        expect_code("unknown user", status, &body, "bad_credentials")?;
        let (status, body) = anon
            .request(Method::POST, "/api/session", Some(json!({"mail": "x"})))
            .await?;
        expect_code("session body without email", status, &body, "bad_request")?;

        // A teacher signs in, sees her class, starts a lesson; starting again returns it (200).
        let teacher = Api::new(&server);
        let user = teacher.sign_in(seed::TEACHER, seed::TEACHER_PASSWORD).await?;
        ensure!(
            user.role == Role::Teacher && user.display_name == "Ms Rivera",
            "teacher user: {user:?}"
        );
        let (status, me) = teacher.request(Method::GET, "/api/me", None).await?;
        let class = me.get("classes").and_then(Value::as_array).and_then(|c| {
            c.iter()
                .find(|c| c.get("id").and_then(Value::as_str) == Some("7a"))
                .cloned()
        });
        ensure!(status == 200 && class.is_some(), "teacher /api/me: {status} {me}");
        let class = class.unwrap();
        ensure!(
            class.get("can_teach") == Some(&json!(true)) && class.get("live_lesson_id") == Some(&Value::Null),
            "7a before the lesson: {class}"
        );
        let (status, lesson) = teacher.start_lesson("7a").await?;
        ensure!(status == 201, "first start: {status}");
        ensure!(
            lesson.class_id == "7a" && lesson.class_name == "7A Science" && lesson.state == LessonState::Live,
            "LessonSummary: {lesson:?}"
        );
        let (status, again) = teacher.start_lesson("7a").await?;
        ensure!(
            status == 200 && again.id == lesson.id,
            "second start: {status} {again:?}"
        );
        let (status, body) = teacher
            .request(Method::POST, "/api/lessons", Some(json!({"class_id": "no-such-class"})))
            .await?;
        expect_code("unknown class", status, &body, "not_found")?;
        let (status, body) = teacher
            .request(Method::POST, "/api/lessons", Some(json!({"klass": 1})))
            .await?;
        expect_code("lesson body without class_id", status, &body, "bad_request")?;

        // A pupil may not start a lesson, nor see it on her class before the teacher is in it.
        let ada = Api::new(&server);
        ada.sign_in(seed::ADA, seed::PUPIL_PASSWORD).await?;
        let (status, body) = ada
            .request(Method::POST, "/api/lessons", Some(json!({"class_id": "7a"})))
            .await?;
        expect_code("pupil starts a lesson", status, &body, "forbidden_role")?;
        let (_, me) = ada.request(Method::GET, "/api/me", None).await?;
        let me: Me = serde_json::from_value(me)?;
        let live = me
            .classes
            .iter()
            .find(|c| c.id == "7a")
            .and_then(|c| c.live_lesson_id.as_ref());
        // Not yet: a lesson is live for pupils only once its teacher is in it.
        ensure!(
            live.is_none(),
            "ada's /api/me lists the lesson before the teacher is in it: {me:?}"
        );
        // The teacher has not joined yet.
        match ada.ticket(lesson.id.as_str()).await? {
            Ok(t) => anyhow::bail!("ticket while the teacher is absent: {:?}", t.ticket),
            Err(e) => ensure!(e.code == "teacher_absent", "want teacher_absent, got {e}"),
        }
        let (status, body) = ada
            .request(Method::POST, "/api/lessons/no-such-lesson/ticket", None)
            .await?;
        expect_code("ticket for an unknown lesson", status, &body, "not_found")?;

        // Signing out clears the session.
        let (status, _) = ada.request(Method::DELETE, "/api/session", None).await?;
        ensure!(status == 204, "sign-out: {status}");
        let (status, body) = ada.request(Method::GET, "/api/me", None).await?;
        expect_code("GET /api/me after sign-out", status, &body, "not_signed_in")?;
        server.finish();
        Ok(())
    })
    .await;
}
