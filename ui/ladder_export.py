"""Export the shown call's ladder as SVG, PNG or text.

Rules of this module:
- SVG (QtSvg's QSvgGenerator) and PNG (a QImage) paint the whole call with
  ui.ladder_render.paint_all, the screen's own painter, at the screen's font and palette: an
  export looks like what was on screen (Homer's PNG export did not, homer-ui #479).
- Text is labpbx.lab.ladder.render_ladder, the same as ``labpbx demo`` prints.
- The functions take a path and raise OSError when the file cannot be written; the view asks
  for the path with a QFileDialog and reports a failure, the tests call them directly.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QByteArray, QRect, QSize
from PySide6.QtGui import QFont, QFontMetricsF, QImage, QImageWriter, QPainter, QPalette
from PySide6.QtSvg import QSvgGenerator

from labpbx.events import Event
from labpbx.lab.ladder import Ladder, render_ladder
from ui.ladder_render import full_width, geometry, paint_all

EXPORT_WIDTH_CHARS = 150  # an export is at least a 150-character line wide at its font,
EXPORT_MAX_CHARS = 320  # and as wide as its longest note needs, up to this
FORMATS = ("svg", "png", "txt")


def _geometry(ladder: Ladder, font: QFont, width: float | None) -> tuple[float, QSize]:
    chars = QFontMetricsF(font).averageCharWidth()
    wanted = width or max(chars * EXPORT_WIDTH_CHARS,
                          full_width(ladder, font, chars * EXPORT_MAX_CHARS))
    geo = geometry(font, wanted)
    w, h = geo.size(len(ladder.rows))
    return geo.width, QSize(w, h)


def export_svg(path: Path, ladder: Ladder, font: QFont, palette: QPalette, *,
               title: str = "", width: float | None = None) -> None:
    wide, size = _geometry(ladder, font, width)
    generator = QSvgGenerator()
    generator.setFileName(str(path))
    generator.setSize(size)
    generator.setViewBox(QRect(0, 0, size.width(), size.height()))
    generator.setTitle(title or f"Call-ID {ladder.call_id}")
    generator.setDescription(f"LabPBX ladder of Call-ID {ladder.call_id}")
    painter = QPainter()
    if not painter.begin(generator):
        raise OSError(f"cannot write {path}")
    paint_all(painter, ladder, geometry(font, wide), palette)
    painter.end()
    if not path.exists():
        raise OSError(f"cannot write {path}")


def export_png(path: Path, ladder: Ladder, font: QFont, palette: QPalette, *,
               width: float | None = None) -> QSize:
    wide, size = _geometry(ladder, font, width)
    image = QImage(size, QImage.Format.Format_RGB32)
    image.fill(palette.color(QPalette.ColorRole.Base))
    painter = QPainter(image)
    paint_all(painter, ladder, geometry(font, wide), palette)
    painter.end()
    writer = QImageWriter(str(path), QByteArray(b"png"))
    if not writer.write(image):
        raise OSError(f"cannot write {path}: {writer.errorString()}")
    return size


def export_text(path: Path, events: Sequence[Event], call_id: str, *, title: str = "",
                voicemail_address: str | None = None) -> None:
    path.write_text(render_ladder(events, call_id, title=title,
                                  voicemail_address=voicemail_address), encoding="utf-8")


def export(path: Path, ladder: Ladder, events: Sequence[Event], font: QFont, palette: QPalette,
           *, title: str = "") -> None:
    """By the file's suffix (.svg, .png, otherwise text)."""
    suffix = path.suffix.lower().lstrip(".")
    if suffix == "svg":
        export_svg(path, ladder, font, palette, title=title)
    elif suffix == "png":
        export_png(path, ladder, font, palette)
    else:
        export_text(path, events, ladder.call_id, title=title)
