"""Checking script text and applying it, without processes: the diagnostics' positions, the
atomic working file, and what a refusal (by the check or by the proxy) leaves behind.

The apply tests drive ``ScriptCommands`` over a fake proxy that answers the "reload" command as
labpbx.lab.proxy_child does (it really loads the file with the proxy's loader), so they test
the lab's side of the protocol in milliseconds; tests/lab/test_lab_integration.py and
tests/ui/test_script_editor.py do it over a real lab.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from labpbx.errors import LabPbxError
from labpbx.events import ComponentEvent, Event
from labpbx.lab.config import LabConfig, LabError
from labpbx.lab.script_commands import (
    DEFAULT_SCRIPT,
    ScriptCommands,
    ScriptFiles,
    write_atomically,
)
from labpbx.lab.script_text import (
    FUNCTION_NAMES,
    KEYWORDS,
    RunningScript,
    ScriptDiagnostic,
    ScriptRefused,
    check_script_text,
)
from labpbx.paths import asset_path
from labpbx.script.diagnostics import diagnostic_of
from labpbx.script.loader import load_script

DEFAULT = asset_path(*DEFAULT_SCRIPT).read_text(encoding="utf-8")


def edit(word: str) -> str:
    """The default script with one xlog line changed (a valid edit)."""
    edited = DEFAULT.replace('xlog("forwarded to: ', f'xlog("{word}: forwarded to: ', 1)
    assert edited != DEFAULT
    return edited


def _line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


# ---------------------------------------------------------------- checking text

def test_the_default_script_checks_clean() -> None:
    assert check_script_text(DEFAULT) == ()


@pytest.mark.parametrize(("name", "broken", "line", "column", "message", "text"), [
    ("unknown function", "route {\n    xlog(\"a\");\n    t_rellay();\n}\n", 3, 5,
     "unknown function", "t_rellay"),
    ("syntax error", "route {\n    xlog(\"a\")\n    exit;\n}\n", 2, 14, "missing ';'", "exit"),
    ("unknown route", "route {\n\n    route(nowhere);\n}\n", 3, 5, "nowhere", "nowhere"),
    ("unknown failure route", 'route {\n  t_on_failure("gone");\n  t_relay();\n}\n', 2, 16,
     "gone", "gone"),
    ("unknown pseudo-variable", "route {\n  $foo = 1;\n}\n", 2, 3, "foo", "$foo"),
])
def test_a_broken_script_is_reported_at_its_line_and_column(
        name: str, broken: str, line: int, column: int, message: str, text: str) -> None:
    (found,) = check_script_text(broken)
    assert (found.line, found.column) == (line, column), name
    assert message in found.message
    assert found.text == text
    assert found.location == f"{line}:{column}"
    assert str(found).startswith(f"{line}:{column}: ")


def test_an_error_in_the_default_script_is_found_at_its_own_line() -> None:
    broken = DEFAULT.replace("t_on_failure(\"missed_call\")", "t_on_failure(\"misssed_call\")", 1)
    assert broken != DEFAULT
    (found,) = check_script_text(broken)
    assert found.line == _line_of(broken, "misssed_call")
    assert found.kind == "semantic"


def test_defines_are_the_proxys() -> None:
    script = 'route {\n  $du = MEDIA;\n  t_relay();\n}\n'
    (found,) = check_script_text(script)
    assert "MEDIA" in found.message
    assert check_script_text(script, defines={"MEDIA": '"sip:127.0.0.1:1"'}) == ()


def test_a_diagnostic_survives_the_trip_through_json() -> None:
    with pytest.raises(LabPbxError) as failure:
        load_script("route {\n  exit\n}\n")
    found = diagnostic_of(failure.value)
    assert ScriptDiagnostic.from_dict(found.to_dict()) == found
    assert ScriptDiagnostic.from_dict({"line": "x", "message": 3}).line == 0
    assert diagnostic_of(LabPbxError("cannot read")).location == ""


def test_the_editor_words_cover_the_grammar_and_the_functions() -> None:
    from labpbx.script.parser import lark_parser

    keywords = {str(t.pattern.value) for t in lark_parser().terminals
                if t.pattern.type == "str" and str(t.pattern.value).isidentifier()}
    from labpbx.lab.script_text import CORE_VARIABLES

    assert keywords <= set(KEYWORDS) | set(CORE_VARIABLES)
    assert {"t_relay", "xlog", "prefix", "lookup", "avp_db_load"} <= set(FUNCTION_NAMES)


# ---------------------------------------------------------------- the working file

def test_write_atomically_replaces_the_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "scripts" / "applied.cfg"
    write_atomically(target, "one\n")
    write_atomically(target, "two\n")
    assert target.read_text() == "two\n"
    assert [p.name for p in target.parent.iterdir()] == ["applied.cfg"]


def test_a_write_that_fails_leaves_the_old_file_whole(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "applied.cfg"
    write_atomically(target, "old text\n")

    def broken_fsync(_fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError):
        write_atomically(target, "new text that never lands\n")
    assert target.read_text() == "old text\n"
    assert [p.name for p in tmp_path.iterdir()] == ["applied.cfg"]


# ---------------------------------------------------------------- apply over a fake proxy

class FakeProxy:
    """Answers "reload" like the proxy child: load the file; keep the old script if it fails."""

    def __init__(self, running: str) -> None:
        self.running = running
        self.reloads: list[str] = []
        self.refuse_with: str | None = None  # make the proxy refuse what the lab accepted

    def reload(self, path: str) -> ComponentEvent:
        self.reloads.append(path)
        text = Path(path).read_text(encoding="utf-8")
        extra: dict[str, Any] = {}
        try:
            if self.refuse_with is not None:
                load_script(self.refuse_with, path)
            load_script(text, path)
        except LabPbxError as exc:
            extra = {"reloaded": False, "message": f"script not reloaded: {exc}",
                     "error": diagnostic_of(exc).to_dict()}
        else:
            self.running = text
            extra = {"reloaded": True, "message": f"script reloaded from {path}"}
        return ComponentEvent(time.time(), "proxy", status="ack", extra=extra)


class FakeLab(ScriptCommands):
    def __init__(self, data_dir: Path, script_path: Path | None = None) -> None:
        self.config = LabConfig(data_dir=data_dir, script_path=script_path)
        self.data_dir = data_dir
        self.media_port, self.mwi_port = 15070, 15071
        self._admin = threading.Lock()
        self._state = "running"
        self._scripts = ScriptFiles(script_path)
        self.proxy = FakeProxy(DEFAULT)
        self.emitted: list[Event] = []

    def _command(self, name: str, payload: dict[str, Any], timeout: float = 5.0) -> ComponentEvent:
        assert (name, payload["cmd"]) == ("proxy", "reload")
        return self.proxy.reload(payload["path"])

    def _refuse_external(self, what: str) -> None:
        pass

    def _refuse_in_callback(self, what: str) -> None:
        pass

    def _emit(self, event: Event) -> None:
        self.emitted.append(event)


def test_apply_writes_the_working_script_and_the_proxy_reloads_it(tmp_path: Path) -> None:
    lab = FakeLab(tmp_path)
    edited = edit("edited")
    running = lab.apply_script(edited)
    working = tmp_path / "scripts" / "applied.cfg"
    assert running == RunningScript(edited, working, True, lab.script_defines(),
                                    f"script reloaded from {working}")
    assert working.read_text(encoding="utf-8") == edited
    assert lab.proxy.running == edited
    assert lab.config.script_path == working  # a restarted proxy starts with it
    assert lab.script_text().text == edited and lab.script_text().applied
    assert isinstance(lab.emitted[-1], ComponentEvent) and lab.emitted[-1].status == "script"


def test_a_broken_apply_never_reaches_the_proxy_and_changes_nothing(tmp_path: Path) -> None:
    lab = FakeLab(tmp_path)
    first = edit("first")
    lab.apply_script(first)
    working = tmp_path / "scripts" / "applied.cfg"
    before = working.stat().st_mtime_ns
    broken = first.replace('xlog("first:', 'xlogg("first:', 1)
    with pytest.raises(ScriptRefused) as refused:
        lab.apply_script(broken)
    assert refused.value.component == "lab"
    (found,) = refused.value.diagnostics
    assert (found.line, found.text) == (_line_of(broken, "xlogg("), "xlogg")
    assert working.read_text(encoding="utf-8") == first
    assert working.stat().st_mtime_ns == before
    assert len(lab.proxy.reloads) == 1 and lab.proxy.running == first


def test_a_script_the_proxy_refuses_puts_the_working_file_back(tmp_path: Path) -> None:
    lab = FakeLab(tmp_path)
    first = edit("first")
    lab.apply_script(first)
    lab.proxy.refuse_with = "route {\n  nope();\n}\n"
    with pytest.raises(ScriptRefused) as refused:
        lab.apply_script(DEFAULT)
    assert refused.value.component == "proxy"
    assert [(d.line, d.column, d.text) for d in refused.value.diagnostics] == [(2, 3, "nope")]
    working = tmp_path / "scripts" / "applied.cfg"
    assert working.read_text(encoding="utf-8") == first
    assert lab.proxy.running == first
    assert lab.config.script_path == working


def test_revert_goes_back_to_the_start_script_and_removes_the_working_file(tmp_path: Path) -> None:
    start = tmp_path / "mine.cfg"
    start.write_text(DEFAULT, encoding="utf-8")
    lab = FakeLab(tmp_path / "lab", start)
    assert not lab.script_text().applied and lab.script_text().path == start
    lab.apply_script(edit("x"))
    running = lab.revert_script()
    assert (running.path, running.text, running.applied) == (start, DEFAULT, False)
    assert lab.config.script_path == start
    assert not lab.working_script_path().exists()
    assert lab.proxy.reloads[-1] == str(start)


def test_apply_async_returns_at_once_and_settles_from_a_worker(tmp_path: Path) -> None:
    lab = FakeLab(tmp_path)
    future = lab.apply_script_async("route {\n  exit\n}\n")
    assert isinstance(future.exception(timeout=10), ScriptRefused)
    future = lab.apply_script_async(DEFAULT)
    assert future.result(timeout=10).applied
    lab._join_script_workers()
    assert not lab._scripts.workers


def test_nothing_changes_on_a_lab_that_is_not_running(tmp_path: Path) -> None:
    lab = FakeLab(tmp_path)
    lab._state = "stopped"
    with pytest.raises(LabError, match="stopped"):
        lab.apply_script(DEFAULT)
    assert not lab.working_script_path().exists()
