"""A plain-text code view with a gutter: line numbers, error marks and the latest decision's line.

Rules of this module:
- Error marks are extra selections (a wavy underline under the offending text, from the line and
  column of a ScriptDiagnostic) plus a gutter mark: a filled circle with a bar (a "no entry"
  sign). Their cursors follow the text while it is edited, so a mark stays on its line until
  the next check replaces it.
- The latest decision's line gets a full-width background and a triangle (an arrow) in the
  gutter: shape and colour, never colour alone. Its line number refers to the script the proxy
  ran, which is what the editor shows unless it was edited since.
- Colours come from the palette (errors: ui.script_highlighter.error_colour; the decision line:
  the Highlight colour mixed into Base, kept at 4.5:1 contrast with Text).
- The gutter is painted only for the visible blocks (Qt's updateRequest tells which).
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QEvent, QPointF, QRect, QSize, Qt
from PySide6.QtGui import (
    QColor,
    QPainter,
    QPaintEvent,
    QPalette,
    QPolygonF,
    QResizeEvent,
    QTextCharFormat,
    QTextCursor,
    QTextFormat,
)
from PySide6.QtWidgets import QPlainTextEdit, QTextEdit, QWidget

from labpbx.lab.script_text import ScriptDiagnostic
from ui.script_highlighter import MIN_CONTRAST, contrast, error_colour, mix

GUTTER_PAD = 6


@dataclass(slots=True)
class _ErrorMark:
    diagnostic: ScriptDiagnostic
    cursor: QTextCursor  # the offending text (or the character at the column)


class _Gutter(QWidget):
    def __init__(self, editor: CodeEdit) -> None:
        super().__init__(editor)
        self.editor = editor

    def sizeHint(self) -> QSize:
        return QSize(self.editor.gutter_width(), 0)

    def paintEvent(self, event: QPaintEvent) -> None:
        self.editor.paint_gutter(self, event)


class CodeEdit(QPlainTextEdit):
    """QPlainTextEdit with line numbers, error marks and one highlighted decision line."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self._gutter = _Gutter(self)
        self._errors: list[_ErrorMark] = []
        self.decision_line = 0  # 1-based; 0 = none
        self.blockCountChanged.connect(self._fit_gutter)
        self.updateRequest.connect(self._scroll_gutter)
        self._fit_gutter()

    # ============================================================== marks

    def set_diagnostics(self, diagnostics: tuple[ScriptDiagnostic, ...]) -> None:
        """Mark each located diagnostic at its line and column (replaces the previous marks)."""
        doc = self.document()
        self._errors = []
        for diagnostic in diagnostics:
            if not 1 <= diagnostic.line <= doc.blockCount():
                continue
            block = doc.findBlockByNumber(diagnostic.line - 1)
            line = block.text()
            column = min(max(diagnostic.column - 1, 0), max(len(line) - 1, 0))
            length = len(diagnostic.text) if line[column:].startswith(diagnostic.text) else 0
            cursor = QTextCursor(block)
            cursor.setPosition(block.position() + column)
            cursor.setPosition(block.position() + column + max(length, 1 if line else 0),
                               QTextCursor.MoveMode.KeepAnchor)
            self._errors.append(_ErrorMark(diagnostic, cursor))
        self._refresh_selections()

    def error_lines(self) -> list[int]:
        """The 1-based lines that carry an error mark now (they follow edits)."""
        return [mark.cursor.block().blockNumber() + 1 for mark in self._errors]

    def set_decision_line(self, line: int) -> None:
        """Highlight the line of the latest routing decision (0: none)."""
        self.decision_line = line if 1 <= line <= self.document().blockCount() else 0
        self._refresh_selections()

    def show_line(self, line: int) -> None:
        """Put the cursor on ``line`` (1-based), select it and scroll it to the middle."""
        block = self.document().findBlockByNumber(max(line, 1) - 1)
        if not block.isValid():
            return
        cursor = QTextCursor(block)
        cursor.movePosition(QTextCursor.MoveOperation.EndOfBlock, QTextCursor.MoveMode.KeepAnchor)
        self.setTextCursor(cursor)
        self.centerCursor()

    def show_position(self, line: int, column: int) -> None:
        """Put the cursor at ``line``:``column`` (1-based) and scroll it into view."""
        block = self.document().findBlockByNumber(max(line, 1) - 1)
        if not block.isValid():
            return
        cursor = QTextCursor(block)
        cursor.setPosition(block.position() + min(max(column - 1, 0), len(block.text())))
        self.setTextCursor(cursor)
        self.centerCursor()

    def decision_background(self) -> QColor:
        """The decision line's background: Highlight mixed into Base."""
        return self._tint(self.palette().color(QPalette.ColorRole.Highlight))

    def error_background(self) -> QColor:
        """The offending text's background: the error colour mixed into Base."""
        return self._tint(error_colour(self.palette()))

    def _tint(self, colour: QColor) -> QColor:
        """``colour`` mixed into Base as strongly as Text still reads on it (4.5:1)."""
        palette = self.palette()
        base, text = palette.color(QPalette.ColorRole.Base), palette.color(QPalette.ColorRole.Text)
        for amount in (0.35, 0.3, 0.25, 0.2, 0.15, 0.1):
            tinted = mix(base, colour, amount)
            if contrast(tinted, text) >= MIN_CONTRAST:
                return tinted
        return mix(base, colour, 0.1)

    def _refresh_selections(self) -> None:
        selections: list[QTextEdit.ExtraSelection] = []
        if self.decision_line:
            selection = QTextEdit.ExtraSelection()
            fmt = QTextCharFormat()
            fmt.setBackground(self.decision_background())
            fmt.setProperty(QTextFormat.Property.FullWidthSelection, True)
            selection.format = fmt
            cursor = QTextCursor(self.document().findBlockByNumber(self.decision_line - 1))
            selection.cursor = cursor
            selections.append(selection)
        red = error_colour(self.palette())
        tint = self.error_background()
        for mark in self._errors:
            selection = QTextEdit.ExtraSelection()
            fmt = QTextCharFormat()
            fmt.setUnderlineStyle(QTextCharFormat.UnderlineStyle.WaveUnderline)
            fmt.setUnderlineColor(red)
            fmt.setBackground(tint)  # a thin wave alone is easy to miss at a projector
            selection.format = fmt
            selection.cursor = mark.cursor
            selections.append(selection)
        self.setExtraSelections(selections)
        self._gutter.update()

    # ============================================================== gutter

    def gutter_width(self) -> int:
        digits = len(str(max(1, self.blockCount())))
        metrics = self.fontMetrics()
        return GUTTER_PAD * 2 + metrics.horizontalAdvance("9") * max(digits, 3) + self._mark_size() + 4

    def _mark_size(self) -> int:
        return max(8, self.fontMetrics().height() - 4)

    def _fit_gutter(self, _count: int = 0) -> None:
        self.setViewportMargins(self.gutter_width(), 0, 0, 0)

    def _scroll_gutter(self, rect: QRect, dy: int) -> None:
        if dy:
            self._gutter.scroll(0, dy)
        else:
            self._gutter.update(0, rect.y(), self._gutter.width(), rect.height())
        if rect.contains(self.viewport().rect()):
            self._fit_gutter()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        area = self.contentsRect()
        self._gutter.setGeometry(QRect(area.left(), area.top(), self.gutter_width(), area.height()))

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() in (QEvent.Type.FontChange, QEvent.Type.PaletteChange):
            self._fit_gutter()  # the numbers' width
            self._refresh_selections()  # the colours

    def paint_gutter(self, gutter: QWidget, event: QPaintEvent) -> None:
        palette = self.palette()
        painter = QPainter(gutter)
        painter.fillRect(event.rect(), palette.color(QPalette.ColorRole.AlternateBase))
        painter.setFont(self.font())
        numbers = palette.color(QPalette.ColorRole.Text)
        red = error_colour(palette)
        arrow = palette.color(QPalette.ColorRole.Highlight)
        errors = set(self.error_lines())
        mark = self._mark_size()
        height = self.fontMetrics().height()
        number_right = gutter.width() - GUTTER_PAD
        block = self.firstVisibleBlock()
        top = round(self.blockBoundingGeometry(block).translated(self.contentOffset()).top())
        while block.isValid() and top <= event.rect().bottom():
            bottom = top + round(self.blockBoundingRect(block).height())
            line = block.blockNumber() + 1
            if block.isVisible() and bottom >= event.rect().top():
                painter.setPen(numbers)
                painter.drawText(0, top, number_right, height,
                                 int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter),
                                 str(line))
                y = top + (height - mark) / 2
                if line == self.decision_line:
                    self._paint_arrow(painter, arrow, 2.0, y, mark)
                if line in errors:
                    self._paint_error(painter, red, palette, 2.0, y, mark)
            block = block.next()
            top = bottom
        painter.end()

    @staticmethod
    def _paint_arrow(painter: QPainter, colour: QColor, x: float, y: float, size: int) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(colour)
        painter.drawPolygon(QPolygonF([QPointF(x, y), QPointF(x + size, y + size / 2),
                                       QPointF(x, y + size)]))

    @staticmethod
    def _paint_error(painter: QPainter, colour: QColor, palette: QPalette, x: float, y: float,
                     size: int) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(colour)
        painter.drawEllipse(QPointF(x + size / 2, y + size / 2), size / 2, size / 2)
        painter.setBrush(palette.color(QPalette.ColorRole.Base))
        bar = max(2.0, size / 5)
        painter.drawRect(int(x + size * 0.2), int(y + size / 2 - bar / 2), int(size * 0.6),
                         int(bar))
