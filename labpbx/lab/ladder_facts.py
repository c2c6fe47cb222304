"""What a ladder marks on a call's messages, read from the proxy's own trace (pure).

Rules of this module:
- Input is one call's events with their stream numbers (``seq``); output is keyed by ``seq``,
  so the ladder, the routing log and the script editor can point at the same event.
- SDP: a message whose Content-Type is ``application/sdp`` and whose body is not empty.
- Retransmission: the same message seen again in the same direction between the same two
  addresses: same top-Via branch, CSeq, To tag and method (requests) or status (responses).
  The first sight is 0, the n-th copy n. (Two branches' 180s relayed to the caller share the
  caller's Via but not the To tag: they are two messages.)
- Received ↔ forwarded: a request the proxy sent is the copy of the latest request it received
  earlier with the same CSeq (number and method) and From tag; a response it sent, of the latest
  response it received with the same CSeq, status and To tag. A message the proxy made itself
  (100 Trying, a hop-by-hop ACK, the CANCEL of a timed-out branch) has no pair.
- Branch: a request the proxy sent is matched to the transaction's "branch" TransactionEvent
  by its R-URI and next hop (the event says ``INVITE sip:b1001@… → 127.0.0.1:5070``).
- A timer's duration: the proxy states it ("fr_inv_timeout expired after 2 s: local 408", which
  labpbx.lab.ladder reads); for an event that does not (an older proxy's "… expired: local 408")
  it is measured: the proxy (re)arms fr_inv_timeout on each provisional reply of the branch and
  fr_timeout when it sends the branch, so it is the time from the last of those to the timeout.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from labpbx.errors import SipError
from labpbx.events import Event, SipMessageEvent, TransactionEvent
from labpbx.sip.message import Request, Response, parse_message

_BRANCH_DETAIL = re.compile(r"^(\S+) (\S+) → (\S+)$")
_VIA_BRANCH = re.compile(r";\s*branch=([^;,\s]+)", re.IGNORECASE)

Entry = tuple[int, Event]


@dataclass(slots=True)
class MessageFacts:
    has_sdp: bool = False
    repeat: int = 0
    pair: int = -1
    branch: int = -1
    failed: bool = False


@dataclass(slots=True)
class CallFacts:
    messages: dict[int, MessageFacts] = field(default_factory=dict)
    timers: dict[int, float] = field(default_factory=dict)  # seq of a "timeout" → seconds


@dataclass(frozen=True, slots=True)
class _Parsed:
    seq: int
    event: SipMessageEvent
    msg: Request | Response
    via_branch: str
    cseq: str


def parse(e: SipMessageEvent) -> Request | Response | None:
    try:
        return parse_message(e.raw.encode("utf-8", "replace"))
    except (SipError, ValueError):
        return None


def has_sdp(msg: Request | Response) -> bool:
    kind = (msg.headers.get("Content-Type") or "").split(";", 1)[0].strip().lower()
    return kind == "application/sdp" and bool(msg.body.strip())


def call_facts(entries: Sequence[Entry], call_id: str) -> CallFacts:
    """The marks of one call's messages and timers (module rules)."""
    facts = CallFacts()
    parsed: list[_Parsed] = []
    for seq, e in entries:
        if isinstance(e, SipMessageEvent) and e.call_id == call_id:
            msg = parse(e)
            facts.messages[seq] = MessageFacts()
            if msg is None:
                continue
            via = _VIA_BRANCH.search(msg.headers.first_value("Via") or "")
            parsed.append(_Parsed(seq, e, msg, via.group(1) if via else "",
                                  (msg.headers.get("CSeq") or "").strip()))
    _mark_messages(parsed, facts)
    _mark_branches(entries, parsed, facts, call_id)
    return facts


def _mark_messages(parsed: list[_Parsed], facts: CallFacts) -> None:
    seen: dict[tuple[str, ...], int] = {}
    received: list[_Parsed] = []
    for p in parsed:
        mine = facts.messages[p.seq]
        mine.has_sdp = has_sdp(p.msg)
        start = p.msg.method if isinstance(p.msg, Request) else str(p.msg.status)
        key = (p.event.direction, p.event.src, p.event.dst, p.via_branch, p.cseq, start,
               p.msg.to_tag or "")
        mine.repeat = seen.get(key, -1) + 1
        seen[key] = mine.repeat
        if isinstance(p.msg, Response):
            mine.failed = p.msg.status >= 300
        if p.event.direction == "in":
            if mine.repeat == 0:
                received.append(p)
            continue
        original = next((r for r in reversed(received) if _same(r.msg, p.msg)
                         and r.cseq == p.cseq), None)
        if original is not None:
            mine.pair = original.seq
            if facts.messages[original.seq].pair < 0:
                facts.messages[original.seq].pair = p.seq


def _same(a: Request | Response, b: Request | Response) -> bool:
    if isinstance(a, Request) and isinstance(b, Request):
        return a.method == b.method and a.from_tag == b.from_tag
    if isinstance(a, Response) and isinstance(b, Response):
        return a.status == b.status and a.to_tag == b.to_tag
    return False


def _mark_branches(entries: Sequence[Entry], parsed: list[_Parsed], facts: CallFacts,
                   call_id: str) -> None:
    branch_of_via: dict[str, tuple[str, int]] = {}  # the proxy's Via branch → (tid, index)
    started: dict[tuple[str, int], float] = {}  # (tid, index) → when its timer was last armed
    sent = [p for p in parsed if p.event.direction == "out" and isinstance(p.msg, Request)]
    for _seq, e in entries:
        if not (isinstance(e, TransactionEvent) and e.call_id == call_id and e.state == "branch"):
            continue
        match = _BRANCH_DETAIL.match(e.detail)
        if match is None:
            continue
        method, uri, hop = match.groups()
        # The request of this branch: the first one sent with its R-URI to its hop from the
        # event's time on (the event and the datagram carry the same clock, within a few ms).
        candidates = [p for p in sent if isinstance(p.msg, Request) and p.msg.method == method
                      and p.msg.uri == uri and p.event.dst == hop
                      and facts.messages[p.seq].branch < 0 and p.via_branch not in branch_of_via]
        if not candidates:
            continue
        p = min(candidates, key=lambda c: abs(c.event.time - e.time))
        facts.messages[p.seq].branch = e.branch
        branch_of_via[p.via_branch] = (e.tid, e.branch)
    provisional: dict[tuple[str, int], float] = {}
    by_seq = {p.seq: p for p in parsed}
    for seq, e in entries:
        if isinstance(e, TransactionEvent) and e.call_id == call_id:
            key = (e.tid, e.branch)
            if e.state == "branch":
                started[key] = e.time
            elif e.state == "timeout" and key in started:
                start = started[key]
                if e.detail.startswith("fr_inv_timeout") and key in provisional:
                    start = provisional[key]
                facts.timers[seq] = max(0.0, e.time - start)
        elif seq in by_seq:
            p = by_seq[seq]
            if (p.event.direction == "in" and isinstance(p.msg, Response)
                    and 100 <= p.msg.status < 200 and p.via_branch in branch_of_via):
                provisional[branch_of_via[p.via_branch]] = e.time
