"""The phone process's command protocol: one JSON object per line on stdin, parsed without I/O.

Rules of this module:
- Pure: parsing and validation only. The process's reader thread calls ``parse_command`` and hands
  the typed command to the pump thread, which alone touches pjsua2.
- Every command may carry an ``"id"`` (string or number); it is echoed in the ack/error event so a
  supervisor can correlate. A line that cannot be parsed still yields its id when one is readable.
- Errors are ``CommandError`` (a ``PhoneError``) with a message fit for the ack event's ``detail``.

Commands (exactly these keys; unknown keys are ignored for forward compatibility)::

    {"cmd": "call",   "ext": "1000", "to": "sip:1001@127.0.0.1:15060"}   (or "to": "1001")
    {"cmd": "policy", "ext": "1001", "policy": "busy", "ring_time": 2}
    {"cmd": "answer", "leg": "1001-1"}
    {"cmd": "reject", "leg": "1001-1", "code": 486}
    {"cmd": "hangup", "leg": "1000-1"}    or    {"cmd": "hangup", "ext": "1000"}
    {"cmd": "status"}
    {"cmd": "quit"}
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from labpbx.errors import ConfigError, LabPbxError
from labpbx.phones.policy import DEFAULT_RING_TIME, Policy, check_ring_time

CommandId = str | int | float | None

# The user part of an extension's AoR: kept to characters that need no escaping in a SIP URI.
_EXT_RE = re.compile(r"^[A-Za-z0-9._+-]{1,32}$")


class PhoneError(LabPbxError):
    """A phone operation cannot be done (unknown extension or leg, capacity reached, …)."""


class CommandError(PhoneError):
    """A command line is malformed; ``command_id`` is its "id" when that could be read."""

    def __init__(self, message: str, command_id: CommandId = None, cmd: str = "") -> None:
        super().__init__(message)
        self.command_id = command_id
        self.cmd = cmd


def check_ext(ext: str) -> str:
    """An extension name as used in ``sip:<ext>@host``; ConfigError when it is not a plain user."""
    if not _EXT_RE.match(ext):
        raise ConfigError(f"extension {ext!r} must be 1-32 letters, digits or ._+-")
    return ext


@dataclass(frozen=True, slots=True)
class CallCommand:
    ext: str
    to: str
    id: CommandId = None
    name = "call"


@dataclass(frozen=True, slots=True)
class PolicyCommand:
    ext: str
    policy: Policy
    ring_time: float
    id: CommandId = None
    name = "policy"


@dataclass(frozen=True, slots=True)
class AnswerCommand:
    leg: str
    id: CommandId = None
    name = "answer"


@dataclass(frozen=True, slots=True)
class RejectCommand:
    leg: str
    code: int = 486
    id: CommandId = None
    name = "reject"


@dataclass(frozen=True, slots=True)
class HangupCommand:
    """Hang up one leg, or every leg of ``ext`` when ``leg`` is empty."""

    leg: str = ""
    ext: str = ""
    id: CommandId = None
    name = "hangup"


@dataclass(frozen=True, slots=True)
class StatusCommand:
    id: CommandId = None
    name = "status"


@dataclass(frozen=True, slots=True)
class QuitCommand:
    id: CommandId = None
    name = "quit"


Command = (CallCommand | PolicyCommand | AnswerCommand | RejectCommand | HangupCommand
           | StatusCommand | QuitCommand)


def _text(data: dict[str, Any], key: str, cid: CommandId, cmd: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise CommandError(f"{cmd}: {key!r} must be a non-empty string", cid, cmd)
    return value.strip()


def _number(data: dict[str, Any], key: str, default: float, cid: CommandId, cmd: str) -> float:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise CommandError(f"{cmd}: {key!r} must be a number", cid, cmd)
    return float(value)


def _ext(data: dict[str, Any], cid: CommandId, cmd: str) -> str:
    ext = _text(data, "ext", cid, cmd)
    try:
        return check_ext(ext)
    except ConfigError as exc:
        raise CommandError(f"{cmd}: {exc}", cid, cmd) from None


def parse_command(line: str) -> Command:
    """Parse one stdin line into a typed command; CommandError says what is wrong with it."""
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        raise CommandError(f"not JSON: {exc.msg} (column {exc.colno})") from None
    if not isinstance(data, dict):
        raise CommandError("a command must be a JSON object")
    cid = data.get("id")
    if not isinstance(cid, str | int | float) or isinstance(cid, bool):
        cid = None
    cmd = data.get("cmd")
    if not isinstance(cmd, str):
        raise CommandError("missing 'cmd'", cid)
    if cmd == "call":
        return CallCommand(ext=_ext(data, cid, cmd), to=_text(data, "to", cid, cmd), id=cid)
    if cmd == "policy":
        try:
            policy = Policy.parse(_text(data, "policy", cid, cmd))
            ring = check_ring_time(_number(data, "ring_time", DEFAULT_RING_TIME, cid, cmd))
        except ConfigError as exc:
            raise CommandError(f"policy: {exc}", cid, cmd) from None
        return PolicyCommand(ext=_ext(data, cid, cmd), policy=policy, ring_time=ring, id=cid)
    if cmd == "answer":
        return AnswerCommand(leg=_text(data, "leg", cid, cmd), id=cid)
    if cmd == "reject":
        code = _number(data, "code", 486, cid, cmd)
        if code != int(code) or not 400 <= code <= 699:
            raise CommandError("reject: 'code' must be a final error status 400-699", cid, cmd)
        return RejectCommand(leg=_text(data, "leg", cid, cmd), code=int(code), id=cid)
    if cmd == "hangup":
        if "leg" in data:
            return HangupCommand(leg=_text(data, "leg", cid, cmd), id=cid)
        if "ext" in data:
            return HangupCommand(ext=_ext(data, cid, cmd), id=cid)
        raise CommandError("hangup: give 'leg' or 'ext'", cid, cmd)
    if cmd == "status":
        return StatusCommand(id=cid)
    if cmd == "quit":
        return QuitCommand(id=cid)
    raise CommandError(f"unknown command {cmd!r}", cid, cmd)


# sip:[user@]host[:port][;params] — enough to find the host the INVITE will be sent to.
_SIP_URI_RE = re.compile(r"^sips?:(?:[^@;?]+@)?(\[[^\]]+\]|[^:;?>]+)(?::(\d+))?(?:[;?].*)?$")


def resolve_target(to: str, proxy: str) -> str:
    """The request URI of an outgoing call.

    A bare extension (``"1001"``) means ``sip:1001@<proxy host:port>``: through the lab proxy.
    A full ``sip:`` URI is used as given, but only towards loopback (the lab's network rule: the
    phones never send SIP or RTP beyond 127.0.0.0/8).
    """
    to = to.strip().strip("<>")
    if _EXT_RE.match(to):
        return f"sip:{to}@{proxy}"
    match = _SIP_URI_RE.match(to)
    if match is None:
        raise PhoneError(f"call target {to!r} is neither an extension nor a sip: URI")
    host = match.group(1)
    if not is_loopback(host):
        raise PhoneError(f"call target {to!r} is not on loopback; the lab's phones only call 127.x")
    return to


def is_loopback(host: str) -> bool:
    """An IPv4 literal in 127.0.0.0/8. Names are refused: "localhost" may resolve to ::1."""
    parts = host.split(".")
    return (len(parts) == 4 and parts[0] == "127"
            and all(p.isdigit() and int(p) <= 255 for p in parts))


_URI_USER_RE = re.compile(r"^sips?:([^@;>\s]+)@")


def bare_uri(name_addr: str) -> str:
    """``"Bob" <sip:1001@127.0.0.1>;tag=x`` → ``sip:1001@127.0.0.1`` (one form both ways)."""
    start, end = name_addr.find("<"), name_addr.find(">")
    if 0 <= start < end:
        return name_addr[start + 1:end]
    return name_addr.split(";", 1)[0].strip()


def uri_user(uri: str) -> str | None:
    """The user part of a sip: URI (``sip:1001@127.0.0.1`` → ``1001``), or None."""
    match = _URI_USER_RE.match(uri.strip())
    return match.group(1) if match else None


def request_user(message: str) -> str | None:
    """The user part of a request's Request-URI (from its start line), or None when it has none."""
    parts = message.split(None, 2)
    return uri_user(parts[1]) if len(parts) >= 2 else None
