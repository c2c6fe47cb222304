"""``labpbx`` with no command and ``labpbx gui``: the window (a PNG with --screenshot), or a clear
message with the fix when there is no display — never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PNG = b"\x89PNG\r\n\x1a\n"


def labpbx(*args: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    # ``python -m ui`` is the installed ``labpbx`` command's code with the window wired in
    # directly (the entry point finds the same runner).
    return subprocess.run([sys.executable, "-m", "ui", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env.update(extra)
    return env


@pytest.mark.integration
def test_gui_screenshot_writes_a_png(tmp_path: Path) -> None:
    pytest.importorskip("pjsua2", reason="pjsua2-python is not installed: phones need it")
    shot = tmp_path / "window.png"
    done = labpbx("--data", str(tmp_path / "lab"), "gui", "--port", "0",
                  "--screenshot", str(shot), env=_env())  # no display: offscreen by itself
    assert done.returncode == 0, done.stderr
    assert shot.read_bytes().startswith(PNG)
    assert "Traceback" not in done.stderr


def test_no_display_says_how_to_fix_it(tmp_path: Path) -> None:
    done = labpbx("--data", str(tmp_path / "lab"), env=_env())
    assert done.returncode == 1
    assert "no display" in done.stderr
    assert "QT_QPA_PLATFORM=offscreen" in done.stderr and "labpbx lab" in done.stderr
    assert "Traceback" not in done.stderr


def test_an_x_display_that_cannot_open_is_said_not_a_qt_abort(tmp_path: Path) -> None:
    # DISPLAY names a display nobody serves: either the X libraries are missing (said with
    # the packages to install) or the display does not open (said too); Qt never aborts.
    done = labpbx("--data", str(tmp_path / "lab"), env=_env(DISPLAY=":97"))
    assert done.returncode == 1, done.stderr
    assert ("sudo apt install" in done.stderr) or ("cannot be opened" in done.stderr)
    assert "Traceback" not in done.stderr and "Aborted" not in done.stderr


def test_the_cli_finds_the_window_through_its_entry_point(tmp_path: Path) -> None:
    from labpbx.cli import main

    pytest.importorskip("importlib.metadata")
    from importlib.metadata import entry_points

    if not list(entry_points(group="labpbx.gui")):
        pytest.skip("labpbx is not installed (pip install -e .): no entry points")
    saved = {k: os.environ.pop(k) for k in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")
             if k in os.environ}
    try:
        assert main(["--data", str(tmp_path), "gui"]) == 1  # found, and it refuses: no display
    finally:
        os.environ.update(saved)


@pytest.mark.integration
def test_screenshot_after_waits_while_the_cli_places_a_call(tmp_path: Path) -> None:
    """``--after`` keeps the window up after the start, and ``labpbx call`` in a terminal acts on
    the window's lab meanwhile (so a screenshot can show a call)."""
    pytest.importorskip("pjsua2", reason="pjsua2-python is not installed: phones need it")
    data, shot = tmp_path / "lab", tmp_path / "call.png"
    window = subprocess.Popen(
        [sys.executable, "-m", "ui", "--data", str(data), "gui", "--port", "0",
         "--screenshot", str(shot), "--after", "4"],
        cwd=ROOT, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        state = data / "lab-state.json"
        deadline = time.monotonic() + 60
        while not state.exists():  # written once every extension is registered
            assert window.poll() is None, window.communicate()[1]
            assert time.monotonic() < deadline, "the window's lab never came up"
            time.sleep(0.05)  # polling a file another process writes; not a timing assertion
        placed = subprocess.run([sys.executable, "-m", "labpbx", "--data", str(data), "call",
                                 "1000", "1001"], cwd=ROOT, env=_env(), capture_output=True,
                                text=True, timeout=60)
        assert placed.returncode == 0, placed.stderr
        _out, err = window.communicate(timeout=90)
    finally:
        if window.poll() is None:
            window.kill()
            window.communicate()
    assert window.returncode == 0, err
    assert shot.read_bytes().startswith(PNG)
