"""Time parse_message and Request.to_bytes for a realistic INVITE with SDP.

Run: /work/venv/bin/python bench/bench_message.py [iterations]
Prints µs per operation (best of 5 rounds) for parse, serialize, parse + serialize, and the
lazy accessors a proxy reads for every request (top_via, cseq, from_tag, to_tag, call_id).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from anywhere, no install

from labpbx.sip.message import Request, parse_message

SDP = (
    b"v=0\r\n"
    b"o=alice 2890844526 2890844526 IN IP4 127.0.0.1\r\n"
    b"s=-\r\n"
    b"c=IN IP4 127.0.0.1\r\n"
    b"t=0 0\r\n"
    b"m=audio 49170 RTP/AVP 0 8 97 101\r\n"
    b"a=rtpmap:0 PCMU/8000\r\n"
    b"a=rtpmap:8 PCMA/8000\r\n"
    b"a=rtpmap:97 iLBC/8000\r\n"
    b"a=rtpmap:101 telephone-event/8000\r\n"
    b"a=fmtp:101 0-15\r\n"
    b"a=ptime:20\r\n"
    b"a=sendrecv\r\n"
)

INVITE = (
    b"INVITE sip:1004@127.0.0.1:5060 SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK776asdhds;rport\r\n"
    b"Max-Forwards: 70\r\n"
    b'From: "Alice" <sip:1001@127.0.0.1>;tag=1928301774\r\n'
    b"To: <sip:1004@127.0.0.1>\r\n"
    b"Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n"
    b"CSeq: 314159 INVITE\r\n"
    b"Contact: <sip:1001@127.0.0.1:5070;transport=udp>\r\n"
    b"Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, REFER, NOTIFY, MESSAGE, INFO\r\n"
    b"Supported: replaces, timer, 100rel\r\n"
    b"User-Agent: LabPBX-bench/1.0\r\n"
    b"Session-Expires: 1800\r\n"
    b"Content-Type: application/sdp\r\n"
    b"Content-Length: " + str(len(SDP)).encode() + b"\r\n"
    b"\r\n" + SDP
)


def timeit(label: str, op: Callable[[], object], iterations: int) -> float:
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(iterations):
            op()
        best = min(best, time.perf_counter() - start)
    per_op = best / iterations * 1e6
    print(f"{label:<28} {per_op:8.2f} µs/op")
    return per_op


def accessors(message: Request) -> None:
    _ = (message.top_via.branch, message.cseq, message.from_tag, message.to_tag, message.call_id)


def main() -> None:
    iterations = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    message = parse_message(INVITE)
    assert isinstance(message, Request)
    assert parse_message(message.to_bytes()) == message
    print(f"INVITE: {len(INVITE)} bytes, {len(message.headers)} headers, {iterations} iterations")
    timeit("parse_message", lambda: parse_message(INVITE), iterations)
    timeit("to_bytes", message.to_bytes, iterations)
    timeit("parse_message + to_bytes", lambda: parse_message(INVITE).to_bytes(), iterations)
    timeit("copy", message.copy, iterations)
    timeit("lazy accessors (5)", lambda: accessors(message), iterations)


if __name__ == "__main__":
    main()
