//! The admission gate at the ticket route and at `join`: off-roster pupils, pupils of another
//! class, users of another school, and single-use, unforgeable tickets.

use anyhow::{anyhow, ensure, Result};
use livegate_tests::participant::{
    live_7a_with_camera, open_and_join, open_and_join_as, pupil_receives_teacher_camera, start_lesson, SIGNAL_TIMEOUT,
};
use livegate_tests::signal::msg_type;
use livegate_tests::{run_test, seed, Api, HttpError, Server};
use serde_json::Value;
use std::time::Duration;

/// The ticket request must be refused with `status` and `code`.
async fn expect_ticket_refused(api: &Api, lesson_id: &str, status: u16, code: &str) -> Result<HttpError> {
    match api.ticket(lesson_id).await? {
        Ok(t) => Err(anyhow!("ticket granted ({:?}); want {status} {code}", t.ticket)),
        Err(e) => {
            ensure!(e.code == code && e.status == status, "want {status} {code}, got {e}");
            ensure!(
                e.message != "<missing error.message>",
                "error body lacks error.message: {}",
                e.body
            );
            Ok(e)
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owen_not_on_roster_is_refused_and_gets_no_media() {
    run_test(async {
        let server = Server::start().await?;
        let (lesson, _camera) = live_7a_with_camera(&server).await?;
        // Media is flowing in the lesson.
        let (_ada, _) = pupil_receives_teacher_camera(&server, &lesson, seed::ADA).await?;

        let owen = Api::new(&server);
        owen.sign_in(seed::OWEN, seed::PUPIL_PASSWORD).await?;
        expect_ticket_refused(&owen, &lesson.id, 403, "not_on_roster").await?;

        // He cannot see the lesson either.
        let (status, body) = owen
            .request(reqwest::Method::GET, &format!("/api/lessons/{}", lesson.id), None)
            .await?;
        ensure!(
            !(200..300).contains(&status),
            "owen may read the lesson: {status} {body}"
        );

        // Without a ticket of his own he cannot join over the socket, and is offered nothing.
        let (conn, reply) = open_and_join(&server, "owen", "/ws", "not-a-real-ticket-for-owen", 1).await?;
        ensure!(
            msg_type(&reply) == "error" && reply.get("code").and_then(Value::as_str) == Some("ticket_invalid"),
            "owen's join: {reply}"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
        let msgs = conn.messages();
        ensure!(
            msgs.iter().all(|m| !matches!(msg_type(m), "joined" | "offer")),
            "owen got {msgs:?}"
        );
        ensure!(conn.subscriptions().is_empty(), "owen has a media subscription");
        server.finish();
        Ok(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pupil_of_7a_cannot_get_ticket_for_8b_lesson() {
    run_test(async {
        let server = Server::start().await?;
        let history = start_lesson(&server, seed::TEACHER2, seed::CLASS_8B).await?;
        let science = start_lesson(&server, seed::TEACHER, seed::CLASS_7A).await?;

        let ada = Api::new(&server);
        ada.sign_in(seed::ADA, seed::PUPIL_PASSWORD).await?;
        expect_ticket_refused(&ada, &history.id, 403, "not_on_roster").await?;
        // Positive control: she is admitted to her own class's lesson.
        ada.must_ticket(&science.id).await?;

        let zoe = Api::new(&server);
        zoe.sign_in(seed::ZOE, seed::PUPIL_PASSWORD).await?;
        expect_ticket_refused(&zoe, &science.id, 403, "not_on_roster").await?;
        zoe.must_ticket(&history.id).await?;
        server.finish();
        Ok(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_school_cannot_get_ticket_for_7a_lesson() {
    run_test(async {
        let server = Server::start().await?;
        let lesson = start_lesson(&server, seed::TEACHER, seed::CLASS_7A).await?;
        // The seed has no pupil at Other School, so its teacher stands in for one.
        let other = Api::new(&server);
        other.sign_in(seed::OTHER_TEACHER, seed::TEACHER_PASSWORD).await?;
        expect_ticket_refused(&other, &lesson.id, 403, "wrong_school").await?;
        drop(lesson);
        server.finish();
        Ok(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tickets_are_single_use_and_unforgeable() {
    run_test(async {
        let server = Server::start().await?;
        let (lesson, _camera) = live_7a_with_camera(&server).await?;

        let ada = Api::new(&server);
        ada.sign_in(seed::ADA, seed::PUPIL_PASSWORD).await?;
        let ticket = ada.must_ticket(&lesson.id).await?;
        ensure!(
            ticket.expires_in_ms > 0 && ticket.expires_in_ms <= 30_000,
            "expires_in_ms = {}",
            ticket.expires_in_ms
        );
        ensure!(
            ticket.ticket.len() >= 16,
            "ticket too short to carry 128 bits: {:?}",
            ticket.ticket
        );
        let (first, reply) = open_and_join_as(&ada, &server, "ada#1", &ticket.ws_path, &ticket.ticket, 1).await?;
        ensure!(msg_type(&reply) == "joined", "first use of the ticket: {reply}");

        // Second use of the same ticket.
        let (_second, reply) = open_and_join_as(&ada, &server, "ada#2", &ticket.ws_path, &ticket.ticket, 1).await?;
        ensure!(
            msg_type(&reply) == "error" && reply.get("code").and_then(Value::as_str) == Some("ticket_invalid"),
            "reused ticket: want error ticket_invalid, got {reply}"
        );
        // The refused reuse must not have replaced the first socket.
        first.ping_pong(SIGNAL_TIMEOUT).await?;
        ensure!(
            first.messages().iter().all(|m| msg_type(m) != "error"),
            "first socket got an error after the reuse attempt: {:?}",
            first.messages()
        );

        // Forged and empty tickets.
        for forged in ["AAAAAAAAAAAAAAAAAAAAAA", "", &format!("{}x", ticket.ticket)] {
            let (_c, reply) = open_and_join(&server, "forger", "/ws", forged, 1).await?;
            ensure!(
                msg_type(&reply) == "error" && reply.get("code").and_then(Value::as_str) == Some("ticket_invalid"),
                "ticket {forged:?}: want error ticket_invalid, got {reply}"
            );
        }

        // The server still serves a normal pupil.
        pupil_receives_teacher_camera(&server, &lesson, seed::DEV).await?;
        server.finish();
        Ok(())
    })
    .await;
}
