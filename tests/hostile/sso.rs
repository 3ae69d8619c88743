//! Sign-in with a school account under attack (issue 16): forged, foreign and replayed answers
//! from the provider get their code, no session and so no media, while a pupil already in the
//! lesson keeps receiving and an honest pupil signs in with their school account and receives
//! the lesson; and a flood of sign-ins in flight from one address is bounded without holding
//! anyone else back. Each case runs its own server, registered with the suite's OpenID provider.

use anyhow::{ensure, Context, Result};
use livegate_tests::oidc_provider::{OidcProvider, Outcome, Person, SsoBrowser, Tamper, CONSUMER_TENANT};
use livegate_tests::participant::{live_7a_with_camera, pupil_receives_teacher_camera, SIGNAL_TIMEOUT};
use livegate_tests::{seed, Api, Participant, Server};
use serde_json::json;
use std::time::Duration;

use crate::fixture::{own_case_within, ADMIN, ADMIN_PASSWORD};

const TENANT: &str = "0f4a3c2e-1b2d-4e5f-8a9b-0c1d2e3f4a5b";
const OTHER_TENANT: &str = "5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9";

/// A demo server whose school signs in with Microsoft at the test provider.
async fn microsoft_school(pupils_password: bool) -> Result<(Server, OidcProvider)> {
    let op = OidcProvider::start().await?;
    let server = Server::launch("demo", &[], &op.livegate_env()).await?;
    let admin = Api::new(&server);
    admin.sign_in(ADMIN, ADMIN_PASSWORD).await?;
    let body = json!({"provider": "microsoft", "directory": TENANT,
        "email_domains": ["pupils.demo.sch.uk", "demo.sch.uk"], "enabled": true, "pupils_password": pupils_password});
    let got = Api::check_code(
        admin
            .request(reqwest::Method::PUT, "/api/admin/sso", Some(body))
            .await?,
    );
    ensure!(got.0 == 200, "saving the sign-in settings: {got:?}");
    Ok((server, op))
}

#[test]
fn forged_foreign_and_replayed_sign_ins_get_no_session_and_no_media() {
    own_case_within(Duration::from_secs(120), async {
        let (server, op) = microsoft_school(true).await?;
        let (lesson, _camera) = live_7a_with_camera(&server).await.context("7a with camera")?;
        let (_dev, control) = pupil_receives_teacher_camera(&server, &lesson, seed::DEV).await?;
        let ada = || Person::microsoft("sub-ada", seed::ADA);
        let attacks = [
            (
                ada(),
                Some(Tamper::Issuer(op.microsoft_issuer(OTHER_TENANT))),
                "sso_other_organisation",
            ),
            (
                ada(),
                Some(Tamper::Issuer(op.microsoft_issuer(CONSUMER_TENANT))),
                "sso_consumer_account",
            ),
            (
                ada(),
                Some(Tamper::Issuer(format!("{}/common/v2.0", op.base()))),
                "sso_wrong_issuer",
            ),
            (ada(), Some(Tamper::AlgNone), "sso_unsigned_token"),
            (ada(), Some(Tamper::BadSignature), "sso_bad_signature"),
            (ada(), Some(Tamper::Audience), "sso_wrong_audience"),
        ];
        for (person, tamper, want) in attacks {
            op.sign_in_as(person);
            if let Some(t) = tamper {
                op.tamper(t);
            }
            let attacker = SsoBrowser::new(&server.http_base);
            let got = attacker.sign_in("microsoft", seed::ADA).await?;
            ensure!(got == Outcome::Refused(want.into()), "{want}: got {got:?}");
            ensure!(
                attacker.session_cookie().is_none() && attacker.me().await?.0 == 401,
                "{want}: no session"
            );
        }
        // A callback URL stolen from Ada's sign-in is no use to anyone else.
        op.sign_in_as(ada());
        let owner = SsoBrowser::new(&server.http_base);
        let back = owner.approve("microsoft", seed::ADA).await?;
        let thief = SsoBrowser::new(&server.http_base);
        ensure!(thief.callback(&back).await? == Outcome::Refused("sso_state_mismatch".into()));
        let thief_api = Api::new(&server);
        ensure!(
            Api::check_code(
                thief_api
                    .request(
                        reqwest::Method::POST,
                        &format!("/api/lessons/{}/ticket", lesson.id),
                        None
                    )
                    .await?
            ) == (401, "not_signed_in".into())
        );
        // Dev kept receiving throughout.
        let before = control.stats.video();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while control.stats.video() < before + 15 {
            ensure!(
                tokio::time::Instant::now() < deadline,
                "the control pupil stopped receiving"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // Ada finishes her own sign-in, joins with that session and receives the camera.
        ensure!(owner.callback(&back).await? == Outcome::SignedIn);
        let api = Api::new(&server);
        api.add_cookie(&owner.session_cookie().context("Ada's session cookie")?);
        let pupil = Participant::join_with(&server, api, seed::ADA, &lesson.id).await?;
        ensure!(pupil.role == "pupil");
        let sub = pupil
            .wait_stream_from(0, &lesson.teacher.id, "camera", SIGNAL_TIMEOUT)
            .await?;
        sub.wait_media(10, 5, Duration::from_secs(20))
            .await
            .context("Ada receives the camera")?;
        server.finish();
        Ok(())
    });
}

#[test]
fn sign_ins_in_flight_from_one_address_are_bounded() {
    own_case_within(Duration::from_secs(120), async {
        let (server, _op) = microsoft_school(false).await?;
        let flood = SsoBrowser::from_address(&server.http_base, Some([127, 0, 0, 2].into()));
        let mut limited = 0;
        for _ in 0..210 {
            let (status, body) = flood.start("microsoft", seed::ADA).await?;
            match status {
                200 => {}
                429 if body["error"]["code"] == "rate_limited" => limited += 1,
                other => anyhow::bail!("start answered {other}: {body}"),
            }
        }
        ensure!(
            limited == 10,
            "200 in flight from one address, then rate_limited: {limited} refused"
        );
        let neighbour = SsoBrowser::from_address(&server.http_base, Some([127, 0, 0, 3].into()));
        ensure!(
            neighbour.start("microsoft", seed::BEN).await?.0 == 200,
            "another address is not held"
        );
        // Passwords are off for pupils here, on for staff.
        let pupil = Api::new(&server);
        let got = pupil
            .request(
                reqwest::Method::POST,
                "/api/session",
                Some(json!({"email": seed::BEN, "password": seed::PUPIL_PASSWORD})),
            )
            .await?;
        ensure!(Api::check_code(got) == (403, "password_sign_in_off".into()));
        Api::new(&server).sign_in(seed::TEACHER, seed::TEACHER_PASSWORD).await?;
        server.finish();
        Ok(())
    });
}
