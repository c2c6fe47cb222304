"""Open the window: ``run(options, data_dir)`` is what ``labpbx`` (no command) and ``labpbx gui``
call (found through the ``labpbx.gui`` entry point, so labpbx never imports this package; when
PySide6 cannot be imported, loading that entry point fails and the CLI says how to fix it).

Rules of this module:
- The window opens at once; the lab starts behind it (LabBridge) with its progress visible.
- What stops the window from opening is said on the terminal with the fix, never a traceback:
  no display, no Qt platform plugin. What stops the lab (pjsua2 missing, a port in use, another
  lab in the data directory) is said in the window.
- ``--screenshot FILE`` starts the lab, waits until every extension is registered (or a
  timeout), then ``--after`` seconds (0.2 by default), grabs the window to a PNG, stops the lab
  and exits; without a display it renders offscreen. Meanwhile ``labpbx call …`` in a terminal
  acts on this lab, so a screenshot can show a call in progress.
- Ctrl-C / SIGTERM close the window, which stops the lab first.
- ``--lang en|zh_CN`` chooses the window's language (ui.i18n; else the remembered choice, else
  the system's). What is said on the terminal before Qt exists (no display, X11 problems) stays
  English: no translator can be loaded yet.
- One window per data directory (ui.single_instance): a second ``labpbx gui`` on the same data
  brings the first window to the front and exits 0 without starting a lab.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication, QWidget

from labpbx.lab import LabConfig
from ui.bridge import LabBridge
from ui.i18n import ENGLISH, catalog_path, choose_language, set_language
from ui.main_window import MainWindow
from ui.platform_check import xcb_problem
from ui.single_instance import Claim, WindowOwnership
from ui.text import missing_pjsua2, pjsua2_missing_text

SCREENSHOT_TIMEOUT_MS = 40_000
SETTLE_MS = 200  # after the lab is up, before the grab: the views show the last batch
NO_DISPLAY = (
    "labpbx: no display: the window needs a desktop session (DISPLAY or WAYLAND_DISPLAY).\n"
    "Fix: run it in a desktop session; or run the lab headless with `labpbx lab` "
    "(or `labpbx demo`); or render without a screen with QT_QPA_PLATFORM=offscreen "
    "(e.g. `labpbx gui --screenshot lab.png`).")
NO_PJSUA2 = ("The phones cannot start: the pjsua2 library is missing.\n"
             "Fix: install it into this Python: pip install 'pjsua2-python>=2.15.1,<2.16'")


def has_display() -> bool:
    if os.environ.get("QT_QPA_PLATFORM"):
        return True  # the user chose a platform (offscreen, xcb, wayland, …)
    if sys.platform in ("win32", "darwin"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def run(options: argparse.Namespace, data_dir: Path) -> int:
    """Open the window for ``options`` (port, fr_inv_timeout, screenshot); the exit code."""
    if getattr(options, "probe", False):  # `labpbx doctor`'s Qt probe child
        from ui.qt_probe import main as probe_main

        return probe_main()
    screenshot: Path | None = getattr(options, "screenshot", None)
    if not has_display():
        if screenshot is None:
            print(NO_DISPLAY, file=sys.stderr)
            return 1
        os.environ["QT_QPA_PLATFORM"] = "offscreen"  # a screenshot needs no screen
    existing = QApplication.instance()
    if existing is None:
        problem = xcb_problem()  # Qt would abort without a word the user can act on
        if problem is not None:
            print(problem, file=sys.stderr)
            return 1
    app = existing if isinstance(existing, QApplication) else QApplication(
        [sys.argv[0] if sys.argv else "labpbx"])
    app.setApplicationName("LabPBX")
    app.setOrganizationName("LabPBX")
    # Before the window exists, so it is built in its language (--lang, else remembered, else
    # the system's); the Language menu switches later.
    language = choose_language(getattr(options, "lang", None), QSettings())
    if not set_language(language) and language != ENGLISH:
        print(f"labpbx: the {language} translation is missing ({catalog_path(language)}): "
              "the window stays in English", file=sys.stderr)
    config = LabConfig(proxy_port=getattr(options, "port", 5060) or 0,
                       fr_inv_timeout=getattr(options, "fr_inv_timeout", None),
                       data_dir=data_dir)
    ownership = WindowOwnership(data_dir)
    claim = ownership.claim()
    if claim is Claim.RAISED:
        print(f"labpbx: LabPBX is already open on {data_dir}: its window was brought to the front.")
        return 0
    if claim is Claim.BUSY:
        print(f"labpbx: another LabPBX window (pid {ownership.holder_pid or '?'}) holds {data_dir} "
              "and does not answer.\nFix: close that window (or end that process), or open the "
              "window on another directory: labpbx --data DIR gui.", file=sys.stderr)
        return 1
    try:
        return run_window(app, config, screenshot, ownership=ownership,
                          after=getattr(options, "after", None))
    finally:
        ownership.release()


def run_window(app: QApplication, config: LabConfig, screenshot: Path | None = None, *,
               ownership: WindowOwnership | None = None, after: float | None = None) -> int:
    """Show the window, start the lab, run Qt's loop until the window has closed (the lab
    stopped). With ``screenshot``: grab it once the lab is up, then close. With ``ownership``:
    another ``labpbx gui`` on the same data brings this window to the front."""
    bridge = LabBridge(config)
    # A screenshot shows the window as it first opens, whatever this user's zoom.
    window = MainWindow(bridge, settings=QSettings() if screenshot is None else None)
    if ownership is not None:
        ownership.raise_requested.connect(lambda: bring_to_front(window))
    outcome = {"code": 0, "shot": 0}
    window.closed.connect(app.quit)
    window.show()
    _close_on_interrupt(window)
    if missing_pjsua2():
        window.show_problem(pjsua2_missing_text())
        if screenshot is not None:
            print(f"labpbx: {NO_PJSUA2}", file=sys.stderr)
            return 1
    else:
        bridge.start()

    if screenshot is not None:
        target = screenshot

        def shoot() -> None:
            if outcome["shot"]:
                return
            outcome["shot"] = 1
            if not bridge.running:
                outcome["code"] = 1
                print("labpbx: the lab did not start; the screenshot shows why", file=sys.stderr)
            if not grab(window, target):
                outcome["code"] = 1
                print(f"labpbx: cannot write {target}", file=sys.stderr)
            window.close()

        def failed(message: str) -> None:
            print(f"labpbx: {message}", file=sys.stderr)
            QTimer.singleShot(0, shoot)

        settle_ms = int(1000 * after) if after is not None else SETTLE_MS
        bridge.started.connect(lambda: QTimer.singleShot(settle_ms, shoot))
        bridge.start_failed.connect(failed)
        QTimer.singleShot(SCREENSHOT_TIMEOUT_MS + settle_ms, shoot)
    app.exec()
    if not window.isHidden():  # the loop ended some other way: still stop the lab
        bridge.stop()
    return outcome["code"]


def bring_to_front(window: QWidget) -> None:
    """Show ``window`` restored, raised and focused (window managers may only flash it)."""
    if window.isMinimized():
        window.showNormal()
    window.show()
    window.raise_()
    window.activateWindow()


def _close_on_interrupt(window: QWidget) -> None:
    """Ctrl-C (SIGINT) or SIGTERM in the terminal closes the window, which stops the lab. Python
    runs signal handlers only between bytecodes, so a timer lets it in while Qt's loop waits."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda _signum, _frame: QTimer.singleShot(0, window.close))
    wake = QTimer(window)
    wake.setInterval(250)
    wake.timeout.connect(lambda: None)
    wake.start()


def grab(window: QWidget, path: Path) -> bool:
    """Render ``window`` into a PNG at ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return bool(window.grab().save(str(path), "PNG"))


def main(argv: list[str] | None = None) -> int:
    """``python -m ui``: the labpbx command line with the window available."""
    from labpbx.cli import main as cli_main

    return cli_main(argv, gui=run)
