"""A finished call is freed by reference counting alone (labpbx.proxy.collector, issue #4).

The proxy process switches off CPython's automatic full collections, so a call whose records form
a cycle would never be freed under steady traffic. These tests run calls with the collector
disabled, let every transaction window (64·T1) pass on the manual clock and count the proxy's
record objects still alive: none may be left.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator

import pytest

from labpbx.proxy.tm import Branch, Cell
from labpbx.sip.transaction import Transaction
from tests.proxy.harness import MEDIA, Net, ack_for_2xx, bye_in_dialog, cancel_for, invite, reply

CALLER = ("127.0.0.1", 20000)
EXT_1001 = ("127.0.0.1", 21001)


def _alive() -> int:
    return sum(1 for o in gc.get_objects() if isinstance(o, Cell | Branch | Transaction))


@pytest.fixture
def no_collector() -> Iterator[None]:
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _busy_forward(net: Net) -> None:
    inv = invite("1000", "1001", CALLER)
    net.send(inv, CALLER)
    [fwd] = net.requests(EXT_1001, "INVITE")
    net.send(reply(fwd, 486), EXT_1001)
    [to_media] = net.requests(MEDIA, "INVITE")
    net.send(reply(to_media, 200, tag="vm", contact=MEDIA), MEDIA)
    ok = net.responses(CALLER)[-1]
    ack = ack_for_2xx(inv, ok, CALLER, MEDIA)
    net.send(ack, CALLER)
    net.send(bye_in_dialog(ack, CALLER), CALLER)
    [bye] = net.requests(MEDIA, "BYE")
    net.send(reply(bye, 200, tag="vm"), MEDIA)


def _no_answer_without_any_reply(net: Net) -> None:
    """fr_timeout with no reply: the branch's transaction is ended early and kept as abandoned."""
    inv = invite("1000", "1001", CALLER)
    net.send(inv, CALLER)
    net.advance(2.5)
    to_media = net.requests(MEDIA, "INVITE")[0]  # (retransmitted once by now)
    net.send(reply(to_media, 486, tag="vm"), MEDIA)
    net.send(reply(net.requests(EXT_1001, "INVITE")[0], 180), EXT_1001)  # late 1xx → CANCEL


def _caller_cancel(net: Net) -> None:
    inv = invite("1000", "1001", CALLER)
    net.send(inv, CALLER)
    [fwd] = net.requests(EXT_1001, "INVITE")
    net.send(reply(fwd, 180), EXT_1001)
    net.send(cancel_for(inv), CALLER)
    [cancel] = net.requests(EXT_1001, "CANCEL")
    net.send(reply(cancel, 200), EXT_1001)
    net.send(reply(fwd, 487), EXT_1001)


@pytest.mark.usefixtures("no_collector")
@pytest.mark.parametrize("call", [_busy_forward, _no_answer_without_any_reply, _caller_cancel])
def test_finished_calls_leave_no_records(call: Callable[[Net], None]) -> None:
    baseline = _alive()
    net = Net()
    assert net.register("1001", EXT_1001).status == 200
    for _ in range(5):
        call(net)
        net.inbox.clear()
    assert _alive() > baseline  # the calls' transactions are still in their windows
    net.advance(70)  # every 64·T1 window and the abandoned-branch memory have passed
    assert len(net.proxy.layer) == 0
    assert _alive() == baseline
