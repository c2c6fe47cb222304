"""How a call ended, read from its events: the lab's call history (``calls`` table) and the
demo's checks use the same judgement.

Rules of this module:
- Pure: a list of events of one Call-ID in, a ``CallSummary`` out.
- The proxy's trace decides first (it is the network's view): an INVITE the proxy sent to the
  voicemail box says why the call went there — R-URI user ``b<ext>`` = busy, ``u<ext>`` = no
  answer (408/480), the voicemail number itself = the unconditional callfwd forward.
  Otherwise the caller's own leg decides: confirmed = answered, 487 or a CANCEL from the caller =
  cancelled, anything else = failed with the final status as detail.
- Outcomes are exactly ``labpbx.store.records.CALL_OUTCOMES``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from labpbx.events import CallStateEvent, Event, SipMessageEvent
from labpbx.lab.ladder import VOICEMAIL_NUMBER, uri_user

ANSWERED = "answered"
BUSY_VOICEMAIL = "busy→voicemail"
NO_ANSWER_VOICEMAIL = "no answer→voicemail"
FORWARDED_VOICEMAIL = "forwarded→voicemail"
CANCELLED = "cancelled"
FAILED = "failed"
_PREFIX = re.compile(r"^([bu])([0-9]+)$")


@dataclass(frozen=True, slots=True)
class CallSummary:
    call_id: str
    caller: str
    callee: str
    started_at: float
    ended_at: float
    outcome: str
    detail: str = ""


def summarize_call(events: Sequence[Event], call_id: str, *,
                   voicemail_number: str = VOICEMAIL_NUMBER) -> CallSummary | None:
    """The summary of ``call_id``, or None when there is no caller leg or proxy INVITE for it."""
    mine = [e for e in events if getattr(e, "call_id", None) == call_id]
    if not mine:
        return None
    legs = [e for e in mine if isinstance(e, CallStateEvent) and e.direction == "outgoing"
            and e.component != "voicemail"]
    sip = [e for e in mine if isinstance(e, SipMessageEvent)]
    first_invite = next((e for e in sip if e.direction == "in"
                         and e.summary.startswith("INVITE ")), None)
    caller = legs[0].ext if legs else ""
    callee = ""
    if first_invite is not None:
        callee = uri_user(first_invite.summary.partition(" ")[2])
        if not caller:
            caller = _from_user(first_invite.raw)
    elif legs:
        callee = uri_user(legs[0].remote) or legs[0].remote
    started = min(e.time for e in mine)
    ended = max(e.time for e in mine)
    outcome, detail = _judge(legs, sip, voicemail_number)
    return CallSummary(call_id, caller or "?", callee or "?", started, ended, outcome, detail)


def _judge(legs: Sequence[CallStateEvent], sip: Sequence[SipMessageEvent],
           voicemail_number: str) -> tuple[str, str]:
    for e in sip:
        if e.direction != "out" or not e.summary.startswith("INVITE "):
            continue
        user = uri_user(e.summary.partition(" ")[2])
        prefixed = _PREFIX.match(user)
        if prefixed:
            if prefixed.group(1) == "b":
                return BUSY_VOICEMAIL, f"{prefixed.group(2)} busy: voicemail box {user}"
            return NO_ANSWER_VOICEMAIL, f"{prefixed.group(2)} did not answer: voicemail box {user}"
        if user == voicemail_number:
            return FORWARDED_VOICEMAIL, f"forwarded to the voicemail number {user}"
    if any(leg.state == "confirmed" for leg in legs):
        return ANSWERED, ""
    if any(e.direction == "in" and e.summary.startswith("CANCEL ") for e in sip):
        return CANCELLED, "the caller hung up before an answer"
    final = next((leg for leg in reversed(legs) if leg.state == "disconnected"), None)
    if final is not None and final.status == 487:
        return CANCELLED, "the caller hung up before an answer"
    replies = [e.summary for e in sip if e.direction == "out" and e.summary[:1] in "3456"]
    if replies:
        return FAILED, replies[-1]
    if final is not None and final.status:
        return FAILED, f"{final.status} {final.reason}".strip()
    return FAILED, ""


def _from_user(raw: str) -> str:
    for line in raw.splitlines():
        name, colon, value = line.partition(":")
        if colon and name.strip().lower() in ("from", "f"):
            start, end = value.find("<"), value.find(">")
            uri = value[start + 1:end] if 0 <= start < end else value.split(";", 1)[0]
            return uri_user(uri.strip())
    return ""
