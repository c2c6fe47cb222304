"""The ladder renderer (pure): columns by SIP semantics, time order, notes, call selection.

``data/tutorial_calls.jsonl`` is the event stream of one ``labpbx demo --fast`` run, reduced to
the three calls' events (first line: the voicemail address and the three Call-IDs). Calls 1 and
2 ran at the same time, so the voicemail box held two legs at once.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from labpbx.events import (
    CallStateEvent,
    Event,
    RouteDecisionEvent,
    SipMessageEvent,
    TransactionEvent,
    VoicemailEvent,
    XlogEvent,
    event_from_dict,
)
from labpbx.lab.ladder import (
    CALLEE,
    CALLER,
    PROXY,
    VOICEMAIL,
    build_rows,
    fit,
    render_ladder,
    select_call,
    short_summary,
)

DATA = Path(__file__).resolve().parent / "data" / "tutorial_calls.jsonl"
PROXY_ADDR = "127.0.0.1:5060"
PHONE_A = "127.0.0.1:40000"  # 1000 and 1001 live in one phone process: one address
VM_ADDR = "127.0.0.1:15070"


def recorded() -> tuple[dict[str, object], list[Event]]:
    lines = DATA.read_text(encoding="utf-8").splitlines()
    return json.loads(lines[0]), [event_from_dict(json.loads(line)) for line in lines[1:]]


def request(method: str, ruri: str, from_tag: str, to_tag: str = "", cseq: int = 1,
            diversion: str = "", call_id: str = "c1") -> str:
    to = f"<sip:x@127.0.0.1>{';tag=' + to_tag if to_tag else ''}"
    extra = f"Diversion: {diversion}\r\n" if diversion else ""
    return (f"{method} {ruri} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:1;branch=z9hG4bK{cseq}\r\n"
            f"From: <sip:1000@127.0.0.1>;tag={from_tag}\r\nTo: {to}\r\nCall-ID: {call_id}\r\n"
            f"CSeq: {cseq} {method}\r\nMax-Forwards: 70\r\n{extra}Content-Length: 0\r\n\r\n")


def response(status: str, method: str, from_tag: str, to_tag: str = "", cseq: int = 1,
             call_id: str = "c1") -> str:
    to = f"<sip:x@127.0.0.1>{';tag=' + to_tag if to_tag else ''}"
    return (f"SIP/2.0 {status}\r\nVia: SIP/2.0/UDP 127.0.0.1:1;branch=z9hG4bK{cseq}\r\n"
            f"From: <sip:1000@127.0.0.1>;tag={from_tag}\r\nTo: {to}\r\nCall-ID: {call_id}\r\n"
            f"CSeq: {cseq} {method}\r\nContent-Length: 0\r\n\r\n")


def sip(t: float, direction: str, peer: str, raw: str, call_id: str = "c1") -> SipMessageEvent:
    src, dst = (peer, PROXY_ADDR) if direction == "in" else (PROXY_ADDR, peer)
    return SipMessageEvent(t, "proxy", direction, src, dst, call_id, raw.split("\r\n", 1)[0]
                           .removesuffix(" SIP/2.0").removeprefix("SIP/2.0 "), raw)


def busy_call() -> list[Event]:
    """1000 calls 1001 in the same phone process; 486; to b1001; the box hangs up (BYE)."""
    return [
        sip(0.000, "in", PHONE_A, request("INVITE", "sip:1001@127.0.0.1:5060", "caller")),
        RouteDecisionEvent(0.0005, "proxy", "c1", "route", 116, "lookup",
                           "sip:1001@127.0.0.1:5060", "sip:1001@127.0.0.1:40000"),
        sip(0.001, "out", PHONE_A, request("INVITE", "sip:1001@127.0.0.1:40000", "caller")),
        sip(0.002, "in", PHONE_A, response("486 Busy Here", "INVITE", "caller", "callee")),
        TransactionEvent(0.0021, "proxy", "c1", "t1", "failure_route", 0, "winning reply 486"),
        XlogEvent(0.0022, "proxy", 1, "L_ERR", "> 486 ruri=<sip:b1001@127.0.0.1:5060>", "c1",
                  "failure_route[missed_call]", 155),
        sip(0.003, "out", VM_ADDR, request("INVITE", "sip:b1001@127.0.0.1:5060", "caller",
                                           diversion="<sip:1001@127.0.0.1>;reason=user-busy")),
        sip(0.004, "in", VM_ADDR, response("200 OK", "INVITE", "caller", "vm")),
        sip(0.005, "out", PHONE_A, response("200 OK", "INVITE", "caller", "vm")),
        CallStateEvent(0.0035, "voicemail", "b1001", "vm1", "c1", "incoming", "incoming"),
        VoicemailEvent(0.006, "voicemail", "1001", "sip:1000@127.0.0.1", "busy", "greeting"),
        VoicemailEvent(0.007, "voicemail", "1004", "sip:1003@127.0.0.1", "busy", "greeting"),
        VoicemailEvent(4.5, "voicemail", "1001", "sip:1000@127.0.0.1", "busy", "recording", "m1"),
        # the box hangs up: a request from the callee's side (From tag = the box's tag)
        sip(5.000, "in", VM_ADDR, request("BYE", "sip:1000@127.0.0.1:40000", "vm", "caller")),
        sip(5.001, "out", PHONE_A, request("BYE", "sip:1000@127.0.0.1:40000", "vm", "caller")),
        sip(5.002, "in", PHONE_A, response("200 OK", "BYE", "vm", "caller")),
        sip(5.003, "out", VM_ADDR, response("200 OK", "BYE", "vm", "caller")),
        CallStateEvent(5.004, "voicemail", "b1001", "vm1", "c1", "incoming", "disconnected",
                       reason="max-length"),
        VoicemailEvent(5.010, "voicemail", "1001", "sip:1000@127.0.0.1", "busy", "stored",
                       "m1", "voicemail/1001/m1.wav", 1.0),
    ]


class TestColumns:
    def test_columns_follow_sip_not_addresses(self) -> None:
        rows, sides = build_rows(busy_call(), "c1", voicemail_address=VM_ADDR)
        arrows = [(r.label, r.src, r.dst) for r in rows if r.is_arrow]
        assert arrows == [
            ("INVITE 1001", CALLER, PROXY),
            ("INVITE 1001", PROXY, CALLEE),  # same address as the caller, other side
            ("486 Busy Here", CALLEE, PROXY),
            ("INVITE b1001", PROXY, VOICEMAIL),
            ("200 OK", VOICEMAIL, PROXY),
            ("200 OK", PROXY, CALLER),
            ("BYE 1000", VOICEMAIL, PROXY),
            ("BYE 1000", PROXY, CALLER),
            ("200 OK", CALLER, PROXY),
            ("200 OK", PROXY, VOICEMAIL),
        ]
        assert (sides.caller_user, sides.callee_user) == ("1000", "1001")

    def test_voicemail_is_found_by_request_uri_without_its_address(self) -> None:
        rows, _ = build_rows(busy_call(), "c1")
        arrows = [(r.label, r.dst) for r in rows if r.is_arrow and r.src == PROXY]
        assert ("INVITE b1001", VOICEMAIL) in arrows and ("200 OK", VOICEMAIL) in arrows

    def test_notes_are_interleaved_in_time_order(self) -> None:
        rows, _ = build_rows(busy_call(), "c1")
        labels = [r.label for r in rows]
        assert labels.index("INVITE 1001") < labels.index(
            "route:116 lookup sip:1001@127.0.0.1:5060 -> sip:1001@127.0.0.1:40000")
        assert labels.index("486 Busy Here") < labels.index(
            "tm: failure_route winning reply 486") < labels.index(
            "xlog: > 486 ruri=<sip:b1001@127.0.0.1:5060>") < labels.index("INVITE b1001")
        notes = [r for r in rows if r.label.startswith("voicemail:")]
        assert [n.label for n in notes] == [
            "voicemail: plays the busy greeting of mailbox 1001",  # not the other call's 1004
            "voicemail: recording message m1 for mailbox 1001",
            "voicemail: call ended (max-length)",
            "voicemail: stored 1.0 s message m1 in mailbox 1001 (busy greeting) -> "
            "voicemail/1001/m1.wav"]
        assert {n.column for n in notes} == {VOICEMAIL}

    def test_equal_times_keep_stream_order(self) -> None:
        events = busy_call()
        same = [e for e in events if isinstance(e, SipMessageEvent)][:2]
        stamped = [SipMessageEvent(1.0, e.component, e.direction, e.src, e.dst, e.call_id,
                                   e.summary, e.raw) for e in same]
        rows, _ = build_rows(stamped, "c1")
        assert [(r.src, r.dst) for r in rows] == [(CALLER, PROXY), (PROXY, CALLEE)]


class TestRendering:
    def test_text_ladder(self) -> None:
        text = render_ladder(busy_call(), "c1", title="Call 2", voicemail_address=VM_ADDR,
                             width=20)
        lines = text.splitlines()
        assert lines[0] == "Call 2" and lines[1] == "Call-ID c1"
        assert lines[2].split() == ["time", "caller", "1000", "proxy", "callee", "1001",
                                    "voicemail", "2345678"]
        assert lines[3] == ("  0.000s            |----INVITE 1001--->|                   |"
                            "                   |")
        assert ("  0.003s            |                   |-------------INVITE b1001"
                "------------->|") in lines
        assert ("                    |                   |  xlog: > 486 ruri=<sip:b1001@"
                "127.0.0.1:5060>") in lines
        assert ("  5.000s            |                   |<--------------BYE 1000"
                "----------------|") in lines
        assert lines[-3].endswith("|----------------200 OK---------------->|")

    def test_without_trace_it_says_so(self) -> None:
        events = [e for e in busy_call() if not isinstance(e, SipMessageEvent)]
        assert "(no SIP trace" in render_ladder(events, "c1")

    def test_unknown_call(self) -> None:
        assert "(no events for this call)" in render_ladder(busy_call(), "other")

    @pytest.mark.parametrize(("summary", "short"), [
        ("INVITE sip:1004@127.0.0.1:5060", "INVITE 1004"),
        ("INVITE sip:b1001@127.0.0.1:5060;transport=udp", "INVITE b1001"),
        ("ACK sip:127.0.0.1:5060", "ACK 127.0.0.1:5060"),
        ("487 Request Terminated", "487 Request Terminated"),
    ])
    def test_short_summary(self, summary: str, short: str) -> None:
        assert short_summary(summary) == short

    def test_fit_cuts_at_a_word(self) -> None:
        assert fit("487 Request Terminated", 17) == "487 Request…"
        assert fit("200 OK", 17) == "200 OK"
        assert fit("INVITE-without-blanks", 10) == "INVITE-wi…"


class TestRecordedTutorial:
    def test_each_call_selects_only_its_own_voicemail_events(self) -> None:
        meta, events = recorded()
        call_ids = meta["call_ids"]
        assert isinstance(call_ids, list)
        expected = [("1004", "unavailable"), ("1001", "busy"), ("1001", "unavailable")]
        for call_id, (mailbox, greeting) in zip(call_ids, expected, strict=True):
            mine = select_call(events, call_id)
            voicemail = [e for e in mine if isinstance(e, VoicemailEvent)]
            assert [e.status for e in voicemail] == ["greeting", "recording", "stored"]
            assert {(e.mailbox, e.greeting) for e in voicemail} == {(mailbox, greeting)}

    def test_forwarded_call_ladder(self) -> None:
        meta, events = recorded()
        call_id = meta["call_ids"][0]  # type: ignore[index]
        text = render_ladder(select_call(events, call_id), call_id,
                             voicemail_address=str(meta["voicemail_address"]))
        assert "caller 1000" in text and "callee 1004" in text
        assert "xlog: forwarded to: sip:2345678@127.0.0.1" in text
        assert "INVITE 2345678" in text and "voicemail: stored" in text
        # 1004 never sees a message: nothing is drawn into its column.
        rows, _ = build_rows(select_call(events, call_id), call_id,
                             voicemail_address=str(meta["voicemail_address"]))
        assert not [r for r in rows if r.is_arrow and CALLEE in (r.src, r.dst)]

    def test_no_answer_ladder_shows_the_timeout_then_the_voicemail_leg(self) -> None:
        meta, events = recorded()
        call_id = meta["call_ids"][2]  # type: ignore[index]
        rows, _ = build_rows(select_call(events, call_id), call_id,
                             voicemail_address=str(meta["voicemail_address"]))
        labels = [r.label for r in rows]
        timeout = next(i for i, label in enumerate(labels) if label.startswith("tm: timeout"))
        cancel = labels.index("CANCEL 1001")
        invite_vm = labels.index("INVITE u1001")
        assert timeout < cancel and timeout < invite_vm
        assert rows[cancel].src == PROXY and rows[cancel].dst == CALLEE


def test_voicemail_events_with_a_call_id_are_linked_by_it() -> None:
    """Two calls in the same mailbox at once: the Call-ID on the VoicemailEvent tells them apart."""
    from labpbx.events import VoicemailEvent
    from labpbx.lab.ladder import select_call

    mine = VoicemailEvent(1.0, "voicemail", mailbox="1001", caller="sip:1000@127.0.0.1",
                          greeting="busy", status="stored", message_id="m1", call_id="A")
    other = VoicemailEvent(1.0, "voicemail", mailbox="1001", caller="sip:1002@127.0.0.1",
                           greeting="busy", status="stored", message_id="m2", call_id="B")
    assert select_call([mine, other], "A") == [mine]
