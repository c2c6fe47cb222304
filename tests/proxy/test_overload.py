"""Overload control (labpbx.proxy.overload): classification, the prioritised bounded queue with a
manual clock, and the engine refusing new calls with 503 while calls in progress go on."""

from __future__ import annotations

import pytest

from labpbx.proxy.overload import Action, IngressQueue, Kind, OverloadConfig, classify
from labpbx.sip.message import Request, Response, parse_message
from tests.proxy.harness import (
    MEDIA,
    Net,
    ack_for_2xx,
    bye_in_dialog,
    cancel_for,
    invite,
    reply,
)

CALLER = ("127.0.0.1", 20000)
FLOOD = ("127.0.0.1", 20500)
EXT_1001 = ("127.0.0.1", 21001)
TAG = b"ovl1234"


def _invite_bytes(n: int = 0, source: tuple[str, int] = CALLER) -> bytes:
    return invite("1000", "1001", source, call_id=f"flood-{n}").to_bytes()


class TestClassify:
    def test_kinds(self) -> None:
        inv = invite("1000", "1001", CALLER)
        assert classify(inv.to_bytes(), TAG) is Kind.NEW_INVITE
        assert classify(reply(inv, 180).to_bytes(), TAG) is Kind.URGENT
        assert classify(cancel_for(inv).to_bytes(), TAG) is Kind.URGENT
        ok = reply(inv, 200, tag="callee")
        ack = ack_for_2xx(inv, ok, CALLER, MEDIA)
        assert classify(ack.to_bytes(), TAG) is Kind.URGENT
        assert classify(bye_in_dialog(ack, CALLER).to_bytes(), TAG) is Kind.URGENT

    def test_an_invite_with_a_to_tag_is_in_a_dialog(self) -> None:
        data = _invite_bytes().replace(b"To: <sip:1001@127.0.0.1>", b"t: <sip:1001@127.0.0.1> ;TAG=x")
        assert classify(data, TAG) is Kind.URGENT

    def test_the_ack_of_our_own_503_is_recognised_by_its_to_tag(self) -> None:
        inv = invite("1000", "1001", CALLER)
        ours = reply(inv, 503, tag="ovl1234.5")
        theirs = reply(inv, 503, tag="other")
        for response, kind in ((ours, Kind.OWN_ACK), (theirs, Kind.URGENT)):
            ack = Request("ACK", inv.uri)
            for name in ("Via", "From", "Call-ID"):
                ack.headers.add(name, inv.headers.get(name) or "")
            ack.headers.add("To", response.headers.get("To") or "")
            ack.headers.add("CSeq", "1 ACK")
            assert classify(ack.to_bytes(), TAG) is kind


class TestIngressQueue:
    def queue(self, **kw: float) -> IngressQueue:
        return IngressQueue(OverloadConfig(**kw), TAG)  # type: ignore[arg-type]

    def test_urgent_traffic_goes_first(self) -> None:
        q = self.queue()
        inv = invite("1000", "1001", CALLER)
        q.push(_invite_bytes(1), CALLER, 0.0)
        q.push(reply(inv, 486).to_bytes(), EXT_1001, 0.001)
        first = q.pop(0.002)
        assert first is not None and first[0].startswith(b"SIP/2.0 486")
        second = q.pop(0.002)
        assert second is not None and second[2] is Action.PROCESS and second[0].startswith(b"INVITE")
        assert q.pop(0.002) is None

    def test_new_calls_that_waited_too_long_are_refused(self) -> None:
        q = self.queue(max_delay=0.2, standing=0)
        for n in range(3):
            q.push(_invite_bytes(n), CALLER, 0.0)
        q.push(_invite_bytes(9), CALLER, 0.25)
        actions = [q.pop(0.3) for _ in range(4)]
        assert [a[2] for a in actions if a] == [Action.REFUSE] * 3 + [Action.PROCESS]
        assert q.stats.refused == 3

    def test_a_backlog_that_drains_sooner_than_standing_is_served_not_refused(self) -> None:
        # a burst that waited past max_delay (a stall), drained within ``standing``
        q = self.queue(max_delay=0.2, standing=1.0)
        for n in range(5):
            q.push(_invite_bytes(n), CALLER, 0.0)
        actions = [q.pop(0.5 + 0.1 * n) for n in range(5)]
        assert [a[2] for a in actions if a] == [Action.PROCESS] * 5
        assert q.stats.refused == 0

    def test_a_standing_backlog_is_refused_from_its_oldest(self) -> None:
        q = self.queue(max_delay=0.2, standing=1.0)
        for n in range(40):  # more arrive than are served: the oldest stays over max_delay
            q.push(_invite_bytes(n), CALLER, n * 0.05)
        served = [q.pop(0.5)]  # over max_delay from here on: newest first, nothing refused yet
        for step in range(1, 11):
            served.append(q.pop(0.5 + step * 0.1))
        kinds = [item[2] for item in served if item]
        assert kinds[:10] == [Action.PROCESS] * 10  # within the first second
        refused = served[10]
        assert refused is not None and refused[2] is Action.REFUSE
        assert b"Call-ID: flood-0\r\n" in refused[0]  # the oldest goes first
        assert q.stats.refused == 1

    def test_first_come_first_served_until_congested_then_newest_first(self) -> None:
        q = self.queue(max_delay=0.2)
        for n in range(3):
            q.push(_invite_bytes(n), CALLER, n * 0.01)
        item = q.pop(0.05)  # the oldest waited 50 ms < 100 ms: FIFO
        assert item is not None and b"flood-0" in item[0]
        item = q.pop(0.15)  # the oldest waited 140 ms: serve the newest
        assert item is not None and b"flood-2" in item[0] and item[2] is Action.PROCESS

    def test_zero_delay_never_refuses(self) -> None:
        q = self.queue(max_delay=0)
        q.push(_invite_bytes(), CALLER, 0.0)
        item = q.pop(1000.0)
        assert item is not None and item[2] is Action.PROCESS

    def test_bounds_drop_the_oldest(self) -> None:
        q = self.queue(max_new=2, max_urgent=1)
        for n in range(3):
            q.push(_invite_bytes(n), CALLER, 0.0)
        inv = invite("1000", "1001", CALLER)
        q.push(reply(inv, 180).to_bytes(), EXT_1001, 0.0)
        q.push(reply(inv, 200).to_bytes(), EXT_1001, 0.0)
        assert (q.stats.dropped_new, q.stats.dropped_urgent, len(q)) == (1, 1, 3)
        item = q.pop(0.0)
        assert item is not None and item[0].startswith(b"SIP/2.0 200")
        item = q.pop(0.0)
        assert item is not None and b"flood-1" in item[0]

    def test_acks_of_our_503s_are_absorbed(self) -> None:
        q = self.queue()
        q.push(b"ACK sip:1001@127.0.0.1 SIP/2.0\r\nTo: <sip:1001@x>;tag=ovl1234.7\r\n\r\n",
               CALLER, 0.0)
        assert len(q) == 0 and q.stats.own_acks == 1


@pytest.fixture
def net() -> Net:
    # standing=0: these tests age a backlog at one instant and check how it is refused
    n = Net(fr_timeout=5, fr_inv_timeout=10, overload=OverloadConfig(standing=0))
    assert n.register("1001", EXT_1001).status == 200
    return n


def _responses(net: Net, addr: tuple[str, int]) -> list[Response]:
    return net.responses(addr)


def _feed(net: Net, data: bytes, source: tuple[str, int]) -> None:
    net.proxy.queue_datagram(data, source, net.now)


def _work(net: Net, at: float) -> None:
    net.now = at
    while net.proxy.process_queued(net.now, 8):
        pass
    net._collect()


class TestEngineUnderOverload:
    """The in-memory network with a manual clock: a backlog of new calls older than max_delay."""

    def test_refused_calls_get_a_well_formed_503_with_retry_after(self, net: Net) -> None:
        live = len(net.proxy.layer)  # the REGISTER's transaction
        sent = [_invite_bytes(n, FLOOD) for n in range(3)]
        for data in sent:
            _feed(net, data, FLOOD)
        _work(net, net.now + 1.0)  # they all waited a second: refused
        replies = _responses(net, FLOOD)
        assert [r.status for r in replies] == [503, 503, 503]
        for data, response in zip(sent, replies, strict=True):
            request = parse_message(data)
            assert isinstance(request, Request)
            assert response.reason == "Service Unavailable"
            assert response.headers.get("Retry-After") == "5"
            assert response.headers.get_all("Via") == request.headers.get_all("Via")
            for name in ("From", "Call-ID", "CSeq"):
                assert response.headers.get(name) == request.headers.get(name)
            assert response.to_tag is not None
            assert response.to_tag.startswith(net.proxy.overload_tag_prefix)
        assert not net.requests(EXT_1001)  # no script ran, nothing was forwarded
        assert len(net.proxy.layer) == live  # and no transaction was kept
        assert net.proxy.stats["refused"] == 3

    def test_calls_in_progress_go_on_while_new_ones_are_refused(self, net: Net) -> None:
        # call A is answered, call B rings, before the backlog builds up
        inv_a = invite("1000", "1001", CALLER, call_id="call-a")
        net.send(inv_a, CALLER)
        [fwd_a] = net.requests(EXT_1001, "INVITE")
        net.send(reply(fwd_a, 200, tag="a", contact=EXT_1001), EXT_1001)
        ok_a = net.responses(CALLER)[-1]
        inv_b = invite("1000", "1001", CALLER, call_id="call-b")
        net.send(inv_b, CALLER)
        fwd_b = net.requests(EXT_1001, "INVITE")[-1]
        net.send(reply(fwd_b, 180, tag="b"), EXT_1001)
        net.inbox.clear()

        for n in range(50):
            _feed(net, _invite_bytes(n, FLOOD), FLOOD)
        ack_a = ack_for_2xx(inv_a, ok_a, CALLER, EXT_1001)
        _feed(net, ack_a.to_bytes(), CALLER)
        _feed(net, bye_in_dialog(ack_a, CALLER).to_bytes(), CALLER)
        _feed(net, cancel_for(inv_b).to_bytes(), CALLER)
        _work(net, net.now + 1.0)

        assert [r.status for r in _responses(net, FLOOD)] == [503] * 50
        assert net.requests(EXT_1001, "ACK") and net.requests(EXT_1001, "BYE")
        [cancel] = net.requests(EXT_1001, "CANCEL")
        assert 200 in net.statuses(CALLER)  # the 200 to the CANCEL
        net.send(reply(cancel, 200, tag="b"), EXT_1001)
        net.send(reply(fwd_b, 487, tag="b"), EXT_1001)
        net.send(reply(net.requests(EXT_1001, "BYE")[0], 200, tag="a"), EXT_1001)
        statuses = net.statuses(CALLER)
        assert 487 in statuses and statuses.count(200) == 2  # CANCEL's and BYE's

    def test_the_ack_of_a_503_is_absorbed_and_nothing_is_left(self, net: Net) -> None:
        data = _invite_bytes(1, FLOOD)
        _feed(net, data, FLOOD)
        _work(net, net.now + 1.0)
        [refusal] = _responses(net, FLOOD)
        request = parse_message(data)
        assert isinstance(request, Request)
        ack = Request("ACK", request.uri)
        ack.headers.add("Via", request.headers.get("Via") or "")
        for name in ("From", "Call-ID"):
            ack.headers.add(name, request.headers.get(name) or "")
        ack.headers.add("To", refusal.headers.get("To") or "")
        ack.headers.add("CSeq", "1 ACK")
        received = net.proxy.stats["received"]
        _feed(net, ack.to_bytes(), FLOOD)
        _work(net, net.now)
        assert net.proxy.stats["received"] == received  # never parsed, never routed
        assert net.proxy.ingress.stats.own_acks == 1
        assert not net.requests(EXT_1001)

    def test_a_retransmission_of_an_admitted_call_is_not_refused(self, net: Net) -> None:
        data = _invite_bytes(7)
        _feed(net, data, CALLER)
        _work(net, net.now)  # admitted: 100 Trying, forwarded
        assert net.statuses(CALLER) == [100]
        _feed(net, data, CALLER)  # the caller retransmits; it waits too long in the queue
        _work(net, net.now + 1.0)
        assert net.statuses(CALLER) == [100, 100]  # the transaction answers, no 503
        assert net.proxy.stats["refused"] == 0

    def test_normal_load_is_unchanged(self, net: Net) -> None:
        """Datagrams that did not wait are handled exactly as receive_datagram would."""
        inv = invite("1000", "1001", CALLER)
        _feed(net, inv.to_bytes(), CALLER)
        _work(net, net.now)
        assert net.statuses(CALLER) == [100]
        [fwd] = net.requests(EXT_1001, "INVITE")
        _feed(net, reply(fwd, 486).to_bytes(), EXT_1001)
        _work(net, net.now + 0.01)
        assert net.requests(MEDIA, "INVITE")
        assert net.proxy.stats["refused"] == 0
