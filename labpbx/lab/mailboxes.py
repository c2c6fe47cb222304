"""The voicemail box's mailboxes as a view shows them: messages, counts, the heard flag, deletion,
and each mailbox's greetings.

    boxes = Mailboxes(lab_data_dir(config), mailboxes=config.extensions)
    boxes.summaries()                     # [MailboxSummary("1000", new=0, total=0), …]
    boxes.messages("1001")                # newest first
    boxes.mark_heard_async(message_id)    # a Future; on_change("1001") follows

Rules of this module:
- Where things are (the box writes them, labpbx.voicemail): the message index is the
  ``voicemail`` table of ``lab.json`` (id, mailbox, caller, time, duration, greeting, reason,
  path, heard), each message's audio a WAV file ``<data>/voicemail/<mailbox>/<id>.wav``; a
  mailbox's own greetings are ``<data>/greetings/<mailbox>/{busy,unavailable,default}.wav``,
  else the shipped ones (``assets/greetings/<language>/``) play.
- Reads take no lock (one ``os.stat`` when nothing changed; ``version()`` for polling); writes
  may wait for the file lock, so their ``*_async`` forms run on a short-lived worker thread and
  return a Future at once (labpbx.lab.provisioning.run_async), one write at a time.
- Deleting removes the WAV first, then the index row (labpbx.voicemail.store_adapter: never a
  WAV without a row). Replacing a greeting never loses the old one on a bad file
  (labpbx.voicemail.greeting_import).
- The voicemail box owns message waiting: after a change of the heard flags or a deletion,
  ``on_change(mailbox)`` is called (on the writing thread) so the lab can ask the box to count
  again and NOTIFY the phone (``Lab.refresh_mwi``); this module never sends SIP.
- Errors are MailboxError with a sentence for people; a corrupt index is left untouched.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar, cast

from labpbx.errors import LabPbxError, StoreError
from labpbx.lab.provisioning import Version, file_version, run_async
from labpbx.paths import db_path
from labpbx.store.db import LabStore
from labpbx.voicemail.box import Greeting
from labpbx.voicemail.greeting_import import (
    GREETING_KINDS,
    GreetingFileError,
    install_greeting,
    remove_greeting,
)
from labpbx.voicemail.greetings import find_greeting, mailbox_greeting, wav_info
from labpbx.voicemail.store_adapter import LabStoreMessageStore, PathEscapeError, wav_file

T = TypeVar("T")
GREETINGS: tuple[str, ...] = GREETING_KINDS
"""busy, unavailable, default."""


class MailboxError(LabPbxError):
    """A mailbox read or write failed; the message says why, for people."""


@dataclass(frozen=True, slots=True)
class Message:
    """One stored message. ``reason`` is why the call came (user-busy, no-answer, …),
    ``greeting`` which greeting the caller heard; ``path`` the WAV file (absolute)."""

    id: str
    mailbox: str
    caller: str
    caller_name: str
    received_at: float
    duration: float
    greeting: str
    reason: str
    heard: bool
    path: Path

    @property
    def cause(self) -> str:
        """busy / unavailable / other: why the message was left, in the box's own terms (the
        greeting follows the forwarding reason: b<ext> busy, u<ext> unavailable)."""
        if self.greeting in ("busy", "unavailable"):
            return self.greeting
        return "busy" if self.reason == "user-busy" else "other"


@dataclass(frozen=True, slots=True)
class MailboxSummary:
    mailbox: str
    new: int
    total: int


@dataclass(frozen=True, slots=True)
class GreetingInfo:
    """Which file a greeting of a mailbox plays: its own (``own``) or the shipped one."""

    mailbox: str
    kind: str
    path: Path
    own: bool
    duration: float
    problem: str = ""  # why the mailbox's own file is not used ("" = none, or it is used)


class Mailboxes:
    """The mailboxes of the lab in ``data_dir``; see the module rules."""

    def __init__(self, data_dir: Path, *, mailboxes: Iterable[str] = (), language: str = "en",
                 on_change: Callable[[str], None] | None = None,
                 lock_timeout: float = 5.0) -> None:
        self.data_dir = Path(data_dir)
        self.path = db_path(self.data_dir)
        self.configured = tuple(mailboxes)
        self.language = language
        self._index = LabStoreMessageStore(LabStore(self.path, lock_timeout=lock_timeout))
        self._on_change = on_change
        self._write_lock = threading.Lock()

    def version(self) -> Version:
        """The index file's (mtime, size, inode), None when there is none yet."""
        return file_version(self.path)

    # --- messages -------------------------------------------------------------------------------

    def messages(self, mailbox: str | None = None) -> list[Message]:
        """The messages of ``mailbox`` (every mailbox when None), newest first."""
        try:
            found = self._index.messages(mailbox)
        except StoreError as exc:
            raise MailboxError(str(exc)) from None
        return [Message(m.id, m.mailbox, m.caller, m.caller_name, m.received_at, m.duration,
                        m.greeting, m.reason, m.heard, self.data_dir / m.path) for m in found]

    def summaries(self) -> list[MailboxSummary]:
        """The configured mailboxes, then any other that holds messages, with their counts."""
        counts: dict[str, list[int]] = {name: [0, 0] for name in self.configured}
        for m in self.messages():
            new_total = counts.setdefault(m.mailbox, [0, 0])
            new_total[0] += 0 if m.heard else 1
            new_total[1] += 1
        return [MailboxSummary(name, new, total) for name, (new, total) in counts.items()]

    def message(self, message_id: str) -> Message:
        found = next((m for m in self.messages() if m.id == message_id), None)
        if found is None:
            raise MailboxError(f"there is no message {message_id} (deleted meanwhile?)")
        return found

    def audio_file(self, message: Message) -> Path:
        """The message's WAV, refusing a path that leaves the data directory."""
        try:
            return wav_file(self.data_dir, message.path.relative_to(self.data_dir).as_posix())
        except (PathEscapeError, ValueError) as exc:
            raise MailboxError(str(exc)) from None

    def mark_heard(self, message_id: str, heard: bool = True) -> Message:
        """Set a message's heard flag; returns the message as it was before."""
        message = self.message(message_id)
        try:
            if not self._index.mark_heard(message_id, heard):
                raise MailboxError(f"there is no message {message_id} (deleted meanwhile?)")
        except StoreError as exc:
            raise MailboxError(str(exc)) from None
        self._changed(message.mailbox)
        return message

    def delete(self, message_id: str) -> Message:
        """Delete a message: its WAV file, then its index row."""
        message = self.message(message_id)
        try:
            gone = self._index.delete(message_id, self.data_dir)
        except (StoreError, OSError, ValueError) as exc:
            raise MailboxError(f"message {message_id} was not deleted: {exc}") from None
        if gone is None:
            raise MailboxError(f"there is no message {message_id} (deleted meanwhile?)")
        self._changed(message.mailbox)
        return message

    def mark_heard_async(self, message_id: str, heard: bool = True) -> Future[Message]:
        return run_async(self._write_lock, lambda: self.mark_heard(message_id, heard),
                         "vm-mark-heard")

    def delete_async(self, message_id: str) -> Future[Message]:
        return run_async(self._write_lock, lambda: self.delete(message_id), "vm-delete")

    def _changed(self, mailbox: str) -> None:
        if self._on_change is not None:
            self._on_change(mailbox)

    # --- greetings ------------------------------------------------------------------------------

    def greeting(self, mailbox: str, kind: str) -> GreetingInfo:
        """The file the box plays for ``kind`` (busy, unavailable, default) in ``mailbox``."""
        choice = find_greeting(self.data_dir, mailbox, _kind(kind), self.language)
        try:
            seconds = wav_info(choice.path).duration
        except (OSError, ValueError):
            seconds = 0.0
        return GreetingInfo(mailbox, kind, choice.path, choice.own, seconds, choice.skipped)

    def replace_greeting(self, mailbox: str, kind: str, source: Path) -> GreetingInfo:
        """The mailbox's own ``kind`` greeting from the WAV ``source`` (converted if simple);
        MailboxError (the old greeting kept) when the file cannot be used."""
        target = self._own_greeting(mailbox, kind)
        try:
            install_greeting(Path(source), target)
        except GreetingFileError as exc:
            raise MailboxError(str(exc)) from None
        except OSError as exc:
            raise MailboxError(f"the greeting could not be saved in {target.parent}: "
                               f"{exc.strerror or exc}") from None
        return self.greeting(mailbox, kind)

    def revert_greeting(self, mailbox: str, kind: str) -> GreetingInfo:
        """Play the shipped greeting again (the mailbox's own file is removed)."""
        target = self._own_greeting(mailbox, kind)
        try:
            remove_greeting(target)
        except OSError as exc:
            raise MailboxError(f"{target} could not be removed: {exc.strerror or exc}") from None
        return self.greeting(mailbox, kind)

    def replace_greeting_async(self, mailbox: str, kind: str,
                               source: Path) -> Future[GreetingInfo]:
        return run_async(self._write_lock, lambda: self.replace_greeting(mailbox, kind, source),
                         "vm-greeting")

    def revert_greeting_async(self, mailbox: str, kind: str) -> Future[GreetingInfo]:
        return run_async(self._write_lock, lambda: self.revert_greeting(mailbox, kind),
                         "vm-greeting")

    def _own_greeting(self, mailbox: str, kind: str) -> Path:
        target = mailbox_greeting(self.data_dir, mailbox, _kind(kind))
        if target is None:
            raise MailboxError(f"{mailbox!r} is not a mailbox name")
        return target


def _kind(kind: str) -> Greeting:
    if kind not in GREETINGS:
        raise MailboxError(f"unknown greeting {kind!r}: use busy, unavailable or default")
    return cast(Greeting, kind)
