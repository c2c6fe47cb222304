"""Process entry points for the multi-process store tests (importable by spawned children)."""

from __future__ import annotations

import json
import multiprocessing
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import filelock
import pytest

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
    while True:
        finished = stop.is_set()  # one more full read after the writers are done
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
        if finished:
            break
    results.put((reads, errors[:5]))


def add_one(path: str, owner: str, value: str) -> None:
    LabStore(Path(path)).avp_add(owner, "callfwd", 0, value)


def hold_lock(path: str, held: Any, release: Any) -> None:
    with filelock.FileLock(path + ".lock"):
        held.set()
        release.wait(timeout=60)
    time.sleep(0)


def join(procs: Sequence[multiprocessing.process.BaseProcess], timeout: float = 90.0) -> None:
    """Join worker processes; kill and fail the test for one still running at the deadline."""
    deadline = time.monotonic() + timeout
    for p in procs:
        p.join(max(0.1, deadline - time.monotonic()))
    for p in procs:
        if p.is_alive():
            p.kill()
            pytest.fail(f"{p.name} did not finish")
    assert [p.exitcode for p in procs] == [0] * len(procs)


def writers_with_reader(db_file: Path, target: Callable[..., None], writers: int, each: int,
                        name: str) -> tuple[int, list[str]]:
    """Run ``writers`` processes of ``target(path, w, each, barrier)`` at once while a reader process
    parses the file raw and through LabStore; return the reader's (reads, errors)."""
    ctx = multiprocessing.get_context("spawn")
    stop, results = ctx.Event(), ctx.Queue()
    reader = ctx.Process(target=poll, args=(str(db_file), stop, results), name="reader")
    reader.start()
    barrier = ctx.Barrier(writers)
    procs = [ctx.Process(target=target, args=(str(db_file), w, each, barrier), name=f"{name}-{w}")
             for w in range(writers)]
    for p in procs:
        p.start()
    join(procs)
    stop.set()
    reads, errors = results.get(timeout=60)
    join([reader])
    return reads, errors
