"""How a call ended (pure): the call history's and the demo's judgement."""

from __future__ import annotations

import json

import pytest

from labpbx.events import CallStateEvent, Event, SipMessageEvent, event_from_dict
from labpbx.lab.calls import call_is_over, summarize_call
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


def sip(t: float, direction: str, summary: str, cseq: str) -> SipMessageEvent:
    """A proxy trace line of a call a softphone placed (no lab phone leg on the caller's side)."""
    start = summary if summary[:1].isalpha() else f"SIP/2.0 {summary}"
    raw = f"{start}\r\nFrom: <sip:1005@127.0.0.1>;tag=s\r\nCSeq: {cseq}\r\n\r\n"
    return SipMessageEvent(t, "proxy", direction, "127.0.0.1:1", "127.0.0.1:2", "c1", summary, raw)


def callee_leg(t: float, state: str) -> CallStateEvent:
    return CallStateEvent(t, "phone-1000-1001", "1001", "1001-1", "c1", "incoming", state,
                          "sip:1005@127.0.0.1", 200 if state == "confirmed" else 0, "")


SOFTPHONE_ANSWERED: list[Event] = [
    sip(0, "in", "INVITE sip:1001@127.0.0.1:5060", "1 INVITE"),
    sip(0.5, "out", "200 OK", "1 INVITE"), callee_leg(0.5, "confirmed"),
    sip(2, "in", "BYE sip:1001@127.0.0.1:40000", "2 BYE")]


def test_softphone_call_answered_by_a_lab_phone() -> None:
    summary = summarize_call(SOFTPHONE_ANSWERED, "c1")
    assert summary is not None
    assert (summary.caller, summary.callee, summary.outcome) == ("1005", "1001", "answered")


def test_softphone_call_is_over_only_when_the_bye_is_answered() -> None:
    assert not call_is_over(SOFTPHONE_ANSWERED, "c1")
    assert call_is_over([*SOFTPHONE_ANSWERED, sip(2.1, "out", "200 OK", "2 BYE")], "c1")


def test_softphone_call_answered_by_another_softphone() -> None:
    """No lab phone at either end: the 2xx the proxy relayed for the first INVITE tells."""
    events = [sip(0, "in", "INVITE sip:1006@127.0.0.1:5060", "7 INVITE"),
              sip(0.5, "out", "200 OK", "7 INVITE")]
    summary = summarize_call(events, "c1")
    assert summary is not None and summary.outcome == "answered"


def test_softphone_call_refused_is_over_at_the_final_failure() -> None:
    events = [sip(0, "in", "INVITE sip:1003@127.0.0.1:5060", "1 INVITE")]
    assert not call_is_over(events, "c1")
    events.append(sip(0.1, "out", "404 Not Found", "1 INVITE"))
    assert call_is_over(events, "c1")
    summary = summarize_call(events, "c1")
    assert summary is not None and (summary.outcome, summary.detail) == ("failed", "404 Not Found")


def test_refused_reinvite_does_not_end_the_call() -> None:
    events = [*SOFTPHONE_ANSWERED[:3], sip(1, "out", "488 Not Acceptable Here", "2 INVITE")]
    assert not call_is_over(events, "c1")


def test_a_lab_callers_leg_decides_when_its_call_is_over() -> None:
    events: list[Event] = [leg(0, "calling"), proxy(0.1, "out", "486 Busy Here")]
    assert not call_is_over(events, "c1")
    assert call_is_over([*events, leg(0.2, "disconnected", 486)], "c1")


def box_leg(t: float, ext: str) -> CallStateEvent:
    return CallStateEvent(t, "voicemail", ext, "vm-1", "c1", "incoming", "confirmed",
                          "sip:1000@127.0.0.1", 200, "")


@pytest.mark.parametrize(("box_user", "outcome"), [
    ("b1001", "busy→voicemail"), ("u1001", "no answer→voicemail"),
    ("2345678", "forwarded→voicemail")])
def test_without_a_proxy_trace_the_box_leg_tells_voicemail(box_user: str, outcome: str) -> None:
    """An external proxy (a real Kamailio) sends no trace: the box's leg names the greeting."""
    events: list[Event] = [leg(0, "calling"), leg(1, "confirmed", 200), box_leg(1, box_user),
                           leg(5, "disconnected", 200)]
    summary = summarize_call(events, "c1")
    assert summary is not None and summary.outcome == outcome
