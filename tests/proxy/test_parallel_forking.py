"""Parallel forking: an extension registered from two devices (a lab phone and a softphone).

`lookup("location")` turns every binding into a branch of one transaction (RFC 3261 §16.6); the
branches ring together, the first 2xx wins and the others are CANCELled (§16.7 step 10), a
negative reply is held until every branch of the leg has answered, and only then does the
winning reply (OpenSIPS ``branch_prio``, SEMANTICS.md §2.1) reach failure_route.
"""

from __future__ import annotations

import pytest

from labpbx.sip.message import Request, parse_name_addr, parse_uri
from tests.proxy.harness import MEDIA, PROXY, Net, cancel_for, invite, reply

CALLER = ("127.0.0.1", 20000)
DESK = ("127.0.0.1", 21001)
SOFT = ("127.0.0.1", 22001)


def _user(req: Request) -> str | None:
    return parse_uri(req.uri).user


@pytest.fixture
def net() -> Net:
    n = Net()
    assert n.register("1001", DESK).status == 200
    assert n.register("1001", SOFT).status == 200
    return n


def _ring_both(net: Net) -> tuple[Request, Request, Request]:
    inv = invite("1000", "1001", CALLER)
    net.send(inv, CALLER)
    [desk] = net.requests(DESK, "INVITE")
    [soft] = net.requests(SOFT, "INVITE")
    net.take(DESK)
    net.take(SOFT)
    return inv, desk, soft


def test_every_binding_gets_a_branch_of_the_same_transaction(net: Net) -> None:
    inv, desk, soft = _ring_both(net)
    assert desk.uri == f"sip:1001@{DESK[0]}:{DESK[1]}"
    assert soft.uri == f"sip:1001@{SOFT[0]}:{SOFT[1]}"
    assert desk.top_via.branch != soft.top_via.branch
    for fwd in (desk, soft):
        assert fwd.top_via.branch.startswith("z9hG4bK")
        assert fwd.call_id == inv.call_id and fwd.cseq == inv.cseq
        assert fwd.headers.get("Record-Route") == f"<sip:{PROXY[0]}:{PROXY[1]};lr>"
        assert fwd.headers.get("Max-Forwards") == "69"
    assert net.statuses(CALLER) == [100]


def test_first_2xx_wins_and_the_other_branch_is_cancelled(net: Net) -> None:
    _inv, desk, soft = _ring_both(net)
    net.send(reply(desk, 180, tag="desk"), DESK)
    net.send(reply(soft, 180, tag="soft"), SOFT)
    assert net.statuses(CALLER) == [100, 180, 180]  # every 1xx but 100 goes upstream (§16.7 step 5)
    net.send(reply(soft, 200, tag="soft", contact=SOFT), SOFT)
    assert net.statuses(CALLER)[-1] == 200
    [cancel] = net.requests(DESK, "CANCEL")
    assert cancel.top_via.branch == desk.top_via.branch  # §9.1: same branch as the INVITE
    assert cancel.uri == desk.uri
    assert not net.requests(SOFT, "CANCEL")
    net.take(CALLER)
    net.send(reply(cancel, 200, tag="desk"), DESK)
    net.send(reply(desk, 487, tag="desk"), DESK)
    assert net.requests(DESK, "ACK")  # hop-by-hop ACK of the 487
    assert net.statuses(CALLER) == []  # nothing more upstream
    assert not net.requests(MEDIA)


def test_branch_without_a_provisional_is_cancelled_once_it_sends_one(net: Net) -> None:
    """§9.1 / OpenSIPS cancel_uacs: no CANCEL before the branch has answered anything."""
    _inv, desk, soft = _ring_both(net)
    net.send(reply(soft, 200, tag="soft", contact=SOFT), SOFT)
    assert net.statuses(CALLER)[-1] == 200
    assert not net.requests(DESK, "CANCEL")
    net.send(reply(desk, 180, tag="desk"), DESK)
    assert net.requests(DESK, "CANCEL")
    assert 180 not in net.statuses(CALLER)  # a provisional after the 2xx is not relayed


def test_busy_on_one_device_waits_for_the_other(net: Net) -> None:
    """A 486 is held while the other branch rings; the call goes to voicemail only when the leg is
    over, and the busy greeting wins over the local 408 (branch_prio: 4xx before 408)."""
    _inv, desk, soft = _ring_both(net)
    net.send(reply(desk, 486, tag="desk"), DESK)
    assert net.requests(DESK, "ACK")
    net.send(reply(soft, 180, tag="soft"), SOFT)
    assert net.statuses(CALLER) == [100, 180]
    assert not net.requests(MEDIA)
    net.advance(2.99)
    assert not net.requests(MEDIA)
    net.advance(0.02)  # fr_inv_timeout (3 s) on the ringing device
    [cancel] = net.requests(SOFT, "CANCEL")
    assert cancel.headers.get("Reason") == 'SIP;cause=480;text="NO_ANSWER"'
    [to_media] = net.requests(MEDIA, "INVITE")
    assert _user(to_media) == "b1001"
    assert 486 not in net.statuses(CALLER)


def test_both_devices_unavailable_goes_to_the_unavailable_greeting(net: Net) -> None:
    _inv, desk, soft = _ring_both(net)
    net.send(reply(desk, 480, tag="desk"), DESK)
    assert not net.requests(MEDIA)
    net.send(reply(soft, 480, tag="soft"), SOFT)
    [to_media] = net.requests(MEDIA, "INVITE")
    assert _user(to_media) == "u1001"


def test_decline_6xx_cancels_the_other_branch_and_ends_the_call(net: Net) -> None:
    """§16.7 step 5: after a 6xx the proxy CANCELs the pending branches and creates no new ones."""
    _inv, desk, soft = _ring_both(net)
    net.send(reply(soft, 180, tag="soft"), SOFT)
    net.send(reply(desk, 603, tag="desk"), DESK)
    [cancel] = net.requests(SOFT, "CANCEL")
    net.send(reply(cancel, 200, tag="soft"), SOFT)
    net.send(reply(soft, 487, tag="soft"), SOFT)
    assert not net.requests(MEDIA)
    assert net.statuses(CALLER)[-1] == 603


def test_caller_cancel_cancels_every_ringing_device(net: Net) -> None:
    inv, desk, soft = _ring_both(net)
    net.send(reply(desk, 180, tag="desk"), DESK)
    net.send(reply(soft, 180, tag="soft"), SOFT)
    net.send(cancel_for(inv), CALLER)
    assert 200 in net.statuses(CALLER)
    [c1] = net.requests(DESK, "CANCEL")
    [c2] = net.requests(SOFT, "CANCEL")
    for cancel, fwd, addr in ((c1, desk, DESK), (c2, soft, SOFT)):
        net.send(reply(cancel, 200, tag="x"), addr)
        net.send(reply(fwd, 487, tag="x"), addr)
    assert net.statuses(CALLER)[-1] == 487
    assert not net.requests(MEDIA)


def test_a_second_2xx_is_forwarded_too(net: Net) -> None:
    """§16.7 step 5: every 2xx to an INVITE goes upstream; the caller ends the extra dialog."""
    _inv, desk, soft = _ring_both(net)
    net.send(reply(soft, 200, tag="soft", contact=SOFT), SOFT)
    net.send(reply(desk, 200, tag="desk", contact=DESK), DESK)
    oks = [r for r in net.responses(CALLER) if r.status == 200]
    assert [parse_name_addr(r.headers.get("To") or "").tag for r in oks] == ["soft", "desk"]


def test_challenges_of_every_device_reach_the_caller_in_one_401(net: Net) -> None:
    """§16.7 step 7: the 401/407 sent upstream carries every WWW-/Proxy-Authenticate received."""
    _inv, desk, soft = _ring_both(net)
    first = reply(desk, 401, tag="desk")
    first.headers.add("WWW-Authenticate", 'Digest realm="desk", nonce="1"')
    second = reply(soft, 407, tag="soft")
    second.headers.add("Proxy-Authenticate", 'Digest realm="soft", nonce="2"')
    net.send(first, DESK)
    assert net.statuses(CALLER) == [100]  # held while the other device has not answered
    net.send(second, SOFT)
    final = net.responses(CALLER)[-1]
    assert final.status in (401, 407)
    assert final.headers.get_all("WWW-Authenticate") == ['Digest realm="desk", nonce="1"']
    assert final.headers.get_all("Proxy-Authenticate") == ['Digest realm="soft", nonce="2"']
    assert not net.requests(MEDIA)
