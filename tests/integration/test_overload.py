"""Overload control over real UDP on loopback, with the real `labpbx proxy` process (issue #5).

The proxy runs with a tiny ``--overload-delay`` and ``--overload-standing 0`` so that a burst of
new INVITEs is enough to make some of them wait too long, whatever the speed of the machine (a busy
machine only makes more of them wait); the standing-queue rule itself is tested in
tests/proxy/test_overload.py. Plain sockets play the UAs, so the test decides exactly when each message goes.
What must hold: some new calls get ``503`` with ``Retry-After``, every caller gets a final response,
and an answered call's ACK/BYE and a ringing call's CANCEL, sent behind the burst, still go through.
"""

from __future__ import annotations

import secrets
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from labpbx.sip.message import Request, Response, make_response, parse_message
from tests.integration.proxy_process import ProxyProcess
from tests.integration.sipp_harness import free_udp_ports, register_contact, wait_until

pytestmark = pytest.mark.integration

HOST = "127.0.0.1"
BURST = 300
Message = Request | Response


class Peer:
    """A UDP socket on loopback that keeps every SIP message it receives."""

    def __init__(self, proxy_port: int) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
        self.sock.bind((HOST, 0))
        self.port = int(self.sock.getsockname()[1])
        self.proxy = (HOST, proxy_port)
        self.received: list[Message] = []

    def send(self, message: Message | bytes) -> None:
        self.sock.sendto(message if isinstance(message, bytes) else message.to_bytes(), self.proxy)

    def _pump(self, wait: float) -> None:
        """Receive for up to ``wait`` seconds, then take whatever else is already there."""
        self.sock.settimeout(wait)
        while True:
            try:
                data = self.sock.recv(65535)
            except (TimeoutError, BlockingIOError):
                return
            self.received.append(parse_message(data))
            self.sock.settimeout(0)

    def wait_for(self, predicate: Callable[[Message], bool], what: str,
                 timeout: float = 20.0) -> Message:
        found: list[Message] = []

        def check() -> bool:
            self._pump(0.05)
            found[:] = [m for m in self.received if predicate(m)]
            return bool(found)

        assert wait_until(check, timeout, interval=0.0), f"{what}: not received"
        return found[0]

    def close(self) -> None:
        self.sock.close()


def _request(method: str, uri: str, peer: Peer, *, call_id: str, cseq: int, to: str,
             from_tag: str, branch: str | None = None, route: str | None = None) -> Request:
    req = Request(method, uri)
    h = req.headers
    h.add("Via", f"SIP/2.0/UDP {HOST}:{peer.port};branch={branch or 'z9hG4bK' + secrets.token_hex(6)}"
                 ";rport")
    if route:
        h.add("Route", route)
    h.add("Max-Forwards", "70")
    h.add("From", f"<sip:1000@{HOST}>;tag={from_tag}")
    h.add("To", to)
    h.add("Call-ID", call_id)
    h.add("CSeq", f"{cseq} {method}")
    h.add("Contact", f"<sip:1000@{HOST}:{peer.port}>")
    return req


def _is_request(method: str, call_id: str) -> Callable[[Message], bool]:
    return lambda m: isinstance(m, Request) and m.method == method and m.call_id == call_id


def _is_response(status: int, method: str, call_id: str) -> Callable[[Message], bool]:
    return lambda m: (isinstance(m, Response) and m.status == status and m.call_id == call_id
                      and m.cseq[1] == method)


def _is_final(call_id: str) -> Callable[[Message], bool]:
    return lambda m: isinstance(m, Response) and m.status >= 200 and m.call_id == call_id


@dataclass
class Setup:
    proxy: ProxyProcess
    port: int
    caller: Peer
    callee: Peer
    flood: Peer


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Setup]:
    port, media_port = free_udp_ports(2)
    proxy = ProxyProcess(tmp_path, (HOST, port), (HOST, media_port), fr_timeout=10,
                         fr_inv_timeout=20, trace=False,
                         extra=["--overload-delay", "0.0005", "--overload-standing", "0"])
    peers = [Peer(port) for _ in range(3)]
    try:
        proxy.wait_ready()
        register_contact(port, "1001", peers[1].port)
        yield Setup(proxy, port, *peers)
    finally:
        for peer in peers:
            peer.close()
        assert proxy.stop() == 0, "".join(proxy.output)


def test_new_calls_are_refused_with_503_while_calls_in_progress_go_on(setup: Setup) -> None:
    caller, callee, port = setup.caller, setup.callee, setup.port
    ruri = f"sip:1001@{HOST}:{port}"

    # call A: answered before the burst
    invite_a = _request("INVITE", ruri, caller, call_id="call-a", cseq=1, to=f"<{ruri}>",
                        from_tag="fa")
    caller.send(invite_a)
    fwd_a = callee.wait_for(_is_request("INVITE", "call-a"), "INVITE A at the callee")
    assert isinstance(fwd_a, Request)
    ok = make_response(fwd_a, 200, to_tag="ta")
    for value in fwd_a.headers.get_all("Record-Route"):
        ok.headers.add("Record-Route", value)
    ok.headers.add("Contact", f"<sip:1001@{HOST}:{callee.port}>")
    callee.send(ok)
    ok_a = caller.wait_for(_is_response(200, "INVITE", "call-a"), "200 for A at the caller")
    route = ", ".join(ok_a.headers.get_all("Record-Route"))
    to_a = ok_a.headers.get("To") or ""
    in_dialog = {"call_id": "call-a", "to": to_a, "from_tag": "fa", "route": route}
    callee_uri = f"sip:1001@{HOST}:{callee.port}"

    # call B: ringing before the burst
    invite_b = _request("INVITE", ruri, caller, call_id="call-b", cseq=1, to=f"<{ruri}>",
                        from_tag="fb")
    caller.send(invite_b)
    fwd_b = callee.wait_for(_is_request("INVITE", "call-b"), "INVITE B at the callee")
    assert isinstance(fwd_b, Request)
    callee.send(make_response(fwd_b, 180, to_tag="tb"))
    caller.wait_for(_is_response(180, "INVITE", "call-b"), "180 for B at the caller")

    # the burst of new calls (to a user nobody registered: 404 when served), then A's ACK and
    # BYE and B's CANCEL right behind it; repeated (bounded) until the proxy refused something
    flood = setup.flood
    call_ids: list[str] = []
    for round_ in range(5):
        batch = [f"flood-{round_}-{n}" for n in range(BURST)]
        call_ids += batch
        for call_id in batch:
            flood.send(_request("INVITE", f"sip:9999@{HOST}:{port}", flood, call_id=call_id,
                                cseq=1, to=f"<sip:9999@{HOST}>", from_tag=call_id))
        if round_ == 0:
            caller.send(_request("ACK", callee_uri, caller, cseq=1, **in_dialog))
            caller.send(_request("BYE", callee_uri, caller, cseq=2, **in_dialog))
            cancel = _request("CANCEL", ruri, caller, call_id="call-b", cseq=1, to=f"<{ruri}>",
                              from_tag="fb", branch=invite_b.top_via.branch)
            caller.send(cancel)
        flood.wait_for(_is_final(batch[-1]), "a final response to the last INVITE")
        if any(isinstance(m, Response) and m.status == 503 for m in flood.received):
            break

    # calls in progress: the ACK and BYE of A and the CANCEL of B reached the callee
    callee.wait_for(_is_request("ACK", "call-a"), "A's ACK at the callee")
    bye = callee.wait_for(_is_request("BYE", "call-a"), "A's BYE at the callee")
    callee.wait_for(_is_request("CANCEL", "call-b"), "B's CANCEL at the callee")
    assert isinstance(bye, Request)
    callee.send(make_response(bye, 200))
    caller.wait_for(_is_response(200, "BYE", "call-a"), "the 200 for A's BYE at the caller")
    caller.wait_for(_is_response(200, "CANCEL", "call-b"), "the 200 for B's CANCEL")
    callee.send(make_response(fwd_b, 487, to_tag="tb"))
    caller.wait_for(_is_response(487, "INVITE", "call-b"), "B's 487 at the caller")

    # new calls: some refused with 503 + Retry-After (To-tag added), every one got a final
    def finals() -> dict[str, Response]:
        return {m.call_id: m for m in flood.received
                if isinstance(m, Response) and m.status >= 200 and m.cseq[1] == "INVITE"}

    flood.wait_for(lambda m: len(finals()) == len(call_ids), "a final response for every call")
    refused = [r for r in finals().values() if r.status == 503]
    assert refused, "no new call was refused"
    assert {r.status for r in finals().values()} <= {404, 503}
    for response in refused:
        assert response.headers.get("Retry-After") == "5"
        assert response.to_tag
        assert response.top_via.param("rport") == str(flood.port)
