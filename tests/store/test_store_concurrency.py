"""Several processes on one lab file: no lost update, no torn read, locks across processes.

The proxy, the CLI and the GUI are separate processes (DESIGN.md); these tests run real ones
(multiprocessing, spawn) against one TinyDB file in tmp_path.
"""

from __future__ import annotations

import json
import multiprocessing
import time
from pathlib import Path

import pytest
import store_workers

from labpbx.store.db import LabStore, StoreLockedError

CTX = multiprocessing.get_context("spawn")
WRITERS = 4
ROWS_EACH = 25



def test_concurrent_writers_lose_nothing_and_readers_never_see_a_torn_file(
        db_file: Path) -> None:
    db_file.parent.mkdir(parents=True)
    reads, errors = store_workers.writers_with_reader(db_file, store_workers.add_rows, WRITERS,
                                                      ROWS_EACH, "writer")

    assert errors == []
    assert reads > 0
    data = json.loads(db_file.read_text())
    rows = LabStore(db_file).avp_list()
    assert len(rows) == len(data["usr_preferences"]) == WRITERS * ROWS_EACH
    assert sorted(r.id for r in rows) == list(range(1, WRITERS * ROWS_EACH + 1))
    assert {r.value for r in rows} == {f"sip:{w}-{i}@x" for w in range(WRITERS)
                                       for i in range(ROWS_EACH)}
    assert data["meta"]["1"]["autoinc"]["usr_preferences"] == WRITERS * ROWS_EACH
    for w in range(WRITERS):  # each writer's rows are in its own order
        values = [r.value for r in LabStore(db_file).avp_lookup(username=f"10{w:02d}")]
        assert values == [f"sip:{w}-{i}@x" for i in range(ROWS_EACH)]
    assert sorted(p.name for p in db_file.parent.iterdir()) == ["lab.json", "lab.json.lock"]


def test_cache_sees_a_write_from_another_process(db_file: Path) -> None:
    proxy = LabStore(db_file)
    proxy.avp_add("1004@127.0.0.1", "callfwd", 0, "sip:old@x")
    assert [r.value for r in proxy.avp_lookup(username="1004")] == ["sip:old@x"]
    p = CTX.Process(target=store_workers.add_one, args=(str(db_file), "1004@127.0.0.1",
                                                         "sip:new@x"))
    p.start()
    store_workers.join([p])
    assert [r.value for r in proxy.avp_lookup(username="1004")] == ["sip:old@x", "sip:new@x"]


def test_lock_held_by_another_process_times_out(db_file: Path) -> None:
    store = LabStore(db_file, lock_timeout=0.3)
    store_ok = LabStore(db_file, lock_timeout=30)
    store_ok.avp_add("1004@127.0.0.1", "callfwd", 0, "x")
    held, release = CTX.Event(), CTX.Event()
    p = CTX.Process(target=store_workers.hold_lock, args=(str(db_file), held, release))
    p.start()
    try:
        assert held.wait(60)
        before = db_file.read_bytes()
        t0 = time.monotonic()
        with pytest.raises(StoreLockedError, match="locked by another process"):
            store.avp_add("1004@127.0.0.1", "callfwd", 0, "y")
        assert time.monotonic() - t0 < 5
        assert db_file.read_bytes() == before
        assert len(store.avp_list()) == 1  # reading needs no lock
    finally:
        release.set()
        store_workers.join([p])
    store.avp_add("1004@127.0.0.1", "callfwd", 0, "y")
    assert len(store.avp_list()) == 2
