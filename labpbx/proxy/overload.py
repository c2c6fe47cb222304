"""Overload control: a bounded, prioritised receive queue in front of the engine (issue #5).

Without it, a proxy offered more calls than its core can serve collapses: the kernel's socket
buffer fills with new INVITEs, responses and BYEs of the calls already admitted wait behind them
or are dropped, every UA retransmits, and the retransmissions add load (measured: 51 % of calls
failed at 2× capacity, achieved rate below capacity). The cure is to keep the calls already
admitted going and to turn new calls away early and cheaply (RFC 3261 §21.5.4 503 with
``Retry-After``; RFC 7339's idea of rejecting at the edge of capacity).

Design (pure; the UDP adapter only drains the socket into ``IngressQueue`` and asks the engine to
process it in slices):

- Every datagram read from the socket is classified from its raw bytes (``classify``), without a
  parse: a response, an ACK, CANCEL, BYE or any other non-INVITE request, and an INVITE with a
  To-tag (in dialog) are *urgent*; an INVITE without a To-tag is a *new call*; an ACK whose To-tag
  carries this proxy's overload prefix is the ACK of one of our own 503s and is absorbed at once
  (as Kamailio's sl module filters the ACKs of its stateless replies).
- Two FIFO queues: urgent datagrams are always processed before new calls. Retransmissions of a
  known transaction are absorbed by the transaction layer whichever queue they wait in; an INVITE
  retransmission counts as a new call here (telling it apart would need the parse), which is fine:
  a caller retransmits only while we have not yet answered it.
- The signal is the *queueing delay of new calls*: how long the oldest new INVITE has waited
  since it was read from the socket. It needs no capacity figure (it adapts to the machine, to a
  noisy neighbour on the same core and to the script's cost) and it is what the caller suffers.
  A new INVITE that waited more than ``max_delay`` is refused with a stateless 503 and
  ``Retry-After`` (no transaction, no script: ~3 % of the cost of a call) instead of being routed
  — once the oldest new call has stayed over ``max_delay`` for ``standing`` seconds: a backlog
  that drains sooner (a burst, a moment the core was taken) is served, not refused. 10-minute
  soaks at half the capacity had refused 0.05–1.8 % of their calls in such bursts
  (docs/BENCHMARKS.md, "Soak").
  At normal load new calls wait a few milliseconds, far below ``max_delay``: nothing changes.
- Order of new calls: first come, first served, until the oldest has waited half of
  ``max_delay``; from then on the newest is served first and the oldest age out into refusals
  (adaptive LIFO), so that under overload the calls that are admitted wait a few milliseconds
  instead of ``max_delay`` each, while the refused ones hear so within ``max_delay``.
- Bounds: at most ``max_new`` new INVITEs and ``max_urgent`` urgent datagrams wait; past the bound
  the oldest is dropped (counted), exactly as a full kernel buffer would, but without hiding the
  urgent traffic behind it. A dropped INVITE is retransmitted by its caller and refused then.

Known limits: a flood of other out-of-dialog requests (REGISTER, OPTIONS) is urgent traffic and is
not refused; a CANCEL that overtakes its own INVITE in the queue finds no transaction.
"""

from __future__ import annotations

import enum
import re
from collections import deque
from dataclasses import dataclass, field

Addr = tuple[str, int]


class Kind(enum.Enum):
    URGENT = "urgent"
    NEW_INVITE = "new INVITE"
    OWN_ACK = "ACK of our 503"


_TO_TAG = re.compile(rb"^(?:to|t)[ \t]*:[^\r\n]*;[ \t]*tag[ \t]*=[ \t]*([^;\s,]*)",
                     re.IGNORECASE | re.MULTILINE)


def classify(data: bytes, own_tag_prefix: bytes) -> Kind:
    """Kind of a raw datagram, from its start line and To header only (no full parse)."""
    if data.startswith(b"SIP/"):
        return Kind.URGENT
    space = data.find(b" ", 0, 20)
    method = data[:space] if space > 0 else b""
    if method == b"ACK":
        match = _TO_TAG.search(data, 0, _head_end(data))
        if match is not None and match.group(1).startswith(own_tag_prefix):
            return Kind.OWN_ACK
        return Kind.URGENT
    if method != b"INVITE":
        return Kind.URGENT
    if _TO_TAG.search(data, 0, _head_end(data)) is not None:
        return Kind.URGENT  # re-INVITE inside a dialog
    return Kind.NEW_INVITE


def _head_end(data: bytes) -> int:
    end = data.find(b"\r\n\r\n")
    return len(data) if end < 0 else end


@dataclass(frozen=True, slots=True)
class OverloadConfig:
    """``max_delay`` 0 switches refusing off (the queue still orders and bounds)."""

    # seconds a new INVITE may wait before it is refused with 503: below T1 (500 ms), so that a
    # refused caller hears it before its first retransmission; well above a normal wait (ms),
    # so that a short stall (a busy neighbour on the core) does not turn calls away
    max_delay: float = 0.4
    # seconds the oldest new call must have stayed over ``max_delay`` before any is refused: a
    # backlog the proxy drains within this (a burst from a caller, a moment the core was taken)
    # is served late rather than refused; one that stands longer is overload (CoDel's idea,
    # RFC 8289: act on a standing queue, not on a transient one). 0: refuse at once.
    standing: float = 1.0
    retry_after: int = 5  # seconds, the 503's Retry-After
    max_new: int = 4096  # new INVITEs waiting at most (drop oldest beyond)
    max_urgent: int = 16384  # other datagrams waiting at most (drop oldest beyond)


@dataclass
class IngressStats:
    queued: int = 0
    refused: int = 0  # new INVITEs answered 503
    dropped_new: int = 0
    dropped_urgent: int = 0
    own_acks: int = 0  # ACKs of our 503s absorbed before parsing
    max_delay_seen: float = 0.0  # longest wait of a new INVITE that was routed


class Action(enum.Enum):
    PROCESS = "process"
    REFUSE = "refuse"


_Item = tuple[bytes, Addr, float]


@dataclass
class IngressQueue:
    config: OverloadConfig = field(default_factory=OverloadConfig)
    own_tag_prefix: bytes = b""
    stats: IngressStats = field(default_factory=IngressStats)
    _urgent: deque[_Item] = field(default_factory=deque)
    _new: deque[_Item] = field(default_factory=deque)
    _over_since: float | None = None  # since when the oldest new call has waited > max_delay

    def __len__(self) -> int:
        return len(self._urgent) + len(self._new)

    def push(self, data: bytes, addr: Addr, now: float) -> None:
        """A datagram read from the socket at ``now``."""
        kind = classify(data, self.own_tag_prefix)
        self.stats.queued += 1
        if kind is Kind.URGENT:
            if len(self._urgent) >= self.config.max_urgent:
                self._urgent.popleft()
                self.stats.dropped_urgent += 1
            self._urgent.append((data, addr, now))
        elif kind is Kind.NEW_INVITE:
            if len(self._new) >= self.config.max_new:
                self._new.popleft()
                self.stats.dropped_new += 1
            self._new.append((data, addr, now))
        else:
            self.stats.own_acks += 1

    def pop(self, now: float) -> tuple[bytes, Addr, Action] | None:
        """The next datagram to handle and what to do with it; None when both queues are empty."""
        if self._urgent:
            data, addr, _ = self._urgent.popleft()
            return data, addr, Action.PROCESS
        if not self._new:
            return None
        limit = self.config.max_delay
        data, addr, arrived = self._new[0]
        waited = now - arrived
        if limit > 0 and waited > limit:
            if self._over_since is None:
                self._over_since = now
            if now - self._over_since >= self.config.standing:
                self._new.popleft()
                self.stats.refused += 1
                return data, addr, Action.REFUSE
        else:
            self._over_since = None
        if limit > 0 and waited > limit / 2:
            # congested: serve the newest call (it has the most time left), let the oldest age
            # out into a refusal; admitted calls then wait little instead of ~max_delay each
            data, addr, arrived = self._new.pop()
            waited = now - arrived
        else:
            self._new.popleft()
        if waited > self.stats.max_delay_seen:
            self.stats.max_delay_seen = waited
        return data, addr, Action.PROCESS
