"""The lab API a view uses, on a real lab (pjsua2 phones, the real proxy, loopback): a late view
that takes a snapshot and subscribes after its position ends with the lab's own state; command
answers stay off the public stream; the ``*_async`` commands return before the child answers.

A phone process is paused with SIGSTOP (a process this test's lab started) so that "the answer
has not come yet" is a fact, not a race; nothing sleeps for correctness.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

pytest.importorskip("pjsua2", reason="pjsua2-python is not installed: phones need it")

from labpbx.events import CallStateEvent, ComponentEvent, Event, ProblemEvent
from labpbx.lab import Lab, LabError
from labpbx.lab.acks import Acks
from labpbx.lab.calls import CallOutcome
from labpbx.lab.config import LabTimeout
from labpbx.lab.state import Activity, CallPhase, ComponentStatus, LabState, reduce

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(sys.platform == "win32", reason="SIGSTOP pauses the phone")]

MakeLab = Callable[..., Lab]
WAIT = 20.0


@contextmanager
def paused(pid: int) -> Iterator[None]:
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


def caller_leg(leg: str, state: str) -> Callable[[Event], bool]:
    return lambda e: isinstance(e, CallStateEvent) and e.leg == leg and e.state == state


def test_a_late_view_misses_and_doubles_nothing(make_lab: MakeLab) -> None:
    lab = make_lab()
    snap = lab.snapshot()
    assert snap.state.status is ComponentStatus.READY
    assert all(x.registered for x in snap.state.extensions.values())
    assert {n for n, c in snap.state.components.items()
            if c.status is ComponentStatus.READY} >= {"proxy", "voicemail", *lab.phones}

    # A view opens: its state is the snapshot, folded on with what it is given from then on.
    view: dict[str, LabState] = {"state": snap.state}
    numbers: list[int] = []
    lock = threading.Lock()

    def on_event(seq: int, event: Event) -> None:
        with lock:
            numbers.append(seq)
            view["state"] = reduce(view["state"], seq, event)

    lab.subscribe_numbered(on_event, after=snap.position)
    lab.set_policy("1001", "answer", ring_time=0.2)
    mark = lab.mark()
    leg = lab.call("1000", "1001")
    lab.wait_for(caller_leg(leg, "confirmed"), WAIT, after=mark)
    talking = lab.snapshot().state.extensions["1000"]
    assert talking.activity is Activity.IN_CALL
    assert talking.current_leg is not None and talking.current_leg.peer == "1001"
    lab.hangup(leg)
    lab.wait_for(caller_leg(leg, "disconnected"), WAIT, after=mark)

    lab.stop()  # the dispatcher hands out everything queued, then no event comes any more
    final = lab.snapshot()
    with lock:
        assert numbers == list(range(snap.position + 1, final.position + 1))  # none lost, none twice
        assert view["state"] == final.state  # the late view agrees with the lab on everything
    call = final.state.calls[-1]
    assert (call.caller, call.callee, call.phase, call.outcome) == (
        "1000", "1001", CallPhase.ENDED, CallOutcome.ANSWERED)
    assert call.duration is not None
    assert final.state.status is ComponentStatus.STOPPED


def test_command_answers_stay_off_the_public_stream(make_lab: MakeLab) -> None:
    lab = make_lab(start=False)
    public: list[Event] = []
    lab.subscribe(public.append)
    answers: list[ComponentEvent] = []
    resolve = lab._acks.resolve

    def spy(event: ComponentEvent) -> None:
        answers.append(event)
        resolve(event)

    lab._acks.resolve = spy  # type: ignore[method-assign]
    lab.start(timeout=15.0)
    lab.set_policy("1002", "busy")  # a user's command, acked
    with pytest.raises(LabError):
        lab.answer("1002-999")  # refused: no such leg
    lab.stop()
    assert any(Acks.is_internal(a) for a in answers), "the plan sent no command of its own?"
    assert any(a.status == "ack" and not Acks.is_internal(a) for a in answers)
    leaked = [e for e in public if isinstance(e, ComponentEvent) and "id" in e.extra]
    assert not leaked
    assert any(isinstance(e, ProblemEvent) and "refused a command" in e.message
               for e in public)


def test_async_commands_return_before_the_answer(make_lab: MakeLab) -> None:
    lab = make_lab()
    phone_pid = lab.pids()[lab.phone_of("1004")]
    with paused(phone_pid):
        future = lab.set_policy_async("1004", "busy")
        assert not future.done()  # the phone cannot answer while it is stopped
    assert future.result(WAIT) is None
    assert lab.snapshot().state.extensions["1004"].policy is not None

    mark = lab.mark()
    placed = lab.call_async("1004", "1000")
    leg = placed.result(WAIT)
    lab.wait_for(caller_leg(leg, "calling"), WAIT, after=mark)
    assert lab.hangup_async(leg).result(WAIT) is None

    # No answer in time: the dispatcher fails the future; the late ack changes nothing.
    with paused(phone_pid):
        late = lab.set_policy_async("1004", "answer", ring_time=0.2)
        assert isinstance(late.exception(WAIT), LabTimeout)
    refused = lab.answer_async("1004-999")
    assert isinstance(refused.exception(WAIT), LabError)
