"""What a running lab can be told to do by its users: calls, policies, answer/reject/hang up, call
forwarding provisioning and per-call queries. ``Lab`` (labpbx.lab.supervisor) inherits these; this
module holds no state of its own, only the attributes declared below, which ``Lab`` owns.

Commands are sent to the phone process that holds the extension (or the leg). The plain
methods wait for its acknowledgement (labpbx.lab.acks); a refused command raises LabError naming
the component. Their ``*_async`` twins (call_async, set_policy_async, answer_async, reject_async,
hangup_async, hangup_ext_async, reload_script_async) return at once with a
``concurrent.futures.Future`` that the child's answer settles (a LabError when it refuses, exits
or does not answer in time), for a view that must never block; both share the code that turns an
ack into a result. A wrong extension or leg still raises at once, before anything is sent.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, TypeVar

from labpbx.errors import LabPbxError, StoreError
from labpbx.events import ComponentEvent, Event, ForwardingEvent, ProblemEvent
from labpbx.lab.acks import Acks
from labpbx.lab.children import ChildGone
from labpbx.lab.config import HOST, VOICEMAIL_NUMBER, LabConfig, LabError
from labpbx.lab.ladder import select_call
from labpbx.lab.provisioning import Provisioning, ProvisioningError, forwarding_targets
from labpbx.lab.registrations import Registrations
from labpbx.phones.policy import DEFAULT_RING_TIME, Policy
from labpbx.store.records import AvpRow

if TYPE_CHECKING:
    from labpbx.lab.children import ChildProcess
    from labpbx.lab.stream import Snapshot
    from labpbx.store.db import LabStore

COMPONENT = "lab"
COMMAND_TIMEOUT = 5.0

A = TypeVar("A")
B = TypeVar("B")


def then(future: Future[A], step: Callable[[A], B]) -> Future[B]:
    """A future of ``step(result)``, settled when ``future`` is (its exception passes through;
    an exception of ``step`` becomes the new future's). ``step`` runs on the settling thread."""
    out: Future[B] = Future()
    out.set_running_or_notify_cancel()

    def settle(done: Future[A]) -> None:
        failure = done.exception()
        if failure is not None:
            out.set_exception(failure)
            return
        try:
            out.set_result(step(done.result()))
        except Exception as exc:
            out.set_exception(exc)

    future.add_done_callback(settle)
    return out


class LabCommands:
    config: LabConfig
    _acks: Acks
    _plan: Registrations
    _plan_lock: threading.RLock
    _legs: dict[str, str]

    if TYPE_CHECKING:
        def child(self, name: str) -> ChildProcess: ...

        @property
        def store(self) -> LabStore: ...

        def events(self, after: int = 0) -> list[Event]: ...

        def snapshot(self) -> Snapshot: ...

        def _emit(self, event: Event) -> None: ...

        def _wake(self) -> None: ...


    def _command(self, name: str, payload: dict[str, Any],
                 timeout: float = COMMAND_TIMEOUT) -> ComponentEvent:
        """Send a command to a child and wait for its ack; LabError on error/exit/timeout."""
        return self._acks.request(self.child(name), payload, timeout)

    def _command_async(self, name: str, payload: dict[str, Any],
                       timeout: float = COMMAND_TIMEOUT) -> Future[ComponentEvent]:
        """Send a command to a child; the future settles on its ack (or a LabError)."""
        future = self._acks.submit(self.child(name), payload, timeout)
        self._wake()  # its timeout is now the dispatcher's earliest deadline, perhaps
        return future

    def phone_of(self, ext: str) -> str:
        """The component name of the phone process that holds ``ext``."""
        return self._phone_of(ext)

    def _phone_of(self, ext: str) -> str:
        try:
            return self._plan.phone_of(ext)
        except KeyError:
            raise LabError(f"{ext} is not an extension of this lab "
                           f"({', '.join(self.config.extensions)})", COMPONENT) from None

    def _phone_of_leg(self, leg: str) -> str:
        phone = self._legs.get(leg)
        if phone is not None:
            return phone
        ext = leg.rpartition("-")[0]  # the phones name their legs "<ext>-<n>"
        return self._phone_of(ext)

    def call(self, from_ext: str, to: str, timeout: float = COMMAND_TIMEOUT) -> str:
        """Place a call from a lab extension to ``to`` (an extension, a number or a loopback
        sip: URI) through the proxy. Returns the caller's leg id (CallStateEvent.leg)."""
        phone = self._phone_of(from_ext)
        ack = self._command(phone, self._call_payload(from_ext, to), timeout)
        return self._placed(phone, ack)

    def call_async(self, from_ext: str, to: str,
                   timeout: float = COMMAND_TIMEOUT) -> Future[str]:
        """``call`` without waiting: the future's result is the caller's leg id."""
        phone = self._phone_of(from_ext)
        ack = self._command_async(phone, self._call_payload(from_ext, to), timeout)
        return then(ack, lambda answer: self._placed(phone, answer))

    @staticmethod
    def _call_payload(from_ext: str, to: str) -> dict[str, Any]:
        return {"cmd": "call", "ext": from_ext, "to": to}

    def _placed(self, phone: str, ack: ComponentEvent) -> str:
        leg = str(ack.extra.get("leg", ""))
        if not leg:
            raise LabError(f"{phone} placed the call but reported no leg id", phone)
        self._legs[leg] = phone
        return leg

    def set_policy(self, ext: str, policy: Policy | str,
                   ring_time: float = DEFAULT_RING_TIME) -> None:
        """How ``ext`` answers from now on (answer, busy, ring, unavailable, dnd, offline)."""
        self._command(*self._policy_command(ext, policy, ring_time))

    def set_policy_async(self, ext: str, policy: Policy | str,
                         ring_time: float = DEFAULT_RING_TIME) -> Future[None]:
        return then(self._command_async(*self._policy_command(ext, policy, ring_time)), _none)

    def _policy_command(self, ext: str, policy: Policy | str,
                        ring_time: float) -> tuple[str, dict[str, Any]]:
        phone = self._phone_of(ext)
        try:
            chosen = policy if isinstance(policy, Policy) else Policy.parse(policy)
        except LabPbxError as exc:
            raise LabError(str(exc), phone) from None
        with self._plan_lock:
            self._plan.on_user_policy(ext, chosen, ring_time)
        return phone, {"cmd": "policy", "ext": ext, "policy": chosen.value,
                       "ring_time": ring_time}

    def answer(self, leg: str) -> None:
        self._command(self._phone_of_leg(leg), {"cmd": "answer", "leg": leg})

    def answer_async(self, leg: str) -> Future[None]:
        return then(self._command_async(self._phone_of_leg(leg),
                                        {"cmd": "answer", "leg": leg}), _none)

    def reject(self, leg: str, code: int = 486) -> None:
        self._command(self._phone_of_leg(leg), {"cmd": "reject", "leg": leg, "code": code})

    def reject_async(self, leg: str, code: int = 486) -> Future[None]:
        return then(self._command_async(self._phone_of_leg(leg),
                                        {"cmd": "reject", "leg": leg, "code": code}), _none)

    def hangup(self, leg: str) -> None:
        self._command(self._phone_of_leg(leg), {"cmd": "hangup", "leg": leg})

    def hangup_async(self, leg: str) -> Future[None]:
        return then(self._command_async(self._phone_of_leg(leg),
                                        {"cmd": "hangup", "leg": leg}), _none)

    def hangup_ext(self, ext: str) -> int:
        """Hang up every call of ``ext``; returns how many legs."""
        ack = self._command(self._phone_of(ext), {"cmd": "hangup", "ext": ext})
        return _count(ack)

    def hangup_ext_async(self, ext: str) -> Future[int]:
        return then(self._command_async(self._phone_of(ext), {"cmd": "hangup", "ext": ext}),
                    _count)

    def provision_callfwd(self, ext: str, target: str = VOICEMAIL_NUMBER) -> AvpRow:
        """``opensipsctl avp add -T usr_preferences <ext>@127.0.0.1 callfwd 0 sip:<target>@…``:
        calls to ``ext`` are forwarded unconditionally (replaces an earlier callfwd of ``ext``)."""
        value = target if target.startswith(("sip:", "sips:")) else f"sip:{target}@{HOST}"
        owner = f"{ext}@{HOST}"
        try:
            self.store.avp_rm(owner=owner, attribute="callfwd")
            row = self.store.avp_add(owner, "callfwd", 0, value)
        except (StoreError, ValueError) as exc:
            raise LabError(f"cannot provision callfwd for {ext}: {exc}", "store") from exc
        self._emit(ForwardingEvent(time.time(), COMPONENT, ext, row.value))
        return row

    def clear_callfwd(self, ext: str) -> int:
        """Remove the callfwd AVP of ``ext``; returns how many rows went."""
        removed = self.store.avp_rm(owner=f"{ext}@{HOST}", attribute="callfwd")
        self._emit(ForwardingEvent(time.time(), COMPONENT, ext, ""))
        return removed

    def sync_forwarding(self) -> int:
        """Tell the lab state about callfwd rows changed behind its back (the provisioning
        table, ``labpbx avp`` in a terminal): a ForwardingEvent for each extension whose
        unconditional forward differs from the state's. Reads the store, waits for nobody;
        returns how many events it emitted (0 when the file cannot be read)."""
        try:
            rows = Provisioning(self.store.path.parent).rows()
        except ProvisioningError:
            return 0
        state = self.snapshot().state
        changed = 0
        for ext, target in forwarding_targets(rows, self.config.extensions).items():
            known = state.extensions.get(ext)
            if known is None or known.forwarding.unconditional != target:
                self._emit(ForwardingEvent(time.time(), COMPONENT, ext, target))
                changed += 1
        return changed

    def refresh_mwi(self, mailbox: str) -> None:
        """Ask the voicemail box to count ``mailbox``'s messages again and NOTIFY the phone
        (after a message was marked heard or deleted): the box stays the owner of message
        waiting; its MwiEvent updates the state. Fire-and-forget: a box that refuses says so
        with a ProblemEvent; a box that is down (restarting) misses this one."""
        with contextlib.suppress(ChildGone, LabError):
            self.child("voicemail").send({"cmd": "mwi", "mailbox": mailbox})

    def _announce_forwarding(self) -> None:
        """A ForwardingEvent per extension with a callfwd AVP in the store (at start), so the
        lab state knows the forwards provisioned before this run."""
        try:
            rows = self.store.avp_list(attribute="callfwd")
        except (StoreError, ValueError, OSError) as exc:
            self._emit(ProblemEvent(time.time(), COMPONENT, "warning",
                                    f"the callfwd AVPs cannot be read: {exc}"))
            return
        for row in rows:
            if row.username in self.config.extensions and row.domain == HOST:
                self._emit(ForwardingEvent(time.time(), COMPONENT, row.username, row.value))

    def call_events(self, call_id: str) -> list[Event]:
        """Every event of one call (with its voicemail message), for the ladder."""
        return select_call(self.events(), call_id)

    def registered(self) -> dict[str, bool]:
        with self._plan_lock:
            return {ext: x.registered for ext, x in self._plan.exts.items()}


def _none(_ack: ComponentEvent) -> None:
    return None


def _count(ack: ComponentEvent) -> int:
    return int(ack.extra.get("count", 0))
