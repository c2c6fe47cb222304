"""Qt tests run offscreen: the platform is chosen here, before pytest-qt creates the
QApplication, so they need no display (and no X libraries) on CI."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
