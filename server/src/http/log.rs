//! The livestream log's routes (server/LOG.md): lists, one lesson's log, notes, per-pupil
//! attendance, the leaders' concern list, and the CSV exports.
//!
//! Who sees what is decided here once, by [`reader`]: a teacher sees the lessons of the
//! classes they teach (or started), leaders and superusers the whole school's, and pupils and
//! visiting staff nothing (`forbidden_role` on every route). Everything is scoped by the
//! caller's school. Leaders' and superusers' readings and every export go on the audit chain.

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};

use livegate_core::codes::ErrorCode;

use self::bodies::{
    Attendance, AttendedLesson, ConcernList, ConcernView, EventView, Export, IntervalView, LessonList, LessonLogBody,
    LessonView, NoteAdded, NoteRef, NoteView, PupilRef, Reading, SessionView, TimeZones,
};
use super::api::{audit_detail, ApiJson};
use super::log_export::{counts, intervals_csv, lessons_csv, parse_day, zone_names, Clock};
use super::recordings::ApiQuery;
use super::{App, CurrentUser};
use crate::http::error::ApiError;
use crate::store::log::{NewNote, NoteCategory};
use crate::store::log_read::{intervals, LessonLog};
use crate::store::{now_ms, LogFilter, LogScope, UserRecord};
use livegate_core::ids::{LessonId, UserId};
use livegate_core::school::Role;

mod bodies;

/// What this user may read of the log; pupils and visiting staff may read none of it.
fn reader(user: &UserRecord) -> Result<LogScope, ApiError> {
    match user.role {
        Role::Teacher => Ok(LogScope::Teacher(user.id.clone())),
        Role::Leader | Role::Superuser => Ok(LogScope::School),
        Role::Pupil | Role::External => Err(ErrorCode::ForbiddenRole.into()),
    }
}

/// Audits a school-wide reading (leaders, superusers) or any export.
async fn audit(
    app: &App,
    user: &UserRecord,
    scope: &LogScope,
    action: &str,
    detail: &impl Serialize,
) -> Result<(), ApiError> {
    if matches!(scope, LogScope::School) || action == "log.export" {
        let detail = audit_detail(detail)?;
        app.store.audit(&user.school, user.id.as_str(), action, detail).await?;
    }
    Ok(())
}

async fn clock(app: &App, user: &UserRecord) -> Result<Clock, ApiError> {
    let school = app.store.school(&user.school).await?.ok_or(ErrorCode::NotFound)?;
    Ok(Clock::new(&school.time_zone))
}

/// The filters of the log's lists and exports as a reader sends them: `from_date` and
/// `to_date` are calendar days (`YYYY-MM-DD`, both inclusive), whole days in the school's
/// time zone, never the reader's. Unknown parameters are `bad_request`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LogQuery {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    class_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pupil_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    from_date: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    to_date: Option<String>,
}

impl LogQuery {
    /// The store's filter: the days turned into UTC ms on the school's clock. A date that is
    /// not a real `YYYY-MM-DD` day, or a range that ends before it starts, is `bad_date`.
    pub fn filter(&self, clock: &Clock) -> Result<LogFilter, ApiError> {
        let day = |s: &Option<String>| parse_day(s.as_deref().unwrap_or("")).map_err(|_| ApiError(ErrorCode::BadDate));
        let (from, to) = clock
            .days(day(&self.from_date)?, day(&self.to_date)?)
            .map_err(|_| ErrorCode::BadDate)?;
        Ok(LogFilter {
            class_id: self.class_id.clone(),
            pupil_id: self.pupil_id.clone(),
            from,
            to,
        })
    }
}

fn log_body(log: &LessonLog, clock: &Clock, now: i64) -> LessonLogBody {
    LessonLogBody {
        time_zone: clock.zone.clone(),
        lesson: LessonView::new(&log.lesson, clock),
        counts: counts(log),
        intervals: intervals(&log.sessions, now)
            .into_iter()
            .map(|i| IntervalView::new(i, clock))
            .collect(),
        sessions: log.sessions.iter().map(|s| SessionView::new(s, clock)).collect(),
        events: log.events.iter().map(|e| EventView::new(e, clock)).collect(),
        notes: log.notes.iter().map(|n| NoteView::new(n, clock)).collect(),
        absent: log.absent.clone(),
    }
}

/// `GET /api/log/lessons`
pub async fn list(
    State(app): State<App>,
    Extension(CurrentUser(user)): Extension<CurrentUser>,
    ApiQuery(query): ApiQuery<LogQuery>,
) -> Result<Json<LessonList>, ApiError> {
    let scope = reader(&user)?;
    let clock = clock(&app, &user).await?;
    let filter = query.filter(&clock)?;
    audit(&app, &user, &scope, "log.view", &Reading::List(&query)).await?;
    let rows = app.store.log_lessons(&user.school, &scope, &filter).await?;
    let lessons = rows.iter().map(|l| LessonView::new(l, &clock)).collect();
    Ok(Json(LessonList {
        time_zone: clock.zone,
        lessons,
    }))
}

async fn one(app: &App, user: &UserRecord, scope: &LogScope, id: &str) -> Result<LessonLog, ApiError> {
    let id = LessonId::parse(id).ok_or(ErrorCode::NotFound)?;
    app.store
        .lesson_log(&user.school, scope, &id)
        .await?
        .ok_or_else(|| ErrorCode::NotFound.into())
}

/// `GET /api/log/lessons/{lesson_id}`
pub async fn detail(
    State(app): State<App>,
    Extension(CurrentUser(user)): Extension<CurrentUser>,
    Path(id): Path<String>,
) -> Result<Json<LessonLogBody>, ApiError> {
    let scope = reader(&user)?;
    let log = one(&app, &user, &scope, &id).await?;
    audit(&app, &user, &scope, "log.view", &Reading::Lesson(&log.lesson.id)).await?;
    let clock = clock(&app, &user).await?;
    Ok(Json(log_body(&log, &clock, now_ms())))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoteBody {
    category: String,
    text: String,
    #[serde(default)]
    corrects: Option<String>,
}

/// `POST /api/log/lessons/{lesson_id}/notes`: a teacher of the lesson or a leader appends a
/// note, time-stamped by the server. There is no route to change or remove one.
pub async fn add_note(
    State(app): State<App>,
    Extension(CurrentUser(user)): Extension<CurrentUser>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<NoteBody>,
) -> Result<Response, crate::http::error::InputError> {
    let scope = reader(&user)?;
    if user.role == Role::Superuser {
        return Err(ErrorCode::ForbiddenRole.into());
    }
    let category = NoteCategory::parse(&body.category).ok_or(ErrorCode::BadRequest)?;
    let text = livegate_core::text::clean(&livegate_core::text::LOG_NOTE, &body.text)?;
    let log = one(&app, &user, &scope, &id).await?;
    let lesson = LessonId::parse(&log.lesson.id).ok_or(ErrorCode::NotFound)?;
    let at = now_ms();
    let note = app
        .store
        .add_note(NewNote {
            school: &user.school,
            lesson: &lesson,
            author: &user.id,
            at,
            category,
            body: &text,
            corrects: body.corrects.as_deref(),
        })
        .await?;
    if category == NoteCategory::Concern {
        tracing::info!(lesson = %lesson, note, "concern noted in the livestream log");
    }
    Ok((
        StatusCode::CREATED,
        Json(NoteAdded {
            note: NoteRef { id: note, at, category },
        }),
    )
        .into_response())
}

/// Whether a teacher may read this person's attendance (and so their name): a pupil of a class
/// they teach, or someone already in the log of a lesson they may see. Anyone else's is not
/// theirs to read.
async fn teacher_may_read(
    app: &App,
    school: &livegate_core::ids::SchoolId,
    teacher: &UserId,
    pupil: &UserId,
) -> Result<bool, ApiError> {
    use crate::store::MemberKind;
    for (class, kind) in app.store.classes_of(teacher).await? {
        if kind == MemberKind::Teacher && app.store.membership(&class.id, pupil).await? == Some(MemberKind::Pupil) {
            return Ok(true);
        }
    }
    let in_their_lessons = LogFilter {
        pupil_id: Some(pupil.to_string()),
        ..LogFilter::default()
    };
    Ok(!app
        .store
        .log_lessons(school, &LogScope::Teacher(teacher.clone()), &in_their_lessons)
        .await?
        .is_empty())
}

/// `GET /api/log/pupils/{user_id}/attendance`: one pupil's presence across the lessons the
/// caller may see. A teacher reads only pupils of the classes they teach (or people in their
/// own lessons' logs); anyone else is `not_found`, exactly as an unknown id.
pub async fn attendance(
    State(app): State<App>,
    Extension(CurrentUser(user)): Extension<CurrentUser>,
    Path(pupil): Path<String>,
    ApiQuery(query): ApiQuery<LogQuery>,
) -> Result<Json<Attendance>, ApiError> {
    let scope = reader(&user)?;
    let clock = clock(&app, &user).await?;
    let mut filter = query.filter(&clock)?;
    let pupil = UserId::parse(&pupil).ok_or(ErrorCode::NotFound)?;
    let record = app
        .store
        .user(&pupil)
        .await?
        .filter(|p| p.school == user.school)
        .ok_or(ErrorCode::NotFound)?;
    if let LogScope::Teacher(teacher) = &scope {
        if !teacher_may_read(&app, &user.school, teacher, &pupil).await? {
            return Err(ErrorCode::NotFound.into());
        }
    }
    filter.pupil_id = Some(pupil.to_string());
    audit(&app, &user, &scope, "log.view", &Reading::Pupil(&pupil)).await?;
    let now = now_ms();
    let mut total = 0;
    let mut rows = Vec::new();
    for log in app.store.lesson_logs(&user.school, &scope, &filter).await? {
        let mine: Vec<_> = intervals(&log.sessions, now)
            .into_iter()
            .filter(|i| i.user_id == pupil.as_str())
            .collect();
        let seconds: i64 = mine.iter().map(|i| i.seconds).sum();
        total += seconds;
        let refusals = log
            .events
            .iter()
            .filter(|e| e.subject_id.as_deref() == Some(pupil.as_str()) && e.kind == "refused")
            .filter_map(|e| e.detail.clone())
            .collect();
        rows.push(AttendedLesson {
            lesson: LessonView::new(&log.lesson, &clock),
            present: !mine.is_empty(),
            seconds,
            intervals: mine.into_iter().map(|i| IntervalView::new(i, &clock)).collect(),
            refusals,
        });
    }
    Ok(Json(Attendance {
        time_zone: clock.zone,
        pupil: PupilRef {
            id: record.id,
            display_name: record.display_name,
        },
        total_seconds: total,
        lessons: rows,
    }))
}

/// `GET /api/log/concerns`: the leaders' concern list, newest first.
pub async fn concerns(
    State(app): State<App>,
    Extension(CurrentUser(user)): Extension<CurrentUser>,
) -> Result<Json<ConcernList>, ApiError> {
    let clock = clock(&app, &user).await?;
    audit(&app, &user, &LogScope::School, "log.view", &Reading::Concerns(true)).await?;
    let rows = app.store.concerns(&user.school).await?;
    let concerns = rows.iter().map(|c| ConcernView::new(c, &clock)).collect();
    Ok(Json(ConcernList {
        time_zone: clock.zone,
        concerns,
    }))
}

fn csv_response(name: &str, body: String) -> Response {
    let disposition = format!("attachment; filename=\"{name}\"");
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        body,
    )
        .into_response()
}

async fn export(
    app: &App,
    user: &UserRecord,
    query: &LogQuery,
    what: &str,
) -> Result<(Vec<LessonLog>, Clock), ApiError> {
    let scope = reader(user)?;
    let clock = clock(app, user).await?;
    let filter = query.filter(&clock)?;
    audit(
        app,
        user,
        &scope,
        "log.export",
        &Export {
            export: what,
            filter: query,
        },
    )
    .await?;
    let mut logs = app.store.lesson_logs(&user.school, &scope, &filter).await?;
    logs.reverse(); // oldest first reads best in a spreadsheet
    Ok((logs, clock))
}

/// `GET /api/log/intervals.csv`: one row per presence interval.
pub async fn intervals_export(
    State(app): State<App>,
    Extension(CurrentUser(user)): Extension<CurrentUser>,
    ApiQuery(query): ApiQuery<LogQuery>,
) -> Result<Response, ApiError> {
    let (logs, clock) = export(&app, &user, &query, "intervals").await?;
    Ok(csv_response(
        "livestream-log-attendance.csv",
        intervals_csv(&logs, &clock, now_ms()),
    ))
}

/// `GET /api/log/lessons.csv`: one row per lesson.
pub async fn lessons_export(
    State(app): State<App>,
    Extension(CurrentUser(user)): Extension<CurrentUser>,
    ApiQuery(query): ApiQuery<LogQuery>,
) -> Result<Response, ApiError> {
    let (logs, clock) = export(&app, &user, &query, "lessons").await?;
    Ok(csv_response("livestream-log-lessons.csv", lessons_csv(&logs, &clock)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZoneBody {
    time_zone: String,
}

/// `GET /api/admin/time-zone`: the school's time zone and the zones it may pick (superusers).
pub async fn get_time_zone(
    State(app): State<App>,
    Extension(CurrentUser(user)): Extension<CurrentUser>,
) -> Result<Json<TimeZones>, ApiError> {
    let clock = clock(&app, &user).await?;
    Ok(Json(TimeZones {
        time_zone: clock.zone,
        zones: zone_names(),
    }))
}

/// `PUT /api/admin/time-zone`: the school's time zone for showing the log (superusers).
pub async fn set_time_zone(
    State(app): State<App>,
    Extension(CurrentUser(user)): Extension<CurrentUser>,
    ApiJson(body): ApiJson<ZoneBody>,
) -> Result<StatusCode, ApiError> {
    app.store
        .set_time_zone(&user.school, &user.id, body.time_zone.trim())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use axum::http::{Method, StatusCode};

    use super::super::tests::{app, call, sign_in};
    use livegate_core::ids::SchoolId;

    /// Walks the route table, so a log route added later is covered too.
    #[tokio::test]
    async fn pupils_and_visitors_are_refused_on_every_log_route() {
        let app = app().await;
        for (email, password) in [
            ("ada@pupils.demo.sch.uk", "demo-pupil"),
            ("visitor@partner.sch.uk", "demo-teacher"),
        ] {
            let cookie = sign_in(&app, email, password).await;
            let routes: Vec<_> = super::super::route_table()
                .into_iter()
                .filter(|(_, p, _, _)| p.starts_with("/api/log/"))
                .collect();
            assert!(routes.len() >= 7);
            for (method, path, _, _) in routes {
                let path = path.replace("{lesson_id}", "les_x").replace("{user_id}", "usr_x");
                let (status, body) = call(
                    &app,
                    method.clone(),
                    &path,
                    Some(&cookie),
                    r#"{"category":"concern","text":"x"}"#,
                )
                .await;
                assert_eq!(
                    (status, body["error"]["code"].as_str()),
                    (StatusCode::FORBIDDEN, Some("forbidden_role")),
                    "{email}: {method} {path}"
                );
            }
        }
    }

    #[tokio::test]
    async fn school_wide_readings_and_every_export_are_audited() {
        let app = app().await;
        let leader = crate::http::mfa::tests::two_factor_session(&app, "dsl@demo.sch.uk", "demo-leader").await;
        let teacher = sign_in(&app, "teacher@demo.sch.uk", "demo-teacher").await;
        let school = SchoolId::parse("sch_demo").unwrap();
        let count = |action: &'static str| {
            let store = app.store.clone();
            let school = school.clone();
            async move {
                store
                    .audit_entries(&school, 100_000)
                    .await
                    .unwrap()
                    .iter()
                    .filter(|e| e.action == action)
                    .count()
            }
        };
        assert_eq!(
            call(&app, Method::GET, "/api/log/lessons?class_id=7a", Some(&teacher), "")
                .await
                .0,
            StatusCode::OK
        );
        assert_eq!(count("log.view").await, 0, "a teacher reading their own lessons");
        assert_eq!(
            call(&app, Method::GET, "/api/log/lessons", Some(&leader), "").await.0,
            StatusCode::OK
        );
        assert_eq!(
            call(&app, Method::GET, "/api/log/concerns", Some(&leader), "").await.0,
            StatusCode::OK
        );
        assert_eq!(count("log.view").await, 2);
        assert_eq!(
            call(&app, Method::GET, "/api/log/intervals.csv", Some(&teacher), "")
                .await
                .0,
            StatusCode::OK
        );
        assert_eq!(
            call(
                &app,
                Method::GET,
                "/api/log/lessons.csv?from_date=2026-01-01",
                Some(&leader),
                ""
            )
            .await
            .0,
            StatusCode::OK
        );
        assert_eq!(count("log.export").await, 2);
        let (status, body) = call(&app, Method::GET, "/api/log/lessons?colour=red", Some(&leader), "").await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("bad_request"))
        );
        let admin = sign_in(&app, "admin@demo.sch.uk", "demo-admin").await;
        let (status, _) = call(
            &app,
            Method::PUT,
            "/api/admin/time-zone",
            Some(&admin),
            r#"{"time_zone":"Mars/Olympus"}"#,
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let (status, _) = call(
            &app,
            Method::PUT,
            "/api/admin/time-zone",
            Some(&admin),
            r#"{"time_zone":"Europe/Dublin"}"#,
        )
        .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (_, body) = call(&app, Method::GET, "/api/log/lessons", Some(&leader), "").await;
        assert_eq!(body["time_zone"], "Europe/Dublin");
        let (status, body) = call(&app, Method::GET, "/api/admin/time-zone", Some(&admin), "").await;
        assert_eq!(
            (status, body["time_zone"].as_str()),
            (StatusCode::OK, Some("Europe/Dublin"))
        );
        assert!(body["zones"]
            .as_array()
            .is_some_and(|z| z.iter().any(|n| n == "Europe/London")));
    }

    /// Lessons of 7a started at these instants (RFC 3339, UTC), as the lesson task logs them.
    async fn lessons_at(app: &crate::http::App, starts: &[&str]) -> Vec<String> {
        use livegate_core::ids::{ClassId, Email, LessonId};
        let teacher = app
            .store
            .user_by_email(&Email::parse("teacher@demo.sch.uk").unwrap())
            .await
            .unwrap()
            .unwrap();
        let mut ids = Vec::new();
        for start in starts {
            let id = LessonId::generate();
            let at = start.parse::<jiff::Timestamp>().unwrap().as_millisecond();
            let l = crate::store::log::NewLesson {
                id: id.clone(),
                school: SchoolId::parse("sch_demo").unwrap(),
                class: ClassId::parse("7a").unwrap(),
                class_name: "7A Science".into(),
                started_by: teacher.id.clone(),
                recording_id: None,
                scheduled: None,
                at,
            };
            app.store.log_lesson_start(&l).await.unwrap();
            ids.push(id.to_string());
        }
        ids
    }

    /// The body of a GET that answers 200 with text (the CSV exports).
    async fn text(app: &crate::http::App, path: &str, cookie: &str) -> String {
        use http_body_util::BodyExt;
        use tower::ServiceExt;
        let req = axum::http::Request::get(path)
            .header("cookie", cookie)
            .body(axum::body::Body::empty())
            .unwrap();
        let res = super::super::router(app.clone()).oneshot(req).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        String::from_utf8(res.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap()
    }

    /// The ids a list answer holds, or its error code.
    fn ids(status: StatusCode, body: &serde_json::Value) -> Result<Vec<String>, String> {
        match body["lessons"].as_array() {
            Some(ls) if status == StatusCode::OK => {
                Ok(ls.iter().filter_map(|l| l["id"].as_str().map(str::to_owned)).collect())
            }
            _ => Err(format!("{status} {}", body["error"]["code"].as_str().unwrap_or(""))),
        }
    }

    /// A day in the filter is the school's whole day: 23 hours on the day the clocks go
    /// forward, 25 on the day they go back, and another zone's day once a superuser changes it.
    #[tokio::test]
    async fn the_date_filter_selects_lessons_by_the_schools_day() {
        let app = app().await;
        let late_march = "2026-03-29T23:30:00Z"; // 00:30 BST on Monday the 30th
        let eve_of_autumn = "2026-10-24T23:30:00Z"; // 00:30 BST on Sunday the 25th
        let late_autumn = "2026-10-25T23:30:00Z"; // 23:30 GMT on Sunday the 25th
        let winter = "2026-12-01T12:00:00Z";
        let all = lessons_at(&app, &[late_march, eve_of_autumn, late_autumn, winter]).await;
        let [march, eve, late, dec] = [&all[0], &all[1], &all[2], &all[3]];
        let leader = crate::http::mfa::tests::two_factor_session(&app, "dsl@demo.sch.uk", "demo-leader").await;
        let list = |q: &'static str| {
            let (app, leader) = (app.clone(), leader.clone());
            async move {
                let (status, body) = call(&app, Method::GET, &format!("/api/log/lessons?{q}"), Some(&leader), "").await;
                ids(status, &body)
            }
        };
        assert_eq!(
            list("from_date=2026-03-30&to_date=2026-03-30").await,
            Ok(vec![march.clone()])
        );
        assert_eq!(
            list("from_date=2026-03-29&to_date=2026-03-29").await,
            Ok(vec![]),
            "not on the UTC day"
        );
        assert_eq!(
            list("from_date=2026-10-25&to_date=2026-10-25").await,
            Ok(vec![late.clone(), eve.clone()]),
            "the 25-hour day, newest first"
        );
        assert_eq!(list("from_date=2026-10-24&to_date=2026-10-24").await, Ok(vec![]));
        assert_eq!(list("from_date=2026-10-26").await, Ok(vec![dec.clone()]));
        assert_eq!(list("to_date=2026-03-30").await, Ok(vec![march.clone()]));
        assert_eq!(
            list("from_date=2026-03-01&to_date=2026-12-31&class_id=7a")
                .await
                .map(|v| v.len()),
            Ok(4)
        );
        assert_eq!(
            list("from_date=&to_date=").await.map(|v| v.len()),
            Ok(4),
            "empty is no bound"
        );
        // The exports take the same days.
        let csv = text(
            &app,
            "/api/log/lessons.csv?from_date=2026-10-25&to_date=2026-10-25",
            &leader,
        )
        .await;
        assert!(
            csv.contains(eve.as_str())
                && csv.contains(late.as_str())
                && !csv.contains(march.as_str())
                && !csv.contains(dec.as_str()),
            "{csv}"
        );
        // In New York the March lesson was on Sunday evening (19:30 EDT).
        let admin = sign_in(&app, "admin@demo.sch.uk", "demo-admin").await;
        let (status, _) = call(
            &app,
            Method::PUT,
            "/api/admin/time-zone",
            Some(&admin),
            r#"{"time_zone":"America/New_York"}"#,
        )
        .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        assert_eq!(
            list("from_date=2026-03-29&to_date=2026-03-29").await,
            Ok(vec![march.clone()])
        );
        assert_eq!(list("from_date=2026-03-30&to_date=2026-03-30").await, Ok(vec![]));
    }

    #[tokio::test]
    async fn bad_dates_are_refused_with_a_stable_code_and_change_nothing() {
        let app = app().await;
        let leader = crate::http::mfa::tests::two_factor_session(&app, "dsl@demo.sch.uk", "demo-leader").await;
        let school = SchoolId::parse("sch_demo").unwrap();
        let before = app.store.audit_entries(&school, 100_000).await.unwrap().len();
        for q in [
            "from_date=2026-02-30",
            "to_date=2026-13-01",
            "from_date=2026-3-1",
            "from_date=20260301",
            "from_date=2026-03-01T00:00",
            "from_date=yesterday",
            "from_date=1774742400000",
            "from_date=2026-03-02&to_date=2026-03-01",
            "to_date=%202026-03-01",
        ] {
            for path in [
                "/api/log/lessons",
                "/api/log/lessons.csv",
                "/api/log/intervals.csv",
                "/api/log/pupils/usr_x/attendance",
            ] {
                let (status, body) = call(&app, Method::GET, &format!("{path}?{q}"), Some(&leader), "").await;
                assert_eq!(
                    (status, body["error"]["code"].as_str()),
                    (StatusCode::BAD_REQUEST, Some("bad_date")),
                    "{path}?{q}"
                );
                assert!(body["error"]["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("YYYY-MM-DD")));
            }
        }
        // The old millisecond bounds are gone: one way to filter by date.
        for q in ["from=0", "to=1", "from_date=2026-03-01&from_date=2026-03-02"] {
            let (status, body) = call(&app, Method::GET, &format!("/api/log/lessons?{q}"), Some(&leader), "").await;
            assert_eq!(
                (status, body["error"]["code"].as_str()),
                (StatusCode::BAD_REQUEST, Some("bad_request")),
                "{q}"
            );
        }
        assert_eq!(
            app.store.audit_entries(&school, 100_000).await.unwrap().len(),
            before,
            "nothing audited, nothing read"
        );
    }
}
