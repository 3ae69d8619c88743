//! Privacy profiles in lessons (DESIGN.md rule 6, policy 40.8), from both sides, set through
//! the admin API: other pupils see an aliased pupil only by the alias and never see a pupil
//! hidden from pupils, while the teacher sees real names and the profile; a pupil whose
//! camera is always off cannot be granted the camera nor publish one, and a profile set
//! mid-lesson closes a camera that was live.

use anyhow::{bail, ensure, Result};
use livegate_core::proto::{Media, ServerMsg};
use livegate_tests::participant::{live_7a_with_camera, Participant, SIGNAL_TIMEOUT};
use livegate_tests::signal::msg_type;
use livegate_tests::{run_test, seed, Server};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

use crate::enforcement::{Admin, Sampler};

/// `id` as listed in a `joined` message.
fn listed<'a>(joined: &'a Value, id: &str) -> Option<&'a Value> {
    joined["participants"].as_array()?.iter().find(|p| p["id"] == id)
}

/// The teacher's `participant_joined` for `id`.
async fn teacher_saw_join(teacher: &Participant, id: &str) -> Result<Value> {
    let id = id.to_owned();
    let (_, m) = teacher
        .conn
        .wait_for(0, SIGNAL_TIMEOUT, &format!("participant_joined for {id}"), move |m| {
            msg_type(m) == "participant_joined" && m["participant"]["id"] == id.as_str()
        })
        .await?;
    Ok(m["participant"].clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pupils_see_the_alias_and_not_the_hidden_pupil_while_the_teacher_sees_all() {
    run_test(async {
        let server = Server::start().await?;
        let admin = Admin::sign_in(&server).await?;
        let alias = json!({"camera_always_off": false, "alias": "Star", "hidden_from_pupils": false});
        admin.apply(&admin.privacy(seed::ADA, alias).await?).await?;
        let hidden = json!({"camera_always_off": false, "alias": null, "hidden_from_pupils": true});
        admin.apply(&admin.privacy(seed::CARA, hidden).await?).await?;

        let (lesson, _camera) = live_7a_with_camera(&server).await?;
        let teacher = &lesson.teacher;
        let ada = Participant::join(&server, seed::ADA, &lesson.id).await?;
        let cara = Participant::join(&server, seed::CARA, &lesson.id).await?;
        let ben = Participant::join(&server, seed::BEN, &lesson.id).await?;

        // A pupil's view: Ada is "Star", with no hint of a profile; Cara is not there at all.
        let star =
            listed(&ben.joined, &ada.id).ok_or_else(|| anyhow::anyhow!("ben does not see ada: {}", ben.joined))?;
        ensure!(
            star["display_name"] == "Star" && star.get("privacy").is_none(),
            "ben sees ada as {star}"
        );
        ensure!(
            listed(&ben.joined, &cara.id).is_none(),
            "ben's list has the hidden pupil: {}",
            ben.joined
        );
        // Cara sees Ada by the alias too, and herself in full.
        ensure!(
            listed(&cara.joined, &ada.id).is_some_and(|p| p["display_name"] == "Star"),
            "cara's view: {}",
            cara.joined
        );
        let me = listed(&cara.joined, &cara.id).ok_or_else(|| anyhow::anyhow!("cara not in her own list"))?;
        ensure!(
            me["display_name"] == "Cara" && me["privacy"]["hidden_from_pupils"] == true,
            "cara's own entry: {me}"
        );

        // The teacher's view: real names, with the profile.
        let a = teacher_saw_join(teacher, &ada.id).await?;
        ensure!(
            a["display_name"] == "Ada" && a["privacy"]["alias"] == "Star",
            "teacher sees ada as {a}"
        );
        let c = teacher_saw_join(teacher, &cara.id).await?;
        ensure!(
            c["display_name"] == "Cara" && c["privacy"]["hidden_from_pupils"] == true,
            "teacher sees cara as {c}"
        );

        // Cara raises her hand: the teacher sees it, Ben hears nothing about her, ever.
        let t_mark = teacher.conn.mark();
        cara.send("hand", json!({"raised": true})).await?;
        let cid = cara.id.clone();
        teacher
            .conn
            .wait_for(t_mark, SIGNAL_TIMEOUT, "cara's raised hand", move |m| {
                msg_type(m) == "participant_updated"
                    && m["participant"]["id"] == cid.as_str()
                    && m["participant"]["hand_raised"] == true
            })
            .await?;
        ada.send("hand", json!({"raised": true})).await?;
        let aid = ada.id.clone();
        ben.conn
            .wait_for(0, SIGNAL_TIMEOUT, "star's raised hand", move |m| {
                msg_type(m) == "participant_updated"
                    && m["participant"]["id"] == aid.as_str()
                    && m["participant"]["display_name"] == "Star"
            })
            .await?;
        for m in ben.conn.messages() {
            let text = m.to_string();
            ensure!(
                !text.contains(cara.id.as_str()),
                "ben heard about the hidden pupil: {text}"
            );
            ensure!(
                !text.contains("\"Ada\"") && !text.contains("\"Cara\""),
                "ben saw a real name: {text}"
            );
            ensure!(!text.contains("privacy"), "ben learned of a privacy profile: {text}");
        }
        server.finish();
        Ok(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn camera_always_off_cannot_be_granted_published_or_kept() {
    run_test(async {
        let server = Server::start().await?;
        let admin = Admin::sign_in(&server).await?;
        let off = json!({"camera_always_off": true, "alias": null, "hidden_from_pupils": false});
        admin.apply(&admin.privacy(seed::ADA, off.clone()).await?).await?;
        let (lesson, _camera) = live_7a_with_camera(&server).await?;
        let teacher = &lesson.teacher;
        let ada = Participant::join(&server, seed::ADA, &lesson.id).await?;

        // The teacher's grant is refused with a stable code; Ada's grants stay empty.
        let t_mark = teacher.conn.mark();
        teacher.send("grant", json!({"participant_id": ada.id, "media": "camera"})).await?;
        teacher.conn.expect_error(t_mark, "camera_always_off", SIGNAL_TIMEOUT).await?;
        // Her own camera offer (real WebRTC) is refused the same way, and nothing reaches the teacher.
        match ada.try_publish("ada-cam", "camera", true, false).await? {
            Ok(_) => bail!("a pupil whose camera is always off published one"),
            Err(e) => ensure!(e["code"] == "camera_always_off", "ada's camera publish: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(1000)).await;
        let aid = ada.id.clone();
        ensure!(
            teacher.conn.messages_since(t_mark).iter().all(|m| !(msg_type(m) == "offer" && m["publisher_id"] == aid.as_str())),
            "the teacher was offered ada's camera"
        );
        ensure!(ada.conn.messages().iter().all(|m| !(msg_type(m) == "grants" && m["grants"].to_string().contains("camera"))), "ada was granted the camera");
        // Positive control: her microphone can be granted and is heard.
        teacher.send("grant", json!({"participant_id": ada.id, "media": "microphone"})).await?;
        ada.conn.wait_msg(0, SIGNAL_TIMEOUT, "microphone grant", |m| matches!(m, ServerMsg::Grants { grants } if grants[..] == [Media::Microphone])).await?;
        let t_mark = teacher.conn.mark();
        let _mic = ada.publish("ada-mic", "microphone", false, true).await?;
        teacher.wait_stream_from(t_mark, &ada.id, "microphone", SIGNAL_TIMEOUT).await?.wait_media(0, 20, Duration::from_secs(10)).await?;

        // Ben shows his camera; then the superuser sets the profile: it closes within 2 s.
        let ben = Participant::join(&server, seed::BEN, &lesson.id).await?;
        teacher.send("grant", json!({"participant_id": ben.id, "media": "camera"})).await?;
        ben.conn.wait_msg(0, SIGNAL_TIMEOUT, "camera grant", |m| matches!(m, ServerMsg::Grants { grants } if grants[..] == [Media::Camera])).await?;
        let t_mark = teacher.conn.mark();
        let ben_cam = ben.publish("ben-cam", "camera", true, false).await?;
        let seen = teacher.wait_stream_from(t_mark, &ben.id, "camera", SIGNAL_TIMEOUT).await?;
        seen.wait_media(20, 0, Duration::from_secs(12)).await?;
        let sampler = Sampler::start(seen.clone());
        let b_mark = ben.conn.mark();
        let change = admin.privacy(seed::BEN, off).await?;
        let t0 = Instant::now();
        admin.apply(&change).await?;
        ben.conn.wait_for(b_mark, Duration::from_secs(2), "stream_ended for ben-cam", |m| msg_type(m) == "stream_ended" && m["stream_id"] == "ben-cam").await?;
        ben.conn.wait_for(b_mark, SIGNAL_TIMEOUT, "grants without camera", |m| msg_type(m) == "grants" && m["grants"] == json!([])).await?;
        let sent = ben_cam.tx.written();
        tokio::time::sleep(Duration::from_millis(2500)).await;
        ensure!(ben_cam.tx.written() > sent + 30, "ben's client stopped sending; the check below would prove nothing");
        let last = sampler.last_growth().ok_or_else(|| anyhow::anyhow!("no RTP sampled"))?;
        let stopped = last.saturating_duration_since(t0);
        eprintln!(
            "[privacy] camera_always_off set mid-lesson: last RTP packet of ben's camera reached the teacher at {:+.1} ms from the admin request",
            crate::enforcement::signed_ms(last, t0)
        );
        ensure!(stopped < Duration::from_secs(2), "ben's camera still reached the teacher {stopped:?} later");
        ensure!(ben.conn.closed().is_none(), "a privacy profile must not remove the pupil");
        server.finish();
        Ok(())
    })
    .await;
}
