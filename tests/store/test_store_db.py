"""LabStore on real TinyDB files in tmp_path: round-trips, the lookup cache, corruption, locking."""

from __future__ import annotations

import json
import os
import stat
import sys
from datetime import UTC, datetime
from pathlib import Path

import filelock
import pytest

from labpbx.errors import StoreError
from labpbx.store import SCHEMA_VERSION, LocationRow, Owner
from labpbx.store.db import CorruptStoreError, LabStore, StoreLockedError

CALLFWD = "sip:2345678@127.0.0.1:15060"


def fixed_now() -> datetime:
    return datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


class TestAvpAddListRm:
    def test_add_creates_the_file_with_every_table(self, store: LabStore, db_file: Path) -> None:
        assert not db_file.exists()
        row = store.avp_add("1004@127.0.0.1", "callfwd", 0, CALLFWD)
        assert (row.id, row.uuid, row.username, row.domain) == (1, "", "1004", "127.0.0.1")
        assert (row.attribute, row.type, row.value) == ("callfwd", 0, CALLFWD)
        data = json.loads(db_file.read_text())
        assert set(data) == {"meta", "usr_preferences", "location", "subscriber", "voicemail",
                             "calls"}
        assert data["meta"]["1"]["schema_version"] == SCHEMA_VERSION
        assert data["usr_preferences"]["1"]["value"] == CALLFWD
        assert store.schema_version() == SCHEMA_VERSION

    def test_last_modified_is_iso8601(self, db_file: Path) -> None:
        store = LabStore(db_file, now=fixed_now)
        assert store.avp_add("1004@127.0.0.1", "callfwd", 0, CALLFWD).last_modified == \
            "2024-05-01T12:00:00+00:00"
        default = LabStore(db_file).avp_add("1004@127.0.0.1", "x", 0, "y").last_modified
        assert datetime.fromisoformat(default).tzinfo is not None

    def test_list_round_trip_and_filters(self, store: LabStore) -> None:
        store.avp_add("1004@127.0.0.1", "callfwd", 0, CALLFWD)
        store.avp_add("1004@localhost", "callfwd", 0, "sip:u@x")
        store.avp_add("1005@127.0.0.1", "limit", 1, "30")
        store.avp_add(Owner("", "1006", "10.0.0.1"), "n", 1, 7)
        assert [r.id for r in store.avp_list()] == [1, 2, 3, 4]
        assert [r.id for r in store.avp_list(owner="1004@127.0.0.1")] == [1]
        assert [r.id for r in store.avp_list(owner="1004@localhost")] == [2]
        assert [r.id for r in store.avp_list(attribute="callfwd")] == [1, 2]
        assert [r.id for r in store.avp_list(value="30")] == [3]
        assert [r.id for r in store.avp_list(type_=1)] == [3, 4]
        assert store.avp_list(owner="1004@127.0.0.1", attribute="limit") == []
        assert store.avp_list()[3].value == "7"

    def test_rm(self, store: LabStore) -> None:
        for i in range(3):
            store.avp_add("1004@127.0.0.1", "callfwd", 0, f"sip:{i}@x")
        store.avp_add("1005@127.0.0.1", "callfwd", 0, "sip:k@x")
        assert store.avp_rm(owner="1004@127.0.0.1", value="sip:1@x") == 1
        assert store.avp_rm(owner="1004@127.0.0.1") == 2
        assert store.avp_rm(owner="1004@127.0.0.1") == 0
        assert [r.username for r in store.avp_list()] == ["1005"]
        with pytest.raises(ValueError, match="refusing"):
            store.avp_rm()
        assert store.avp_rm(all_rows=True) == 1
        assert store.avp_list() == []

    def test_ids_are_never_reused(self, store: LabStore) -> None:
        store.avp_add("1004@127.0.0.1", "a", 0, "1")
        store.avp_add("1004@127.0.0.1", "a", 0, "2")
        store.avp_rm(value="2")
        assert store.avp_add("1004@127.0.0.1", "a", 0, "3").id == 3  # AUTO_INCREMENT semantics

    @pytest.mark.parametrize(("args", "message"), [
        (("1004@127.0.0.1", "callfwd", 7, "x"), "invalid AVP type"),
        (("1004@127.0.0.1", "", 0, "x"), "empty"),
        (("1004@127.0.0.1", "a" * 33, 0, "x"), "longer than 32"),
        (("1004@127.0.0.1", "callfwd", 0, "v" * 129), "longer than 128"),
        (("1004@127.0.0.1", "callfwd", 1, "sip:x@y"), "integer"),
        (("", "callfwd", 0, "x"), "empty"),
        (("1004@127.0.0.1", "callfwd", 0, True), "boolean"),
    ])
    def test_add_validation_touches_nothing(self, store: LabStore, db_file: Path,
                                            args: tuple[str, str, int, str], message: str) -> None:
        with pytest.raises(ValueError, match=message):
            store.avp_add(*args)
        assert not db_file.exists()

    def test_other_tables(self, store: LabStore, db_file: Path) -> None:
        store.avp_add("1004@127.0.0.1", "callfwd", 0, "a", table="my_prefs")
        assert store.avp_list() == []
        assert [r.value for r in store.avp_list(table="my_prefs")] == ["a"]
        assert [r.value for r in store.avp_lookup(username="1004", table="my_prefs")] == ["a"]
        assert "my_prefs" in json.loads(db_file.read_text())
        for bad in ("location", "subscriber", "meta", "bad-name", "1x", "x; drop"):
            with pytest.raises(ValueError):
                store.avp_add("1004@127.0.0.1", "callfwd", 0, "a", table=bad)
            with pytest.raises(ValueError):
                store.avp_lookup(username="1004", table=bad)

    def test_missing_file_reads_empty_and_is_not_created(self, store: LabStore,
                                                         db_file: Path) -> None:
        assert store.avp_list() == []
        assert store.avp_lookup(username="1004", attribute="callfwd") == []
        assert store.location_all() == []
        store.check()
        assert not db_file.exists()
        assert not db_file.parent.exists()


class TestLookup:
    """avp_lookup = the rows avp_db_load would load, served from the cache."""

    def test_username_only_unless_domain(self, store: LabStore) -> None:
        store.avp_add("1004@127.0.0.1", "callfwd", 0, "sip:a@x")
        store.avp_add("1004@10.0.0.1", "callfwd", 0, "sip:b@x")
        store.avp_add("1004@localhost", "callfwd", 0, "sip:uuid@x")  # a uuid row
        assert [r.value for r in store.avp_lookup(username="1004", attribute="callfwd")] == \
            ["sip:a@x", "sip:b@x"]
        assert [r.value for r in store.avp_lookup(username="1004", domain="10.0.0.1",
                                                  attribute="callfwd")] == ["sip:b@x"]
        assert [r.value for r in store.avp_lookup(uuid="1004@localhost")] == ["sip:uuid@x"]
        assert store.avp_lookup(username="1004", attribute="nothing") == []
        assert store.avp_lookup(username="9999") == []
        with pytest.raises(ValueError):
            store.avp_lookup()

    def test_multiple_rows_same_attribute_ascending_id(self, store: LabStore) -> None:
        """Every row is returned, oldest first; pushing them in order leaves the newest on top."""
        for i in range(4):
            store.avp_add("1004@127.0.0.1", "callfwd", 0, f"sip:{i}@x")
        rows = store.avp_lookup(username="1004", attribute="callfwd")
        assert [r.value for r in rows] == [f"sip:{i}@x" for i in range(4)]
        assert [r.id for r in rows] == sorted(r.id for r in rows)

    def test_all_attributes_of_owner(self, store: LabStore) -> None:
        store.avp_add("1004@127.0.0.1", "callfwd", 0, "a")
        store.avp_add("1004@127.0.0.1", "limit", 1, "3")
        assert [r.attribute for r in store.avp_lookup(username="1004")] == ["callfwd", "limit"]

    def test_unconvertible_rows_are_skipped(self, store: LabStore, db_file: Path) -> None:
        store.avp_add("1004@127.0.0.1", "limit", 1, "3")
        store.avp_add("1004@127.0.0.1", "limit", 1, "4")
        data = json.loads(db_file.read_text())
        data["usr_preferences"]["2"]["value"] = "not-a-number"  # hand-edited file
        db_file.write_text(json.dumps(data))
        assert [r.value for r in store.avp_lookup(username="1004", attribute="limit")] == ["3"]
        assert len(store.avp_list(attribute="limit")) == 2  # list shows the raw rows

    def test_returned_list_is_a_copy(self, store: LabStore) -> None:
        store.avp_add("1004@127.0.0.1", "callfwd", 0, "a")
        store.avp_lookup(username="1004").clear()
        assert len(store.avp_lookup(username="1004")) == 1

    def test_cache_sees_writes_of_another_instance(self, db_file: Path) -> None:
        proxy, cli = LabStore(db_file), LabStore(db_file)
        assert proxy.avp_lookup(username="1004", attribute="callfwd") == []
        cli.avp_add("1004@127.0.0.1", "callfwd", 0, "sip:a@x")
        assert [r.value for r in proxy.avp_lookup(username="1004", attribute="callfwd")] == \
            ["sip:a@x"]
        cli.avp_rm(owner="1004@127.0.0.1")
        assert proxy.avp_lookup(username="1004", attribute="callfwd") == []

    def test_cache_sees_a_same_size_rewrite(self, db_file: Path) -> None:
        """A value changed to one of equal length: the new inode still invalidates the cache."""
        proxy, cli = LabStore(db_file), LabStore(db_file)
        cli.avp_add("1004@127.0.0.1", "callfwd", 0, "sip:a@x")
        assert proxy.avp_lookup(username="1004")[0].value == "sip:a@x"
        cli.avp_delete(username="1004")
        cli.avp_store(username="1004", domain="127.0.0.1", attribute="callfwd",
                      values=["sip:b@x"])
        assert proxy.avp_lookup(username="1004")[0].value == "sip:b@x"

    def test_cache_hit_does_not_reparse(self, store: LabStore, monkeypatch:
                                        pytest.MonkeyPatch) -> None:
        store.avp_add("1004@127.0.0.1", "callfwd", 0, "a")
        store.avp_lookup(username="1004")
        import labpbx.store.db as dbmod

        def boom(*_a: object) -> None:
            raise AssertionError("re-parsed an unchanged file")

        monkeypatch.setattr(dbmod, "_decode", boom)
        for _ in range(3):
            assert store.avp_lookup(username="1004")
            assert store.avp_list()

    def test_file_deleted_reads_empty(self, store: LabStore, db_file: Path) -> None:
        store.avp_add("1004@127.0.0.1", "callfwd", 0, "a")
        db_file.unlink()
        assert store.avp_lookup(username="1004") == []


class TestScriptFunctions:
    """avp_db_store / avp_db_delete."""

    def test_store_and_load(self, store: LabStore) -> None:
        rows = store.avp_store(username="1004", attribute="callfwd", values=["sip:a@x", 5, -2])
        assert [(r.type, r.value) for r in rows] == [(0, "sip:a@x"), (1, "5"), (1, "4294967294")]
        assert [r.domain for r in rows] == ["", "", ""]  # use_domain=0: domain left empty
        assert [r.typed_value for r in store.avp_lookup(username="1004")] == ["sip:a@x", 5, -2]
        assert store.avp_store(uuid="u1", attribute="x", values=["v"])[0].uuid == "u1"
        assert store.avp_store(username="1005", domain="d.x", attribute="x", values=[])  == []
        with_domain = store.avp_store(username="1005", domain="d.x", attribute="x", values=["v"])
        assert with_domain[0].domain == "d.x"
        with pytest.raises(ValueError):
            store.avp_store(attribute="x", values=["v"])
        with pytest.raises(ValueError):
            store.avp_store(username="1", uuid="2", attribute="x", values=["v"])

    def test_delete_uses_the_load_where_clause(self, store: LabStore) -> None:
        store.avp_add("1004@127.0.0.1", "callfwd", 0, "a")
        store.avp_add("1004@10.0.0.1", "callfwd", 0, "b")
        store.avp_add("1004@127.0.0.1", "other", 0, "c")
        store.avp_add("1004@localhost", "callfwd", 0, "d")
        assert store.avp_delete(username="1004", domain="10.0.0.1", attribute="callfwd") == 1
        assert store.avp_delete(username="1004", attribute="callfwd") == 1
        assert [r.value for r in store.avp_list()] == ["c", "d"]
        assert store.avp_delete(uuid="1004@localhost") == 1
        assert store.avp_delete(username="1004") == 1
        assert store.avp_list() == []


class TestLocationAndSubscriber:
    def _b(self, contact: str, user: str = "1004", domain: str = "127.0.0.1") -> LocationRow:
        return LocationRow(user, domain, contact, expires_at=1e9, callid="c", cseq=1)

    def test_location_save_replaces_the_aor(self, store: LabStore) -> None:
        store.location_save("1004", "127.0.0.1", [self._b("sip:a@h"), self._b("sip:b@h")])
        store.location_save("1005", "127.0.0.1", [self._b("sip:c@h", "1005")])
        store.location_save("1004", "127.0.0.1", [self._b("sip:z@h")])
        assert sorted(b.contact for b in store.location_all()) == ["sip:c@h", "sip:z@h"]
        assert [b.contact for b in store.location_get("1004")] == ["sip:z@h"]
        assert store.location_get("1004", "other.domain") == []
        assert store.location_get("1004")[0].last_modified  # stamped when empty
        store.location_save("1004", "127.0.0.1", [])
        assert [b.username for b in store.location_all()] == ["1005"]
        with pytest.raises(ValueError):
            store.location_save("1004", "127.0.0.1", [self._b("sip:c@h", "1005")])
        assert store.location_clear() == 1
        assert store.location_all() == []
        assert store.location_clear() == 0

    def test_subscribers(self, store: LabStore) -> None:
        store.subscriber_add("1004", "127.0.0.1", "pw")
        store.subscriber_add("1005", "127.0.0.1", "pw2", "x@y.z")
        with pytest.raises(ValueError, match="already exists"):
            store.subscriber_add("1004", "127.0.0.1", "other")
        assert [s.username for s in store.subscriber_list()] == ["1004", "1005"]
        assert store.subscriber_rm("1004", "127.0.0.1") == 1
        assert store.subscriber_rm("1004", "127.0.0.1") == 0
        assert [s.email_address for s in store.subscriber_list()] == ["x@y.z"]


class TestAtomicWrites:
    def test_no_temp_files_left(self, store: LabStore, db_file: Path) -> None:
        for i in range(5):
            store.avp_add("1004@127.0.0.1", "a", 0, str(i))
        names = sorted(p.name for p in db_file.parent.iterdir())
        assert names == ["lab.json", "lab.json.lock"]

    def test_each_write_is_a_new_inode(self, store: LabStore, db_file: Path) -> None:
        store.avp_add("1004@127.0.0.1", "a", 0, "1")
        ino = db_file.stat().st_ino
        with db_file.open("rb") as held:  # a reader holding the old file keeps the old content
            store.avp_add("1004@127.0.0.1", "a", 0, "2")
            assert db_file.stat().st_ino != ino
            assert len(json.loads(held.read())["usr_preferences"]) == 1

    @pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
    def test_permissions_are_kept(self, store: LabStore, db_file: Path) -> None:
        store.avp_add("1004@127.0.0.1", "a", 0, "1")
        os.chmod(db_file, 0o640)
        store.avp_add("1004@127.0.0.1", "a", 0, "2")
        assert stat.S_IMODE(db_file.stat().st_mode) == 0o640

    def test_failed_write_keeps_the_old_file(self, store: LabStore, db_file: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
        store.avp_add("1004@127.0.0.1", "a", 0, "1")
        before = db_file.read_bytes()

        def broken_replace(src: str, dst: object) -> None:
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(os, "replace", broken_replace)
        with pytest.raises(StoreError, match="No space left"):
            store.avp_add("1004@127.0.0.1", "a", 0, "2")
        monkeypatch.undo()
        assert db_file.read_bytes() == before
        assert sorted(p.name for p in db_file.parent.iterdir()) == ["lab.json", "lab.json.lock"]
        assert [r.value for r in store.avp_list()] == ["1"]


CORRUPT = [
    pytest.param(b"\x00\xff garbage \xfe", "not UTF-8", id="binary"),
    pytest.param(b"this is not json", "not valid JSON", id="text"),
    pytest.param(b'{"usr_preferences": {"1": {"uuid": "", "userna', "not valid JSON",
                 id="truncated"),
    pytest.param(b"", "empty", id="empty"),
    pytest.param(b"[1, 2, 3]", "top level", id="array"),
    pytest.param(b'{"usr_preferences": [1]}', "expected an object of rows", id="table-array"),
    pytest.param(b'{"usr_preferences": {"x": {}}}', "not a number", id="bad-key"),
    pytest.param(b'{"usr_preferences": {"1": "row"}}', "not an object", id="row-string"),
    pytest.param(b'{"usr_preferences": {"1": {"attribute": 5}}}', "row 1", id="row-field"),
    pytest.param(b'{"meta": {"1": {"schema_version": "one"}}}', "schema_version",
                 id="bad-version"),
]


class TestCorruption:
    @pytest.mark.parametrize(("content", "message"), CORRUPT)
    def test_corrupt_file_is_reported_and_never_touched(
            self, store: LabStore, db_file: Path, content: bytes, message: str) -> None:
        db_file.parent.mkdir(parents=True)
        db_file.write_bytes(content)
        with pytest.raises(CorruptStoreError, match=message) as info:
            store.avp_list()
        assert str(db_file) in str(info.value)
        with pytest.raises(CorruptStoreError):
            store.avp_lookup(username="1004")
        with pytest.raises(CorruptStoreError):  # a write refuses too …
            store.avp_add("1004@127.0.0.1", "callfwd", 0, "x")
        with pytest.raises(CorruptStoreError):
            store.location_save("1004", "127.0.0.1", [])
        assert db_file.read_bytes() == content  # … and the bytes are unchanged
        assert sorted(p.name for p in db_file.parent.iterdir()) == ["lab.json", "lab.json.lock"]

    def test_repeated_reads_of_a_corrupt_file_are_cheap(self, store: LabStore, db_file: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
        db_file.parent.mkdir(parents=True)
        db_file.write_bytes(b"{broken")
        with pytest.raises(CorruptStoreError):
            store.avp_lookup(username="1004")
        import labpbx.store.db as dbmod

        monkeypatch.setattr(dbmod, "_decode", lambda *_a: pytest.fail("parsed again"))
        for _ in range(3):
            with pytest.raises(CorruptStoreError, match="corrupt"):
                store.avp_lookup(username="1004")

    def test_repair_by_hand_is_picked_up(self, store: LabStore, db_file: Path) -> None:
        db_file.parent.mkdir(parents=True)
        db_file.write_bytes(b"{broken")
        with pytest.raises(CorruptStoreError):
            store.avp_list()
        db_file.write_text("{}")
        assert store.avp_list() == []
        store.avp_add("1004@127.0.0.1", "callfwd", 0, "x")  # a plain {} is upgraded on write
        assert set(json.loads(db_file.read_text())) >= {"meta", "usr_preferences"}

    def test_quarantine(self, store: LabStore, db_file: Path) -> None:
        db_file.parent.mkdir(parents=True)
        db_file.write_bytes(b"[not a lab]")
        moved = store.quarantine()
        assert moved is not None and moved.name.startswith("lab.json.corrupt-")
        assert moved.read_bytes() == b"[not a lab]"
        assert not db_file.exists()
        store.avp_add("1004@127.0.0.1", "callfwd", 0, "x")
        assert len(store.avp_list()) == 1
        # a healthy file is never moved; a second corrupt one gets another name
        assert store.quarantine() is None
        db_file.write_bytes(b"[again]")
        moved2 = store.quarantine()
        assert moved2 is not None and moved2 != moved and moved.exists()

    def test_quarantine_without_file(self, store: LabStore) -> None:
        assert store.quarantine() is None

    def test_newer_schema_is_refused_not_quarantined(self, store: LabStore,
                                                     db_file: Path) -> None:
        db_file.parent.mkdir(parents=True)
        content = json.dumps({"meta": {"1": {"schema_version": SCHEMA_VERSION + 1}}}).encode()
        db_file.write_bytes(content)
        with pytest.raises(StoreError, match="newer LabPBX") as info:
            store.avp_list()
        assert not isinstance(info.value, CorruptStoreError)
        with pytest.raises(StoreError, match="newer"):
            store.avp_add("1004@127.0.0.1", "a", 0, "b")
        with pytest.raises(StoreError, match="newer"):
            store.quarantine()
        assert db_file.read_bytes() == content


class TestLocking:
    def test_lock_timeout(self, store: LabStore, db_file: Path) -> None:
        store.avp_add("1004@127.0.0.1", "callfwd", 0, "x")
        before = db_file.read_bytes()
        blocked = LabStore(db_file, lock_timeout=0.2)
        holder = filelock.FileLock(str(db_file) + ".lock")
        with holder:
            with pytest.raises(StoreLockedError, match="database is locked by another process"):
                blocked.avp_add("1004@127.0.0.1", "callfwd", 0, "y")
            with pytest.raises(StoreError, match="locked"):
                blocked.quarantine()
            # reads do not need the lock
            assert [r.value for r in blocked.avp_lookup(username="1004")] == ["x"]
        assert db_file.read_bytes() == before
        blocked.avp_add("1004@127.0.0.1", "callfwd", 0, "y")  # free again
        assert len(store.avp_list()) == 2

    def test_lock_released_after_errors(self, store: LabStore, db_file: Path) -> None:
        store.avp_add("1004@127.0.0.1", "callfwd", 0, "x")
        with pytest.raises(ValueError):
            store.subscriber_add("", "d", "p")
        store.subscriber_add("1004", "d", "p")
        with pytest.raises(ValueError):
            store.subscriber_add("1004", "d", "p")  # raised inside the transaction
        probe = filelock.FileLock(str(db_file) + ".lock", timeout=0.1)
        with probe:
            pass


def test_quarantine_of_a_file_with_a_bad_row(store: LabStore, db_file: Path) -> None:
    db_file.parent.mkdir(parents=True)
    db_file.write_text(json.dumps({"location": {"1": {"username": "u"}}}))
    with pytest.raises(CorruptStoreError, match="'location', row 1"):
        store.location_all()
    assert store.quarantine() is not None
    assert store.location_all() == []
