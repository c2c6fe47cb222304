"""How a call ended, read from its events: the lab's call history (``calls`` table) and the
demo's checks use the same judgement.

Rules of this module:
- Pure: a list of events of one Call-ID in, a ``CallSummary`` out.
- The proxy's trace decides first (it is the network's view): an INVITE the proxy sent to the
  voicemail box says why the call went there — R-URI user ``b<ext>`` = busy, ``u<ext>`` = no
  answer (408/480), the voicemail number itself = the unconditional callfwd forward.
  Otherwise the caller's own leg decides: confirmed = answered, 487 or a CANCEL from the caller =
  cancelled, anything else = failed with the final status as detail.
- A call placed by a softphone (no lab phone leg on the caller's side) is judged by the trace
  alone: answered when the proxy relayed a 2xx to the INVITE or a lab phone answered it; over
  (``call_is_over``) once the proxy relayed a final failure to the first INVITE or a reply to a BYE.
- Outcomes are exactly ``labpbx.store.records.CALL_OUTCOMES``, typed as ``CallOutcome`` (a
  StrEnum: each member is its stored text, so rows and JSON keep plain strings).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from dataclasses import dataclass

from labpbx.events import CallStateEvent, Event, SipMessageEvent
from labpbx.lab.ladder import VOICEMAIL_NUMBER, uri_user


class CallOutcome(enum.StrEnum):
    """How a call ended; the values are the call history's words (CALL_OUTCOMES)."""

    ANSWERED = "answered"
    BUSY_VOICEMAIL = "busy→voicemail"
    NO_ANSWER_VOICEMAIL = "no answer→voicemail"
    FORWARDED_VOICEMAIL = "forwarded→voicemail"
    CANCELLED = "cancelled"
    FAILED = "failed"


ANSWERED = CallOutcome.ANSWERED
BUSY_VOICEMAIL = CallOutcome.BUSY_VOICEMAIL
NO_ANSWER_VOICEMAIL = CallOutcome.NO_ANSWER_VOICEMAIL
FORWARDED_VOICEMAIL = CallOutcome.FORWARDED_VOICEMAIL
CANCELLED = CallOutcome.CANCELLED
FAILED = CallOutcome.FAILED
_PREFIX = re.compile(r"^([bu])([0-9]+)$")


@dataclass(frozen=True, slots=True)
class CallSummary:
    call_id: str
    caller: str
    callee: str
    started_at: float
    ended_at: float
    outcome: CallOutcome
    detail: str = ""


def summarize_call(events: Sequence[Event], call_id: str, *,
                   voicemail_number: str = VOICEMAIL_NUMBER) -> CallSummary | None:
    """The summary of ``call_id``, or None when there is no caller leg or proxy INVITE for it."""
    mine = [e for e in events if getattr(e, "call_id", None) == call_id]
    if not mine:
        return None
    legs = _caller_legs(mine)
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
    # without a lab caller (a softphone called): a lab phone answering, or a 2xx the proxy
    # relayed for the first INVITE, means the call was answered
    answered_elsewhere = not legs and (
        any(isinstance(e, CallStateEvent) and e.direction == "incoming"
            and e.component != "voicemail" and e.state == "confirmed" for e in mine)
        or (first_invite is not None and any(
            e.direction == "out" and e.summary[:1] == "2" and _cseq(e.raw) == _cseq(first_invite.raw)
            for e in sip)))
    box_legs = [e for e in mine if isinstance(e, CallStateEvent) and e.component == "voicemail"]
    outcome, detail = _judge(legs, sip, voicemail_number, answered_elsewhere, box_legs)
    return CallSummary(call_id, caller or "?", callee or "?", started, ended, outcome, detail)


def call_is_over(events: Sequence[Event], call_id: str) -> bool:
    """True once the call ``call_id`` has ended, as far as its events tell.

    With a lab phone as the caller its leg decides (the phone's events may come after the
    proxy's); otherwise the proxy's trace: a final failure relayed for the first INVITE, or
    any reply relayed for a BYE (the dialog is over).
    """
    mine = [e for e in events if getattr(e, "call_id", None) == call_id]
    legs = _caller_legs(mine)
    if legs:
        return any(leg.state == "disconnected" for leg in legs)
    sip = [e for e in mine if isinstance(e, SipMessageEvent)]
    first_cseq = next((_cseq(e.raw) for e in sip if e.direction == "in"
                       and e.summary.startswith("INVITE ")), None)
    for e in sip:
        if e.direction != "out" or not e.summary[:1].isdigit():
            continue
        cseq = _cseq(e.raw)
        if cseq[1] == "BYE":
            return True
        if cseq == first_cseq and e.summary[:1] in "3456":
            return True
    return False


def _caller_legs(events: Sequence[Event]) -> list[CallStateEvent]:
    return [e for e in events if isinstance(e, CallStateEvent) and e.direction == "outgoing"
            and e.component != "voicemail"]


def _judge(legs: Sequence[CallStateEvent], sip: Sequence[SipMessageEvent],
           voicemail_number: str, answered_elsewhere: bool = False,
           box_legs: Sequence[CallStateEvent] = ()) -> tuple[CallOutcome, str]:
    # Where the call reached the voicemail box: the proxy's INVITE to it, or (with an external
    # proxy, which sends no trace) the box's own leg, named after the Request-URI user.
    box_users = [uri_user(e.summary.partition(" ")[2]) for e in sip
                 if e.direction == "out" and e.summary.startswith("INVITE ")]
    box_users += [leg.ext for leg in box_legs]
    for user in box_users:
        prefixed = _PREFIX.match(user)
        if prefixed:
            if prefixed.group(1) == "b":
                return BUSY_VOICEMAIL, f"{prefixed.group(2)} busy: voicemail box {user}"
            return NO_ANSWER_VOICEMAIL, f"{prefixed.group(2)} did not answer: voicemail box {user}"
        if user == voicemail_number:
            return FORWARDED_VOICEMAIL, f"forwarded to the voicemail number {user}"
    if any(leg.state == "confirmed" for leg in legs) or answered_elsewhere:
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


def header_value(raw: str, *names: str) -> str | None:
    """The first value of a header called one of ``names`` (lower case) in a traced message's
    head, without parsing the whole message; None when there is none."""
    for line in raw.splitlines()[1:]:
        if not line.strip():
            break  # the body starts
        name, colon, value = line.partition(":")
        if colon and name.strip().lower() in names:
            return value.strip()
    return None


def _cseq(raw: str) -> tuple[str, str]:
    """(number, method) of the message's CSeq header; ("", "") when it has none."""
    number, _, method = (header_value(raw, "cseq") or "").partition(" ")
    return number, method.strip().upper()


def _from_user(raw: str) -> str:
    value = header_value(raw, "from", "f")
    if value is None:
        return ""
    start, end = value.find("<"), value.find(">")
    uri = value[start + 1:end] if 0 <= start < end else value.split(";", 1)[0]
    return uri_user(uri.strip())
