"""The voicemail box's message index in the lab database (box.MessageStore over LabStore).

The store layer does not know the voicemail package (DESIGN.md layering), so it keeps
``VoicemailRow`` records with the same fields as ``VoicemailMessage``; this module converts
between the two and adds the one thing the store must not do itself: deleting a message's WAV
file, and only when that file really lies inside the lab data dir.

``delete`` order: check the path → remove the file (a missing file is fine) → remove the index
row. If the file cannot be removed (e.g. Windows: a player still has it open) nothing changed and
the call can be repeated; if the index cannot be written afterwards (StoreLockedError) the row
points at a missing file and repeating ``delete`` finishes the job. No WAV is ever left on disk
without an index row pointing at it.
"""

from __future__ import annotations

import os
from pathlib import Path

from labpbx.paths import db_path
from labpbx.store.db import DEFAULT_LOCK_TIMEOUT, LabStore
from labpbx.store.records import VoicemailRow, validate_relative_path
from labpbx.voicemail.box import VoicemailMessage


class PathEscapeError(ValueError):
    """A message's path would leave the lab data dir (``..``, absolute, or through a symlink)."""


def to_row(message: VoicemailMessage) -> VoicemailRow:
    """The store record of a message (ValueError if a field has the wrong type)."""
    return VoicemailRow.from_dict(message.to_dict())


def to_message(row: VoicemailRow) -> VoicemailMessage:
    """The message of a store record."""
    return VoicemailMessage.from_dict(row.to_dict())


def wav_file(data_dir: Path, rel_path: str) -> Path:
    """The real location of a message file, refusing any path that is not inside ``data_dir``.

    The text must be a plain relative path (no ``..``, not absolute, '/'-separated), and once
    symlinks are resolved the file must still be strictly inside the resolved data dir.
    Raises PathEscapeError otherwise.
    """
    try:
        validate_relative_path(rel_path)
    except ValueError as exc:
        raise PathEscapeError(f"refusing message file {rel_path!r}: {exc}") from None
    root = Path(os.path.realpath(data_dir))
    target = Path(os.path.realpath(root.joinpath(*rel_path.split("/"))))
    if target == root or not target.is_relative_to(root):
        raise PathEscapeError(
            f"refusing message file {rel_path!r}: it resolves to {target}, outside the data "
            f"directory {root}")
    return target


class LabStoreMessageStore:
    """Implements box.MessageStore on the lab database, plus the reads and chores of a UI.

    Every call reads or writes the file through ``store`` (other processes see the changes at
    their next read). Errors: ValueError for bad arguments, StoreError when the file cannot be
    used, OSError when a WAV file cannot be removed.
    """

    def __init__(self, store: LabStore) -> None:
        self.store = store

    @classmethod
    def for_data_dir(cls, data_dir: Path, *,
                     lock_timeout: float = DEFAULT_LOCK_TIMEOUT) -> LabStoreMessageStore:
        """The index of the lab in ``data_dir`` (a ``process.StoreFactory``).

        Checks the file at once, so a corrupt lab raises StoreError here, not at the first
        message.
        """
        store = LabStore(db_path(Path(data_dir)), lock_timeout=lock_timeout)
        store.check()
        return cls(store)

    # --- box.MessageStore ---------------------------------------------------------------------

    def add(self, message: VoicemailMessage) -> None:
        """Index a new message (ValueError if its id is already stored or a field is invalid)."""
        self.store.voicemail_add(to_row(message))

    def count(self, mailbox: str) -> tuple[int, int]:
        return self.store.voicemail_count(mailbox)

    # --- reads and chores -----------------------------------------------------------------------

    def messages(self, mailbox: str | None = None) -> list[VoicemailMessage]:
        """The messages of ``mailbox`` (all when None), newest first."""
        return [to_message(r) for r in self.store.voicemail_list(mailbox)]

    def get(self, message_id: str) -> VoicemailMessage | None:
        row = self.store.voicemail_get(message_id)
        return None if row is None else to_message(row)

    def mark_heard(self, message_id: str, heard: bool = True) -> bool:
        """Flag a message as heard (or new again); False when there is no such message."""
        return self.store.voicemail_mark_heard(message_id, heard)

    def delete(self, message_id: str, data_dir: Path) -> VoicemailMessage | None:
        """Delete a message: its WAV file under ``data_dir``, then its index row.

        Returns the deleted message, or None when there is no such message. A path that would
        leave ``data_dir`` raises PathEscapeError (a ValueError) and nothing is deleted; the
        index row alone can still be dropped with ``store.voicemail_delete``.
        """
        row = self.store.voicemail_get(message_id)
        if row is None:
            return None
        target = wav_file(data_dir, row.path)
        target.unlink(missing_ok=True)
        removed = self.store.voicemail_delete(message_id)
        return None if removed is None else to_message(removed)
