"""The lab's merged event stream: numbered history, the folded lab state, subscribers, waiting.

Rules of this module:
- Every published event gets the next sequence number (1, 2, …); ``mark()`` returns the last
  one, so "only events after this moment" is ``after=mark``. The history keeps the last
  ``limit`` events with their numbers: a traced call is ~50–100 events of ~1 KB (the raw SIP
  text), so the default bounds a long-running lab to ~20 MB.
- The lab state (labpbx.lab.state) is folded in as each event is recorded, under the same lock:
  ``snapshot()`` is O(1) and returns the state together with the position it belongs to. A view
  that opens late takes a snapshot, then ``subscribe(callback, after=snapshot.position)``: it
  misses and doubles nothing.
- Each subscriber has a cursor (the last number it was given) and is handed events strictly in
  number order, each once. ``subscribe(after=n)`` first replays what the history still holds
  after ``n`` (on the subscribing thread, before it returns), then live events follow on the
  publishing thread; a per-subscriber lock keeps the two from overlapping, the cursor keeps them
  from repeating. When the history was trimmed past ``n`` the subscriber first gets a GapEvent
  saying how many events it lost. Without ``after`` a subscriber starts at the current position.
- Subscribers are called outside the stream's lock, one event at a time; they must not block
  (the publisher waits for them). An exception in a subscriber becomes a ProblemEvent in the
  stream (never for a ProblemEvent about a subscriber, so a broken subscriber cannot loop); so
  does an exception in the reducer, which then leaves the state as it was.
- ``wait_for`` looks at the history first, then waits: no race with the action that causes the
  event. It must not run on the publishing thread (it would wait for itself); the supervisor
  passes that thread's id as ``forbidden``.
"""

from __future__ import annotations

import collections
import itertools
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import NamedTuple

from labpbx.events import Event, GapEvent, ProblemEvent
from labpbx.lab.config import LabError, LabTimeout
from labpbx.lab.state import LabState, reduce

HISTORY_LIMIT = 20_000

Callback = Callable[[Event], None]
NumberedCallback = Callable[[int, Event], None]  # (sequence number, event)
Predicate = Callable[[Event], bool]
Reducer = Callable[[LabState, int, Event], LabState]


class Snapshot(NamedTuple):
    state: LabState
    position: int  # the number of the last event folded into ``state``


@dataclass(eq=False)
class _Subscriber:
    callback: NumberedCallback
    cursor: int  # the number of the last event handed to it
    # re-entrant: a subscriber's failure is published (and handed out) from inside its call
    lock: threading.RLock = field(default_factory=threading.RLock)
    active: bool = True


class EventStream:
    def __init__(self, component: str, limit: int = HISTORY_LIMIT, *,
                 initial: LabState | None = None, reducer: Reducer = reduce) -> None:
        self.component = component  # who reports a failing subscriber
        self.condition = threading.Condition()  # also guards the supervisor's readiness state
        self._history: collections.deque[tuple[int, Event]] = collections.deque(maxlen=limit)
        self._seq = 0
        self._state = initial if initial is not None else LabState()
        # Replaced (never mutated) under the condition after each fold, read without it: a
        # reader on another thread (the window's 30-Hz tick) must not queue for the lock behind
        # the dispatcher, which with the GIL's 5-ms switch interval cost it ~6 ms per read.
        self._snapshot = Snapshot(self._state, self._seq)
        self._reducer = reducer
        self._subscribers: dict[int, _Subscriber] = {}
        self._ids = itertools.count(1)

    def publish(self, event: Event) -> None:
        """Record ``event``, fold it into the state and hand it to every subscriber."""
        failure: Exception | None = None
        with self.condition:
            self._seq += 1
            self._history.append((self._seq, event))
            try:
                self._state = self._reducer(self._state, self._seq, event)
            except Exception as exc:
                failure = exc
            self._snapshot = Snapshot(self._state, self._seq)
            self.condition.notify_all()
            subscribers = list(self._subscribers.values())
        if failure is not None:
            self._report(event, "the lab state reducer failed", failure)
        for subscriber in subscribers:
            self._deliver(subscriber)

    def subscribe(self, callback: Callback, *, after: int | None = None) -> Callable[[], None]:
        """Call ``callback(event)`` for every event after ``after`` (default: from now on);
        returns the unsubscriber. See the module rules for the replay and the gap marker."""
        return self.subscribe_numbered(lambda _seq, event: callback(event), after=after)

    def subscribe_numbered(self, callback: NumberedCallback, *,
                           after: int | None = None) -> Callable[[], None]:
        """Like ``subscribe``, with each event's sequence number: ``callback(seq, event)``. A
        GapEvent comes with the number of the last event it stands for."""
        with self.condition:
            key = next(self._ids)
            subscriber = _Subscriber(callback, self._seq if after is None else after)
            self._subscribers[key] = subscriber
        if after is not None:
            self._deliver(subscriber)  # the replay; live events may already wait on its lock

        def unsubscribe() -> None:
            with self.condition:
                subscriber.active = False
                self._subscribers.pop(key, None)

        return unsubscribe

    def _deliver(self, subscriber: _Subscriber) -> None:
        """Hand ``subscriber`` every recorded event past its cursor, in order, each once."""
        with subscriber.lock:
            with self.condition:
                if not subscriber.active:
                    return
                gap = self._gap(subscriber.cursor)
                pending = list(self._since(subscriber.cursor))
            if gap is not None:
                subscriber.cursor = gap.last_missing
                self._call(subscriber, gap.last_missing, gap)
            for seq, event in pending:
                if seq <= subscriber.cursor or not subscriber.active:
                    continue  # handed out already, by a nested delivery (a failure report)
                subscriber.cursor = seq
                self._call(subscriber, seq, event)

    def _gap(self, cursor: int) -> GapEvent | None:
        """The marker for events after ``cursor`` the history no longer holds; condition held."""
        first = self._history[0][0] if self._history else self._seq + 1
        if first <= cursor + 1:
            return None
        return GapEvent(time.time(), self.component, dropped=first - cursor - 1,
                        first_missing=cursor + 1, last_missing=first - 1)

    def _call(self, subscriber: _Subscriber, seq: int, event: Event) -> None:
        try:
            subscriber.callback(seq, event)
        except Exception as exc:
            if isinstance(event, ProblemEvent) and event.component == self.component:
                return
            self._report(event, "an event subscriber failed", exc)

    def _report(self, event: Event, what: str, exc: Exception) -> None:
        if isinstance(event, ProblemEvent) and event.component == self.component:
            return
        self.publish(ProblemEvent(time.time(), self.component, "error", f"{what}: {exc!r}",
                                  "".join(traceback.format_exception(exc))))

    def snapshot(self) -> Snapshot:
        """The lab state and the position of the last event in it, taken together (one
        attribute read: no lock)."""
        return self._snapshot

    def mark(self) -> int:
        with self.condition:
            return self._seq

    def events(self, after: int = 0) -> list[Event]:
        with self.condition:
            return [e for _seq, e in self._since(after)]

    def entries(self, after: int = 0) -> list[tuple[int, Event]]:
        """The recorded events after ``after`` with their sequence numbers."""
        with self.condition:
            return list(self._since(after))

    def _since(self, seq: int) -> Iterator[tuple[int, Event]]:
        """History entries after ``seq``; call with the condition held."""
        # Numbers in the history are consecutive, so the entries after ``seq`` are its last
        # ``self._seq - seq``. Taken from the right end: a live subscriber wants one or two,
        # and islice from the left walked the whole history (20,000 entries) for each event
        # and subscriber, which was most of the lab's CPU at 200 calls/s.
        wanted = min(self._seq - seq, len(self._history))
        if wanted <= 0:
            return iter(())
        if wanted > len(self._history) // 2:
            return itertools.islice(self._history, len(self._history) - wanted, None)
        tail = list(itertools.islice(reversed(self._history), wanted))
        tail.reverse()
        return iter(tail)

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
