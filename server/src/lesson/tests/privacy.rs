//! Privacy profiles from both sides: what pupils and the teacher see, and the camera lock.

use super::*;

fn find<'a>(list: &'a [Participant], id: &ParticipantId) -> Option<&'a Participant> {
    list.iter().find(|p| &p.id == id)
}

fn joined_list(m: &ServerMsg) -> Vec<Participant> {
    match m {
        ServerMsg::Joined { participants, .. } => participants.clone(),
        _ => panic!("not joined: {m:?}"),
    }
}

/// Privacy profiles from both sides: pupils see the alias and not the hidden pupil, the
/// teacher sees real names and the profile; the camera is never granted nor published.
#[tokio::test]
async fn privacy_profiles_shape_views_and_lock_the_camera() {
    let f = fixture(Duration::from_secs(60)).await;
    let ada_user = user(&f.store, "ada@pupils.demo.sch.uk").await;
    let cara_user = user(&f.store, "cara@pupils.demo.sch.uk").await;
    let star = PrivacyProfile {
        camera_always_off: true,
        alias: Some("Star".into()),
        hidden_from_pupils: false,
    };
    f.store
        .set_privacy("admin", &school(), &ada_user.id, &star)
        .await
        .unwrap();
    let hidden = PrivacyProfile {
        camera_always_off: false,
        alias: None,
        hidden_from_pupils: true,
    };
    f.store
        .set_privacy("admin", &school(), &cara_user.id, &hidden)
        .await
        .unwrap();

    let mut teacher = join(&f, "teacher@demo.sch.uk").await;
    let ada = join(&f, "ada@pupils.demo.sch.uk").await;
    let cara = join(&f, "cara@pupils.demo.sch.uk").await;
    let (mut ben, ben_joined) = {
        let mut c = try_join(&f, "ben@pupils.demo.sch.uk").await.unwrap();
        let m = c.next().await;
        (c, joined_list(&m))
    };
    // Ben (a pupil) sees Ada as "Star", without her profile, and does not see Cara at all.
    let seen = find(&ben_joined, &ada.id).expect("ben sees ada");
    assert_eq!(seen.display_name, "Star");
    assert!(seen.privacy.is_none());
    assert!(
        find(&ben_joined, &cara.id).is_none(),
        "a hidden pupil is in a pupil's list"
    );
    assert!(ben_joined
        .iter()
        .all(|p| p.display_name != "Ada" && p.display_name != "Cara"));
    // The teacher saw each of them join under their real names, with the profile.
    let mut names = std::collections::HashMap::new();
    for _ in 0..3 {
        if let ServerMsg::ParticipantJoined { participant } = teacher
            .until("participant_joined", |m| {
                matches!(m, ServerMsg::ParticipantJoined { .. })
            })
            .await
        {
            names.insert(participant.id.clone(), participant);
        }
    }
    assert_eq!(names[&ada.id].display_name, "Ada");
    assert_eq!(names[&ada.id].privacy.as_ref().map(|p| p.camera_always_off), Some(true));
    assert_eq!(names[&cara.id].display_name, "Cara");
    // The camera cannot be granted; the microphone can.
    send(
        &f,
        &teacher,
        ClientMsg::Grant {
            participant_id: ada.id.clone(),
            media: Media::Camera,
        },
    )
    .await;
    teacher
        .until("camera_always_off", |m| {
            matches!(
                m,
                ServerMsg::Error {
                    code: ErrorCode::CameraAlwaysOff,
                    ..
                }
            )
        })
        .await;
    // Her camera publish is refused with the same code, before any SDP is looked at.
    send(
        &f,
        &ada,
        ClientMsg::Publish {
            stream_id: StreamId::parse("cam").unwrap(),
            kind: livegate_core::proto::StreamKind::Camera,
            sdp: "v=0".into(),
        },
    )
    .await;
    let mut ada = ada;
    ada.until("camera_always_off", |m| {
        matches!(
            m,
            ServerMsg::Error {
                code: ErrorCode::CameraAlwaysOff,
                ..
            }
        )
    })
    .await;
    // Cara's hand, raised, reaches the teacher but never Ben.
    send(&f, &cara, ClientMsg::Hand { raised: true }).await;
    teacher.until("cara's hand", |m| matches!(m, ServerMsg::ParticipantUpdated { participant } if participant.id == cara.id && participant.hand_raised)).await;
    let cara_id = cara.id.clone();
    assert!(ben
        .queued()
        .iter()
        .all(|m| !format!("{m:?}").contains(cara_id.as_str())));
}

/// A profile set during the lesson applies at once: a granted camera is revoked, and pupils'
/// view of the pupil changes (a hidden pupil leaves their list, an alias replaces the name).
#[tokio::test]
async fn privacy_set_mid_lesson_applies_at_once() {
    let f = fixture(Duration::from_secs(60)).await;
    let mut teacher = join(&f, "teacher@demo.sch.uk").await;
    let mut ada = join(&f, "ada@pupils.demo.sch.uk").await;
    let mut ben = join(&f, "ben@pupils.demo.sch.uk").await;
    send(
        &f,
        &teacher,
        ClientMsg::Grant {
            participant_id: ada.id.clone(),
            media: Media::Camera,
        },
    )
    .await;
    ada.until(
        "camera grant",
        |m| matches!(m, ServerMsg::Grants { grants } if grants.contains(&Media::Camera)),
    )
    .await;
    let ada_user = user(&f.store, "ada@pupils.demo.sch.uk").await;
    let profile = PrivacyProfile {
        camera_always_off: true,
        alias: Some("Star".into()),
        hidden_from_pupils: false,
    };
    f.store
        .set_privacy("admin", &school(), &ada_user.id, &profile)
        .await
        .unwrap();
    ada.until(
        "camera revoked",
        |m| matches!(m, ServerMsg::Grants { grants } if !grants.contains(&Media::Camera)),
    )
    .await;
    let ada_id = ada.id.clone();
    ben.until("ada as Star", |m| matches!(m, ServerMsg::ParticipantUpdated { participant } if participant.id == ada_id && participant.display_name == "Star")).await;
    // (The teacher has not read Ada's join yet, so the join comes with her profile in it.)
    teacher.until("ada's profile", |m| matches!(m, ServerMsg::ParticipantJoined { participant } | ServerMsg::ParticipantUpdated { participant } if participant.id == ada_id && participant.display_name == "Ada" && participant.privacy.is_some())).await;
    // Now hidden: Ben is told she left; the teacher still sees her.
    let hidden = PrivacyProfile {
        hidden_from_pupils: true,
        ..profile
    };
    f.store
        .set_privacy("admin", &school(), &ada_user.id, &hidden)
        .await
        .unwrap();
    ben.until(
        "ada gone from the list",
        |m| matches!(m, ServerMsg::ParticipantLeft { participant_id } if *participant_id == ada_id),
    )
    .await;
    teacher.until("ada hidden", |m| matches!(m, ServerMsg::ParticipantUpdated { participant } if participant.id == ada_id && participant.privacy.as_ref().is_some_and(|p| p.hidden_from_pupils))).await;
    assert!(
        removed_reason(&ada.queued()).is_none(),
        "a profile does not remove anyone"
    );
}
