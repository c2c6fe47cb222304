"""Before Qt starts on X11: what would make it abort, said with the fix.

Qt's xcb platform plugin ends the process with qFatal (SIGABRT, no message a user can act on)
when one of its X libraries is missing or the display cannot be opened. Both are checked here
first, so ``labpbx`` says which Debian packages to install, or that the display is not there.
Only for X11 (DISPLAY set, no Wayland, no QT_QPA_PLATFORM chosen); other platforms pass.
Its messages are English: they are printed on the terminal before any QApplication (and so any
translator) exists.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

# The libraries PySide6's libQt6XcbQpa links beyond those the offscreen platform needs, and
# the Debian/Ubuntu package of each (Qt ≥ 6.5 needs libxcb-cursor0, which desktops often lack).
XCB_LIBRARIES = {
    "xcb-cursor": "libxcb-cursor0", "xcb-icccm": "libxcb-icccm4", "xcb-util": "libxcb-util1",
    "xcb-image": "libxcb-image0", "xcb-keysyms": "libxcb-keysyms1", "xcb-randr": "libxcb-randr0",
    "xcb-render": "libxcb-render0", "xcb-render-util": "libxcb-render-util0",
    "xcb-shape": "libxcb-shape0", "xcb-shm": "libxcb-shm0", "xcb-sync": "libxcb-sync1",
    "xcb-xfixes": "libxcb-xfixes0", "xcb-xkb": "libxcb-xkb1", "X11-xcb": "libx11-xcb1",
    "xkbcommon-x11": "libxkbcommon-x11-0",
}


def uses_xcb() -> bool:
    return (sys.platform.startswith("linux") and not os.environ.get("QT_QPA_PLATFORM")
            and not os.environ.get("WAYLAND_DISPLAY") and bool(os.environ.get("DISPLAY")))


def missing_xcb_packages() -> list[str]:
    """The Debian packages of the X libraries that cannot be found."""
    return [package for name, package in XCB_LIBRARIES.items()
            if ctypes.util.find_library(name) is None]


def display_opens() -> bool:
    """Whether the X display in DISPLAY accepts a connection (libX11's XOpenDisplay)."""
    name = ctypes.util.find_library("X11")
    if name is None:
        return True  # cannot tell: let Qt try
    try:
        xlib = ctypes.CDLL(name)
    except OSError:
        return True
    xlib.XOpenDisplay.restype = ctypes.c_void_p
    xlib.XOpenDisplay.argtypes = [ctypes.c_char_p]
    xlib.XCloseDisplay.argtypes = [ctypes.c_void_p]
    display = xlib.XOpenDisplay(None)
    if not display:
        return False
    xlib.XCloseDisplay(display)
    return True


def xcb_problem() -> str | None:
    """Why the window cannot open on X11, with the fix; None when nothing is in the way."""
    if not uses_xcb():
        return None
    missing = missing_xcb_packages()
    if missing:
        return ("labpbx: the window cannot open on X11: libraries Qt needs are missing.\n"
                f"Fix: sudo apt install {' '.join(missing)}\n"
                "(or run the lab headless with `labpbx lab` / `labpbx demo`)")
    if not display_opens():
        return (f"labpbx: the X display {os.environ.get('DISPLAY')!r} cannot be opened.\n"
                "Fix: run it in a desktop session (check DISPLAY and xauth); or run the lab "
                "headless with `labpbx lab` / `labpbx demo`; or render without a screen with "
                "QT_QPA_PLATFORM=offscreen.")
    return None
