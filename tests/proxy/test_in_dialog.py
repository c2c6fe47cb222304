"""Mid-call requests real softphones send through the proxy: PRACK for a reliable 183 (RFC 3262),
UPDATE and a hold re-INVITE, and a BYE from the callee's side. All follow the Record-Route set
(RFC 3261 §12, §16.4) and never touch the forwarding logic."""

from __future__ import annotations

from labpbx.sip.message import Request, Response
from tests.proxy.harness import MEDIA, PROXY, Net, ack_for_2xx, invite, reply

CALLER = ("127.0.0.1", 20000)
EXT_1001 = ("127.0.0.1", 21001)
RR = f"<sip:{PROXY[0]}:{PROXY[1]};lr>"


def _net() -> Net:
    net = Net()
    assert net.register("1001", EXT_1001).status == 200
    return net


def _in_dialog(base: Request, method: str, cseq: int, branch: str, source: tuple[str, int]) -> Request:
    """A request inside the dialog ``base`` belongs to, sent by the caller through our Route."""
    req = base.copy()
    req.method = method
    req.headers.set("CSeq", f"{cseq} {method}")
    req.headers.set("Via", f"SIP/2.0/UDP {source[0]}:{source[1]};branch={branch}")
    return req


def _reliable_183(fwd: Request) -> Response:
    provisional = reply(fwd, 183, contact=EXT_1001)
    provisional.headers.add("Require", "100rel")
    provisional.headers.add("RSeq", "1")
    return provisional


def test_prack_for_a_reliable_183_reaches_the_callee_through_the_route_set() -> None:
    net = _net()
    inv = invite("1000", "1001", CALLER)
    inv.headers.add("Supported", "100rel")
    net.send(inv, CALLER)
    [fwd] = net.requests(EXT_1001, "INVITE")
    assert fwd.headers.get("Supported") == "100rel"  # the proxy does not touch option tags
    net.take(EXT_1001)
    net.send(_reliable_183(fwd), EXT_1001)
    [relayed] = [r for r in net.responses(CALLER) if r.status == 183]
    assert relayed.headers.get("Require") == "100rel" and relayed.headers.get("RSeq") == "1"
    assert relayed.headers.get("Record-Route") == RR

    prack = ack_for_2xx(inv, relayed, CALLER, EXT_1001)  # same dialog, Route = our Record-Route
    prack = _in_dialog(prack, "PRACK", 2, "z9hG4bKprack1", CALLER)
    prack.headers.add("RAck", "1 1 INVITE")
    net.send(prack, CALLER)
    [fwd_prack] = net.requests(EXT_1001, "PRACK")
    assert fwd_prack.uri == f"sip:x@{EXT_1001[0]}:{EXT_1001[1]}"
    assert fwd_prack.headers.get("Route") is None
    assert fwd_prack.headers.get("RAck") == "1 1 INVITE"
    net.send(reply(fwd_prack, 200), EXT_1001)
    assert net.responses(CALLER)[-1].status == 200
    assert net.responses(CALLER)[-1].cseq == (2, "PRACK")
    # the INVITE transaction is still alive and its 200 goes through as usual
    net.send(reply(fwd, 200, contact=EXT_1001), EXT_1001)
    assert net.responses(CALLER)[-1].status == 200
    assert net.responses(CALLER)[-1].cseq == (1, "INVITE")
    assert not net.requests(MEDIA)


def test_update_and_hold_reinvite_follow_the_dialog() -> None:
    net = _net()
    inv = invite("1000", "1001", CALLER)
    net.send(inv, CALLER)
    [fwd] = net.requests(EXT_1001, "INVITE")
    net.send(reply(fwd, 200, contact=EXT_1001), EXT_1001)
    ok = net.responses(CALLER)[-1]
    net.take(EXT_1001)
    ack = ack_for_2xx(inv, ok, CALLER, EXT_1001)
    net.send(ack, CALLER)
    net.take(EXT_1001)

    update = _in_dialog(ack, "UPDATE", 2, "z9hG4bKupd1", CALLER)
    net.send(update, CALLER)
    [fwd_update] = net.requests(EXT_1001, "UPDATE")
    net.send(reply(fwd_update, 200), EXT_1001)
    assert net.responses(CALLER)[-1].cseq == (2, "UPDATE")

    hold = _in_dialog(ack, "INVITE", 3, "z9hG4bKhold1", CALLER)
    hold.body = b"v=0\r\na=sendonly\r\n"
    net.send(hold, CALLER)
    [fwd_hold] = net.requests(EXT_1001, "INVITE")
    assert fwd_hold.body == hold.body
    net.send(reply(fwd_hold, 200, contact=EXT_1001), EXT_1001)
    assert net.responses(CALLER)[-1].status == 200
    assert net.responses(CALLER)[-1].cseq == (3, "INVITE")
    assert not net.requests(MEDIA)


def test_bye_from_the_callee_reaches_the_caller() -> None:
    """The callee's side of the dialog: it routes by the Record-Route it received (§12.1.1)."""
    net = _net()
    inv = invite("1000", "1001", CALLER)
    net.send(inv, CALLER)
    [fwd] = net.requests(EXT_1001, "INVITE")
    ok = reply(fwd, 200, contact=EXT_1001)
    net.send(ok, EXT_1001)
    bye = Request("BYE", f"sip:1000@{CALLER[0]}:{CALLER[1]}")
    h = bye.headers
    h.add("Via", f"SIP/2.0/UDP {EXT_1001[0]}:{EXT_1001[1]};branch=z9hG4bKcalleebye")
    h.add("Route", RR)
    h.add("Max-Forwards", "70")
    h.add("From", ok.headers.get("To") or "")
    h.add("To", inv.headers.get("From") or "")
    h.add("Call-ID", inv.call_id)
    h.add("CSeq", "1 BYE")
    net.take(CALLER)
    net.send(bye, EXT_1001)
    [fwd_bye] = net.requests(CALLER, "BYE")
    assert fwd_bye.uri == f"sip:1000@{CALLER[0]}:{CALLER[1]}"
    assert len(fwd_bye.headers.get_all("Via")) == 2
    net.send(reply(fwd_bye, 200, tag="caller"), CALLER)
    [done] = net.responses(EXT_1001)[-1:]
    assert done.status == 200 and done.cseq == (1, "BYE")
