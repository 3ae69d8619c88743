"""A small Livegate client for tests, independent of the server's own code.

It starts the server binary (`livegate demo ...`), signs people in over HTTP, fetches tickets and
speaks the WebSocket signalling of server/PROTOCOL.md, with aiortc peer connections for media.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import aioice.ice
import av
from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpSender,
    RTCSessionDescription,
)
from aiortc.mediastreams import AudioStreamTrack, MediaStreamError, VideoStreamTrack

REPO = Path(__file__).resolve().parents[2]
PROTOCOL_VERSION = 1
READY_LINE = re.compile(r"^livegate ready http=(http://\S+) media=(\S+)$")


def use_loopback_only() -> None:
    """Make aioice gather only a 127.0.0.1 host candidate.

    aioice normally skips 127.0.0.1 and offers every other interface address; tests must send
    media to loopback only, and the server advertises 127.0.0.1, so both ends stay on loopback.
    """
    aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"] if use_ipv4 else []


def new_peer_connection() -> RTCPeerConnection:
    # No ICE servers: aiortc's default is a public STUN server, which tests must never contact.
    return RTCPeerConnection(RTCConfiguration(iceServers=[]))


# --- the server process -----------------------------------------------------------------------


class LivegateServer:
    """`livegate demo` on loopback with ephemeral ports; stderr goes to `log_path`."""

    def __init__(self, log_path: Path, binary: str | None = None):
        self.binary = binary or os.environ.get("LIVEGATE_BIN") or str(REPO / "target/debug/livegate")
        self.log_path = log_path
        self.http_url = ""
        self.media_addr = ""
        self._proc: subprocess.Popen[str] | None = None

    def start(self, timeout: float = 20.0) -> "LivegateServer":
        if not os.access(self.binary, os.X_OK):
            raise RuntimeError(f"server binary not found or not executable: {self.binary}")
        args = ["demo", "--http", "127.0.0.1:0", "--media-port", "0", "--advertise-ip", "127.0.0.1"]
        log = open(self.log_path, "w")
        self._proc = subprocess.Popen(
            [self.binary, *args], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log, text=True
        )
        log.close()
        lines: list[str] = []
        ready = threading.Event()

        def read_stdout() -> None:
            # Keep draining stdout for the life of the process so it can never block on a full pipe.
            assert self._proc is not None and self._proc.stdout is not None
            for line in self._proc.stdout:
                lines.append(line.rstrip("\n"))
                if READY_LINE.match(lines[-1]):
                    ready.set()
            ready.set()

        threading.Thread(target=read_stdout, daemon=True).start()
        if not ready.wait(timeout):
            self.stop()
            raise RuntimeError(f"server printed no ready line within {timeout} s; stdout: {lines}")
        match = next((m for m in map(READY_LINE.match, lines) if m), None)
        if match is None:
            code = self._proc.poll()
            self.stop()
            raise RuntimeError(f"server exited ({code}) without a ready line; stdout: {lines}")
        self.http_url, self.media_addr = match.group(1), match.group(2)
        return self

    def stop(self) -> None:
        if self._proc and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(5)

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


# --- HTTP -------------------------------------------------------------------------------------


class ApiError(Exception):
    def __init__(self, method: str, path: str, status: int, body: object):
        self.status = status
        self.body = body
        error = body.get("error") if isinstance(body, dict) else None
        self.code = error.get("code") if isinstance(error, dict) else None
        super().__init__(f"{method} {path} -> {status} {body!r}")


class Account:
    """One signed-in user: an aiohttp session holding the `livegate_session` cookie."""

    def __init__(self, base_url: str, http: aiohttp.ClientSession, user: dict):
        self.base_url = base_url
        self.http = http
        self.user = user

    @classmethod
    async def sign_in(cls, base_url: str, email: str, password: str) -> "Account":
        # unsafe=True: aiohttp's cookie jar otherwise drops cookies set by an IP-address host.
        http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        account = cls(base_url, http, {})
        try:
            status, body = await account.request("POST", "/api/session", {"email": email, "password": password})
            if status != 200:
                raise ApiError("POST", "/api/session", status, body)
            if not any(c.key == "livegate_session" for c in http.cookie_jar):
                raise RuntimeError(f"sign-in set no livegate_session cookie for {email}")
        except BaseException:
            await http.close()
            raise
        account.user = body["user"]
        return account

    async def request(self, method: str, path: str, body: object = None) -> tuple[int, object]:
        kwargs = {} if body is None else {"json": body}
        async with self.http.request(method, self.base_url + path, **kwargs) as resp:
            text = await resp.text()
            try:
                return resp.status, json.loads(text) if text else None
            except json.JSONDecodeError:
                return resp.status, text

    async def start_lesson(self, class_id: str) -> dict:
        status, body = await self.request("POST", "/api/lessons", {"class_id": class_id})
        if status not in (200, 201):
            raise ApiError("POST", "/api/lessons", status, body)
        return body["lesson"]

    async def ticket(self, lesson_id: str) -> dict:
        path = f"/api/lessons/{lesson_id}/ticket"
        status, body = await self.request("POST", path)
        if status != 200:
            raise ApiError("POST", path, status, body)
        return body

    async def join(self, lesson_id: str, name: str = "") -> "Participant":
        ticket = await self.ticket(lesson_id)
        ws_url = re.sub(r"^http", "ws", self.base_url) + ticket.get("ws_path", "/ws")
        ws = await self.http.ws_connect(ws_url, heartbeat=None)
        participant = Participant(ws, name or self.user.get("display_name", "?"))
        await participant.send({"type": "join", "protocol": PROTOCOL_VERSION, "ticket": ticket["ticket"]})
        participant.joined = await participant.expect(
            lambda m: m["type"] in ("joined", "error"), "joined", timeout=10
        )
        if participant.joined["type"] != "joined":
            await participant.close()
            raise RuntimeError(f"{participant.name}: join refused: {participant.joined}")
        participant.start_heartbeat()
        return participant

    async def close(self) -> None:
        await self.http.close()


# --- WebSocket signalling and streams ---------------------------------------------------------


@dataclass
class ReceivedStream:
    """A stream the server offered to us, answered with a receive-only peer connection."""

    stream_id: str
    publisher_id: str
    kind: str
    pc: RTCPeerConnection
    tracks: list[MediaStreamTrack] = field(default_factory=list)

    def track(self, kind: str) -> MediaStreamTrack | None:
        return next((t for t in self.tracks if t.kind == kind), None)


class Participant:
    """One joined WebSocket. Messages are kept in `inbox` until `expect` takes them; server
    offers are answered automatically and end up in `received`."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, name: str):
        self.ws = ws
        self.name = name
        self.joined: dict = {}
        self.inbox: list[dict] = []
        self.seen: list[str] = []  # every message type received, in order, for failure messages
        self.received: dict[str, ReceivedStream] = {}
        self.published: dict[str, RTCPeerConnection] = {}
        self.closed = False
        self.failures: list[str] = []
        self._arrived = asyncio.Event()
        self._tasks = [asyncio.create_task(self._read())]

    async def send(self, message: dict) -> None:
        await self.ws.send_str(json.dumps(message))

    def start_heartbeat(self, every: float = 5.0) -> None:
        async def beat() -> None:
            while not self.ws.closed:
                await asyncio.sleep(every)
                await self.send({"type": "ping"})

        self._tasks.append(asyncio.create_task(beat()))

    async def _read(self) -> None:
        try:
            async for msg in self.ws:
                if msg.type != aiohttp.WSMsgType.TEXT:
                    continue
                message = json.loads(msg.data)
                self.seen.append(message.get("type", "?"))
                if message.get("type") == "offer":
                    self._tasks.append(asyncio.create_task(self._answer(message)))
                elif message.get("type") != "pong":
                    self.inbox.append(message)
                self._arrived.set()
        finally:
            self.closed = True
            self._arrived.set()

    async def _answer(self, offer: dict) -> None:
        pc = new_peer_connection()
        stream = ReceivedStream(offer["stream_id"], offer.get("publisher_id", ""), offer.get("kind", ""), pc)
        pc.on("track", stream.tracks.append)
        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=offer["sdp"], type="offer"))
            await pc.setLocalDescription(await pc.createAnswer())
            self.received[stream.stream_id] = stream
            await self.send({"type": "answer", "stream_id": stream.stream_id, "sdp": pc.localDescription.sdp})
        except Exception as exc:  # recorded so the test can report it
            self.failures.append(f"answering offer {offer['stream_id']}: {exc!r}")
            await pc.close()
        self._arrived.set()

    async def expect(self, predicate, what: str, timeout: float = 10.0) -> dict:
        """Take the first inbox message matching `predicate`, waiting up to `timeout` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            for i, message in enumerate(self.inbox):
                if predicate(message):
                    return self.inbox.pop(i)
            remaining = deadline - loop.time()
            if self.closed or remaining <= 0:
                why = "socket closed" if self.closed else f"timed out after {timeout} s"
                raise AssertionError(f"{self.name}: {why} waiting for {what}; received types {self.seen}")
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), remaining)
            except asyncio.TimeoutError:
                pass

    async def wait_received(self, kind: str, timeout: float = 10.0) -> ReceivedStream:
        """Wait until the server has offered a stream of `kind` and its tracks have arrived."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            for stream in self.received.values():
                if stream.kind == kind and stream.tracks:
                    return stream
            if self.failures:
                raise AssertionError(f"{self.name}: {self.failures}")
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(
                    f"{self.name}: no {kind} stream offered within {timeout} s; received types {self.seen}"
                )
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), min(remaining, 0.5))
            except asyncio.TimeoutError:
                pass

    async def publish_camera(self, stream_id: str, video: MediaStreamTrack, audio: MediaStreamTrack | None):
        """Offer a `camera` stream (VP8 video and optionally Opus audio, send-only) and apply the answer."""
        return await self.publish(stream_id, "camera", video, audio)

    async def publish(
        self, stream_id: str, kind: str, video: MediaStreamTrack | None, audio: MediaStreamTrack | None
    ) -> RTCPeerConnection:
        """Offer a stream of `kind` (VP8 video and/or Opus audio, send-only) and apply the answer."""
        pc = new_peer_connection()
        if video is not None:
            vt = pc.addTransceiver(video, direction="sendonly")
            vt.setCodecPreferences(
                [c for c in RTCRtpSender.getCapabilities("video").codecs if c.mimeType == "video/VP8"]
            )
        if audio is not None:
            at = pc.addTransceiver(audio, direction="sendonly")
            at.setCodecPreferences(
                [c for c in RTCRtpSender.getCapabilities("audio").codecs if c.mimeType == "audio/opus"]
            )
        await pc.setLocalDescription(await pc.createOffer())
        self.published[stream_id] = pc
        await self.send({"type": "publish", "stream_id": stream_id, "kind": kind, "sdp": pc.localDescription.sdp})
        reply = await self.expect(
            lambda m: m["type"] in ("answer", "error") and m.get("stream_id") == stream_id,
            f"answer to publish {stream_id}",
        )
        if reply["type"] != "answer":
            raise AssertionError(f"{self.name}: publish {stream_id} refused: {reply}")
        await pc.setRemoteDescription(RTCSessionDescription(sdp=reply["sdp"], type="answer"))
        return pc

    async def close(self) -> None:
        for pc in [*self.published.values(), *(s.pc for s in self.received.values())]:
            await pc.close()
        if not self.ws.closed:
            await self.ws.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


# --- synthetic media --------------------------------------------------------------------------


class SolidColourVideoTrack(VideoStreamTrack):
    """30 fps frames of one YUV colour, so a receiver can check it decoded *this* video."""

    def __init__(self, width: int = 320, height: int = 240, yuv: tuple[int, int, int] = (150, 60, 200)):
        super().__init__()
        self.width, self.height, self.yuv = width, height, yuv

    async def recv(self) -> av.VideoFrame:
        pts, time_base = await self.next_timestamp()
        frame = av.VideoFrame(self.width, self.height, "yuv420p")
        for plane, value in zip(frame.planes, self.yuv):
            plane.update(bytes([value]) * plane.buffer_size)
        frame.pts, frame.time_base = pts, time_base
        return frame


def silent_audio_track() -> MediaStreamTrack:
    return AudioStreamTrack()


def luma_mean(frame: av.VideoFrame) -> float:
    """Mean of the Y plane over the visible area (rows are padded to `line_size`)."""
    plane = frame.planes[0]
    data = bytes(plane)
    total = 0
    for row in range(frame.height):
        start = row * plane.line_size
        total += sum(data[start : start + frame.width])
    return total / (frame.width * frame.height)


async def collect_frames(track: MediaStreamTrack, count: int, timeout: float) -> list:
    """Receive up to `count` decoded frames from `track` within `timeout` seconds."""
    frames: list = []
    deadline = time.monotonic() + timeout
    while len(frames) < count:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        try:
            frames.append(await asyncio.wait_for(track.recv(), remaining))
        except (asyncio.TimeoutError, MediaStreamError):
            break
    return frames

