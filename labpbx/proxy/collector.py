"""How the proxy process uses CPython's cyclic garbage collector (tail latency, issue #4).

Why: a call leaves ~130 GC-tracked objects (messages, header lists, transactions, the tm cell and
its branches) alive for RFC 3261's 64·T1 = 32-s windows, so at a few hundred calls/s the live
heap holds 10^6 tracked objects. CPython collects its oldest generation when objects promoted
since the last full collection reach 25 % of the long-lived ones, and a full collection walks all
of them: measured 160-220 ms with the event loop stopped, several times a minute, which was the
whole p99 INVITE→200 (docs/BENCHMARKS.md). Those collections were also the only thing freeing
finished calls, because their records pointed at each other; the engine now breaks those links
when a transaction ends (``ProxyCore._released``), so finished calls are freed by reference
counting and the full collections find nothing to collect in the call path.

The policy, applied by ``ProxyService.start`` and undone by ``stop``:

- start-up objects (modules, the lark grammar, the parsed script) are moved to the permanent
  generation once (``gc.freeze``): no collection walks them again;
- the young generations keep CPython's automatic thresholds (their pauses are bounded by the
  allocations between two collections: ≤ 10 ms measured at 1,000 calls/s);
- the automatic full collection is switched off (threshold of the oldest generation out of
  reach); ``IdleCollector`` runs one instead when the proxy has received nothing for
  ``idle_seconds``, and under traffic that never pauses at most once every ``max_interval``
  seconds, so that garbage cycles from elsewhere (there should be none) cannot grow without bound.

``IdleCollector`` is pure (time and the received-datagram counter come in as arguments).
"""

from __future__ import annotations

import gc
from dataclasses import dataclass

_NEVER = 1 << 30  # count of young collections that never comes: no automatic full collection


@dataclass
class IdleCollector:
    """Decides when to run a full collection: after ``idle_seconds`` without a datagram (once per
    busy period), or after ``max_interval`` seconds of uninterrupted traffic."""

    idle_seconds: float = 1.0
    max_interval: float = 600.0
    _last_full: float | None = None
    _last_received: int = -1
    _busy_since_full: bool = False

    def due(self, now: float, received: int) -> bool:
        """Called every ``idle_seconds`` with the number of datagrams received so far."""
        if self._last_full is None:
            self._last_full = now
        moved = received != self._last_received
        self._last_received = received
        if moved:
            self._busy_since_full = True
            return now - self._last_full >= self.max_interval
        return self._busy_since_full

    def collected(self, now: float) -> None:
        self._last_full = now
        self._busy_since_full = False


class CollectorPolicy:
    """Apply / undo the process-wide collector settings described in the module docstring."""

    def __init__(self) -> None:
        self._saved: tuple[int, int, int] | None = None

    def apply(self) -> None:
        if self._saved is not None:
            return
        self._saved = gc.get_threshold()
        gc.collect()
        gc.freeze()
        young, middle, _ = self._saved
        gc.set_threshold(young, middle, _NEVER)

    def restore(self) -> None:
        if self._saved is None:
            return
        gc.set_threshold(*self._saved)
        self._saved = None
        gc.unfreeze()

    @staticmethod
    def full_collection() -> int:
        return gc.collect()
