"""The window over a real lab, for the tests that need one: started and registered on entry,
closed (its lab stopped, every process gone) on exit."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pytestqt.qtbot import QtBot

from labpbx.lab import LabConfig
from tests.lab.conftest import assert_all_gone
from ui.bridge import LabBridge
from ui.main_window import MainWindow

WAIT_MS = 20_000


@contextlib.contextmanager
def running_window(qtbot: QtBot, data_dir: Path, **config: Any) -> Iterator[MainWindow]:
    """``config``: LabConfig fields (default: fr_inv_timeout 10 s, 1-s voicemail messages)."""
    settings: dict[str, Any] = {"fr_inv_timeout": 10.0, "voicemail_max_length": 1.0, **config}
    bridge = LabBridge(LabConfig(data_dir=data_dir, **settings))
    window = MainWindow(bridge)
    window.show()
    bridge.start()
    qtbot.waitUntil(lambda: bridge.running, timeout=WAIT_MS)
    yield window
    lab = bridge.lab
    window.close()  # deferred: the lab stops on a worker thread, then the window closes
    qtbot.waitUntil(window.isHidden, timeout=WAIT_MS)
    assert lab is not None
    assert_all_gone(lab.all_pids())
