"""A QTableView whose rows are one line of its font high, and stay so when the window zooms
(the style's default row height is ~30 px whatever the font, which halves what a log shows).
It is a list of records: rows are selected whole, one at a time unless ``single=False``, with
no row numbers and no wrapping, and it takes the keyboard focus by Tab or click.

Its columns can be sized from sample texts (``fit_columns``) instead of the header's
ResizeToContents, which measures up to 1,000 rows on every insert: in a live log that redoes the
work on every batch (it took most of the GUI thread at 50 calls/s, bench/bench_window.py)."""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView, QWidget

ROW_PADDING = 6


class CompactTable(QTableView):
    def __init__(self, parent: QWidget | None = None, *, single: bool = True) -> None:
        super().__init__(parent)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        if single:
            self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.verticalHeader().hide()
        self.setWordWrap(False)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._samples: tuple[str, ...] = ()
        self._fit_rows()

    def fit_columns(self, samples: tuple[str, ...]) -> None:
        """Fix the first columns' widths to fit ``samples`` (one per column, in this font); the
        last column takes the rest. Refitted when the font changes (zoom)."""
        self._samples = samples
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)  # the reader may widen
        header.setStretchLastSection(True)
        self._fit_columns()

    def _fit_columns(self) -> None:
        metrics = self.fontMetrics()
        for column, sample in enumerate(self._samples):
            self.setColumnWidth(column, metrics.horizontalAdvance(sample) + 4 * ROW_PADDING)

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.FontChange:
            self._fit_rows()
            self._fit_columns()

    def _fit_rows(self) -> None:
        self.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + ROW_PADDING)
