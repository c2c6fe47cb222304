"""The calls list: caller, callee, start, duration, outcome; the selected call's ladder beside it.

Rules of this module:
- ``CallsModel`` holds the state's calls (oldest first, as LabState keeps them) and updates
  in place: new calls are inserted as a block, changed rows get one dataChanged, so a selection
  survives updates. The running duration of connected calls is refreshed by a 1 s tick.
- By default the view follows the newest call (a checkbox turns that off); selecting a call
  shows its drawn ladder (ui.ladder_view over labpbx.lab.ladder.build_ladder, the facts the
  terminal's text ladder prints) and, for the ladder's selected row, the raw message beside it
  (ui.message_pane). Enter or a double-click on a call opens its routing log.
- The ladder is rebuilt from the call's events when the call changes (the state hands a new
  CallSummary per batch); the ladder view keeps the selected row and follows the end.
- ``show_event(seq)`` selects the call and the ladder row an event made (log → ladder);
  "Export ladder…" writes the shown call as SVG, PNG (the screen's painter) or text.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QEvent,
    QItemSelectionModel,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QFont, QFontDatabase
from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from labpbx.lab.ladder import build_ladder
from labpbx.lab.state import CallPhase, CallSummary
from ui.compact_table import CompactTable
from ui.ladder_export import FORMATS, export
from ui.ladder_view import LadderView
from ui.message_pane import MessagePane
from ui.text import call_outcome_text, clock_text, duration_text

Index = QModelIndex | QPersistentModelIndex
COLUMNS = ("#", "Caller", "Callee", "Start", "Duration", "Outcome")  # headers: see _headers (tr)
DURATION = 4
# Column widths from samples, not ResizeToContents (which measures the rows on every update).
COLUMN_SAMPLES = ("999", "Caller 1000", "Callee 2345678", "00:00:00", "Duration 00:00")


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
        self.table.fit_columns(COLUMN_SAMPLES)
        self.follow = QCheckBox()
        self.follow.setChecked(True)
        self.follow.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.export_button = QPushButton()
        self.export_button.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.export_button.setEnabled(False)
        self.export_button.clicked.connect(self.ask_export)
        self.title = QLabel()
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.ladder = LadderView()
        self.message = MessagePane()
        self.message.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))

        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.table, 1)
        row = QHBoxLayout()
        row.addWidget(self.follow)
        row.addStretch(1)
        row.addWidget(self.export_button)
        left_layout.addLayout(row)
        # The ladder below the list: it is wide (four lanes and the decision notes), the list
        # is short and wide enough for its six columns; the raw message beside the ladder.
        flow = QWidget()
        flow_layout = QVBoxLayout(flow)
        flow_layout.setContentsMargins(0, 0, 0, 0)
        flow_layout.addWidget(self.title)
        flow_layout.addWidget(self.ladder, 1)
        beside = QSplitter(Qt.Orientation.Horizontal)
        beside.addWidget(flow)
        beside.addWidget(self.message)
        beside.setStretchFactor(0, 3)
        beside.setStretchFactor(1, 2)
        beside.setSizes([700, 300])  # scaled to the room: the raw message gets 30 %
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(left)
        splitter.addWidget(beside)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 3)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(splitter)

        self.selected = ""
        self._shown: CallSummary | None = None
        self.table.selectionModel().currentRowChanged.connect(self._on_current)
        self.table.activated.connect(self._on_activated)
        self.ladder.row_selected.connect(self._on_row)
        self._tick = QTimer(self)
        self._tick.setInterval(1000)
        self._tick.timeout.connect(self.model.tick)
        self._tick.start()
        self.retranslate_ui()

    def retranslate_ui(self) -> None:
        self.table.setAccessibleName(self.tr("Calls"))
        self.follow.setText(self.tr("&Follow the newest call"))
        self.follow.setAccessibleName(self.tr("Follow the newest call"))
        self.export_button.setText(self.tr("E&xport ladder…"))
        self.export_button.setAccessibleName(self.tr("Export the ladder as SVG, PNG or text"))
        self.title.setAccessibleName(self.tr("Selected call"))
        self._show_title()

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate_ui()

    def set_fixed_font(self, font: QFont) -> None:
        """The zoomed monospace font (MainWindow.set_zoom): the raw message pane uses it; the
        ladder follows the window's own font."""
        self.message.setFont(font)

    def set_calls(self, calls: tuple[CallSummary, ...]) -> None:
        # The newest call by its Call-ID: once the list is full (the lab keeps a bounded
        # number), a new call no longer changes its length.
        newest = self.model.calls[-1].call_id if self.model.calls else ""
        self.model.set_calls(calls)
        if self.follow.isChecked() and calls and calls[-1].call_id != newest:
            self._select_row(len(calls) - 1)
        self._show_selected()

    def show_event(self, seq: int) -> bool:
        """Select the call event ``seq`` belongs to and its ladder row (the routing log's
        "show in ladder"); False when no kept call has that event."""
        row = next((i for i, c in enumerate(self.model.calls)
                    if c.first_seq <= seq <= c.seq and any(s == seq for s, _e in c.events)), -1)
        if row < 0:
            return False
        if row != len(self.model.calls) - 1:
            self.follow.setChecked(False)  # stay on the call asked for when the next one starts
        self._select_row(row)
        self._show_selected()
        return self.ladder.select_seq(seq)

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

    def _on_row(self, _index: int) -> None:
        self.message.show_row(self.ladder.ladder, self.ladder.selected_row())

    def shown_call(self) -> CallSummary | None:
        return self._shown

    def _show_selected(self) -> None:
        call = next((c for c in reversed(self.model.calls) if c.call_id == self.selected), None)
        if call is self._shown:
            return  # unchanged: keep the reader's place
        self._shown = call
        self.export_button.setEnabled(call is not None)
        self._show_title()
        if call is None:
            self.ladder.set_ladder(None)
            self.message.show_row(None, None)
            return
        self.ladder.set_ladder(build_ladder(call.events, call.call_id))
        self.message.show_row(self.ladder.ladder, self.ladder.selected_row())

    def _show_title(self) -> None:
        call = self._shown
        self.title.setText(self._title(call) if call is not None else "")

    def _title(self, call: CallSummary) -> str:
        title = f"{call.caller} → {call.callee}   {call_outcome_text(call)}"
        if call.detail:
            title += f"   ({call.detail})"
        return title

    # ============================================================== export

    def ask_export(self) -> None:
        call = self._shown
        if call is None or self.ladder.ladder is None:
            return
        number = next((n for c, n in zip(self.model.calls, self.model.numbers, strict=False)
                       if c.call_id == call.call_id), 0)
        filters = [self.tr("SVG image (*.svg)"), self.tr("PNG image (*.png)"),
                   self.tr("Text (*.txt)")]
        path, chosen = QFileDialog.getSaveFileName(
            self, self.tr("Export ladder"), f"call-{number}-ladder.svg", ";;".join(filters))
        if not path:
            return
        target = Path(path)
        if not target.suffix:
            target = target.with_suffix("." + FORMATS[filters.index(chosen)]
                                        if chosen in filters else ".svg")
        try:
            self.export_to(target)
        except OSError as exc:
            QMessageBox.warning(self, self.tr("Export ladder"),
                                self.tr("The ladder could not be saved: %1").replace("%1", str(exc)))

    def export_to(self, path: Path) -> None:
        """Write the shown call's ladder to ``path`` (SVG, PNG or text by its suffix)."""
        call, ladder = self._shown, self.ladder.ladder
        if call is None or ladder is None:
            raise OSError("no call is shown")
        export(path, ladder, [e for _s, e in call.events], self.ladder.font(),
               self.ladder.palette(), title=self._title(call))
