"""Open the window: ``run(options, data_dir)`` is what ``labpbx`` (no command) and ``labpbx gui``
call (found through the ``labpbx.gui`` entry point, so labpbx never imports this package).

Rules of this module:
- The window opens at once; the lab starts behind it (LabBridge) with its progress visible.
- What stops the window from opening is said on the terminal with the fix, never a traceback:
  no display, no Qt platform plugin. What stops the lab (pjsua2 missing, a port in use) is said
  in the window.
- ``--screenshot FILE`` starts the lab, waits until every extension is registered (or a
  timeout), grabs the window to a PNG, stops the lab and exits; without a display it renders
  offscreen.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

SCREENSHOT_TIMEOUT_MS = 40_000
NO_DISPLAY = (
    "labpbx: no display: the window needs a desktop session (DISPLAY or WAYLAND_DISPLAY).\n"
    "Fix: run it in a desktop session; or run the lab headless with `labpbx lab` "
    "(or `labpbx demo`); or render without a screen with QT_QPA_PLATFORM=offscreen "
    "(e.g. `labpbx gui --screenshot lab.png`).")


def has_display() -> bool:
    if os.environ.get("QT_QPA_PLATFORM"):
        return True  # the user chose a platform (offscreen, xcb, wayland, …)
    if sys.platform in ("win32", "darwin"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def run(options: argparse.Namespace, data_dir: Path) -> int:
    """Open the window for ``options`` (port, fr_inv_timeout, screenshot); returns the exit code."""
    screenshot: Path | None = getattr(options, "screenshot", None)
    if not has_display():
        if screenshot is None:
            print(NO_DISPLAY, file=sys.stderr)
            return 1
        os.environ["QT_QPA_PLATFORM"] = "offscreen"  # a screenshot needs no screen
    try:
        from PySide6.QtWidgets import QApplication
    except ImportError as exc:
        print(f"labpbx: the window needs PySide6, which cannot be imported ({exc}).\n"
              "Fix: pip install 'PySide6-Essentials>=6.8,<7', or use `labpbx lab` headless.",
              file=sys.stderr)
        return 1
    from labpbx.lab import LabConfig

    app = QApplication.instance()
    if app is None:
        app = QApplication([sys.argv[0] if sys.argv else "labpbx"])
        if app.platformName() == "":
            print(NO_DISPLAY, file=sys.stderr)
            return 1
    assert isinstance(app, QApplication)
    app.setApplicationName("LabPBX")
    app.setOrganizationName("LabPBX")
    config = LabConfig(proxy_port=getattr(options, "port", 5060) or 0,
                       fr_inv_timeout=getattr(options, "fr_inv_timeout", None),
                       data_dir=data_dir)
    return _run_window(app, config, screenshot)


def _run_window(app: object, config: object, screenshot: Path | None) -> int:
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from labpbx.lab import LabConfig
    from ui.bridge import LabBridge
    from ui.main_window import MainWindow
    from ui.text import missing_pjsua2

    assert isinstance(app, QApplication) and isinstance(config, LabConfig)
    bridge = LabBridge(config)
    window = MainWindow(bridge)
    outcome = {"code": 0}
    window.closed.connect(app.quit)
    window.show()
    if missing_pjsua2():
        window.show_problem(window.tr(
            "The phones cannot start: the pjsua2 library is missing.\n"
            "Fix: install it into this Python: pip install 'pjsua2-python>=2.15.1,<2.16'"))
        if screenshot is not None:
            print("labpbx: pjsua2 is missing: pip install 'pjsua2-python>=2.15.1,<2.16'",
                  file=sys.stderr)
            return 1
    else:
        bridge.start()

    if screenshot is not None:
        target = screenshot

        def shoot() -> None:
            if outcome.get("shot"):
                return
            outcome["shot"] = 1
            if not bridge.running:
                outcome["code"] = 1
                print("labpbx: the lab did not start in time; the screenshot shows why",
                      file=sys.stderr)
            if not grab(window, target):
                outcome["code"] = 1
                print(f"labpbx: cannot write {target}", file=sys.stderr)
            window.close()

        def failed(message: str) -> None:
            print(f"labpbx: {message}", file=sys.stderr)
            QTimer.singleShot(0, shoot)

        bridge.started.connect(lambda: QTimer.singleShot(200, shoot))
        bridge.start_failed.connect(failed)
        QTimer.singleShot(SCREENSHOT_TIMEOUT_MS, shoot)
    app.exec()
    if not window.isHidden():  # the event loop ended some other way: still stop the lab
        bridge.stop()
    return outcome["code"]


def grab(window: object, path: Path) -> bool:
    """Render ``window`` into a PNG at ``path``."""
    from PySide6.QtWidgets import QWidget

    assert isinstance(window, QWidget)
    path.parent.mkdir(parents=True, exist_ok=True)
    return bool(window.grab().save(str(path), "PNG"))


def main(argv: list[str] | None = None) -> int:
    """``python -m ui``: the labpbx command line with the window available."""
    from labpbx.cli import main as cli_main

    return cli_main(argv, gui=run)
