"""A QTableView whose rows are one line of its font high, and stay so when the window zooms
(the style's default row height is ~30 px whatever the font, which halves what a log shows)."""

from __future__ import annotations

from PySide6.QtCore import QEvent
from PySide6.QtWidgets import QTableView, QWidget

ROW_PADDING = 6


class CompactTable(QTableView):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._fit_rows()

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.FontChange:
            self._fit_rows()

    def _fit_rows(self) -> None:
        self.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + ROW_PADDING)
