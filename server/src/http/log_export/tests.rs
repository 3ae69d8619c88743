//! The exports with injected times, frozen by golden files (`UPDATE_GOLDEN=1` rewrites them),
//! the school clock across the BST/GMT changes, and the school's calendar days (the filters).

use super::*;
use crate::store::log_read::{EventRow, LessonRow, NoteRow, SessionRow};

const MIN: i64 = 60_000;
/// 2026-03-29 00:50 UTC: ten minutes before the clocks go forward (01:00 UTC, last Sunday of March).
const SPRING: i64 = 1_774_745_400_000;
/// 2026-10-25 00:30 UTC: 01:30 BST, half an hour before the clocks go back (01:00 UTC).
const AUTUMN: i64 = 1_792_888_200_000;

fn london() -> Clock {
    Clock::new("Europe/London")
}

#[test]
fn the_clock_follows_the_clock_changes() {
    let c = london();
    assert_eq!(c.local(SPRING), "2026-03-29 00:50:00 GMT");
    assert_eq!(
        c.local(SPRING + 10 * MIN),
        "2026-03-29 02:00:00 BST",
        "01:00 GMT never happens"
    );
    assert_eq!(c.local(AUTUMN), "2026-10-25 01:30:00 BST");
    assert_eq!(
        c.local(AUTUMN + 60 * MIN),
        "2026-10-25 01:30:00 GMT",
        "the repeated hour is told apart"
    );
    assert_eq!(c.local(AUTUMN - 24 * 60 * MIN), "2026-10-24 01:30:00 BST");
    // Unknown zones fall back to the default; other zones work.
    assert_eq!(Clock::new("Mars/Olympus").zone, DEFAULT_ZONE);
    assert_eq!(Clock::new("UTC").local(SPRING), "2026-03-29 00:50:00 UTC");
    assert_eq!(c.local(i64::MAX), "", "out of range is empty, not a panic");
}

/// UTC ms of an RFC 3339 instant.
fn utc(s: &str) -> i64 {
    s.parse::<Timestamp>().unwrap().as_millisecond()
}

fn day(s: &str) -> Option<Date> {
    parse_day(s).unwrap()
}

/// The school's days, `from` inclusive and `to` exclusive, in UTC ms.
fn days(c: &Clock, from: &str, to: &str) -> (Option<i64>, Option<i64>) {
    c.days(day(from), day(to)).unwrap()
}

#[test]
fn a_day_is_the_schools_day_across_the_clock_changes() {
    let c = london();
    // 29 March 2026, clocks forward: 23 hours, from 00:00 GMT to 00:00 BST (23:00 UTC).
    assert_eq!(
        days(&c, "2026-03-29", "2026-03-29"),
        (Some(utc("2026-03-29T00:00:00Z")), Some(utc("2026-03-29T23:00:00Z")))
    );
    // 25 October 2026, clocks back: 25 hours, from 00:00 BST (23:00 UTC the day before) to 00:00 GMT.
    assert_eq!(
        days(&c, "2026-10-25", "2026-10-25"),
        (Some(utc("2026-10-24T23:00:00Z")), Some(utc("2026-10-26T00:00:00Z")))
    );
    // A summer day starts at 23:00 UTC the day before; a winter day at midnight UTC.
    assert_eq!(days(&c, "2026-06-16", ""), (Some(utc("2026-06-15T23:00:00Z")), None));
    assert_eq!(days(&c, "", "2026-12-01"), (None, Some(utc("2026-12-02T00:00:00Z"))));
    assert_eq!(days(&c, "", ""), (None, None));
    // Lessons that a UTC (or a reader's own) midnight would put on the wrong day.
    let within = |t: i64, from: &str, to: &str| {
        let (a, b) = days(&c, from, to);
        a.is_none_or(|a| t >= a) && b.is_none_or(|b| t < b)
    };
    let late_march = utc("2026-03-29T23:30:00Z"); // 00:30 BST on the 30th
    assert!(within(late_march, "2026-03-30", "2026-03-30") && !within(late_march, "2026-03-29", "2026-03-29"));
    let eve_of_autumn = utc("2026-10-24T23:30:00Z"); // 00:30 BST on the 25th
    assert!(within(eve_of_autumn, "2026-10-25", "2026-10-25") && !within(eve_of_autumn, "2026-10-24", "2026-10-24"));
    let late_autumn = utc("2026-10-25T23:30:00Z"); // 23:30 GMT, still the 25th
    assert!(within(late_autumn, "2026-10-25", "2026-10-25") && !within(late_autumn, "2026-10-26", "2026-10-26"));
    let saturday_night = utc("2026-03-28T23:30:00Z"); // 23:30 GMT on the 28th
    assert!(within(saturday_night, "2026-03-28", "2026-03-28") && !within(saturday_night, "2026-03-29", "2026-03-29"));
    // The same days in another zone are other instants.
    assert_eq!(
        days(&Clock::new("UTC"), "2026-10-25", "2026-10-25"),
        (Some(utc("2026-10-25T00:00:00Z")), Some(utc("2026-10-26T00:00:00Z")))
    );
}

#[test]
fn a_day_whose_midnight_never_happens_starts_when_the_clocks_land() {
    // Chile puts its clocks forward at midnight: 6 September 2026 starts at 01:00 -03.
    let santiago = Clock::new("America/Santiago");
    assert_eq!(
        days(&santiago, "2026-09-06", "2026-09-06"),
        (Some(utc("2026-09-06T04:00:00Z")), Some(utc("2026-09-07T03:00:00Z")))
    );
    // ... and back at midnight: 4 April 2026 runs 25 hours, to the one midnight of the 5th.
    assert_eq!(
        days(&santiago, "2026-04-04", "2026-04-04"),
        (Some(utc("2026-04-04T03:00:00Z")), Some(utc("2026-04-05T04:00:00Z")))
    );
}

#[test]
fn only_real_days_written_in_full_are_dates() {
    assert_eq!(parse_day("2026-02-28"), Ok(Date::new(2026, 2, 28).ok()));
    assert_eq!(parse_day("2028-02-29"), Ok(Date::new(2028, 2, 29).ok()), "a leap day");
    assert_eq!(parse_day(""), Ok(None), "no day");
    for bad in [
        "2026-02-29",
        "2026-02-30",
        "2026-13-01",
        "2026-00-10",
        "2026-01-00",
        "2026-3-1",
        "26-03-01",
        "20260301",
        "2026/03/01",
        "2026-03-01T00:00",
        "2026-03-01 ",
        " 2026-03-01",
        "+2026-03-01",
        "2026-0a-01",
        "yesterday",
        "1774742400000",
        "\u{ff12}\u{ff10}\u{ff12}\u{ff16}-03-01",
        "2026-03-0\u{1d7ce}",
    ] {
        assert_eq!(parse_day(bad), Err(BadDate), "{bad:?}");
    }
    let c = london();
    assert_eq!(
        c.days(day("2026-03-02"), day("2026-03-01")),
        Err(BadDate),
        "a range that ends before it starts"
    );
    assert!(c.days(day("2026-03-01"), day("2026-03-01")).is_ok(), "one day");
    // The calendar's ends are no bound, not a panic.
    assert_eq!(days(&c, "0000-01-01", "9999-12-31").1, None);
    assert!(days(&c, "0000-01-01", "9999-12-31").0.is_some());
}

#[test]
fn the_zone_list_holds_places_not_aliases() {
    let zones = zone_names();
    for z in [
        "Europe/London",
        "Europe/Dublin",
        "America/Santiago",
        "Asia/Kolkata",
        "UTC",
    ] {
        assert!(zones.iter().any(|n| n == z), "{z}");
    }
    for z in ["GB", "US/Eastern", "Etc/GMT+5", "posixrules"] {
        assert!(!zones.iter().any(|n| n == z), "{z}");
    }
    assert!(zones.windows(2).all(|w| w[0] < w[1]), "sorted, once each");
    assert!(
        zones.iter().all(|z| Clock::new(z).zone == *z),
        "every one is a zone the clock knows"
    );
}

#[test]
fn formula_cells_are_defused() {
    for (raw, want) in [
        ("=1+1", "'=1+1"),
        ("+44 1234", "'+44 1234"),
        ("-2", "'-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("Ada", "Ada"),
        ("", ""),
    ] {
        assert_eq!(cell(raw), want);
    }
}

fn session(
    id: &str,
    user: &str,
    name: &str,
    role: &str,
    joined: i64,
    left: Option<i64>,
    reason: Option<&str>,
) -> SessionRow {
    SessionRow {
        id: id.into(),
        user_id: user.into(),
        name: Some(name.into()),
        role: role.into(),
        joined_at: joined,
        left_at: left,
        left_reason: reason.map(Into::into),
        last_seen: left.unwrap_or(joined),
        recovered: false,
        consent: if role == "pupil" { "current" } else { "not_required" }.into(),
        conduct_version: (role == "pupil").then_some(1),
        device: "Chrome 131 on Android".into(),
    }
}

fn event(at: i64, kind: &str, subject: Option<&str>, detail: Option<&str>) -> EventRow {
    let (actor_id, actor_name, subject_name, count, last_at) = (None, None, None, 1, None);
    EventRow {
        at,
        kind: kind.into(),
        actor_id,
        actor_name,
        subject_id: subject.map(Into::into),
        subject_name,
        detail: detail.map(Into::into),
        count,
        last_at,
    }
}

fn lesson(id: &str, class: &str, start: i64, end: Option<i64>, reason: Option<&str>) -> LessonRow {
    LessonRow {
        id: id.into(),
        class_id: "7a".into(),
        class_name: class.into(),
        started_by: "usr_rivera".into(),
        started_by_name: Some("Ms Rivera".into()),
        recording_id: Some(format!("rec_{id}")),
        recording_status: Some("complete".into()),
        scheduled_start: Some(start),
        scheduled_end: Some(start + 60 * MIN),
        started_at: start,
        ended_at: end,
        end_reason: reason.map(Into::into),
        last_seen: end.unwrap_or(start),
    }
}

/// A spring lesson with a reconnect, a removal, a lobby admission and a refusal; an autumn
/// one across the repeated hour that a crash ended.
fn fixtures() -> Vec<LessonLog> {
    let s = SPRING;
    let spring = LessonLog {
        lesson: lesson(
            "les_spring",
            "7A Science",
            s,
            Some(s + 30 * MIN),
            Some("ended_by_teacher"),
        ),
        sessions: vec![
            session(
                "p1",
                "usr_rivera",
                "Ms Rivera",
                "teacher",
                s,
                Some(s + 30 * MIN),
                Some("lesson_ended"),
            ),
            session(
                "p2",
                "usr_ada",
                "Ada",
                "pupil",
                s + MIN,
                Some(s + 5 * MIN),
                Some("left"),
            ),
            // Back 10 s later: the same presence interval.
            session(
                "p3",
                "usr_ada",
                "Ada",
                "pupil",
                s + 5 * MIN + 10_000,
                Some(s + 30 * MIN),
                Some("lesson_ended"),
            ),
            session(
                "p4",
                "usr_ben",
                "=HYPERLINK(\"x\")",
                "pupil",
                s + 2 * MIN,
                Some(s + 12 * MIN),
                Some("removed_by_teacher"),
            ),
            session(
                "p5",
                "usr_chen",
                "Dr Chen, partner school",
                "guest",
                s + 15 * MIN,
                Some(s + 30 * MIN),
                Some("lesson_ended"),
            ),
        ],
        events: vec![
            event(s + 3 * MIN, "refused", Some("usr_eve"), Some("consent_missing")),
            event(s + 15 * MIN, "lobby_admitted", Some("usr_chen"), None),
            event(s + 12 * MIN, "removed", Some("usr_ben"), None),
        ],
        notes: vec![NoteRow {
            id: "note_1".into(),
            lesson_id: "les_spring".into(),
            author_id: "usr_rivera".into(),
            author_name: Some("Ms Rivera".into()),
            at: s + 12 * MIN,
            category: "concern".into(),
            body: "Ben shared an unsuitable image".into(),
            corrects: None,
        }],
        absent: vec![],
    };
    let a = AUTUMN;
    let mut crashed = session(
        "q2",
        "usr_cara",
        "Cara",
        "pupil",
        a + 10 * MIN,
        Some(a + 70 * MIN),
        Some("server_stopped"),
    );
    crashed.recovered = true;
    let autumn = LessonLog {
        lesson: lesson(
            "les_autumn",
            "7A Science",
            a,
            Some(a + 70 * MIN),
            Some("server_stopped"),
        ),
        sessions: vec![
            session(
                "q1",
                "usr_rivera",
                "Ms Rivera",
                "teacher",
                a,
                Some(a + 70 * MIN),
                Some("server_stopped"),
            ),
            crashed,
        ],
        events: vec![],
        notes: vec![],
        absent: vec![],
    };
    vec![spring, autumn]
}

fn golden(name: &str, text: &str) {
    let path = format!("{}/golden/{name}", env!("CARGO_MANIFEST_DIR"));
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, text).unwrap();
    }
    let want = std::fs::read_to_string(&path).unwrap();
    assert_eq!(
        text, want,
        "the {name} export changed; if deliberate, document it in server/LOG.md and rerun with UPDATE_GOLDEN=1"
    );
}

#[test]
fn interval_export_is_frozen() {
    let csv = intervals_csv(&fixtures(), &london(), AUTUMN + 100 * MIN);
    golden("log-intervals.csv", &csv);
    // Ada's reconnect is one interval of two connections, her 10 s away not counted.
    let ada: Vec<&str> = csv.lines().filter(|l| l.contains("usr_ada")).collect();
    assert_eq!(ada.len(), 1, "{csv}");
    assert!(ada[0].contains(",1730,2,lesson_ended,"), "{}", ada[0]);
    assert!(csv.contains("\"'=HYPERLINK(\"\"x\"\")\""), "formula defused: {csv}");
}

#[test]
fn lesson_export_is_frozen() {
    golden("log-lessons.csv", &lessons_csv(&fixtures(), &london()));
}

/// A refusal repeated 300 times is one event of the log and 300 refusals in its counts and
/// the lesson export.
#[test]
fn a_repeated_refusal_counts_every_attempt() {
    let mut logs = fixtures();
    let refused = &mut logs[0].events[0];
    (refused.count, refused.last_at) = (300, Some(refused.at + 2_000));
    assert_eq!(logs[0].events.iter().filter(|e| e.kind == "refused").count(), 1);
    assert_eq!(counts(&logs[0]).refusals, 300);
    let csv = lessons_csv(&logs[..1], &london());
    assert_eq!(csv.lines().nth(1).unwrap().split(',').nth(12), Some("300"), "{csv}");
}
