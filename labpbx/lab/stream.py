"""The lab's merged event stream: a bounded history, subscribers, and waiting on events.

Rules of this module:
- One thread publishes (the supervisor's dispatcher), so the history is in one order that every
  subscriber and every ``wait_for`` sees alike. Each event gets a sequence number; ``mark()``
  returns the last one, so "only events after this moment" is ``after=mark``.
- Subscribers are called on the publishing thread, outside the lock, one event at a time. An
  exception in a subscriber becomes a ProblemEvent in the stream (never for a ProblemEvent
  about a subscriber, so a broken subscriber cannot loop).
- ``wait_for`` looks at the history first, then waits: no race with the action that causes the
  event. It must not run on the publishing thread (it would wait for itself); the supervisor
  passes that thread's id as ``forbidden``.
- The history keeps the last ``limit`` events: a traced call is ~50–100 events of ~1 KB (the raw
  SIP text), so the default bounds a long-running lab to ~20 MB.
"""

from __future__ import annotations

import collections
import itertools
import threading
import time
import traceback
from collections.abc import Callable, Iterator

from labpbx.events import Event, ProblemEvent
from labpbx.lab.config import LabError, LabTimeout

HISTORY_LIMIT = 20_000

Callback = Callable[[Event], None]
Predicate = Callable[[Event], bool]


class EventStream:
    def __init__(self, component: str, limit: int = HISTORY_LIMIT) -> None:
        self.component = component  # who reports a failing subscriber
        self.condition = threading.Condition()  # also guards the supervisor's readiness state
        self._history: collections.deque[tuple[int, Event]] = collections.deque(maxlen=limit)
        self._seq = 0
        self._subscribers: dict[int, Callback] = {}
        self._ids = itertools.count(1)

    def publish(self, event: Event) -> None:
        """Record ``event`` and hand it to every subscriber (publishing thread only)."""
        with self.condition:
            self._seq += 1
            self._history.append((self._seq, event))
            self.condition.notify_all()
            subscribers = list(self._subscribers.values())
        for callback in subscribers:
            try:
                callback(event)
            except Exception as exc:
                if isinstance(event, ProblemEvent) and event.component == self.component:
                    continue
                self.publish(ProblemEvent(time.time(), self.component, "error",
                                          f"an event subscriber failed: {exc!r}",
                                          "".join(traceback.format_exception(exc))))

    def subscribe(self, callback: Callback) -> Callable[[], None]:
        """Call ``callback(event)`` for every event from now on; returns the unsubscriber."""
        with self.condition:
            key = next(self._ids)
            self._subscribers[key] = callback

        def unsubscribe() -> None:
            with self.condition:
                self._subscribers.pop(key, None)

        return unsubscribe

    def mark(self) -> int:
        with self.condition:
            return self._seq

    def events(self, after: int = 0) -> list[Event]:
        with self.condition:
            return [e for _seq, e in self._since(after)]

    def _since(self, seq: int) -> Iterator[tuple[int, Event]]:
        """History entries after ``seq``; call with the condition held."""
        if not self._history:
            return iter(())
        skip = max(0, seq - self._history[0][0] + 1)
        return itertools.islice(self._history, skip, None)

    def wait_for(self, predicate: Predicate, timeout: float, *, after: int = 0,
                 forbidden: int | None = None) -> Event:
        """The first event after ``after`` matching ``predicate``; LabTimeout if none comes."""
        if forbidden is not None and threading.get_ident() == forbidden:
            raise LabError("wait_for cannot run inside an event callback (it would wait for "
                           "itself)")
        deadline = time.monotonic() + timeout
        seen = after
        with self.condition:
            while True:
                for seq, event in self._since(seen):
                    seen = seq
                    if predicate(event):
                        return event
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise LabTimeout(f"no matching event within {timeout:g} s")
                self.condition.wait(remaining)
