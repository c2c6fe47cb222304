"""The ladder's side pane: the selected row's raw SIP message, or its note's details; for a
message the proxy forwarded, the copy as received and the copy as forwarded, interleaved.

Rules of this module:
- The SIP text is shown as it was on the wire (monospace, read-only, selectable) and never
  translated; only the caption above it is ours.
- What the proxy changed (labpbx.lab.message_diff) is marked three ways: a "-"/"+" in the
  line's first column, bold for the forwarded line, and a background from the palette
  (AlternateBase for "as received", Highlight for "as forwarded"); colour is never the only cue.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent
from PySide6.QtGui import QFont, QPalette, QTextBlockFormat, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import QPlainTextEdit, QWidget

from labpbx.events import SipMessageEvent
from labpbx.lab.ladder import Ladder, Row
from labpbx.lab.message_diff import ADDED, REMOVED, DiffLine, changes, diff_messages, message_lines
from ui.ladder_render import row_text

Role = QPalette.ColorRole


class MessagePane(QPlainTextEdit):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setReadOnly(True)
        self.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.setTabChangesFocus(True)
        self.ladder: Ladder | None = None
        self.row: Row | None = None
        self.diff: list[DiffLine] = []  # what the pane marks (tests read it)
        self.retranslate_ui()

    def retranslate_ui(self) -> None:
        self.setAccessibleName(self.tr("Selected message"))
        self.setPlaceholderText(self.tr("Click a row of the ladder to see its SIP message."))
        self._render()

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate_ui()
        elif event.type() == QEvent.Type.PaletteChange:
            self._render()

    def show_row(self, ladder: Ladder | None, row: Row | None) -> None:
        self.ladder, self.row = ladder, row
        self._render()

    def _render(self) -> None:
        self.diff = []
        self.clear()
        row, ladder = self.row, self.ladder
        if row is None or ladder is None:
            return
        cursor = QTextCursor(self.document())
        if not row.is_arrow or not isinstance(row.event, SipMessageEvent):
            self._caption(cursor, row_text(row))
            self._plain(cursor, self._note_details(row))
            return
        event = row.event
        lanes = ladder.lanes
        other = ladder.row_of(row.pair) if row.pair >= 0 else None
        forwarded = other is not None and isinstance(other.event, SipMessageEvent)
        if event.direction == "in":
            caption = self.tr("Received by the proxy from %1 (%2)").replace(
                "%1", lanes[row.src]).replace("%2", event.src)
        else:
            caption = self.tr("Sent by the proxy to %1 (%2)").replace(
                "%1", lanes[row.dst]).replace("%2", event.dst)
        if not forwarded and event.direction == "out":
            caption += "\n" + self.tr("The proxy made this message itself.")
        self._caption(cursor, caption)
        if not forwarded or other is None or not isinstance(other.event, SipMessageEvent):
            self._plain(cursor, message_lines(event.raw))
            return
        received, sent = (event, other.event) if event.direction == "in" else (other.event, event)
        self.diff = diff_messages(received.raw, sent.raw)
        found = changes(self.diff)
        what = ", ".join(f"{c.header} {self._how(c.how)}" for c in found) or self.tr("nothing")
        self._caption(cursor, self.tr("“-” as received from %1, “+” as forwarded to %2.")
                      .replace("%1", received.src).replace("%2", sent.dst))
        self._caption(cursor, self.tr("Changed by the proxy: %1").replace("%1", what))
        self._diff(cursor, self.diff)
        self.moveCursor(QTextCursor.MoveOperation.Start)

    def _how(self, how: str) -> str:
        return {"changed": self.tr("changed"), "added": self.tr("added"),
                "removed": self.tr("removed")}.get(how, how)

    def _note_details(self, row: Row) -> list[str]:
        lines = []
        if row.where:
            lines.append(self.tr("Script: %1").replace("%1", row.where))
        if row.action:
            lines.append(self.tr("Action: %1").replace("%1", row.action))
        if row.before:
            lines.append(self.tr("Before: %1").replace("%1", row.before))
        if row.after:
            lines.append(self.tr("After: %1").replace("%1", row.after))
        if row.text:
            lines.append(row.text)
        lines.append(row.label)
        return lines

    # ============================================================== writing

    def _caption(self, cursor: QTextCursor, text: str) -> None:
        block = QTextBlockFormat()
        fmt = QTextCharFormat()
        fmt.setFontItalic(True)
        for line in text.split("\n"):
            self._line(cursor, line, block, fmt)

    def _plain(self, cursor: QTextCursor, lines: list[str]) -> None:
        for line in lines:
            self._line(cursor, line, QTextBlockFormat(), QTextCharFormat())

    def _diff(self, cursor: QTextCursor, lines: list[DiffLine]) -> None:
        palette = self.palette()
        for d in lines:
            block = QTextBlockFormat()
            fmt = QTextCharFormat()
            if d.mark == ADDED:
                block.setBackground(palette.color(Role.Highlight))
                fmt.setForeground(palette.color(Role.HighlightedText))
                fmt.setFontWeight(QFont.Weight.Bold)
            elif d.mark == REMOVED:
                block.setBackground(palette.color(Role.AlternateBase))
            self._line(cursor, f"{d.mark} {d.text}", block, fmt)

    def _line(self, cursor: QTextCursor, text: str, block: QTextBlockFormat,
              fmt: QTextCharFormat) -> None:
        if not self.document().isEmpty():
            cursor.insertBlock(block, fmt)
        else:
            cursor.setBlockFormat(block)
        cursor.insertText(text, fmt)
