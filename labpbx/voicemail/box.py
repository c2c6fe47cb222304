"""The voicemail box's rules, without any I/O: which mailbox and greeting a call gets, what a
stored message is, when a recording ends.

Rules of this module
  1. Pure: no pjsua2, no TinyDB, no sockets, threads or clocks (times are arguments).
  2. Mailbox and greeting come from the Request-URI user first, following Asterisk ``VoiceMail()``
     (SEMANTICS.md §0 row 8), which the tutorial's failure_route relies on:
       ``b<digits>``  → mailbox <digits>, busy greeting        (the callee answered 486)
       ``u<digits>``  → mailbox <digits>, unavailable greeting (408 timeout / 480)
     A prefix counts only when digits follow: ``bob`` is the mailbox "bob", not b + "ob".
  3. The voicemail number (default ``2345678``, the tutorial's callfwd target) carries no mailbox
     itself: the mailbox is the user part of the *first* (topmost) Diversion value (RFC 5806), and
     its ``reason`` picks the greeting: ``user-busy`` → busy, anything else (``no-answer``,
     ``unavailable``, ``unconditional``, ``deflection`` …, or none) → unavailable. Without a usable
     Diversion the call goes to the mailbox ``general`` with the default greeting.
  4. Any other user is a direct deposit into the mailbox of that name, with the default greeting.
  5. A mailbox name becomes a directory name, so it must be safe: letters, digits and ``_ . + -``,
     1–64 characters, not starting with ``.``; %-escapes are decoded first. A name that fails
     (``..``, ``a/b`` …) goes to ``general`` (reason says why) instead of touching other paths.
  6. Recording limits: ``max_length`` (default 60 s) ends the recording; ``silence`` (default 5 s,
     0 = off) ends it after that long without sound; a recording shorter than ``min_length``
     (0.5 s) after trimming, or with no sound at all, is empty and is discarded.
  7. "Sound" is a frame whose RMS over 16-bit signed little-endian PCM reaches
     ``silence_threshold`` (default 300 ≈ −40 dBFS): loud enough to ignore codec noise and
     comfort noise, quiet enough to keep soft speech.
"""

from __future__ import annotations

import math
import re
import sys
from array import array
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import PurePosixPath
from typing import Any, Literal, Protocol
from urllib.parse import unquote

from labpbx.errors import SipParseError
from labpbx.sip.headers import split_values
from labpbx.sip.uri import find_param, parse_params, split_name_addr

Greeting = Literal["busy", "unavailable", "default"]
GREETINGS: tuple[Greeting, ...] = ("busy", "unavailable", "default")
LANGUAGES = ("en", "zh")

DEFAULT_VOICEMAIL_NUMBER = "2345678"
GENERAL_MAILBOX = "general"

DEFAULT_MAX_LENGTH = 60.0
DEFAULT_SILENCE = 5.0
DEFAULT_MIN_LENGTH = 0.5
DEFAULT_SILENCE_THRESHOLD = 300.0
SILENCE_KEEP = 0.2
"""Seconds of silence left after the last sound when a recording ended on silence (Asterisk keeps
a little too, so the message does not stop mid-breath)."""

MAX_LEGS = 4
"""Call legs per pjsua2 process in this wheel (PJSUA2.md); the 5th INVITE is answered 486."""

_PREFIXED = re.compile(r"([bu])([0-9]+)")
_SAFE_MAILBOX = re.compile(r"[A-Za-z0-9_+\-][A-Za-z0-9_.+\-]{0,63}")
_BUSY_REASONS = frozenset({"user-busy"})


# --- where a call goes -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MailboxTarget:
    """The mailbox a call records into and the greeting it hears.

    ``reason`` says why: ``user-busy`` / ``no-answer`` for the b/u prefixes, the Diversion reason
    (lower-cased) after the voicemail number, ``direct``, or ``no-mailbox`` / ``bad-mailbox``.
    """

    mailbox: str
    greeting: Greeting
    reason: str


@dataclass(frozen=True, slots=True)
class Diversion:
    """One Diversion header value (RFC 5806): the diverted-from user and the reason parameter."""

    user: str
    uri: str
    reason: str


def safe_mailbox(name: str) -> str | None:
    """The mailbox name if it can be a directory name (rule 5), else None."""
    decoded = unquote(name)
    return decoded if _SAFE_MAILBOX.fullmatch(decoded) else None


def uri_user(uri: str) -> str:
    """The user part of a sip:/sips:/tel: URI text, %-escapes kept ("" when there is none)."""
    scheme, colon, rest = uri.strip().partition(":")
    if not colon:
        return ""
    scheme = scheme.lower()
    if scheme == "tel":
        return rest.split(";", 1)[0].strip()
    if scheme not in ("sip", "sips") or "@" not in rest:
        return ""
    return rest.split("@", 1)[0].split(":", 1)[0].split(";", 1)[0]


def parse_diversions(values: Iterable[str]) -> list[Diversion]:
    """Every Diversion value, top first, from the header lines' values (commas split lists).

    A value that cannot be parsed is skipped: a malformed header must not cost the caller the
    message, the next value (or the general mailbox) still works.
    """
    out: list[Diversion] = []
    for line in values:
        for element in split_values(line):
            try:
                _display, uri, params_text, _bracketed = split_name_addr(element)
                params = parse_params(params_text)
            except SipParseError:
                continue
            reason = (find_param(params, "reason") or "").strip('"').lower()
            out.append(Diversion(user=uri_user(uri), uri=uri, reason=reason))
    return out


def greeting_for_reason(reason: str) -> Greeting:
    """Diversion reason → greeting (rule 3)."""
    return "busy" if reason.lower() in _BUSY_REASONS else "unavailable"


def resolve(request_uri_user: str, diversion_header_values: Sequence[str] = (), *,
            voicemail_number: str = DEFAULT_VOICEMAIL_NUMBER) -> MailboxTarget:
    """Mailbox, greeting and reason for a call whose Request-URI user is ``request_uri_user``.

    ``diversion_header_values`` are the values of the INVITE's Diversion header lines, in order.
    """
    user = unquote(request_uri_user)
    prefixed = _PREFIXED.fullmatch(user)
    if prefixed:
        if prefixed.group(1) == "b":
            return MailboxTarget(prefixed.group(2), "busy", "user-busy")
        return MailboxTarget(prefixed.group(2), "unavailable", "no-answer")
    if user == voicemail_number:
        diversions = parse_diversions(diversion_header_values)
        if not diversions or not diversions[0].user:
            return MailboxTarget(GENERAL_MAILBOX, "default", "no-mailbox")
        top = diversions[0]
        mailbox = safe_mailbox(top.user)
        if mailbox is None:
            return MailboxTarget(GENERAL_MAILBOX, "default", "bad-mailbox")
        return MailboxTarget(mailbox, greeting_for_reason(top.reason), top.reason or "diverted")
    if not user:
        return MailboxTarget(GENERAL_MAILBOX, "default", "no-mailbox")
    mailbox = safe_mailbox(user)
    if mailbox is None:
        return MailboxTarget(GENERAL_MAILBOX, "default", "bad-mailbox")
    return MailboxTarget(mailbox, "default", "direct")


# --- the INVITE as pjsua2 hands it over -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IncomingInvite:
    """What the box needs from an INVITE's text (pjsua2 gives ``rdata.wholeMsg``)."""

    request_user: str
    diversions: tuple[str, ...]
    caller: str
    caller_name: str
    call_id: str


def parse_invite(text: str) -> IncomingInvite:
    """Read the Request-URI user, Diversion values, From and Call-ID leniently.

    pjsip has already accepted the message, so this only has to find fields; anything missing
    comes back empty rather than raising (the call is still answered, into ``general``).
    """
    head = text.replace("\r\n", "\n").split("\n\n", 1)[0]
    lines = head.split("\n")
    start = lines[0].split(" ")
    request_uri = start[1] if len(start) >= 3 else ""
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if line[:1] in (" ", "\t") and headers:  # folded continuation (RFC 3261 §7.3.1)
            name, value = headers[-1]
            headers[-1] = (name, f"{value} {line.strip()}")
            continue
        name, colon, value = line.partition(":")
        if colon:
            headers.append((name.strip().lower(), value.strip()))
    diversions = tuple(v for n, v in headers if n == "diversion")
    from_value = next((v for n, v in headers if n in ("from", "f")), "")
    call_id = next((v for n, v in headers if n in ("call-id", "i")), "")
    caller, caller_name = "", ""
    if from_value:
        try:
            display, uri, _params, _bracketed = split_name_addr(from_value)
            caller, caller_name = uri, (display or "").strip('"')
        except SipParseError:
            caller = from_value
    return IncomingInvite(uri_user(request_uri), diversions, caller, caller_name, call_id)


# --- recording limits and silence ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RecordingLimits:
    """When a recording ends and when it counts as empty (rule 6). Seconds."""

    max_length: float = DEFAULT_MAX_LENGTH
    silence: float = DEFAULT_SILENCE
    min_length: float = DEFAULT_MIN_LENGTH
    silence_threshold: float = DEFAULT_SILENCE_THRESHOLD

    def __post_init__(self) -> None:
        if not self.max_length > 0:
            raise ValueError("max_length must be more than 0 seconds")
        if self.silence < 0:
            raise ValueError("silence must be 0 (off) or more seconds")
        if self.min_length < 0 or self.min_length > self.max_length:
            raise ValueError("min_length must be between 0 and max_length")
        if self.silence_threshold < 0:
            raise ValueError("silence_threshold must not be negative")


EndCause = Literal["max-length", "silence"]


def end_cause(limits: RecordingLimits, recorded: float, silent_for: float) -> EndCause | None:
    """Whether the box should end a recording now (the caller hanging up is the third way)."""
    if recorded >= limits.max_length:
        return "max-length"
    if limits.silence > 0 and silent_for >= limits.silence:
        return "silence"
    return None


def pcm16_rms(pcm: bytes) -> float:
    """Root mean square of 16-bit signed little-endian mono PCM (0.0 for no samples)."""
    samples = array("h")
    samples.frombytes(pcm[: len(pcm) - len(pcm) % 2])
    if sys.byteorder == "big":
        samples.byteswap()
    if not samples:
        return 0.0
    return math.sqrt(sum(s * s for s in samples) / len(samples))


class SilenceDetector:
    """Tracks trailing silence over a stream of PCM frames (rule 7).

    Feed it frames in order; it keeps how long the audio has been silent since the last sound,
    whether any sound was heard, and where the last sound ended. Not thread-safe: one owner.
    """

    def __init__(self, sample_rate: int, threshold: float = DEFAULT_SILENCE_THRESHOLD) -> None:
        if sample_rate <= 0:
            raise ValueError("sample_rate must be positive")
        self.sample_rate = sample_rate
        self.threshold = threshold
        self.total = 0.0
        self.silent_for = 0.0
        self.last_sound_end = 0.0
        self.heard_sound = False

    def feed(self, pcm: bytes) -> bool:
        """Add one frame; True when the frame was silent."""
        seconds = (len(pcm) // 2) / self.sample_rate
        self.total += seconds
        if pcm16_rms(pcm) >= self.threshold and seconds > 0:
            self.heard_sound = True
            self.silent_for = 0.0
            self.last_sound_end = self.total
            return False
        self.silent_for += seconds
        return True


# --- messages and where they are kept ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VoicemailMessage:
    """One stored message. ``path`` is the WAV file relative to the lab data dir, '/'-separated.

    ``caller`` is the From URI, ``caller_name`` its display name ("" when none), ``received_at``
    epoch seconds when the call was answered, ``duration`` seconds of audio kept, ``greeting`` the
    greeting the caller heard and ``reason`` the forwarding reason (MailboxTarget.reason).
    """

    id: str
    mailbox: str
    caller: str
    caller_name: str
    received_at: float
    duration: float
    greeting: Greeting
    reason: str
    path: str
    heard: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> VoicemailMessage:
        """Rebuild a message from ``to_dict()`` output; ValueError on a wrong shape."""
        try:
            greeting = str(data["greeting"])
            if greeting not in GREETINGS:
                raise ValueError(f"unknown greeting {greeting!r}")
            heard = data.get("heard", False)
            if not isinstance(heard, bool):
                raise ValueError("heard must be true or false")
            return cls(
                id=str(data["id"]), mailbox=str(data["mailbox"]), caller=str(data["caller"]),
                caller_name=str(data.get("caller_name", "")),
                received_at=float(data["received_at"]), duration=float(data["duration"]),
                greeting=greeting, reason=str(data.get("reason", "")),
                path=str(data["path"]), heard=heard)
        except (KeyError, TypeError) as exc:
            raise ValueError(f"not a voicemail message: {exc}") from exc


class MessageStore(Protocol):
    """Where the box indexes messages. Called only from the thread that pumps the server.

    ``add`` records a new (unheard) message whose WAV file already exists; it may raise
    LabPbxError (e.g. StoreError), which the box reports without losing the file.
    ``count`` returns ``(new, old)``: unheard and heard messages of a mailbox, for MWI.
    """

    def add(self, message: VoicemailMessage) -> None: ...

    def count(self, mailbox: str) -> tuple[int, int]: ...


def message_path(mailbox: str, message_id: str) -> str:
    """Relative path of a message's WAV file under the data dir."""
    return str(PurePosixPath("voicemail", mailbox, f"{message_id}.wav"))


def message_id(received_at_local: str, token: str) -> str:
    """A sortable, unique message id from a ``YYYYmmdd-HHMMSS`` stamp and a random token."""
    return f"{received_at_local}-{token}"


@dataclass(frozen=True, slots=True)
class BoxConfig:
    """Settings of a voicemail box (the process turns its command line into this)."""

    host: str = "127.0.0.1"
    port: int = 0
    rtp_port: int = 0
    rtp_range: int = 100
    voicemail_number: str = DEFAULT_VOICEMAIL_NUMBER
    language: str = "en"
    limits: RecordingLimits = field(default_factory=RecordingLimits)
    max_legs: int = MAX_LEGS

    def __post_init__(self) -> None:
        if self.language not in LANGUAGES:
            raise ValueError(f"language must be one of {', '.join(LANGUAGES)}")
        if not 0 <= self.port <= 65535 or not 0 <= self.rtp_port <= 65535:
            raise ValueError("ports must be between 0 and 65535")
        if not 1 <= self.max_legs <= MAX_LEGS:
            raise ValueError(f"max_legs must be between 1 and {MAX_LEGS}")
        if not self.voicemail_number:
            raise ValueError("the voicemail number must not be empty")
