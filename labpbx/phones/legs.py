"""The bookkeeping of a phone process: its extensions and its call legs (no pjsua2 here).

Rules of this module:
- Pure: the agent stores its pjsua2 objects in ``Extension.account``, ``Leg.call`` and
  ``Leg.player`` as opaque values; this module never calls them. It only decides ids, counts,
  states and lookups, so those rules are unit-tested without a SIP stack.
- A leg's ``call`` is the one strong reference that keeps a pjsua2 Call alive (a collected Call
  hangs up). ``drop_dead()`` lets go of legs that reported DISCONNECTED; the agent calls it at the
  start of a pump, never inside the callback that reported it (PJSUA2.md, "Object lifetimes").
- Leg ids are ``<ext>-<n>``, unique for the life of the process and never reused.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from labpbx.phones.commands import PhoneError
from labpbx.phones.policy import DEFAULT_RING_TIME, Policy

STATES = ("calling", "incoming", "early", "connecting", "confirmed", "disconnected")
UNANSWERED = ("incoming", "early")


@dataclass(eq=False)
class Extension:
    ext: str
    policy: Policy
    ring_time: float
    account: Any = None  # the agent's pjsua2 Account
    reg_started: bool = False  # its first REGISTER went out (or failed to)
    registered: bool = False


@dataclass(eq=False)
class Leg:
    id: str
    ext: str
    direction: str  # "outgoing" | "incoming"
    call: Any = None  # the agent's pjsua2 Call: the reference that keeps it alive
    call_id: str = ""  # the SIP Call-ID
    remote: str = ""
    state: str = ""
    status: int = -1
    player: Any = None  # the agent's pjsua2 AudioMediaPlayer for this call's voice
    voice_failed: bool = False

    @property
    def done(self) -> bool:
        return self.state == "disconnected"


class Book:
    """Extensions and live legs of one phone process."""

    def __init__(self, exts: list[str], policies: Mapping[str, tuple[Policy, float]]) -> None:
        self.exts: dict[str, Extension] = {}
        for ext in exts:
            policy, ring = policies.get(ext, (Policy.ANSWER, DEFAULT_RING_TIME))
            self.exts[ext] = Extension(ext, policy, ring)
        self.legs: dict[str, Leg] = {}
        self._dead: list[str] = []
        self._seq = itertools.count(1)

    # ---------------------------------------------------------------------------- lookups
    def ext(self, ext: str) -> Extension:
        try:
            return self.exts[ext]
        except KeyError:
            raise PhoneError(f"this phone has no extension {ext!r}"
                             f" (it has {', '.join(self.exts)})") from None

    def leg(self, leg_id: str) -> Leg:
        leg = self.legs.get(leg_id)
        if leg is None or leg.call is None:
            raise PhoneError(f"no call leg {leg_id!r}")
        return leg

    def unanswered(self, leg_id: str, what: str) -> Leg:
        """A ringing incoming leg, or PhoneError saying why ``what`` cannot be done to it."""
        leg = self.leg(leg_id)
        if leg.direction != "incoming" or leg.state not in UNANSWERED:
            raise PhoneError(f"cannot {what} {leg_id}: it is an {leg.direction} leg in state"
                             f" {leg.state!r}; only a ringing incoming leg can be answered"
                             " or rejected")
        return leg

    def active(self) -> int:
        """Legs not yet DISCONNECTED."""
        return sum(1 for leg in self.legs.values() if not leg.done)

    def live_legs(self, ext: str | None = None) -> list[Leg]:
        return [leg for leg in self.legs.values()
                if not leg.done and (ext is None or leg.ext == ext)]

    # ---------------------------------------------------------------------------- changes
    def add_leg(self, ext: str, direction: str) -> Leg:
        """Register a new leg before its Call exists: callbacks may fire while it is made."""
        leg = Leg(f"{ext}-{next(self._seq)}", ext, direction)
        self.legs[leg.id] = leg
        return leg

    def forget(self, leg_id: str) -> None:
        """Drop a leg whose Call never got a pjsua2 slot (making it failed)."""
        leg = self.legs.pop(leg_id, None)
        if leg is not None:
            leg.call = leg.player = None

    def transition(self, leg: Leg, state: str, status: int) -> bool:
        """Record a state report; False when it repeats what is known (no event to emit).

        pjsua may report INCOMING twice (with and without 100 Trying) and repeat a state with the
        same status; nothing is reported after DISCONNECTED. A DISCONNECTED leg is queued for
        ``drop_dead()``.
        """
        if state not in STATES:
            raise ValueError(f"unknown call state {state!r}")
        if leg.done or (state == leg.state and (state == "incoming" or status == leg.status)):
            return False
        leg.state, leg.status = state, status
        if state == "disconnected":
            self._dead.append(leg.id)
        return True

    def drop_dead(self) -> None:
        """Let go of the pjsua2 objects of legs that reported DISCONNECTED since the last call."""
        while self._dead:
            self.forget(self._dead.pop())

    def clear(self) -> None:
        """Drop every leg (shutdown, after hangupAllCalls)."""
        for leg_id in list(self.legs):
            self.forget(leg_id)
        self._dead.clear()

    # ---------------------------------------------------------------------------- views
    def all_started(self) -> bool:
        """Every extension that should register has sent its first REGISTER."""
        return all(x.reg_started or not x.policy.registers for x in self.exts.values())

    def snapshot(self) -> dict[str, Any]:
        return {
            "exts": {x.ext: {"policy": x.policy.value, "ring_time": x.ring_time,
                             "registered": x.registered} for x in self.exts.values()},
            "legs": [{"leg": leg.id, "ext": leg.ext, "direction": leg.direction,
                      "state": leg.state, "call_id": leg.call_id, "remote": leg.remote}
                     for leg in self.live_legs()],
        }
