"""Help → System check… and About LabPBX, driven as a user would (offscreen)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from labpbx import __version__
from ui.help_menu import HelpMenu


@pytest.mark.timeout(120)
def test_system_check_runs_off_the_gui_thread_and_shows_the_report(qtbot: QtBot,
                                                                   tmp_path: Path) -> None:
    menu = HelpMenu(tmp_path / "data", 0)
    qtbot.addWidget(menu)
    assert menu.title() == "&Help" and menu.check_action.text() == "&System check…"
    started = time.monotonic()
    menu.check_action.trigger()
    assert time.monotonic() - started < 0.5  # the checks run on a worker thread
    dialog = menu.doctor_dialog
    assert dialog is not None and dialog.isVisible()
    assert "Checking" in dialog.summary.text() and not dialog.again.isEnabled()
    with qtbot.waitSignal(dialog.report_ready, timeout=90_000) as blocker:
        pass
    report = blocker.args[0]
    text = dialog.text.toPlainText()
    assert "pjsua2 (the phones' SIP stack): loads" in text
    assert "Display and Qt platform" in text and "'offscreen'" in text  # the window's own Qt
    assert f"LabPBX {__version__}" in text
    assert dialog.again.isEnabled() and dialog.summary.text()
    assert report.get("data-dir").detail.startswith(str(tmp_path / "data"))
    # Copy report, then check again by clicking.
    qtbot.mouseClick(dialog.copy, Qt.MouseButton.LeftButton)
    assert QApplication.clipboard().text() == text
    with qtbot.waitSignal(dialog.report_ready, timeout=90_000):
        qtbot.mouseClick(dialog.again, Qt.MouseButton.LeftButton)
    assert dialog.text.toPlainText().count("pjsua2") >= 1
    dialog.close()


def test_about_shows_version_licence_and_notice(qtbot: QtBot, tmp_path: Path) -> None:
    menu = HelpMenu(tmp_path, 0)
    qtbot.addWidget(menu)
    menu.about_action.trigger()
    about = menu.about_dialog
    assert about is not None and about.isVisible()
    assert about.title.text() == f"LabPBX {__version__}"
    assert "MIT" in about.licence.text() and not about.bundled  # a source run says so
    notice = about.notice_view.toPlainText()
    assert "pjsua2-python" in notice and "PySide6" in notice and "GPL-2.0-or-later" in notice
    assert "licenses" in about.where.text()
    assert not about.icon.pixmap().isNull()
    assert about.notice_view.accessibleName() == "Third-party notices"
    about.close()
