"""An in-memory MessageStore: for tests and for running the box without a lab database.

Nothing is persisted; the WAV files stay on disk but the index dies with the process. The lab's
real index is the TinyDB-backed store in labpbx/store. A lock makes it safe to read from another
thread (a test) while the pump thread adds.
"""

from __future__ import annotations

import threading
from dataclasses import replace

from labpbx.voicemail.box import VoicemailMessage


class MemoryMessageStore:
    """Implements box.MessageStore, plus the reads a test or a UI wants."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._messages: list[VoicemailMessage] = []

    def add(self, message: VoicemailMessage) -> None:
        with self._lock:
            if any(m.id == message.id for m in self._messages):
                raise ValueError(f"message {message.id} is already stored")
            self._messages.append(message)

    def count(self, mailbox: str) -> tuple[int, int]:
        with self._lock:
            mine = [m for m in self._messages if m.mailbox == mailbox]
        new = sum(1 for m in mine if not m.heard)
        return new, len(mine) - new

    def messages(self, mailbox: str | None = None) -> list[VoicemailMessage]:
        with self._lock:
            return [m for m in self._messages if mailbox is None or m.mailbox == mailbox]

    def mark_heard(self, message_id: str) -> bool:
        """Flag a message as heard; False when there is no such message."""
        with self._lock:
            for i, m in enumerate(self._messages):
                if m.id == message_id:
                    self._messages[i] = replace(m, heard=True)
                    return True
        return False
