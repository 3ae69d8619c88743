//! The livestream log's writer: one task per lesson, started beside the lesson task, that
//! writes what the lesson did, in the order it did it, so the lesson task itself never waits
//! for the database.
//!
//! The lesson task hands each entry, stamped with the moment it acted, to a bounded queue
//! ([`Journal::push`] never waits). The writer takes entries one at a time, in order (a join
//! is written before its leave):
//! - a write that fails because the database cannot be reached (`store_unavailable`: down,
//!   restarting, the connection cut) is tried again, with backoff, until it succeeds; the
//!   entries behind it wait their turn;
//! - a write that fails for any other reason (a constraint, a bug) is reported once and
//!   dropped, so one bad row never holds up the rest;
//! - if the queue fills (a very long outage) further entries are dropped and counted, the log
//!   says so once, and the count is reported when the queue has drained; the end of the
//!   lesson is never dropped (it waits for room beside the task instead).
//!
//! When the lesson ends its task drops the queue's sender; the writer drains what is queued,
//! retrying as above, and then exits (and [`Flushed`] says so).
//!
//! One writer per lesson rather than one per server: a lesson's order is then simply its
//! queue's order, a lesson's end is simply its queue closing, and one lesson's backlog never
//! delays another's. During an outage each writer has one write in flight at most.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc::{self, error::TrySendError};
use tokio::sync::watch;

use livegate_core::codes::ErrorCode;

use crate::store::log::{NewEvent, NewLesson, NewSession};
use crate::store::{self, Store, StoreError};
use livegate_core::ids::{LessonId, ParticipantId, SchoolId};
use livegate_core::school::ConsentState;

/// How many entries may wait for the database per lesson: at a few hundred bytes each, about
/// a megabyte. A lesson writes a handful a minute; a refusal each time someone tries to join
/// while the database is down is the most it writes in an outage.
pub(super) const QUEUE: usize = 4096;

/// How long the writer waits before trying a write again: doubling from `first` to `max`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Backoff {
    pub first: Duration,
    pub max: Duration,
}

/// The writer's backoff. (Each attempt while PostgreSQL is down itself waits up to the
/// store's acquire timeout, 5 s, before failing.)
pub(super) const BACKOFF: Backoff = Backoff {
    first: Duration::from_millis(200),
    max: Duration::from_secs(5),
};

/// One row (or transaction) of the log, as the lesson observed it.
#[derive(Debug, Clone)]
pub(super) enum Entry {
    Start(NewLesson),
    Event(NewEvent),
    /// A seat taken. For a pupil (`read_consent`), their consent state and code-of-conduct
    /// version are read just before the row is written (see `consent_at_join`).
    Join {
        session: NewSession,
        read_consent: bool,
    },
    Leave {
        school: SchoolId,
        lesson: LessonId,
        id: ParticipantId,
        at: i64,
        reason: &'static str,
    },
    End {
        school: SchoolId,
        lesson: LessonId,
        at: i64,
        reason: &'static str,
    },
}

impl Entry {
    /// What the entry is, for the server's own log.
    pub(super) fn what(&self) -> &'static str {
        match self {
            Entry::Start(_) => "lesson start",
            Entry::Event(e) => e.kind.as_str(),
            Entry::Join { .. } => "join",
            Entry::Leave { .. } => "leave",
            Entry::End { .. } => "end",
        }
    }
}

/// Where the writer writes: the store, or a double in tests.
pub(super) trait Sink: Send + Sync + 'static {
    fn write(&self, entry: &Entry) -> impl Future<Output = store::Result<()>> + Send;
}

impl Sink for Store {
    async fn write(&self, entry: &Entry) -> store::Result<()> {
        match entry {
            Entry::Start(l) => self.log_lesson_start(l).await,
            Entry::Event(e) => self.log_event(e).await,
            Entry::Join { session, read_consent } => {
                let mut s = session.clone();
                if *read_consent {
                    (s.consent, s.conduct_version) = consent_at_join(self, &s).await?;
                }
                self.log_join(&s).await
            }
            Entry::Leave {
                school,
                lesson,
                id,
                at,
                reason,
            } => self.log_leave(school, lesson, id, *at, reason).await,
            Entry::End {
                school,
                lesson,
                at,
                reason,
            } => self.log_lesson_end(school, lesson, *at, reason).await,
        }
    }
}

/// True if the store could not be reached: the write changed nothing and may be tried again.
pub(super) fn unreachable(e: &StoreError) -> bool {
    e.code() == ErrorCode::StoreUnavailable
}

fn consent_name(c: ConsentState) -> &'static str {
    match c {
        ConsentState::Current => "current",
        ConsentState::Missing => "missing",
        ConsentState::Withdrawn => "withdrawn",
        ConsentState::OptedOut => "opted_out",
    }
}

/// A pupil's consent state and code-of-conduct version for their join row. Read by the writer,
/// not the lesson task, so a join never waits for the database a second time (the gate has
/// just read it). Consent lives in the same database: while the writer cannot read it, nobody
/// can change it, so what it reads after an outage is what stood at the join. An unreachable
/// store fails the whole entry (retried); any other error records `unknown`, as before.
async fn consent_at_join(store: &Store, s: &NewSession) -> store::Result<(&'static str, Option<i64>)> {
    let state = match store.consent_state(&s.school, &s.user).await {
        Ok(c) => consent_name(c),
        Err(e) if unreachable(&e) => return Err(e),
        Err(_) => "unknown",
    };
    let version = match store.consents(&s.school, &s.user).await {
        Ok(records) => records.first().map(|c| c.conduct_version),
        Err(e) if unreachable(&e) => return Err(e),
        Err(_) => None,
    };
    Ok((state, version))
}

/// The lesson's end of the queue.
pub(super) struct Journal {
    tx: mpsc::Sender<Entry>,
    dropped: Arc<AtomicU64>,
    lesson: LessonId,
}

/// Resolves once a lesson's writer has written (or given up on) everything and exited.
#[derive(Clone)]
pub struct Flushed(watch::Receiver<()>);

impl Flushed {
    /// Waits until the writer has exited.
    pub async fn wait(&self) {
        let mut rx = self.0.clone();
        while rx.changed().await.is_ok() {}
    }
}

impl Journal {
    /// Starts a writer for `lesson` on its own task and returns the lesson's end of its queue.
    pub(super) fn start<S: Sink>(sink: S, lesson: LessonId, capacity: usize, backoff: Backoff) -> (Journal, Flushed) {
        let (tx, rx) = mpsc::channel(capacity);
        let (done, flushed) = watch::channel(());
        let dropped = Arc::new(AtomicU64::new(0));
        let writer = Writer {
            sink,
            lesson: lesson.clone(),
            backoff,
            dropped: dropped.clone(),
        };
        tokio::spawn(async move {
            writer.run(rx).await;
            drop(done);
        });
        (Journal { tx, dropped, lesson }, Flushed(flushed))
    }

    /// Queues an entry; never waits. If the queue is full the entry is dropped and counted,
    /// except the lesson's end, which waits for room on a task of its own.
    pub(super) fn push(&self, entry: Entry) {
        match self.tx.try_send(entry) {
            Ok(()) => {}
            Err(TrySendError::Full(entry @ Entry::End { .. })) => {
                let tx = self.tx.clone();
                tokio::spawn(async move {
                    let _ = tx.send(entry).await;
                });
            }
            Err(TrySendError::Full(entry)) => {
                if self.dropped.fetch_add(1, Ordering::Relaxed) == 0 {
                    tracing::error!(lesson = %self.lesson, what = entry.what(), "livestream log queue full (the database has been unreachable for long); dropping entries until it drains");
                }
            }
            Err(TrySendError::Closed(entry)) => {
                tracing::error!(lesson = %self.lesson, what = entry.what(), "livestream log writer has stopped; entry lost");
            }
        }
    }

    /// How many entries have been dropped because the queue was full, since last reported.
    #[cfg(test)]
    pub(super) fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

struct Writer<S> {
    sink: S,
    lesson: LessonId,
    backoff: Backoff,
    dropped: Arc<AtomicU64>,
}

impl<S: Sink> Writer<S> {
    async fn run(self, mut rx: mpsc::Receiver<Entry>) {
        while let Some(entry) = rx.recv().await {
            self.write(&entry).await;
            if rx.is_empty() {
                let lost = self.dropped.swap(0, Ordering::Relaxed);
                if lost > 0 {
                    tracing::error!(lesson = %self.lesson, lost, "livestream log entries were lost while its queue was full");
                }
            }
        }
        tracing::debug!(lesson = %self.lesson, "livestream log writer finished");
    }

    /// Writes one entry: again and again while the store is unreachable, once otherwise.
    async fn write(&self, entry: &Entry) {
        let (mut wait, mut attempts) = (self.backoff.first, 0u32);
        loop {
            attempts += 1;
            match self.sink.write(entry).await {
                Ok(()) => {
                    if attempts > 1 {
                        tracing::info!(lesson = %self.lesson, what = entry.what(), attempts, "livestream log written again after the database returned");
                    }
                    return;
                }
                Err(e) if unreachable(&e) => {
                    if attempts == 1 {
                        tracing::warn!(lesson = %self.lesson, what = entry.what(), error = %e, "database unreachable; the livestream log keeps its entries and retries");
                    }
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(self.backoff.max);
                }
                Err(e) => {
                    tracing::error!(lesson = %self.lesson, what = entry.what(), error = %e, "could not write the livestream log; entry dropped");
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
