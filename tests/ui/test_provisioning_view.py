"""The Provisioning tab over a real lab: a callfwd row added by clicking in the table changes
where the next call goes (the proxy reads usr_preferences for every INVITE) and the card shows
the forward; the timers applied there reach the running proxy without a restart."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox
from pytestqt.qtbot import QtBot

pytest.importorskip("pjsua2", reason="pjsua2-python is not installed: phones need it")

from labpbx.events import RouteDecisionEvent
from labpbx.lab.calls import CallOutcome
from labpbx.lab.state import Activity
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


def test_adding_an_avp_in_the_table_changes_where_the_next_call_goes(
        qtbot: QtBot, window: MainWindow) -> None:
    view = window.provisioning
    window.tabs.setCurrentWidget(view)
    qtbot.mouseClick(view.add_button, LEFT)
    dialog = view.dialog
    assert dialog is not None
    assert dialog.attribute.text() == "callfwd" and dialog.type.currentData() == 0
    qtbot.keyClicks(dialog.owner, "1001@127.0.0.1")
    qtbot.keyClicks(dialog.value, "sip:2345678@127.0.0.1")
    qtbot.mouseClick(dialog.buttons.button(QDialogButtonBox.StandardButton.Ok), LEFT)
    qtbot.waitUntil(lambda: view.model.rowCount() == 1, timeout=WAIT_MS)
    card = window.cards["1001"]
    qtbot.waitUntil(lambda: card.state.forwarding.unconditional == "sip:2345678@127.0.0.1",
                    timeout=WAIT_MS)  # the lab heard of the new row: the card shows it

    caller = window.cards["1000"]
    caller.target.setCurrentText("1001")
    qtbot.mouseClick(caller.call_button, LEFT)
    calls = window.calls.model
    qtbot.waitUntil(lambda: caller.state.activity is Activity.IN_CALL, timeout=WAIT_MS)
    assert card.state.activity is Activity.IDLE  # 1001 never rang: the call went elsewhere
    qtbot.mouseClick(caller.hangup_button, LEFT)
    qtbot.waitUntil(lambda: calls.rowCount() == 1
                    and calls.calls[0].outcome is CallOutcome.FORWARDED_VOICEMAIL,
                    timeout=WAIT_MS)
    decisions = [e for _s, e in calls.calls[0].events if isinstance(e, RouteDecisionEvent)]
    assert any(d.after == "sip:2345678@127.0.0.1" and "1001" in d.before for d in decisions)

    # the timers, applied to the running proxy (same process: no restart)
    lab = window.bridge.lab
    assert lab is not None
    proxy_pid = lab.pids()["proxy"]
    assert "fr_inv_timeout 10 s" in view.timers_now.text()
    view.fr_inv_timeout.setValue(4.5)
    qtbot.mouseClick(view.apply_timers, LEFT)
    qtbot.waitUntil(lambda: "fr_inv_timeout 4.5 s" in view.timers_now.text(), timeout=WAIT_MS)
    assert lab.timers()["fr_inv_timeout"] == 4.5 and lab.pids()["proxy"] == proxy_pid
