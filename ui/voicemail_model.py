"""Qt models of the Voicemail tab: the mailboxes with their counts, and one mailbox's messages.

Rules of this module:
- Both update in place (ui.keyed_rows), keyed by mailbox name and message id, so the selection
  stays on its mailbox and message while messages arrive, are heard or deleted.
- A new message is told by words ("new") and a bold font, never by colour alone; the reason is
  the box's own: busy (486, b<ext>) or unavailable (no answer, u<ext>).
- Times are local wall-clock; durations m:ss. Caller URIs are shown as they are (SIP text).
"""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import (
    QAbstractListModel,
    QAbstractTableModel,
    QCoreApplication,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
)
from PySide6.QtGui import QFont

from labpbx.lab.mailboxes import MailboxSummary, Message
from ui.keyed_rows import sync_rows
from ui.text import duration_text

Index = QModelIndex | QPersistentModelIndex
translate = QCoreApplication.translate
CALLER, TIME, REASON, DURATION, HEARD = range(5)


def cause_text(message: Message) -> str:
    words = {"busy": translate("Voicemail", "busy"),
             "unavailable": translate("Voicemail", "unavailable")}
    return words.get(message.cause, message.reason or translate("Voicemail", "direct"))


class MailboxesModel(QAbstractListModel):
    """One row per mailbox: "1001 — 1 new of 2"."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.rows: list[MailboxSummary] = []

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.rows)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self.rows):
            return None
        box = self.rows[index.row()]
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.AccessibleTextRole):
            if not box.total:
                return translate("Voicemail", "%1 — empty").replace("%1", box.mailbox)
            return translate("Voicemail", "%1 — %2 new of %3").replace(
                "%1", box.mailbox).replace("%2", str(box.new)).replace("%3", str(box.total))
        if role == Qt.ItemDataRole.FontRole and box.new:
            font = QFont()
            font.setBold(True)
            return font
        if role == Qt.ItemDataRole.UserRole:
            return box.mailbox
        return None

    def set_rows(self, rows: list[MailboxSummary]) -> bool:
        return sync_rows(self, self.rows, list(rows), lambda r: r.mailbox, 1)

    def row_of(self, mailbox: str) -> int:
        return next((i for i, r in enumerate(self.rows) if r.mailbox == mailbox), -1)


class MessagesModel(QAbstractTableModel):
    """The messages of one mailbox, newest first."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.rows: list[Message] = []

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else 5

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role != Qt.ItemDataRole.DisplayRole or orientation != Qt.Orientation.Horizontal:
            return None
        headers = (translate("Voicemail", "Caller"), translate("Voicemail", "Time"),
                   translate("Voicemail", "Reason"), translate("Voicemail", "Duration"),
                   translate("Voicemail", "Heard"))
        return headers[section] if 0 <= section < len(headers) else None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self.rows):
            return None
        message = self.rows[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if column == CALLER:
                return (f"{message.caller_name} <{message.caller}>" if message.caller_name
                        else message.caller)
            if column == TIME:
                return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(message.received_at))
            if column == REASON:
                return cause_text(message)
            if column == DURATION:
                return duration_text(message.duration)
            return (translate("Voicemail", "heard") if message.heard
                    else translate("Voicemail", "new"))
        if role == Qt.ItemDataRole.FontRole and not message.heard:
            font = QFont()
            font.setBold(True)
            return font
        if role == Qt.ItemDataRole.ToolTipRole:
            return message.id
        if role == Qt.ItemDataRole.UserRole:
            return message.id
        return None

    def set_rows(self, rows: list[Message]) -> bool:
        return sync_rows(self, self.rows, list(rows), lambda r: r.id, 5)

    def row_of(self, message_id: str) -> int:
        return next((i for i, r in enumerate(self.rows) if r.id == message_id), -1)
