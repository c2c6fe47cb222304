"""The structured event stream every LabPBX component emits (one JSON object per line).

Events are frozen dataclasses. ``to_json()`` gives one line: ``{"v": 1, "type": "<name>", ...fields}``.
The GUI, the supervisor and ``labpbx demo`` are different views of this one stream, so fields are
stable; add new fields rather than renaming old ones, and bump EVENT_VERSION on an incompatible change.
Times are wall-clock seconds since the epoch (``time``) so events from several processes merge in order.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from typing import Any, ClassVar

EVENT_VERSION = 1


@dataclass(frozen=True, slots=True)
class Event:
    type: ClassVar[str] = "event"
    time: float
    component: str

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        return {"v": EVENT_VERSION, "type": self.type, **data}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, separators=(",", ":"))


@dataclass(frozen=True, slots=True)
class SipMessageEvent(Event):
    """A SIP datagram sent or received. ``raw`` is the message text (undecodable bytes escaped)."""

    type: ClassVar[str] = "sip"
    direction: str  # "in" | "out"
    src: str
    dst: str
    call_id: str
    summary: str  # the start line
    raw: str


@dataclass(frozen=True, slots=True)
class RouteDecisionEvent(Event):
    """The script changed where a request goes, or decided what happens to it."""

    type: ClassVar[str] = "decision"
    call_id: str
    route: str  # e.g. "route", "route[relay]", "failure_route[missed_call]"
    line: int
    action: str  # "set $ru", "set $du", "prefix", "revert_uri", "t_relay", "reply", "lookup", …
    before: str
    after: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class XlogEvent(Event):
    """A line the script printed with xlog(). ``text`` is exactly what the script produced."""

    type: ClassVar[str] = "xlog"
    level: int
    level_name: str
    text: str
    call_id: str
    route: str
    line: int


@dataclass(frozen=True, slots=True)
class TransactionEvent(Event):
    """A change in a proxy transaction: created, branch sent, reply, timeout, cancel, failure route, final."""

    type: ClassVar[str] = "transaction"
    call_id: str
    tid: str
    state: str
    branch: int = -1
    detail: str = ""


@dataclass(frozen=True, slots=True)
class ProblemEvent(Event):
    """Something went wrong but the component carries on: bad datagram, script runtime error, …"""

    type: ClassVar[str] = "problem"
    severity: str  # "warning" | "error"
    message: str
    detail: str = ""


@dataclass(frozen=True, slots=True)
class ComponentEvent(Event):
    """A component's life: starting, ready (with its address), stopping, stopped, restarted."""

    type: ClassVar[str] = "component"
    status: str
    detail: str = ""
    address: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RegistrationEvent(Event):
    """An extension's registration with the proxy changed."""

    type: ClassVar[str] = "registration"
    ext: str
    registered: bool
    status: int = 0
    reason: str = ""
    expires: int = 0


@dataclass(frozen=True, slots=True)
class CallStateEvent(Event):
    """A call leg of an extension or of the voicemail box changed state.

    state: "calling" | "incoming" | "early" | "connecting" | "confirmed" | "disconnected"
    leg:   the component's own id for this call leg (stable for the leg's life)
    """

    type: ClassVar[str] = "call"
    ext: str
    leg: str
    call_id: str
    direction: str  # "outgoing" | "incoming"
    state: str
    remote: str = ""
    status: int = 0
    reason: str = ""


@dataclass(frozen=True, slots=True)
class PolicyEvent(Event):
    """An extension's answering policy changed (answer, busy, ring, unavailable, dnd, offline)."""

    type: ClassVar[str] = "policy"
    ext: str
    policy: str
    ring_time: float = 0.0


@dataclass(frozen=True, slots=True)
class VoicemailEvent(Event):
    """The voicemail box stored a message (or refused one)."""

    type: ClassVar[str] = "voicemail"
    mailbox: str
    caller: str
    greeting: str  # "busy" | "unavailable" | "default"
    status: str  # "stored" | "empty" | "refused"
    message_id: str = ""
    path: str = ""
    duration: float = 0.0
    reason: str = ""
    call_id: str = ""  # the SIP Call-ID of the box's leg ("" from older producers)


@dataclass(frozen=True, slots=True)
class MwiEvent(Event):
    """Message-waiting state of a mailbox (RFC 3842 semantics, delivered as an event)."""

    type: ClassVar[str] = "mwi"
    mailbox: str
    new_messages: int
    old_messages: int = 0


@dataclass(frozen=True, slots=True)
class ForwardingEvent(Event):
    """The lab's unconditional call forwarding of an extension (the ``callfwd`` AVP of
    usr_preferences) as the lab knows it: at start and after each change made through the lab.
    ``target`` is the forward's SIP URI, "" when the extension has none."""

    type: ClassVar[str] = "forwarding"
    ext: str
    target: str = ""


@dataclass(frozen=True, slots=True)
class GapEvent(Event):
    """A subscriber that asked for events after a position the bounded history no longer holds:
    ``dropped`` events (sequence numbers ``first_missing``..``last_missing``) are lost to it.
    Made by the lab's stream for one subscriber, never recorded in the history."""

    type: ClassVar[str] = "gap"
    dropped: int
    first_missing: int = 0
    last_missing: int = 0


EventSink = Callable[[Event], None]

EVENT_TYPES: dict[str, type[Event]] = {
    cls.type: cls
    for cls in (SipMessageEvent, RouteDecisionEvent, XlogEvent, TransactionEvent, ProblemEvent,
                ComponentEvent, RegistrationEvent, CallStateEvent, PolicyEvent, VoicemailEvent,
                MwiEvent, ForwardingEvent, GapEvent)
}


def event_from_dict(data: dict[str, Any]) -> Event:
    """Rebuild an event from its JSON form (unknown fields are ignored, for forward compatibility)."""
    cls = EVENT_TYPES.get(str(data.get("type")))
    if cls is None:
        raise ValueError(f"unknown event type {data.get('type')!r}")
    names = _FIELD_NAMES[cls]
    return cls(**{k: v for k, v in data.items() if k in names})


# Field names per event type, computed once: the lab rebuilds thousands of events a second.
_FIELD_NAMES: dict[type[Event], frozenset[str]] = {
    cls: frozenset(f.name for f in fields(cls)) for cls in EVENT_TYPES.values()}
