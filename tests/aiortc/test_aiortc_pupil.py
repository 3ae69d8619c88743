"""End-to-end tests with an independent WebRTC stack (aiortc): a pupil on the roster receives and
decodes the teacher's camera through Livegate; a pupil not on the roster is refused a ticket."""

import asyncio
import time

from livegate_client import (
    Account,
    ApiError,
    SolidColourVideoTrack,
    collect_frames,
    luma_mean,
    silent_audio_track,
)

TEACHER = ("teacher@demo.sch.uk", "demo-teacher")
ADA = ("ada@pupils.demo.sch.uk", "demo-pupil")
OWEN = ("owen@pupils.demo.sch.uk", "demo-pupil")

WIDTH, HEIGHT, YUV = 320, 240, (150, 60, 200)


def test_pupil_receives_and_decodes_teacher_camera(server):
    asyncio.run(pupil_receives_teacher_camera(server.http_url))


def test_pupil_not_on_roster_is_refused_a_ticket(server):
    asyncio.run(off_roster_pupil_refused(server.http_url))


async def pupil_receives_teacher_camera(base: str) -> None:
    teacher = await Account.sign_in(base, *TEACHER)
    ada = await Account.sign_in(base, *ADA)
    people = []
    try:
        lesson = await teacher.start_lesson("7a")
        assert lesson["class_id"] == "7a" and lesson["state"] == "live", lesson

        ms_rivera = await teacher.join(lesson["id"])
        people.append(ms_rivera)
        assert ms_rivera.joined["role"] == "teacher"
        await ms_rivera.publish_camera(
            "camera-1", SolidColourVideoTrack(WIDTH, HEIGHT, YUV), silent_audio_track()
        )

        joined_at = time.monotonic()
        pupil = await ada.join(lesson["id"])
        people.append(pupil)
        assert pupil.joined["role"] == "pupil"
        assert pupil.joined["lesson"]["id"] == lesson["id"]
        teacher_id = ms_rivera.joined["participant_id"]
        listed = [p for p in pupil.joined["participants"] if p["id"] == teacher_id]
        assert listed and listed[0]["role"] == "teacher", pupil.joined["participants"]
        assert "camera" in listed[0]["publishing"], listed[0]

        stream = await pupil.wait_received("camera", timeout=10)
        assert stream.publisher_id == teacher_id
        video = stream.track("video")
        assert video is not None, f"camera stream has no video track: {stream.tracks}"
        # The audio track of a camera stream arrives with the video (same offer).
        audio = stream.track("audio")
        assert audio is not None, f"camera stream has no audio track: {stream.tracks}"

        budget = max(2.0, 10.0 - (time.monotonic() - joined_at))
        video_frames, audio_frames = await asyncio.gather(
            collect_frames(video, 5, budget), collect_frames(audio, 3, budget)
        )
        waited = time.monotonic() - joined_at

        assert len(video_frames) >= 3, (
            f"pupil decoded {len(video_frames)} video frames in {waited:.1f} s; "
            f"pc state {stream.pc.connectionState}, messages {pupil.seen}"
        )
        for frame in video_frames:
            assert (frame.width, frame.height) == (WIDTH, HEIGHT)
        # VP8 is lossy, but a flat frame decodes to almost exactly its colour.
        assert abs(luma_mean(video_frames[-1]) - YUV[0]) < 10, luma_mean(video_frames[-1])

        assert audio_frames, f"pupil decoded no audio frames in {waited:.1f} s"
        assert audio_frames[0].sample_rate == 48000
    finally:
        for person in people:
            await person.close()
        await teacher.close()
        await ada.close()


async def off_roster_pupil_refused(base: str) -> None:
    teacher = await Account.sign_in(base, *TEACHER)
    ada = await Account.sign_in(base, *ADA)
    owen = await Account.sign_in(base, *OWEN)
    people = []
    try:
        assert owen.user["role"] == "pupil"
        lesson = await teacher.start_lesson("7a")
        people.append(await teacher.join(lesson["id"]))

        # Control: a pupil on the roster gets a ticket in this same state.
        ticket = await ada.ticket(lesson["id"])
        assert isinstance(ticket["ticket"], str) and len(ticket["ticket"]) >= 16
        assert ticket["expires_in_ms"] == 30000 and ticket["ws_path"] == "/ws"

        try:
            refused = await owen.ticket(lesson["id"])
        except ApiError as err:
            assert err.status == 403, err
            assert err.code == "not_on_roster", err
            assert isinstance(err.body["error"]["message"], str) and err.body["error"]["message"]
        else:
            raise AssertionError(f"owen (not on 7A's roster) was given a ticket: {refused}")
    finally:
        for person in people:
            await person.close()
        for account in (teacher, ada, owen):
            await account.close()
