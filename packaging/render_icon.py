"""Render the SVG icon to the PNG sizes the packages need, with QtSvg (run by packaging/build.sh).

    python packaging/render_icon.py assets/icons/labpbx.svg OUT_DIR

Writes OUT_DIR/labpbx-<size>.png for 16 … 512 px, OUT_DIR/labpbx.ico (Windows) and, where Qt can
write it, nothing else: the macOS .icns is made by iconutil on the macOS runner.
Runs offscreen: no display needed.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

SIZES = (16, 32, 48, 64, 128, 256, 512)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    app = QGuiApplication.instance() or QGuiApplication(["render_icon"])
    source, out = Path(argv[0]), Path(argv[1])
    out.mkdir(parents=True, exist_ok=True)
    renderer = QSvgRenderer(str(source))
    if not renderer.isValid():
        print(f"render_icon: {source} is not a valid SVG", file=sys.stderr)
        return 1
    for size in SIZES:
        image = QImage(size, size, QImage.Format.Format_ARGB32)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        renderer.render(painter)
        painter.end()
        if not image.save(str(out / f"labpbx-{size}.png"), "PNG"):
            print(f"render_icon: cannot write {out}", file=sys.stderr)
            return 1
        if size == 256:
            image.save(str(out / "labpbx.ico"), "ICO")  # needs Qt's ico plugin; optional
    del app
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
