"""Stored records of the lab database and the pure rules around them (no I/O, no TinyDB).

Rules of this module
  1. Records are frozen dataclasses. ``to_dict()`` gives the JSON document that is stored;
     ``from_dict()`` validates a stored document strictly and raises ValueError on anything that is
     not the expected shape (the db layer turns that into StoreError naming the file).
  2. The ``usr_preferences`` columns and their meaning follow OpenSIPS avpops (SEMANTICS.md §1.2):
     ``type`` bit 0 set = the value is an integer, bit 1 set = the name is an integer.
     A value is stored as text (the column is ``char(128)``) whatever its type.
  3. ``parse_owner`` is opensipsctl's ``avp add`` rule, reproduced exactly (SEMANTICS.md §1.3):
     the argument is an AoR only if it matches ``^USERNAME_RE@.*\\..*`` (egrep), i.e. there must be
     a dot somewhere after the ``@``. An AoR is split like ``awk -F@``: username = field 1,
     domain = field 2. Anything else is stored verbatim in the ``uuid`` column with empty username
     and domain, which ``avp_db_load("$ru", …)`` never finds (lab pitfall, SEMANTICS.md §5 item 11).
  4. ``select_avps`` is the WHERE clause of avpops ``db_load_avp`` (OS ``avpops_db.c``):
     ``uuid=…`` when a uuid is given, else ``username=…`` plus ``domain=…`` only when a domain is
     given (``use_domain=1`` or the ``/domain`` flag), plus ``attribute=…`` when a name is given.
     There is no ORDER BY in OpenSIPS; we return rows in ascending ``id`` (insertion) order.
  5. Integer conversion is OpenSIPS ``str2int`` followed by the ``(int)`` cast of ``dbrow2avp``:
     one or more ASCII digits only (no sign, no blanks), wrapping modulo 2**32, then read as a
     signed 32-bit number. A row whose value does not convert is skipped by loads (SEMANTICS §1.1).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

SCHEMA_VERSION = 1
"""Version of the JSON layout of lab.json; stored in the ``meta`` table."""

# --- usr_preferences column limits (OS scripts/mysql/avpops-create.sql) ---------------------------
ATTRIBUTE_MAX_LEN = 32
VALUE_MAX_LEN = 128
OWNER_MAX_LEN = 64  # uuid / username / domain are char(64)

# --- type flags (OS avpops_impl.h) ---------------------------------------------------------------
AVP_VAL_INT = 1 << 0
"""``AVPOPS_DB_VAL_INT``: the value column holds an integer."""
AVP_NAME_INT = 1 << 1
"""``AVPOPS_DB_NAME_INT``: the attribute column holds an integer name."""
AVP_TYPES = (0, 1, 2, 3)
TYPE_LABELS = {0: "str:str", 1: "str:int", 2: "int:str", 3: "int:int"}
"""opensipsctl's help text: ``<name type>:<value type>``."""

# opensipsctl.base: USERNAME_RE="[-a-zA-Z0-9&=\+\$,;\?/_\.\!~\*'\(\)]+" inside double quotes, so
# the shell turns "\$" into "$" and keeps the other backslashes; in a POSIX bracket expression a
# backslash is an ordinary character, so the class egrep sees also contains "\".
USERNAME_RE = r"[-a-zA-Z0-9&=\\+$,;?/_.!~*'()]+"
_AOR_RE = re.compile(r"^" + USERNAME_RE + r"@.*\..*")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
_DIGITS_RE = re.compile(r"[0-9]+")


def value_is_int(type_: int) -> bool:
    """True when bit 0 of the type says the value is an integer."""
    return bool(type_ & AVP_VAL_INT)


def name_is_int(type_: int) -> bool:
    """True when bit 1 of the type says the attribute name is an integer."""
    return bool(type_ & AVP_NAME_INT)


def make_type(*, name_int: bool = False, value_int: bool = False) -> int:
    return (AVP_NAME_INT if name_int else 0) | (AVP_VAL_INT if value_int else 0)


def str2int(text: str) -> int | None:
    """OpenSIPS ``str2int`` + ``(int)`` cast: digits only, wraps at 2**32, signed 32-bit result.

    Returns None where OpenSIPS says "value is not int as flags say" (empty, sign, blank, letter).
    """
    if not _DIGITS_RE.fullmatch(text):
        return None
    n = int(text) % (1 << 32)
    return n - (1 << 32) if n >= (1 << 31) else n


def int_to_db_text(value: int) -> str:
    """How avp_db_store writes an int value: ``int2str((unsigned long)n)``; round-trips via str2int.

    Negative numbers are written as their unsigned 32-bit image (str2int(result) == value for every
    32-bit value), so a stored row is always loadable.
    """
    return str(value % (1 << 32))


def typed_value(type_: int, value: str) -> str | int | None:
    """The AVP value a load produces from a stored row, or None if the row must be skipped."""
    if value_is_int(type_):
        return str2int(value)
    return value


def typed_name(type_: int, attribute: str) -> str | int | None:
    """The AVP name from the attribute column: an int when bit 1 is set (None if not a number)."""
    if name_is_int(type_):
        return str2int(attribute)
    return attribute


def validate_table_name(table: str) -> str:
    """A table name as opensipsctl ``-T`` would accept in SQL: an identifier of ≤ 64 characters."""
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,63}", table):
        raise ValueError(
            f"invalid table name {table!r}: use letters, digits and '_' (at most 64, not starting "
            "with a digit)")
    return table


def validate_avp(attribute: str, type_: int, value: str) -> None:
    """Check one usr_preferences row as ``avp add`` / ``avp_db_store`` would write it.

    Raises ValueError with a message meant for the user.
    """
    if isinstance(type_, bool) or not isinstance(type_, int) or type_ not in AVP_TYPES:
        raise ValueError(
            f"invalid AVP type {type_!r}: use 0 (str:str), 1 (str:int), 2 (int:str) or 3 (int:int)")
    if not attribute:
        raise ValueError("the attribute name must not be empty")
    if len(attribute) > ATTRIBUTE_MAX_LEN:
        raise ValueError(
            f"attribute {attribute!r} is longer than {ATTRIBUTE_MAX_LEN} characters")
    if _CONTROL_RE.search(attribute):
        raise ValueError(f"attribute {attribute!r} contains control characters")
    if len(value) > VALUE_MAX_LEN:
        raise ValueError(f"value is longer than {VALUE_MAX_LEN} characters ({len(value)})")
    if name_is_int(type_) and str2int(attribute) is None:
        raise ValueError(
            f"type {type_} says the name is an integer but {attribute!r} is not a number")
    if value_is_int(type_):
        if str2int(value) is None:
            raise ValueError(
                f"type {type_} says the value is an integer but {value!r} is not a non-negative "
                "integer")
        if int(value) >= (1 << 32):
            raise ValueError(f"integer value {value} does not fit in 32 bits")


# --- owners -------------------------------------------------------------------------------------


class Owner(NamedTuple):
    """Where an ``avp add`` argument goes: uuid, or username + domain (the others empty)."""

    uuid: str
    username: str
    domain: str

    @property
    def is_aor(self) -> bool:
        return not self.uuid


def is_aor(text: str) -> bool:
    """opensipsctl ``is_aor``: ``egrep "^$USERNAME_RE@.*\\..*"`` (a dot is needed after the @)."""
    return _AOR_RE.match(text) is not None


def parse_owner(text: str) -> Owner:
    """Split a ``<sip-id|uuid>`` argument exactly as opensipsctl ``avp add/list/rm -u`` does.

    ``1004@127.0.0.1`` → Owner(uuid='', username='1004', domain='127.0.0.1');
    ``1004@localhost`` → Owner(uuid='1004@localhost', username='', domain='') (no dot: a uuid).
    Raises ValueError for an empty argument, control characters, or an AoR whose domain field is
    empty (``a@@x.y``: opensipsctl stops with "domain unknown").
    """
    if not text:
        raise ValueError("the user id / uuid must not be empty")
    if _CONTROL_RE.search(text):
        raise ValueError(f"user id / uuid {text!r} contains control characters")
    if is_aor(text):
        fields = text.split("@")
        username, domain = fields[0], fields[1]
        if not domain:
            raise ValueError(f"domain unknown in {text!r}: use username@domain")
        if len(username) > OWNER_MAX_LEN or len(domain) > OWNER_MAX_LEN:
            raise ValueError(f"username and domain of {text!r} must be at most "
                             f"{OWNER_MAX_LEN} characters each")
        return Owner("", username, domain)
    if len(text) > OWNER_MAX_LEN:
        raise ValueError(f"uuid {text!r} is longer than {OWNER_MAX_LEN} characters")
    return Owner(text, "", "")


# --- records ------------------------------------------------------------------------------------


def _field(data: Mapping[str, Any], key: str, kind: type, *, default: Any = ...) -> Any:
    if key not in data:
        if default is ...:
            raise ValueError(f"missing field {key!r}")
        return default
    value = data[key]
    if kind is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif kind is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        if ok and not math.isfinite(value):
            ok = False
    else:
        ok = isinstance(value, kind)
    if not ok:
        raise ValueError(f"field {key!r} must be {kind.__name__}, not {type(value).__name__}")
    return float(value) if kind is float else value


@dataclass(frozen=True, slots=True)
class AvpRow:
    """One ``usr_preferences`` row. ``id`` is the document id (autoincrement, never reused)."""

    id: int
    uuid: str
    username: str
    domain: str
    attribute: str
    type: int
    value: str
    last_modified: str

    @property
    def typed_value(self) -> str | int | None:
        """The loaded AVP value (int for types 1/3), None if the row would be skipped."""
        return typed_value(self.type, self.value)

    @property
    def typed_name(self) -> str | int | None:
        return typed_name(self.type, self.attribute)

    @property
    def loadable(self) -> bool:
        """False when avp_db_load would skip the row (value not convertible to its type)."""
        return self.typed_value is not None

    def to_dict(self) -> dict[str, Any]:
        """The stored document (the id is the document key, not a field)."""
        return {
            "uuid": self.uuid, "username": self.username, "domain": self.domain,
            "attribute": self.attribute, "type": self.type, "value": self.value,
            "last_modified": self.last_modified,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, doc_id: int | None = None) -> AvpRow:
        """Build from a stored document; the id is ``doc_id`` (the row key) or ``data['id']``."""
        row_id = _field(data, "id", int) if doc_id is None else doc_id
        return cls(
            id=row_id,
            uuid=_field(data, "uuid", str, default=""),
            username=_field(data, "username", str, default=""),
            domain=_field(data, "domain", str, default=""),
            attribute=_field(data, "attribute", str),
            type=_field(data, "type", int, default=0),
            value=_field(data, "value", str, default=""),
            last_modified=_field(data, "last_modified", str, default=""),
        )


@dataclass(frozen=True, slots=True)
class LocationRow:
    """One registrar binding (usrloc ``location``). ``expires_at`` is an epoch time in seconds."""

    username: str
    domain: str
    contact: str
    received: str = ""
    expires_at: float = 0.0
    q: float = -1.0  # usrloc's "q not set" (Q_UNSPECIFIED)
    callid: str = ""
    cseq: int = 0
    user_agent: str = ""
    socket: str = ""
    last_modified: str = ""

    @property
    def aor(self) -> tuple[str, str]:
        return (self.username, self.domain)

    def to_dict(self) -> dict[str, Any]:
        return {
            "username": self.username, "domain": self.domain, "contact": self.contact,
            "received": self.received, "expires_at": self.expires_at, "q": self.q,
            "callid": self.callid, "cseq": self.cseq, "user_agent": self.user_agent,
            "socket": self.socket, "last_modified": self.last_modified,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LocationRow:
        return cls(
            username=_field(data, "username", str),
            domain=_field(data, "domain", str, default=""),
            contact=_field(data, "contact", str),
            received=_field(data, "received", str, default=""),
            expires_at=_field(data, "expires_at", float, default=0.0),
            q=_field(data, "q", float, default=-1.0),
            callid=_field(data, "callid", str, default=""),
            cseq=_field(data, "cseq", int, default=0),
            user_agent=_field(data, "user_agent", str, default=""),
            socket=_field(data, "socket", str, default=""),
            last_modified=_field(data, "last_modified", str, default=""),
        )


@dataclass(frozen=True, slots=True)
class SubscriberRow:
    """One ``subscriber`` row: an extension's credentials (plain text, like STORE_PLAINTEXT_PW)."""

    username: str
    domain: str
    password: str
    email_address: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"username": self.username, "domain": self.domain, "password": self.password,
                "email_address": self.email_address}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SubscriberRow:
        email = data.get("email_address")
        if email is not None and not isinstance(email, str):
            raise ValueError("field 'email_address' must be str or null")
        return cls(
            username=_field(data, "username", str),
            domain=_field(data, "domain", str, default=""),
            password=_field(data, "password", str, default=""),
            email_address=email,
        )


# --- the avp_db_load WHERE clause ---------------------------------------------------------------


def avp_matches(row: AvpRow, *, username: str | None = None, domain: str | None = None,
                uuid: str | None = None, attribute: str | None = None) -> bool:
    """One row against the avp_db_load WHERE clause (see ``select_avps``)."""
    if uuid is not None:
        if row.uuid != uuid:
            return False
    else:
        if row.username != username:
            return False
        if domain is not None and row.domain != domain:
            return False
    return attribute is None or row.attribute == attribute


def select_avps(rows: Iterable[AvpRow], *, username: str | None = None,
                domain: str | None = None, uuid: str | None = None,
                attribute: str | None = None) -> list[AvpRow]:
    """Rows that ``SELECT … FROM usr_preferences WHERE …`` of avp_db_load returns, by ascending id.

    - ``uuid`` given: ``uuid='<uuid>'`` (the username/domain columns are not looked at);
    - else ``username='<username>'`` and, only if ``domain`` is not None, ``domain='<domain>'``
      (OpenSIPS default ``use_domain=0`` matches on the username alone);
    - ``attribute`` given: ``attribute='<name>'``; None loads every attribute of the owner.
    Exactly one of ``username`` / ``uuid`` must be given. Value conversion is not checked here.
    """
    if (username is None) == (uuid is None):
        raise ValueError("give exactly one of username= or uuid=")
    found = [r for r in rows if avp_matches(r, username=username, domain=domain, uuid=uuid,
                                            attribute=attribute)]
    found.sort(key=lambda r: r.id)
    return found


def filter_avps(rows: Iterable[AvpRow], *, owner: Owner | None = None,
                attribute: str | None = None, value: str | None = None,
                type_: int | None = None) -> list[AvpRow]:
    """The WHERE clause of opensipsctl ``avp list`` / ``avp rm`` (every given filter ANDed).

    ``-u`` with an AoR matches username AND domain; with a uuid it matches the uuid column.
    """
    out = []
    for r in rows:
        if owner is not None:
            if owner.is_aor:
                if r.username != owner.username or r.domain != owner.domain:
                    continue
            elif r.uuid != owner.uuid:
                continue
        if attribute is not None and r.attribute != attribute:
            continue
        if value is not None and r.value != value:
            continue
        if type_ is not None and r.type != type_:
            continue
        out.append(r)
    out.sort(key=lambda r: r.id)
    return out


# --- voicemail index and call history ------------------------------------------------------------

VOICEMAIL_GREETINGS = ("busy", "unavailable", "default")
"""The greetings a message may record (the same set as ``labpbx.voicemail.box.GREETINGS``; the
store keeps its own copy because it must not import the voicemail package)."""

CALL_OUTCOMES = ("answered", "busy→voicemail", "no answer→voicemail", "forwarded→voicemail",
                 "cancelled", "failed")
"""What a call in the history ended as (the lab supervisor records one row per call)."""


def _text(value: str, what: str) -> None:
    if not value:
        raise ValueError(f"the {what} must not be empty")
    if _CONTROL_RE.search(value):
        raise ValueError(f"{what} {value!r} contains control characters")


def validate_relative_path(path: str) -> str:
    """A path relative to the lab data dir, '/'-separated, that cannot leave that directory.

    Refuses empty and absolute paths (POSIX or Windows: ``/x``, ``C:x``, ``\\\\server\\share``),
    backslashes, control characters, and ``.``/``..``/empty segments. This is a check on the
    text only; whoever opens the file must still check where it really is (symlinks).
    """
    if not path:
        raise ValueError("the path must not be empty")
    if _CONTROL_RE.search(path):
        raise ValueError(f"path {path!r} contains control characters")
    if "\\" in path:
        raise ValueError(f"path {path!r} must use '/' as separator, not '\\'")
    if path.startswith("/") or (len(path) >= 2 and path[1] == ":"):
        raise ValueError(f"path {path!r} must be relative to the data directory")
    if any(part in ("", ".", "..") for part in path.split("/")):
        raise ValueError(f"path {path!r} must not contain empty, '.' or '..' segments")
    return path


@dataclass(frozen=True, slots=True)
class VoicemailRow:
    """One ``voicemail`` row: the index entry of a stored message (fields of VoicemailMessage).

    ``id`` is the message id (a field, not the document key), ``path`` the WAV file relative to
    the lab data dir, ``received_at`` epoch seconds, ``duration`` seconds, ``heard`` False while
    the message is new.
    """

    id: str
    mailbox: str
    caller: str
    caller_name: str
    received_at: float
    duration: float
    greeting: str
    reason: str
    path: str
    heard: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "mailbox": self.mailbox, "caller": self.caller,
            "caller_name": self.caller_name, "received_at": self.received_at,
            "duration": self.duration, "greeting": self.greeting, "reason": self.reason,
            "path": self.path, "heard": self.heard,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> VoicemailRow:
        """Build from a stored document, checking field types and the greeting (ValueError)."""
        greeting = _field(data, "greeting", str)
        if greeting not in VOICEMAIL_GREETINGS:
            raise ValueError(f"unknown greeting {greeting!r}")
        return cls(
            id=_field(data, "id", str),
            mailbox=_field(data, "mailbox", str),
            caller=_field(data, "caller", str),
            caller_name=_field(data, "caller_name", str, default=""),
            received_at=_field(data, "received_at", float),
            duration=_field(data, "duration", float),
            greeting=greeting,
            reason=_field(data, "reason", str, default=""),
            path=_field(data, "path", str),
            heard=_field(data, "heard", bool, default=False),
        )


def validate_voicemail(row: VoicemailRow) -> VoicemailRow:
    """Check a row before it is stored; return it with numbers as floats. Raises ValueError.

    On top of :meth:`VoicemailRow.from_dict` (types, greeting): id and mailbox are non-empty
    without control characters, the duration is not negative and the path stays inside the
    data dir (:func:`validate_relative_path`).
    """
    if not isinstance(row, VoicemailRow):
        raise ValueError(f"expected a VoicemailRow, not {type(row).__name__}")
    checked = VoicemailRow.from_dict(row.to_dict())
    _text(checked.id, "message id")
    _text(checked.mailbox, "mailbox")
    if checked.duration < 0:
        raise ValueError(f"duration must not be negative ({checked.duration})")
    validate_relative_path(checked.path)
    return checked


@dataclass(frozen=True, slots=True)
class CallRow:
    """One ``calls`` row: how a call through the lab ended.

    ``id`` is the document id (autoincrement, assigned by ``LabStore.calls_add``), ``call_id``
    the SIP Call-ID, ``caller``/``callee`` URIs or extensions, ``started_at``/``ended_at`` epoch
    seconds, ``outcome`` one of CALL_OUTCOMES and ``detail`` free text (e.g. "486 Busy Here").
    """

    id: int
    call_id: str
    caller: str
    callee: str
    started_at: float
    ended_at: float
    outcome: str
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The stored document (the id is the document key, not a field)."""
        return {
            "call_id": self.call_id, "caller": self.caller, "callee": self.callee,
            "started_at": self.started_at, "ended_at": self.ended_at, "outcome": self.outcome,
            "detail": self.detail,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, doc_id: int | None = None) -> CallRow:
        """Build from a stored document; the id is ``doc_id`` (the row key) or ``data['id']``.

        Any outcome text is accepted here (only ``calls_add`` insists on CALL_OUTCOMES), so rows
        written by a newer supervisor still read.
        """
        row_id = _field(data, "id", int) if doc_id is None else doc_id
        return cls(
            id=row_id,
            call_id=_field(data, "call_id", str, default=""),
            caller=_field(data, "caller", str),
            callee=_field(data, "callee", str),
            started_at=_field(data, "started_at", float),
            ended_at=_field(data, "ended_at", float),
            outcome=_field(data, "outcome", str),
            detail=_field(data, "detail", str, default=""),
        )


def validate_call(row: CallRow) -> CallRow:
    """Check a call row before it is stored (ValueError): field types and a known outcome.

    Returns it with numbers as floats and ``id`` 0 (the store assigns ids). ``ended_at`` before
    ``started_at`` is accepted: the wall clock may have been stepped back during the call.
    """
    if not isinstance(row, CallRow):
        raise ValueError(f"expected a CallRow, not {type(row).__name__}")
    checked = CallRow.from_dict(row.to_dict(), doc_id=0)
    if checked.outcome not in CALL_OUTCOMES:
        raise ValueError(f"unknown call outcome {checked.outcome!r}: use one of "
                         + ", ".join(repr(o) for o in CALL_OUTCOMES))
    return checked
