"""Hostile RTP under SSRCs never negotiated, end to end (SECURITY.md §6 and §13; a chapter of
tests/hostile/README.md). The Rust test client cannot send RTP under an SSRC it did not negotiate;
aiortc can, over the real SRTP session of a connected peer connection (hostile_rtp.py).

In each test the teacher publishes a camera (VP8 + Opus) and a screen (VP8 only, so its copies
are one-section peer connections); a control pupil keeps receiving both while a hostile peer sends
a burst of 1,200 keyframe-looking packets full of `MARKER` under SSRCs its offer never
declared. Every RTP packet every other participant receives is scanned, raw, for the marker.
"""

import asyncio

from hostile_rtp import (
    MARKER,
    UNNEGOTIATED_PAYLOAD_TYPES,
    FrameCounter,
    RtpTap,
    SendTap,
    hostile_payload,
    rtp_bytes,
    sdp_codec_payload_type,
    sdp_extension_id,
    sdp_mids,
    sdp_payload_types,
    sdp_ssrcs,
    send_raw,
    unused_ssrcs,
    wait_until,
)
from livegate_client import Account, SolidColourVideoTrack, collect_frames, silent_audio_track

TEACHER = ("teacher@demo.sch.uk", "demo-teacher")
ADA = ("ada@pupils.demo.sch.uk", "demo-pupil")
BEN = ("ben@pupils.demo.sch.uk", "demo-pupil")
CARA = ("cara@pupils.demo.sch.uk", "demo-pupil")

# A packet the teacher may legitimately send (its own negotiated SSRC) carries this instead: it
# must arrive, which shows the hand-built path and the tap work, so the marker's absence means
# something.
OWN_MARKER = b"OWN-SSRC-DELIVERED"
KINDS = ("camera", "screen")
MID_URI = "urn:ietf:params:rtp-hdrext:sdes:mid"
RID_URI = "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id"
# After the burst, the control pupil must receive this many more RTP packets (on each stream)
# before the leak checks: anything the burst made the server forward would have arrived by then.
PACKETS_AFTER = 60


def test_pupil_without_grant_sends_rtp_under_unnegotiated_ssrcs(server):
    asyncio.run(pupil_without_grant_sends_forged_rtp(server))


def test_teacher_sends_rtp_under_an_ssrc_never_offered(server):
    asyncio.run(teacher_sends_forged_rtp(server))


# --- the lesson -------------------------------------------------------------------------------


class Lesson:
    """7A live, the teacher publishing a camera and a screen; people and accounts to close."""

    def __init__(self, base: str):
        self.base = base
        self.accounts: list[Account] = []
        self.people = []
        self.counters: list[FrameCounter] = []

    async def start(self):
        teacher = await self.sign_in(TEACHER)
        self.lesson = await teacher.start_lesson("7a")
        self.teacher = await self.join(teacher)
        await self.teacher.publish_camera("camera-1", SolidColourVideoTrack(yuv=(150, 60, 200)), silent_audio_track())
        await self.teacher.publish("screen-1", "screen", SolidColourVideoTrack(yuv=(80, 120, 140)), None)
        return self

    async def sign_in(self, who):
        account = await Account.sign_in(self.base, *who)
        self.accounts.append(account)
        return account

    async def join(self, account):
        person = await account.join(self.lesson["id"])
        self.people.append(person)
        return person

    async def pupil(self, who):
        """A pupil joined, receiving the teacher's two streams: (participant, {kind: stream})."""
        person = await self.join(await self.sign_in(who))
        assert person.joined["role"] == "pupil"
        streams = {kind: await person.wait_received(kind) for kind in KINDS}
        for stream in streams.values():
            await wait_until(lambda: stream.pc.connectionState == "connected", f"{person.name} connected")
        return person, streams

    def count_frames(self, track) -> FrameCounter:
        counter = FrameCounter(track)
        self.counters.append(counter)
        return counter

    async def close(self):
        for counter in self.counters:
            await counter.stop()
        for person in self.people:
            await person.close()
        for account in self.accounts:
            await account.close()


class Control:
    """The control pupil: taps on both received streams and a frame counter on each video."""

    def __init__(self, lesson: Lesson, person, streams):
        self.person, self.streams = person, streams
        self.taps = {kind: RtpTap(s.pc, (MARKER, OWN_MARKER)) for kind, s in streams.items()}
        self.frames = {kind: lesson.count_frames(s.track("video")) for kind, s in streams.items()}

    async def keeps_receiving(self, what: str) -> dict:
        """Waits for `PACKETS_AFTER` more packets and 10 more decoded frames on each stream."""
        start = {kind: (tap.packets, self.frames[kind].frames) for kind, tap in self.taps.items()}
        for kind, (packets, frames) in start.items():
            tap, counter = self.taps[kind], self.frames[kind]
            await wait_until(lambda: tap.packets >= packets + PACKETS_AFTER, f"{kind} packets {what}")
            await wait_until(lambda: counter.frames >= frames + 10, f"{kind} frames {what}")
        return {kind: (self.taps[kind].packets - p, self.frames[kind].frames - f) for kind, (p, f) in start.items()}

    def assert_clean(self):
        for kind, tap in self.taps.items():
            offered = sdp_ssrcs(self.streams[kind].pc.remoteDescription.sdp)
            assert tap.found[MARKER] == 0, f"{tap.found[MARKER]} hostile packets reached the control pupil ({kind})"
            assert set(tap.by_ssrc) <= offered, f"{kind}: SSRCs {set(tap.by_ssrc) - offered} were never offered"
        assert sorted(s.kind for s in self.person.received.values()) == sorted(KINDS), self.person.received


def forged_burst(pc, ssrcs: list[int], payload_types: list[int], per_ssrc: int, mid: str) -> tuple[list[bytes], int]:
    """`per_ssrc` keyframe-looking marker packets on each SSRC, cycling the payload types; every
    other SSRC also tags its packets with the MID (and a RID) header extensions, when negotiated.
    Returns the packets and how many of them carry a MID."""
    remote = pc.remoteDescription.sdp
    mid_id, rid_id = sdp_extension_id(remote, MID_URI), sdp_extension_id(remote, RID_URI)
    packets = []
    for j, ssrc in enumerate(ssrcs):
        extensions = {}
        if j % 2 and mid_id is not None:
            extensions[mid_id] = mid.encode()
            if rid_id is not None:
                extensions[rid_id] = b"h"
        for k in range(per_ssrc):
            pt = payload_types[(j + k) % len(payload_types)]
            packets.append(
                rtp_bytes(ssrc, pt, 1000 + k, 90000 + (k // 4) * 3000, hostile_payload(), k % 4 == 3, extensions)
            )
    return packets, (len(ssrcs) // 2) * per_ssrc if mid_id is not None else 0


def usable_payload_types(sdp: str) -> list[int]:
    return sorted(pt for pt in sdp_payload_types(sdp) | set(UNNEGOTIATED_PAYLOAD_TYPES) if not 64 <= pt <= 95)


async def new_pupil_still_served(lesson: Lesson, who) -> int:
    """The server still serves: /api/health, and a new pupil joins and decodes the camera."""
    status, body = await lesson.accounts[0].request("GET", "/api/health")
    assert status == 200, (status, body)
    person, streams = await lesson.pupil(who)
    tap = RtpTap(streams["camera"].pc)
    frames = await collect_frames(streams["camera"].track("video"), 3, 10)
    assert len(frames) >= 3, f"{person.name} decoded {len(frames)} frames after the burst"
    assert tap.found[MARKER] == 0
    return len(frames)


# --- the cases --------------------------------------------------------------------------------


async def pupil_without_grant_sends_forged_rtp(server) -> None:
    lesson = await Lesson(server.http_url).start()
    try:
        teacher_id = lesson.teacher.joined["participant_id"]
        control = Control(lesson, *await lesson.pupil(ADA))
        ben, ben_streams = await lesson.pupil(BEN)
        ben_taps = {kind: RtpTap(s.pc) for kind, s in ben_streams.items()}
        before = await control.keeps_receiving("before the burst")

        # Ben has no grant: his only peer connections are the two the server opened to send him
        # the teacher's streams. He sends on both, under fresh SSRCs and under every SSRC either
        # side declared for them (the server's sending SSRCs, his own RTCP SSRC).
        sent = tagged = 0
        for n, (kind, stream) in enumerate(ben_streams.items()):
            pc = stream.pc
            declared = sdp_ssrcs(pc.remoteDescription.sdp) | sdp_ssrcs(pc.localDescription.sdp)
            declared |= {t.sender._ssrc for t in pc.getTransceivers()}
            ssrcs = unused_ssrcs(10, declared, seed=n) + sorted(declared)
            mids = sdp_mids(pc.remoteDescription.sdp)
            packets, with_mid = forged_burst(pc, ssrcs, usable_payload_types(pc.remoteDescription.sdp), 40, mids[0])
            sent, tagged = sent + await send_raw(pc, packets), tagged + with_mid
        assert sent >= 800, sent

        after = await control.keeps_receiving("after the burst")
        control.assert_clean()
        # Nothing Ben sent became a stream anyone was offered.
        assert not lesson.teacher.received, f"the teacher was offered {list(lesson.teacher.received)}"
        # Ben still gets exactly what he is entitled to: the teacher's two streams, on the SSRCs
        # they were offered with, and none of his own packets back.
        assert sorted(s.kind for s in ben.received.values()) == sorted(KINDS), ben.received
        assert all(s.publisher_id == teacher_id for s in ben.received.values()), ben.received
        assert ben.seen.count("offer") == len(KINDS), ben.seen
        for kind, tap in ben_taps.items():
            offered = sdp_ssrcs(ben_streams[kind].pc.remoteDescription.sdp)
            assert tap.packets > 0 and tap.found[MARKER] == 0, (kind, tap.packets, tap.found)
            assert set(tap.by_ssrc) <= offered, f"ben got SSRCs {set(tap.by_ssrc) - offered} never offered"
        frames = await new_pupil_still_served(lesson, CARA)
        assert server._proc.poll() is None, "the server exited"
        print(f"\nburst {sent} packets ({tagged} with a MID); control (packets, frames) before {before} after {after}; cara {frames} frames")
    finally:
        await lesson.close()


async def teacher_sends_forged_rtp(server) -> None:
    lesson = await Lesson(server.http_url).start()
    try:
        published = lesson.teacher.published
        send_taps = {sid: SendTap(pc) for sid, pc in published.items()}
        echo_taps = {sid: RtpTap(pc) for sid, pc in published.items()}
        control = Control(lesson, *await lesson.pupil(ADA))
        before = await control.keeps_receiving("before the burst")

        # The teacher is granted and publishing; beside its real tracks it sends under SSRCs
        # that were never in its offers, tagged with its real video MID on every other SSRC.
        sent = tagged = 0
        for n, pc in enumerate(published.values()):
            declared = sdp_ssrcs(pc.localDescription.sdp) | sdp_ssrcs(pc.remoteDescription.sdp)
            ssrcs = unused_ssrcs(12, declared, seed=10 + n)
            video_mid = next(t.mid for t in pc.getTransceivers() if t.kind == "video")
            packets, with_mid = forged_burst(pc, ssrcs, usable_payload_types(pc.remoteDescription.sdp), 50, video_mid)
            sent, tagged = sent + await send_raw(pc, packets), tagged + with_mid
        assert sent >= 1000 and tagged > 0, (sent, tagged)

        after = await control.keeps_receiving("after the burst")
        control.assert_clean()
        # The server sends a publisher no RTP at all, so none of its own packets come back.
        for sid, tap in echo_taps.items():
            assert tap.packets == 0, f"{sid}: the server sent the publisher {tap.packets} RTP packets"
        assert not lesson.teacher.received, f"the teacher was offered {list(lesson.teacher.received)}"
        frames = await new_pupil_still_served(lesson, BEN)
        assert server._proc.poll() is None, "the server exited"

        # Control of the control: the same hand-built path under the camera's negotiated video
        # SSRC (sequence numbers just ahead of aiortc's own) is forwarded to the pupil.
        camera = published["camera-1"]
        video_ssrc = next(t.sender._ssrc for t in camera.getTransceivers() if t.kind == "video")
        vp8_pt = sdp_codec_payload_type(camera.remoteDescription.sdp, "VP8/90000")
        seq, ts = send_taps["camera-1"].last[video_ssrc]
        own = [
            rtp_bytes(video_ssrc, vp8_pt, seq + 20 + i, ts + 3000, b"\x00" + OWN_MARKER * 20, i == 4)
            for i in range(5)
        ]
        await send_raw(camera, own)
        tap = control.taps["camera"]
        await wait_until(lambda: tap.found[OWN_MARKER] > 0, "the teacher's own hand-built packets at the pupil")
        assert tap.found[MARKER] == 0
        print(
            f"\nburst {sent} packets ({tagged} with a MID); control (packets, frames) before {before} after {after}; "
            f"ben {frames} frames; own-SSRC packets delivered {tap.found[OWN_MARKER]}/5"
        )
    finally:
        await lesson.close()

