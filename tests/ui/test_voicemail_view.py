"""The Voicemail tab over a real lab: a busy call's message appears in 1001's mailbox without
reopening anything, with the card's MWI badge; marking it heard clears the badge (the box counts
again and NOTIFYs the phone); deleting it removes its file and its row."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

pytest.importorskip("pjsua2", reason="pjsua2-python is not installed: phones need it")

from labpbx.events import MwiEvent
from labpbx.lab.state import Activity
from labpbx.phones.policy import Policy
from tests.ui.lab_window import running_window
from ui.main_window import MainWindow

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(sys.platform == "win32", reason="as tests/ui/test_window.py")]

WAIT_MS = 20_000
LEFT = Qt.MouseButton.LeftButton


@pytest.fixture
def window(qtbot: QtBot, tmp_path: Path) -> Iterator[MainWindow]:
    """A window whose lab is started and registered; closed (lab stopped) at teardown."""
    with running_window(qtbot, tmp_path / "lab") as win:
        yield win


def test_a_busy_call_s_message_is_shown_heard_and_deleted(qtbot: QtBot,
                                                          window: MainWindow) -> None:
    view = window.voicemail
    window.tabs.setCurrentWidget(view)
    view.select_mailbox("1001")
    caller, callee = window.cards["1000"], window.cards["1001"]
    callee.policy.setCurrentIndex(callee.policy.findData(Policy.BUSY.value))
    qtbot.mouseClick(callee.apply_policy, LEFT)
    qtbot.waitUntil(lambda: callee.state.policy is Policy.BUSY, timeout=WAIT_MS)
    caller.target.setCurrentText("1001")
    qtbot.mouseClick(caller.call_button, LEFT)
    # The box answers, plays the busy greeting and records at most 1 s.
    qtbot.waitUntil(lambda: view.messages.rowCount() == 1, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: caller.state.activity is Activity.IDLE, timeout=WAIT_MS)
    message = view.messages.rows[0]
    assert message.mailbox == "1001" and message.cause == "busy" and not message.heard
    assert view.messages.data(view.messages.index(0, 2)) == "busy"
    assert "1000" in view.messages.data(view.messages.index(0, 0))
    assert "1 new" in view.title.text()
    qtbot.waitUntil(lambda: callee.state.new_messages == 1, timeout=WAIT_MS)  # MWI badge
    assert "1" in callee.mwi.text()

    lab = window.bridge.lab
    assert lab is not None
    mark = lab.mark()
    view.table.selectRow(0)
    qtbot.mouseClick(view.heard_button, LEFT)
    qtbot.waitUntil(lambda: callee.state.new_messages == 0 and callee.state.old_messages == 1,
                    timeout=WAIT_MS)  # the box counted again: the badge clears
    assert any(isinstance(e, MwiEvent) and e.mailbox == "1001" and e.new_messages == 0
               for e in lab.events(mark))
    assert view.messages.rows[0].heard and "0 new" in view.title.text()

    wav = message.path
    assert wav.exists()
    view.table.selectRow(0)
    qtbot.mouseClick(view.delete_button, LEFT)
    qtbot.waitUntil(lambda: view.messages.rowCount() == 0, timeout=WAIT_MS)
    assert not wav.exists()
    qtbot.waitUntil(lambda: callee.state.old_messages == 0, timeout=WAIT_MS)
