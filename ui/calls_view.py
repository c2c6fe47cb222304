"""The calls list: caller, callee, start, duration, outcome; the selected call's ladder beside it.

Rules of this module:
- ``CallsModel`` holds the state's calls (oldest first, as LabState keeps them) and updates
  in place: new calls are inserted as a block, changed rows get one dataChanged, so a selection
  survives updates. The running duration of connected calls is refreshed by a 1 s tick.
- By default the view follows the newest call (a checkbox turns that off); selecting a call
  shows its text ladder (labpbx.lab.ladder), the same renderer as the terminal's; Enter or a
  double-click on it opens its routing log.
"""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QItemSelectionModel,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QHBoxLayout,
    QHeaderView,
    QPlainTextEdit,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from labpbx.lab.ladder import render_ladder
from labpbx.lab.state import CallPhase, CallSummary
from ui.compact_table import CompactTable
from ui.text import call_outcome_text, clock_text, duration_text

Index = QModelIndex | QPersistentModelIndex
COLUMNS = ("#", "Caller", "Callee", "Start", "Duration", "Outcome")  # headers: see _headers (tr)
DURATION = 4


class CallsModel(QAbstractTableModel):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.calls: tuple[CallSummary, ...] = ()
        self.numbers: list[int] = []  # a call's number in this window, stable while it is kept
        self._next = 1

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.calls)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return self._headers()[section]
        return None

    def _headers(self) -> tuple[str, ...]:
        # Spelled out so that pyside6-lupdate finds each header.
        return (self.tr("#"), self.tr("Caller"), self.tr("Callee"), self.tr("Start"),
                self.tr("Duration"), self.tr("Outcome"))

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or role not in (Qt.ItemDataRole.DisplayRole,
                                                Qt.ItemDataRole.ToolTipRole):
            return None
        call = self.calls[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.ToolTipRole:
            return call.detail or call.call_id
        if column == 0:
            return str(self.numbers[index.row()])
        if column == 1:
            return call.caller
        if column == 2:
            return call.callee
        if column == 3:
            return clock_text(call.started_at)
        if column == DURATION:
            if call.answered_at is None:
                return "—"
            end = call.ended_at if call.ended_at is not None else time.time()
            return duration_text(end - call.answered_at)
        return call_outcome_text(call)

    def set_calls(self, calls: tuple[CallSummary, ...]) -> None:
        """The state's calls: append the new ones, refresh the changed ones."""
        old = self.calls
        same = len(calls) >= len(old) and all(
            a.call_id == b.call_id for a, b in zip(old, calls, strict=False))
        if not same:  # the bounded list dropped old calls: renumber what is left
            self.beginResetModel()
            self.calls = calls
            self.numbers = [self._next_number() for _c in calls] if not old else (
                self._keep_numbers(old, calls))
            self.endResetModel()
            return
        changed = [i for i, (a, b) in enumerate(zip(old, calls, strict=False)) if a is not b]
        if len(calls) > len(old):
            self.beginInsertRows(QModelIndex(), len(old), len(calls) - 1)
            self.calls = calls
            self.numbers.extend(self._next_number() for _c in calls[len(old):])
            self.endInsertRows()
        else:
            self.calls = calls
        if changed:
            self.dataChanged.emit(self.index(min(changed), 0),
                                  self.index(max(changed), len(COLUMNS) - 1))

    def _next_number(self) -> int:
        number, self._next = self._next, self._next + 1
        return number

    def _keep_numbers(self, old: tuple[CallSummary, ...],
                      calls: tuple[CallSummary, ...]) -> list[int]:
        known = {c.call_id: n for c, n in zip(old, self.numbers, strict=True)}
        return [known.get(c.call_id) or self._next_number() for c in calls]

    def tick(self) -> None:
        """Refresh the running durations (once a second)."""
        live = [i for i, c in enumerate(self.calls) if c.phase is CallPhase.CONNECTED]
        if live:
            self.dataChanged.emit(self.index(min(live), DURATION), self.index(max(live), DURATION))


class CallsView(QWidget):
    call_selected = Signal(str)  # Call-ID ("" when none)
    call_activated = Signal(str)  # Enter or double-click on a call: show its routing log

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = CallsModel(self)
        self.table = CompactTable()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().hide()
        self.table.setWordWrap(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setAccessibleName(self.tr("Calls"))
        self.table.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.follow = QCheckBox(self.tr("Follow the newest call"))
        self.follow.setChecked(True)
        self.follow.setAccessibleName(self.tr("Follow the newest call"))
        self.follow.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.ladder = QPlainTextEdit()
        self.ladder.setReadOnly(True)
        self.ladder.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.ladder.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.ladder.setAccessibleName(self.tr("Ladder of the selected call"))
        self.ladder.setPlaceholderText(self.tr("Select a call to see its messages and decisions."))
        self.ladder.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.ladder.setTabChangesFocus(True)

        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.table, 1)
        row = QHBoxLayout()
        row.addWidget(self.follow)
        row.addStretch(1)
        left_layout.addLayout(row)
        # The ladder below the list: it is wide (four lanes and the decision notes), the list
        # is short and wide enough for its six columns.
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(left)
        splitter.addWidget(self.ladder)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(splitter)

        self.selected = ""
        self._shown: CallSummary | None = None
        self.table.selectionModel().currentRowChanged.connect(self._on_current)
        self.table.activated.connect(self._on_activated)
        self._tick = QTimer(self)
        self._tick.setInterval(1000)
        self._tick.timeout.connect(self.model.tick)
        self._tick.start()

    def set_calls(self, calls: tuple[CallSummary, ...]) -> None:
        before = len(self.model.calls)
        self.model.set_calls(calls)
        if self.follow.isChecked() and calls and len(calls) != before:
            self._select_row(len(calls) - 1)
        self._show_selected()

    def _select_row(self, row: int) -> None:
        index = self.model.index(row, 0)
        self.table.selectionModel().setCurrentIndex(
            index, QItemSelectionModel.SelectionFlag.ClearAndSelect
            | QItemSelectionModel.SelectionFlag.Rows)
        self.table.scrollTo(index)

    def _on_current(self, current: QModelIndex, _previous: QModelIndex) -> None:
        self.selected = (self.model.calls[current.row()].call_id
                         if current.isValid() and current.row() < len(self.model.calls) else "")
        self.call_selected.emit(self.selected)
        self._show_selected()

    def _on_activated(self, index: QModelIndex) -> None:
        if index.isValid() and index.row() < len(self.model.calls):
            self.call_activated.emit(self.model.calls[index.row()].call_id)

    def _show_selected(self) -> None:
        call = next((c for c in reversed(self.model.calls) if c.call_id == self.selected), None)
        if call is self._shown:
            return  # unchanged: keep the reader's scroll position
        self._shown = call
        if call is None:
            self.ladder.setPlainText("")
            return
        title = f"{call.caller} → {call.callee}   {call_outcome_text(call)}"
        if call.detail:
            title += f"   ({call.detail})"
        bar = self.ladder.verticalScrollBar()
        at_end = bar.value() >= bar.maximum() - 2
        self.ladder.setPlainText(render_ladder([e for _s, e in call.events], call.call_id,
                                               title=title))
        if at_end:
            bar.setValue(bar.maximum())
