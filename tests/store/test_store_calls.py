"""The call history in the lab database: CallRow and LabStore.calls_* on real files in tmp_path."""

from __future__ import annotations

import dataclasses
import json
import multiprocessing
from pathlib import Path
from typing import Any

import pytest
import store_vm_workers
import store_workers

from labpbx.store import CALL_OUTCOMES, CallRow
from labpbx.store.db import CorruptStoreError, LabStore
from labpbx.store.records import validate_call

CTX = multiprocessing.get_context("spawn")


def call(n: int = 1, outcome: str = "answered", *, started_at: float | None = None,
         **changes: Any) -> CallRow:
    start = 1_700_000_000.0 + n if started_at is None else started_at
    base = CallRow(0, f"call-{n}@127.0.0.1", "sip:1000@127.0.0.1", "sip:1001@127.0.0.1", start,
                   start + 12.5, outcome, "")
    return dataclasses.replace(base, **changes)


class TestCallRow:
    def test_round_trip(self) -> None:
        row = call(3, "busy→voicemail", detail="486 Busy Here", id=7)
        doc = row.to_dict()
        assert "id" not in doc  # the id is the document key
        assert CallRow.from_dict(doc, doc_id=7) == row
        assert CallRow.from_dict({**doc, "id": 7}) == row
        del doc["detail"], doc["call_id"]
        assert CallRow.from_dict(doc, doc_id=7) == dataclasses.replace(row, detail="",
                                                                       call_id="")

    def test_outcomes(self) -> None:
        assert CALL_OUTCOMES == ("answered", "busy→voicemail", "no answer→voicemail",
                                 "forwarded→voicemail", "cancelled", "failed")
        for outcome in CALL_OUTCOMES:
            assert validate_call(call(outcome=outcome)).outcome == outcome

    @pytest.mark.parametrize("change", [
        {"caller": None}, {"callee": 1001}, {"started_at": "now"}, {"ended_at": float("nan")},
        {"outcome": 3}, {"detail": None}, {"call_id": 5},
    ])
    def test_bad_documents(self, change: dict[str, object]) -> None:
        with pytest.raises(ValueError):
            CallRow.from_dict({**call().to_dict(), **change}, doc_id=1)

    def test_unknown_outcome_reads_but_is_not_written(self) -> None:
        doc = {**call().to_dict(), "outcome": "transferred"}
        assert CallRow.from_dict(doc, doc_id=1).outcome == "transferred"
        with pytest.raises(ValueError, match="unknown call outcome 'transferred'"):
            validate_call(call(outcome="transferred"))

    def test_validate_refuses_other_types(self) -> None:
        with pytest.raises(ValueError, match="CallRow"):
            validate_call(call().to_dict())  # type: ignore[arg-type]


class TestCallsTable:
    def test_add_assigns_ids_and_round_trips(self, store: LabStore, db_file: Path) -> None:
        first = store.calls_add(call(1, started_at=1_700_000_000, id=99))
        assert first == call(1, started_at=1_700_000_000.0, id=1)  # the given id is ignored
        assert isinstance(first.started_at, float)
        second = store.calls_add(call(2, "no answer→voicemail", detail="408 Request Timeout"))
        assert second.id == 2
        assert store.calls_list() == [second, first]
        data = json.loads(db_file.read_text())
        assert data["calls"]["2"]["outcome"] == "no answer→voicemail"  # stored as UTF-8 text
        assert "\\u2192" not in db_file.read_text(encoding="utf-8")
        assert data["meta"]["1"]["autoinc"]["calls"] == 2
        assert LabStore(db_file).calls_list() == [second, first]

    def test_list_is_newest_first_with_a_limit(self, store: LabStore) -> None:
        for n in (3, 1, 5, 2, 4):
            store.calls_add(call(n))
        store.calls_add(call(6, started_at=1_700_000_005.0))  # same start as call 5: later id
        assert [r.call_id.split("@")[0] for r in store.calls_list()] == \
            ["call-6", "call-5", "call-4", "call-3", "call-2", "call-1"]
        assert [r.id for r in store.calls_list(limit=2)] == [6, 3]
        assert store.calls_list(limit=0) == []
        assert len(store.calls_list(limit=None)) == 6
        assert len(store.calls_list(limit=1000)) == 6

    @pytest.mark.parametrize("limit", [-1, 1.5, "10", True])
    def test_bad_limit(self, store: LabStore, limit: object) -> None:
        with pytest.raises(ValueError, match="limit"):
            store.calls_list(limit=limit)  # type: ignore[arg-type]

    def test_default_limit_is_100(self, store: LabStore, db_file: Path) -> None:
        db_file.parent.mkdir(parents=True)
        rows = {str(n): call(n).to_dict() for n in range(1, 151)}
        db_file.write_text(json.dumps({"calls": rows}))
        listed = store.calls_list()
        assert len(listed) == 100 and listed[0].id == 150 and listed[-1].id == 51

    def test_clear_counts_and_ids_continue(self, store: LabStore, db_file: Path) -> None:
        assert store.calls_clear() == 0
        for n in range(3):
            store.calls_add(call(n))
        assert store.calls_clear() == 3
        assert store.calls_list() == []
        assert store.calls_add(call(9)).id == 4
        assert json.loads(db_file.read_text())["calls"].keys() == {"4"}

    def test_clear_of_an_empty_history_does_not_write(self, store: LabStore,
                                                      db_file: Path) -> None:
        store.avp_add("1001@127.0.0.1", "a", 0, "b")
        before = (db_file.stat().st_ino, db_file.read_bytes())
        assert store.calls_clear() == 0
        assert (db_file.stat().st_ino, db_file.read_bytes()) == before

    @pytest.mark.parametrize("bad", [call(outcome="busy"), call(caller=None),
                                     call(started_at=float("inf")), call(ended_at="later")])
    def test_invalid_rows_never_touch_the_file(self, store: LabStore, db_file: Path,
                                               bad: CallRow) -> None:
        with pytest.raises(ValueError):
            store.calls_add(bad)
        assert not db_file.exists()
        store.calls_add(call())
        before = db_file.read_bytes()
        with pytest.raises(ValueError):
            store.calls_add(bad)
        assert db_file.read_bytes() == before

    def test_end_before_start_is_kept(self, store: LabStore) -> None:
        # the wall clock may step back during a call; the history must not lose the call
        assert store.calls_add(call(1, ended_at=1.0)).ended_at == 1.0

    @pytest.mark.parametrize(("rows", "message"), [
        ({"1": {"caller": "a"}}, "'calls', row 1: missing field"),
        ({"1": {**call().to_dict(), "started_at": "x"}}, "started_at"),
        ({"1": call().to_dict(), "2": {**call().to_dict(), "outcome": None}}, "'calls', row 2"),
    ])
    def test_corrupt_rows_are_reported_and_never_touched(
            self, store: LabStore, db_file: Path, rows: dict[str, object], message: str) -> None:
        db_file.parent.mkdir(parents=True)
        content = json.dumps({"calls": rows}).encode()
        db_file.write_bytes(content)
        with pytest.raises(CorruptStoreError, match=message) as info:
            store.calls_list()
        assert str(db_file) in str(info.value)
        with pytest.raises(CorruptStoreError):
            store.avp_lookup(username="1001")
        with pytest.raises(CorruptStoreError):
            store.calls_add(call())
        with pytest.raises(CorruptStoreError):
            store.calls_clear()
        assert db_file.read_bytes() == content
        assert store.quarantine() is not None
        assert store.calls_list() == []



def test_processes_recording_calls_at_once_lose_nothing(db_file: Path) -> None:
    writers, each = 3, 20
    db_file.parent.mkdir(parents=True)
    reads, errors = store_workers.writers_with_reader(db_file, store_vm_workers.add_calls, writers,
                                                      each, "calls")

    assert errors == [] and reads > 0
    rows = LabStore(db_file).calls_list(limit=None)
    assert sorted(r.id for r in rows) == list(range(1, writers * each + 1))
    assert {r.call_id for r in rows} == {f"call-{w}-{i}" for w in range(writers)
                                         for i in range(each)}
    for w in range(writers):  # each writer's calls are in its own order (ids ascending)
        mine = sorted((r for r in rows if r.caller == f"sip:10{w:02d}@127.0.0.1"),
                      key=lambda r: r.id)
        assert [r.call_id for r in mine] == [f"call-{w}-{i}" for i in range(each)]


class TestCallsAddMany:
    def test_one_write_assigns_ids_in_order(self, store: LabStore) -> None:
        stored = store.calls_add_many([call(1), call(2), call(3)])
        assert [r.id for r in stored] == [1, 2, 3]
        assert [r.call_id for r in store.calls_list(None)] == [f"call-{n}@127.0.0.1"
                                                              for n in (3, 2, 1)]

    def test_keeps_only_the_newest(self, store: LabStore) -> None:
        store.calls_add_many([call(n) for n in range(1, 6)], keep=None)
        store.calls_add_many([call(6), call(7)], keep=4)
        assert sorted(r.id for r in store.calls_list(None)) == [4, 5, 6, 7]
        # ids are not reused after the trim
        assert store.calls_add_many([call(8)], keep=4)[0].id == 8

    def test_a_bad_row_leaves_the_file_untouched(self, store: LabStore, db_file: Path) -> None:
        store.calls_add(call(1))
        before = db_file.read_bytes()
        with pytest.raises(ValueError):
            store.calls_add_many([call(2), call(3, outcome="transferred")])
        assert db_file.read_bytes() == before

    def test_nothing_to_add_writes_nothing(self, store: LabStore) -> None:
        assert store.calls_add_many([]) == []
        assert store.calls_list(None) == []
