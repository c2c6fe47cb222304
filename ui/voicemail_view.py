"""The Voicemail tab: mailboxes with their counts on the left; the chosen mailbox's messages,
their actions and its greetings on the right.

Rules of this module:
- It reads the box's message index and files through labpbx.lab.mailboxes (never the store);
  marking heard, deleting and the greeting chores go through the bridge to a worker thread.
  After a change of the heard flags or a deletion the bridge asks the voicemail box to count
  again: the box, which owns message waiting, NOTIFYs the phone and the card's badge follows.
- Live: a new message shows without reopening — each VoicemailEvent/MwiEvent of the stream
  makes it look again, and a QTimer polls the index file's (mtime, size, inode) every POLL_MS
  for changes made elsewhere (the reason for polling is in ui.provisioning_view).
- Playback is labpbx.lab.playback (sounddevice lives there, not in ui/): one sound at a time,
  Play/Stop; without an audio device both Play buttons are disabled and the reason is shown.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEvent, QItemSelectionModel, Qt, QTimer, Signal
from PySide6.QtGui import QFontMetrics, QKeySequence, QShortcut, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListView,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from labpbx.events import Event, MwiEvent, VoicemailEvent
from labpbx.lab.mailboxes import MailboxError, Message
from labpbx.lab.playback import Playback, PlaybackError
from labpbx.lab.provisioning import Version
from ui.bridge import LabBridge
from ui.compact_table import CompactTable
from ui.greetings_panel import GreetingsPanel
from ui.text import arg
from ui.voicemail_model import MailboxesModel, MessagesModel

POLL_MS = 500


class VoicemailView(QWidget):
    _sound_over = Signal()  # from PortAudio's thread to the GUI thread (queued)

    def __init__(self, bridge: LabBridge, parent: QWidget | None = None, *,
                 playback: Playback | None = None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.mailboxes = bridge.mailboxes
        self.player = playback or Playback(on_finished=self._sound_over.emit)
        self._sound_over.connect(self._on_sound_over, Qt.ConnectionType.QueuedConnection)
        self.boxes = MailboxesModel(self)
        self.messages = MessagesModel(self)
        self._version: Version | object = object()
        self._pending: set[str] = set()
        self._note: Callable[[], str] | None = None  # the last result or problem (reworded)

        self.box_list = QListView()
        self.box_list.setModel(self.boxes)
        self.box_list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.box_list.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.title = QLabel()
        self.table = CompactTable()
        self.table.setModel(self.messages)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.play_button = QPushButton()
        self.stop_button = QPushButton()
        self.heard_button = QPushButton()
        self.delete_button = QPushButton()
        for widget in (self.play_button, self.stop_button, self.heard_button,
                       self.delete_button):
            widget.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.audio = QLabel()  # why playback is off, or what plays
        self.audio.setWordWrap(True)
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.note.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.greetings = GreetingsPanel(self.mailboxes)

        buttons = QHBoxLayout()
        for button in (self.play_button, self.stop_button, self.heard_button,
                       self.delete_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(self.title)
        right_layout.addWidget(self.table, 1)
        right_layout.addLayout(buttons)
        right_layout.addWidget(self.audio)
        right_layout.addWidget(self.note)
        right_layout.addWidget(self.greetings)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.box_list)
        splitter.addWidget(right)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 4)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(splitter)

        self.box_list.selectionModel().currentChanged.connect(lambda *_a: self._show_mailbox())
        self.table.selectionModel().selectionChanged.connect(self._update_buttons)
        self.table.activated.connect(lambda _i: self.play())
        self.play_button.clicked.connect(self.play)
        self.stop_button.clicked.connect(self.stop)
        self.heard_button.clicked.connect(self.toggle_heard)
        self.delete_button.clicked.connect(self.delete)
        delete_key = QShortcut(QKeySequence(QKeySequence.StandardKey.Delete), self.table)
        delete_key.setContext(Qt.ShortcutContext.WidgetShortcut)
        delete_key.activated.connect(self.delete)
        self.greetings.play_requested.connect(self._play_file)
        self.greetings.replace_requested.connect(self._replace_greeting)
        self.greetings.revert_requested.connect(self._revert_greeting)
        bridge.events_added.connect(self.add_events)
        bridge.command_done.connect(self._on_done)
        bridge.command_failed.connect(self._on_failed)
        self._poll = QTimer(self)
        self._poll.setInterval(POLL_MS)
        # Polled only while shown (showEvent reads at once): under a sipp load the index file
        # changes with every batch of the call history, and each look parses all of it.
        self._poll.timeout.connect(lambda: self.refresh() if self.isVisible() else None)
        self._poll.start()
        self.refresh()
        if self.boxes.rows:
            self.select_mailbox(self.boxes.rows[0].mailbox)
        self.retranslate_ui()

    # ============================================================== texts

    def retranslate_ui(self) -> None:
        self.box_list.setAccessibleName(self.tr("Mailboxes"))
        self._fit_box_list()
        self.table.setAccessibleName(self.tr("Messages of the chosen mailbox"))
        self.play_button.setText(self.tr("&Play"))
        self.play_button.setAccessibleName(self.tr("Play the selected message"))
        self.stop_button.setText(self.tr("Stop"))  # S, t, o, p: taken (tabs, Play, Revert)
        self.stop_button.setAccessibleName(self.tr("Stop playing"))
        self.delete_button.setText(self.tr("&Delete"))
        self.delete_button.setAccessibleName(self.tr("Delete the selected message"))
        self.audio.setAccessibleName(self.tr("Playback"))
        self.note.setAccessibleName(self.tr("Voicemail result"))
        self.title.setAccessibleName(self.tr("Chosen mailbox"))
        self._update_buttons()
        self._show_title()
        self._show_audio()
        if self._note is not None:
            self.note.setText(self._note())
        self.boxes.dataChanged.emit(self.boxes.index(0, 0),
                                    self.boxes.index(max(0, self.boxes.rowCount() - 1), 0))
        self.messages.headerDataChanged.emit(Qt.Orientation.Horizontal, 0, 4)

    def changeEvent(self, event: QEvent) -> None:  # Qt's name
        super().changeEvent(event)
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate_ui()
        elif event.type() == QEvent.Type.FontChange:
            self._fit_box_list()  # zoom: the mailbox list widens with its text

    # ============================================================== reading

    @property
    def mailbox(self) -> str:
        index = self.box_list.currentIndex()
        return str(index.data(Qt.ItemDataRole.UserRole)) if index.isValid() else ""

    def select_mailbox(self, mailbox: str) -> None:
        row = self.boxes.row_of(mailbox)
        if row >= 0:
            self.box_list.selectionModel().setCurrentIndex(
                self.boxes.index(row, 0), QItemSelectionModel.SelectionFlag.ClearAndSelect)

    def selected(self) -> Message | None:
        rows = self.table.selectionModel().selectedRows()
        if not rows or not 0 <= rows[0].row() < len(self.messages.rows):
            return None
        return self.messages.rows[rows[0].row()]

    def refresh(self, *, force: bool = False) -> None:
        """Read the index again if it changed (one stat otherwise)."""
        version = self.mailboxes.version()
        if version == self._version and not force:
            return
        try:
            summaries = self.mailboxes.summaries()
            mine = self.mailboxes.messages(self.mailbox) if self.mailbox else []
        except MailboxError as exc:
            self._version = version
            why = str(exc)
            self._say(lambda: arg(self.tr("The mailboxes cannot be read: %1"), why))
            return
        self._version = version
        if self.boxes.set_rows(summaries):
            self._fit_box_list()
        selected = self.selected()
        if self.messages.set_rows(mine):
            self.table.resizeColumnsToContents()
        if selected is not None and self.selected() is None:
            self._select_message(selected.id)
        self._show_title()
        self._update_buttons()

    def _fit_box_list(self) -> None:
        """The mailbox list is as wide as its longest line (new counts are bold)."""
        font = self.box_list.font()
        font.setBold(True)
        metrics = QFontMetrics(font)
        rows = range(self.boxes.rowCount())
        widest = max((metrics.horizontalAdvance(str(self.boxes.data(self.boxes.index(r, 0))))
                      for r in rows), default=0)
        self.box_list.setMinimumWidth(widest + 2 * self.box_list.frameWidth() + 16)

    def _show_mailbox(self) -> None:
        self.refresh(force=True)
        self.greetings.show_mailbox(self.mailbox)

    def _select_message(self, message_id: str) -> None:
        row = self.messages.row_of(message_id)
        if row >= 0:
            self.table.selectionModel().setCurrentIndex(
                self.messages.index(row, 0), QItemSelectionModel.SelectionFlag.ClearAndSelect
                | QItemSelectionModel.SelectionFlag.Rows)

    def add_events(self, batch: list[tuple[int, Event]]) -> None:
        if any(isinstance(e, VoicemailEvent | MwiEvent) for _s, e in batch):
            self.refresh(force=True)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.refresh()

    def _show_title(self) -> None:
        box = next((b for b in self.boxes.rows if b.mailbox == self.mailbox), None)
        if box is None:
            self.title.setText(self.tr("Choose a mailbox."))
            return
        self.title.setText(arg(self.tr("Mailbox %1: %2 new, %3 in all"), box.mailbox,
                               box.new, box.total))

    def _update_buttons(self, *_args: Any) -> None:
        message = self.selected()
        self.play_button.setEnabled(message is not None and self.player.unavailable() is None)
        self.stop_button.setEnabled(self.player.playing)
        self.delete_button.setEnabled(message is not None)
        self.heard_button.setEnabled(message is not None)
        if message is not None and message.heard:
            self.heard_button.setText(self.tr("Mark &new"))
            self.heard_button.setAccessibleName(self.tr("Mark the selected message as new"))
        else:
            self.heard_button.setText(self.tr("Mark &heard"))
            self.heard_button.setAccessibleName(self.tr("Mark the selected message as heard"))
        self.greetings.can_play = self.player.unavailable() is None
        self.greetings.refresh()

    # ============================================================== actions

    def toggle_heard(self) -> None:
        message = self.selected()
        if message is not None:
            self._pending.add(self.bridge.mark_heard(message.id, not message.heard))

    def delete(self) -> None:
        message = self.selected()
        if message is not None:
            if self.player.playing and self.player.path == message.path:
                self.stop()
            self._pending.add(self.bridge.delete_message(message.id))

    def _replace_greeting(self, mailbox: str, kind: str, source: str) -> None:
        self._pending.add(self.bridge.replace_greeting(mailbox, kind, source))

    def _revert_greeting(self, mailbox: str, kind: str) -> None:
        self._pending.add(self.bridge.revert_greeting(mailbox, kind))

    def _on_done(self, what: str, _result: object) -> None:
        if what in self._pending:
            self._pending.discard(what)
            self._say(lambda: arg(self.tr("%1: done."), what))
            self.greetings.refresh()
        self.refresh()

    def _on_failed(self, what: str, why: str) -> None:
        if what in self._pending:
            self._pending.discard(what)
            self._say(lambda: "⚠ " + arg(self.tr("%1 failed: %2"), what, why))
            self.greetings.refresh()

    def _say(self, words: Callable[[], str] | None) -> None:
        self._note = words
        self.note.setText(words() if words is not None else "")

    # ============================================================== playback

    def play(self) -> None:
        message = self.selected()
        if message is None:
            return
        try:
            path = self.mailboxes.audio_file(message)
        except MailboxError as exc:
            why = str(exc)
            self._say(lambda: "⚠ " + why)
            return
        self._play_file(str(path))

    def _play_file(self, path: str) -> None:
        try:
            self.player.play(Path(path))
        except PlaybackError as exc:
            why = str(exc)
            self._say(lambda: "⚠ " + arg(self.tr("Cannot play: %1"), why))
        self._show_audio()
        self._update_buttons()

    def stop(self) -> None:
        self.player.stop()
        self._show_audio()
        self._update_buttons()

    def _on_sound_over(self) -> None:
        self._show_audio()
        self._update_buttons()

    def _show_audio(self) -> None:
        reason = self.player.unavailable()
        if reason is not None:
            # The reason comes from PortAudio (English); the sentence around it is ours.
            self.audio.setText(arg(self.tr("Playback is off: %1"), reason))
        elif self.player.playing and self.player.path is not None:
            self.audio.setText(arg(self.tr("▶ Playing %1"), self.player.path.name))
        else:
            self.audio.setText("")

    def closeEvent(self, event: Any) -> None:  # Qt's name
        self.player.stop()
        super().closeEvent(event)
