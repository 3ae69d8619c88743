//! Tests of the livestream log's writer: against a store double that can be made unreachable
//! (the errors it returns are the store's own), entries wait out an outage in order with their
//! own times, a bad row is dropped without holding up the rest, the queue drains after the
//! lesson ends, and a full queue drops and counts but never blocks and keeps the end; against
//! the real store (SQLite, and PostgreSQL when the suite has one), a lesson's entries become
//! exactly its rows, with a pupil's consent read at write time.

use std::sync::atomic::AtomicBool;
use std::sync::Mutex;

use super::*;
use crate::store::log::EventKind;
use crate::store::log_read::LogScope;
use crate::store::tests::{demo, stores};
use livegate_core::ids::{ClassId, Email, UserId};

/// Short waits, so a test sees many retries in a few milliseconds.
const FAST: Backoff = Backoff {
    first: Duration::from_millis(1),
    max: Duration::from_millis(8),
};
/// The most any test waits for the writer.
const WAIT: Duration = Duration::from_secs(5);

/// A store double: reachable or not, and what it wrote, as `(what, at)`, in order.
#[derive(Clone, Default)]
struct Double(Arc<Inner>);

#[derive(Default)]
struct Inner {
    down: AtomicBool,
    attempts: AtomicU64,
    written: Mutex<Vec<(String, i64)>>,
}

impl Double {
    fn set_down(&self, down: bool) {
        self.0.down.store(down, Ordering::SeqCst);
    }
    fn attempts(&self) -> u64 {
        self.0.attempts.load(Ordering::SeqCst)
    }
    fn written(&self) -> Vec<(String, i64)> {
        self.0.written.lock().unwrap().clone()
    }
    /// Waits until `f` holds of what was written.
    async fn until(&self, f: impl Fn(&[(String, i64)]) -> bool) -> Vec<(String, i64)> {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let w = self.written();
            if f(&w) {
                return w;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the writer never wrote what was expected: {w:?}"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
}

fn at_of(entry: &Entry) -> i64 {
    match entry {
        Entry::Start(l) => l.at,
        Entry::Event(e) => e.at,
        Entry::Join { session, .. } => session.at,
        Entry::Leave { at, .. } | Entry::End { at, .. } => *at,
    }
}

impl Sink for Double {
    async fn write(&self, entry: &Entry) -> store::Result<()> {
        self.0.attempts.fetch_add(1, Ordering::SeqCst);
        if self.0.down.load(Ordering::SeqCst) {
            // What the pool answers while PostgreSQL is down.
            return Err(StoreError::Db(sqlx::Error::PoolTimedOut));
        }
        if let Entry::Event(e) = entry {
            match e.detail.as_deref() {
                Some("conflict") => return Err(StoreError::Conflict),
                Some("bug") => return Err(StoreError::Db(sqlx::Error::Protocol("a bad row".into()))),
                _ => {}
            }
        }
        self.0
            .written
            .lock()
            .unwrap()
            .push((entry.what().to_owned(), at_of(entry)));
        Ok(())
    }
}

fn lesson() -> LessonId {
    LessonId::generate()
}

fn user(s: &str) -> UserId {
    UserId::parse(s).unwrap()
}

fn event(lesson: &LessonId, kind: EventKind, at: i64, detail: Option<&str>) -> Entry {
    Entry::Event(NewEvent {
        lesson: lesson.clone(),
        school: demo(),
        at,
        kind,
        actor: None,
        subject: None,
        detail: detail.map(str::to_owned),
    })
}

fn start(lesson: &LessonId, by: &UserId, at: i64) -> Entry {
    Entry::Start(NewLesson {
        id: lesson.clone(),
        school: demo(),
        class: ClassId::parse("7a").unwrap(),
        class_name: "7A Science".into(),
        started_by: by.clone(),
        recording_id: None,
        scheduled: None,
        at,
    })
}

fn join(lesson: &LessonId, id: &str, who: &UserId, pupil: bool, at: i64) -> Entry {
    let session = NewSession {
        id: ParticipantId::parse(id).unwrap(),
        lesson: lesson.clone(),
        school: demo(),
        user: who.clone(),
        role: if pupil { "pupil" } else { "teacher" },
        at,
        consent: if pupil { "unknown" } else { "not_required" },
        conduct_version: None,
        device: "Firefox 128 on Linux".into(),
    };
    Entry::Join {
        session,
        read_consent: pupil,
    }
}

fn leave(lesson: &LessonId, id: &str, at: i64) -> Entry {
    Entry::Leave {
        school: demo(),
        lesson: lesson.clone(),
        id: ParticipantId::parse(id).unwrap(),
        at,
        reason: "left",
    }
}

fn end(lesson: &LessonId, at: i64) -> Entry {
    Entry::End {
        school: demo(),
        lesson: lesson.clone(),
        at,
        reason: "ended_by_teacher",
    }
}

fn pairs(w: &[(&str, i64)]) -> Vec<(String, i64)> {
    w.iter().map(|(k, at)| ((*k).to_owned(), *at)).collect()
}

#[test]
fn only_an_unreachable_store_is_retried() {
    let refused = || std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
    for e in [
        sqlx::Error::PoolTimedOut,
        sqlx::Error::PoolClosed,
        sqlx::Error::Io(refused()),
    ] {
        assert!(unreachable(&StoreError::Db(e)), "retried");
    }
    for e in [
        StoreError::Conflict,
        StoreError::NotFound,
        StoreError::Invalid("x"),
        StoreError::Db(sqlx::Error::Protocol("bug".into())),
    ] {
        assert!(!unreachable(&e), "{e} is not retried");
    }
}

#[tokio::test]
async fn entries_wait_out_an_outage_in_order_with_their_own_times() {
    let (db, l, t) = (Double::default(), lesson(), user("usr_teacher"));
    db.set_down(true);
    let (journal, _flushed) = Journal::start(db.clone(), l.clone(), 16, FAST);
    journal.push(start(&l, &t, 100));
    journal.push(join(&l, "p_t", &t, false, 101));
    journal.push(event(&l, EventKind::Granted, 102, Some("microphone")));
    journal.push(leave(&l, "p_t", 103));
    // The first entry is tried again and again; nothing behind it overtakes it.
    let deadline = tokio::time::Instant::now() + WAIT;
    while db.attempts() < 5 {
        assert!(tokio::time::Instant::now() < deadline, "the writer stopped retrying");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert_eq!(
        db.written(),
        vec![],
        "nothing is written while the store is unreachable"
    );
    db.set_down(false);
    let written = db.until(|w| w.len() == 4).await;
    assert_eq!(
        written,
        pairs(&[("lesson start", 100), ("join", 101), ("granted", 102), ("leave", 103)])
    );
    assert_eq!(journal.dropped(), 0);
}

#[tokio::test]
async fn a_bad_row_is_reported_once_and_dropped_and_the_rest_written() {
    let (db, l) = (Double::default(), lesson());
    let (journal, flushed) = Journal::start(db.clone(), l.clone(), 16, FAST);
    journal.push(event(&l, EventKind::Muted, 1, None));
    journal.push(event(&l, EventKind::Muted, 2, Some("conflict")));
    journal.push(event(&l, EventKind::Muted, 3, Some("bug")));
    journal.push(event(&l, EventKind::Muted, 4, None));
    drop(journal);
    tokio::time::timeout(WAIT, flushed.wait())
        .await
        .expect("the writer finished");
    assert_eq!(db.written(), pairs(&[("muted", 1), ("muted", 4)]));
    assert_eq!(db.attempts(), 4, "each bad row was tried once");
}

#[tokio::test]
async fn the_writer_drains_its_queue_after_the_lesson_ends_and_then_exits() {
    let (db, l, t) = (Double::default(), lesson(), user("usr_teacher"));
    db.set_down(true);
    let (journal, flushed) = Journal::start(db.clone(), l.clone(), 16, FAST);
    journal.push(join(&l, "p_t", &t, false, 10));
    journal.push(end(&l, 11));
    drop(journal); // the lesson task has finished
    assert!(
        tokio::time::timeout(Duration::from_millis(50), flushed.wait())
            .await
            .is_err(),
        "the writer gave up during the outage"
    );
    db.set_down(false);
    tokio::time::timeout(WAIT, flushed.wait())
        .await
        .expect("the writer finished once the store was back");
    assert_eq!(db.written(), pairs(&[("join", 10), ("end", 11)]));
}

/// On the current-thread runtime the writer does not run until the test waits, so the queue
/// is exactly full after `capacity` pushes.
#[tokio::test]
async fn a_full_queue_drops_and_counts_but_never_blocks_and_keeps_the_end() {
    let (db, l) = (Double::default(), lesson());
    db.set_down(true);
    let (journal, flushed) = Journal::start(db.clone(), l.clone(), 4, FAST);
    for at in 0..10 {
        journal.push(event(&l, EventKind::Muted, at, None)); // returns at once, full or not
    }
    assert_eq!(journal.dropped(), 6);
    journal.push(end(&l, 99)); // the queue is full: the end waits for room beside the task
    let dropped = journal.dropped.clone();
    drop(journal);
    tokio::time::sleep(Duration::from_millis(20)).await;
    db.set_down(false);
    tokio::time::timeout(WAIT, flushed.wait())
        .await
        .expect("the writer finished");
    assert_eq!(
        db.written(),
        pairs(&[("muted", 0), ("muted", 1), ("muted", 2), ("muted", 3), ("end", 99)])
    );
    assert_eq!(
        dropped.load(Ordering::SeqCst),
        0,
        "the count was reported once the queue drained"
    );
}

#[tokio::test]
async fn a_lessons_entries_become_its_rows_with_consent_read_at_write_time() {
    for store in stores().await {
        let uid = |email: &'static str| {
            let store = store.clone();
            async move {
                store
                    .user_by_email(&Email::parse(email).unwrap())
                    .await
                    .unwrap()
                    .unwrap()
                    .id
            }
        };
        let (t, ada) = (uid("teacher@demo.sch.uk").await, uid("ada@pupils.demo.sch.uk").await);
        let l = LessonId::generate();
        let (journal, flushed) = Journal::start(store.clone(), l.clone(), 16, FAST);
        journal.push(start(&l, &t, 1_000));
        journal.push(join(&l, "p_t", &t, false, 1_001));
        journal.push(join(&l, "p_a", &ada, true, 1_002));
        journal.push(event(&l, EventKind::Granted, 1_003, Some("microphone")));
        journal.push(leave(&l, "p_a", 1_004));
        journal.push(end(&l, 1_005));
        drop(journal);
        tokio::time::timeout(WAIT, flushed.wait())
            .await
            .expect("the writer finished");
        let log = store
            .lesson_log(&demo(), &LogScope::School, &l)
            .await
            .unwrap()
            .expect("the lesson's log");
        let events: Vec<(&str, i64)> = log.events.iter().map(|e| (e.kind.as_str(), e.at)).collect();
        assert_eq!(
            events,
            [
                ("lesson_started", 1_000),
                ("admitted", 1_001),
                ("admitted", 1_002),
                ("granted", 1_003),
                ("left", 1_004),
                ("lesson_ended", 1_005)
            ]
        );
        let sessions: Vec<_> = log
            .sessions
            .iter()
            .map(|s| {
                (
                    s.id.as_str(),
                    s.consent.as_str(),
                    s.conduct_version,
                    s.joined_at,
                    s.left_at,
                    s.left_reason.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            sessions,
            [
                ("p_t", "not_required", None, 1_001, Some(1_005), Some("lesson_ended")),
                ("p_a", "current", Some(1), 1_002, Some(1_004), Some("left")),
            ]
        );
        assert_eq!(
            (log.lesson.ended_at, log.lesson.end_reason.as_deref()),
            (Some(1_005), Some("ended_by_teacher"))
        );
    }
}
