"""Fixtures for the lab tests: labs in tmp_path with short timers, always stopped, and a check
that no process they started survives (PIDs and process groups), nor any of their threads."""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from labpbx.lab import Lab, LabConfig  # noqa: E402

FR_INV_TIMEOUT = 2.0
MESSAGE_SECONDS = 1.0


def process_alive(pid: int) -> bool:
    """True while ``pid`` runs; a zombie (exited, not yet reaped by its new parent) is dead."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return not sys.platform.startswith("linux")
    return fields[0] not in ("Z", "X")


def group_alive(pgid: int) -> bool:
    """Whether any process is left in the process group a child led (grandchildren too)."""
    if sys.platform == "win32":
        return False
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # Only zombies may remain (reaped by init later): look for a live member.
    for entry in Path("/proc").iterdir() if Path("/proc").is_dir() else []:
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            return True
    return False


def assert_all_gone(pids: Sequence[int], timeout: float = 10.0) -> None:
    """Every pid (and its process group) has ended within ``timeout`` (polling /proc)."""
    deadline = time.monotonic() + timeout
    left = list(pids)
    while left and time.monotonic() < deadline:
        left = [p for p in left if process_alive(p) or group_alive(p)]
        if left:
            time.sleep(0.05)
    assert not left, f"processes still running: {left}"


def lab_threads() -> list[str]:
    names = ("lab-", "proxy-", "voicemail-", "phone-")
    return [t.name for t in threading.enumerate() if t.name.startswith(names) and t.is_alive()]


@pytest.fixture
def make_lab(tmp_path: Path) -> Iterator[Callable[..., Lab]]:
    """``make_lab(**LabConfig overrides)`` → a started lab; stopped and checked at teardown."""
    labs: list[Lab] = []

    def _make(start: bool = True, **overrides: Any) -> Lab:
        options: dict[str, Any] = {"data_dir": tmp_path / f"lab{len(labs)}",
                                   "fr_inv_timeout": FR_INV_TIMEOUT,
                                   "voicemail_max_length": MESSAGE_SECONDS}
        options.update(overrides)
        lab = Lab(LabConfig(**options))
        labs.append(lab)
        if start:
            lab.start(timeout=15.0)
        return lab

    yield _make
    for lab in labs:
        lab.stop()
    for lab in labs:
        assert_all_gone(lab.all_pids())
    assert not lab_threads(), f"threads left running: {lab_threads()}"
