"""A text ladder (sequence) diagram of one call, from the lab's merged event stream.

    time      caller 1000          proxy           callee 1004           voicemail
   0.000s         |---INVITE 1004---->|                  |                    |
                  |                   |  route:109 set $ru sip:1004@… -> sip:2345678@…
                  |                   |  xlog: forwarded to: sip:2345678@127.0.0.1

Rules of this module:
- Pure: events in, text out (no clock, no I/O). The GUI's ladder view and ``labpbx demo`` read
  the same facts, so what a learner sees in the terminal is what the window shows.
- The proxy sees every message of a call (it record-routes), so the arrows come from the
  proxy's SipMessageEvents (``--trace-sip``) alone; phones and the voicemail box add notes.
- Which column a message belongs to is decided by SIP, not by address (two extensions of one
  phone process share an address): a request whose From tag is the caller's comes from the
  caller's side when the proxy receives it; a response travels the other way; everything on the
  proxy's far side goes to the voicemail column when its address is the box's (or its R-URI user
  is the voicemail number or b<ext>/u<ext>), otherwise to the callee column.
- Rows are in time order (events carry wall-clock time from every process); equal times keep
  the stream's order. Notes: routing decisions and xlog lines under the proxy, transaction
  milestones (timeouts, failure_route, CANCEL), and the voicemail box's greeting, recording and
  stored message under the voicemail column.
- ``select_call`` picks one call's events out of the stream: every event with its Call-ID, and
  the VoicemailEvents (which carry no Call-ID) of the box's leg for that Call-ID — those during
  the leg, plus the final "stored"/"empty"/"failed" of the message it recorded.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from labpbx.errors import SipError
from labpbx.events import (
    CallStateEvent,
    Event,
    RouteDecisionEvent,
    SipMessageEvent,
    TransactionEvent,
    VoicemailEvent,
    XlogEvent,
)
from labpbx.lab.ladder_facts import CallFacts, MessageFacts, call_facts
from labpbx.sip.message import Request, Response, parse_message
from labpbx.voicemail.box import resolve

CALLER, PROXY, CALLEE, VOICEMAIL = range(4)
# The kinds of notes (Row.note).
NOTE_DECISION, NOTE_XLOG, NOTE_TIMER, NOTE_FAILURE_ROUTE = "decision", "xlog", "timer", "failure_route"
NOTE_CANCEL, NOTE_TRANSACTION, NOTE_VOICEMAIL = "cancel", "transaction", "voicemail"
DEFAULT_COLUMN_WIDTH = 22
VOICEMAIL_NUMBER = "2345678"
# The transaction milestones worth a line; "created", "branch" and "reply" repeat the arrows.
TRANSACTION_NOTES = frozenset({"timeout", "failure_route", "cancelled", "cancel sent", "late 2xx"})
VOICEMAIL_FINAL = frozenset({"stored", "empty", "failed"})
# How long after the box's leg ends its final message event may come (the WAV is measured first).
VOICEMAIL_LATE = 5.0
_TIMER_AFTER = re.compile(r"^ after ([0-9.]+) s")
_URI_USER = re.compile(r"^sips?:([^@;>]+)@")
_MAILBOX_USER = re.compile(r"^[bu][0-9]+$")


@dataclass(frozen=True, slots=True)
class Row:
    """One line of the ladder before layout: an arrow (``src``→``dst`` columns) or a note.

    ``label`` is the short text (``INVITE b1001``, ``486 Busy Here``, or the note's whole line
    as the text ladder prints it); the other fields are what a drawn ladder needs to show the
    same facts without parsing ``label`` again.
    """

    time: float
    order: int
    label: str
    src: int = -1
    dst: int = -1
    column: int = PROXY  # for notes: the lifeline they hang from
    seq: int = -1  # the stream number of the event that made the row (log ↔ ladder ↔ script)
    note: str = ""  # a note's kind (NOTE_*); "" for an arrow
    has_sdp: bool = False
    repeat: int = 0  # 0: first sight of this message; n: its n-th retransmission
    failed: bool = False  # a final response >= 300: the branch (or the call) failed
    branch: int = -1  # a request the proxy sent: its transaction branch (serial forking)
    pair: int = -1  # the proxy's other copy of this message: received ↔ forwarded (a seq)
    where: str = ""  # notes from the script: "failure_route[missed_call]:153"
    action: str = ""  # decisions: "prefix", "t_relay", …; timers: "fr_inv_timeout"
    before: str = ""
    after: str = ""  # decisions: the value after; timers: the outcome ("local 408")
    text: str = ""  # the note's words without its kind: xlog text, timer, reason
    duration: float | None = None  # a timer note: how long the timer ran, in seconds
    event: Event | None = field(default=None, compare=False, repr=False)

    @property
    def is_arrow(self) -> bool:
        return self.src >= 0

    @property
    def shown_label(self) -> str:
        """The arrow's label with its marks: ``INVITE 1001 (SDP)``, ``180 Ringing (retrans)``."""
        text = self.label
        if self.has_sdp:
            text += " (SDP)"
        if self.repeat:
            text += " (retrans)" if self.repeat == 1 else f" (retrans ×{self.repeat})"
        return text


@dataclass(frozen=True, slots=True)
class Ladder:
    """One call's ladder: its four lanes' titles and its rows in time order."""

    call_id: str
    lanes: tuple[str, str, str, str]
    rows: tuple[Row, ...]

    def index_of(self, seq: int) -> int:
        """The row made by event ``seq``; for an event that made no row (a phone's state, a
        transaction milestone the ladder leaves out), the last row before it; -1 if none."""
        best = -1
        for i, row in enumerate(self.rows):
            if row.seq == seq:
                return i
            if 0 <= row.seq < seq and (best < 0 or row.seq > self.rows[best].seq):
                best = i
        return best

    def row_of(self, seq: int) -> Row | None:
        return next((r for r in self.rows if r.seq == seq), None)


def select_call(events: Iterable[Event], call_id: str, *,
                voicemail_number: str = VOICEMAIL_NUMBER) -> list[Event]:
    """The events of one call (see the module rules), in stream order.

    VoicemailEvents carry the Call-ID of the box's leg; those from older streams without one are
    linked heuristically: through the box's leg for this Call-ID
    (its time window) and, when the proxy's trace shows the INVITE it sent to the box, through
    the mailbox that INVITE addresses (b1001 → 1001; the voicemail number → its Diversion), so
    two calls in the box at the same time do not mix. Two simultaneous calls into the same
    mailbox remain indistinguishable.
    """
    stream = list(events)
    window: list[tuple[float, float]] = []
    mailboxes: set[str] = set()
    for e in stream:
        if (isinstance(e, CallStateEvent) and e.component == "voicemail"
                and e.call_id == call_id):
            if e.state == "incoming":
                window.append((e.time, float("inf")))
            elif e.state == "disconnected" and window:
                window[-1] = (window[-1][0], e.time)
        elif (isinstance(e, SipMessageEvent) and e.call_id == call_id and e.direction == "out"
              and e.summary.startswith("INVITE ")):
            mailbox = voicemail_mailbox(e, voicemail_number)
            if mailbox:
                mailboxes.add(mailbox)
    picked: list[Event] = []
    recorded: set[str] = set()
    for e in stream:
        if getattr(e, "call_id", None) == call_id:
            picked.append(e)
        elif isinstance(e, VoicemailEvent) and not e.call_id:
            if mailboxes and e.mailbox not in mailboxes:
                continue
            if e.status in VOICEMAIL_FINAL and e.message_id and e.message_id in recorded:
                picked.append(e)
            elif any(start <= e.time <= end for start, end in window):
                picked.append(e)
                if e.status == "recording" and e.message_id:
                    recorded.add(e.message_id)
            elif e.status in VOICEMAIL_FINAL and not e.message_id and any(
                    end <= e.time <= end + VOICEMAIL_LATE for _s, end in window):
                picked.append(e)
    return picked


def voicemail_mailbox(e: SipMessageEvent, voicemail_number: str = VOICEMAIL_NUMBER) -> str:
    """The mailbox an INVITE the proxy sent will be filed under by the box ("" when the INVITE
    is not for the box), by the box's own rule (labpbx.voicemail.box.resolve)."""
    msg = _parse(e)
    if not isinstance(msg, Request) or msg.method != "INVITE":
        return ""
    user = uri_user(msg.uri)
    if user != voicemail_number and not _MAILBOX_USER.match(user):
        return ""
    return resolve(user, msg.headers.get_all("Diversion"),
                   voicemail_number=voicemail_number).mailbox


def uri_user(uri: str) -> str:
    match = _URI_USER.match(uri.strip().strip("<>"))
    return match.group(1) if match else ""


def short_summary(summary: str) -> str:
    """``INVITE sip:1004@127.0.0.1:5060`` → ``INVITE 1004`` (the user is what changes hop by
    hop: 1004, 2345678, b1001); responses stay as they are."""
    method, _, rest = summary.partition(" ")
    if method.isdigit() or not rest:
        return summary
    user = uri_user(rest)
    if user:
        return f"{method} {user}"
    return f"{method} {rest.removeprefix('sip:')}"


class _Sides:
    """Decides the column of each SIP message (module rules)."""

    def __init__(self, sip: Sequence[SipMessageEvent], voicemail_address: str | None,
                 voicemail_number: str) -> None:
        self.caller_tag: str | None = None
        self.caller_user = ""
        self.callee_user = ""
        self.caller_address = ""
        self.voicemail: set[str] = {voicemail_address} if voicemail_address else set()
        for e in sip:
            msg = _parse(e)
            if not isinstance(msg, Request) or msg.method != "INVITE":
                continue
            if e.direction == "in" and self.caller_tag is None and msg.to_tag is None:
                self.caller_tag = msg.from_tag
                self.caller_address = e.src
                self.caller_user = uri_user(_name_addr_uri(msg.headers.get("From") or ""))
                self.callee_user = uri_user(msg.uri)
            if e.direction == "out":
                user = uri_user(msg.uri)
                if user == voicemail_number or _MAILBOX_USER.match(user):
                    self.voicemail.add(e.dst)

    def far_column(self, address: str) -> int:
        return VOICEMAIL if address in self.voicemail else CALLEE

    def columns(self, e: SipMessageEvent) -> tuple[int, int]:
        """(from, to) columns of one message the proxy received or sent."""
        remote = e.src if e.direction == "in" else e.dst
        msg = _parse(e)
        if msg is None or self.caller_tag is None:
            remote_is_caller = remote == self.caller_address and e.direction == "in"
        else:
            caller_side = msg.from_tag == self.caller_tag
            if isinstance(msg, Request):
                remote_is_caller = (e.direction == "in") == caller_side
            else:
                remote_is_caller = (e.direction == "out") == caller_side
        other = CALLER if remote_is_caller else self.far_column(remote)
        return (other, PROXY) if e.direction == "in" else (PROXY, other)


def _parse(e: SipMessageEvent) -> Request | Response | None:
    try:
        return parse_message(e.raw.encode("utf-8", "replace"))
    except (SipError, ValueError):
        return None


def _name_addr_uri(value: str) -> str:
    start, end = value.find("<"), value.find(">")
    if 0 <= start < end:
        return value[start + 1:end]
    return value.split(";", 1)[0].strip()


def _decision_text(e: RouteDecisionEvent) -> str:
    text = f"{e.route}:{e.line} {e.action}"
    if e.before and e.after:
        text += f" {e.before} -> {e.after}"
    elif e.after or e.before:
        text += f" {e.after or e.before}"
    if e.reason:
        text += f" ({e.reason})"
    return text


def _voicemail_text(e: VoicemailEvent) -> str:
    if e.status == "greeting":
        return f"voicemail: plays the {e.greeting} greeting of mailbox {e.mailbox}"
    if e.status == "recording":
        return f"voicemail: recording message {e.message_id} for mailbox {e.mailbox}"
    if e.status == "stored":
        return (f"voicemail: stored {e.duration:.1f} s message {e.message_id} in mailbox "
                f"{e.mailbox} ({e.greeting} greeting) -> {e.path}")
    reason = f": {e.reason}" if e.reason else ""
    return f"voicemail: {e.status}{reason} (mailbox {e.mailbox})"


def build_rows(events: Sequence[Event], call_id: str, *, voicemail_address: str | None = None,
               voicemail_number: str = VOICEMAIL_NUMBER) -> tuple[list[Row], _Sides]:
    """The rows of the ladder, time-ordered (exposed for the GUI and the tests).

    ``events`` may be the whole stream: the call's events are picked with ``select_call``.
    Rows' ``seq`` is the event's position in ``events`` (``build_ladder`` takes stream numbers).
    """
    return _rows(list(enumerate(events)), call_id, voicemail_address, voicemail_number)


def build_ladder(entries: Sequence[tuple[int, Event]], call_id: str, *,
                 voicemail_address: str | None = None,
                 voicemail_number: str = VOICEMAIL_NUMBER) -> Ladder:
    """The ladder of ``call_id`` from ``(seq, event)`` pairs (a CallSummary's events, or the
    stream's): rows keep the stream number of the event that made them."""
    rows, sides = _rows(entries, call_id, voicemail_address, voicemail_number)
    return Ladder(call_id, lane_titles(sides, voicemail_number), tuple(rows))


def lane_titles(sides: _Sides, voicemail_number: str = VOICEMAIL_NUMBER) -> tuple[str, str, str, str]:
    """Lanes by role with the number, not ip:port: ``caller 1000``, ``proxy``, ``callee 1001``,
    ``voicemail 2345678``."""
    return (f"caller {sides.caller_user}".strip(), "proxy",
            f"callee {sides.callee_user}".strip(), f"voicemail {voicemail_number}".strip())


def _rows(entries: Sequence[tuple[int, Event]], call_id: str, voicemail_address: str | None,
          voicemail_number: str) -> tuple[list[Row], _Sides]:
    picked = {id(e) for e in select_call([e for _s, e in entries], call_id,
                                         voicemail_number=voicemail_number)}
    entries = [(seq, e) for seq, e in entries if id(e) in picked]
    sip = [e for _s, e in entries if isinstance(e, SipMessageEvent) and e.call_id == call_id]
    sides = _Sides(sip, voicemail_address, voicemail_number)
    facts = call_facts(entries, call_id)
    rows: list[Row] = []
    for order, (seq, e) in enumerate(entries):
        row = _row(e, order, seq, call_id, sides, facts)
        if row is not None:
            rows.append(row)
    rows.sort(key=lambda r: (r.time, r.order))
    _timer_before_its_cancel(rows)
    return rows, sides


def _timer_before_its_cancel(rows: list[Row]) -> None:
    """The proxy reports the CANCEL of a timed-out branch just before the timeout itself;
    read as cause and effect, the timer comes first."""
    for i in range(len(rows) - 1):
        a, b = rows[i], rows[i + 1]
        if (a.note == NOTE_CANCEL and b.note == NOTE_TIMER and a.branch == b.branch
                and b.time - a.time < 0.05):
            rows[i], rows[i + 1] = b, a


def _row(e: Event, order: int, seq: int, call_id: str, sides: _Sides,
         facts: CallFacts) -> Row | None:
    mine = getattr(e, "call_id", None) == call_id
    if isinstance(e, SipMessageEvent) and mine:
        src, dst = sides.columns(e)
        f = facts.messages.get(seq) or MessageFacts()
        return Row(e.time, order, short_summary(e.summary), src, dst, seq=seq, event=e,
                   has_sdp=f.has_sdp, repeat=f.repeat, failed=f.failed, branch=f.branch,
                   pair=f.pair)
    if isinstance(e, RouteDecisionEvent) and mine:
        return Row(e.time, order, _decision_text(e), seq=seq, event=e, note=NOTE_DECISION,
                   where=f"{e.route}:{e.line}", action=e.action, before=e.before, after=e.after,
                   text=e.reason)
    if isinstance(e, XlogEvent) and mine:
        return Row(e.time, order, f"xlog: {e.text.rstrip()}", seq=seq, event=e, note=NOTE_XLOG,
                   where=f"{e.route}:{e.line}", text=e.text.rstrip())
    if isinstance(e, TransactionEvent) and mine and e.state in TRANSACTION_NOTES:
        return _transaction_row(e, order, seq, facts)
    if isinstance(e, VoicemailEvent):
        text = _voicemail_text(e)
        return Row(e.time, order, text, column=VOICEMAIL, seq=seq, event=e, note=NOTE_VOICEMAIL,
                   text=text.removeprefix("voicemail: "))
    if (isinstance(e, CallStateEvent) and e.component == "voicemail" and mine
            and e.state == "disconnected"):
        why = f" ({e.reason})" if e.reason else ""
        return Row(e.time, order, f"voicemail: call ended{why}", column=VOICEMAIL, seq=seq,
                   event=e, note=NOTE_VOICEMAIL, text=f"call ended{why}")
    return None


def _transaction_row(e: TransactionEvent, order: int, seq: int, facts: CallFacts) -> Row:
    label = f"tm: {e.state}{' ' + e.detail if e.detail else ''}"
    if e.state == "timeout":
        # "fr_inv_timeout expired after 2 s: local 408" → "fr_inv_timeout 2.0 s fired on
        # branch 0: local 408". The timer's own value when the proxy says it; else (an older
        # proxy's "… expired: local 408") the time measured since the timer was last armed.
        timer, _, outcome = e.detail.partition(" expired")
        duration = facts.timers.get(seq)
        said = _TIMER_AFTER.match(outcome)
        if said is not None:
            duration = float(said.group(1))
            outcome = outcome[said.end():]
        ran = f" {duration:.1f} s" if duration is not None else ""
        text = f"{timer or 'timer'}{ran} fired on branch {e.branch}{outcome}"
        return Row(e.time, order, f"tm: timeout {text}", seq=seq, event=e, note=NOTE_TIMER,
                   text=text, duration=duration, branch=e.branch, failed=True,
                   action=timer or "timer", after=outcome.removeprefix(":").strip())
    if e.state == "failure_route":
        route, _, why = e.detail.partition(": ")
        return Row(e.time, order, label, seq=seq, event=e, note=NOTE_FAILURE_ROUTE,
                   where=f"failure_route[{route}]" if why else "failure_route",
                   text=why or e.detail, branch=e.branch)
    if e.state in ("cancel sent", "cancelled"):
        text = e.detail if e.state == "cancelled" else (
            f"CANCEL sent on branch {e.branch}{' (' + e.detail + ')' if e.detail else ''}")
        return Row(e.time, order, label, seq=seq, event=e, note=NOTE_CANCEL, text=text,
                   branch=e.branch)
    return Row(e.time, order, label, seq=seq, event=e, note=NOTE_TRANSACTION,
               text=f"{e.state}{': ' + e.detail if e.detail else ''}", branch=e.branch)


def render_ladder(events: Sequence[Event], call_id: str, *, title: str = "",
                  voicemail_address: str | None = None,
                  voicemail_number: str = VOICEMAIL_NUMBER,
                  width: int = DEFAULT_COLUMN_WIDTH) -> str:
    """The ladder of ``call_id`` as text (pass ``select_call``'s events or the whole stream)."""
    rows, sides = build_rows(events, call_id, voicemail_address=voicemail_address,
                             voicemail_number=voicemail_number)
    width = max(width, 12)
    titles = lane_titles(sides, voicemail_number)
    centers = [i * width + width // 2 for i in range(4)]
    lines: list[str] = []
    if title:
        lines.append(title)
    lines.append(f"Call-ID {call_id}")
    if not rows:
        lines.append("(no events for this call)")
        return "\n".join(lines) + "\n"
    if not any(r.is_arrow for r in rows):
        lines.append("(no SIP trace: the proxy runs without --trace-sip)")
    head = [" "] * (4 * width)
    for center, text in zip(centers, titles, strict=True):
        text = text[:width - 1]
        start = max(0, center - len(text) // 2)
        head[start:start + len(text)] = list(text)
    lines.append(f"{'time':>8}  " + "".join(head).rstrip())
    t0 = rows[0].time
    last = ""
    for row in rows:
        # Every arrow has its time; a note only when the clock moved (decisions taken while
        # handling a message share its time and would only repeat it).
        stamp = f"{row.time - t0:7.3f}s"
        shown = stamp if row.is_arrow or stamp != last else ""
        last = stamp
        canvas = [" "] * (4 * width)
        for center in centers:
            canvas[center] = "|"
        if row.is_arrow:
            _arrow(canvas, centers[row.src], centers[row.dst], row.shown_label)
            lines.append(f"{shown:>8}  " + "".join(canvas).rstrip())
        else:
            cut = centers[row.column] + 1
            lines.append(f"{shown:>8}  " + "".join(canvas[:cut]) + "  " + row.label)
    return "\n".join(lines) + "\n"


def fit(label: str, room: int) -> str:
    """``label`` cut to ``room`` characters, at a word boundary when there is one
    ("487 Request Terminated" → "487 Request…")."""
    if len(label) <= room:
        return label
    cut = label[:max(0, room - 1)]
    if " " in cut:
        cut = cut[:cut.rindex(" ")]
    return cut + "…"


def _arrow(canvas: list[str], a: int, b: int, label: str) -> None:
    left, right = min(a, b), max(a, b)
    span = right - left - 1
    if span < 3:
        return
    body = ["-"] * span
    if b > a:
        body[-1] = ">"
    else:
        body[0] = "<"
    text = fit(label, span - 2)
    start = (span - len(text)) // 2
    body[start:start + len(text)] = list(text)
    canvas[left + 1:right] = body
