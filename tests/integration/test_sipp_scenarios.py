"""Self-tests of the SIPp scenarios in tests/sipp and of sipp_harness.

No proxy is involved: every scenario is paired directly with its natural
peer (another scenario, or a plain Python UDP socket playing the proxy /
registrar / phone), on 127.0.0.1 only, with ports picked free.  This only
validates the XML call flows; the proxy tests reuse the same scenarios.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from . import sipp_harness as h

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        shutil.which("sipp") is None,
        reason="sipp not installed (Debian/Ubuntu package sip-tester, SIPp 3.6)",
    ),
    pytest.mark.timeout(30),
]

WAIT = 5.0  # upper bound for any single wait of these tests
# sipp's own -timeout: a safety net only (every scenario here ends by itself within a second);
# generous so that a stalled, loaded machine cannot kill sipp in the middle of an exchange.
SIPP_LIFETIME = 20.0
LO = h.LOOPBACK


# --------------------------------------------------------------------------
# Fixtures and small SIP helpers
# --------------------------------------------------------------------------


@pytest.fixture
def sipp(tmp_path: Path) -> Iterator[Callable[..., h.Sipp]]:
    """Factory for started sipp processes; all are stopped and checked at teardown."""
    made: list[h.Sipp] = []

    def factory(scenario: str, **kwargs: object) -> h.Sipp:
        kwargs.setdefault("timeout", SIPP_LIFETIME)
        proc = h.Sipp(scenario, workdir=tmp_path, **kwargs)  # type: ignore[arg-type]
        made.append(proc)
        return proc.start()

    yield factory
    for proc in made:
        proc.stop()
    for proc in made:
        assert proc.returncode is not None, f"{proc.name} still running"
        assert not h.udp_port_bound(proc.local_port), f"{proc.name} port still bound"


class UdpPeer:
    """A plain UDP socket on 127.0.0.1 playing one SIP element, driven synchronously."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((LO, 0))
        self.port = int(self.sock.getsockname()[1])

    def recv(self, timeout: float = WAIT) -> tuple[str, tuple[str, int]]:
        self.sock.settimeout(timeout)
        data, addr = self.sock.recvfrom(65535)
        return data.decode(), addr

    def recv_request(self, method: str, timeout: float = WAIT) -> tuple[str, tuple[str, int]]:
        """Next request with ``method``; other messages are skipped."""
        deadline = time.monotonic() + timeout
        while True:
            msg, addr = self.recv(max(0.01, deadline - time.monotonic()))
            if msg.startswith(method + " "):
                return msg, addr

    def recv_response(self, cseq_method: str, timeout: float = WAIT) -> str:
        """Next response whose CSeq method is ``cseq_method``."""
        deadline = time.monotonic() + timeout
        while True:
            msg, _ = self.recv(max(0.01, deadline - time.monotonic()))
            if msg.startswith("SIP/2.0 ") and hdr(msg, "CSeq").endswith(" " + cseq_method):
                return msg

    def send(self, text: str, port: int) -> None:
        self.sock.sendto(text.encode(), (LO, port))

    def invite_until(self, invite: str, port: int, wanted: str, timeout: float = WAIT) -> str:
        """Send ``invite`` and return the first response to it whose status
        starts with ``wanted``, retransmitting like Timer A (T1 = 500 ms,
        doubling) as a real proxy would: one lost or early datagram on a
        busy machine must not fail the test.  Responses to other calls are
        skipped (a reused port can still receive a previous test's traffic).
        """
        call_id = hdr(invite, "Call-ID")
        deadline = time.monotonic() + timeout
        interval, next_send = 0.5, time.monotonic()
        while True:
            now = time.monotonic()
            if now >= deadline:
                raise TimeoutError(f"no {wanted} response to INVITE {call_id}")
            if now >= next_send:
                self.send(invite, port)
                next_send, interval = now + interval, interval * 2
            try:
                msg, _ = self.recv(max(0.01, min(next_send, deadline) - now))
            except TimeoutError:
                continue
            if (
                msg.startswith("SIP/2.0 " + wanted)
                and hdr(msg, "CSeq").endswith(" INVITE")
                and hdr(msg, "Call-ID") == call_id
            ):
                return msg

    def pending(self) -> list[str]:
        """Everything already queued on the socket, without waiting."""
        out = []
        self.sock.setblocking(False)
        try:
            while True:
                out.append(self.sock.recv(65535).decode())
        except BlockingIOError:
            pass
        finally:
            self.sock.setblocking(True)
        return out

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def peer() -> Iterator[UdpPeer]:
    p = UdpPeer()
    yield p
    p.close()


def head(msg: str) -> list[str]:
    return msg.split("\r\n\r\n", 1)[0].split("\r\n")


def hdrs(msg: str, name: str) -> list[str]:
    prefix = name.lower() + ":"
    return [line[len(prefix) :].strip() for line in head(msg)[1:] if line.lower().startswith(prefix)]


def hdr(msg: str, name: str) -> str:
    values = hdrs(msg, name)
    assert values, f"no {name} in:\n{msg}"
    return values[0]


def tag_of(value: str) -> str:
    m = re.search(r";tag=([^;>\s]+)", value)
    return m.group(1) if m else ""


def branch_of(via: str) -> str:
    m = re.search(r"branch=([^;,\s]+)", via)
    assert m, via
    return m.group(1)


def response(
    req: str, code: int, reason: str, to_tag: str = "", extra: tuple[str, ...] = (), body: str = ""
) -> str:
    """A response to ``req`` copying Via (all), From, To, Call-ID and CSeq."""
    lines = [f"SIP/2.0 {code} {reason}"]
    lines += [f"Via: {v}" for v in hdrs(req, "Via")]
    lines.append(f"From: {hdr(req, 'From')}")
    to = hdr(req, "To")
    lines.append(f"To: {to};tag={to_tag}" if to_tag and not tag_of(to) else f"To: {to}")
    lines += [f"Call-ID: {hdr(req, 'Call-ID')}", f"CSeq: {hdr(req, 'CSeq')}"]
    lines += list(extra)
    if body:
        lines.append("Content-Type: application/sdp")
    lines += [f"Content-Length: {len(body.encode())}", "", body]
    return "\r\n".join(lines)


SDP = (
    "v=0\r\no=py 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    "m=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
)


def finish(*procs: h.Sipp, expect: int = h.EXIT_OK) -> None:
    """Wait for every process and assert its exit code."""
    for proc in procs:
        try:
            rc = proc.wait(WAIT)
        except subprocess.TimeoutExpired:
            proc.stop()
            pytest.fail(f"sipp did not finish in time\n{proc.describe()}")
        assert rc == expect, proc.describe()


def sent(proc: h.Sipp, first_word: str) -> list[h.TracedMessage]:
    return [m for m in proc.messages() if m.direction == "sent" and m.first_line.startswith(first_word)]


# --------------------------------------------------------------------------
# Scenario pairs: sipp against sipp
# --------------------------------------------------------------------------


def test_uac_call_against_uas_answer(sipp: Callable[..., h.Sipp]) -> None:
    callee = sipp("uas_answer", calls=1)
    caller = sipp(
        "uac_call", remote_port=callee.local_port, service="1001", keys={"caller": "1000"}, duration_ms=50
    )
    finish(caller, callee)

    assert callee.ruris() == ["1001"]
    assert callee.ruri_entries()[0].uri == f"sip:1001@{LO}:{callee.local_port}"
    assert caller.final_codes() == [200]
    assert 180 in caller.provisional_codes()
    assert any(line.startswith("BYE_OK ") for line in caller.log_lines())
    # ACK and BYE go to the Contact of the 200, with the 200's To tag.
    invite = sent(caller, "INVITE")[0]
    ack = sent(caller, "ACK")[0]
    bye = sent(caller, "BYE")[0]
    assert ack.first_line == f"ACK sip:{LO}:{callee.local_port} SIP/2.0"
    assert bye.first_line == f"BYE sip:{LO}:{callee.local_port} SIP/2.0"
    assert not ack.headers("Route")  # no Record-Route, no Route
    assert tag_of(ack.headers("To")[0]) and tag_of(ack.headers("To")[0]) == tag_of(bye.headers("To")[0])
    assert hdr(invite.text, "From").startswith("<sip:1000@127.0.0.1>")
    assert "application/sdp" in invite.headers("Content-Type")


def test_uac_call_fail_against_uas_busy(sipp: Callable[..., h.Sipp]) -> None:
    callee = sipp("uas_busy", calls=1)
    caller = sipp("uac_call_fail", remote_port=callee.local_port, service="1001", keys={"caller": "1000"})
    finish(caller, callee)

    assert caller.final_codes() == [486]
    assert callee.ruris() == ["1001"]
    # The ACK for a non-2xx final is part of the INVITE transaction.
    invite = sent(caller, "INVITE")[0]
    ack = sent(caller, "ACK")[0]
    assert branch_of(ack.headers("Via")[0]) == branch_of(invite.headers("Via")[0])
    assert ack.first_line.split()[1] == invite.first_line.split()[1]
    assert tag_of(ack.headers("To")[0])
    assert ack.headers("CSeq") == ["1 ACK"]


def test_uac_call_fail_against_uas_480(sipp: Callable[..., h.Sipp]) -> None:
    callee = sipp("uas_480", calls=1)
    caller = sipp("uac_call_fail", remote_port=callee.local_port, service="1002", keys={"caller": "1000"})
    finish(caller, callee)
    assert caller.final_codes() == [480]
    assert callee.ruris() == ["1002"]


def test_uac_cancel_against_uas_ring(sipp: Callable[..., h.Sipp]) -> None:
    callee = sipp("uas_ring", calls=1)
    caller = sipp(
        "uac_cancel", remote_port=callee.local_port, service="1001", keys={"caller": "1000"}, duration_ms=300
    )
    finish(caller, callee)

    assert caller.provisional_codes() == [180]
    assert caller.final_codes() == [487]
    assert any(line.startswith("CANCEL_OK ") for line in caller.log_lines())
    assert callee.ruris() == ["1001"]
    assert callee.cancels() == ["1001"]
    invite = sent(caller, "INVITE")[0]
    cancel = sent(caller, "CANCEL")[0]
    ack = sent(caller, "ACK")[0]
    inv_branch = branch_of(invite.headers("Via")[0])
    assert branch_of(cancel.headers("Via")[0]) == inv_branch
    assert branch_of(ack.headers("Via")[0]) == inv_branch
    assert cancel.first_line.split()[1] == invite.first_line.split()[1]
    assert cancel.headers("CSeq") == ["1 CANCEL"]
    assert not tag_of(cancel.headers("To")[0])
    assert tag_of(ack.headers("To")[0])


def test_media_server_serves_many_calls(sipp: Callable[..., h.Sipp]) -> None:
    calls = 8
    media = sipp("media_server", calls=calls)
    caller = sipp(
        "uac_call",
        remote_port=media.local_port,
        service="b1001",
        keys={"caller": "1000"},
        calls=calls,
        rate=100,
        duration_ms=20,
    )
    finish(caller, media)

    assert media.ruris() == ["b1001"] * calls
    assert len({e.call_id for e in media.ruri_entries()}) == calls
    assert caller.final_codes() == [200] * calls
    assert sorted(fields[0] for fields in media.events("BYE")) == sorted(
        e.call_id for e in media.ruri_entries()
    )


@pytest.mark.parametrize("user", ["b1001", "u1001", "2345678"])
def test_media_server_logs_request_uri_user(sipp: Callable[..., h.Sipp], user: str) -> None:
    media = sipp("media_server", calls=1)
    caller = sipp("uac_call", remote_port=media.local_port, service=user, keys={"caller": "1003"})
    finish(caller, media)
    assert media.ruris() == [user]
    assert caller.provisional_codes() == [100, 180]


def test_call_failure_exit_code(sipp: Callable[..., h.Sipp]) -> None:
    """A caller that expects an answer but gets 486 exits 1 (call failed)."""
    callee = sipp("uas_busy", calls=1)
    caller = sipp("uac_call", remote_port=callee.local_port, service="1001", keys={"caller": "1000"})
    finish(caller, expect=h.EXIT_CALLS_FAILED)
    finish(callee)
    assert caller.final_codes() == []


def test_global_timeout_exit_code(sipp: Callable[..., h.Sipp], peer: UdpPeer) -> None:
    """Nobody answers: -timeout 1s with -timeout_error makes sipp exit 255."""
    caller = sipp("uac_call", remote_port=peer.port, service="1001", keys={"caller": "1000"}, timeout=1.0)
    finish(caller, expect=h.EXIT_FATAL)
    assert peer.recv_request("INVITE")[0]


# --------------------------------------------------------------------------
# Scenarios against a Python peer
# --------------------------------------------------------------------------


def test_uac_call_follows_200_from_another_uas(sipp: Callable[..., h.Sipp], peer: UdpPeer) -> None:
    """Several 18x from one UAS, then a 200 with another To tag, Contact and
    Record-Route (as when the proxy forwards to voicemail): ACK and BYE use
    the 200's tag, its Contact as Request-URI and a Route header."""
    caller = sipp("uac_call", remote_port=peer.port, service="1001", keys={"caller": "1000"})
    invite, _ = peer.recv_request("INVITE")
    rr = f"<sip:{LO}:{peer.port};lr>"
    vm_contact = f"sip:b1001@{LO}:{peer.port}"
    peer.send(response(invite, 100, "Trying"), caller.local_port)
    peer.send(response(invite, 180, "Ringing", "phone1", (f"Record-Route: {rr}",)), caller.local_port)
    peer.send(response(invite, 183, "Session Progress", "phone1"), caller.local_port)
    peer.send(response(invite, 180, "Ringing", "phone1"), caller.local_port)
    peer.send(
        response(invite, 200, "OK", "vm77", (f"Record-Route: {rr}", f"Contact: <{vm_contact}>"), SDP),
        caller.local_port,
    )

    ack, _ = peer.recv_request("ACK")
    assert head(ack)[0] == f"ACK {vm_contact} SIP/2.0"
    assert hdrs(ack, "Route") == [rr]
    assert tag_of(hdr(ack, "To")) == "vm77"
    assert branch_of(hdr(ack, "Via")) != branch_of(hdr(invite, "Via"))

    bye, _ = peer.recv_request("BYE")
    assert head(bye)[0] == f"BYE {vm_contact} SIP/2.0"
    assert hdrs(bye, "Route") == [rr]
    assert tag_of(hdr(bye, "To")) == "vm77"
    peer.send(response(bye, 200, "OK"), caller.local_port)

    finish(caller)
    assert caller.provisional_codes() == [100, 180, 183, 180]
    assert caller.final_codes() == [200]


def test_uac_cancel_accepts_487_before_cancel_200(sipp: Callable[..., h.Sipp], peer: UdpPeer) -> None:
    """The 200 for the CANCEL may arrive after the 487 (and after the ACK)."""
    caller = sipp(
        "uac_cancel",
        remote_port=peer.port,
        service="1001",
        keys={"caller": "1000"},
        duration_ms=0,
    )
    invite, _ = peer.recv_request("INVITE")
    peer.send(response(invite, 180, "Ringing", "ph9"), caller.local_port)
    cancel, _ = peer.recv_request("CANCEL")
    assert branch_of(hdr(cancel, "Via")) == branch_of(hdr(invite, "Via"))
    peer.send(response(invite, 487, "Request Terminated", "ph9"), caller.local_port)
    ack, _ = peer.recv_request("ACK")
    assert branch_of(hdr(ack, "Via")) == branch_of(hdr(invite, "Via"))
    assert tag_of(hdr(ack, "To")) == "ph9"
    assert not any("CANCEL_OK" in x for x in caller.log_lines())
    assert caller.running  # still waiting for the 200 to the CANCEL
    peer.send(response(cancel, 200, "OK", "ph9"), caller.local_port)
    finish(caller)
    assert caller.final_codes() == [487]
    assert [x.split()[0] for x in caller.log_lines()] == ["RESPONSE", "FINAL", "CANCEL_OK"]


@pytest.mark.parametrize("scenario", ["uas_answer", "media_server"])
def test_uas_answer_copies_via_set_and_record_route(
    sipp: Callable[..., h.Sipp], peer: UdpPeer, scenario: str
) -> None:
    """Behind a proxy the INVITE has two Vias and a Record-Route: the answer
    must return all of them (sipp joins the Vias in one comma-separated line)."""
    callee = sipp(scenario, calls=1)
    call_id = "py-rr-1@127.0.0.1"
    rr = f"<sip:{LO}:{peer.port};lr>"
    invite = "\r\n".join(
        [
            f"INVITE sip:b1001@{LO}:{callee.local_port} SIP/2.0",
            f"Via: SIP/2.0/UDP {LO}:{peer.port};branch=z9hG4bKproxy1",
            f"Via: SIP/2.0/UDP {LO}:5999;branch=z9hG4bKcaller1",
            f"Record-Route: {rr}",
            "Max-Forwards: 69",
            f"From: <sip:1000@{LO}>;tag=caller1",
            f"To: <sip:1001@{LO}>",
            f"Call-ID: {call_id}",
            "CSeq: 7 INVITE",
            f"Contact: <sip:1000@{LO}:5999>",
            "Content-Type: application/sdp",
            f"Content-Length: {len(SDP)}",
            "",
            SDP,
        ]
    )
    try:
        ok = peer.invite_until(invite, callee.local_port, "200")
    except TimeoutError as exc:
        pytest.fail(f"{exc}\n{callee.describe()}")
    vias = ", ".join(hdrs(ok, "Via"))
    assert "branch=z9hG4bKproxy1" in vias and "branch=z9hG4bKcaller1" in vias
    assert vias.index("z9hG4bKproxy1") < vias.index("z9hG4bKcaller1")
    assert hdrs(ok, "Record-Route") == [rr]
    assert hdr(ok, "CSeq") == "7 INVITE"
    assert "m=audio" in ok
    to_tag = tag_of(hdr(ok, "To"))
    assert to_tag
    contact = hdr(ok, "Contact").strip("<>")

    dialog = [
        f"From: <sip:1000@{LO}>;tag=caller1",
        f"To: <sip:1001@{LO}>;tag={to_tag}",
        f"Call-ID: {call_id}",
    ]
    peer.send(
        "\r\n".join(
            [
                f"ACK {contact} SIP/2.0",
                f"Via: SIP/2.0/UDP {LO}:{peer.port};branch=z9hG4bKack1",
                *dialog,
                "CSeq: 7 ACK",
                "Content-Length: 0",
                "",
                "",
            ]
        ),
        callee.local_port,
    )
    peer.send(
        "\r\n".join(
            [
                f"BYE {contact} SIP/2.0",
                f"Via: SIP/2.0/UDP {LO}:{peer.port};branch=z9hG4bKbye1",
                *dialog,
                "CSeq: 8 BYE",
                "Content-Length: 0",
                "",
                "",
            ]
        ),
        callee.local_port,
    )
    assert peer.recv_response("BYE").startswith("SIP/2.0 200")
    finish(callee)
    assert callee.ruri_entries() == [h.RuriEntry("b1001", f"sip:b1001@{LO}:{callee.local_port}", call_id)]


def _invite_from_proxy(peer: UdpPeer, callee_port: int, call_id: str) -> str:
    return "\r\n".join(
        [
            f"INVITE sip:1001@{LO}:{callee_port} SIP/2.0",
            f"Via: SIP/2.0/UDP {LO}:{peer.port};branch=z9hG4bKproxyinv",
            f"Via: SIP/2.0/UDP {LO}:5999;branch=z9hG4bKcallerinv",
            "Max-Forwards: 69",
            f"From: <sip:1000@{LO}>;tag=caller2",
            f"To: <sip:1001@{LO}>",
            f"Call-ID: {call_id}",
            "CSeq: 3 INVITE",
            f"Contact: <sip:1000@{LO}:5999>",
            "Content-Length: 0",
            "",
            "",
        ]
    )


@pytest.mark.parametrize("scenario", ["uas_ring", "uas_silent"])
def test_uas_cancelled_by_proxy(sipp: Callable[..., h.Sipp], peer: UdpPeer, scenario: str) -> None:
    """The proxy CANCELs (hop-by-hop: one Via, CSeq n CANCEL); the callee
    answers 200 to the CANCEL and a 487 that repeats the INVITE's Via set and
    CSeq; the proxy ACKs the 487."""
    callee = sipp(scenario, calls=1)
    call_id = f"py-cancel-{scenario}@127.0.0.1"
    invite = _invite_from_proxy(peer, callee.local_port, call_id)
    peer.send(invite, callee.local_port)
    peer.send(invite, callee.local_port)  # a retransmission must do no harm
    if scenario == "uas_ring":
        ringing = peer.invite_until(invite, callee.local_port, "180")
        to_tag = tag_of(hdr(ringing, "To"))
    else:
        assert callee.wait_for_log(lambda lines: bool(lines), WAIT)
        to_tag = ""
    cancel = "\r\n".join(
        [
            f"CANCEL sip:1001@{LO}:{callee.local_port} SIP/2.0",
            f"Via: SIP/2.0/UDP {LO}:{peer.port};branch=z9hG4bKproxyinv",
            "Max-Forwards: 70",
            f"From: <sip:1000@{LO}>;tag=caller2",
            f"To: <sip:1001@{LO}>",
            f"Call-ID: {call_id}",
            "CSeq: 3 CANCEL",
            "Content-Length: 0",
            "",
            "",
        ]
    )
    peer.send(cancel, callee.local_port)
    ok = peer.recv_response("CANCEL")
    assert ok.startswith("SIP/2.0 200")
    terminated = peer.recv_response("INVITE")
    assert terminated.startswith("SIP/2.0 487")
    assert hdr(terminated, "CSeq") == "3 INVITE"
    vias = ", ".join(hdrs(terminated, "Via"))
    assert "z9hG4bKproxyinv" in vias and "z9hG4bKcallerinv" in vias
    t487 = tag_of(hdr(terminated, "To"))
    assert t487 and (not to_tag or t487 == to_tag)
    peer.send(
        "\r\n".join(
            [
                f"ACK sip:1001@{LO}:{callee.local_port} SIP/2.0",
                f"Via: SIP/2.0/UDP {LO}:{peer.port};branch=z9hG4bKproxyinv",
                "Max-Forwards: 70",
                f"From: <sip:1000@{LO}>;tag=caller2",
                f"To: <sip:1001@{LO}>;tag={t487}",
                f"Call-ID: {call_id}",
                "CSeq: 3 ACK",
                "Content-Length: 0",
                "",
                "",
            ]
        ),
        callee.local_port,
    )
    finish(callee)
    assert callee.ruris() == ["1001"]
    assert callee.cancels() == ["1001"]


def test_uas_silent_never_answers(sipp: Callable[..., h.Sipp], peer: UdpPeer) -> None:
    """No response at all, retransmissions absorbed, ends quietly after -recv_timeout."""
    callee = sipp("uas_silent", calls=1, recv_timeout_ms=800)
    invite = _invite_from_proxy(peer, callee.local_port, "py-silent@127.0.0.1")
    for _ in range(3):
        peer.send(invite, callee.local_port)
    finish(callee)
    assert peer.pending() == []
    assert callee.ruris() == ["1001"]
    assert any(line.startswith("SILENT_TIMEOUT ") for line in callee.log_lines())


def test_uas_silent_stopped_by_harness(sipp: Callable[..., h.Sipp], peer: UdpPeer) -> None:
    callee = sipp("uas_silent", calls=1, recv_timeout_ms=60_000, timeout=60)
    peer.send(_invite_from_proxy(peer, callee.local_port, "py-silent2@127.0.0.1"), callee.local_port)
    assert callee.wait_for_log(lambda lines: any(x.startswith("RURI ") for x in lines), WAIT)
    assert callee.running
    rc = callee.stop()
    assert rc is not None and callee.returncode == rc
    assert peer.pending() == []


# --------------------------------------------------------------------------
# REGISTER: register.xml and register_contact() against a Python registrar
# --------------------------------------------------------------------------


def test_register_scenario(sipp: Callable[..., h.Sipp], peer: UdpPeer) -> None:
    reg = sipp(
        "register", remote_port=peer.port, keys={"user": "1001", "contact": f"{LO}:5071", "expires": 3600}
    )
    request, _ = peer.recv_request("REGISTER")
    assert head(request)[0] == f"REGISTER sip:{LO}:{peer.port} SIP/2.0"
    assert hdr(request, "To") == f"<sip:1001@{LO}>"
    assert hdr(request, "From").startswith(f"<sip:1001@{LO}>;tag=")
    assert hdr(request, "Contact") == f"<sip:1001@{LO}:5071>"
    assert hdr(request, "Expires") == "3600"
    assert hdr(request, "CSeq") == "1 REGISTER"
    assert branch_of(hdr(request, "Via")).startswith("z9hG4bK")
    peer.send(response(request, 100, "Trying"), reg.local_port)
    peer.send(
        response(request, 200, "OK", "reg1", (f"Contact: <sip:1001@{LO}:5071>;expires=3600",)), reg.local_port
    )
    finish(reg)
    assert reg.final_codes() == [200]


def test_register_scenario_rejected(sipp: Callable[..., h.Sipp], peer: UdpPeer) -> None:
    reg = sipp(
        "register", remote_port=peer.port, keys={"user": "1009", "contact": f"{LO}:5079", "expires": 60}
    )
    request, _ = peer.recv_request("REGISTER")
    peer.send(response(request, 403, "Forbidden", "reg2"), reg.local_port)
    finish(reg, expect=h.EXIT_CALLS_FAILED)
    assert reg.final_codes() == []


def _registrar(peer: UdpPeer, codes: list[int], seen: list[str]) -> threading.Thread:
    """Answer one REGISTER with each of ``codes`` (e.g. [100, 200]) in a thread."""

    def run() -> None:
        request, addr = peer.recv_request("REGISTER")
        seen.append(request)
        for code in codes:
            reason = {100: "Trying", 200: "OK", 403: "Forbidden"}.get(code, "X")
            peer.send(response(request, code, reason, "" if code < 200 else "r1"), addr[1])

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_register_contact_helper(peer: UdpPeer) -> None:
    seen: list[str] = []
    thread = _registrar(peer, [100, 200], seen)
    h.register_contact(peer.port, "1002", 5072, expires=120, timeout=WAIT)
    thread.join(WAIT)
    request = seen[0]
    assert head(request)[0] == f"REGISTER sip:{LO}:{peer.port} SIP/2.0"
    assert hdr(request, "Contact") == f"<sip:1002@{LO}:5072>"
    assert hdr(request, "Expires") == "120"
    assert hdr(request, "To") == f"<sip:1002@{LO}>"
    assert branch_of(hdr(request, "Via")).startswith("z9hG4bK")
    assert request.endswith("Content-Length: 0\r\n\r\n")


def test_register_contact_helper_rejected(peer: UdpPeer) -> None:
    thread = _registrar(peer, [403], [])
    with pytest.raises(h.RegistrationError, match="403"):
        h.register_contact(peer.port, "1002", 5072, timeout=WAIT)
    thread.join(WAIT)


def test_register_contact_helper_timeout() -> None:
    port = h.free_udp_port()  # nobody listens there
    start = time.monotonic()
    with pytest.raises(h.RegistrationError):
        h.register_contact(port, "1002", 5072, timeout=0.3)
    assert time.monotonic() - start < 2.0


# --------------------------------------------------------------------------
# Harness plumbing
# --------------------------------------------------------------------------


def test_stop_terminates_idle_server(sipp: Callable[..., h.Sipp]) -> None:
    media = sipp("media_server", calls=None, timeout=60)
    assert media.running and h.udp_port_bound(media.local_port)
    assert media.stop() == h.EXIT_OK
    assert media.returncode == h.EXIT_OK
    assert not h.udp_port_bound(media.local_port)


def test_context_manager_stops_sipp(tmp_path: Path) -> None:
    with h.Sipp("uas_answer", workdir=tmp_path, calls=None, timeout=60) as proc:
        assert proc.running
    assert proc.returncode is not None
    assert not h.udp_port_bound(proc.local_port)


def test_free_udp_ports_are_distinct_and_bindable() -> None:
    ports = h.free_udp_ports(20)
    assert len(set(ports)) == 20
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((LO, ports[0]))
        assert h.udp_port_bound(ports[0])
    assert not h.udp_port_bound(ports[0])


def test_wait_until() -> None:
    start = time.monotonic()
    assert not h.wait_until(lambda: False, 0.1)
    assert 0.09 <= time.monotonic() - start < 1.0
    box: list[int] = []
    timer = threading.Timer(0.05, lambda: box.append(1))
    timer.start()
    assert h.wait_until(lambda: box, 2.0)
    timer.join()


def test_every_scenario_documented_and_tested() -> None:
    """Each XML in tests/sipp has a header comment and is exercised above."""
    source = Path(__file__).read_text()
    for path in sorted(h.SIPP_DIR.glob("*.xml")):
        text = path.read_text(encoding="iso-8859-1")
        assert text.startswith("<?xml"), path.name
        assert "<!--" in text.split("<scenario", 1)[0], f"{path.name}: no header comment"
        assert f'"{path.stem}"' in source, f"{path.name}: not used by any test"
