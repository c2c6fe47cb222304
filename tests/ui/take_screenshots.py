"""Take the window's screenshots for the docs (not a test): a call in progress with another
ringing, a busy→voicemail call with its ladder and its routing log, 150 % zoom, and the call
in progress again under a dark palette (offscreen Qt has no system scheme to follow, so a dark
Fusion palette stands in for it: the window must take every colour from the palette).

    QT_QPA_PLATFORM=offscreen .venv/bin/python -m tests.ui.take_screenshots docs/screenshots

With a language after the directory (``zh_CN``) the window speaks it and each file is named
``…-zh_CN.png``; under Xvfb: ``QT_QPA_PLATFORM=xcb xvfb-run -a -s "-screen 0 1400x900x24"
.venv/bin/python -m tests.ui.take_screenshots docs/screenshots zh_CN``.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QImage, QPalette
from PySide6.QtWidgets import QApplication, QWidget

from labpbx.lab import LabConfig
from labpbx.lab.calls import CallOutcome
from labpbx.lab.state import Activity
from labpbx.phones.policy import Policy
from ui.bridge import LabBridge
from ui.main_window import MainWindow


def grab(window: QWidget, path: Path) -> None:
    """A small PNG: 256 colours without dithering keep text crisp at ~1/5 of the size."""
    path.parent.mkdir(parents=True, exist_ok=True)
    image = window.grab().toImage().convertToFormat(
        QImage.Format.Format_Indexed8,
        Qt.ImageConversionFlag.ThresholdDither | Qt.ImageConversionFlag.AvoidDither)
    if not image.save(str(path), "PNG", 9):
        raise SystemExit(f"cannot write {path}")


def dark_palette() -> QPalette:
    palette = QPalette()
    roles = {QPalette.ColorRole.Window: "#2b2b2b", QPalette.ColorRole.WindowText: "#e6e6e6",
             QPalette.ColorRole.Base: "#1e1e1e", QPalette.ColorRole.AlternateBase: "#2b2b2b",
             QPalette.ColorRole.Text: "#e6e6e6", QPalette.ColorRole.Button: "#3a3a3a",
             QPalette.ColorRole.ButtonText: "#e6e6e6", QPalette.ColorRole.Highlight: "#3d8ee6",
             QPalette.ColorRole.HighlightedText: "#000000", QPalette.ColorRole.ToolTipBase: "#3a3a3a",
             QPalette.ColorRole.ToolTipText: "#e6e6e6", QPalette.ColorRole.PlaceholderText: "#9a9a9a",
             QPalette.ColorRole.Light: "#505050", QPalette.ColorRole.Midlight: "#454545",
             QPalette.ColorRole.Mid: "#303030", QPalette.ColorRole.Dark: "#202020",
             QPalette.ColorRole.Shadow: "#101010"}
    for role, color in roles.items():
        palette.setColor(role, QColor(color))
    for role in (QPalette.ColorRole.WindowText, QPalette.ColorRole.Text,
                 QPalette.ColorRole.ButtonText):
        palette.setColor(QPalette.ColorGroup.Disabled, role, QColor("#808080"))
    return palette


def main(out: Path, data: Path, language: str = "en") -> None:
    app = QApplication([])
    if language != "en":
        from ui.i18n import set_language

        if not set_language(language):
            raise SystemExit(f"no catalog for {language}: run ./dev translations")
    suffix = "" if language == "en" else f"-{language}"
    bridge = LabBridge(LabConfig(data_dir=data, fr_inv_timeout=30, voicemail_max_length=2.0))
    win = MainWindow(bridge)
    win.resize(1280, 800)
    win.show()
    bridge.start()

    def until(done: Callable[[], bool], timeout: float = 30) -> None:
        end = time.monotonic() + timeout
        while not done():
            app.processEvents()
            time.sleep(0.01)
            if time.monotonic() > end:
                raise SystemExit("timed out")

    def policy(ext: str) -> Policy | None:
        return win.cards[ext].state.policy

    until(lambda: bridge.running)
    bridge.set_policy("1001", "answer", 0.5)
    bridge.set_policy("1003", "ring", 3)
    until(lambda: policy("1003") is Policy.RING)
    bridge.call("1000", "1001")
    until(lambda: win.cards["1001"].state.activity is Activity.IN_CALL)
    bridge.call("1002", "1003")
    until(lambda: win.cards["1003"].state.activity is Activity.RINGING)
    began = time.monotonic()
    until(lambda: time.monotonic() - began > 2.2)  # a running duration worth showing
    grab(win, out / f"call-in-progress{suffix}.png")
    light = app.palette()
    app.setStyle("Fusion")
    app.setPalette(dark_palette())
    app.processEvents()
    grab(win, out / f"call-in-progress-dark{suffix}.png")
    app.setPalette(light)
    app.setStyle(None)
    app.processEvents()
    for ext in ("1000", "1002"):
        leg = win.cards[ext].state.current_leg
        if leg is not None:
            bridge.hangup(leg.leg)
    until(lambda: all(c.state.activity is Activity.IDLE for c in win.cards.values()))
    bridge.set_policy("1001", "busy", 3)
    until(lambda: policy("1001") is Policy.BUSY)
    bridge.call("1000", "1001")
    until(lambda: win.calls.model.calls[-1].outcome is CallOutcome.BUSY_VOICEMAIL)
    grab(win, out / f"busy-to-voicemail{suffix}.png")
    win.tabs.setCurrentWidget(win.log)
    win.log.call.setCurrentIndex(win.log.call.count() - 1)
    app.processEvents()
    grab(win, out / f"routing-log{suffix}.png")
    win.tabs.setCurrentWidget(win.calls)
    win.set_zoom(150)
    app.processEvents()
    grab(win, out / f"zoom-150{suffix}.png")
    win.close()
    until(win.isHidden)


if __name__ == "__main__":
    with tempfile.TemporaryDirectory(prefix="labpbx-shots-") as tmp:
        main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots"), Path(tmp),
             sys.argv[2] if len(sys.argv) > 2 else "en")
