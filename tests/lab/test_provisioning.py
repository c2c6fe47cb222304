"""labpbx.lab.provisioning on a real lab.json in tmp_path: the rows `labpbx avp list` shows,
add / edit / delete, validation, the async forms, a corrupt file and concurrent writers."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from labpbx.cli import main as cli_main
from labpbx.lab.config import LabConfig
from labpbx.lab.provisioning import (
    COLUMNS,
    AvpEntry,
    Provisioning,
    ProvisioningError,
    check_entry,
    forwarding_targets,
    lab_data_dir,
)
from labpbx.paths import db_path
from labpbx.store.db import LabStore


def test_add_edit_delete_show_what_the_cli_lists(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    changes: list[str] = []
    prov = Provisioning(tmp_path, on_change=lambda: changes.append("x"))
    assert prov.rows() == [] and prov.version() is None
    row = prov.add("1001@127.0.0.1", "callfwd", 0, "sip:2345678@127.0.0.1")
    assert (row.username, row.domain, row.uuid, row.attribute) == ("1001", "127.0.0.1", "",
                                                                   "callfwd")
    assert row.owner == "1001@127.0.0.1" and row.last_modified
    # the CLI (another process would do the same) sees the row and lists the same columns
    assert cli_main(["--data", str(tmp_path), "avp", "list"]) == 0
    listed = capsys.readouterr().out
    assert all(c in listed for c in COLUMNS) and "sip:2345678@127.0.0.1" in listed
    first = prov.version()
    edited = prov.update(row.id, "1002@127.0.0.1", "callfwd", 0, "sip:1004@127.0.0.1")
    assert edited.id == row.id and prov.version() != first
    assert prov.rows() == [edited]
    assert prov.delete(row.id) == edited
    assert prov.rows() == []
    assert changes == ["x", "x", "x"]
    with pytest.raises(ProvisioningError, match="no row"):
        prov.delete(row.id)


def test_the_cli_s_rows_are_seen_at_the_next_read(tmp_path: Path) -> None:
    prov = Provisioning(tmp_path)
    before = prov.version()
    assert cli_main(["--data", str(tmp_path), "avp", "add", "1003@127.0.0.1", "callfwd", "0",
                     "sip:2345678@127.0.0.1"]) == 0
    assert prov.version() != before
    assert [(r.username, r.value) for r in prov.rows()] == [("1003", "sip:2345678@127.0.0.1")]


@pytest.mark.parametrize(("owner", "attribute", "type_", "value", "words"), [
    ("1001@localhost", "callfwd", 0, "sip:x@127.0.0.1", "no dot in its domain"),
    ("", "callfwd", 0, "x", "must not be empty"),
    ("1001@127.0.0.1", "", 0, "x", "attribute name must not be empty"),
    ("1001@127.0.0.1", "a" * 33, 0, "x", "longer than 32"),
    ("1001@127.0.0.1", "n", 1, "abc", "not a non-negative integer"),
    ("1001@127.0.0.1", "n", 7, "1", "invalid AVP type"),
])
def test_a_bad_entry_is_refused_with_a_sentence_and_nothing_is_written(
        tmp_path: Path, owner: str, attribute: str, type_: int, value: str, words: str) -> None:
    prov = Provisioning(tmp_path)
    with pytest.raises(ProvisioningError, match=words):
        check_entry(owner, attribute, type_, value)
    with pytest.raises(ProvisioningError, match=words):
        prov.add(owner, attribute, type_, value)
    assert not db_path(tmp_path).exists()


def test_a_uuid_without_at_is_accepted_like_opensipsctl(tmp_path: Path) -> None:
    row = Provisioning(tmp_path).add("alice-uuid", "callfwd", 0, "sip:1@127.0.0.1")
    assert (row.uuid, row.username, row.owner) == ("alice-uuid", "", "alice-uuid")


def test_the_async_forms_return_futures_that_settle(tmp_path: Path) -> None:
    prov = Provisioning(tmp_path)
    added = prov.add_async("1001@127.0.0.1", "callfwd", 0, "sip:2345678@127.0.0.1").result(5)
    assert isinstance(added, AvpEntry)
    bad = prov.update_async(999, "1001@127.0.0.1", "callfwd", 0, "v")
    assert isinstance(bad.exception(5), ProvisioningError)
    assert prov.delete_async(added.id).result(5).id == added.id


def test_a_corrupt_file_is_said_clearly_and_left_untouched(tmp_path: Path) -> None:
    prov = Provisioning(tmp_path)
    prov.add("1001@127.0.0.1", "callfwd", 0, "sip:2345678@127.0.0.1")
    broken = b'{"usr_preferences": {"1": {"attribute": "callfwd", "type": "zero"'
    db_path(tmp_path).write_bytes(broken)
    with pytest.raises(ProvisioningError, match=r"lab\.json is corrupt: not valid JSON"):
        prov.rows()
    with pytest.raises(ProvisioningError, match="corrupt"):
        prov.add("1002@127.0.0.1", "callfwd", 0, "sip:2345678@127.0.0.1")
    assert db_path(tmp_path).read_bytes() == broken  # nothing lost, nothing overwritten


def test_concurrent_writers_lose_no_row(tmp_path: Path) -> None:
    """Two writers (the window's and, say, the CLI's store) adding at once: every row is kept."""
    writers = [Provisioning(tmp_path), Provisioning(tmp_path)]

    def add(prov: Provisioning, n: int) -> None:
        for i in range(15):
            prov.add(f"{n}{i:02d}@127.0.0.1", "callfwd", 0, f"sip:{n}{i}@127.0.0.1")

    threads = [threading.Thread(target=add, args=(p, n)) for n, p in enumerate(writers, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    rows = Provisioning(tmp_path).rows()
    assert len(rows) == 30 and len({r.id for r in rows}) == 30
    assert len(LabStore(db_path(tmp_path)).avp_list()) == 30


def test_forwarding_targets_take_the_newest_callfwd_row_of_each_extension() -> None:
    def row(i: int, user: str, value: str, attribute: str = "callfwd",
            domain: str = "127.0.0.1") -> AvpEntry:
        return AvpEntry(i, "", user, domain, attribute, 0, value, "")

    rows = [row(2, "1001", "sip:b@127.0.0.1"), row(1, "1001", "sip:a@127.0.0.1"),
            row(3, "1002", "sip:c@127.0.0.1", attribute="other"),
            row(4, "1003", "sip:d@127.0.0.1", domain="10.0.0.1"), row(5, "9999", "sip:e@x.y")]
    assert forwarding_targets(rows, ["1001", "1002", "1003"]) == {
        "1001": "sip:b@127.0.0.1", "1002": "", "1003": ""}


def test_lab_data_dir_is_the_lab_s(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert lab_data_dir(LabConfig(data_dir=tmp_path)) == tmp_path
    monkeypatch.setenv("LABPBX_DATA", str(tmp_path / "env"))
    assert lab_data_dir(LabConfig()) == tmp_path / "env"
