"""Reading a message-summary NOTIFY (RFC 3842 §5.2) that a phone received (pure).

Rules of this module
  * Pure: text in, a MessageSummary out; ValueError when the text is not a usable summary.
  * Line names are case-insensitive, surrounding whitespace is ignored, lines may end in CRLF or
    LF, and lines this phone does not show (Fax-Message, optional message headers after the
    blank line, unknown names) are skipped: RFC 3842 lets servers add them.
  * ``Messages-Waiting`` (yes/no) is mandatory. The counts are those of ``Voice-Message``
    (``new/old`` with an optional ``(urgent_new/urgent_old)``); without that line they are 0/0,
    and ``waiting`` alone says whether the light is on.
  * ``summary_from_message`` takes a whole SIP message as received (pjsua2's ``wholeMsg``) and
    reads its body: what follows the first empty line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_COUNTS = re.compile(r"(\d+)\s*/\s*(\d+)(?:\s*\(\s*(\d+)\s*/\s*(\d+)\s*\))?")


@dataclass(frozen=True, slots=True)
class MessageSummary:
    """What the message-waiting light shows: voice messages only (the lab has no fax)."""

    waiting: bool
    account: str = ""
    new: int = 0
    old: int = 0
    urgent_new: int = 0
    urgent_old: int = 0


def parse_summary(body: str) -> MessageSummary:
    """The summary in an ``application/simple-message-summary`` body."""
    waiting: bool | None = None
    account = ""
    counts = (0, 0, 0, 0)
    for line in body.splitlines():
        if not line.strip():
            break  # optional message headers follow the blank line: not part of the summary
        name, colon, value = line.partition(":")
        if not colon:
            raise ValueError(f"not a message-summary line: {line!r}")
        name, value = name.strip().lower(), value.strip()
        if name == "messages-waiting":
            if value.lower() not in ("yes", "no"):
                raise ValueError(f"Messages-Waiting must be yes or no, not {value!r}")
            waiting = value.lower() == "yes"
        elif name == "message-account":
            account = value
        elif name == "voice-message":
            match = _COUNTS.fullmatch(value)
            if match is None:
                raise ValueError(f"Voice-Message is not new/old (urgent_new/urgent_old): "
                                 f"{value!r}")
            new, old, urgent_new, urgent_old = match.groups()
            counts = (int(new), int(old), int(urgent_new or 0), int(urgent_old or 0))
    if waiting is None:
        raise ValueError("no Messages-Waiting line in the message summary")
    return MessageSummary(waiting, account, *counts)


def summary_from_message(whole: str) -> MessageSummary:
    """The summary in the body of a whole SIP message (headers, empty line, body)."""
    for separator in ("\r\n\r\n", "\n\n"):
        _head, found, body = whole.partition(separator)
        if found:
            return parse_summary(body)
    raise ValueError("the NOTIFY has no body")
