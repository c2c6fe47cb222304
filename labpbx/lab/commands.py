"""What a running lab can be told to do by its users: calls, policies, answer/reject/hang up, call
forwarding provisioning and per-call queries. ``Lab`` (labpbx.lab.supervisor) inherits these; this
module holds no state of its own, only the attributes declared below, which ``Lab`` owns.

Commands are sent to the phone process that holds the extension (or the leg) and wait for its
acknowledgement (labpbx.lab.acks); a refused command raises LabError naming the component.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from labpbx.errors import LabPbxError, StoreError
from labpbx.events import ComponentEvent, Event
from labpbx.lab.acks import Acks
from labpbx.lab.config import HOST, VOICEMAIL_NUMBER, LabConfig, LabError
from labpbx.lab.ladder import select_call
from labpbx.lab.registrations import Registrations
from labpbx.phones.policy import DEFAULT_RING_TIME, Policy
from labpbx.store.records import AvpRow

if TYPE_CHECKING:
    from labpbx.lab.children import ChildProcess
    from labpbx.store.db import LabStore

COMPONENT = "lab"
COMMAND_TIMEOUT = 5.0


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


    def _command(self, name: str, payload: dict[str, Any],
                 timeout: float = COMMAND_TIMEOUT) -> ComponentEvent:
        """Send a command to a child and wait for its ack; LabError on error/exit/timeout."""
        return self._acks.request(self.child(name), payload, timeout)

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
        ack = self._command(phone, {"cmd": "call", "ext": from_ext, "to": to}, timeout)
        leg = str(ack.extra.get("leg", ""))
        if not leg:
            raise LabError(f"{phone} placed the call but reported no leg id", phone)
        self._legs[leg] = phone
        return leg

    def set_policy(self, ext: str, policy: Policy | str,
                   ring_time: float = DEFAULT_RING_TIME) -> None:
        """How ``ext`` answers from now on (answer, busy, ring, unavailable, dnd, offline)."""
        phone = self._phone_of(ext)
        try:
            chosen = policy if isinstance(policy, Policy) else Policy.parse(policy)
        except LabPbxError as exc:
            raise LabError(str(exc), phone) from None
        with self._plan_lock:
            self._plan.on_user_policy(ext, chosen, ring_time)
        self._command(phone, {"cmd": "policy", "ext": ext, "policy": chosen.value,
                              "ring_time": ring_time})

    def answer(self, leg: str) -> None:
        self._command(self._phone_of_leg(leg), {"cmd": "answer", "leg": leg})

    def reject(self, leg: str, code: int = 486) -> None:
        self._command(self._phone_of_leg(leg), {"cmd": "reject", "leg": leg, "code": code})

    def hangup(self, leg: str) -> None:
        self._command(self._phone_of_leg(leg), {"cmd": "hangup", "leg": leg})

    def hangup_ext(self, ext: str) -> int:
        """Hang up every call of ``ext``; returns how many legs."""
        ack = self._command(self._phone_of(ext), {"cmd": "hangup", "ext": ext})
        return int(ack.extra.get("count", 0))


    def provision_callfwd(self, ext: str, target: str = VOICEMAIL_NUMBER) -> AvpRow:
        """``opensipsctl avp add -T usr_preferences <ext>@127.0.0.1 callfwd 0 sip:<target>@…``:
        calls to ``ext`` are forwarded unconditionally (replaces an earlier callfwd of ``ext``)."""
        value = target if target.startswith(("sip:", "sips:")) else f"sip:{target}@{HOST}"
        owner = f"{ext}@{HOST}"
        try:
            self.store.avp_rm(owner=owner, attribute="callfwd")
            return self.store.avp_add(owner, "callfwd", 0, value)
        except (StoreError, ValueError) as exc:
            raise LabError(f"cannot provision callfwd for {ext}: {exc}", "store") from exc

    def clear_callfwd(self, ext: str) -> int:
        """Remove the callfwd AVP of ``ext``; returns how many rows went."""
        return self.store.avp_rm(owner=f"{ext}@{HOST}", attribute="callfwd")

    def call_events(self, call_id: str) -> list[Event]:
        """Every event of one call (with its voicemail message), for the ladder."""
        return select_call(self.events(), call_id)

    def registered(self) -> dict[str, bool]:
        with self._plan_lock:
            return {ext: x.registered for ext, x in self._plan.exts.items()}
