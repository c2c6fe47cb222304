"""The drawn, live ladder of one call: a scroll area that paints only the rows in view
(Wireshark's flow graph does the same), through ui.ladder_render like the exports.

Rules of this module:
- ``set_ladder`` replaces the rows; the selected row is kept by the event that made it (its
  stream number), and the view follows the end of a live call unless the reader scrolled up.
- Rows are selected by a click or the keyboard (Up/Down, Page Up/Down, Home/End);
  ``row_selected`` carries the row's index (-1: none). ``select_seq`` selects the row an event
  made (the routing log's "show in ladder").
- The view takes the window's font (the zoom) and palette; both changes relayout and repaint.
- It has no accessible children: its accessible description is the selected row's text; a
  row's tooltip is its whole text (the drawing elides long notes).
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QHelpEvent, QKeyEvent, QMouseEvent, QPainter, QPaintEvent, QResizeEvent
from PySide6.QtWidgets import QAbstractScrollArea, QToolTip, QWidget

from labpbx.lab.ladder import Ladder, Row
from ui.ladder_render import Geometry, geometry, paint_header, paint_rows, row_text

FOLLOW_SLACK = 2  # px: "at the end" allows for rounding


class LadderView(QAbstractScrollArea):
    row_selected = Signal(int)  # row index, -1 when none

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ladder: Ladder | None = None
        self.selected = -1
        self._geo: Geometry | None = None
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.viewport().setAutoFillBackground(False)
        self.verticalScrollBar().valueChanged.connect(self.viewport().update)
        self.horizontalScrollBar().valueChanged.connect(self.viewport().update)
        self.retranslate_ui()

    def retranslate_ui(self) -> None:
        self.setAccessibleName(self.tr("Ladder of the selected call"))
        self.setToolTip(self.tr("One row per SIP message or script decision. Click a row, or "
                                "use Up/Down, to see the message."))
        self._placeholder = self.tr("Select a call to see its messages and decisions.")
        self.viewport().update()

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate_ui()
        elif event.type() in (QEvent.Type.FontChange, QEvent.Type.PaletteChange):
            self._relayout()

    # ============================================================== content

    def set_ladder(self, ladder: Ladder | None) -> None:
        bar = self.verticalScrollBar()
        at_end = bar.value() >= bar.maximum() - FOLLOW_SLACK
        old = self.selected_row()
        self.ladder = ladder
        index = -1
        if ladder is not None and old is not None:
            index = next((i for i, r in enumerate(ladder.rows) if r.seq == old.seq), -1)
        self._relayout()
        if index != self.selected or (old is not None and index < 0):
            self._set_selected(index, scroll=False)
        if at_end:
            bar.setValue(bar.maximum())

    def selected_row(self) -> Row | None:
        if self.ladder is None or not 0 <= self.selected < len(self.ladder.rows):
            return None
        return self.ladder.rows[self.selected]

    def select(self, index: int) -> None:
        self._set_selected(index, scroll=True)

    def select_seq(self, seq: int) -> bool:
        """Select the row event ``seq`` made (or the last one before it); False if none."""
        if self.ladder is None:
            return False
        index = self.ladder.index_of(seq)
        if index < 0:
            return False
        self.select(index)
        return True

    def geometry_now(self) -> Geometry:
        if self._geo is None:
            self._relayout()
        assert self._geo is not None
        return self._geo

    def _set_selected(self, index: int, *, scroll: bool) -> None:
        count = len(self.ladder.rows) if self.ladder is not None else 0
        index = index if 0 <= index < count else -1
        changed = index != self.selected
        self.selected = index
        row = self.selected_row()
        self.setAccessibleDescription(row_text(row) if row is not None else "")
        if scroll and index >= 0:
            self._ensure_visible(index)
        self.viewport().update()
        if changed:
            self.row_selected.emit(index)

    # ============================================================== layout

    def _relayout(self) -> None:
        self._geo = geometry(self.font(), self.viewport().width())
        geo = self._geo
        rows = len(self.ladder.rows) if self.ladder is not None else 0
        room = max(0, self.viewport().height() - int(geo.header_height))
        bar = self.verticalScrollBar()
        bar.setRange(0, max(0, int(geo.content_height(rows)) - room))
        bar.setSingleStep(int(geo.row_height))
        bar.setPageStep(max(int(geo.row_height), room))
        hbar = self.horizontalScrollBar()
        hbar.setRange(0, max(0, int(geo.width) - self.viewport().width()))
        hbar.setPageStep(self.viewport().width())
        self.viewport().update()

    def _ensure_visible(self, index: int) -> None:
        geo = self.geometry_now()
        bar = self.verticalScrollBar()
        room = self.viewport().height() - geo.header_height
        top = index * geo.row_height
        if top < bar.value():
            bar.setValue(int(top))
        elif top + geo.row_height > bar.value() + room:
            bar.setValue(int(top + geo.row_height - room + 0.5))

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._relayout()

    def sizeHint(self) -> QSize:
        return QSize(720, 360)

    def minimumSizeHint(self) -> QSize:
        return QSize(240, 120)

    # ============================================================== painting

    def paintEvent(self, _event: QPaintEvent) -> None:
        geo = self.geometry_now()
        painter = QPainter(self.viewport())
        palette = self.palette()
        painter.fillRect(self.viewport().rect(), palette.color(palette.ColorRole.Base))
        if self.ladder is None or not self.ladder.rows:
            painter.setPen(palette.color(palette.ColorRole.PlaceholderText))
            painter.drawText(QRectF(self.viewport().rect()), Qt.AlignmentFlag.AlignCenter,
                             self._placeholder)
            painter.end()
            return
        dx, dy = self.horizontalScrollBar().value(), self.verticalScrollBar().value()
        first = int(dy // geo.row_height)
        last = int((dy + self.viewport().height()) // geo.row_height) + 1
        painter.save()
        painter.translate(-dx, geo.header_height - dy)
        paint_rows(painter, self.ladder, geo, palette, first, last, self.selected)
        painter.restore()
        painter.translate(-dx, 0)
        paint_header(painter, self.ladder, geo, palette)
        if self.hasFocus() and self.selected < 0:  # where the keyboard is, with no row chosen
            painter.setPen(palette.color(palette.ColorRole.Highlight))
            painter.drawRect(QRectF(dx + 1, 1, self.viewport().width() - 3,
                                    self.viewport().height() - 3))
        painter.end()

    # ============================================================== input

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() != Qt.MouseButton.LeftButton or self.ladder is None:
            super().mousePressEvent(event)
            return
        row = self._row_at(event.position().y())
        if row is not None:
            self.select(self.ladder.rows.index(row))
        event.accept()

    def viewportEvent(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ToolTip and isinstance(event, QHelpEvent):
            row = self._row_at(event.pos().y())
            if row is not None:  # the whole line, where the row elides it
                QToolTip.showText(event.globalPos(), row_text(row), self.viewport())
                return True
        return super().viewportEvent(event)

    def _row_at(self, y: float) -> Row | None:
        if self.ladder is None:
            return None
        geo = self.geometry_now()
        if y < geo.header_height:
            return None
        index = int((y - geo.header_height + self.verticalScrollBar().value()) // geo.row_height)
        return self.ladder.rows[index] if index < len(self.ladder.rows) else None

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        event.accept()  # the press selected the row

    def keyPressEvent(self, event: QKeyEvent) -> None:
        count = len(self.ladder.rows) if self.ladder is not None else 0
        if not count:
            super().keyPressEvent(event)
            return
        geo = self.geometry_now()
        page = max(1, int((self.viewport().height() - geo.header_height) // geo.row_height) - 1)
        current = self.selected
        moves = {
            Qt.Key.Key_Down: current + 1 if current >= 0 else 0,
            Qt.Key.Key_Up: current - 1 if current > 0 else 0,
            Qt.Key.Key_PageDown: min(count - 1, max(current, 0) + page),
            Qt.Key.Key_PageUp: max(0, current - page),
            Qt.Key.Key_Home: 0,
            Qt.Key.Key_End: count - 1,
        }
        key = Qt.Key(event.key())
        if key in moves:
            self.select(max(0, min(count - 1, moves[key])))
            event.accept()
            return
        super().keyPressEvent(event)
