"""The supervisor's parts that need no child: event stream, dispatcher, acks, restart budget."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from labpbx.events import ComponentEvent, Event, ProblemEvent, XlogEvent
from labpbx.lab.acks import Acks
from labpbx.lab.children import ChildGone
from labpbx.lab.config import LabError, LabTimeout, RestartBudget, RestartPolicy
from labpbx.lab.dispatcher import Dispatcher
from labpbx.lab.stream import EventStream


def xlog(text: str) -> XlogEvent:
    return XlogEvent(time.time(), "proxy", 1, "L_ERR", text, "c", "route", 1)


class TestEventStream:
    def test_history_marks_and_waiting_sees_past_events(self) -> None:
        stream = EventStream("lab")
        stream.publish(xlog("a"))
        mark = stream.mark()
        stream.publish(xlog("b"))
        assert [e.text for e in stream.events()] == ["a", "b"]  # type: ignore[attr-defined]
        assert [e.text for e in stream.events(mark)] == ["b"]  # type: ignore[attr-defined]
        found = stream.wait_for(lambda e: getattr(e, "text", "") == "a", 0.1)
        assert found.text == "a"  # type: ignore[attr-defined]
        with pytest.raises(LabTimeout):
            stream.wait_for(lambda e: getattr(e, "text", "") == "a", 0.05, after=mark)

    def test_waiting_for_a_future_event(self) -> None:
        stream = EventStream("lab")
        timer = threading.Timer(0.05, lambda: stream.publish(xlog("late")))
        timer.start()
        try:
            assert stream.wait_for(lambda e: True, 5.0).text == "late"  # type: ignore[attr-defined]
        finally:
            timer.join()

    def test_the_history_is_bounded(self) -> None:
        stream = EventStream("lab", limit=3)
        for i in range(5):
            stream.publish(xlog(str(i)))
        assert [e.text for e in stream.events()] == ["2", "3", "4"]  # type: ignore[attr-defined]
        assert [e.text for e in stream.events(3)] == ["3", "4"]  # type: ignore[attr-defined]

    def test_a_failing_subscriber_is_reported_once_and_others_still_get_events(self) -> None:
        stream = EventStream("lab")
        seen: list[Event] = []

        def broken(event: Event) -> None:
            raise RuntimeError("boom")

        stream.subscribe(broken)
        unsubscribe = stream.subscribe(seen.append)
        stream.publish(xlog("x"))
        problems = [e for e in stream.events() if isinstance(e, ProblemEvent)]
        assert len(problems) == 1 and "boom" in problems[0].message
        # the report is published while the event is being handed out; every subscriber still
        # gets the events in stream order
        assert [type(e) for e in seen] == [XlogEvent, ProblemEvent]
        unsubscribe()
        stream.publish(xlog("y"))
        assert len(seen) == 2

    def test_waiting_on_the_publishing_thread_is_refused(self) -> None:
        stream = EventStream("lab")
        with pytest.raises(LabError, match="inside an event callback"):
            stream.wait_for(lambda e: True, 1.0, forbidden=threading.get_ident())


class TestDispatcher:
    def test_items_and_timers_run_in_order_on_one_thread(self) -> None:
        done = threading.Event()
        log: list[tuple[str, int | None]] = []
        dispatcher: Dispatcher

        def timer() -> None:
            log.append(("timer", threading.get_ident()))
            done.set()

        def handle(item: Any) -> None:
            log.append((item, threading.get_ident()))
            if item == "b":
                dispatcher.schedule(0.01, timer)

        dispatcher = Dispatcher("test-dispatcher", handle, lambda exc: None)
        dispatcher.start()
        for item in ("a", "b", "c"):
            dispatcher.put(item)
        assert done.wait(5.0)
        dispatcher.stop()
        assert [name for name, _ in log] == ["a", "b", "c", "timer"]
        assert {ident for _, ident in log} == {dispatcher.ident}

    def test_an_error_is_reported_and_the_thread_goes_on(self) -> None:
        errors: list[Exception] = []
        handled: list[Any] = []

        def handle(item: Any) -> None:
            if item == "bad":
                raise ValueError("bad item")
            handled.append(item)

        dispatcher = Dispatcher("test-dispatcher", handle, errors.append)
        dispatcher.start()
        dispatcher.put("bad")
        dispatcher.put("good")
        dispatcher.stop()  # handles what is queued first
        assert handled == ["good"] and str(errors[0]) == "bad item"

    def test_external_deadline_ticks(self) -> None:
        ticked = threading.Event()
        deadline = [time.monotonic() + 0.02]

        def tick(now: float) -> None:
            deadline[0] = now + 3600
            ticked.set()

        dispatcher = Dispatcher("test-dispatcher", lambda item: None, lambda exc: None,
                                next_deadline=lambda: deadline[0], tick=tick)
        dispatcher.start()
        try:
            assert ticked.wait(5.0)
        finally:
            dispatcher.stop()


class FakeChild:
    def __init__(self, acks: Acks, answer: str | None) -> None:
        self.name = "phone-1000"
        self.acks = acks
        self.answer = answer

    def send(self, payload: dict[str, Any]) -> None:
        if self.answer == "gone":
            raise ChildGone(self.name)
        if self.answer is not None:  # answer at once, as the reader thread would
            self.acks.resolve(ComponentEvent(time.time(), self.name, self.answer, "why not",
                                             extra={"id": payload["id"], "leg": "1000-1"}))


class TestAcks:
    def test_ack(self) -> None:
        acks = Acks()
        ack = acks.request(FakeChild(acks, "ack"), {"cmd": "call"}, 1.0)  # type: ignore[arg-type]
        assert ack.extra["leg"] == "1000-1"

    @pytest.mark.parametrize(("answer", "words"), [
        ("error", "phone-1000: why not"), ("gone", "not running"), (None, "did not answer")])
    def test_failures(self, answer: str | None, words: str) -> None:
        acks = Acks()
        with pytest.raises(LabError, match=words) as failure:
            acks.request(FakeChild(acks, answer), {"cmd": "call"}, 0.05)  # type: ignore[arg-type]
        assert failure.value.component == "phone-1000"

    def test_a_child_that_exits_releases_its_commands(self) -> None:
        acks = Acks()
        timer = threading.Timer(0.05, lambda: acks.child_gone("phone-1000"))
        timer.start()
        try:
            with pytest.raises(LabError, match="exited before answering 'call'"):
                acks.request(FakeChild(acks, None), {"cmd": "call"}, 5.0)  # type: ignore[arg-type]
        finally:
            timer.join()

    def test_submit_returns_before_the_answer_and_the_answer_settles_it(self) -> None:
        acks = Acks()
        child = FakeChild(acks, None)  # answers nothing by itself
        sent: list[dict[str, Any]] = []
        child.send = sent.append  # type: ignore[method-assign]
        future = acks.submit(child, {"cmd": "call"}, 5.0)  # type: ignore[arg-type]
        assert not future.done() and sent[0]["id"].startswith("lab-")
        answer = ComponentEvent(0.0, "phone-1000", "ack", extra={"id": sent[0]["id"]})
        assert Acks.is_answer(answer)
        acks.resolve(answer)
        assert future.result(0) is answer
        assert acks.next_deadline() is None

    def test_a_submitted_command_times_out_at_its_deadline(self) -> None:
        acks = Acks()
        child = FakeChild(acks, None)
        child.send = lambda payload: None  # type: ignore[method-assign]
        future = acks.submit(child, {"cmd": "policy"}, 5.0)  # type: ignore[arg-type]
        deadline = acks.next_deadline()
        assert deadline is not None
        acks.expire(deadline - 1.0)
        assert not future.done()
        acks.expire(deadline)
        with pytest.raises(LabTimeout, match="did not answer 'policy' within 5 s"):
            future.result(0)
        acks.resolve(ComponentEvent(0.0, "phone-1000", "ack", extra={"id": "lab-1"}))  # late

    def test_internal_ids(self) -> None:
        acks = Acks()
        event = ComponentEvent(0.0, "p", "ack", extra={"id": acks.internal_id()})
        assert Acks.is_internal(event)
        assert not Acks.is_internal(ComponentEvent(0.0, "p", "ack", extra={"id": "lab-1"}))


def test_restart_budget() -> None:
    budget = RestartBudget(RestartPolicy(max_restarts=2, window=60.0))
    assert budget.take("proxy", 0.0) == 1
    assert budget.take("proxy", 1.0) == 2
    assert budget.take("proxy", 2.0) is None
    assert budget.take("voicemail", 2.0) == 1  # per component
    assert budget.take("proxy", 60.5) == 2  # the first restart left the window


def test_exits_are_described_with_their_signal() -> None:
    from labpbx.lab.children import describe_exit, exit_signal

    assert describe_exit(0) == "exit code 0" and exit_signal(0) == ""
    assert describe_exit(2) == "exit code 2" and exit_signal(2) == ""
    assert describe_exit(-11) == "killed by signal SIGSEGV (11)" and exit_signal(-11) == "SIGSEGV"
    assert describe_exit(-9) == "killed by signal SIGKILL (9)"
    assert describe_exit(None) == "still running" and exit_signal(None) == ""
    assert describe_exit(-200) == "killed by signal an unknown signal (200)"


def test_lab_ports_are_free_and_outside_the_kernels_ephemeral_range() -> None:
    """Another program's bind(0) cannot take a port the lab picked before its child binds it."""
    import socket

    from labpbx.lab.supervisor import LAB_PORTS, _ephemeral_range, free_udp_port

    low, high = _ephemeral_range()
    picked = set()
    for _ in range(20):
        port = free_udp_port(picked)
        assert port not in picked
        assert LAB_PORTS[0] <= port <= LAB_PORTS[1] and not low <= port <= high
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind(("127.0.0.1", port))  # free: a child can bind it
        picked.add(port)
