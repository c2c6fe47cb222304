"""Time-based bookkeeping of a phone, without threads or I/O: a deadline list and a call pacer.

Rules of this module:
- Pure: every method takes ``now`` (seconds, monotonic). The agent's pump loop passes its clock,
  so ring timers need no timer threads (pjsua2 may only be touched from the pump thread).
- ``Deadlines`` runs actions in deadline order (ties in insertion order).
- ``Pacer`` limits how many new call legs a process starts per window: this wheel has 64 socket
  handles and a closed call gives its handles back only ~500 ms later; outrunning that aborts
  the process (PJSUA2.md, "Hard limits").
"""

from __future__ import annotations

import collections
import heapq
import itertools
from collections.abc import Callable

# 8 legs × (RTP + RTCP) = 16 handles per window, far below the 64 the wheel has.
MAX_NEW_LEGS_PER_WINDOW = 8
PACING_WINDOW = 0.5


class Deadlines:
    """Actions to run at given times; ``due(now)`` pops the ones whose time has come."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()

    def __len__(self) -> int:
        return len(self._heap)

    def add(self, at: float, action: Callable[[], None]) -> None:
        heapq.heappush(self._heap, (at, next(self._seq), action))

    def next_at(self) -> float | None:
        """When the earliest action is due, or None when there is none."""
        return self._heap[0][0] if self._heap else None

    def wait_ms(self, now: float, limit_ms: int) -> int:
        """How long the pump may block: ``limit_ms``, less when an action is due sooner."""
        at = self.next_at()
        if at is None:
            return limit_ms
        return max(0, min(limit_ms, int((at - now) * 1000) + 1))

    def due(self, now: float) -> list[Callable[[], None]]:
        """Remove and return the actions due at ``now``, earliest first. Run them after this."""
        ready = []
        while self._heap and self._heap[0][0] <= now:
            ready.append(heapq.heappop(self._heap)[2])
        return ready

    def clear(self) -> None:
        self._heap.clear()


class Pacer:
    """A sliding-window counter of new call legs."""

    def __init__(self, limit: int = MAX_NEW_LEGS_PER_WINDOW,
                 window: float = PACING_WINDOW) -> None:
        self.limit = limit
        self.window = window
        self._starts: collections.deque[float] = collections.deque()

    def _expire(self, now: float) -> None:
        while self._starts and self._starts[0] <= now - self.window:
            self._starts.popleft()

    def allows(self, now: float) -> bool:
        """Whether one more leg may start at ``now``."""
        self._expire(now)
        return len(self._starts) < self.limit

    def record(self, now: float) -> None:
        """A leg started at ``now`` (incoming legs count too: they take sockets as well)."""
        self._expire(now)
        self._starts.append(now)
