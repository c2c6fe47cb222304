"""The routing log: every routing decision and xlog line of all calls, live, filterable by call,
level and text; with the lab's problems (a refused command, a process that died and restarted).

Rules of this module:
- ``LogModel`` keeps at most ``limit`` rows (a deque); when older rows go, a first row says how
  many were dropped, so a reader knows the log does not reach back to the start. A GapEvent from
  the lab (its own history was trimmed) adds the same kind of marker row.
- Rows arrive in batches (one beginInsertRows per batch) from the bridge's timer.
- Filtering is a QSortFilterProxyModel; the marker rows always pass, so the "dropped" notice
  stays visible whatever the filter.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
)
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QAbstractItemView,
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
from ui.text import clock_text, translate

Index = QModelIndex | QPersistentModelIndex
LOG_LIMIT = 5000
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
    kind: str  # "decision" | "xlog" | "problem" | "marker"
    level: int  # xlog's numeric level; decisions 3 (info), problems -1/1
    level_name: str
    where: str  # "failure_route[missed_call]:182"
    text: str


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
        return LogRow(seq, event.time, "", "marker", 0, "", "",
                      translate("LogModel", "%1 older events dropped by the lab")
                      .replace("%1", str(event.dropped)))
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
            return LogRow(0, 0.0, "", "marker", 0, "", "",
                          self.tr("… %1 older events dropped …").replace("%1", str(self.dropped)))
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
        if role == Qt.ItemDataRole.ToolTipRole:  # the whole line, where the column elides it
            return row.text if column == len(COLUMNS) - 1 else None
        if row.kind == "marker":
            return row.text if column == len(COLUMNS) - 1 else ("⋯" if column == 0 else "")
        if column == 0:
            return clock_text(row.time)
        if column == 1:
            return self.call_names.get(row.call_id, row.call_id[:8])
        if column == 2:
            return row.level_name
        if column == 3:
            return row.where
        return row.text

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

    def set_calls(self, calls: tuple[CallSummary, ...], numbers: list[int]) -> None:
        """Name the calls as the calls list does ("3: 1000 → 1001")."""
        names = {c.call_id: f"{n}: {c.caller}→{c.callee}"
                 for c, n in zip(calls, numbers, strict=False)}
        if names != self.call_names:
            self.call_names = names
            if self.rows:
                self.dataChanged.emit(self.index(0, 1), self.index(self.rowCount() - 1, 1))


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
        if row.kind == "marker":
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


class LogView(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = LogModel(parent=self)
        self.proxy = LogFilter(self)
        self.proxy.setSourceModel(self.model)
        self.table = CompactTable()
        self.table.setModel(self.proxy)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().hide()
        self.table.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.table.fit_columns(COLUMN_SAMPLES)
        self.table.setAccessibleName(self.tr("Routing log"))
        self.table.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.table.setWordWrap(False)

        self.call = QComboBox()
        self.call.addItem(self.tr("All calls"), "")
        self.call.setAccessibleName(self.tr("Show the log of one call"))
        self.level = QComboBox()
        for label, value in ((self.tr("All levels"), ALL), (self.tr("Decisions"), DECISIONS),
                             (self.tr("xlog lines"), XLOG), (self.tr("Warnings and errors"), WARNINGS)):
            self.level.addItem(label, value)
        self.level.setAccessibleName(self.tr("Show log levels"))
        self.text = QLineEdit()
        self.text.setPlaceholderText(self.tr("Filter text…"))
        self.text.setClearButtonEnabled(True)
        self.text.setAccessibleName(self.tr("Filter the log by text"))
        for widget in (self.call, self.level, self.text):
            widget.setFocusPolicy(Qt.FocusPolicy.StrongFocus)

        bar = QHBoxLayout()
        for caption, widget in ((self.tr("&Call:"), self.call), (self.tr("&Level:"), self.level),
                                (self.tr("&Text:"), self.text)):
            buddy = QLabel(caption)
            buddy.setBuddy(widget)
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

    def add_events(self, batch: list[tuple[int, Event]]) -> None:
        self.model.add_events(batch)

    def set_calls(self, calls: tuple[CallSummary, ...], numbers: list[int]) -> None:
        self.model.set_calls(calls, numbers)
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
