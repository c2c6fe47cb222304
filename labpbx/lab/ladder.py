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
from dataclasses import dataclass

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
from labpbx.sip.message import Request, Response, parse_message
from labpbx.voicemail.box import resolve

CALLER, PROXY, CALLEE, VOICEMAIL = range(4)
DEFAULT_COLUMN_WIDTH = 22
VOICEMAIL_NUMBER = "2345678"
# The transaction milestones worth a line; "created", "branch" and "reply" repeat the arrows.
TRANSACTION_NOTES = frozenset({"timeout", "failure_route", "cancelled", "cancel sent", "late 2xx"})
VOICEMAIL_FINAL = frozenset({"stored", "empty", "failed"})
# How long after the box's leg ends its final message event may come (the WAV is measured first).
VOICEMAIL_LATE = 5.0
_URI_USER = re.compile(r"^sips?:([^@;>]+)@")
_MAILBOX_USER = re.compile(r"^[bu][0-9]+$")


@dataclass(frozen=True, slots=True)
class Row:
    """One line of the ladder before layout: an arrow (``src``→``dst`` columns) or a note."""

    time: float
    order: int
    label: str
    src: int = -1
    dst: int = -1
    column: int = PROXY  # for notes: the lifeline they hang from

    @property
    def is_arrow(self) -> bool:
        return self.src >= 0


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
    """
    events = select_call(events, call_id, voicemail_number=voicemail_number)
    sip = [e for e in events if isinstance(e, SipMessageEvent) and e.call_id == call_id]
    sides = _Sides(sip, voicemail_address, voicemail_number)
    rows: list[Row] = []
    for order, e in enumerate(events):
        if isinstance(e, SipMessageEvent) and e.call_id == call_id:
            src, dst = sides.columns(e)
            rows.append(Row(e.time, order, short_summary(e.summary), src, dst))
        elif isinstance(e, RouteDecisionEvent) and e.call_id == call_id:
            rows.append(Row(e.time, order, _decision_text(e)))
        elif isinstance(e, XlogEvent) and e.call_id == call_id:
            rows.append(Row(e.time, order, f"xlog: {e.text.rstrip()}"))
        elif (isinstance(e, TransactionEvent) and e.call_id == call_id
              and e.state in TRANSACTION_NOTES):
            detail = f" {e.detail}" if e.detail else ""
            rows.append(Row(e.time, order, f"tm: {e.state}{detail}"))
        elif isinstance(e, VoicemailEvent):
            rows.append(Row(e.time, order, _voicemail_text(e), column=VOICEMAIL))
        elif (isinstance(e, CallStateEvent) and e.component == "voicemail"
              and e.call_id == call_id and e.state == "disconnected"):
            why = f" ({e.reason})" if e.reason else ""
            rows.append(Row(e.time, order, f"voicemail: call ended{why}", column=VOICEMAIL))
    rows.sort(key=lambda r: (r.time, r.order))
    return rows, sides


def render_ladder(events: Sequence[Event], call_id: str, *, title: str = "",
                  voicemail_address: str | None = None,
                  voicemail_number: str = VOICEMAIL_NUMBER,
                  width: int = DEFAULT_COLUMN_WIDTH) -> str:
    """The ladder of ``call_id`` as text (pass ``select_call``'s events or the whole stream)."""
    rows, sides = build_rows(events, call_id, voicemail_address=voicemail_address,
                             voicemail_number=voicemail_number)
    width = max(width, 12)
    titles = [f"caller {sides.caller_user}".strip(), "proxy",
              f"callee {sides.callee_user}".strip(), "voicemail"]
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
            _arrow(canvas, centers[row.src], centers[row.dst], row.label)
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
