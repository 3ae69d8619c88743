//! The livestream log as people read it: times in the school's time zone (stored in UTC,
//! shown across the clock changes with the zone's abbreviation, so the repeated hour in
//! October is never ambiguous), calendar days of the filters as the school's whole days, and
//! the two CSV exports (one row per presence interval, one
//! row per lesson), frozen by the golden files `server/golden/log-*.csv`. Every CSV cell that a
//! spreadsheet would run as a formula is defused with a leading apostrophe.

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::Timestamp;

use crate::store::log::EventKind;
use crate::store::log_read::{intervals, Interval, LessonLog};

/// The zone used when a school has none (or an unknown one).
pub const DEFAULT_ZONE: &str = "Europe/London";

/// Formats UTC milliseconds in one school's time zone.
#[derive(Debug, Clone)]
pub struct Clock {
    pub zone: String,
    tz: TimeZone,
}

impl Clock {
    /// The clock of a zone by IANA name; an unknown name falls back to [`DEFAULT_ZONE`].
    pub fn new(zone: &str) -> Self {
        match TimeZone::get(zone) {
            Ok(tz) => Clock {
                zone: zone.to_owned(),
                tz,
            },
            Err(_) => Clock {
                zone: DEFAULT_ZONE.to_owned(),
                tz: TimeZone::get(DEFAULT_ZONE).unwrap_or(TimeZone::UTC),
            },
        }
    }

    /// `2026-10-25 01:30:00 BST`.
    pub fn local(&self, ms: i64) -> String {
        match Timestamp::from_millisecond(ms) {
            Ok(ts) => ts
                .to_zoned(self.tz.clone())
                .strftime("%Y-%m-%d %H:%M:%S %Z")
                .to_string(),
            Err(_) => String::new(),
        }
    }

    pub fn local_opt(&self, ms: Option<i64>) -> String {
        ms.map(|ms| self.local(ms)).unwrap_or_default()
    }

    /// The first instant of a calendar day in this zone, as UTC ms: local midnight, or the
    /// first moment of the day where the clocks jump over midnight. `None` beyond the zone
    /// database's range.
    pub fn day_start(&self, day: Date) -> Option<i64> {
        day.to_zoned(self.tz.clone())
            .ok()
            .map(|z| z.timestamp().as_millisecond())
    }

    /// Whole school days `from..=to` (either may be absent) as UTC ms: `from` inclusive at the
    /// start of its day, `to` exclusive at the start of the day after. A day is the school's,
    /// so it is 23 hours long when the clocks go forward and 25 when they go back, whatever
    /// the reader's own clock says. `None` where a bound is absent or beyond the calendar.
    pub fn days(&self, from: Option<Date>, to: Option<Date>) -> Result<(Option<i64>, Option<i64>), BadDate> {
        if let (Some(f), Some(t)) = (from, to) {
            if f > t {
                return Err(BadDate);
            }
        }
        let start = from.and_then(|d| self.day_start(d));
        let end = to.and_then(|d| d.tomorrow().ok()).and_then(|d| self.day_start(d));
        Ok((start, end))
    }
}

/// The zones a school may pick, sorted: the bundled database's places (`Europe/London`)
/// and `UTC`; old aliases (`GB`, `US/Eastern`) and `Etc/` offsets are left out.
pub fn zone_names() -> Vec<String> {
    const AREAS: &[&str] = &[
        "Africa/",
        "America/",
        "Antarctica/",
        "Asia/",
        "Atlantic/",
        "Australia/",
        "Europe/",
        "Indian/",
        "Pacific/",
    ];
    let mut names: Vec<String> = jiff::tz::db()
        .available()
        .map(|n| n.as_str().to_owned())
        .filter(|n| n == "UTC" || AREAS.iter().any(|a| n.starts_with(a)))
        .collect();
    names.sort();
    names.dedup();
    names
}

/// A date that is not a real calendar day written `YYYY-MM-DD`, or a range that ends before
/// it starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadDate;

/// A calendar day written exactly `YYYY-MM-DD` (as an HTML date input sends it); an empty
/// string is no day. Anything else, such as `2026-02-30`, `2026-3-1` or a time, is [`BadDate`].
pub fn parse_day(s: &str) -> Result<Option<Date>, BadDate> {
    if s.is_empty() {
        return Ok(None);
    }
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' || !digits(0..4) || !digits(5..7) || !digits(8..10) {
        return Err(BadDate);
    }
    let num = |r: std::ops::Range<usize>| s[r].parse::<i16>().map_err(|_| BadDate);
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let month = i8::try_from(month).map_err(|_| BadDate)?;
    let day = i8::try_from(day).map_err(|_| BadDate)?;
    Date::new(year, month, day).map(Some).map_err(|_| BadDate)
}

/// A cell a spreadsheet will not run: text starting with `=`, `+`, `-`, `@`, a tab or a
/// carriage return gets a leading apostrophe.
pub fn cell(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_owned()
    }
}

fn write_rows(header: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    // Writing to memory cannot fail; a failure would leave the export empty, not wrong.
    let _ = w.write_record(header);
    for row in rows {
        let _ = w.write_record(row.iter().map(|c| cell(c)));
    }
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}

/// The header of the presence-interval export.
pub const INTERVALS_HEADER: &[&str] = &[
    "lesson_id",
    "class",
    "lesson_started",
    "participant",
    "user_id",
    "role",
    "joined",
    "left",
    "seconds_present",
    "connections",
    "end",
    "closed_by_recovery",
    "consent",
    "conduct_version",
    "device",
];

/// One row per presence interval, lessons in the given order. `now` ends open intervals.
pub fn intervals_csv(logs: &[LessonLog], clock: &Clock, now: i64) -> String {
    let mut rows = Vec::new();
    for log in logs {
        for i in intervals(&log.sessions, now) {
            rows.push(interval_row(log, &i, clock));
        }
    }
    write_rows(INTERVALS_HEADER, rows)
}

fn interval_row(log: &LessonLog, i: &Interval, clock: &Clock) -> Vec<String> {
    vec![
        log.lesson.id.clone(),
        log.lesson.class_name.clone(),
        clock.local(log.lesson.started_at),
        i.name.clone().unwrap_or_default(),
        i.user_id.clone(),
        i.role.clone(),
        clock.local(i.joined_at),
        clock.local_opt(i.left_at),
        i.seconds.to_string(),
        i.sessions.to_string(),
        i.end.clone().unwrap_or_else(|| "present".to_owned()),
        if i.recovered { "yes" } else { "no" }.to_owned(),
        i.consent.clone(),
        i.conduct_version.map(|v| v.to_string()).unwrap_or_default(),
        i.device.clone(),
    ]
}

/// The header of the lesson export.
pub const LESSONS_HEADER: &[&str] = &[
    "lesson_id",
    "class",
    "started_by",
    "teachers",
    "scheduled_start",
    "scheduled_end",
    "started",
    "ended",
    "end_reason",
    "recording_id",
    "recording_status",
    "pupils_present",
    "refusals",
    "lobby_admissions",
    "removals",
    "notes",
    "concerns",
];

/// Counts of one lesson's facts, for the lesson export and list.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    pub teachers: Vec<String>,
    pub pupils_present: usize,
    pub refusals: usize,
    pub lobby_admissions: usize,
    pub removals: usize,
    pub notes: usize,
    pub concerns: usize,
}

/// Counts what one lesson's log holds.
pub fn counts(log: &LessonLog) -> Counts {
    let mut teachers: Vec<String> = Vec::new();
    let mut pupils: Vec<&str> = Vec::new();
    for s in &log.sessions {
        let name = s.name.clone().unwrap_or_else(|| s.user_id.clone());
        if s.role == "teacher" && !teachers.contains(&name) {
            teachers.push(name);
        } else if s.role == "pupil" && !pupils.contains(&s.user_id.as_str()) {
            pupils.push(&s.user_id);
        }
    }
    // An event repeated (a refusal asked for again and again) counts each time it happened.
    let events = |k: EventKind| {
        log.events
            .iter()
            .filter(|e| e.kind == k.as_str())
            .map(|e| e.count.max(1) as usize)
            .sum::<usize>()
    };
    Counts {
        teachers,
        pupils_present: pupils.len(),
        refusals: events(EventKind::Refused) + events(EventKind::LobbyRefused),
        lobby_admissions: events(EventKind::LobbyAdmitted),
        removals: events(EventKind::Removed),
        notes: log.notes.len(),
        concerns: log.notes.iter().filter(|n| n.category == "concern").count(),
    }
}

/// One row per lesson.
pub fn lessons_csv(logs: &[LessonLog], clock: &Clock) -> String {
    let rows = logs
        .iter()
        .map(|log| {
            let l = &log.lesson;
            let c = counts(log);
            vec![
                l.id.clone(),
                l.class_name.clone(),
                l.started_by_name.clone().unwrap_or_else(|| l.started_by.clone()),
                c.teachers.join("; "),
                clock.local_opt(l.scheduled_start),
                clock.local_opt(l.scheduled_end),
                clock.local(l.started_at),
                clock.local_opt(l.ended_at),
                l.end_reason.clone().unwrap_or_else(|| "live".to_owned()),
                l.recording_id.clone().unwrap_or_default(),
                l.recording_status.clone().unwrap_or_else(|| "none".to_owned()),
                c.pupils_present.to_string(),
                c.refusals.to_string(),
                c.lobby_admissions.to_string(),
                c.removals.to_string(),
                c.notes.to_string(),
                c.concerns.to_string(),
            ]
        })
        .collect();
    write_rows(LESSONS_HEADER, rows)
}

#[cfg(test)]
mod tests;
