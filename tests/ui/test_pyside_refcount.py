"""The installed PySide6 keeps None's reference count: PySide6 6.12.0 drops one reference on
every call that returns None, and on Python 3.11 (None is not yet immortal) a window then
aborts with "Fatal Python error: none_dealloc" after some thousands of updates — measured with
bench/bench_window.py within 10 s at 50 calls/s. pyproject.toml keeps such versions out; this
test fails if one comes back."""

from __future__ import annotations

import sys

import pytest
from PySide6.QtWidgets import QLabel, QProgressBar
from pytestqt.qtbot import QtBot

CALLS = 1000


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="None is immortal from Python 3.12 on")
def test_calls_returning_none_keep_its_reference_count(qtbot: QtBot) -> None:
    bar, label = QProgressBar(), QLabel()
    qtbot.addWidget(bar)
    qtbot.addWidget(label)
    before = sys.getrefcount(None)
    for i in range(CALLS):
        bar.setValue(i % 100)  # void methods: PySide6 returns None
        label.setText("x")
    lost = before - sys.getrefcount(None)
    assert lost < CALLS // 10, f"None lost {lost} references in {2 * CALLS} calls"
