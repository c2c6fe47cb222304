"""What the proxy changed in a message it forwarded: the received and the forwarded copy,
interleaved line by line like a unified diff (pure: text in, marked lines out).

Rules of this module:
- Lines are compared as SIP text, never rewritten: the pane shows the messages as they were on
  the wire, with a mark per line: " " in both, "-" only as received, "+" only as forwarded.
- The header a changed line belongs to is named the SIP way (``R-URI`` for the request line,
  ``Via``, ``Record-Route``, ``Route``, ``Max-Forwards``, …), compact forms expanded (``v`` →
  ``Via``), so a view can say "R-URI, Via, Max-Forwards changed" and a test can check it.
- A header line that went away and one that came in its place under the same name (``R-URI``,
  ``Max-Forwards: 70`` → ``69``) are "changed"; one only on one side is "removed" or "added".
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

SAME, REMOVED, ADDED = " ", "-", "+"
START_LINE = "R-URI"  # a request's start line: what changes there is the Request-URI
_COMPACT = {"v": "Via", "f": "From", "t": "To", "i": "Call-ID", "m": "Contact", "l": "Content-Length",
            "c": "Content-Type", "k": "Supported", "s": "Subject", "e": "Content-Encoding"}
_CANONICAL = {name.lower(): name for name in (
    "Via", "Route", "Record-Route", "Max-Forwards", "Contact", "From", "To", "Call-ID", "CSeq",
    "Content-Length", "Content-Type", "Diversion", "User-Agent", "Allow", "Supported")}


@dataclass(frozen=True, slots=True)
class DiffLine:
    mark: str  # SAME, REMOVED or ADDED
    text: str  # the line as on the wire (no CRLF)
    header: str  # "R-URI", "Via", …; "" for the body and the blank line


@dataclass(frozen=True, slots=True)
class Change:
    header: str
    how: str  # "changed" | "added" | "removed"


def message_lines(raw: str) -> list[str]:
    """The message's lines (head and body) without line ends."""
    return raw.replace("\r\n", "\n").rstrip("\n").split("\n")


def header_name(line: str, first: bool) -> str:
    if first:
        return START_LINE if not line.startswith("SIP/") else "Status"
    name, colon, _ = line.partition(":")
    if not colon or not name or name != name.strip() or " " in name:
        return ""
    return _COMPACT.get(name, _CANONICAL.get(name.lower(), name))


def _names(lines: list[str]) -> list[str]:
    names: list[str] = []
    in_body = False
    for i, line in enumerate(lines):
        if not line:
            in_body = True
        names.append("" if in_body or not line else header_name(line, i == 0))
    return names


def diff_messages(received: str, forwarded: str) -> list[DiffLine]:
    """``received`` and ``forwarded`` interleaved: what the proxy kept, removed and added."""
    a, b = message_lines(received), message_lines(forwarded)
    names_a, names_b = _names(a), _names(b)
    out: list[DiffLine] = []
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            out.extend(DiffLine(SAME, a[i], names_a[i]) for i in range(i1, i2))
            continue
        out.extend(DiffLine(REMOVED, a[i], names_a[i]) for i in range(i1, i2))
        out.extend(DiffLine(ADDED, b[j], names_b[j]) for j in range(j1, j2))
    return out


def changes(lines: list[DiffLine]) -> list[Change]:
    """Which headers the proxy changed, added or removed, in the order they first appear."""
    removed = {d.header for d in lines if d.mark == REMOVED and d.header}
    added = {d.header for d in lines if d.mark == ADDED and d.header}
    found: list[Change] = []
    for d in lines:
        if d.mark == SAME or not d.header or any(c.header == d.header for c in found):
            continue
        if d.header in removed and d.header in added:
            how = "changed"
        else:
            how = "added" if d.mark == ADDED else "removed"
        found.append(Change(d.header, how))
    return found
