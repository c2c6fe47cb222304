"""Bad input never stops the proxy (issue: "malformed SIP datagrams … never stop the proxy").

Thousands of generated datagrams — random bytes, truncated and mutated real messages, wrong
Content-Length, huge headers — go into the real engine running the default script; none may raise,
and afterwards the proxy still routes a call correctly."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labpbx.events import ProblemEvent
from tests.proxy.harness import Net, invite, reply

CALLER = ("127.0.0.1", 20000)
CALLEE = ("127.0.0.1", 21001)

_NET = Net()
_NET.register("1001", CALLEE)
SEED_MESSAGES = [
    invite("1000", "1001", CALLER).to_bytes(),
    reply(invite("1000", "1001", CALLER), 486).to_bytes(),
    b"REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5;branch=z9hG4bKx\r\n"
    b"From: <sip:1@127.0.0.1>;tag=1\r\nTo: <sip:1@127.0.0.1>\r\nCall-ID: r\r\nCSeq: 1 REGISTER\r\n"
    b"Contact: <sip:1@127.0.0.1:5>\r\nContent-Length: 0\r\n\r\n",
]


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEED_MESSAGES)))
    for _ in range(draw(st.integers(1, 8))):
        op = draw(st.sampled_from(["flip", "insert", "delete", "truncate", "dup_header", "length"]))
        pos = draw(st.integers(0, max(0, len(data) - 1)))
        if op == "flip" and data:
            data[pos] = draw(st.integers(0, 255))
        elif op == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=40))
        elif op == "delete" and data:
            del data[pos:pos + draw(st.integers(1, 40))]
        elif op == "truncate":
            del data[pos:]
        elif op == "dup_header":
            data[pos:pos] = b"\r\nX-Big: " + b"a" * draw(st.integers(0, 70000)) + b"\r\n"
        elif op == "length":
            data = bytearray(bytes(data).replace(
                b"Content-Length: 0", b"Content-Length: " + str(draw(st.integers(-5, 99999))).encode()))
    return bytes(data)


datagrams = st.one_of(st.binary(max_size=3000), mutated())


@settings(max_examples=3000, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=datagrams)
def test_no_datagram_raises(data: bytes) -> None:
    _NET.send(data, CALLER)
    _NET.advance(0.01)


def test_still_routes_after_garbage() -> None:
    net = Net()
    net.register("1001", CALLEE)
    for junk in (b"\x00" * 100, b"INVITE", b"SIP/2.0 200\r\n\r\n", b"A" * 70000):
        net.send(junk, CALLER)
    assert any(isinstance(e, ProblemEvent) for e in net.events)  # it was logged
    net.send(invite("1000", "1001", CALLER), CALLER)
    [fwd] = net.requests(CALLEE, "INVITE")
    net.send(reply(fwd, 486), CALLEE)
    assert net.requests(("127.0.0.1", 15070), "INVITE")
