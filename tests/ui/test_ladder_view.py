"""The drawn ladder, its message pane and its exports, over synthetic events (no lab: fast).

The call is tests/lab/test_ladder_model.no_answer_call: 1000 → 1001 rings, fr_inv_timeout
fires, the proxy CANCELs branch 0 and sends branch 1 to u1001 at the voicemail box.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from labpbx.events import SipMessageEvent, XlogEvent
from labpbx.lab.ladder import NOTE_TIMER, Ladder, build_ladder
from labpbx.lab.message_diff import ADDED, REMOVED
from labpbx.lab.state import LabState, reduce
from tests.lab.test_ladder_model import VM_ADDR, no_answer_call
from ui.calls_view import CallsView
from ui.ladder_export import export_png, export_svg, export_text
from ui.ladder_render import geometry
from ui.ladder_view import LadderView

SVG = "{http://www.w3.org/2000/svg}"


def ladder() -> Ladder:
    return build_ladder(no_answer_call(), "c2", voicemail_address=VM_ADDR)


def index_of(lad: Ladder, label: str) -> int:
    return next(i for i, r in enumerate(lad.rows) if r.is_arrow and r.shown_label == label)


@pytest.fixture
def view(qtbot: QtBot) -> LadderView:
    v = LadderView()
    qtbot.addWidget(v)
    v.resize(900, 400)
    v.show()
    qtbot.waitExposed(v)
    return v


def click_row(qtbot: QtBot, view: LadderView, index: int) -> None:
    geo = view.geometry_now()
    view.verticalScrollBar().setValue(0)
    y = int(geo.header_height + index * geo.row_height + geo.row_height / 2)
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(40, y))


class TestLadderView:
    def test_click_and_keys_select_rows(self, qtbot: QtBot, view: LadderView) -> None:
        lad = ladder()
        view.set_ladder(lad)
        with qtbot.waitSignal(view.row_selected) as signal:
            click_row(qtbot, view, 2)
        assert signal.args == [2] and view.selected == 2
        assert lad.rows[2].label == "100 Trying"
        assert view.accessibleDescription() == "100 Trying"
        qtbot.keyClick(view, Qt.Key.Key_Down)
        assert view.selected == 3
        qtbot.keyClick(view, Qt.Key.Key_Up)
        qtbot.keyClick(view, Qt.Key.Key_Up)
        assert view.selected == 1
        qtbot.keyClick(view, Qt.Key.Key_End)
        assert view.selected == len(lad.rows) - 1
        bar = view.verticalScrollBar()
        assert bar.maximum() > 0 and bar.value() == bar.maximum()  # the last row is in view
        qtbot.keyClick(view, Qt.Key.Key_Home)
        assert view.selected == 0 and bar.value() == 0

    def test_it_follows_a_live_call_unless_scrolled_up(self, qtbot: QtBot,
                                                       view: LadderView) -> None:
        entries = no_answer_call()
        view.set_ladder(build_ladder(entries[:12], "c2"))
        bar = view.verticalScrollBar()
        view.set_ladder(build_ladder(entries, "c2"))
        assert bar.maximum() > 0 and bar.value() == bar.maximum()
        view.select(3)
        bar.setValue(0)  # the reader scrolled up
        more = [*entries, (999, SipMessageEvent(3.0, "proxy", "out", "127.0.0.1:5060",
                                                "127.0.0.1:40000", "c2", "200 OK", "junk"))]
        view.set_ladder(build_ladder(more, "c2"))
        assert bar.value() == 0
        assert view.selected == 3  # the same row (kept by its event), not a moved index

    def test_select_seq_finds_the_row_an_event_made(self, view: LadderView) -> None:
        entries = no_answer_call()
        view.set_ladder(build_ladder(entries, "c2"))
        xlog = next(s for s, e in entries if isinstance(e, XlogEvent))
        assert view.select_seq(xlog)
        assert view.selected_row() is not None and view.selected_row().seq == xlog  # type: ignore[union-attr]
        assert not LadderView().select_seq(xlog)

    def test_the_ladder_follows_the_font(self, view: LadderView) -> None:
        view.set_ladder(ladder())
        small = view.geometry_now().row_height
        font = view.font()
        font.setPointSizeF(font.pointSizeF() * 2)
        view.setFont(font)  # as MainWindow.set_zoom(200) does to the window
        assert view.geometry_now().row_height >= 1.8 * small

    def test_placeholder_and_accessible_name(self, view: LadderView) -> None:
        assert view.accessibleName() == "Ladder of the selected call"
        assert view.focusPolicy() & Qt.FocusPolicy.TabFocus
        image = view.grab().toImage()
        assert not image.isNull()


class TestExports:
    def test_svg_is_valid_and_holds_the_calls_arrows(self, qtbot: QtBot, view: LadderView,
                                                     tmp_path: Path) -> None:
        lad = ladder()
        path = tmp_path / "call.svg"
        export_svg(path, lad, view.font(), view.palette())
        root = ET.parse(path).getroot()  # well-formed XML
        assert root.tag == f"{SVG}svg"
        texts = ["".join(t.itertext()).strip() for t in root.iter(f"{SVG}text")]
        for label in ("INVITE 1001 (SDP)", "CANCEL 1001", "INVITE u1001 (SDP)  [branch 1]",
                      "✗ 487 Request Terminated", "caller 1000", "voicemail 2345678"):
            assert label in texts, label
        assert any("fr_inv_timeout 2.0 s fired on branch 0" in t for t in texts)
        # every arrow is a line and a head: at least two drawn shapes per arrow
        shapes = [e for e in root.iter() if e.tag in (f"{SVG}path", f"{SVG}polyline",
                                                       f"{SVG}polygon", f"{SVG}line")]
        assert len(shapes) >= 2 * sum(1 for r in lad.rows if r.is_arrow)

    def test_png_is_the_whole_call_at_the_screen_font(self, view: LadderView,
                                                      tmp_path: Path) -> None:
        lad = ladder()
        path = tmp_path / "call.png"
        size = export_png(path, lad, view.font(), view.palette(), width=1000)
        image = QImage(str(path))
        assert not image.isNull()
        geo = geometry(view.font(), 1000)
        assert (image.width(), image.height()) == geo.size(len(lad.rows)) == (
            size.width(), size.height())

    def test_text_is_the_terminal_ladder(self, tmp_path: Path) -> None:
        path = tmp_path / "call.txt"
        export_text(path, [e for _s, e in no_answer_call()], "c2", title="Call 1")
        text = path.read_text(encoding="utf-8")
        assert text.startswith("Call 1\nCall-ID c2\n")
        assert "tm: timeout fr_inv_timeout 2.0 s fired on branch 0: local 408" in text


def calls_view(qtbot: QtBot) -> tuple[CallsView, LabState]:
    state = LabState()
    for seq, event in no_answer_call():
        state = reduce(state, seq, event)
    assert len(state.calls) == 1
    view = CallsView()
    qtbot.addWidget(view)
    view.resize(1200, 800)
    view.show()
    qtbot.waitExposed(view)
    view.set_calls(state.calls)
    return view, state


class TestCallsView:
    def test_a_forwarded_request_shows_what_the_proxy_changed(self, qtbot: QtBot) -> None:
        view, _state = calls_view(qtbot)
        lad = view.ladder.ladder
        assert lad is not None and lad.call_id == "c2"
        assert view.title.text().startswith("1000 → 1001")
        click_row(qtbot, view.ladder, index_of(lad, "INVITE u1001 (SDP)"))
        pane = view.message.toPlainText()
        assert "Sent by the proxy to voicemail 2345678" in pane
        assert "- INVITE sip:1001@127.0.0.1:5060 SIP/2.0" in pane
        assert "+ INVITE sip:u1001@127.0.0.1:5060 SIP/2.0" in pane
        assert "Changed by the proxy: R-URI changed" in pane
        marked = {(d.mark, d.header) for d in view.message.diff}
        assert {(REMOVED, "R-URI"), (ADDED, "R-URI"), (ADDED, "Via"), (ADDED, "Record-Route"),
                (REMOVED, "Max-Forwards"), (ADDED, "Max-Forwards")} <= marked
        # the forwarded lines are bold as well as highlighted: colour is not the only cue
        block = view.message.document().findBlock(0)
        while block.isValid() and not block.text().startswith("+ INVITE"):
            block = block.next()
        assert block.isValid()
        assert block.charFormat().fontWeight() >= 600 or any(
            r.format.fontWeight() >= 600 for r in block.layout().formats()) or \
            block.begin().fragment().charFormat().fontWeight() >= 600

    def test_the_proxys_own_cancel_has_no_pair(self, qtbot: QtBot) -> None:
        view, _state = calls_view(qtbot)
        lad = view.ladder.ladder
        assert lad is not None
        click_row(qtbot, view.ladder, index_of(lad, "CANCEL 1001"))
        pane = view.message.toPlainText()
        assert "The proxy made this message itself." in pane
        assert "CANCEL sip:1001@127.0.0.1:40002 SIP/2.0" in pane and not view.message.diff

    def test_a_note_shows_its_script_line(self, qtbot: QtBot) -> None:
        view, _state = calls_view(qtbot)
        lad = view.ladder.ladder
        assert lad is not None
        timer = next(i for i, r in enumerate(lad.rows) if r.note == NOTE_TIMER)
        view.ladder.select(timer)
        assert "fr_inv_timeout 2.0 s fired on branch 0: local 408" in view.message.toPlainText()

    def test_show_event_selects_the_call_and_its_row(self, qtbot: QtBot) -> None:
        view, state = calls_view(qtbot)
        xlog = next(s for s, e in state.calls[0].events if isinstance(e, XlogEvent))
        view.ladder.select(0)
        assert view.show_event(xlog)
        row = view.ladder.selected_row()
        assert row is not None and row.seq == xlog
        assert "xlog" in view.message.toPlainText() or "> 480" in view.message.toPlainText()
        assert not view.show_event(123_456)

    def test_export_writes_each_format(self, qtbot: QtBot, tmp_path: Path) -> None:
        view, _state = calls_view(qtbot)
        for name in ("a.svg", "a.png", "a.txt"):
            view.export_to(tmp_path / name)
            assert (tmp_path / name).stat().st_size > 100
        assert "INVITE u1001" in (tmp_path / "a.txt").read_text(encoding="utf-8")
        assert view.export_button.isEnabled() and view.export_button.accessibleName()

    def test_dark_palette_renders(self, qtbot: QtBot, tmp_path: Path) -> None:
        from tests.ui.take_screenshots import dark_palette

        view, _state = calls_view(qtbot)
        app = QApplication.instance()
        assert isinstance(app, QApplication)
        light = app.palette()
        try:
            app.setPalette(dark_palette())
            app.processEvents()  # the palette reaches the widgets through posted events
            view.ladder.select(3)
            view.ladder.verticalScrollBar().setValue(0)
            image = view.ladder.viewport().grab().toImage()
            # the background is the palette's Base, not a hard-coded white: right of the last
            # lane on the first row (an arrow from the caller to the proxy)
            geo = view.ladder.geometry_now()
            base = dark_palette().color(dark_palette().ColorRole.Base)
            spot = (int(geo.lanes[3]) + 20, int(geo.header_height + geo.row_height * 0.3))
            assert image.pixelColor(*spot) == base
            image.save(str(tmp_path / "dark.png"))
        finally:
            app.setPalette(light)
