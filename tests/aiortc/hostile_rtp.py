"""Hand-built RTP for hostile tests, and a tap that sees every RTP packet a peer connection gets.

aiortc's DTLS transport has a private `_send_rtp(data)` that SRTP-protects and sends raw bytes,
so once a peer connection is up a test can send packets under any SSRC and payload type over the
real, keyed connection: exactly what a modified client could do. `RtpTap` wraps the same
transport's `_handle_rtp_data`, which gets every packet after SRTP decryption and before aiortc
routes it to a receiver, so it also sees packets no receiver would accept.
"""

from __future__ import annotations

import asyncio
import random
import re
import struct
from collections import Counter

from aiortc import RTCPeerConnection

# The bytes a hostile payload carries; a receiver whose raw RTP ever contains them got a leak.
MARKER = b"HOSTILE-SSRC"

# A VP8 payload descriptor (S=1, partition 0) and the start of a 320x240 keyframe (P=0, the start
# code 9d 01 2a): a forwarder waiting for a keyframe would take this packet.
VP8_KEYFRAME_START = bytes([0x10, 0x50, 0x00, 0x00, 0x9D, 0x01, 0x2A, 0x40, 0x01, 0xF0, 0x00])

# Payload types 64-95 with the marker bit set read as RTCP (RFC 5761), so a test never uses them.
UNNEGOTIATED_PAYLOAD_TYPES = (0, 35, 100, 120, 127)


def rtp_bytes(
    ssrc: int,
    payload_type: int,
    seq: int,
    timestamp: int,
    payload: bytes,
    marker: bool = False,
    extensions: dict[int, bytes] | None = None,
) -> bytes:
    """One RTP packet; `extensions` (id -> value) go in a one-byte header extension (RFC 8285)."""
    assert not 64 <= payload_type <= 95, "payload types 64-95 collide with RTCP"
    header = struct.pack(
        "!BBHII",
        0x80 | (0x10 if extensions else 0),
        (0x80 if marker else 0) | payload_type,
        seq & 0xFFFF,
        timestamp & 0xFFFFFFFF,
        ssrc & 0xFFFFFFFF,
    )
    if extensions:
        body = b"".join(bytes([(ext_id << 4) | (len(value) - 1)]) + value for ext_id, value in extensions.items())
        body += b"\x00" * (-len(body) % 4)
        header += struct.pack("!HH", 0xBEDE, len(body) // 4) + body
    return header + payload


def hostile_payload(size: int = 1000) -> bytes:
    """A VP8-keyframe-looking payload of about `size` bytes, full of `MARKER`."""
    return VP8_KEYFRAME_START + MARKER * max(1, (size - len(VP8_KEYFRAME_START)) // len(MARKER))


def dtls_transport(pc: RTCPeerConnection):
    """The (bundled) DTLS transport of a connected peer connection."""
    transports = {id(t.receiver.transport): t.receiver.transport for t in pc.getTransceivers()}
    assert len(transports) == 1, f"expected one bundled transport, got {len(transports)}"
    return next(iter(transports.values()))


def sdp_ssrcs(sdp: str) -> set[int]:
    return {int(s) for s in re.findall(r"^a=ssrc:(\d+) ", sdp, re.M)}


def sdp_payload_types(sdp: str) -> set[int]:
    return {int(pt) for pt in re.findall(r"^a=rtpmap:(\d+) ", sdp, re.M)}


def sdp_codec_payload_type(sdp: str, codec: str) -> int:
    """The payload type of the first `a=rtpmap` for `codec` (e.g. "VP8/90000")."""
    found = re.search(rf"^a=rtpmap:(\d+) {re.escape(codec)}", sdp, re.M | re.I)
    assert found, f"no {codec} in the SDP"
    return int(found.group(1))


def sdp_extension_id(sdp: str, uri: str) -> int | None:
    found = re.search(rf"^a=extmap:(\d+)(?:/\w+)? {re.escape(uri)}\s*$", sdp, re.M)
    return int(found.group(1)) if found else None


def sdp_mids(sdp: str) -> list[str]:
    return re.findall(r"^a=mid:(\S+)", sdp, re.M)


def unused_ssrcs(count: int, taken: set[int], seed: int) -> list[int]:
    """`count` SSRCs none of which is in `taken`, with the edge values 0 and 2^32-1 first."""
    rng = random.Random(seed)
    chosen: list[int] = []
    for ssrc in (0, 0xFFFFFFFF, *(rng.getrandbits(32) for _ in range(count * 2))):
        if ssrc not in taken and ssrc not in chosen:
            chosen.append(ssrc)
    return chosen[:count]


class RtpTap:
    """Counts every decrypted RTP packet arriving on one peer connection, by SSRC and payload
    type, and every packet whose bytes contain one of `needles`."""

    def __init__(self, pc: RTCPeerConnection, needles: tuple[bytes, ...] = (MARKER,)):
        self.needles = needles
        self.by_ssrc: Counter[int] = Counter()
        self.by_payload_type: Counter[int] = Counter()
        self.found: Counter[bytes] = Counter()
        transport = dtls_transport(pc)
        original = transport._handle_rtp_data

        async def handle(data: bytes, arrival_time_ms: int) -> None:
            self.see(data)
            await original(data, arrival_time_ms=arrival_time_ms)

        transport._handle_rtp_data = handle

    def see(self, data: bytes) -> None:
        if len(data) >= 12:
            self.by_payload_type[data[1] & 0x7F] += 1
            self.by_ssrc[struct.unpack_from("!I", data, 8)[0]] += 1
        for needle in self.needles:
            if needle in data:
                self.found[needle] += 1

    @property
    def packets(self) -> int:
        return sum(self.by_ssrc.values())


class SendTap:
    """Remembers the last sequence number and timestamp a peer connection sent per SSRC."""

    def __init__(self, pc: RTCPeerConnection):
        self.last: dict[int, tuple[int, int]] = {}
        transport = dtls_transport(pc)
        original = transport._send_rtp

        async def send(data: bytes) -> None:
            if len(data) >= 12 and not 192 <= data[1] <= 223:
                seq, ts, ssrc = struct.unpack_from("!HII", data, 2)
                self.last[ssrc] = (seq, ts)
            await original(data)

        transport._send_rtp = send


async def send_raw(pc: RTCPeerConnection, packets: list[bytes], pace_every: int = 20) -> int:
    """Sends hand-built RTP over `pc`'s SRTP session, yielding briefly every `pace_every` packets
    so loopback socket buffers are not overrun. Returns how many were sent."""
    transport = dtls_transport(pc)
    for i, packet in enumerate(packets, 1):
        await transport._send_rtp(packet)
        if i % pace_every == 0:
            await asyncio.sleep(0.002)
    return len(packets)


async def wait_until(predicate, what: str, timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.05)


class FrameCounter:
    """Decodes a received track in the background and counts its frames."""

    def __init__(self, track):
        self.frames = 0
        self._task = asyncio.create_task(self._run(track))

    async def _run(self, track) -> None:
        while True:
            try:
                await track.recv()
            except Exception:  # the track ended
                return
            self.frames += 1

    async def stop(self) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
