"""How a call ended (pure): the call history's and the demo's judgement."""

from __future__ import annotations

import json

import pytest

from labpbx.events import CallStateEvent, Event, SipMessageEvent, event_from_dict
from labpbx.lab.calls import summarize_call
from labpbx.store.records import CALL_OUTCOMES
from tests.lab.test_ladder import DATA


def leg(t: float, state: str, status: int = 0, reason: str = "") -> CallStateEvent:
    return CallStateEvent(t, "phone-1000-1001", "1000", "1000-1", "c1", "outgoing", state,
                          "sip:1001@127.0.0.1:5060", status, reason)


def proxy(t: float, direction: str, summary: str) -> SipMessageEvent:
    raw = f"{summary} SIP/2.0\r\nFrom: <sip:1000@127.0.0.1>;tag=a\r\n\r\n"
    return SipMessageEvent(t, "proxy", direction, "127.0.0.1:1", "127.0.0.1:2", "c1", summary, raw)


def test_the_recorded_tutorial_calls() -> None:
    lines = DATA.read_text(encoding="utf-8").splitlines()
    meta = json.loads(lines[0])
    events: list[Event] = [event_from_dict(json.loads(line)) for line in lines[1:]]
    summaries = [summarize_call(events, call_id) for call_id in meta["call_ids"]]
    assert [(s.caller, s.callee, s.outcome) for s in summaries if s] == [
        ("1000", "1004", "forwarded→voicemail"),
        ("1000", "1001", "busy→voicemail"),
        ("1004", "1001", "no answer→voicemail")]
    assert all(s is not None and s.ended_at > s.started_at for s in summaries)


@pytest.mark.parametrize(("events", "outcome", "detail"), [
    ([leg(0, "calling"), proxy(0.1, "in", "INVITE sip:1001@127.0.0.1:5060"),
      leg(1, "confirmed", 200), leg(3, "disconnected", 200)], "answered", ""),
    ([leg(0, "calling"), proxy(0.1, "in", "CANCEL sip:1001@127.0.0.1:5060"),
      leg(1, "disconnected", 487)], "cancelled", "the caller hung up before an answer"),
    ([leg(0, "calling"), leg(1, "disconnected", 487, "Request Terminated")], "cancelled",
     "the caller hung up before an answer"),
    ([leg(0, "calling"), proxy(0.1, "out", "404 Not Found"), leg(0.2, "disconnected", 404)],
     "failed", "404 Not Found"),
    ([leg(0, "calling"), leg(0.2, "disconnected", 503, "Service Unavailable")], "failed",
     "503 Service Unavailable"),
    ([proxy(0, "in", "INVITE sip:1001@127.0.0.1:5060"),
      proxy(0.1, "out", "INVITE sip:u1001@127.0.0.1:5060")], "no answer→voicemail",
     "1001 did not answer: voicemail box u1001"),
])
def test_outcomes(events: list[Event], outcome: str, detail: str) -> None:
    summary = summarize_call(events, "c1")
    assert summary is not None
    assert (summary.outcome, summary.detail) == (outcome, detail)
    assert summary.outcome in CALL_OUTCOMES


def test_caller_from_the_trace_when_no_phone_leg_is_known() -> None:
    summary = summarize_call([proxy(0, "in", "INVITE sip:1001@127.0.0.1:5060")], "c1")
    assert summary is not None and (summary.caller, summary.callee) == ("1000", "1001")


def test_unknown_call() -> None:
    assert summarize_call([leg(0, "calling")], "other") is None
