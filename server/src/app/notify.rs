//! Tells systemd how the server is doing (`Type=notify` in `infra/systemd/livegate.service`;
//! sd_notify(3)): `READY=1` once it is really ready, that is once `GET /readyz` would answer 200
//! (the database and the object store answer, the media socket is bound, no stop has begun;
//! HTTP is already listening when this starts), and `STOPPING=1` when a graceful stop begins,
//! each with a `STATUS=` line that `systemctl status livegate` shows. So `systemctl start`
//! returns, and units ordered after Livegate start, only when it can take lessons.
//!
//! Without `NOTIFY_SOCKET` in the environment (not started by systemd) it does nothing at all.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use sd_notify::NotifyState;

use super::health::Readiness;
use super::App;

/// How long to wait before asking again while a check fails. The database and the object store
/// are other machines (or folders) that send no signal when they come back, so asking again is
/// the only way to know; a failing check already takes up to `health::CHECK_TIMEOUT`.
const RECHECK: Duration = Duration::from_secs(1);

/// The systemd side of one running server: the task waiting to say `READY=1`, and whether a
/// stop has begun (after `STOPPING=1`, `READY=1` is never sent).
#[derive(Debug, Default)]
pub struct Notifier {
    stopped: Arc<Mutex<bool>>,
    waiting: Option<tokio::task::JoinHandle<()>>,
}

impl Notifier {
    /// Under systemd, starts waiting for `app` to be ready, then says `READY=1`; otherwise a
    /// notifier that does nothing.
    pub fn start(app: App) -> Self {
        if std::env::var_os("NOTIFY_SOCKET").is_none() {
            return Self::default();
        }
        let stopped = Arc::new(Mutex::new(false));
        let waiting = tokio::spawn(announce_when_ready(app, stopped.clone()));
        Self {
            stopped,
            waiting: Some(waiting),
        }
    }

    /// A graceful stop has begun: says `STOPPING=1` (under systemd) and never `READY=1` after.
    pub fn stopping(&mut self) {
        let Some(waiting) = self.waiting.take() else {
            return;
        };
        waiting.abort();
        let mut stopped = self.stopped.lock().unwrap_or_else(|p| p.into_inner());
        *stopped = true;
        send(&[
            NotifyState::Stopping,
            NotifyState::Status("stopping: ending live lessons"),
        ]);
    }
}

/// Checks readiness until it passes, saying what it waits for meanwhile, then `READY=1`.
async fn announce_when_ready(app: App, stopped: Arc<Mutex<bool>>) {
    let mut said = String::new();
    loop {
        let readiness = app.readiness().await;
        if readiness.ready() {
            // Under the lock, so a stop that begins now is told after this, never before.
            let stopped = stopped.lock().unwrap_or_else(|p| p.into_inner());
            if !*stopped {
                send(&[NotifyState::Ready, NotifyState::Status("ready")]);
                tracing::info!("ready: told systemd");
            }
            return;
        }
        let status = waiting_for(&readiness);
        if status != said {
            send(&[NotifyState::Status(&status)]);
            tracing::warn!(%status, "not ready yet");
            said = status;
        }
        tokio::time::sleep(RECHECK).await;
    }
}

/// The `STATUS=` line for a server not ready yet: the checks that failed.
fn waiting_for(r: &Readiness) -> String {
    let failing: Vec<&str> = [
        (!r.store, "the database"),
        (!r.objects, "the object store"),
        (!r.media, "the media socket"),
        (r.stopping, "(stopping)"),
    ]
    .into_iter()
    .filter_map(|(failed, what)| failed.then_some(what))
    .collect();
    format!("waiting for {}", failing.join(", "))
}

/// Sends to systemd; a failure is logged, never fatal (the service manager decides what a
/// missing `READY=1` means).
fn send(states: &[NotifyState]) {
    if let Err(error) = sd_notify::notify(states) {
        tracing::warn!(%error, "could not notify systemd");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_names_what_is_awaited() {
        let r = Readiness {
            store: true,
            objects: false,
            media: false,
            stopping: false,
        };
        assert_eq!(waiting_for(&r), "waiting for the object store, the media socket");
    }
}
