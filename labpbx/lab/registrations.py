"""Which extension must (re-)register when, decided without I/O: the supervisor's registration plan.

Why this exists: the phones, the proxy and the voicemail box start in parallel, and the proxy
keeps its location table in memory (a restarted proxy has forgotten every binding). A phone
cannot be told "register again" directly; what it offers is its answering policy, and leaving or
entering "offline" (un)registers (labpbx.phones.agent.set_policy). So:

Rules of this module:
- Pure: no clock (``now`` is an argument), no processes. The supervisor feeds it facts (proxy
  ready/down, phone ready/down, RegistrationEvent, PolicyEvent) and carries out the returned
  ``SendPolicy`` actions by writing to the phone's stdin.
- A phone started while the proxy is not listening starts with every extension "offline" (no
  REGISTER into the void, whose retransmission would cost 0.5 s); once both are ready the wanted
  policy is sent and the REGISTER goes out at once.
- After a proxy (re)start every extension registered with an earlier proxy is re-registered:
  "offline" first (un-REGISTER), then — only once that transaction has ended, because pjsua
  refuses a new registration while one is in flight ("Object is busy") — the wanted policy.
  If no RegistrationEvent ends the un-REGISTER within ``UNREGISTER_GRACE`` seconds, the wanted
  policy is sent anyway.
- The "offline" PolicyEvents these internal steps cause are hidden from the lab's event stream
  (``on_policy`` returns False): the learner did not switch anything off.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from labpbx.phones.policy import Policy

UNREGISTER_GRACE = 2.0  # seconds to wait for the un-REGISTER's answer before registering anyway


class Need(enum.Enum):
    NOTHING = "nothing"
    REGISTER = "register"  # the phone holds "offline" only because the proxy was not ready
    REREGISTER = "reregister"  # registered with an earlier proxy: un-REGISTER, then REGISTER
    AWAIT_UNREGISTER = "await-unregister"  # "offline" sent; waiting for its RegistrationEvent


@dataclass(frozen=True, slots=True)
class SendPolicy:
    """Write ``{"cmd": "policy", …}`` to ``phone``. ``internal`` = a step of this plan, not the
    user's wish (its ack and its "offline" PolicyEvent are not shown)."""

    phone: str
    ext: str
    policy: Policy
    ring_time: float
    internal: bool = True


@dataclass(slots=True)
class ExtState:
    ext: str
    phone: str
    wanted: Policy
    ring_time: float
    phone_policy: Policy | None = None  # what the phone process holds now (its PolicyEvents)
    registered: bool = False
    need: Need = Need.NOTHING
    deadline: float | None = None
    hide_offline: int = 0  # "offline" PolicyEvents still to hide


class Registrations:
    """The registration plan of one lab. Call the ``on_*`` methods from one thread only."""

    def __init__(self, phones: Mapping[str, Sequence[str]],
                 wanted: Mapping[str, tuple[Policy, float]]) -> None:
        self.exts: dict[str, ExtState] = {}
        for phone, exts in phones.items():
            for ext in exts:
                policy, ring = wanted[ext]
                self.exts[ext] = ExtState(ext, phone, policy, ring)
        self.phone_ready: dict[str, bool] = dict.fromkeys(phones, False)
        self.proxy_ready = False
        self.proxy_epoch = 0

    # --- facts ------------------------------------------------------------------------------

    def spawn_policies(self, phone: str) -> dict[str, tuple[Policy, float]]:
        """The ``--policy`` values to start ``phone`` with (call just before spawning it)."""
        self.phone_ready[phone] = False
        out: dict[str, tuple[Policy, float]] = {}
        for x in self._of(phone):
            x.registered = False
            x.deadline = None
            if self.proxy_ready or not x.wanted.registers:
                x.need = Need.NOTHING
                x.hide_offline = 0
                x.phone_policy = x.wanted
                out[x.ext] = (x.wanted, x.ring_time)
            else:
                x.need = Need.REGISTER
                x.phone_policy = Policy.OFFLINE
                x.hide_offline = 1  # the new process announces its start policy once
                out[x.ext] = (Policy.OFFLINE, x.ring_time)
        return out

    def on_phone_ready(self, phone: str, now: float) -> list[SendPolicy]:
        self.phone_ready[phone] = True
        return self._drive(now)

    def on_phone_down(self, phone: str) -> None:
        self.phone_ready[phone] = False
        for x in self._of(phone):
            x.registered = False

    def on_proxy_down(self) -> None:
        self.proxy_ready = False

    def on_proxy_ready(self, now: float) -> list[SendPolicy]:
        """A proxy (the first or a restarted one) listens: plan every registration anew."""
        self.proxy_ready = True
        self.proxy_epoch += 1
        for x in self.exts.values():
            x.registered = False
            x.deadline = None
            if not x.wanted.registers:
                x.need = Need.NOTHING
            elif x.phone_policy is None or not x.phone_policy.registers:
                x.need = Need.REGISTER
            else:
                # Registered with an earlier proxy (whose bindings died with it), or a REGISTER
                # that may have gone out before this proxy listened: register anew, for certain
                # rather than at pjsua's next retry.
                x.need = Need.REREGISTER
        return self._drive(now)

    def on_registration(self, ext: str, registered: bool, now: float) -> list[SendPolicy]:
        x = self.exts.get(ext)
        if x is None:
            return []
        x.registered = registered
        if x.need is Need.AWAIT_UNREGISTER and not registered:
            x.need = Need.REGISTER
        elif registered and x.need in (Need.REGISTER, Need.REREGISTER):
            x.need = Need.NOTHING  # registered on its own (e.g. a REGISTER retransmission)
        return self._drive(now)

    def on_policy(self, ext: str, policy: Policy, ring_time: float) -> bool:
        """A PolicyEvent from the phone. Returns whether the lab's stream should show it."""
        x = self.exts.get(ext)
        if x is None:
            return True
        x.phone_policy = policy
        if policy is Policy.OFFLINE and x.hide_offline > 0:
            x.hide_offline -= 1
            return False
        return True

    def on_user_policy(self, ext: str, policy: Policy, ring_time: float) -> None:
        """The user set a policy (the supervisor sends it itself): it becomes the wanted one."""
        x = self.exts[ext]
        x.wanted, x.ring_time = policy, ring_time
        if x.need is not Need.AWAIT_UNREGISTER:
            x.need = Need.NOTHING
            x.deadline = None
            x.hide_offline = 0  # from now on an "offline" is the user's own

    def on_tick(self, now: float) -> list[SendPolicy]:
        """Call when ``next_deadline()`` has passed."""
        for x in self.exts.values():
            if x.need is Need.AWAIT_UNREGISTER and x.deadline is not None and now >= x.deadline:
                x.need = Need.REGISTER
        return self._drive(now)

    # --- questions ----------------------------------------------------------------------------

    def next_deadline(self) -> float | None:
        deadlines = [x.deadline for x in self.exts.values()
                     if x.need is Need.AWAIT_UNREGISTER and x.deadline is not None]
        return min(deadlines) if deadlines else None

    def unregistered(self) -> list[str]:
        """Extensions that should be registered with the current proxy and are not (yet)."""
        return [x.ext for x in self.exts.values() if x.wanted.registers and not x.registered]

    def all_registered(self) -> bool:
        return self.proxy_ready and not self.unregistered()

    def phone_of(self, ext: str) -> str:
        return self.exts[ext].phone

    def wanted(self, ext: str) -> tuple[Policy, float]:
        x = self.exts[ext]
        return x.wanted, x.ring_time

    # --- the plan -----------------------------------------------------------------------------

    def _of(self, phone: str) -> list[ExtState]:
        return [x for x in self.exts.values() if x.phone == phone]

    def _drive(self, now: float) -> list[SendPolicy]:
        if not self.proxy_ready:
            return []
        actions: list[SendPolicy] = []
        for x in self.exts.values():
            if not self.phone_ready.get(x.phone):
                continue
            if x.need is Need.REGISTER:
                x.need = Need.NOTHING
                actions.append(SendPolicy(x.phone, x.ext, x.wanted, x.ring_time))
            elif x.need is Need.REREGISTER:
                x.need = Need.AWAIT_UNREGISTER
                x.deadline = now + UNREGISTER_GRACE
                x.hide_offline += 1
                actions.append(SendPolicy(x.phone, x.ext, Policy.OFFLINE, x.ring_time))
        return actions
