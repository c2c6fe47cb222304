"""Commands to a child and the ack that answers them, matched by id.

Rules of this module:
- Every component answers a command that carries an ``"id"`` with exactly one ComponentEvent of
  status "ack" or "error" whose ``extra.id`` is that id (labpbx.phones.process,
  labpbx.lab.proxy_child). ``resolve`` is called on the child's *reader* thread, before the
  event is queued for the dispatcher, so a command sent from inside an event callback (the
  dispatcher thread) is answered without waiting for the dispatcher.
- A child that exits answers nothing: ``child_gone`` releases every command still waiting on it
  (LabError "exited before answering"), ``cancel_all`` every command when the lab stops.
- Ids of commands the supervisor sends for itself (the registration plan) start with
  ``INTERNAL_PREFIX`` and nobody waits for them; their acks are not shown in the stream.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from labpbx.events import ComponentEvent
from labpbx.lab.children import ChildGone, ChildProcess
from labpbx.lab.config import LabError, LabTimeout

INTERNAL_PREFIX = "int-"


@dataclass
class _Waiting:
    child: str
    done: threading.Event
    answer: ComponentEvent | None = None


class Acks:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiting: dict[str, _Waiting] = {}
        self._ids = itertools.count(1)

    def internal_id(self) -> str:
        """An id for a fire-and-forget command (its ack is hidden, its error shown)."""
        return f"{INTERNAL_PREFIX}{next(self._ids)}"

    @staticmethod
    def is_internal(event: ComponentEvent) -> bool:
        return str(event.extra.get("id", "")).startswith(INTERNAL_PREFIX)

    def request(self, child: ChildProcess, payload: Mapping[str, Any],
                timeout: float) -> ComponentEvent:
        """Send ``payload`` to ``child`` and wait for its ack; LabError on error, exit or
        timeout (``.component`` = the child)."""
        command_id = f"lab-{next(self._ids)}"
        waiting = _Waiting(child.name, threading.Event())
        cmd = payload.get("cmd")
        with self._lock:
            self._waiting[command_id] = waiting
        try:
            try:
                child.send({**payload, "id": command_id})
            except ChildGone:
                raise LabError(f"{child.name} is not running", child.name) from None
            if not waiting.done.wait(timeout):
                raise LabTimeout(f"{child.name} did not answer {cmd!r} within {timeout:g} s",
                                 child.name)
        finally:
            with self._lock:
                self._waiting.pop(command_id, None)
        answer = waiting.answer
        if answer is None:
            raise LabError(f"{child.name} exited before answering {cmd!r}", child.name)
        if answer.status == "error":
            raise LabError(f"{child.name}: {answer.detail}", child.name)
        return answer

    def resolve(self, event: ComponentEvent) -> None:
        """An ack/error from a child (reader thread): wake the command waiting for it."""
        command_id = event.extra.get("id")
        if not isinstance(command_id, str):
            return
        with self._lock:
            waiting = self._waiting.get(command_id)
        if waiting is not None:
            waiting.answer = event
            waiting.done.set()

    def child_gone(self, name: str) -> None:
        with self._lock:
            stranded = [w for w in self._waiting.values() if w.child == name]
        for waiting in stranded:
            waiting.done.set()

    def cancel_all(self) -> None:
        with self._lock:
            stranded = list(self._waiting.values())
        for waiting in stranded:
            waiting.done.set()
