"""``labpbx avp add/list/rm`` through register()/run() with a local argparse harness."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from labpbx.cli import avp
from labpbx.store.db import LabStore

CALLFWD = "sip:2345678@127.0.0.1:15060"


def cli(store: LabStore, *argv: str) -> int:
    """What the lead's ``labpbx [--data DIR] avp …`` does: parse with register(), then run()."""
    parser = argparse.ArgumentParser(prog="labpbx")
    avp.register(parser.add_subparsers(dest="command", required=True))
    return avp.run(parser.parse_args(["avp", *argv]), store)


class TestAdd:
    def test_the_article_command(self, store: LabStore, capsys: pytest.CaptureFixture[str]) -> None:
        rc = cli(store, "add", "-T", "usr_preferences", "1004@127.0.0.1", "callfwd", "0", CALLFWD)
        out, err = capsys.readouterr()
        assert rc == 0
        assert out.startswith("avp add - attribute added: id 1, 1004@127.0.0.1, callfwd=")
        assert err == ""
        rows = store.avp_lookup(username="1004", attribute="callfwd")
        assert [(r.uuid, r.username, r.domain, r.type, r.value) for r in rows] == \
            [("", "1004", "127.0.0.1", 0, CALLFWD)]

    def test_default_table(self, store: LabStore) -> None:
        assert cli(store, "add", "1004@127.0.0.1", "callfwd", "0", CALLFWD) == 0
        assert len(store.avp_list(table="usr_preferences")) == 1

    def test_uuid_warning(self, store: LabStore, capsys: pytest.CaptureFixture[str]) -> None:
        rc = cli(store, "add", "1004@localhost", "callfwd", "0", CALLFWD)
        out, err = capsys.readouterr()
        assert rc == 0 and "attribute added" in out and "uuid=1004@localhost" in out
        assert err.count("\n") == 1
        assert "stored as uuid='1004@localhost'" in err
        assert 'avp_db_load("$ru", …) will not find it' in err
        assert "use an IP or a dotted domain" in err and "1004@127.0.0.1" in err
        row = store.avp_list()[0]
        assert (row.uuid, row.username, row.domain) == ("1004@localhost", "", "")
        assert store.avp_lookup(username="1004") == []

    def test_plain_uuid_has_no_warning(self, store: LabStore,
                                       capsys: pytest.CaptureFixture[str]) -> None:
        assert cli(store, "add", "user-0001", "callfwd", "0", "x") == 0
        assert capsys.readouterr().err == ""

    def test_int_value(self, store: LabStore) -> None:
        assert cli(store, "add", "1004@127.0.0.1", "limit", "1", "30") == 0
        assert store.avp_lookup(username="1004")[0].typed_value == 30

    @pytest.mark.parametrize(("argv", "message"), [
        (("1004@127.0.0.1", "callfwd", "4", "x"), "invalid AVP type '4'"),
        (("1004@127.0.0.1", "callfwd", "str", "x"), "invalid AVP type 'str'"),
        (("1004@127.0.0.1", "callfwd", "1", "sip:x@y"), "is not a non-negative integer"),
        (("1004@127.0.0.1", "a" * 40, "0", "x"), "longer than 32"),
        (("-T", "bad-table", "1004@127.0.0.1", "callfwd", "0", "x"), "invalid table name"),
        (("-T", "location", "1004@127.0.0.1", "callfwd", "0", "x"), "not a usr_preferences"),
    ])
    def test_errors_exit_1_with_one_line(self, store: LabStore, db_file: Path,
                                         capsys: pytest.CaptureFixture[str],
                                         argv: tuple[str, ...], message: str) -> None:
        assert cli(store, "add", *argv) == 1
        out, err = capsys.readouterr()
        assert out == ""
        assert err.startswith("labpbx avp: error: ") and err.count("\n") == 1
        assert message in err
        assert not db_file.exists()

    def test_missing_argument_is_a_usage_error(self, store: LabStore,
                                               capsys: pytest.CaptureFixture[str]) -> None:
        with pytest.raises(SystemExit) as info:
            cli(store, "add", "1004@127.0.0.1", "callfwd", "0")
        assert info.value.code == 2
        assert "required" in capsys.readouterr().err


class TestListAndRm:
    @pytest.fixture
    def filled(self, store: LabStore) -> LabStore:
        store.avp_add("1004@127.0.0.1", "callfwd", 0, CALLFWD)
        store.avp_add("1004@localhost", "callfwd", 0, "sip:u@x")
        store.avp_add("1005@127.0.0.1", "limit", 1, "30")
        return store

    def test_list_table(self, filled: LabStore, capsys: pytest.CaptureFixture[str]) -> None:
        assert cli(filled, "list") == 0
        lines = capsys.readouterr().out.splitlines()
        assert lines[0].startswith("+----+") and lines[0] == lines[2] == lines[-1]
        assert [c.strip() for c in lines[1].strip("|").split("|")] == list(avp.COLUMNS)
        assert len(lines) == 3 + 3 + 1
        cells = [c.strip() for c in lines[3].strip("|").split("|")]
        assert cells[:7] == ["1", "", "1004", "127.0.0.1", "callfwd", "0", CALLFWD]
        assert cells[7] == filled.avp_list()[0].last_modified
        assert "| 1004@localhost |" in lines[4]
        assert len({len(line) for line in lines}) == 1  # aligned columns

    def test_list_filters(self, filled: LabStore, capsys: pytest.CaptureFixture[str]) -> None:
        def ids(*argv: str) -> list[str]:
            assert cli(filled, "list", *argv) == 0
            out = capsys.readouterr().out
            if out == "Empty set\n":
                return []
            return [line.strip("|").split("|")[0].strip() for line in out.splitlines()[3:-1]]

        assert ids("-u", "1004@127.0.0.1") == ["1"]
        assert ids("-u", "1004@localhost") == ["2"]
        assert ids("-a", "callfwd") == ["1", "2"]
        assert ids("-v", "30") == ["3"]
        assert ids("-t", "1") == ["3"]
        assert ids("-a", "callfwd", "-t", "1") == []
        assert ids("-T", "other_table") == []

    def test_list_uuid_note(self, filled: LabStore, capsys: pytest.CaptureFixture[str]) -> None:
        assert cli(filled, "list", "-u", "1004@localhost") == 0
        assert "matches the uuid column" in capsys.readouterr().err

    def test_list_empty(self, store: LabStore, capsys: pytest.CaptureFixture[str]) -> None:
        assert cli(store, "list") == 0
        assert capsys.readouterr().out == "Empty set\n"

    def test_list_bad_type(self, filled: LabStore, capsys: pytest.CaptureFixture[str]) -> None:
        assert cli(filled, "list", "-t", "9") == 1
        assert "invalid AVP type '9'" in capsys.readouterr().err

    def test_rm(self, filled: LabStore, capsys: pytest.CaptureFixture[str]) -> None:
        assert cli(filled, "rm", "-u", "1004@127.0.0.1", "-a", "callfwd") == 0
        assert capsys.readouterr().out == "avp rm - 1 AVP(s) deleted\n"
        assert cli(filled, "rm", "-u", "1004@127.0.0.1") == 0
        assert capsys.readouterr().out == "avp rm - 0 AVP(s) deleted\n"
        assert [r.id for r in filled.avp_list()] == [2, 3]

    def test_rm_everything_needs_all(self, filled: LabStore,
                                     capsys: pytest.CaptureFixture[str]) -> None:
        assert cli(filled, "rm") == 1
        err = capsys.readouterr().err
        assert "refusing" in err and "--all" in err
        assert len(filled.avp_list()) == 3
        assert cli(filled, "rm", "--all") == 0
        assert capsys.readouterr().out == "avp rm - 3 AVP(s) deleted\n"
        assert filled.avp_list() == []


class TestDatabaseProblems:
    def test_corrupt_database(self, store: LabStore, db_file: Path,
                              capsys: pytest.CaptureFixture[str]) -> None:
        db_file.parent.mkdir(parents=True)
        db_file.write_bytes(b'{"usr_preferences": {"1": ')
        for argv in (("list",), ("add", "1004@127.0.0.1", "callfwd", "0", "x"),
                     ("rm", "-a", "callfwd")):
            assert cli(store, *argv) == 1
            out, err = capsys.readouterr()
            assert out == "" and err.count("\n") == 1
            assert f"lab database {db_file} is corrupt: not valid JSON" in err
            assert "--reset-corrupt" in err
        assert db_file.read_bytes() == b'{"usr_preferences": {"1": '

    def test_reset_corrupt(self, store: LabStore, db_file: Path,
                           capsys: pytest.CaptureFixture[str]) -> None:
        db_file.parent.mkdir(parents=True)
        db_file.write_bytes(b"garbage")
        rc = cli(store, "--reset-corrupt", "add", "1004@127.0.0.1", "callfwd", "0", CALLFWD)
        out, err = capsys.readouterr()
        assert rc == 0 and "attribute added" in out
        assert "renamed to" in err and ".corrupt-" in err
        kept = [p for p in db_file.parent.iterdir() if ".corrupt-" in p.name]
        assert len(kept) == 1 and kept[0].read_bytes() == b"garbage"
        assert json.loads(db_file.read_text())["usr_preferences"]["1"]["value"] == CALLFWD

    def test_reset_corrupt_on_a_healthy_database_changes_nothing(
            self, store: LabStore, capsys: pytest.CaptureFixture[str]) -> None:
        store.avp_add("1004@127.0.0.1", "callfwd", 0, "x")
        assert cli(store, "--reset-corrupt", "list") == 0
        assert "renamed" not in capsys.readouterr().err
        assert len(store.avp_list()) == 1

    def test_top_level_reset_corrupt_is_not_clobbered(self, store: LabStore, db_file: Path) -> None:
        """A main parser may define --reset-corrupt too; the avp parser must not reset it."""
        parser = argparse.ArgumentParser(prog="labpbx")
        parser.add_argument("--reset-corrupt", action="store_true")
        avp.register(parser.add_subparsers(dest="command", required=True))
        args = parser.parse_args(["--reset-corrupt", "avp", "list"])
        assert args.reset_corrupt is True
        db_file.parent.mkdir(parents=True)
        db_file.write_bytes(b"garbage")
        assert avp.run(args, store) == 0

    def test_locked_database(self, db_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
        import filelock

        store = LabStore(db_file, lock_timeout=0.1)
        db_file.parent.mkdir(parents=True)
        with filelock.FileLock(str(db_file) + ".lock"):
            assert cli(store, "add", "1004@127.0.0.1", "callfwd", "0", "x") == 1
        err = capsys.readouterr().err
        assert "database is locked by another process" in err and err.count("\n") == 1
