"""OpenSIPS syntax highlighting for the script editor, in colours taken from the palette.

Rules of this module:
- What is a keyword, a function, a pseudo-variable, a string … is decided by the lab's pure
  scanner (labpbx.lab.script_text.highlight_spans), which knows the grammar and the function
  registry; this module only turns span kinds into character formats.
- Colours start from the palette (Link for keywords, LinkVisited for pseudo-variables,
  PlaceholderText for comments, the scheme's lightness for the other hues) and are then moved
  towards the text colour until they reach a 4.5:1 contrast with the editor's background, so they
  stay readable in light and dark schemes. Colour is never the only cue: keywords are bold,
  comments italic, directives bold italic.
- A ``/* … */`` comment spanning lines is carried by the block state (1 = still open).
"""

from __future__ import annotations

from PySide6.QtGui import (
    QColor,
    QFont,
    QPalette,
    QSyntaxHighlighter,
    QTextCharFormat,
    QTextDocument,
)

from labpbx.lab.script_text import SpanKind, highlight_spans

MIN_CONTRAST = 4.5
IN_COMMENT = 1


def luminance(color: QColor) -> float:
    """WCAG relative luminance of an opaque colour."""
    def channel(value: float) -> float:
        return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4

    return (0.2126 * channel(color.redF()) + 0.7152 * channel(color.greenF())
            + 0.0722 * channel(color.blueF()))


def contrast(a: QColor, b: QColor) -> float:
    """WCAG contrast ratio of two colours (1 … 21)."""
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def mix(a: QColor, b: QColor, amount: float) -> QColor:
    """``a`` moved ``amount`` (0 … 1) of the way to ``b``."""
    return QColor.fromRgbF(a.redF() + (b.redF() - a.redF()) * amount,
                           a.greenF() + (b.greenF() - a.greenF()) * amount,
                           a.blueF() + (b.blueF() - a.blueF()) * amount)


def readable(color: QColor, background: QColor, text: QColor,
             ratio: float = MIN_CONTRAST) -> QColor:
    """``color``, moved towards ``text`` just enough to reach ``ratio`` against ``background``."""
    for step in range(11):
        candidate = mix(color, text, step / 10)
        if contrast(candidate, background) >= ratio:
            return candidate
    return QColor(text)


def hue_colour(hue: int, palette: QPalette) -> QColor:
    """A colour of ``hue`` for text on the palette's Base: dark on light, light on dark."""
    dark_scheme = palette.color(QPalette.ColorRole.Base).lightnessF() < 0.5
    return QColor.fromHslF(hue / 360, 0.65, 0.72 if dark_scheme else 0.32)


def error_colour(palette: QPalette) -> QColor:
    """The editor's error red, readable on its background."""
    base, text = palette.color(QPalette.ColorRole.Base), palette.color(QPalette.ColorRole.Text)
    return readable(hue_colour(0, palette), base, text)


def syntax_formats(palette: QPalette) -> dict[SpanKind, QTextCharFormat]:
    """One character format per span kind, for text on the palette's Base."""
    base, text = palette.color(QPalette.ColorRole.Base), palette.color(QPalette.ColorRole.Text)
    colours: dict[SpanKind, QColor] = {
        "keyword": palette.color(QPalette.ColorRole.Link),
        "function": hue_colour(190, palette),
        "variable": palette.color(QPalette.ColorRole.LinkVisited),
        "string": hue_colour(120, palette),
        "number": hue_colour(28, palette),
        "comment": palette.color(QPalette.ColorRole.PlaceholderText),
        "directive": hue_colour(300, palette),
    }
    formats: dict[SpanKind, QTextCharFormat] = {}
    for kind, colour in colours.items():
        fmt = QTextCharFormat()
        fmt.setForeground(readable(colour, base, text))
        if kind in ("keyword", "directive"):
            fmt.setFontWeight(QFont.Weight.Bold)
        if kind in ("comment", "directive"):
            fmt.setFontItalic(True)
        formats[kind] = fmt
    return formats


class ScriptHighlighter(QSyntaxHighlighter):
    """Highlights a routing script; ``set_palette`` after a scheme change."""

    def __init__(self, document: QTextDocument, palette: QPalette) -> None:
        super().__init__(document)
        self.formats = syntax_formats(palette)

    def set_palette(self, palette: QPalette) -> None:
        self.formats = syntax_formats(palette)
        self.rehighlight()

    def highlightBlock(self, text: str) -> None:
        spans, still_open = highlight_spans(text, self.previousBlockState() == IN_COMMENT)
        offsets = _utf16_offsets(text)
        for start, length, kind in spans:
            if offsets is None:
                self.setFormat(start, length, self.formats[kind])
            else:  # Qt counts UTF-16 units: a character beyond the BMP is two of them
                self.setFormat(offsets[start], offsets[start + length] - offsets[start],
                               self.formats[kind])
        self.setCurrentBlockState(IN_COMMENT if still_open else 0)


def _utf16_offsets(text: str) -> list[int] | None:
    """UTF-16 offset of each character position (None when they are the same)."""
    if all(ord(c) < 0x10000 for c in text):
        return None
    offsets = [0]
    for char in text:
        offsets.append(offsets[-1] + (2 if ord(char) >= 0x10000 else 1))
    return offsets
