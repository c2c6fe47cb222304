"""Commands to a child and the ack that answers them, matched by id, as futures.

Rules of this module:
- Every component answers a command that carries an ``"id"`` with exactly one ComponentEvent of
  status "ack" or "error" whose ``extra.id`` is that id (labpbx.phones.process,
  labpbx.lab.proxy_child). ``resolve`` is called on the child's *reader* thread, before the
  event is queued for the dispatcher, so a command sent from inside an event callback (the
  dispatcher thread) is answered without waiting for the dispatcher.
- ``submit`` sends and returns at once with a ``concurrent.futures.Future``: its result is the
  ack, its exception a LabError (``.component`` = the child) for an error answer, a child that
  is not running, exits before answering (``child_gone``), a lab that stops (``cancel_all``) or
  no answer by the deadline (LabTimeout, from ``expire``, which the supervisor's dispatcher
  calls at ``next_deadline()``). ``request`` is the blocking form: it waits on the future itself,
  so it needs no dispatcher. The future's callbacks run on the thread that settles it (a reader
  thread, the dispatcher, the caller): they must be short.
- Answers are plumbing, not news: the supervisor keeps every answer to a command of its own
  (``is_answer``: ids it made, "lab-…" for its users' commands, "int-…" for the registration
  plan's) off the public stream; a refused command reaches its caller through the future.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Mapping
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any

from labpbx.events import ComponentEvent
from labpbx.lab.children import ChildGone, ChildProcess
from labpbx.lab.config import LabError, LabTimeout

INTERNAL_PREFIX = "int-"
COMMAND_PREFIX = "lab-"
ANSWERS = ("ack", "error")


@dataclass(eq=False)
class _Pending:
    child: str
    cmd: str
    timeout: float
    deadline: float  # monotonic
    future: Future[ComponentEvent]


class Acks:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[str, _Pending] = {}
        self._deadlines: list[tuple[float, str]] = []  # heap; entries of settled ids are stale
        self._ids = itertools.count(1)

    def internal_id(self) -> str:
        """An id for a fire-and-forget command (its ack is hidden, its error reported)."""
        return f"{INTERNAL_PREFIX}{next(self._ids)}"

    @staticmethod
    def is_internal(event: ComponentEvent) -> bool:
        return str(event.extra.get("id", "")).startswith(INTERNAL_PREFIX)

    @staticmethod
    def is_answer(event: ComponentEvent) -> bool:
        """Whether ``event`` answers a command the lab sent (an id this class made)."""
        return event.status in ANSWERS and str(event.extra.get("id", "")).startswith(
            (INTERNAL_PREFIX, COMMAND_PREFIX))

    def submit(self, child: ChildProcess, payload: Mapping[str, Any],
               timeout: float) -> Future[ComponentEvent]:
        """Send ``payload`` to ``child``; returns at once, the future settles on the answer."""
        return self._submit(child, payload, timeout)[1]

    def _submit(self, child: ChildProcess, payload: Mapping[str, Any],
                timeout: float) -> tuple[str, Future[ComponentEvent]]:
        command_id = f"{COMMAND_PREFIX}{next(self._ids)}"
        future: Future[ComponentEvent] = Future()
        future.set_running_or_notify_cancel()  # sent: too late to cancel it
        pending = _Pending(child.name, str(payload.get("cmd")), timeout,
                           time.monotonic() + timeout, future)
        with self._lock:
            self._pending[command_id] = pending
            heapq.heappush(self._deadlines, (pending.deadline, command_id))
        try:
            child.send({**payload, "id": command_id})
        except ChildGone:
            self._settle(command_id, LabError(f"{child.name} is not running", child.name))
        return command_id, future

    def request(self, child: ChildProcess, payload: Mapping[str, Any],
                timeout: float) -> ComponentEvent:
        """Send ``payload`` to ``child`` and wait for its ack; LabError on error, exit or
        timeout (``.component`` = the child)."""
        command_id, future = self._submit(child, payload, timeout)
        try:
            return future.result(timeout)
        except FutureTimeout:
            self._time_out(command_id)
            return future.result(0)  # LabTimeout, or the answer that came just in time

    def resolve(self, event: ComponentEvent) -> None:
        """An ack/error from a child (reader thread): settle the command waiting for it."""
        command_id = event.extra.get("id")
        if not isinstance(command_id, str):
            return
        if event.status == "error":
            self._settle(command_id, LabError(f"{event.component}: {event.detail}",
                                              event.component))
        else:
            self._settle(command_id, event)

    def child_gone(self, name: str) -> None:
        with self._lock:
            stranded = [(i, p) for i, p in self._pending.items() if p.child == name]
        for command_id, pending in stranded:
            self._settle(command_id, LabError(f"{name} exited before answering "
                                              f"{pending.cmd!r}", name))

    def cancel_all(self) -> None:
        with self._lock:
            stranded = list(self._pending.items())
        for command_id, pending in stranded:
            self._settle(command_id, LabError(f"the lab stopped before {pending.child} "
                                              f"answered {pending.cmd!r}", pending.child))

    def next_deadline(self) -> float | None:
        """When the earliest command still waiting times out (monotonic), or None."""
        with self._lock:
            while self._deadlines and self._deadlines[0][1] not in self._pending:
                heapq.heappop(self._deadlines)
            return self._deadlines[0][0] if self._deadlines else None

    def expire(self, now: float) -> None:
        """Fail every command whose deadline is at or before ``now`` with LabTimeout."""
        due: list[tuple[str, _Pending]] = []
        with self._lock:
            while self._deadlines and (self._deadlines[0][0] <= now
                                       or self._deadlines[0][1] not in self._pending):
                _deadline, command_id = heapq.heappop(self._deadlines)
                pending = self._pending.get(command_id)
                if pending is not None and pending.deadline <= now:
                    due.append((command_id, pending))
        for command_id, _pending in due:
            self._time_out(command_id)

    def _time_out(self, command_id: str) -> None:
        with self._lock:
            pending = self._pending.get(command_id)
        if pending is not None:
            self._settle(command_id, LabTimeout(
                f"{pending.child} did not answer {pending.cmd!r} within {pending.timeout:g} s",
                pending.child))

    def _settle(self, command_id: str, outcome: ComponentEvent | LabError) -> None:
        with self._lock:
            pending = self._pending.pop(command_id, None)
        if pending is None:
            return  # answered already (a late ack after a timeout, say)
        if isinstance(outcome, LabError):
            pending.future.set_exception(outcome)
        else:
            pending.future.set_result(outcome)
