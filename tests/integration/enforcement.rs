//! Live enforcement (DESIGN.md rule 1): a superuser's change through the admin API removes
//! the person it concerns from a live lesson within 2 seconds, with the gate's reason, and
//! their RTP stops, while a classmate the change does not concern keeps receiving. Each case
//! prints how long the `removed` message and the end of RTP took after the admin request was
//! sent. Also: helpers the lobby and privacy tests share (the admin client, the RTP sampler).

use anyhow::{anyhow, ensure, Context, Result};
use livegate_tests::participant::{live_7a_with_camera, pupil_receives_teacher_camera, Participant, SIGNAL_TIMEOUT};
use livegate_tests::signal::msg_type;
use livegate_tests::{run_test, seed, Api, Server, Subscription};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const ADMIN: &str = "admin@demo.sch.uk";
pub const ADMIN_PASSWORD: &str = "demo-admin";
/// External staff on the trusted partner domain, on no roster: waits in the lobby.
pub const VISITOR: &str = "visitor@partner.sch.uk";
/// The removal deadline of DESIGN.md rule 1.
const DEADLINE: Duration = Duration::from_secs(2);

/// A change a superuser makes, prepared so that only the request itself is timed.
pub struct Change {
    method: reqwest::Method,
    path: String,
    body: Option<Value>,
    what: String,
}

/// A signed-in superuser driving `/api/admin/...` (PROTOCOL.md section 5).
pub struct Admin {
    api: Api,
}

impl Admin {
    pub async fn sign_in(server: &Server) -> Result<Admin> {
        let api = Api::new(server);
        api.sign_in(ADMIN, ADMIN_PASSWORD).await?;
        Ok(Admin { api })
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Result<Value> {
        let (status, body) = self.api.request(method.clone(), path, body).await?;
        Api::check(status, body).map_err(|e| anyhow!("{method} {path}: {e}"))
    }

    /// A user's id, by email.
    pub async fn user_id(&self, email: &str) -> Result<String> {
        let users = self.call(reqwest::Method::GET, "/api/admin/users", None).await?;
        users["users"]
            .as_array()
            .and_then(|u| u.iter().find(|u| u["email"] == email))
            .and_then(|u| u["id"].as_str())
            .map(str::to_owned)
            .ok_or_else(|| anyhow!("no user {email} in {users}"))
    }

    /// Withdrawing the pupil's current consent record.
    pub async fn consent_withdrawal(&self, email: &str) -> Result<Change> {
        let id = self.user_id(email).await?;
        let consents = self
            .call(reqwest::Method::GET, &format!("/api/admin/pupils/{id}/consents"), None)
            .await?;
        let consent = consents["records"]
            .as_array()
            .and_then(|r| r.iter().find(|r| r["withdrawn_at"].is_null()))
            .and_then(|r| r["id"].as_str())
            .ok_or_else(|| anyhow!("{email} has no consent to withdraw: {consents}"))?;
        Ok(Change {
            method: reqwest::Method::POST,
            path: format!("/api/admin/consents/{consent}/withdraw"),
            body: None,
            what: "consent withdrawn".into(),
        })
    }

    /// A parent's opt-out recorded for the pupil (policy 40.2).
    pub async fn opt_out(&self, email: &str) -> Result<Change> {
        let id = self.user_id(email).await?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_millis() as i64;
        let body = json!({"pupil_signed": false, "parent_name": "A Parent", "signed_on": now, "method": "paper", "conduct_version": 1, "opt_out": true});
        Ok(Change {
            method: reqwest::Method::POST,
            path: format!("/api/admin/pupils/{id}/consents"),
            body: Some(body),
            what: "parent opted out".into(),
        })
    }

    /// Taking someone off a class's roster.
    pub async fn roster_removal(&self, class: &str, email: &str) -> Result<Change> {
        let id = self.user_id(email).await?;
        Ok(Change {
            method: reqwest::Method::DELETE,
            path: format!("/api/admin/classes/{class}/members/{id}"),
            body: None,
            what: "taken off the roster".into(),
        })
    }

    /// Disabling an account.
    pub async fn disabling(&self, email: &str) -> Result<Change> {
        let id = self.user_id(email).await?;
        Ok(Change {
            method: reqwest::Method::PATCH,
            path: format!("/api/admin/users/{id}"),
            body: Some(json!({"disabled": true})),
            what: "account disabled".into(),
        })
    }

    /// Removing a trusted domain.
    pub fn domain_removal(&self, domain: &str) -> Change {
        Change {
            method: reqwest::Method::DELETE,
            path: format!("/api/admin/domains/{domain}"),
            body: None,
            what: format!("domain {domain} removed"),
        }
    }

    /// Replacing a pupil's privacy profile.
    pub async fn privacy(&self, email: &str, profile: Value) -> Result<Change> {
        let id = self.user_id(email).await?;
        Ok(Change {
            method: reqwest::Method::PUT,
            path: format!("/api/admin/pupils/{id}/privacy"),
            body: Some(profile),
            what: "privacy profile set".into(),
        })
    }

    pub async fn apply(&self, change: &Change) -> Result<()> {
        self.call(change.method.clone(), &change.path, change.body.clone())
            .await
            .with_context(|| change.what.clone())
            .map(|_| ())
    }
}

/// Polls a subscription's packet count every 5 ms, remembering when it last grew.
pub struct Sampler {
    state: Arc<Mutex<(u64, Option<Instant>)>>,
    task: tokio::task::JoinHandle<()>,
}

impl Sampler {
    pub fn start(sub: Arc<Subscription>) -> Sampler {
        let state = Arc::new(Mutex::new((0u64, None)));
        let shared = state.clone();
        let task = tokio::spawn(async move {
            loop {
                let n = sub.stats.video() + sub.stats.audio();
                {
                    let mut s = shared.lock().unwrap();
                    if n > s.0 {
                        *s = (n, Some(Instant::now()));
                    }
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        });
        Sampler { state, task }
    }

    /// Packets so far.
    pub fn count(&self) -> u64 {
        self.state.lock().unwrap().0
    }

    /// When the last new packet was seen.
    pub fn last_growth(&self) -> Option<Instant> {
        self.state.lock().unwrap().1
    }
}

impl Drop for Sampler {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Applies `change` and checks that `victim` is removed with `code` and stops receiving RTP
/// within 2 s, while `bystander` keeps receiving. Prints both times.
pub async fn measure_removal(
    admin: &Admin,
    change: &Change,
    victim: &Participant,
    victim_sub: &Arc<Subscription>,
    bystander_sub: &Arc<Subscription>,
    code: &str,
) -> Result<()> {
    let victim_rx = Sampler::start(victim_sub.clone());
    let bystander_rx = Sampler::start(bystander_sub.clone());
    tokio::time::sleep(Duration::from_millis(400)).await;
    let before = victim_rx.count();
    tokio::time::sleep(Duration::from_millis(200)).await;
    ensure!(
        victim_rx.count() > before,
        "{}: not receiving before the change, the test would prove nothing",
        victim.email
    );
    let mark = victim.conn.mark();
    let t0 = Instant::now();
    admin.apply(change).await?;
    let (_, removed) = victim
        .conn
        .wait_for(mark, DEADLINE, &format!("`removed` after {}", change.what), |m| {
            msg_type(m) == "removed"
        })
        .await?;
    let removed_after = t0.elapsed();
    ensure!(
        removed["reason"] == code,
        "{}: want removed {code}, got {removed}",
        victim.email
    );
    victim.conn.wait_closed(SIGNAL_TIMEOUT).await?;
    let bystander_at_removal = bystander_rx.count();
    // Watch well past the deadline: the victim's RTP must have stopped, the bystander's not.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let last = victim_rx.last_growth().ok_or_else(|| anyhow!("no RTP sampled"))?;
    let rtp_stopped_after = last.saturating_duration_since(t0);
    ensure!(
        rtp_stopped_after < DEADLINE,
        "{}: RTP still arrived {rtp_stopped_after:?} after {}",
        victim.email,
        change.what
    );
    let grown = bystander_rx.count() - bystander_at_removal;
    ensure!(
        grown > 60,
        "the unaffected pupil received only {grown} packets in 2.5 s after the removal"
    );
    eprintln!(
        "[enforcement] {} ({code}): `removed` {:.1} ms after the admin request was sent; last RTP packet at {:+.1} ms; bystander +{grown} packets in 2.5 s",
        change.what,
        removed_after.as_secs_f64() * 1e3,
        signed_ms(last, t0),
    );
    Ok(())
}

/// `at - from` in milliseconds, negative when `at` came first.
pub fn signed_ms(at: Instant, from: Instant) -> f64 {
    match at.checked_duration_since(from) {
        Some(d) => d.as_secs_f64() * 1e3,
        None => -(from.duration_since(at).as_secs_f64() * 1e3),
    }
}

/// The refused person's next ticket is refused with the same reason.
async fn ticket_refused(victim: &Participant, lesson_id: &str, code: &str) -> Result<()> {
    match victim.api.ticket(lesson_id).await? {
        Ok(_) => Err(anyhow!("{}: a ticket was issued after the removal", victim.email)),
        Err(e) if e.code == code => Ok(()),
        Err(e) => Err(anyhow!("{}: want {code}, got {e}", victim.email)),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn withdrawn_consent_removes_the_pupil_within_two_seconds() {
    run_test(async {
        let server = Server::start().await?;
        let (lesson, _camera) = live_7a_with_camera(&server).await?;
        let (ada, ada_sub) = pupil_receives_teacher_camera(&server, &lesson, seed::ADA).await?;
        let (_ben, ben_sub) = pupil_receives_teacher_camera(&server, &lesson, seed::BEN).await?;
        let admin = Admin::sign_in(&server).await?;
        let change = admin.consent_withdrawal(seed::ADA).await?;
        measure_removal(&admin, &change, &ada, &ada_sub, &ben_sub, "consent_withdrawn").await?;
        ticket_refused(&ada, &lesson.id, "consent_withdrawn").await?;
        let id = ada.id.clone();
        lesson
            .teacher
            .conn
            .wait_for(0, SIGNAL_TIMEOUT, "participant_left for ada", move |m| {
                msg_type(m) == "participant_left" && m["participant_id"] == id.as_str()
            })
            .await?;
        server.finish();
        Ok(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roster_removal_removes_the_pupil_within_two_seconds() {
    run_test(async {
        let server = Server::start().await?;
        let (lesson, _camera) = live_7a_with_camera(&server).await?;
        let (_ada, ada_sub) = pupil_receives_teacher_camera(&server, &lesson, seed::ADA).await?;
        let (ben, ben_sub) = pupil_receives_teacher_camera(&server, &lesson, seed::BEN).await?;
        let admin = Admin::sign_in(&server).await?;
        let change = admin.roster_removal(seed::CLASS_7A, seed::BEN).await?;
        measure_removal(&admin, &change, &ben, &ben_sub, &ada_sub, "not_on_roster").await?;
        ticket_refused(&ben, &lesson.id, "not_on_roster").await?;
        server.finish();
        Ok(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabled_account_and_parent_opt_out_remove_within_two_seconds() {
    run_test(async {
        let server = Server::start().await?;
        let (lesson, _camera) = live_7a_with_camera(&server).await?;
        let (_ada, ada_sub) = pupil_receives_teacher_camera(&server, &lesson, seed::ADA).await?;
        let (cara, cara_sub) = pupil_receives_teacher_camera(&server, &lesson, seed::CARA).await?;
        let (dev, dev_sub) = pupil_receives_teacher_camera(&server, &lesson, seed::DEV).await?;
        let admin = Admin::sign_in(&server).await?;
        let change = admin.disabling(seed::CARA).await?;
        measure_removal(&admin, &change, &cara, &cara_sub, &ada_sub, "account_disabled").await?;
        let change = admin.opt_out(seed::DEV).await?;
        measure_removal(&admin, &change, &dev, &dev_sub, &ada_sub, "consent_opted_out").await?;
        ticket_refused(&dev, &lesson.id, "consent_opted_out").await?;
        server.finish();
        Ok(())
    })
    .await;
}

/// An admitted guest from a partner school leaves at once when the superuser stops trusting
/// their domain; pupils on the school's own domain keep receiving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removed_domain_removes_the_guest_within_two_seconds() {
    run_test(async {
        let server = Server::start().await?;
        let (lesson, _camera) = live_7a_with_camera(&server).await?;
        let (_ada, ada_sub) = pupil_receives_teacher_camera(&server, &lesson, seed::ADA).await?;
        let guest = crate::lobby::admitted_guest(&server, &lesson, VISITOR).await?;
        let guest_sub = guest
            .wait_stream_from(0, &lesson.teacher.id, "camera", SIGNAL_TIMEOUT)
            .await
            .context("the guest is offered the teacher's camera")?;
        guest_sub.wait_media(20, 10, Duration::from_secs(12)).await?;
        let admin = Admin::sign_in(&server).await?;
        let change = admin.domain_removal("partner.sch.uk");
        measure_removal(&admin, &change, &guest, &guest_sub, &ada_sub, "domain_not_trusted").await?;
        ticket_refused(&guest, &lesson.id, "domain_not_trusted").await?;
        server.finish();
        Ok(())
    })
    .await;
}
