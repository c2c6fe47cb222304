"""The drawn ladder over a real lab (proxy, pjsua2 phones, voicemail box on loopback): the
tutorial's three calls, one lab for all three (each lab starts four processes).

1. 1000 → 1004, which has a callfwd AVP: the INVITE is forwarded to the voicemail number;
2. 1000 → 1001 busy: the 486 (a failed branch) and the new branch to b1001;
3. 1000 → 1001 rings with fr_inv_timeout 2 s: the timer note, the CANCEL, the u1001 branch.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

pytest.importorskip("pjsua2", reason="pjsua2-python is not installed: phones need it")

from labpbx.events import XlogEvent
from labpbx.lab.calls import CallOutcome
from labpbx.lab.ladder import (
    CALLEE,
    CALLER,
    NOTE_DECISION,
    NOTE_TIMER,
    PROXY,
    VOICEMAIL,
    Ladder,
    Row,
)
from labpbx.lab.state import Activity
from labpbx.phones.policy import Policy
from tests.ui.lab_window import running_window
from tests.ui.test_window import call, set_policy
from ui.main_window import MainWindow

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(sys.platform == "win32", reason="as tests/ui/test_window.py")]

WAIT_MS = 20_000


@pytest.fixture
def window(qtbot: QtBot, tmp_path: Path) -> Iterator[MainWindow]:
    """A window whose lab is started and registered; closed (lab stopped) at teardown."""
    with running_window(qtbot, tmp_path / "lab", fr_inv_timeout=2.0) as win:
        yield win


def place(qtbot: QtBot, win: MainWindow, to: str, outcome: CallOutcome) -> Ladder:
    """1000 calls ``to``; once the box answers, 1000 hangs up; the ladder of the ended call."""
    model = win.calls.model
    before = model.rowCount()
    caller = win.cards["1000"]
    call(qtbot, caller, to)
    qtbot.waitUntil(lambda: model.rowCount() == before + 1
                    and caller.state.activity is Activity.IN_CALL, timeout=WAIT_MS)
    qtbot.mouseClick(caller.hangup_button, _left())
    qtbot.waitUntil(lambda: model.calls[-1].outcome is outcome, timeout=WAIT_MS)
    shown = win.calls.shown_call()
    assert shown is not None and shown.call_id == model.calls[-1].call_id  # it follows
    ladder = win.calls.ladder.ladder
    assert ladder is not None and ladder.call_id == shown.call_id
    return ladder


def _left():  # type: ignore[no-untyped-def]
    from PySide6.QtCore import Qt

    return Qt.MouseButton.LeftButton


def arrows(ladder: Ladder) -> list[tuple[str, int, int]]:
    return [(r.label, r.src, r.dst) for r in ladder.rows if r.is_arrow]


def first(ladder: Ladder, label: str, src: int, dst: int) -> int:
    return next(i for i, r in enumerate(ladder.rows)
                if r.is_arrow and (r.label, r.src, r.dst) == (label, src, dst))


def note(ladder: Ladder, kind: str, action: str = "") -> tuple[int, Row]:
    return next((i, r) for i, r in enumerate(ladder.rows)
                if r.note == kind and (not action or r.action == action))


def test_the_three_tutorial_calls_in_the_drawn_ladder(qtbot: QtBot, window: MainWindow) -> None:
    lab = window.bridge.lab
    assert lab is not None
    lab.provision_callfwd("1004")  # the tutorial's unconditional forward to 2345678

    # 1. 1000 → 1004, forwarded to the voicemail number by the script
    forwarded = place(qtbot, window, "1004", CallOutcome.FORWARDED_VOICEMAIL)
    assert forwarded.lanes == ("caller 1000", "proxy", "callee 1004", "voicemail 2345678")
    got = arrows(forwarded)
    assert ("INVITE 1004", CALLER, PROXY) in got
    assert ("INVITE 2345678", PROXY, VOICEMAIL) in got
    assert not [a for a in got if CALLEE in a[1:]]  # 1004 itself never sees a message
    i_rewrite, rewrite = next((i, r) for i, r in enumerate(forwarded.rows)
                              if r.note == NOTE_DECISION and "2345678" in r.after)
    assert i_rewrite < first(forwarded, "INVITE 2345678", PROXY, VOICEMAIL)
    assert rewrite.where.startswith("route") and rewrite.before.startswith("sip:1004@")
    invite = forwarded.rows[first(forwarded, "INVITE 2345678", PROXY, VOICEMAIL)]
    assert invite.has_sdp and invite.pair >= 0  # the pane can diff it with what came in

    # 2. 1001 busy: the 486, then failure_route's new branch to b1001
    set_policy(qtbot, window.cards["1001"], Policy.BUSY)
    busy = place(qtbot, window, "1001", CallOutcome.BUSY_VOICEMAIL)
    i486 = first(busy, "486 Busy Here", CALLEE, PROXY)
    assert busy.rows[i486].failed
    i_prefix, prefix = note(busy, NOTE_DECISION, "prefix")
    i_b1001 = first(busy, "INVITE b1001", PROXY, VOICEMAIL)
    assert i486 < i_prefix < i_b1001
    assert prefix.where.startswith("failure_route[missed_call]:") and "b1001" in prefix.after
    assert busy.rows[i_b1001].branch == 1
    # the pane shows the R-URI the proxy changed: received 1001, forwarded b1001
    window.calls.ladder.select(i_b1001)
    pane = window.calls.message.toPlainText()
    assert "- INVITE sip:1001@" in pane and "+ INVITE sip:b1001@" in pane
    assert "R-URI changed" in pane

    # 3. 1001 rings, nobody answers: fr_inv_timeout 2 s fires, CANCEL, then u1001
    set_policy(qtbot, window.cards["1001"], Policy.RING)
    ring = place(qtbot, window, "1001", CallOutcome.NO_ANSWER_VOICEMAIL)
    i_timer, timer = note(ring, NOTE_TIMER)
    assert timer.action == "fr_inv_timeout" and timer.duration is not None
    assert 1.8 < timer.duration < 3.0, timer.duration
    assert f"fr_inv_timeout {timer.duration:.1f} s fired" in timer.text
    i_cancel = first(ring, "CANCEL 1001", PROXY, CALLEE)
    i_u1001 = first(ring, "INVITE u1001", PROXY, VOICEMAIL)
    assert i_timer < i_cancel and i_timer < i_u1001
    assert ring.rows[i_u1001].branch == 1

    # the routing log's xlog line of this call selects its row in the ladder
    call_events = window.calls.shown_call()
    assert call_events is not None
    xlog = next(s for s, e in call_events.events if isinstance(e, XlogEvent))
    assert window.calls.show_event(xlog)
    selected = window.calls.ladder.selected_row()
    assert selected is not None and selected.seq == xlog
