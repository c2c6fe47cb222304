"""From the routing log to the ladder: Enter on a decision row shows the Calls tab with that
call selected and the decision's row selected in its ladder; a jump to an older call stops the
list following the newest. The window's lab is not started: the bridge gets synthetic events
(the no-answer call of tests/lab/test_ladder_model) as its lab would hand them over."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from labpbx.events import RouteDecisionEvent
from labpbx.lab import LabConfig
from tests.lab.test_ladder_model import no_answer_call
from ui.bridge import LabBridge
from ui.main_window import MainWindow


def test_enter_on_a_decision_shows_its_ladder_row(qtbot: QtBot, tmp_path: Path) -> None:
    bridge = LabBridge(LabConfig(data_dir=tmp_path / "lab"))
    window = MainWindow(bridge)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    entries = no_answer_call()
    for seq, event in entries:
        bridge._enqueue(seq, event)
    bridge.drain()
    decisions = [(s, e) for s, e in entries if isinstance(e, RouteDecisionEvent)]
    assert decisions, "the synthetic call has routing decisions"
    seq, decision = decisions[-1]

    window.tabs.setCurrentWidget(window.log)
    table = window.log.table
    row = next(r for r in range(window.log.proxy.rowCount())
               if window.log.model.row(window.log.proxy.mapToSource(
                   window.log.proxy.index(r, 0)).row()).seq == seq)
    table.setFocus()
    table.setCurrentIndex(window.log.proxy.index(row, 0))
    qtbot.keyClick(table, Qt.Key.Key_Return)

    assert window.tabs.currentWidget() is window.calls
    assert window.calls.selected == decision.call_id
    selected = window.calls.ladder.selected_row()
    assert selected is not None and selected.seq == seq
    assert f"{decision.route}:{decision.line}" in selected.where
