"""Process entry points for the multi-process store tests (importable by spawned children)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import filelock

from labpbx.store.db import LabStore


def add_rows(path: str, worker: int, count: int, barrier: Any) -> None:
    """Add ``count`` AVPs for extension 100<worker>, all workers starting together."""
    store = LabStore(Path(path), lock_timeout=60.0)
    barrier.wait(timeout=60)
    for i in range(count):
        store.avp_add(f"10{worker:02d}@127.0.0.1", "callfwd", 0, f"sip:{worker}-{i}@x")


def poll(path: str, stop: Any, results: Any) -> None:
    """Read the file raw and through LabStore until ``stop``; report (reads, errors)."""
    store = LabStore(Path(path))
    reads, errors = 0, []
    while not stop.is_set():
        try:
            raw = Path(path).read_bytes()
        except FileNotFoundError:
            raw = None
        if raw is not None:
            try:
                json.loads(raw)
            except ValueError as exc:
                errors.append(f"raw read: {exc} ({len(raw)} bytes)")
        try:
            store.avp_list()
            store.avp_lookup(username="1000", attribute="callfwd")
        except Exception as exc:
            errors.append(f"store read: {exc!r}")
        reads += 1
    results.put((reads, errors[:5]))


def add_one(path: str, owner: str, value: str) -> None:
    LabStore(Path(path)).avp_add(owner, "callfwd", 0, value)


def hold_lock(path: str, held: Any, release: Any) -> None:
    with filelock.FileLock(path + ".lock"):
        held.set()
        release.wait(timeout=60)
    time.sleep(0)
