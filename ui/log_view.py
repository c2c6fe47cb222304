"""The routing log: every routing decision and xlog line of all calls, live, filterable by call,
level and text; with the lab's problems (a refused command, a process that died and restarted).

Rules of this module:
- ``LogModel`` keeps at most ``limit`` rows (a deque); when older rows go, a first row says how
  many were dropped, so a reader knows the log does not reach back to the start. A GapEvent from
  the lab (its own history was trimmed) adds the same kind of marker row.
- Rows arrive in batches (one beginInsertRows per batch) from the bridge's timer.
- Filtering is a QSortFilterProxyModel; the marker rows always pass, so the "dropped" notice
  stays visible whatever the filter.
- Headers and marker rows are worded when shown (tr in headerData/data), so on LanguageChange
  the view's ``retranslate_ui`` only has the model announce them changed. Levels, routes, xlog
  lines and SIP text are the lab's own words, never translated.
- A decision or xlog row leads to its line in the Script tab: Ctrl+J or the context menu emits
  ``script_line_requested(line)``; the main window switches tabs. Enter or a double-click on
  such a row emits ``ladder_row_requested(seq)``: the Calls tab shows the call, at that row.
"""

from __future__ import annotations

import collections
import time
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QEvent,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QAction, QFontDatabase, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from labpbx.events import ComponentEvent, Event, GapEvent, ProblemEvent, RouteDecisionEvent, XlogEvent
from labpbx.lab.state import CallSummary
from ui.compact_table import CompactTable
from ui.text import arg, clock_text

Index = QModelIndex | QPersistentModelIndex
LOG_LIMIT = 5000
CHOICES_INTERVAL = 1.0  # seconds between two rebuilds of the call chooser
COLUMNS = ("Time", "Call", "Level", "Where", "What")  # headers: see _headers (tr)
# Widths of all but the last column: the widest usual content (longer text is elided, with the
# whole line in the tooltip); fixed, since measuring the rows on each batch stalls a live log.
COLUMN_SAMPLES = ("00:00:00.000", "99: 1000→2345678", "warning", "failure_route[missed_call]:999")

# Level filter choices: (label, predicate on a row's kind and numeric level)
ALL, DECISIONS, XLOG, WARNINGS = "all", "decision", "xlog", "warnings"
L_WARN = 1  # OpenSIPS levels: L_ALERT -3 … L_ERR -1, L_WARN 1, L_NOTICE 2, L_INFO 3, L_DBG 4


@dataclass(frozen=True, slots=True)
class LogRow:
    seq: int
    time: float
    call_id: str
    kind: str  # "decision" | "xlog" | "problem" | "marker" (this log dropped) | "gap" (the lab)
    level: int  # xlog's numeric level; decisions 3 (info), problems -1/1
    level_name: str
    where: str  # "failure_route[missed_call]:182"
    text: str
    dropped: int = 0  # a marker's or gap's count of events gone (worded by LogModel.data)


MARKERS = ("marker", "gap")


def row_of(seq: int, event: Event) -> LogRow | None:
    """The log row for an event, or None for the events the routing log does not show."""
    if isinstance(event, RouteDecisionEvent):
        text = event.action
        if event.before or event.after:
            text += f"  {event.before} → {event.after}"
        if event.reason:
            text += f"  ({event.reason})"
        return LogRow(seq, event.time, event.call_id, "decision", 3, "decision",
                      f"{event.route}:{event.line}", text)
    if isinstance(event, XlogEvent):
        return LogRow(seq, event.time, event.call_id, "xlog", event.level,
                      event.level_name, f"{event.route}:{event.line}", event.text)
    if isinstance(event, ProblemEvent):
        level = -1 if event.severity == "error" else L_WARN
        return LogRow(seq, event.time, "", "problem", level, event.severity, event.component,
                      event.message)
    if isinstance(event, ComponentEvent) and event.status in ("exited", "failed", "restarted"):
        # A process that died (and its restart) is part of why calls went as they did.
        level = L_WARN if event.status == "restarted" else -1
        return LogRow(seq, event.time, "", "problem", level,
                      "warning" if level == L_WARN else "error", event.component,
                      f"{event.status}: {event.detail}" if event.detail else event.status)
    if isinstance(event, GapEvent):
        return LogRow(seq, event.time, "", "gap", 0, "", "", "", event.dropped)
    return None


class LogModel(QAbstractTableModel):
    def __init__(self, limit: int = LOG_LIMIT, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.limit = limit
        self.rows: collections.deque[LogRow] = collections.deque()
        self.dropped = 0  # rows this model let go (shown in the first row)
        self.call_names: dict[str, str] = {}

    def _marker_rows(self) -> int:
        return 1 if self.dropped else 0

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.rows) + self._marker_rows()

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return self._headers()[section]
        return None

    def row(self, index: int) -> LogRow:
        if self.dropped and index == 0:
            return LogRow(0, 0.0, "", "marker", 0, "", "", "", self.dropped)
        return self.rows[index - self._marker_rows()]

    def _headers(self) -> tuple[str, ...]:
        # Spelled out so that pyside6-lupdate finds each header.
        return (self.tr("Time"), self.tr("Call"), self.tr("Level"), self.tr("Where"), self.tr("What"))

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or role not in (Qt.ItemDataRole.DisplayRole,
                                                Qt.ItemDataRole.ToolTipRole):
            return None
        row = self.row(index.row())
        column = index.column()
        if row.kind in MARKERS:
            if column == len(COLUMNS) - 1:
                return self._marker_text(row)
            return "⋯" if column == 0 and role == Qt.ItemDataRole.DisplayRole else None
        if role == Qt.ItemDataRole.ToolTipRole:  # the whole line, where the column elides it
            return row.text if column == len(COLUMNS) - 1 else None
        if column == 0:
            return clock_text(row.time)
        if column == 1:
            return self.call_names.get(row.call_id, row.call_id[:8])
        if column == 2:
            return self._level_word(row.level_name)
        if column == 3:
            return row.where
        return row.text

    def _level_word(self, name: str) -> str:
        """The lab's own level words in the window's language; xlog's L_* names as they are."""
        if name == "decision":
            return self.tr("decision")
        if name == "warning":
            return self.tr("warning")
        if name == "error":
            return self.tr("error")
        return name

    def _marker_text(self, row: LogRow) -> str:
        if row.kind == "gap":
            return arg(self.tr("%1 older events dropped by the lab"), row.dropped)
        return arg(self.tr("… %1 older events dropped …"), row.dropped)

    def retranslate(self) -> None:
        """The language changed: headers and marker rows read their words again."""
        self.headerDataChanged.emit(Qt.Orientation.Horizontal, 0, len(COLUMNS) - 1)
        if self.rowCount():
            self.dataChanged.emit(self.index(0, 0), self.index(self.rowCount() - 1, len(COLUMNS) - 1))

    def add_events(self, batch: list[tuple[int, Event]]) -> None:
        new = [r for r in (row_of(seq, e) for seq, e in batch) if r is not None]
        if not new:
            return
        lost = max(0, len(new) - self.limit)  # a burst longer than the log: only its end
        new = new[lost:]
        start = self.rowCount()
        self.beginInsertRows(QModelIndex(), start, start + len(new) - 1)
        self.rows.extend(new)
        self.endInsertRows()
        excess = len(self.rows) - self.limit
        if excess > 0:
            first = self._marker_rows()
            self.beginRemoveRows(QModelIndex(), first, first + excess - 1)
            for _ in range(excess):
                self.rows.popleft()
            self.endRemoveRows()
            lost += excess
        if not lost:
            return
        if self.dropped:
            self.dropped += lost
            self.dataChanged.emit(self.index(0, 0), self.index(0, len(COLUMNS) - 1))
        else:
            self.beginInsertRows(QModelIndex(), 0, 0)
            self.dropped = lost
            self.endInsertRows()

    def set_calls(self, calls: tuple[CallSummary, ...], numbers: list[int]) -> bool:
        """Name the calls as the calls list does ("3: 1000 → 1001"); whether a name changed.

        No dataChanged: the names are read at paint time and take no part in the filter, so
        the view only has to repaint what it shows (LogView does); a dataChanged per batch made
        the filter proxy re-map its rows, ~13 ms a batch with a full log."""
        names = {c.call_id: f"{n}: {c.caller}→{c.callee}"
                 for c, n in zip(calls, numbers, strict=False)}
        if all(self.call_names.get(k) == v for k, v in names.items()):
            return False
        # A call that left the calls list keeps its name here (its rows still show it);
        # names of calls no longer in the log are let go now and then.
        self.call_names.update(names)
        if len(self.call_names) > 2 * len(names) + 100:
            present = {row.call_id for row in self.rows}
            self.call_names = {k: v for k, v in self.call_names.items()
                               if k in present or k in names}
        return True


class LogFilter(QSortFilterProxyModel):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.call_id = ""
        self.level = ALL
        self.text = ""

    def set_filter(self, call_id: str, level: str, text: str) -> None:
        # beginFilterChange/endFilterChange since Qt 6.9; invalidateRowsFilter before (6.8).
        begin = getattr(self, "beginFilterChange", None)
        if begin is not None:
            begin()
        self.call_id, self.level, self.text = call_id, level, text.strip().lower()
        if begin is not None:
            self.endFilterChange()
        else:
            self.invalidateRowsFilter()

    def filterAcceptsRow(self, source_row: int, _parent: Index) -> bool:
        model = self.sourceModel()
        assert isinstance(model, LogModel)
        row = model.row(source_row)
        if row.kind in MARKERS:
            return True
        if self.call_id and row.call_id != self.call_id:
            return False
        if self.level == DECISIONS and row.kind != "decision":
            return False
        if self.level == XLOG and row.kind != "xlog":
            return False
        if self.level == WARNINGS and not (row.kind != "decision" and row.level <= L_WARN):
            return False
        if self.text:
            haystack = f"{row.where} {row.level_name} {row.text}".lower()
            return self.text in haystack
        return True


def script_line(row: LogRow) -> int:
    """The script line a decision or xlog row comes from (0 for the other rows)."""
    if row.kind not in ("decision", "xlog"):
        return 0
    tail = row.where.rpartition(":")[2]
    return int(tail) if tail.isdigit() else 0


class LogView(QWidget):
    script_line_requested = Signal(int)  # "Show in the script" (Ctrl+J): the row's script line
    ladder_row_requested = Signal(int)  # Enter / double-click: the row's event (stream number)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = LogModel(parent=self)
        self.proxy = LogFilter(self)
        self.proxy.setSourceModel(self.model)
        self.table = CompactTable(single=False)
        self.table.setModel(self.proxy)
        self.table.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.table.fit_columns(COLUMN_SAMPLES)

        self.call = QComboBox()
        self.call.addItem("", "")  # "All calls": retranslate_ui
        self.level = QComboBox()
        for value in (ALL, DECISIONS, XLOG, WARNINGS):
            self.level.addItem("", value)  # the labels: retranslate_ui
        self.text = QLineEdit()
        self.text.setClearButtonEnabled(True)
        for widget in (self.call, self.level, self.text):
            widget.setFocusPolicy(Qt.FocusPolicy.StrongFocus)

        bar = QHBoxLayout()
        self.captions: list[QLabel] = []  # "&Call:", "&Level:", "&Text:"
        for widget in (self.call, self.level, self.text):
            buddy = QLabel()
            buddy.setBuddy(widget)
            self.captions.append(buddy)
            bar.addWidget(buddy)
            bar.addWidget(widget, 2 if widget is self.text else 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(bar)
        layout.addWidget(self.table, 1)

        self.call.currentIndexChanged.connect(self._refilter)
        self.level.currentIndexChanged.connect(self._refilter)
        self.text.textChanged.connect(self._refilter)
        self.proxy.rowsInserted.connect(self._follow)
        self._pending_calls: tuple[tuple[CallSummary, ...], list[int]] = ((), [])
        self._choices_at = 0.0
        self._choices_timer = QTimer(self)
        self._choices_timer.setSingleShot(True)
        self._choices_timer.timeout.connect(self._refresh_choices)
        # The row's line in the Script tab: context menu and Ctrl+J on the table.
        self.script_action = QAction(self)
        self.script_action.setShortcut(QKeySequence("Ctrl+J"))
        self.script_action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        self.script_action.triggered.connect(self._request_script_line)
        self.table.addAction(self.script_action)
        # ... and its place in the call's ladder: Enter, double-click or the context menu.
        self.ladder_action = QAction(self)
        self.ladder_action.triggered.connect(self._request_ladder_row)
        self.table.addAction(self.ladder_action)
        self.table.activated.connect(lambda _index: self._request_ladder_row())
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        self.retranslate_ui()

    def retranslate_ui(self) -> None:
        """Set every text in the current language (at start and on LanguageChange)."""
        self.table.setAccessibleName(self.tr("Routing log"))
        self.call.setItemText(0, self.tr("All calls"))
        self.call.setAccessibleName(self.tr("Show the log of one call"))
        levels = {ALL: self.tr("All levels"), DECISIONS: self.tr("Decisions"),
                  XLOG: self.tr("xlog lines"), WARNINGS: self.tr("Warnings and errors")}
        for index in range(self.level.count()):
            self.level.setItemText(index, levels[str(self.level.itemData(index))])
        self.level.setAccessibleName(self.tr("Show log levels"))
        self.text.setPlaceholderText(self.tr("Filter text…"))
        self.text.setAccessibleName(self.tr("Filter the log by text"))
        for label, caption in zip(self.captions, (self.tr("&Call:"), self.tr("&Level:"),
                                                  self.tr("&Text:")), strict=True):
            label.setText(caption)
        self.model.retranslate()
        self.script_action.setText(self.tr("Show this line in the &script"))
        self.script_action.setToolTip(self.tr("Show the script line of this decision (Ctrl+J)"))
        self.ladder_action.setText(self.tr("Show this row in the call's &ladder (Enter)"))

    def changeEvent(self, event: QEvent) -> None:  # Qt's name
        super().changeEvent(event)
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate_ui()

    def add_events(self, batch: list[tuple[int, Event]]) -> None:
        self.model.add_events(batch)

    def _request_script_line(self) -> None:
        index = self.table.currentIndex()
        if not index.isValid():
            return
        line = script_line(self.model.row(self.proxy.mapToSource(index).row()))
        if line:
            self.script_line_requested.emit(line)

    def _request_ladder_row(self) -> None:
        index = self.table.currentIndex()
        if not index.isValid():
            return
        row = self.model.row(self.proxy.mapToSource(index).row())
        if row.kind in ("decision", "xlog") and row.seq:
            self.ladder_row_requested.emit(row.seq)

    def set_calls(self, calls: tuple[CallSummary, ...], numbers: list[int]) -> None:
        if self.model.set_calls(calls, numbers):
            self.table.viewport().update()
        # The call chooser is rebuilt at most once a second: with sipp driving hundreds of
        # calls a second, rebuilding it on every 30-Hz batch cost the GUI thread more than the
        # log itself (bench/bench_window.py).
        self._pending_calls = (calls, numbers)
        wait = CHOICES_INTERVAL - (time.monotonic() - self._choices_at)
        if wait <= 0:
            self._refresh_choices()
        elif not self._choices_timer.isActive():
            self._choices_timer.start(int(wait * 1000) + 1)

    def _refresh_choices(self) -> None:
        self._choices_timer.stop()
        self._choices_at = time.monotonic()
        calls, numbers = self._pending_calls
        current = self.call.currentData()
        wanted = [("", self.tr("All calls"))] + [
            (c.call_id, f"{n}: {c.caller} → {c.callee}")
            for c, n in zip(calls, numbers, strict=False)]
        have = [(self.call.itemData(i), self.call.itemText(i)) for i in range(self.call.count())]
        if have == wanted:
            return
        self.call.blockSignals(True)
        self.call.clear()
        for call_id, label in wanted:
            self.call.addItem(label, call_id)
        index = self.call.findData(current)
        self.call.setCurrentIndex(max(index, 0))
        self.call.blockSignals(False)
        if index < 0 and current:
            self._refilter()

    def show_call(self, call_id: str) -> None:
        """Filter the log to one call (the calls list's Enter / double-click)."""
        self._refresh_choices()
        index = self.call.findData(call_id)
        if index >= 0:
            self.call.setCurrentIndex(index)

    def _refilter(self) -> None:
        self.proxy.set_filter(str(self.call.currentData() or ""),
                              str(self.level.currentData() or ALL), self.text.text())

    def _follow(self) -> None:
        # Keep following the end unless the reader scrolled up to read something.
        bar = self.table.verticalScrollBar()
        if bar.value() >= bar.maximum() - 3 * max(1, self.table.verticalHeader().defaultSectionSize()):
            self.table.scrollToBottom()
