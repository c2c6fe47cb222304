"""One window per data directory: a second ``labpbx gui`` on the same data raises the first
window and exits without starting a lab; a window that does not answer is reported with its
PID; a lock left by a dead window is taken over.

The second ``labpbx gui`` is a real process (the blocking handshake of a starting window cannot
be answered by the same thread), run while this process's Qt loop serves the first window's
socket. No lab is started by any of these tests: the second process exits before it would.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from PySide6.QtCore import QLockFile
from pytestqt.qtbot import QtBot

from ui.single_instance import LOCK_NAME, Claim, WindowOwnership, server_name

ROOT = Path(__file__).resolve().parents[2]
WAIT_MS = 30_000


def start_second_window(data_dir: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    return subprocess.Popen([sys.executable, "-m", "ui", "--data", str(data_dir), "gui"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def finish(qtbot: QtBot, process: subprocess.Popen[str]) -> tuple[int, str, str]:
    """Run Qt's loop until ``process`` exits (this process's window answers meanwhile)."""
    try:
        qtbot.waitUntil(lambda: process.poll() is not None, timeout=WAIT_MS)
    finally:
        if process.poll() is None:
            process.kill()
    out, err = process.communicate()
    return process.returncode, out, err


def test_a_second_window_on_the_same_data_raises_the_first(qtbot: QtBot, tmp_path: Path) -> None:
    first = WindowOwnership(tmp_path)
    assert first.claim() is Claim.OWNER
    raised: list[bool] = []
    first.raise_requested.connect(lambda: raised.append(True))
    try:
        code, out, err = finish(qtbot, start_second_window(tmp_path))
    finally:
        first.release()
    assert code == 0, err
    assert "already open" in out
    assert raised == [True]
    assert not (tmp_path / "lab-state.json").exists()  # the second process started no lab


def test_a_window_that_does_not_answer_is_named_by_pid(qtbot: QtBot, tmp_path: Path) -> None:
    lock = QLockFile(str(tmp_path / LOCK_NAME))  # held by this process, with no socket behind it
    assert lock.tryLock(0)
    try:
        code, _out, err = finish(qtbot, start_second_window(tmp_path))
    finally:
        lock.unlock()
    assert code == 1
    assert f"pid {os.getpid()}" in err
    assert "does not answer" in err and "--data DIR" in err


def test_the_lock_of_a_dead_window_is_taken_over(tmp_path: Path) -> None:
    dead = subprocess.run(
        [sys.executable, "-c",
         "import os, sys; from PySide6.QtCore import QLockFile; "
         "l = QLockFile(sys.argv[1]); assert l.tryLock(0); os._exit(0)",
         str(tmp_path / LOCK_NAME)], check=True, timeout=60)
    assert dead.returncode == 0 and (tmp_path / LOCK_NAME).exists()
    ownership = WindowOwnership(tmp_path)
    try:
        assert ownership.claim() is Claim.OWNER
    finally:
        ownership.release()
    assert not (tmp_path / LOCK_NAME).exists()


def test_windows_on_different_data_do_not_meet(tmp_path: Path) -> None:
    a, b = WindowOwnership(tmp_path / "a"), WindowOwnership(tmp_path / "b")
    assert a.name != b.name == server_name(tmp_path / "b")
    try:
        assert a.claim() is Claim.OWNER
        assert b.claim() is Claim.OWNER
    finally:
        a.release()
        b.release()
