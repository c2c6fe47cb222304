"""The lab state reducer (pure): hand-made events, and the recorded tutorial stream."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable

import pytest

from labpbx.events import (
    CallStateEvent,
    ComponentEvent,
    Event,
    ForwardingEvent,
    GapEvent,
    MwiEvent,
    PolicyEvent,
    RegistrationEvent,
    SipMessageEvent,
    VoicemailEvent,
    event_from_dict,
)
from labpbx.lab import state as lab_state
from labpbx.lab.calls import CallOutcome
from labpbx.lab.state import (
    Activity,
    CallPhase,
    ComponentStatus,
    LabState,
    LegState,
    initial_state,
    reduce,
)
from labpbx.phones.policy import Policy
from tests.lab.test_ladder import DATA

EXTS = ["1000", "1001", "1002", "1003", "1004"]
PHONE = "phone-1000-1001"


def fold(events: Iterable[Event], state: LabState | None = None, first: int = 1) -> LabState:
    state = state if state is not None else initial_state(EXTS)
    for seq, event in enumerate(events, first):
        state = reduce(state, seq, event)
    return state


def leg(t: float, ext: str, leg_id: str, direction: str, state: str, remote: str,
        call_id: str = "c1", component: str = PHONE, status: int = 0) -> CallStateEvent:
    return CallStateEvent(t, component, ext, leg_id, call_id, direction, state,
                          remote, status)


class TestExtensions:
    def test_registration_policy_and_forwarding(self) -> None:
        state = fold([
            RegistrationEvent(1.0, PHONE, "1001", True, 200, "OK", 300),
            PolicyEvent(1.1, PHONE, "1001", "answer", 3.0),
            ForwardingEvent(1.2, "lab", "1004", "sip:2345678@127.0.0.1"),
        ])
        ext = state.extensions["1001"]
        assert (ext.registered, ext.registration, ext.phone) == (True, "200 OK, 300 s", PHONE)
        assert (ext.policy, ext.ring_time) == (Policy.ANSWER, 3.0)
        assert ext.seq == 2 and state.position == 3
        forwarding = state.extensions["1004"].forwarding
        assert forwarding.unconditional == "sip:2345678@127.0.0.1"
        assert (forwarding.busy, forwarding.no_answer) == ("voicemail", "voicemail")
        cleared = fold([ForwardingEvent(2.0, "lab", "1004", "")], state, 4)
        assert cleared.extensions["1004"].forwarding.unconditional == ""

    def test_an_unknown_policy_word_changes_nothing(self) -> None:
        before = initial_state(EXTS)
        assert reduce(before, 1, PolicyEvent(1.0, PHONE, "1001", "juggle")) is before

    def test_contact_from_the_proxy_trace_of_register(self) -> None:
        raw = ("REGISTER sip:127.0.0.1 SIP/2.0\r\nTo: <sip:1001@127.0.0.1>\r\n"
               "From: <sip:1001@127.0.0.1>;tag=x\r\nContact: <sip:1001@127.0.0.1:40000;ob>\r\n"
               "Call-ID: r1\r\nCSeq: 1 REGISTER\r\n\r\n")
        state = fold([SipMessageEvent(1.0, "proxy", "in", "127.0.0.1:40000", "127.0.0.1:5060",
                                      "r1", "REGISTER sip:127.0.0.1", raw),
                      RegistrationEvent(1.1, PHONE, "1001", True, 200, "OK", 300)])
        assert state.extensions["1001"].contact == "sip:1001@127.0.0.1:40000;ob"
        assert state.calls == ()  # a REGISTER is no call
        gone = fold([RegistrationEvent(2.0, PHONE, "1001", False, 200, "OK")], state, 3)
        assert gone.extensions["1001"].contact == ""

    def test_ringing_with_the_caller_then_in_call_with_a_start_time(self) -> None:
        ringing = fold([
            leg(1.0, "1000", "1000-1", "outgoing", "calling", "sip:1001@127.0.0.1:5060"),
            leg(1.1, "1001", "1001-2", "incoming", "incoming", "sip:1000@127.0.0.1"),
            leg(1.2, "1001", "1001-2", "incoming", "early", "sip:1000@127.0.0.1"),
        ])
        callee = ringing.extensions["1001"]
        assert callee.activity is Activity.RINGING
        assert callee.current_leg is not None and callee.current_leg.peer == "1000"
        assert ringing.extensions["1000"].activity is Activity.CALLING
        talking = fold([
            leg(3.0, "1001", "1001-2", "incoming", "confirmed", "sip:1000@127.0.0.1"),
            leg(3.1, "1000", "1000-1", "outgoing", "confirmed", "sip:1001@127.0.0.1:5060"),
        ], ringing, 4)
        caller = talking.extensions["1000"]
        assert caller.activity is Activity.IN_CALL
        assert caller.current_leg is not None
        assert (caller.current_leg.peer, caller.current_leg.answered_at) == ("1001", 3.1)
        assert caller.current_leg.state is LegState.CONFIRMED
        call = talking.call("c1")
        assert call is not None and (call.phase, call.answered_at) == (CallPhase.CONNECTED, 3.0)
        assert call.outcome is None and call.duration is None
        ended = fold([
            leg(9.0, "1001", "1001-2", "incoming", "disconnected", "sip:1000@127.0.0.1"),
            leg(9.1, "1000", "1000-1", "outgoing", "disconnected", "sip:1001@127.0.0.1:5060",
                status=200),
        ], talking, 6)
        assert all(x.activity is Activity.IDLE for x in ended.extensions.values())
        call = ended.call("c1")
        assert call is not None
        assert (call.caller, call.callee, call.outcome) == ("1000", "1001", CallOutcome.ANSWERED)
        assert call.phase is CallPhase.ENDED and call.duration == pytest.approx(6.1)
        assert [seq for seq, _e in call.events] == [1, 2, 3, 4, 5, 6, 7]

    def test_a_dead_phone_process_holds_no_calls(self) -> None:
        state = fold([
            leg(1.0, "1001", "1001-2", "incoming", "incoming", "sip:1000@127.0.0.1"),
            ComponentEvent(2.0, PHONE, "exited", "killed by SIGSEGV",
                           extra={"pid": 42, "code": -11, "signal": "SIGSEGV",
                                  "stderr": "Fatal Python error"}),
        ])
        assert state.extensions["1001"].activity is Activity.IDLE
        phone = state.components[PHONE]
        assert (phone.status, phone.crashed, phone.exit_signal) == (ComponentStatus.EXITED,
                                                                    True, "SIGSEGV")
        assert phone.stderr == "Fatal Python error" and phone.pid == 42


class TestComponents:
    def test_life_cycle_and_plumbing_statuses(self) -> None:
        state = fold([
            ComponentEvent(1.0, "lab", "starting", extra={"extensions": ["1000", "2000"]}),
            ComponentEvent(1.1, "proxy", "starting", extra={"pid": 7}),
            ComponentEvent(1.2, "proxy", "ready", address="127.0.0.1:5060"),
            ComponentEvent(1.3, "proxy", "ack", "reload", extra={"id": "lab-1"}),
            ComponentEvent(1.4, "lab", "ready"),
        ])
        proxy = state.components["proxy"]
        assert (proxy.status, proxy.address, proxy.pid, proxy.seq) == (
            ComponentStatus.READY, "127.0.0.1:5060", 7, 3)
        assert state.status is ComponentStatus.READY
        assert "2000" in state.extensions  # the lab's own list of extensions
        stopped = fold([ComponentEvent(2.0, "proxy", "exited", "exit status 0",
                                       extra={"code": 0, "signal": None})], state, 6)
        assert stopped.components["proxy"].status is ComponentStatus.EXITED
        assert not stopped.components["proxy"].crashed


class TestVoicemail:
    def test_stored_messages_and_mwi_counts(self) -> None:
        state = fold([
            VoicemailEvent(1.0, "voicemail", "1001", "sip:1000@127.0.0.1", "busy", "recording",
                           "m1"),
            VoicemailEvent(2.0, "voicemail", "1001", "sip:1000@127.0.0.1", "busy", "stored",
                           "m1", "voicemail/1001/m1.wav", 1.5, "user-busy"),
        ])
        box = state.mailboxes["1001"]
        assert [(m.message_id, m.caller, m.duration) for m in box.messages] == [("m1", "1000",
                                                                                 1.5)]
        assert (box.new_messages, box.recording) == (1, False)
        assert state.extensions["1001"].new_messages == 1
        # the box's own count is the truth (a message listened to elsewhere, say)
        state = fold([MwiEvent(3.0, "voicemail", "1001", 0, 1)], state, 3)
        assert (state.extensions["1001"].new_messages,
                state.extensions["1001"].old_messages) == (0, 1)


class TestPurity:
    def test_unknown_events_and_gaps_leave_the_state_alone(self) -> None:
        before = fold([RegistrationEvent(1.0, PHONE, "1001", True, 200, "OK", 300)])
        assert reduce(before, 2, GapEvent(2.0, "lab", 5, 1, 5)) is before
        assert reduce(before, 2, Event(2.0, "x")) is before

    def test_the_old_state_is_never_changed(self) -> None:
        _meta, events = recorded()
        middle = fold(events[:60])
        frozen = copy.deepcopy(middle)
        fold(events[60:], middle, 61)
        assert middle == frozen
        assert middle.calls == frozen.calls and middle.mailboxes == frozen.mailboxes

    def test_calls_are_bounded(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(lab_state, "CALL_LIMIT", 3)
        events: list[Event] = []
        for n in range(5):
            events += [leg(n, "1000", f"1000-{n}", "outgoing", "calling",
                           "sip:1001@127.0.0.1", f"c{n}"),
                       leg(n + 0.5, "1000", f"1000-{n}", "outgoing", "disconnected",
                           "sip:1001@127.0.0.1", f"c{n}", status=486)]
        assert [c.call_id for c in fold(events).calls] == ["c2", "c3", "c4"]


def recorded() -> tuple[dict[str, object], list[Event]]:
    lines = DATA.read_text(encoding="utf-8").splitlines()
    return json.loads(lines[0]), [event_from_dict(json.loads(line)) for line in lines[1:]]


def test_the_recorded_tutorial_ends_as_the_tutorial_says() -> None:
    """Call 1: 1004 forwards everything (callfwd) → the box, mailbox 1004. Call 2: 1001 busy →
    b1001. Call 3: 1001 does not answer → u1001. Three messages, every call over."""
    meta, events = recorded()
    state = fold(events)
    assert state.position == len(events)
    assert [(c.call_id, c.caller, c.callee, c.outcome) for c in state.calls] == [
        (meta["call_ids"][0], "1000", "1004", CallOutcome.FORWARDED_VOICEMAIL),  # type: ignore[index]
        (meta["call_ids"][1], "1000", "1001", CallOutcome.BUSY_VOICEMAIL),  # type: ignore[index]
        (meta["call_ids"][2], "1004", "1001", CallOutcome.NO_ANSWER_VOICEMAIL),  # type: ignore[index]
    ]
    assert all(c.phase is CallPhase.ENDED and c.ended_at is not None and c.duration
               for c in state.calls)
    assert {box: [(m.caller, m.greeting) for m in mb.messages]
            for box, mb in state.mailboxes.items()} == {
        "1001": [("1000", "busy"), ("1004", "unavailable")],
        "1004": [("1000", "unavailable")]}
    assert {ext: x.new_messages for ext, x in state.extensions.items()} == {
        "1000": 0, "1001": 2, "1002": 0, "1003": 0, "1004": 1}
    assert all(x.activity is Activity.IDLE and not x.legs for x in state.extensions.values())
    assert not any(mb.recording for mb in state.mailboxes.values())
