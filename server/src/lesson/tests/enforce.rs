//! Live enforcement: a directory change (consent, roster, domain, account) removes exactly
//! the person it concerns, with its reason, and the teacher's absence ends the lesson.

use super::*;

/// Withdrawing consent removes the pupil at once, with the reason, audited; a classmate and
/// the teacher stay, and the teacher hears that the pupil left.
#[tokio::test]
async fn withdrawn_consent_removes_only_that_pupil() {
    let f = fixture(Duration::from_secs(60)).await;
    let mut teacher = join(&f, "teacher@demo.sch.uk").await;
    let mut ada = join(&f, "ada@pupils.demo.sch.uk").await;
    saw_join(&mut teacher, &ada).await;
    let mut ben = join(&f, "ben@pupils.demo.sch.uk").await;
    let ada_user = user(&f.store, "ada@pupils.demo.sch.uk").await;
    let consent = f.store.consents(&school(), &ada_user.id).await.unwrap().remove(0);
    let started = std::time::Instant::now();
    f.store.withdraw_consent("admin", &school(), &consent.id).await.unwrap();
    let seen = ada.closed().await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(removed_reason(&seen), Some(ErrorCode::ConsentWithdrawn), "{seen:?}");
    let ada_id = ada.id.clone();
    teacher
        .until(
            "ada left",
            |m| matches!(m, ServerMsg::ParticipantLeft { participant_id } if *participant_id == ada_id),
        )
        .await;
    ben.until(
        "ada left",
        |m| matches!(m, ServerMsg::ParticipantLeft { participant_id } if *participant_id == ada_id),
    )
    .await;
    assert!(audited(&f.store, "admission.revoke", &ada_user.id).await);
    // Ben and the teacher are still served.
    send(&f, &ben, ClientMsg::Hand { raised: true }).await;
    teacher
        .until(
            "ben's hand",
            |m| matches!(m, ServerMsg::ParticipantUpdated { participant } if participant.hand_raised),
        )
        .await;
    assert!(removed_reason(&ben.queued()).is_none());
    // She cannot come back.
    assert_eq!(
        try_join(&f, "ada@pupils.demo.sch.uk").await.err(),
        Some(ErrorCode::ConsentWithdrawn)
    );
}

/// Roster removal, a removed domain and a disabled account each remove with their own reason.
#[tokio::test]
async fn roster_domain_and_account_changes_remove_with_their_reason() {
    let f = fixture(Duration::from_secs(60)).await;
    let _teacher = join(&f, "teacher@demo.sch.uk").await;
    let mut ada = join(&f, "ada@pupils.demo.sch.uk").await;
    let mut ben = join(&f, "ben@pupils.demo.sch.uk").await;
    let mut cara = join(&f, "cara@pupils.demo.sch.uk").await;

    let ada_user = user(&f.store, "ada@pupils.demo.sch.uk").await;
    f.store
        .remove_member("admin", &school(), &class_7a(), &ada_user.id)
        .await
        .unwrap();
    assert_eq!(removed_reason(&ada.closed().await), Some(ErrorCode::NotOnRoster));

    let ben_user = user(&f.store, "ben@pupils.demo.sch.uk").await;
    f.store
        .update_user("admin", &school(), &ben_user.id, None, Some(true))
        .await
        .unwrap();
    assert_eq!(removed_reason(&ben.closed().await), Some(ErrorCode::AccountDisabled));

    assert!(removed_reason(&cara.queued()).is_none(), "cara is unaffected so far");
    f.store
        .remove_domain("admin", &school(), "pupils.demo.sch.uk")
        .await
        .unwrap();
    assert_eq!(removed_reason(&cara.closed().await), Some(ErrorCode::DomainNotTrusted));
    // The teacher's domain is still trusted: the lesson goes on.
    assert!(f.lesson.summary().teacher_present);
}

/// A teacher taken off the class leaves it; the lesson then ends after the absence timeout.
#[tokio::test]
async fn teacher_taken_off_the_class_is_removed_and_the_lesson_ends() {
    let f = fixture(Duration::from_millis(400)).await;
    let mut teacher = join(&f, "teacher@demo.sch.uk").await;
    let mut ada = join(&f, "ada@pupils.demo.sch.uk").await;
    let rivera = user(&f.store, "teacher@demo.sch.uk").await;
    f.store
        .remove_member("admin", &school(), &class_7a(), &rivera.id)
        .await
        .unwrap();
    assert_eq!(removed_reason(&teacher.closed().await), Some(ErrorCode::NotOnRoster));
    // Ada is not removed for the teacher's absence; the lesson ends for her after the timeout.
    let seen = ada.closed().await;
    assert!(
        seen.iter().any(|m| matches!(
            m,
            ServerMsg::LessonEnded {
                reason: EndReason::TeacherAbsent
            }
        )),
        "{seen:?}"
    );
    assert!(removed_reason(&seen).is_none());
    assert!(!f.lesson.is_live());
}

/// Pupils wait for the teacher; a lesson with no teacher for the timeout ends for everyone,
/// including those in the lobby; a teacher back in time keeps it going.
#[tokio::test]
async fn teacher_absence_gates_pupils_and_ends_the_lesson() {
    let f = fixture(Duration::from_millis(600)).await;
    assert_eq!(
        try_join(&f, "ada@pupils.demo.sch.uk").await.err(),
        Some(ErrorCode::TeacherAbsent)
    );
    let teacher = join(&f, "teacher@demo.sch.uk").await;
    let mut ada = join(&f, "ada@pupils.demo.sch.uk").await;
    let mut visitor = join(&f, "visitor@partner.sch.uk").await;
    // The teacher leaves and comes back within the timeout: nothing ends.
    assert!(f.lesson.send(LessonMsg::Leave(teacher.id.clone())).await);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let _back = join(&f, "teacher@demo.sch.uk").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(f.lesson.is_live(), "ended although the teacher came back");
    assert!(!ada.queued().iter().any(|m| matches!(
        m,
        ServerMsg::LessonEnded {
            reason: EndReason::TeacherAbsent
        }
    )));
    // Gone for good: the lesson ends within the timeout.
    assert!(f.lesson.send(LessonMsg::Leave(_back.id.clone())).await);
    let started = std::time::Instant::now();
    assert!(ada.closed().await.iter().any(|m| matches!(
        m,
        ServerMsg::LessonEnded {
            reason: EndReason::TeacherAbsent
        }
    )));
    assert!(visitor.closed().await.iter().any(|m| matches!(
        m,
        ServerMsg::LessonEnded {
            reason: EndReason::TeacherAbsent
        }
    )));
    assert!(
        started.elapsed() >= Duration::from_millis(500),
        "ended early: {:?}",
        started.elapsed()
    );
    assert!(!f.lesson.is_live());
}
