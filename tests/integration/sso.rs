//! Sign-in with the school's Microsoft or Google account, against the suite's own OpenID
//! provider (`livegate_tests::oidc_provider`): the honest pupil signs in, is linked once and
//! then found by identity; every bad answer (issuer, audience, times, signature, `alg: none`,
//! unknown key, replayed code, state, nonce, tenant or `hd` of another organisation,
//! unverified email, nobody of that school, a user of another school, a disabled account) is
//! refused with its code and changes nothing, for both shapes; key rotation is followed with
//! one fetch of the keys; a school can turn passwords off for its pupils.

use anyhow::{ensure, Result};
use livegate_tests::oidc_provider::{OidcProvider, Outcome, Person, SsoBrowser, Tamper, CONSUMER_TENANT};
use livegate_tests::{run_test, Api, Server};
use reqwest::Method;
use serde_json::{json, Value};

const TENANT: &str = "0f4a3c2e-1b2d-4e5f-8a9b-0c1d2e3f4a5b";
const OTHER_TENANT: &str = "5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9";
const GOOGLE_DOMAIN: &str = "demo.sch.uk";
const ADA: &str = "ada@pupils.demo.sch.uk";

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Shape {
    Microsoft,
    Google,
}

impl Shape {
    fn name(self) -> &'static str {
        match self {
            Shape::Microsoft => "microsoft",
            Shape::Google => "google",
        }
    }

    fn person(self, sub: &str, email: &str) -> Person {
        match self {
            Shape::Microsoft => Person::microsoft(sub, email),
            Shape::Google => Person::google(sub, email, GOOGLE_DOMAIN),
        }
    }
}

/// A demo server registered with a fresh provider, its school set to `shape`, and the
/// superuser's client.
async fn school_with(shape: Shape) -> Result<(Server, OidcProvider, Api)> {
    let op = OidcProvider::start().await?;
    let server = Server::launch("demo", &[], &op.livegate_env()).await?;
    let admin = Api::new(&server);
    admin.sign_in("admin@demo.sch.uk", "demo-admin").await?;
    let directory = match shape {
        Shape::Microsoft => TENANT,
        Shape::Google => GOOGLE_DOMAIN,
    };
    let body = json!({"provider": shape.name(), "directory": directory,
        "email_domains": ["pupils.demo.sch.uk", "demo.sch.uk"], "enabled": true, "pupils_password": false});
    let (status, answer) = admin.request(Method::PUT, "/api/admin/sso", Some(body)).await?;
    ensure!(status == 200, "saving the settings: {status} {answer}");
    Ok((server, op, admin))
}

/// The school's linked identities, as the superuser's page lists them.
async fn linked(admin: &Api) -> Result<Vec<Value>> {
    let (_, body) = admin.request(Method::GET, "/api/admin/sso", None).await?;
    Ok(body["linked"].as_array().cloned().unwrap_or_default())
}

/// One refused sign-in: the code the page shows; the browser is not signed in and nobody was
/// linked.
async fn refused(
    server: &Server,
    op: &OidcProvider,
    admin: &Api,
    shape: Shape,
    person: Person,
    tamper: Option<Tamper>,
) -> Result<String> {
    let before = linked(admin).await?.len();
    op.sign_in_as(person);
    if let Some(t) = tamper {
        op.tamper(t);
    }
    let browser = SsoBrowser::new(&server.http_base);
    let outcome = browser.sign_in(shape.name(), ADA).await?;
    let Outcome::Refused(code) = outcome else {
        anyhow::bail!("signed in when it should not have")
    };
    ensure!(
        browser.me().await?.0 == 401,
        "{code}: the refused browser has no session"
    );
    ensure!(linked(admin).await?.len() == before, "{code}: a refusal linked nobody");
    Ok(code)
}

/// Every bad answer of one shape, then the honest pupil beside them still signs in.
async fn bad_answers_are_refused(shape: Shape) -> Result<()> {
    let (server, op, admin) = school_with(shape).await?;
    let ada = || shape.person("sub-ada", ADA);
    let issuer = match shape {
        Shape::Microsoft => op.microsoft_issuer(TENANT),
        Shape::Google => op.google_issuer(),
    };
    let mut cases: Vec<(&str, Person, Option<Tamper>)> = vec![
        (
            "sso_wrong_issuer",
            ada(),
            Some(Tamper::Issuer("https://evil.example".into())),
        ),
        (
            "sso_wrong_issuer",
            ada(),
            Some(Tamper::Issuer(format!("{issuer}/extra"))),
        ),
        ("sso_wrong_audience", ada(), Some(Tamper::Audience)),
        ("sso_token_expired", ada(), Some(Tamper::Expired)),
        ("sso_token_expired", ada(), Some(Tamper::NotYetValid)),
        ("sso_bad_signature", ada(), Some(Tamper::BadSignature)),
        ("sso_unsigned_token", ada(), Some(Tamper::AlgNone)),
        ("sso_unknown_key", ada(), Some(Tamper::UnknownKid)),
        ("sso_nonce_mismatch", ada(), Some(Tamper::Nonce)),
        (
            "sso_unknown_person",
            shape.person("sub-x", "nobody@pupils.demo.sch.uk"),
            None,
        ),
        (
            "sso_other_school",
            shape.person("sub-yan", "yan@pupils.other.sch.uk"),
            None,
        ),
    ];
    match shape {
        Shape::Microsoft => cases.extend([
            (
                "sso_wrong_issuer",
                ada(),
                Some(Tamper::Issuer(format!("{}/common/v2.0", op.base()))),
            ),
            (
                "sso_other_organisation",
                ada(),
                Some(Tamper::Issuer(op.microsoft_issuer(OTHER_TENANT))),
            ),
            (
                "sso_other_organisation",
                Person {
                    tid: Some(OTHER_TENANT.into()),
                    ..ada()
                },
                None,
            ),
            (
                "sso_consumer_account",
                ada(),
                Some(Tamper::Issuer(op.microsoft_issuer(CONSUMER_TENANT))),
            ),
            (
                "sso_email_unverified",
                Person {
                    xms_edov: Some(false),
                    ..ada()
                },
                None,
            ),
            (
                "sso_email_unverified",
                Person {
                    xms_edov: None,
                    ..ada()
                },
                None,
            ),
        ]),
        Shape::Google => cases.extend([
            (
                "sso_other_organisation",
                Person {
                    hd: Some("other.sch.uk".into()),
                    ..ada()
                },
                None,
            ),
            ("sso_other_organisation", Person { hd: None, ..ada() }, None),
            (
                "sso_email_unverified",
                Person {
                    email_verified: Some(false),
                    ..ada()
                },
                None,
            ),
        ]),
    }
    for (want, person, tamper) in cases {
        let what = format!("{tamper:?}");
        let got = refused(&server, &op, &admin, shape, person, tamper).await?;
        ensure!(got == want, "{shape:?} {what}: expected {want}, got {got}");
    }
    // The honest pupil beside them signs in, and is linked once.
    op.sign_in_as(ada());
    let browser = SsoBrowser::new(&server.http_base);
    ensure!(
        browser.sign_in(shape.name(), ADA).await? == Outcome::SignedIn,
        "the honest pupil signs in"
    );
    let (status, me) = browser.me().await?;
    ensure!(
        status == 200 && me["user"]["role"] == "pupil",
        "signed in as the pupil: {status} {me}"
    );
    ensure!(linked(&admin).await?.len() == 1, "one identity linked");
    // A disabled account is refused even though its identity is linked.
    let users = admin.request(Method::GET, "/api/admin/users", None).await?.1;
    let id = users["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["email"] == ADA)
        .unwrap()["id"]
        .clone();
    let path = format!("/api/admin/users/{}", id.as_str().unwrap());
    let (status, _) = admin
        .request(Method::PATCH, &path, Some(json!({"disabled": true})))
        .await?;
    ensure!(status == 200, "disabling the pupil: {status}");
    ensure!(refused(&server, &op, &admin, shape, ada(), None).await? == "account_disabled");
    server.finish();
    Ok(())
}

#[tokio::test]
async fn sso_microsoft_bad_answers_are_refused() {
    run_test(bad_answers_are_refused(Shape::Microsoft)).await;
}

#[tokio::test]
async fn sso_google_bad_answers_are_refused() {
    run_test(bad_answers_are_refused(Shape::Google)).await;
}

#[tokio::test]
async fn sso_pupil_is_linked_once_then_known_by_identity_and_passwords_can_be_off() {
    run_test(async {
        let (server, op, admin) = school_with(Shape::Microsoft).await?;
        op.sign_in_as(Person {
            amr: Some(vec!["pwd".into(), "mfa".into()]),
            ..Person::microsoft("sub-ada", ADA)
        });
        let browser = SsoBrowser::new(&server.http_base);
        ensure!(browser.sign_in("microsoft", ADA).await? == Outcome::SignedIn);
        let people = linked(&admin).await?;
        ensure!(
            people.len() == 1 && people[0]["email"] == ADA,
            "Ada is linked: {people:?}"
        );
        ensure!(people[0]["issuer"] == op.microsoft_issuer(TENANT).as_str());
        // Later the provider's email changes (or is not vouched for): the identity still finds Ada.
        op.sign_in_as(Person {
            email: Some("renamed@pupils.demo.sch.uk".into()),
            xms_edov: None,
            ..Person::microsoft("sub-ada", ADA)
        });
        let again = SsoBrowser::new(&server.http_base);
        ensure!(again.sign_in("microsoft", ADA).await? == Outcome::SignedIn);
        ensure!(again.me().await?.1["user"]["display_name"] == browser.me().await?.1["user"]["display_name"]);
        // Passwords are off for this school's pupils, not for its staff.
        let pupil = Api::new(&server);
        let (status, body) = pupil
            .request(
                Method::POST,
                "/api/session",
                Some(json!({"email": ADA, "password": "demo-pupil"})),
            )
            .await?;
        ensure!(Api::check_code((status, body)) == (403, "password_sign_in_off".into()));
        Api::new(&server).sign_in("teacher@demo.sch.uk", "demo-teacher").await?;
        // Unlinking is the superuser's; the next sign-in links again by email.
        let id = people[0]["user_id"].as_str().unwrap();
        let (status, _) = admin
            .request(Method::DELETE, &format!("/api/admin/users/{id}/identities"), None)
            .await?;
        ensure!(status == 204 && linked(&admin).await?.is_empty(), "unlinked");
        let (status, _) = admin
            .request(Method::DELETE, &format!("/api/admin/users/{id}/identities"), None)
            .await?;
        ensure!(status == 404, "nothing left to unlink");
        server.finish();
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn sso_state_code_and_browser_binding() {
    run_test(async {
        let (server, op, admin) = school_with(Shape::Microsoft).await?;
        op.sign_in_as(Person::microsoft("sub-ada", ADA));
        let owner = SsoBrowser::new(&server.http_base);
        let back = owner.approve("microsoft", ADA).await?;
        // A stranger who got hold of the callback URL cannot spend it, and the owner still can.
        let stranger = SsoBrowser::new(&server.http_base);
        ensure!(stranger.callback(&back).await? == Outcome::Refused("sso_state_mismatch".into()));
        ensure!(stranger.me().await?.0 == 401);
        ensure!(owner.callback(&back).await? == Outcome::SignedIn, "the owner finishes");
        // The same answer again: the state is spent.
        let replay = SsoBrowser::new(&server.http_base);
        let back2 = replay.approve("microsoft", ADA).await?;
        ensure!(replay.callback(&back2).await? == Outcome::SignedIn);
        ensure!(replay.callback(&back2).await? == Outcome::Refused("sso_state_mismatch".into()));
        // The old code with a fresh state: the provider refuses a code used once.
        let old_code = back2
            .split("code=")
            .nth(1)
            .unwrap()
            .split('&')
            .next()
            .unwrap()
            .to_owned();
        let fresh = replay.approve("microsoft", ADA).await?;
        let state = fresh.split("state=").nth(1).unwrap();
        let forged = format!("{}/api/sso/callback?code={old_code}&state={state}", server.http_base);
        ensure!(replay.callback(&forged).await? == Outcome::Refused("sso_code_invalid".into()));
        // An unknown state, a malformed one, and a cancelled sign-in.
        let base = &server.http_base;
        let unknown = format!("{base}/api/sso/callback?code=x&state={}", "ab".repeat(32));
        ensure!(owner.callback(&unknown).await? == Outcome::Refused("sso_state_mismatch".into()));
        ensure!(
            owner
                .callback(&format!("{base}/api/sso/callback?code=x&state=../x"))
                .await?
                == Outcome::Refused("sso_state_mismatch".into())
        );
        let cancel = owner.approve("microsoft", ADA).await?;
        let state = cancel.split("state=").nth(1).unwrap();
        let cancelled = format!("{base}/api/sso/callback?error=access_denied&state={state}");
        ensure!(owner.callback(&cancelled).await? == Outcome::Refused("sso_cancelled".into()));
        ensure!(linked(&admin).await?.len() == 1, "only the one identity");
        server.finish();
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn sso_rotated_keys_are_fetched_once_and_unknown_keys_refused() {
    run_test(async {
        let (server, op, admin) = school_with(Shape::Google).await?;
        op.sign_in_as(Shape::Google.person("sub-ada", ADA));
        ensure!(SsoBrowser::new(&server.http_base).sign_in("google", ADA).await? == Outcome::SignedIn);
        let fetched = op.key_fetches();
        op.rotate_keys("key-2").await?;
        ensure!(
            SsoBrowser::new(&server.http_base).sign_in("google", ADA).await? == Outcome::SignedIn,
            "a rotated key"
        );
        ensure!(op.key_fetches() == fetched + 1, "the new key was fetched once");
        ensure!(SsoBrowser::new(&server.http_base).sign_in("google", ADA).await? == Outcome::SignedIn);
        ensure!(op.key_fetches() == fetched + 1, "and then kept");
        let code = refused(
            &server,
            &op,
            &admin,
            Shape::Google,
            Shape::Google.person("sub-ada", ADA),
            Some(Tamper::UnknownKid),
        )
        .await?;
        ensure!(
            code == "sso_unknown_key" && op.key_fetches() == fetched + 2,
            "one more fetch, then refused"
        );
        server.finish();
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn sso_start_and_settings_refusals() {
    run_test(async {
        let (server, _op, admin) = school_with(Shape::Microsoft).await?;
        let browser = SsoBrowser::new(&server.http_base);
        let code = |(s, b): (u16, Value)| (s, b["error"]["code"].as_str().unwrap_or("").to_owned());
        ensure!(code(browser.start("microsoft", "x@unknown.example").await?) == (404, "sso_not_configured".into()));
        ensure!(code(browser.start("google", ADA).await?) == (404, "sso_not_configured".into()), "the school uses Microsoft");
        ensure!(code(browser.start("microsoft", "not an email").await?) == (400, "bad_request".into()));
        for tenant in ["common", "organizations", CONSUMER_TENANT, "{tenantid}", ""] {
            let body = json!({"provider": "microsoft", "directory": tenant, "email_domains": ["demo.sch.uk"], "enabled": true, "pupils_password": true});
            let got = Api::check_code(admin.request(Method::PUT, "/api/admin/sso", Some(body)).await?);
            ensure!(got == (400, "sso_settings_invalid".into()), "{tenant}: {got:?}");
        }
        let sneaky = json!({"provider": "microsoft", "directory": TENANT, "email_domains": [], "enabled": true, "pupils_password": true, "secret": "x"});
        ensure!(Api::check_code(admin.request(Method::PUT, "/api/admin/sso", Some(sneaky)).await?).0 == 400);
        // Nothing changed: the school still signs in with its tenant.
        let (_, view) = admin.request(Method::GET, "/api/admin/sso", None).await?;
        ensure!(view["settings"]["directory"] == TENANT, "{view}");
        let pupil = Api::new(&server);
        pupil.sign_in("teacher@demo.sch.uk", "demo-teacher").await?;
        ensure!(Api::check_code(pupil.request(Method::GET, "/api/admin/sso", None).await?).1 == "forbidden_role");
        server.finish();
        Ok(())
    })
    .await;
}
