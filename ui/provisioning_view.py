"""The Provisioning tab: the ``usr_preferences`` table (add, edit, delete) and the proxy's timers.

Rules of this module:
- The table shows the rows ``labpbx avp list`` shows, read from the lab's data directory
  (labpbx.lab.provisioning). Writes go through the bridge to a worker thread; the GUI thread
  only reads the small file.
- Live: a QTimer polls the file's (mtime, size, inode) every POLL_MS and reloads only when it
  changed. Why a poll and not QFileSystemWatcher: every write (the CLI's, the proxy's at each
  REGISTER, ours) replaces lab.json atomically with a new inode, and an inotify watch on the
  path stays on the old inode (Qt reports one change, then must be re-armed, and misses a
  replace that happens in between); a watch on the directory fires for every temporary and lock
  file. One ``os.stat`` per tick costs microseconds, behaves the same on every platform and
  with a file that does not exist yet, and a change shows within POLL_MS.
- A file that cannot be read (corrupt, written by a newer LabPBX) is said in the view, the rows
  last shown stay, and nothing is written: the store refuses to build on such a file.
- Timers: fr_timeout and fr_inv_timeout of the running proxy, shown as it reports them (at
  start, and each "timers" event: whoever changed them, this tab or ``labpbx timers``), set
  with Apply (``Lab.set_timers_async``: the proxy keeps running, calls in progress go on).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QEvent, QItemSelectionModel, Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from labpbx.events import ComponentEvent, Event
from labpbx.lab.provisioning import AvpEntry, ProvisioningError, Version
from ui.avp_dialog import AvpDialog
from ui.bridge import LabBridge
from ui.compact_table import CompactTable
from ui.provisioning_model import AvpModel
from ui.text import arg

POLL_MS = 500
TIMER_RANGE = (0.1, 3600.0)  # seconds; the proxy refuses 0
DEFAULT_TIMERS = {"fr_timeout": 30.0, "fr_inv_timeout": 120.0}  # OpenSIPS tm defaults


class ProvisioningView(QWidget):
    rows_changed = Signal()  # the table's rows changed (ours, the CLI's): forwards may differ

    def __init__(self, bridge: LabBridge, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.provisioning = bridge.provisioning
        self.model = AvpModel(self)
        self.dialog: AvpDialog | None = None
        self._version: Version | object = object()  # never equal: the first poll reads
        self._pending: set[str] = set()  # our commands in flight, by name
        self._error_words: Callable[[], str] | None = None  # the problem shown (reworded)
        self._timers: dict[str, float] = {}
        self._timers_running = False  # the values shown are the running proxy's

        self.explain = QLabel()
        self.explain.setWordWrap(True)
        self.explain.setTextFormat(Qt.TextFormat.PlainText)
        self.table = CompactTable()
        self.table.setModel(self.model)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.add_button = QPushButton()
        self.edit_button = QPushButton()
        self.delete_button = QPushButton()
        self.problem = QLabel()
        self.problem.setWordWrap(True)
        self.problem.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.problem.hide()

        self.fr_timeout = self._seconds_box()
        self.fr_inv_timeout = self._seconds_box()
        self.apply_timers = QPushButton()
        self.apply_timers.setEnabled(False)
        self.timers_now = QLabel()
        self.timers_now.setWordWrap(True)
        self._timer_labels = [QLabel(), QLabel()]
        self._timer_labels[0].setBuddy(self.fr_timeout)
        self._timer_labels[1].setBuddy(self.fr_inv_timeout)
        for widget in (self.add_button, self.edit_button, self.delete_button, self.apply_timers):
            widget.setFocusPolicy(Qt.FocusPolicy.StrongFocus)

        buttons = QHBoxLayout()
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.edit_button)
        buttons.addWidget(self.delete_button)
        buttons.addStretch(1)
        self.timers_box = QGroupBox()
        grid = QGridLayout(self.timers_box)
        grid.addWidget(self._timer_labels[0], 0, 0)
        grid.addWidget(self.fr_timeout, 0, 1)
        grid.addWidget(self._timer_labels[1], 0, 2)
        grid.addWidget(self.fr_inv_timeout, 0, 3)
        grid.addWidget(self.apply_timers, 0, 4)
        grid.setColumnStretch(5, 1)
        grid.addWidget(self.timers_now, 1, 0, 1, 6)
        layout = QVBoxLayout(self)
        layout.addWidget(self.explain)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.problem)
        layout.addWidget(self.timers_box)

        self.add_button.clicked.connect(self.add)
        self.edit_button.clicked.connect(self.edit)
        self.delete_button.clicked.connect(self.delete)
        self.table.activated.connect(lambda _index: self.edit())
        delete_key = QShortcut(QKeySequence(QKeySequence.StandardKey.Delete), self.table)
        delete_key.setContext(Qt.ShortcutContext.WidgetShortcut)
        delete_key.activated.connect(self.delete)
        self.apply_timers.clicked.connect(self._apply_timers)
        self.table.selectionModel().selectionChanged.connect(self._update_buttons)
        bridge.command_done.connect(self._on_done)
        bridge.command_failed.connect(self._on_failed)
        bridge.started.connect(self._on_started)
        bridge.stopped.connect(lambda: self.set_lab_running(False))
        bridge.events_added.connect(self.add_events)
        self._poll = QTimer(self)
        self._poll.setInterval(POLL_MS)
        self._poll.timeout.connect(self.refresh)
        self._poll.start()
        self.show_timers(DEFAULT_TIMERS | {k: v for k, v in (
            ("fr_timeout", bridge.config.fr_timeout),
            ("fr_inv_timeout", bridge.config.fr_inv_timeout)) if v is not None}, running=False)
        self.refresh()
        self.retranslate_ui()

    def _seconds_box(self) -> QDoubleSpinBox:
        box = QDoubleSpinBox()
        box.setRange(*TIMER_RANGE)
        box.setDecimals(1)
        box.setSingleStep(1.0)
        box.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        return box

    # ============================================================== texts

    def retranslate_ui(self) -> None:
        self.explain.setText(self.tr(
            "callfwd: for each INVITE the script runs avp_db_load(\"$ru\", \"$avp(callfwd)\"), "
            "which looks up the rows of the Request-URI's user (the domain is not compared). "
            "When one is found, $ru becomes its value and the call goes there instead of to the "
            "phone: an unconditional forward, applied from the next call on."))
        self.table.setAccessibleName(self.tr("usr_preferences rows"))
        self.add_button.setText(self.tr("&New AVP…"))
        self.add_button.setAccessibleName(self.tr("Add an AVP"))
        self.edit_button.setText(self.tr("&Edit…"))
        self.edit_button.setAccessibleName(self.tr("Edit the selected AVP"))
        self.delete_button.setText(self.tr("&Delete"))
        self.delete_button.setAccessibleName(self.tr("Delete the selected AVP"))
        self.problem.setAccessibleName(self.tr("Provisioning problem"))
        self.timers_box.setTitle(self.tr("Proxy timers (tm)"))
        self._timer_labels[0].setText(self.tr("fr_&timeout:"))
        self._timer_labels[1].setText(self.tr("fr_&inv_timeout:"))
        for box in (self.fr_timeout, self.fr_inv_timeout):
            box.setSuffix(self.tr(" s"))
        self.fr_timeout.setAccessibleName(self.tr("fr_timeout in seconds"))
        self.fr_timeout.setToolTip(self.tr("How long a branch waits for a first reply of any "
                                           "kind (RFC 3261 timer B/F)."))
        self.fr_inv_timeout.setAccessibleName(self.tr("fr_inv_timeout in seconds"))
        self.fr_inv_timeout.setToolTip(self.tr("How long an INVITE may ring after its first "
                                               "provisional reply before it counts as not "
                                               "answered (then failure_route runs)."))
        self.apply_timers.setText(self.tr("Appl&y"))
        self.apply_timers.setAccessibleName(self.tr("Apply the timers to the running proxy"))
        self.timers_now.setAccessibleName(self.tr("Timers of the running proxy"))
        self._show_timer_text()
        if self._error_words is not None:
            self.problem.setText("⚠ " + self._error_words())
        self._update_buttons()

    def changeEvent(self, event: QEvent) -> None:  # Qt's name
        super().changeEvent(event)
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate_ui()

    # ============================================================== the table

    def refresh(self) -> None:
        """Reload the rows if the file changed since the last look (one stat otherwise)."""
        version = self.provisioning.version()
        if version == self._version:
            return
        try:
            rows = self.provisioning.rows()
        except ProvisioningError as exc:
            self._version = version  # same broken file: say it once, do not re-parse
            why = str(exc)
            self._show_problem(lambda: arg(self.tr("The table cannot be read: %1"), why))
            return
        self._version = version
        if self._error_words is not None and not self._pending:
            self._show_problem(None)
        selected = self.selected()
        if self.model.set_rows(rows):
            self.rows_changed.emit()
            if selected is not None and self.selected() is None:
                self._select(selected.id)
        self._update_buttons()

    def selected(self) -> AvpEntry | None:
        rows = self.table.selectionModel().selectedRows()
        if not rows or not 0 <= rows[0].row() < len(self.model.rows):
            return None
        return self.model.rows[rows[0].row()]

    def _select(self, row_id: int) -> None:
        row = self.model.row_of(row_id)
        if row >= 0:
            self.table.selectionModel().setCurrentIndex(
                self.model.index(row, 0), QItemSelectionModel.SelectionFlag.ClearAndSelect
                | QItemSelectionModel.SelectionFlag.Rows)

    def _update_buttons(self, *_args: Any) -> None:
        chosen = self.selected() is not None
        self.edit_button.setEnabled(chosen)
        self.delete_button.setEnabled(chosen)

    def add(self) -> None:
        self._open_dialog(None)

    def edit(self) -> None:
        entry = self.selected()
        if entry is not None:
            self._open_dialog(entry)

    def _open_dialog(self, entry: AvpEntry | None) -> None:
        dialog = AvpDialog(entry, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.accepted.connect(lambda: self._save(dialog))
        dialog.finished.connect(lambda _result: self._dialog_closed(dialog))
        self.dialog = dialog
        dialog.open()

    def _dialog_closed(self, dialog: AvpDialog) -> None:
        if self.dialog is dialog:
            self.dialog = None

    def _save(self, dialog: AvpDialog) -> None:
        owner, attribute, type_, value = dialog.values()
        if dialog.entry is None:
            what = self.bridge.add_avp(owner, attribute, type_, value)
        else:
            what = self.bridge.update_avp(dialog.entry.id, owner, attribute, type_, value)
        self._pending.add(what)

    def delete(self) -> None:
        entry = self.selected()
        if entry is not None:
            self._pending.add(self.bridge.delete_avp(entry.id))

    def _on_done(self, what: str, _result: object) -> None:
        if what in self._pending:
            self._pending.discard(what)
            self._show_problem(None)
        self.refresh()

    def _on_failed(self, what: str, why: str) -> None:
        if what in self._pending:
            self._pending.discard(what)
            self._show_problem(lambda: arg(self.tr("%1 failed: %2"), what, why))

    def _show_problem(self, words: Callable[[], str] | None) -> None:
        self._error_words = words
        if words is None:
            self.problem.hide()
            return
        self.problem.setText("⚠ " + words())
        self.problem.show()

    # ============================================================== timers

    def set_lab_running(self, running: bool) -> None:
        self.apply_timers.setEnabled(running)
        if not running:
            self._timers_running = False
            self._show_timer_text()

    def _on_started(self) -> None:
        self.set_lab_running(True)
        timers = self.bridge.timers()
        if timers:
            self.show_timers(timers, running=True)

    def add_events(self, batch: list[tuple[int, Event]]) -> None:
        for _seq, event in batch:
            if (isinstance(event, ComponentEvent) and event.component == "proxy"
                    and event.status in ("timers", "ready")):
                timers = {k: float(v) for k, v in event.extra.items()
                          if k in DEFAULT_TIMERS and isinstance(v, int | float)}
                if timers:
                    self.show_timers(timers, running=True)

    def show_timers(self, timers: dict[str, float], *, running: bool) -> None:
        """Show the timers the proxy runs (or will start with) and put them in the boxes,
        unless the user is typing there."""
        self._timers.update(timers)
        self._timers_running = running
        for name, box in (("fr_timeout", self.fr_timeout), ("fr_inv_timeout", self.fr_inv_timeout)):
            if name in timers and not box.hasFocus():
                box.setValue(timers[name])
        self._show_timer_text()

    def _show_timer_text(self) -> None:
        if not self._timers:
            return
        template = (self.tr("The running proxy uses fr_timeout %1 s and fr_inv_timeout %2 s. "
                            "Changes apply to timers armed from now on; calls in progress go "
                            "on.") if self._timers_running
                    else self.tr("The proxy will start with fr_timeout %1 s and fr_inv_timeout "
                                 "%2 s (the lab is not running)."))
        self.timers_now.setText(arg(template, f"{self._timers.get('fr_timeout', 0):g}",
                                    f"{self._timers.get('fr_inv_timeout', 0):g}"))

    def _apply_timers(self) -> None:
        self._pending.add(self.bridge.set_timers(float(self.fr_timeout.value()),
                                                 float(self.fr_inv_timeout.value())))
