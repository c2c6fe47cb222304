"""The structured ladder (labpbx.lab.ladder.build_ladder, labpbx.lab.ladder_facts) and the
received-vs-forwarded diff (labpbx.lab.message_diff): pure, fake events, no Qt.

The calls are built message by message as the proxy's trace shows them, with the stream
numbers a LabBridge hands the window, so "the row of event 7" is checked on real numbers.
"""

from __future__ import annotations

import dataclasses

from labpbx.events import (
    CallStateEvent,
    Event,
    RouteDecisionEvent,
    SipMessageEvent,
    TransactionEvent,
    XlogEvent,
)
from labpbx.lab.ladder import (
    CALLEE,
    CALLER,
    NOTE_CANCEL,
    NOTE_DECISION,
    NOTE_TIMER,
    NOTE_XLOG,
    PROXY,
    VOICEMAIL,
    build_ladder,
    render_ladder,
    select_call,
)
from labpbx.lab.message_diff import ADDED, REMOVED, SAME, changes, diff_messages
from tests.lab.test_ladder import VM_ADDR, busy_call, recorded, response

CALLER_ADDR = "127.0.0.1:40000"
CALLEE_ADDR = "127.0.0.1:40002"
PROXY_VIA = "SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKproxy"
SDP = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n"


def invite(ruri: str, *, via: str = "", max_forwards: int = 70, rr: str = "",
           route: str = "", body: str = SDP) -> str:
    head = (f"INVITE {ruri} SIP/2.0\r\n"
            + (f"Via: {via}\r\n" if via else "")
            + "Via: SIP/2.0/UDP 127.0.0.1:40000;rport;branch=z9hG4bKcaller\r\n"
            + (f"Record-Route: {rr}\r\n" if rr else "")
            + (f"Route: {route}\r\n" if route else "")
            + f"Max-Forwards: {max_forwards}\r\nFrom: <sip:1000@127.0.0.1>;tag=caller\r\n"
            "To: <sip:1001@127.0.0.1>\r\nCall-ID: c2\r\nCSeq: 10 INVITE\r\n")
    if body:
        head += "Content-Type: application/sdp\r\n"
    return head + f"Content-Length: {len(body)}\r\n\r\n{body}"


def reply(status: str, *, proxy_via: bool, to_tag: str = "callee", method: str = "INVITE",
          cseq: int = 10) -> str:
    vias = (f"Via: {PROXY_VIA}.{0 if to_tag == 'callee' else 1}\r\n" if proxy_via else "")
    return (f"SIP/2.0 {status}\r\n{vias}"
            "Via: SIP/2.0/UDP 127.0.0.1:40000;rport;branch=z9hG4bKcaller\r\n"
            f"From: <sip:1000@127.0.0.1>;tag=caller\r\nTo: <sip:1001@127.0.0.1>;tag={to_tag}\r\n"
            f"Call-ID: c2\r\nCSeq: {cseq} {method}\r\nContent-Length: 0\r\n\r\n")


def cancel(ruri: str) -> str:
    return (f"CANCEL {ruri} SIP/2.0\r\nVia: {PROXY_VIA}.0\r\nMax-Forwards: 70\r\n"
            "From: <sip:1000@127.0.0.1>;tag=caller\r\nTo: <sip:1001@127.0.0.1>\r\n"
            "Call-ID: c2\r\nCSeq: 10 CANCEL\r\nContent-Length: 0\r\n\r\n")


def msg(t: float, direction: str, peer: str, raw: str) -> SipMessageEvent:
    src, dst = (peer, "127.0.0.1:5060") if direction == "in" else ("127.0.0.1:5060", peer)
    start = raw.split("\r\n", 1)[0]
    summary = start.removeprefix("SIP/2.0 ").removesuffix(" SIP/2.0")
    return SipMessageEvent(t, "proxy", direction, src, dst, "c2", summary, raw)


def no_answer_call() -> list[tuple[int, Event]]:
    """1000 calls 1001, which rings; fr_inv_timeout (2 s after the 180) fires; the proxy
    CANCELs branch 0 and failure_route sends branch 1 to u1001 at the box. Stream numbers
    start at 100 and skip, as in a lab where other events come in between."""
    fwd = dict(via=f"{PROXY_VIA}.0", max_forwards=69, rr="<sip:127.0.0.1:5060;lr>")
    events: list[Event] = [
        CallStateEvent(0.0, "phone-1000-1001", "1000", "1000-1", "c2", "outgoing", "calling"),
        msg(0.000, "in", CALLER_ADDR, invite("sip:1001@127.0.0.1:5060",
                                             route="<sip:127.0.0.1:5060;lr>")),
        RouteDecisionEvent(0.001, "proxy", "c2", "route", 116, "lookup",
                           "sip:1001@127.0.0.1:5060", "sip:1001@127.0.0.1:40002"),
        TransactionEvent(0.001, "proxy", "c2", "T1", "created", -1, "INVITE sip:1001@…"),
        TransactionEvent(0.001, "proxy", "c2", "T1", "branch", 0,
                         "INVITE sip:1001@127.0.0.1:40002 → 127.0.0.1:40002"),
        msg(0.001, "out", CALLER_ADDR, reply("100 Trying", proxy_via=False, to_tag="")),
        msg(0.002, "out", CALLEE_ADDR, invite("sip:1001@127.0.0.1:40002", **fwd)),  # type: ignore[arg-type]
        msg(0.003, "in", CALLEE_ADDR, reply("180 Ringing", proxy_via=True)),
        msg(0.004, "out", CALLER_ADDR, reply("180 Ringing", proxy_via=False)),
        msg(0.500, "out", CALLEE_ADDR, invite("sip:1001@127.0.0.1:40002", **fwd)),  # type: ignore[arg-type]
        TransactionEvent(2.003, "proxy", "c2", "T1", "cancel sent", 0,
                         'SIP;cause=480;text="NO_ANSWER"'),
        TransactionEvent(2.003, "proxy", "c2", "T1", "timeout", 0,
                         "fr_inv_timeout expired: local 408"),
        TransactionEvent(2.003, "proxy", "c2", "T1", "failure_route", 0,
                         "missed_call: winning reply 408 (local)"),
        RouteDecisionEvent(2.004, "proxy", "c2", "failure_route[missed_call]", 163, "prefix",
                           "sip:1001@127.0.0.1:5060", "sip:u1001@127.0.0.1:5060"),
        XlogEvent(2.004, "proxy", 1, "L_ERR", "> 480 ruri=<sip:u1001@127.0.0.1:5060>", "c2",
                  "failure_route[missed_call]", 165),
        TransactionEvent(2.004, "proxy", "c2", "T1", "branch", 1,
                         f"INVITE sip:u1001@127.0.0.1:5060 → {VM_ADDR}"),
        msg(2.005, "out", CALLEE_ADDR, cancel("sip:1001@127.0.0.1:40002")),
        msg(2.005, "out", VM_ADDR, invite("sip:u1001@127.0.0.1:5060", via=f"{PROXY_VIA}.1",
                                          max_forwards=69, rr="<sip:127.0.0.1:5060;lr>")),
        msg(2.006, "in", CALLEE_ADDR, reply("487 Request Terminated", proxy_via=True)),
        msg(2.007, "in", VM_ADDR, reply("180 Ringing", proxy_via=True, to_tag="vm")),
        msg(2.008, "out", CALLER_ADDR, reply("180 Ringing", proxy_via=False, to_tag="vm")),
    ]
    return [(100 + 3 * i, e) for i, e in enumerate(events)]


def arrows(rows: tuple[object, ...]) -> list[tuple[str, int, int]]:
    return [(r.shown_label, r.src, r.dst) for r in rows if r.is_arrow]  # type: ignore[attr-defined]


class TestLadderRows:
    def test_lanes_are_roles_with_numbers(self) -> None:
        ladder = build_ladder(no_answer_call(), "c2", voicemail_address=VM_ADDR)
        assert ladder.lanes == ("caller 1000", "proxy", "callee 1001", "voicemail 2345678")

    def test_arrows_carry_sdp_and_retransmission_marks(self) -> None:
        ladder = build_ladder(no_answer_call(), "c2", voicemail_address=VM_ADDR)
        assert arrows(ladder.rows) == [
            ("INVITE 1001 (SDP)", CALLER, PROXY),
            ("100 Trying", PROXY, CALLER),
            ("INVITE 1001 (SDP)", PROXY, CALLEE),
            ("180 Ringing", CALLEE, PROXY),
            ("180 Ringing", PROXY, CALLER),
            ("INVITE 1001 (SDP) (retrans)", PROXY, CALLEE),
            ("CANCEL 1001", PROXY, CALLEE),
            ("INVITE u1001 (SDP)", PROXY, VOICEMAIL),
            ("487 Request Terminated", CALLEE, PROXY),
            ("180 Ringing", VOICEMAIL, PROXY),
            # the box's 180 is not a retransmission of 1001's: another To tag
            ("180 Ringing", PROXY, CALLER),
        ]
        failed = [r.label for r in ladder.rows if r.is_arrow and r.failed]
        assert failed == ["487 Request Terminated"]

    def test_each_row_points_at_the_event_that_made_it(self) -> None:
        entries = no_answer_call()
        ladder = build_ladder(entries, "c2", voicemail_address=VM_ADDR)
        by_seq = dict(entries)
        for row in ladder.rows:
            assert by_seq[row.seq] is row.event
        xlog_seq = next(s for s, e in entries if isinstance(e, XlogEvent))
        assert ladder.rows[ladder.index_of(xlog_seq)].note == NOTE_XLOG
        # An event that made no row (the phone's call state, "created"): the row before it.
        created = next(s for s, e in entries if isinstance(e, TransactionEvent)
                       and e.state == "created")
        assert ladder.rows[ladder.index_of(created)].label == "route:116 lookup " \
            "sip:1001@127.0.0.1:5060 -> sip:1001@127.0.0.1:40002"
        assert ladder.index_of(100) == -1  # the phone's "calling" came before any row
        assert ladder.index_of(99_999) == len(ladder.rows) - 1

    def test_timer_note_says_which_timer_how_long_and_comes_before_its_cancel(self) -> None:
        ladder = build_ladder(no_answer_call(), "c2", voicemail_address=VM_ADDR)
        notes = [r for r in ladder.rows if r.note]
        kinds = [r.note for r in notes]
        timer = notes[kinds.index(NOTE_TIMER)]
        # armed again by the 180 at 0.003 s: it ran 2.0 s, not 2.003 s from the INVITE
        assert timer.duration is not None and abs(timer.duration - 2.0) < 1e-6
        assert timer.text == "fr_inv_timeout 2.0 s fired on branch 0: local 408"
        assert timer.failed and timer.branch == 0
        assert kinds.index(NOTE_TIMER) < kinds.index(NOTE_CANCEL)
        cancel_note = notes[kinds.index(NOTE_CANCEL)]
        assert cancel_note.text == 'CANCEL sent on branch 0 (SIP;cause=480;text="NO_ANSWER")'
        decision = next(r for r in notes if r.note == NOTE_DECISION and r.action == "prefix")
        assert (decision.where, decision.before, decision.after) == (
            "failure_route[missed_call]:163", "sip:1001@127.0.0.1:5060", "sip:u1001@127.0.0.1:5060")
        xlog = next(r for r in notes if r.note == NOTE_XLOG)
        assert xlog.where == "failure_route[missed_call]:165"

    def test_timer_without_a_provisional_counts_from_the_branch(self) -> None:
        entries = [(s, e) for s, e in no_answer_call()
                   if not (isinstance(e, SipMessageEvent) and e.summary.startswith("180"))]
        ladder = build_ladder(entries, "c2")
        timer = next(r for r in ladder.rows if r.note == NOTE_TIMER)
        assert timer.duration is not None and abs(timer.duration - 2.002) < 1e-6

    def test_a_timer_the_proxy_states_is_shown_as_stated(self) -> None:
        entries = [(s, dataclasses.replace(e, detail="fr_inv_timeout expired after 3 s: local 408")
                    if isinstance(e, TransactionEvent) and e.state == "timeout" else e)
                   for s, e in no_answer_call()]
        ladder = build_ladder(entries, "c2")
        timer = next(r for r in ladder.rows if r.note == NOTE_TIMER)
        assert timer.duration == 3.0  # the configured value, not the 2 s measured
        assert timer.text == "fr_inv_timeout 3.0 s fired on branch 0: local 408"

    def test_forwarded_requests_are_paired_with_what_the_proxy_received(self) -> None:
        entries = no_answer_call()
        ladder = build_ladder(entries, "c2", voicemail_address=VM_ADDR)
        rows = {r.shown_label + f"@{r.dst}": r for r in ladder.rows if r.is_arrow}
        received = rows[f"INVITE 1001 (SDP)@{PROXY}"]
        first = rows[f"INVITE 1001 (SDP)@{CALLEE}"]
        to_box = rows[f"INVITE u1001 (SDP)@{VOICEMAIL}"]
        assert first.pair == received.seq and to_box.pair == received.seq
        assert received.pair == first.seq  # the received request shows its first copy
        assert (first.branch, to_box.branch) == (0, 1)
        assert rows[f"CANCEL 1001@{CALLEE}"].pair == -1  # the proxy's own CANCEL
        assert rows[f"100 Trying@{CALLER}"].pair == -1  # its own 100
        relayed = [r for r in ladder.rows if r.is_arrow and r.label == "180 Ringing"
                   and r.dst == CALLER]
        box_180 = next(r for r in ladder.rows if r.is_arrow and r.src == VOICEMAIL)
        assert relayed[1].pair == box_180.seq  # paired by To tag, not with 1001's 180

    def test_build_rows_and_the_text_ladder_use_the_same_marks(self) -> None:
        events = [e for _s, e in no_answer_call()]
        text = render_ladder(events, "c2", voicemail_address=VM_ADDR, width=32)
        assert "INVITE 1001 (SDP) (retrans)" in text
        assert "tm: timeout fr_inv_timeout 2.0 s fired on branch 0: local 408" in text
        assert text.index("tm: timeout") < text.index("tm: cancel sent")
        assert "voicemail 2345678" in text.splitlines()[1]

    def test_busy_call_marks_the_failed_branch(self) -> None:
        ladder = build_ladder(list(enumerate(busy_call())), "c1", voicemail_address=VM_ADDR)
        busy = next(r for r in ladder.rows if r.is_arrow and r.label == "486 Busy Here")
        assert busy.failed and (busy.src, busy.dst) == (CALLEE, PROXY)
        ok = [r for r in ladder.rows if r.is_arrow and r.label.startswith("200")]
        assert ok and not any(r.failed for r in ok)

    def test_recorded_tutorial_calls(self) -> None:
        meta, events = recorded()
        call_ids = meta["call_ids"]
        assert isinstance(call_ids, list)
        entries = list(enumerate(events, 1))
        forwarded, busy, no_answer = (
            build_ladder(entries, c, voicemail_address=str(meta["voicemail_address"]))
            for c in call_ids)
        labels = [r.shown_label for r in forwarded.rows if r.is_arrow]
        assert "INVITE 1004 (SDP)" in labels and "INVITE 2345678 (SDP)" in labels
        assert any(r.is_arrow and r.failed and r.label == "486 Busy Here" for r in busy.rows)
        timer = next(r for r in no_answer.rows if r.note == NOTE_TIMER)
        assert timer.duration is not None and 1.9 < timer.duration < 2.1  # --fast: 2 s
        assert "fr_inv_timeout 2.0 s fired" in timer.text
        # no two rows of one call are made by one event
        for ladder in (forwarded, busy, no_answer):
            seqs = [r.seq for r in ladder.rows]
            assert len(seqs) == len(set(seqs))
            assert {r.seq for r in ladder.rows} <= {s for s, e in entries
                                                    if e in select_call(events, ladder.call_id)}


class TestMessageDiff:
    def test_what_the_proxy_changed_is_marked(self) -> None:
        received = invite("sip:1001@127.0.0.1:5060", route="<sip:127.0.0.1:5060;lr>")
        forwarded = invite("sip:b1001@127.0.0.1:5060", via=f"{PROXY_VIA}.1", max_forwards=69,
                           rr="<sip:127.0.0.1:5060;lr>")
        lines = diff_messages(received, forwarded)
        marked = [(d.mark, d.header) for d in lines if d.mark != SAME]
        assert (REMOVED, "R-URI") in marked and (ADDED, "R-URI") in marked
        assert (ADDED, "Via") in marked and (ADDED, "Record-Route") in marked
        assert (REMOVED, "Route") in marked
        assert (REMOVED, "Max-Forwards") in marked and (ADDED, "Max-Forwards") in marked
        # the caller's Via, the dialog headers and the SDP are kept as they were
        kept = [d.text for d in lines if d.mark == SAME]
        assert "Via: SIP/2.0/UDP 127.0.0.1:40000;rport;branch=z9hG4bKcaller" in kept
        assert "m=audio 4000 RTP/AVP 0" in kept and "Call-ID: c2" in kept
        found = [(c.header, c.how) for c in changes(lines)]
        assert found[0] == ("R-URI", "changed")  # in the order they appear in the message
        assert sorted(found) == [("Max-Forwards", "changed"), ("R-URI", "changed"),
                                 ("Record-Route", "added"), ("Route", "removed"),
                                 ("Via", "added")]
        # the wire text itself is untouched: joined back, each side is its message
        assert "\r\n".join(d.text for d in lines if d.mark != ADDED) + "\r\n" == received
        assert "\r\n".join(d.text for d in lines if d.mark != REMOVED) + "\r\n" == forwarded

    def test_compact_header_forms_are_named(self) -> None:
        lines = diff_messages("INVITE sip:a@h SIP/2.0\r\nv: SIP/2.0/UDP a\r\n\r\n",
                              "INVITE sip:a@h SIP/2.0\r\nv: SIP/2.0/UDP p\r\nv: SIP/2.0/UDP a\r\n\r\n")
        assert [(c.header, c.how) for c in changes(lines)] == [("Via", "added")]

    def test_identical_messages_have_no_changes(self) -> None:
        raw = response("200 OK", "INVITE", "caller", "callee")
        assert changes(diff_messages(raw, raw)) == []

