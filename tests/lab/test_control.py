"""The state file and the control port of a running lab, with a fake supervisor."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from labpbx.errors import LabPbxError
from labpbx.lab.control import (
    ControlServer,
    NoLabRunning,
    execute,
    lab_state,
    read_state,
    remove_state,
    request,
    running_lab_pid,
    state_path,
    write_state,
)


class FakeLab:
    def __init__(self) -> None:
        self.calls: list[tuple[str, ...]] = []

    def call(self, from_ext: str, to: str, timeout: float = 5.0) -> str:
        if from_ext == "9999":
            raise LabPbxError("9999 is not an extension of this lab")
        self.calls.append(("call", from_ext, to))
        return f"{from_ext}-1"

    def hangup(self, leg: str) -> None:
        self.calls.append(("hangup", leg))

    def hangup_ext(self, ext: str) -> int:
        return 2

    def answer(self, leg: str) -> None:
        self.calls.append(("answer", leg))

    def reject(self, leg: str, code: int = 486) -> None:
        self.calls.append(("reject", leg, str(code)))

    def set_policy(self, ext: str, policy: Any, ring_time: float = 3.0) -> None:
        self.calls.append(("policy", ext, str(policy), str(ring_time)))

    def reload_script(self) -> str:
        return "script reloaded"

    def set_timers(self, fr_timeout: float | None = None, fr_inv_timeout: float | None = None,
                   timeout: float = 10.0) -> None:
        if fr_inv_timeout is not None and fr_inv_timeout <= 0:
            raise LabPbxError("fr_inv_timeout must be more than 0 seconds, not 0.0")
        self.calls.append(("timers", str(fr_timeout), str(fr_inv_timeout)))

    def status(self) -> dict[str, Any]:
        return {"proxy": "127.0.0.1:5060", "voicemail": "127.0.0.1:15070",
                "pids": {"proxy": 1}, "extensions": {}, "data": "/tmp/x"}


@pytest.mark.parametrize(("req", "answer"), [
    ({"cmd": "call", "from": "1000", "to": "1001"}, {"ok": True, "leg": "1000-1"}),
    ({"cmd": "call", "from": "9999", "to": "1001"},
     {"ok": False, "error": "9999 is not an extension of this lab"}),
    ({"cmd": "call", "from": "1000"}, {"ok": False, "error": "call: missing 'to'"}),
    ({"cmd": "hangup", "ext": "1000"}, {"ok": True, "count": 2}),
    ({"cmd": "reject", "leg": "1001-2", "code": "x"},
     {"ok": False, "error": "invalid literal for int() with base 10: 'x'"}),
    ({"cmd": "reload"}, {"ok": True, "message": "script reloaded"}),
    ({"cmd": "dance"}, {"ok": False, "error": "unknown command 'dance'"}),
    ({"cmd": "timers", "fr_inv_timeout": 0},
     {"ok": False, "error": "fr_inv_timeout must be more than 0 seconds, not 0.0"}),
    ({"cmd": "timers", "fr_inv_timeout": "soon"},
     {"ok": False, "error": "could not convert string to float: 'soon'"}),
])
def test_execute(req: dict[str, Any], answer: dict[str, Any]) -> None:
    assert execute(FakeLab(), req) == answer


def test_timers_command_changes_only_what_is_given() -> None:
    lab = FakeLab()
    answer = execute(lab, {"cmd": "timers", "fr_inv_timeout": 7})
    assert answer["ok"] and "status" in answer
    assert lab.calls == [("timers", "None", "7.0")]


def test_no_state_file_means_no_lab(tmp_path: Path) -> None:
    with pytest.raises(NoLabRunning, match="no lab is running"):
        read_state(tmp_path)
    assert running_lab_pid(tmp_path) is None


def test_a_state_file_of_a_dead_process_is_stale(tmp_path: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    write_state(tmp_path, {"pid": dead.pid, "control_port": 1, "token": "t"})
    with pytest.raises(NoLabRunning, match="stale"):
        read_state(tmp_path)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[ControlServer, FakeLab]]:
    lab = FakeLab()
    control = ControlServer(lab)
    control.start()
    write_state(tmp_path, lab_state(os.getpid(), control, lab.status()))
    try:
        yield control, lab
    finally:
        control.close()
        remove_state(tmp_path)


def test_round_trip_over_loopback(tmp_path: Path, server: tuple[ControlServer, FakeLab]) -> None:
    control, lab = server
    state = json.loads(state_path(tmp_path).read_text())
    assert state["control_port"] == control.port and state["proxy"] == "127.0.0.1:5060"
    if sys.platform != "win32":
        assert state_path(tmp_path).stat().st_mode & 0o777 == 0o600
    assert request(tmp_path, {"cmd": "call", "from": "1000", "to": "1001"}) == {
        "ok": True, "leg": "1000-1"}
    assert lab.calls == [("call", "1000", "1001")]
    assert running_lab_pid(tmp_path) == os.getpid()


def test_a_wrong_token_is_refused(tmp_path: Path, server: tuple[ControlServer, FakeLab]) -> None:
    _control, lab = server
    state = json.loads(state_path(tmp_path).read_text())
    write_state(tmp_path, {**state, "token": "guess"})
    answer = request(tmp_path, {"cmd": "call", "from": "1000", "to": "1001"})
    assert answer == {"ok": False, "error": "wrong token (is this your lab?)"}
    assert lab.calls == []


def test_a_lab_that_does_not_answer(tmp_path: Path, server: tuple[ControlServer, FakeLab]) -> None:
    control, _lab = server
    control.close()
    with pytest.raises(NoLabRunning, match="does not answer"):
        request(tmp_path, {"cmd": "status"})


def test_remove_state_leaves_another_labs_file(tmp_path: Path) -> None:
    write_state(tmp_path, {"pid": 1})
    remove_state(tmp_path)
    assert state_path(tmp_path).exists()
