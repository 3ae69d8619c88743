//! The lessons of this server: the registry and the stop flag as one type ([`Lessons`]), a
//! lesson's start with its recording, and admission with its audit and livestream-log entries.
//!
//! The registry and the flag share one lock, and nothing outside this module can take it: a
//! lesson is registered only while the flag is down, and [`Lessons::stop`] raises the flag and
//! takes the list in the same critical section. So a lesson is either started before a stop
//! (and ended by it) or refused with `server_stopping`, and no lesson starts unseen after one.

use std::collections::HashMap;
use std::sync::Mutex;

use livegate_core::admission::{Decision, Facts};
use livegate_core::codes::ErrorCode;
use livegate_core::ids::{random_token, ClassId, LessonId, SchoolId, UserId};
use livegate_core::proto::LessonSummary;

use super::{AppError, Livegate};
use crate::lesson::gate::Stage;
use crate::lesson::{self, LessonHandle, LessonInfo};
use crate::recording::{LessonRecorder, RecorderMsg};
use crate::store::{now_ms, MemberKind, StoreError, UserRecord};

/// The lessons of this server (live, or ended and finishing), and whether it is stopping.
#[derive(Default)]
pub struct Lessons {
    inner: Mutex<Registry>,
}

#[derive(Default)]
struct Registry {
    lessons: HashMap<LessonId, LessonHandle>,
    stopping: bool,
}

impl Lessons {
    fn registry(&self) -> std::sync::MutexGuard<'_, Registry> {
        self.inner.lock().expect("lessons lock")
    }

    /// A lesson by id.
    pub fn get(&self, id: &LessonId) -> Option<LessonHandle> {
        self.registry().lessons.get(id).cloned()
    }

    /// The live lesson of a class, if any.
    pub fn live_of(&self, class: &ClassId) -> Option<LessonHandle> {
        self.registry()
            .lessons
            .values()
            .find(|l| &l.info.class == class && l.is_live())
            .cloned()
    }

    /// How many lessons this server holds (live or finishing).
    pub fn len(&self) -> usize {
        self.registry().lessons.len()
    }

    /// True when this server holds no lesson.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The ids of every lesson this server holds.
    pub fn ids(&self) -> Vec<LessonId> {
        self.registry().lessons.keys().cloned().collect()
    }

    /// True once a stop has begun.
    pub fn is_stopping(&self) -> bool {
        self.registry().stopping
    }

    /// Refuses new work (lessons, tickets, joins) once a stop has begun: `server_stopping`.
    pub fn check_open(&self) -> Result<(), ErrorCode> {
        if self.is_stopping() {
            Err(ErrorCode::ServerStopping)
        } else {
            Ok(())
        }
    }

    /// Raises the stop flag and returns every lesson (live or finishing), in one critical
    /// section: no lesson starts unseen after it.
    pub fn stop(&self) -> Vec<LessonHandle> {
        let mut registry = self.registry();
        registry.stopping = true;
        registry.lessons.values().cloned().collect()
    }

    /// Removes and returns every lesson, without stopping: for a harness that reuses one
    /// application across runs (the fuzz targets).
    #[cfg(any(test, feature = "fuzzing"))]
    pub fn take_all(&self) -> Vec<LessonHandle> {
        self.registry().lessons.drain().map(|(_, l)| l).collect()
    }

    /// Registers the lesson `spawn` starts, unless the server is stopping (`server_stopping`) or
    /// the class already has a live lesson (returned instead; `spawn` is not called).
    fn register(&self, class: &ClassId, spawn: impl FnOnce() -> LessonHandle) -> Result<Started, ErrorCode> {
        let mut registry = self.registry();
        if registry.stopping {
            return Err(ErrorCode::ServerStopping);
        }
        if let Some(live) = registry
            .lessons
            .values()
            .find(|l| &l.info.class == class && l.is_live())
        {
            return Ok(Started::Existing(live.summary()));
        }
        let handle = spawn();
        let summary = handle.summary();
        registry.lessons.insert(handle.info.id.clone(), handle);
        Ok(Started::New(summary))
    }
}

/// What asking to start a lesson gave: a new lesson, or the class's lesson already live.
#[derive(Debug)]
pub enum Started {
    New(LessonSummary),
    Existing(LessonSummary),
}

/// The planned start and end (UTC ms) of a lesson, for the livestream log: both or neither, in
/// order, at most a day apart.
fn scheduled(start: Option<i64>, end: Option<i64>) -> Result<Option<(i64, i64)>, ErrorCode> {
    match (start, end) {
        (None, None) => Ok(None),
        (Some(s), Some(e)) if 0 < s && s < e && e - s <= 24 * 3_600_000 => Ok(Some((s, e))),
        _ => Err(ErrorCode::BadRequest),
    }
}

impl Livegate {
    /// A teacher starts (or gets back) the live lesson of one of the classes they teach in
    /// their school. The lesson's recording begins first; if it cannot, the lesson still starts
    /// (so the teacher is told why) but admits no pupil.
    pub async fn start_lesson(
        &self,
        user: &UserRecord,
        class: &ClassId,
        plan: (Option<i64>, Option<i64>),
    ) -> Result<Started, AppError> {
        self.lessons.check_open()?;
        let class = self
            .store
            .class(&user.school, class)
            .await?
            .ok_or(ErrorCode::NotFound)?;
        if self.store.school_disabled(&class.school).await? {
            return Err(ErrorCode::SchoolDisabled.into());
        }
        let scheduled = scheduled(plan.0, plan.1)?;
        if self.store.membership(&class.id, &user.id).await? != Some(MemberKind::Teacher) {
            return Err(ErrorCode::ForbiddenRole.into());
        }
        let notice = self.store.conduct(&class.school).await?.map(|c| c.recording_notice);
        let notice = notice.unwrap_or_else(|| crate::store::seed::RECORDING_NOTICE.to_owned());
        if let Some(live) = self.lessons.live_of(&class.id) {
            return Ok(Started::Existing(live.summary()));
        }
        let id = LessonId::generate();
        let recorder = self.begin_recording(&class.school, &id, &class.id, &user.id).await;
        let finish = recorder.clone();
        let info = LessonInfo {
            id,
            school: class.school.clone(),
            class: class.id.clone(),
            class_name: class.name.clone(),
            recording_notice: notice,
            recorder,
            started_by: user.id.clone(),
            scheduled,
        };
        let spawn = || {
            lesson::spawn(
                info,
                self.media.clone(),
                self.store.clone(),
                self.config.teacher_absent_timeout(),
            )
        };
        let started = self.lessons.register(&class.id, spawn);
        match &started {
            Ok(Started::New(summary)) => tracing::info!(lesson = %summary.id, class = %class.id, "lesson started"),
            // Stopping, or another request started it meanwhile: this recording ends empty.
            _ => {
                if let Some(r) = &finish {
                    r.send(RecorderMsg::Finish);
                }
            }
        }
        Ok(started?)
    }

    /// Starts the lesson's recording. `None` means recording is unavailable: the lesson still
    /// starts, so the teacher is told why, but the gate admits no pupil (fail closed).
    async fn begin_recording(
        &self,
        school: &SchoolId,
        lesson: &LessonId,
        class: &ClassId,
        teacher: &UserId,
    ) -> Option<LessonRecorder> {
        let service = self.recordings.as_ref()?;
        let id = format!("rec_{}", random_token(12));
        let recorder = match service.begin(school, &id, now_ms()) {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(lesson = %lesson, error = %e, "recording could not start; pupils will be refused");
                return None;
            }
        };
        if let Err(e) = self
            .store
            .create_recording(school, &id, lesson, class, teacher, &recorder.wrapped_key)
            .await
        {
            tracing::error!(lesson = %lesson, error = %e, "recording could not be registered; pupils will be refused");
            recorder.send(RecorderMsg::Finish);
            return None;
        }
        Some(recorder)
    }

    /// The lesson `id` if this user may see it: it exists (`not_found`) and is of their school
    /// (`wrong_school`).
    pub fn visible_lesson(&self, user: &UserRecord, id: &str) -> Result<LessonHandle, ErrorCode> {
        let id = LessonId::parse(id).ok_or(ErrorCode::NotFound)?;
        let lesson = self.lessons.get(&id).ok_or(ErrorCode::NotFound)?;
        if lesson.info.school != user.school {
            return Err(ErrorCode::WrongSchool);
        }
        Ok(lesson)
    }

    /// The admission gate's facts for this user and lesson, now.
    pub async fn facts(&self, user: &UserRecord, lesson: &LessonHandle) -> Result<Facts, StoreError> {
        lesson::facts::gather(&self.store, user, lesson).await
    }

    /// Runs the gate for a join ticket and records its decision (`lesson::gate`): the
    /// ticket's stage of a join. The lesson runs the other when it seats the ticket's holder.
    pub async fn admit(&self, user: &UserRecord, lesson: &LessonHandle) -> Result<Decision, StoreError> {
        lesson::gate::run(&self.store, user, lesson, Stage::Ticket).await
    }

    /// What a pupil's Join would meet on each of their classes (`None` where they teach it),
    /// from the gate without recording anything (`lesson::gate::preview`): for the class's live
    /// lesson if it is open to pupils, else as if it were live with its teacher in it. The
    /// person's own facts are read once for all their classes.
    pub async fn preview_joins(
        &self,
        user: &UserRecord,
        classes: &[(MemberKind, Option<&LessonHandle>)],
    ) -> Result<Vec<Option<Decision>>, StoreError> {
        if classes.iter().all(|(kind, _)| *kind != MemberKind::Pupil) {
            return Ok(vec![None; classes.len()]);
        }
        let person = lesson::facts::person(&self.store, user, &user.school).await?;
        Ok(classes
            .iter()
            .map(|(kind, live)| {
                (*kind == MemberKind::Pupil).then(|| lesson::gate::preview(person, &user.id, Some(*kind), *live))
            })
            .collect())
    }

    /// Puts a refusal decided outside the gate's two stages in the livestream log and on the
    /// audit chain: someone of the school opening the page of another class's lesson
    /// (`Stage::Page`). The same refusal repeated is counted on its first event.
    pub async fn log_refused(
        &self,
        user: &UserRecord,
        lesson: &LessonHandle,
        code: ErrorCode,
    ) -> Result<(), StoreError> {
        lesson::gate::record(&self.store, user, lesson, Stage::Page, Decision::Refuse(code)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_schedule_is_both_or_neither_in_order_within_a_day() {
        assert_eq!(scheduled(None, None), Ok(None));
        assert_eq!(scheduled(Some(1), Some(2)), Ok(Some((1, 2))));
        assert_eq!(
            scheduled(Some(1), Some(1 + 24 * 3_600_000)),
            Ok(Some((1, 1 + 24 * 3_600_000)))
        );
        for (s, e) in [
            (Some(1), None),
            (None, Some(2)),
            (Some(2), Some(1)),
            (Some(0), Some(1)),
            (Some(1), Some(2 + 24 * 3_600_000)),
        ] {
            assert_eq!(scheduled(s, e), Err(ErrorCode::BadRequest), "{s:?} {e:?}");
        }
    }
}
