//! The lobby: staff from a trusted domain wait, are admitted or refused by the teacher, and
//! are rechecked like everyone else while they wait.

use super::*;

fn lobby_ids(m: &ServerMsg) -> Option<Vec<ParticipantId>> {
    match m {
        ServerMsg::LobbyUpdated { waiting } => Some(waiting.iter().map(|w| w.participant_id.clone()).collect()),
        _ => None,
    }
}

/// Staff from a trusted domain wait in the lobby, see nothing, and join as guests when
/// admitted; a refused one is told, disconnected and cannot knock again.
#[tokio::test]
async fn lobby_admit_and_refuse() {
    let f = fixture(Duration::from_secs(60)).await;
    // Waiting before the teacher arrives is allowed; the teacher gets the lobby on joining.
    let (tx, rx) = mpsc::channel(OUTBOX);
    let (reply, answer) = oneshot::channel();
    let req = JoinRequest {
        user: user(&f.store, "visitor@partner.sch.uk").await,
        device: "test".into(),
        outbox: tx,
        reply,
    };
    assert!(f.lesson.send(LessonMsg::Join(req)).await);
    let mut visitor = Client::new(answer.await.unwrap().unwrap(), rx);
    match visitor.next().await {
        ServerMsg::Lobby { participant_id, .. } => assert_eq!(participant_id, visitor.id),
        other => panic!("want lobby, got {other:?}"),
    }
    let mut teacher = join(&f, "teacher@demo.sch.uk").await;
    let m = teacher.until("lobby_updated", |m| lobby_ids(m).is_some()).await;
    assert_eq!(lobby_ids(&m).unwrap(), vec![visitor.id.clone()]);
    if let ServerMsg::LobbyUpdated { waiting } = &m {
        assert_eq!(waiting[0].domain, "partner.sch.uk");
        assert_eq!(waiting[0].role, Role::External);
    }
    // While waiting: nothing but `in_lobby`, and not a pupil's list either.
    send(&f, &visitor, ClientMsg::Hand { raised: true }).await;
    assert!(matches!(
        visitor.next().await,
        ServerMsg::Error {
            code: ErrorCode::InLobby,
            ..
        }
    ));
    // Only the teacher admits.
    let mut ada = join(&f, "ada@pupils.demo.sch.uk").await;
    send(
        &f,
        &ada,
        ClientMsg::Admit {
            participant_id: visitor.id.clone(),
        },
    )
    .await;
    ada.until("forbidden_role", |m| {
        matches!(
            m,
            ServerMsg::Error {
                code: ErrorCode::ForbiddenRole,
                ..
            }
        )
    })
    .await;
    send(
        &f,
        &teacher,
        ClientMsg::Admit {
            participant_id: visitor.id.clone(),
        },
    )
    .await;
    match visitor.until("joined", |m| matches!(m, ServerMsg::Joined { .. })).await {
        ServerMsg::Joined {
            participant_id, role, ..
        } => {
            assert_eq!(participant_id, visitor.id);
            assert_eq!(role, LessonRole::Guest);
        }
        _ => unreachable!(),
    }
    teacher
        .until("empty lobby", |m| lobby_ids(m).is_some_and(|w| w.is_empty()))
        .await;
    let visitor_user = user(&f.store, "visitor@partner.sch.uk").await;
    assert!(audited(&f.store, "lobby.admit", &visitor_user.id).await);
    // A guest publishes only with a grant, like a pupil, and may not run the lesson.
    send(&f, &visitor, ClientMsg::EndLesson).await;
    visitor
        .until("forbidden_role", |m| {
            matches!(
                m,
                ServerMsg::Error {
                    code: ErrorCode::ForbiddenRole,
                    ..
                }
            )
        })
        .await;
    send(
        &f,
        &teacher,
        ClientMsg::Grant {
            participant_id: visitor.id.clone(),
            media: Media::Microphone,
        },
    )
    .await;
    visitor
        .until(
            "grants",
            |m| matches!(m, ServerMsg::Grants { grants } if grants == &vec![Media::Microphone]),
        )
        .await;

    // A leader (staff, trusted domain, not this class's teacher) is refused.
    let mut leader = join(&f, "dsl@demo.sch.uk").await;
    teacher
        .until("leader waiting", |m| {
            lobby_ids(m).is_some_and(|w| w == vec![leader.id.clone()])
        })
        .await;
    send(
        &f,
        &teacher,
        ClientMsg::Refuse {
            participant_id: leader.id.clone(),
        },
    )
    .await;
    assert_eq!(
        removed_reason(&leader.closed().await),
        Some(ErrorCode::RefusedByTeacher)
    );
    assert_eq!(
        try_join(&f, "dsl@demo.sch.uk").await.err(),
        Some(ErrorCode::RefusedByTeacher)
    );
    // Unknown or already handled ids are refused plainly.
    send(
        &f,
        &teacher,
        ClientMsg::Admit {
            participant_id: leader.id.clone(),
        },
    )
    .await;
    teacher
        .until("unknown_participant", |m| {
            matches!(
                m,
                ServerMsg::Error {
                    code: ErrorCode::UnknownParticipant,
                    ..
                }
            )
        })
        .await;
    // The admitted guest reconnects straight into the lesson.
    let mut again = try_join(&f, "visitor@partner.sch.uk").await.unwrap();
    assert!(matches!(
        again.next().await,
        ServerMsg::Joined {
            role: LessonRole::Guest,
            ..
        }
    ));
}

/// A guest or waiting person whose domain stops being trusted is removed at once.
#[tokio::test]
async fn lobby_and_guests_are_rechecked() {
    let f = fixture(Duration::from_secs(60)).await;
    let _teacher = join(&f, "teacher@demo.sch.uk").await;
    let mut visitor = join(&f, "visitor@partner.sch.uk").await;
    f.store
        .remove_domain("admin", &school(), "partner.sch.uk")
        .await
        .unwrap();
    assert_eq!(
        removed_reason(&visitor.closed().await),
        Some(ErrorCode::DomainNotTrusted)
    );
    assert_eq!(
        try_join(&f, "visitor@partner.sch.uk").await.err(),
        Some(ErrorCode::DomainNotTrusted)
    );
}
