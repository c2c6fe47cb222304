"""Qt's side of ``labpbx doctor``: does Qt start here, with which platform plugin, which versions.

Rules of this module:
- ``main`` runs in the doctor's probe child (``labpbx gui --probe``): Qt's X11 plugin aborts the
  process when it cannot start, so the doctor never starts Qt in its own process. Before Qt, the
  X11 libraries and the display are checked (ui.platform_check) so the answer carries the fix.
- Without a display (and no QT_QPA_PLATFORM chosen) Qt is started offscreen: the versions are
  still reported, and the doctor says that the window cannot open here.
- ``running_qt_info`` describes the Qt this window already runs (Help → System check…).
"""

from __future__ import annotations

import os

import PySide6
from PySide6.QtCore import qVersion
from PySide6.QtGui import QGuiApplication

from labpbx.doctor.checks import QtInfo
from labpbx.doctor.probes import has_display, print_probe
from ui.platform_check import xcb_problem


def _split_problem(problem: str) -> tuple[str, str]:
    """platform_check's message ("labpbx: why…\\nFix: …") as (error, fix)."""
    why: list[str] = []
    fix: list[str] = []
    for line in problem.splitlines():
        (fix if line.startswith("Fix: ") or fix else why).append(line.removeprefix("Fix: "))
    return " ".join(why).removeprefix("labpbx: "), " ".join(fix)


def main() -> int:
    display = has_display()
    answer: dict[str, object] = {"qt": qVersion(), "pyside": PySide6.__version__, "display": display}
    problem = xcb_problem()
    if problem is not None:
        error, fix = _split_problem(problem)
        print_probe({**answer, "error": error, "fix": fix})
        return 0
    if not display and not os.environ.get("QT_QPA_PLATFORM"):
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    app = QGuiApplication.instance() or QGuiApplication(["labpbx"])
    print_probe({**answer, "platform": QGuiApplication.platformName()})
    del app
    return 0


def running_qt_info() -> QtInfo:
    """The Qt of this running window (call on the GUI thread)."""
    return QtInfo(qt=qVersion(), pyside=PySide6.__version__,
                  platform=QGuiApplication.platformName(), display=has_display() or
                  QGuiApplication.platformName() not in ("offscreen", "minimal"))
