#!/usr/bin/env python3
"""Writes the seed corpora in fuzz/corpus/<target>/ (run from anywhere; idempotent).

Seeds are a few valid inputs per target, so the fuzzer starts from the shapes real clients
send: the golden protocol lines, browser SDP offers (captured once from Debian's Chromium,
kept in corpus/fuzz_sdp/ and not regenerated here), a roster file, the recorder's golden
sealed segments and WebM segments, scripts of RTP/RTCP for the media core (the script format
is described in fuzz_targets/fuzz_rtp_rtcp.rs), one request per HTTP route
(fuzz_http_bodies), manifests (fuzz_manifest) and scripts for the media engine's peer
connections (fuzz_media_engine).
"""
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def signalling():
    with open(os.path.join(ROOT, "core/golden/protocol-v1.jsonl")) as f:
        for i, line in enumerate(l for l in f if l.strip()):
            write("fuzz_signalling", f"seed-golden-{i:02}.json", line.strip())


def roster():
    write("fuzz_roster_csv", "seed-mis-export.csv",
          "\ufeffPupil Email,First Name,Last Name,Class\r\n"
          "ada@pupils.demo.sch.uk,Ada,Lovelace,7A\r\n"
          "ben@pupils.demo.sch.uk,Ben,\"O'Neil, Jr\",7A\r\n"
          "cara@pupils.demo.sch.uk,Cara,Ng,7 a\r\n")
    write("fuzz_roster_csv", "seed-reordered.csv",
          "class,last_name,first-name,PUPIL EMAIL\n8B,Zed,Zoe,zoe@pupils.demo.sch.uk\n")
    # The text policy's cases: overrides, invisible characters, NFD, scripts that need joiners.
    write("fuzz_roster_csv", "seed-text-policy.csv",
          "pupil email,first name,last name,class\n"
          "a@x.uk,Dr \u202e(partner school),Chen,7A\n"
          "b@x.uk,\u200b\u2060,L,7A \u2067x\n"
          "c@x.uk,Zoe\u0308,O'Brien-N\u0303u\u0301n\u0303ez,Blwyddyn 7\n"
          "d@x.uk,\u0645\u062d\u0645\u062f\u06cc\u200c\u0646\u0698\u0627\u062f,\u5c71\u7530,\u2b50\ufe0f 8B\n"
          "e@x.uk,\u3164,x\u0301\u0301\u0301\u0301\u0301\u0301\u0301\u0301\u0301,\U0001F3F4\U000E0067\U000E0062\U000E0077\U000E006C\U000E0073\U000E007F\n")


def sealed():
    for name in ("segment-small.sealed", "segment-two-chunks.sealed"):
        with open(os.path.join(ROOT, "recorder/golden", name), "rb") as f:
            write("fuzz_sealed_segment", "seed-golden-" + name, f.read())
    # Write-then-tamper mode: op, position, then the plaintext.
    write("fuzz_sealed_segment", "seed-tamper-flip", bytes([0x40, 0, 30]) + b"\x1aE\xdf\xa3 webm segment")
    write("fuzz_sealed_segment", "seed-tamper-truncate", bytes([1, 0, 40]) + bytes(range(200)))


def webm():
    segments = {}
    for name in ("segment-av.webm", "segment-audio.webm", "segment-video.webm"):
        with open(os.path.join(ROOT, "recorder/golden", name), "rb") as f:
            segments[name] = f.read()
        write("fuzz_webm_demux", "seed-golden-" + name, segments[name])
    # Concat mode: an odd first byte, then segments as u16 length + bytes.
    join = lambda *names: b"\x01" + b"".join(struct.pack("!H", len(segments[n])) + segments[n] for n in names)
    write("fuzz_webm_demux", "seed-concat-av", join("segment-av.webm", "segment-av.webm"))
    write("fuzz_webm_demux", "seed-concat-mismatch", join("segment-audio.webm", "segment-video.webm"))


# Roles and content types of fuzz_http_bodies (ROLES in src/school.rs, CONTENT_TYPES there).
NOBODY, SUPERUSER, TEACHER, LEADER, PUPIL, OTHER_TEACHER, VISITOR = range(7)
JSON, NO_TYPE, CSV = 0, 1, 2
# Real users by index (school, then email): 0 ada, 1 admin, 2 ben, 5 dsl, 6 eve, 8 owen, 10
# teacher, 12 zoe, 14 yan (the other school). $uN in a body is the n-th user's id, $kN the n-th
# consent record's.
ADA, ADMIN, EVE, TEACHER_ID, YAN = 0, 1, 6, 10, 14


def http_req(route, role, body=b"", params=(), ctype=JSON, query=None, cross_site=False):
    """One request: the route by name, then role, content type, flags, parameters, query, body."""
    name = route.encode()
    out = bytes([0xFF, len(name)]) + name + bytes([role, ctype, (1 if query is not None else 0) | (2 if cross_site else 0)])
    out += bytes(params)
    if query is not None:
        out += bytes([len(query)]) + query.encode()
    body = body.encode() if isinstance(body, str) else body
    return out + struct.pack("!H", len(body)) + body


def http():
    start = http_req("POST /api/lessons", TEACHER, '{"class_id":"7a"}')
    consent = '{"pupil_signed":true,"parent_name":"P. Parent","signed_on":1700000000000,"method":"paper","conduct_version":1}'
    seeds = {
        "health": http_req("GET /api/health", NOBODY),
        "sign-in": http_req("POST /api/session", NOBODY, '{"email":"ada@pupils.demo.sch.uk","password":"demo-pupil"}'),
        "sign-in-wrong": http_req("POST /api/session", NOBODY, '{"email":"ada@pupils.demo.sch.uk","password":"nope"}'),
        "sign-out": http_req("DELETE /api/session", PUPIL) + http_req("GET /api/me", PUPIL),
        "me": http_req("GET /api/me", TEACHER),
        "set-password": http_req("POST /api/admin/users/{user_id}/invite", SUPERUSER, params=[EVE])
        + http_req("POST /api/account/password", NOBODY, '{"token":"' + "ab" * 32 + '","password":"a long new password"}'),
        "reset": http_req("POST /api/admin/users/{user_id}/reset", SUPERUSER, params=[TEACHER_ID]),
        "lesson-ticket": start + http_req("GET /api/lessons/{lesson_id}", PUPIL, params=[0])
        + http_req("POST /api/lessons/{lesson_id}/ticket", TEACHER, params=[0]),
        "lesson-cross-site": http_req("POST /api/lessons", TEACHER, '{"class_id":"7a"}', cross_site=True),
        "readiness": http_req("GET /api/classes/{class_id}/readiness", TEACHER, params=[0]),
        "users": http_req("GET /api/admin/users", SUPERUSER),
        "create-user": http_req("POST /api/admin/users", SUPERUSER,
                                '{"email":"new@pupils.demo.sch.uk","display_name":"New Pupil","role":"pupil"}'),
        "update-user": http_req("PATCH /api/admin/users/{user_id}", SUPERUSER, '{"role":"leader","disabled":true}', params=[TEACHER_ID]),
        "classes": http_req("GET /api/admin/classes", SUPERUSER) + http_req("POST /api/admin/classes", SUPERUSER, '{"name":"9Z Art"}'),
        "class-members": http_req("GET /api/admin/classes/{class_id}", SUPERUSER, params=[1])
        + http_req("POST /api/admin/classes/{class_id}/members", SUPERUSER, '{"user_id":"$u8","as":"pupil"}', params=[1])
        + http_req("DELETE /api/admin/classes/{class_id}/members/{user_id}", SUPERUSER, params=[0, ADA]),
        "roster-export": http_req("GET /api/admin/classes/{class_id}/roster.csv", SUPERUSER, params=[0])
        + http_req("GET /api/admin/classes/{class_id}/without-consent", SUPERUSER, params=[0]),
        "roster-import": http_req("POST /api/admin/roster/import", SUPERUSER,
                                  "pupil email,first name,last name,class\r\nnew@pupils.demo.sch.uk,New,Pupil,7A Science\r\n",
                                  ctype=CSV, query="apply=true"),
        "domains": http_req("GET /api/admin/domains", SUPERUSER)
        + http_req("POST /api/admin/domains", SUPERUSER, '{"domain":"New.Example.sch.uk","note":"Our partner school"}')
        + http_req("DELETE /api/admin/domains/{domain}", SUPERUSER, params=[2]),
        "consents": http_req("GET /api/admin/pupils/{user_id}/consents", SUPERUSER, params=[ADA])
        + http_req("POST /api/admin/pupils/{user_id}/consents", SUPERUSER, consent, params=[EVE])
        + http_req("POST /api/admin/consents/{consent_id}/withdraw", SUPERUSER, params=[0]),
        "privacy": http_req("GET /api/admin/pupils/{user_id}/privacy", SUPERUSER, params=[ADA])
        + http_req("PUT /api/admin/pupils/{user_id}/privacy", SUPERUSER,
                   '{"camera_always_off":true,"alias":"Star","hidden_from_pupils":true}', params=[ADA]),
        "conduct": http_req("GET /api/admin/conduct", SUPERUSER)
        + http_req("POST /api/admin/conduct", SUPERUSER, '{"text":"Be kind.","recording_notice":"Recorded.","require_resign":true}'),
        "recordings": http_req("GET /api/recordings", LEADER, query="class_id=7a&from=0&to=9999999999999")
        + http_req("POST /api/recordings/{recording_id}/views", LEADER, '{"reason":"A concern was raised","concern_ref":"C-1"}', params=[0])
        + http_req("GET /api/recordings/{recording_id}/streams/{label}", LEADER, params=[0, 0], query="view=abc"),
        "hold": http_req("POST /api/recordings/{recording_id}/hold", LEADER, '{"on":true,"reason":"Police request"}', params=[0]),
        "log": start + http_req("GET /api/log/lessons", LEADER, query="class_id=7a&from_date=2026-01-01&to_date=2026-12-31")
        + http_req("GET /api/log/lessons/{lesson_id}", TEACHER, params=[0]),
        "log-note": start + http_req("POST /api/log/lessons/{lesson_id}/notes", TEACHER,
                                     '{"category":"concern","text":"Ada seemed upset","corrects":null}', params=[0]),
        "log-attendance": http_req("GET /api/log/pupils/{user_id}/attendance", LEADER, params=[ADA])
        + http_req("GET /api/log/concerns", LEADER),
        "log-exports": http_req("GET /api/log/intervals.csv", LEADER, query="from_date=2026-01-01")
        + http_req("GET /api/log/lessons.csv", TEACHER),
        "time-zone": http_req("GET /api/admin/time-zone", SUPERUSER)
        + http_req("PUT /api/admin/time-zone", SUPERUSER, '{"time_zone":"Europe/Paris"}'),
        "other-school": http_req("GET /api/admin/users", OTHER_TEACHER) + http_req("GET /api/lessons/{lesson_id}", VISITOR, params=[0])
        + http_req("GET /api/admin/pupils/{user_id}/consents", SUPERUSER, params=[YAN]),
        "fuzzed-param": http_req("GET /api/admin/classes/{class_id}", SUPERUSER, params=[0xC0, 5, *b"7a/.."]),
    }
    for name, data in seeds.items():
        write("fuzz_http_bodies", "seed-" + name, data)


# fuzz_manifest: the recording, and the SHA-256 of the golden segments as the target seals them
# (SEGMENTS in fuzz_targets/fuzz_manifest.rs; the target stops if they drift).
RECORDING = "rec_0000000000000000000f022e"
SEGMENT_SHA256 = ["ed87433a3394b566e8a17febc5db61065026384a89f7e5084fa3e6ee8af1f8f1",
                  "67730ac42957c8898b286aa08b70b2135db3d84589df4eedaee7df25605cab0b",
                  "daf4ff8b5b93b86c80ebac111f910f1587825c882c3ebc4a6482456b110044c7"]


def manifest():
    def segment(index, stream, start, end, tracks):
        return {"index": index, "stream": stream, "start_ms": start, "end_ms": end, "tracks": tracks,
                "object": f"{RECORDING}/s{index:08}", "sha256": SEGMENT_SHA256[index]}

    def doc(segments, status="complete", lost=None, recording=RECORDING, people=None):
        d = {"version": 2 if people else 1, "recording": recording, "school": "sch_demo", "started_at": 1767000000000,
             "status": status, "lost_after_ms": lost, "segments": segments}
        if people:
            d["people"] = people
        return json.dumps(d, separators=(",", ":"))

    av, audio, video = segment(0, "s1", 0, 1000, ["video", "audio"]), segment(1, "s2", 1000, 2000, ["audio"]), \
        segment(2, "s3", 2000, 3000, ["video"])
    write("fuzz_manifest", "seed-complete", doc([av, audio, video]))
    write("fuzz_manifest", "seed-interrupted", doc([av], status="interrupted", lost=1000))
    write("fuzz_manifest", "seed-empty", doc([]))
    # Two segments of one stream whose layouts differ, a segment whose index does not give the
    # object it names (refused when the view opens), and one whose hash is another segment's
    # (refused when it is asked for).
    write("fuzz_manifest", "seed-mismatch", doc([dict(av, stream="s1"), dict(audio, stream="s1")]))
    write("fuzz_manifest", "seed-wrong-index", doc([dict(av, index=2)]))
    write("fuzz_manifest", "seed-swapped-hash", doc([dict(video, sha256=SEGMENT_SHA256[0])]))
    write("fuzz_manifest", "seed-other-recording", doc([av], recording="rec_ffffffffffffffffffffffff"))
    write("fuzz_manifest", "seed-segment-lines", "\n".join(json.dumps(x) for x in [av, audio]))
    # Version 2: who published each stream and their names, one a pupil's alias.
    def src(person, kind):
        return {"source": {"person": person, "kind": kind}}
    people = [{"person": "usr_t", "role": "teacher", "name": "Ms Rivera", "alias": False},
              {"person": "usr_p", "role": "pupil", "name": "Starling", "alias": True}]
    named = [dict(av, **src("usr_t", "camera")), dict(audio, **src("usr_p", "microphone")), dict(video, **src("usr_t", "screen"))]
    write("fuzz_manifest", "seed-named", doc(named, people=people))


def rtp(pt, seq, ts, ssrc, payload, marker=False, ext=False):
    first = 0x90 if ext else 0x80
    head = struct.pack("!BBHII", first, (0x80 if marker else 0) | pt, seq, ts, ssrc)
    if ext:  # one-byte header extension: abs-send-time (id 2) and audio level (id 1)
        head += struct.pack("!HH", 0xBEDE, 2) + bytes([0x22, 1, 2, 3, 0x10, 0x7f, 0, 0])
    return head + payload


def pli(sender, media):
    return struct.pack("!BBHII", 0x81, 206, 2, sender, media)


def fir(sender, media, seq):
    return struct.pack("!BBHIIIB3x", 0x84, 206, 4, sender, 0, media, seq)


def rr(sender):
    return struct.pack("!BBHI", 0x80, 201, 1, sender)


def nack(sender, media, pid, blp):
    return struct.pack("!BBHIIHH", 0x81, 205, 3, sender, media, pid, blp)


def remb(sender, media):
    return struct.pack("!BBHII4sB3sI", 0x8F, 206, 5, sender, 0, b"REMB", 1, b"\x04\x00\x00", media)


def stun_binding(username):
    user = username.encode()
    attr = struct.pack("!HH", 0x0006, len(user)) + user
    attr += b"\0" * (-len(attr) % 4)
    return struct.pack("!HH", 0x0001, len(attr)) + bytes([0x21, 0x12, 0xA4, 0x42]) + b"\7" * 12 + attr


def op_pub(track, datagram):
    return bytes([0, track]) + struct.pack("!H", len(datagram)) + datagram


def op_sub(sink, datagram):
    return bytes([1, sink]) + struct.pack("!H", len(datagram)) + datagram


def op_subscribe(sink, track, ssrc, pt):
    return bytes([2, sink, track]) + struct.pack("!I", ssrc) + bytes([pt])


def op_send(sink, n):
    return bytes([4, sink, n])


def op_wait(ms):
    return bytes([7]) + struct.pack("!H", ms)


def media_core():
    key = bytes([0x10, 0x00, 0x9D, 0x01, 0x2A]) + b"\xaa" * 40   # VP8 descriptor S=1, key frame
    inter = bytes([0x10, 0x01]) + b"\xbb" * 40
    opus = b"\xfc" + b"\x11" * 30
    lesson = op_subscribe(0, 0, 1000, 96) + op_subscribe(1, 0, 1001, 96) + op_subscribe(2, 1, 1002, 111)
    lesson += op_sub(1, stun_binding("sink1:client"))
    seq, ts = 100, 3000
    for i in range(12):
        frame = key if i % 6 == 0 else inter
        lesson += op_pub(0, rtp(96, seq + i, ts + 3000 * i, 0x1234, frame, marker=True, ext=i % 2 == 0))
        lesson += op_pub(1, rtp(111, 500 + i, 960 * i, 0x5678, opus, ext=True))
        lesson += op_wait(33)
        if i % 3 == 2:
            lesson += op_send(0, 8) + op_send(1, 8) + op_send(2, 8)
    lesson += op_sub(0, rr(1000) + pli(1000, 1000))
    lesson += op_sub(1, fir(1001, 1001, 1))
    lesson += op_sub(1, nack(1001, 1001, 3, 0x0005) + remb(1001, 1001))
    lesson += op_wait(600)
    write("fuzz_rtp_rtcp", "seed-lesson", lesson)
    churn = op_subscribe(3, 0, 7, 96) + op_pub(0, rtp(96, 1, 1, 9, key)) + bytes([5, 3])  # discard
    churn += op_pub(0, rtp(96, 2, 2, 9, inter)) + op_wait(100) + bytes([6, 0])  # republish
    churn += op_subscribe(3, 0, 7, 96) + op_pub(0, rtp(96, 3, 3, 10, key)) + op_send(3, 4) + bytes([3, 3])
    write("fuzz_rtp_rtcp", "seed-churn", churn)
    flood = op_subscribe(0, 0, 1, 96) + op_pub(0, rtp(96, 0, 0, 1, key))
    flood += b"".join(op_pub(0, rtp(96, n, n, 1, inter)) for n in range(1, 600))
    write("fuzz_rtp_rtcp", "seed-slow-subscriber", flood + op_send(0, 255))


# fuzz_media_engine: a script of steps (Op::read in fuzz_targets/fuzz_media_engine.rs).
C_RECEIVER, C_PUBLISHER, F1, F2 = 0, 1, 2, 3
P_CHROMIUM, P_PUBLISHED, P_RECEIVE = 0, 1, 2


def m_inject(frm, data):
    return bytes([0, frm]) + struct.pack("!H", len(data)) + data


def m_stun(frm, peer, use_candidate=True, controlling=True, wrong_password=False, no_fingerprint=False, tie=7):
    flags = int(use_candidate) | 2 * int(controlling) | 4 * int(wrong_password) | 8 * int(no_fingerprint)
    return bytes([1, frm, peer, flags, tie])


def m_pump(rounds):
    return bytes([2, rounds])


def m_tamper(to_server, nth, pos, xor):
    return bytes([3, int(to_server), nth]) + struct.pack("!H", pos) + bytes([xor])


def m_wait(ms):
    return bytes([4]) + struct.pack("!H", ms)


def m_client_rtp(video, data, raw=False):
    return bytes([5, int(video) | 2 * int(raw)]) + struct.pack("!H", len(data)) + data


def m_server_rtp(video, data):
    return bytes([6, int(video)]) + struct.pack("!H", len(data)) + data


def m_control(what, peer, data=b""):
    return bytes([7, what, peer, len(data)]) + data


def dtls_client_hello():
    """A DTLS 1.2 ClientHello as a WebRTC client sends it: ECDHE-ECDSA with AES-GCM, use_srtp."""
    ext = b""
    ext += struct.pack("!HH", 0x0017, 0)  # extended master secret
    ext += struct.pack("!HHB", 0xFF01, 1, 0)  # renegotiation info (empty)
    ext += struct.pack("!HHHHH", 0x000A, 6, 4, 0x001D, 0x0017)  # supported groups: x25519, P-256
    ext += struct.pack("!HHBB", 0x000B, 2, 1, 0)  # EC point formats: uncompressed
    ext += struct.pack("!HHHHH", 0x000D, 6, 4, 0x0403, 0x0804)  # signature algorithms
    ext += struct.pack("!HHHHHB", 0x000E, 7, 4, 0x0007, 0x0001, 0)  # use_srtp: GCM, CM-SHA1-80
    body = b"\xfe\xfd" + bytes(range(32)) + b"\x00" + b"\x00"  # version, random, session id, cookie
    body += struct.pack("!HHH", 4, 0xC02B, 0xC00A) + b"\x01\x00"  # cipher suites, compression
    body += struct.pack("!H", len(ext)) + ext
    hs = bytes([1]) + len(body).to_bytes(3, "big") + struct.pack("!H", 0) + b"\x00\x00\x00" + len(body).to_bytes(3, "big") + body
    return bytes([22]) + b"\xfe\xff" + struct.pack("!HIH", 0, 0, 0)[:8] + struct.pack("!H", len(hs)) + hs


def srtp_like(ssrc, seq):
    """An RTP header and a payload that is not ciphertext under anyone's key, with a 10-byte tag."""
    return rtp(96, seq, seq * 3000, ssrc, bytes([0x10, 0, 0x9D, 0x01, 0x2A]) + b"\x55" * 40) + b"\xa5" * 10


def media_engine():
    vp8_key = rtp(96, 1, 3000, 0, bytes([0x10, 0x00, 0x9D, 0x01, 0x2A, 0x40, 0x01, 0xF0, 0x00]) + b"\xaa" * 60, marker=True)
    opus = rtp(111, 1, 960, 0, b"\xfc" + b"\x11" * 30, ext=True)
    connect = m_pump(64) + m_pump(64) + m_pump(64)
    lesson = connect + m_client_rtp(True, vp8_key) + m_client_rtp(False, opus) + m_pump(8)
    lesson += m_server_rtp(True, vp8_key) + m_server_rtp(False, opus) + m_pump(8)
    lesson += m_control(1, 0) + m_pump(8) + m_control(0, P_PUBLISHED) + m_pump(8) + m_wait(1500) + m_pump(16)
    write("fuzz_media_engine", "seed-two-clients-connect", lesson)
    chromium = m_stun(F1, P_CHROMIUM) + m_pump(4) + m_inject(F1, dtls_client_hello()) + m_pump(8)
    chromium += m_inject(F1, srtp_like(0x1234, 1)) + m_inject(F1, srtp_like(0x1234, 2)) + m_wait(3000)
    chromium += m_stun(F1, P_CHROMIUM, wrong_password=True) + m_stun(F2, P_CHROMIUM, no_fingerprint=True) + m_pump(4)
    chromium += m_stun(F1, P_CHROMIUM, controlling=False, use_candidate=False) + m_wait(30000) + m_pump(4)
    write("fuzz_media_engine", "seed-chromium-ice-dtls-srtp", chromium)
    spoof = connect + m_inject(C_PUBLISHER, srtp_like(0x1060, 7)) + m_inject(F1, srtp_like(0x1060, 8))
    spoof += m_stun(F1, P_RECEIVE) + m_pump(8) + m_server_rtp(True, vp8_key) + m_pump(4)
    write("fuzz_media_engine", "seed-spoofed-srtp-and-moved-receiver", spoof)
    tamper = b"".join(m_tamper(d, n, 13, 0xFF) for d, n in [(1, 0), (0, 1), (1, 3)]) + m_tamper(0, 2, 0, 0) + connect
    write("fuzz_media_engine", "seed-handshake-tampered", tamper)
    cands = connect + m_control(3, P_RECEIVE, b"candidate:1 1 udp 2122194687 203.0.113.9 40000 typ host")
    cands += m_control(3, P_CHROMIUM, b"candidate:2 1 udp 1 198.51.100.3 40000 typ srflx raddr 0.0.0.0 rport 0")
    cands += m_control(2, P_PUBLISHED) + m_pump(8) + m_server_rtp(True, vp8_key) + m_wait(10000) + m_pump(8)
    write("fuzz_media_engine", "seed-candidates-and-close", cands)


if __name__ == "__main__":
    signalling()
    roster()
    sealed()
    media_core()
    webm()
    http()
    manifest()
    media_engine()
