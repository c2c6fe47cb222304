"""The window over a real lab (the real proxy, pjsua2 phones, the voicemail box, loopback):
it starts the lab and shows each extension registered; calls made from the cards show up on
both cards and in the calls list; a busy callee goes to voicemail with the failure_route's
decision and xlog line in the routing log; the GUI thread never waits for a stopped phone.

Nothing sleeps for correctness: qtbot.waitUntil polls while Qt's event loop runs. A phone is
paused with SIGSTOP (a process this test's lab started) so "the answer has not come" is a fact.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

pytest.importorskip("pjsua2", reason="pjsua2-python is not installed: phones need it")

from labpbx.lab import LabConfig
from labpbx.lab.calls import CallOutcome
from labpbx.lab.state import Activity, LabState
from labpbx.phones.policy import Policy
from tests.lab.conftest import assert_all_gone
from tests.ui.lab_window import running_window
from ui.bridge import LabBridge
from ui.extension_card import ExtensionCard
from ui.main_window import MainWindow

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(sys.platform == "win32", reason="SIGSTOP pauses the phone")]

WAIT_MS = 20_000


@pytest.fixture
def window(qtbot: QtBot, tmp_path: Path) -> Iterator[MainWindow]:
    """A window whose lab is started and registered; closed (lab stopped) at teardown."""
    with running_window(qtbot, tmp_path / "lab") as win:
        yield win


def set_policy(qtbot: QtBot, card: ExtensionCard, policy: Policy, ring: float = 1.0) -> None:
    """Choose a policy on the card's control and apply it, as a user does."""
    card.policy.setCurrentIndex(card.policy.findData(policy.value))
    card.ring_time.setValue(ring)
    qtbot.mouseClick(card.apply_policy, _left())
    qtbot.waitUntil(lambda: card.state.policy is policy
                    and (policy is not Policy.ANSWER or card.state.ring_time == ring),
                    timeout=WAIT_MS)


def call(qtbot: QtBot, card: ExtensionCard, to: str) -> None:
    card.target.setCurrentText(to)
    qtbot.mouseClick(card.call_button, _left())


def _left():  # type: ignore[no-untyped-def]
    from PySide6.QtCore import Qt

    return Qt.MouseButton.LeftButton


def test_the_window_starts_the_lab_and_every_card_registers(window: MainWindow) -> None:
    for number, card in window.cards.items():
        assert card.state.registered, number
        assert card.call_button.isEnabled() and card.apply_policy.isEnabled()
        assert "registered" in card.registration.text()
        assert f"sip:{number}@127.0.0.1" in card.registration.text()
    assert window.progress.value() == len(window.cards)
    assert "proxy: ready" in window.components.text()
    assert window.banner.isHidden()


def test_a_call_from_a_card_rings_connects_and_hangs_up(qtbot: QtBot,
                                                         window: MainWindow) -> None:
    caller, callee = window.cards["1000"], window.cards["1001"]
    set_policy(qtbot, callee, Policy.ANSWER, ring=1.0)
    seen: list[tuple[Activity, Activity]] = []

    def record(state: LabState) -> None:
        seen.append((state.extensions["1000"].activity, state.extensions["1001"].activity))

    window.bridge.state_changed.connect(record)
    call(qtbot, caller, "1001")
    qtbot.waitUntil(lambda: callee.state.activity is Activity.RINGING, timeout=WAIT_MS)
    assert "Ringing" in callee.activity.text() and "1000" in callee.activity.text()
    assert callee.answer_button.isEnabled()
    qtbot.waitUntil(lambda: caller.state.activity is Activity.IN_CALL
                    and callee.state.activity is Activity.IN_CALL, timeout=WAIT_MS)
    assert "In call with 1001" in caller.activity.text()
    assert "In call with 1000" in callee.activity.text()
    ringing_at = next(i for i, s in enumerate(seen) if s[1] is Activity.RINGING)
    talking_at = next(i for i, s in enumerate(seen) if s == (Activity.IN_CALL, Activity.IN_CALL))
    assert ringing_at < talking_at

    model = window.calls.model
    assert model.rowCount() == 1
    row = model.calls[0]
    assert (row.caller, row.callee) == ("1000", "1001")
    assert model.data(model.index(0, 5)) == "in call"
    assert window.calls.table.currentIndex().row() == 0  # it follows the newest call

    qtbot.mouseClick(caller.hangup_button, _left())
    qtbot.waitUntil(lambda: caller.state.activity is Activity.IDLE
                    and callee.state.activity is Activity.IDLE
                    and model.calls[0].outcome is CallOutcome.ANSWERED, timeout=WAIT_MS)
    assert model.data(model.index(0, 5)) == "answered"
    assert caller.activity.text() == "Idle"
    assert "1000 → 1001" in window.calls.title.text()  # the drawn ladder's caption


def test_a_busy_callee_goes_to_voicemail_and_the_log_says_why(qtbot: QtBot,
                                                              window: MainWindow) -> None:
    caller, callee = window.cards["1000"], window.cards["1001"]
    set_policy(qtbot, callee, Policy.BUSY)
    assert callee.policy.currentData() == "busy"
    call(qtbot, caller, "1001")
    model = window.calls.model
    # The box answers (the caller is in a call with it); hanging up ends the call sooner.
    qtbot.waitUntil(lambda: caller.state.activity is Activity.IN_CALL, timeout=WAIT_MS)
    qtbot.mouseClick(caller.hangup_button, _left())
    qtbot.waitUntil(lambda: model.rowCount() == 1
                    and model.calls[0].outcome is CallOutcome.BUSY_VOICEMAIL, timeout=WAIT_MS)
    assert model.data(model.index(0, 5)) == "busy → voicemail"

    log = window.log.model
    rows = [log.row(i) for i in range(log.rowCount())]
    assert any(r.kind == "decision" and r.where.startswith("failure_route[missed_call]")
               for r in rows)
    assert any(r.kind == "xlog" and "> 486" in r.text for r in rows)
    # Filter by text and level: only the 486 xlog line is left.
    window.log.level.setCurrentIndex(window.log.level.findData("xlog"))
    window.log.text.setText("> 486")
    proxy = window.log.proxy
    shown = [proxy.index(i, 4).data() for i in range(proxy.rowCount())]
    assert shown and all("> 486" in text for text in shown)
    # …and by call (Enter on the call in the calls list opens its log): this call's rows only.
    window.calls.table.activated.emit(model.index(0, 0))
    assert window.tabs.currentWidget() is window.log
    assert window.log.call.currentData() == model.calls[0].call_id
    assert proxy.rowCount() == len(shown)


def test_the_gui_thread_never_waits_for_a_stopped_phone(qtbot: QtBot,
                                                        window: MainWindow) -> None:
    lab = window.bridge.lab
    assert lab is not None
    pid = lab.pids()[lab.phone_of("1004")]
    ticks = {"n": 0}
    timer = QTimer()
    timer.setInterval(20)
    timer.timeout.connect(lambda: ticks.__setitem__("n", ticks["n"] + 1))
    timer.start()
    card = window.cards["1004"]
    settled: list[str] = []  # how the policy command ended: "done" or "failed"
    window.bridge.command_done.connect(
        lambda what, _r: settled.append("done") if "1004" in what else None)
    window.bridge.command_failed.connect(
        lambda what, _w: settled.append("failed") if "1004" in what else None)
    os.kill(pid, signal.SIGSTOP)
    try:
        card.policy.setCurrentIndex(card.policy.findData("busy"))
        began = time.monotonic()
        qtbot.mouseClick(card.apply_policy, _left())
        assert time.monotonic() - began < 0.5  # the click returned: nothing waited for 1004
        # The window goes on: timers fire, and another phone's call shows up on its cards.
        call(qtbot, window.cards["1000"], "1001")
        qtbot.waitUntil(lambda: window.cards["1001"].state.activity is not Activity.IDLE
                        and ticks["n"] > 10, timeout=WAIT_MS)
        assert not settled  # the command is still out, and nothing waited for it
    finally:
        os.kill(pid, signal.SIGCONT)
    timer.stop()
    # Once it runs again the phone takes the policy; the command's answer comes back as a
    # signal (done, or failed if the pause outlasted the command's timeout on a slow machine).
    qtbot.waitUntil(lambda: bool(settled) and card.state.policy is Policy.BUSY, timeout=WAIT_MS)


def test_a_port_in_use_is_said_in_the_window_with_the_fix(qtbot: QtBot, tmp_path: Path) -> None:
    import socket

    taken = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    taken.bind(("127.0.0.1", 0))
    try:
        bridge = LabBridge(LabConfig(data_dir=tmp_path / "lab",
                                     proxy_port=taken.getsockname()[1]))
        win = MainWindow(bridge)
        win.show()
        bridge.start()
        qtbot.waitUntil(lambda: not win.banner.isHidden(), timeout=WAIT_MS)
        assert "already in use" in win.banner.text()
        assert "--port 0" in win.banner.text()
        assert "Traceback" not in win.banner.text()
        lab = bridge.lab
        win.close()
        qtbot.waitUntil(win.isHidden, timeout=WAIT_MS)
        assert lab is not None
        assert_all_gone(lab.all_pids())
    finally:
        taken.close()


def _interactive(widget: QWidget) -> bool:
    from PySide6.QtWidgets import (
        QAbstractButton,
        QAbstractItemView,
        QAbstractSpinBox,
        QComboBox,
        QHeaderView,
        QLineEdit,
        QPlainTextEdit,
        QTabBar,
    )

    if widget.objectName().startswith("qt_"):
        return False  # Qt's own helpers (the menu bar's overflow button, …)
    parent = widget.parentWidget()
    while parent is not None:
        if isinstance(parent, (QComboBox, QAbstractSpinBox, QAbstractItemView, QTabBar,
                               QLineEdit)):
            return False  # a part of a compound control (its editor, popup, header, …)
        parent = parent.parentWidget()
    return isinstance(widget, (QAbstractButton, QComboBox, QAbstractSpinBox, QLineEdit,
                               QAbstractItemView, QPlainTextEdit)) and not isinstance(
        widget, QHeaderView)


def test_every_control_has_a_name_and_a_keyboard_path(qtbot: QtBot, tmp_path: Path) -> None:
    from PySide6.QtCore import Qt

    bridge = LabBridge(LabConfig(data_dir=tmp_path / "lab"))  # never started
    win = MainWindow(bridge)
    qtbot.addWidget(win)
    win.show()
    controls = [w for w in win.findChildren(QWidget) if _interactive(w)]
    assert len(controls) > 5 * 9
    for widget in controls:
        what = f"{type(widget).__name__} {widget.objectName()!r}"
        assert widget.accessibleName(), f"{what} has no accessible name"
        assert widget.focusPolicy() & Qt.FocusPolicy.TabFocus, f"{what} is not reachable by Tab"
    win.step_zoom(1)
    assert win.zoom == 125
    for _ in range(10):
        win.step_zoom(1)
    assert win.zoom == 200
    win.step_zoom(0)
    assert win.zoom == 100
    win.close()
    qtbot.waitUntil(win.isHidden, timeout=WAIT_MS)


def test_the_command_line_reaches_the_windows_lab_and_a_second_lab_is_refused(
        qtbot: QtBot, window: MainWindow) -> None:
    from labpbx.lab.control import request

    lab = window.bridge.lab
    assert lab is not None
    answer = request(lab.data_dir, {"cmd": "call", "from": "1002", "to": "1003"})
    assert answer.get("ok"), answer
    qtbot.waitUntil(lambda: window.cards["1003"].state.activity is not Activity.IDLE,
                    timeout=WAIT_MS)

    second = LabBridge(LabConfig(data_dir=lab.data_dir))
    other = MainWindow(second)
    other.show()
    second.start()
    qtbot.waitUntil(lambda: not other.banner.isHidden(), timeout=WAIT_MS)
    assert "already running" in other.banner.text()
    assert "--data DIR" in other.banner.text()
    other.close()
    qtbot.waitUntil(other.isHidden, timeout=WAIT_MS)
    assert request(lab.data_dir, {"cmd": "status"}).get("ok")  # the first lab is untouched


def test_a_phone_that_dies_is_told_and_comes_back(qtbot: QtBot, window: MainWindow) -> None:
    lab = window.bridge.lab
    assert lab is not None
    phone = lab.phone_of("1004")
    os.kill(lab.pids()[phone], signal.SIGKILL)  # a process this test's lab started
    log = window.log.model

    def told() -> bool:
        rows = [log.row(i) for i in range(log.rowCount())]
        return any(r.kind == "problem" and r.where == phone and "restarted" in r.text
                   for r in rows)

    qtbot.waitUntil(told, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: window.cards["1004"].state.registered
                    and window.banner.isHidden(), timeout=WAIT_MS)


def test_tab_walks_through_every_visible_control(qtbot: QtBot, tmp_path: Path) -> None:
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QApplication

    win = MainWindow(LabBridge(LabConfig(data_dir=tmp_path / "lab")))  # never started
    qtbot.addWidget(win)
    win.show()
    win.activateWindow()
    win.set_lab_running(True)  # as once the lab has started: Call and Set are enabled
    for page in (win.calls, win.log):  # the controls of the page on show, and the cards'
        win.tabs.setCurrentWidget(page)
        first = win.cards["1000"].policy
        first.setFocus()
        qtbot.waitUntil(first.hasFocus)
        expected = {w for w in win.findChildren(QWidget)
                    if _interactive(w) and w.isVisibleTo(win) and w.isEnabled()}
        visited: set[QWidget] = set()
        for _ in range(3 * len(expected)):
            widget = QApplication.focusWidget()
            assert widget is not None
            visited.add(widget)
            qtbot.keyClick(widget, Qt.Key.Key_Tab)
        missed = sorted(w.accessibleName() for w in expected - visited)
        assert not missed, f"Tab never reaches {missed}"
    win.close()
    qtbot.waitUntil(win.isHidden, timeout=WAIT_MS)


def test_zoom_and_geometry_are_kept_in_the_settings(qtbot: QtBot, tmp_path: Path) -> None:
    from PySide6.QtCore import QSettings

    settings = QSettings(str(tmp_path / "labpbx.ini"), QSettings.Format.IniFormat)
    first = MainWindow(LabBridge(LabConfig(data_dir=tmp_path / "lab")), settings=settings)
    first.show()
    first.set_zoom(150)
    first.close()
    qtbot.waitUntil(first.isHidden, timeout=WAIT_MS)
    again = MainWindow(LabBridge(LabConfig(data_dir=tmp_path / "lab")), settings=settings)
    qtbot.addWidget(again)
    assert again.zoom == 150
    assert again.font().pointSizeF() == first.font().pointSizeF()


def test_answer_and_reject_from_the_callees_card(qtbot: QtBot, window: MainWindow) -> None:
    caller, callee = window.cards["1000"], window.cards["1001"]
    set_policy(qtbot, callee, Policy.RING)  # it rings until someone clicks
    model = window.calls.model

    call(qtbot, caller, "1001")
    qtbot.waitUntil(lambda: callee.answer_button.isEnabled(), timeout=WAIT_MS)
    qtbot.mouseClick(callee.answer_button, _left())
    qtbot.waitUntil(lambda: caller.state.activity is Activity.IN_CALL
                    and callee.state.activity is Activity.IN_CALL, timeout=WAIT_MS)
    qtbot.mouseClick(callee.hangup_button, _left())  # the callee ends it this time
    qtbot.waitUntil(lambda: model.rowCount() == 1
                    and model.calls[0].outcome is CallOutcome.ANSWERED, timeout=WAIT_MS)

    call(qtbot, caller, "1001")
    qtbot.waitUntil(lambda: callee.busy_button.isEnabled(), timeout=WAIT_MS)
    qtbot.mouseClick(callee.busy_button, _left())  # 486: the script sends it to voicemail
    qtbot.waitUntil(lambda: model.rowCount() == 2 and model.calls[1].answered_at is not None,
                    timeout=WAIT_MS)  # the box answered
    qtbot.mouseClick(caller.hangup_button, _left())
    qtbot.waitUntil(lambda: model.rowCount() == 2
                    and model.calls[1].outcome is CallOutcome.BUSY_VOICEMAIL, timeout=WAIT_MS)


def test_closing_while_the_lab_starts_stops_it_and_leaves_nothing(qtbot: QtBot,
                                                                  tmp_path: Path) -> None:
    bridge = LabBridge(LabConfig(data_dir=tmp_path / "lab"))
    win = MainWindow(bridge)
    win.show()
    bridge.start()
    win.close()  # at once: the stop waits for the start on the worker thread, not here
    assert not win.isHidden()  # the window stays (and paints) until the lab is down
    qtbot.waitUntil(win.isHidden, timeout=WAIT_MS)
    assert bridge.lab is not None
    assert_all_gone(bridge.lab.all_pids())
    from labpbx.lab.control import running_lab_pid

    assert running_lab_pid(tmp_path / "lab") is None  # no control port was left announced
