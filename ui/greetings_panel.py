"""The greetings of one mailbox: which file each greeting plays, play it, replace it from a WAV
file, go back to the shipped one.

Rules of this module:
- It reads where a greeting is (labpbx.lab.mailboxes: the mailbox's own file wins over the
  shipped espeak-ng one) and says it in words; a mailbox file the box would skip is said too.
- Replacing and reverting go through the bridge to a worker thread (the WAV is checked and
  converted there; a bad file leaves the old greeting in place and its reason is shown).
- Playing uses the view's Playback (one sound at a time); without an audio device the Play
  button is disabled and the view says why.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from labpbx.lab.mailboxes import GREETINGS, GreetingInfo, MailboxError, Mailboxes
from ui.text import arg


class GreetingsPanel(QGroupBox):
    play_requested = Signal(str)  # the WAV file to play
    replace_requested = Signal(str, str, str)  # (mailbox, greeting, WAV file chosen)
    revert_requested = Signal(str, str)  # (mailbox, greeting)

    def __init__(self, mailboxes: Mailboxes, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.mailboxes = mailboxes
        self.mailbox = ""
        self.info: GreetingInfo | None = None
        self.can_play = True
        self.kind = QComboBox()
        for kind in GREETINGS:
            self.kind.addItem("", kind)
        self.where = QLabel()
        self.where.setWordWrap(True)
        self.where.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.play_button = QPushButton()
        self.replace_button = QPushButton()
        self.revert_button = QPushButton()
        for widget in (self.kind, self.play_button, self.replace_button, self.revert_button):
            widget.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.kind_label = QLabel()
        self.kind_label.setBuddy(self.kind)
        top = QHBoxLayout()
        top.addWidget(self.kind_label)
        top.addWidget(self.kind)
        top.addWidget(self.where, 1)
        buttons = QHBoxLayout()
        buttons.addWidget(self.play_button)
        buttons.addWidget(self.replace_button)
        buttons.addWidget(self.revert_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(buttons)
        self.kind.currentIndexChanged.connect(lambda _i: self.refresh())
        self.play_button.clicked.connect(self._play)
        self.replace_button.clicked.connect(self._choose_file)
        self.revert_button.clicked.connect(self._revert)
        self.retranslate_ui()

    def retranslate_ui(self) -> None:
        names = {"busy": self.tr("Busy (after 486)"),
                 "unavailable": self.tr("Unavailable (no answer)"),
                 "default": self.tr("Default (direct deposit)")}
        for i in range(self.kind.count()):
            self.kind.setItemText(i, names[str(self.kind.itemData(i))])
        self.kind_label.setText(self.tr("&Greeting:"))
        self.kind.setAccessibleName(self.tr("Which greeting"))
        self.play_button.setText(self.tr("Play gr&eeting"))
        self.play_button.setAccessibleName(self.tr("Play the chosen greeting"))
        self.replace_button.setText(self.tr("Replace from &WAV…"))
        self.replace_button.setAccessibleName(
            self.tr("Replace the chosen greeting with a WAV file"))
        self.revert_button.setText(self.tr("Rever&t to default"))
        self.revert_button.setAccessibleName(
            self.tr("Play the shipped greeting again instead of the mailbox's own"))
        self.where.setAccessibleName(self.tr("Which file the greeting plays"))
        self.refresh()

    def changeEvent(self, event: QEvent) -> None:  # Qt's name
        super().changeEvent(event)
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate_ui()

    def show_mailbox(self, mailbox: str) -> None:
        self.mailbox = mailbox
        self.refresh()

    @property
    def greeting(self) -> str:
        return str(self.kind.currentData())

    def refresh(self) -> None:
        """Look again at where the chosen greeting is (a few stats)."""
        self.setTitle(arg(self.tr("Greetings of mailbox %1"), self.mailbox) if self.mailbox
                      else self.tr("Greetings"))
        self.info = None
        if self.mailbox:
            try:
                self.info = self.mailboxes.greeting(self.mailbox, self.greeting)
            except MailboxError as exc:
                self.where.setText("⚠ " + str(exc))
        info = self.info
        if info is not None:
            seconds = f"{info.duration:.1f}"
            text = (arg(self.tr("Plays the mailbox's own recording (%1 s)."), seconds) if info.own
                    else arg(self.tr("Plays the shipped greeting (%1 s)."), seconds))
            if info.problem:
                text += " " + arg(self.tr("The mailbox's own file is skipped: %1"), info.problem)
            self.where.setText(text)
        elif not self.mailbox:
            self.where.setText(self.tr("Choose a mailbox."))
        self.play_button.setEnabled(info is not None and self.can_play)
        self.replace_button.setEnabled(bool(self.mailbox))
        self.revert_button.setEnabled(info is not None and info.own)

    def _play(self) -> None:
        if self.info is not None:
            self.play_requested.emit(str(self.info.path))

    def _choose_file(self) -> None:
        if not self.mailbox:
            return
        path, _filter = QFileDialog.getOpenFileName(
            self, self.tr("A WAV file for the greeting"), str(Path.home()),
            self.tr("WAV files (*.wav *.WAV);;All files (*)"))
        if path:
            self.replace_requested.emit(self.mailbox, self.greeting, path)

    def _revert(self) -> None:
        if self.mailbox:
            self.revert_requested.emit(self.mailbox, self.greeting)
