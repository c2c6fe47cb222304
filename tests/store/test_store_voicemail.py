"""The voicemail index in the lab database: VoicemailRow, LabStore.voicemail_*, and the box's
MessageStore adapter (labpbx.voicemail.store_adapter) on real files in tmp_path."""

from __future__ import annotations

import dataclasses
import json
import multiprocessing
import os
import sys
from pathlib import Path
from typing import Any

import filelock
import pytest
import store_vm_workers
import store_workers

from labpbx.errors import StoreError
from labpbx.store import VoicemailRow
from labpbx.store.db import CorruptStoreError, LabStore, StoreLockedError
from labpbx.store.records import VOICEMAIL_GREETINGS, validate_relative_path, validate_voicemail
from labpbx.voicemail.box import GREETINGS, MessageStore, VoicemailMessage, message_path
from labpbx.voicemail.memory_store import MemoryMessageStore
from labpbx.voicemail.store_adapter import (
    LabStoreMessageStore,
    PathEscapeError,
    to_message,
    to_row,
    wav_file,
)

CTX = multiprocessing.get_context("spawn")


def row(mid: str, mailbox: str = "1001", **changes: Any) -> VoicemailRow:
    """A valid row of ``mailbox`` (path from message_path), with ``changes`` applied."""
    base = VoicemailRow(id=mid, mailbox=mailbox, caller="sip:1000@127.0.0.1",
                        caller_name="Alice", received_at=1.7e9, duration=2.5,
                        greeting="busy", reason="user-busy", path=message_path(mailbox, mid))
    return dataclasses.replace(base, **changes)


def message(mid: str, mailbox: str = "1001", *, received_at: float = 1.7e9,
            heard: bool = False) -> VoicemailMessage:
    return VoicemailMessage(id=mid, mailbox=mailbox, caller="sip:1000@127.0.0.1",
                            caller_name="Alice", received_at=received_at, duration=2.5,
                            greeting="busy", reason="user-busy",
                            path=message_path(mailbox, mid), heard=heard)


def write_lab(db_file: Path, voicemail: dict[str, object]) -> bytes:
    db_file.parent.mkdir(parents=True, exist_ok=True)
    content = json.dumps({"voicemail": voicemail}).encode()
    db_file.write_bytes(content)
    return content


# --- the record --------------------------------------------------------------------------------


class TestVoicemailRow:
    def test_same_fields_as_the_voicemail_message(self) -> None:
        assert [(f.name, f.default) for f in dataclasses.fields(VoicemailRow)] == \
            [(f.name, f.default) for f in dataclasses.fields(VoicemailMessage)]
        assert VOICEMAIL_GREETINGS == GREETINGS
        msg = message("m1")
        assert to_row(msg).to_dict() == msg.to_dict()
        assert to_message(to_row(msg)) == msg

    def test_round_trip_and_defaults(self) -> None:
        r = row("m1", heard=True)
        assert VoicemailRow.from_dict(r.to_dict()) == r
        doc = r.to_dict()
        for key in ("caller_name", "reason", "heard"):
            del doc[key]
        assert VoicemailRow.from_dict(doc) == dataclasses.replace(r, caller_name="", reason="",
                                                                  heard=False)
        assert VoicemailRow.from_dict({**r.to_dict(), "received_at": 5}).received_at == 5.0

    @pytest.mark.parametrize("change", [
        {"id": None}, {"id": 7}, {"mailbox": 1001}, {"received_at": "yesterday"},
        {"received_at": float("nan")}, {"duration": True}, {"greeting": "rude"},
        {"greeting": None}, {"heard": "yes"}, {"heard": 1}, {"path": ["a"]},
        {"caller_name": None},
    ])
    def test_bad_documents(self, change: dict[str, object]) -> None:
        with pytest.raises(ValueError):
            VoicemailRow.from_dict({**row("m1").to_dict(), **change})

    @pytest.mark.parametrize("key", ["id", "mailbox", "caller", "received_at", "duration",
                                     "greeting", "path"])
    def test_required_fields(self, key: str) -> None:
        doc = row("m1").to_dict()
        del doc[key]
        with pytest.raises(ValueError, match=key):
            VoicemailRow.from_dict(doc)

    @pytest.mark.parametrize(("change", "message"), [
        ({"id": ""}, "message id must not be empty"),
        ({"id": "a\nb"}, "control characters"),
        ({"mailbox": ""}, "mailbox must not be empty"),
        ({"duration": -1.0}, "negative"),
        ({"received_at": "x"}, "received_at"),
        ({"greeting": "rude"}, "greeting"),
    ])
    def test_validate_for_writing(self, change: dict[str, Any], message: str) -> None:
        with pytest.raises(ValueError, match=message):
            validate_voicemail(row("m1", **change))

    def test_validate_refuses_other_types(self) -> None:
        with pytest.raises(ValueError, match="VoicemailRow"):
            validate_voicemail(message("m1"))  # type: ignore[arg-type]

    @pytest.mark.parametrize("path", ["voicemail/1001/m.wav", "m.wav", "a/b.c/d..wav"])
    def test_relative_paths_ok(self, path: str) -> None:
        assert validate_relative_path(path) == path

    @pytest.mark.parametrize("path", [
        "", "/etc/passwd", "../x.wav", "voicemail/../../x.wav", "voicemail/..", "./x.wav",
        "a//b.wav", "a/", "C:/x.wav", "C:x.wav", "voicemail\\..\\..\\x.wav", "\\\\srv\\share\\x",
        "a\x00b.wav",
    ])
    def test_escaping_paths_refused(self, path: str) -> None:
        with pytest.raises(ValueError):
            validate_relative_path(path)


# --- LabStore.voicemail_* ---------------------------------------------------------------------


class TestVoicemailTable:
    def test_add_and_list_round_trip(self, store: LabStore, db_file: Path) -> None:
        stored = store.voicemail_add(row("m1", received_at=1_700_000_000))
        assert stored == row("m1", received_at=1_700_000_000.0)
        assert isinstance(stored.received_at, float)
        assert store.voicemail_list() == [stored]
        assert store.voicemail_get("m1") == stored and store.voicemail_get("nope") is None
        data = json.loads(db_file.read_text())
        assert data["voicemail"] == {"1": stored.to_dict()}
        assert data["meta"]["1"]["autoinc"]["voicemail"] == 1
        assert LabStore(db_file).voicemail_list() == [stored]  # another reader, from the file

    def test_list_is_newest_first_and_filters_by_mailbox(self, store: LabStore) -> None:
        store.voicemail_add(row("old", received_at=100.0))
        store.voicemail_add(row("new", received_at=300.0))
        store.voicemail_add(row("mid", received_at=200.0))
        store.voicemail_add(row("other", "1004", received_at=250.0))
        store.voicemail_add(row("tie-a", received_at=200.0))  # same second: later add first
        assert [r.id for r in store.voicemail_list()] == ["new", "other", "tie-a", "mid", "old"]
        assert [r.id for r in store.voicemail_list("1001")] == ["new", "tie-a", "mid", "old"]
        assert [r.id for r in store.voicemail_list("1004")] == ["other"]
        assert store.voicemail_list("9999") == []

    def test_count_and_mark_heard(self, store: LabStore) -> None:
        assert store.voicemail_count("1001") == (0, 0)
        store.voicemail_add(row("a"))
        store.voicemail_add(row("b"))
        store.voicemail_add(row("c", "1004"))
        store.voicemail_add(row("d", heard=True))
        assert store.voicemail_count("1001") == (2, 1)
        assert store.voicemail_count("1004") == (1, 0)
        assert store.voicemail_mark_heard("a") is True
        assert store.voicemail_count("1001") == (1, 2)
        assert store.voicemail_get("a") == row("a", heard=True)
        assert store.voicemail_mark_heard("a", heard=False) is True
        assert store.voicemail_count("1001") == (2, 1)
        assert store.voicemail_mark_heard("zzz") is False
        with pytest.raises(ValueError, match="heard"):
            store.voicemail_mark_heard("a", heard="yes")  # type: ignore[arg-type]

    def test_mark_heard_without_change_does_not_write(self, store: LabStore,
                                                      db_file: Path) -> None:
        store.voicemail_add(row("a", heard=True))
        before = (db_file.stat().st_ino, db_file.read_bytes())
        assert store.voicemail_mark_heard("a") is True
        assert store.voicemail_mark_heard("missing") is False
        assert (db_file.stat().st_ino, db_file.read_bytes()) == before

    def test_delete_returns_the_row_and_ids_are_not_reused(self, store: LabStore,
                                                           db_file: Path) -> None:
        store.voicemail_add(row("a"))
        store.voicemail_add(row("b", heard=True))
        assert store.voicemail_delete("b") == row("b", heard=True)
        assert store.voicemail_delete("b") is None
        assert [r.id for r in store.voicemail_list()] == ["a"]
        store.voicemail_add(row("c"))
        assert sorted(json.loads(db_file.read_text())["voicemail"], key=int) == ["1", "3"]
        assert store.voicemail_count("1001") == (2, 0)

    def test_duplicate_id_is_refused_and_the_lock_released(self, store: LabStore,
                                                           db_file: Path) -> None:
        store.voicemail_add(row("a"))
        before = db_file.read_bytes()
        with pytest.raises(ValueError, match="already stored"):
            store.voicemail_add(row("a", "1004"))
        assert db_file.read_bytes() == before
        with filelock.FileLock(str(db_file) + ".lock", timeout=0.1):
            pass

    @pytest.mark.parametrize("bad", [
        row("a", path="../../etc/passwd"), row("a", path="/tmp/x.wav"), row("", "1001"),
        row("a", greeting="rude"), row("a", duration=-0.5), row("a", received_at=float("inf")),
        row("a", heard=1),
    ])
    def test_invalid_rows_never_touch_the_file(self, store: LabStore, db_file: Path,
                                               bad: VoicemailRow) -> None:
        with pytest.raises(ValueError):
            store.voicemail_add(bad)
        assert not db_file.exists()
        store.voicemail_add(row("ok"))
        before = db_file.read_bytes()
        with pytest.raises(ValueError):
            store.voicemail_add(bad)
        assert db_file.read_bytes() == before

    def test_a_write_from_another_instance_is_seen(self, db_file: Path) -> None:
        reader = LabStore(db_file)
        assert reader.voicemail_count("1001") == (0, 0)
        LabStore(db_file).voicemail_add(row("a"))
        assert reader.voicemail_count("1001") == (1, 0)
        LabStore(db_file).voicemail_mark_heard("a")
        assert reader.voicemail_count("1001") == (0, 1)

    def test_other_tables_keep_working(self, store: LabStore) -> None:
        store.avp_add("1001@127.0.0.1", "callfwd", 0, "sip:2345678@127.0.0.1")
        store.voicemail_add(row("a"))
        store.voicemail_delete("a")
        assert [r.value for r in store.avp_lookup(username="1001")] == ["sip:2345678@127.0.0.1"]


CORRUPT_ROWS = [
    pytest.param({"1": {"id": "a"}}, "missing field", id="missing-fields"),
    pytest.param({"1": {**row("a").to_dict(), "greeting": "rude"}}, "greeting", id="greeting"),
    pytest.param({"1": {**row("a").to_dict(), "heard": "no"}}, "heard", id="heard"),
    pytest.param({"1": {**row("a").to_dict(), "received_at": "x"}}, "received_at", id="time"),
    pytest.param({"1": row("a").to_dict(), "2": {**row("b").to_dict(), "id": 2}}, "row 2",
                 id="second-row"),
    pytest.param({"1": ["not", "a", "row"]}, "not an object", id="row-array"),
]


class TestCorruptVoicemailRows:
    @pytest.mark.parametrize(("table", "message"), CORRUPT_ROWS)
    def test_reported_like_the_other_tables_and_never_touched(
            self, store: LabStore, db_file: Path, table: dict[str, object], message: str) -> None:
        content = write_lab(db_file, table)
        with pytest.raises(CorruptStoreError, match=message) as info:
            store.voicemail_list()
        assert str(db_file) in str(info.value)
        assert "'voicemail'" in str(info.value) or "not an object" in str(info.value)
        with pytest.raises(CorruptStoreError):
            store.voicemail_count("1001")
        with pytest.raises(CorruptStoreError):  # the whole lab is unusable, as for location rows
            store.avp_lookup(username="1001")
        with pytest.raises(CorruptStoreError):
            store.voicemail_add(row("new"))
        with pytest.raises(CorruptStoreError):
            store.voicemail_mark_heard("a")
        with pytest.raises(CorruptStoreError):
            store.voicemail_delete("a")
        with pytest.raises(CorruptStoreError):
            LabStoreMessageStore(store).count("1001")
        assert db_file.read_bytes() == content
        assert store.quarantine() is not None
        assert store.voicemail_list() == []

    def test_hand_written_row_with_an_escaping_path_reads(self, store: LabStore,
                                                          db_file: Path) -> None:
        # The file only needs the right shape; the path is checked when a file is deleted.
        write_lab(db_file, {"1": row("a", path="../outside.wav").to_dict()})
        assert [r.path for r in store.voicemail_list()] == ["../outside.wav"]


# --- several processes ---------------------------------------------------------------------------



WRITERS = 3
MESSAGES_EACH = 20


class TestConcurrency:
    def test_processes_adding_messages_at_once_lose_nothing(self, db_file: Path) -> None:
        db_file.parent.mkdir(parents=True)
        reads, errors = store_workers.writers_with_reader(
            db_file, store_vm_workers.add_messages, WRITERS, MESSAGES_EACH, "vm")

        assert errors == []
        assert reads > 0
        store = LabStore(db_file)
        rows = store.voicemail_list()
        assert len(rows) == WRITERS * MESSAGES_EACH
        assert {r.id for r in rows} == {f"w{w}-{i:03d}" for w in range(WRITERS)
                                        for i in range(MESSAGES_EACH)}
        data = json.loads(db_file.read_text())
        assert sorted(map(int, data["voicemail"])) == list(range(1, WRITERS * MESSAGES_EACH + 1))
        for w in range(WRITERS):
            mailbox = f"10{w:02d}"
            assert store.voicemail_count(mailbox) == (MESSAGES_EACH, 0)
            assert [r.id for r in store.voicemail_list(mailbox)] == \
                [f"w{w}-{i:03d}" for i in reversed(range(MESSAGES_EACH))]
        assert sorted(p.name for p in db_file.parent.iterdir()) == ["lab.json", "lab.json.lock"]

    def test_marking_heard_while_another_process_adds_loses_neither(self,
                                                                    db_file: Path) -> None:
        store = LabStore(db_file)
        for i in range(MESSAGES_EACH):
            store.voicemail_add(row(f"pre-{i}", "1099", received_at=float(i)))
        barrier = CTX.Barrier(2)
        procs = [CTX.Process(target=store_vm_workers.mark_all_heard,
                             args=(str(db_file), "1099", barrier), name="marker"),
                 CTX.Process(target=store_vm_workers.add_messages,
                             args=(str(db_file), 0, MESSAGES_EACH, barrier), name="adder")]
        for p in procs:
            p.start()
        store_workers.join(procs)
        assert store.voicemail_count("1099") == (0, MESSAGES_EACH)
        assert store.voicemail_count("1000") == (MESSAGES_EACH, 0)

    def test_add_waits_for_the_lock_then_times_out(self, db_file: Path) -> None:
        LabStore(db_file).voicemail_add(row("a"))
        blocked = LabStore(db_file, lock_timeout=0.3)
        held, release = CTX.Event(), CTX.Event()
        p = CTX.Process(target=store_workers.hold_lock, args=(str(db_file), held, release))
        p.start()
        try:
            assert held.wait(60)
            before = db_file.read_bytes()
            with pytest.raises(StoreLockedError, match="locked by another process"):
                blocked.voicemail_add(row("b"))
            with pytest.raises(StoreLockedError):
                LabStoreMessageStore(blocked).add(message("b"))
            assert db_file.read_bytes() == before
            assert blocked.voicemail_count("1001") == (1, 0)  # reading needs no lock
        finally:
            release.set()
            store_workers.join([p])
        blocked.voicemail_add(row("b"))
        assert blocked.voicemail_count("1001") == (2, 0)


# --- the box's MessageStore on the lab database --------------------------------------------------


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def box(data_dir: Path) -> LabStoreMessageStore:
    return LabStoreMessageStore.for_data_dir(data_dir, lock_timeout=5.0)


def wav(data_dir: Path, msg: VoicemailMessage) -> Path:
    path = data_dir / msg.path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"RIFF....WAVE")
    return path


class TestAdapter:
    def test_is_a_message_store_and_round_trips_real_messages(
            self, box: LabStoreMessageStore, data_dir: Path) -> None:
        as_protocol: MessageStore = box
        msg = message("20240101-120000-abcdef", received_at=1_704_110_400)
        as_protocol.add(msg)
        assert as_protocol.count("1001") == (1, 0)
        assert box.messages() == [msg] and box.messages("1001") == [msg]
        assert box.messages("1004") == []
        assert box.get(msg.id) == msg and box.get("nope") is None
        assert box.store.path == data_dir / "lab.json"
        assert LabStoreMessageStore.for_data_dir(data_dir).messages() == [msg]

    def test_behaves_like_the_memory_store(self, box: LabStoreMessageStore) -> None:
        memory = MemoryMessageStore()
        messages = [message("a"), message("b", received_at=1.8e9), message("c", "1004"),
                    message("d", heard=True)]
        for store in (memory, box):
            for m in messages:
                store.add(m)
            assert store.mark_heard("a") and not store.mark_heard("zzz")
            with pytest.raises(ValueError):
                store.add(message("a"))
        for mailbox in ("1001", "1004", "nobody"):
            assert box.count(mailbox) == memory.count(mailbox)
            assert sorted(box.messages(mailbox), key=lambda m: m.id) == \
                sorted(memory.messages(mailbox), key=lambda m: m.id)
        assert [m.id for m in box.messages("1001")] == ["b", "d", "a"]  # newest, then last added
        assert box.mark_heard("a", heard=False) and box.count("1001") == (2, 1)

    def test_invalid_message_is_refused(self, box: LabStoreMessageStore) -> None:
        bad = dataclasses.replace(message("a"), path="../../escape.wav")
        with pytest.raises(ValueError, match="segments"):
            box.add(bad)
        assert box.messages() == []

    def test_delete_removes_the_file_and_the_row(self, box: LabStoreMessageStore,
                                                  data_dir: Path) -> None:
        keep, gone = message("keep"), message("gone", heard=True)
        for m in (keep, gone):
            box.add(m)
        keep_file, gone_file = wav(data_dir, keep), wav(data_dir, gone)
        assert box.delete("gone", data_dir) == gone
        assert not gone_file.exists() and keep_file.exists()
        assert box.messages() == [keep] and box.count("1001") == (1, 0)
        assert box.delete("gone", data_dir) is None

    def test_delete_with_the_file_already_gone(self, box: LabStoreMessageStore,
                                               data_dir: Path) -> None:
        box.add(message("a"))
        assert box.delete("a", data_dir) == message("a")
        assert box.messages() == []

    def test_delete_keeps_the_row_when_the_file_cannot_be_removed(
            self, box: LabStoreMessageStore, data_dir: Path) -> None:
        msg = message("a")
        box.add(msg)
        (data_dir / msg.path).mkdir(parents=True)  # a directory where the WAV should be
        with pytest.raises(OSError):
            box.delete("a", data_dir)
        assert box.messages() == [msg]

    @pytest.mark.parametrize("path", ["../outside.wav", "voicemail/../../outside.wav",
                                      "/abs/outside.wav", "voicemail\\..\\..\\outside.wav", "."])
    def test_delete_refuses_paths_outside_the_data_dir(
            self, box: LabStoreMessageStore, data_dir: Path, tmp_path: Path,
            path: str) -> None:
        outside = tmp_path / "outside.wav"
        outside.write_bytes(b"precious")
        box.add(message("ok"))
        # voicemail_add refuses such paths, so only a hand-edited file can hold one
        data = json.loads(box.store.path.read_text())
        data["voicemail"]["2"] = {**message("evil").to_dict(), "path": path}
        box.store.path.write_text(json.dumps(data))
        with pytest.raises(PathEscapeError, match="refusing"):
            box.delete("evil", data_dir)
        assert outside.read_bytes() == b"precious"
        assert [m.id for m in box.messages()] == ["evil", "ok"]  # nothing was deleted
        assert box.store.voicemail_delete("evil") is not None  # the row alone can still go

    @pytest.mark.skipif(sys.platform == "win32", reason="symlinks need privileges on Windows")
    def test_delete_refuses_a_symlink_out_of_the_data_dir(
            self, box: LabStoreMessageStore, data_dir: Path, tmp_path: Path) -> None:
        elsewhere = tmp_path / "elsewhere"
        elsewhere.mkdir()
        msg = message("a")
        box.add(msg)
        (data_dir / "voicemail").mkdir(parents=True)
        os.symlink(elsewhere, data_dir / "voicemail" / "1001")
        victim = elsewhere / "a.wav"
        victim.write_bytes(b"precious")
        with pytest.raises(PathEscapeError, match="outside the data directory"):
            box.delete("a", data_dir)
        assert victim.read_bytes() == b"precious"
        assert box.messages() == [msg]

    def test_wav_file(self, data_dir: Path) -> None:
        data_dir.mkdir()
        assert wav_file(data_dir, "voicemail/1001/a.wav") == \
            Path(os.path.realpath(data_dir)) / "voicemail" / "1001" / "a.wav"
        with pytest.raises(PathEscapeError):
            wav_file(data_dir, "../a.wav")
        with pytest.raises(ValueError):  # PathEscapeError is a ValueError
            wav_file(data_dir, "")

    def test_for_data_dir_reports_a_corrupt_lab_at_once(self, data_dir: Path) -> None:
        data_dir.mkdir()
        (data_dir / "lab.json").write_text('{"voicemail": {"1": {"id": "a"}}}')
        with pytest.raises(StoreError, match="'voicemail', row 1"):
            LabStoreMessageStore.for_data_dir(data_dir)
