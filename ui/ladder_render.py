"""The one painter of a call's ladder: the screen (ui.ladder_view) and the SVG and PNG exports
all draw through ``paint_rows`` and ``paint_header``, so an export is what the screen shows.

Rules of this module:
- Geometry comes from a font (the window's, so the ladder follows the zoom) and a width: one
  row per message or note, all rows the same height, lanes spread over the width with a floor
  below which the view scrolls sideways. Rows sit at ``index * row_height`` in content
  coordinates; the caller translates the painter (the view by its scroll position).
- Colours come from the palette only (Base, Text, Link, AlternateBase, ToolTipBase, Highlight,
  PlaceholderText, Button); Link only where it reads on Base (contrast >= 4.5, else Text), and
  colour is never the only cue: requests and responses differ by
  colour AND the label; a failed final response has a "✗" and a thick line; a retransmission is
  dashed AND says "(retrans)"; SDP says "(SDP)"; a timer has a drawn clock AND its words; the
  selected row has a band AND a "▶" in the time column.
- SIP text, script text, xlog lines and URIs are drawn as they are; the few words of our own
  (timer fired, CANCEL sent, …) go through Qt's translation. Long URIs are elided in the middle,
  each on its own, so the user part and the port both stay visible.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QCoreApplication, QPointF, QRectF, Qt
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFont,
    QFontMetricsF,
    QPainter,
    QPalette,
    QPen,
    QPolygonF,
)

from labpbx.lab.ladder import (
    NOTE_CANCEL,
    NOTE_DECISION,
    NOTE_FAILURE_ROUTE,
    NOTE_TIMER,
    NOTE_VOICEMAIL,
    NOTE_XLOG,
    PROXY,
    Ladder,
    Row,
)

translate = QCoreApplication.translate
Role = QPalette.ColorRole
MIN_LANE_CHARS = 17  # the narrowest lane gap, in average characters ("INVITE 2345678 (SDP)")


@dataclass(frozen=True, slots=True)
class Geometry:
    font: QFont
    row_height: float
    header_height: float
    time_width: float
    lanes: tuple[float, float, float, float]  # x of each lane's lifeline
    width: float

    def content_height(self, rows: int) -> float:
        return rows * self.row_height

    def size(self, rows: int) -> tuple[int, int]:
        """The whole ladder's size with its header (exports)."""
        return int(self.width + 0.5), int(self.header_height + self.content_height(rows) + 0.5)


def min_width(font: QFont) -> float:
    fm = QFontMetricsF(font)
    return _time_width(fm) + 4 * fm.averageCharWidth() * MIN_LANE_CHARS


def full_width(ladder: Ladder, font: QFont, most: float) -> float:
    """The width at which the proxy's notes fit unelided (exports), at most ``most``; the
    voicemail box's notes (file paths) may still be elided."""
    fm = QFontMetricsF(font)
    bold = QFont(font)
    bold.setBold(True)
    time_width, pad = _time_width(fm), fm.averageCharWidth()
    wanted = min_width(font)
    for row in ladder.rows:
        if row.is_arrow or row.note == NOTE_VOICEMAIL:
            continue
        lead, middle, before, after = note_parts(row)
        text = QFontMetricsF(bold).horizontalAdvance(lead + middle) + fm.horizontalAdvance(
            f"{before} → {after}" if before else after) + 4 * pad + fm.height()
        # a note starts 1.5 lane gaps into the four lanes: it has 5/8 of their width
        wanted = max(wanted, time_width + text / 0.625)
    return min(wanted, most)


def geometry(font: QFont, width: float) -> Geometry:
    fm = QFontMetricsF(font)
    width = max(width, min_width(font))
    time_width = _time_width(fm)
    gap = (width - time_width) / 4
    lanes = tuple(time_width + gap * (i + 0.5) for i in range(4))
    row = round(fm.height() * 1.75)
    return Geometry(QFont(font), row, round(fm.height() * 2.2), time_width,
                    (lanes[0], lanes[1], lanes[2], lanes[3]), width)


def _time_width(fm: QFontMetricsF) -> float:
    return fm.horizontalAdvance("▶ 000.000 s") + fm.averageCharWidth()


# ============================================================== text of a row

def arrow_text(row: Row) -> str:
    """What an arrow says: the SIP label with its marks (never translated)."""
    text = row.shown_label
    if row.failed:
        text = "✗ " + text
    if row.branch > 0:
        text += f"  [branch {row.branch}]"
    return text


def note_parts(row: Row) -> tuple[str, str, str, str]:
    """(lead, middle, before, after) of a note: the renderer elides ``before``/``after`` (URIs)
    in the middle and keeps ``lead`` and ``middle`` whole."""
    if row.note == NOTE_DECISION:
        reason = f" ({row.text})" if row.text else ""
        if row.before and row.after:
            return f"{row.where}", f"  {row.action}  ", row.before, row.after + reason
        return row.where, f"  {row.action}  ", "", (row.after or row.before) + reason
    if row.note == NOTE_XLOG:
        return row.where, "  xlog  ", "", row.text
    if row.note == NOTE_TIMER:
        seconds = f"{row.duration:.1f}" if row.duration is not None else "?"
        words = translate("LadderRender", "%1 %2 s fired on branch %3: %4").replace(
            "%1", row.action).replace("%2", seconds).replace("%3", str(row.branch)).replace(
            "%4", row.after)
        return "", words, "", ""
    if row.note == NOTE_FAILURE_ROUTE:
        return row.where, "  " + translate("LadderRender", "runs:") + "  ", "", row.text
    if row.note == NOTE_CANCEL and row.branch >= 0 and row.event is not None \
            and getattr(row.event, "state", "") == "cancel sent":
        detail = getattr(row.event, "detail", "")
        words = translate("LadderRender", "CANCEL sent on branch %1").replace(
            "%1", str(row.branch))
        return "✗ ", words, "", f"  {detail}" if detail else ""
    if row.note == NOTE_VOICEMAIL:
        return "✉ voicemail", "  ", "", row.text
    return "", "", "", row.text or row.label


def row_text(row: Row) -> str:
    """The row as one line (accessible description, tooltips)."""
    if row.is_arrow:
        return arrow_text(row)
    lead, middle, before, after = note_parts(row)
    if before:
        return f"{lead}{middle}{before} → {after}"
    return f"{lead}{middle}{after}"


def lane_title(title: str) -> str:
    """A lane's title in the window's language: the role word translated, the number kept
    ("caller 1000" → "主叫 1000")."""
    role, _, number = title.partition(" ")
    words = {"caller": translate("LadderRender", "caller"),
             "proxy": translate("LadderRender", "proxy"),
             "callee": translate("LadderRender", "callee"),
             "voicemail": translate("LadderRender", "voicemail")}
    return f"{words.get(role, role)} {number}".strip()


# ============================================================== painting

def paint_header(painter: QPainter, ladder: Ladder, geo: Geometry, palette: QPalette) -> None:
    """The lane titles (caller 1000, proxy, …) in a band ``geo.header_height`` high at y 0."""
    painter.save()
    painter.setFont(geo.font)
    painter.fillRect(QRectF(0, 0, geo.width, geo.header_height), palette.color(Role.Window))
    fm = QFontMetricsF(geo.font)
    bold = QFont(geo.font)
    bold.setBold(True)
    bold_fm = QFontMetricsF(bold)
    gap = geo.lanes[1] - geo.lanes[0]
    for x, title in zip(geo.lanes, ladder.lanes, strict=True):
        text = bold_fm.elidedText(lane_title(title), Qt.TextElideMode.ElideRight,
                                  gap - fm.averageCharWidth())
        w = bold_fm.horizontalAdvance(text) + 2 * fm.averageCharWidth()
        box = QRectF(x - w / 2, geo.header_height * 0.15, w, geo.header_height * 0.7)
        painter.setPen(QPen(palette.color(Role.WindowText), 1))
        painter.setBrush(palette.color(Role.Button))
        painter.drawRoundedRect(box, 4, 4)
        painter.setPen(palette.color(Role.ButtonText))
        painter.setFont(bold)
        painter.drawText(box, Qt.AlignmentFlag.AlignCenter, text)
        painter.setFont(geo.font)
    painter.setPen(QPen(palette.color(Role.WindowText), 1))
    painter.drawLine(QPointF(0, geo.header_height - 0.5), QPointF(geo.width, geo.header_height - 0.5))
    painter.drawText(QRectF(fm.averageCharWidth(), 0, geo.time_width, geo.header_height),
                     Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft,
                     translate("LadderRender", "time"))
    painter.restore()


def paint_rows(painter: QPainter, ladder: Ladder, geo: Geometry, palette: QPalette, first: int,
               last: int, selected: int = -1) -> None:
    """Rows ``first``..``last`` (inclusive) at their content y (``index * row_height``)."""
    painter.save()
    painter.setFont(geo.font)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    rows = ladder.rows
    t0 = rows[0].time if rows else 0.0
    for i in range(max(0, first), min(last, len(rows) - 1) + 1):
        top = i * geo.row_height
        band = QRectF(0, top, geo.width, geo.row_height)
        chosen = i == selected
        painter.fillRect(band, palette.color(Role.Highlight if chosen else Role.Base))
        text = palette.color(Role.HighlightedText if chosen else Role.Text)
        _lifelines(painter, geo, palette, top, chosen)
        _time(painter, geo, rows[i], t0, top, text, chosen)
        if rows[i].is_arrow:
            _arrow(painter, geo, palette, rows[i], top, chosen)
        else:
            _note(painter, geo, palette, rows[i], top, chosen)
    painter.restore()


def paint_all(painter: QPainter, ladder: Ladder, geo: Geometry, palette: QPalette) -> None:
    """The whole ladder with its header at (0, 0): what the exports draw."""
    painter.fillRect(QRectF(0, 0, *geo.size(len(ladder.rows))), palette.color(Role.Base))
    painter.save()
    painter.translate(0, geo.header_height)
    paint_rows(painter, ladder, geo, palette, 0, len(ladder.rows) - 1)
    painter.restore()
    paint_header(painter, ladder, geo, palette)


def _lifelines(painter: QPainter, geo: Geometry, palette: QPalette, top: float,
               chosen: bool) -> None:
    color = palette.color(Role.HighlightedText if chosen else Role.PlaceholderText)
    painter.setPen(QPen(color, 1))
    for x in geo.lanes:
        painter.drawLine(QPointF(x, top), QPointF(x, top + geo.row_height))


def _time(painter: QPainter, geo: Geometry, row: Row, t0: float, top: float, color: QColor,
          chosen: bool) -> None:
    fm = QFontMetricsF(geo.font)
    painter.setPen(color)
    mark = "▶ " if chosen else "  "
    painter.drawText(QRectF(fm.averageCharWidth() / 2, top, geo.time_width, geo.row_height),
                     Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft,
                     f"{mark}{row.time - t0:7.3f} s")


def _arrow(painter: QPainter, geo: Geometry, palette: QPalette, row: Row, top: float,
           chosen: bool) -> None:
    fm = QFontMetricsF(geo.font)
    x1, x2 = geo.lanes[row.src], geo.lanes[row.dst]
    y = top + geo.row_height * 0.74
    request = not row.label[:1].isdigit()
    if chosen:
        color = palette.color(Role.HighlightedText)
    elif request:
        color = readable(palette.color(Role.Link), palette.color(Role.Base),
                         palette.color(Role.Text))
    else:
        color = palette.color(Role.Text)
    pen = QPen(color, 2.5 if row.failed else 1.4)
    if row.repeat:
        pen.setStyle(Qt.PenStyle.DashLine)
    painter.setPen(pen)
    head = fm.height() * 0.45
    direction = 1 if x2 > x1 else -1
    tip = x2 - direction * 1.5
    painter.drawLine(QPointF(x1, y), QPointF(tip - direction * head * 0.8, y))
    painter.setPen(QPen(color, 1))
    painter.setBrush(QBrush(color))
    painter.drawPolygon(QPolygonF([QPointF(tip, y), QPointF(tip - direction * head, y - head / 2),
                                   QPointF(tip - direction * head, y + head / 2)]))
    if row.repeat:  # a second, open head: "this one again" (sngrep's double head)
        back = tip - direction * head * 1.1
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPolyline(QPolygonF([QPointF(back - direction * head, y - head / 2),
                                        QPointF(back, y),
                                        QPointF(back - direction * head, y + head / 2)]))
    font = QFont(geo.font)
    font.setBold(row.failed)
    painter.setFont(font)
    left, right = min(x1, x2), max(x1, x2)
    room = right - left - fm.averageCharWidth()
    text = QFontMetricsF(font).elidedText(arrow_text(row), Qt.TextElideMode.ElideRight, room)
    painter.setPen(color)
    painter.drawText(QRectF(left, top, right - left, y - top - 1),
                     Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignBottom, text)
    painter.setFont(geo.font)


def _note(painter: QPainter, geo: Geometry, palette: QPalette, row: Row, top: float,
          chosen: bool) -> None:
    fm = QFontMetricsF(geo.font)
    pad = fm.averageCharWidth()
    start = geo.lanes[PROXY] + pad  # every note gets the same room; the box's say "✉"
    box = QRectF(start, top + geo.row_height * 0.12, geo.width - start - pad,
                 geo.row_height * 0.76)
    fill = {NOTE_XLOG: Role.ToolTipBase, NOTE_TIMER: Role.Base}.get(row.note, Role.AlternateBase)
    text_role = Role.ToolTipText if row.note == NOTE_XLOG else Role.Text
    color = palette.color(Role.HighlightedText if chosen else text_role)
    border = QPen(palette.color(Role.HighlightedText if chosen else Role.Text),
                  2 if row.note == NOTE_TIMER else 1)
    if row.note in (NOTE_FAILURE_ROUTE, NOTE_CANCEL):
        border.setStyle(Qt.PenStyle.DashLine)
    painter.setPen(border)
    painter.setBrush(palette.color(Role.Highlight) if chosen else palette.color(fill))
    painter.drawRoundedRect(box, 3, 3)
    x = box.left() + pad / 2
    if row.note == NOTE_TIMER:
        x = _clock(painter, QPointF(x, box.center().y()), fm.height() * 0.38, color) + pad / 2
    lead, middle, before, after = note_parts(row)
    font = QFont(geo.font)
    font.setBold(row.note in (NOTE_TIMER, NOTE_CANCEL))
    bold = QFont(font)
    bold.setBold(True)
    room = box.right() - pad / 2 - x
    pieces = [(lead, bold), (middle, font)]
    fixed = sum(QFontMetricsF(f).horizontalAdvance(t) for t, f in pieces)
    arrow_width = QFontMetricsF(font).horizontalAdvance(" → ")
    share = (room - fixed - arrow_width) / 2
    if before and share >= 12 * pad:
        pieces += [(_elide(font, before, share), font), (" → ", font),
                   (_elide(font, after, share), font)]
    elif before:  # too narrow for both URIs: the result is what matters
        pieces += [("→ ", font), (_elide(font, after, room - fixed - arrow_width), font)]
    elif after:
        pieces.append((_elide(font, after, room - fixed), font))
    painter.setPen(color)
    for text, f in pieces:
        if not text or x >= box.right():
            continue
        painter.setFont(f)
        width = QFontMetricsF(f).horizontalAdvance(text)
        shown = QFontMetricsF(f).elidedText(text, Qt.TextElideMode.ElideRight, box.right() - x)
        painter.drawText(QRectF(x, box.top(), box.right() - x, box.height()),
                         Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, shown)
        x += width
    painter.setFont(geo.font)


def contrast(a: QColor, b: QColor) -> float:
    """WCAG contrast ratio of two colours (1 to 21)."""
    def luminance(c: QColor) -> float:
        def channel(v: float) -> float:
            return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4
        return 0.2126 * channel(c.redF()) + 0.7152 * channel(c.greenF()) + 0.0722 * channel(c.blueF())
    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def readable(color: QColor, background: QColor, fallback: QColor) -> QColor:
    """``color`` when it reads on ``background`` (contrast >= 4.5), else ``fallback``: a palette
    whose Link is dark blue on a dark Base (a partial dark palette) falls back to Text."""
    return color if contrast(color, background) >= 4.5 else fallback


def _elide(font: QFont, text: str, room: float) -> str:
    """``text`` in ``room``. A URI keeps its scheme and user and loses its host first
    (``sip:b1001@…``): the user part is what the script changed and what a learner reads."""
    metrics = QFontMetricsF(font)
    room = max(room, 0.0)
    if metrics.horizontalAdvance(text) <= room:
        return text
    at = text.find("@")
    if text.startswith(("sip:", "sips:")) and at > 0:
        head = text[:at + 1]
        shown = head + metrics.elidedText(text[at + 1:], Qt.TextElideMode.ElideRight,
                                          room - metrics.horizontalAdvance(head))
        if metrics.horizontalAdvance(shown) <= room and len(shown) > len(head):
            return shown
    return metrics.elidedText(text, Qt.TextElideMode.ElideMiddle, room)


def _clock(painter: QPainter, left_center: QPointF, radius: float, color: QColor) -> float:
    """A drawn stopwatch (fonts without ⏱ draw nothing); returns the x right of it."""
    center = QPointF(left_center.x() + radius, left_center.y())
    painter.save()
    painter.setPen(QPen(color, 1.6))
    painter.setBrush(Qt.BrushStyle.NoBrush)
    painter.drawEllipse(center, radius, radius)
    painter.drawLine(center, QPointF(center.x(), center.y() - radius * 0.7))
    painter.drawLine(center, QPointF(center.x() + radius * 0.5, center.y()))
    painter.drawLine(QPointF(center.x(), center.y() - radius),
                     QPointF(center.x(), center.y() - radius * 1.3))
    painter.restore()
    return center.x() + radius
