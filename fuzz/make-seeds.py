#!/usr/bin/env python3
"""Writes the seed corpora in fuzz/corpus/<target>/ (run from anywhere; idempotent).

Seeds are a few valid inputs per target, so the fuzzer starts from the shapes real clients
send: the golden protocol lines, browser SDP offers (captured once from Debian's Chromium,
kept in corpus/fuzz_sdp/ and not regenerated here), a roster file, the recorder's golden
sealed segments, and scripts of RTP/RTCP for the media core (the script format is described
in fuzz_targets/fuzz_rtp_rtcp.rs).
"""
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


if __name__ == "__main__":
    signalling()
    roster()
    sealed()
    media_core()
