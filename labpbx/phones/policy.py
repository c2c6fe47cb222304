"""What an extension does with an incoming call: its answering policy, decided without I/O.

Rules of this module:
- Pure: no pjsua2, no sockets, no threads, no clock. ``decide()`` is a function of its arguments,
  so the whole behaviour table is unit-tested without a SIP stack.
- The table below is the single source of truth for what each policy answers; the agent only
  carries the decision out (send the provisional, send the final, or arm a timer to answer).
- Capacity comes first: a phone process that already holds ``capacity`` call legs answers
  486 Busy Here whatever its policy (the wheel's hard limit is 4 legs per process, see PJSUA2.md).
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

from labpbx.errors import ConfigError

# pjsua2-python 2.15.1.post1 caps call legs at 4 per process (PJSUA2.md, "Hard limits").
MAX_CALL_LEGS = 4
# The default answering behaviour of an extension: ring 3 s, then pick up.
DEFAULT_RING_TIME = 3.0
# A ring time beyond this is a typo, not a lab scenario (fr_inv_timeout defaults to 120 s).
MAX_RING_TIME = 600.0


class Policy(enum.Enum):
    """An extension's answering policy; the value is the word used on command lines and JSON."""

    ANSWER = "answer"  # 180, then 200 after ring_time seconds
    BUSY = "busy"  # 486 Busy Here at once
    RING = "ring"  # 180 and never answer (the proxy's fr_inv_timeout decides)
    UNAVAILABLE = "unavailable"  # 480 Temporarily Unavailable
    DND = "dnd"  # 480 "Do Not Disturb": the lab's voicemail treats it as unavailable
    OFFLINE = "offline"  # unregistered; an INVITE that still arrives gets 480

    @classmethod
    def parse(cls, text: str) -> Policy:
        """``"busy"`` → Policy.BUSY; a clear ConfigError listing the choices otherwise."""
        try:
            return cls(text.strip().lower())
        except ValueError:
            choices = ", ".join(p.value for p in cls)
            raise ConfigError(f"unknown policy {text!r} (choose one of: {choices})") from None

    @property
    def registers(self) -> bool:
        """Whether an extension with this policy keeps its registration with the proxy."""
        return self is not Policy.OFFLINE


@dataclass(frozen=True, slots=True)
class Decision:
    """What to send for one incoming INVITE.

    provisional:  a 1xx to send at once (180), or None.
    final:        a final response to send at once (486, 480), or None.
    reason:       the reason phrase for ``final`` ("" = the standard phrase).
    answer_after: seconds after which to answer 200 OK, or None for never. Ignored when ``final``
                  is set.
    """

    provisional: int | None
    final: int | None
    reason: str = ""
    answer_after: float | None = None


# The behaviour table: policy → decision when the phone has room for the call. ANSWER is filled
# in by decide() because its timer depends on ring_time.
_TABLE: dict[Policy, Decision] = {
    Policy.BUSY: Decision(provisional=None, final=486, reason="Busy Here"),
    Policy.RING: Decision(provisional=180, final=None),
    Policy.UNAVAILABLE: Decision(provisional=None, final=480, reason="Temporarily Unavailable"),
    Policy.DND: Decision(provisional=None, final=480, reason="Do Not Disturb"),
    Policy.OFFLINE: Decision(provisional=None, final=480, reason="Temporarily Unavailable"),
}

FULL = Decision(provisional=None, final=486, reason="Busy Here")


def decide(policy: Policy, ring_time: float, active_legs: int, capacity: int) -> Decision:
    """Decide how to answer a new incoming call.

    ``active_legs`` counts the call legs the process already holds (not this one); ``capacity`` is
    the most it may hold. Call this once per INVITE, before sending anything.
    """
    if active_legs >= capacity:
        return FULL
    if policy is Policy.ANSWER:
        if ring_time <= 0:
            return Decision(provisional=None, final=None, answer_after=0.0)
        return Decision(provisional=180, final=None, answer_after=ring_time)
    return _TABLE[policy]


def check_ring_time(value: float) -> float:
    """Validate a ring time in seconds (0 = answer at once)."""
    if not math.isfinite(value) or value < 0 or value > MAX_RING_TIME:
        raise ConfigError(f"ring time must be between 0 and {MAX_RING_TIME:g} seconds,"
                          f" not {value!r}")
    return float(value)


@dataclass(frozen=True, slots=True)
class PolicySpec:
    """One ``--policy EXT=POLICY[:RING_TIME]`` argument, parsed."""

    ext: str
    policy: Policy
    ring_time: float


def parse_policy_spec(text: str) -> PolicySpec:
    """Parse ``"1001=busy"`` or ``"1001=answer:2.5"``; ConfigError with the reason otherwise."""
    ext, sep, rest = text.partition("=")
    ext = ext.strip()
    if not sep or not ext or not rest:
        raise ConfigError(f"policy {text!r} is not EXT=POLICY[:RING_TIME]")
    name, colon, ring = rest.partition(":")
    policy = Policy.parse(name)
    if not colon:
        return PolicySpec(ext, policy, DEFAULT_RING_TIME)
    try:
        ring_time = float(ring)
    except ValueError:
        raise ConfigError(f"ring time {ring!r} in {text!r} is not a number") from None
    return PolicySpec(ext, policy, check_ring_time(ring_time))
