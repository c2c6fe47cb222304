"""The lab's state as a view shows it, folded from the event stream: ``reduce(state, seq, event)``.

    state = initial_state(["1000", "1001"])
    for seq, event in enumerate(events, 1):
        state = reduce(state, seq, event)
    state.extensions["1001"].activity    # Activity.RINGING
    state.calls[-1].outcome               # CallOutcome.BUSY_VOICEMAIL once it has ended

Rules of this module:
- Pure: no clock, no I/O, no threads. ``reduce`` returns a new LabState (or the very same object
  when the event changes nothing, e.g. an unknown event type) and never mutates the old one, so
  a snapshot handed to another thread stays valid while the lab goes on.
- One reducer for every view: the supervisor folds each published event into its state under
  the stream's lock (labpbx.lab.stream), so ``Lab.snapshot()`` is O(1) and pairs the state with
  the stream position it belongs to; the terminal console and the window read the same state.
- Children speak JSON with plain strings; the strings become enums here, at the edge
  (``ComponentStatus.parse``, ``LegState.parse``, ``Policy.parse``). A word this module does
  not know leaves the state as it was rather than failing.
- Every record keeps the sequence number (``seq``) of the event that last changed it, and a
  call keeps its events with their numbers, so a view can link a row to the log and the ladder.
- Bounded: at most ``CALL_LIMIT`` calls are kept (the oldest ended ones go first), at most
  ``MAILBOX_MESSAGE_LIMIT`` messages per mailbox.
- What the events do not say, the state cannot know: the callfwd AVP reaches it only through a
  ForwardingEvent (the lab emits one at start and on each change it makes; an ``labpbx avp``
  run from another process is not seen), and the busy/no-answer forwards come from the script
  (the default script sends both to the voicemail box; ``initial_state`` says so).
- How a call ended is labpbx.lab.calls' verdict on the call's events, the same judgement as the
  call history, re-read when a late event of the call arrives.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from labpbx.errors import LabPbxError
from labpbx.events import (
    CallStateEvent,
    ComponentEvent,
    Event,
    ForwardingEvent,
    MwiEvent,
    PolicyEvent,
    RegistrationEvent,
    RouteDecisionEvent,
    SipMessageEvent,
    TransactionEvent,
    VoicemailEvent,
    XlogEvent,
)
from labpbx.lab.calls import CallOutcome, call_is_over, header_value, summarize_call
from labpbx.lab.ladder import uri_user
from labpbx.phones.policy import Policy

CALL_LIMIT = 200
MAILBOX_MESSAGE_LIMIT = 500
VOICEMAIL = "voicemail"  # the box's component name, as the supervisor names it
LAB = "lab"  # the supervisor's own component name
SCRIPT_VOICEMAIL = "voicemail"  # where the default script sends busy and unanswered calls

Direction = Literal["incoming", "outgoing"]


_T = TypeVar("_T")
_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def replace(obj: _T, **changes: Any) -> _T:
    """``dataclasses.replace`` for this module's frozen slotted records, without its per-call
    field introspection and ``__init__``: the reducer runs for every event of the lab (thousands
    a second under a sipp load), and replace() was a third of its time. Only for these classes,
    which validate nothing in ``__init__``."""
    cls = type(obj)
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(f.name for f in dataclasses.fields(obj))  # type: ignore[arg-type]
    new = object.__new__(cls)
    setter = object.__setattr__
    for name in names:
        setter(new, name, changes[name] if name in changes else getattr(obj, name))
    return new


class ComponentStatus(enum.StrEnum):
    """Where a component (proxy, voicemail, a phone process, the lab itself) is in its life."""

    STARTING = "starting"
    READY = "ready"
    STOPPING = "stopping"
    STOPPED = "stopped"
    RESTARTED = "restarted"  # a new process is on its way up ("starting", "ready" follow)
    EXITED = "exited"  # ended without being asked (see ComponentState.crashed)
    FAILED = "failed"  # could not start, or beyond its restart budget: stays down

    @classmethod
    def parse(cls, text: str) -> ComponentStatus | None:
        """The status for a ComponentEvent's word; None for the words that are not a life
        stage (ack, error, status, audio, mwi, subscription)."""
        try:
            return cls(text)
        except ValueError:
            return None


class LegState(enum.StrEnum):
    """A call leg's state as a phone or the voicemail box reports it (CallStateEvent.state)."""

    CALLING = "calling"
    INCOMING = "incoming"
    EARLY = "early"
    CONNECTING = "connecting"
    CONFIRMED = "confirmed"
    DISCONNECTED = "disconnected"

    @classmethod
    def parse(cls, text: str) -> LegState | None:
        try:
            return cls(text)
        except ValueError:
            return None


class Activity(enum.StrEnum):
    """What an extension is doing, from its legs (an answered call wins over a ringing one)."""

    IDLE = "idle"
    CALLING = "calling"  # its own call is being set up
    RINGING = "ringing"  # a call to it has not been answered yet
    IN_CALL = "in call"


class CallPhase(enum.StrEnum):
    """Where one call through the lab is."""

    SETUP = "setup"
    RINGING = "ringing"
    CONNECTED = "connected"
    ENDED = "ended"


@dataclass(frozen=True, slots=True)
class Leg:
    """One call leg of an extension."""

    leg: str
    call_id: str
    direction: Direction
    state: LegState
    peer: str  # the other party's user part ("1000"), or its URI when it has none
    since: float  # when the leg appeared
    answered_at: float | None = None  # when it was confirmed: the start of its duration


@dataclass(frozen=True, slots=True)
class Forwarding:
    """Where calls to an extension go instead of ringing it. "" = nowhere (the phone decides)."""

    unconditional: str = ""  # the callfwd AVP's SIP URI
    busy: str = ""  # what the script does with a 486 (the default script: the voicemail box)
    no_answer: str = ""  # idem for 408/480


@dataclass(frozen=True, slots=True)
class ExtensionState:
    number: str
    phone: str = ""  # the component (phone process) that holds it
    registered: bool = False
    registration: str = ""  # the registrar's last answer ("200 OK, 300 s") or why it failed
    contact: str = ""  # the Contact it registered (from the proxy's trace; "" without one)
    policy: Policy | None = None
    ring_time: float = 0.0  # with Policy.ANSWER: seconds of ringing before it answers
    forwarding: Forwarding = Forwarding()
    legs: tuple[Leg, ...] = ()  # legs in progress, oldest first
    new_messages: int = 0  # message-waiting counts of its mailbox (MWI)
    old_messages: int = 0
    seq: int = 0

    @property
    def activity(self) -> Activity:
        states = [(leg.direction, leg.state) for leg in self.legs]
        if any(state is LegState.CONFIRMED for _d, state in states):
            return Activity.IN_CALL
        if any(d == "incoming" for d, _s in states):
            return Activity.RINGING
        return Activity.CALLING if states else Activity.IDLE

    @property
    def current_leg(self) -> Leg | None:
        """The leg the activity is about: the answered one, else the newest."""
        answered = [leg for leg in self.legs if leg.state is LegState.CONFIRMED]
        return answered[-1] if answered else (self.legs[-1] if self.legs else None)


@dataclass(frozen=True, slots=True)
class ComponentState:
    name: str
    status: ComponentStatus
    detail: str = ""
    address: str = ""
    pid: int | None = None
    exit_code: int | None = None
    exit_signal: str | None = None  # "SIGSEGV" when a signal ended it
    stderr: str = ""  # the last lines a dead process wrote (faulthandler's stacks)
    restarts: int = 0
    seq: int = 0

    @property
    def crashed(self) -> bool:
        """It died on its own: a signal nobody sent, or a non-zero exit status."""
        return self.status in (ComponentStatus.EXITED, ComponentStatus.FAILED) and (
            self.exit_signal is not None or bool(self.exit_code))


@dataclass(frozen=True, slots=True)
class VoicemailMessage:
    message_id: str
    caller: str
    greeting: str  # "busy" | "unavailable" | "default"
    duration: float
    path: str
    time: float
    call_id: str = ""
    reason: str = ""  # why it went to the box: user-busy, no-answer, unconditional


@dataclass(frozen=True, slots=True)
class MailboxState:
    mailbox: str
    messages: tuple[VoicemailMessage, ...] = ()  # those stored while this lab ran
    new_messages: int = 0  # the box's counts (its MwiEvent), +1 per stored message before it
    old_messages: int = 0
    recording: bool = False  # a caller is leaving a message now
    seq: int = 0


@dataclass(frozen=True, slots=True)
class CallSummary:
    """One call through the lab: who called whom, when, and (once over) how it ended."""

    call_id: str
    caller: str
    callee: str
    started_at: float
    phase: CallPhase = CallPhase.SETUP
    answered_at: float | None = None  # start of the running duration
    ended_at: float | None = None
    outcome: CallOutcome | None = None  # None while the call is in progress
    detail: str = ""  # e.g. "1001 busy: voicemail box b1001", "404 Not Found"
    first_seq: int = 0
    seq: int = 0
    # The call's events with their stream numbers: the ladder's input, and the verdict's.
    events: tuple[tuple[int, Event], ...] = field(default=(), repr=False, compare=False)

    @property
    def duration(self) -> float | None:
        """Seconds from answer to end; None for an unanswered or unfinished call."""
        if self.answered_at is None or self.ended_at is None:
            return None
        return max(0.0, self.ended_at - self.answered_at)


@dataclass(frozen=True, slots=True)
class LabState:
    position: int = 0  # the sequence number of the last event folded in
    extensions: Mapping[str, ExtensionState] = field(default_factory=dict)
    components: Mapping[str, ComponentState] = field(default_factory=dict)
    calls: tuple[CallSummary, ...] = ()  # oldest first
    mailboxes: Mapping[str, MailboxState] = field(default_factory=dict)

    def call(self, call_id: str) -> CallSummary | None:
        return next((c for c in reversed(self.calls) if c.call_id == call_id), None)

    @property
    def status(self) -> ComponentStatus | None:
        """The lab's own life stage (its supervisor's ComponentEvents)."""
        lab = self.components.get(LAB)
        return lab.status if lab is not None else None


def initial_state(extensions: Iterable[str] = (), *,
                  script_voicemail: bool = True) -> LabState:
    """The state before any event: the configured extensions, idle and unregistered.
    ``script_voicemail``: the routing script sends busy and unanswered calls to the box."""
    to_box = SCRIPT_VOICEMAIL if script_voicemail else ""
    forwarding = Forwarding(busy=to_box, no_answer=to_box)
    return LabState(extensions={ext: ExtensionState(ext, forwarding=forwarding)
                                for ext in extensions})


def reduce(state: LabState, seq: int, event: Event) -> LabState:
    """The state after ``event`` (stream number ``seq``). Pure; unknown events change nothing."""
    handler = _HANDLERS.get(type(event))
    if handler is None:
        return state
    new = handler(state, seq, event)
    if new is state:
        return state
    return replace(new, position=seq)


# ============================================================== extensions

def _extension(state: LabState, ext: str) -> ExtensionState:
    known = state.extensions.get(ext)
    if known is not None:
        return known
    some = next(iter(state.extensions.values()), None)  # a newcomer gets the script's forwards
    return ExtensionState(ext, forwarding=some.forwarding if some else Forwarding())


def _with_extension(state: LabState, ext: ExtensionState) -> LabState:
    return replace(state, extensions={**state.extensions, ext.number: ext})


def _on_registration(state: LabState, seq: int, event: Event) -> LabState:
    assert isinstance(event, RegistrationEvent)
    ext = _extension(state, event.ext)
    words = f"{event.status} {event.reason}".strip() if event.status else event.reason
    text = f"{words}, {event.expires} s" if event.registered and event.expires else words
    return _with_extension(state, replace(
        ext, phone=event.component, registered=event.registered, registration=text,
        contact=ext.contact if event.registered else "", seq=seq))


def _on_policy(state: LabState, seq: int, event: Event) -> LabState:
    assert isinstance(event, PolicyEvent)
    try:
        policy = Policy.parse(event.policy)
    except LabPbxError:
        return state
    ext = _extension(state, event.ext)
    return _with_extension(state, replace(ext, phone=event.component, policy=policy,
                                          ring_time=event.ring_time, seq=seq))


def _on_forwarding(state: LabState, seq: int, event: Event) -> LabState:
    assert isinstance(event, ForwardingEvent)
    ext = _extension(state, event.ext)
    return _with_extension(state, replace(
        ext, forwarding=replace(ext.forwarding, unconditional=event.target), seq=seq))


def _peer(uri: str) -> str:
    return uri_user(uri) or uri


def _on_call_state(state: LabState, seq: int, event: Event) -> LabState:
    assert isinstance(event, CallStateEvent)
    leg_state = LegState.parse(event.state)
    if leg_state is None or event.direction not in ("incoming", "outgoing"):
        return state
    state = _on_call_event(state, seq, event)
    if event.component == VOICEMAIL:
        return state  # the box's legs are not an extension's (its ext is the R-URI user)
    ext = _extension(state, event.ext)
    legs = [leg for leg in ext.legs if leg.leg != event.leg]
    if leg_state is not LegState.DISCONNECTED:
        old = next((leg for leg in ext.legs if leg.leg == event.leg), None)
        answered = old.answered_at if old is not None else None
        if answered is None and leg_state is LegState.CONFIRMED:
            answered = event.time
        direction: Direction = "incoming" if event.direction == "incoming" else "outgoing"
        legs.append(Leg(event.leg, event.call_id, direction, leg_state, _peer(event.remote),
                        old.since if old is not None else event.time, answered))
        legs.sort(key=lambda leg: leg.since)
    return _with_extension(state, replace(ext, phone=event.component, legs=tuple(legs), seq=seq))


def _on_sip(state: LabState, seq: int, event: Event) -> LabState:
    assert isinstance(event, SipMessageEvent)
    if (event.component == "proxy" and event.direction == "in"
            and event.summary.startswith("REGISTER ")):
        # Who registered from where: the registrar's RegistrationEvent has no Contact.
        user = uri_user(_name_addr_uri(header_value(event.raw, "to", "t") or ""))
        contact = _name_addr_uri(header_value(event.raw, "contact", "m") or "")
        ext = state.extensions.get(user)
        if ext is not None and contact and contact != "*" and contact != ext.contact:
            state = _with_extension(state, replace(ext, contact=contact, seq=seq))
        return state
    return _on_call_event(state, seq, event)


def _name_addr_uri(value: str) -> str:
    start, end = value.find("<"), value.find(">")
    if 0 <= start < end:
        return value[start + 1:end]
    return value.split(";", 1)[0].strip()


# ============================================================== calls

def _starts_call(event: Event) -> bool:
    """Whether ``event`` opens a call the state does not know yet: a lab phone placing it, or
    the proxy receiving its INVITE (a softphone's call)."""
    if isinstance(event, CallStateEvent):
        return event.direction == "outgoing" and event.component != VOICEMAIL
    return (isinstance(event, SipMessageEvent) and event.component == "proxy"
            and event.direction == "in" and event.summary.startswith("INVITE "))


def _may_end_call(event: Event) -> bool:
    if isinstance(event, CallStateEvent):
        return event.state == "disconnected"
    return (isinstance(event, SipMessageEvent) and event.direction == "out"
            and event.summary[:1] in "23456")


def _on_call_event(state: LabState, seq: int, event: Event) -> LabState:
    """Add an event that carries a Call-ID to its call (opening the call when it starts one)."""
    call_id: str = getattr(event, "call_id", "")
    if not call_id:
        return state
    index = next((i for i in range(len(state.calls) - 1, -1, -1)
                  if state.calls[i].call_id == call_id), None)
    if index is None:
        if not _starts_call(event):
            return state  # REGISTER, SUBSCRIBE, NOTIFY, OPTIONS: not a call
        call = CallSummary(call_id, "", "", event.time, first_seq=seq)
    else:
        call = state.calls[index]
    call = _advance(replace(call, events=(*call.events, (seq, event)), seq=seq), event)
    if index is None:
        return replace(state, calls=_bounded((*state.calls, call)))
    return replace(state, calls=(*state.calls[:index], call, *state.calls[index + 1:]))


def _advance(call: CallSummary, event: Event) -> CallSummary:
    # Over once the caller's leg (or the proxy's trace) says so; an ended call's verdict is read
    # again on each late event (the proxy's last messages may come after the phone's).
    ending = call.phase is CallPhase.ENDED or _may_end_call(event)
    events = [e for _s, e in call.events] if ending else []
    if call.phase is CallPhase.ENDED or (ending and call_is_over(events, call.call_id)):
        verdict = summarize_call(events, call.call_id)
        if verdict is not None:
            return replace(call, caller=verdict.caller, callee=verdict.callee,
                           ended_at=verdict.ended_at, outcome=verdict.outcome,
                           detail=verdict.detail, phase=CallPhase.ENDED)
    caller, callee = call.caller, call.callee
    phase, answered = call.phase, call.answered_at
    if isinstance(event, CallStateEvent):
        if event.direction == "outgoing" and event.component != VOICEMAIL:
            caller = caller or event.ext
            callee = callee or _peer(event.remote)
        if event.state == "early" and phase is CallPhase.SETUP:
            phase = CallPhase.RINGING
        if event.state == "confirmed" and answered is None:
            phase, answered = CallPhase.CONNECTED, event.time
    elif isinstance(event, SipMessageEvent) and event.summary.startswith("INVITE "):
        callee = callee or uri_user(event.summary.partition(" ")[2])
        caller = caller or uri_user(_name_addr_uri(header_value(event.raw, "from", "f") or ""))
    if (caller, callee, phase, answered) == (call.caller, call.callee, call.phase,
                                             call.answered_at):
        return call
    return replace(call, caller=caller, callee=callee, phase=phase, answered_at=answered)


def _bounded(calls: tuple[CallSummary, ...]) -> tuple[CallSummary, ...]:
    if len(calls) <= CALL_LIMIT:
        return calls
    ended = next((i for i, c in enumerate(calls) if c.phase is CallPhase.ENDED), 0)
    return calls[:ended] + calls[ended + 1:]


# ============================================================== voicemail

def _mailbox(state: LabState, name: str) -> MailboxState:
    return state.mailboxes.get(name) or MailboxState(name)


def _with_mailbox(state: LabState, box: MailboxState, seq: int) -> LabState:
    state = replace(state, mailboxes={**state.mailboxes, box.mailbox: box})
    ext = state.extensions.get(box.mailbox)
    if ext is not None and (ext.new_messages, ext.old_messages) != (box.new_messages,
                                                                     box.old_messages):
        state = _with_extension(state, replace(ext, new_messages=box.new_messages,
                                               old_messages=box.old_messages, seq=seq))
    return state


def _on_voicemail(state: LabState, seq: int, event: Event) -> LabState:
    assert isinstance(event, VoicemailEvent)
    state = _on_call_event(state, seq, event)
    box = _mailbox(state, event.mailbox)
    if event.status == "recording":
        return _with_mailbox(state, replace(box, recording=True, seq=seq), seq)
    if event.status == "stored":
        message = VoicemailMessage(event.message_id, _peer(event.caller), event.greeting,
                                   event.duration, event.path, event.time, event.call_id,
                                   event.reason)
        messages = (*box.messages, message)[-MAILBOX_MESSAGE_LIMIT:]
        return _with_mailbox(state, replace(box, messages=messages, recording=False,
                                            new_messages=box.new_messages + 1, seq=seq), seq)
    if event.status in ("empty", "failed", "refused"):
        return _with_mailbox(state, replace(box, recording=False, seq=seq), seq)
    return state


def _on_mwi(state: LabState, seq: int, event: Event) -> LabState:
    # The box's count after a stored message, and the phone's NOTIFY: the same store's numbers.
    assert isinstance(event, MwiEvent)
    box = _mailbox(state, event.mailbox)
    return _with_mailbox(state, replace(box, new_messages=event.new_messages,
                                        old_messages=event.old_messages, seq=seq), seq)


# ============================================================== components

def _on_component(state: LabState, seq: int, event: Event) -> LabState:
    assert isinstance(event, ComponentEvent)
    status = ComponentStatus.parse(event.status)
    if status is None:
        return state  # acks, status answers, audio reports: not a life stage
    old = state.components.get(event.component)
    extra = event.extra
    pid = extra.get("pid")
    code, signal = extra.get("code"), extra.get("signal")
    restarts = extra.get("restarts")
    component = ComponentState(
        event.component, status, event.detail,
        event.address or (old.address if old is not None and status is not ComponentStatus.STARTING
                          else ""),
        pid if isinstance(pid, int) else (old.pid if old is not None else None),
        code if isinstance(code, int) else None,
        signal if isinstance(signal, str) else None,
        str(extra.get("stderr", "")),
        restarts if isinstance(restarts, int) else (old.restarts if old is not None else 0),
        seq)
    state = replace(state, components={**state.components, event.component: component})
    if event.component == LAB and status is ComponentStatus.STARTING:
        for ext in extra.get("extensions", ()):
            if isinstance(ext, str) and ext not in state.extensions:
                state = _with_extension(state, _extension(state, ext))
    if status in (ComponentStatus.EXITED, ComponentStatus.FAILED, ComponentStatus.RESTARTED):
        # A dead phone process holds no call any more.
        for ext in state.extensions.values():
            if ext.phone == event.component and ext.legs:
                state = _with_extension(state, replace(ext, legs=(), seq=seq))
    return state


_HANDLERS: dict[type[Event], Callable[[LabState, int, Event], LabState]] = {
    # a routing decision, an xlog line, a transaction milestone: part of their call's events
    RouteDecisionEvent: _on_call_event,
    XlogEvent: _on_call_event,
    TransactionEvent: _on_call_event,
    RegistrationEvent: _on_registration,
    PolicyEvent: _on_policy,
    ForwardingEvent: _on_forwarding,
    CallStateEvent: _on_call_state,
    SipMessageEvent: _on_sip,
    VoicemailEvent: _on_voicemail,
    MwiEvent: _on_mwi,
    ComponentEvent: _on_component,
}
