"""The lab, seen from the GUI thread: ``LabBridge`` owns a ``Lab`` and never waits for it.

Rules of this module:
- The GUI thread never blocks on the lab. ``Lab.start()`` and ``Lab.stop()`` wait for child
  processes, so they run on a worker thread and report back through queued signals; commands
  use the ``*_async`` methods and their futures' done-callbacks (which run on whatever thread
  settles them) hand the settled future to the GUI thread through a queued signal, where it is
  read without waiting (``.exception()`` of a done future).
- Events arrive on the lab's dispatcher thread: the subscriber only appends them to a deque.
  A QTimer (≤ 30 Hz) drains it on the GUI thread, takes the lab's state (``lab.snapshot()``:
  the lab's reducer has folded the events already, so the GUI thread never folds them again)
  and emits one ``events_added`` and one ``state_changed`` per batch, so a burst of SIP
  traffic costs the views one update per tick, not one per message.
- The view's state starts from ``lab.snapshot()`` and the subscription starts after its
  position (``subscribe_numbered(after=…)``): no event is missed or folded twice.
- Like ``labpbx lab``, the window's lab answers on its control port (labpbx.lab.control), so
  ``labpbx call 1000 1001`` in a terminal places a call the window shows; and like it, it
  refuses to start a second lab in a data directory where one runs.
"""

from __future__ import annotations

import collections
import contextlib
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, QTimer, Signal, Slot

from labpbx.errors import LabPbxError
from labpbx.events import Event
from labpbx.lab import Lab, LabConfig, LabError
from labpbx.lab.control import ControlServer, lab_state, remove_state, running_lab_pid, write_state
from labpbx.lab.mailboxes import Mailboxes
from labpbx.lab.provisioning import Provisioning, lab_data_dir
from labpbx.lab.script_text import RunningScript
from labpbx.lab.state import LabState, reduce
from ui.text import explain_failure

BATCH_INTERVAL_MS = 33  # ~30 Hz at most: a view is redrawn once per tick, whatever the load

Entry = tuple[int, Event]


class LabBridge(QObject):
    """Starts, drives and stops one lab for the window; every result comes back as a signal."""

    state_changed = Signal(object)  # LabState, after each batch that changed it
    events_added = Signal(object)  # list[tuple[int, Event]], one batch in stream order
    started = Signal()  # every extension registered
    start_failed = Signal(str)  # what went wrong and how to fix it, for people
    stopped = Signal()  # the lab and all its processes are gone
    command_failed = Signal(str, str)  # (what was asked, why it failed)
    command_done = Signal(str, object)  # (what was asked, its result)
    script_applied = Signal(object)  # RunningScript: the proxy runs it (Apply or Revert)
    script_failed = Signal(object)  # why Apply/Revert was not done (ScriptRefused: where)

    # internal: carry results from worker/lab threads to the GUI thread
    _start_result = Signal(object)  # None or an exception
    _stop_result = Signal()
    _settled = Signal(str, object)  # (what, a done Future)
    _script_settled = Signal(object)  # a done Future[RunningScript]

    def __init__(self, config: LabConfig, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.config = config
        self.lab: Lab | None = None
        self.state = LabState()
        self.running = False
        self.stopping = False
        self._queue: collections.deque[Entry] = collections.deque()
        self._unsubscribe: Any = None
        self._control: ControlServer | None = None
        self._control_lock = threading.Lock()  # the start and stop workers hand it over
        self._control_note = ""  # why the control port could not open ("" = it did)
        self._start_result.connect(self._on_start_result, Qt.ConnectionType.QueuedConnection)
        self._stop_result.connect(self._on_stop_result, Qt.ConnectionType.QueuedConnection)
        self._settled.connect(self._on_settled, Qt.ConnectionType.QueuedConnection)
        self._script_settled.connect(self._on_script_settled, Qt.ConnectionType.QueuedConnection)
        # The lab's data (usr_preferences, mailboxes) is files in its data directory: usable
        # with or without a running lab; a running lab hears of each change (on_change).
        self.data_dir = lab_data_dir(config)
        self.provisioning = Provisioning(self.data_dir, on_change=self._avps_changed)
        self.mailboxes = Mailboxes(self.data_dir, mailboxes=config.extensions,
                                   language=config.language, on_change=self._mailbox_changed)
        self._timer = QTimer(self)
        self._timer.setInterval(BATCH_INTERVAL_MS)
        self._timer.timeout.connect(self.drain)

    # ============================================================== life cycle

    def start(self) -> None:
        """Create the lab and start it on a worker thread; returns at once."""
        try:
            lab = Lab(self.config)
        except LabPbxError as exc:
            self._start_result.emit(exc)
            return
        self.lab = lab
        snapshot = lab.snapshot()
        self.state = snapshot.state
        self.state_changed.emit(self.state)
        self._unsubscribe = lab.subscribe_numbered(self._enqueue, after=snapshot.position)
        self._timer.start()
        threading.Thread(target=self._start_worker, args=(lab,), name="ui-lab-start",
                         daemon=True).start()

    def _start_worker(self, lab: Lab) -> None:
        try:
            other = running_lab_pid(lab.data_dir)
            if other is not None:
                raise LabError(f"a lab is already running in {lab.data_dir} (pid {other})")
            lab.start(timeout=20.0)
        except Exception as exc:  # reported in the window, never a traceback
            self._start_result.emit(exc)
            return
        try:
            self._open_control(lab)
        except OSError as exc:  # the lab runs; only `labpbx call` from a terminal cannot reach it
            self._control_note = str(exc)
        self._start_result.emit(None)

    def _open_control(self, lab: Lab) -> None:
        with self._control_lock:
            if self.stopping:  # a close during the start: no control port
                return
            control = ControlServer(lab)
            control.start()
            self._control = control
            write_state(lab.data_dir, lab_state(os.getpid(), control, lab.status()))

    @Slot(object)
    def _on_start_result(self, failure: BaseException | None) -> None:
        if self.stopping:
            return
        if failure is None:
            self.running = True
            self.drain()  # the views show "registered" before "started" is announced
            self.started.emit()
            if self._control_note:
                self.command_failed.emit(self.tr("Control port for labpbx call"),
                                         self._control_note)
            return
        self.start_failed.emit(explain_failure(failure, self.config))

    def stop(self) -> None:
        """Stop the lab on a worker thread; ``stopped`` follows. Safe to call more than once."""
        if self.stopping:
            return
        self.stopping = True
        self.running = False
        lab = self.lab
        if lab is None:
            self._stop_result.emit()
            return
        threading.Thread(target=self._stop_worker, args=(lab,), name="ui-lab-stop",
                         daemon=True).start()

    def _stop_worker(self, lab: Lab) -> None:
        try:
            lab.stop()  # waits for a start in progress, then stops every child
        finally:
            with self._control_lock:
                control, self._control = self._control, None
            if control is not None:
                control.close()
                with contextlib.suppress(OSError):
                    remove_state(lab.data_dir)
            self._stop_result.emit()

    @Slot()
    def _on_stop_result(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self.drain()
        self._timer.stop()
        self.stopped.emit()

    # ============================================================== events

    def _enqueue(self, seq: int, event: Event) -> None:
        # On the lab's dispatcher thread: only hand over (deque.append is thread-safe).
        self._queue.append((seq, event))

    @Slot()
    def drain(self) -> None:
        """Fold what has arrived since the last tick and tell the views (GUI thread)."""
        batch: list[Entry] = []
        while self._queue:
            batch.append(self._queue.popleft())
        if not batch:
            return
        # The lab has folded these events into its own state already (the one reducer, on its
        # dispatcher thread): take that instead of folding them a second time here, which cost
        # the GUI thread ~90 µs per event — half a core at 200 calls/s (bench/bench_window.py).
        # The snapshot may be a few events ahead of this batch; the next tick brings them.
        lab = self.lab
        state = self.state
        if lab is not None:
            state = lab.snapshot().state
        else:
            for seq, event in batch:
                state = reduce(state, seq, event)
        self.events_added.emit(batch)
        if state is not self.state:
            self.state = state
            self.state_changed.emit(state)

    # ============================================================== commands

    def call(self, from_ext: str, to: str) -> None:
        self._submit(self.tr("Call from %1 to %2").replace("%1", from_ext).replace("%2", to),
                     lambda lab: lab.call_async(from_ext, to))

    def set_policy(self, ext: str, policy: str, ring_time: float) -> None:
        self._submit(self.tr("Policy of %1").replace("%1", ext),
                     lambda lab: lab.set_policy_async(ext, policy, ring_time))

    def answer(self, leg: str) -> None:
        self._submit(self.tr("Answer"), lambda lab: lab.answer_async(leg))

    def reject(self, leg: str, code: int) -> None:
        self._submit(self.tr("Reject"), lambda lab: lab.reject_async(leg, code))

    def hangup(self, leg: str) -> None:
        self._submit(self.tr("Hang up"), lambda lab: lab.hangup_async(leg))

    def set_timers(self, fr_timeout: float | None, fr_inv_timeout: float | None) -> str:
        what = self.tr("Timers")
        self._submit(what, lambda lab: lab.set_timers_async(fr_timeout, fr_inv_timeout))
        return what

    def timers(self) -> dict[str, float]:
        """The running proxy's timers (empty before it is up); reads, never waits."""
        return self.lab.timers() if self.lab is not None else {}

    # ============================================================== the lab's data

    def add_avp(self, owner: str, attribute: str, type_: int, value: str) -> str:
        """Add a usr_preferences row (on a worker thread); returns the command's name, which
        ``command_done``/``command_failed`` carry back."""
        return self._submit_data(self.tr("Add AVP"), lambda: self.provisioning.add_async(
            owner, attribute, type_, value))

    def update_avp(self, row_id: int, owner: str, attribute: str, type_: int, value: str) -> str:
        return self._submit_data(self.tr("Edit AVP"), lambda: self.provisioning.update_async(
            row_id, owner, attribute, type_, value))

    def delete_avp(self, row_id: int) -> str:
        return self._submit_data(self.tr("Delete AVP"),
                                 lambda: self.provisioning.delete_async(row_id))

    def mark_heard(self, message_id: str, heard: bool = True) -> str:
        return self._submit_data(self.tr("Mark message heard") if heard
                                 else self.tr("Mark message new"),
                                 lambda: self.mailboxes.mark_heard_async(message_id, heard))

    def delete_message(self, message_id: str) -> str:
        return self._submit_data(self.tr("Delete message"),
                                 lambda: self.mailboxes.delete_async(message_id))

    def replace_greeting(self, mailbox: str, kind: str, source: str) -> str:
        return self._submit_data(self.tr("Replace greeting"),
                                 lambda: self.mailboxes.replace_greeting_async(mailbox, kind,
                                                                               Path(source)))

    def revert_greeting(self, mailbox: str, kind: str) -> str:
        return self._submit_data(self.tr("Revert greeting"),
                                 lambda: self.mailboxes.revert_greeting_async(mailbox, kind))

    def sync_forwarding(self) -> None:
        """The usr_preferences rows changed (e.g. ``labpbx avp`` in a terminal): the running
        lab re-reads its callfwd forwards, so the cards show them (reads a small file)."""
        lab = self.lab
        if lab is not None and self.running:
            lab.sync_forwarding()

    def _avps_changed(self) -> None:
        # On the writing worker thread; the lab's methods are thread-safe and never wait.
        lab = self.lab
        if lab is not None and self.running:
            lab.sync_forwarding()

    def _mailbox_changed(self, mailbox: str) -> None:
        # On the writing worker thread: the box counts again and NOTIFYs the phone (MWI).
        lab = self.lab
        if lab is not None and self.running:
            lab.refresh_mwi(mailbox)

    def _submit_data(self, what: str, send: Callable[[], Future[Any]]) -> str:
        try:
            future = send()
        except LabPbxError as exc:
            self.command_failed.emit(what, str(exc))
            return what
        future.add_done_callback(lambda done: self._settled.emit(what, done))
        return what

    # ============================================================== the routing script

    def running_script(self) -> RunningScript | None:
        """The script the lab's proxy runs (reads a small local file), None without a lab."""
        lab = self.lab
        if lab is None:
            return None
        try:
            return lab.script_text()
        except LabError:
            return None

    def apply_script(self, text: str) -> None:
        """Check, write and reload on the lab's worker; ``script_applied``/``script_failed``."""
        self._submit_script(self.tr("Apply the script"), lambda lab: lab.apply_script_async(text))

    def revert_script(self) -> None:
        self._submit_script(self.tr("Revert to the default script"),
                            lambda lab: lab.revert_script_async())

    def _submit_script(self, what: str, send: Callable[[Lab], Future[RunningScript]]) -> None:
        lab = self.lab
        if lab is None or not self.running:
            failure = LabError(self.tr("the lab is not running"))
            self.command_failed.emit(what, str(failure))
            self.script_failed.emit(failure)
            return
        try:
            future = send(lab)
        except LabPbxError as exc:  # an external proxy: refused before anything is sent
            self.command_failed.emit(what, str(exc))
            self.script_failed.emit(exc)
            return
        future.add_done_callback(lambda done: self._settled.emit(what, done))  # the status bar
        future.add_done_callback(self._script_settled.emit)

    @Slot(object)
    def _on_script_settled(self, future: Future[RunningScript]) -> None:
        failure = future.exception(timeout=0)  # done: returns at once
        if failure is not None:
            self.script_failed.emit(failure)
        else:
            self.script_applied.emit(future.result(timeout=0))

    def _submit(self, what: str, send: Any) -> None:
        lab = self.lab
        if lab is None or not self.running:
            self.command_failed.emit(what, self.tr("the lab is not running"))
            return
        try:
            future: Future[Any] = send(lab)
        except LabPbxError as exc:  # a wrong extension or leg fails before anything is sent
            self.command_failed.emit(what, str(exc))
            return
        # The callback runs on the thread that settles the future (the lab's reader or
        # dispatcher), or here when it is already done: either way the queued signal
        # delivers it to the GUI thread.
        future.add_done_callback(lambda done: self._settled.emit(what, done))

    @Slot(str, object)
    def _on_settled(self, what: str, future: Future[Any]) -> None:
        failure = future.exception(timeout=0)  # done: returns at once
        if failure is not None:
            message = str(failure) if isinstance(failure, LabPbxError) else repr(failure)
            self.command_failed.emit(what, message)
        else:
            self.command_done.emit(what, future.result(timeout=0))
