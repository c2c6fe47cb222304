"""One readable terminal line per lab event, for ``labpbx lab`` (pure: an event in, text out).

Rules of this module:
- What a learner watches: registrations, calls, routing decisions, xlog lines, transaction
  milestones, voicemail and component health. Raw SIP messages only when asked (``sip=True``);
  command acks and status snapshots never (they are the lab's own plumbing).
- ``None`` means "print nothing for this event".
- Lines only: this module keeps no state. What a view needs to remember (who is registered,
  which calls run, how they ended) is labpbx.lab.state's one reducer, shared with the window.
"""

from __future__ import annotations

import time

from labpbx.events import (
    CallStateEvent,
    ComponentEvent,
    Event,
    ForwardingEvent,
    GapEvent,
    MwiEvent,
    PolicyEvent,
    ProblemEvent,
    RegistrationEvent,
    RouteDecisionEvent,
    SipMessageEvent,
    TransactionEvent,
    VoicemailEvent,
    XlogEvent,
)
from labpbx.lab.ladder import TRANSACTION_NOTES

QUIET_COMPONENT_STATUSES = frozenset({"ack", "status", "audio", "starting"})


def stamp(t: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(t)) + f".{int(t % 1 * 1000):03d}"


def format_event(event: Event, *, sip: bool = False) -> str | None:
    """The line for ``event`` (without a newline), or None to skip it."""
    text = _text(event, sip)
    return None if text is None else f"{stamp(event.time)} {event.component:<16} {text}"


def _text(event: Event, sip: bool) -> str | None:
    if isinstance(event, SipMessageEvent):
        if not sip:
            return None
        arrow = "<-" if event.direction == "in" else "->"
        peer = event.src if event.direction == "in" else event.dst
        return f"{arrow} {peer:<21} {event.summary}"
    if isinstance(event, XlogEvent):
        return f"xlog: {event.text.rstrip()}"
    if isinstance(event, RouteDecisionEvent):
        change = f" {event.before} -> {event.after}" if event.before and event.after else (
            f" {event.after or event.before}" if event.after or event.before else "")
        why = f" ({event.reason})" if event.reason else ""
        return f"{event.route}:{event.line} {event.action}{change}{why}"
    if isinstance(event, TransactionEvent):
        if event.state not in TRANSACTION_NOTES:
            return None
        return f"tm {event.state}: {event.detail}".rstrip(": ")
    if isinstance(event, RegistrationEvent):
        if event.registered:
            return f"{event.ext} registered ({event.status} {event.reason}, {event.expires} s)"
        return f"{event.ext} not registered ({event.status} {event.reason})".replace(" )", ")")
    if isinstance(event, CallStateEvent):
        peer = f" {event.remote}" if event.remote else ""
        status = f" {event.status} {event.reason}".rstrip() if event.status else ""
        return f"{event.ext} {event.direction} {event.leg} {event.state}{peer}{status}"
    if isinstance(event, PolicyEvent):
        ring = f" (ring {event.ring_time:g} s)" if event.policy == "answer" else ""
        return f"{event.ext} policy {event.policy}{ring}"
    if isinstance(event, VoicemailEvent):
        if event.status == "stored":
            return (f"stored message {event.message_id} in mailbox {event.mailbox} "
                    f"({event.greeting} greeting, {event.duration:.1f} s, from {event.caller})")
        reason = f": {event.reason}" if event.reason else ""
        return f"{event.status} mailbox {event.mailbox} ({event.greeting}){reason}"
    if isinstance(event, MwiEvent):
        return (f"mailbox {event.mailbox}: {event.new_messages} new, "
                f"{event.old_messages} old message(s)")
    if isinstance(event, ForwardingEvent):
        if event.target:
            return f"{event.ext} forwards every call to {event.target} (callfwd)"
        return f"{event.ext} forwards no call unconditionally (no callfwd)"
    if isinstance(event, GapEvent):
        return f"... {event.dropped} earlier event(s) are no longer in the lab's history"
    if isinstance(event, ProblemEvent):
        return f"{event.severity.upper()}: {event.message}"
    if isinstance(event, ComponentEvent):
        if event.status == "audio" and event.extra.get("requested"):
            # The user asked for sound on this phone (--audio-ext): say whether it works and why.
            return f"local audio: {event.detail}"
        if event.status in QUIET_COMPONENT_STATUSES:
            return None
        if event.status == "error":
            return f"command failed: {event.detail}"
        where = f" {event.address}" if event.address and event.status == "ready" else ""
        detail = f": {event.detail}" if event.detail else ""
        return f"{event.status}{where}{detail}"
    return None
