"""Process entry points for the multi-process voicemail / call-history tests (spawned children).

They sit next to store_workers.py (whose reader ``poll`` and ``hold_lock`` the tests reuse) so the
children can import them by module name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from labpbx.store.db import LabStore
from labpbx.store.records import CallRow
from labpbx.voicemail.box import VoicemailMessage, message_path
from labpbx.voicemail.store_adapter import LabStoreMessageStore


def vm_message(mailbox: str, message_id: str, received_at: float) -> VoicemailMessage:
    return VoicemailMessage(id=message_id, mailbox=mailbox, caller=f"sip:{mailbox}0@127.0.0.1",
                            caller_name="Worker", received_at=received_at, duration=1.25,
                            greeting="unavailable", reason="no-answer",
                            path=message_path(mailbox, message_id))


def add_messages(path: str, worker: int, count: int, barrier: Any) -> None:
    """Add ``count`` messages to mailbox 10<worker> through the adapter, all workers together."""
    box = LabStoreMessageStore(LabStore(Path(path), lock_timeout=60.0))
    mailbox = f"10{worker:02d}"
    barrier.wait(timeout=60)
    for i in range(count):
        box.add(vm_message(mailbox, f"w{worker}-{i:03d}", 1_700_000_000.0 + i))


def mark_all_heard(path: str, mailbox: str, barrier: Any) -> None:
    """Mark every message of ``mailbox`` heard, one transaction each, while others write."""
    store = LabStore(Path(path), lock_timeout=60.0)
    ids = [r.id for r in store.voicemail_list(mailbox)]
    barrier.wait(timeout=60)
    for message_id in ids:
        assert store.voicemail_mark_heard(message_id)


def add_calls(path: str, worker: int, count: int, barrier: Any) -> None:
    """Record ``count`` calls from extension 10<worker>, all workers starting together."""
    store = LabStore(Path(path), lock_timeout=60.0)
    barrier.wait(timeout=60)
    for i in range(count):
        store.calls_add(CallRow(0, f"call-{worker}-{i}", f"sip:10{worker:02d}@127.0.0.1",
                                "sip:1001@127.0.0.1", 1_700_000_000.0 + i,
                                1_700_000_010.0 + i, "answered"))
