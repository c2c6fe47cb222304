"""The supervisor's dispatcher: one thread that handles queued items and timers, in order.

Rules of this module:
- Items are handled one at a time, in the order they were put, by ``handle`` on the dispatcher
  thread; so is every timer action. State owned by the dispatcher needs no lock of its own.
- Timers (``schedule``) are a heap of deadlines on the monotonic clock plus an external deadline
  (``next_deadline``, e.g. the registration plan's) for which ``tick(now)`` is called; the queue
  wait is bounded by the earliest of them, so nothing polls.
- An exception in a handler is reported through ``on_error`` and the thread carries on: a bug
  in one event's handling must not silence the lab's event stream.
- ``stop()`` handles everything already queued, then ends the thread.
"""

from __future__ import annotations

import heapq
import itertools
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

IDLE_WAIT = 0.5
BURST = 200  # queued items handled in a row before the timers are looked at again

_STOP = object()


class Dispatcher:
    def __init__(self, name: str, handle: Callable[[Any], None],
                 on_error: Callable[[Exception], None], *,
                 next_deadline: Callable[[], float | None] = lambda: None,
                 tick: Callable[[float], None] = lambda _now: None) -> None:
        self._handle = handle
        self._on_error = on_error
        self._next_deadline = next_deadline
        self._tick = tick
        self._queue: queue.Queue[Any] = queue.Queue()
        self._timers: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self.ident: int | None = None

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        if not self._thread.is_alive():
            return
        self._queue.put(_STOP)
        if self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def put(self, item: Any) -> None:
        """Queue ``item`` for ``handle`` (any thread)."""
        self._queue.put(item)

    def schedule(self, delay: float, action: Callable[[], None]) -> None:
        """Run ``action`` after ``delay`` seconds (dispatcher thread only)."""
        heapq.heappush(self._timers, (time.monotonic() + delay, next(self._seq), action))

    def run_all_timers(self) -> None:
        """Run every scheduled action now, due or not (dispatcher thread only; at shutdown)."""
        while self._timers:
            heapq.heappop(self._timers)[2]()

    def _wait(self) -> float:
        when = [self._timers[0][0]] if self._timers else []
        deadline = self._next_deadline()
        if deadline is not None:
            when.append(deadline)
        return max(0.0, min(when) - time.monotonic()) if when else IDLE_WAIT

    def _loop(self) -> None:
        self.ident = threading.get_ident()
        while True:
            try:
                item = self._queue.get(timeout=self._wait())
            except queue.Empty:
                item = None
            if item is _STOP:
                return
            try:
                if item is not None:
                    self._handle(item)
                    # What queued up meanwhile is handled before the timers are looked at
                    # again (bounded, so a flood cannot starve them): the deadline look-ups
                    # cost as much as handling an event when done for each one.
                    for _ in range(BURST):
                        try:
                            item = self._queue.get_nowait()
                        except queue.Empty:
                            break
                        if item is _STOP:
                            return
                        self._handle(item)
                now = time.monotonic()
                while self._timers and self._timers[0][0] <= now:
                    heapq.heappop(self._timers)[2]()
                deadline = self._next_deadline()
                if deadline is not None and deadline <= now:
                    self._tick(now)
            except Exception as exc:
                self._on_error(exc)
