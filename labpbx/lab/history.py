"""The call history (the ``calls`` table): one row per call through the lab proxy, placed by a
lab phone or by a softphone registered with the lab.

Rules of this module:
- The dispatcher thread indexes the events of calls in progress (``index``) and, a moment after
  the caller's leg has ended, asks for the row (``finish``): the proxy's last events of a call
  may arrive after the phone's, through another pipe. A call without a lab phone as caller is
  finished from the proxy's trace (``finish_if_over``). The outcome is labpbx.lab.calls' verdict.
- Rows are written by this module's own thread, so a slow or locked database never stalls the
  event stream; a row that cannot be written becomes a warning (``report``), not an exception.
- Bounded: at most ``CALL_INDEX_LIMIT`` calls are indexed at a time (the oldest are dropped), and
  a call's events are released once its row is queued.
- ``stop()`` writes every queued row before it returns.
- Rows that queue up while a write is under way go into the next transaction together, and the
  table keeps the newest ``CALL_HISTORY_LIMIT`` calls (labpbx.store.db): the file is rewritten
  whole on each write, so one write per call and an unbounded table made every write slower.
"""

from __future__ import annotations

import collections
import queue
import threading
import time
from collections.abc import Callable

from labpbx.errors import LabPbxError
from labpbx.events import Event, ProblemEvent
from labpbx.lab.calls import call_is_over, summarize_call
from labpbx.store.db import LabStore
from labpbx.store.records import CallRow

CALL_INDEX_LIMIT = 200
FINISH_DELAY = 0.5  # seconds between the caller's hang-up and the row
WRITE_BATCH = 500  # rows written in one transaction at most
WRITE_INTERVAL = 1.0  # seconds between two writes at least (see _write_loop)

_STOP = object()


class CallHistory:
    def __init__(self, store: Callable[[], LabStore], report: Callable[[Event], None],
                 component: str = "lab") -> None:
        self._store = store
        self._report = report
        self._component = component
        self._calls: collections.OrderedDict[str, list[Event]] = collections.OrderedDict()
        self._written: collections.deque[str] = collections.deque(maxlen=CALL_INDEX_LIMIT)
        self._rows: queue.Queue[object] = queue.Queue()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._write_loop, name="lab-history",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._rows.put(_STOP)
            self._thread.join(10.0)
            self._thread = None

    def index(self, event: Event) -> None:
        """Remember an event of a call (one that has a Call-ID); dispatcher thread."""
        call_id = getattr(event, "call_id", "")
        if not call_id:
            return
        events = self._calls.get(call_id)
        if events is None:
            events = self._calls[call_id] = []
            while len(self._calls) > CALL_INDEX_LIMIT:
                self._calls.popitem(last=False)
        events.append(event)

    def finish_if_over(self, call_id: str) -> None:
        """Queue the row if the call's events say it has ended (``calls.call_is_over``)."""
        events = self._calls.get(call_id)
        if events and call_id not in self._written and call_is_over(events, call_id):
            self.finish(call_id)

    def finish(self, call_id: str) -> None:
        """The call is over: queue its row (once); dispatcher thread."""
        if call_id in self._written:
            return
        summary = summarize_call(self._calls.pop(call_id, []), call_id)
        if summary is None:
            return
        self._written.append(call_id)
        self._rows.put(CallRow(0, summary.call_id, summary.caller, summary.callee,
                               summary.started_at, summary.ended_at, summary.outcome,
                               summary.detail))

    def _write_loop(self) -> None:
        last_write = -WRITE_INTERVAL
        while True:
            first = self._rows.get()
            batch = [first]
            # At most one write per WRITE_INTERVAL: each rewrites (and first re-checks) the whole
            # file, ~20-50 ms of CPU with a full history, taken from the lab's (and the window's)
            # GIL. A lone call's row still goes at once; under sipp load rows go in batches.
            if first is not _STOP:
                deadline = last_write + WRITE_INTERVAL
                while len(batch) < WRITE_BATCH:
                    wait = deadline - time.monotonic()
                    try:
                        item = self._rows.get(timeout=wait) if wait > 0 else self._rows.get_nowait()
                    except queue.Empty:
                        break
                    batch.append(item)
                    if item is _STOP:
                        break
            rows = [row for row in batch if isinstance(row, CallRow)]
            if rows:
                self._write(rows)
                last_write = time.monotonic()
            if any(row is _STOP for row in batch):
                return

    def _write(self, rows: list[CallRow]) -> None:
        try:
            self._store().calls_add_many(rows)
        except ValueError:  # one malformed row must not cost the others: one by one
            for row in rows:
                try:
                    self._store().calls_add(row)
                except (LabPbxError, ValueError, OSError) as exc:
                    self._warn([row], exc)
        except (LabPbxError, OSError) as exc:
            self._warn(rows, exc)

    def _warn(self, rows: list[CallRow], exc: Exception) -> None:
        ids = ", ".join(row.call_id for row in rows[:3])
        more = f" and {len(rows) - 3} more" if len(rows) > 3 else ""
        self._report(ProblemEvent(time.time(), self._component, "warning",
                                  f"call {ids}{more} not added to the history: {exc}"))
